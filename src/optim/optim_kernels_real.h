/* The update loops for one real type, included by optim_kernels.c once per type with `real`
 * and REAL_SUFFIX defined. Each line is one ATen op of torch.optim's _single_tensor_* step,
 * in its order: x.mul_(s) is x * s, x.add_(y, alpha=s) is x + s * y, x.addcmul_(y, z,
 * value=s) is x + s * y * z and x.addcdiv_(y, z, value=s) is x + s * y / z (left to right).
 * No fused multiply-add: the library is built for baseline x86-64 with contraction off. */

#define REAL_CONCAT_(name, suffix) name##suffix
#define REAL_CONCAT(name, suffix) REAL_CONCAT_(name, suffix)
#define REAL_NAME(name) REAL_CONCAT(name, REAL_SUFFIX)

static void REAL_NAME(sgd_update_)(int64_t n, real *restrict param, const real *restrict grad,
                                   real *restrict momentum_buffer, const ampc_sgd_scalars *s)
{
    const real weight_decay = (real)s->weight_decay, momentum = (real)s->momentum;
    const real one_minus_dampening = (real)s->one_minus_dampening;
    const real negative_lr = (real)s->negative_lr;
    const bool has_weight_decay = s->weight_decay != 0, first = s->first_step;
    const bool nesterov = s->nesterov;
    for (int64_t i = 0; i < n; i++) {
        real d_p = grad[i];
        if (has_weight_decay) d_p = d_p + weight_decay * param[i];
        if (momentum_buffer) {
            real buf = first ? d_p : momentum_buffer[i] * momentum + one_minus_dampening * d_p;
            momentum_buffer[i] = buf;
            d_p = nesterov ? d_p + momentum * buf : buf;
        }
        param[i] = param[i] + negative_lr * d_p;
    }
}

static void REAL_NAME(adam_update_)(int64_t n, real *restrict param, const real *restrict grad,
                                    real *restrict exp_avg, real *restrict exp_avg_sq,
                                    real *restrict max_exp_avg_sq, const ampc_adam_scalars *s)
{
    const real weight_decay = (real)s->weight_decay, decay_factor = (real)s->decay_factor;
    const real beta1 = (real)s->beta1, one_minus_beta1 = (real)s->one_minus_beta1;
    const real beta2 = (real)s->beta2, one_minus_beta2 = (real)s->one_minus_beta2;
    const real bias_correction2_sqrt = (real)s->bias_correction2_sqrt, eps = (real)s->eps;
    const real negative_step_size = (real)s->negative_step_size;
    const bool has_weight_decay = s->weight_decay != 0, has_decay = s->decay_factor != 1;
    for (int64_t i = 0; i < n; i++) {
        real p = param[i], g = grad[i];
        if (has_weight_decay) g = g + weight_decay * p; /* Adam: grad.add(param, alpha=wd) */
        if (has_decay) p = p * decay_factor;            /* AdamW: param.mul_(1 - lr wd) */
        real m = exp_avg[i] * beta1 + one_minus_beta1 * g;
        real v = exp_avg_sq[i] * beta2 + one_minus_beta2 * g * g;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        real second = v;
        if (max_exp_avg_sq) {
            /* torch.maximum: a NaN in either operand wins. */
            real old = max_exp_avg_sq[i];
            second = (old != old || old > v) ? old : v;
            max_exp_avg_sq[i] = second;
        }
        real denom = REAL_NAME(sqrt_)(second) / bias_correction2_sqrt + eps;
        param[i] = p + negative_step_size * m / denom;
    }
}

#undef REAL_NAME
#undef REAL_CONCAT
#undef REAL_CONCAT_
