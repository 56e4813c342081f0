/* model/trainer_internal.h (private to trainer*.c): what the training loop
 * (trainer.c) asks of a model kind. trainer.c owns the loop, the batch
 * drawing, the optimiser and the checkpointable state; a kind
 * (trainer_ode.c, trainer_cde.c, trainer_sde.c) owns its networks and gradient engine
 * and answers for one series or one batch of windows. The arrows run one
 * way: trainer.c calls a kind through its table, a kind calls nothing in
 * trainer.c.
 *
 * Ownership and threads: a kind's state is made by setup and released by
 * free; it borrows the struct trainer_data (owned by the trainer). One
 * thread at a time per state; a kind with `threads` set has one state per
 * worker of the job (trainer_pool.h). */
#ifndef ODESERVE_MODEL_TRAINER_INTERNAL_H
#define ODESERVE_MODEL_TRAINER_INTERNAL_H

#include "core/err.h"
#include "model/dataset.h"
#include "model/grad_ode.h"
#include "model/grad_solve.h"
#include "model/job_spec.h"
#include "model/model_def.h"
#include "model/rng.h"
#include "nn/mlp.h"

#include <stddef.h>

/* What every kind reads: the problem, and the networks, bound to the one
 * parameter vector the optimiser updates. */
struct trainer_data {
    const model_def *def;
    const dataset *ds;
    const job_spec *spec;
    const mlp *net[MODEL_MAX_NETS];  /* the model_def's networks, in its order */
    double *params;                  /* np values; the optimiser updates them in place */
    size_t np;                       /* parameters */
    struct grad_solve_options solve; /* the document's method, tolerances, gradient */
    size_t ch;                       /* observed channels (the dataset's) */
    job_target target;               /* cde: what mse / l1 compare the readout with */
    size_t bmax;                     /* the largest mini-batch of windows (1 without windows) */
    size_t nt_max;                   /* the most observations of a series or a window */
};

struct trainer_kind {
    /* Make the kind's state (networks bound to d->params, the gradient
     * engine, buffers); check what only the kind can (a cde's class labels
     * against its readout). */
    err_code (*setup)(void **state, const struct trainer_data *d, err *e);
    /* The values series s contributes to the mean of a whole-series loss. */
    size_t (*count)(void *state, const struct trainer_data *d, size_t s);
    /* The loss of whole series s, from its first observation, scaled by
     * scale; its gradient into dtheta (np values, overwritten) unless NULL. */
    err_code (*series_loss)(void *state, const struct trainer_data *d, size_t s, double scale,
                            double *loss, double *dtheta, err *e);
    /* The mean loss of windows k = 0 .. bs-1 (series win_s[pick[k]] from
     * observation win_i[pick[k]], spec->batch_time long) and its gradient
     * into grad (overwritten). NULL for a kind without windows
     * (job_spec_kind_check keeps batch_time to those that have them). */
    err_code (*window_loss)(void *state, const struct trainer_data *d, const size_t *win_s,
                            const size_t *win_i, const size_t *pick, size_t bs, double *loss,
                            double *grad, err *e);
    void (*free)(void *state); /* NULL is a no-op */
    /* A kind that trains on a point set (cnf) holds out its own points and
     * draws its own mini-batches: count, series_loss and window_loss are
     * NULL, and these two are set. One iteration's loss and its gradient
     * into grad (overwritten), the batch drawn from r (the trainer's
     * checkpointed generator). */
    err_code (*draw_loss)(void *state, const struct trainer_data *d, rng *r, double *loss,
                          double *grad, err *e);
    /* The validation value (the held-out NLL in nats). */
    err_code (*val_loss)(void *state, const struct trainer_data *d, double *val, err *e);
    /* Nonzero: the kind honours a job's threads (trainer_threads_set).
     * setup is then called once per worker and the states share nothing
     * mutable (the networks are read-only during a step, nn/mlp.h), and
     * series_loss and window_chunk_loss run on several workers at once,
     * each on its own state. */
    int threads;
    /* As window_loss, but the loss scaled by scale (the batch's 1 / count,
     * so that chunks of one mini-batch add up to its mean); set with
     * threads when the kind has windows. */
    err_code (*window_chunk_loss)(void *state, const struct trainer_data *d, const size_t *win_s,
                                  const size_t *win_i, const size_t *pick, size_t bs, double scale,
                                  double *loss, double *grad, err *e);
    /* After each optimiser step, the parameters back into their feasible
     * set (a hybrid's bounds); NULL = none. */
    void (*project)(void *state, const struct trainer_data *d, double *params);
};

extern const struct trainer_kind trainer_ode_kind;    /* trainer_ode.c */
extern const struct trainer_kind trainer_cde_kind;    /* trainer_cde.c */
extern const struct trainer_kind trainer_sde_kind;    /* trainer_sde.c */
extern const struct trainer_kind trainer_cnf_kind;    /* trainer_cnf.c */
extern const struct trainer_kind trainer_deriv_kind;  /* trainer_deriv.c: hnn, derivative */
extern const struct trainer_kind trainer_ham_kind;    /* trainer_ham.c: trajectory */
extern const struct trainer_kind trainer_hybrid_kind; /* trainer_hybrid.c */

/* The batch buffers and solves of the kinds whose field goes through
 * grad_ode (trainer_ode.c: ode, hybrid). The kind makes g and sets o. */
struct trainer_ode_batch {
    grad_ode *g;
    struct grad_ode_options o;
    size_t dim;                 /* state, with augmentation */
    double *y0, *t0, *tt, *tgt; /* d->bmax windows of d->nt_max times */
};

err_code trainer_ode_batch_alloc(struct trainer_ode_batch *b, const struct trainer_data *d,
                                 size_t dim, err *e);
void trainer_ode_batch_free(struct trainer_ode_batch *b); /* the buffers and g */
/* The values series s contributes to a whole-series loss (every kind whose
 * targets are the series' own observed channels). */
size_t trainer_series_count(void *state, const struct trainer_data *d, size_t s);
/* Series s from its first observation, as the kind's series_loss. */
err_code trainer_ode_batch_series(struct trainer_ode_batch *b, const struct trainer_data *d,
                                  size_t s, double scale, double *loss, double *dtheta, err *e);
/* Windows as the kind's window_chunk_loss. absolute_times: the field reads
 * t, so each window keeps its own times; otherwise windows start at 0 and
 * share one system when their relative times agree. */
err_code trainer_ode_batch_windows(struct trainer_ode_batch *b, const struct trainer_data *d,
                                   int absolute_times, const size_t *win_s, const size_t *win_i,
                                   const size_t *pick, size_t bs, double scale, double *loss,
                                   double *grad, err *e);

#endif
