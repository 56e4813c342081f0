/* model/grad_serve.h: the loss and gradient of a served ODE model on one
 * request (POST /v1/models/{name}/gradient, docs/api.md "Gradients"): the
 * trajectories from given initial states, squared errors against targets
 * at observation times, and the gradient with respect to the initial
 * states and every parameter of the vector field, by any gradient method
 * (grad.h).
 *
 * LOSS. For each initial state b the sum (sse) or the mean (mse) of the
 * squared errors over its non-missing targets (NaN = missing), and the
 * loss of a batch is the sum over its states. Each state is solved on its
 * own (its own steps, as the trajectory endpoint's per-trajectory mode).
 * An augmented model (augment_dim > 0) solves [y0; 0] and compares the
 * first state_dim components; the gradient is reported for the given ones.
 *
 * Ownership and threads: a call borrows the model (read-only; any number
 * of calls may share it) and owns its workspaces for the call. */
#ifndef ODESERVE_MODEL_GRAD_SERVE_H
#define ODESERVE_MODEL_GRAD_SERVE_H

#include "core/err.h"
#include "model/grad.h"
#include "model/model_def.h"
#include "model/ode_model.h"
#include "num/driver.h"

#include <stdbool.h>
#include <stddef.h>

struct grad_serve_query {
    size_t batch;         /* initial states, >= 1 */
    const double *y0;     /* batch x state_dim */
    double t0;            /* the initial time */
    const double *t;      /* n_t observation times, sorted, >= t0 */
    size_t n_t;           /* >= 1 */
    const double *target; /* batch x n_t x state_dim; NaN = missing */
    bool mean;            /* mse (else sse) */
    grad_method method;
    model_solver solver; /* overrides of the model's defaults */
    ode_abort_fn abort;  /* NULL, or polled every step */
    void *abort_ctx;
};

/* The loss into *loss, dL/dy0 into gy0 (batch x state_dim) and dL/dtheta
 * into gtheta (the model's parameters in mlp order, mlp_n_params of
 * ode_model_net); stats summed over the solves. Errors ERR_INVALID naming
 * "solver.x", "method", "t[i]", "t0"; ERR_SOLVER, ERR_NOMEM, and the abort
 * hook's code. */
err_code grad_serve_ode(const ode_model *m, const struct grad_serve_query *q, double *loss,
                        double *gy0, double *gtheta, struct grad_stats *st, err *e);

#endif
