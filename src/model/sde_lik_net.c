/* model/sde_lik_net.c: see sde_lik_net.h. */
#include "model/sde_lik_net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct sde_lik_net {
    const mlp *m;
    size_t L, wmax, n_in, nx, nj; /* layers, widest, input (with t), state, tangents */
    mlp_layer *ly;
    size_t *off;     /* each layer's W in the parameter vector */
    double *a, *z;   /* (L + 1) x wmax: a[0] the input, z[l] layer l's pre-activation */
    double *T, *Zt;  /* (L + 1) x wmax x nj: tangents of a and z */
    double *ab, *zb; /* wmax: adjoints of a and z */
    double *Tb, *Zb; /* wmax x nj: adjoints of the tangents */
    double *s, *s2;  /* wmax: act' and act'' */
};

void sde_lik_net_free(sde_lik_net *w)
{
    if (!w) return;
    free(w->ly), free(w->off), free(w->a), free(w->z), free(w->T), free(w->Zt);
    free(w->ab), free(w->zb), free(w->Tb), free(w->Zb), free(w->s), free(w->s2);
    free(w);
}

err_code sde_lik_net_new(sde_lik_net **out, const mlp *m, bool with_jac, err *e)
{
    *out = NULL;
    sde_lik_net *w = calloc(1, sizeof *w);
    if (!w) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    w->m = m;
    w->L = mlp_n_layers(m);
    w->nx = mlp_state_dim(m);
    w->n_in = w->nx + (mlp_time_input(m) ? 1 : 0);
    w->nj = with_jac ? w->nx : 0;
    w->wmax = mlp_max_width(m);
    if (w->wmax < w->n_in) w->wmax = w->n_in;
    const size_t W = w->wmax, L1 = w->L + 1, nj = w->nj ? w->nj : 1;
    w->ly = calloc(w->L, sizeof *w->ly);
    w->off = calloc(w->L, sizeof *w->off);
    w->a = calloc(L1 * W, sizeof(double));
    w->z = calloc(L1 * W, sizeof(double));
    w->T = calloc(L1 * W * nj, sizeof(double));
    w->Zt = calloc(L1 * W * nj, sizeof(double));
    w->ab = calloc(W, sizeof(double));
    w->zb = calloc(W, sizeof(double));
    w->Tb = calloc(W * nj, sizeof(double));
    w->Zb = calloc(W * nj, sizeof(double));
    w->s = calloc(W, sizeof(double));
    w->s2 = calloc(W, sizeof(double));
    if (!w->ly || !w->off || !w->a || !w->z || !w->T || !w->Zt || !w->ab || !w->zb || !w->Tb ||
        !w->Zb || !w->s || !w->s2) {
        sde_lik_net_free(w);
        return err_set(e, ERR_NOMEM, NULL, "out of memory");
    }
    for (size_t l = 0; l < w->L; l++) {
        w->ly[l] = mlp_layer_at(m, l);
        w->off[l] = mlp_layer_offset(m, l);
    }
    *out = w;
    return ERR_OK;
}

/* act''(z), given z and a = act(z) and d = act'(z). */
static double act_second(act_kind k, double z, double a, double d)
{
    switch (k) {
    case ACT_TANH:
        return -2 * a * d;
    case ACT_SOFTPLUS: /* d = sigmoid(z) */
        return d * (1 - d);
    case ACT_SIGMOID:
        return d * (1 - 2 * a);
    case ACT_ELU:
        return z > 0 ? 0 : a + 1;
    case ACT_SILU: {
        double sg = 1 / (1 + exp(-z));
        return sg * (1 - sg) * (2 + z * (1 - 2 * sg));
    }
    case ACT_CUBE:
        return 6 * z;
    case ACT_SQUARE:
        return 2;
    case ACT_SIN:
        return -a;
    case ACT_IDENTITY:
    case ACT_RELU:
    default:
        return 0;
    }
}

void sde_lik_net_forward(sde_lik_net *w, const double *x, double t, double *y, double *jac)
{
    const size_t W = w->wmax, nj = w->nj;
    const double *p = mlp_params_const(w->m);
    memcpy(w->a, x, w->nx * sizeof(double));
    if (w->n_in > w->nx) w->a[w->nx] = t;
    if (nj) {
        memset(w->T, 0, W * nj * sizeof(double));
        for (size_t i = 0; i < nj; i++)
            w->T[i * nj + i] = 1;
    }
    size_t width = w->n_in;
    for (size_t l = 0; l < w->L; l++) {
        const mlp_layer *ly = &w->ly[l];
        const double *ai = w->a + l * W, *Ti = w->T + l * W * nj;
        double *z = w->z + (l + 1) * W, *ao = w->a + (l + 1) * W;
        double *Zt = w->Zt + (l + 1) * W * nj, *To = w->T + (l + 1) * W * nj;
        size_t out = width;
        if (ly->kind == MLP_LINEAR) {
            const double *Wm = p + w->off[l], *b = Wm + ly->out * ly->in;
            out = ly->out;
            for (size_t o = 0; o < out; o++) {
                double acc = b[o];
                for (size_t i = 0; i < ly->in; i++)
                    acc += Wm[o * ly->in + i] * ai[i];
                z[o] = acc;
                for (size_t j = 0; j < nj; j++) {
                    double tj = 0;
                    for (size_t i = 0; i < ly->in; i++)
                        tj += Wm[o * ly->in + i] * Ti[i * nj + j];
                    Zt[o * nj + j] = tj;
                }
            }
        } else {
            memcpy(z, ai, out * sizeof(double));
            memcpy(Zt, Ti, out * nj * sizeof(double));
        }
        act_apply(ly->act, out, z, ao);
        if (nj) {
            act_deriv(ly->act, out, z, ao, w->s);
            for (size_t o = 0; o < out; o++)
                for (size_t j = 0; j < nj; j++)
                    To[o * nj + j] = w->s[o] * Zt[o * nj + j];
        }
        width = out;
    }
    memcpy(y, w->a + w->L * W, width * sizeof(double));
    if (jac && nj) memcpy(jac, w->T + w->L * W * nj, width * nj * sizeof(double));
}

void sde_lik_net_reverse(sde_lik_net *w, const double *ybar, const double *jbar, double *xbar,
                         double *dtheta)
{
    const size_t W = w->wmax, nj = jbar ? w->nj : 0, tj = w->nj ? w->nj : 1;
    const double *p = mlp_params_const(w->m);
    size_t width = mlp_output_dim(w->m);
    memcpy(w->ab, ybar, width * sizeof(double));
    if (nj) memcpy(w->Tb, jbar, width * nj * sizeof(double));
    for (size_t l = w->L; l-- > 0;) {
        const mlp_layer *ly = &w->ly[l];
        const double *z = w->z + (l + 1) * W, *ao = w->a + (l + 1) * W;
        const double *Zt = w->Zt + (l + 1) * W * tj;
        const size_t out = width;
        act_deriv(ly->act, out, z, ao, w->s);
        for (size_t o = 0; o < out; o++) {
            double zb = w->s[o] * w->ab[o];
            if (nj) {
                double sb = 0;
                for (size_t j = 0; j < nj; j++) {
                    sb += w->Tb[o * nj + j] * Zt[o * nj + j];
                    w->Zb[o * nj + j] = w->s[o] * w->Tb[o * nj + j];
                }
                zb += act_second(ly->act, z[o], ao[o], w->s[o]) * sb;
            }
            w->zb[o] = zb;
        }
        if (ly->kind != MLP_LINEAR) {
            memcpy(w->ab, w->zb, out * sizeof(double));
            if (nj) memcpy(w->Tb, w->Zb, out * nj * sizeof(double));
            continue;
        }
        const double *Wm = p + w->off[l], *ai = w->a + l * W, *Ti = w->T + l * W * tj;
        const size_t in = ly->in;
        if (dtheta) {
            double *gW = dtheta + w->off[l], *gb = gW + out * in;
            for (size_t o = 0; o < out; o++) {
                gb[o] += w->zb[o];
                for (size_t i = 0; i < in; i++) {
                    double g = w->zb[o] * ai[i];
                    for (size_t j = 0; j < nj; j++)
                        g += w->Zb[o * nj + j] * Ti[i * tj + j];
                    gW[o * in + i] += g;
                }
            }
        }
        for (size_t i = 0; i < in; i++) {
            double g = 0;
            for (size_t o = 0; o < out; o++)
                g += Wm[o * in + i] * w->zb[o];
            w->ab[i] = g;
        }
        for (size_t i = 0; nj && i < in; i++)
            for (size_t j = 0; j < nj; j++) {
                double g = 0;
                for (size_t o = 0; o < out; o++)
                    g += Wm[o * in + i] * w->Zb[o * nj + j];
                w->Tb[i * nj + j] = g;
            }
        width = in;
    }
    for (size_t i = 0; xbar && i < w->nx; i++)
        xbar[i] += w->ab[i];
}
