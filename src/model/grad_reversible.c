/* model/grad_reversible.c: the "reversible" gradient, reversible Heun
 * (Kidger, Foster, Li, Lyons, "Efficient and Accurate Gradients for Neural
 * SDEs", NeurIPS 2021, Algorithm 1 without the noise; num/sde.c has the SDE
 * form) for ODEs, with a backward pass that needs no record of the steps.
 *
 * DESIGN. The state is (y, z, f) with z_0 = y_0 and f = g(t, z); a step of
 * size h from t_n is
 *     z' = 2 y - z + h f,   f' = g(t_{n+1}, z'),   y' = y + h (f + f') / 2,
 * one evaluation of g. It is algebraically invertible:
 *     z = 2 y' - z' - h f',  f = g(t_n, z),  y = y' - h (f + f') / 2,
 * so the backward pass walks from the final (y, z, f) to t0 rebuilding each
 * step's input from its output, and runs the step's reverse mode there with
 * the cotangents (ybar, zbar, fbar) of (y, z, f):
 *     fbar' += h ybar' / 2;   zbar' += fbar'^T dg/dz (z'), thetabar += ... ;
 *     ybar = ybar' + 2 zbar',  zbar = -zbar',  fbar = h ybar' / 2 + h zbar',
 * and at t0 dL/dy0 = ybar + zbar + fbar^T dg/dz (z_0). One evaluation and
 * one VJP per step backwards (the VJP reads the evaluation that rebuilt
 * the step's end), whatever the number of steps: the memory is a handful
 * of state vectors. The reconstruction is exact in exact arithmetic; in
 * floating point it carries rounding that the method does not amplify
 * (the map is a composition of shears), which the tests bound by comparing
 * with backprop through the stored steps.
 *
 * Steps. Fixed: the nominal step h = fixed_step, or (t_last - t0) / n_steps;
 * each interval between observation times is cut into ceil(length / h)
 * equal steps, so every observation time is a step's end. The backward pass
 * recomputes the same grid. Reversible Heun is second order and, for ODEs,
 * stable only where h times the Jacobian's eigenvalues lie near the
 * imaginary axis (Kidger et al., section 3): a strongly dissipative field
 * needs small steps or another method. */
#include "model/grad_reversible.h"

#include "model/grad_core.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define RV_POLL 256 /* steps between two polls of the abort hook */

/* The nominal step (0 with an error set when there is none). */
static double nominal_step(grad_solver *s, err *e)
{
    const struct ode_options *oo = &s->o->ode;
    const double span = ((const double *)s->times.p)[s->n_t - 1] - s->t0;
    double h = oo->fixed_step > 0 ? oo->fixed_step
               : oo->n_steps > 0  ? span / (double)oo->n_steps
                                  : 0;
    if (!(h > 0) && span > 0) {
        err_set(e, ERR_INVALID, "n_steps",
                "the reversible method takes fixed steps: give n_steps (or a fixed step)");
        return 0;
    }
    return h > 0 ? h : 1;
}

/* Interval i: from t_prev to t[i] in m steps of hh. */
static void interval(const grad_solver *s, size_t i, double *t_prev, long *m, double *hh)
{
    const double *t = s->times.p;
    *t_prev = i ? t[i - 1] : s->t0;
    const double len = t[i] - *t_prev;
    double md = len > 0 ? ceil(len / s->rv_h - 1e-9) : 0;
    if (!(md < 4e18)) md = 4e18; /* a tiny step: max_steps refuses it, no overflow */
    *m = (long)md;
    if (len > 0 && *m < 1) *m = 1;
    *hh = *m ? len / (double)*m : 0;
}

static double node_time(const grad_solver *s, size_t i, double t_prev, long j, long m, double hh)
{
    return j == m ? ((const double *)s->times.p)[i] : t_prev + (double)j * hh;
}

static err_code reserve(grad_solver *s, err *e)
{
    const size_t b = s->N * sizeof(double);
    struct grad_core_buf *all[] = {&s->rv_y, &s->rv_z, &s->rv_f, &s->rv_yb, &s->rv_zb, &s->rv_fb};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (grad_core_buf_reserve(s, all[i], b, e)) return ERR_NOMEM;
    return grad_core_buf_reserve(s, &s->negv, b, e);
}

static err_code eval(grad_solver *s, double t, const double *y, double *f, long *nfe, err *e)
{
    const struct grad_field *g = s->g;
    int rc = g->eval(g->ctx, t, s->item0, s->n, y, f);
    (*nfe)++;
    if (rc) return err_set(e, ERR_SOLVER, NULL, "the vector field failed at t=%.17g", t);
    return ERR_OK;
}

static int poll(grad_solver *s, long steps, err *e)
{
    const struct ode_options *oo = &s->o->ode;
    if (!oo->abort || steps % RV_POLL) return ERR_OK;
    int rc = oo->abort(oo->abort_ctx);
    if (rc) err_set(e, (err_code)rc, NULL, "the solve was stopped at step %ld", steps);
    return rc;
}

err_code grad_reversible_forward(grad_solver *s, err *e)
{
    const size_t N = s->N;
    err_code rc = reserve(s, e);
    if (rc) return rc;
    if (!((s->rv_h = nominal_step(s, e)) > 0)) return ERR_INVALID;
    double *y = s->rv_y.p, *z = s->rv_z.p, *f = s->rv_f.p, *zn = s->negv.p, *yt = s->yt.p;
    const long max_steps = s->o->ode.max_steps;
    memcpy(y, s->y0.p, N * sizeof *y);
    memcpy(z, y, N * sizeof *z);
    if ((rc = eval(s, s->t0, z, f, &s->st.fwd_nfe, e))) return rc;
    long steps = 0;
    for (size_t i = 0; i < s->n_t; i++) {
        double t_prev, hh;
        long m;
        interval(s, i, &t_prev, &m, &hh);
        if (max_steps > 0 && steps + m > max_steps)
            return err_set(e, ERR_SOLVER, "n_steps", "max_steps (%ld) reached at t=%.17g",
                           max_steps, t_prev);
        for (long j = 1; j <= m; j++, steps++) {
            if ((rc = poll(s, steps, e))) return rc;
            for (size_t k = 0; k < N; k++)
                zn[k] = 2 * y[k] - z[k] + hh * f[k];
            for (size_t k = 0; k < N; k++)
                y[k] += 0.5 * hh * f[k];
            if ((rc = eval(s, node_time(s, i, t_prev, j, m, hh), zn, f, &s->st.fwd_nfe, e)))
                return rc;
            for (size_t k = 0; k < N; k++)
                y[k] += 0.5 * hh * f[k];
            memcpy(z, zn, N * sizeof *z);
        }
        for (size_t k = 0; k < N; k++)
            if (!isfinite(y[k]))
                return err_set(e, ERR_SOLVER, NULL,
                               "non-finite state at t=%.17g (reversible Heun is unstable for "
                               "strongly dissipative fields: take smaller steps)",
                               ((const double *)s->times.p)[i]);
        memcpy(yt + i * N, y, N * sizeof *yt);
    }
    s->rv_steps = steps;
    s->st.fwd_steps = steps;
    return ERR_OK;
}

err_code grad_reversible_backward(grad_solver *s, double *y0bar, double *dtheta, err *e)
{
    const struct grad_field *g = s->g;
    const size_t N = s->N;
    double *y = s->rv_y.p, *z = s->rv_z.p, *f = s->rv_f.p, *fp = s->negv.p;
    double *yb = s->rv_yb.p, *zb = s->rv_zb.p, *fb = s->rv_fb.p;
    const double *ybt = s->ybt.p, *t = s->times.p;
    memset(yb, 0, N * sizeof *yb);
    memset(zb, 0, N * sizeof *zb);
    memset(fb, 0, N * sizeof *fb);
    /* the field's record for the VJP at the last node (y, z, f are the
     * forward's final values; this evaluation repeats f bit for bit) */
    err_code rc = eval(s, t[s->n_t - 1], z, f, &s->st.bwd_nfe, e);
    if (rc) return rc;
    long steps = 0;
    for (size_t i = s->n_t; i-- > 0;) {
        for (size_t k = 0; k < N; k++) /* the jump: y(t_i) is this node's y */
            yb[k] += ybt[i * N + k];
        double t_prev, hh;
        long m;
        interval(s, i, &t_prev, &m, &hh);
        for (long j = m; j >= 1; j--, steps++) {
            if ((rc = poll(s, steps, e))) return rc;
            for (size_t k = 0; k < N; k++)
                fb[k] += 0.5 * hh * yb[k];
            g->vjp(g->ctx, s->item0, s->n, fb, zb, dtheta);
            for (size_t k = 0; k < N; k++) /* rebuild z_{n-1} into z */
                z[k] = 2 * y[k] - z[k] - hh * f[k];
            if ((rc = eval(s, node_time(s, i, t_prev, j - 1, m, hh), z, fp, &s->st.bwd_nfe, e)))
                return rc;
            for (size_t k = 0; k < N; k++) {
                y[k] -= 0.5 * hh * (fp[k] + f[k]);
                f[k] = fp[k];
                const double ybo = yb[k], zbo = zb[k];
                yb[k] = ybo + 2 * zbo;
                fb[k] = 0.5 * hh * ybo + hh * zbo;
                zb[k] = -zbo;
            }
        }
    }
    g->vjp(g->ctx, s->item0, s->n, fb, zb, dtheta); /* z_0 = y_0, f_0 = g(t0, y_0) */
    s->st.bwd_steps = steps;
    if (y0bar)
        for (size_t k = 0; k < N; k++)
            y0bar[k] = yb[k] + zb[k];
    return ERR_OK;
}
