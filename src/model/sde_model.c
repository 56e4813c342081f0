/* model/sde_model.c: see sde_model.h.
 *
 * DESIGN. Each path is solved on its own (matrix-vector network
 * evaluations), so that a path is the same computation whatever else is in
 * the request: batching paths into one GEMM would make a path's rounding
 * depend on its neighbours only if the kernels were not row-independent,
 * but it would also tie every path of a batch to one step grid and one
 * failure; per path keeps "sample k is a function of (seed, k)" literal.
 * A batched evaluation is also no cheaper per state than a single one on
 * the reference core (docs/benchmarks.md, "SDE" and "Batch modes");
 * bench/bench_sde measures what per path costs. */
#include "model/sde_model.h"

#include "nn/mlp.h"
#include "num/brownian.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Samples per claim of the shared counter. */
#define SDE_CHUNK 4
/* Helpers only for requests of at least this many steps in all. */
#define SDE_PARALLEL_MIN_STEPS 100000.0

struct sde_model {
    size_t dim, m;
    sde_noise noise;
    sde_calculus calculus;
    mlp *drift, *diffusion; /* owning their parameters */
    model_solver solver;    /* the model's defaults */
};

/* ---- construction ---- */

static err_code net_build(const model_def *d, size_t which, mlp **out, err *e)
{
    const model_net *n = &d->nets[which];
    const mlp_spec spec = {
        .state_dim = n->in_dim, .time_input = n->time_input, .n_layers = n->n_layers, .layers = n->layers};
    err_code rc = mlp_new(out, &spec, e);
    if (rc) {
        err_prefix_field(e, model_net_name(d->kind, which));
        return rc;
    }
    const size_t np = mlp_n_params(*out), off = model_def_net_offset(d, which);
    if (off + np > d->n_params)
        return err_set(e, ERR_INTERNAL, NULL, "network %s needs %zu parameters",
                       model_net_name(d->kind, which), np);
    memcpy(mlp_params(*out), d->params + off, np * sizeof(double));
    err pe; /* out of memory only serves it unpacked (same results) */
    err_clear(&pe);
    (void)mlp_pack(*out, &pe);
    return ERR_OK;
}

err_code sde_model_new(sde_model **out, const model_def *d, err *e)
{
    *out = NULL;
    if (!d) return err_set(e, ERR_INVALID, NULL, "no model given");
    if (d->kind != MODEL_KIND_SDE)
        return err_set(e, ERR_INVALID, "kind", "is \"%s\", expected \"sde\"",
                       model_kind_name(d->kind));
    err_code rc = model_def_validate(d, e);
    if (rc) return rc;
    sde_model *m = calloc(1, sizeof *m);
    if (!m) return err_set(e, ERR_NOMEM, NULL, "out of memory for a model");
    if ((rc = net_build(d, MODEL_NET_SDE_DRIFT, &m->drift, e)) ||
        (rc = net_build(d, MODEL_NET_SDE_DIFFUSION, &m->diffusion, e)))
        goto fail;
    m->dim = d->state_dim;
    m->noise = (sde_noise)d->sde_noise;
    m->calculus = (sde_calculus)d->sde_calculus;
    m->m = sde_problem_m(m->noise, m->dim, d->brownian_dim);
    m->solver = d->solver;
    *out = m;
    return ERR_OK;
fail:
    sde_model_free(m);
    return rc;
}

void sde_model_free(sde_model *m)
{
    if (!m) return;
    mlp_free(m->drift);
    mlp_free(m->diffusion);
    free(m);
}

size_t sde_model_state_dim(const sde_model *m)
{
    return m->dim;
}

err_code sde_model_settings(const sde_model *m, const model_solver *over,
                            const struct sde_method **me, double *step, err *e)
{
    model_solver s;
    if (model_solver_validate(over, e)) return ERR_INVALID;
    model_solver_merge(&m->solver, over, &s);
    const char *name = s.method[0] ? s.method : m->calculus == SDE_ITO ? "euler_maruyama"
                                                                        : "euler_heun";
    if (!(*me = sde_method_find(name)))
        return err_set(e, ERR_INVALID, "solver.method",
                       "%s is not an sde method (euler_maruyama, milstein, euler_heun, "
                       "reversible_heun or sra1)",
                       name);
    if (sde_method_check(*me, m->calculus, m->noise, e)) return ERR_INVALID;
    if (!(s.step > 0))
        return err_set(e, ERR_INVALID, "solver.step",
                       "missing: %s is a fixed-step method; give solver.step in the model or the "
                       "request",
                       name);
    if (s.step < SDE_MODEL_MIN_STEP)
        return err_set(e, ERR_INVALID, "solver.step", "must be at least 2^-20 (%.17g), got %.17g",
                       SDE_MODEL_MIN_STEP, s.step);
    *step = s.step;
    return ERR_OK;
}

/* ---- the networks as num/sde.h callbacks (one thread's) ---- */

typedef struct eval_ctx {
    const sde_model *m;
    mlp_ws *fws, *gws; /* for up to SDE_CHUNK states */
    double *u, *yd;    /* dim each: a tangent, the JVP */
    size_t k;          /* states per call of the block callbacks */
} eval_ctx;

static int cb_drift(void *ctx, double t, const double *y, double *f)
{
    eval_ctx *c = ctx;
    mlp_forward(c->m->drift, c->fws, y, t, f);
    return 0;
}

static int cb_diffusion(void *ctx, double t, const double *y, double *g)
{
    eval_ctx *c = ctx;
    if (c->m->noise == SDE_NOISE_ADDITIVE)
        mlp_forward(c->m->diffusion, c->gws, &t, 0, g); /* the time is its one input */
    else
        mlp_forward(c->m->diffusion, c->gws, y, t, g);
    return 0;
}

/* The callbacks of sde_solve_block: c->k states one after the other. */
static int cb_drift_block(void *ctx, double t, const double *y, double *f)
{
    eval_ctx *c = ctx;
    mlp_forward_batch(c->m->drift, c->fws, c->k, y, t, f);
    return 0;
}

static int cb_diffusion_block(void *ctx, double t, const double *y, double *g)
{
    eval_ctx *c = ctx;
    const size_t d = c->m->dim;
    if (c->m->noise != SDE_NOISE_ADDITIVE) {
        mlp_forward_batch(c->m->diffusion, c->gws, c->k, y, t, g);
        return 0;
    }
    mlp_forward(c->m->diffusion, c->gws, &t, 0, g); /* a function of t alone: the same for all */
    for (size_t s = 1; s < c->k; s++)
        memcpy(g + s * d, g, d * sizeof *g);
    return 0;
}

/* Milstein's q from the diffusion network's forward-mode derivatives:
 * diagonal q_i = g_i dg_i/dy_i (one JVP per unit vector), scalar q = J g
 * (one JVP along g). */
static int cb_diffusion_d(void *ctx, double t, const double *y, double *g, double *q)
{
    eval_ctx *c = ctx;
    const size_t d = c->m->dim;
    mlp_forward(c->m->diffusion, c->gws, y, t, g);
    if (c->m->noise == SDE_NOISE_SCALAR) {
        mlp_jvp(c->m->diffusion, c->gws, g, 0, q);
        return 0;
    }
    memset(c->u, 0, d * sizeof *c->u);
    for (size_t i = 0; i < d; i++) {
        c->u[i] = 1;
        mlp_jvp(c->m->diffusion, c->gws, c->u, 0, c->yd);
        c->u[i] = 0;
        q[i] = g[i] * c->yd[i];
    }
    return 0;
}

/* ---- the shared work of one solve ---- */

typedef struct work {
    const sde_model *m;
    const struct sde_model_query *q;
    const struct sde_method *me;
    double h;
    size_t *order;       /* times ascending, owned */
    double *paths;
    size_t n_chunks;
    atomic_size_t next;     /* the next chunk to claim */
    atomic_size_t fail_min; /* lowest failing item (k * batch + b) so far; SIZE_MAX = none */
    atomic_int stop;        /* an abort or allocation code: every thread stops */
    atomic_int refs;        /* the caller and each queued helper */
    pthread_mutex_t mu;     /* guards what follows */
    pthread_cond_t idle;
    int active, done;
    err fail_e;    /* the error of item fail_min, or the stop's */
    double t_fail;
    long steps, nfe;
    int threads;
} work;

static void work_release(work *w)
{
    if (atomic_fetch_sub(&w->refs, 1) != 1) return;
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->idle);
    free(w->order);
    free(w);
}

/* One thread's workspaces. */
typedef struct worker {
    eval_ctx ec;
    sde_ws *ws;
    sde_ws *bws; /* SDE_CHUNK samples in lockstep (sde_solve_block); NULL: none */
} worker;

static void worker_free(worker *k)
{
    mlp_ws_free(k->ec.fws);
    mlp_ws_free(k->ec.gws);
    free(k->ec.u);
    free(k->ec.yd);
    sde_ws_free(k->ws);
    sde_ws_free(k->bws);
}

static err_code worker_init(worker *k, const sde_model *m, err *e)
{
    memset(k, 0, sizeof *k);
    k->ec.m = m;
    if (mlp_ws_new(&k->ec.fws, m->drift, SDE_CHUNK, e) ||
        mlp_ws_new(&k->ec.gws, m->diffusion, SDE_CHUNK, e) || sde_ws_new(&k->ws, m->dim, m->m, e))
        goto fail;
    if ((m->noise == SDE_NOISE_DIAGONAL || m->noise == SDE_NOISE_ADDITIVE) &&
        sde_ws_new_block(&k->bws, m->dim, m->m, SDE_CHUNK, e))
        goto fail;
    k->ec.u = calloc(m->dim, sizeof(double));
    k->ec.yd = calloc(m->dim, sizeof(double));
    if (!k->ec.u || !k->ec.yd) {
        err_set(e, ERR_NOMEM, NULL, "out of memory for an sde solve");
        goto fail;
    }
    return ERR_OK;
fail:
    worker_free(k);
    return e && e->code ? e->code : ERR_NOMEM;
}

/* A whole chunk of SDE_CHUNK samples in lockstep, every initial state:
 * each layer's weights are read once for the chunk's states, where one
 * sample at a time reads the drift's and the diffusion's in turn and they
 * do not fit the L1 cache together (docs/benchmarks.md, "SDE"). The same
 * bits as one sample at a time (sde_solve_block, nn panel_matvec_n); true
 * when done. False (nothing counted) for a shorter chunk, a method or noise
 * that does not fit, or anything but a clean finish: the caller then solves
 * the chunk sample by sample, which also finds and reports a failure. */
static bool chunk_block(work *w, worker *k, size_t k0, size_t k1, long *steps, long *nfe)
{
    const sde_model *m = w->m;
    const struct sde_model_query *q = w->q;
    if (k1 - k0 != SDE_CHUNK || !k->bws || !sde_block_fits(w->me, m->noise)) return false;
    const sde_problem p = {.dim = SDE_CHUNK * m->dim,
                           .m = SDE_CHUNK * m->m,
                           .noise = m->noise,
                           .calculus = m->calculus,
                           .drift = cb_drift_block,
                           .diffusion = cb_diffusion_block,
                           .ctx = &k->ec};
    struct sde_stats st = {0};
    k->ec.k = SDE_CHUNK;
    for (size_t b = 0; b < q->batch; b++) {
        double *y = w->paths + (b * q->samples + k0) * q->n_t * m->dim;
        if (sde_solve_block(&p, w->me, w->h, q->seed, (uint32_t)k0, q->t0, q->y0 + b * m->dim,
                            q->t, q->n_t, w->order, y, q->n_t * m->dim, k->bws, q->abort,
                            q->abort_ctx, &st))
            return false;
    }
    *steps += st.steps;
    *nfe += st.nfe;
    return true;
}

/* Claim chunks until none is left (or the solve stops). */
static void work_run(work *w, worker *k)
{
    const sde_model *m = w->m;
    const struct sde_model_query *q = w->q;
    const sde_problem p = {.dim = m->dim,
                           .m = m->m,
                           .noise = m->noise,
                           .calculus = m->calculus,
                           .drift = cb_drift,
                           .diffusion = cb_diffusion,
                           .diffusion_d = cb_diffusion_d,
                           .ctx = &k->ec};
    long steps = 0, nfe = 0;
    for (;;) {
        size_t c = atomic_fetch_add(&w->next, 1);
        if (c >= w->n_chunks || atomic_load(&w->stop)) break;
        size_t k0 = c * SDE_CHUNK, k1 = k0 + SDE_CHUNK < q->samples ? k0 + SDE_CHUNK : q->samples;
        if (k0 * q->batch > atomic_load(&w->fail_min)) break; /* past a failure: claims only grow */
        if (chunk_block(w, k, k0, k1, &steps, &nfe)) continue;
        for (size_t s = k0; s < k1; s++) {
            for (size_t b = 0; b < q->batch; b++) {
                const size_t item = s * q->batch + b;
                if (item > atomic_load(&w->fail_min) || atomic_load(&w->stop)) goto out;
                struct sde_stats st = {0};
                err e;
                err_clear(&e);
                double *y = w->paths + (b * q->samples + s) * q->n_t * m->dim;
                err_code rc = sde_solve(&p, w->me, w->h, q->seed, (uint32_t)s, q->t0,
                                        q->y0 + b * m->dim, q->t, q->n_t, w->order, y, k->ws,
                                        q->abort, q->abort_ctx, &st, &e);
                steps += st.steps;
                nfe += st.nfe;
                if (rc == ERR_OK) continue;
                pthread_mutex_lock(&w->mu);
                if (rc == ERR_SOLVER) {
                    if (item < atomic_load(&w->fail_min) && !atomic_load(&w->stop)) {
                        atomic_store(&w->fail_min, item);
                        w->t_fail = st.t_fail;
                        w->fail_e = e;
                    }
                } else if (!atomic_load(&w->stop)) {
                    atomic_store(&w->stop, (int)rc);
                    w->fail_e = e;
                    w->t_fail = st.t_fail;
                }
                pthread_mutex_unlock(&w->mu);
                goto out;
            }
        }
    }
out:
    pthread_mutex_lock(&w->mu);
    w->steps += steps;
    w->nfe += nfe;
    pthread_mutex_unlock(&w->mu);
}

/* A pool job: help until the work is done, unless it already is. */
static void work_help(void *arg)
{
    work *w = arg;
    pthread_mutex_lock(&w->mu);
    int skip = w->done || atomic_load(&w->next) >= w->n_chunks;
    if (!skip) {
        w->active++;
        w->threads++;
    }
    pthread_mutex_unlock(&w->mu);
    if (!skip) {
        worker k;
        if (worker_init(&k, w->m, NULL) == ERR_OK) {
            work_run(w, &k);
            worker_free(&k);
        }
        pthread_mutex_lock(&w->mu);
        if (--w->active == 0) pthread_cond_broadcast(&w->idle);
        pthread_mutex_unlock(&w->mu);
    }
    work_release(w);
}

static int cmp_time(const void *a, const void *b, void *t)
{
    const double *tt = t;
    double x = tt[*(const size_t *)a], y = tt[*(const size_t *)b];
    return x < y ? -1 : x > y;
}

/* The order of the output times: a stable merge sort (qsort_r is not
 * portable); insertion sort when memory is short. */
static void sort_order(size_t *idx, size_t n, const double *t)
{
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    /* bottom-up merge sort, stable, O(n log n) */
    size_t *tmp = malloc(n * sizeof *tmp);
    if (!tmp) { /* insertion sort: correct, only slower */
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && cmp_time(&idx[j - 1], &idx[j], (void *)t) > 0; j--) {
                size_t s = idx[j];
                idx[j] = idx[j - 1];
                idx[j - 1] = s;
            }
        return;
    }
    for (size_t wdt = 1; wdt < n; wdt *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * wdt) {
            size_t mid = lo + wdt < n ? lo + wdt : n, hi = lo + 2 * wdt < n ? lo + 2 * wdt : n;
            size_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi)
                tmp[o++] = cmp_time(&idx[b], &idx[a], (void *)t) < 0 ? idx[b++] : idx[a++];
            while (a < mid)
                tmp[o++] = idx[a++];
            while (b < hi)
                tmp[o++] = idx[b++];
        }
        memcpy(idx, tmp, n * sizeof *idx);
    }
    free(tmp);
}

err_code sde_model_solve(const sde_model *m, const struct sde_model_query *q, double *paths,
                         struct sde_model_stats *st, err *e)
{
    const struct sde_method *me;
    double h;
    if (st) {
        memset(st, 0, sizeof *st);
        st->t_fail = NAN;
    }
    if (sde_model_settings(m, &q->solver, &me, &h, e)) return ERR_INVALID;
    if (q->batch == 0) return err_set(e, ERR_INVALID, "y0", "needs at least one initial state");
    if (q->samples == 0 || q->samples > UINT32_MAX)
        return err_set(e, ERR_INVALID, "samples", "must be 1..%u", UINT32_MAX);
    if (!isfinite(q->t0)) return err_set(e, ERR_INVALID, "t0", "must be finite");
    double tmax = q->t0;
    for (size_t i = 0; i < q->n_t; i++) {
        if (!(q->t[i] >= q->t0) || !(q->t[i] - q->t0 <= ldexp(1.0, BROWNIAN_MAX_EXP))) {
            char f[32];
            snprintf(f, sizeof f, "t[%zu]", i);
            return err_set(e, ERR_INVALID, f,
                           "must be a time from t0 (%.17g) to t0 + 2^%d: an sde is solved forward "
                           "only",
                           q->t0, BROWNIAN_MAX_EXP);
        }
        if (q->t[i] > tmax) tmax = q->t[i];
    }
    for (size_t i = 0; i < q->batch * m->dim; i++)
        if (!isfinite(q->y0[i])) return err_set(e, ERR_INVALID, "y0", "must be finite numbers");
    if (st) {
        snprintf(st->method, sizeof st->method, "%s", me->name);
        st->step = h;
    }
    if (q->n_t == 0) return ERR_OK;
    work *w = calloc(1, sizeof *w);
    size_t *order = malloc(q->n_t * sizeof *order);
    if (!w || !order) {
        free(w);
        free(order);
        return err_set(e, ERR_NOMEM, NULL, "out of memory for an sde solve");
    }
    sort_order(order, q->n_t, q->t);
    w->m = m;
    w->q = q;
    w->me = me;
    w->h = h;
    w->order = order;
    w->paths = paths;
    w->n_chunks = (q->samples + SDE_CHUNK - 1) / SDE_CHUNK;
    atomic_init(&w->next, 0);
    atomic_init(&w->fail_min, SIZE_MAX);
    atomic_init(&w->stop, 0);
    atomic_init(&w->refs, 1);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->idle, NULL);
    err_clear(&w->fail_e);
    w->t_fail = NAN;
    w->threads = 1;

    worker k;
    err_code rc = worker_init(&k, m, e);
    if (rc) {
        work_release(w);
        return rc;
    }
    const double total_steps = (tmax - q->t0) / h * (double)q->samples * (double)q->batch;
    if (q->pool && q->max_helpers > 0 && w->n_chunks > 1 && total_steps >= SDE_PARALLEL_MIN_STEPS) {
        size_t helpers = (size_t)q->max_helpers < w->n_chunks - 1 ? (size_t)q->max_helpers
                                                                   : w->n_chunks - 1;
        for (size_t i = 0; i < helpers; i++) {
            atomic_fetch_add(&w->refs, 1);
            if (workq_submit(q->pool, work_help, w, NULL) != ERR_OK) {
                atomic_fetch_sub(&w->refs, 1); /* the queue is full: fewer helpers */
                break;
            }
        }
    }
    work_run(w, &k);
    worker_free(&k);
    pthread_mutex_lock(&w->mu);
    while (w->active > 0)
        pthread_cond_wait(&w->idle, &w->mu);
    w->done = 1;
    pthread_mutex_unlock(&w->mu);

    rc = ERR_OK;
    size_t fail = atomic_load(&w->fail_min);
    int stop = atomic_load(&w->stop);
    if (st) {
        st->steps = w->steps;
        st->nfe = w->nfe;
        st->threads = w->threads;
    }
    if (stop) {
        rc = (err_code)stop;
        if (e && !e->code) *e = w->fail_e;
        if (st) st->t_fail = w->t_fail;
    } else if (fail != SIZE_MAX) {
        size_t s = fail / q->batch, b = fail % q->batch;
        if (st) {
            st->t_fail = w->t_fail;
            st->fail_b = b;
            st->fail_sample = s;
        }
        rc = err_set(e, ERR_SOLVER, NULL,
                     "sample %zu (of initial state %zu) is not finite at t=%.17g: the model blows "
                     "up there; try a smaller solver.step",
                     s, b, w->t_fail);
    }
    work_release(w);
    return rc;
}

/* ---- summaries ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The mean and standard deviation (n - 1) of n finite values v[k * stride]
 * for when the plain sums overflow although the answers are representable:
 * samples near DBL_MAX (their sum), or spread by more than ~1e154 (the
 * squares). Everything is taken over the largest |v| first, which keeps each
 * term at most 1 (4 for a square). Only called when the plain sums came out
 * non-finite, so every other summary keeps the plain sums' bits. */
static void moments_scaled(const double *v, size_t n, size_t stride, double *mu, double *sd)
{
    double big = 0;
    for (size_t k = 0; k < n; k++)
        big = fmax(big, fabs(v[k * stride]));
    double s = 0;
    for (size_t k = 0; k < n; k++)
        s += v[k * stride] / big;
    const double m = s / (double)n;
    double q = 0;
    for (size_t k = 0; k < n; k++) {
        const double d = v[k * stride] / big - m;
        q += d * d;
    }
    *mu = m * big;
    *sd = n > 1 ? sqrt(q / (double)(n - 1)) * big : 0.0;
}

void sde_model_summarize(const double *paths, size_t batch, size_t samples, size_t n_t,
                         size_t dim, const double *qs, size_t nq, double *mean, double *std,
                         double *quant, double *scratch)
{
    const size_t cell = n_t * dim; /* values per sample */
    for (size_t b = 0; b < batch; b++) {
        const double *pb = paths + b * samples * cell;
        for (size_t c = 0; c < cell; c++) {
            double s = 0;
            for (size_t k = 0; k < samples; k++)
                s += pb[k * cell + c];
            double mu = s / (double)samples, sd = 0;
            if (std && isfinite(mu)) {
                double v = 0;
                for (size_t k = 0; k < samples; k++) {
                    double d = pb[k * cell + c] - mu;
                    v += d * d;
                }
                sd = samples > 1 ? sqrt(v / (double)(samples - 1)) : 0.0;
            }
            if (!isfinite(mu) || !isfinite(sd)) { /* the samples are finite: an overflow */
                double mu_s, sd_s;
                moments_scaled(pb + c, samples, cell, &mu_s, &sd_s);
                if (!isfinite(mu)) mu = mu_s; /* else the plain mean, as it was */
                sd = sd_s;
            }
            if (mean) mean[b * cell + c] = mu;
            if (std) std[b * cell + c] = sd;
            if (!quant || nq == 0) continue;
            for (size_t k = 0; k < samples; k++)
                scratch[k] = pb[k * cell + c];
            qsort(scratch, samples, sizeof *scratch, cmp_double);
            for (size_t j = 0; j < nq; j++) {
                double pos = qs[j] * (double)(samples - 1);
                size_t lo = (size_t)floor(pos);
                if (lo >= samples - 1) lo = samples - 1;
                double fr = pos - (double)lo;
                double v = scratch[lo];
                if (lo + 1 < samples && fr > 0) {
                    v += fr * (scratch[lo + 1] - scratch[lo]);
                    if (!isfinite(v)) /* neighbours of opposite sign near DBL_MAX */
                        v = (1 - fr) * scratch[lo] + fr * scratch[lo + 1];
                }
                quant[(j * batch + b) * cell + c] = v;
            }
        }
    }
}
