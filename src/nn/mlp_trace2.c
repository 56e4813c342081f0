/* nn/mlp_trace2.c: see mlp_trace2.h. The layers are read from nn/mlp.h's
 * parameter layout (mlp_layer_at, mlp_layer_offset). */
#include "nn/mlp_trace2.h"

#include "nn/linear.h"

#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct mlp_trace2_ws {
    size_t max_batch, dim, in0, o1, o2;
    double *mem;
    double *in;           /* [x, t], max_batch x in0 */
    double *z1, *h1, *s1; /* first hidden layer, max_batch x o1 each */
    double *z2, *h2, *s2; /* second, max_batch x o2 each */
    double *p;            /* s1 M^T, max_batch x o2 */
    double *y, *tr;       /* max_batch x dim, max_batch */
    double *m;            /* M, o2 x o1 */
};

bool mlp_trace2_fits(const mlp *m)
{
    if (mlp_n_layers(m) != 3 || mlp_output_dim(m) != mlp_state_dim(m)) return false;
    for (size_t l = 0; l < 3; l++)
        if (mlp_layer_at(m, l).kind != MLP_LINEAR) return false;
    return mlp_layer_at(m, 2).act == ACT_IDENTITY;
}

void mlp_trace2_ws_free(mlp_trace2_ws *w)
{
    if (!w) return;
    free(w->mem);
    free(w);
}

err_code mlp_trace2_ws_new(mlp_trace2_ws **out, const mlp *m, size_t max_batch, err *e)
{
    *out = NULL;
    if (!mlp_trace2_fits(m))
        return err_set(e, ERR_INVALID, "layers",
                       "not linear -> linear -> linear without activation, output = state");
    const size_t mw = mlp_max_width(m);
    if (max_batch == 0 || max_batch > (size_t)INT32_MAX / mw)
        return err_set(e, ERR_INVALID, "batch", "batch size %zu: must be 1 .. %zu", max_batch,
                       (size_t)INT32_MAX / mw);
    mlp_trace2_ws *w = calloc(1, sizeof *w);
    if (!w) return err_set(e, ERR_NOMEM, NULL, "mlp_trace2_ws_new: out of memory");
    const size_t nb = max_batch, d = mlp_state_dim(m);
    w->max_batch = nb;
    w->dim = d;
    w->in0 = d + (mlp_time_input(m) ? 1 : 0);
    w->o1 = mlp_layer_at(m, 0).out;
    w->o2 = mlp_layer_at(m, 1).out;
    const size_t total =
        nb * w->in0 + 3 * nb * w->o1 + 4 * nb * w->o2 + nb * (d + 1) + w->o2 * w->o1;
    if (!(w->mem = malloc(total * sizeof *w->mem))) {
        free(w);
        return err_set(e, ERR_NOMEM, NULL, "mlp_trace2_ws_new: out of memory");
    }
    double *p = w->mem;
    w->in = p, p += nb * w->in0;
    w->z1 = p, p += nb * w->o1;
    w->h1 = p, p += nb * w->o1;
    w->s1 = p, p += nb * w->o1;
    w->z2 = p, p += nb * w->o2;
    w->h2 = p, p += nb * w->o2;
    w->s2 = p, p += nb * w->o2;
    w->p = p, p += nb * w->o2;
    w->y = p, p += nb * d;
    w->tr = p, p += nb;
    w->m = p;
    *out = w;
    return ERR_OK;
}

void mlp_trace2_prepare(const mlp *m, mlp_trace2_ws *w)
{
    const double *th = mlp_params_const(m);
    const double *W1 = th + mlp_layer_offset(m, 0), *W2 = th + mlp_layer_offset(m, 1),
                 *W3 = th + mlp_layer_offset(m, 2);
    const size_t o1 = w->o1, o2 = w->o2, in0 = w->in0, d = w->dim;
    for (size_t q = 0; q < o2; q++)
        for (size_t p = 0; p < o1; p++) {
            double c = 0;
            for (size_t j = 0; j < d; j++)
                c += W3[j * o2 + q] * W1[p * in0 + j];
            w->m[q * o1 + p] = W2[q * o1 + p] * c;
        }
}

/* One linear layer by linear_forward itself (GEMM, or its small-layer
 * loops), so the outputs are mlp_forward_batch's. */
static void layer(size_t n, size_t out, size_t in, const double *W, const double *b,
                  const double *u, double *z)
{
    linear_forward(n, out, in, W, NULL, b, u, z);
}

void mlp_trace2_eval(const mlp *m, mlp_trace2_ws *w, size_t n, const double *x, size_t ldx,
                     double t)
{
    const size_t d = w->dim, in0 = w->in0, o1 = w->o1, o2 = w->o2;
    const double *th = mlp_params_const(m);
    const double *W1 = th + mlp_layer_offset(m, 0), *W2 = th + mlp_layer_offset(m, 1),
                 *W3 = th + mlp_layer_offset(m, 2);
    const act_kind a1 = mlp_layer_at(m, 0).act, a2 = mlp_layer_at(m, 1).act;
    for (size_t b = 0; b < n; b++) {
        memcpy(w->in + b * in0, x + b * ldx, d * sizeof *x);
        if (in0 > d) w->in[b * in0 + d] = t;
    }
    layer(n, o1, in0, W1, W1 + o1 * in0, w->in, w->z1);
    act_apply(a1, n * o1, w->z1, w->h1);
    act_deriv(a1, n * o1, w->z1, w->h1, w->s1);
    layer(n, o2, o1, W2, W2 + o2 * o1, w->h1, w->z2);
    act_apply(a2, n * o2, w->z2, w->h2);
    act_deriv(a2, n * o2, w->z2, w->h2, w->s2);
    layer(n, d, o2, W3, W3 + d * o2, w->h2, w->y);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)o2, (int)o1, 1.0, w->s1,
                (int)o1, w->m, (int)o1, 0.0, w->p, (int)o2);
    for (size_t b = 0; b < n; b++) {
        const double *s2 = w->s2 + b * o2, *p = w->p + b * o2;
        double tr = 0;
        for (size_t q = 0; q < o2; q++)
            tr += s2[q] * p[q];
        w->tr[b] = tr;
    }
}

const double *mlp_trace2_y(const mlp_trace2_ws *w)
{
    return w->y;
}

const double *mlp_trace2_tr(const mlp_trace2_ws *w)
{
    return w->tr;
}
