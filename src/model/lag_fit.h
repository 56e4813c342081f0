/* model/lag_fit.h: the derivative fit of a Lagrangian network ("lnn",
 * docs/structured.md "Training: lagrangian") at one observed pair: the
 * squared error of the field f(x) = [v; a(x)] against an observed time
 * derivative [dq/dt; dv/dt] at x = [q; v], and its exact gradient in the
 * network's parameters.
 *
 * The acceleration a solves M a = dL/dq - C v (M = d2L/dv2, C = d2L/dv dq;
 * model/lagrangian.h), so with r = dloss/da and lambda = M^-T r (the same
 * LU factorisation, transposed solve), differentiating M a + C v = dL/dq
 * in theta gives
 *
 *   dloss/dtheta = d/dtheta [ lambda' dL/dq - u' Hess_x L w ],
 *   u = [0; lambda],  w = [v; a],
 *
 * with lambda, a and v held fixed: the first term is nn/mlp_grad2.h's
 * product (direction [lambda; 0]), the second nn/mlp_grad3.h's. The rows
 * dq/dt = v carry no parameter; they count in the loss (as the hnn fit
 * counts every component). No finite differences anywhere.
 *
 * Ownership and threads: a lag_fit is one thread's scratch for one
 * network's shapes; the network is only read. */
#ifndef ODESERVE_MODEL_LAG_FIT_H
#define ODESERVE_MODEL_LAG_FIT_H

#include "core/err.h"
#include "nn/mlp.h"

#include <stddef.h>

typedef struct lag_fit lag_fit;

/* For a network 2 dof -> 1 passing mlp_grad_check (ERR_INVALID naming the
 * part otherwise). */
err_code lag_fit_new(lag_fit **out, const mlp *net, err *e);
void lag_fit_free(lag_fit *k); /* NULL is a no-op */

/* acc (dof values) = the acceleration at x (2 dof). ERR_SOLVER when M is
 * singular there (a pivot at most LAGRANGIAN_PIVOT_TOL times max |M_ij|). */
err_code lag_fit_accel(lag_fit *k, const mlp *net, const double *x, double *acc, err *e);

/* One pair: *sq = sum over the 2 dof rows of (f(x) - xdot)^2; dtheta
 * (mlp_n_params, may be NULL) += scale d(sq)/dtheta. ERR_SOLVER as above. */
err_code lag_fit_pair(lag_fit *k, const mlp *net, const double *x, const double *xdot,
                      double scale, double *sq, double *dtheta, err *e);

#endif
