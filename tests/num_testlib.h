/* num_testlib.h: the problem table of the num tests and the SciPy fixture
 * (tests/fixtures/ode_reference.json, made by tests/fixtures/gen_reference.py).
 * The right-hand sides are written out here by hand; the fixture supplies
 * their parameters (the MLP's weights included), the output times and the
 * reference solutions. Test-only: jansson is linked into the test, never
 * into libnum. */
#ifndef ODESERVE_TESTS_NUM_TESTLIB_H
#define ODESERVE_TESTS_NUM_TESTLIB_H

#include "num/driver.h"

#include <stddef.h>

#define TP_MAXDIM 4
#define TP_NFE_ROWS 3

struct tp_nfe {
    double rtol, atol;
    long nfev;    /* SciPy RK45 */
    long n_steps; /* SciPy RK45 */
};

struct tp_problem {
    const char *name;
    size_t dim;
    double t0, t_lo, t_hi;
    double y0[TP_MAXDIM];
    int analytic;     /* reference is the exact solution */
    double ref_err;   /* estimated error of the reference (0 if analytic) */
    double *ref_errs; /* n: the same per output time */
    size_t n;         /* output times */
    double *t;        /* n, caller order (random, duplicates, both sides of t0) */
    double *y;        /* n x dim */
    struct tp_nfe rk45[TP_NFE_ROWS];
    ode_rhs_fn f;
    void *ctx; /* parameters, owned by the table */
};

/* Load the fixture once (aborts the test program if it cannot). */
void tp_load(void);
void tp_free(void);
size_t tp_count(void);
const struct tp_problem *tp_get(size_t i);
const struct tp_problem *tp_find(const char *name);

/* Reference state at output time index i; index of a time in the fixture. */
const double *tp_ref(const struct tp_problem *p, size_t i);
/* The fixture index of t_hi (and of t_lo). */
size_t tp_index_of(const struct tp_problem *p, double t);

/* max_i,j |y_ij - ref_ij| / (atol + rtol |ref_ij|) over n rows (x dim). */
double tp_scaled_err(const double *y, const double *ref, size_t n, size_t dim, double rtol,
                     double atol);
/* The same with each component scaled by its largest |ref| over the rows:
 * max_j max_i |y_ij - ref_ij| / (atol + rtol max_i |ref_ij|). */
double tp_normwise_err(const double *y, const double *ref, size_t n, size_t dim, double rtol,
                       double atol);
double tp_max_abs_err(const double *y, const double *ref, size_t n, size_t dim);

/* Least-squares slope of log(err) against log(h). */
double tp_slope(const double *h, const double *e, int n);

/* The adaptive methods and all methods, NULL-terminated. */
extern const char *const tp_adaptive_methods[];

#endif
