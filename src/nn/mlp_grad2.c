/* nn/mlp_grad2.c: see mlp_grad2.h. Walks the layers itself, from the
 * nn/mlp.h parameter layout, as mlp_grad.c's Hessian does. */
#include "nn/mlp_grad2.h"

#include "nn/mlp_grad.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct mlp_grad2_ws {
    size_t n_layers, dim;
    double *mem;
    /* per layer: its input a and the input's tangent at (in values); z,
     * act', act'', dy/d(output) gp, dy/dz del and the tangent zt (out) */
    double *a[MLP_MAX_LAYERS], *at[MLP_MAX_LAYERS];
    double *z[MLP_MAX_LAYERS], *s1[MLP_MAX_LAYERS], *s2[MLP_MAX_LAYERS];
    double *gp[MLP_MAX_LAYERS], *del[MLP_MAX_LAYERS], *zt[MLP_MAX_LAYERS];
    double *u, *v; /* max_width each: an output, an adjoint */
};

void mlp_grad2_ws_free(mlp_grad2_ws *w)
{
    if (!w) return;
    free(w->mem);
    free(w);
}

err_code mlp_grad2_ws_new(mlp_grad2_ws **out, const mlp *m, err *e)
{
    *out = NULL;
    err_code rc = mlp_grad_check(m, e);
    if (rc) return rc;
    mlp_grad2_ws *w = calloc(1, sizeof *w);
    if (!w) return err_set(e, ERR_NOMEM, NULL, "mlp_grad2_ws_new: out of memory");
    w->n_layers = mlp_n_layers(m);
    w->dim = mlp_state_dim(m);
    const size_t mw = mlp_max_width(m);
    size_t total = 2 * mw;
    for (size_t l = 0; l < w->n_layers; l++) {
        const mlp_layer ly = mlp_layer_at(m, l);
        total += 2 * ly.in + 6 * ly.out;
    }
    if (!(w->mem = malloc(total * sizeof *w->mem))) {
        mlp_grad2_ws_free(w);
        return err_set(e, ERR_NOMEM, NULL, "mlp_grad2_ws_new: out of memory");
    }
    double *p = w->mem;
    for (size_t l = 0; l < w->n_layers; l++) {
        const mlp_layer ly = mlp_layer_at(m, l);
        w->a[l] = p, p += ly.in;
        w->at[l] = p, p += ly.in;
        w->z[l] = p, p += ly.out;
        w->s1[l] = p, p += ly.out;
        w->s2[l] = p, p += ly.out;
        w->gp[l] = p, p += ly.out;
        w->del[l] = p, p += ly.out;
        w->zt[l] = p, p += ly.out;
    }
    w->u = p;
    w->v = p + mw;
    *out = w;
    return ERR_OK;
}

double mlp_grad2_forward(const mlp *m, mlp_grad2_ws *w, const double *x, double *g)
{
    const size_t L = w->n_layers;
    const double *theta = mlp_params_const(m);
    memcpy(w->a[0], x, w->dim * sizeof *x);
    for (size_t l = 0; l < L; l++) {
        const mlp_layer ly = mlp_layer_at(m, l);
        const double *a = w->a[l];
        double *z = w->z[l], *next = l + 1 < L ? w->a[l + 1] : w->u;
        if (ly.kind == MLP_LINEAR) {
            const double *W = theta + mlp_layer_offset(m, l), *b = W + ly.out * ly.in;
            for (size_t o = 0; o < ly.out; o++) {
                const double *row = W + o * ly.in;
                double s = b[o];
                for (size_t k = 0; k < ly.in; k++)
                    s += row[k] * a[k];
                z[o] = s;
            }
        } else {
            memcpy(z, a, ly.out * sizeof *z);
        }
        act_apply(ly.act, ly.out, z, next);
        act_deriv(ly.act, ly.out, z, next, w->s1[l]);
        act_deriv2(ly.act, ly.out, z, next, w->s2[l]);
    }
    const double y = w->u[0];
    /* the plain reverse pass: gp = dy/d(output), del = dy/dz */
    w->gp[L - 1][0] = 1.0;
    for (size_t l = L; l-- > 0;) {
        const mlp_layer ly = mlp_layer_at(m, l);
        double *del = w->del[l];
        for (size_t o = 0; o < ly.out; o++)
            del[o] = w->gp[l][o] * w->s1[l][o];
        double *ga = l > 0 ? w->gp[l - 1] : w->v; /* dy/d(input) */
        if (ly.kind == MLP_LINEAR) {
            const double *W = theta + mlp_layer_offset(m, l);
            memset(ga, 0, ly.in * sizeof *ga);
            for (size_t o = 0; o < ly.out; o++) {
                const double d = del[o], *row = W + o * ly.in;
                for (size_t k = 0; k < ly.in; k++)
                    ga[k] += d * row[k];
            }
        } else {
            memcpy(ga, del, ly.out * sizeof *ga);
        }
    }
    if (g) memcpy(g, w->v, w->dim * sizeof *g);
    return y;
}

void mlp_grad2_vjp(const mlp *m, mlp_grad2_ws *w, const double *v, double scale, double *dx,
                   double *dtheta)
{
    const size_t L = w->n_layers;
    const double *theta = mlp_params_const(m);
    /* the tangent forward: at = d a / d x . v, zt = d z / d x . v */
    memcpy(w->at[0], v, w->dim * sizeof *v);
    for (size_t l = 0; l < L; l++) {
        const mlp_layer ly = mlp_layer_at(m, l);
        const double *at = w->at[l];
        double *zt = w->zt[l];
        if (ly.kind == MLP_LINEAR) {
            const double *W = theta + mlp_layer_offset(m, l);
            for (size_t o = 0; o < ly.out; o++) {
                const double *row = W + o * ly.in;
                double s = 0;
                for (size_t k = 0; k < ly.in; k++)
                    s += row[k] * at[k];
                zt[o] = s;
            }
        } else {
            memcpy(zt, at, ly.out * sizeof *zt);
        }
        if (l + 1 < L)
            for (size_t o = 0; o < ly.out; o++)
                w->at[l + 1][o] = w->s1[l][o] * zt[o];
    }
    /* the reverse of ydot = v' grad y over the primal values; abar starts
     * at 0 (ydot does not read y itself) */
    double *abar = w->v, *zbar = w->u;
    memset(abar, 0, mlp_layer_at(m, L - 1).out * sizeof *abar);
    for (size_t l = L; l-- > 0;) {
        const mlp_layer ly = mlp_layer_at(m, l);
        const double *s1 = w->s1[l], *s2 = w->s2[l], *gp = w->gp[l], *zt = w->zt[l];
        for (size_t o = 0; o < ly.out; o++)
            zbar[o] = abar[o] * s1[o] + gp[o] * s2[o] * zt[o];
        if (ly.kind == MLP_LINEAR) {
            const size_t off = mlp_layer_offset(m, l);
            const double *W = theta + off, *a = w->a[l], *at = w->at[l], *del = w->del[l];
            if (dtheta) {
                double *dW = dtheta + off, *db = dW + ly.out * ly.in;
                for (size_t o = 0; o < ly.out; o++) {
                    const double zb = scale * zbar[o], dl = scale * del[o];
                    double *r = dW + o * ly.in;
                    for (size_t k = 0; k < ly.in; k++)
                        r[k] += zb * a[k] + dl * at[k];
                    db[o] += zb;
                }
            }
            memset(abar, 0, ly.in * sizeof *abar);
            for (size_t o = 0; o < ly.out; o++) {
                const double zb = zbar[o], *row = W + o * ly.in;
                for (size_t k = 0; k < ly.in; k++)
                    abar[k] += zb * row[k];
            }
        } else {
            memcpy(abar, zbar, ly.out * sizeof *abar);
        }
    }
    if (dx)
        for (size_t i = 0; i < w->dim; i++)
            dx[i] += scale * abar[i];
}
