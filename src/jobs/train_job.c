/* jobs/train_job.c: see train_job.h. */
#include "jobs/train_job.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "model/job_spec.h"
#include "model/cde_path.h"
#include "model/grad_cde.h"
#include "model/grad_interp.h"
#include "model/grad_ode.h"
#include "num/tableau.h"
#include "store/datasets.h"
#include "store/models.h"

typedef struct train {
    db *d;
    long long id;
    job_spec spec;
    model_def def; /* the starting model; its params replaced by the result */
    dataset ds;
    double *params; /* the parameter vector every network is bound to (np values) */
    mlp *f;         /* ode: the vector field */
    grad_ode *g;
    mlp *net[3];       /* cde: initial, vector_field, readout */
    grad_cde *gc;      /* cde: batches of one series */
    interp **paths;    /* cde: the path of every series */
    grad_interp **gi;  /* cde: the callbacks over each path */
    job_target target; /* cde: what mse / l1 compare the readout with */
    size_t out;        /* cde: readout width */
    struct grad_cde_options co;
    optim *opt;
    rng r;
    struct grad_ode_options o;
    size_t dim, ch;               /* state (with augmentation), observed channels */
    size_t *train_s, n_train;     /* training series */
    size_t *val_s, n_val;         /* validation series (the training ones when none held out) */
    size_t *win_s, *win_i, n_win; /* window candidates: series, start */
    size_t *pick;                 /* sampled indices */
    double *y0, *t0, *tt, *tgt;   /* batch buffers */
    double *grad, *gtmp, *best;   /* n_params each */
    size_t np;
    job_metric *rows;
    size_t n_rows, cap_rows;
    job_ckpt ck; /* the running state; arrays borrowed except optim */
    char why[320];
} train;

static void train_free(train *t)
{
    job_spec_free(&t->spec);
    model_def_free(&t->def);
    grad_ode_free(t->g);
    mlp_free(t->f);
    grad_cde_free(t->gc);
    for (size_t i = 0; i < 3; i++)
        mlp_free(t->net[i]);
    for (size_t s = 0; s < t->ds.n_series; s++) {
        if (t->gi) grad_interp_free(t->gi[s]);
        if (t->paths) interp_free(t->paths[s]);
    }
    free(t->gi), free(t->paths), free(t->params);
    optim_free(t->opt);
    free(t->train_s), free(t->val_s), free(t->win_s), free(t->win_i), free(t->pick);
    free(t->y0), free(t->t0), free(t->tt), free(t->tgt);
    free(t->grad), free(t->gtmp), free(t->best), free(t->rows), free(t->ck.optim);
    dataset_free(&t->ds);
}

static double *dalloc(size_t n)
{
    return calloc(n ? n : 1, sizeof(double));
}

static err_code net_new(train *t, size_t i, mlp **out, err *e)
{
    const model_net *n = &t->def.nets[i];
    mlp_spec ms = {.state_dim = n->in_dim,
                   .time_input = n->time_input,
                   .n_layers = n->n_layers,
                   .layers = n->layers};
    if (mlp_new(out, &ms, e) != ERR_OK) return e->code;
    mlp_params_bind(*out, t->params + model_def_net_offset(&t->def, i));
    return ERR_OK;
}

/* The starting model, its networks bound to one parameter vector. */
static err_code load_model(train *t, err *e)
{
    if (t->spec.from_version) {
        if (store_version_load(t->d, t->spec.model, t->spec.from_version, &t->def, NULL, NULL, e) ||
            job_spec_check_kind(&t->spec, t->def.kind, e))
            return e->code;
    } else if (model_def_copy(&t->def, &t->spec.init_def, e) != ERR_OK) {
        return e->code;
    }
    t->np = t->def.n_params;
    t->params = dalloc(t->np);
    if (!t->params) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    memcpy(t->params, t->def.params, t->np * sizeof(double));
    if (t->def.kind == MODEL_KIND_ODE) {
        t->dim = t->def.state_dim + t->def.augment_dim;
        return net_new(t, MODEL_NET_ODE_FIELD, &t->f, e);
    }
    for (size_t i = 0; i < 3; i++)
        if (net_new(t, i, &t->net[i], e) != ERR_OK) return e->code;
    t->out = mlp_output_dim(t->net[MODEL_NET_CDE_READOUT]);
    return ERR_OK;
}

/* Hold out series for validation (their own generator: the same split on
 * every resume), and list the window starts of the training series. */
static err_code split(train *t, err *e)
{
    size_t n = t->ds.n_series, nv = 0;
    if (t->spec.holdout_fraction > 0) {
        nv = (size_t)llround(t->spec.holdout_fraction * (double)n);
        if (nv < 1) nv = 1;
        if (nv >= n)
            return err_set(e, ERR_INVALID, "validation.holdout_fraction",
                           "holds out every series of dataset \"%s\" (%zu); use 0 to validate "
                           "on the training series",
                           t->spec.dataset, n);
    }
    t->train_s = calloc(n, sizeof(size_t));
    t->val_s = calloc(n, sizeof(size_t));
    size_t *perm = calloc(n, sizeof(size_t));
    if (!t->train_s || !t->val_s || !perm) {
        free(perm);
        return err_set(e, ERR_NOMEM, NULL, "out of memory");
    }
    rng sr;
    rng_seed(&sr, t->spec.seed ^ 0x5eedda7aULL);
    if (nv) rng_sample(&sr, n, nv, perm, NULL);
    char *held = calloc(n, 1);
    for (size_t i = 0; held && i < nv; i++)
        held[perm[i]] = 1;
    for (size_t s = 0; held && s < n; s++)
        if (held[s])
            t->val_s[t->n_val++] = s;
        else
            t->train_s[t->n_train++] = s;
    free(perm);
    if (!held) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    free(held);
    if (!nv) {
        memcpy(t->val_s, t->train_s, t->n_train * sizeof(size_t));
        t->n_val = t->n_train;
    }
    return ERR_OK;
}

/* Window starts with a fully observed first point. */
static err_code windows(train *t, err *e)
{
    size_t bt = t->spec.batch_time, total = 0;
    for (size_t k = 0; k < t->n_train; k++) {
        size_t n = t->ds.series[t->train_s[k]].n;
        total += n >= bt ? n - bt + 1 : 0;
    }
    t->win_s = calloc(total + 1, sizeof(size_t));
    t->win_i = calloc(total + 1, sizeof(size_t));
    if (!t->win_s || !t->win_i) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    for (size_t k = 0; k < t->n_train; k++) {
        const dataset_series *x = &t->ds.series[t->train_s[k]];
        for (size_t i = 0; x->n >= bt && i + bt <= x->n; i++) {
            int ok = 1;
            for (size_t c = 0; c < t->ch; c++)
                ok &= !isnan(x->y[i * t->ch + c]);
            if (!ok) continue;
            t->win_s[t->n_win] = t->train_s[k];
            t->win_i[t->n_win++] = i;
        }
    }
    if (t->n_win == 0)
        return err_set(e, ERR_INVALID, "objective.batch_time",
                       "no training series has %zu consecutive observations starting with a "
                       "complete one",
                       bt);
    return ERR_OK;
}

/* The path of every series (cde_path.h: the added channels, the missing
 * values filled as serving fills them), in the path's parameter s. */
static err_code cde_setup(train *t, err *e)
{
    const size_t n = t->ds.n_series;
    const struct cde_channels ch = cde_channels_of(&t->def);
    t->paths = calloc(n, sizeof *t->paths);
    t->gi = calloc(n, sizeof *t->gi);
    if (!t->paths || !t->gi) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    for (size_t s = 0; s < n; s++) {
        const dataset_series *x = &t->ds.series[s];
        const struct cde_obs obs = {.n = x->n, .t = x->t, .x = x->y};
        if (cde_path_new(&t->paths[s], t->def.interp, &ch, &obs, e) ||
            grad_interp_new(&t->gi[s], (const interp *const *)&t->paths[s], 1, e)) {
            err inner = *e;
            err_clear(e);
            return err_set(e, inner.code, "dataset", "series[%zu] of \"%s\": %s%s%s", s,
                           t->spec.dataset, inner.field, inner.field[0] ? ": " : "", inner.message);
        }
        if (t->spec.loss == LOSS_CROSS_ENTROPY && (size_t)x->label_class >= t->out)
            return err_set(e, ERR_INVALID, "dataset",
                           "series[%zu] of \"%s\" has class %ld; the readout gives %zu classes", s,
                           t->spec.dataset, x->label_class, t->out);
    }
    const struct grad_cde_nets nets = {.initial = t->net[MODEL_NET_CDE_INITIAL],
                                       .vector_field = t->net[MODEL_NET_CDE_FIELD],
                                       .readout = t->net[MODEL_NET_CDE_READOUT]};
    if (grad_cde_new(&t->gc, &nets, 1, e) != ERR_OK) return e->code;
    grad_cde_options_init(&t->co);
    t->co.batch_mode = GRAD_BATCH_SHARED;
    t->co.loss = t->spec.loss;
    return ERR_OK;
}

static void solve_options(const job_spec *spec, struct grad_solve_options *o)
{
    grad_solve_options_init(o);
    o->method = spec->gradient;
    o->tab = rk_tableau_find(spec->method);
    o->ode.rtol = spec->rtol;
    o->ode.atol = spec->atol;
    if (spec->max_steps) o->ode.max_steps = spec->max_steps;
}

static err_code setup(train *t, err *e)
{
    if (load_model(t, e) || store_dataset_load(t->d, t->spec.dataset, &t->ds, e)) return e->code;
    t->ch = t->ds.channels;
    if (job_spec_check_data(&t->spec, &t->def,
                            t->spec.from_version ? "from_version" : "init.readout", t->ch,
                            t->ds.label_kind, t->ds.label_dim, &t->target, e) ||
        split(t, e) || (t->spec.batch_time && windows(t, e)))
        return e->code;
    size_t bmax = t->spec.batch_time ? (t->spec.batch_size ? t->spec.batch_size : t->n_win) : 1;
    if (t->spec.batch_time && bmax > t->n_win) bmax = t->n_win;
    size_t nt = t->spec.batch_time;
    for (size_t s = 0; s < t->ds.n_series; s++)
        if (t->ds.series[s].n > nt) nt = t->ds.series[s].n;
    t->pick = calloc(t->n_win > t->n_train ? t->n_win + 1 : t->n_train + 1, sizeof(size_t));
    t->y0 = dalloc(bmax * t->dim);
    t->t0 = dalloc(bmax);
    t->tt = dalloc(bmax * nt);
    t->tgt = dalloc(bmax * nt * t->ch);
    t->grad = dalloc(t->np);
    t->gtmp = dalloc(t->np);
    t->best = dalloc(t->np);
    if (!t->pick || !t->y0 || !t->t0 || !t->tt || !t->tgt || !t->grad || !t->gtmp || !t->best)
        return err_set(e, ERR_NOMEM, NULL, "out of memory");
    if (optim_new(&t->opt, &t->spec.optim, t->np, e) != ERR_OK) return e->code;
    if (t->def.kind == MODEL_KIND_CDE) {
        if (cde_setup(t, e) != ERR_OK) return e->code;
        solve_options(&t->spec, &t->co.solve);
        return ERR_OK;
    }
    if (grad_ode_new(&t->g, t->f, bmax, e) != ERR_OK) return e->code;
    grad_ode_options_init(&t->o);
    solve_options(&t->spec, &t->o.solve);
    t->o.loss = t->spec.loss;
    return ERR_OK;
}

/* The cde's loss over whole series list[0 .. n) (and its gradient into
 * t->grad, when want_grad), one series per solve, each from its first
 * observation: cross_entropy of the readout at the last observation
 * against the class label, the mean over the series; mse / l1 of the
 * readout at the last observation against the label vector, or at every
 * observation against the series' values, the mean over the values
 * compared. */
static err_code cde_loss(train *t, const size_t *list, size_t n, int want_grad, double *loss,
                         err *e)
{
    size_t count = 0;
    for (size_t k = 0; k < n; k++) {
        const dataset_series *x = &t->ds.series[list[k]];
        count += t->spec.loss == LOSS_CROSS_ENTROPY ? 1
                 : t->target == JOB_TARGET_LABEL    ? loss_count_observed(t->out, x->label_vec)
                                                    : loss_count_observed(x->n * t->ch, x->y);
    }
    *loss = 0;
    if (want_grad) memset(t->grad, 0, t->np * sizeof(double));
    if (count == 0) return ERR_OK;
    struct grad_cde_options o = t->co;
    o.loss_scale = 1.0 / (double)count;
    for (size_t k = 0; k < n; k++) {
        const dataset_series *x = &t->ds.series[list[k]];
        const grad_interp *gi = t->gi[list[k]];
        const int every = t->target == JOB_TARGET_SERIES;
        const size_t nt = every ? x->n : 1;
        const double s0 = grad_interp_s0(gi, 0);
        grad_interp_params(gi, 0, every ? x->t : &x->t[x->n - 1], nt, t->tt);
        const long label = x->label_class;
        const struct grad_cde_batch b = {.batch = 1,
                                         .path = grad_interp_path(gi),
                                         .t0 = &s0,
                                         .t = t->tt,
                                         .n_t = nt,
                                         .target = every ? x->y : x->label_vec,
                                         .label = &label};
        double l = 0;
        if (grad_cde_compute(t->gc, &b, &o, &l, want_grad ? t->gtmp : NULL, NULL, e))
            return e->code;
        *loss += l;
        for (size_t p = 0; want_grad && p < t->np; p++)
            t->grad[p] += t->gtmp[p];
    }
    return ERR_OK;
}

/* Loss (and gradient into t->grad, when want_grad) of whole series
 * list[0 .. n), each from its first observation; the mean over every
 * observed value of the list. */
static err_code series_loss(train *t, const size_t *list, size_t n, int want_grad, double *loss,
                            err *e)
{
    if (t->def.kind == MODEL_KIND_CDE) return cde_loss(t, list, n, want_grad, loss, e);
    size_t count = 0;
    for (size_t k = 0; k < n; k++) {
        const dataset_series *x = &t->ds.series[list[k]];
        count += loss_count_observed(x->n * t->ch, x->y);
    }
    *loss = 0;
    if (want_grad) memset(t->grad, 0, t->np * sizeof(double));
    if (count == 0) return ERR_OK;
    struct grad_ode_options o = t->o;
    o.loss_scale = 1.0 / (double)count;
    for (size_t k = 0; k < n; k++) {
        const dataset_series *x = &t->ds.series[list[k]];
        memset(t->y0, 0, t->dim * sizeof(double));
        for (size_t c = 0; c < t->ch; c++)
            t->y0[c] = isnan(x->y[c]) ? 0 : x->y[c];
        struct grad_ode_batch b = {.batch = 1,
                                   .y0 = t->y0,
                                   .t0 = &x->t[0],
                                   .t = x->t,
                                   .n_t = x->n,
                                   .obs_dim = t->ch,
                                   .target = x->y};
        double l = 0;
        if (grad_ode_compute(t->g, &b, &o, &l, want_grad ? t->gtmp : NULL, NULL, NULL, e))
            return e->code;
        *loss += l;
        for (size_t p = 0; want_grad && p < t->np; p++)
            t->grad[p] += t->gtmp[p];
    }
    return ERR_OK;
}

/* One mini-batch of windows: loss and gradient into t->grad. */
static err_code window_loss(train *t, double *loss, err *e)
{
    size_t bt = t->spec.batch_time;
    size_t bs = t->spec.batch_size && t->spec.batch_size < t->n_win ? t->spec.batch_size : t->n_win;
    if (rng_sample(&t->r, t->n_win, bs, t->pick, e) != ERR_OK) return e->code;
    int shared = !mlp_time_input(t->f);
    for (size_t b = 0; b < bs; b++) {
        const dataset_series *x = &t->ds.series[t->win_s[t->pick[b]]];
        size_t i0 = t->win_i[t->pick[b]];
        memset(t->y0 + b * t->dim, 0, t->dim * sizeof(double));
        memcpy(t->y0 + b * t->dim, x->y + i0 * t->ch, t->ch * sizeof(double));
        memcpy(t->tgt + b * bt * t->ch, x->y + i0 * t->ch, bt * t->ch * sizeof(double));
        t->t0[b] = mlp_time_input(t->f) ? x->t[i0] : 0;
        for (size_t i = 0; i < bt; i++) {
            t->tt[b * bt + i] = x->t[i0 + i] - (mlp_time_input(t->f) ? 0 : x->t[i0]);
            /* Windows of an evenly sampled series share their relative
             * times up to rounding: one system, on the first window's
             * times (the reference demo's batch_t = t[:batch_time]). */
            double tol = 1e-9 * (fabs(t->tt[i]) + 1e-300);
            if (shared && fabs(t->tt[b * bt + i] - t->tt[i]) > tol) shared = 0;
        }
    }
    struct grad_ode_options o = t->o;
    o.batch_mode = shared ? GRAD_BATCH_SHARED : GRAD_BATCH_PER_ITEM;
    struct grad_ode_batch b = {.batch = bs,
                               .y0 = t->y0,
                               .per_item_times = !shared,
                               .t0 = t->t0,
                               .t = t->tt,
                               .n_t = bt,
                               .obs_dim = t->ch,
                               .target = t->tgt};
    return grad_ode_compute(t->g, &b, &o, loss, t->grad, NULL, NULL, e);
}

static err_code train_step(train *t, double *loss, err *e)
{
    if (t->spec.batch_time) {
        if (window_loss(t, loss, e) != ERR_OK) return e->code;
    } else {
        size_t bs =
            t->spec.batch_size && t->spec.batch_size < t->n_train ? t->spec.batch_size : t->n_train;
        size_t *list = t->train_s;
        if (bs < t->n_train) {
            if (rng_sample(&t->r, t->n_train, bs, t->pick, e) != ERR_OK) return e->code;
            for (size_t k = 0; k < bs; k++)
                t->pick[k] = t->train_s[t->pick[k]];
            list = t->pick;
        }
        if (series_loss(t, list, bs, 1, loss, e) != ERR_OK) return e->code;
    }
    double norm = optim_clip_grad_norm(t->grad, t->np, t->spec.clip_norm);
    if (!isfinite(*loss) || !isfinite(norm))
        return err_set(e, ERR_SOLVER, NULL, "diverged: the %s is not finite",
                       isfinite(*loss) ? "gradient" : "loss");
    optim_step(t->opt, t->params, t->grad);
    return ERR_OK;
}

static err_code add_row(train *t, long it, double loss, double val, double elapsed, err *e)
{
    if (t->n_rows == t->cap_rows) {
        size_t cap = t->cap_rows ? 2 * t->cap_rows : 64;
        job_metric *p = realloc(t->rows, cap * sizeof *p);
        if (!p) return err_set(e, ERR_NOMEM, NULL, "out of memory");
        t->rows = p;
        t->cap_rows = cap;
    }
    t->rows[t->n_rows++] = (job_metric){it, loss, val, elapsed};
    return ERR_OK;
}

static err_code checkpoint(train *t, bool *cancel, err *e)
{
    t->ck.n_params = t->np;
    t->ck.params = t->params;
    t->ck.best = t->best;
    t->ck.optim_len = optim_state_len(t->opt);
    t->ck.optim_steps = optim_steps(t->opt);
    optim_state_get(t->opt, t->ck.optim);
    rng_state_get(&t->r, t->ck.rng);
    err_code rc = store_job_checkpoint(t->d, t->id, &t->ck, t->rows, t->n_rows, cancel, e);
    if (rc == ERR_OK) t->n_rows = 0;
    return rc;
}

static err_code restore(train *t, const job_ckpt *ck, err *e)
{
    t->ck.optim = dalloc(optim_state_len(t->opt));
    if (!t->ck.optim) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    if (ck->iteration == 0) {
        rng r0;
        rng_seed(&r0, t->spec.seed + 1);
        t->r = r0;
        memcpy(t->best, t->params, t->np * sizeof(double));
        t->ck.train_loss = t->ck.val_loss = t->ck.best_train_loss = t->ck.best_val_loss = NAN;
        return ERR_OK;
    }
    if (ck->n_params != t->np)
        return err_set(e, ERR_DB, NULL, "checkpoint has %zu parameters, the model %zu",
                       ck->n_params, t->np);
    if (optim_state_set(t->opt, ck->optim_steps, ck->optim, ck->optim_len, e) ||
        rng_state_set(&t->r, ck->rng, e))
        return e->code;
    memcpy(t->params, ck->params, t->np * sizeof(double));
    memcpy(t->best, ck->best, t->np * sizeof(double));
    double *keep = t->ck.optim;
    t->ck = *ck;
    t->ck.params = t->ck.best = NULL;
    t->ck.optim = keep;
    return ERR_OK;
}

/* Store the result as a new version (its number) and mark the job
 * succeeded, in one transaction (store_job_succeed). */
static err_code store_result(train *t, int *version, err *e)
{
    model_def out;
    model_def_init(&out);
    if (model_def_copy(&out, &t->def, e) != ERR_OK) return e->code;
    memcpy(out.params, t->spec.val_every ? t->best : t->params, t->np * sizeof(double));
    char desc[512];
    snprintf(desc, sizeof desc,
             "trained by job %lld on dataset %s (%ld iterations, %s gradient): final training "
             "loss %.6g, best validation loss %.6g",
             t->id, t->spec.dataset, t->ck.iteration, grad_method_name(t->spec.gradient),
             t->ck.train_loss, t->ck.best_val_loss);
    free(out.description);
    out.description = strdup(desc);
    /* Serve it with the solver it was trained with. */
    snprintf(out.solver.method, sizeof out.solver.method, "%s", t->spec.method);
    out.solver.rtol = t->spec.rtol;
    out.solver.atol = t->spec.atol;
    if (t->spec.max_steps) out.solver.max_steps = t->spec.max_steps;
    err_code rc = store_job_succeed(t->d, t->id, t->spec.model, &out, version, e);
    model_def_free(&out);
    return rc;
}

static void validate(train *t, long it, double *val, err *e)
{
    if (!t->spec.val_every || it % (long)t->spec.val_every != 0) return;
    if (series_loss(t, t->val_s, t->n_val, 0, val, e) != ERR_OK) return;
    t->ck.val_loss = *val;
    if (isfinite(*val) && !(*val >= t->ck.best_val_loss)) {
        t->ck.best_val_loss = *val;
        memcpy(t->best, t->params, t->np * sizeof(double));
    }
}

/* The loop; returns the status to record (JOB_QUEUED = stopped). */
static job_status loop(train *t, const train_limits *lim, err *e)
{
    double c0 = clock_mono(), base = t->ck.elapsed, last_ck = c0;
    while (t->ck.iteration < t->spec.iterations) {
        double loss = NAN, val = NAN;
        if (train_step(t, &loss, e) != ERR_OK) break;
        long it = ++t->ck.iteration;
        t->ck.train_loss = loss;
        if (!(loss >= t->ck.best_train_loss)) t->ck.best_train_loss = loss;
        validate(t, it, &val, e);
        if (e->code) break;
        t->ck.elapsed = base + clock_mono() - c0;
        if (add_row(t, it, loss, val, t->ck.elapsed, e) != ERR_OK) break;
        int stop = atomic_load(lim->stop), cancel = lim->cancel && atomic_load(lim->cancel);
        if (stop || cancel || it % lim->checkpoint_every_iterations == 0 ||
            clock_mono() - last_ck >= lim->checkpoint_every_seconds) {
            bool asked = false;
            if (checkpoint(t, &asked, e) != ERR_OK) break;
            last_ck = clock_mono();
            if (cancel || asked) return JOB_CANCELLED;
            if (stop) return JOB_QUEUED;
        }
    }
    if (e->code) return JOB_FAILED;
    return checkpoint(t, NULL, e) == ERR_OK ? JOB_SUCCEEDED : JOB_FAILED;
}

job_status train_job_run(db *d, long long id, const char *spec, const job_ckpt *ck,
                         const train_limits *lim)
{
    train t;
    memset(&t, 0, sizeof t);
    t.d = d;
    t.id = id;
    model_def_init(&t.def);
    dataset_init(&t.ds);
    err e;
    err_clear(&e);
    job_status st = JOB_FAILED;
    int version = 0;
    if (lim->decode(spec, strlen(spec), &t.spec, &e) || setup(&t, &e) || restore(&t, ck, &e))
        goto done;
    log_info("job_started", "id=%lld model=%s dataset=%s from_iteration=%ld iterations=%ld", id,
             t.spec.model, t.spec.dataset, t.ck.iteration, t.spec.iterations);
    st = loop(&t, lim, &e);
    if (st == JOB_SUCCEEDED && store_result(&t, &version, &e) != ERR_OK) st = JOB_FAILED;
done:;
    err fe;
    err_clear(&fe);
    char why[ERR_FIELD_MAX + ERR_MSG_MAX + 64] = "";
    if (st == JOB_FAILED)
        snprintf(why, sizeof why, "%s%s%s (at iteration %ld)", e.field, e.field[0] ? ": " : "",
                 e.message, t.ck.iteration);
    if (st == JOB_CANCELLED)
        snprintf(why, sizeof why, "cancelled at iteration %ld", t.ck.iteration);
    err_code rc = st == JOB_QUEUED      ? store_job_requeue(d, id, &fe)
                  : st == JOB_SUCCEEDED ? ERR_OK /* recorded with its result */
                                        : store_job_finish(d, id, st, why[0] ? why : NULL, &fe);
    if (rc != ERR_OK) log_error("job_record_failed", "id=%lld code=%s", id, err_code_name(fe.code));
    log_info("job_ended", "id=%lld status=%s iteration=%ld version=%d", id, job_status_name(st),
             t.ck.iteration, version);
    train_free(&t);
    return st;
}
