/* model/grad_adjoint.c: the continuous adjoint (Chen, Rubanova,
 * Bettencourt, Duvenaud, "Neural Ordinary Differential Equations", NeurIPS
 * 2018), with torchdiffeq's odeint_adjoint semantics.
 *
 * DESIGN. After the forward solve (outputs only: y(t_i) for the n_t
 * observation times, time-major), the augmented state
 *     z = [h (N), a (N), w (P)],  N = items x dim, P = parameters,
 * is integrated backwards, interval by interval, from t_{n_t-1} to t0:
 *     dh/dt = g(t, h),  da/dt = -a^T dg/dh,  dw/dt = -a^T dg/dtheta.
 * Before the interval that starts at t_i: h = y(t_i) from the forward solve
 * (torchdiffeq resets it the same way: the backward h drifts from the
 * forward one, by the solver's error and, for dissipative fields, by the
 * instability of the backward solve), a += dL/dy(t_i) (the jump). At t0:
 * dL/dy0 = a, dL/dtheta += w. Intervals of zero length (duplicate times, an
 * observation at t0) only add their jumps.
 *
 * Each interval is one ode_solve with a fresh initial step (torchdiffeq
 * starts each interval afresh too), the forward's method and options, and
 * tolerances on the augmented state: the adjoint's rtol/atol (default: the
 * forward's) on every component, RMS over the whole augmented state; with
 * the seminorm the w components get atol = 1e300 (they never limit h) and
 * the [h, a] ones rtol, atol x sqrt(2N / (2N + P)), which turns the RMS over
 * 2N + P components back into the RMS over [h, a] alone. One eval + one VJP
 * of g per stage; nothing here grows with the number of steps. */
#include "model/grad_adjoint.h"

#include "model/grad_core.h"

#include <math.h>
#include <string.h>

static int aug_rhs(double t, const double *z, double *dz, void *ctx)
{
    grad_solver *s = ctx;
    const struct grad_field *g = s->g;
    const size_t N = s->N, P = g->n_params;
    int rc = g->eval(g->ctx, t, s->item0, s->n, z, dz);
    if (rc) return rc;
    double *negv = s->negv.p;
    const double *a = z + N;
    for (size_t i = 0; i < N; i++)
        negv[i] = -a[i];
    memset(dz + N, 0, (N + P) * sizeof *dz);
    g->vjp(g->ctx, s->item0, s->n, negv, dz + N, dz + 2 * N);
    return 0;
}

static err_code reserve_adjoint(grad_solver *s, size_t D, err *e)
{
    const size_t d = sizeof(double);
    if (grad_core_buf_reserve(s, &s->aug, D * d, e) ||
        grad_core_buf_reserve(s, &s->aug_out, D * d, e) ||
        grad_core_buf_reserve(s, &s->negv, s->N * d, e))
        return ERR_NOMEM;
    if (s->o->adjoint_seminorm && (grad_core_buf_reserve(s, &s->rtol_v, D * d, e) ||
                                   grad_core_buf_reserve(s, &s->atol_v, D * d, e)))
        return ERR_NOMEM;
    return ERR_OK;
}

/* The backward solves' options (see DESIGN). */
static void adjoint_options(grad_solver *s, size_t D, struct ode_options *oo)
{
    const struct grad_solve_options *o = s->o;
    *oo = o->ode;
    oo->groups = 1;
    oo->observer = NULL;
    oo->observer_ctx = NULL;
    oo->rtol_v = oo->atol_v = NULL;
    oo->rtol_len = oo->atol_len = 0;
    if (o->adjoint_rtol > 0) oo->rtol = o->adjoint_rtol;
    if (o->adjoint_atol > 0) oo->atol = o->adjoint_atol;
    if (oo->n_steps > 0) {
        const double span = ((const double *)s->times.p)[s->n_t - 1] - s->t0;
        oo->fixed_step = span / (double)oo->n_steps;
        oo->n_steps = 0;
    }
    if (o->adjoint_seminorm) {
        const size_t M = 2 * s->N;
        const double c = sqrt((double)M / (double)D);
        double *rv = s->rtol_v.p, *av = s->atol_v.p;
        for (size_t i = 0; i < D; i++) {
            rv[i] = i < M ? c * oo->rtol : 0.0;
            av[i] = i < M ? c * oo->atol : 1e300;
        }
        oo->rtol_v = rv;
        oo->atol_v = av;
        oo->rtol_len = oo->atol_len = D;
    }
}

/* One backward solve of z from t_hi to t_lo (< t_hi), in place. */
static err_code solve_interval(grad_solver *s, const struct ode_options *oo, size_t D, double t_hi,
                               double t_lo, err *e)
{
    const struct grad_field *g = s->g;
    const struct ode_problem p = {
        .f = aug_rhs,
        .ctx = s,
        .dim = D,
        .t0 = t_hi,
        .y0 = s->aug.p,
        .t_out = &t_lo,
        .n_out = 1,
        .jump_times = g->jump_times,
        .n_jumps = g->n_jumps,
        .stop_times = g->stop_times,
        .n_stops = g->n_stops,
    };
    struct ode_stats os;
    err_code rc = ode_solve(s->ode, &p, oo, s->aug_out.p, &os, e);
    s->st.bwd_steps += os.n_accepted;
    s->st.bwd_rejected += os.n_rejected;
    s->st.bwd_nfe += os.nfe;
    if (rc) {
        err_prefix_field(e, "adjoint");
        return rc;
    }
    memcpy(s->aug.p, s->aug_out.p, D * sizeof(double));
    return ERR_OK;
}

err_code grad_adjoint_backward(grad_solver *s, double *y0bar, double *dtheta, err *e)
{
    const size_t N = s->N, P = s->g->n_params, D = 2 * N + P;
    err_code rc = reserve_adjoint(s, D, e);
    if (rc) return rc;
    struct ode_options oo;
    adjoint_options(s, D, &oo);
    const double *t = s->times.p, *yt = s->yt.p, *ybt = s->ybt.p;
    double *z = s->aug.p;
    memset(z + N, 0, (N + P) * sizeof *z);
    for (size_t i = s->n_t; i-- > 0;) {
        memcpy(z, yt + i * N, N * sizeof *z); /* reset h to the forward value */
        for (size_t k = 0; k < N; k++)        /* the jump of a */
            z[N + k] += ybt[i * N + k];
        const double t_lo = i > 0 ? t[i - 1] : s->t0;
        if (t[i] > t_lo && (rc = solve_interval(s, &oo, D, t[i], t_lo, e))) return rc;
        z = s->aug.p;
    }
    if (y0bar) memcpy(y0bar, z + N, N * sizeof *y0bar);
    if (dtheta)
        for (size_t k = 0; k < P; k++)
            dtheta[k] += z[2 * N + k];
    return ERR_OK;
}
