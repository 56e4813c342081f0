/* num/step.h (internal to num, but for the stage arithmetic that the
 * gradient engine's reverse sweep repeats and transposes, model/grad_*.c):
 * one trial step of the generic explicit Runge-Kutta kernel and its error
 * estimate. GSL odeiv2's step.c.
 *
 * The kernel knows nothing of tolerances or step-size choice: it evaluates
 * the stages of any table, and reports whether f failed or returned a
 * non-finite value. Plain loops over dim, no allocation.
 *
 * Ownership and threads: every buffer is the caller's (the solver's
 * workspaces); the functions keep no state and are thread-safe. */
#ifndef ODESERVE_NUM_STEP_H
#define ODESERVE_NUM_STEP_H

#include "num/dense.h"
#include "num/tableau.h"

#include <stddef.h>

/* Nonzero when one of v[0, n) is inf or NaN. */
int rk_nonfinite(const double *v, size_t n);

/* k = f(t, y), counted in *nfe, checked for non-finite values. Returns 0,
 * f's nonzero code, or ODE_RC_NONFINITE. */
int rk_eval(ode_rhs_fn f, void *ctx, size_t dim, double t, const double *y, double *k, long *nfe);

/* out = y + h sum_{j<i} a[j] k_j (k: rows of dim doubles) for the first
 * n_first components: a stage argument (a = row i of the table's a), y_{n+1}
 * (a = b, i = stages) or a dense output (a = the weights b_j(theta)). The
 * products h a[j] are formed once, the zeros of a skipped, and each element
 * summed in the order j = 0, 1, ...: the same bits on every CPU
 * (num_simd.h), so a caller recomputing a stage's argument gets the one the
 * solver evaluated. out may be y. */
void rk_stage_arg(size_t n_first, size_t dim, const double *a, int i, double h, const double *y,
                  const double *k, double *out);

/* The transpose of rk_stage_arg (reverse mode): with ybar_i the cotangent
 * of out, ybar += ybar_i and kbar_j += (h a[j]) ybar_i for the j < i with
 * a[j] != 0 (kbar: rows of dim doubles). Each element of each row gets its
 * one add, so the result is that of one axpy per row in any order.
 * ybar_i must not overlap ybar or kbar. */
void rk_stage_arg_vjp(size_t dim, const double *a, int i, double h, const double *ybar_i,
                      double *ybar, double *kbar);

/* Stages 2..s of a step from (t, y) of size h, k[0] = f(t, y) on entry; k is
 * stages x dim. y1 receives y + h sum b_i k_i; for FSAL tables the last stage
 * is f(t_end, y1). Stages with c_i == 1 are evaluated at t_end (t + h, or
 * just before it when the step ends at a jump). ytmp: dim scratch. The
 * arguments of the stages before the last are formed for the first n_read
 * components only (f reads no others: ode_problem.n_read; n_read = dim:
 * all). Returns as rk_eval; y1 is also checked for finiteness. */
int rk_step_trial(const struct rk_tableau *tab, size_t dim, size_t n_read, ode_rhs_fn f, void *ctx,
                  double t, double h, double t_end, const double *y, double *k, double *y1,
                  double *ytmp, long *nfe);

/* The dense stages (rows stages .. stages+dense_stages-1 of k) of a step. */
int rk_step_dense_stages(const struct rk_tableau *tab, size_t dim, ode_rhs_fn f, void *ctx,
                         double t, double h, const double *y, double *k, double *ytmp, long *nfe);

#endif
