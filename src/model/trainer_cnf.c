/* model/trainer_cnf.c: the continuous normalizing flow's part of training
 * (trainer_internal.h), by flow matching (model/cfm.h) or maximum
 * likelihood (model/cnf_ml.h); docs/cnf-training.md.
 *
 * THE SPLIT. The point set's points are shuffled by a generator of their
 * own, seeded from the document's seed (so every resume holds out the same
 * points), and the first round(holdout_fraction * n) of the shuffle (at
 * least one when the fraction is > 0) are held out; with fraction 0 the
 * validation NLL is taken on the training points.
 *
 * ONE ITERATION draws, from the trainer's checkpointed generator and in
 * this order: the batch's data points (without replacement from the
 * training points; all of them when the batch is larger), the base points
 * x0 = mean + scale * N(0, I), the times t ~ U(0, 1), and, with
 * sigma_min > 0, the noise. OT coupling then pairs x0 with a permutation of
 * the data points. A max_likelihood iteration draws the batch's data points
 * the same way, then one 64-bit probe seed (used with a Hutchinson trace:
 * the probes of point k of the batch come from (seed, k), cnf_model_probe).
 *
 * VALIDATION is the mean negative log-likelihood of the held-out points in
 * nats, by the exact trace through cnf_model_log_prob (model/cnf_model.h)
 * with the job's solver: the number the end-to-end test compares
 * with the data's entropy. */
#include "model/cfm.h"
#include "model/cnf_ml.h"
#include "model/cnf_model.h"
#include "model/trainer_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cnf_state {
    cfm *c;     /* flow matching */
    cnf_ml *ml; /* max_likelihood */
    struct grad_solve_options so; /* max_likelihood: the training solve */
    size_t dim, n_train, n_val, bs;
    size_t *train, *pick; /* training point indices; a batch's picks */
    double *val_x;        /* n_val x dim, the held-out points */
    double *x0, *x1, *t, *eps, *lp;
    model_def cur; /* the model with the current parameters, for validation */
};

static void cnf_free(void *state)
{
    struct cnf_state *k = state;
    if (!k) return;
    cfm_free(k->c);
    cnf_ml_free(k->ml);
    free(k->train), free(k->pick), free(k->val_x);
    free(k->x0), free(k->x1), free(k->t), free(k->eps), free(k->lp);
    model_def_free(&k->cur);
    free(k);
}

static err_code split(struct cnf_state *k, const struct trainer_data *d, err *e)
{
    const dataset_series *x = &d->ds->series[0];
    const size_t n = x->n, dim = k->dim;
    size_t nv = 0;
    if (d->spec->holdout_fraction > 0) {
        nv = (size_t)llround(d->spec->holdout_fraction * (double)n);
        if (nv < 1) nv = 1;
        if (nv >= n)
            return err_set(e, ERR_INVALID, "validation.holdout_fraction",
                           "holds out every point of dataset \"%s\" (%zu)", d->spec->dataset, n);
    }
    size_t *perm = calloc(n, sizeof *perm);
    k->train = calloc(n, sizeof *k->train);
    k->val_x = malloc((nv ? nv : n) * dim * sizeof *k->val_x);
    if (!perm || !k->train || !k->val_x) {
        free(perm);
        return err_set(e, ERR_NOMEM, NULL, "out of memory");
    }
    rng sr;
    rng_seed(&sr, d->spec->seed ^ 0x5eedda7aULL);
    if (rng_sample(&sr, n, n, perm, e) != ERR_OK) {
        free(perm);
        return e->code;
    }
    for (size_t i = 0; i < n; i++) {
        if (i < nv)
            memcpy(k->val_x + i * dim, x->y + perm[i] * dim, dim * sizeof(double));
        else
            k->train[k->n_train++] = perm[i];
    }
    free(perm);
    k->n_val = nv;
    if (!nv) { /* validate on the training points */
        for (size_t i = 0; i < n; i++)
            memcpy(k->val_x + i * dim, x->y + i * dim, dim * sizeof(double));
        k->n_val = n;
    }
    return ERR_OK;
}

static err_code cnf_setup(void **state, const struct trainer_data *d, err *e)
{
    struct cnf_state *k = calloc(1, sizeof *k);
    if (!k) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    *state = k;
    model_def_init(&k->cur);
    k->dim = d->def->state_dim;
    if (split(k, d, e) != ERR_OK) return e->code;
    k->bs = d->spec->batch_size ? d->spec->batch_size : 256;
    if (k->bs > k->n_train) k->bs = k->n_train;
    const size_t nd = k->bs * k->dim;
    k->pick = calloc(k->n_train, sizeof *k->pick);
    k->x0 = malloc(nd * sizeof *k->x0);
    k->x1 = malloc(nd * sizeof *k->x1);
    k->t = malloc(k->bs * sizeof *k->t);
    k->eps = malloc(nd * sizeof *k->eps);
    k->lp = malloc(k->n_val * sizeof *k->lp);
    if (!k->pick || !k->x0 || !k->x1 || !k->t || !k->eps || !k->lp)
        return err_set(e, ERR_NOMEM, NULL, "out of memory");
    if (model_def_copy(&k->cur, d->def, e) != ERR_OK) return e->code;
    if (d->spec->cnf_objective == JOB_CNF_MAX_LIKELIHOOD) {
        struct cnf_ml_opts o = {.trace = d->spec->ml_trace, .probes = d->spec->ml_probes,
                                .noise = d->spec->ml_noise};
        if (!d->spec->ml_trace_given)
            o.trace = k->dim <= CNF_ML_EXACT_DIM ? CNF_TRACE_EXACT : CNF_TRACE_HUTCHINSON;
        /* backprop unless the document asks for the adjoint: the exact
         * gradient of the NLL the step reports (docs/cnf-training.md) */
        k->so = d->solve;
        if (d->spec->gradient_default) k->so.method = GRAD_BACKPROP;
        return cnf_ml_new(&k->ml, d->net[MODEL_NET_CNF_FIELD], d->def->base_mean,
                          d->def->base_scale, k->bs, &o, e);
    }
    return cfm_new(&k->c, d->net[MODEL_NET_CNF_FIELD],
                   d->params + model_def_net_offset(d->def, MODEL_NET_CNF_FIELD), k->bs, e);
}

static err_code cnf_draw_loss(void *state, const struct trainer_data *d, rng *r, double *loss,
                              double *grad, err *e)
{
    struct cnf_state *k = state;
    const size_t dim = k->dim, bs = k->bs;
    const double *y = d->ds->series[0].y;
    const double *mean = d->def->base_mean, *scale = d->def->base_scale;
    if (rng_sample(r, k->n_train, bs, k->pick, e) != ERR_OK) return e->code;
    for (size_t b = 0; b < bs; b++)
        memcpy(k->x1 + b * dim, y + k->train[k->pick[b]] * dim, dim * sizeof(double));
    if (k->ml) {
        const uint64_t probe_seed = rng_next(r);
        memset(grad, 0, d->np * sizeof(double));
        return cnf_ml_loss(k->ml, &k->so, bs, k->x1, probe_seed, loss,
                           grad + model_def_net_offset(d->def, MODEL_NET_CNF_FIELD), NULL, e);
    }
    for (size_t b = 0; b < bs; b++)
        for (size_t i = 0; i < dim; i++) {
            const double z = rng_normal(r);
            k->x0[b * dim + i] = mean ? mean[i] + scale[i] * z : z;
        }
    for (size_t b = 0; b < bs; b++)
        k->t[b] = rng_uniform(r);
    const double sigma = d->spec->sigma_min;
    for (size_t a = 0; sigma > 0 && a < bs * dim; a++)
        k->eps[a] = rng_normal(r);
    if (d->spec->coupling == CFM_COUPLING_OT) cfm_couple(k->c, bs, k->x0, k->x1);
    memset(grad, 0, d->np * sizeof(double));
    cfm_loss(k->c, bs, k->x0, k->x1, k->t, sigma > 0 ? k->eps : NULL, sigma, loss,
             grad + model_def_net_offset(d->def, MODEL_NET_CNF_FIELD));
    return ERR_OK;
}

static err_code cnf_val_loss(void *state, const struct trainer_data *d, double *val, err *e)
{
    struct cnf_state *k = state;
    memcpy(k->cur.params, d->params, d->np * sizeof(double));
    cnf_model *m = NULL;
    struct cnf_logp_query q = {.n = k->n_val, .x = k->val_x, .tr = {.trace = CNF_TRACE_EXACT}};
    snprintf(q.solver.method, sizeof q.solver.method, "%s", d->spec->method);
    q.solver.rtol = d->spec->rtol;
    q.solver.atol = d->spec->atol;
    q.solver.max_steps = d->spec->max_steps;
    if (cnf_model_new(&m, &k->cur, e) != ERR_OK ||
        cnf_model_log_prob(m, &q, k->lp, NULL, NULL, NULL, e) != ERR_OK) {
        cnf_model_free(m);
        return e->code;
    }
    cnf_model_free(m);
    double s = 0;
    for (size_t i = 0; i < k->n_val; i++)
        s -= k->lp[i];
    *val = s / (double)k->n_val;
    return ERR_OK;
}

const struct trainer_kind trainer_cnf_kind = {
    .setup = cnf_setup,
    .free = cnf_free,
    .draw_loss = cnf_draw_loss,
    .val_loss = cnf_val_loss,
};
