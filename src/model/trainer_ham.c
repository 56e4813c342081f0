/* model/trainer_ham.c: the trajectory fit of a hamiltonian
 * (trainer_internal.h; docs/structured.md, "Training"): the mse between
 * observed states [q; p] and the states a symplectic method reaches from
 * the first observation of a window (or of the whole series), and its
 * exact gradient by backpropagation through the fixed steps
 * (discretise-then-optimise). Methods: the explicit compositions of
 * num/symplectic.h (leapfrog, yoshida4, yoshida6, kahan_li6; a separable H)
 * and implicit_midpoint (any H).
 *
 * THE STEPS follow the serving rule for the time grid: from the window's
 * first time t_a, steps of solver.step h end at t_a + k h; an observation
 * between two grid points is answered by one extra, shorter step from the
 * grid point before it, which the integration does not continue from (so
 * training fits the numbers serving gives from the same start).
 *
 * EXPLICIT: one step of weights gamma_1..gamma_s is kick-drift-kick:
 *   p -= (gamma_1 h / 2) dV/dq(q);
 *   for i = 1..s: q += gamma_i h dT/dp(p); p -= c_i dV/dq(q),
 *   c_i = h (gamma_i + gamma_(i+1)) / 2, c_s = h gamma_s / 2.
 * Backward, per step from the last: a kick p -= c dV/dq(q) adds
 * -c Hess V(q) pbar to qbar and -c d/dtheta [pbar' grad V(q)] to the
 * gradient; a drift q += d dT/dp(p) adds d Hess T(p) qbar to pbar (the
 * mass form: d M^-1 qbar) and d d/dtheta [qbar' grad T(p)]
 * (nn/mlp_grad2.h). A step's intermediate states are recomputed from its
 * start when it is reversed.
 *
 * IMPLICIT MIDPOINT: y1 = y0 + h f(m), m = (y0 + y1) / 2, solved by full
 * Newton with the Hessian to round-off (serving's simplified Newton stops
 * at its tolerance: the states agree to about it). Backward by the implicit
 * function theorem on the converged step (mid_back).
 *
 * MEMORY grows with the steps: the state at every grid point of a window,
 * (steps + 1) x 2 dof doubles (a window of 10 observations 0.1 apart at
 * step 0.01, dof 1: 101 x 2 doubles). The masses are not trained. */
#include "model/loss.h"
#include "model/trainer_internal.h"
#include "nn/mlp_grad.h"
#include "nn/mlp_grad2.h"
#include "num/symplectic.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct ham_state {
    const struct symp_method *m;
    size_t n, dim; /* dof, 2 dof */
    int form;
    const mlp *V, *T;          /* T NULL for the mass form */
    mlp_grad2_ws *gv, *gt;
    mlp_grad_ws *hv, *ht;      /* implicit midpoint: gradients and Hessians */
    double *hs, *hb, *mm, *mg, *mf, *mr, *mu, *mv; /* midpoint: (2n)^2, n^2, 2n each */
    double *inv;               /* mass form: 1 / m */
    double h;                  /* the step */
    long max_steps;
    double *grid;              /* (cap + 1) x dim: the states at the grid points */
    size_t cap;
    double *qt, *pt;           /* one step's kick positions (s + 1) x n, drift momenta s x n */
    double *tmp, *lam, *lam2, *y0, *pred, *ybar; /* dim each */
    long *k;                   /* per observation: its grid point */
    double *hx;                /* per observation: its extra step, 0 when on the grid */
    size_t nt_cap;
};

static void ham_free(void *state)
{
    struct ham_state *k = state;
    if (!k) return;
    mlp_grad2_ws_free(k->gv);
    mlp_grad2_ws_free(k->gt);
    mlp_grad_ws_free(k->hv);
    mlp_grad_ws_free(k->ht);
    free(k->hs), free(k->hb), free(k->mm); /* mg .. mv point into mm */
    free(k->inv), free(k->grid), free(k->qt), free(k->pt);
    free(k->tmp), free(k->lam), free(k->lam2), free(k->y0), free(k->pred), free(k->ybar);
    free(k->k), free(k->hx);
    free(k);
}

static err_code ham_setup(void **state, const struct trainer_data *d, err *e)
{
    struct ham_state *k = calloc(1, sizeof *k);
    if (!k) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    *state = k;
    const model_def *def = d->def;
    k->m = symp_method_find(d->spec->method);
    k->n = def->state_dim / 2;
    k->dim = def->state_dim;
    k->form = def->ham_form;
    k->h = d->spec->step;
    k->max_steps = d->spec->max_steps ? d->spec->max_steps : 1000000;
    k->V = d->net[MODEL_NET_HAM_V];
    k->T = def->ham_form == MODEL_HAM_KINETIC ? d->net[MODEL_NET_HAM_T] : NULL;
    const int mid = k->m && k->m->kind == SYMP_MIDPOINT;
    if (!(symp_method_explicit(k->m) && def->ham_form != MODEL_HAM_GENERAL) && !mid)
        return err_set(e, ERR_INVALID, "solver.method",
                       "a trajectory fit needs an explicit splitting and a separable H, or "
                       "implicit_midpoint");
    if (mlp_grad2_ws_new(&k->gv, k->V, e) || (k->T && mlp_grad2_ws_new(&k->gt, k->T, e)))
        return e->code;
    if (mid && (mlp_grad_ws_new(&k->hv, k->V, 1, e) || (k->T && mlp_grad_ws_new(&k->ht, k->T, 1, e))))
        return e->code;
    const size_t s = mid ? 1 : (size_t)k->m->n_weights, n = k->n, dim = k->dim;
    if (mid) {
        k->hs = malloc(2 * dim * dim * sizeof *k->hs); /* the Hessian, then the Newton matrix */
        k->hb = malloc(n * n * sizeof *k->hb);
        k->mm = malloc(6 * dim * sizeof *k->mm);
        if (!k->hs || !k->hb || !k->mm) return err_set(e, ERR_NOMEM, NULL, "out of memory");
        k->mg = k->mm + dim, k->mf = k->mm + 2 * dim, k->mr = k->mm + 3 * dim;
        k->mu = k->mm + 4 * dim, k->mv = k->mm + 5 * dim;
    }
    k->nt_cap = d->nt_max ? d->nt_max : 1;
    k->qt = malloc((s + 1) * n * sizeof *k->qt);
    k->pt = malloc(s * n * sizeof *k->pt);
    k->tmp = malloc(dim * sizeof(double));
    k->lam = malloc(dim * sizeof(double));
    k->lam2 = malloc(dim * sizeof(double));
    k->y0 = malloc(dim * sizeof(double));
    k->pred = malloc(dim * sizeof(double));
    k->ybar = malloc(dim * sizeof(double));
    k->k = malloc(k->nt_cap * sizeof *k->k);
    k->hx = malloc(k->nt_cap * sizeof *k->hx);
    if (!k->qt || !k->pt || !k->tmp || !k->lam || !k->lam2 || !k->y0 || !k->pred || !k->ybar ||
        !k->k || !k->hx)
        return err_set(e, ERR_NOMEM, NULL, "out of memory");
    const double *mass = model_def_ham_mass(def);
    if (mass) {
        if (!(k->inv = malloc(n * sizeof *k->inv)))
            return err_set(e, ERR_NOMEM, NULL, "out of memory");
        for (size_t i = 0; i < n; i++)
            k->inv[i] = 1.0 / mass[i];
    }
    return ERR_OK;
}

/* dT/dp at p into out (n values); the tape of T's workspace at p. */
static void dT(struct ham_state *k, const double *p, double *out)
{
    if (k->T) {
        (void)mlp_grad2_forward(k->T, k->gt, p, out);
        return;
    }
    for (size_t i = 0; i < k->n; i++)
        out[i] = p[i] * k->inv[i];
}

static double kick_coef(const struct symp_method *m, int i, double h)
{
    return 0.5 * h * (i + 1 < m->n_weights ? m->weights[i] + m->weights[i + 1] : m->weights[i]);
}

/* One step of size h from y (dim) into out (may not alias y); with tape,
 * the kick positions and drift momenta into k->qt, k->pt. */
static void comp_step(struct ham_state *k, double h, const double *y, double *out)
{
    const size_t n = k->n;
    const struct symp_method *m = k->m;
    double *q = out, *p = out + n, *F = k->lam2; /* lam2: scratch here */
    memcpy(out, y, k->dim * sizeof *out);
    (void)mlp_grad2_forward(k->V, k->gv, q, F);
    memcpy(k->qt, q, n * sizeof *q);
    double c = 0.5 * m->weights[0] * h;
    for (size_t j = 0; j < n; j++)
        p[j] -= c * F[j];
    for (int i = 0; i < m->n_weights; i++) {
        memcpy(k->pt + (size_t)i * n, p, n * sizeof *p);
        dT(k, p, F);
        const double dd = m->weights[i] * h;
        for (size_t j = 0; j < n; j++)
            q[j] += dd * F[j];
        memcpy(k->qt + (size_t)(i + 1) * n, q, n * sizeof *q);
        (void)mlp_grad2_forward(k->V, k->gv, q, F);
        c = kick_coef(m, i, h);
        for (size_t j = 0; j < n; j++)
            p[j] -= c * F[j];
    }
}

/* The reverse of step(h) from y: lam (the adjoint of the step's result)
 * becomes the adjoint of y; the parameters' gradient added into dtheta. */
static void comp_back(struct ham_state *k, const struct trainer_data *d, double h, const double *y,
                      double *lam, double *dtheta)
{
    const size_t n = k->n;
    const struct symp_method *m = k->m;
    comp_step(k, h, y, k->tmp); /* the tape */
    double *qb = lam, *pb = lam + n;
    double *dV = dtheta + model_def_net_offset(d->def, MODEL_NET_HAM_V);
    double *dTh = k->T ? dtheta + model_def_net_offset(d->def, MODEL_NET_HAM_T) : NULL;
    for (int i = m->n_weights - 1; i >= -1; i--) {
        /* the kick after drift i (i = -1: the first kick) */
        const double c = i < 0 ? 0.5 * m->weights[0] * h : kick_coef(m, i, h);
        (void)mlp_grad2_forward(k->V, k->gv, k->qt + (size_t)(i + 1) * n, NULL);
        mlp_grad2_vjp(k->V, k->gv, pb, -c, qb, dV);
        if (i < 0) break;
        /* drift i */
        const double dd = m->weights[i] * h;
        const double *p = k->pt + (size_t)i * n;
        if (k->T) {
            (void)mlp_grad2_forward(k->T, k->gt, p, NULL);
            mlp_grad2_vjp(k->T, k->gt, qb, dd, pb, dTh);
        } else {
            for (size_t j = 0; j < n; j++)
                pb[j] += dd * k->inv[j] * qb[j];
        }
    }
}

/* ---- implicit midpoint: y1 = y0 + h f(m), m = (y0 + y1) / 2, any form ---- */

/* dH/dy (2n) and, unless hess is NULL, Hess H (2n x 2n) at y. */
static void ham_gh(struct ham_state *k, const double *y, double *g, double *hess)
{
    const size_t n = k->n, d = k->dim;
    if (k->form == MODEL_HAM_GENERAL) {
        if (hess)
            (void)mlp_grad_hessian(k->V, k->hv, y, g, hess);
        else
            (void)mlp_grad_eval(k->V, k->hv, y, g);
        return;
    }
    if (hess) {
        memset(hess, 0, d * d * sizeof *hess);
        (void)mlp_grad_hessian(k->V, k->hv, y, g, k->hb);
        for (size_t i = 0; i < n; i++)
            memcpy(hess + i * d, k->hb + i * n, n * sizeof *hess);
    } else {
        (void)mlp_grad_eval(k->V, k->hv, y, g);
    }
    if (!k->T) {
        for (size_t i = 0; i < n; i++) {
            g[n + i] = y[n + i] * k->inv[i];
            if (hess) hess[(n + i) * d + n + i] = k->inv[i];
        }
    } else if (hess) {
        (void)mlp_grad_hessian(k->T, k->ht, y + n, g + n, k->hb);
        for (size_t i = 0; i < n; i++)
            memcpy(hess + (n + i) * d + n, k->hb + i * n, n * sizeof *hess);
    } else {
        (void)mlp_grad_eval(k->T, k->ht, y + n, g + n);
    }
}

/* dx += scale Hess H(y) v and dtheta += scale d/dtheta [v' grad H(y)]. */
static void ham_vjp2(struct ham_state *k, const struct trainer_data *d, const double *y,
                     const double *v, double scale, double *dx, double *dtheta)
{
    const size_t n = k->n;
    (void)mlp_grad2_forward(k->V, k->gv, y, NULL);
    mlp_grad2_vjp(k->V, k->gv, v, scale, dx,
                  dtheta + model_def_net_offset(d->def, MODEL_NET_HAM_V));
    if (k->form == MODEL_HAM_GENERAL) return;
    if (!k->T) {
        for (size_t i = 0; i < n; i++)
            dx[n + i] += scale * k->inv[i] * v[n + i];
        return;
    }
    (void)mlp_grad2_forward(k->T, k->gt, y + n, NULL);
    mlp_grad2_vjp(k->T, k->gt, v + n, scale, dx + n,
                  dtheta + model_def_net_offset(d->def, MODEL_NET_HAM_T));
}

/* Solve a x = b (a: d x d row-major, overwritten; b becomes x) by Gaussian
 * elimination with partial pivoting. -1 when a pivot is 0 or not finite. */
static int lin_solve(size_t d, double *a, double *b)
{
    for (size_t c = 0; c < d; c++) {
        size_t piv = c;
        for (size_t r = c + 1; r < d; r++)
            if (fabs(a[r * d + c]) > fabs(a[piv * d + c])) piv = r;
        if (!(fabs(a[piv * d + c]) > 0) || !isfinite(a[piv * d + c])) return -1;
        if (piv != c) {
            for (size_t j = 0; j < d; j++) {
                double x = a[c * d + j];
                a[c * d + j] = a[piv * d + j];
                a[piv * d + j] = x;
            }
            double x = b[c];
            b[c] = b[piv];
            b[piv] = x;
        }
        for (size_t r = c + 1; r < d; r++) {
            const double f = a[r * d + c] / a[c * d + c];
            if (f == 0) continue;
            for (size_t j = c; j < d; j++)
                a[r * d + j] -= f * a[c * d + j];
            b[r] -= f * b[c];
        }
    }
    for (size_t c = d; c-- > 0;) {
        double s = b[c];
        for (size_t j = c + 1; j < d; j++)
            s -= a[c * d + j] * b[j];
        b[c] = s / a[c * d + c];
    }
    return 0;
}

/* The Newton matrix I - (h/2) J Hess H at y into k->hs + d^2 (transposed
 * when tr), from the Hessian it leaves in k->hs. */
static double *mid_matrix(struct ham_state *k, const double *y, double h, int tr)
{
    const size_t n = k->n, d = k->dim;
    double *hs = k->hs, *a = k->hs + d * d;
    ham_gh(k, y, k->mg, hs);
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            /* (J Hess)[i][j]: row n+i of Hess for i < n, minus row i-n after */
            const double jh = i < n ? hs[(n + i) * d + j] : -hs[(i - n) * d + j];
            const double v = (i == j ? 1.0 : 0.0) - 0.5 * h * jh;
            a[tr ? j * d + i : i * d + j] = v;
        }
    return a;
}

/* One implicit midpoint step by full Newton on m = y0 + (h/2) f(m), to
 * round-off (serving's simplified Newton stops at its newton_tol, 1e-12 by
 * default: the two agree to about that). */
static err_code mid_step(struct ham_state *k, double t, double h, const double *y0, double *y1,
                         err *e)
{
    const size_t n = k->n, d = k->dim;
    double *m = k->mm, *g = k->mg, *r = k->mr;
    ham_gh(k, y0, g, NULL);
    for (size_t i = 0; i < n; i++) {
        m[i] = y0[i] + 0.5 * h * g[n + i];
        m[n + i] = y0[n + i] - 0.5 * h * g[i];
    }
    double prev = INFINITY;
    for (int it = 0; it < 50; it++) {
        double *a = mid_matrix(k, m, h, 0); /* g = grad H(m) too */
        for (size_t i = 0; i < n; i++) {
            r[i] = m[i] - y0[i] - 0.5 * h * g[n + i];
            r[n + i] = m[n + i] - y0[n + i] + 0.5 * h * g[i];
        }
        if (lin_solve(d, a, r))
            return err_set(e, ERR_SOLVER, NULL, "the Newton matrix is singular at t=%.17g", t);
        double nrm = 0;
        for (size_t i = 0; i < d; i++) {
            m[i] -= r[i];
            nrm = fmax(nrm, fabs(r[i]) / (1 + fabs(m[i])));
        }
        if (!isfinite(nrm)) break;
        if (nrm <= 1e-15 || (nrm <= 1e-10 && nrm >= 0.5 * prev)) {
            for (size_t i = 0; i < d; i++)
                y1[i] = 2.0 * m[i] - y0[i];
            return ERR_OK;
        }
        prev = nrm;
    }
    return err_set(e, ERR_SOLVER, NULL, "Newton iteration did not converge at t=%.17g", t);
}

/* The reverse of a midpoint step y0 -> y1: with A = J Hess H(m), mu solves
 * (I - h/2 A)' mu = lam; then lam <- mu + (h/2) A' mu, where
 * A' mu = Hess H(m) v for v = J' mu = [-mu_p; mu_q], and the gradient gets
 * h d/dtheta [v' grad H(m)] (the implicit function theorem on the converged
 * step). */
static err_code mid_back(struct ham_state *k, const struct trainer_data *d, double t, double h,
                         const double *y0, const double *y1, double *lam, double *dtheta, err *e)
{
    const size_t n = k->n, dim = k->dim;
    double *m = k->mm, *mu = k->mu, *v = k->mv;
    for (size_t i = 0; i < dim; i++)
        m[i] = 0.5 * (y0[i] + y1[i]);
    double *a = mid_matrix(k, m, h, 1);
    memcpy(mu, lam, dim * sizeof *mu);
    if (lin_solve(dim, a, mu))
        return err_set(e, ERR_SOLVER, NULL, "the Newton matrix is singular at t=%.17g", t);
    for (size_t i = 0; i < n; i++) {
        v[i] = -mu[n + i];
        v[n + i] = mu[i];
    }
    double *hv = k->mr; /* h Hess H(m) v */
    memset(hv, 0, dim * sizeof *hv);
    ham_vjp2(k, d, m, v, h, hv, dtheta);
    for (size_t i = 0; i < dim; i++)
        lam[i] = mu[i] + 0.5 * hv[i];
    return ERR_OK;
}

/* ---- one step of the job's method, and its reverse ---- */

static err_code step(struct ham_state *k, double t, double h, const double *y, double *out, err *e)
{
    if (k->m->kind == SYMP_MIDPOINT) return mid_step(k, t, h, y, out, e);
    comp_step(k, h, y, out);
    return ERR_OK;
}

static err_code step_back(struct ham_state *k, const struct trainer_data *d, double t, double h,
                          const double *y0, const double *y1, double *lam, double *dtheta, err *e)
{
    if (k->m->kind == SYMP_MIDPOINT) return mid_back(k, d, t, h, y0, y1, lam, dtheta, e);
    comp_back(k, d, h, y0, lam, dtheta);
    return ERR_OK;
}

static err_code grid_room(struct ham_state *k, size_t steps, err *e)
{
    if (steps <= k->cap && k->grid) return ERR_OK;
    double *g = realloc(k->grid, (steps + 1) * k->dim * sizeof *g);
    if (!g) return err_set(e, ERR_NOMEM, NULL, "out of memory for the trajectory's steps");
    k->grid = g;
    k->cap = steps;
    return ERR_OK;
}

/* One segment: from y0 at t[0], observations t[0..nt) with targets y
 * (nt x dim, NaN = missing). Adds scale * the squared errors into *loss and
 * their gradient into dtheta (unless NULL). */
static err_code segment(struct ham_state *k, const struct trainer_data *d, const double *t,
                        size_t nt, const double *y, double scale, double *loss, double *dtheta,
                        err *e)
{
    const size_t dim = k->dim;
    const double h = k->h, ta = t[0];
    long K = 0;
    for (size_t j = 0; j < nt; j++) {
        const double u = t[j] - ta;
        const double near = fmin(16 * DBL_EPSILON * (fabs(ta) + fabs(t[j])), ldexp(h, -20));
        long kk = 0;
        double hx = 0;
        if (u > near) {
            if (!(u / h < (double)k->max_steps + 1))
                return err_set(e, ERR_INVALID, "solver.step",
                               "%.17g is over solver.max_steps (%ld) steps of %.17g", u,
                               k->max_steps, h);
            kk = (long)floor(u / h);
            if (fabs(u - (double)(kk + 1) * h) <= near)
                kk++;
            else if (fabs(u - (double)kk * h) > near)
                hx = u - (double)kk * h;
        }
        k->k[j] = kk;
        k->hx[j] = hx;
        if (kk > K) K = kk;
    }
    if (grid_room(k, (size_t)K, e)) return e->code;
    memcpy(k->grid, k->y0, dim * sizeof *k->y0);
    for (long s = 0; s < K; s++) {
        if (step(k, ta + (double)s * h, h, k->grid + (size_t)s * dim,
                 k->grid + (size_t)(s + 1) * dim, e))
            return e->code;
        for (size_t i = 0; i < dim; i++)
            if (!isfinite(k->grid[(size_t)(s + 1) * dim + i]))
                return err_set(e, ERR_SOLVER, NULL, "the state is not finite at t=%.17g",
                               ta + (double)(s + 1) * h);
    }
    double l = 0;
    for (long s = K; s >= 0; s--) {
        if (dtheta && s == K) memset(k->lam, 0, dim * sizeof *k->lam);
        for (size_t j = 0; j < nt; j++) {
            if (k->k[j] != s) continue;
            const double *ys = k->grid + (size_t)s * dim;
            if (k->hx[j] > 0) {
                if (step(k, ta + (double)s * h, k->hx[j], ys, k->pred, e)) return e->code;
            } else {
                memcpy(k->pred, ys, dim * sizeof *ys);
            }
            memset(k->ybar, 0, dim * sizeof *k->ybar);
            l += loss_regression(LOSS_MSE, dim, k->pred, y + j * dim, scale, k->ybar);
            if (!dtheta) continue;
            if (k->hx[j] > 0 &&
                step_back(k, d, ta + (double)s * h, k->hx[j], ys, k->pred, k->ybar, dtheta, e))
                return e->code;
            for (size_t i = 0; i < dim; i++)
                k->lam[i] += k->ybar[i];
        }
        if (dtheta && s > 0 &&
            step_back(k, d, ta + (double)(s - 1) * h, h, k->grid + (size_t)(s - 1) * dim,
                      k->grid + (size_t)s * dim, k->lam, dtheta, e))
            return e->code;
    }
    *loss += l;
    return ERR_OK;
}

static err_code ham_series_loss(void *state, const struct trainer_data *d, size_t s, double scale,
                                double *loss, double *dtheta, err *e)
{
    struct ham_state *k = state;
    const dataset_series *x = &d->ds->series[s];
    if (dtheta) memset(dtheta, 0, d->np * sizeof(double));
    for (size_t c = 0; c < k->dim; c++)
        k->y0[c] = isnan(x->y[c]) ? 0 : x->y[c];
    *loss = 0;
    return segment(k, d, x->t, x->n, x->y, scale, loss, dtheta, e);
}

static err_code ham_window_loss(void *state, const struct trainer_data *d, const size_t *win_s,
                                const size_t *win_i, const size_t *pick, size_t bs, double *loss,
                                double *grad, err *e)
{
    struct ham_state *k = state;
    const size_t bt = d->spec->batch_time, dim = k->dim;
    size_t count = 0;
    for (size_t b = 0; b < bs; b++) {
        const dataset_series *x = &d->ds->series[win_s[pick[b]]];
        count += loss_observed_count(bt * dim, x->y + win_i[pick[b]] * dim);
    }
    memset(grad, 0, d->np * sizeof(double));
    *loss = 0;
    if (!count) return ERR_OK;
    for (size_t b = 0; b < bs; b++) {
        const dataset_series *x = &d->ds->series[win_s[pick[b]]];
        const size_t i0 = win_i[pick[b]];
        memcpy(k->y0, x->y + i0 * dim, dim * sizeof *k->y0);
        if (segment(k, d, x->t + i0, bt, x->y + i0 * dim, 1.0 / (double)count, loss, grad, e))
            return e->code;
    }
    return ERR_OK;
}

const struct trainer_kind trainer_ham_kind = {
    .setup = ham_setup,
    .count = trainer_series_count,
    .series_loss = ham_series_loss,
    .window_loss = ham_window_loss,
    .free = ham_free,
};
