/* stiff_testlib.h: the stiff MLP of the training tests (check_grad_stiff,
 * check_train), f(y) = W2 tanh(W1 y + b1) + b2, 3 -> 8 -> 3, built as
 * bench/bench_stiff.c and tests/fixtures/gen_reference.py's stiff_mlp are:
 * units 0..2 are tanh(s y_k), s = 0.05, with output weights M / s,
 * M = V B V^-1 holding a slow rotation (eigenvalues -0.1 +- i) and a mode
 * at -fast; units 3..7 random (from seed). Test-only; stateless. */
#ifndef ODESERVE_TESTS_STIFF_TESTLIB_H
#define ODESERVE_TESTS_STIFF_TESTLIB_H

#include <stdint.h>

#define STIFF_MLP_PARAMS 59 /* 8 x 3 + 8 + 3 x 8 + 3, nn/mlp.h's layout */

/* The 59 parameters into p. */
void stiff_mlp_params(double fast, uint64_t seed, double *p);

#endif
