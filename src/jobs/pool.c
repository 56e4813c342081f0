/* jobs/pool.c: see pool.h. */
#include "jobs/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "jobs/train_job.h"
#include "store/jobs.h"

typedef struct worker {
    jobs_pool *pool;
    pthread_t thread;
    int started;
    _Atomic long long job; /* the job it runs; 0 = idle */
    atomic_int cancel;
} worker;

struct jobs_pool {
    db_conns *db;
    jobs_pool_opts o;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned long wakeups; /* under mu: bumped by notify */
    atomic_int stop;
    int n;
    worker *w;
};

static void wait_for_work(jobs_pool *p, unsigned long *seen)
{
    pthread_mutex_lock(&p->mu);
    if (*seen == p->wakeups && !atomic_load(&p->stop)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    *seen = p->wakeups;
    pthread_mutex_unlock(&p->mu);
}

/* Claim and run one job; 1 when there was one. */
static int run_one(worker *w, db *d)
{
    jobs_pool *p = w->pool;
    err e;
    err_clear(&e);
    bool found = false;
    long long id = 0;
    char *spec = NULL;
    job_ckpt ck;
    if (store_job_claim(d, &found, &id, &spec, &ck, &e) != ERR_OK) {
        log_error("job_claim_failed", "code=%s", err_code_name(e.code));
        return 0;
    }
    if (!found) return 0;
    atomic_store(&w->cancel, 0);
    atomic_store(&w->job, id);
    const train_limits lim = {.checkpoint_every_iterations = p->o.checkpoint_every_iterations,
                              .checkpoint_every_seconds = p->o.checkpoint_every_seconds,
                              .stop = &p->stop,
                              .cancel = &w->cancel,
                              .decode = p->o.decode,
                              .threads = p->o.train_threads > 0 ? p->o.train_threads : 1,
                              .serving_busy = p->o.serving_busy,
                              .serving_ctx = p->o.serving_ctx};
    train_job_run(d, id, spec, &ck, &lim);
    atomic_store(&w->job, 0);
    free(spec);
    job_ckpt_free(&ck);
    return 1;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    jobs_pool *p = w->pool;
    err e;
    err_clear(&e);
    db *d = NULL;
    if (db_conns_get(p->db, &d, &e) != ERR_OK) {
        log_error("job_worker_failed", "code=%s", err_code_name(e.code));
        return NULL;
    }
    unsigned long seen = 0;
    while (!atomic_load(&p->stop))
        if (!run_one(w, d)) wait_for_work(p, &seen);
    return NULL;
}

err_code jobs_pool_new(jobs_pool **out, db_conns *dbp, const jobs_pool_opts *o, err *e)
{
    *out = NULL;
    if (o->workers < 1 || o->checkpoint_every_iterations < 1 ||
        !(o->checkpoint_every_seconds > 0) || !o->decode)
        return err_set(e, ERR_CONFIG, "job_workers", "bad job pool settings");
    db *d = NULL;
    size_t requeued = 0;
    if (db_conns_get(dbp, &d, e) != ERR_OK || store_job_requeue_all(d, &requeued, e) != ERR_OK)
        return e->code;
    if (requeued) log_info("jobs_requeued", "count=%zu", requeued);
    jobs_pool *p = calloc(1, sizeof *p);
    worker *w = calloc((size_t)o->workers, sizeof *w);
    if (!p || !w) {
        free(p);
        free(w);
        return err_set(e, ERR_NOMEM, NULL, "out of memory");
    }
    p->db = dbp;
    p->o = *o;
    p->w = w;
    p->n = o->workers;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    atomic_init(&p->stop, 0);
    for (int i = 0; i < p->n; i++) {
        w[i].pool = p;
        atomic_init(&w[i].job, 0);
        atomic_init(&w[i].cancel, 0);
        if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) {
            jobs_pool_free(p);
            return err_set(e, ERR_NOMEM, NULL, "cannot start job worker %d", i);
        }
        w[i].started = 1;
    }
    log_info("job_workers_started", "workers=%d", p->n);
    *out = p;
    return ERR_OK;
}

void jobs_pool_notify(jobs_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->wakeups++;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void jobs_pool_cancel(jobs_pool *p, long long id)
{
    for (int i = 0; p && i < p->n; i++)
        if (atomic_load(&p->w[i].job) == id) atomic_store(&p->w[i].cancel, 1);
}

void jobs_pool_stop(jobs_pool *p)
{
    if (!p) return;
    atomic_store(&p->stop, 1);
    jobs_pool_notify(p);
}

void jobs_pool_free(jobs_pool *p)
{
    if (!p) return;
    jobs_pool_stop(p);
    for (int i = 0; i < p->n; i++)
        if (p->w[i].started) pthread_join(p->w[i].thread, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->w);
    free(p);
}
