/* model/ode_model.c: a neural ODE built from a model_def. See ode_model.h.
 *
 * DESIGN. The model holds one mlp (nn/mlp.h) with its own copy of the
 * parameters, built once; a solve borrows it read-only and makes its own
 * workspaces (an mlp_ws, an ode_solver, the augmented initial states and,
 * when the layout differs from the caller's, a buffer for the solver's
 * output), so any number of threads may solve one model at once.
 *
 * Vector-field adapters (num's ode_rhs_fn contract):
 *   rhs_single  one state of dim = state_dim + augment_dim: mlp_forward;
 *   rhs_batch   the shared-step batch, one system of batch x dim values
 *               (row-major, trajectory-major), options.groups = batch:
 *               mlp_forward_batch, one GEMM per linear layer.
 *   jac_single  df/dy (and df/dt with time_input) of one state for the
 *               implicit methods: mlp_jacobian, analytic.
 * With time_input the mlp appends t to its input itself. Both adapters
 * return 0: a non-finite output is detected by the solver, which treats it
 * as recoverable (shrinks the step, retries) and fails the solve only then.
 *
 * Solver settings: the model's defaults with the query's overrides on top
 * (model_solver_merge); unset fields take num's defaults (ode_options_init:
 * rtol 1e-3, atol 1e-6, max_steps 100000), the method defaults to dopri5.
 * Fixed-step methods (euler, midpoint, rk4) step by solver.step; without it
 * they take ODE_MODEL_DEFAULT_N_STEPS equal steps per direction (from t0 to
 * the farthest output time on that side). Adaptive methods ignore
 * solver.step (a model may keep one for when a request picks rk4).
 *
 * Batch mode: ODE_BATCH_AUTO picks per trajectory below
 * ODE_MODEL_SHARED_MIN_BATCH trajectories; from there by a cost model
 * (ode_batch_pick, ode_model.h): evaluation costs calibrated on the model at
 * its first batch of each size class, and the ratio of evaluations of the
 * two modes learned from its per-trajectory batches (docs/solvers.md,
 * "Batch modes"; the figures in docs/benchmarks.md).
 * The implicit methods (rodas4, esdirk4) always solve per trajectory (a
 * shared-step batch would factor one dense (batch x dim)^2 matrix), and
 * their batches teach the cost model nothing.
 *
 * Errors, with the field as the HTTP request spells it:
 *   ERR_INVALID   "y0" (batch 0, no states), "y0[k]" (one state: component
 *                 k not finite), "y0[b][k]" (batch > 1), "t" (no times),
 *                 "t[i]", "t0", "mode"; "solver.rtol" etc. from
 *                 model_solver_validate, first on the query's overrides, then
 *                 on the merged settings ("solver.min_step" above max_step);
 *   ERR_TOO_LARGE "t" (batch x times x state does not fit in memory sizes);
 *   ERR_SOLVER    "y0" (one state, or a shared-step batch: one system) or
 *                 "y0[b]" (trajectory b, per-trajectory mode, batch > 1),
 *                 with num's message, which gives the time ("max_steps (N)
 *                 reached at t=...", "step size underflow at t=...",
 *                 "non-finite state at t=..."); stats->t_fail is that time;
 *   an abort hook's code (ERR_DEADLINE, ...) with an empty field. */
#include "model/ode_model.h"

#include "nn/mlp.h"
#include "num/tableau.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Fixed-step methods without solver.step: this many steps per direction. */
#define ODE_MODEL_DEFAULT_N_STEPS 1000
/* ODE_BATCH_AUTO never picks shared-step below this batch size: the batched
 * evaluation only takes the GEMM path from LINEAR_GEMM_MIN_BATCH rows. */
#define ODE_MODEL_SHARED_MIN_BATCH 16
/* Batched-evaluation costs are calibrated for batches of 2^k rows,
 * k = ODE_COST_K0 .. ODE_COST_K0 + ODE_COST_CLASSES - 1 (the nearest class
 * below the batch; larger batches use the largest). */
#define ODE_COST_K0 4
#define ODE_COST_CLASSES 5
/* Every this many AUTO batches that would go shared-step, one goes per
 * trajectory instead, so that the learned evaluation ratio stays current. */
#define ODE_COST_EXPLORE 8

struct ode_model {
    size_t state_dim;    /* reported state */
    size_t augment_dim;  /* zeros appended */
    size_t dim;          /* state_dim + augment_dim: the solved state */
    mlp *net;            /* the vector field, owning its parameters */
    model_solver solver; /* the model's defaults */
    /* ODE_BATCH_AUTO's cost model (see ode_batch_pick): learned caches in
     * relaxed atomics, 0 = not measured yet; the only state that changes
     * after ode_model_new (a lost update costs only an older figure). */
    _Atomic double cost_single;                /* CPU s per single-state evaluation */
    _Atomic double cost_row[ODE_COST_CLASSES]; /* CPU s per state of a batched one */
    _Atomic double nfe_ratio;                  /* learned r (ode_batch_pick) */
    atomic_long auto_shared;                   /* AUTO batches that went shared-step */
};

/* ---- construction -------------------------------------------------------- */

err_code ode_model_new(ode_model **out, const model_def *d, err *e)
{
    *out = NULL;
    if (!d) return err_set(e, ERR_INVALID, NULL, "no model given");
    if (d->kind != MODEL_KIND_ODE)
        return err_set(e, ERR_INVALID, "kind", "is \"%s\", expected \"ode\"",
                       model_kind_name(d->kind));
    err_code rc = model_def_validate(d, e);
    if (rc) return rc;
    ode_model *m = calloc(1, sizeof *m);
    if (!m) return err_set(e, ERR_NOMEM, NULL, "out of memory for a model");
    const model_net *n = &d->nets[MODEL_NET_ODE_FIELD];
    const mlp_spec spec = {.state_dim = n->in_dim,
                           .time_input = n->time_input,
                           .n_layers = n->n_layers,
                           .layers = n->layers};
    if ((rc = mlp_new(&m->net, &spec, e))) {
        err_prefix_field(e, model_net_name(d->kind, MODEL_NET_ODE_FIELD));
        goto fail;
    }
    const size_t np = mlp_n_params(m->net), off = model_def_net_offset(d, MODEL_NET_ODE_FIELD);
    if (off + np != d->n_params) { /* validated above: a disagreement between nn and model */
        rc = err_set(e, ERR_INTERNAL, NULL, "the network needs %zu parameters, the model has %zu",
                     np, d->n_params - off);
        goto fail;
    }
    memcpy(mlp_params(m->net), d->params + off, np * sizeof(double));
    err pe; /* final parameters: pack; out of memory only serves it unpacked (same results) */
    err_clear(&pe);
    (void)mlp_pack(m->net, &pe);
    m->state_dim = d->state_dim;
    m->augment_dim = d->augment_dim;
    m->dim = d->state_dim + d->augment_dim;
    m->solver = d->solver;
    *out = m;
    return ERR_OK;
fail:
    ode_model_free(m);
    return rc;
}

void ode_model_free(ode_model *m)
{
    if (!m) return;
    mlp_free(m->net);
    free(m);
}

size_t ode_model_state_dim(const ode_model *m)
{
    return m->state_dim;
}

size_t ode_model_augment_dim(const ode_model *m)
{
    return m->augment_dim;
}

size_t ode_model_output_dim(const ode_model *m, bool report_augmented)
{
    return report_augmented ? m->dim : m->state_dim;
}

/* ---- vector fields ------------------------------------------------------- */

struct rhs_ctx {
    const mlp *net;
    mlp_ws *ws;
    size_t batch; /* rhs_batch: states in y */
};

static int rhs_single(double t, const double *y, double *dydt, void *ctx)
{
    const struct rhs_ctx *c = ctx;
    mlp_forward(c->net, c->ws, y, t, dydt);
    return 0;
}

static int jac_single(double t, const double *y, double *J, double *dfdt, void *ctx)
{
    const struct rhs_ctx *c = ctx;
    mlp_jacobian(c->net, c->ws, y, t, NULL, J, dfdt);
    return 0;
}

static int rhs_batch(double t, const double *y, double *dydt, void *ctx)
{
    const struct rhs_ctx *c = ctx;
    mlp_forward_batch(c->net, c->ws, c->batch, y, t, dydt);
    return 0;
}

/* ---- the query ----------------------------------------------------------- */

static err_code check_finite(const double *v, size_t n, const char *name, err *e)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) {
            char f[48];
            snprintf(f, sizeof f, "%s[%zu]", name, i);
            return err_set(e, ERR_INVALID, f, "must be a finite number");
        }
    return ERR_OK;
}

/* Fields as the HTTP request spells them: "y0[k]" for one state, "y0[b][k]"
 * for a batch, "t[i]", "t0", "solver.rtol". */
static err_code check_query(const ode_model *m, const struct ode_model_query *q,
                            const double *y_out, err *e)
{
    if (!q) return err_set(e, ERR_INVALID, NULL, "no query given");
    if (q->batch < 1) return err_set(e, ERR_INVALID, "y0", "must hold at least one state");
    if (!q->y0) return err_set(e, ERR_INVALID, "y0", "missing");
    if (q->n_t < 1) return err_set(e, ERR_INVALID, "t", "must hold at least one time");
    if (!q->t) return err_set(e, ERR_INVALID, "t", "missing");
    if ((int)q->mode < ODE_BATCH_AUTO || q->mode > ODE_BATCH_PER_TRAJECTORY)
        return err_set(e, ERR_INVALID, "mode", "unknown batch mode %d", (int)q->mode);
    if (q->batch > SIZE_MAX / sizeof(double) / m->dim / q->n_t)
        return err_set(e, ERR_TOO_LARGE, "t", "%zu times x %zu states is too large", q->n_t,
                       q->batch);
    if (!y_out) return err_set(e, ERR_INVALID, NULL, "no output buffer given");
    if (!isfinite(q->t0)) return err_set(e, ERR_INVALID, "t0", "must be a finite number");
    if (q->batch == 1) {
        if (check_finite(q->y0, m->state_dim, "y0", e)) return ERR_INVALID;
    } else {
        for (size_t b = 0; b < q->batch; b++) {
            char f[32];
            snprintf(f, sizeof f, "y0[%zu]", b);
            if (check_finite(q->y0 + b * m->state_dim, m->state_dim, f, e)) return ERR_INVALID;
        }
    }
    return check_finite(q->t, q->n_t, "t", e);
}

/* num's options from the merged solver settings (see the file comment). */
static err_code make_options(const ode_model *m, const struct ode_model_query *q,
                             const struct rk_tableau **tab, struct ode_options *o, err *e)
{
    if (model_solver_options(&m->solver, &q->solver, ODE_MODEL_DEFAULT_N_STEPS, tab, o, e))
        return ERR_INVALID;
    o->abort = q->abort;
    o->abort_ctx = q->abort_ctx;
    return ERR_OK;
}

/* ---- the two batch modes ------------------------------------------------- */

/* What both modes share: the model, the query, the solver, the output. */
struct solve_job {
    const ode_model *m;
    const struct ode_model_query *q;
    const struct rk_tableau *tab;
    struct ode_options opt;
    size_t od; /* output values per state */
    double *y_out;
    struct ode_model_stats *st;
    long nfe_max; /* per-trajectory mode: the largest NFE of one trajectory */
};

/* y (dim values) = [y0 of trajectory b; zeros]. */
static void load_state(const struct solve_job *j, size_t b, double *y)
{
    const size_t sd = j->m->state_dim;
    memcpy(y, j->q->y0 + b * sd, sd * sizeof *y);
    memset(y + sd, 0, j->m->augment_dim * sizeof *y);
}

/* A solver error, named for the trajectory that failed: field "y0" for a
 * single state or the shared batch, "y0[b]" for trajectory b of a batch
 * solved per trajectory. Codes other than ERR_SOLVER (an abort hook's, out
 * of memory) keep num's empty field. */
static err_code name_failure(err_code rc, const err *local, long b, err *e)
{
    char f[ERR_FIELD_MAX] = "";
    if (rc == ERR_SOLVER) {
        if (b < 0)
            snprintf(f, sizeof f, "y0");
        else
            snprintf(f, sizeof f, "y0[%ld]", b);
    } else if (rc == ERR_INVALID) {
        snprintf(f, sizeof f, "%s", local->field);
    }
    return err_set(e, rc, f, "%s", local->message[0] ? local->message : "solve failed");
}

static err_code solve_per_trajectory(struct solve_job *j, err *e)
{
    const ode_model *m = j->m;
    const struct ode_model_query *q = j->q;
    const size_t dim = m->dim, n_t = q->n_t;
    const bool direct = j->od == dim; /* the solver writes into y_out itself */
    mlp_ws *ws = NULL;
    ode_solver *solver = NULL;
    double *y0 = malloc(dim * sizeof *y0);
    double *buf = direct ? NULL : malloc(n_t * dim * sizeof *buf);
    err_code rc = ERR_OK;
    if (!y0 || (!direct && !buf)) {
        rc = err_set(e, ERR_NOMEM, NULL, "out of memory for a solve");
        goto out;
    }
    if ((rc = mlp_ws_new(&ws, m->net, 1, e))) goto out;
    if (!(solver = ode_solver_new(j->tab, dim, NULL))) {
        rc = err_set(e, ERR_NOMEM, NULL, "out of memory for a solver");
        goto out;
    }
    struct rhs_ctx ctx = {.net = m->net, .ws = ws, .batch = 1};
    const struct ode_problem p = {.f = rhs_single,
                                  .ctx = &ctx,
                                  .dim = dim,
                                  .t0 = q->t0,
                                  .y0 = y0,
                                  .t_out = q->t,
                                  .n_out = n_t,
                                  .jac = jac_single,
                                  .autonomous = !mlp_time_input(m->net)};
    for (size_t b = 0; b < q->batch; b++) {
        double *dst = j->y_out + b * n_t * j->od;
        struct ode_stats s;
        err local;
        err_clear(&local);
        load_state(j, b, y0);
        rc = ode_solve(solver, &p, &j->opt, direct ? dst : buf, &s, &local);
        j->st->nfe += s.nfe;
        if (s.nfe > j->nfe_max) j->nfe_max = s.nfe;
        j->st->steps += s.n_accepted;
        j->st->rejected += s.n_rejected;
        j->st->n_jac += s.n_jac;
        j->st->n_lu += s.n_lu;
        j->st->auto_steps[0] += s.auto_steps[0];
        j->st->auto_steps[1] += s.auto_steps[1];
        j->st->n_switches += s.n_switches;
        if (rc) {
            j->st->t_fail = s.t_fail;
            rc = name_failure(rc, &local, q->batch > 1 ? (long)b : -1, e);
            goto out;
        }
        if (!direct)
            for (size_t i = 0; i < n_t; i++)
                memcpy(dst + i * j->od, buf + i * dim, j->od * sizeof *dst);
    }
out:
    ode_solver_free(solver);
    mlp_ws_free(ws);
    free(buf);
    free(y0);
    return rc;
}

static err_code solve_shared(struct solve_job *j, err *e)
{
    const ode_model *m = j->m;
    const struct ode_model_query *q = j->q;
    const size_t dim = m->dim, n_t = q->n_t, batch = q->batch, big = batch * dim;
    const bool direct = batch == 1 && j->od == dim;
    mlp_ws *ws = NULL;
    ode_solver *solver = NULL;
    double *y0 = malloc(big * sizeof *y0);
    double *buf = direct ? NULL : malloc(n_t * big * sizeof *buf);
    err_code rc = ERR_OK;
    if (!y0 || (!direct && !buf)) {
        rc = err_set(e, ERR_NOMEM, NULL, "out of memory for a batch of %zu states", batch);
        goto out;
    }
    if ((rc = mlp_ws_new(&ws, m->net, batch, e))) goto out;
    if (!(solver = ode_solver_new(j->tab, big, NULL))) {
        rc = err_set(e, ERR_NOMEM, NULL, "out of memory for a solver");
        goto out;
    }
    for (size_t b = 0; b < batch; b++)
        load_state(j, b, y0 + b * dim);
    struct rhs_ctx ctx = {.net = m->net, .ws = ws, .batch = batch};
    const struct ode_problem p = {.f = batch == 1 ? rhs_single : rhs_batch,
                                  .ctx = &ctx,
                                  .dim = big,
                                  .t0 = q->t0,
                                  .y0 = y0,
                                  .t_out = q->t,
                                  .n_out = n_t};
    struct ode_stats s;
    err local;
    err_clear(&local);
    j->opt.groups = batch;
    rc = ode_solve(solver, &p, &j->opt, direct ? j->y_out : buf, &s, &local);
    j->st->nfe = s.nfe;
    j->st->steps = s.n_accepted;
    j->st->rejected = s.n_rejected;
    if (rc) {
        j->st->t_fail = s.t_fail;
        rc = name_failure(rc, &local, -1, e);
        goto out;
    }
    if (!direct) /* n_t x batch x dim -> batch x n_t x od */
        for (size_t b = 0; b < batch; b++)
            for (size_t i = 0; i < n_t; i++)
                memcpy(j->y_out + (b * n_t + i) * j->od, buf + i * big + b * dim,
                       j->od * sizeof *buf);
out:
    ode_solver_free(solver);
    mlp_ws_free(ws);
    free(buf);
    free(y0);
    return rc;
}

/* ---- ODE_BATCH_AUTO ------------------------------------------------------ */

ode_batch_mode ode_batch_pick(size_t batch, double cost_single, double cost_row, double nfe_ratio)
{
    if (batch < ODE_MODEL_SHARED_MIN_BATCH || !(cost_single > 0) || !(cost_row > 0) ||
        !(nfe_ratio > 0))
        return ODE_BATCH_PER_TRAJECTORY;
    return nfe_ratio * cost_row < cost_single ? ODE_BATCH_SHARED : ODE_BATCH_PER_TRAJECTORY;
}

static double cpu_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)) return 0;
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static size_t cost_class(size_t batch)
{
    size_t k = 0;
    while (k + 1 < ODE_COST_CLASSES && batch >> (ODE_COST_K0 + k + 1))
        k++;
    return k;
}

/* The smallest CPU time per state over a few timed runs (the minimum: a
 * run another thread preempted only counts less), of single-state
 * evaluations and of batched ones of 2^(ODE_COST_K0 + class) rows, on the
 * query's own states (repeated to fill the rows). Costs a few hundred
 * evaluations, once per model and batch class; on failure (out of memory,
 * no thread clock) nothing is stored and AUTO stays per trajectory. */
static void calibrate(ode_model *m, const struct solve_job *j, size_t cls)
{
    enum { ROUNDS = 5, SINGLES = 16 };
    const size_t n = (size_t)1 << (ODE_COST_K0 + cls), dim = m->dim;
    mlp_ws *ws = NULL;
    err e;
    err_clear(&e);
    double *x = malloc(2 * n * dim * sizeof *x);
    if (!x || mlp_ws_new(&ws, m->net, n, &e)) goto out;
    for (size_t r = 0; r < n; r++)
        load_state(j, r % j->q->batch, x + r * dim);
    double *y = x + n * dim, best1 = INFINITY, bestb = INFINITY;
    mlp_forward(m->net, ws, x, j->q->t0, y); /* warm-up */
    mlp_forward_batch(m->net, ws, n, x, j->q->t0, y);
    for (int r = 0; r < ROUNDS; r++) {
        double c0 = cpu_now();
        for (size_t i = 0; i < SINGLES; i++)
            mlp_forward(m->net, ws, x + (i % n) * dim, j->q->t0, y + (i % n) * dim);
        double c1 = cpu_now();
        mlp_forward_batch(m->net, ws, n, x, j->q->t0, y);
        double c2 = cpu_now();
        if ((c1 - c0) / SINGLES < best1) best1 = (c1 - c0) / SINGLES;
        if ((c2 - c1) / (double)n < bestb) bestb = (c2 - c1) / (double)n;
    }
    if (best1 > 0 && bestb > 0) {
        double prev = atomic_load_explicit(&m->cost_single, memory_order_relaxed);
        if (!(prev > 0) || best1 < prev)
            atomic_store_explicit(&m->cost_single, best1, memory_order_relaxed);
        atomic_store_explicit(&m->cost_row[cls], bestb, memory_order_relaxed);
    }
out:
    mlp_ws_free(ws);
    free(x);
}

/* AUTO for a batch: the cost model of ode_batch_pick with the model's
 * calibrated evaluation costs and its learned NFE ratio; until a ratio is
 * learned, and every ODE_COST_EXPLORE-th batch that would go shared,
 * per trajectory (which measures the ratio). */
static ode_batch_mode auto_mode(const struct solve_job *j)
{
    ode_model *m = (ode_model *)j->m; /* only the atomic caches are written */
    const size_t batch = j->q->batch;
    if (batch < ODE_MODEL_SHARED_MIN_BATCH) return ODE_BATCH_PER_TRAJECTORY;
    const double r = atomic_load_explicit(&m->nfe_ratio, memory_order_relaxed);
    if (!(r > 0)) return ODE_BATCH_PER_TRAJECTORY;
    const size_t cls = cost_class(batch);
    if (!(atomic_load_explicit(&m->cost_row[cls], memory_order_relaxed) > 0)) calibrate(m, j, cls);
    const ode_batch_mode mode =
        ode_batch_pick(batch, atomic_load_explicit(&m->cost_single, memory_order_relaxed),
                       atomic_load_explicit(&m->cost_row[cls], memory_order_relaxed), r);
    if (mode == ODE_BATCH_SHARED &&
        atomic_fetch_add_explicit(&m->auto_shared, 1, memory_order_relaxed) % ODE_COST_EXPLORE ==
            ODE_COST_EXPLORE - 1)
        return ODE_BATCH_PER_TRAJECTORY;
    return mode;
}

/* After a successful per-trajectory batch: r = batch x max_b NFE_b / sum_b
 * NFE_b, what a shared-step solve, which steps as its hardest trajectory
 * does, would evaluate relative to this one; a running mean (weight 1/4 for
 * the new figure). */
static void learn_ratio(const struct solve_job *j)
{
    if (j->q->batch < ODE_MODEL_SHARED_MIN_BATCH || j->st->nfe <= 0) return;
    ode_model *m = (ode_model *)j->m;
    const double obs = (double)j->q->batch * (double)j->nfe_max / (double)j->st->nfe;
    const double r = atomic_load_explicit(&m->nfe_ratio, memory_order_relaxed);
    atomic_store_explicit(&m->nfe_ratio, r > 0 ? 0.75 * r + 0.25 * obs : obs,
                          memory_order_relaxed);
}

err_code ode_model_solve(const ode_model *m, const struct ode_model_query *q, double *y_out,
                         struct ode_model_stats *stats, err *e)
{
    struct ode_model_stats local_stats;
    if (!stats) stats = &local_stats;
    *stats = (struct ode_model_stats){.t_fail = NAN};
    if (!m) return err_set(e, ERR_INVALID, NULL, "no model given");
    struct solve_job j = {.m = m, .q = q, .y_out = y_out, .st = stats};
    err_code rc;
    if ((rc = check_query(m, q, y_out, e)) || (rc = make_options(m, q, &j.tab, &j.opt, e)))
        return rc;
    j.od = ode_model_output_dim(m, q->report_augmented);
    /* implicit methods: per trajectory, whatever the query asked (see above) */
    const bool implicit = rk_tableau_implicit(j.tab);
    ode_batch_mode mode = implicit              ? ODE_BATCH_PER_TRAJECTORY
                          : q->mode == ODE_BATCH_AUTO ? auto_mode(&j)
                                                      : q->mode;
    stats->mode = mode;
    if (mode == ODE_BATCH_SHARED) return solve_shared(&j, e);
    if (!(rc = solve_per_trajectory(&j, e)) && !implicit) learn_ratio(&j);
    return rc;
}
