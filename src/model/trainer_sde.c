/* model/trainer_sde.c: the neural SDE's part of training
 * (trainer_internal.h): whole series, the loss the mean negative
 * log-likelihood of their observed transitions (model/sde_lik.h). */
#include "model/sde_lik.h"
#include "model/trainer_internal.h"

#include <stdlib.h>
#include <string.h>

static void sde_free(void *state)
{
    sde_lik_free(state);
}

static err_code sde_setup(void **state, const struct trainer_data *d, err *e)
{
    const struct sde_lik_model m = {.drift = d->net[MODEL_NET_SDE_DRIFT],
                                    .diffusion = d->net[MODEL_NET_SDE_DIFFUSION],
                                    .noise = (sde_noise)d->def->sde_noise,
                                    .dim = d->def->state_dim,
                                    .brownian_dim = d->def->brownian_dim,
                                    .step = d->spec->step};
    sde_lik *l = NULL;
    err_code rc = sde_lik_new(&l, &m, e);
    *state = l;
    return rc;
}

/* One term per usable transition. */
static size_t sde_count(void *state, const struct trainer_data *d, size_t s)
{
    (void)state;
    const dataset_series *x = &d->ds->series[s];
    return sde_lik_count(x->n, d->ch, x->y);
}

static err_code sde_series_loss(void *state, const struct trainer_data *d, size_t s, double scale,
                                double *loss, double *dtheta, err *e)
{
    const dataset_series *x = &d->ds->series[s];
    double *df = NULL, *dg = NULL;
    if (dtheta) {
        memset(dtheta, 0, d->np * sizeof(double));
        df = dtheta + model_def_net_offset(d->def, MODEL_NET_SDE_DRIFT);
        dg = dtheta + model_def_net_offset(d->def, MODEL_NET_SDE_DIFFUSION);
    }
    err_code rc = sde_lik_series(state, x->n, x->t, x->y, scale, loss, df, dg, e);
    /* a constant diffusion (job_spec.h): its weight on the time keeps the
     * zero it starts from (a zero gradient moves no optimiser) */
    if (dg && d->spec->sde_constant_diffusion) memset(dg, 0, d->def->state_dim * sizeof(double));
    return rc;
}

const struct trainer_kind trainer_sde_kind = {
    .setup = sde_setup,
    .count = sde_count,
    .series_loss = sde_series_loss,
    .window_loss = NULL,
    .free = sde_free,
};
