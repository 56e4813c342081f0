/* model/batch_solve.h: one adaptive ODE solve per initial state of a
 * query's batch, every state at the query's shared output times or at its
 * own run of them (the ragged layout of ode_model.h: the runs concatenated
 * in t, state b's rows from sum_{c<b} t_len[c] on). The explicit-field
 * kinds that solve their states one at a time (hamiltonian with an RK
 * method, lagrangian, hybrid) share this loop; the neural ODE has its own
 * batched modes (ode_model.c).
 *
 * Those kinds take the same trajectory query and report the same counts
 * (struct model_traj_query, struct model_traj_stats), so that a server or
 * a test builds one query for any of them.
 *
 * Ownership: borrows everything; writes y_out (rows x dim) and *sum.
 * Thread safety: as the solver and the problem's field (one caller per
 * solver). No allocation. */
#ifndef ODESERVE_MODEL_BATCH_SOLVE_H
#define ODESERVE_MODEL_BATCH_SOLVE_H

#include <stddef.h>

#include "core/err.h"
#include "model/model_def.h"
#include "num/driver.h"

struct model_batch {
    size_t batch;        /* initial states */
    const double *y0;    /* batch x dim */
    const double *t;     /* the shared times (n_t), or the concatenated runs */
    size_t n_t;          /* shared: times per state; ragged: their total */
    const size_t *t_len; /* NULL (shared), or each state's run length */
};

/* A trajectory query of a kind that solves its states one at a time. */
struct model_traj_query {
    double t0;
    size_t batch;     /* initial states, >= 1 */
    const double *y0; /* batch x the kind's state dimension */
    const double *t;  /* n_t output times, any order, either side of t0 */
    size_t n_t;
    /* NULL: every state at t[0..n_t); else state b at its own t_len[b]
     * times, the runs concatenated in t (n_t = their total), as in
     * ode_model.h */
    const size_t *t_len;
    model_solver solver; /* overrides of the model's defaults */
    ode_abort_fn abort;  /* NULL, or polled every step */
    void *abort_ctx;
};

/* What such a solve did, summed over the batch. Counts a method does not
 * have stay 0. */
struct model_traj_stats {
    long nfe, steps, rejected;
    long n_jac, n_lu;              /* implicit methods */
    long auto_steps[2];            /* "auto": accepted steps of dopri5 [0] and rodas4 [1] */
    long n_switches;               /* "auto": switches between them */
    double t_fail;                 /* NAN unless the solve failed */
    char method[MODEL_METHOD_MAX]; /* the method used, where the kind chooses one */
};

/* Zero *st, t_fail NAN. */
void model_traj_stats_clear(struct model_traj_stats *st);

/* Add a solver's counts to *st (t_fail: the latest failure's). */
void model_traj_stats_add(struct model_traj_stats *st, const struct ode_stats *os);

/* The batch of q (its states and times) as model_batch_solve takes it. */
struct model_batch model_traj_batch(const struct model_traj_query *q);

/* Solve p (f, ctx, dim, t0, jac, autonomous set by the caller; y0, t_out
 * and n_out set here per state) with s and o for each state in turn,
 * stopping at the first failure. *sum gets the counts of every solve added
 * up and the last failure's t_fail (NAN when none failed). A solver
 * failure (ERR_SOLVER) that names no field is named "y0" (one state) or
 * "y0[b]" (state b of a batch), as the trajectory request spells them. */
err_code model_batch_solve(ode_solver *s, struct ode_problem *p, const struct ode_options *o,
                           const struct model_batch *b, double *y_out, struct ode_stats *sum,
                           err *e);

/* Name the state whose solve failed, as ode_model's trajectories do: a
 * solver_failed (ERR_SOLVER) that names no field yet gets "y0" when the
 * request had one state and "y0[i]" in a batch of `batch`, so that a client
 * sees which initial state blew up. Any other error, or one whose field is
 * set already, is left as it is. model_batch_solve does this itself. */
void model_batch_name_failure(err *e, size_t i, size_t batch);

#endif
