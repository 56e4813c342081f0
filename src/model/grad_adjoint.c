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
 * of g per stage; nothing here grows with the number of steps.
 *
 * AFTER AN IMPLICIT FORWARD (rodas4, esdirk4, or auto when it took rodas4
 * steps) two things change, both forced by stiffness.
 *  1. h is not solved backwards. A stiff field is strongly dissipative: run
 *     backwards, its fast modes grow like exp(|lambda| t), and the rounding
 *     and solver errors of h grow with them, so the a equation sees the
 *     Jacobian at the wrong states (on the stiff MLP of
 *     tests/check_grad_stiff.c the backsolved gradient is wrong in the first
 *     digit, with any method). Instead the forward solve records every
 *     accepted step (y_n and its stage rows: the dense output, for the
 *     methods' own interpolants, rodas4's and dopri5's steps alike under
 *     auto) and the backward reads h(t) from it: the interpolating adjoint
 *     (Kim, Ji, Deng, Ma, Rackauckas, "Stiff neural ordinary differential
 *     equations", Chaos 31, 2021). Memory O(forward steps x stages x state),
 *     affordable because the implicit methods take few steps; the explicit
 *     methods keep the O(n_t) backsolve above.
 *  2. The state [a (N), w (P)] is solved with esdirk4: da/dt = -J^T a has the
 *     forward's eigenvalues, stiff backwards too. Its simplified Newton
 *     iteration uses the block-diagonal matrix
 *         I - h gamma diag(-J_1^T .. -J_n^T, 0)
 *     (J_b = dg/dh of item b at h(t); the w rows the identity): exact for a,
 *     with the coupling block dw'/da = -(dg/dtheta)^T dropped. That block
 *     lies strictly below the diagonal, so the iteration still converges to
 *     the exact stage values (a's error contracts as in a linear solve, w
 *     follows it): the answer is esdirk4's, only the iteration count feels
 *     the approximation. A Rosenbrock method (rodas4) puts the matrix into
 *     the formula itself and needs the exact Jacobian for its order, so it
 *     is not used backwards (num refuses it with jac_inexact). Each block is
 *     factored on its own: the P parameter components cost no linear
 *     algebra. After an auto forward that stayed with dopri5 the backward is
 *     the backsolve with dopri5, as after a dopri5 forward. */
#include "model/grad_adjoint.h"

#include "model/grad_core.h"
#include "num/step.h"

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

/* ---- the interpolating adjoint (AFTER AN IMPLICIT FORWARD) ------------------- */

/* One accepted forward step: its method and where its y_n and stage rows
 * (N doubles each) sit in s->dtape. */
struct dn_step {
    double t, h;
    const struct rk_tableau *tab;
    size_t off;
};

void grad_adjoint_record_begin(grad_solver *s)
{
    s->dsteps_n = 0;
    s->dtape_n = 0;
    s->dhint = 0;
}

int grad_adjoint_record(const struct ode_step_record *rec, void *ctx)
{
    grad_solver *s = ctx;
    const int rows = rec->tab->stages + rec->tab->dense_stages;
    const size_t N = rec->dim, add = (size_t)(1 + (rec->n_k > rows ? rec->n_k : rows)) * N;
    if (grad_core_buf_reserve(s, &s->dsteps, (s->dsteps_n + 1) * sizeof(struct dn_step), NULL) ||
        grad_core_buf_reserve(s, &s->dtape, (s->dtape_n + add) * sizeof(double), NULL))
        return ERR_NOMEM;
    double *dst = (double *)s->dtape.p + s->dtape_n;
    memcpy(dst, rec->y0, N * sizeof *dst);
    memcpy(dst + N, rec->k, (size_t)rec->n_k * N * sizeof *dst);
    /* dop853's dense stages, when no output fell inside the step: the
     * interpolant needs them (explicit tables only; hcur is free here) */
    if (rec->n_k < rows && grad_core_buf_reserve(s, &s->hcur, N * sizeof(double), NULL))
        return ERR_NOMEM;
    if (rec->n_k < rows &&
        rk_step_dense_stages(rec->tab, N, grad_core_fwd_rhs, s, rec->t, rec->h, rec->y0, dst + N,
                             s->hcur.p, &s->st.bwd_resolve_nfe))
        return ERR_SOLVER;
    ((struct dn_step *)s->dsteps.p)[s->dsteps_n++] =
        (struct dn_step){.t = rec->t, .h = rec->h, .tab = rec->tab, .off = s->dtape_n};
    s->dtape_n += add;
    return 0;
}

/* h(t) into s->hcur from the step that covers t (the backward moves down
 * through them: the hint is the last one used). */
static void dense_at(grad_solver *s, double t)
{
    const struct dn_step *st = s->dsteps.p;
    size_t m = s->dhint < s->dsteps_n ? s->dhint : s->dsteps_n - 1;
    while (m > 0 && t < st[m].t)
        m--;
    while (m + 1 < s->dsteps_n && t > st[m].t + st[m].h)
        m++;
    s->dhint = m;
    const struct dn_step *d = &st[m];
    const size_t N = s->N;
    const int rows = d->tab->stages + d->tab->dense_stages;
    double w[32];
    double th = (t - d->t) / d->h;
    th = th < 0 ? 0 : th > 1 ? 1 : th;
    rk_tableau_dense_weights(d->tab, th, w);
    const double *y0 = (const double *)s->dtape.p + d->off;
    double *h = s->hcur.p;
    memcpy(h, y0, N * sizeof *h);
    for (int i = 0; i < rows; i++) {
        const double c = d->h * w[i];
        if (c == 0.0) continue;
        const double *k = y0 + (size_t)(i + 1) * N;
        for (size_t j = 0; j < N; j++)
            h[j] += c * k[j];
    }
}

/* [a, w]' = [-a^T dg/dh, -a^T dg/dtheta] at h(t). */
static int ia_rhs(double t, const double *z, double *dz, void *ctx)
{
    grad_solver *s = ctx;
    const struct grad_field *g = s->g;
    const size_t N = s->N, P = g->n_params;
    dense_at(s, t);
    int rc = g->eval(g->ctx, t, s->item0, s->n, s->hcur.p, s->gout.p);
    if (rc) return rc;
    double *negv = s->negv.p;
    for (size_t i = 0; i < N; i++)
        negv[i] = -z[i];
    memset(dz, 0, (N + P) * sizeof *dz);
    g->vjp(g->ctx, s->item0, s->n, negv, dz, dz + N);
    return 0;
}

/* Its Jacobian with the w-a block dropped: n blocks -J_b^T. */
static int ia_jac(double t, const double *z, double *J, double *dfdt, void *ctx)
{
    grad_solver *s = ctx;
    const struct grad_field *g = s->g;
    const size_t d = s->dim, bb = d * d;
    (void)z;
    dense_at(s, t);
    int rc = g->jac(g->ctx, nextafter(t, -INFINITY), s->item0, s->n, s->hcur.p, J, NULL);
    if (rc) return rc;
    for (size_t b = 0; b < s->n; b++) {
        double *Jb = J + b * bb;
        for (size_t i = 0; i < d; i++) {
            Jb[i * d + i] = -Jb[i * d + i];
            for (size_t j = i + 1; j < d; j++) {
                const double u = Jb[i * d + j];
                Jb[i * d + j] = -Jb[j * d + i];
                Jb[j * d + i] = -u;
            }
        }
    }
    if (dfdt) memset(dfdt, 0, (s->N + g->n_params) * sizeof *dfdt);
    return 0;
}

/* The backward's method: the forward's (its solver) if explicit, else
 * esdirk4 (see AFTER AN IMPLICIT FORWARD), or dopri5 after an auto forward
 * that took no implicit step. */
static err_code pick_solver(grad_solver *s, ode_solver **out, int *implicit, err *e)
{
    *implicit = 0;
    if (!rk_tableau_implicit(s->tab)) {
        *out = s->ode;
        return ERR_OK;
    }
    const struct rk_tableau *tab =
        s->tab->kind == RK_AUTO && !s->fwd_stiff ? &rk_dopri5 : &rk_esdirk4;
    *implicit = tab == &rk_esdirk4;
    if (!s->ode_bwd || ode_solver_tableau(s->ode_bwd) != tab) {
        ode_solver_free(s->ode_bwd);
        if (!(s->ode_bwd = ode_solver_new(tab, 1, e))) return ERR_NOMEM;
    }
    *out = s->ode_bwd;
    return ERR_OK;
}

static err_code reserve_adjoint(grad_solver *s, size_t D, err *e)
{
    const size_t d = sizeof(double);
    if (grad_core_buf_reserve(s, &s->aug, D * d, e) ||
        grad_core_buf_reserve(s, &s->aug_out, D * d, e) ||
        grad_core_buf_reserve(s, &s->negv, s->N * d, e) ||
        grad_core_buf_reserve(s, &s->hcur, s->N * d, e) ||
        grad_core_buf_reserve(s, &s->gout, s->N * d, e))
        return ERR_NOMEM;
    if (s->o->adjoint_seminorm && (grad_core_buf_reserve(s, &s->rtol_v, D * d, e) ||
                                   grad_core_buf_reserve(s, &s->atol_v, D * d, e)))
        return ERR_NOMEM;
    return ERR_OK;
}

/* The backward solves' options (see DESIGN): D components, the first M
 * of them ([h, a], or a alone) in the seminorm. */
static void adjoint_options(grad_solver *s, size_t D, size_t M, struct ode_options *oo)
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
static err_code solve_interval(grad_solver *s, ode_solver *ode, int interp, int implicit,
                               const struct ode_options *oo, size_t D, double t_hi, double t_lo,
                               err *e)
{
    const struct grad_field *g = s->g;
    const struct ode_problem p = {
        .f = interp ? ia_rhs : aug_rhs,
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
        .jac = implicit ? ia_jac : NULL,
        .jac_blocks = implicit ? s->n : 0,
        .jac_bsize = implicit ? s->dim : 0,
        .jac_inexact = implicit,
        /* the field reads [h, a] (or a), never the parameter cotangents */
        .n_read = interp ? s->N : 2 * s->N,
    };
    struct ode_stats os;
    err_code rc = ode_solve(ode, &p, oo, s->aug_out.p, &os, e);
    s->st.bwd_steps += os.n_accepted;
    s->st.bwd_rejected += os.n_rejected;
    s->st.bwd_nfe += os.nfe;
    s->st.bwd_jac += os.n_jac;
    s->st.bwd_lu += os.n_lu;
    if (rc) {
        err_prefix_field(e, "adjoint");
        return rc;
    }
    memcpy(s->aug.p, s->aug_out.p, D * sizeof(double));
    return ERR_OK;
}

err_code grad_adjoint_backward(grad_solver *s, double *y0bar, double *dtheta, err *e)
{
    ode_solver *ode;
    int implicit;
    err_code rc = pick_solver(s, &ode, &implicit, e);
    if (rc) return rc;
    /* z = [h, a, w], or [a, w] with h read from the forward's steps */
    const size_t N = s->N, P = s->g->n_params, ho = implicit ? 0 : N, D = ho + N + P;
    if ((rc = reserve_adjoint(s, D, e))) return rc;
    struct ode_options oo;
    adjoint_options(s, D, ho + N, &oo);
    const double *t = s->times.p, *yt = s->yt.p, *ybt = s->ybt.p;
    double *z = s->aug.p;
    memset(z + ho, 0, (N + P) * sizeof *z);
    s->dhint = s->dsteps_n;
    for (size_t i = s->n_t; i-- > 0;) {
        if (!implicit) memcpy(z, yt + i * N, N * sizeof *z); /* reset h to the forward value */
        for (size_t k = 0; k < N; k++)                       /* the jump of a */
            z[ho + k] += ybt[i * N + k];
        const double t_lo = i > 0 ? t[i - 1] : s->t0;
        if (t[i] > t_lo && implicit && s->dsteps_n == 0) /* the forward stepped over it */
            return err_set(e, ERR_INTERNAL, NULL, "adjoint: no forward steps recorded");
        if (t[i] > t_lo && (rc = solve_interval(s, ode, implicit, implicit, &oo, D, t[i], t_lo, e)))
            return rc;
        z = s->aug.p;
    }
    if (y0bar) memcpy(y0bar, z + ho, N * sizeof *y0bar);
    if (dtheta)
        for (size_t k = 0; k < P; k++)
            dtheta[k] += z[ho + N + k];
    return ERR_OK;
}

/* ---- the pieces adjoint_checkpointed (grad_ckpt.c) runs ---------------------- */

err_code grad_adjoint_interp_begin(grad_solver *s, struct grad_adjoint_run *r, err *e)
{
    err_code rc = pick_solver(s, &r->ode, &r->implicit, e);
    if (rc) return rc;
    const size_t N = s->N, P = s->g->n_params;
    r->D = N + P;
    if ((rc = reserve_adjoint(s, r->D, e))) return rc;
    adjoint_options(s, r->D, N, &r->oo);
    memset(s->aug.p, 0, r->D * sizeof(double));
    return ERR_OK;
}

err_code grad_adjoint_interp_solve(grad_solver *s, const struct grad_adjoint_run *r, double t_hi,
                                   double t_lo, err *e)
{
    if (s->dsteps_n == 0)
        return err_set(e, ERR_INTERNAL, NULL, "adjoint: no forward steps recorded");
    s->dhint = s->dsteps_n;
    return solve_interval(s, r->ode, 1, r->implicit, &r->oo, r->D, t_hi, t_lo, e);
}
