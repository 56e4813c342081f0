/* model/trainer_pool.c: see trainer_pool.h. One mutex and two condition
 * variables (a new run, the end of a run); the chunks of a run are handed
 * out by an atomic counter, so a worker takes the next one the moment it is
 * free and unequal chunks (adaptive steps) balance themselves.
 *
 * Between runs a helper first watches for the next one for up to
 * POOL_SPIN_USEC, and the caller watches for the helpers' end likewise,
 * before either sleeps on its condition variable: a run can be shorter
 * than waking a sleeping thread, and on a VM whose idle vCPUs halt a wake
 * costs a round trip through the host (docs/training.md, "Threads"). A
 * helper stops watching as soon as serving is busy. */
#include "model/trainer_pool.h"

#include "core/clock.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#define POOL_SPIN_USEC 200

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

struct worker {
    trainer_pool *p;
    int w;
    pthread_t th;
    int started;
    size_t fail_chunk; /* SIZE_MAX: no failure in this run */
    err e;
};

struct trainer_pool {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    atomic_ulong gen; /* runs started: a helper waits for it to move */
    atomic_int quit;
    atomic_int active; /* helpers still in the current run */
    int helpers;
    struct worker *ws; /* helpers + 1; ws[0] is the caller */
    trainer_pool_busy_fn busy;
    void *busy_ctx;
    /* the current run */
    trainer_pool_chunk_fn fn;
    void *ctx;
    size_t n;
    atomic_size_t next;
    atomic_int failed;
    atomic_ulong yields;
};

static void work(trainer_pool *p, struct worker *k)
{
    k->fail_chunk = SIZE_MAX;
    for (;;) {
        if (k->w && p->busy && p->busy(p->busy_ctx)) {
            atomic_fetch_add(&p->yields, 1);
            return;
        }
        if (atomic_load(&p->failed)) return;
        size_t c = atomic_fetch_add(&p->next, 1);
        if (c >= p->n) return;
        err_clear(&k->e);
        if (p->fn(p->ctx, k->w, c, &k->e) != ERR_OK) {
            k->fail_chunk = c;
            atomic_store(&p->failed, 1);
            return;
        }
    }
}

/* Watch for a new run (gen past seen) or quit for up to POOL_SPIN_USEC,
 * or until serving is busy (busy as the last run saw it: the pool's own
 * may be set again between runs). */
static void spin_for_run(trainer_pool *p, unsigned long seen, trainer_pool_busy_fn busy,
                         void *busy_ctx)
{
    uint64_t end = clock_mono_usec() + POOL_SPIN_USEC;
    unsigned i = 0;
    while (atomic_load(&p->gen) == seen && !atomic_load(&p->quit)) {
        cpu_relax();
        if (++i % 64 == 0 && (clock_mono_usec() >= end || (busy && busy(busy_ctx)))) return;
    }
}

static void *helper(void *arg)
{
    struct worker *k = arg;
    trainer_pool *p = k->p;
    unsigned long seen = 0;
    trainer_pool_busy_fn busy = NULL;
    void *busy_ctx = NULL;
    for (;;) {
        if (seen) spin_for_run(p, seen, busy, busy_ctx);
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->gen) == seen && !atomic_load(&p->quit))
            pthread_cond_wait(&p->go, &p->mu);
        busy = p->busy;
        busy_ctx = p->busy_ctx;
        pthread_mutex_unlock(&p->mu);
        if (atomic_load(&p->quit)) break;
        seen = atomic_load(&p->gen);
        work(p, k);
        pthread_mutex_lock(&p->mu);
        if (atomic_fetch_sub(&p->active, 1) == 1) pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

void trainer_pool_free(trainer_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, 1);
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i <= p->helpers; i++)
        if (p->ws[i].started) pthread_join(p->ws[i].th, NULL);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->ws);
    free(p);
}

err_code trainer_pool_new(trainer_pool **out, int helpers, err *e)
{
    *out = NULL;
    trainer_pool *p = calloc(1, sizeof *p);
    struct worker *ws = helpers >= 1 ? calloc((size_t)helpers + 1, sizeof *ws) : NULL;
    if (!p || !ws) {
        free(p), free(ws);
        return err_set(e, ERR_NOMEM, NULL, "out of memory for the training threads");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    p->ws = ws;
    p->helpers = helpers;
    for (int i = 0; i <= helpers; i++) {
        ws[i].p = p;
        ws[i].w = i;
    }
    for (int i = 1; i <= helpers; i++) {
        if (pthread_create(&ws[i].th, NULL, helper, &ws[i]) != 0) {
            trainer_pool_free(p);
            return err_set(e, ERR_INTERNAL, NULL, "cannot start training thread %d", i);
        }
        ws[i].started = 1;
    }
    *out = p;
    return ERR_OK;
}

void trainer_pool_yield_set(trainer_pool *p, trainer_pool_busy_fn busy, void *ctx)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->busy = busy;
    p->busy_ctx = ctx;
    pthread_mutex_unlock(&p->mu);
}

unsigned long trainer_pool_yields(const trainer_pool *p)
{
    return p ? atomic_load(&((trainer_pool *)p)->yields) : 0;
}

/* One chunk: nothing to share. */
static err_code run_alone(size_t n, trainer_pool_chunk_fn fn, void *ctx, err *e)
{
    for (size_t c = 0; c < n; c++)
        if (fn(ctx, 0, c, e) != ERR_OK) return e->code;
    return ERR_OK;
}

err_code trainer_pool_run(trainer_pool *p, size_t n, trainer_pool_chunk_fn fn, void *ctx, err *e)
{
    if (!p || n <= 1) return run_alone(n, fn, ctx, e);
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    atomic_store(&p->next, 0);
    atomic_store(&p->failed, 0);
    atomic_store(&p->active, p->helpers);
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    work(p, &p->ws[0]);
    uint64_t end = clock_mono_usec() + POOL_SPIN_USEC;
    for (unsigned i = 1; atomic_load(&p->active) > 0; i++) {
        cpu_relax();
        if (i % 64 == 0 && clock_mono_usec() >= end) break;
    }
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->active) > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
    const struct worker *first = NULL;
    for (int i = 0; i <= p->helpers; i++)
        if (p->ws[i].fail_chunk != SIZE_MAX && (!first || p->ws[i].fail_chunk < first->fail_chunk))
            first = &p->ws[i];
    if (!first) return ERR_OK;
    *e = first->e;
    return e->code;
}
