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

/* In three passes over a chunk of at most CHUNK elements, so each pass vectorises: the
 * moments, the square roots (SSE's, exact like sqrt, which the compiler will not vectorise
 * because of errno), then the parameter. */
static void REAL_NAME(adam_update_)(int64_t n, real *restrict param, const real *restrict grad,
                                    real *restrict exp_avg, real *restrict exp_avg_sq,
                                    real *restrict max_exp_avg_sq, const ampc_adam_scalars *s)
{
    AMPC_ASSERT(n <= CHUNK);
    const real weight_decay = (real)s->weight_decay, decay_factor = (real)s->decay_factor;
    const real beta1 = (real)s->beta1, one_minus_beta1 = (real)s->one_minus_beta1;
    const real beta2 = (real)s->beta2, one_minus_beta2 = (real)s->one_minus_beta2;
    const real bias_correction2_sqrt = (real)s->bias_correction2_sqrt, eps = (real)s->eps;
    const real negative_step_size = (real)s->negative_step_size;
    const bool has_weight_decay = s->weight_decay != 0;
    real root[CHUNK]; /* the second moment, then its square root */

    for (int64_t i = 0; i < n; i++) {
        real g = grad[i];
        if (has_weight_decay) g = g + weight_decay * param[i]; /* grad.add(param, alpha=wd) */
        real m = exp_avg[i] * beta1 + one_minus_beta1 * g;
        real v = exp_avg_sq[i] * beta2 + one_minus_beta2 * g * g;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        root[i] = v;
    }
    if (max_exp_avg_sq)
        for (int64_t i = 0; i < n; i++) {
            /* torch.maximum: a NaN in either operand wins. */
            real old = max_exp_avg_sq[i], v = root[i];
            root[i] = max_exp_avg_sq[i] = (old != old || old > v) ? old : v;
        }
    REAL_NAME(sqrt_array_)(root, n);
    /* AdamW's param.mul_(1 - lr wd) comes first; for Adam the factor is 1 (exact). */
    for (int64_t i = 0; i < n; i++) {
        real denom = root[i] / bias_correction2_sqrt + eps;
        param[i] = param[i] * decay_factor + negative_step_size * exp_avg[i] / denom;
    }
}

#undef REAL_NAME
#undef REAL_CONCAT
#undef REAL_CONCAT_
