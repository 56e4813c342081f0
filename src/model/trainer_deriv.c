/* model/trainer_deriv.c: the derivative fits (trainer_internal.h): a
 * hamiltonian's HNN loss (Greydanus et al. 2019) and an ode's field fit, on
 * the observed (state, time derivative) pairs of whole series
 * (model/deriv_pairs.h builds them once, at setup). The loss is the mean
 * over every compared value (pairs x state components) of
 *
 *   hnn         (f(x) - xdot)^2,  f = J grad H = [dH/dp; -dH/dq]
 *   derivative  (f(x, t) - xdot)^2, f the ode's vector field,
 *
 * Greydanus et al.'s L2 loss (a torch mean over the tensor). Its gradient
 * in the parameters: with fbar = 2 scale (f - xdot), for a hamiltonian the
 * adjoint of grad H is gbar = J' fbar ([-fbar_p; fbar_q]) and the gradient
 * is d/dtheta [gbar' grad H], the vector-Hessian product of
 * nn/mlp_grad2.h, per network of the form; for an ode, the network's VJP.
 * The masses of the mass form are not trained (they fix the units of p).
 *
 *   lnn         (f(x) - xdot)^2,  f = [v; a(x)] for a lagrangian, a from
 *               the Euler-Lagrange equations; its gradient is
 *               model/lag_fit.h's (a third derivative of L, nn/mlp_grad3.h). */
#include "model/deriv_pairs.h"
#include "model/lag_fit.h"
#include "model/loss.h"
#include "model/trainer_internal.h"
#include "nn/mlp_grad2.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct deriv_state {
    int ham;                /* a hamiltonian (else an ode field or a lagrangian) */
    lag_fit *lag;           /* a lagrangian */
    int form;               /* model_ham_form */
    size_t dim, n;          /* state, dof */
    deriv_pairs *pairs;     /* per series */
    size_t n_series;
    mlp_grad2_ws *gw[2];    /* hamiltonian: per network */
    mlp_ws *ws;             /* ode */
    double *inv;            /* mass form: 1 / m */
    double *f, *fbar, *g, *gbar;
};

static void deriv_free(void *state)
{
    struct deriv_state *k = state;
    if (!k) return;
    for (size_t s = 0; k->pairs && s < k->n_series; s++)
        deriv_pairs_free(&k->pairs[s]);
    free(k->pairs);
    mlp_grad2_ws_free(k->gw[0]);
    mlp_grad2_ws_free(k->gw[1]);
    mlp_ws_free(k->ws);
    lag_fit_free(k->lag);
    free(k->inv), free(k->f), free(k->fbar), free(k->g), free(k->gbar);
    free(k);
}

static err_code deriv_setup(void **state, const struct trainer_data *d, err *e)
{
    struct deriv_state *k = calloc(1, sizeof *k);
    if (!k) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    *state = k;
    const model_def *def = d->def;
    k->ham = def->kind == MODEL_KIND_HAMILTONIAN;
    k->form = def->ham_form;
    k->dim = def->state_dim;
    k->n = k->dim / 2;
    k->n_series = d->ds->n_series;
    k->pairs = calloc(k->n_series, sizeof *k->pairs);
    k->f = calloc(k->dim, sizeof *k->f);
    k->fbar = calloc(k->dim, sizeof *k->fbar);
    k->g = calloc(k->dim, sizeof *k->g);
    k->gbar = calloc(k->dim, sizeof *k->gbar);
    if (!k->pairs || !k->f || !k->fbar || !k->g || !k->gbar)
        return err_set(e, ERR_NOMEM, NULL, "out of memory");
    for (size_t s = 0; s < k->n_series; s++)
        if (deriv_pairs_of(&d->ds->series[s], d->ch, k->dim, d->spec->derivs, &k->pairs[s], e))
            return e->code;
    if (def->kind == MODEL_KIND_LAGRANGIAN) {
        if (lag_fit_new(&k->lag, d->net[MODEL_NET_LAG_L], e) == ERR_OK) return ERR_OK;
        err_prefix_field(e, "lagrangian");
        return e->code;
    }
    if (!k->ham) return mlp_ws_new(&k->ws, d->net[MODEL_NET_ODE_FIELD], 1, e);
    for (size_t i = 0; i < def->n_nets; i++)
        if (mlp_grad2_ws_new(&k->gw[i], d->net[i], e) != ERR_OK) {
            err_prefix_field(e, model_def_net_name(def, i));
            return e->code;
        }
    const double *mass = model_def_ham_mass(def);
    if (mass) {
        if (!(k->inv = malloc(k->n * sizeof *k->inv)))
            return err_set(e, ERR_NOMEM, NULL, "out of memory");
        for (size_t i = 0; i < k->n; i++)
            k->inv[i] = 1.0 / mass[i];
    }
    return ERR_OK;
}

static size_t deriv_count(void *state, const struct trainer_data *d, size_t s)
{
    (void)d;
    struct deriv_state *k = state;
    return k->pairs[s].n * k->dim;
}

/* One pair of a hamiltonian: its squared error, and the parameters'
 * gradient added into dtheta (unless NULL). */
static double ham_pair(struct deriv_state *k, const struct trainer_data *d, const double *x,
                       const double *xdot, double scale, double *dtheta)
{
    const size_t n = k->n;
    const mlp *net0 = d->net[0];
    double *g = k->g;
    /* H's network, or V's: it reads the first n values, q */
    (void)mlp_grad2_forward(net0, k->gw[0], x, g);
    if (k->form != MODEL_HAM_GENERAL) {
        if (k->form == MODEL_HAM_MASS)
            for (size_t i = 0; i < n; i++)
                g[n + i] = x[n + i] * k->inv[i];
        else
            (void)mlp_grad2_forward(d->net[1], k->gw[1], x + n, g + n);
    }
    double l = 0;
    for (size_t i = 0; i < n; i++) {
        const double rq = g[n + i] - xdot[i], rp = -g[i] - xdot[n + i];
        l += rq * rq + rp * rp;
        k->gbar[i] = -2.0 * scale * rp; /* dL/d(dH/dq) = -fbar_p */
        k->gbar[n + i] = 2.0 * scale * rq;
    }
    if (!dtheta) return l;
    mlp_grad2_vjp(net0, k->gw[0], k->gbar, 1.0, NULL, dtheta);
    if (k->form == MODEL_HAM_KINETIC)
        mlp_grad2_vjp(d->net[1], k->gw[1], k->gbar + n, 1.0, NULL,
                      dtheta + model_def_net_offset(d->def, MODEL_NET_HAM_T));
    return l;
}

static double ode_pair(struct deriv_state *k, const struct trainer_data *d, const double *x,
                       double t, const double *xdot, double scale, double *dtheta)
{
    const mlp *f = d->net[MODEL_NET_ODE_FIELD];
    mlp_forward(f, k->ws, x, t, k->f);
    double l = 0;
    for (size_t i = 0; i < k->dim; i++) {
        const double r = k->f[i] - xdot[i];
        l += r * r;
        k->fbar[i] = 2.0 * scale * r;
    }
    if (dtheta) mlp_vjp(f, k->ws, k->fbar, NULL, NULL, dtheta);
    return l;
}

static err_code deriv_series_loss(void *state, const struct trainer_data *d, size_t s,
                                  double scale, double *loss, double *dtheta, err *e)
{
    struct deriv_state *k = state;
    const deriv_pairs *p = &k->pairs[s];
    if (dtheta) memset(dtheta, 0, d->np * sizeof(double));
    double l = 0, sq;
    for (size_t i = 0; i < p->n; i++) {
        const double *x = p->x + i * k->dim, *xd = p->dx + i * k->dim;
        if (k->lag) {
            if (lag_fit_pair(k->lag, d->net[MODEL_NET_LAG_L], x, xd, scale, &sq, dtheta, e))
                return e->code;
            l += sq;
            continue;
        }
        l += k->ham ? ham_pair(k, d, x, xd, scale, dtheta)
                    : ode_pair(k, d, x, p->t[i], xd, scale, dtheta);
    }
    *loss = scale * l;
    return ERR_OK;
}

const struct trainer_kind trainer_deriv_kind = {
    .setup = deriv_setup,
    .count = deriv_count,
    .series_loss = deriv_series_loss,
    .window_loss = NULL,
    .free = deriv_free,
};
