/* num/symplectic.c: the symplectic methods' table, the explicit composition
 * kernel and the fixed-step driver (symplectic.h); the implicit steps are in
 * gauss.c. */
#include "num/symplectic.h"

#include "num/gauss.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Composition weights gamma_i: one step of size h is the leapfrog steps of
 * sizes gamma_1 h, ..., gamma_k h in turn (Hairer, Lubich and Wanner,
 * Geometric Numerical Integration, 2nd ed. (2006), Sect. II.4 and V.3).
 * Each table is palindromic, so the method is symmetric; its order is
 * checked by tests/check_symplectic.c (log-log slope). */
static const double w_leapfrog[] = {1.0};

/* Yoshida, Phys. Lett. A 150 (1990) 262-268 (the "triple jump", also
 * Suzuki 1990 and Creutz and Gocksch 1989): gamma_1 = gamma_3 = 1/(2 - 2^(1/3)),
 * gamma_2 = -2^(1/3)/(2 - 2^(1/3)), here to 25 digits. */
static const double w_yoshida4[] = {
    1.351207191959657634047688,
    -1.702414383919315268095376,
    1.351207191959657634047688,
};

/* Yoshida (1990), order 6 with 7 stages, "solution A"; the 26 digits of
 * Hairer, Lubich and Wanner, Sect. V.3.2 (the method p6 s7). */
static const double w_yoshida6[] = {
    0.78451361047755726381949763,  0.23557321335935813368479318,
    -1.17767998417887100694641568, 1.31518632068391121888424973,
    -1.17767998417887100694641568, 0.23557321335935813368479318,
    0.78451361047755726381949763,
};

/* Kahan and Li, Math. Comp. 66 (1997) 1089-1099, order 6 with 9 stages,
 * s9odr6a (smaller error constant than Yoshida's 7 stages for the same
 * order); the digits of Hairer, Lubich and Wanner, Sect. V.3.2 (p6 s9). */
static const double w_kahan_li6[] = {
    0.39216144400731413927925056,  0.33259913678935943859974864,
    -0.70624617255763935980996482, 0.08221359629355080023149045,
    0.79854399093482996339895035,  0.08221359629355080023149045,
    -0.70624617255763935980996482, 0.33259913678935943859974864,
    0.39216144400731413927925056,
};

#define NW(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const struct symp_method symp_methods[] = {
    {"leapfrog", SYMP_COMPOSITION, 2, NW(w_leapfrog), w_leapfrog},
    {"yoshida4", SYMP_COMPOSITION, 4, NW(w_yoshida4), w_yoshida4},
    {"yoshida6", SYMP_COMPOSITION, 6, NW(w_yoshida6), w_yoshida6},
    {"kahan_li6", SYMP_COMPOSITION, 6, NW(w_kahan_li6), w_kahan_li6},
    {"implicit_midpoint", SYMP_MIDPOINT, 2, 0, NULL},
    {"gauss4", SYMP_GAUSS, 4, 0, NULL},
};
#define N_METHODS (sizeof symp_methods / sizeof symp_methods[0])

const char *const symp_method_names[] = {
    "leapfrog", "yoshida4", "yoshida6", "kahan_li6", "implicit_midpoint", "gauss4", NULL,
};

const struct symp_method *symp_method_find(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < N_METHODS; i++)
        if (strcmp(symp_methods[i].name, name) == 0) return &symp_methods[i];
    return NULL;
}

int symp_method_explicit(const struct symp_method *m)
{
    return m && m->kind == SYMP_COMPOSITION;
}

int symp_method_order(const struct symp_method *m)
{
    return m ? m->order : 0;
}

void symp_options_init(struct symp_options *o)
{
    memset(o, 0, sizeof *o);
    o->newton_tol = 1e-12;
    o->max_newton = 50;
    o->max_steps = 1000000;
}

/* One solve's state. An explicit method keeps a state as [q | p | F]
 * (groups x n each, F = dV/dq at q, so that the last kick of a step is the
 * first of the next: one gradient pair per leapfrog substep); an implicit
 * one as the caller's layout (groups x [q; p]). The first groups x 2n
 * values are the state either way. */
struct symp_ws {
    const struct symp_method *m;
    const struct symp_problem *p;
    const struct symp_options *o;
    size_t gn, dim, len; /* groups x n, groups x 2n, values of one state */
    double *grid, *tmp;  /* the state at the current grid point; a step's result */
    double *dt;          /* explicit: dT/dp, groups x n */
    gauss_ws *gw;        /* implicit */
    struct ode_stats *st;
    err *e;
};

static err_code grad_fail(struct symp_ws *w, double t)
{
    if (w->st) w->st->t_fail = t;
    if (w->e && w->e->code) return w->e->code; /* the callback's own error wins */
    return err_set(w->e, ERR_SOLVER, NULL, "the gradient of H failed at t=%.17g", t);
}

/* y (caller's layout) -> a state. */
static err_code pack(struct symp_ws *w, double t, const double *y, double *s)
{
    if (w->m->kind != SYMP_COMPOSITION) {
        memcpy(s, y, w->dim * sizeof *s);
        return ERR_OK;
    }
    const size_t n = w->p->n, groups = w->gn / n;
    for (size_t g = 0; g < groups; g++) {
        memcpy(s + g * n, y + g * 2 * n, n * sizeof *s);
        memcpy(s + w->gn + g * n, y + g * 2 * n + n, n * sizeof *s);
    }
    if (w->st) w->st->nfe++;
    if (w->p->dV_dq(s, s + 2 * w->gn, w->p->ctx) != 0) return grad_fail(w, t);
    return ERR_OK;
}

static void unpack(const struct symp_ws *w, const double *s, double *y)
{
    if (w->m->kind != SYMP_COMPOSITION) {
        memcpy(y, s, w->dim * sizeof *y);
        return;
    }
    const size_t n = w->p->n, groups = w->gn / n;
    for (size_t g = 0; g < groups; g++) {
        memcpy(y + g * 2 * n, s + g * n, n * sizeof *y);
        memcpy(y + g * 2 * n + n, s + w->gn + g * n, n * sizeof *y);
    }
}

/* The explicit kernel: the composition of leapfrog (kick-drift-kick)
 * substeps gamma_i h, the kicks between two substeps merged into one. */
static err_code comp_step(struct symp_ws *w, double t, double h, const double *in, double *out)
{
    const struct symp_method *m = w->m;
    const size_t gn = w->gn;
    double *q = out, *p = out + gn, *F = out + 2 * gn;
    memcpy(out, in, w->len * sizeof *out);
    double c = 0.5 * m->weights[0] * h;
    for (size_t k = 0; k < gn; k++)
        p[k] -= c * F[k];
    for (int i = 0; i < m->n_weights; i++) {
        if (w->st) w->st->nfe++;
        if (w->p->dT_dp(p, w->dt, w->p->ctx) != 0) return grad_fail(w, t);
        double d = m->weights[i] * h;
        for (size_t k = 0; k < gn; k++)
            q[k] += d * w->dt[k];
        if (w->st) w->st->nfe++;
        if (w->p->dV_dq(q, F, w->p->ctx) != 0) return grad_fail(w, t);
        c = 0.5 * h * (i + 1 < m->n_weights ? m->weights[i] + m->weights[i + 1] : m->weights[i]);
        for (size_t k = 0; k < gn; k++)
            p[k] -= c * F[k];
    }
    return ERR_OK;
}

/* One step from state `in` at t to `out` at t + h; counts it. */
static err_code step(struct symp_ws *w, double t, double h, const double *in, double *out)
{
    const struct symp_options *o = w->o;
    if (o->abort) {
        int rc = o->abort(o->abort_ctx);
        if (rc) {
            err_code code = rc > 0 && rc < ERR__COUNT ? (err_code)rc : ERR_ABORTED;
            if (w->st) w->st->t_fail = t;
            if (code == ERR_DEADLINE)
                return err_set(w->e, code, NULL, "deadline exceeded at t=%.17g", t);
            return err_set(w->e, code, NULL, "aborted at t=%.17g", t);
        }
    }
    err_code rc = w->m->kind == SYMP_COMPOSITION
                      ? comp_step(w, t, h, in, out)
                      : gauss_step(w->gw, w->p, o, t, h, in, out, w->st, w->e);
    if (rc) return rc;
    for (size_t k = 0; k < w->dim; k++)
        if (!isfinite(out[k])) {
            if (w->st) w->st->t_fail = t;
            return err_set(w->e, ERR_SOLVER, NULL, "the state is not finite at t=%.17g", t + h);
        }
    if (w->st) {
        w->st->n_accepted++;
        w->st->h_last = h;
    }
    return ERR_OK;
}

/* Where an output time falls on its direction's grid. */
struct symp_target {
    double dist; /* |t - t0| */
    size_t i;    /* index in t_out */
    long k;      /* the grid point it is, or the one its extra step starts from */
    int dir;     /* +1, -1, or 0 (t0 itself) */
    int off;     /* 1: between grid points, an extra step from k */
};

static int target_cmp(const void *a, const void *b)
{
    const struct symp_target *x = a, *y = b;
    if (x->dir != y->dir) return x->dir < y->dir ? -1 : 1;
    return (x->dist > y->dist) - (x->dist < y->dist);
}

static err_code validate(const struct symp_method *m, const struct symp_problem *p,
                         const struct symp_options *o, const double *y_out, err *e)
{
    if (!m) return err_set(e, ERR_INVALID, "method", "unknown symplectic method");
    if (!p) return err_set(e, ERR_INVALID, "problem", "missing");
    if (p->n == 0) return err_set(e, ERR_INVALID, "n", "must be at least 1");
    size_t groups = p->groups ? p->groups : 1;
    if (p->n > ((size_t)1 << 40) / groups)
        return err_set(e, ERR_INVALID, "n", "the state is too large");
    if (m->kind == SYMP_COMPOSITION) {
        if (!p->dT_dp)
            return err_set(e, ERR_INVALID, "dT_dp",
                           "%s is an explicit splitting: it needs a separable H", m->name);
        if (!p->dV_dq)
            return err_set(e, ERR_INVALID, "dV_dq",
                           "%s is an explicit splitting: it needs a separable H", m->name);
    } else {
        if (!p->f) return err_set(e, ERR_INVALID, "f", "%s needs the vector field", m->name);
        if (!p->jac) return err_set(e, ERR_INVALID, "jac", "%s needs the Jacobian", m->name);
    }
    if (!isfinite(p->t0)) return err_set(e, ERR_INVALID, "t0", "must be finite");
    if (!p->y0) return err_set(e, ERR_INVALID, "y0", "missing");
    for (size_t k = 0; k < groups * 2 * p->n; k++)
        if (!isfinite(p->y0[k])) return err_set(e, ERR_INVALID, "y0", "y0[%zu] is not finite", k);
    if (p->n_out && !p->t_out) return err_set(e, ERR_INVALID, "t_out", "missing");
    for (size_t i = 0; i < p->n_out; i++)
        if (!isfinite(p->t_out[i]))
            return err_set(e, ERR_INVALID, "t_out", "t_out[%zu] is not finite", i);
    if (p->n_out && !y_out) return err_set(e, ERR_INVALID, "y_out", "missing");
    if (!o) return err_set(e, ERR_INVALID, "step", "a step (or n_steps) is needed");
    if (!(o->step >= 0) || !isfinite(o->step))
        return err_set(e, ERR_INVALID, "step", "must be a positive finite number");
    if (o->n_steps < 0) return err_set(e, ERR_INVALID, "n_steps", "must not be negative");
    if (o->step > 0 && o->n_steps > 0)
        return err_set(e, ERR_INVALID, "n_steps", "give step or n_steps, not both");
    if (o->step == 0 && o->n_steps == 0)
        return err_set(e, ERR_INVALID, "step", "a step (or n_steps) is needed");
    if (!(o->newton_tol > 0) || !isfinite(o->newton_tol))
        return err_set(e, ERR_INVALID, "newton_tol", "must be a positive finite number");
    if (o->max_newton < 1) return err_set(e, ERR_INVALID, "max_newton", "must be at least 1");
    if (o->max_steps < 1) return err_set(e, ERR_INVALID, "max_steps", "must be at least 1");
    return ERR_OK;
}

/* Grid places of the output times (sorted by direction, then distance);
 * the steps they need into *need. */
static err_code plan(const struct symp_problem *p, const struct symp_options *o, double h,
                     struct symp_target *tg, long *need, err *e)
{
    const double t0 = p->t0;
    long far[2] = {0, 0}, extra = 0;
    for (size_t i = 0; i < p->n_out; i++) {
        double t = p->t_out[i];
        struct symp_target *x = &tg[i];
        x->i = i;
        x->dist = fabs(t - t0);
        x->dir = t > t0 ? 1 : t < t0 ? -1 : 0;
        x->k = 0;
        x->off = 0;
        double near = fmin(16 * DBL_EPSILON * (fabs(t0) + fabs(t)), ldexp(h, -20));
        if (x->dist <= near) {
            x->dir = 0;
            continue;
        }
        double u = x->dist / h;
        if (!(u < (double)o->max_steps + 1))
            return err_set(e, ERR_TOO_LARGE, "max_steps",
                           "the output time %.17g is over max_steps (%ld) steps of %.17g from t0",
                           t, o->max_steps, h);
        long k = (long)floor(u);
        double s = x->dir;
        if (fabs(t - (t0 + s * (double)(k + 1) * h)) <= near) {
            k++;
        } else if (fabs(t - (t0 + s * (double)k * h)) > near) {
            x->off = 1;
        }
        x->k = k;
    }
    qsort(tg, p->n_out, sizeof *tg, target_cmp);
    for (size_t j = 0; j < p->n_out; j++) {
        const struct symp_target *x = &tg[j];
        if (!x->dir) continue;
        long *f = &far[x->dir > 0];
        if (x->k > *f) *f = x->k;
        if (x->off && !(j > 0 && tg[j - 1].off && tg[j - 1].dir == x->dir &&
                        p->t_out[tg[j - 1].i] == p->t_out[x->i]))
            extra++;
    }
    *need = far[0] + far[1] + extra;
    if (*need > o->max_steps)
        return err_set(e, ERR_TOO_LARGE, "max_steps",
                       "the output times need %ld steps of %.17g, over max_steps (%ld)", *need, h,
                       o->max_steps);
    return ERR_OK;
}

/* The outputs of one direction: tg[0..cnt) sorted by distance. */
static err_code sweep(struct symp_ws *w, const struct symp_target *tg, size_t cnt, double h,
                      double *y_out)
{
    const struct symp_problem *p = w->p;
    const double t0 = p->t0, s = tg[0].dir, hs = s * h;
    err_code rc = pack(w, t0, p->y0, w->grid);
    if (rc) return rc;
    long cur = 0;
    for (size_t j = 0; j < cnt; j++) {
        const struct symp_target *x = &tg[j];
        double *row = y_out + x->i * w->dim;
        while (cur < x->k) {
            if ((rc = step(w, t0 + s * (double)cur * h, hs, w->grid, w->tmp))) return rc;
            double *sw = w->grid;
            w->grid = w->tmp;
            w->tmp = sw;
            cur++;
        }
        if (!x->off) {
            unpack(w, w->grid, row);
        } else if (j > 0 && tg[j - 1].off && p->t_out[tg[j - 1].i] == p->t_out[x->i]) {
            memcpy(row, y_out + tg[j - 1].i * w->dim, w->dim * sizeof *row);
        } else {
            double tk = t0 + s * (double)cur * h;
            if ((rc = step(w, tk, p->t_out[x->i] - tk, w->grid, w->tmp))) return rc;
            unpack(w, w->tmp, row);
        }
    }
    return ERR_OK;
}

err_code symp_solve(const struct symp_method *m, const struct symp_problem *p,
                    const struct symp_options *o, double *y_out, struct ode_stats *st, err *e)
{
    if (st) {
        memset(st, 0, sizeof *st);
        st->t_fail = NAN;
        st->t_stop_fwd = st->t_stop_bwd = NAN;
    }
    err_code rc = validate(m, p, o, y_out, e);
    if (rc) return rc;
    const size_t groups = p->groups ? p->groups : 1;
    struct symp_ws w = {.m = m, .p = p, .o = o, .st = st, .e = e};
    w.gn = groups * p->n;
    w.dim = 2 * w.gn;
    w.len = m->kind == SYMP_COMPOSITION ? 3 * w.gn : w.dim;
    if (p->n_out == 0) return ERR_OK;

    double h = o->step;
    if (h == 0) {
        double far = 0;
        for (size_t i = 0; i < p->n_out; i++)
            far = fmax(far, fabs(p->t_out[i] - p->t0));
        h = far / (double)o->n_steps;
    }
    struct symp_target *tg = malloc(p->n_out * sizeof *tg);
    if (!tg) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    if (h == 0) { /* n_steps and every output time is t0 */
        for (size_t i = 0; i < p->n_out; i++) {
            tg[i].dir = 0;
            tg[i].i = i;
        }
    } else {
        long need = 0;
        if ((rc = plan(p, o, h, tg, &need, e))) goto out;
    }

    double *buf = malloc(2 * w.len * sizeof *buf);
    if (m->kind == SYMP_COMPOSITION) w.dt = malloc(w.gn * sizeof *w.dt);
    else w.gw = gauss_ws_new(m, groups, p->n);
    if (!buf || (m->kind == SYMP_COMPOSITION ? !w.dt : !w.gw)) {
        rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
        goto out_ws;
    }
    w.grid = buf;
    w.tmp = buf + w.len;

    size_t j = 0;
    for (; j < p->n_out && tg[j].dir < 0; j++) {}
    size_t n_back = j;
    for (; j < p->n_out && tg[j].dir == 0; j++)
        memcpy(y_out + tg[j].i * w.dim, p->y0, w.dim * sizeof *y_out);
    if (n_back && (rc = sweep(&w, tg, n_back, h, y_out))) goto out_ws;
    if (j < p->n_out && (rc = sweep(&w, tg + j, p->n_out - j, h, y_out))) goto out_ws;
out_ws:
    free(buf);
    free(w.dt);
    gauss_ws_free(w.gw);
out:
    free(tg);
    return rc;
}
