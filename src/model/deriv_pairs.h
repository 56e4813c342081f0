/* model/deriv_pairs.h: observed (state, time derivative) pairs of one series,
 * for the derivative fits (the HNN loss of a hamiltonian model, the field
 * fit of an ode model; docs/training.md, "Objectives").
 *
 * Rules (job_spec.h's job_derivs):
 *   channels            the series' channels are [x; xdot] (2 dim values):
 *                       each fully observed row is a pair;
 *   central_difference  xdot at t_i from x at t_(i-1), t_i, t_(i+1) by the
 *                       three-point formula exact for quadratics (second
 *                       order on any spacing; h1 = t_i - t_(i-1),
 *                       h2 = t_(i+1) - t_i):
 *                         xdot_i = -h2/(h1 (h1+h2)) x_(i-1)
 *                                  + (h2-h1)/(h1 h2) x_i + h1/(h2 (h1+h2)) x_(i+1);
 *                       at the two ends the one-sided three-point formulas
 *                       of the same order. A row is a pair when the three
 *                       rows it uses are fully observed; a series of fewer
 *                       than 3 rows gives none;
 *   spline              the derivative at t_i of the natural cubic spline
 *                       through each channel's observations (model/interp.h,
 *                       natural_cubic: missing values skipped per channel),
 *                       at every row whose state is fully observed; a series
 *                       of fewer than 2 rows gives none.
 *
 * Ownership: deriv_pairs owns its arrays (deriv_pairs_free). Stateless
 * otherwise; thread-safe. */
#ifndef ODESERVE_MODEL_DERIV_PAIRS_H
#define ODESERVE_MODEL_DERIV_PAIRS_H

#include "core/err.h"
#include "model/dataset.h"
#include "model/job_spec.h"

#include <stddef.h>

typedef struct deriv_pairs {
    size_t n;         /* pairs */
    double *x, *dx;   /* n x dim each, row-major */
    double *t;        /* n times */
} deriv_pairs;

/* The pairs of series x (its rows of `channels` values: dim, or 2 dim for
 * JOB_DERIVS_CHANNELS / JOB_DERIVS_UNSET) into p (zeroed first).
 * ERR_NOMEM; ERR_INVALID from the spline (a field of the series). */
err_code deriv_pairs_of(const dataset_series *x, size_t channels, size_t dim, job_derivs rule,
                        deriv_pairs *p, err *e);
void deriv_pairs_free(deriv_pairs *p); /* NULL is a no-op; zeroes p */

#endif
