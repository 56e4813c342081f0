/* model/sde_lik_net.h: one MLP (nn/mlp.h) with the derivatives the sde
 * transition likelihood needs (model/sde_lik.h): its value y = f(x, t), its
 * input Jacobian J = df/dx, and the reverse of both, second order included:
 * given adjoints ybar (output_dim) and Jbar (output_dim x state_dim), the
 * gradient of <ybar, y> + <Jbar, J> with respect to x and to the network's
 * parameters. nn/mlp.h has first-order products only; the drift's
 * Jacobian enters the covariance recursion, so its parameters need the
 * derivative of J itself (reverse over forward, by hand, layer by layer).
 *
 * Tangents run for all state_dim input directions at once (an
 * out x state_dim matrix per layer), t is not differentiated, and
 * parameters are read from the mlp (nn/mlp.h layout), so a network bound to
 * a trainer's parameter vector is evaluated at its current values.
 *
 * Ownership and threads: a sde_lik_net borrows the mlp (it must outlive it)
 * and owns its tape; one thread at a time. */
#ifndef ODESERVE_MODEL_SDE_LIK_NET_H
#define ODESERVE_MODEL_SDE_LIK_NET_H

#include "core/err.h"
#include "nn/mlp.h"

#include <stdbool.h>

typedef struct sde_lik_net sde_lik_net;

/* with_jac: whether the Jacobian (and its reverse) is wanted. */
err_code sde_lik_net_new(sde_lik_net **out, const mlp *m, bool with_jac, err *e);
void sde_lik_net_free(sde_lik_net *w); /* NULL is a no-op */

/* y = f(x, t) (output_dim), jac = df/dx (output_dim x state_dim, row-major;
 * only with with_jac, else may be NULL). Records the tape. */
void sde_lik_net_forward(sde_lik_net *w, const double *x, double t, double *y, double *jac);

/* After sde_lik_net_forward: xbar += d<ybar, y>/dx + d<jbar, J>/dx
 * (state_dim; may be NULL) and dtheta += the same by the parameters
 * (mlp_n_params). jbar may be NULL (no Jacobian term). */
void sde_lik_net_reverse(sde_lik_net *w, const double *ybar, const double *jbar, double *xbar,
                         double *dtheta);

#endif
