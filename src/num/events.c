/* num/events.c: events on the dense output. See driver.h (struct
 * ode_event) for what is detected and events.h for the calls.
 *
 * DESIGN. Each event keeps, across the steps of a sweep, the sign of g at
 * the last sample where it was not zero (0 before the first: g(t0) = 0 gives
 * no direction yet), the last sample itself (the bracket's near end), and
 * the first exact zero met since that sign. The state at each interior
 * sample is evaluated once for all events. Hits of one step are collected
 * and sorted before any is reported, so that several events in one step
 * come out in time order and a terminal one cuts off those after it. */
#include "num/events.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Illinois iterations on one bracket: far more than a bracket of a step
 * needs to shrink to a few ulps (every fourth iteration bisects, so this
 * bounds even a bracket around t = 0, whose ulps are subnormal). */
#define EVENT_MAX_ITER 200

struct ev_track {
    int sign;      /* sign of g at the last non-zero sample, 0 = none yet */
    double tp, gp; /* the last sample */
    double t_zero; /* first exact zero since `sign` was set, NAN if none */
};

struct ev_hit {
    double t;
    size_t which;
};

struct ode_events {
    size_t cap_n, cap_dim;
    struct ev_track *tr;
    struct ev_hit *hits; /* up to (ODE_EVENT_SAMPLES + 1) x n per step */
    double *g;           /* n: the events' g at one sample */
    double *y;           /* dim: the state at a sample or root */
    double dir;
};

err_code ode_events_reserve(ode_solver *s, size_t n, size_t dim, err *e)
{
    if (!s->events && !(s->events = calloc(1, sizeof *s->events)))
        return err_set(e, ERR_NOMEM, NULL, "out of memory for the events");
    struct ode_events *v = s->events;
    if (n > v->cap_n) {
        struct ev_track *tr = realloc(v->tr, n * sizeof *tr);
        if (tr) v->tr = tr;
        struct ev_hit *h = realloc(v->hits, n * (ODE_EVENT_SAMPLES + 1) * sizeof *h);
        if (h) v->hits = h;
        double *g = realloc(v->g, n * sizeof *g);
        if (g) v->g = g;
        if (!tr || !h || !g) return err_set(e, ERR_NOMEM, NULL, "out of memory for the events");
        v->cap_n = n;
    }
    if (dim > v->cap_dim) {
        double *y = realloc(v->y, dim * sizeof *y);
        if (!y) return err_set(e, ERR_NOMEM, NULL, "out of memory for the events");
        v->y = y;
        v->cap_dim = dim;
    }
    return ERR_OK;
}

void ode_events_free(ode_solver *s)
{
    if (!s->events) return;
    free(s->events->tr);
    free(s->events->hits);
    free(s->events->g);
    free(s->events->y);
    free(s->events);
    s->events = NULL;
}

static double g_of(const struct ode_event *ev, const double *y, size_t dim)
{
    double g = 0;
    for (size_t j = 0; j < dim; j++)
        g += ev->w[j] * y[j];
    return g - ev->value;
}

static int sign_of(double g)
{
    return (g > 0) - (g < 0);
}

void ode_events_begin(ode_solver *s, double dir)
{
    const struct ode_problem *p = s->p;
    struct ode_events *v = s->events;
    v->dir = dir;
    for (size_t k = 0; k < p->n_events; k++) {
        const double g = g_of(&p->events[k], p->y0, p->dim);
        v->tr[k] = (struct ev_track){.sign = sign_of(g), .tp = p->t0, .gp = g, .t_zero = NAN};
    }
}

/* The state at t in the step (y1 itself at its end). */
static err_code state_at(ode_solver *s, const struct ode_evolve_state *ev, double t, double *y)
{
    if (t == ev->t_new) {
        memcpy(y, s->y1, s->dim * sizeof *y);
        return ERR_OK;
    }
    int rc = ode_dense_eval(s->dense, t, y, &s->st->nfe);
    return rc ? ode_evolve_rhs_fail(s, ev->t, rc, " (dense output, event)") : ERR_OK;
}

/* The root of g_k in the bracket (a, ga) .. (b, gb), signs opposite and not
 * zero, b the later sample in the sweep's order: the end of the final
 * bracket on b's side (see driver.h). */
static err_code locate(ode_solver *s, const struct ode_evolve_state *ev, size_t k, double a,
                       double ga, double b, double gb, double *root)
{
    const struct ode_event *e = &s->p->events[k];
    double *y = s->events->y;
    const int sb = sign_of(gb);
    int kept = 0; /* which end survived the last step: -1 a, +1 b (Illinois halves its g) */
    for (int it = 0; it < EVENT_MAX_ITER; it++) {
        const double tol = 2 * DBL_EPSILON * fmax(fabs(a), fabs(b));
        if (!(fabs(b - a) > tol)) break;
        double c = it % 4 == 3 ? 0.5 * (a + b) : b - gb * (b - a) / (gb - ga);
        if (!(c > fmin(a, b) && c < fmax(a, b))) c = 0.5 * (a + b);
        if (!(c > fmin(a, b) && c < fmax(a, b))) break; /* a and b adjacent doubles */
        err_code rc = state_at(s, ev, c, y);
        if (rc) return rc;
        const double gc = g_of(e, y, s->dim);
        if (gc == 0) {
            b = c;
            break;
        }
        if (sign_of(gc) == sb) {
            b = c;
            gb = gc;
            if (kept == -1) ga *= 0.5;
            kept = -1;
        } else {
            a = c;
            ga = gc;
            if (kept == 1) gb *= 0.5;
            kept = 1;
        }
    }
    *root = b;
    return ERR_OK;
}

static int cmp_hit(const void *x, const void *y, double dir)
{
    const struct ev_hit *a = x, *b = y;
    if (a->t != b->t) return dir * (a->t - b->t) < 0 ? -1 : 1;
    return a->which < b->which ? -1 : a->which > b->which;
}
static int cmp_hit_fwd(const void *x, const void *y)
{
    return cmp_hit(x, y, 1.0);
}
static int cmp_hit_bwd(const void *x, const void *y)
{
    return cmp_hit(x, y, -1.0);
}

/* One sample (t, g) of event k: a hit appended when g changed sign. */
static err_code feed(ode_solver *s, const struct ode_evolve_state *ev, size_t k, double t,
                     double g, size_t *n_hits)
{
    struct ode_events *v = s->events;
    const struct ode_event *e = &s->p->events[k];
    struct ev_track *tr = &v->tr[k];
    const int sg = sign_of(g);
    err_code rc = ERR_OK;
    if (sg == 0) {
        if (tr->sign != 0 && isnan(tr->t_zero)) tr->t_zero = t;
    } else if (tr->sign != 0 && sg != tr->sign) {
        double root = tr->t_zero;
        if (isnan(root)) rc = locate(s, ev, k, tr->tp, tr->gp, t, g, &root);
        /* the sign just before the crossing in time: the older sample's when
         * going forward, this one's going backward */
        const int before = v->dir > 0 ? tr->sign : sg;
        if (!rc && (e->direction == 0 || e->direction == -before))
            v->hits[(*n_hits)++] = (struct ev_hit){root, k};
        tr->sign = sg;
        tr->t_zero = NAN;
    } else {
        tr->sign = sg; /* the first non-zero sign after t0, or the same sign after a touch */
        tr->t_zero = NAN;
    }
    tr->tp = t;
    tr->gp = g;
    return rc;
}

err_code ode_events_step(ode_solver *s, const struct ode_evolve_state *ev, double *t_term)
{
    const struct ode_problem *p = s->p;
    struct ode_events *v = s->events;
    const size_t dim = s->dim;
    size_t n_hits = 0;
    err_code rc;
    *t_term = NAN;
    for (int j = 1; j <= ODE_EVENT_SAMPLES + 1; j++) {
        const double t =
            j == ODE_EVENT_SAMPLES + 1 ? ev->t_new
                                       : ev->t + ev->h_used * ((double)j / (ODE_EVENT_SAMPLES + 1));
        if ((rc = state_at(s, ev, t, v->y))) return rc;
        /* locate() reuses v->y: take every g of this sample first */
        for (size_t k = 0; k < p->n_events; k++)
            v->g[k] = g_of(&p->events[k], v->y, dim);
        for (size_t k = 0; k < p->n_events; k++)
            if ((rc = feed(s, ev, k, t, v->g[k], &n_hits))) return rc;
    }
    if (n_hits > 1)
        qsort(v->hits, n_hits, sizeof *v->hits, v->dir > 0 ? cmp_hit_fwd : cmp_hit_bwd);
    for (size_t h = 0; h < n_hits; h++) {
        const struct ev_hit *hit = &v->hits[h];
        if (!isnan(*t_term) && v->dir * (hit->t - *t_term) > 0) break;
        if (p->on_event) {
            if ((rc = state_at(s, ev, hit->t, v->y))) return rc;
            int r = p->on_event(hit->which, hit->t, v->y, p->event_ctx);
            if (r) {
                err_code code = r > 0 && r < ERR__COUNT ? (err_code)r : ERR_ABORTED;
                return ode_evolve_fail(s, hit->t, code, "the event callback stopped the solve at t=%.15g",
                                       hit->t);
            }
        }
        if (p->events[hit->which].terminal && isnan(*t_term)) *t_term = hit->t;
    }
    return ERR_OK;
}
