/* num/symplectic.h: fixed-step symplectic and reversible solvers for
 * Hamiltonian systems, state y = [q; p] (n + n values),
 *
 *   dq/dt = dH/dp,   dp/dt = -dH/dq.
 *
 * Methods (a table, symp_method_names; docs/solvers.md, "Symplectic methods"):
 *   leapfrog           explicit, separable H = T(p) + V(q): Stoermer-Verlet
 *                      (kick-drift-kick), order 2
 *   yoshida4           explicit: Yoshida's triple jump of leapfrog, order 4
 *   yoshida6           explicit: Yoshida's 7-stage composition (solution A), order 6
 *   kahan_li6          explicit: Kahan and Li's 9-stage composition s9odr6a, order 6
 *   implicit_midpoint  implicit, any H: order 2
 *   gauss4             implicit, any H: 2-stage Gauss-Legendre, order 4
 * The explicit methods are const tables of composition weights run by one
 * kernel (symplectic.c); the implicit ones solve their stage equations by a
 * simplified Newton iteration with the Hessian of H and LAPACK (gauss.c).
 * All are symmetric, so a negative step runs the flow backward exactly as
 * the forward method would (time reversibility).
 *
 * Time grid (the rule of num/sde.h): the steps of each direction end at
 * t0 + k h (k = 1, 2, ...; h = +-step) whatever the output times are. An
 * output time between two grid points is answered by one extra, shorter step
 * from the grid point before it (in the direction of integration), which the
 * integration does not continue from: each answer is a symplectic map of y0
 * of the method's order, its value depends on its own time, the step and y0
 * only, never on the other output times. An output time within rounding of
 * a grid point (16 DBL_EPSILON (|t0| + |t|), at most 2^-20 h) is that grid
 * point. Output times: any order, duplicates allowed, on either side of t0
 * (times before t0 by one backward integration with -step).
 *
 * Batches (groups > 1): `groups` independent systems of the same n, solved
 * with the same steps. y0 and each output row are groups x 2n values, system
 * g at [g*2n, g*2n + 2n) as [q; p]. dT_dp and dV_dq see groups rows of n
 * values (all the momenta, resp. all the positions, one system per row), so
 * a network evaluates the whole batch at once; f sees the whole state
 * (groups x 2n, the layout of y0) and jac writes groups blocks of 2n x 2n,
 * one after another (the iteration matrix is factored per block).
 *
 * Ownership and threads: symp_solve allocates its workspace at entry and
 * frees it before it returns (the step loop never allocates); tables are
 * const and shared; problem, options and outputs are borrowed for the call.
 * Callbacks are called on the calling thread only. */
#ifndef ODESERVE_NUM_SYMPLECTIC_H
#define ODESERVE_NUM_SYMPLECTIC_H

#include "core/err.h"
#include "num/driver.h"

#include <stddef.h>

enum symp_kind {
    SYMP_COMPOSITION = 0, /* explicit: a symmetric composition of leapfrog steps */
    SYMP_MIDPOINT = 1,    /* implicit midpoint rule */
    SYMP_GAUSS = 2,       /* Gauss-Legendre collocation (2 stages) */
};

struct symp_method {
    const char *name;
    int kind;             /* enum symp_kind */
    int order;
    int n_weights;        /* SYMP_COMPOSITION: leapfrog substeps per step */
    const double *weights; /* SYMP_COMPOSITION: their step fractions (sum 1, palindromic) */
};

/* The Hamiltonian system. Gradient callbacks return 0 on success; any other
 * value stops the solve with ERR_SOLVER ("... failed at t=...") unless the
 * callback recorded its own error in the solve's err first (that one wins,
 * as in ode_solve). */
struct symp_problem {
    size_t n;      /* degrees of freedom (> 0) */
    size_t groups; /* 0 or 1: one system; > 1: a batch (see above) */
    /* Separable H = T(p) + V(q), for the explicit methods: */
    int (*dT_dp)(const double *p, double *out, void *ctx); /* groups x n values: dq/dt */
    int (*dV_dq)(const double *q, double *out, void *ctx); /* groups x n values: -dp/dt */
    /* Any H, for the implicit methods: the field f = J grad H (ode_rhs_fn:
     * dydt = [dH/dp; -dH/dq]) and its Jacobian J Hess H (ode_jac_fn, 2n x 2n
     * row-major per system; it is called with dfdt = NULL). */
    ode_rhs_fn f;
    ode_jac_fn jac;
    void *ctx; /* passed to every callback */
    double t0;
    const double *y0;    /* groups x 2n values */
    const double *t_out; /* n_out output times: any order, duplicates, either side of t0 */
    size_t n_out;
};

struct symp_options {
    double step;       /* > 0: the step size; or 0 and n_steps > 0 */
    long n_steps;      /* > 0 (step = 0): step = max |t_out - t0| / n_steps */
    double newton_tol; /* 1e-12: implicit methods: Newton stops when its update, in the norm
                          max_i |dy_i| / (1 + |y_i|), is below this (a round-off floor of a
                          few ulps applies) */
    int max_newton;    /* 50: Newton iterations per step before it counts as failed */
    long max_steps;    /* 1000000: steps per solve (extra output steps included); more is
                          ERR_TOO_LARGE on "max_steps" before any work */
    ode_abort_fn abort; /* NULL, or polled before every step: non-zero stops with that code */
    void *abort_ctx;
};

void symp_options_init(struct symp_options *o);

/* NULL-terminated list of the method names, in the order above. */
extern const char *const symp_method_names[];

/* The method named `name`, or NULL when it is not a symplectic method (so
 * symp_method_find(name) != NULL is "is this a symplectic method"). */
const struct symp_method *symp_method_find(const char *name);

/* 1 when the method is an explicit splitting: it needs a separable H
 * (dT_dp, dV_dq); 0 for the implicit ones (f, jac). */
int symp_method_explicit(const struct symp_method *m);

int symp_method_order(const struct symp_method *m);

/* Solve: y_out gets n_out rows of groups x 2n values, row i for t_out[i];
 * st may be NULL. Statistics (st is zeroed first):
 *   nfe         calls of dT_dp plus calls of dV_dq (explicit), of f (implicit)
 *   n_accepted  steps taken (extra output steps included); n_rejected 0
 *   n_jac, n_lu Hessian evaluations and LU factorisations (implicit: one each per step)
 *   n_newton    Newton iterations (implicit)
 *   h_last      the last step, t_fail NAN on success, else the time the failing step began
 * Returns 0; ERR_INVALID naming the field ("method", "n", "y0", "t_out",
 * "step", "n_steps", "dT_dp", "f", "jac", "newton_tol", "max_newton", ...);
 * ERR_TOO_LARGE on "max_steps"; ERR_SOLVER ("Newton iteration did not
 * converge at t=...", "gradient failed at t=...", "the state is not finite
 * at t=..."); ERR_NOMEM; or an abort hook's code. On failure y_out is
 * unspecified. */
err_code symp_solve(const struct symp_method *m, const struct symp_problem *p,
                    const struct symp_options *o, double *y_out, struct ode_stats *st, err *e);

#endif
