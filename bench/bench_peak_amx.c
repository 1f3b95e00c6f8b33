/* Peak microkernel for the amx level: TDPBF16PS on full tiles. A 16x32 bf16 tile times a
 * 16x(16 pairs) bf16 tile accumulates into a 16x16 fp32 tile: 16 * 16 * 32 multiply-adds,
 * 16384 flops per instruction. Four accumulator tiles (tmm0-3) fed by two A tiles (tmm4-5)
 * and two B tiles (tmm6-7) in the usual 2x2 blocking keep four independent instructions in
 * flight; the operand tiles are loaded once, so only the tile multiply unit is measured.
 *
 * Linux grants the tile data state per process on request; ampc asks for it when it detects
 * the CPU, and the driver only calls this when ampc_cpu_supports(AMPC_ISA_AMX). */
#include <immintrin.h>
#include <stdint.h>

#include "bench.h"

/* The LDTILECFG memory layout (palette 1). */
typedef struct tile_config {
    uint8_t palette_id;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t bytes_per_row[16];
    uint8_t rows[16];
} tile_config;

enum { TILE_ROWS = 16, TILE_BYTES_PER_ROW = 64, TILE_COUNT = 8 };

double ampc_bench_peak_amx_bf16_amx(int64_t iterations)
{
    _Alignas(64) tile_config config = {.palette_id = 1};
    for (int t = 0; t < TILE_COUNT; t++) {
        config.rows[t] = TILE_ROWS;
        config.bytes_per_row[t] = TILE_BYTES_PER_ROW;
    }
    _Alignas(64) uint16_t operand[TILE_ROWS * TILE_BYTES_PER_ROW / 2];
    for (int i = 0; i < TILE_ROWS * TILE_BYTES_PER_ROW / 2; i++) operand[i] = 0x3580; /* 2^-20 */
    _Alignas(64) float result[TILE_ROWS * TILE_ROWS];

    _tile_loadconfig(&config);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_loadd(4, operand, TILE_BYTES_PER_ROW);
    _tile_loadd(5, operand, TILE_BYTES_PER_ROW);
    _tile_loadd(6, operand, TILE_BYTES_PER_ROW);
    _tile_loadd(7, operand, TILE_BYTES_PER_ROW);
    for (int64_t it = 0; it < iterations; it++) {
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    double sum = 0.0;
    _tile_stored(0, result, TILE_ROWS * sizeof(float));
    sum += result[0];
    _tile_stored(1, result, TILE_ROWS * sizeof(float));
    sum += result[0];
    _tile_stored(2, result, TILE_ROWS * sizeof(float));
    sum += result[0];
    _tile_stored(3, result, TILE_ROWS * sizeof(float));
    sum += result[0];
    _tile_release();
    return sum;
}
