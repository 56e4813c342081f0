/* model/hamiltonian.h: a Hamiltonian neural network (Greydanus et al. 2019),
 * ready to solve: the state y = [q; p] (2 dof values) follows
 *
 *   dq/dt = dH/dp,   dp/dt = -dH/dq,
 *
 * the symplectic gradient of a learned scalar H, so H is a first integral
 * of the exact flow (docs/structured.md). Forms (model_def.h):
 *   general   H(q, p) one network;
 *   mass      H = p' M^-1 p / 2 + V(q), M diagonal, V a network;
 *   kinetic   H = T(p) + V(q), both networks.
 * The field and its Jacobian J Hess H come from nn/mlp_grad.h (analytic
 * gradient and Hessian of the networks; no finite differences).
 *
 * SOLVERS. Every method of the ODE table (dopri5, ..., rodas4 and esdirk4
 * with the analytic Jacobian) through num/driver.h, one trajectory at a
 * time; and the symplectic methods of num/symplectic.h (leapfrog, yoshida4,
 * yoshida6, kahan_li6 for a separable H; implicit_midpoint and gauss4 for
 * any H), the batch in one call (the same fixed steps for every state).
 * Defaults: gauss4 for a general H, yoshida4 for a separable one; the step
 * is solver.step, else HAMILTONIAN_DEFAULT_N_STEPS equal steps over the
 * longest span from t0 (per direction). An explicit splitting on a general
 * H is ERR_INVALID on "solver.method".
 *
 * Ownership and threads: a hamiltonian_model is immutable after
 * hamiltonian_model_new (it keeps its own packed networks and masses) and
 * may be shared by any number of threads; each call makes its own
 * workspaces. */
#ifndef ODESERVE_MODEL_HAMILTONIAN_H
#define ODESERVE_MODEL_HAMILTONIAN_H

#include "core/err.h"
#include "model/batch_solve.h" /* struct model_traj_query, struct model_traj_stats */
#include "model/model_def.h"
#include "num/driver.h"

#include <stddef.h>

/* Steps per direction of a symplectic solve without solver.step. */
#define HAMILTONIAN_DEFAULT_N_STEPS 1000

typedef struct hamiltonian_model hamiltonian_model;

/* ERR_INVALID if d is not a valid "hamiltonian" model_def. */
err_code hamiltonian_model_new(hamiltonian_model **out, const model_def *d, err *e);
void hamiltonian_model_free(hamiltonian_model *m); /* NULL is a no-op */

size_t hamiltonian_model_dof(const hamiltonian_model *m);
int hamiltonian_model_separable(const hamiltonian_model *m);

/* The method a query would use ("gauss4", "dopri5", ...): ERR_INVALID on
 * "solver.method" for an sde method or a splitting on a general H. */
err_code hamiltonian_model_method(const hamiltonian_model *m, const model_solver *over,
                                  const char **method, err *e);

/* H at n states y (n x 2 dof) into h (n values); grad (n x 2 dof, may be
 * NULL) gets dH/dy = [dH/dq; dH/dp]. */
err_code hamiltonian_model_energy(const hamiltonian_model *m, size_t n, const double *y,
                                  double *h, double *grad, err *e);

/* The field f(y) = [dH/dp; -dH/dq] (2 dof values) and, when jac is not NULL,
 * its Jacobian J Hess H (2 dof x 2 dof row-major), at one state. */
err_code hamiltonian_model_field(const hamiltonian_model *m, const double *y, double *f,
                                 double *jac, err *e);

/* Solve. q->y0: batch x 2 dof, [q; p] each. y_out: rows x 2 dof (rows = batch x n_t, or n_t with t_len), row
 * (b * n_t + i) for state b at t[i]; energy (rows values, may be NULL): H of
 * each row. ERR_INVALID names the field as the request does ("solver.method",
 * "solver.step"); ERR_SOLVER with the time; or the abort hook's code. */
err_code hamiltonian_model_solve(const hamiltonian_model *m, const struct model_traj_query *q,
                                 double *y_out, double *energy, struct model_traj_stats *st,
                                 err *e);

#endif
