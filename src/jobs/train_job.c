/* jobs/train_job.c: see train_job.h. The training maths is model/trainer.h;
 * this file loads, checkpoints, stops and records. */
#include "jobs/train_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "model/job_spec.h"
#include "model/trainer.h"
#include "store/datasets.h"
#include "store/models.h"

typedef struct train {
    db *d;
    long long id;
    job_spec spec;
    model_def def; /* the starting model; its params replaced by the result */
    dataset ds;
    trainer *tr;
    double elapsed; /* training seconds since the job first started */
    job_metric *rows;
    size_t n_rows, cap_rows;
    double *pars; /* cap_rows x n_par: a hybrid's parameters after each row's iteration */
    size_t n_par; /* the hybrid's physical parameters (0 for other kinds) */
    const atomic_int *stop; /* the pool's shutdown flag (train_limits.stop) */
    long full_skips;        /* periodic checkpoints in a row that found the disk full */
} train;

static void train_free(train *t)
{
    trainer_free(t->tr);
    job_spec_free(&t->spec);
    model_def_free(&t->def);
    free(t->rows);
    free(t->pars);
    dataset_free(&t->ds);
}

/* The starting model and the dataset, from the store (or the document's
 * init), and the trainer over them. */
static err_code setup(train *t, const train_limits *lim, err *e)
{
    if (t->spec.from_version) {
        if (store_version_load(t->d, t->spec.model, t->spec.from_version, &t->def, NULL, NULL, e) ||
            job_spec_kind_check(&t->spec, t->def.kind, e))
            return e->code;
    } else if (model_def_copy(&t->def, &t->spec.init_def, e) != ERR_OK) {
        return e->code;
    }
    if (t->def.kind == MODEL_KIND_HYBRID) t->n_par = t->def.hybrid->n_par;
    if (store_dataset_load(t->d, t->spec.dataset, &t->ds, e)) return e->code;
    if (trainer_new(&t->tr, &t->def, &t->ds, &t->spec, e) ||
        trainer_threads_set(t->tr,
                            t->spec.threads ? t->spec.threads
                            : lim->threads  ? lim->threads
                                            : 1,
                            e))
        return e->code;
    trainer_yield_set(t->tr, lim->serving_busy, lim->serving_ctx);
    return ERR_OK;
}

static err_code add_row(train *t, const struct trainer_row *r, err *e)
{
    if (t->n_rows == t->cap_rows) {
        size_t cap = t->cap_rows ? 2 * t->cap_rows : 64;
        job_metric *p = realloc(t->rows, cap * sizeof *p);
        if (p) t->rows = p;
        double *q = p && t->n_par ? realloc(t->pars, cap * t->n_par * sizeof *q) : NULL;
        if (q) t->pars = q;
        if (!p || (t->n_par && !q)) return err_set(e, ERR_NOMEM, NULL, "out of memory");
        t->cap_rows = cap;
    }
    if (t->n_par) { /* the physical parameters are the tail of the vector */
        struct trainer_state st;
        trainer_state_get(t->tr, &st);
        memcpy(t->pars + t->n_rows * t->n_par, st.params + st.n_params - t->n_par,
               t->n_par * sizeof(double));
    }
    t->rows[t->n_rows++] = (job_metric){.iteration = r->iteration,
                                        .train_loss = r->train_loss,
                                        .val_loss = r->val_loss,
                                        .elapsed = t->elapsed};
    return ERR_OK;
}

/* `rng_state`: the generator's state to record instead of the trainer's (NULL:
 * the trainer's), for a step that failed after drawing its batch. */
static err_code checkpoint_at(train *t, const uint64_t *rng_state, bool *cancel, err *e)
{
    struct trainer_state st;
    trainer_state_get(t->tr, &st);
    if (rng_state) memcpy(st.rng, rng_state, sizeof st.rng);
    job_ckpt ck = {.iteration = st.iteration,
                   .elapsed = t->elapsed,
                   .train_loss = st.train_loss,
                   .val_loss = st.val_loss,
                   .best_train_loss = st.best_train_loss,
                   .best_val_loss = st.best_val_loss,
                   .n_params = st.n_params,
                   .params = st.params,
                   .best = st.best,
                   .optim_len = st.optim_len,
                   .optim = st.optim,
                   .optim_steps = st.optim_steps};
    memcpy(ck.rng, st.rng, sizeof ck.rng);
    for (size_t i = 0; t->n_par && i < t->n_rows; i++) { /* pars may have moved since add_row */
        t->rows[i].parameters = t->pars + i * t->n_par;
        t->rows[i].n_parameters = t->n_par;
    }
    err_code rc = store_job_checkpoint(t->d, t->id, &ck, t->rows, t->n_rows, cancel, e);
    if (rc == ERR_OK) t->n_rows = 0;
    return rc;
}

static err_code checkpoint(train *t, bool *cancel, err *e)
{
    return checkpoint_at(t, NULL, cancel, e);
}

/* A write that found the database busy (another connection held its lock
 * past busy_timeout: a backup, an operator's sqlite3 shell) stored nothing
 * and will likely pass a moment later; failing hours of training for it
 * would be wrong. The writes that end a run (the stop's, the cancel's and
 * the last checkpoint, the result, the final status) are tried up to
 * JOB_BUSY_TRIES times, waiting a little longer each time; a periodic
 * checkpoint simply waits for the next iteration (its rows are kept).
 *
 * A write that found the disk full (storage_full) stored nothing either,
 * and passes once deletes have made room (docs/reliability.md, "A full
 * disk"). The job must not fail for it: that failure could not be recorded
 * anyway (the status is a write too), and the job would stay `running` with
 * no worker, deaf to cancel, until a restart. So a periodic checkpoint
 * waits for the next one (the rows are kept, up to JOB_FULL_ROWS_MAX; past
 * that the job pauses until one is written), and the writes that end a run
 * wait for room, JOB_FULL_PAUSE_MS apart, as long as the daemon is not
 * stopping; at a stop the job is left to be requeued, and resumes from its
 * last checkpoint at the next start. */
#define JOB_BUSY_TRIES 10
#define JOB_FULL_PAUSE_MS 1000L
/* Metric rows a job holds while its checkpoints find the disk full, before
 * it stops training to wait for room (a row is tens of bytes: megabytes). */
#define JOB_FULL_ROWS_MAX ((size_t)1 << 18)

static int transient(err_code c)
{
    return c == ERR_BUSY || c == ERR_STORAGE_FULL;
}

/* After try `i` (1-based) of a write failed: 1 when another try is due
 * (after a pause; e is cleared), 0 when the tries are spent or the failure
 * is not one that passes. */
static int busy_again(train *t, int i, const char *what, err *e)
{
    long ms;
    if (e->code == ERR_STORAGE_FULL) {
        if (t->stop && atomic_load(t->stop)) return 0;
        if (i == 1 || i % 60 == 0)
            log_warn("job_write_full", "id=%lld write=%s try=%d", t->id, what, i);
        ms = JOB_FULL_PAUSE_MS;
    } else {
        if (e->code != ERR_BUSY || i >= JOB_BUSY_TRIES) return 0;
        log_warn("job_write_busy", "id=%lld write=%s try=%d", t->id, what, i);
        ms = 100L << (i < 5 ? i : 5);
        if (ms > 2000) ms = 2000;
    }
    err_clear(e);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    return 1;
}

/* Resume from the stored checkpoint (none: the trainer's fresh start). */
static err_code restore(train *t, const job_ckpt *ck, err *e)
{
    if (ck->iteration == 0) return ERR_OK;
    struct trainer_state st;
    trainer_state_get(t->tr, &st);
    if (ck->n_params != st.n_params)
        return err_set(e, ERR_DB, NULL, "checkpoint has %zu parameters, the model %zu",
                       ck->n_params, st.n_params);
    st = (struct trainer_state){.iteration = ck->iteration,
                                .train_loss = ck->train_loss,
                                .val_loss = ck->val_loss,
                                .best_train_loss = ck->best_train_loss,
                                .best_val_loss = ck->best_val_loss,
                                .n_params = ck->n_params,
                                .params = ck->params,
                                .best = ck->best,
                                .optim_len = ck->optim_len,
                                .optim = ck->optim,
                                .optim_steps = ck->optim_steps};
    memcpy(st.rng, ck->rng, sizeof st.rng);
    if (trainer_state_set(t->tr, &st, e) != ERR_OK) return e->code;
    t->elapsed = ck->elapsed;
    return ERR_OK;
}

static long iteration(const train *t)
{
    return t->tr ? trainer_iteration(t->tr) : 0;
}

/* Store the result as a new version (its number) and mark the job
 * succeeded, in one transaction (store_job_succeed). */
static err_code store_result(train *t, int *version, err *e)
{
    struct trainer_state st;
    trainer_state_get(t->tr, &st);
    model_def out;
    model_def_init(&out);
    if (model_def_copy(&out, &t->def, e) != ERR_OK) return e->code;
    memcpy(out.params, trainer_result(t->tr), st.n_params * sizeof(double));
    const job_spec *sp = &t->spec;
    const char *how = out.kind == MODEL_KIND_SDE ? "transition-likelihood"
                      : out.kind != MODEL_KIND_CNF
                          ? (job_spec_fit(sp, out.kind) != JOB_FIT_DEFAULT
                                 ? job_fit_name(job_spec_fit(sp, out.kind))
                                 : grad_method_name(sp->gradient))
                      : sp->cnf_objective != JOB_CNF_MAX_LIKELIHOOD ? "flow-matching"
                      : sp->gradient_default || sp->gradient == GRAD_BACKPROP
                          ? "max-likelihood backprop"
                          : "max-likelihood adjoint";
    char desc[512];
    snprintf(desc, sizeof desc,
             "trained by job %lld on dataset %s (%ld iterations, %s gradient): final training "
             "loss %.6g, best validation loss %.6g%s",
             t->id, t->spec.dataset, st.iteration, how, st.train_loss, st.best_val_loss,
             out.kind == MODEL_KIND_CNF ? " (held-out NLL, nats)" : "");
    free(out.description);
    out.description = strdup(desc);
    /* Serve it with the solver it was trained with. */
    if (out.kind == MODEL_KIND_SDE) {
        out.solver = (model_solver){.method = "euler_maruyama", .step = t->spec.step};
    } else if (out.kind == MODEL_KIND_HAMILTONIAN) {
        /* the document's method and step, else the kind's defaults (gauss4
         * or yoshida4); its rtol would be the Newton tolerance, so none */
        out.solver = (model_solver){.step = t->spec.step};
        if (!t->spec.method_default)
            snprintf(out.solver.method, sizeof out.solver.method, "%s", t->spec.method);
    } else {
        snprintf(out.solver.method, sizeof out.solver.method, "%s", t->spec.method);
        out.solver.rtol = t->spec.rtol;
        out.solver.atol = t->spec.atol;
        if (t->spec.max_steps) out.solver.max_steps = t->spec.max_steps;
    }
    err_code rc;
    for (int i = 1; (rc = store_job_succeed(t->d, t->id, t->spec.model, &out, version, e)) &&
                    busy_again(t, i, "result", e);
         i++)
        ;
    model_def_free(&out);
    return rc;
}

/* A step failed (diverged, max_steps, a dataset the model cannot fit): the
 * iterations before it are the loss curve that shows why, so their rows and
 * the progress go to the store before the job is marked failed, as a
 * cancelled job's do. The checkpoint is the state before the failed step
 * (its parameters and optimiser are untouched by it; `rng0`, the generator
 * before it drew the batch; NULL when the step itself completed and only its
 * validation failed), so a crash before the status is written resumes into
 * the same failure, as the uninterrupted run. The job is over, so a write
 * that fails here is only logged: the failure the client reads is the
 * step's. */
static void keep_curve(train *t, const uint64_t *rng0)
{
    if (t->n_rows == 0) return;
    err we;
    err_clear(&we);
    err_code rc;
    for (int i = 1;
         (rc = checkpoint_at(t, rng0, NULL, &we)) && busy_again(t, i, "checkpoint", &we); i++)
        ;
    if (rc != ERR_OK)
        log_warn("job_curve_lost", "id=%lld rows=%zu code=%s", t->id, t->n_rows,
                 err_code_name(we.code));
}

/* The loop; returns the status to record (JOB_QUEUED = stopped). */
static job_status loop(train *t, const train_limits *lim, err *e)
{
    double c0 = clock_mono(), base = t->elapsed, last_ck = c0;
    while (!trainer_done(t->tr)) {
        struct trainer_row row = {.iteration = -1};
        uint64_t rng0[4];
        trainer_rng_get(t->tr, rng0);
        if (trainer_step(t->tr, &row, e) != ERR_OK) {
            /* the row is set when the step completed and its validation failed */
            const bool stepped = row.iteration > 0 && row.iteration == trainer_iteration(t->tr);
            err ignore;
            err_clear(&ignore);
            t->elapsed = base + clock_mono() - c0;
            if (stepped && add_row(t, &row, &ignore) != ERR_OK) break;
            keep_curve(t, stepped ? NULL : rng0);
            break;
        }
        t->elapsed = base + clock_mono() - c0;
        if (add_row(t, &row, e) != ERR_OK) break;
        const long it = row.iteration;
        int stop = atomic_load(lim->stop), cancel = lim->cancel && atomic_load(lim->cancel);
        if (stop || cancel || it % lim->checkpoint_every_iterations == 0 ||
            clock_mono() - last_ck >= lim->checkpoint_every_seconds) {
            bool asked = false;
            err_code rc;
            /* rows held past JOB_FULL_ROWS_MAX would trade a full disk for
             * a full memory: then the job waits for room, as a stop does */
            const bool must = stop || cancel || t->n_rows >= JOB_FULL_ROWS_MAX;
            for (int i = 1;
                 (rc = checkpoint(t, &asked, e)) && must && busy_again(t, i, "checkpoint", e); i++)
                ;
            if (rc == ERR_BUSY && !stop && !cancel) { /* again at the next iteration */
                log_warn("job_write_busy", "id=%lld write=checkpoint iteration=%ld", t->id, it);
                err_clear(e);
                continue;
            }
            if (rc == ERR_STORAGE_FULL && !stop && !cancel) {
                /* again at the next checkpoint: trying every iteration would
                 * only write the log full of it */
                if (t->full_skips++ % 100 == 0)
                    log_warn("job_write_full", "id=%lld write=checkpoint iteration=%ld skipped=%ld",
                             t->id, it, t->full_skips);
                err_clear(e);
                last_ck = clock_mono();
                continue;
            }
            /* a stop that cannot write (the disk full, or still busy): the
             * job stays queued-to-be and resumes from its last checkpoint */
            if (rc != ERR_OK && stop && transient(rc)) return JOB_QUEUED;
            if (rc != ERR_OK) break;
            if (t->full_skips)
                log_info("job_write_recovered", "id=%lld iteration=%ld skipped=%ld", t->id, it,
                         t->full_skips);
            t->full_skips = 0;
            last_ck = clock_mono();
            if (cancel || asked) return JOB_CANCELLED;
            if (stop) return JOB_QUEUED;
        }
    }
    if (e->code) return JOB_FAILED;
    err_code rc;
    for (int i = 1; (rc = checkpoint(t, NULL, e)) && busy_again(t, i, "checkpoint", e); i++)
        ;
    if (rc != ERR_OK && transient(rc) && atomic_load(lim->stop)) return JOB_QUEUED;
    return rc == ERR_OK ? JOB_SUCCEEDED : JOB_FAILED;
}

job_status train_job_run(db *d, long long id, const char *spec, const job_ckpt *ck,
                         const train_limits *lim)
{
    train t;
    memset(&t, 0, sizeof t);
    t.d = d;
    t.id = id;
    t.stop = lim->stop;
    model_def_init(&t.def);
    dataset_init(&t.ds);
    err e;
    err_clear(&e);
    job_status st = JOB_FAILED;
    int version = 0;
    if (lim->decode(spec, strlen(spec), &t.spec, &e) || setup(&t, lim, &e) || restore(&t, ck, &e))
        goto done;
    log_info("job_started",
             "id=%lld model=%s dataset=%s from_iteration=%ld iterations=%ld threads=%d", id,
             t.spec.model, t.spec.dataset, iteration(&t), t.spec.iterations,
             trainer_threads(t.tr));
    st = loop(&t, lim, &e);
    if (st == JOB_SUCCEEDED && store_result(&t, &version, &e) != ERR_OK)
        /* stopped while the disk was full: the last checkpoint holds the
         * whole run, so the next start stores the result */
        st = transient(e.code) && atomic_load(lim->stop) ? JOB_QUEUED : JOB_FAILED;
done:;
    err fe;
    err_clear(&fe);
    char why[ERR_FIELD_MAX + ERR_MSG_MAX + 64] = "";
    if (st == JOB_FAILED)
        snprintf(why, sizeof why, "%s%s%s (at iteration %ld)", e.field, e.field[0] ? ": " : "",
                 e.message, iteration(&t));
    if (st == JOB_CANCELLED) snprintf(why, sizeof why, "cancelled at iteration %ld", iteration(&t));
    err_code rc;
    for (int i = 1;
         (rc = st == JOB_QUEUED      ? store_job_requeue(d, id, &fe)
               : st == JOB_SUCCEEDED ? ERR_OK /* recorded with its result */
                                     : store_job_finish(d, id, st, why[0] ? why : NULL, &fe)) &&
         busy_again(&t, i, "status", &fe);
         i++)
        ;
    if (rc != ERR_OK) log_error("job_record_failed", "id=%lld code=%s", id, err_code_name(fe.code));
    log_info("job_ended", "id=%lld status=%s iteration=%ld version=%d helper_yields=%lu", id,
             job_status_name(st), iteration(&t), version, t.tr ? trainer_yields(t.tr) : 0UL);
    train_free(&t);
    return st;
}
