/* num/implicit.h (internal to num): the implicit methods' kernels, one per
 * kind of table (tableau.h), behind the step interface of step.h: a trial
 * step from (t, y) of size h fills the rows of k, y1, and leaves the error
 * estimate to control.c and the interpolant to dense.c, as for an explicit
 * table.
 *
 * Rosenbrock (Hairer-Wanner II, IV.7, in the form of rodas.f): per stage
 *   (I - h gamma J) K_i = gamma (f(t + c_i h, y + h sum_j a_ij K_j)
 *                                + sum_j c_ij K_j + h d_i df/dt),
 *   y_{n+1} = y + h sum_i b_i K_i,
 * with J = df/dy(t_n, y_n) and K_i = U_i / h (rodas.f's U_i), so the rows of
 * k and the table's b, e and dense weights act as for an explicit method.
 * One Jacobian per step (the method's order needs the exact J at y_n; a
 * rejected attempt reuses it), one LU per attempt (h changed).
 *
 * ESDIRK (Kennedy-Carpenter): per stage i >= 2, Z_i = y + h sum_{j<i} a_ij
 * k_j + h gamma f(t + c_i h, Z_i) by simplified Newton with the matrix
 * I - h' gamma J (J and h' from an earlier step), k_i = (Z_i - y - h sum
 * a_ij k_j) / (h gamma). Stiffly accurate: y_{n+1} = Z_s, and k_s is the
 * next step's k_1 (FSAL). The policy (docs/solvers.md): J is kept across
 * steps and refreshed when Newton fails or contracts slowly; the LU is
 * redone when J changed or h moved more than 20% from the h it was built
 * for.
 *
 * Linear algebra: LAPACK dgetrf/dgetrs (OpenBLAS), dense dim x dim.
 * Ownership and threads: the workspace belongs to its ode_solver, sized
 * when the solver's state is; no allocation in the step loop. */
#ifndef ODESERVE_NUM_IMPLICIT_H
#define ODESERVE_NUM_IMPLICIT_H

#include "num/solver_impl.h"

#include <limits.h>

/* Trial-step codes (> 0, so evolve shrinks h and retries). */
#define ODE_RC_NEWTON (INT_MAX - 1)    /* Newton did not converge with a fresh Jacobian */
#define ODE_RC_SINGULAR (INT_MAX - 2)  /* I - h gamma J is singular */
#define ODE_RC_PAST_POLE (INT_MAX - 3) /* a mode at or past R's pole (Re(h gamma lambda) >= 1) */
#define ODE_RC_JAC_NONFINITE (INT_MAX - 4) /* the Jacobian (or df/dt) is not finite */

/* Make room for a dim-dimensional state and a Jacobian of jlen doubles
 * (ode_implicit_jac_len; grows only). */
err_code ode_implicit_reserve(ode_solver *s, size_t dim, size_t jlen, err *e);
/* Doubles of p's Jacobian: dim^2, or its blocks' (driver.h). */
size_t ode_implicit_jac_len(const struct ode_problem *p);
void ode_implicit_free(ode_solver *s);

/* Forget the Jacobian and the LU (start of a sweep: a new y0). */
void ode_implicit_reset(ode_solver *s);

/* One trial step of the implicit table s->tab from (t, s->y) of size h, k
 * row 0 = f(t, y) on entry for the step's first attempt (`first`); t_end as
 * rk_step_trial. Fills s->k and s->y1. Returns 0, f's or the Jacobian's
 * nonzero code, ODE_RC_NONFINITE, ODE_RC_JAC_NONFINITE, ODE_RC_NEWTON, ODE_RC_SINGULAR or
 * ODE_RC_PAST_POLE. */
int ode_implicit_trial(ode_solver *s, double t, double h, double t_end, int first);

#endif
