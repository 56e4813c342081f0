/* mlp_testlib: what the tests of nn's derivatives (check_mlp_grad*) repeat:
 * a uniform xorshift draw on the caller's state, the smooth activations, a
 * small random scalar network, and the tolerance against central
 * differences. Functions abort the test on failure; thread-safe as long as
 * each thread has its own state. */
#ifndef ODESERVE_TESTS_MLP_TESTLIB_H
#define ODESERVE_TESTS_MLP_TESTLIB_H

#include <stddef.h>
#include <stdint.h>

#include "nn/mlp.h"

extern const act_kind mt_smooth[];
#define MT_N_SMOOTH 8

double mt_urand(uint64_t *state, double lo, double hi);
/* d -> width (act) -> elementwise act -> 5 (act) -> 1 (identity), weights
 * uniform in (-0.9, 0.9), or (-0.4, 0.4) for cube and square, which blow
 * up fast. The caller frees it (mlp_free). */
mlp *mt_net(size_t d, size_t width, act_kind act, uint64_t *state);
/* |a - b| <= 1e-6 max(1, |a|): a analytic, b from central differences. */
void mt_near(double a, double b, const char *what, size_t i);
/* The two networks a scalar second-order workspace refuses, a relu layer
 * ("layers[0].activation") and two outputs ("layers[1]"): try_new(m, e)
 * calls the workspace's constructor, checks it left no workspace, and
 * returns its code, which must be ERR_INVALID naming that field. */
void mt_check_refusals(err_code (*try_new)(const mlp *m, err *e));

#endif
