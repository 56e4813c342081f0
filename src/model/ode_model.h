/* model/ode_model.h: a neural ODE, dh/dt = f_theta(h, t), ready to solve.
 *
 * Built from a validated model_def of kind "ode". With augment_dim > 0 the
 * solved state is [h; 0...0] (Dupont et al., "Augmented Neural ODEs", 2019):
 * the client sends state_dim values, the zeros are appended, and outputs
 * report the first state_dim components unless the query asks for all.
 *
 * Batches: `batch` initial states solved against the same output times, in
 * one of two modes (num/driver.h):
 *   shared-step       the batch is one system (options.groups = batch): each
 *                     stage is one GEMM through mlp_forward_batch, and the
 *                     error norm is the max over trajectories, so each one
 *                     meets the tolerance;
 *   per-trajectory    one adaptive solve per initial state (matrix-vector).
 * ODE_BATCH_AUTO picks per trajectory below 16 states and, from there, the
 * mode a cost model predicts faster on the machine it runs on
 * (ode_batch_pick below; docs/solvers.md, "Batch modes"). The answer is
 * always exactly the chosen mode's; stats->mode says which. The implicit
 * methods (rodas4, esdirk4, auto) go per trajectory under AUTO (the cost
 * model knows the explicit methods' costs only) and take shared steps when
 * the query asks: the batch's Jacobian is then block diagonal, one LU of
 * dim x dim per state, and under auto the whole batch switches method
 * together.
 *
 * Ownership and threads: an ode_model is immutable after ode_model_new and
 * may be shared by any number of threads; each ode_model_solve call makes
 * its own workspaces (one allocation set per call, none in the solver's
 * loop). The model keeps its own copy of what it needs from the model_def.
 * The one exception to immutability is AUTO's cost model, a cache of
 * measured costs in relaxed atomics that any solve may update. */
#ifndef ODESERVE_MODEL_ODE_MODEL_H
#define ODESERVE_MODEL_ODE_MODEL_H

#include "core/err.h"
#include "model/model_def.h"
#include "num/driver.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct ode_model ode_model;

typedef enum ode_batch_mode {
    ODE_BATCH_AUTO = 0,
    ODE_BATCH_SHARED,         /* one system, one GEMM per stage */
    ODE_BATCH_PER_TRAJECTORY, /* one solve per initial state */
} ode_batch_mode;

struct ode_model_query {
    double t0;
    size_t batch;     /* number of initial states, >= 1 */
    const double *y0; /* batch x state_dim values */
    const double *t;  /* n_t output times: any order, duplicates, either side of t0 */
    size_t n_t;
    model_solver solver; /* overrides of the model's defaults (unset fields keep them) */
    ode_batch_mode mode;
    bool report_augmented; /* outputs carry state_dim + augment_dim values */
    ode_abort_fn abort;    /* NULL, or polled every step (request deadline) */
    void *abort_ctx;
    /* A time grid per trajectory: NULL = every trajectory is answered at
     * t[0..n_t); else trajectory b at its own t_len[b] times (0 allowed: not
     * solved), the grids concatenated in t (n_t = the sum, >= 1), and its
     * rows of y_out start at row sum_{c<b} t_len[c]. */
    const size_t *t_len;
    /* Events (num/driver.h, struct ode_event): each w holds state_dim
     * weights (the augmented components weigh 0). With events the batch is
     * solved per trajectory whatever `mode` says (a terminal event stops one
     * trajectory, not the batch); found events go to *events_out. */
    const struct ode_event *events;
    size_t n_events;
    struct ode_model_events *events_out; /* required with events */
};

/* The events found by one solve, owned by the caller's struct (fill with
 * zeros first; ode_model_events_clear frees). Sorted by trajectory, then
 * ascending time. */
struct ode_model_events {
    size_t n;
    size_t *b, *which; /* n each: trajectory, index into query->events */
    double *t;         /* n event times */
    double *y;         /* n x output_dim: the state there */
    double *stop_fwd, *stop_bwd; /* batch each: where a terminal event ended the sweep after
                                  * (before) t0, NAN if none; rows past it in y_out are NAN */
    size_t cap, od;
};
void ode_model_events_clear(struct ode_model_events *ev);

/* Statistics, summed over the batch in per-trajectory mode. */
struct ode_model_stats {
    long nfe, steps, rejected;
    double t_fail;       /* NAN unless the solve failed */
    ode_batch_mode mode; /* the mode used (AUTO resolved); AUTO if the query was rejected */
    long n_jac, n_lu;    /* implicit methods: Jacobians formed, LU factorisations */
    long auto_steps[2];  /* "auto": accepted steps of dopri5 [0] and rodas4 [1] */
    long n_switches;     /* "auto": switches between them */
};

/* AUTO's rule for a batch of `batch` states: per trajectory costs sum_b
 * NFE_b single-state evaluations at cost_single each; shared-step costs
 * NFE_shared evaluations of all `batch` rows at cost_row per row; with
 * nfe_ratio r = batch x NFE_shared / sum_b NFE_b (>= about 1: the shared
 * solve steps as its hardest trajectory does), shared-step iff
 * r x cost_row < cost_single. Per trajectory below 16 states or when a
 * figure is missing (<= 0 or NaN). Pure: exposed for tests and benchmarks. */
ode_batch_mode ode_batch_pick(size_t batch, double cost_single, double cost_row, double nfe_ratio);

/* ERR_INVALID if d is not a valid "ode" model_def. */
err_code ode_model_new(ode_model **out, const model_def *d, err *e);
void ode_model_free(ode_model *m); /* NULL is a no-op */

size_t ode_model_state_dim(const ode_model *m);
size_t ode_model_augment_dim(const ode_model *m);
/* The vector field (state_dim + augment_dim in and out) and the model's
 * solver defaults, for the gradient endpoint (model/grad_serve.h): both
 * read-only, valid while m lives. */
const struct mlp *ode_model_net(const ode_model *m);
const model_solver *ode_model_solver(const ode_model *m);
/* Values per output state for a query (state_dim, or + augment_dim). */
size_t ode_model_output_dim(const ode_model *m, bool report_augmented);

/* Solve. y_out receives batch x n_t x output_dim values (with t_len: n_t x od): y_out[(b*n_t + i)*od + k]
 * is component k of trajectory b at q->t[i]. ERR_INVALID for a bad query (field
 * named as in the HTTP request: "y0[3]", "t[2]", "solver.rtol"), ERR_SOLVER
 * with the time reached ("max_steps (N) reached at t=..."), or what the abort
 * hook returned. */
err_code ode_model_solve(const ode_model *m, const struct ode_model_query *q, double *y_out,
                         struct ode_model_stats *stats, err *e);

#endif
