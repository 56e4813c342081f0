/* model/cde_model.h: a neural controlled differential equation (Kidger et
 * al., "Neural Controlled Differential Equations for Irregular Time
 * Series", NeurIPS 2020), ready to solve:
 *
 *   z(t_0) = initial(X(t_0)),   dz = F(z) dX,   y(t) = readout(z(t)),
 *
 * X the path through a series of observations (cde_path.h: added channels,
 * missing values; interp.h: the four interpolation schemes), F(z) the
 * vector_field network's output (hidden_dim * input_channels values)
 * reshaped row-major into a hidden_dim x input_channels matrix:
 * F[i][j] = out[i * input_channels + j].
 *
 * SOLVING. dz/ds = F(z) dX/ds is integrated with num/driver.h in the path's
 * parameter s (interp.h), from s_0 to the largest query; no step crosses an
 * interior knot: interp_stops (the kinks of linear and rectilinear paths)
 * are jump times, interp_smooth_stops (the knots of natural_cubic and
 * hermite_bdiff) stop times (interp.h, STOPS), and dense output
 * answers the query times. Solver settings: the model's, with the query's
 * overrides (model_solver_merge); method default "dopri5", tolerances the
 * solver's defaults. Step-size settings (first_step, min_step, max_step,
 * step) are in units of s.
 *
 * QUERIES. A batch of series, each with its own observations and query
 * times (default: its observation times; any order, duplicates allowed;
 * each within [t_0, t_n-1], else ERR_INVALID "t[i]"). Every series is
 * checked before any is solved. Outputs are concatenated in series order:
 * series b's rows start after the rows of series 0..b-1 (row count of a
 * series = its number of query times; cde_model_query_rows sums them).
 *
 * BATCHES are solved series by series, each on its own knots with its own
 * steps (cde_model.c says why not as one shared-step system).
 *
 * EVENTS (num/driver.h, struct ode_event): roots of g(z) = w . z - value on
 * the hidden state z, or g = w . readout(z) - value when the readout
 * network is affine (every layer's activation the identity: then g is the
 * hidden functional (W^T w) . z - (value - w . b), W and b the readout's
 * composed weights and bias; a nonlinear readout is refused, "events[k].on").
 * They are located by num in s, on the dense output of every accepted step,
 * and reported in t (interp_time): exact to a few ulps of s, so to within
 * 2 eps s (t_k+1 - t_k) in t for rectilinear (where dt/ds is the
 * observation spacing) and 2 eps |t| otherwise (s = t). On a rectilinear
 * path's data stretch (the observation at t_k+1 arriving, t held) an event
 * is reported at t_k+1; a terminal one there leaves the query time t_k+1
 * itself unanswered (its state lies past the stop). Every series of a batch
 * is its own solve, so a terminal event stops its series only.
 *
 * ERRORS name fields as the HTTP request spells them (cde_path.h), with
 * "series[i]." in front when query.series_fields is set (a "series" batch).
 * ERR_SOLVER says where the solve stopped (in s).
 *
 * Ownership and threads: a cde_model is immutable after cde_model_new and
 * may be shared by any number of threads; each cde_model_solve call makes
 * its own workspaces (one allocation set per call and one path per series,
 * none in the solver's loop). The model keeps its own copy of the weights. */
#ifndef ODESERVE_MODEL_CDE_MODEL_H
#define ODESERVE_MODEL_CDE_MODEL_H

#include "core/err.h"
#include "model/cde_path.h"
#include "model/interp.h"
#include "model/model_def.h"
#include "nn/mlp.h"
#include "num/driver.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct cde_model cde_model;

typedef enum cde_output {
    CDE_OUTPUT_READOUT = 1, /* "readout" (the default) */
    CDE_OUTPUT_HIDDEN = 2,  /* "hidden" */
    CDE_OUTPUT_BOTH = 3,    /* "both" */
} cde_output;

/* One series of a query (borrowed). */
struct cde_series {
    struct cde_path_obs obs; /* observations (cde_path.h: null as a mask or NaN) */
    const double *t;         /* query times, or NULL: the observation times */
    size_t n_t;              /* with t: how many (0 = no rows) */
};

/* An event of a query: g on the hidden state or on an affine readout. */
enum cde_event_on { CDE_EVENT_HIDDEN = 0, CDE_EVENT_READOUT = 1 };
struct cde_event {
    struct ode_event g; /* w: hidden_dim weights, readout_dim with on = CDE_EVENT_READOUT */
    int on;             /* enum cde_event_on */
};

/* The events found by one solve, owned by the caller's struct (fill with
 * zeros first; cde_model_events_clear frees). Sorted by series, then by s
 * (so by t, ties in the order they happened). */
struct cde_model_events {
    size_t n;
    size_t *b, *which;  /* n each: series, index into query->events */
    double *t, *s;      /* n each: the event's time, and its path parameter */
    double *hidden;     /* n x hidden_dim: z there */
    double *readout;    /* n x readout_dim: the readout of z there (when the output has it) */
    double *stopped_at; /* batch: the t where a terminal event stopped series b, NAN if none;
                         * the series' rows past it (in s) are NAN in the outputs */
    size_t cap;
};
void cde_model_events_clear(struct cde_model_events *ev);

struct cde_model_query {
    size_t batch; /* series, >= 1 */
    const struct cde_series *series;
    cde_output output;   /* 0 means CDE_OUTPUT_READOUT */
    model_solver solver; /* overrides of the model's defaults (unset fields keep them) */
    bool series_fields;  /* error fields start with "series[i]." */
    ode_abort_fn abort;  /* NULL, or polled before every step attempt (request deadline) */
    void *abort_ctx;
    const struct cde_event *events; /* n_events (see EVENTS), shared by every series */
    size_t n_events;
    struct cde_model_events *events_out; /* required with events */
};

/* Statistics summed over the batch. */
struct cde_model_stats {
    long nfe, steps, rejected; /* right-hand-side evaluations, accepted and rejected steps */
    long field_evals;          /* of them, evaluations of the vector_field network (the rest
                                  reuse F(z) at the same z across a knot) */
    long n_jac, n_lu;          /* implicit methods: Jacobians, LU factorisations */
    long auto_steps[2];        /* "auto": accepted steps of dopri5 [0] and rodas4 [1] */
    long n_switches;           /* "auto": switches between them */
    double t_fail;             /* NAN unless a solve failed: where (in s) */
    size_t series_fail;        /* the failing series (when t_fail is set) */
};

/* ERR_INVALID if d is not a valid "cde" model_def, or asks for rectilinear
 * interpolation without channels.time ("channels.time"). */
err_code cde_model_new(cde_model **out, const model_def *d, err *e);
void cde_model_free(cde_model *m); /* NULL is a no-op */

size_t cde_model_input_channels(const cde_model *m);
size_t cde_model_data_channels(const cde_model *m); /* what a client sends per row */
size_t cde_model_hidden_dim(const cde_model *m);
size_t cde_model_readout_dim(const cde_model *m);
model_interp cde_model_interp(const cde_model *m);
const model_solver *cde_model_solver(const cde_model *m); /* the model's defaults */
struct cde_path_channels cde_model_channels(const cde_model *m);

/* Output rows of a query: the sum over series of their query times. */
size_t cde_model_query_rows(const struct cde_model_query *q);

/* Solve. readout_out receives rows x readout_dim values when the output
 * includes the readout (else it may be NULL), hidden_out rows x hidden_dim
 * when it includes the hidden state. Returns ERR_INVALID for a bad query,
 * ERR_SOLVER, ERR_NOMEM, or what the abort hook returned; outputs are then
 * unspecified. stats may be NULL. */
err_code cde_model_solve(const cde_model *m, const struct cde_model_query *q, double *readout_out,
                         double *hidden_out, struct cde_model_stats *stats, err *e);

/* ---- building blocks (the tests and bench/bench_cde use them; training has
 * its own batched field in grad_cde.c) -----------------------------------------
 * The model's networks: MODEL_NET_CDE_INITIAL, _FIELD, _READOUT. */
const mlp *cde_model_net(const cde_model *m, size_t which);

/* The path of one series for this model (validated; fields as above). */
err_code cde_model_path(const cde_model *m, const struct cde_path_obs *obs, interp **out, err *e);

/* The implicit methods' Jacobian of dz/ds = F(z) dX/ds at (s, z): J =
 * df/dz (hidden x hidden, row-major), dfds = df/ds = F(z) d2X/ds2 (hidden;
 * may be NULL), read on the path segment that follows s (at a knot, the one
 * after it: the step starting there). ws: a workspace of the field network
 * (its tape is overwritten); scratch: cde_model_jac_scratch(m) doubles. */
size_t cde_model_jac_scratch(const cde_model *m);
void cde_model_field_jacobian(const cde_model *m, mlp_ws *ws, const interp *path, double s,
                              const double *z, double *J, double *dfds, double *scratch);

/* The right-hand side dz = F(z) v for a field network with hidden x
 * channels outputs: F (hidden * channels) receives the network's output,
 * kept with ws's tape for cde_field_vjp. */
void cde_field_apply(const mlp *field, mlp_ws *ws, size_t hidden, size_t channels, const double *z,
                     const double *v, double *dz, double *F);

/* After cde_field_apply(z, v) through ws, with a the cotangent of dz:
 *   gz     += a^T d(F(z) v)/dz       (hidden values),
 *   gv     += F(z)^T a               (channels values: the cotangent of v),
 *   gtheta += a^T d(F(z) v)/dtheta   (the field's parameters);
 * any of gz, gv, gtheta may be NULL. scratch: hidden * channels values. */
void cde_field_vjp(const mlp *field, mlp_ws *ws, size_t hidden, size_t channels, const double *F,
                   const double *v, const double *a, double *gz, double *gv, double *gtheta,
                   double *scratch);

#endif
