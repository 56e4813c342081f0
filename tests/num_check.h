/* num_check.h: the TCases of the num suite, one builder per file. */
#ifndef ODESERVE_TESTS_NUM_CHECK_H
#define ODESERVE_TESTS_NUM_CHECK_H

#include "core/err.h"
#include "num/driver.h"
#include "num_testlib.h"

#include <check.h>

/* The accuracy criterion of check_num.c: error <= C (atol + rtol |y|). */
#define ACC_C_DEFAULT 100

TCase *num_tcase_core(void);   /* check_num.c: accuracy, dense output, jumps, batches, NFE */
TCase *num_tcase_order(void);  /* check_num_order.c: order conditions, convergence orders */
TCase *num_tcase_limits(void); /* check_num_errors.c: edge cases */
TCase *num_tcase_errors(void); /* check_num_errors.c: failure paths */
TCase *num_tcase_events(void); /* check_num_events.c: events, analytic */
TCase *num_tcase_events_scipy(void); /* check_num_events.c: events against SciPy */

/* Solve problem p with `method` at the times t[0..n) into y (n x dim). */
err_code num_solve(const char *method, const struct tp_problem *p, const struct ode_options *o,
                   const double *t, size_t n, double *y, struct ode_stats *st, err *e);

#endif
