/* The attention softmax kernels for one `real` type; included by attention_softmax.c once with
 * real = float and once with real = double (see attention_kernels.h for what each does). The
 * math functions come from <tgmath.h>, so exp and log have real's precision. No include
 * guard: it is meant to be included twice. */

#define ATTENTION_PASTE_(name, type) name##_##type
#define ATTENTION_PASTE(name, type) ATTENTION_PASTE_(name, type)
#define ATTENTION_FN(name) ATTENTION_PASTE(name, real)

void ATTENTION_FN(ampc_attention_softmax)(real *scores, real *lse, int64_t rows,
                                          int64_t queries, int64_t keys, bool causal)
{
#pragma omp parallel for num_threads(ampc_num_threads()) \
    if (rows * keys >= PARALLEL_MIN_ELEMENTS)
    for (int64_t r = 0; r < rows; r++) {
        real *row = scores + r * keys;
        int64_t visible = visible_keys(r, queries, keys, causal);
        real max = -INFINITY, sum = 0;
        for (int64_t j = 0; j < visible; j++) max = row[j] > max ? row[j] : max;
        for (int64_t j = 0; j < visible; j++) {
            row[j] = exp(row[j] - max);
            sum += row[j];
        }
        for (int64_t j = 0; j < visible; j++) row[j] /= sum;
        for (int64_t j = visible; j < keys; j++) row[j] = 0;
        lse[r] = visible > 0 ? max + log(sum) : -INFINITY;
    }
}

void ATTENTION_FN(ampc_attention_probabilities)(real *scores, const real *lse, int64_t rows,
                                                int64_t queries, int64_t keys, bool causal)
{
#pragma omp parallel for num_threads(ampc_num_threads()) \
    if (rows * keys >= PARALLEL_MIN_ELEMENTS)
    for (int64_t r = 0; r < rows; r++) {
        real *row = scores + r * keys;
        int64_t visible = visible_keys(r, queries, keys, causal);
        for (int64_t j = 0; j < visible; j++) row[j] = exp(row[j] - lse[r]);
        for (int64_t j = visible; j < keys; j++) row[j] = 0;
    }
}

void ATTENTION_FN(ampc_attention_softmax_backward)(real *dscores, const real *probabilities,
                                                   int64_t rows, int64_t keys, double scale)
{
#pragma omp parallel for num_threads(ampc_num_threads()) \
    if (rows * keys >= PARALLEL_MIN_ELEMENTS)
    for (int64_t r = 0; r < rows; r++) {
        real *drow = dscores + r * keys;
        const real *row = probabilities + r * keys;
        real dot = 0;
        for (int64_t j = 0; j < keys; j++) dot += row[j] * drow[j];
        /* Masked keys have P = 0, so their gradient is 0 whatever dP holds there. */
        for (int64_t j = 0; j < keys; j++)
            drow[j] = row[j] == 0 ? 0 : (real)scale * row[j] * (drow[j] - dot);
    }
}

#undef ATTENTION_FN
#undef ATTENTION_PASTE
#undef ATTENTION_PASTE_
