/* nn/hsum8.h (private to src/nn): the horizontal sums of eight vectors of
 * eight doubles at once, each in hsum8's order ((0+4)+(1+5)) + ((2+6)+(3+7))
 * (panel.c), by one shuffle tree of 7 vector adds instead of eight scalar
 * reductions: the same bits. GCC's or Clang's vector extensions (the fuzzers
 * are built with Clang, whose shuffle takes constant indices only, as here).
 * Stateless; thread-safe. */
#ifndef ODESERVE_NN_HSUM8_H
#define ODESERVE_NN_HSUM8_H

#include <string.h>

typedef double nn_v8d __attribute__((vector_size(64)));

#if defined(__clang__)
#define NN_SHUF8(a, b, ...) __builtin_shufflevector((a), (b), __VA_ARGS__)
#else
typedef long long nn_v8i __attribute__((vector_size(64)));
#define NN_SHUF8(a, b, ...) __builtin_shuffle((a), (b), (nn_v8i){__VA_ARGS__})
#endif

/* out[k] = the sum of p[k]'s lanes in hsum8's order. */
static inline __attribute__((always_inline)) void nn_hsum8x8(const nn_v8d p[8], double out[8])
{
    nn_v8d q[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++)
        q[k] = NN_SHUF8(p[2 * k], p[2 * k + 1], 0, 1, 2, 3, 8, 9, 10, 11) +
               NN_SHUF8(p[2 * k], p[2 * k + 1], 4, 5, 6, 7, 12, 13, 14, 15);
    nn_v8d x = NN_SHUF8(q[0], q[1], 0, 2, 4, 6, 8, 10, 12, 14) +
               NN_SHUF8(q[0], q[1], 1, 3, 5, 7, 9, 11, 13, 15);
    nn_v8d y = NN_SHUF8(q[2], q[3], 0, 2, 4, 6, 8, 10, 12, 14) +
               NN_SHUF8(q[2], q[3], 1, 3, 5, 7, 9, 11, 13, 15);
    nn_v8d s = NN_SHUF8(x, y, 0, 2, 4, 6, 8, 10, 12, 14) + NN_SHUF8(x, y, 1, 3, 5, 7, 9, 11, 13, 15);
    memcpy(out, &s, sizeof s);
}

#endif
