/* nn/mlp_jac_batch.c: see mlp_jac_batch.h. The layers are walked from
 * nn/mlp.h's parameter layout (mlp_layer_at, mlp_layer_offset). */
#include "nn/mlp_jac_batch.h"

#include "nn/linear.h"

#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct mlp_jac_batch_ws {
    size_t max_batch, dim, in0, out_dim;
    size_t n; /* the latest evaluation's */
    double *mem;
    double *buf[2];     /* ping-pong layer values, max_batch (1 + dim) x max(width) */
    double *s;          /* act'(z) of the states' rows, max_batch x max_width */
    double *a;          /* act(z) when it cannot overwrite z, max_batch x max_width */
    double *wcol;       /* a first linear layer's columns j < dim, dim x its width */
    const double *last; /* the buffer holding the output rows */
};

void mlp_jac_batch_ws_free(mlp_jac_batch_ws *w)
{
    if (!w) return;
    free(w->mem);
    free(w);
}

err_code mlp_jac_batch_ws_new(mlp_jac_batch_ws **out, const mlp *m, size_t max_batch, err *e)
{
    *out = NULL;
    const size_t d = mlp_state_dim(m), mw = mlp_max_width(m);
    if (max_batch == 0 || max_batch > (size_t)INT32_MAX / (mw * (1 + d)))
        return err_set(e, ERR_INVALID, "batch", "batch size %zu: must be 1 .. %zu", max_batch,
                       (size_t)INT32_MAX / (mw * (1 + d)));
    mlp_jac_batch_ws *w = calloc(1, sizeof *w);
    if (!w) return err_set(e, ERR_NOMEM, NULL, "mlp_jac_batch_ws_new: out of memory");
    const size_t rows = max_batch * (1 + d);
    if (!(w->mem = malloc((2 * rows * mw + 2 * max_batch * mw + d * mw) * sizeof *w->mem))) {
        free(w);
        return err_set(e, ERR_NOMEM, NULL, "mlp_jac_batch_ws_new: out of memory");
    }
    w->max_batch = max_batch;
    w->dim = d;
    w->in0 = d + (mlp_time_input(m) ? 1 : 0);
    w->out_dim = mlp_output_dim(m);
    w->buf[0] = w->mem;
    w->buf[1] = w->buf[0] + rows * mw;
    w->s = w->buf[1] + rows * mw;
    w->a = w->s + max_batch * mw;
    w->wcol = w->a + max_batch * mw;
    *out = w;
    return ERR_OK;
}

/* The activation of a layer of width o whose pre-activations are v (n
 * states' rows, then nd tangent rows): the states' rows become act(z), the
 * tangent rows are multiplied by act'(z). With wcol (a first linear layer,
 * d = nd / n columns of o values), the tangent rows are not read: they are
 * act'(z) times column j of W, written here. */
static void layer_act(mlp_jac_batch_ws *w, act_kind act, size_t n, size_t nd, size_t o, double *v,
                      const double *wcol)
{
    const double *s = w->s;
    if (act == ACT_IDENTITY) {
        if (!wcol) return;
        for (size_t r = 0; r < nd; r += n)
            for (size_t b = 0; b < n; b++)
                memcpy(v + (n + r + b) * o, wcol + r / n * o, o * sizeof *v);
        return;
    }
    if (act_deriv_from_output(act)) {
        act_apply(act, n * o, v, v);
        act_deriv(act, n * o, v, v, w->s);
    } else {
        act_apply(act, n * o, v, w->a);
        act_deriv(act, n * o, v, w->a, w->s);
        memcpy(v, w->a, n * o * sizeof *v);
    }
    for (size_t r = 0; r < nd; r += n) {
        double *t = v + (n + r) * o;
        if (wcol) {
            const double *c = wcol + r / n * o;
            for (size_t b = 0; b < n; b++) {
#pragma omp simd
                for (size_t q = 0; q < o; q++)
                    t[b * o + q] = s[b * o + q] * c[q];
            }
        } else {
#pragma omp simd
            for (size_t i = 0; i < n * o; i++)
                t[i] *= s[i];
        }
    }
}

void mlp_jac_batch_eval(const mlp *m, mlp_jac_batch_ws *w, size_t n, const double *x, size_t ldx,
                        double t)
{
    const size_t d = w->dim, in0 = w->in0, nd = n * d, L = mlp_n_layers(m);
    const double *theta = mlp_params_const(m);
    int cur = 0;
    double *a = w->buf[cur];
    for (size_t b = 0; b < n; b++) {
        memcpy(a + b * in0, x + b * ldx, d * sizeof *x);
        if (in0 > d) a[b * in0 + d] = t;
    }
    const mlp_layer l0 = mlp_layer_at(m, 0);
    if (l0.kind != MLP_LINEAR) { /* the tangents enter as unit rows */
        memset(a + n * in0, 0, nd * in0 * sizeof *a);
        for (size_t j = 0; j < d; j++)
            for (size_t b = 0; b < n; b++)
                a[(n + j * n + b) * in0 + j] = 1.0;
    }
    for (size_t l = 0; l < L; l++) {
        const mlp_layer ly = mlp_layer_at(m, l);
        const size_t o = ly.out;
        if (ly.kind == MLP_LINEAR) {
            const double *W = theta + mlp_layer_offset(m, l), *bias = W + o * ly.in;
            double *z = w->buf[cur ^ 1];
            /* the states' rows by linear_forward itself: mlp_forward_batch's
             * bit for bit; the tangents' rows (no bias) by one GEMM */
            linear_forward(n, o, ly.in, W, NULL, bias, a, z);
            if (l == 0) {
                for (size_t j = 0; j < d; j++)
                    for (size_t q = 0; q < o; q++)
                        w->wcol[j * o + q] = W[q * ly.in + j];
            } else {
                memset(z + n * o, 0, nd * o * sizeof *z);
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nd, (int)o, (int)ly.in,
                            1.0, a + n * ly.in, (int)ly.in, W, (int)ly.in, 1.0, z + n * o, (int)o);
            }
            cur ^= 1;
            a = z;
        }
        layer_act(w, ly.act, n, nd, o, a, l == 0 && ly.kind == MLP_LINEAR ? w->wcol : NULL);
    }
    w->n = n;
    w->last = a;
}

const double *mlp_jac_batch_y(const mlp_jac_batch_ws *w)
{
    return w->last;
}

const double *mlp_jac_batch_col(const mlp_jac_batch_ws *w, size_t j)
{
    return w->last + (w->n + j * w->n) * w->out_dim;
}
