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
 * their batches teach the cost model nothing. So do queries with events
 * (num finds events only with groups = 1: a terminal event stops one
 * trajectory, a shared-step system would have to stop them all).
 *
 * Per-trajectory grids (query.t_len): per trajectory, each solve gets its
 * own times; shared step, one solve at the sorted distinct union of all
 * grids, each trajectory's rows picked from it (bsearch), so its answers
 * are those of a shared solve at the union.
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

#include "core/grow.h"
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
/* AUTO with per-trajectory grids: shared-step only while its output buffer
 * (distinct times x batch x dim) is at most this many times the reply's. */
#define ODE_MODEL_UNION_MAX_RATIO 4

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

const struct mlp *ode_model_net(const ode_model *m)
{
    return m->net;
}

const model_solver *ode_model_solver(const ode_model *m)
{
    return &m->solver;
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

/* The shared-step batch's Jacobian: block diagonal, one dim x dim block
 * per state (ode_problem.jac_blocks), so its LU costs batch x dim^3. */
static int jac_batch(double t, const double *y, double *J, double *dfdt, void *ctx)
{
    const struct rhs_ctx *c = ctx;
    const size_t d = mlp_output_dim(c->net);
    for (size_t b = 0; b < c->batch; b++)
        mlp_jacobian(c->net, c->ws, y + b * d, t, NULL, J + b * d * d, dfdt ? dfdt + b * d : NULL);
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

/* Events as the HTTP request spells them: "events[k].state[j]", ... */
static err_code check_events(const ode_model *m, const struct ode_model_query *q, err *e)
{
    if (!q->n_events) return ERR_OK;
    if (!q->events) return err_set(e, ERR_INVALID, "events", "missing");
    if (!q->events_out) return err_set(e, ERR_INVALID, NULL, "no events output given");
    for (size_t k = 0; k < q->n_events; k++) {
        const struct ode_event *ev = &q->events[k];
        char f[48];
        snprintf(f, sizeof f, "events[%zu].state", k);
        if (!ev->w) return err_set(e, ERR_INVALID, f, "missing");
        if (check_finite(ev->w, m->state_dim, f, e)) return ERR_INVALID;
        snprintf(f, sizeof f, "events[%zu]", k);
        if (!isfinite(ev->value)) return err_set(e, ERR_INVALID, f, "value must be finite");
        if (ev->direction < -1 || ev->direction > 1 || (ev->terminal != 0 && ev->terminal != 1))
            return err_set(e, ERR_INVALID, f, "unknown direction or terminal flag");
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
    if ((q->t_len ? 1 : q->batch) > SIZE_MAX / sizeof(double) / m->dim / q->n_t)
        return err_set(e, ERR_TOO_LARGE, "t", "%zu times x %zu states is too large", q->n_t,
                       q->batch);
    if (q->t_len) {
        size_t sum = 0;
        for (size_t b = 0; b < q->batch; b++)
            sum += q->t_len[b];
        if (sum != q->n_t)
            return err_set(e, ERR_INVALID, "t", "the grids hold %zu times, n_t is %zu", sum, q->n_t);
    }
    if (check_events(m, q, e)) return ERR_INVALID;
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
    size_t *off;  /* batch + 1: trajectory b's output rows are off[b] .. off[b+1] */
    double *u;    /* shared-step with per-trajectory grids: the sorted distinct times */
    size_t n_u;
};

void ode_model_events_clear(struct ode_model_events *ev)
{
    if (!ev) return;
    free(ev->b);
    free(ev->which);
    free(ev->t);
    free(ev->y);
    free(ev->stop_fwd);
    free(ev->stop_bwd);
    memset(ev, 0, sizeof *ev);
}

/* Collects one trajectory's events (num's ode_event_fn). */
struct event_sink {
    struct ode_model_events *out;
    size_t b, od;
};

static int sink_event(size_t which, double t, const double *y, void *ctx)
{
    struct event_sink *k = ctx;
    struct ode_model_events *o = k->out;
    void *const arrays[] = {&o->b, &o->which, &o->t, &o->y};
    const size_t row[] = {sizeof *o->b, sizeof *o->which, sizeof *o->t, k->od * sizeof *o->y};
    if (grow_rows(&o->cap, o->n + 1, 4, arrays, row)) return ERR_NOMEM;
    o->b[o->n] = k->b;
    o->which[o->n] = which;
    o->t[o->n] = t;
    memcpy(o->y + o->n * k->od, y, k->od * sizeof *y);
    o->n++;
    return 0;
}

/* Swap events i and k (and their states of od values). */
static void swap_events(struct ode_model_events *o, size_t i, size_t k, size_t od, double *tmp)
{
    const double t = o->t[i];
    const size_t w = o->which[i];
    o->t[i] = o->t[k];
    o->which[i] = o->which[k];
    o->t[k] = t;
    o->which[k] = w;
    memcpy(tmp, o->y + i * od, od * sizeof *tmp);
    memcpy(o->y + i * od, o->y + k * od, od * sizeof *tmp);
    memcpy(o->y + k * od, tmp, od * sizeof *tmp);
}

static void reverse_events(struct ode_model_events *o, size_t lo, size_t hi, size_t od,
                           double *tmp)
{
    for (; lo + 1 < hi; lo++, hi--)
        swap_events(o, lo, hi - 1, od, tmp);
}

/* Trajectory b's events [from, n) into ascending t: num reports the forward
 * sweep's (t >= t0, ascending) and then the backward sweep's (descending),
 * so [A][B] becomes [reversed B][A] by two reversals, in linear time. */
static void sort_events(struct ode_model_events *o, size_t from, size_t od, double t0,
                        double *tmp)
{
    size_t n_fwd = 0;
    while (from + n_fwd < o->n && o->t[from + n_fwd] >= t0)
        n_fwd++;
    if (from + n_fwd == o->n) return; /* no backward events */
    reverse_events(o, from, o->n, od, tmp);
    reverse_events(o, o->n - n_fwd, o->n, od, tmp);
}

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
    size_t n_max = 0;                 /* the longest grid */
    for (size_t b = 0; b < q->batch; b++)
        if (j->off[b + 1] - j->off[b] > n_max) n_max = j->off[b + 1] - j->off[b];
    (void)n_t;
    mlp_ws *ws = NULL;
    ode_solver *solver = NULL;
    double *y0 = malloc(dim * sizeof *y0);
    double *buf = direct ? NULL : malloc((n_max ? n_max : 1) * dim * sizeof *buf);
    /* events with dim weights (state_dim given, the augmented ones 0) */
    struct ode_event *evs = q->n_events ? calloc(q->n_events, sizeof *evs) : NULL;
    double *w = q->n_events ? calloc(q->n_events * dim, sizeof *w) : NULL;
    double *tmp = q->n_events ? malloc(j->od * sizeof *tmp) : NULL;
    struct ode_model_events *eo = q->events_out;
    if (q->n_events) {
        ode_model_events_clear(eo);
        eo->od = j->od;
        eo->stop_fwd = malloc(q->batch * sizeof *eo->stop_fwd);
        eo->stop_bwd = malloc(q->batch * sizeof *eo->stop_bwd);
    }
    err_code rc = ERR_OK;
    if (!y0 || (!direct && !buf) ||
        (q->n_events && (!evs || !w || !tmp || !eo->stop_fwd || !eo->stop_bwd))) {
        rc = err_set(e, ERR_NOMEM, NULL, "out of memory for a solve");
        goto out;
    }
    if ((rc = mlp_ws_new(&ws, m->net, 1, e))) goto out;
    if (!(solver = ode_solver_new(j->tab, dim, NULL))) {
        rc = err_set(e, ERR_NOMEM, NULL, "out of memory for a solver");
        goto out;
    }
    struct rhs_ctx ctx = {.net = m->net, .ws = ws, .batch = 1};
    for (size_t k = 0; k < q->n_events; k++) {
        memcpy(w + k * dim, q->events[k].w, m->state_dim * sizeof *w);
        evs[k] = q->events[k];
        evs[k].w = w + k * dim;
    }
    struct event_sink sink = {.out = eo, .od = j->od};
    struct ode_problem p = {.f = rhs_single,
                                  .ctx = &ctx,
                                  .dim = dim,
                                  .t0 = q->t0,
                                  .y0 = y0,
                                  .t_out = q->t,
                                  .n_out = n_t,
                                  .jac = jac_single,
                                  .autonomous = !mlp_time_input(m->net),
                                  .events = evs,
                                  .n_events = q->n_events,
                                  .on_event = q->n_events ? sink_event : NULL,
                                  .event_ctx = &sink};
    for (size_t b = 0; b < q->batch; b++) {
        double *dst = j->y_out + j->off[b] * j->od;
        const size_t n_b = j->off[b + 1] - j->off[b], first_event = eo ? eo->n : 0;
        struct ode_stats s;
        err local;
        err_clear(&local);
        load_state(j, b, y0);
        p.t_out = q->t + (q->t_len ? j->off[b] : 0);
        p.n_out = n_b;
        sink.b = b;
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
        if (q->n_events) {
            eo->stop_fwd[b] = s.t_stop_fwd;
            eo->stop_bwd[b] = s.t_stop_bwd;
            sort_events(eo, first_event, j->od, q->t0, tmp);
        }
        if (!direct)
            for (size_t i = 0; i < n_b; i++)
                memcpy(dst + i * j->od, buf + i * dim, j->od * sizeof *dst);
    }
out:
    if (rc && q->n_events) ode_model_events_clear(eo);
    ode_solver_free(solver);
    mlp_ws_free(ws);
    free(buf);
    free(y0);
    free(evs);
    free(w);
    free(tmp);
    return rc;
}

static int cmp_time(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The sorted distinct times of all grids into j->u. */
static err_code make_union(struct solve_job *j, err *e)
{
    const size_t n = j->q->n_t;
    if (!(j->u = malloc(n * sizeof *j->u)))
        return err_set(e, ERR_NOMEM, NULL, "out of memory for the output times");
    memcpy(j->u, j->q->t, n * sizeof *j->u);
    qsort(j->u, n, sizeof *j->u, cmp_time);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!k || j->u[i] != j->u[k - 1]) j->u[k++] = j->u[i];
    j->n_u = k;
    return ERR_OK;
}

static err_code solve_shared(struct solve_job *j, err *e)
{
    const ode_model *m = j->m;
    const struct ode_model_query *q = j->q;
    const size_t dim = m->dim, batch = q->batch, big = batch * dim;
    /* per-trajectory grids: one solve at the union of the times, each
     * trajectory's rows picked from it */
    const size_t n_t = q->t_len ? j->n_u : q->n_t;
    const bool direct = batch == 1 && j->od == dim && !q->t_len;
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
    const bool implicit = rk_tableau_implicit(j->tab);
    const struct ode_problem p = {.f = batch == 1 ? rhs_single : rhs_batch,
                                  .ctx = &ctx,
                                  .dim = big,
                                  .t0 = q->t0,
                                  .y0 = y0,
                                  .t_out = q->t_len ? j->u : q->t,
                                  .n_out = n_t,
                                  .jac = implicit ? jac_batch : NULL,
                                  .jac_blocks = implicit ? batch : 0,
                                  .jac_bsize = implicit ? dim : 0,
                                  .autonomous = !mlp_time_input(m->net)};
    struct ode_stats s;
    err local;
    err_clear(&local);
    j->opt.groups = batch;
    rc = ode_solve(solver, &p, &j->opt, direct ? j->y_out : buf, &s, &local);
    j->st->nfe = s.nfe;
    j->st->steps = s.n_accepted;
    j->st->rejected = s.n_rejected;
    j->st->n_jac = s.n_jac;
    j->st->n_lu = s.n_lu;
    j->st->auto_steps[0] = s.auto_steps[0];
    j->st->auto_steps[1] = s.auto_steps[1];
    j->st->n_switches = s.n_switches;
    if (rc) {
        j->st->t_fail = s.t_fail;
        rc = name_failure(rc, &local, -1, e);
        goto out;
    }
    if (q->t_len) { /* row of the union for each trajectory's time */
        for (size_t b = 0; b < batch; b++)
            for (size_t i = j->off[b]; i < j->off[b + 1]; i++) {
                const double *hit = bsearch(&q->t[i], j->u, j->n_u, sizeof *j->u, cmp_time);
                memcpy(j->y_out + i * j->od, buf + (size_t)(hit - j->u) * big + b * dim,
                       j->od * sizeof *buf);
            }
    } else if (!direct) /* n_t x batch x dim -> batch x n_t x od */
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
    if (!(j.off = malloc((q->batch + 1) * sizeof *j.off)))
        return err_set(e, ERR_NOMEM, NULL, "out of memory for a solve");
    j.off[0] = 0;
    for (size_t b = 0; b < q->batch; b++)
        j.off[b + 1] = j.off[b] + (q->t_len ? q->t_len[b] : q->n_t);
    if (q->t_len && (rc = make_union(&j, e))) goto out;
    /* events: per trajectory, whatever the query asked; the implicit
     * methods unless the query asks for shared steps (the cost model knows
     * the explicit methods' costs only; see ode_model.h) */
    const bool implicit = rk_tableau_implicit(j.tab);
    ode_batch_mode mode = q->n_events ? ODE_BATCH_PER_TRAJECTORY
                          : q->mode == ODE_BATCH_AUTO
                              ? (implicit ? ODE_BATCH_PER_TRAJECTORY : auto_mode(&j))
                              : q->mode;
    /* per-trajectory grids: AUTO does not let the shared solve's buffer
     * (union x batch x dim) outgrow the reply (n_t x od) more than
     * ODE_MODEL_UNION_MAX_RATIO times */
    if (q->t_len && q->mode == ODE_BATCH_AUTO && mode == ODE_BATCH_SHARED &&
        (double)j.n_u * (double)q->batch * (double)m->dim >
            ODE_MODEL_UNION_MAX_RATIO * (double)q->n_t * (double)j.od)
        mode = ODE_BATCH_PER_TRAJECTORY;
    stats->mode = mode;
    if (mode == ODE_BATCH_SHARED) {
        rc = solve_shared(&j, e);
    } else if (!(rc = solve_per_trajectory(&j, e)) && !implicit && !q->n_events) {
        learn_ratio(&j); /* a terminal event's short solves would teach it wrong */
    }
out:
    free(j.off);
    free(j.u);
    return rc;
}
