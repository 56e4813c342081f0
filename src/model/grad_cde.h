/* model/grad_cde.h: loss and gradient of a neural CDE (Kidger, Morrill,
 * Foster, Lyons, "Neural Controlled Differential Equations for Irregular
 * Time Series", NeurIPS 2020):
 *   z(t0) = zeta(X(t0)),   dz/dt = F(z) dX/dt(t),   y(t) = rho(z(t)),
 * zeta = the "initial" network (input_channels -> hidden), F = the
 * "vector_field" network (hidden -> hidden x channels, output read as a
 * hidden x channels matrix, row-major: F[i*C + c], torchcde's view), rho =
 * the "readout" (hidden -> out). Gradients with respect to all three
 * networks' parameters, by the adjoint or backprop (grad_solve.h): the
 * loss gradient goes through rho's VJP to dL/dz(t_i), the engine carries it
 * to dL/dz(t0) and dL/dtheta_F, and zeta's VJP gives dL/dtheta_zeta.
 *
 * The path X comes through callbacks, so any interpolation can drive it
 * (model/interp.h's, or a test's own): X(t) for the initial value, dX/dt(t)
 * inside the solve, and the jump times of dX/dt (the knots of a linear
 * interpolation), where steps must end. The solver never evaluates dX/dt
 * exactly at a jump: it asks just before or just after (num/driver.h).
 *
 * LOSSES.
 *   mse, l1         on the readout at every observation time, against
 *                   targets batch x n_t x out (NaN = missing); scale 0 =
 *                   the mean over the non-missing targets;
 *   cross_entropy   on the readout at the LAST observation time of each
 *                   item (its logits), against a class index per item;
 *                   scale 0 = the mean over the items.
 * With on_hidden, mse and l1 compare the hidden state z(t_i) instead,
 * against targets batch x n_t x hidden (the readout is not run, and its
 * parameters' gradient is 0).
 * Batch modes as grad_ode.h.
 *
 * Parameters: one vector, initial | vector_field | readout (the model_def
 * order; each network in the nn/mlp.h layout). The networks take no time
 * input (model_def's rule for a cde).
 *
 * Ownership and threads: the networks are borrowed (they must outlive the
 * grad_cde; parameters may change between calls, e.g. bound to one vector
 * with mlp_params_bind); one thread at a time. */
#ifndef ODESERVE_MODEL_GRAD_CDE_H
#define ODESERVE_MODEL_GRAD_CDE_H

#include "core/err.h"
#include "model/grad_batch.h"
#include "model/grad_solve.h"
#include "model/loss.h"
#include "nn/mlp.h"

#include <stdbool.h>
#include <stddef.h>

/* The control paths of a batch: item b's X_b. Callbacks return 0, or
 * nonzero on failure (the solve stops with ERR_SOLVER). */
struct grad_path {
    size_t channels;                                            /* C */
    int (*x)(void *ctx, size_t item, double t, double *out);    /* X_b(t), C values */
    int (*dxdt)(void *ctx, size_t item, double t, double *out); /* dX_b/dt(t), C values */
    /* The jump times of dX/dt for items item0 .. item0+n-1 (n > 1: their
     * union), *n_jumps of them; may return NULL with 0. May be NULL. */
    const double *(*jumps)(void *ctx, size_t item0, size_t n, size_t *n_jumps);
    /* The same for the stop times (ode_problem.stop_times: knots where
     * dX/dt is continuous but steps must end). May be NULL. */
    const double *(*stops)(void *ctx, size_t item0, size_t n, size_t *n_stops);
    /* d2X_b/dt2(t), C values: for the implicit methods' Jacobian (rodas4's
     * df/dt = F(z) d2X/dt2). May be NULL: then the implicit methods are
     * refused (field "method"). */
    int (*d2xdt2)(void *ctx, size_t item, double t, double *out);
    void *ctx;
};

struct grad_cde_nets {
    const mlp *initial;      /* C -> H */
    const mlp *vector_field; /* H -> H * C */
    const mlp *readout;      /* H -> out */
};

struct grad_cde_batch {
    size_t batch; /* items, >= 1 */
    const struct grad_path *path;
    bool per_item_times; /* t0 and t per item (GRAD_BATCH_PER_ITEM only) */
    const double *t0;    /* 1 value, or batch */
    const double *t;     /* n_t times, or batch x n_t; sorted, >= t0 */
    size_t n_t;
    const double *target; /* mse / l1: batch x n_t x out, NaN = missing */
    const long *label;    /* cross_entropy: batch class indices in [0, out) */
};

struct grad_cde_options {
    struct grad_solve_options solve;
    grad_batch_mode batch_mode;
    loss_kind loss;    /* mse, l1 or cross_entropy */
    double loss_scale; /* 0 = the mean (see LOSSES) */
    bool on_hidden;    /* mse / l1 on z(t_i), not the readout (see LOSSES) */
};

void grad_cde_options_init(struct grad_cde_options *o);

typedef struct grad_cde grad_cde;

/* ERR_INVALID when the shapes do not chain (fields "initial",
 * "vector_field", "readout") or a network takes time. */
err_code grad_cde_new(grad_cde **out, const struct grad_cde_nets *nets, size_t max_batch, err *e);
void grad_cde_free(grad_cde *g); /* NULL is a no-op */

/* Total parameters (initial + vector_field + readout). */
size_t grad_cde_n_params(const grad_cde *g);

/* The loss of the batch and its gradient: dtheta (grad_cde_n_params,
 * OVERWRITTEN; NULL = the loss alone, no tape), y_pred (batch x n_t x out
 * readouts, or hidden states with on_hidden; may be NULL). Errors as
 * grad_ode_compute, plus "label[b]". */
err_code grad_cde_compute(grad_cde *g, const struct grad_cde_batch *b,
                          const struct grad_cde_options *o, double *loss, double *dtheta,
                          double *y_pred, err *e);

void grad_cde_stats(const grad_cde *g, struct grad_stats *st);
void grad_cde_mem(const grad_cde *g, size_t *now, size_t *peak);

#endif
