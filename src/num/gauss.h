/* num/gauss.h: one step of the implicit symplectic methods of
 * num/symplectic.h (implicit midpoint, 2-stage Gauss-Legendre), for
 * symplectic.c only.
 *
 * A step solves the stage equations Z_i = h sum_j a_ij f(t + c_j h, y0 + Z_j)
 * by a simplified Newton iteration whose matrix I - h A (x) J uses the
 * Jacobian J of f at (t, y0), factored once per step by LAPACK (dgetrf, one
 * block of s 2n x s 2n per system of a batch), and then y1 = y0 + sum_i d_i
 * Z_i with d = b^T A^-1 (no further evaluation of f, Hairer's RADAU5 idea).
 *
 * Ownership and threads: a gauss_ws is one solve's scratch, made by
 * gauss_ws_new (the only allocation) and released by gauss_ws_free; one
 * thread at a time. */
#ifndef ODESERVE_NUM_GAUSS_H
#define ODESERVE_NUM_GAUSS_H

#include "num/symplectic.h"

typedef struct gauss_ws gauss_ws;

/* Scratch for method m (SYMP_MIDPOINT or SYMP_GAUSS) on groups systems of
 * 2n values each; NULL when out of memory. */
gauss_ws *gauss_ws_new(const struct symp_method *m, size_t groups, size_t n);
void gauss_ws_free(gauss_ws *w); /* NULL is a no-op */

/* One step from (t, y0) to y1 = y(t + h) (groups x 2n values each; y1 may
 * not alias y0). Counts into st (nfe, n_jac, n_lu, n_newton). Returns 0,
 * ERR_SOLVER (Newton failed, singular matrix, a callback failed) naming t,
 * or the callback's own recorded error. */
err_code gauss_step(gauss_ws *w, const struct symp_problem *p, const struct symp_options *o,
                    double t, double h, const double *y0, double *y1, struct ode_stats *st,
                    err *e);

#endif
