/* model/trainer.h: the training maths of one job, for every model kind
 * (docs/training-jobs.md): one iteration draws a mini-batch (ode:
 * batch_time windows of consecutive observations from random series and
 * start points, or whole series; cde: whole series, each on its path built
 * as serving builds it, model/cde_path.h), computes the loss and its
 * gradient (model/grad_ode.h, model/grad_cde.h), clips the gradient norm,
 * takes an optimiser step and, every validation.every iterations,
 * evaluates the validation loss, keeping the parameters with the best one.
 * One loop for every kind; what differs per kind sits behind an ops table
 * (trainer_internal.h: trainer_ode.c, trainer_cde.c, trainer_sde.c;
 * trainer_cnf.c for flows, which draw pairs of a point set, model/cfm.h).
 *
 * The trainer knows no store, clock or job state: the caller loads the
 * model and the dataset, runs iterations, and saves and restores the state
 * (struct trainer_state) wherever it keeps checkpoints. Restoring a state
 * into a trainer made from the same model, dataset and job document resumes
 * bit for bit: the validation split has its own generator, seeded from the
 * document, and the mini-batch generator is part of the state.
 *
 * THREADS (trainer_threads_set; ode and cde jobs, docs/training.md). A
 * mini-batch is cut into chunks that depend on the batch alone (one whole
 * series; or TRAINER_WINDOW_CHUNK windows, each chunk one solve), the
 * chunks go to the job's threads, and their losses and gradients are added
 * in chunk order: the loss curve and the parameters are bit-identical on
 * any number of threads. Other kinds run on the calling thread.
 *
 * Ownership and threads: a trainer borrows the model_def, dataset and
 * job_spec it was made from (they must outlive it and not change) and owns
 * everything else (its parameter vector, networks, gradient engines,
 * optimiser, helper threads). One thread at a time calls it; one trainer
 * per running job. */
#ifndef ODESERVE_MODEL_TRAINER_H
#define ODESERVE_MODEL_TRAINER_H

#include "core/err.h"
#include "model/dataset.h"
#include "model/job_spec.h"
#include "model/model_def.h"

#include <stddef.h>
#include <stdint.h>

typedef struct trainer trainer;

#define TRAINER_MAX_THREADS JOB_SPEC_MAX_THREADS
#define TRAINER_WINDOW_CHUNK 32 /* windows per solve when a mini-batch of windows is cut */

/* What a checkpoint holds. From trainer_state_get the arrays are the
 * trainer's (valid until its next step or free); into trainer_state_set
 * they are the caller's, copied. */
struct trainer_state {
    long iteration; /* iterations done; 0 = a fresh start */
    double train_loss, val_loss, best_train_loss, best_val_loss; /* NaN until known */
    size_t n_params;
    double *params, *best; /* n_params each: the current and the best-validated parameters */
    size_t optim_len;      /* the optimiser's state (model/optim.h's layout) */
    double *optim;
    long optim_steps;
    uint64_t rng[4]; /* the mini-batch generator */
};

/* The metrics of one iteration. */
struct trainer_row {
    long iteration;    /* 1-based: the iteration just done */
    double train_loss; /* of its mini-batch */
    double val_loss;   /* NaN when not evaluated then */
};

/* A trainer at iteration 0 for `def` (its parameters the starting point)
 * on `ds`, as `spec` says. Checks the model against the dataset
 * (job_spec_data_check; `def` is the starting model: from_version's or
 * the init's), splits the validation series and lists the windows.
 * ERR_INVALID with the document's field ("dataset",
 * "validation.holdout_fraction", "objective.batch_time", ...), ERR_NOMEM. */
err_code trainer_new(trainer **out, const model_def *def, const dataset *ds, const job_spec *spec,
                     err *e);
void trainer_free(trainer *t); /* NULL is a no-op */

/* One iteration, its metrics into *row. A failed gradient step (a solver
 * failure; ERR_SOLVER "diverged" for a non-finite loss or gradient) leaves
 * the iteration count as it was; a failed validation comes after the
 * step, which counts. */
err_code trainer_step(trainer *t, struct trainer_row *row, err *e);

/* Iterations done, and whether the document's count is reached. */
long trainer_iteration(const trainer *t);
/* The mini-batch generator's state now (trainer_state_get's `rng`, without
 * copying the rest): taken before a step, it is the state to record with
 * the parameters when that step fails. */
void trainer_rng_get(const trainer *t, uint64_t out[4]);
int trainer_done(const trainer *t);

/* The state to checkpoint (arrays borrowed, see struct trainer_state). */
void trainer_state_get(trainer *t, struct trainer_state *st);
/* Resume from st (iteration >= 1). ERR_INVALID when its parameter count or
 * optimiser state does not fit this trainer ("state"), or its generator
 * state is all zero ("rng"). */
err_code trainer_state_set(trainer *t, const struct trainer_state *st, err *e);

/* Compute each step on `threads` threads (1 .. TRAINER_MAX_THREADS; the
 * caller's and threads - 1 helpers, started here): once, before the first
 * step. A kind that does not honour threads stays on the caller's thread.
 * ERR_INVALID ("threads"), ERR_NOMEM, ERR_INTERNAL. */
err_code trainer_threads_set(trainer *t, int threads, err *e);
/* The threads a step runs on (1 until trainer_threads_set). */
int trainer_threads(const trainer *t);
/* The helpers take no new chunk while busy(ctx) is nonzero (serving has
 * work: the caller's thread finishes the step alone); busy runs on the
 * helpers, so it must be thread-safe and cheap. After trainer_threads_set. */
void trainer_yield_set(trainer *t, int (*busy)(void *ctx), void *ctx);
/* Times a helper sat out the rest of a step because busy said so. */
unsigned long trainer_yields(const trainer *t);

/* The parameters to keep as the result: the best-validated ones when the
 * document validates, else the latest (trainer_state's n_params values). */
const double *trainer_result(const trainer *t);

#endif
