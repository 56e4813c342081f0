/* nn/mlp_grad3.c: see mlp_grad3.h. Walks the layers itself, from the
 * nn/mlp.h parameter layout, as mlp_grad2.c does. */
#include "nn/mlp_grad3.h"

#include "nn/mlp_grad.h"
#include "nn/mlp_tangent.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { T_V, T_U, T_W, T_UW, T_N }; /* value, the two tangents, the mixed one */

struct mlp_grad3_ws {
    size_t n_layers, dim;
    double *mem;
    double *a[MLP_MAX_LAYERS][T_N]; /* a layer's input, in values each */
    double *z[MLP_MAX_LAYERS][T_N]; /* its pre-activation, out values each */
    double *s[MLP_MAX_LAYERS][3];   /* act', act'', act''' at z */
    double *hb[T_N], *zb[T_N];      /* adjoints, max width each */
};

void mlp_grad3_act_third(act_kind act, size_t n, const double *z, const double *a, double *d3)
{
    for (size_t i = 0; i < n; i++) {
        double s, p;
        switch (act) {
        case ACT_TANH: /* (1 - a^2)(6 a^2 - 2) */
            d3[i] = (1.0 - a[i] * a[i]) * (6.0 * a[i] * a[i] - 2.0);
            break;
        case ACT_SOFTPLUS: /* s(1 - s)(1 - 2s), s = sigmoid(z) */
            s = 1.0 / (1.0 + exp(-z[i]));
            d3[i] = s * (1.0 - s) * (1.0 - 2.0 * s);
            break;
        case ACT_SIGMOID:
            d3[i] = a[i] * (1.0 - a[i]) * (1.0 - 6.0 * a[i] + 6.0 * a[i] * a[i]);
            break;
        case ACT_SILU: /* p((1 - 2s)(3 + z(1 - 2s)) - 2 z p), p = s(1 - s) */
            s = 1.0 / (1.0 + exp(-z[i]));
            p = s * (1.0 - s);
            d3[i] = p * ((1.0 - 2.0 * s) * (3.0 + z[i] * (1.0 - 2.0 * s)) - 2.0 * z[i] * p);
            break;
        case ACT_CUBE:
            d3[i] = 6.0;
            break;
        case ACT_SIN:
            d3[i] = -cos(z[i]);
            break;
        default: /* identity, square; the others are refused by mlp_grad_check */
            d3[i] = 0.0;
            break;
        }
    }
}

void mlp_grad3_ws_free(mlp_grad3_ws *w)
{
    if (!w) return;
    free(w->mem);
    free(w);
}

err_code mlp_grad3_ws_new(mlp_grad3_ws **out, const mlp *m, err *e)
{
    *out = NULL;
    err_code rc = mlp_grad_check(m, e);
    if (rc) return rc;
    mlp_grad3_ws *w = calloc(1, sizeof *w);
    if (!w) return err_set(e, ERR_NOMEM, NULL, "mlp_grad3_ws_new: out of memory");
    w->n_layers = mlp_n_layers(m);
    w->dim = mlp_state_dim(m);
    const size_t mw = mlp_max_width(m);
    size_t total = 2 * T_N * mw;
    for (size_t l = 0; l < w->n_layers; l++) {
        const mlp_layer ly = mlp_layer_at(m, l);
        total += T_N * ly.in + (T_N + 3) * ly.out;
    }
    /* one extra output slot: the network's output, read as the next input */
    total += T_N;
    if (!(w->mem = calloc(total, sizeof *w->mem))) {
        mlp_grad3_ws_free(w);
        return err_set(e, ERR_NOMEM, NULL, "mlp_grad3_ws_new: out of memory");
    }
    double *p = w->mem;
    for (size_t l = 0; l < w->n_layers; l++) {
        const mlp_layer ly = mlp_layer_at(m, l);
        for (int k = 0; k < T_N; k++)
            w->a[l][k] = p, p += ly.in;
        for (int k = 0; k < T_N; k++)
            w->z[l][k] = p, p += ly.out;
        for (int k = 0; k < 3; k++)
            w->s[l][k] = p, p += ly.out;
    }
    for (int k = 0; k < T_N; k++) {
        w->hb[k] = p, p += mw;
        w->zb[k] = p, p += mw;
    }
    *out = w;
    return ERR_OK;
}

/* z = W a (+ b when bias) for one layer's row-major W. */
static void lin(const double *W, const double *b, size_t out, size_t in, const double *a,
                double *z)
{
    for (size_t o = 0; o < out; o++) {
        const double *row = W + o * in;
        double s = b ? b[o] : 0.0;
        for (size_t k = 0; k < in; k++)
            s += row[k] * a[k];
        z[o] = s;
    }
}

double mlp_grad3_uhw(const mlp *m, mlp_grad3_ws *w, const double *x, const double *u,
                     const double *v, double scale, double *dx, double *dtheta)
{
    const size_t L = w->n_layers;
    const double *theta = mlp_params_const(m);
    memcpy(w->a[0][T_V], x, w->dim * sizeof *x);
    memcpy(w->a[0][T_U], u, w->dim * sizeof *u);
    memcpy(w->a[0][T_W], v, w->dim * sizeof *v);
    memset(w->a[0][T_UW], 0, w->dim * sizeof *x);
    double out[T_N];
    for (size_t l = 0; l < L; l++) {
        const mlp_layer ly = mlp_layer_at(m, l);
        double **a = w->a[l], **z = w->z[l], **s = w->s[l];
        if (ly.kind == MLP_LINEAR) {
            const double *W = theta + mlp_layer_offset(m, l), *b = W + ly.out * ly.in;
            lin(W, b, ly.out, ly.in, a[T_V], z[T_V]);
            for (int k = T_U; k < T_N; k++)
                lin(W, NULL, ly.out, ly.in, a[k], z[k]);
        } else {
            for (int k = 0; k < T_N; k++)
                memcpy(z[k], a[k], ly.out * sizeof *z[k]);
        }
        double *h[T_N];
        for (int k = 0; k < T_N; k++)
            h[k] = l + 1 < L ? w->a[l + 1][k] : &out[k];
        act_apply(ly.act, ly.out, z[T_V], h[T_V]);
        act_deriv(ly.act, ly.out, z[T_V], h[T_V], s[0]);
        act_deriv2(ly.act, ly.out, z[T_V], h[T_V], s[1]);
        mlp_grad3_act_third(ly.act, ly.out, z[T_V], h[T_V], s[2]);
        for (size_t o = 0; o < ly.out; o++) {
            h[T_UW][o] = s[1][o] * z[T_U][o] * z[T_W][o] + s[0][o] * z[T_UW][o];
            h[T_U][o] = s[0][o] * z[T_U][o];
            h[T_W][o] = s[0][o] * z[T_W][o];
        }
    }
    const double S = out[T_UW];
    if (!dx && !dtheta) return S;
    /* reverse of the pass above, seeded with dS/dh_uw = 1 at the output */
    double **hb = w->hb, **zb = w->zb;
    for (int k = 0; k < T_N; k++)
        hb[k][0] = k == T_UW ? 1.0 : 0.0;
    for (size_t l = L; l-- > 0;) {
        const mlp_layer ly = mlp_layer_at(m, l);
        double **a = w->a[l], **z = w->z[l], **s = w->s[l];
        for (size_t o = 0; o < ly.out; o++) {
            const double huw = hb[T_UW][o], zu = z[T_U][o], zw = z[T_W][o];
            zb[T_UW][o] = huw * s[0][o];
            zb[T_U][o] = hb[T_U][o] * s[0][o] + huw * s[1][o] * zw;
            zb[T_W][o] = hb[T_W][o] * s[0][o] + huw * s[1][o] * zu;
            zb[T_V][o] = hb[T_V][o] * s[0][o] + hb[T_U][o] * s[1][o] * zu +
                         hb[T_W][o] * s[1][o] * zw +
                         huw * (s[2][o] * zu * zw + s[1][o] * z[T_UW][o]);
        }
        if (ly.kind == MLP_LINEAR) {
            const size_t off = mlp_layer_offset(m, l);
            const double *W = theta + off;
            if (dtheta) {
                double *dW = dtheta + off, *db = dW + ly.out * ly.in;
                for (size_t o = 0; o < ly.out; o++) {
                    double *r = dW + o * ly.in;
                    for (int k = 0; k < T_N; k++) {
                        const double c = scale * zb[k][o], *ak = a[k];
                        if (c == 0.0) continue;
                        for (size_t i = 0; i < ly.in; i++)
                            r[i] += c * ak[i];
                    }
                    db[o] += scale * zb[T_V][o];
                }
            }
            for (int k = 0; k < T_N; k++) {
                memset(hb[k], 0, ly.in * sizeof *hb[k]);
                for (size_t o = 0; o < ly.out; o++) {
                    const double c = zb[k][o], *row = W + o * ly.in;
                    for (size_t i = 0; i < ly.in; i++)
                        hb[k][i] += c * row[i];
                }
            }
        } else {
            for (int k = 0; k < T_N; k++)
                memcpy(hb[k], zb[k], ly.out * sizeof *hb[k]);
        }
    }
    if (dx)
        for (size_t i = 0; i < w->dim; i++)
            dx[i] += scale * hb[T_V][i];
    return S;
}
