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
 * The tables are const and shared by every thread. A reverse sweep (training
 * by backprop through the solver) reads them directly. */
#ifndef ODESERVE_NUM_TABLEAU_H
#define ODESERVE_NUM_TABLEAU_H

#define RK_MAX_DEGREE 8 /* highest dense-output degree a table may have */

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
    const double *a;     /* (stages+dense_stages)^2, row-major, strictly lower triangular */
    const double *b;     /* stages: weights of y_{n+1} */
    const double *c;     /* stages+dense_stages: nodes */
    const double *e;     /* stages: error weights b - b_hat (NULL when err_order == 0) */
    const double *e3;    /* stages: DOP853's 3rd-order weights for its combined norm, else NULL */
    const double *dense; /* (stages+dense_stages) x dense_degree: Bernstein coefficients */
};

/* The methods. */
extern const struct rk_tableau rk_euler, rk_midpoint, rk_rk4, rk_bosh3, rk_dopri5, rk_tsit5,
    rk_dop853;

/* The table named `name` ("euler", "midpoint", "rk4", "bosh3", "dopri5",
 * "tsit5", "dop853"), or NULL. */
const struct rk_tableau *rk_tableau_find(const char *name);

/* NULL-terminated list of the method names, in the order above. */
extern const char *const rk_tableau_names[];

/* 1 when the method has an error estimate (adaptive stepping possible). */
int rk_tableau_adaptive(const struct rk_tableau *tab);

/* The dense-output weights w_i = b_i(theta), i < stages + dense_stages, so
 * that y(t_n + theta h) = y_n + h sum_i w_i k_i. */
void rk_tableau_dense_weights(const struct rk_tableau *tab, double theta, double *w);

#endif
