/* num/tableau.h: explicit Runge-Kutta methods as data.
 *
 * Every method is one `static const struct rk_tableau`, consumed by the one
 * generic kernel in step.c (the idea of SUNDIALS ARKODE's Butcher tables;
 * GSL's hand-inlined steppers are what we avoid). Adding a method means adding
 * a table in tableau.c and a line in the name list.
 *
 * Conventions (Hairer-Norsett-Wanner I, II.1):
 *   Y_i = y_n + h sum_{j<i} a_ij k_j,   k_i = f(t_n + c_i h, Y_i),
 *   y_{n+1} = y_n + h sum_i b_i k_i,     error estimate = h sum_i e_i k_i.
 * Every table here is FSAL: its last stage s has a_sj = b_j and c_s = 1, so
 * k_s = f(t_{n+1}, y_{n+1}) is the next step's k_1. For the fixed-step
 * methods that stage is not part of the classical method; it costs nothing
 * (it is the next k_1) and gives the Hermite dense output its end slope.
 *
 * Dense output: y(t_n + theta h) = y_n + h sum_i b_i(theta) k_i over the
 * stages + dense_stages stages, each b_i a polynomial of degree n =
 * dense_degree with b_i(0) = 0, stored by its Bernstein coefficients:
 *   b_i(theta) = sum_{j=1..n} dense[i*n + j-1] C(n,j) theta^j (1-theta)^(n-j).
 * (Well conditioned on [0, 1]: the same polynomials in powers of theta lose
 * up to 2.5 more digits for DOP853.) The dense stages (DOP853's three) follow
 * the step's stages in `a` and `c`; dense.c computes them only when an output
 * time falls in the step.
 *
 * Implicit methods (kind != RK_EXPLICIT, implicit.h) use the same struct:
 * stages, orders, b, c, e and the dense output mean the same, so the error
 * norm, step control and dense output are shared; `a` of an ESDIRK holds its
 * diagonal gamma too, and a Rosenbrock method's rows of k hold U_i / h
 * (implicit.h says how the kernels fill them).
 *
 * The tables are const and shared by every thread. A reverse sweep (training
 * by backprop through the solver) reads them directly. */
#ifndef ODESERVE_NUM_TABLEAU_H
#define ODESERVE_NUM_TABLEAU_H

#include <stddef.h>

#define RK_MAX_DEGREE 8 /* highest dense-output degree a table may have */

enum rk_kind {
    RK_EXPLICIT = 0,   /* the generic explicit kernel (step.c) */
    RK_ROSENBROCK = 1, /* linearly implicit: one LU per step (implicit.c) */
    RK_ESDIRK = 2,     /* explicit first stage, diagonally implicit: simplified Newton */
    RK_AUTO = 3,       /* "auto": no table of its own; dopri5 and rodas4 by turns (autoswitch.h) */
};

struct rk_tableau {
    const char *name;    /* lookup name: "dopri5", ... */
    int stages;          /* s: stages of one step, the FSAL stage included */
    int dense_stages;    /* extra stages the dense output needs (DOP853: 3), else 0 */
    int order;           /* order of the propagated solution y_{n+1} */
    int err_order;       /* q: the error estimate shrinks like h^(q+1); 0 = none (fixed step only).
                            DOP853: 7 for its combined estimate (b - e alone is 5th order) */
    int dense_order;     /* order of the continuous extension */
    int dense_degree;    /* degree in theta of the b_i(theta) */
    int fsal;            /* 1: k_s = f(t_n + h, y_{n+1}) and is reused as the next k_1 */
    const double *a;     /* (stages+dense_stages)^2, row-major, strictly lower triangular
                            (an ESDIRK's has gamma on the diagonal) */
    const double *b;     /* stages: weights of y_{n+1} */
    const double *c;     /* stages+dense_stages: nodes */
    const double *e;     /* stages: error weights b - b_hat (NULL when err_order == 0) */
    const double *e3;    /* stages: DOP853's 3rd-order weights for its combined norm, else NULL */
    const double *dense; /* (stages+dense_stages) x dense_degree: Bernstein coefficients */
    /* implicit methods only (zero for the explicit tables) */
    int kind;         /* enum rk_kind */
    double gamma;     /* the diagonal: the iteration matrix is I - h gamma J */
    const double *cm; /* Rosenbrock: stages^2, strictly lower: the C_ij of rodas.f */
    const double *d;  /* Rosenbrock: stages: weights d_i of h df/dt */
};

/* The methods. */
extern const struct rk_tableau rk_euler, rk_midpoint, rk_rk4, rk_bosh3, rk_dopri5, rk_tsit5,
    rk_dop853;
extern const struct rk_tableau rk_rodas4, rk_esdirk4; /* implicit.c */
/* "auto": a solver made with it runs rk_dopri5 and switches to rk_rodas4
 * and back by a stiffness test (autoswitch.h). Only its name, kind and the
 * orders both methods guarantee are set; it has no coefficients, so only
 * ode_solver_new and listings may see it. rk_tableau_implicit is 1 for it
 * (it needs the Jacobian), rk_tableau_adaptive too. */
extern const struct rk_tableau rk_auto;

/* The table named `name` ("euler", "midpoint", "rk4", "bosh3", "dopri5",
 * "tsit5", "dop853", "rodas4", "esdirk4", "auto"), or NULL: the one solver table. */
const struct rk_tableau *rk_tableau_find(const char *name);

/* NULL-terminated lists of the method names: the explicit ones (in the order
 * above; what the explicit order tests and the reverse sweeps of training
 * know) and the implicit ones (rodas4, esdirk4). */
extern const char *const rk_tableau_names[];
extern const char *const rk_tableau_implicit_names[];

/* Every method, the one table that /v1/solvers lists: explicit ones in
 * rk_tableau_names' order, then rodas4, esdirk4, auto. *n gets the count. */
const struct rk_tableau *const *rk_tableau_all(size_t *n);

/* 1 for the implicit methods (they need a Jacobian: driver.h). */
int rk_tableau_implicit(const struct rk_tableau *tab);

/* 1 when the method has an error estimate (adaptive stepping possible). */
int rk_tableau_adaptive(const struct rk_tableau *tab);

/* The dense-output weights w_i = b_i(theta), i < stages + dense_stages, so
 * that y(t_n + theta h) = y_n + h sum_i w_i k_i. */
void rk_tableau_dense_weights(const struct rk_tableau *tab, double theta, double *w);

/* The same for eight thetas at once (one per vector lane, each lane the
 * operations of rk_tableau_dense_weights: the same bits): w[l * (stages +
 * dense_stages) + i] for theta[l]. */
void rk_tableau_dense_weights8(const struct rk_tableau *tab, const double *theta, double *w);

#endif
