/* model/trainer_ode.c: the neural ODE's part of training (trainer_internal.h):
 * whole series from their first observation, and mini-batches of windows,
 * by grad_ode.h. */
#include "model/grad_ode.h"
#include "model/loss.h"
#include "model/trainer_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct ode_state {
    const mlp *f; /* the vector field */
    struct trainer_ode_batch b;
};

static double *dalloc(size_t n)
{
    return calloc(n ? n : 1, sizeof(double));
}

err_code trainer_ode_batch_alloc(struct trainer_ode_batch *b, const struct trainer_data *d,
                                 size_t dim, err *e)
{
    b->dim = dim;
    b->y0 = dalloc(d->bmax * dim);
    b->t0 = dalloc(d->bmax);
    b->tt = dalloc(d->bmax * d->nt_max);
    b->tgt = dalloc(d->bmax * d->nt_max * d->ch);
    if (!b->y0 || !b->t0 || !b->tt || !b->tgt) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    return ERR_OK;
}

void trainer_ode_batch_free(struct trainer_ode_batch *b)
{
    grad_ode_free(b->g);
    free(b->y0), free(b->t0), free(b->tt), free(b->tgt);
}

size_t trainer_series_count(void *state, const struct trainer_data *d, size_t s)
{
    (void)state;
    const dataset_series *x = &d->ds->series[s];
    return loss_observed_count(x->n * d->ch, x->y);
}

err_code trainer_ode_batch_series(struct trainer_ode_batch *k, const struct trainer_data *d,
                                  size_t s, double scale, double *loss, double *dtheta, err *e)
{
    const dataset_series *x = &d->ds->series[s];
    struct grad_ode_options o = k->o;
    o.loss_scale = scale;
    memset(k->y0, 0, k->dim * sizeof(double));
    for (size_t c = 0; c < d->ch; c++)
        k->y0[c] = isnan(x->y[c]) ? 0 : x->y[c];
    struct grad_ode_batch b = {.batch = 1,
                               .y0 = k->y0,
                               .t0 = &x->t[0],
                               .t = x->t,
                               .n_t = x->n,
                               .obs_dim = d->ch,
                               .target = x->y};
    return grad_ode_compute(k->g, &b, &o, loss, dtheta, NULL, NULL, e);
}

err_code trainer_ode_batch_windows(struct trainer_ode_batch *k, const struct trainer_data *d,
                                   int absolute_times, const size_t *win_s, const size_t *win_i,
                                   const size_t *pick, size_t bs, double scale, double *loss,
                                   double *grad, err *e)
{
    const size_t bt = d->spec->batch_time, ch = d->ch, dim = k->dim;
    const int time_input = absolute_times;
    int shared = !time_input;
    for (size_t b = 0; b < bs; b++) {
        const dataset_series *x = &d->ds->series[win_s[pick[b]]];
        size_t i0 = win_i[pick[b]];
        memset(k->y0 + b * dim, 0, dim * sizeof(double));
        memcpy(k->y0 + b * dim, x->y + i0 * ch, ch * sizeof(double));
        memcpy(k->tgt + b * bt * ch, x->y + i0 * ch, bt * ch * sizeof(double));
        k->t0[b] = time_input ? x->t[i0] : 0;
        for (size_t i = 0; i < bt; i++) {
            k->tt[b * bt + i] = x->t[i0 + i] - (time_input ? 0 : x->t[i0]);
            /* Windows of an evenly sampled series share their relative
             * times up to rounding: one system, on the first window's
             * times (the reference demo's batch_t = t[:batch_time]). */
            double tol = 1e-9 * (fabs(k->tt[i]) + 1e-300);
            if (shared && fabs(k->tt[b * bt + i] - k->tt[i]) > tol) shared = 0;
        }
    }
    struct grad_ode_options o = k->o;
    o.batch_mode = shared ? GRAD_BATCH_SHARED : GRAD_BATCH_PER_ITEM;
    o.loss_scale = scale;
    struct grad_ode_batch b = {.batch = bs,
                               .y0 = k->y0,
                               .per_item_times = !shared,
                               .t0 = k->t0,
                               .t = k->tt,
                               .n_t = bt,
                               .obs_dim = ch,
                               .target = k->tgt};
    return grad_ode_compute(k->g, &b, &o, loss, grad, NULL, NULL, e);
}

static void ode_free(void *state)
{
    struct ode_state *k = state;
    if (!k) return;
    trainer_ode_batch_free(&k->b);
    free(k);
}

static err_code ode_setup(void **state, const struct trainer_data *d, err *e)
{
    struct ode_state *k = calloc(1, sizeof *k);
    if (!k) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    *state = k;
    k->f = d->net[MODEL_NET_ODE_FIELD];
    if (trainer_ode_batch_alloc(&k->b, d, d->def->state_dim + d->def->augment_dim, e) != ERR_OK)
        return e->code;
    if (grad_ode_new(&k->b.g, k->f, d->bmax, e) != ERR_OK) return e->code;
    grad_ode_options_init(&k->b.o);
    k->b.o.solve = d->solve;
    k->b.o.loss = d->spec->loss;
    return ERR_OK;
}

static err_code ode_series_loss(void *state, const struct trainer_data *d, size_t s, double scale,
                                double *loss, double *dtheta, err *e)
{
    struct ode_state *k = state;
    return trainer_ode_batch_series(&k->b, d, s, scale, loss, dtheta, e);
}

static err_code ode_window_chunk_loss(void *state, const struct trainer_data *d,
                                      const size_t *win_s, const size_t *win_i, const size_t *pick,
                                      size_t bs, double scale, double *loss, double *grad, err *e)
{
    struct ode_state *k = state;
    return trainer_ode_batch_windows(&k->b, d, mlp_time_input(k->f), win_s, win_i, pick, bs, scale,
                                     loss, grad, e);
}

static err_code ode_window_loss(void *state, const struct trainer_data *d, const size_t *win_s,
                                const size_t *win_i, const size_t *pick, size_t bs, double *loss,
                                double *grad, err *e)
{
    return ode_window_chunk_loss(state, d, win_s, win_i, pick, bs, 0, loss, grad, e);
}

const struct trainer_kind trainer_ode_kind = {
    .setup = ode_setup,
    .count = trainer_series_count,
    .series_loss = ode_series_loss,
    .window_loss = ode_window_loss,
    .free = ode_free,
    .threads = 1,
    .window_chunk_loss = ode_window_chunk_loss,
};
