/* model/grad_ode.h: loss and gradient of a neural ODE dh/dt = f_theta(h, t)
 * (f an MLP, nn/mlp.h) on a mini-batch of trajectories, by the adjoint or
 * by backprop through the solver (grad_solve.h).
 *
 * LOSS. For items b, observation times t_i and observed components k:
 *   L = scale * sum_{b,i,k} l(h_b(t_i)_k, target_{b,i,k})
 * with l = mse or l1 (loss.h), missing targets (NaN) skipped, and scale = 1
 * / (number of non-missing targets) by default: torch.mean over the
 * prediction tensor, e.g. the spiral demo's mean |pred_y - batch_y| (whose
 * first time is t0: those terms have zero loss but count in the mean, as
 * there). The observed components are the first obs_dim of the state (an
 * augmented ODE, model_def.augment_dim, solves [h; 0] but observes h).
 *
 * BATCH MODES (grad_batch.h).
 *   GRAD_BATCH_SHARED     the batch is one system: one t0 and one list of
 *                         times for every item (use NaN targets where an
 *                         item has no observation at a time of the union);
 *                         each stage is one batched forward and VJP.
 *   GRAD_BATCH_PER_ITEM   one solve per item (own step sizes), optionally
 *                         with its own t0 and times (per_item_times); the
 *                         gradients add up.
 *
 * Ownership and threads: a grad_ode keeps the mlp it was made for
 * (borrowed: it must outlive the grad_ode; its parameters may change
 * between calls, not during one) and owns its workspaces. One thread at a
 * time; one grad_ode per training job. */
#ifndef ODESERVE_MODEL_GRAD_ODE_H
#define ODESERVE_MODEL_GRAD_ODE_H

#include "core/err.h"
#include "model/grad_batch.h"
#include "model/grad_solve.h"
#include "model/loss.h"
#include "nn/mlp.h"

#include <stdbool.h>
#include <stddef.h>

struct grad_ode_batch {
    size_t batch;         /* items, >= 1 */
    const double *y0;     /* batch x state_dim: initial states (augmentation zeros included) */
    bool per_item_times;  /* t0 and t per item (GRAD_BATCH_PER_ITEM only) */
    const double *t0;     /* 1 value, or batch with per_item_times */
    const double *t;      /* n_t times, or batch x n_t; each list sorted, all >= its t0 */
    size_t n_t;           /* >= 1 */
    size_t obs_dim;       /* observed components: the first obs_dim (0 = state_dim) */
    const double *target; /* batch x n_t x obs_dim; NaN = missing */
};

struct grad_ode_options {
    struct grad_solve_options solve; /* method, table, tolerances (grad_solve_options_init) */
    grad_batch_mode batch_mode;
    loss_kind loss;    /* LOSS_MSE or LOSS_L1 */
    double loss_scale; /* 0 = the mean over the non-missing targets of the call */
};

/* Defaults: grad_solve_options_init, shared batch, mse, mean. */
void grad_ode_options_init(struct grad_ode_options *o);

typedef struct grad_ode grad_ode;

/* For vector field f (state_dim in and out, optional time input);
 * max_batch sizes the workspace (it grows if a larger batch comes). */
err_code grad_ode_new(grad_ode **out, const mlp *f, size_t max_batch, err *e);
/* The same loss and batching on another field (a hybrid model's,
 * model/hybrid.h): f is copied, f->ctx borrowed (it must outlive the
 * grad_ode); f->eval must take any number of items. */
err_code grad_ode_new_field(grad_ode **out, const struct grad_field *f, err *e);
void grad_ode_free(grad_ode *g); /* NULL is a no-op */

/* The loss of the batch, and its gradient:
 *   dtheta  mlp_n_params(f) values, OVERWRITTEN with dL/dtheta; NULL (with
 *           dy0 NULL) = the loss alone: one forward solve, no tape;
 *   dy0     batch x state_dim, overwritten with dL/dy0; may be NULL;
 *   y_pred  batch x n_t x state_dim, the solution at the times; may be NULL.
 * Errors: ERR_INVALID (fields "batch", "t0", "t[i]", "target", "loss",
 * "obs_dim"), ERR_SOLVER / ERR_ABORTED / ERR_NOMEM from the solves. */
err_code grad_ode_compute(grad_ode *g, const struct grad_ode_batch *b,
                          const struct grad_ode_options *o, double *loss, double *dtheta,
                          double *dy0, double *y_pred, err *e);

/* Counters summed over the latest call's solves; bytes held and peak. */
void grad_ode_stats(const grad_ode *g, struct grad_stats *st);
void grad_ode_mem(const grad_ode *g, size_t *now, size_t *peak);

#endif
