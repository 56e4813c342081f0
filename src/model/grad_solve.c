/* model/grad_solve.c: the engine's object and forward solve. See
 * grad_solve.h; it sits on the reverse sweep (grad_backprop.h) and the
 * adjoint (grad_adjoint.h), which share the solver's body and buffers
 * (grad_core.h) with it. */
#include "model/grad_solve.h"

#include "model/grad_adjoint.h"
#include "model/grad_backprop.h"
#include "model/grad_ckpt.h"
#include "model/grad_core.h"
#include "model/grad_reversible.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

err_code grad_solver_new(grad_solver **out, err *e)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return err_set(e, ERR_NOMEM, NULL, "out of memory for the gradient solver");
    return ERR_OK;
}

void grad_solver_free(grad_solver *s)
{
    if (!s) return;
    struct grad_core_buf *all[] = {
        &s->times, &s->yt,    &s->ybt,     &s->y0,    &s->steps,  &s->tape,   &s->obs,
        &s->kbar,  &s->nz,    &s->lam,     &s->y0b,   &s->ys,     &s->arg,    &s->scratch,
        &s->w,     &s->aug,   &s->aug_out, &s->negv,  &s->rtol_v, &s->atol_v, &s->dsteps,
        &s->dtape, &s->hcur,  &s->gout,    &s->ckpt,  &s->ckpt_y, &s->rv_y,   &s->rv_z,
        &s->rv_f,  &s->rv_yb, &s->rv_zb,   &s->rv_fb, &s->act,    &s->kslot};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        grad_core_buf_release(s, all[i]);
    ode_solver_free(s->ode);
    ode_solver_free(s->ode_bwd);
    free(s);
}

void grad_solver_stats(const grad_solver *s, struct grad_stats *st)
{
    *st = s->st;
}

void grad_solver_mem(const grad_solver *s, size_t *now, size_t *peak)
{
    if (now) *now = s->mem_now;
    if (peak) *peak = s->mem_peak;
}

void grad_solver_mem_peak_reset(grad_solver *s)
{
    s->mem_peak = s->mem_now;
}

/* ---- forward ----------------------------------------------------------------- */

static err_code check_call(const struct grad_field *g, const struct grad_solve_options *o, size_t n,
                           double t0, const double *y0, const double *t, size_t n_t, double *y_out,
                           err *e)
{
    if (!g || !g->eval || !g->vjp || g->dim == 0)
        return err_set(e, ERR_INVALID, "field", "no vector field, VJP or dimension");
    if (!o) return err_set(e, ERR_INVALID, "options", "missing");
    if (o->method != GRAD_ADJOINT && o->method != GRAD_BACKPROP && o->method != GRAD_ADJOINT_CKPT &&
        o->method != GRAD_REVERSIBLE)
        return err_set(e, ERR_INVALID, "gradient", "unknown method");
    const struct rk_tableau *tab = o->tab ? o->tab : &rk_dopri5;
    if (rk_tableau_implicit(tab) && o->method == GRAD_BACKPROP)
        return err_set(e, ERR_INVALID, "gradient",
                       "backprop runs each step's Runge-Kutta map backwards, and the implicit "
                       "method %s has none to run: use the adjoint",
                       tab->name);
    if (o->method == GRAD_REVERSIBLE && (g->n_jumps || g->n_stops))
        return err_set(e, ERR_INVALID, "gradient",
                       "the reversible method steps over the field's jump times: use backprop or "
                       "an adjoint");
    if (rk_tableau_implicit(tab) && !g->jac && o->method != GRAD_REVERSIBLE)
        return err_set(e, ERR_INVALID, "method",
                       "the implicit method %s needs the field's Jacobian, which this model "
                       "does not give",
                       tab->name);
    if (n == 0) return err_set(e, ERR_INVALID, "batch", "must be >= 1");
    if (n > SIZE_MAX / g->dim / sizeof(double) / 16)
        return err_set(e, ERR_TOO_LARGE, "batch", "batch x dim too large");
    if (!y0 || !y_out) return err_set(e, ERR_INVALID, "y0", "missing");
    if (!isfinite(t0)) return err_set(e, ERR_INVALID, "t0", "must be finite");
    if (n_t == 0 || !t) return err_set(e, ERR_INVALID, "t", "at least one observation time");
    for (size_t i = 0; i < n_t; i++) {
        if (isfinite(t[i]) && t[i] >= t0 && (!i || t[i] >= t[i - 1])) continue;
        /* the field's name is formatted for an error only: this runs on every solve */
        char f[40];
        snprintf(f, sizeof f, "t[%zu]", i);
        if (!isfinite(t[i])) return err_set(e, ERR_INVALID, f, "must be finite");
        if (t[i] < t0) return err_set(e, ERR_INVALID, f, "is before t0 = %.17g", t0);
        return err_set(e, ERR_INVALID, f, "observation times must be sorted (non-decreasing)");
    }
    return ERR_OK;
}

static err_code reserve_forward(grad_solver *s, err *e)
{
    const size_t N = s->N, nt = s->n_t, d = sizeof(double);
    if (grad_core_buf_reserve(s, &s->times, nt * d, e) ||
        grad_core_buf_reserve(s, &s->yt, nt * N * d, e) ||
        grad_core_buf_reserve(s, &s->ybt, nt * N * d, e) ||
        grad_core_buf_reserve(s, &s->y0, N * d, e))
        return ERR_NOMEM;
    if (s->o->method == GRAD_BACKPROP && grad_backprop_reserve(s, e)) return ERR_NOMEM;
    return ERR_OK;
}

static err_code ensure_ode(grad_solver *s, const struct rk_tableau *tab, err *e)
{
    if (s->ode && ode_solver_tableau(s->ode) == tab) return ERR_OK;
    ode_solver_free(s->ode);
    s->ode = ode_solver_new(tab, 1, e);
    return s->ode ? ERR_OK : ERR_NOMEM;
}

/* One state of dim values: a call of memcpy costs more than the copy of
 * the few values of a small model, and a batch copies n x n_t of them. */
static void copy_state(double *dst, const double *src, size_t dim)
{
    switch (dim) {
    case 4:
        dst[3] = src[3];
        /* fall through */
    case 3:
        dst[2] = src[2];
        /* fall through */
    case 2:
        dst[1] = src[1];
        /* fall through */
    case 1:
        dst[0] = src[0];
        return;
    default:
        memcpy(dst, src, dim * sizeof *dst);
    }
}

/* Between time-major (n_t rows of n states) and item-major (n rows of n_t
 * states) layouts. */
static void transpose_states(double *dst, const double *src, size_t n, size_t n_t, size_t dim,
                             int to_items)
{
    for (size_t i = 0; i < n_t; i++)
        for (size_t b = 0; b < n; b++) {
            const size_t it = (b * n_t + i) * dim, tm = (i * n + b) * dim;
            copy_state(dst + (to_items ? it : tm), src + (to_items ? tm : it), dim);
        }
}

/* y(t_i) from the time-major s->yt into the item-major y_out */
static void copy_out(const grad_solver *s, double *y_out)
{
    transpose_states(y_out, s->yt.p, s->n, s->n_t, s->dim, 1);
}

err_code grad_solver_forward(grad_solver *s, const struct grad_field *g,
                             const struct grad_solve_options *o, size_t item0, size_t n, double t0,
                             const double *y0, const double *t, size_t n_t, double *y_out, err *e)
{
    s->ready = 0;
    memset(&s->st, 0, sizeof s->st);
    err_code rc = check_call(g, o, n, t0, y0, t, n_t, y_out, e);
    if (rc) return rc;
    s->g = g;
    s->o = o;
    s->tab = o->tab ? o->tab : &rk_dopri5;
    s->item0 = item0;
    s->n = n;
    s->dim = g->dim;
    s->N = n * g->dim;
    s->n_t = n_t;
    s->t0 = t0;
    if ((rc = reserve_forward(s, e)) || (rc = ensure_ode(s, s->tab, e))) return rc;
    double *times = s->times.p, *yt = s->yt.p;
    memcpy(times, t, n_t * sizeof *times);
    memcpy(s->y0.p, y0, s->N * sizeof(double));
    s->keeping = 0;
    if (o->method == GRAD_REVERSIBLE) {
        if ((rc = grad_reversible_forward(s, e))) return rc;
        copy_out(s, y_out);
        s->ready = 1;
        return ERR_OK;
    }

    struct ode_options oo = o->ode;
    oo.groups = o->per_item_norm ? n : 1;
    oo.observer = NULL;
    oo.observer_ctx = NULL;
    if (o->method == GRAD_BACKPROP) {
        oo.observer = grad_backprop_observe;
        oo.observer_ctx = s;
        grad_backprop_begin(s);
    } else if (o->method == GRAD_ADJOINT_CKPT) {
        oo.observer = grad_ckpt_record;
        oo.observer_ctx = s;
        if ((rc = grad_ckpt_begin(s, e))) return rc;
    } else if (rk_tableau_implicit(s->tab)) {
        oo.observer = grad_adjoint_record;
        oo.observer_ctx = s;
        grad_adjoint_record_begin(s);
    }
    struct ode_problem p = {
        .f = grad_core_fwd_rhs,
        .ctx = s,
        .dim = s->N,
        .t0 = t0,
        .y0 = s->y0.p,
        .t_out = times,
        .n_out = n_t,
        .jump_times = g->jump_times,
        .n_jumps = g->n_jumps,
        .stop_times = g->stop_times,
        .n_stops = g->n_stops,
    };
    if (s->keeping) p.f = grad_backprop_fwd_rhs;
    /* the batch's Jacobian is block diagonal: one dim x dim LU per item */
    const int implicit = rk_tableau_implicit(s->tab);
    if (implicit) {
        p.jac = grad_core_fwd_jac;
        p.jac_blocks = n;
        p.jac_bsize = g->dim;
    }
    struct ode_stats os;
    rc = ode_solve(s->ode, &p, &oo, yt, &os, e);
    if (s->keeping) g->keep(g->ctx, n, NULL);
    s->st.fwd_steps = os.n_accepted;
    s->st.fwd_rejected = os.n_rejected;
    s->st.fwd_nfe = os.nfe;
    s->st.fwd_jac = os.n_jac;
    s->st.fwd_lu = os.n_lu;
    s->st.fwd_stiff_steps = !implicit                 ? 0
                            : s->tab->kind == RK_AUTO ? os.auto_steps[1]
                                                      : os.n_accepted;
    s->fwd_stiff = s->st.fwd_stiff_steps > 0;
    if (!rc && o->method == GRAD_BACKPROP) rc = grad_backprop_finish(s, e);
    if (rc) return rc;
    copy_out(s, y_out);
    s->ready = 1;
    return ERR_OK;
}

err_code grad_solver_backward(grad_solver *s, const double *ybar, double *y0bar, double *dtheta,
                              err *e)
{
    if (!s->ready) return err_set(e, ERR_INTERNAL, NULL, "grad_solver_backward before a forward");
    if (!ybar) return err_set(e, ERR_INVALID, "ybar", "missing");
    const size_t n = s->n, n_t = s->n_t, dim = s->dim;
    transpose_states(s->ybt.p, ybar, n, n_t, dim, 0);
    s->st.bwd_steps = s->st.bwd_rejected = s->st.bwd_nfe = 0;
    s->st.bwd_jac = s->st.bwd_lu = 0;
    s->st.bwd_resolve_nfe = 0;
    switch (s->o->method) {
    case GRAD_BACKPROP:
        return grad_backprop_backward(s, y0bar, dtheta, e);
    case GRAD_ADJOINT_CKPT:
        return grad_ckpt_backward(s, y0bar, dtheta, e);
    case GRAD_REVERSIBLE:
        return grad_reversible_backward(s, y0bar, dtheta, e);
    case GRAD_ADJOINT:
        break;
    }
    return grad_adjoint_backward(s, y0bar, dtheta, e);
}
