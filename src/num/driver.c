/* num/driver.c: the solve loop. See driver.h.
 *
 * DESIGN. One call = at most two sweeps from (t0, y0): forward to the
 * largest output time >= t0, backward to the smallest one < t0. The output
 * times are sorted once (pairs of time and caller row) and answered in sweep
 * order from each accepted step's dense output; jump and stop times are
 * sorted once and end the steps that would cross them. Everything sized by the problem (state,
 * stages, sorted copies) lives in the solver and only grows, so a stream of solves of one shape
 * allocates nothing after the first. */
#include "num/driver.h"

#include "num/autoswitch.h"
#include "num/events.h"
#include "num/evolve.h"
#include "num/implicit.h"
#include "num/step.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ode_options_init(struct ode_options *o)
{
    memset(o, 0, sizeof *o);
    o->rtol = 1e-3;
    o->atol = 1e-6;
    o->controller = ODE_CONTROL_PI;
    o->safety = 0.9;
    o->min_factor = 0.2;
    o->max_factor = 10;
    o->pi_beta = 0.04;
    o->max_steps = 100000;
    o->groups = 1;
}

/* ---- workspaces ---------------------------------------------------------- */

static err_code reserve_state(ode_solver *s, size_t dim, size_t jlen, err *e)
{
    /* auto: only once it has switched to rodas4 (ode_auto_switch) */
    if ((!s->is_auto || s->imp) && ode_implicit_reserve(s, dim, jlen, e))
        return e && e->code ? e->code : ERR_NOMEM;
    if (dim <= s->cap && s->y) return ERR_OK;
    const size_t rows = (size_t)(s->tab->stages + s->tab->dense_stages);
    if (dim > SIZE_MAX / sizeof(double) / (rows + 3))
        return err_set(e, ERR_TOO_LARGE, "dim", "state dimension %zu is too large", dim);
    double *y = realloc(s->y, dim * sizeof *y);
    if (y) s->y = y;
    double *y1 = realloc(s->y1, dim * sizeof *y1);
    if (y1) s->y1 = y1;
    double *yt = realloc(s->ytmp, dim * sizeof *yt);
    if (yt) s->ytmp = yt;
    double *k = realloc(s->k, rows * dim * sizeof *k);
    if (k) s->k = k;
    if (!y || !y1 || !yt || !k) return err_set(e, ERR_NOMEM, NULL, "out of memory for the solver");
    if (ode_dense_reserve(s->dense, dim, e)) return ERR_NOMEM;
    s->cap = dim;
    return ERR_OK;
}

static err_code reserve_lists(ode_solver *s, size_t n_out, size_t n_jumps, err *e)
{
    if (n_out > s->outs_cap) {
        struct ode_tpair *p = realloc(s->outs, n_out * sizeof *p);
        if (!p) return err_set(e, ERR_NOMEM, NULL, "out of memory for the output times");
        s->outs = p;
        s->outs_cap = n_out;
    }
    if (n_jumps > s->jumps_cap) {
        double *p = realloc(s->jumps, n_jumps * sizeof *p);
        if (!p) return err_set(e, ERR_NOMEM, NULL, "out of memory for the jump times");
        s->jumps = p;
        s->jumps_cap = n_jumps;
    }
    return ERR_OK;
}

ode_solver *ode_solver_new(const struct rk_tableau *tab, size_t dim, err *e)
{
    if (!tab) {
        err_set(e, ERR_INVALID, "method", "unknown method");
        return NULL;
    }
    ode_solver *s = calloc(1, sizeof *s);
    if (!s) {
        err_set(e, ERR_NOMEM, NULL, "out of memory for the solver");
        return NULL;
    }
    s->is_auto = tab->kind == RK_AUTO;
    s->tab = s->is_auto ? &rk_dopri5 : tab; /* its k rows are the most of the two */
    s->dense = ode_dense_new(s->tab, dim, e);
    const size_t d1 = dim ? dim : 1;
    if (!s->dense || reserve_state(s, d1, d1 > SIZE_MAX / d1 ? SIZE_MAX : d1 * d1, e)) {
        ode_solver_free(s);
        return NULL;
    }
    return s;
}

void ode_solver_free(ode_solver *s)
{
    if (!s) return;
    free(s->y);
    free(s->y1);
    free(s->ytmp);
    free(s->k);
    free(s->outs);
    free(s->jumps);
    free(s->pow_v);
    ode_dense_free(s->dense);
    ode_implicit_free(s);
    ode_events_free(s);
    free(s);
}

const struct rk_tableau *ode_solver_tableau(const ode_solver *s)
{
    return s ? (s->is_auto ? &rk_auto : s->tab) : NULL;
}

/* ---- validation ---------------------------------------------------------- */

static err_code check_times(const double *v, size_t n, const char *name, err *e)
{
    if (n && !v) return err_set(e, ERR_INVALID, name, "missing");
    if (!rk_nonfinite(v, n)) return ERR_OK; /* then find which */
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) {
            char field[64];
            snprintf(field, sizeof field, "%s[%zu]", name, i);
            return err_set(e, ERR_INVALID, field, "must be finite");
        }
    return ERR_OK;
}

static err_code check_tol(const double *v, size_t len, double scalar, size_t dim, size_t groups,
                          const char *name, err *e)
{
    if (!(scalar >= 0) || !isfinite(scalar))
        return err_set(e, ERR_INVALID, name, "must be a finite number >= 0");
    if (!v) return ERR_OK;
    if (len != dim && len != dim / groups)
        return err_set(e, ERR_INVALID, name,
                       "has %zu values; expected %zu (dim) or %zu (per group)", len, dim,
                       dim / groups);
    for (size_t i = 0; i < len; i++)
        if (!(v[i] >= 0) || !isfinite(v[i]))
            return err_set(e, ERR_INVALID, name, "value %zu must be a finite number >= 0", i);
    return ERR_OK;
}

static err_code validate_options(const ode_solver *s, const struct ode_options *o, size_t dim,
                                 err *e)
{
    if (o->groups < 1 || dim % o->groups)
        return err_set(e, ERR_INVALID, "groups", "%zu groups do not divide dim %zu", o->groups,
                       dim);
    if (check_tol(o->rtol_v, o->rtol_len, o->rtol, dim, o->groups, "rtol", e) ||
        check_tol(o->atol_v, o->atol_len, o->atol, dim, o->groups, "atol", e))
        return ERR_INVALID;
    if (!(o->safety > 0 && o->safety <= 1))
        return err_set(e, ERR_INVALID, "safety", "must lie in (0, 1]");
    if (!(o->min_factor > 0 && o->min_factor <= 1))
        return err_set(e, ERR_INVALID, "min_factor", "must lie in (0, 1]");
    if (!(o->max_factor >= 1) || !isfinite(o->max_factor))
        return err_set(e, ERR_INVALID, "max_factor", "must be a finite number >= 1");
    if (!(o->pi_beta >= 0 && o->pi_beta < 0.2))
        return err_set(e, ERR_INVALID, "pi_beta", "must lie in [0, 0.2)");
    if (!(o->first_step >= 0) || !(o->min_step >= 0) || !(o->max_step >= 0) ||
        !(o->fixed_step >= 0))
        return err_set(e, ERR_INVALID, "step", "step sizes must be >= 0");
    if (o->max_steps < 1) return err_set(e, ERR_INVALID, "max_steps", "must be >= 1");
    if (o->n_steps < 0) return err_set(e, ERR_INVALID, "n_steps", "must be >= 0");
    if (o->fixed_step > 0 && o->n_steps > 0)
        return err_set(e, ERR_INVALID, "fixed_step", "give fixed_step or n_steps, not both");
    if (s->is_auto && (o->fixed_step > 0 || o->n_steps > 0))
        return err_set(e, ERR_INVALID, "fixed_step", "method auto steps adaptively only");
    if (!rk_tableau_adaptive(s->tab) && o->fixed_step == 0 && o->n_steps == 0)
        return err_set(e, ERR_INVALID, "fixed_step",
                       "method %s has no error estimate: give fixed_step or n_steps", s->tab->name);
    return ERR_OK;
}

static err_code check_events(const struct ode_problem *p, err *e)
{
    if (p->n_events && !p->events) return err_set(e, ERR_INVALID, "events", "missing");
    for (size_t k = 0; k < p->n_events; k++) {
        const struct ode_event *ev = &p->events[k];
        char field[64];
        snprintf(field, sizeof field, "events[%zu]", k);
        if (!ev->w) return err_set(e, ERR_INVALID, field, "no weights given");
        int finite = isfinite(ev->value);
        for (size_t j = 0; j < p->dim; j++)
            finite &= isfinite(ev->w[j]);
        if (!finite) return err_set(e, ERR_INVALID, field, "weights and value must be finite");
        if (ev->direction < -1 || ev->direction > 1)
            return err_set(e, ERR_INVALID, field, "unknown direction %d", ev->direction);
    }
    return ERR_OK;
}

static err_code check_jac(const ode_solver *s, const struct ode_problem *p, err *e)
{
    if (p->jac_blocks && (!p->jac || p->jac_bsize == 0 || p->jac_bsize > (size_t)INT_MAX ||
                          p->jac_blocks > p->dim / p->jac_bsize))
        return err_set(e, ERR_INVALID, "jac_blocks",
                       "a block-diagonal Jacobian needs jac and blocks that fit in dim");
    if (p->jac_inexact && (s->is_auto || s->tab->kind == RK_ROSENBROCK))
        return err_set(e, ERR_INVALID, "method",
                       "%s needs the exact Jacobian; this problem's is an approximation (use "
                       "esdirk4)",
                       s->is_auto ? "auto" : s->tab->name);
    return ERR_OK;
}

static err_code validate_problem(const struct ode_problem *p, const double *y_out, err *e)
{
    if (!p->f) return err_set(e, ERR_INVALID, "f", "no vector field given");
    if (p->dim < 1) return err_set(e, ERR_INVALID, "dim", "must be >= 1");
    if (!isfinite(p->t0)) return err_set(e, ERR_INVALID, "t0", "must be finite");
    if (!p->y0) return err_set(e, ERR_INVALID, "y0", "missing");
    if (check_times(p->y0, p->dim, "y0", e) || check_times(p->t_out, p->n_out, "t_out", e) ||
        check_times(p->jump_times, p->n_jumps, "jump_times", e) ||
        check_times(p->stop_times, p->n_stops, "stop_times", e))
        return ERR_INVALID;
    if (p->n_out && !y_out) return err_set(e, ERR_INVALID, "y_out", "missing");
    if (p->n_read > p->dim)
        return err_set(e, ERR_INVALID, "n_read", "%zu components read, the state has %zu",
                       p->n_read, p->dim);
    return check_events(p, e);
}

/* ---- the sweeps ---------------------------------------------------------- */

static int cmp_tpair(const void *a, const void *b)
{
    const struct ode_tpair *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Already in cmp_tpair's order (the common case: a client's sorted times)?
 * Then qsort, whose order is total here, would leave them as they are; a
 * per-trajectory batch asks this once per trajectory. */
static int tpairs_sorted(const struct ode_tpair *v, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (cmp_tpair(&v[i - 1], &v[i]) > 0) return 0;
    return 1;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void reverse_tpairs(struct ode_tpair *v, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        struct ode_tpair t = v[i];
        v[i] = v[n - 1 - i];
        v[n - 1 - i] = t;
    }
}

static void reverse_doubles(double *v, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        double t = v[i];
        v[i] = v[n - 1 - i];
        v[n - 1 - i] = t;
    }
}

static err_code fresh_k1(ode_solver *s, double t_eval, double t_report)
{
    s->t_k1 = t_eval;
    int rc = rk_eval(s->p->f, s->p->ctx, s->dim, t_eval, s->y, s->k, &s->st->nfe);
    return rc ? ode_evolve_rhs_fail(s, t_report, rc, "") : ERR_OK;
}

static err_code observe(ode_solver *s, const struct ode_evolve_state *ev, int fresh)
{
    const struct ode_options *o = s->o;
    if (!o->observer) return ERR_OK;
    const struct ode_step_record rec = {
        .tab = s->tab,
        .dim = s->dim,
        .t = ev->t,
        .h = ev->h_used,
        .y0 = s->y,
        .y1 = s->y1,
        .k = s->k,
        .n_k = s->tab->stages + (ode_dense_stages_done(s->dense) ? s->tab->dense_stages : 0),
        .fresh_start = fresh,
        .ends_at_jump = ev->hit_stop && ev->stop_is_jump,
    };
    int rc = o->observer(&rec, o->observer_ctx);
    if (!rc) return ERR_OK;
    err_code code = rc > 0 && rc < ERR__COUNT ? (err_code)rc : ERR_ABORTED;
    return ode_evolve_fail(s, ev->t_new, code, "the step observer stopped the solve at t=%.15g",
                           ev->t_new);
}

/* The events of the step just accepted (events.c), on its dense output. */
static err_code events_in_step(ode_solver *s, const struct ode_evolve_state *ev, double *t_term)
{
    ode_dense_update(s->dense, s->dim, ev->t, ev->h_used, s->y, s->y1, s->k, 0, s->p->f, s->p->ctx);
    return ode_events_step(s, ev, t_term);
}

/* Answer the outputs the step just accepted covers, up to t_term when a
 * terminal event cut it short (NAN: the whole step); returns the next index. */
static err_code answer_outputs(ode_solver *s, const struct ode_evolve_state *ev,
                               const struct ode_tpair *outs, size_t n, size_t *i, double *y_out,
                               double t_term)
{
    const size_t dim = s->dim;
    const double t_last = isnan(t_term) ? ev->t_new : t_term;
    if (!s->p->n_events) /* else events_in_step recorded it, dense stages perhaps computed */
        ode_dense_update(s->dense, dim, ev->t, ev->h_used, s->y, s->y1, s->k, 0, s->p->f,
                         s->p->ctx);
    double ts[8], *rows[8]; /* eight at a time through ode_dense_eval_n */
    size_t q = 0;
    for (; *i < n && ev->dir * (outs[*i].t - t_last) <= 0; (*i)++) {
        double *row = y_out + outs[*i].idx * dim;
        if (outs[*i].t == ev->t_new) {
            memcpy(row, s->y1, dim * sizeof *row);
            continue;
        }
        ts[q] = outs[*i].t;
        rows[q++] = row;
        if (q == 8) {
            int rc = ode_dense_eval_n(s->dense, q, ts, rows, &s->st->nfe);
            if (rc) return ode_evolve_rhs_fail(s, ev->t, rc, " (dense output)");
            q = 0;
        }
    }
    if (q) {
        int rc = ode_dense_eval_n(s->dense, q, ts, rows, &s->st->nfe);
        if (rc) return ode_evolve_rhs_fail(s, ev->t, rc, " (dense output)");
    }
    return ERR_OK;
}

/* Move to the step's end and get k_1 of the next step. */
static err_code advance(ode_solver *s, struct ode_evolve_state *ev, double h_unclipped, int at_stop,
                        int *fresh)
{
    double *tmp = s->y;
    s->y = s->y1;
    s->y1 = tmp;
    ev->t = ev->t_new;
    if (at_stop) { /* the fixed-step grid restarts here, as after a jump */
        ev->t_base = ev->t;
        ev->n_since = 0;
    }
    if (ev->hit_stop && ev->stop_is_jump) { /* a new start on the far side of the jump */
        *fresh = 1;
        ode_control_reset(&s->ctl);
        ev->t_base = ev->t;
        ev->n_since = 0;
        if (!ev->fixed && fabs(h_unclipped) > fabs(ev->h)) ev->h = h_unclipped;
        return fresh_k1(s, nextafter(ev->t, ev->dir * INFINITY), ev->t);
    }
    if (s->tab->fsal) {
        memcpy(s->k, s->k + (size_t)(s->tab->stages - 1) * s->dim, s->dim * sizeof *s->k);
        s->t_k1 = ev->t;
        *fresh = 0;
        return ERR_OK;
    }
    *fresh = 1;
    return fresh_k1(s, ev->t, ev->t);
}

/* The next time after ev->t and before t_end in a sorted list (*at its index),
 * or t_end. */
static double next_in(const double *v, size_t nv, size_t *at, double dir, double t, double t_end)
{
    while (*at < nv && dir * (v[*at] - t) <= 0)
        (*at)++;
    return *at < nv && dir * (v[*at] - t_end) < 0 ? v[*at] : t_end;
}

static err_code sweep(ode_solver *s, double dir, const struct ode_tpair *outs, size_t n,
                      const double *jumps, size_t nj, const double *stops, size_t ns, double *y_out)
{
    const struct ode_problem *p = s->p;
    const struct ode_options *o = s->o;
    const size_t dim = s->dim;
    size_t i = 0, ji = 0, si = 0;
    for (; i < n && outs[i].t == p->t0; i++)
        memcpy(y_out + outs[i].idx * dim, p->y0, dim * sizeof *y_out);
    if (i == n) return ERR_OK;
    const double t_end = outs[n - 1].t;
    memcpy(s->y, p->y0, dim * sizeof *s->y);
    if (s->is_auto) ode_auto_start(s);
    struct ode_evolve_state ev = {.t = p->t0, .dir = dir, .t_base = p->t0};
    err_code rc = fresh_k1(s, p->t0, p->t0);
    if (rc) return rc;
    ode_control_reset(&s->ctl);
    ode_implicit_reset(s);
    if (p->n_events) ode_events_begin(s, dir);
    if (o->fixed_step > 0 || o->n_steps > 0) {
        ev.fixed = 1;
        const double span = fabs(t_end - p->t0);
        double h = o->fixed_step > 0 ? o->fixed_step : span / (double)o->n_steps;
        if (!(h > 0)) h = span; /* span / n_steps underflowed (a subnormal span): one step */
        ev.h = dir * h;
    } else if ((rc = ode_evolve_initial_step(s, p->t0, dir, &ev.h))) {
        return rc;
    }
    int fresh = 1;
    while (i < n) {
        const double t_jump = next_in(jumps, nj, &ji, dir, ev.t, t_end);
        const double t_knot = next_in(stops, ns, &si, dir, ev.t, t_end);
        ev.stop_is_jump = t_jump != t_end && dir * (t_jump - t_knot) <= 0;
        const int is_knot = !ev.stop_is_jump && t_knot != t_end;
        ev.t_stop = ev.stop_is_jump ? t_jump : t_knot;
        /* after a jump, resume with the step the clip at the jump cut short */
        const double h_before = ev.h;
        const long rejected_before = s->st->n_rejected;
        if ((rc = ode_evolve_apply(s, &ev))) return rc;
        const double h_resume = s->st->n_rejected == rejected_before ? h_before : 0;
        s->st->n_accepted++;
        s->st->h_last = ev.h_used;
        double t_term = NAN; /* a terminal event in this step ends the sweep there */
        if (p->n_events && (rc = events_in_step(s, &ev, &t_term))) return rc;
        if ((rc = answer_outputs(s, &ev, outs, n, &i, y_out, t_term))) return rc;
        if ((rc = observe(s, &ev, fresh))) return rc;
        const int to_switch = s->is_auto && ode_auto_after_step(s, ev.h_used);
        if (!isnan(t_term)) {
            for (; i < n; i++)
                for (size_t j = 0; j < dim; j++)
                    y_out[outs[i].idx * dim + j] = NAN;
            *(dir > 0 ? &s->st->t_stop_fwd : &s->st->t_stop_bwd) = t_term;
            return ERR_OK;
        }
        if (i < n && (rc = advance(s, &ev, h_resume, ev.hit_stop && is_knot, &fresh))) return rc;
        if (to_switch && i < n && (rc = ode_auto_switch(s, ev.t))) return rc;
    }
    return ERR_OK;
}

/* Sort n times from src into dst: dst[0, *lo) < t0 (reversed, for the backward
 * sweep), dst[*lo, *hi) == t0 (ignored), dst[*hi, n) > t0. */
static void sort_split(double *dst, const double *src, size_t n, double t0, size_t *lo, size_t *hi)
{
    if (n) memcpy(dst, src, n * sizeof *dst);
    if (n > 1) qsort(dst, n, sizeof *dst, cmp_double);
    size_t l = 0, h;
    while (l < n && dst[l] < t0)
        l++;
    for (h = l; h < n && dst[h] <= t0;)
        h++;
    reverse_doubles(dst, l);
    *lo = l;
    *hi = h;
}

err_code ode_solve(ode_solver *s, const struct ode_problem *p, const struct ode_options *o,
                   double *y_out, struct ode_stats *stats, err *e)
{
    struct ode_options defaults;
    struct ode_stats local;
    if (!o) {
        ode_options_init(&defaults);
        o = &defaults;
    }
    if (!stats) stats = &local;
    memset(stats, 0, sizeof *stats);
    stats->t_fail = NAN;
    stats->t_stop_fwd = stats->t_stop_bwd = NAN;
    if (!s || !p) return err_set(e, ERR_INVALID, NULL, "no solver or problem given");
    err_code rc;
    if ((rc = validate_problem(p, y_out, e)) || (rc = validate_options(s, o, p->dim, e))) return rc;
    if ((rc = check_jac(s, p, e)) || (rc = reserve_state(s, p->dim, ode_implicit_jac_len(p), e)) ||
        (rc = reserve_lists(s, p->n_out, p->n_jumps + p->n_stops, e)))
        return rc;
    if (p->n_events && o->groups != 1)
        return err_set(e, ERR_INVALID, "events",
                       "events need one trajectory per solve (groups = 1), not %zu", o->groups);
    if (p->n_events && (rc = ode_events_reserve(s, p->n_events, p->dim, e))) return rc;
    s->p = p;
    s->o = o;
    s->dim = p->dim;
    s->st = stats;
    s->e = e;
    s->attempts = 0;
    ode_control_init(&s->ctl, o, s->tab, p->dim);

    for (size_t i = 0; i < p->n_out; i++)
        s->outs[i] = (struct ode_tpair){p->t_out[i], i};
    if (p->n_out > 1 && !tpairs_sorted(s->outs, p->n_out))
        qsort(s->outs, p->n_out, sizeof *s->outs, cmp_tpair);
    size_t split = 0; /* outs[0, split) < t0 <= outs[split, n) */
    while (split < p->n_out && s->outs[split].t < p->t0)
        split++;
    reverse_tpairs(s->outs, split);

    double *const jumps = s->jumps, *const stops = s->jumps + p->n_jumps;
    size_t jlo, jhi, slo, shi;
    sort_split(jumps, p->jump_times, p->n_jumps, p->t0, &jlo, &jhi);
    sort_split(stops, p->stop_times, p->n_stops, p->t0, &slo, &shi);

    rc = sweep(s, 1.0, s->outs + split, p->n_out - split, jumps + jhi, p->n_jumps - jhi,
               stops + shi, p->n_stops - shi, y_out);
    if (!rc) rc = sweep(s, -1.0, s->outs, split, jumps, jlo, stops, slo, y_out);
    s->p = NULL;
    s->o = NULL;
    s->st = NULL;
    s->e = NULL;
    return rc;
}
