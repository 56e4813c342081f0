/* nn/mlp_grad.c: see mlp_grad.h. The gradient reuses nn/mlp.c's tape and
 * reverse pass; the Hessian walks the layers itself (forward with the input
 * Jacobian of every layer, then backward with the curvature terms), from
 * the same parameter layout. */
#include "nn/mlp_grad.h"
#include "nn/panel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mlp_grad_ws {
    mlp_ws *ws;
    size_t max_batch, dim, n_layers;
    double *mem;
    double *ones;              /* max_batch seeds of the reverse pass */
    double *z[MLP_MAX_LAYERS]; /* pre-activation (width) */
    double *s1[MLP_MAX_LAYERS], *s2[MLP_MAX_LAYERS]; /* act', act'' at z */
    double *jz[MLP_MAX_LAYERS]; /* dz/dx transposed, dim x width */
    double *ja;                 /* da/dx of the current layer, dim x max_width */
    double *a, *g, *h;          /* max_width each */
};

bool mlp_grad_act_smooth(act_kind act)
{
    switch (act) {
    case ACT_IDENTITY:
    case ACT_TANH:
    case ACT_SOFTPLUS:
    case ACT_SIGMOID:
    case ACT_SILU:
    case ACT_CUBE:
    case ACT_SQUARE:
    case ACT_SIN:
        return true;
    default:
        return false;
    }
}

const char *mlp_grad_act_why(act_kind act)
{
    switch (act) {
    case ACT_RELU:
        return "relu is not twice differentiable: its second derivative is zero almost everywhere "
               "and undefined at 0, so the Hessian would be meaningless and the gradient field "
               "discontinuous";
    case ACT_ELU:
        return "elu is not twice differentiable: its second derivative jumps at 0, so the "
               "Hessian would be discontinuous";
    default:
        return mlp_grad_act_smooth(act) ? "" : "the activation is not known to be smooth";
    }
}

err_code mlp_grad_check(const mlp *m, err *e)
{
    if (mlp_time_input(m))
        return err_set(e, ERR_INVALID, "time_input", "a scalar potential takes no time input");
    if (mlp_output_dim(m) != 1) {
        char f[32];
        snprintf(f, sizeof f, "layers[%zu]", mlp_n_layers(m) - 1);
        return err_set(e, ERR_INVALID, f, "gives %zu outputs; a scalar network gives 1",
                       mlp_output_dim(m));
    }
    for (size_t i = 0; i < mlp_n_layers(m); i++) {
        act_kind a = mlp_layer_at(m, i).act;
        if (!mlp_grad_act_smooth(a)) {
            char f[48];
            snprintf(f, sizeof f, "layers[%zu].activation", i);
            return err_set(e, ERR_INVALID, f, "%s", mlp_grad_act_why(a));
        }
    }
    return ERR_OK;
}

void mlp_grad_ws_free(mlp_grad_ws *w)
{
    if (!w) return;
    mlp_ws_free(w->ws);
    free(w->mem);
    free(w);
}

err_code mlp_grad_ws_new(mlp_grad_ws **out, const mlp *m, size_t max_batch, err *e)
{
    *out = NULL;
    err_code rc = mlp_grad_check(m, e);
    if (rc) return rc;
    if (max_batch == 0) return err_set(e, ERR_INVALID, "max_batch", "must be at least 1");
    mlp_grad_ws *w = calloc(1, sizeof *w);
    if (!w) return err_set(e, ERR_NOMEM, NULL, "mlp_grad_ws_new: out of memory");
    w->max_batch = max_batch;
    w->dim = mlp_state_dim(m);
    w->n_layers = mlp_n_layers(m);
    const size_t d = w->dim, mw = mlp_max_width(m);
    size_t total = max_batch + mw * (d + 3);
    for (size_t i = 0; i < w->n_layers; i++)
        total += mlp_layer_at(m, i).out * (d + 3);
    if ((rc = mlp_ws_new(&w->ws, m, max_batch, e))) goto fail;
    if (!(w->mem = malloc(total * sizeof *w->mem))) {
        rc = err_set(e, ERR_NOMEM, NULL, "mlp_grad_ws_new: out of memory");
        goto fail;
    }
    double *p = w->mem;
    w->ones = p;
    p += max_batch;
    for (size_t k = 0; k < max_batch; k++)
        w->ones[k] = 1.0;
    for (size_t i = 0; i < w->n_layers; i++) {
        const size_t n = mlp_layer_at(m, i).out;
        w->z[i] = p;
        w->s1[i] = p + n;
        w->s2[i] = p + 2 * n;
        w->jz[i] = p + 3 * n;
        p += n * (d + 3);
    }
    w->ja = p;
    p += mw * d;
    w->a = p;
    w->g = p + mw;
    w->h = p + 2 * mw;
    *out = w;
    return ERR_OK;
fail:
    mlp_grad_ws_free(w);
    return rc;
}

double mlp_grad_eval(const mlp *m, mlp_grad_ws *w, const double *x, double *g)
{
    double y;
    mlp_forward(m, w->ws, x, 0.0, &y);
    memset(g, 0, w->dim * sizeof *g);
    mlp_vjp(m, w->ws, w->ones, g, NULL, NULL);
    return y;
}

void mlp_grad_eval_batch(const mlp *m, mlp_grad_ws *w, size_t n, const double *x, double *y,
                         double *g)
{
    double *out = y ? y : w->a; /* a holds max_width >= 1 values only: y is needed for n > 1 */
    if (!y && n > 1) {
        for (size_t k = 0; k < n; k++)
            (void)mlp_grad_eval(m, w, x + k * w->dim, g + k * w->dim);
        return;
    }
    mlp_forward_batch(m, w->ws, n, x, 0.0, out);
    memset(g, 0, n * w->dim * sizeof *g);
    mlp_vjp_batch(m, w->ws, n, w->ones, g, NULL, NULL);
}

double mlp_grad_hessian(const mlp *m, mlp_grad_ws *w, const double *x, double *g, double *hess)
{
    const size_t d = w->dim, L = w->n_layers;
    const double *theta = mlp_params_const(m);
    /* forward: a (width) and ja = da/dx stored transposed (dim x width):
     * row j, da/dx_j, then crosses a linear layer as one matrix-vector
     * product by nn's kernels, where the width x dim layout needed a loop of
     * dim-long axpys per weight */
    size_t width = d;
    memcpy(w->a, x, d * sizeof *x);
    memset(w->ja, 0, d * d * sizeof *w->ja);
    for (size_t i = 0; i < d; i++)
        w->ja[i * d + i] = 1.0;
    for (size_t l = 0; l < L; l++) {
        const mlp_layer ly = mlp_layer_at(m, l);
        double *z = w->z[l], *jz = w->jz[l];
        if (ly.kind == MLP_LINEAR) {
            const double *W = theta + mlp_layer_offset(m, l), *b = W + ly.out * ly.in;
            panel_matvec(ly.out, ly.in, W, NULL, b, w->a, z);
            panel_matvec_n(d, ly.out, ly.in, W, NULL, NULL, w->ja, jz);
            width = ly.out;
        } else {
            memcpy(z, w->a, width * sizeof *z);
            memcpy(jz, w->ja, width * d * sizeof *jz);
        }
        act_apply(ly.act, width, z, w->a);
        act_deriv(ly.act, width, z, w->a, w->s1[l]);
        act_deriv2(ly.act, width, z, w->a, w->s2[l]);
        for (size_t j = 0; j < d; j++)
            for (size_t o = 0; o < width; o++)
                w->ja[j * width + o] = w->s1[l][o] * jz[j * width + o];
    }
    const double y = w->a[0];
    /* backward: g = dy/da_l; delta = g * act'; curvature c = g * act'',
     * kept in a (free after the forward pass) */
    memset(hess, 0, d * d * sizeof *hess);
    w->g[0] = 1.0;
    for (size_t l = L; l-- > 0;) {
        const mlp_layer ly = mlp_layer_at(m, l);
        const size_t n = ly.out;
        const double *jz = w->jz[l];
        double *c = w->a;
        for (size_t o = 0; o < n; o++) {
            c[o] = w->g[o] * w->s2[l][o];
            w->g[o] *= w->s1[l][o];
        }
        for (size_t i = 0; i < d; i++) {
            const double *ji = jz + i * n;
            for (size_t o = 0; o < n; o++)
                w->h[o] = c[o] * ji[o];
            for (size_t j = 0; j <= i; j++) {
                const double *jj = jz + j * n;
                double s = 0;
                for (size_t o = 0; o < n; o++)
                    s += w->h[o] * jj[o];
                hess[i * d + j] += s;
            }
        }
        if (ly.kind == MLP_LINEAR) {
            const double *W = theta + mlp_layer_offset(m, l);
            memset(w->h, 0, ly.in * sizeof *w->h);
            for (size_t o = 0; o < n; o++) {
                const double go = w->g[o], *row = W + o * ly.in;
                for (size_t k = 0; k < ly.in; k++)
                    w->h[k] += go * row[k];
            }
            memcpy(w->g, w->h, ly.in * sizeof *w->g);
        }
    }
    for (size_t i = 0; i < d; i++)
        for (size_t j = i + 1; j < d; j++)
            hess[i * d + j] = hess[j * d + i];
    if (g) memcpy(g, w->g, d * sizeof *g);
    return y;
}
