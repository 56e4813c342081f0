/* nn/mlp_tangent.c: see mlp_tangent.h. The layers are walked here from
 * nn/mlp.h's parameter layout (mlp_layer_at, mlp_layer_offset); every
 * product over the batch is one cblas_dgemm. */
#include "nn/mlp_tangent.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct mlp_tangent_ws {
    size_t max_batch, max_k, n_layers, in0, dim;
    size_t n, k; /* the latest forward's */
    double *mem;
    double *a0, *ad0;                /* layer 0's input [x, t] (n x in0), its tangents (nk x in0) */
    double *z[MLP_MAX_LAYERS];       /* pre-activation, n x out */
    double *h[MLP_MAX_LAYERS];       /* output, n x out */
    double *s1[MLP_MAX_LAYERS];      /* act'(z), n x out */
    double *s2[MLP_MAX_LAYERS];      /* act''(z), n x out */
    double *zd[MLP_MAX_LAYERS];      /* tangent pre-activation, nk x out */
    double *hd[MLP_MAX_LAYERS];      /* tangent output, nk x out */
    double *hb, *zb, *hdb, *zdb;     /* reverse sweep: n x mw, n x mw, nk x mw, nk x mw */
};

void mlp_tangent_ws_free(mlp_tangent_ws *w)
{
    if (!w) return;
    free(w->mem);
    free(w);
}

err_code mlp_tangent_ws_new(mlp_tangent_ws **out, const mlp *m, size_t max_batch, size_t max_k,
                            err *e)
{
    *out = NULL;
    if (max_batch == 0 || max_k == 0)
        return err_set(e, ERR_INVALID, "max_batch", "batch and tangents must be at least 1");
    mlp_tangent_ws *w = calloc(1, sizeof *w);
    if (!w) return err_set(e, ERR_NOMEM, NULL, "mlp_tangent_ws_new: out of memory");
    const size_t nb = max_batch, nk = max_batch * max_k, mw = mlp_max_width(m);
    w->max_batch = nb;
    w->max_k = max_k;
    w->n_layers = mlp_n_layers(m);
    w->dim = mlp_state_dim(m);
    w->in0 = w->dim + (mlp_time_input(m) ? 1 : 0);
    size_t total = (nb + nk) * w->in0 + 2 * (nb + nk) * mw;
    for (size_t l = 0; l < w->n_layers; l++)
        total += (4 * nb + 2 * nk) * mlp_layer_at(m, l).out;
    if (!(w->mem = calloc(total, sizeof *w->mem))) {
        free(w);
        return err_set(e, ERR_NOMEM, NULL, "mlp_tangent_ws_new: out of memory");
    }
    double *p = w->mem;
    w->a0 = p, p += nb * w->in0;
    w->ad0 = p, p += nk * w->in0;
    for (size_t l = 0; l < w->n_layers; l++) {
        const size_t o = mlp_layer_at(m, l).out;
        w->z[l] = p, p += nb * o;
        w->h[l] = p, p += nb * o;
        w->s1[l] = p, p += nb * o;
        w->s2[l] = p, p += nb * o;
        w->zd[l] = p, p += nk * o;
        w->hd[l] = p, p += nk * o;
    }
    w->hb = p, p += nb * mw;
    w->zb = p, p += nb * mw;
    w->hdb = p, p += nk * mw;
    w->zdb = p;
    *out = w;
    return ERR_OK;
}

/* c (r x o) = a (r x i) W^T, W o x i */
static void mul_wt(size_t r, size_t o, size_t i, const double *a, const double *wt, double *c)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)r, (int)o, (int)i, 1.0, a, (int)i,
                wt, (int)i, 0.0, c, (int)o);
}

void mlp_tangent_forward(const mlp *m, mlp_tangent_ws *w, size_t n, const double *x, double t,
                         size_t k, const double *u, double *y, double *yd)
{
    const size_t d = w->dim, in0 = w->in0, nk = n * k;
    const double *theta = mlp_params_const(m);
    w->n = n;
    w->k = k;
    for (size_t b = 0; b < n; b++) {
        memcpy(w->a0 + b * in0, x + b * d, d * sizeof *x);
        if (in0 > d) w->a0[b * in0 + d] = t;
        for (size_t j = 0; j < k; j++) {
            double *r = w->ad0 + (b * k + j) * in0;
            if (u) {
                memcpy(r, u + (b * k + j) * d, d * sizeof *u);
            } else {
                memset(r, 0, d * sizeof *r);
                r[j] = 1.0;
            }
            if (in0 > d) r[d] = 0.0;
        }
    }
    const double *a = w->a0, *ad = w->ad0;
    size_t width = in0;
    for (size_t l = 0; l < w->n_layers; l++) {
        const mlp_layer ly = mlp_layer_at(m, l);
        const size_t o = ly.out;
        if (ly.kind == MLP_LINEAR) {
            const double *W = theta + mlp_layer_offset(m, l), *bias = W + o * ly.in;
            mul_wt(n, o, ly.in, a, W, w->z[l]);
            for (size_t b = 0; b < n; b++)
                for (size_t q = 0; q < o; q++)
                    w->z[l][b * o + q] += bias[q];
            mul_wt(nk, o, ly.in, ad, W, w->zd[l]);
        } else {
            memcpy(w->z[l], a, n * o * sizeof *a);
            memcpy(w->zd[l], ad, nk * o * sizeof *ad);
        }
        act_apply(ly.act, n * o, w->z[l], w->h[l]);
        act_deriv(ly.act, n * o, w->z[l], w->h[l], w->s1[l]);
        act_deriv2(ly.act, n * o, w->z[l], w->h[l], w->s2[l]);
        for (size_t b = 0; b < n; b++)
            for (size_t j = 0; j < k; j++) {
                const double *s1 = w->s1[l] + b * o, *zd = w->zd[l] + (b * k + j) * o;
                double *hd = w->hd[l] + (b * k + j) * o;
                for (size_t q = 0; q < o; q++)
                    hd[q] = s1[q] * zd[q];
            }
        a = w->h[l];
        ad = w->hd[l];
        width = o;
    }
    if (y) memcpy(y, a, n * width * sizeof *y);
    if (yd) memcpy(yd, ad, nk * width * sizeof *yd);
}

void mlp_tangent_vjp(const mlp *m, mlp_tangent_ws *w, const double *ybar, const double *vbar,
                     double *dx, double *dtheta)
{
    const size_t n = w->n, k = w->k, nk = n * k, L = w->n_layers;
    const double *theta = mlp_params_const(m);
    const size_t out = mlp_layer_at(m, L - 1).out;
    if (ybar)
        memcpy(w->hb, ybar, n * out * sizeof *ybar);
    else
        memset(w->hb, 0, n * out * sizeof *w->hb);
    if (vbar)
        memcpy(w->hdb, vbar, nk * out * sizeof *vbar);
    else
        memset(w->hdb, 0, nk * out * sizeof *w->hdb);
    for (size_t l = L; l-- > 0;) {
        const mlp_layer ly = mlp_layer_at(m, l);
        const size_t o = ly.out, in = ly.in;
        const double *a = l ? w->h[l - 1] : w->a0, *ad = l ? w->hd[l - 1] : w->ad0;
        for (size_t b = 0; b < n; b++) {
            const double *s1 = w->s1[l] + b * o, *s2 = w->s2[l] + b * o;
            double *zb = w->zb + b * o;
            const double *hb = w->hb + b * o;
            for (size_t q = 0; q < o; q++)
                zb[q] = hb[q] * s1[q];
            for (size_t j = 0; j < k; j++) {
                const size_t r = b * k + j;
                const double *hdb = w->hdb + r * o, *zd = w->zd[l] + r * o;
                double *zdb = w->zdb + r * o;
                for (size_t q = 0; q < o; q++) {
                    zb[q] += hdb[q] * s2[q] * zd[q];
                    zdb[q] = hdb[q] * s1[q];
                }
            }
        }
        if (ly.kind == MLP_LINEAR) {
            const double *W = theta + mlp_layer_offset(m, l);
            if (dtheta) {
                double *dW = dtheta + mlp_layer_offset(m, l), *db = dW + o * in;
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)o, (int)in, (int)n, 1.0,
                            w->zb, (int)o, a, (int)in, 1.0, dW, (int)in);
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)o, (int)in, (int)nk,
                            1.0, w->zdb, (int)o, ad, (int)in, 1.0, dW, (int)in);
                for (size_t b = 0; b < n; b++)
                    for (size_t q = 0; q < o; q++)
                        db[q] += w->zb[b * o + q];
            }
            /* abar = zbar W (n x in), adbar = zdbar W (nk x in), into hb / hdb */
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)in, (int)o, 1.0,
                        w->zb, (int)o, W, (int)in, 0.0, w->hb, (int)in);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nk, (int)in, (int)o, 1.0,
                        w->zdb, (int)o, W, (int)in, 0.0, w->hdb, (int)in);
        } else {
            memcpy(w->hb, w->zb, n * o * sizeof *w->hb);
            memcpy(w->hdb, w->zdb, nk * o * sizeof *w->hdb);
        }
    }
    if (!dx) return;
    const size_t d = w->dim, in0 = w->in0;
    for (size_t b = 0; b < n; b++)
        for (size_t i = 0; i < d; i++)
            dx[b * d + i] += w->hb[b * in0 + i];
}
