/* model/grad_serve.c: see grad_serve.h. */
#include "model/grad_serve.h"

#include "model/grad_cde.h"
#include "model/grad_interp.h"
#include "model/grad_ode.h"
#include "nn/mlp.h"
#include "num/tableau.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The engine's options from the model's solver defaults and the request's
 * overrides. */
static err_code options(const ode_model *m, const struct grad_serve_query *q,
                        struct grad_ode_options *o, err *e)
{
    grad_ode_options_init(o);
    o->solve.method = q->method;
    o->solve.per_item_norm = true;
    const struct rk_tableau *tab = NULL;
    if (model_solver_options(ode_model_solver(m), &q->solver, 1000, &tab, &o->solve.ode, e))
        return ERR_INVALID;
    o->solve.tab = tab;
    o->loss = LOSS_MSE;
    if (q->method == GRAD_BACKPROP && rk_tableau_implicit(tab))
        return err_set(e, ERR_INVALID, "method",
                       "backprop runs each step's Runge-Kutta map backwards, and the implicit "
                       "method %s has none: use adjoint or adjoint_checkpointed",
                       tab->name);
    if (q->method == GRAD_REVERSIBLE) {
        model_solver s;
        model_solver_merge(ode_model_solver(m), &q->solver, &s);
        if (!(s.step > 0))
            return err_set(e, ERR_INVALID, "solver.step",
                           "the reversible method takes fixed steps: give solver.step");
        o->solve.ode.fixed_step = s.step;
        o->solve.ode.n_steps = 0;
        /* at most one step more per interval than the span needs */
        const double need = (q->t[q->n_t - 1] - q->t0) / s.step + (double)q->n_t;
        const long ms = o->solve.ode.max_steps;
        if (ms > 0 && need > (double)ms)
            return err_set(e, ERR_TOO_LARGE, "solver.max_steps",
                           "the reversible method at step %.17g needs about %.3g steps, more than "
                           "max_steps = %ld",
                           s.step, need, ms);
    }
    o->solve.ode.abort = q->abort;
    o->solve.ode.abort_ctx = q->abort_ctx;
    return ERR_OK;
}

/* The memory cap (grad_serve.h, MEMORY) in front of the request's abort
 * hook: the engine's bytes are read before every step attempt. */
struct guard {
    const grad_ode *ode; /* the engine whose bytes count (one of the two) */
    const grad_cde *cde;
    size_t max_bytes, held; /* held: the bytes that passed the cap (0 = not passed) */
    grad_method method;
    ode_abort_fn abort;
    void *abort_ctx;
};

static int guard_abort(void *ctx)
{
    struct guard *g = ctx;
    if (g->max_bytes) {
        size_t now = 0;
        if (g->ode) grad_ode_mem(g->ode, &now, NULL);
        if (g->cde) grad_cde_mem(g->cde, &now, NULL);
        if (now > g->max_bytes) {
            g->held = now;
            return ERR_TOO_LARGE;
        }
    }
    return g->abort ? g->abort(g->abort_ctx) : 0;
}

/* The error of a solve the guard stopped (any other is left as it is). */
static err_code guard_error(const struct guard *g, err_code rc, err *e)
{
    if (!g->held || rc != ERR_TOO_LARGE) return rc;
    err_clear(e);
    if (g->method == GRAD_BACKPROP)
        return err_set(e, ERR_TOO_LARGE, "method",
                       "backprop records every step, and its tape passed the server's cap "
                       "gradient_max_tape = %zu bytes (%zu held): use \"method\": "
                       "\"adjoint_checkpointed\" (memory like the square root of the steps), "
                       "fewer steps (a looser solver.rtol, a shorter t), or a larger cap",
                       g->max_bytes, g->held);
    if (g->method == GRAD_ADJOINT)
        return err_set(e, ERR_TOO_LARGE, "method",
                       "the adjoint's memory passed the server's cap gradient_max_tape = %zu "
                       "bytes (%zu held; after an implicit solver it records every forward "
                       "step): use \"method\": \"adjoint_checkpointed\", fewer steps, or a "
                       "larger cap",
                       g->max_bytes, g->held);
    return err_set(e, ERR_TOO_LARGE, "method",
                   "the %s gradient's memory passed the server's cap gradient_max_tape = %zu "
                   "bytes (%zu held): fewer steps (a looser solver.rtol, a larger solver.step, "
                   "a shorter t) or a larger cap",
                   grad_method_name(g->method), g->max_bytes, g->held);
}

static void stats_add(struct grad_stats *sum, const struct grad_stats *s)
{
    sum->fwd_steps += s->fwd_steps;
    sum->fwd_rejected += s->fwd_rejected;
    sum->fwd_nfe += s->fwd_nfe;
    sum->bwd_steps += s->bwd_steps;
    sum->bwd_rejected += s->bwd_rejected;
    sum->bwd_nfe += s->bwd_nfe;
    sum->bwd_resolve_nfe += s->bwd_resolve_nfe;
    sum->fwd_jac += s->fwd_jac;
    sum->fwd_lu += s->fwd_lu;
    sum->bwd_jac += s->bwd_jac;
    sum->bwd_lu += s->bwd_lu;
    if (s->tape_bytes > sum->tape_bytes) sum->tape_bytes = s->tape_bytes;
    if (s->ckpt_n > sum->ckpt_n) sum->ckpt_n = s->ckpt_n;
    if (s->ckpt_every > sum->ckpt_every) sum->ckpt_every = s->ckpt_every;
}

/* Replies never carry a non-finite number (it would be written null).
 * LOSS: the squared errors against the targets (or the state itself)
 * overflow a double; the adjoints meet it first as a non-finite adjoint
 * state, which their solver refuses as ERR_INVALID on a field of its own
 * ("adjoint.y0[2]") that the request does not have. Named on the state's
 * targets: "targets" for one state, "targets[b]" in a batch (a series for
 * a cde). GRADIENT: the loss is finite but the backward pass overflowed
 * (reversible Heun on a contracting field, whose steps are unstable):
 * named on "method". Both are ERR_SOLVER. */
static int all_finite(const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

/* Whether rc is the adjoint's refusal of its non-finite state. */
static int adjoint_overflow(err_code rc, const err *e)
{
    return rc == ERR_INVALID && strncmp(e->field, "adjoint", strlen("adjoint")) == 0;
}

static err_code not_finite(int loss_finite, size_t b, int batched, err *e)
{
    err_clear(e);
    if (loss_finite) {
        char at[48] = "";
        if (batched) snprintf(at, sizeof at, " (state %zu)", b);
        return err_set(e, ERR_SOLVER, "method",
                       "the gradient is not finite%s: the backward pass overflowed a double; "
                       "a smaller solver.step or another method",
                       at);
    }
    char f[32] = "targets";
    if (batched) snprintf(f, sizeof f, "targets[%zu]", b);
    return err_set(e, ERR_SOLVER, f,
                   "the loss is not finite: the squared errors against these targets overflow "
                   "a double (scale the data down)");
}

err_code grad_serve_ode(const ode_model *m, const struct grad_serve_query *q, double *loss,
                        double *gy0, double *gtheta, struct grad_stats *st, err *e)
{
    memset(st, 0, sizeof *st);
    *loss = 0;
    const mlp *f = ode_model_net(m);
    const size_t sd = ode_model_state_dim(m), dim = sd + ode_model_augment_dim(m),
                 P = mlp_n_params(f), nt = q->n_t;
    struct grad_ode_options o;
    err_code rc = options(m, q, &o, e);
    if (rc) return rc;
    grad_ode *g = NULL;
    double *y0 = calloc(dim, sizeof *y0), *dy0 = calloc(dim, sizeof *dy0);
    double *dth = calloc(P ? P : 1, sizeof *dth);
    if (!y0 || !dy0 || !dth) {
        rc = err_set(e, ERR_NOMEM, NULL, "out of memory for the gradient");
        goto out;
    }
    if ((rc = grad_ode_new(&g, f, 1, e))) goto out;
    struct guard gd = {.ode = g,
                       .max_bytes = q->max_bytes,
                       .method = q->method,
                       .abort = q->abort,
                       .abort_ctx = q->abort_ctx};
    o.solve.ode.abort = guard_abort;
    o.solve.ode.abort_ctx = &gd;
    /* under a cap, backprop's memory is its tape of states (docs/api.md):
     * the kept activations would pass the cap many times sooner */
    if (q->max_bytes) o.solve.keep_bytes = 0;
    memset(gtheta, 0, P * sizeof *gtheta);
    memset(gy0, 0, q->batch * sd * sizeof *gy0);
    for (size_t b = 0; b < q->batch; b++) {
        memcpy(y0, q->y0 + b * sd, sd * sizeof *y0);
        const double *tg = q->target + b * nt * sd;
        size_t seen = 0;
        for (size_t i = 0; i < nt * sd; i++)
            seen += !isnan(tg[i]);
        o.loss_scale = q->mean ? (seen ? 1.0 / (double)seen : 0.0) : 1.0;
        if (seen == 0) continue; /* no term: loss and gradient 0 */
        const struct grad_ode_batch bt = {
            .batch = 1, .y0 = y0, .t0 = &q->t0, .t = q->t, .n_t = nt, .obs_dim = sd, .target = tg};
        double l = 0;
        rc = grad_ode_compute(g, &bt, &o, &l, dth, dy0, NULL, e);
        struct grad_stats s;
        grad_ode_stats(g, &s);
        stats_add(st, &s);
        if (adjoint_overflow(rc, e) ||
            (rc == ERR_OK && !(isfinite(l) && all_finite(dy0, sd) && all_finite(dth, P))))
            rc = not_finite(rc == ERR_OK && isfinite(l), b, q->batch > 1, e);
        if (rc) {
            rc = guard_error(&gd, rc, e);
            char fld[32];
            snprintf(fld, sizeof fld, "y0[%zu]", b);
            if (q->batch > 1 && e->field[0] == '\0' && !gd.held) err_prefix_field(e, fld);
            goto out;
        }
        *loss += l;
        memcpy(gy0 + b * sd, dy0, sd * sizeof *gy0);
        for (size_t k = 0; k < P; k++)
            gtheta[k] += dth[k];
    }
out:
    grad_ode_free(g);
    free(y0);
    free(dy0);
    free(dth);
    return rc;
}

/* ---- cde ------------------------------------------------------------------------ */

static err_code cde_options(const cde_model *m, const struct grad_serve_cde_query *q,
                            struct grad_cde_options *o, err *e)
{
    grad_cde_options_init(o);
    o->solve.method = q->method;
    o->loss = LOSS_MSE;
    o->on_hidden = q->on_hidden;
    if (q->method == GRAD_REVERSIBLE)
        return err_set(e, ERR_INVALID, "method",
                       "reversible is for ode models: its fixed steps would cross the knots of a "
                       "cde's path; use backprop, adjoint or adjoint_checkpointed");
    const struct rk_tableau *tab = NULL;
    /* no default step count: the path's parameter span says nothing of a sensible h */
    if (model_solver_options(cde_model_solver(m), &q->solver, 0, &tab, &o->solve.ode, e))
        return ERR_INVALID;
    o->solve.tab = tab;
    if (q->method == GRAD_BACKPROP && rk_tableau_implicit(tab))
        return err_set(e, ERR_INVALID, "method",
                       "backprop runs each step's Runge-Kutta map backwards, and the implicit "
                       "method %s has none: use adjoint or adjoint_checkpointed",
                       tab->name);
    return ERR_OK;
}

/* Series b's path, its s0 and its query times in s (s_out), the times
 * checked against the observations' span. */
static err_code cde_series_setup(const cde_model *m, const struct cde_series *sr, interp **path,
                                 grad_interp **gi, double *s0, double *s_out, err *e)
{
    err_code rc = cde_model_path(m, &sr->obs, path, e);
    if (rc) return rc;
    if ((rc = grad_interp_new(gi, (const interp *const *)path, 1, e))) return rc;
    const double lo = sr->obs.t[0], hi = sr->obs.t[sr->obs.n - 1];
    for (size_t i = 0; i < sr->n_t; i++)
        if (!(sr->t[i] >= lo && sr->t[i] <= hi)) { /* NaN fails too */
            char f[48];
            snprintf(f, sizeof f, "t[%zu]", i);
            return err_set(e, ERR_INVALID, f,
                           "= %.17g is outside the observations' span [%.17g, %.17g]", sr->t[i],
                           lo, hi);
        }
    *s0 = grad_interp_s0(*gi, 0);
    grad_interp_params(*gi, 0, sr->t, sr->n_t, s_out);
    return ERR_OK;
}

err_code grad_serve_cde(const cde_model *m, const struct grad_serve_cde_query *q, double *loss,
                        double *gtheta, struct grad_stats *st, err *e)
{
    memset(st, 0, sizeof *st);
    *loss = 0;
    const struct grad_cde_nets nets = {.initial = cde_model_net(m, MODEL_NET_CDE_INITIAL),
                                       .vector_field = cde_model_net(m, MODEL_NET_CDE_FIELD),
                                       .readout = cde_model_net(m, MODEL_NET_CDE_READOUT)};
    const size_t W = q->on_hidden ? cde_model_hidden_dim(m) : cde_model_readout_dim(m);
    struct grad_cde_options o;
    err_code rc = cde_options(m, q, &o, e);
    if (rc) return rc;
    size_t nt_max = 0;
    for (size_t b = 0; b < q->batch; b++)
        if (q->series[b].n_t > nt_max) nt_max = q->series[b].n_t;
    grad_cde *g = NULL;
    interp *path = NULL;
    grad_interp *gi = NULL;
    double *s = malloc((nt_max ? nt_max : 1) * sizeof *s), *dth = NULL;
    if ((rc = grad_cde_new(&g, &nets, 1, e))) goto out;
    const size_t P = grad_cde_n_params(g);
    if (!s || !(dth = malloc((P ? P : 1) * sizeof *dth))) {
        rc = err_set(e, ERR_NOMEM, NULL, "out of memory for the gradient");
        goto out;
    }
    memset(gtheta, 0, P * sizeof *gtheta);
    struct guard gd = {.cde = g,
                       .max_bytes = q->max_bytes,
                       .method = q->method,
                       .abort = q->abort,
                       .abort_ctx = q->abort_ctx};
    o.solve.ode.abort = guard_abort;
    o.solve.ode.abort_ctx = &gd;
    const double *tg = q->target;
    for (size_t b = 0; b < q->batch && !rc; b++) {
        const struct cde_series *sr = &q->series[b];
        const size_t seen = loss_observed_count(sr->n_t * W, tg);
        double s0 = 0, l = 0;
        rc = cde_series_setup(m, sr, &path, &gi, &s0, s, e);
        if (!rc && seen) { /* else no term: loss and gradient 0 */
            o.loss_scale = q->mean ? 1.0 / (double)seen : 1.0;
            const struct grad_cde_batch bt = {.batch = 1,
                                              .path = grad_interp_path(gi),
                                              .t0 = &s0,
                                              .t = s,
                                              .n_t = sr->n_t,
                                              .target = tg};
            rc = grad_cde_compute(g, &bt, &o, &l, dth, NULL, e);
            struct grad_stats gs;
            grad_cde_stats(g, &gs);
            stats_add(st, &gs);
            rc = guard_error(&gd, rc, e);
            if (adjoint_overflow(rc, e) || (rc == ERR_OK && !(isfinite(l) && all_finite(dth, P)))) {
                /* named already: no "series[b]." in front */
                rc = not_finite(rc == ERR_OK && isfinite(l), b, q->series_fields, e);
                break;
            }
        }
        if (rc) {
            char fld[32];
            snprintf(fld, sizeof fld, "series[%zu]", b);
            if (q->series_fields && !gd.held) err_prefix_field(e, fld);
            break;
        }
        *loss += l;
        for (size_t k = 0; k < P; k++)
            gtheta[k] += dth[k];
        grad_interp_free(gi);
        interp_free(path);
        gi = NULL;
        path = NULL;
        tg += sr->n_t * W;
    }
out:
    grad_interp_free(gi);
    interp_free(path);
    grad_cde_free(g);
    free(s);
    free(dth);
    return rc;
}
