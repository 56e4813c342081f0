/* model/sde_model.h: a neural SDE (docs/sde.md), ready to sample:
 *
 *   dh = f_theta(h, t) dt + g_phi(h, t) dW    (Ito or Stratonovich)
 *
 * f the drift network, g the diffusion network (model_def.h gives their
 * shapes per noise type), solved by num/sde.h on the Brownian paths of
 * num/brownian.h.
 *
 * SAMPLES. A query asks for `samples` paths from each of `batch` initial
 * states. Sample k of every initial state is driven by Brownian path k of
 * the query's seed, so a sample's values depend on (seed, k, its initial
 * state, the model and the solver settings) alone: the same whatever other
 * samples, initial states or times are asked for, and whatever the thread
 * count. Paths go to paths[((b * samples + k) * n_t + i) * state_dim + j].
 *
 * THREADS. With a pool (core/workq.h, the daemon's evaluation threads) and
 * enough work, up to max_helpers pool jobs help the calling thread: samples
 * are cut in chunks that every thread claims in order from one counter; the
 * caller claims too, so a busy pool (helpers still queued) only costs
 * parallelism, never a wait for a queue; a helper that starts after the
 * work is done returns at once. The results are those of one thread.
 *
 * ERRORS. A bad query is ERR_INVALID naming the field as the HTTP request
 * spells it ("solver.method", "solver.step", "t[2]"). A sample whose state
 * stops being finite is ERR_SOLVER naming the lowest such (initial state,
 * sample) and the time (stats: fail_b, fail_sample, t_fail), the same on any
 * thread count. The abort hook's code stops every thread.
 *
 * Ownership and threads: an sde_model is immutable after sde_model_new and
 * may be shared by any number of threads; each thread of a solve makes its
 * own workspaces. The model keeps its own copy of the weights. */
#ifndef ODESERVE_MODEL_SDE_MODEL_H
#define ODESERVE_MODEL_SDE_MODEL_H

#include "core/err.h"
#include "core/workq.h"
#include "model/model_def.h"
#include "num/driver.h"
#include "num/sde.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sde_model sde_model;

/* The smallest step accepted: below it two steps' ends could share a leaf
 * of the Brownian tree (num/brownian.h), where its values are only
 * approximately joint. */
#define SDE_MODEL_MIN_STEP 0x1p-20

struct sde_model_query {
    double t0;
    size_t batch;        /* initial states, >= 1 */
    const double *y0;    /* batch x state_dim */
    const double *t;     /* n_t output times, each >= t0, any order, duplicates allowed */
    size_t n_t;
    size_t samples;      /* >= 1 */
    uint64_t seed;
    model_solver solver; /* overrides: method, step (others are ignored) */
    ode_abort_fn abort;  /* NULL, or polled every few dozen steps by every thread */
    void *abort_ctx;
    workq *pool;         /* NULL: the calling thread alone */
    int max_helpers;     /* pool jobs that may help (0: none) */
};

struct sde_model_stats {
    long steps, nfe;                 /* summed over samples */
    double t_fail;                   /* NAN unless a sample blew up: where */
    size_t fail_b, fail_sample;      /* which (with t_fail) */
    int threads;                     /* threads that solved samples (for the log) */
    char method[MODEL_METHOD_MAX];   /* the method used */
    double step;                     /* the step used */
};

/* ERR_INVALID if d is not a valid "sde" model_def. */
err_code sde_model_new(sde_model **out, const model_def *d, err *e);
void sde_model_free(sde_model *m); /* NULL is a no-op */

size_t sde_model_state_dim(const sde_model *m);

/* The method and step a query would use (its overrides on the model's
 * defaults; the method defaults to euler_maruyama for Ito, euler_heun for
 * Stratonovich; the step has no default): ERR_INVALID on "solver.method" or
 * "solver.step". */
err_code sde_model_settings(const sde_model *m, const model_solver *over,
                            const struct sde_method **me, double *step, err *e);

/* Sample. paths: batch x samples x n_t x state_dim values (see SAMPLES). */
err_code sde_model_solve(const sde_model *m, const struct sde_model_query *q, double *paths,
                         struct sde_model_stats *stats, err *e);

/* The summary of paths (as sde_model_solve writes them) per initial state,
 * time and component: mean, standard deviation (n - 1 in the denominator; 0
 * for one sample) and the quantiles qs[0..nq) (linear between order
 * statistics, numpy's default: position q (n - 1)). Outputs: mean and std
 * batch x n_t x state_dim, quant nq x batch x n_t x state_dim; any may be
 * NULL. scratch: samples doubles. */
void sde_model_summarize(const double *paths, size_t batch, size_t samples, size_t n_t,
                         size_t dim, const double *qs, size_t nq, double *mean, double *std,
                         double *quant, double *scratch);

#endif
