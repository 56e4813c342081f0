/* model/trainer_hybrid.c: a hybrid model's part of training
 * (trainer_internal.h, docs/hybrid.md "Training"). The loss, the batching
 * and the four gradient methods are grad_ode.h's, on the hybrid field
 * (model/hybrid.h) instead of an MLP: eval is the equations with the
 * network, vjp their symbolic partials chained through one reverse pass of
 * the network, jac the exact state Jacobian (implicit methods). The
 * parameter vector is the model_def's: the network's weights, then the
 * physical parameters; a parameter not listed in trainable gets no
 * gradient, and after every optimiser step each physical parameter is
 * projected onto its bounds.
 *
 * Windows and series are solved one by one on their own absolute times
 * (GRAD_BATCH_PER_ITEM): the equations may read t, so a window cannot be
 * shifted to start at 0 as a neural ODE's is. */
#include "model/grad_ode.h"
#include "model/hybrid.h"
#include "model/loss.h"
#include "model/trainer_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct hyb_state {
    hybrid_model *m; /* bound to the trainer's parameter vector */
    hybrid_ws *w;
    struct trainer_ode_batch b;
    size_t dim, n_net, cap; /* state, network weights, items ys holds */
    double t_last;          /* the latest eval's time, for vjp */
    double *ys;             /* cap x dim: the latest eval's states */
    double *start;          /* the starting physical values (held for the non-trainable) */
};

static void hyb_free(void *state)
{
    struct hyb_state *k = state;
    if (!k) return;
    trainer_ode_batch_free(&k->b);
    hybrid_ws_free(k->w);
    hybrid_model_free(k->m);
    free(k->ys), free(k->start);
    free(k);
}

static int field_eval(void *ctx, double t, size_t item0, size_t n, const double *y, double *dydt)
{
    struct hyb_state *k = ctx;
    (void)item0;
    if (n > k->cap) return -1; /* setup sized ys for the largest batch */
    memcpy(k->ys, y, n * k->dim * sizeof *y);
    k->t_last = t;
    int bad = 0;
    for (size_t b = 0; b < n; b++)
        bad |= hybrid_model_field(k->w, t, y + b * k->dim, dydt + b * k->dim);
    return bad ? 1 : 0; /* not finite: the step is rejected and shrunk */
}

static void field_vjp(void *ctx, size_t item0, size_t n, const double *v, double *dy,
                      double *dtheta)
{
    struct hyb_state *k = ctx;
    (void)item0;
    for (size_t b = 0; b < n; b++)
        hybrid_model_vjp(k->w, k->t_last, k->ys + b * k->dim, v + b * k->dim, dy + b * k->dim,
                         dtheta);
}

static int field_jac(void *ctx, double t, size_t item0, size_t n, const double *y, double *J,
                     double *dfdt)
{
    struct hyb_state *k = ctx;
    (void)item0;
    const size_t d = k->dim;
    for (size_t b = 0; b < n; b++)
        hybrid_model_jacobian(k->w, t, y + b * d, J + b * d * d, dfdt ? dfdt + b * d : NULL);
    return 0;
}

static double *dalloc(size_t n)
{
    return calloc(n ? n : 1, sizeof(double));
}

static err_code hyb_setup(void **state, const struct trainer_data *d, err *e)
{
    struct hyb_state *k = calloc(1, sizeof *k);
    if (!k) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    *state = k;
    const model_hybrid *h = d->def->hybrid;
    if (hybrid_model_new(&k->m, d->def, e) != ERR_OK) return e->code;
    hybrid_model_bind(k->m, d->params);
    if (hybrid_ws_new(&k->w, k->m, e) != ERR_OK) return e->code;
    k->dim = d->def->state_dim;
    k->n_net = d->np - h->n_par;
    k->cap = d->bmax;
    if (trainer_ode_batch_alloc(&k->b, d, k->dim, e) != ERR_OK) return e->code;
    k->ys = dalloc(k->cap * k->dim);
    k->start = dalloc(h->n_par);
    if (!k->ys || !k->start) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    memcpy(k->start, d->params + k->n_net, h->n_par * sizeof(double));
    const struct grad_field f = {.dim = k->dim,
                                 .n_params = d->np,
                                 .eval = field_eval,
                                 .vjp = field_vjp,
                                 .jac = field_jac,
                                 .ctx = k};
    if (grad_ode_new_field(&k->b.g, &f, e) != ERR_OK) return e->code;
    grad_ode_options_init(&k->b.o);
    k->b.o.solve = d->solve;
    k->b.o.loss = d->spec->loss;
    k->b.o.batch_mode = GRAD_BATCH_PER_ITEM;
    return ERR_OK;
}

/* A parameter left out of trainable keeps its value: no gradient. */
static void mask(const struct hyb_state *k, const struct trainer_data *d, double *grad)
{
    const model_hybrid *h = d->def->hybrid;
    for (size_t p = 0; grad && p < h->n_par; p++)
        if (!h->trainable[p]) grad[k->n_net + p] = 0;
}

static err_code hyb_series_loss(void *state, const struct trainer_data *d, size_t s, double scale,
                                double *loss, double *dtheta, err *e)
{
    struct hyb_state *k = state;
    err_code rc = trainer_ode_batch_series(&k->b, d, s, scale, loss, dtheta, e);
    mask(k, d, dtheta);
    return rc;
}

/* Windows keep their own absolute times: the equations may read t. */
static err_code hyb_window_loss(void *state, const struct trainer_data *d, const size_t *win_s,
                                const size_t *win_i, const size_t *pick, size_t bs, double *loss,
                                double *grad, err *e)
{
    struct hyb_state *k = state;
    err_code rc = trainer_ode_batch_windows(&k->b, d, 1, win_s, win_i, pick, bs, 0, loss, grad, e);
    mask(k, d, grad);
    return rc;
}

/* Bounds by projection (docs/hybrid.md): after each step a physical
 * parameter is clamped into [lower, upper]; one not trainable is held at
 * its starting value (a weight decay must not move it either). */
static void hyb_project(void *state, const struct trainer_data *d, double *params)
{
    struct hyb_state *k = state;
    const model_hybrid *h = d->def->hybrid;
    double *v = params + k->n_net;
    for (size_t p = 0; p < h->n_par; p++) {
        if (!h->trainable[p]) v[p] = k->start[p];
        if (v[p] < h->lo[p]) v[p] = h->lo[p];
        if (v[p] > h->hi[p]) v[p] = h->hi[p];
    }
}

const struct trainer_kind trainer_hybrid_kind = {
    .setup = hyb_setup,
    .count = trainer_series_count,
    .series_loss = hyb_series_loss,
    .window_loss = hyb_window_loss,
    .free = hyb_free,
    .project = hyb_project,
};
