/* model/lagrangian.h: a Lagrangian neural network (Cranmer et al. 2020),
 * ready to solve: the state y = [q; v] (v = dq/dt, 2 dof values) follows
 * the Euler-Lagrange equations of a learned scalar L(q, v),
 *
 *   dq/dt = v,   M(y) dv/dt = dL/dq - C(y) v,
 *   M = d2L/dv2 (the mass matrix, dof x dof),  C = d2L/dv dq,
 *
 * so E = v . dL/dv - L is a first integral of the exact flow
 * (docs/structured.md). L's gradient and Hessian come from nn/mlp_grad.h
 * (analytic; no finite differences); M is factored per evaluation by
 * LAPACK: Cholesky (dpotrf/dpotrs) when it is positive definite, else LU
 * with partial pivoting (dgetrf/dgetrs), so an indefinite but invertible M
 * is served. A singular M (a pivot below LAGRANGIAN_PIVOT_TOL times M's
 * largest entry, or exactly zero) stops the solve: ERR_SOLVER naming the
 * time, never a non-finite answer.
 *
 * SOLVERS. The explicit Runge-Kutta methods of num/driver.h (dopri5,
 * tsit5, dop853, bosh3, rk4, ...), one trajectory at a time. The implicit
 * ones (rodas4, esdirk4, auto) would need the Jacobian of the acceleration,
 * third derivatives of L, which is not built: ERR_INVALID on
 * "solver.method"; so are the symplectic methods (model_def.h,
 * model_lagrangian_method_check). Default dopri5; a fixed-step method
 * without solver.step takes LAGRANGIAN_DEFAULT_N_STEPS steps per direction.
 *
 * Ownership and threads: a lagrangian_model is immutable after
 * lagrangian_model_new (it keeps its own packed network) and may be shared
 * by any number of threads; each call makes its own workspace. */
#ifndef ODESERVE_MODEL_LAGRANGIAN_H
#define ODESERVE_MODEL_LAGRANGIAN_H

#include "core/err.h"
#include "model/batch_solve.h" /* struct model_traj_query, struct model_traj_stats */
#include "model/model_def.h"
#include "num/driver.h"

#include <stddef.h>

/* Steps per direction of a fixed-step solve without solver.step. */
#define LAGRANGIAN_DEFAULT_N_STEPS 1000
/* A pivot of M's factorisation at most this times max |M_ij| is singular. */
#define LAGRANGIAN_PIVOT_TOL 1e-12

typedef struct lagrangian_model lagrangian_model;

/* ERR_INVALID if d is not a valid "lagrangian" model_def. */
err_code lagrangian_model_new(lagrangian_model **out, const model_def *d, err *e);
void lagrangian_model_free(lagrangian_model *m); /* NULL is a no-op */

size_t lagrangian_model_dof(const lagrangian_model *m);

/* The method a query would use: ERR_INVALID on "solver.method" for one a
 * lagrangian model does not serve (above). */
err_code lagrangian_model_method(const lagrangian_model *m, const model_solver *over,
                                 const char **method, err *e);

/* E = v . dL/dv - L at n states y (n x 2 dof) into energy (n values); grad
 * (n x 2 dof, may be NULL: then no Hessian is taken) gets
 * dE/dy = [C' v - dL/dq; M v]. */
err_code lagrangian_model_energy(const lagrangian_model *m, size_t n, const double *y,
                                 double *energy, double *grad, err *e);

/* The field f(y) = [v; dv/dt] (2 dof values) at one state; ERR_SOLVER
 * when M is singular or not finite there. */
err_code lagrangian_model_field(const lagrangian_model *m, const double *y, double *f, err *e);

/* Solve. q->y0: batch x 2 dof, [q; dq/dt] each. y_out: rows x 2 dof (rows = batch x n_t, or n_t with t_len), row
 * (b * n_t + i) for state b at t[i]; energy (rows values, may be NULL): E of
 * each row. ERR_INVALID names the field as the request does
 * ("solver.method", "solver.step"); ERR_SOLVER with the time (st->t_fail);
 * or the abort hook's code. */
err_code lagrangian_model_solve(const lagrangian_model *m, const struct model_traj_query *q,
                                double *y_out, double *energy, struct model_traj_stats *st,
                                err *e);

#endif
