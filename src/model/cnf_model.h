/* model/cnf_model.h: a continuous normalizing flow (docs/cnf.md), ready to
 * evaluate densities and draw samples:
 *
 *   dz/dt = f_theta(z, t),  t in [0, 1],  z(0) ~ base,  x = z(1),
 *   d log p(z(t)) / dt = -tr(df/dz)        (instantaneous change of variables)
 *
 * f is the model's vector_field network (time appended as its last input
 * when time_input); the base is N(mean, diag(scale)^2), the standard normal
 * unless the model document gives "base". t = 0 is the base, t = 1 the data.
 *
 * THE AUGMENTED SOLVE. Each point carries [z, a_1 .. a_k] with
 * da_j/dt = -tr_j(t), tr_j the trace of df/dz (exact: k = 1, tr from the
 * network's Jacobian; Hutchinson: k probes, tr_j = e_j^T (df/dz) e_j by one
 * vector-Jacobian product each). The a_j take part in the error control.
 *   log_prob: from z(1) = x, a = 0 back to t = 0:
 *             log p(x) = log N_base(z(0)) - a(0)   (a(0) = int_0^1 tr dt)
 *             with Hutchinson, a(0) is the mean of the a_j(0) and the
 *             standard error is their sample standard deviation / sqrt(k)
 *             (NAN for k = 1: one probe cannot estimate its own spread);
 *   sample:   from z(0) = base point, a = 0 forward to t = 1:
 *             log p(x) = log N_base(z(0)) + a(1).
 * Probes are drawn ONCE per solve from (seed, point index, probe index) by
 * the Philox counter generator (num/brownian.h) and held fixed along the
 * solve, so the integrand is a smooth function of t and adaptive step
 * counts match the exact trace's (torchdiffeq issue 120 is the failure of
 * redrawing them per evaluation). Point b's probes are the same whatever
 * the batch and the batch mode. Base draws for `sample` likewise come from
 * (seed, point index) alone.
 *
 * BATCHES as ode_model's (ode_model.h): shared-step (the batch is one system,
 * groups = n; one GEMM per stage for the forward pass and for each probe's
 * VJP) or one adaptive solve per point; CNF_BATCH_AUTO takes per-point
 * below 16 points and shared-step from there. A shared batch is solved in
 * systems of at most 256 points (fewer when the probes would take more than
 * 2^20 values), so memory stays bounded by the chunk, not the request. Explicit methods only: an
 * implicit method would need the derivative of the trace (ERR_INVALID on
 * "solver.method").
 *
 * ERRORS: a bad query is ERR_INVALID naming the field as the HTTP request
 * spells it ("x[3][1]", "probes", "t[0]", "solver.method"); a failed solve
 * ERR_SOLVER with the time reached; the abort hook's code stops the solve.
 *
 * Ownership and threads: a cnf_model is immutable after cnf_model_new and may
 * be shared by any number of threads; each call makes its own workspaces.
 * The model keeps its own copy of the weights and the base. */
#ifndef ODESERVE_MODEL_CNF_MODEL_H
#define ODESERVE_MODEL_CNF_MODEL_H

#include "core/err.h"
#include "model/model_def.h"
#include "num/driver.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cnf_model cnf_model;

typedef enum cnf_trace {
    CNF_TRACE_EXACT = 0,  /* "exact": tr from the d x d Jacobian */
    CNF_TRACE_HUTCHINSON, /* "hutchinson": k probes, one VJP each */
} cnf_trace;

typedef enum cnf_noise {
    CNF_NOISE_RADEMACHER = 0, /* "rademacher": entries +-1 (the smaller variance) */
    CNF_NOISE_GAUSSIAN,       /* "gaussian": entries N(0, 1) */
} cnf_noise;

typedef enum cnf_batch_mode {
    CNF_BATCH_AUTO = 0,
    CNF_BATCH_SHARED,    /* one system, one GEMM per stage */
    CNF_BATCH_PER_POINT, /* one adaptive solve per point */
} cnf_batch_mode;

/* How the trace is computed (log_prob, and sample with log densities). */
struct cnf_trace_opts {
    cnf_trace trace;
    size_t probes;   /* hutchinson: k >= 1 */
    uint64_t seed;   /* hutchinson: probe seed */
    cnf_noise noise; /* hutchinson */
};

struct cnf_logp_query {
    size_t n;                   /* points, >= 1 */
    const double *x;            /* n x dim */
    struct cnf_trace_opts tr;
    model_solver solver;        /* overrides of the model's defaults */
    cnf_batch_mode mode;
    ode_abort_fn abort;         /* NULL, or polled every step */
    void *abort_ctx;
};

struct cnf_sample_query {
    size_t n;                   /* points, >= 1 */
    const double *z;            /* n x dim base points, or NULL: drawn from seed */
    uint64_t seed;              /* base draws when z is NULL */
    const double *t;            /* n_t times in [0, 1] for the path, any order; may be NULL */
    size_t n_t;
    bool log_prob;              /* also integrate the log-density (tr says how) */
    struct cnf_trace_opts tr;
    model_solver solver;
    cnf_batch_mode mode;
    ode_abort_fn abort;
    void *abort_ctx;
};

/* Statistics, summed over the points in per-point mode. */
struct cnf_stats {
    long nfe, steps, rejected;
    double t_fail;        /* NAN unless the solve failed */
    cnf_batch_mode mode;  /* the mode used (AUTO resolved) */
};

/* ERR_INVALID if d is not a valid "cnf" model_def. */
err_code cnf_model_new(cnf_model **out, const model_def *d, err *e);
void cnf_model_free(cnf_model *m); /* NULL is a no-op */

size_t cnf_model_dim(const cnf_model *m);

/* log N_base(z) for one point of dim values. */
double cnf_model_base_log_density(const cnf_model *m, const double *z);

/* Base point k of `seed` (dim values): mean + scale * N(0, 1) draws from
 * the Philox generator at (seed, k), the same draws sample() uses. */
void cnf_model_base_draw(const cnf_model *m, uint64_t seed, size_t k, double *z);

/* Probe j of point b (dim values), as the Hutchinson solve uses it. */
void cnf_model_probe(size_t dim, uint64_t seed, cnf_noise noise, size_t b, size_t j, double *eps);

/* log p(x) per point into log_prob (n values). stderr_out: n values (may be
 * NULL): the Hutchinson standard error, 0 with the exact trace, NAN with one
 * probe. z_out: n x dim base points z(0) (may be NULL). */
err_code cnf_model_log_prob(const cnf_model *m, const struct cnf_logp_query *q, double *log_prob,
                            double *stderr_out, double *z_out, struct cnf_stats *stats, err *e);

/* x: n x dim samples z(1). path: n x n_t x dim, z at q->t[i] for point b at
 * path[(b * n_t + i) * dim] (may be NULL when n_t = 0). log_prob, stderr_out:
 * n values each when q->log_prob (may be NULL otherwise). */
err_code cnf_model_sample(const cnf_model *m, const struct cnf_sample_query *q, double *x,
                          double *path, double *log_prob, double *stderr_out,
                          struct cnf_stats *stats, err *e);

#endif
