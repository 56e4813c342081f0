/* grad_testlib: what the gradient engine's tests (check_grad,
 * check_grad_methods, check_grad_keep, check_grad_keep_cde) repeat: a
 * network whose weights are scale x U(-1, 1) drawn in parameter order, the
 * closeness of a gradient to its reference, and a gradient against central
 * differences of the loss. Functions abort the test on failure;
 * thread-safe as long as each thread has its own rng and context. */
#ifndef ODESERVE_TESTS_GRAD_TESTLIB_H
#define ODESERVE_TESTS_GRAD_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>

#include "model/rng.h"
#include "nn/mlp.h"

/* The network of spec, every parameter scale x rng_uniform_range(r, -1, 1)
 * in mlp_params order. The caller frees it (mlp_free). */
mlp *gt_net(const mlp_spec *spec, rng *r, double scale);

/* gt_net of in (+ a time input) -> hidden (act) -> out (identity). */
mlp *gt_net2(size_t in, bool time, size_t hidden, size_t out, act_kind act, rng *r, double scale);

/* |g - ref| <= abs_tol + rel_tol |ref|, or the test fails naming what[i]. */
void gt_close(const char *what, size_t i, double g, double ref, double abs_tol, double rel_tol);

/* For each i < n in turn: x[i] moved by +h and -h (then restored), the
 * central difference of loss(ctx) against g[i] by gt_close. */
void gt_central(const char *what, double (*loss)(void *ctx), void *ctx, double *x, size_t n,
                double h, const double *g, double abs_tol, double rel_tol);

#endif
