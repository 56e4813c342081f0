/* model/batch_solve.h: one adaptive ODE solve per initial state of a
 * query's batch, every state at the query's shared output times or at its
 * own run of them (the ragged layout of ode_model.h: the runs concatenated
 * in t, state b's rows from sum_{c<b} t_len[c] on). The explicit-field
 * kinds that solve their states one at a time (hamiltonian with an RK
 * method, lagrangian, hybrid) share this loop; the neural ODE has its own
 * batched modes (ode_model.c).
 *
 * Ownership: borrows everything; writes y_out (rows x dim) and *sum.
 * Thread safety: as the solver and the problem's field (one caller per
 * solver). No allocation. */
#ifndef ODESERVE_MODEL_BATCH_SOLVE_H
#define ODESERVE_MODEL_BATCH_SOLVE_H

#include <stddef.h>

#include "core/err.h"
#include "num/driver.h"

struct model_batch {
    size_t batch;        /* initial states */
    const double *y0;    /* batch x dim */
    const double *t;     /* the shared times (n_t), or the concatenated runs */
    size_t n_t;          /* shared: times per state; ragged: their total */
    const size_t *t_len; /* NULL (shared), or each state's run length */
};

/* Solve p (f, ctx, dim, t0, jac, autonomous set by the caller; y0, t_out
 * and n_out set here per state) with s and o for each state in turn,
 * stopping at the first failure. *sum gets the counts of every solve added
 * up and the last failure's t_fail (NAN when none failed). */
err_code model_batch_solve(ode_solver *s, struct ode_problem *p, const struct ode_options *o,
                           const struct model_batch *b, double *y_out, struct ode_stats *sum,
                           err *e);

#endif
