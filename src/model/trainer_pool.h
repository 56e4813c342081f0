/* model/trainer_pool.h (private to trainer*.c): the helper threads of one
 * training job. A run hands out chunks 0 .. n-1 of a mini-batch, in
 * increasing order, to whichever thread is free: the caller (worker 0) and
 * the helpers (workers 1 .. helpers). Which thread computes a chunk never
 * changes what the chunk computes (each worker has its own workspaces, and
 * the caller reduces the chunks' results in chunk order afterwards), so a
 * job's results do not depend on the thread count.
 *
 * Sharing the machine: before taking a chunk a helper asks the yield
 * callback (trainer_pool_yield_set) whether serving is busy; if it is, the
 * helper sits out the rest of the run and the caller finishes it alone.
 *
 * Ownership and threads: the pool owns its threads. trainer_pool_run and
 * trainer_pool_free are called from one thread (the job's); the chunk
 * function runs on every worker at once, each call with its worker index.
 * The yield callback is called from the helpers. */
#ifndef ODESERVE_MODEL_TRAINER_POOL_H
#define ODESERVE_MODEL_TRAINER_POOL_H

#include "core/err.h"

#include <stddef.h>

typedef struct trainer_pool trainer_pool;

/* Compute chunk c on worker w (0 = the caller). */
typedef err_code (*trainer_pool_chunk_fn)(void *ctx, int w, size_t c, err *e);

/* Nonzero while the helpers should leave the cores to something else. */
typedef int (*trainer_pool_busy_fn)(void *ctx);

/* helpers >= 1 threads. ERR_NOMEM, ERR_INTERNAL when a thread cannot start. */
err_code trainer_pool_new(trainer_pool **out, int helpers, err *e);
void trainer_pool_free(trainer_pool *p); /* joins the helpers; NULL is a no-op */

/* Set (or clear, busy NULL) the yield callback; not during a run. */
void trainer_pool_yield_set(trainer_pool *p, trainer_pool_busy_fn busy, void *ctx);

/* fn for every chunk 0 .. n-1; p NULL runs them all on the caller. After a
 * failure no new chunk starts; the error returned is that of the
 * lowest-numbered failing chunk (every chunk below it ran), the same on
 * any number of threads. */
err_code trainer_pool_run(trainer_pool *p, size_t n, trainer_pool_chunk_fn fn, void *ctx, err *e);

/* Runs in which a helper sat out because serving was busy (a counter for
 * tests and logs). */
unsigned long trainer_pool_yields(const trainer_pool *p);

#endif
