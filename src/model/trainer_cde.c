/* model/trainer_cde.c: the neural CDE's part of training (trainer_internal.h):
 * whole series, one per solve, each on its own path built as serving
 * builds it (cde_path.h: the added channels, the missing values filled as
 * serving fills them), in the path's parameter s; by grad_cde.h. */
#include "model/cde_path.h"
#include "model/grad_cde.h"
#include "model/grad_interp.h"
#include "model/loss.h"
#include "model/trainer_internal.h"

#include <stdlib.h>

struct cde_state {
    grad_cde *gc;     /* batches of one series */
    interp **paths;   /* the path of every series */
    grad_interp **gi; /* the callbacks over each path */
    size_t n_series;  /* of paths and gi */
    size_t out;       /* readout width */
    struct grad_cde_options o;
    double *tt; /* the observation times in the path's parameter */
};

static void cde_free(void *state)
{
    struct cde_state *k = state;
    if (!k) return;
    grad_cde_free(k->gc);
    for (size_t s = 0; s < k->n_series; s++) {
        if (k->gi) grad_interp_free(k->gi[s]);
        if (k->paths) interp_free(k->paths[s]);
    }
    free(k->gi), free(k->paths), free(k->tt);
    free(k);
}

static err_code cde_setup(void **state, const struct trainer_data *d, err *e)
{
    struct cde_state *k = calloc(1, sizeof *k);
    if (!k) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    *state = k;
    const size_t n = d->ds->n_series;
    const struct cde_path_channels ch = cde_path_channels_of(d->def);
    k->out = mlp_output_dim(d->net[MODEL_NET_CDE_READOUT]);
    k->tt = calloc(d->bmax * d->nt_max + 1, sizeof(double));
    k->paths = calloc(n, sizeof *k->paths);
    k->gi = calloc(n, sizeof *k->gi);
    if (!k->tt || !k->paths || !k->gi) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    k->n_series = n;
    for (size_t s = 0; s < n; s++) {
        const dataset_series *x = &d->ds->series[s];
        const struct cde_path_obs obs = {.n = x->n, .t = x->t, .x = x->y};
        if (cde_path_new(&k->paths[s], d->def->interp, &ch, &obs, e) ||
            grad_interp_new(&k->gi[s], (const interp *const *)&k->paths[s], 1, e)) {
            err inner = *e;
            err_clear(e);
            return err_set(e, inner.code, "dataset", "series[%zu] of \"%s\": %s%s%s", s,
                           d->spec->dataset, inner.field, inner.field[0] ? ": " : "",
                           inner.message);
        }
        if (d->spec->loss == LOSS_CROSS_ENTROPY && (size_t)x->label_class >= k->out)
            return err_set(e, ERR_INVALID, "dataset",
                           "series[%zu] of \"%s\" has class %ld; the readout gives %zu classes", s,
                           d->spec->dataset, x->label_class, k->out);
    }
    const struct grad_cde_nets nets = {.initial = d->net[MODEL_NET_CDE_INITIAL],
                                       .vector_field = d->net[MODEL_NET_CDE_FIELD],
                                       .readout = d->net[MODEL_NET_CDE_READOUT]};
    if (grad_cde_new(&k->gc, &nets, 1, e) != ERR_OK) return e->code;
    grad_cde_options_init(&k->o);
    k->o.batch_mode = GRAD_BATCH_SHARED;
    k->o.loss = d->spec->loss;
    k->o.solve = d->solve;
    return ERR_OK;
}

/* cross_entropy compares the readout at the last observation with the
 * class (one term per series); mse / l1 the readout at the last
 * observation with the label vector, or at every observation with the
 * series' values. */
static size_t cde_count(void *state, const struct trainer_data *d, size_t s)
{
    const struct cde_state *k = state;
    const dataset_series *x = &d->ds->series[s];
    return d->spec->loss == LOSS_CROSS_ENTROPY ? 1
           : d->target == JOB_TARGET_LABEL     ? loss_observed_count(k->out, x->label_vec)
                                               : loss_observed_count(x->n * d->ch, x->y);
}

static err_code cde_series_loss(void *state, const struct trainer_data *d, size_t s, double scale,
                                double *loss, double *dtheta, err *e)
{
    struct cde_state *k = state;
    const dataset_series *x = &d->ds->series[s];
    const grad_interp *gi = k->gi[s];
    struct grad_cde_options o = k->o;
    o.loss_scale = scale;
    const int every = d->target == JOB_TARGET_SERIES;
    const size_t nt = every ? x->n : 1;
    const double s0 = grad_interp_s0(gi, 0);
    grad_interp_params(gi, 0, every ? x->t : &x->t[x->n - 1], nt, k->tt);
    const long label = x->label_class;
    const struct grad_cde_batch b = {.batch = 1,
                                     .path = grad_interp_path(gi),
                                     .t0 = &s0,
                                     .t = k->tt,
                                     .n_t = nt,
                                     .target = every ? x->y : x->label_vec,
                                     .label = &label};
    return grad_cde_compute(k->gc, &b, &o, loss, dtheta, NULL, e);
}

const struct trainer_kind trainer_cde_kind = {
    .setup = cde_setup,
    .count = cde_count,
    .series_loss = cde_series_loss,
    .window_loss = NULL,
    .free = cde_free,
    .threads = 1,
};
