/* model/trainer.c: the training loop of every kind. See trainer.h; what
 * differs per kind is behind trainer_internal.h. */
#include "model/trainer.h"

#include "model/grad_solve.h"
#include "model/loss.h"
#include "model/optim.h"
#include "model/rng.h"
#include "model/trainer_internal.h"
#include "model/trainer_pool.h"
#include "nn/mlp.h"
#include "num/tableau.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct trainer {
    struct trainer_data d;
    const struct trainer_kind *kind;
    void *ks; /* the kind's state */
    mlp *net[MODEL_MAX_NETS];
    optim *opt;
    rng r;
    size_t *train_s, n_train;     /* training series */
    size_t *val_s, n_val;         /* validation series (the training ones when none held out) */
    size_t *win_s, *win_i, n_win; /* window candidates: series, start */
    size_t *pick;                 /* sampled indices */
    double *grad, *best;          /* np each */
    double *optim_state;          /* optim_state_len: trainer_state_get's copy */
    /* the job's threads (trainer_threads_set): a kind state per worker
     * (wks[0] is ks), and the results of one round of chunks, reduced in
     * chunk order */
    int workers;
    void **wks;
    trainer_pool *pool;
    size_t slots;
    double *slot_loss, *slot_grad; /* slots, and slots x np */
    long iteration;
    double train_loss, val_loss, best_train_loss, best_val_loss;
};

static double *dalloc(size_t n)
{
    return calloc(n ? n : 1, sizeof(double));
}

void trainer_free(trainer *t)
{
    if (!t) return;
    trainer_pool_free(t->pool);
    for (int w = 1; t->wks && w < t->workers; w++)
        t->kind->free(t->wks[w]);
    free(t->wks), free(t->slot_loss), free(t->slot_grad);
    if (t->kind) t->kind->free(t->ks);
    for (size_t i = 0; i < MODEL_MAX_NETS; i++)
        mlp_free(t->net[i]);
    optim_free(t->opt);
    free(t->d.params);
    free(t->train_s), free(t->val_s), free(t->win_s), free(t->win_i), free(t->pick);
    free(t->grad), free(t->best), free(t->optim_state);
    free(t);
}

/* Every network of the model, bound to the one parameter vector. */
static err_code nets_new(trainer *t, err *e)
{
    const model_def *def = t->d.def;
    t->d.np = def->n_params;
    t->d.params = dalloc(t->d.np);
    if (!t->d.params) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    memcpy(t->d.params, def->params, t->d.np * sizeof(double));
    for (size_t i = 0; i < def->n_nets; i++) {
        const model_net *n = &def->nets[i];
        mlp_spec ms = {.state_dim = n->in_dim,
                       .time_input = n->time_input,
                       .n_layers = n->n_layers,
                       .layers = n->layers};
        if (mlp_new(&t->net[i], &ms, e) != ERR_OK) return e->code;
        mlp_params_bind(t->net[i], t->d.params + model_def_net_offset(def, i));
        t->d.net[i] = t->net[i];
    }
    return ERR_OK;
}

/* Hold out series for validation (their own generator: the same split on
 * every resume), and list the window starts of the training series. */
static err_code split(trainer *t, err *e)
{
    const job_spec *spec = t->d.spec;
    size_t n = t->d.ds->n_series, nv = 0;
    if (spec->holdout_fraction > 0) {
        nv = (size_t)llround(spec->holdout_fraction * (double)n);
        if (nv < 1) nv = 1;
        if (nv >= n)
            return err_set(e, ERR_INVALID, "validation.holdout_fraction",
                           "holds out every series of dataset \"%s\" (%zu); use 0 to validate "
                           "on the training series",
                           spec->dataset, n);
    }
    t->train_s = calloc(n, sizeof(size_t));
    t->val_s = calloc(n, sizeof(size_t));
    size_t *perm = calloc(n, sizeof(size_t));
    if (!t->train_s || !t->val_s || !perm) {
        free(perm);
        return err_set(e, ERR_NOMEM, NULL, "out of memory");
    }
    rng sr;
    rng_seed(&sr, spec->seed ^ 0x5eedda7aULL);
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
static err_code windows(trainer *t, err *e)
{
    const dataset *ds = t->d.ds;
    const size_t bt = t->d.spec->batch_time, ch = t->d.ch;
    size_t total = 0;
    for (size_t k = 0; k < t->n_train; k++) {
        size_t n = ds->series[t->train_s[k]].n;
        total += n >= bt ? n - bt + 1 : 0;
    }
    t->win_s = calloc(total + 1, sizeof(size_t));
    t->win_i = calloc(total + 1, sizeof(size_t));
    if (!t->win_s || !t->win_i) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    for (size_t k = 0; k < t->n_train; k++) {
        const dataset_series *x = &ds->series[t->train_s[k]];
        for (size_t i = 0; x->n >= bt && i + bt <= x->n; i++) {
            int ok = 1;
            for (size_t c = 0; c < ch; c++)
                ok &= !isnan(x->y[i * ch + c]);
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

static void solve_options(const job_spec *spec, struct grad_solve_options *o)
{
    grad_solve_options_init(o);
    o->method = spec->gradient;
    o->tab = rk_tableau_find(spec->method);
    o->ode.rtol = spec->rtol;
    o->ode.atol = spec->atol;
    if (spec->max_steps) o->ode.max_steps = spec->max_steps;
    if (spec->gradient == GRAD_REVERSIBLE) o->ode.fixed_step = spec->step;
}

static err_code setup(trainer *t, err *e)
{
    const job_spec *spec = t->d.spec;
    const dataset *ds = t->d.ds;
    if (nets_new(t, e) != ERR_OK) return e->code;
    t->d.ch = ds->channels;
    if (job_spec_data_check(spec, t->d.def, spec->from_version ? "from_version" : "init.readout",
                            ds->kind, t->d.ch, ds->label_kind, ds->label_dim, &t->d.target,
                            e))
        return e->code;
    /* a point set's kind splits and draws its points itself */
    const int points = t->d.def->kind == MODEL_KIND_CNF;
    if ((!points && split(t, e)) || (spec->batch_time && windows(t, e))) return e->code;
    size_t bmax = spec->batch_time ? (spec->batch_size ? spec->batch_size : t->n_win) : 1;
    if (spec->batch_time && bmax > t->n_win) bmax = t->n_win;
    size_t nt = spec->batch_time;
    for (size_t s = 0; s < ds->n_series; s++)
        if (ds->series[s].n > nt) nt = ds->series[s].n;
    t->d.bmax = bmax;
    t->d.nt_max = nt;
    t->pick = calloc(t->n_win > t->n_train ? t->n_win + 1 : t->n_train + 1, sizeof(size_t));
    t->grad = dalloc(t->d.np);
    t->best = dalloc(t->d.np);
    if (!t->pick || !t->grad || !t->best) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    if (optim_new(&t->opt, &spec->optim, t->d.np, e) != ERR_OK) return e->code;
    solve_options(spec, &t->d.solve);
    const job_fit fit = job_spec_fit(spec, t->d.def->kind);
    t->kind = fit == JOB_FIT_HNN || fit == JOB_FIT_DERIVATIVE || fit == JOB_FIT_LNN
                  ? &trainer_deriv_kind
              : fit == JOB_FIT_TRAJECTORY                     ? &trainer_ham_kind
              : t->d.def->kind == MODEL_KIND_CDE              ? &trainer_cde_kind
              : t->d.def->kind == MODEL_KIND_SDE ? &trainer_sde_kind
              : t->d.def->kind == MODEL_KIND_HYBRID ? &trainer_hybrid_kind
              : points                           ? &trainer_cnf_kind
                                                 : &trainer_ode_kind;
    return t->kind->setup(&t->ks, &t->d, e);
}

/* Iteration 0: the mini-batch generator seeded from the document, the
 * starting parameters the best so far. */
static err_code start(trainer *t, err *e)
{
    t->optim_state = dalloc(optim_state_len(t->opt));
    t->workers = 1;
    t->slots = 1;
    t->wks = calloc(1, sizeof *t->wks);
    t->slot_loss = dalloc(1);
    t->slot_grad = dalloc(t->d.np);
    if (!t->optim_state || !t->wks || !t->slot_loss || !t->slot_grad)
        return err_set(e, ERR_NOMEM, NULL, "out of memory");
    t->wks[0] = t->ks;
    rng r0;
    rng_seed(&r0, t->d.spec->seed + 1);
    t->r = r0;
    memcpy(t->best, t->d.params, t->d.np * sizeof(double));
    t->train_loss = t->val_loss = t->best_train_loss = t->best_val_loss = NAN;
    return ERR_OK;
}

err_code trainer_new(trainer **out, const model_def *def, const dataset *ds, const job_spec *spec,
                     err *e)
{
    *out = NULL;
    trainer *t = calloc(1, sizeof *t);
    if (!t) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    t->d.def = def;
    t->d.ds = ds;
    t->d.spec = spec;
    if (setup(t, e) || start(t, e)) {
        trainer_free(t);
        return e->code;
    }
    *out = t;
    return ERR_OK;
}

/* One mini-batch split into chunks: items [c * chunk, (c + 1) * chunk) of
 * list (whole series, chunk 1; or picked windows), each chunk's loss and
 * gradient computed by a worker into a slot, the slots added in chunk
 * order. The partition and the order of the additions depend on the batch
 * alone, never on the thread count: the results are bit-identical on any
 * number of threads. */
struct batch {
    trainer *t;
    const size_t *list;
    size_t n, chunk; /* items, and items per chunk */
    int windows;     /* list holds picked windows, else series */
    double scale;    /* 1 / the batch's count of compared values */
    int want_grad;
    size_t c0; /* the round's first chunk */
};

static err_code chunk_loss(void *ctx, int w, size_t c, err *e)
{
    const struct batch *b = ctx;
    trainer *t = b->t;
    const size_t i0 = (b->c0 + c) * b->chunk, n = b->n - i0 < b->chunk ? b->n - i0 : b->chunk;
    double *g = b->want_grad ? t->slot_grad + c * t->d.np : NULL;
    if (b->windows)
        return t->kind->window_chunk_loss(t->wks[w], &t->d, t->win_s, t->win_i, b->list + i0, n,
                                          b->scale, &t->slot_loss[c], g, e);
    return t->kind->series_loss(t->wks[w], &t->d, b->list[i0], b->scale, &t->slot_loss[c], g, e);
}

static err_code batch_run(trainer *t, struct batch *b, double *loss, err *e)
{
    const size_t np = t->d.np, chunks = (b->n + b->chunk - 1) / b->chunk;
    *loss = 0;
    if (b->want_grad) memset(t->grad, 0, np * sizeof(double));
    for (b->c0 = 0; b->c0 < chunks; b->c0 += t->slots) {
        const size_t m = chunks - b->c0 < t->slots ? chunks - b->c0 : t->slots;
        if (trainer_pool_run(t->pool, m, chunk_loss, b, e) != ERR_OK) return e->code;
        for (size_t c = 0; c < m; c++) {
            *loss += t->slot_loss[c];
            const double *g = t->slot_grad + c * np;
            for (size_t p = 0; b->want_grad && p < np; p++)
                t->grad[p] += g[p];
        }
    }
    return ERR_OK;
}

/* Loss (and gradient into t->grad, when want_grad) of whole series
 * list[0 .. n), each from its first observation; the mean over every value
 * the kind compares in the list. */
static err_code series_loss(trainer *t, const size_t *list, size_t n, int want_grad, double *loss,
                            err *e)
{
    size_t count = 0;
    for (size_t k = 0; k < n; k++)
        count += t->kind->count(t->ks, &t->d, list[k]);
    *loss = 0;
    if (want_grad) memset(t->grad, 0, t->d.np * sizeof(double));
    if (count == 0) return ERR_OK;
    struct batch b = {.t = t,
                      .list = list,
                      .n = n,
                      .chunk = 1,
                      .scale = 1.0 / (double)count,
                      .want_grad = want_grad};
    return batch_run(t, &b, loss, e);
}

/* Windows pick[0 .. bs) in chunks of TRAINER_WINDOW_CHUNK, for a kind that
 * honours threads; the mean over the batch's observed values, as one call
 * of window_loss would give. */
static err_code window_loss(trainer *t, size_t bs, double *loss, err *e)
{
    if (!t->kind->threads)
        return t->kind->window_loss(t->ks, &t->d, t->win_s, t->win_i, t->pick, bs, loss, t->grad,
                                    e);
    const size_t bt = t->d.spec->batch_time, ch = t->d.ch;
    size_t count = 0;
    for (size_t k = 0; k < bs; k++) {
        const dataset_series *x = &t->d.ds->series[t->win_s[t->pick[k]]];
        count += loss_observed_count(bt * ch, x->y + t->win_i[t->pick[k]] * ch);
    }
    struct batch b = {.t = t,
                      .list = t->pick,
                      .n = bs,
                      .chunk = TRAINER_WINDOW_CHUNK,
                      .windows = 1,
                      .scale = count ? 1.0 / (double)count : 0.0,
                      .want_grad = 1};
    return batch_run(t, &b, loss, e);
}

/* One mini-batch (windows, or whole series): its loss and gradient into
 * t->grad; then the clipped gradient's optimiser step. */
static err_code grad_step(trainer *t, double *loss, err *e)
{
    const job_spec *spec = t->d.spec;
    if (t->kind->draw_loss) {
        if (t->kind->draw_loss(t->ks, &t->d, &t->r, loss, t->grad, e)) return e->code;
    } else if (spec->batch_time) {
        size_t bs = spec->batch_size && spec->batch_size < t->n_win ? spec->batch_size : t->n_win;
        if (rng_sample(&t->r, t->n_win, bs, t->pick, e) != ERR_OK) return e->code;
        if (window_loss(t, bs, loss, e) != ERR_OK) return e->code;
    } else {
        size_t bs =
            spec->batch_size && spec->batch_size < t->n_train ? spec->batch_size : t->n_train;
        size_t *list = t->train_s;
        if (bs < t->n_train) {
            if (rng_sample(&t->r, t->n_train, bs, t->pick, e) != ERR_OK) return e->code;
            for (size_t k = 0; k < bs; k++)
                t->pick[k] = t->train_s[t->pick[k]];
            list = t->pick;
        }
        if (series_loss(t, list, bs, 1, loss, e) != ERR_OK) return e->code;
    }
    double norm = optim_clip_grad_norm(t->grad, t->d.np, spec->clip_norm);
    if (!isfinite(*loss) || !isfinite(norm))
        return err_set(e, ERR_SOLVER, NULL, "diverged: the %s is not finite",
                       isfinite(*loss) ? "gradient" : "loss");
    optim_step(t->opt, t->d.params, t->grad);
    if (t->kind->project) t->kind->project(t->ks, &t->d, t->d.params);
    return ERR_OK;
}

static err_code validate(trainer *t, long it, double *val, err *e)
{
    const size_t every = t->d.spec->val_every;
    if (!every || it % (long)every != 0) return ERR_OK;
    if (t->kind->val_loss ? t->kind->val_loss(t->ks, &t->d, val, e)
                          : series_loss(t, t->val_s, t->n_val, 0, val, e))
        return e->code;
    t->val_loss = *val;
    if (isfinite(*val) && !(*val >= t->best_val_loss)) {
        t->best_val_loss = *val;
        memcpy(t->best, t->d.params, t->d.np * sizeof(double));
    }
    return ERR_OK;
}

err_code trainer_step(trainer *t, struct trainer_row *row, err *e)
{
    double loss = NAN, val = NAN;
    if (grad_step(t, &loss, e) != ERR_OK) return e->code;
    long it = ++t->iteration;
    t->train_loss = loss;
    if (!(loss >= t->best_train_loss)) t->best_train_loss = loss;
    err_code rc = validate(t, it, &val, e);
    *row = (struct trainer_row){it, loss, val};
    return rc;
}

long trainer_iteration(const trainer *t)
{
    return t->iteration;
}

void trainer_rng_get(const trainer *t, uint64_t out[4])
{
    rng_state_get(&t->r, out);
}

int trainer_done(const trainer *t)
{
    return t->iteration >= t->d.spec->iterations;
}

void trainer_state_get(trainer *t, struct trainer_state *st)
{
    optim_state_get(t->opt, t->optim_state);
    *st = (struct trainer_state){.iteration = t->iteration,
                                 .train_loss = t->train_loss,
                                 .val_loss = t->val_loss,
                                 .best_train_loss = t->best_train_loss,
                                 .best_val_loss = t->best_val_loss,
                                 .n_params = t->d.np,
                                 .params = t->d.params,
                                 .best = t->best,
                                 .optim_len = optim_state_len(t->opt),
                                 .optim = t->optim_state,
                                 .optim_steps = optim_steps(t->opt)};
    rng_state_get(&t->r, st->rng);
}

err_code trainer_state_set(trainer *t, const struct trainer_state *st, err *e)
{
    if (st->n_params != t->d.np)
        return err_set(e, ERR_INVALID, "state", "%zu parameters, the model has %zu", st->n_params,
                       t->d.np);
    if (optim_state_set(t->opt, st->optim_steps, st->optim, st->optim_len, e) ||
        rng_state_set(&t->r, st->rng, e))
        return e->code;
    memcpy(t->d.params, st->params, t->d.np * sizeof(double));
    memcpy(t->best, st->best, t->d.np * sizeof(double));
    t->iteration = st->iteration;
    t->train_loss = st->train_loss;
    t->val_loss = st->val_loss;
    t->best_train_loss = st->best_train_loss;
    t->best_val_loss = st->best_val_loss;
    return ERR_OK;
}

const double *trainer_result(const trainer *t)
{
    return t->d.spec->val_every ? t->best : t->d.params;
}

err_code trainer_threads_set(trainer *t, int threads, err *e)
{
    if (threads < 1 || threads > TRAINER_MAX_THREADS)
        return err_set(e, ERR_INVALID, "threads", "must be 1 to %d", TRAINER_MAX_THREADS);
    if (t->pool || threads == 1 || !t->kind->threads) return ERR_OK;
    /* a round of chunks ends at a barrier: as many slots as 8 MB holds
     * (at least 4 a thread, at most 256), so that most mini-batches are one
     * round; the count changes no result, only how often threads wait */
    size_t slots = ((size_t)8 << 20) / (t->d.np * sizeof(double) + 1);
    if (slots < 4 * (size_t)threads) slots = 4 * (size_t)threads;
    if (slots > 256) slots = 256;
    void **wks = calloc((size_t)threads, sizeof *wks);
    double *sl = dalloc(slots), *sg = dalloc(slots * t->d.np);
    if (!wks || !sl || !sg) {
        free(wks), free(sl), free(sg);
        return err_set(e, ERR_NOMEM, NULL, "out of memory for the training threads");
    }
    free(t->wks), free(t->slot_loss), free(t->slot_grad);
    t->wks = wks;
    t->slot_loss = sl;
    t->slot_grad = sg;
    t->slots = slots;
    wks[0] = t->ks;
    /* workers counts the states made so far, for trainer_free */
    for (t->workers = 1; t->workers < threads; t->workers++)
        if (t->kind->setup(&wks[t->workers], &t->d, e) != ERR_OK) {
            t->workers++; /* setup may leave a partial state: free it */
            return e->code;
        }
    return trainer_pool_new(&t->pool, threads - 1, e);
}

int trainer_threads(const trainer *t)
{
    return t->workers;
}

void trainer_yield_set(trainer *t, int (*busy)(void *ctx), void *ctx)
{
    trainer_pool_yield_set(t->pool, busy, ctx);
}

unsigned long trainer_yields(const trainer *t)
{
    return trainer_pool_yields(t->pool);
}
