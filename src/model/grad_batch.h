/* model/grad_batch.h: what the neural ODE and CDE gradients (grad_ode.h,
 * grad_cde.h) share around the engine (grad_solve.h): the batch modes, the
 * loop over a batch's solves, and the counters summed over them.
 *
 * Ownership and threads: stateless; the loop calls back on the calling
 * thread. */
#ifndef ODESERVE_MODEL_GRAD_BATCH_H
#define ODESERVE_MODEL_GRAD_BATCH_H

#include "core/err.h"
#include "model/grad_solve.h"

#include <stddef.h>

typedef enum grad_batch_mode {
    GRAD_BATCH_SHARED = 0, /* one system, batched GEMMs */
    GRAD_BATCH_PER_ITEM,   /* one solve per item */
} grad_batch_mode;

/* Items per solve: the whole batch of `batch` items, or 1. */
size_t grad_batch_items(size_t batch, grad_batch_mode mode);

/* Solve items [b0, b0 + n) and add their loss and gradient. */
typedef err_code (*grad_batch_solve_fn)(void *ctx, size_t b0, size_t n, err *e);

/* Every solve of the batch, in item order, stopping at the first failure;
 * a per-item failure's field is prefixed with "batch[b0]". */
err_code grad_batch_run(size_t batch, grad_batch_mode mode, grad_batch_solve_fn solve, void *ctx,
                        err *e);

/* Add the latest forward's counters of s to *sum (the largest tape), or
 * the latest backward's. */
void grad_batch_stats_add_forward(struct grad_stats *sum, const grad_solver *s);
void grad_batch_stats_add_backward(struct grad_stats *sum, const grad_solver *s);

#endif
