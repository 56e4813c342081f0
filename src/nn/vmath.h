/* nn/vmath.h: vectorised elementary functions over arrays of doubles.
 *
 * The activations of a batched forward pass cost more than its GEMMs when
 * they go element by element through libm (a libm tanh is a call with
 * branches per element). These kernels are branch-free, written so that the
 * compiler vectorises them (`#pragma omp simd`, -fopenmp-simd), and compiled
 * three times (GCC target_clones: AVX-512F, AVX2, baseline x86-64; tanh:
 * x86-64-v4, v3 and baseline, for its fused multiply-adds) with the best one
 * for the CPU picked at load time. Every clone performs the same IEEE
 * operations in the same order (no FMA contraction in ISO C mode; tanh's
 * explicit fma() rounds once everywhere, an instruction in its v3 and v4
 * clones, libm's correctly rounded fma at baseline), so the results are
 * bit-identical on every machine. They never allocate, and call libm only
 * for tanh's fma at baseline.
 *
 * Accuracy (tests/check_nn.c sweeps >= 1e6 points each, tiny, large,
 * negative, subnormal, +-0, +-inf and NaN, against long double libm):
 *   vmath_exp, vmath_expm1, vmath_log1p: <= 2 ulp;  vmath_tanh, vmath_sigmoid, vmath_softplus,
 *   vmath_silu: <= 4 ulp (the bound asserted; the observed maxima are in
 *   docs/nn.md). Subnormal results are handled (exp down to -745.13).
 *
 * Method: exp/expm1 reduce x = k ln2 + r (|r| <= ln2/2, Cody–Waite two-part
 * ln2), evaluate expm1(r) = r + r^2 q(r) by its Taylor series to r^13
 * (truncation < 0.1 ulp), and rebuild 2^k from the exponent bits; expm1 adds
 * (2^k - 1) + 2^k expm1(r), exact but for the last rounding. log1p(u) for
 * u in [0, 1] uses w = 1 + u, the correction (u - (w - 1))/w (Goldberg,
 * "What every computer scientist should know about floating-point
 * arithmetic", 1991, thm. 4) and log f = 2 atanh((f-1)/(f+1)) by its series.
 *   tanh(x)     = sign(x) e/(e + 2), e = expm1(2 min(|x|, 20)), the
 *                 expm1 by fused multiply-adds (fewer operations:
 *                 bench/bench_nn tanh_vm; its observed maximum in docs/nn.md)
 *   sigmoid(x)  = n/(1 + e), e = exp(-|x|), n = 1 if x >= 0 else e
 *   softplus(x) = max(x, 0) + log1p(exp(-|x|))      (PyTorch beta = 1)
 *   silu(x)     = x sigmoid(x)                      (-0 at x = -inf)
 *   elu(x)      = x > 0 ? x : expm1(x)              (alpha = 1)
 * Every function may be called with y == x (in place). Thread-safe. */
#ifndef ODESERVE_NN_VMATH_H
#define ODESERVE_NN_VMATH_H

#include <stddef.h>

void vmath_exp(size_t n, const double *x, double *y);
void vmath_expm1(size_t n, const double *x, double *y);
void vmath_log1p(size_t n, const double *x, double *y); /* x in [0, 1] only */
void vmath_tanh(size_t n, const double *x, double *y);
void vmath_sigmoid(size_t n, const double *x, double *y);
void vmath_softplus(size_t n, const double *x, double *y);
void vmath_silu(size_t n, const double *x, double *y);
void vmath_elu(size_t n, const double *x, double *y);

#endif
