/* model/lag_fit.c: see lag_fit.h. */
#include "model/lag_fit.h"

#include "model/lagrangian.h"
#include "nn/mlp_grad.h"
#include "nn/mlp_grad2.h"
#include "nn/mlp_grad3.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK (OpenBLAS exports the Fortran symbols). */
void dgetrf_(const int *m, const int *n, double *a, const int *lda, int *ipiv, int *info);
void dgetrs_(const char *trans, const int *n, const int *nrhs, const double *a, const int *lda,
             const int *ipiv, double *b, const int *ldb, int *info);

struct lag_fit {
    size_t n; /* dof */
    mlp_grad_ws *gw;
    mlp_grad2_ws *g2;
    mlp_grad3_ws *g3;
    double *g, *hess, *lu, *u, *w; /* 2n, (2n)^2, n^2, 2n, 2n */
    int *ipiv;
};

void lag_fit_free(lag_fit *k)
{
    if (!k) return;
    mlp_grad_ws_free(k->gw);
    mlp_grad2_ws_free(k->g2);
    mlp_grad3_ws_free(k->g3);
    free(k->g), free(k->hess), free(k->lu), free(k->u), free(k->w), free(k->ipiv);
    free(k);
}

err_code lag_fit_new(lag_fit **out, const mlp *net, err *e)
{
    *out = NULL;
    const size_t d = mlp_state_dim(net);
    if (d % 2)
        return err_set(e, ERR_INVALID, "layers[0]",
                       "a Lagrangian network reads [q; dq/dt]: an even input size, not %zu", d);
    lag_fit *k = calloc(1, sizeof *k);
    if (!k) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    k->n = d / 2;
    err_code rc;
    if ((rc = mlp_grad_ws_new(&k->gw, net, 1, e)) || (rc = mlp_grad2_ws_new(&k->g2, net, e)) ||
        (rc = mlp_grad3_ws_new(&k->g3, net, e)))
        goto fail;
    k->g = malloc(d * sizeof *k->g);
    k->hess = malloc(d * d * sizeof *k->hess);
    k->lu = malloc(k->n * k->n * sizeof *k->lu);
    k->u = malloc(d * sizeof *k->u);
    k->w = malloc(d * sizeof *k->w);
    k->ipiv = malloc(k->n * sizeof *k->ipiv);
    if (!k->g || !k->hess || !k->lu || !k->u || !k->w || !k->ipiv) {
        rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
        goto fail;
    }
    *out = k;
    return ERR_OK;
fail:
    lag_fit_free(k);
    return rc;
}

/* Factor M (from k->hess) into k->lu by LU with partial pivoting; -1 when
 * singular. LU rather than Cholesky: the transposed solve for lambda reuses
 * it, and a trained M need not be definite. */
static int mass_factor(lag_fit *k)
{
    const size_t n = k->n, d = 2 * n;
    const int ni = (int)n;
    double scale = 0.0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            /* column-major for LAPACK: lu[j*n + i] = M_ij */
            const double v = k->hess[(n + i) * d + n + j];
            k->lu[j * n + i] = v;
            if (fabs(v) > scale) scale = fabs(v);
        }
    if (!(scale > 0) || !isfinite(scale)) return -1;
    int info = 0;
    dgetrf_(&ni, &ni, k->lu, &ni, k->ipiv, &info);
    if (info != 0) return -1;
    for (size_t i = 0; i < n; i++)
        if (!(fabs(k->lu[i * n + i]) > LAGRANGIAN_PIVOT_TOL * scale)) return -1;
    return 0;
}

static void mass_solve(lag_fit *k, const char *trans, double *b)
{
    const int ni = (int)k->n, one = 1;
    int info = 0;
    dgetrs_(trans, &ni, &one, k->lu, &ni, k->ipiv, b, &ni, &info);
}

static err_code singular(err *e)
{
    return err_set(e, ERR_SOLVER, NULL,
                   "the mass matrix d2L/d(dq/dt)2 is singular at an observed state: the "
                   "Euler-Lagrange equations do not determine the acceleration there");
}

err_code lag_fit_accel(lag_fit *k, const mlp *net, const double *x, double *acc, err *e)
{
    const size_t n = k->n, d = 2 * n;
    (void)mlp_grad_hessian(net, k->gw, x, k->g, k->hess);
    const double *v = x + n;
    for (size_t i = 0; i < n; i++) {
        double s = k->g[i];
        const double *c = k->hess + (n + i) * d; /* d2L/dv_i dq_j, j < n */
        for (size_t j = 0; j < n; j++)
            s -= c[j] * v[j];
        acc[i] = s;
    }
    if (mass_factor(k)) return singular(e);
    mass_solve(k, "N", acc);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(acc[i])) return singular(e);
    return ERR_OK;
}

err_code lag_fit_pair(lag_fit *k, const mlp *net, const double *x, const double *xdot,
                      double scale, double *sq, double *dtheta, err *e)
{
    const size_t n = k->n;
    double *acc = k->w + n, *lam = k->u + n;
    if (lag_fit_accel(k, net, x, acc, e)) return e->code;
    double l = 0;
    for (size_t i = 0; i < n; i++) {
        const double rq = x[n + i] - xdot[i], ra = acc[i] - xdot[n + i];
        l += rq * rq + ra * ra;
        lam[i] = 2.0 * scale * ra; /* r = dloss/da, made lambda below */
    }
    *sq = l;
    if (!dtheta) return ERR_OK;
    mass_solve(k, "T", lam);
    memcpy(k->w, x + n, n * sizeof *k->w); /* w = [v; a] */
    /* lambda' dL/dq: the direction [lambda; 0] of mlp_grad2 */
    memcpy(k->u, lam, n * sizeof *k->u);
    memset(k->u + n, 0, n * sizeof *k->u);
    (void)mlp_grad2_forward(net, k->g2, x, NULL);
    mlp_grad2_vjp(net, k->g2, k->u, 1.0, NULL, dtheta);
    /* - u' Hess L w, u = [0; lambda] */
    memcpy(k->u + n, k->u, n * sizeof *k->u);
    memset(k->u, 0, n * sizeof *k->u);
    (void)mlp_grad3_uhw(net, k->g3, x, k->u, k->w, -1.0, NULL, dtheta);
    return ERR_OK;
}
