/* model/grad_serve.h: the loss and gradient of a served ODE or CDE model on one
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
 * CDE (grad_serve_cde): a batch of series, each solved on its own path
 * (cde_model's, in the path's parameter s, as cde_model_solve serves it)
 * by grad_cde.h; squared errors of the readout, or of the hidden state,
 * at each series' query times; the gradient with respect to every
 * parameter of the three networks. The path's observations get none
 * (the interpolation's derivative in them is not carried). Methods:
 * backprop, adjoint, adjoint_checkpointed; reversible is refused (field
 * "method": reversible Heun's fixed steps would cross the path's knots).
 *
 * MEMORY. max_bytes caps the engine's memory (grad_ode_mem /
 * grad_cde_mem), looked at before every step attempt: backprop's tape
 * (and the implicit adjoint's record of the forward steps) grows with the
 * steps, and a request that passes the cap stops with ERR_TOO_LARGE on
 * "method" (use adjoint_checkpointed) instead of running the machine out
 * of memory. The buffers grow by doubling, so the engine holds at most
 * about twice max_bytes.
 *
 * Ownership and threads: a call borrows the model (read-only; any number
 * of calls may share it) and owns its workspaces for the call. */
#ifndef ODESERVE_MODEL_GRAD_SERVE_H
#define ODESERVE_MODEL_GRAD_SERVE_H

#include "core/err.h"
#include "model/cde_model.h"
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
    size_t max_bytes;    /* the engine's memory cap (MEMORY); 0 = none */
    ode_abort_fn abort;  /* NULL, or polled every step */
    void *abort_ctx;
};

/* The loss into *loss, dL/dy0 into gy0 (batch x state_dim) and dL/dtheta
 * into gtheta (the model's parameters in mlp order, mlp_n_params of
 * ode_model_net); stats summed over the solves. Errors ERR_INVALID naming
 * "solver.x", "method", "t[i]", "t0"; ERR_TOO_LARGE on "method" (MEMORY);
 * ERR_SOLVER, ERR_NOMEM, and the abort hook's code. */
err_code grad_serve_ode(const ode_model *m, const struct grad_serve_query *q, double *loss,
                        double *gy0, double *gtheta, struct grad_stats *st, err *e);

struct grad_serve_cde_query {
    size_t batch;                    /* series, >= 1 */
    const struct cde_series *series; /* each with n_t >= 1 sorted query times (t not NULL) */
    bool series_fields;              /* error fields start with "series[b]." */
    const double *target; /* (sum of n_t) x width in series order; NaN = missing */
    bool on_hidden;       /* width hidden_dim, against z(t) (else readout_dim, the readout) */
    bool mean;            /* mse (else sse), per series; a batch sums */
    grad_method method;
    model_solver solver; /* overrides of the model's defaults */
    size_t max_bytes;    /* as grad_serve_query */
    ode_abort_fn abort;
    void *abort_ctx;
};

/* The loss into *loss and dL/dtheta into gtheta (the model's parameters
 * in model_def order: initial | vector_field | readout, each in mlp
 * order); stats summed over the series. Errors ERR_INVALID naming
 * "method", "solver.x", "t[i]" (outside the observations), the path's
 * fields (cde_path.h), each with "series[b]." in front when series_fields;
 * ERR_TOO_LARGE on "method" (MEMORY); ERR_SOLVER, ERR_NOMEM, the abort
 * hook's code. */
err_code grad_serve_cde(const cde_model *m, const struct grad_serve_cde_query *q, double *loss,
                        double *gtheta, struct grad_stats *st, err *e);

#endif
