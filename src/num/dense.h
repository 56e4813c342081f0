/* num/dense.h: the dense output (continuous extension) of one Runge-Kutta
 * step, as its own object with init / update / eval (ARKODE's ARKInterp,
 * CVODE's CVodeGetDky).
 *
 *   y(t_n + theta h) = y_n + h sum_i b_i(theta) k_i,   0 <= theta <= 1,
 *
 * with the b_i(theta) of the step's tableau (tableau.h). The driver updates
 * it after every accepted step and evaluates it at the output times the step
 * covers; a reverse sweep can also feed it recorded steps.
 *
 * update() only records the step (pointers borrowed until the next update:
 * no copy per step). Tables whose interpolant needs extra stages (DOP853)
 * compute them into the rows of k after the step's stages the first time a
 * step is evaluated, so steps without output times cost nothing more.
 *
 * Ownership and threads: an ode_dense owns small scratch buffers sized at
 * creation (or by ode_dense_reserve); one per thread. */
#ifndef ODESERVE_NUM_DENSE_H
#define ODESERVE_NUM_DENSE_H

#include "core/err.h"
#include "num/tableau.h"

#include <limits.h>
#include <stddef.h>

/* The vector field contract (see driver.h): 0 ok, > 0 recoverable, < 0 fatal. */
typedef int (*ode_rhs_fn)(double t, const double *y, double *dydt, void *ctx);

/* Returned (> 0, "recoverable") when a stage of f is not finite. */
#define ODE_RC_NONFINITE INT_MAX

typedef struct ode_dense ode_dense;

ode_dense *ode_dense_new(const struct rk_tableau *tab, size_t dim, err *e);
void ode_dense_free(ode_dense *d);

/* Use `tab` from the next update on ("auto" switching methods); its stages
 * + dense_stages must not exceed those of the table d was made for. */
void ode_dense_retable(ode_dense *d, const struct rk_tableau *tab);

/* Make room for states of `dim` values (reallocates only to grow). */
err_code ode_dense_reserve(ode_dense *d, size_t dim, err *e);

/* Record the step from (t, y0) of size h to y1 with stages k (tab->stages
 * rows of dim values, and room for tab->dense_stages more). f and ctx are
 * kept to compute dense stages when needed; they may be NULL when the table
 * has none or the rows are already filled (then set `dense_done`). */
void ode_dense_update(ode_dense *d, size_t dim, double t, double h, const double *y0,
                      const double *y1, double *k, int dense_done, ode_rhs_fn f, void *ctx);

/* y(t) into y (dim values); t is meant to lie in the recorded step (theta in
 * [0, 1]; outside it extrapolates). Returns 0, or the code of f when a dense
 * stage failed (ODE_RC_NONFINITE for a non-finite one). *nfe (may be NULL)
 * counts the evaluations of f made. */
int ode_dense_eval(ode_dense *d, double t, double *y, long *nfe);

/* ode_dense_eval at m times t[i] into y[i], the same bits, with the weights
 * of up to eight times computed at once. */
int ode_dense_eval_n(ode_dense *d, size_t m, const double *t, double *const *y, long *nfe);

/* 1 when the dense stages of the current step are in k (or none are needed). */
int ode_dense_stages_done(const ode_dense *d);

#endif
