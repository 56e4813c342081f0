/* num/dense.c: dense output of one step. See dense.h.
 *
 * Weights w_i = b_i(theta) from the table's Bernstein coefficients
 * (rk_tableau_dense_weights, or ...weights8 for up to eight times of a
 * step at once), then y = y_n + h sum_i w_i k_i (rk_stage_arg's
 * arithmetic). Cost per output time: stages x (dim + degree). */
#include "num/dense.h"

#include "num/step.h"

#include <stdlib.h>
#include <string.h>

struct ode_dense {
    const struct rk_tableau *tab;
    size_t cap;       /* dim the scratch holds */
    size_t dim;       /* dim of the recorded step */
    double *w;        /* 8 x (stages + dense_stages) weights */
    double *ytmp;     /* cap: argument of a dense stage */
    double t, h;      /* the recorded step: t .. t + h */
    const double *y0; /* borrowed */
    const double *y1; /* borrowed */
    double *k;        /* borrowed; dense stages are written into it */
    int stages_done;  /* the dense stages of this step are in k */
    ode_rhs_fn f;
    void *ctx;
};

ode_dense *ode_dense_new(const struct rk_tableau *tab, size_t dim, err *e)
{
    if (!tab) {
        err_set(e, ERR_INVALID, "method", "no Runge-Kutta table given");
        return NULL;
    }
    ode_dense *d = calloc(1, sizeof *d);
    if (!d) goto fail;
    d->tab = tab;
    d->w = calloc(8 * (size_t)(tab->stages + tab->dense_stages), sizeof *d->w);
    if (!d->w) goto fail;
    if (ode_dense_reserve(d, dim, e)) goto fail_quiet;
    return d;
fail:
    err_set(e, ERR_NOMEM, NULL, "out of memory for the dense output");
fail_quiet:
    ode_dense_free(d);
    return NULL;
}

void ode_dense_free(ode_dense *d)
{
    if (!d) return;
    free(d->w);
    free(d->ytmp);
    free(d);
}

void ode_dense_retable(ode_dense *d, const struct rk_tableau *tab)
{
    d->tab = tab;
}

err_code ode_dense_reserve(ode_dense *d, size_t dim, err *e)
{
    if (dim <= d->cap && d->ytmp) return ERR_OK;
    double *p = realloc(d->ytmp, (dim ? dim : 1) * sizeof *p);
    if (!p) return err_set(e, ERR_NOMEM, NULL, "out of memory for the dense output");
    d->ytmp = p;
    d->cap = dim;
    return ERR_OK;
}

void ode_dense_update(ode_dense *d, size_t dim, double t, double h, const double *y0,
                      const double *y1, double *k, int dense_done, ode_rhs_fn f, void *ctx)
{
    d->dim = dim;
    d->t = t;
    d->h = h;
    d->y0 = y0;
    d->y1 = y1;
    d->k = k;
    d->stages_done = dense_done || d->tab->dense_stages == 0;
    d->f = f;
    d->ctx = ctx;
}

int ode_dense_stages_done(const ode_dense *d)
{
    return d->stages_done;
}

/* The step's dense stages into k, once: 0, or f's code. */
static int dense_stages(ode_dense *d, long *nfe)
{
    if (d->stages_done) return 0;
    if (d->dim > d->cap || !d->f) return -1;
    int rc =
        rk_step_dense_stages(d->tab, d->dim, d->f, d->ctx, d->t, d->h, d->y0, d->k, d->ytmp, nfe);
    if (rc) return rc;
    d->stages_done = 1;
    return 0;
}

int ode_dense_eval(ode_dense *d, double t, double *y, long *nfe)
{
    const size_t dim = d->dim;
    if (t == d->t + d->h) { /* the step's end: exactly y_{n+1} */
        memcpy(y, d->y1, dim * sizeof *y);
        return 0;
    }
    int rc = dense_stages(d, nfe);
    if (rc) return rc;
    const int n = d->tab->stages + d->tab->dense_stages;
    rk_tableau_dense_weights(d->tab, (t - d->t) / d->h, d->w);
    rk_stage_arg(dim, dim, d->w, n, d->h, d->y0, d->k, y);
    return 0;
}

/* The times of a group inside the step, their weights eight at a time
 * (lanes past q repeat theta[0]); one time alone goes the scalar way. */
static void eval_group(ode_dense *d, size_t q, double *theta, double *const *y)
{
    const int n = d->tab->stages + d->tab->dense_stages;
    if (q == 1) {
        rk_tableau_dense_weights(d->tab, theta[0], d->w);
    } else {
        for (size_t l = q; l < 8; l++)
            theta[l] = theta[0];
        rk_tableau_dense_weights8(d->tab, theta, d->w);
    }
    for (size_t l = 0; l < q; l++)
        rk_stage_arg(d->dim, d->dim, d->w + l * (size_t)n, n, d->h, d->y0, d->k, y[l]);
}

int ode_dense_eval_n(ode_dense *d, size_t m, const double *t, double *const *y, long *nfe)
{
    double theta[8], *yq[8];
    size_t q = 0;
    for (size_t i = 0; i < m; i++) {
        if (t[i] == d->t + d->h) {
            memcpy(y[i], d->y1, d->dim * sizeof *y[i]);
            continue;
        }
        int rc = dense_stages(d, nfe);
        if (rc) return rc;
        theta[q] = (t[i] - d->t) / d->h;
        yq[q++] = y[i];
        if (q == 8) {
            eval_group(d, q, theta, yq);
            q = 0;
        }
    }
    if (q) eval_group(d, q, theta, yq);
    return 0;
}
