/* model/lagrangian.c: see lagrangian.h. nn/mlp_grad.h gives L, its
 * gradient and Hessian at a state; this file takes the mass matrix and the
 * right-hand side of the Euler-Lagrange equations from them, solves with
 * LAPACK, and drives num/driver.h. */
#include "model/lagrangian.h"

#include "model/batch_solve.h"
#include "nn/mlp_grad.h"
#include "num/tableau.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK (OpenBLAS exports the Fortran symbols). */
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *lda,
             double *b, const int *ldb, int *info);
void dgetrf_(const int *m, const int *n, double *a, const int *lda, int *ipiv, int *info);
void dgetrs_(const char *trans, const int *n, const int *nrhs, const double *a, const int *lda,
             const int *ipiv, double *b, const int *ldb, int *info);

struct lagrangian_model {
    size_t n; /* dof */
    mlp *net;
    model_solver solver;
};

/* One thread's scratch for one state at a time. */
typedef struct lag_ws {
    const lagrangian_model *m;
    mlp_grad_ws *gw;
    double *g, *hess, *a; /* 2n; (2n)^2; n^2 (the factor) */
    int *ipiv;            /* n */
    err *e;
    int nonfinite_ok; /* solving: a non-finite M gives a non-finite f (retried), not an error */
} lag_ws;

static void ws_free(lag_ws *w)
{
    mlp_grad_ws_free(w->gw);
    free(w->g);
    free(w->hess);
    free(w->a);
    free(w->ipiv);
    memset(w, 0, sizeof *w);
}

static err_code ws_init(lag_ws *w, const lagrangian_model *m, err *e)
{
    memset(w, 0, sizeof *w);
    w->m = m;
    w->e = e;
    const size_t n = m->n, d = 2 * n;
    if (mlp_grad_ws_new(&w->gw, m->net, 1, e)) goto fail;
    w->g = malloc(d * sizeof *w->g);
    w->hess = malloc(d * d * sizeof *w->hess);
    w->a = malloc(n * n * sizeof *w->a);
    w->ipiv = malloc(n * sizeof *w->ipiv);
    if (!w->g || !w->hess || !w->a || !w->ipiv) {
        err_set(e, ERR_NOMEM, NULL, "out of memory for a lagrangian solve");
        goto fail;
    }
    return ERR_OK;
fail:
    ws_free(w);
    return e->code;
}

/* ---- construction ---- */

void lagrangian_model_free(lagrangian_model *m)
{
    if (!m) return;
    mlp_free(m->net);
    free(m);
}

err_code lagrangian_model_new(lagrangian_model **out, const model_def *d, err *e)
{
    *out = NULL;
    if (!d) return err_set(e, ERR_INVALID, NULL, "no model given");
    if (d->kind != MODEL_KIND_LAGRANGIAN)
        return err_set(e, ERR_INVALID, "kind", "is \"%s\", expected \"lagrangian\"",
                       model_kind_name(d->kind));
    err_code rc = model_def_validate(d, e);
    if (rc) return rc;
    lagrangian_model *m = calloc(1, sizeof *m);
    if (!m) return err_set(e, ERR_NOMEM, NULL, "out of memory for a model");
    m->n = d->state_dim / 2;
    m->solver = d->solver;
    const model_net *n = &d->nets[MODEL_NET_LAG_L];
    const mlp_spec spec = {.state_dim = n->in_dim, .n_layers = n->n_layers, .layers = n->layers};
    if ((rc = mlp_new(&m->net, &spec, e)) || (rc = mlp_grad_check(m->net, e))) {
        err_prefix_field(e, "lagrangian");
        goto fail;
    }
    memcpy(mlp_params(m->net), d->params, mlp_n_params(m->net) * sizeof(double));
    err pe; /* final parameters: pack; out of memory only serves it unpacked (same results) */
    err_clear(&pe);
    (void)mlp_pack(m->net, &pe);
    *out = m;
    return ERR_OK;
fail:
    lagrangian_model_free(m);
    return rc;
}

size_t lagrangian_model_dof(const lagrangian_model *m)
{
    return m->n;
}

/* ---- the Euler-Lagrange equations at one state ---- */

/* Solve M x = b in place (b: n values) from the Hessian in w->hess: 0, or
 * -1 when M is singular (LAGRANGIAN_PIVOT_TOL), or 1 when M is not finite
 * (the state itself overflowed, as a trial stage of a too long step on a
 * blowing-up solution does: not a property of L). Cholesky first: it is the
 * cheaper factorisation and a trained L's M is usually positive definite
 * (a kinetic energy); LU for an M that is invertible but not. */
static int mass_solve(lag_ws *w, double *b)
{
    const size_t n = w->m->n, d = 2 * n;
    const int ni = (int)n, one = 1;
    double scale = 0.0;
    int finite = 1;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            /* M is symmetric: row-major and column-major are the same copy */
            const double v = w->hess[(n + i) * d + n + j];
            w->a[i * n + j] = v;
            finite &= isfinite(v);
            if (fabs(v) > scale) scale = fabs(v);
        }
    if (!finite) return 1;
    if (!(scale > 0)) return -1;
    const double tol = LAGRANGIAN_PIVOT_TOL * scale;
    int info = 0;
    dpotrf_("L", &ni, w->a, &ni, &info);
    if (info == 0) {
        for (size_t i = 0; i < n; i++)
            if (!(w->a[i * n + i] * w->a[i * n + i] > tol)) return -1;
        dpotrs_("L", &ni, &one, w->a, &ni, b, &ni, &info);
        return info == 0 ? 0 : -1;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            w->a[i * n + j] = w->hess[(n + i) * d + n + j];
    dgetrf_(&ni, &ni, w->a, &ni, w->ipiv, &info);
    if (info != 0) return -1;
    for (size_t i = 0; i < n; i++)
        if (!(fabs(w->a[i * n + i]) > tol)) return -1;
    dgetrs_("N", &ni, &one, w->a, &ni, w->ipiv, b, &ni, &info);
    return info == 0 ? 0 : -1;
}

/* f = [v; M^-1 (dL/dq - C v)] at y: 0, -1 for a singular M, 1 for a
 * non-finite one. */
static int accel(lag_ws *w, const double *y, double *f)
{
    const size_t n = w->m->n, d = 2 * n;
    (void)mlp_grad_hessian(w->m->net, w->gw, y, w->g, w->hess);
    const double *v = y + n;
    double *b = f + n;
    for (size_t i = 0; i < n; i++) {
        double s = w->g[i];
        const double *c = w->hess + (n + i) * d; /* row n+i: d2L/dv_i dq_j for j < n */
        for (size_t j = 0; j < n; j++)
            s -= c[j] * v[j];
        b[i] = s;
    }
    memcpy(f, v, n * sizeof *f);
    return mass_solve(w, b);
}

static int rhs(double t, const double *y, double *dydt, void *ctx)
{
    lag_ws *w = ctx;
    const int rc = accel(w, y, dydt);
    if (rc == 0) return 0;
    if (rc > 0 && w->nonfinite_ok) { /* not finite: the solver retries with a shorter step */
        const size_t n = w->m->n;
        for (size_t i = 0; i < n; i++)
            dydt[n + i] = NAN;
        return 0;
    }
    if (rc > 0) {
        err_set(w->e, ERR_SOLVER, NULL, "the mass matrix d2L/d(dq/dt)2 is not finite at t=%.17g",
                t);
        return -1;
    }
    err_set(w->e, ERR_SOLVER, NULL,
            "the mass matrix d2L/d(dq/dt)2 is singular at t=%.17g: the Euler-Lagrange equations "
            "do not determine the acceleration there",
            t);
    return -1;
}

/* ---- public evaluations ---- */

err_code lagrangian_model_energy(const lagrangian_model *m, size_t n, const double *y,
                                 double *energy, double *grad, err *e)
{
    lag_ws w;
    if (ws_init(&w, m, e)) return e->code;
    const size_t k = m->n, d = 2 * k;
    for (size_t r = 0; r < n; r++) {
        const double *x = y + r * d, *v = x + k;
        const double l = grad ? mlp_grad_hessian(m->net, w.gw, x, w.g, w.hess)
                              : mlp_grad_eval(m->net, w.gw, x, w.g);
        double s = -l;
        for (size_t i = 0; i < k; i++)
            s += v[i] * w.g[k + i];
        energy[r] = s;
        if (!grad) continue;
        /* dE/dy_j = sum_i v_i d2L/dv_i dy_j - dL/dq_j (j < k) or + 0 (j >= k) */
        double *gr = grad + r * d;
        for (size_t j = 0; j < d; j++) {
            double acc = j < k ? -w.g[j] : 0.0;
            for (size_t i = 0; i < k; i++)
                acc += v[i] * w.hess[(k + i) * d + j];
            gr[j] = acc;
        }
    }
    ws_free(&w);
    return ERR_OK;
}

err_code lagrangian_model_field(const lagrangian_model *m, const double *y, double *f, err *e)
{
    lag_ws w;
    if (ws_init(&w, m, e)) return e->code;
    err_code rc = rhs(0.0, y, f, &w) == 0 ? ERR_OK : e->code;
    ws_free(&w);
    return rc;
}

err_code lagrangian_model_method(const lagrangian_model *m, const model_solver *over,
                                 const char **method, err *e)
{
    if (model_solver_validate(over, e)) return ERR_INVALID;
    const char *name = over->method[0]      ? over->method
                       : m->solver.method[0] ? m->solver.method
                                             : "dopri5";
    if (model_lagrangian_method_check(name, e)) return ERR_INVALID;
    *method = rk_tableau_find(name)->name;
    return ERR_OK;
}

/* ---- solving ---- */

err_code lagrangian_model_solve(const lagrangian_model *m, const struct model_traj_query *q,
                                double *y_out, double *energy, struct model_traj_stats *st,
                                err *e)
{
    struct model_traj_stats local;
    if (!st) st = &local;
    model_traj_stats_clear(st);
    const char *method;
    if (lagrangian_model_method(m, &q->solver, &method, e)) return ERR_INVALID;
    snprintf(st->method, sizeof st->method, "%s", method);
    if (q->batch == 0 || q->n_t == 0)
        return err_set(e, ERR_INVALID, q->batch ? "t" : "y0", "is empty");
    const size_t d = 2 * m->n;
    model_solver over = q->solver;
    snprintf(over.method, sizeof over.method, "%s", method);
    const struct rk_tableau *tab;
    struct ode_options o;
    if (model_solver_options(&m->solver, &over, LAGRANGIAN_DEFAULT_N_STEPS, &tab, &o, e))
        return ERR_INVALID;
    o.abort = q->abort;
    o.abort_ctx = q->abort_ctx;
    lag_ws w;
    if (ws_init(&w, m, e)) return e->code;
    w.nonfinite_ok = 1;
    ode_solver *s = ode_solver_new(tab, d, e);
    if (!s) {
        ws_free(&w);
        return e->code;
    }
    struct ode_problem p = {.f = rhs, .ctx = &w, .dim = d, .t0 = q->t0, .autonomous = 1};
    const struct model_batch mb = model_traj_batch(q);
    struct ode_stats os;
    err_code rc = model_batch_solve(s, &p, &o, &mb, y_out, &os, e);
    model_traj_stats_add(st, &os);
    ode_solver_free(s);
    ws_free(&w);
    if (rc == ERR_OK && energy) {
        const size_t rows = q->t_len ? q->n_t : q->batch * q->n_t;
        rc = lagrangian_model_energy(m, rows, y_out, energy, NULL, e);
    }
    return rc;
}
