/* model/interp.h: the continuous path X through a series of observations,
 * with torchcde's four schemes (Kidger et al., "Neural Controlled
 * Differential Equations for Irregular Time Series", 2020; the library
 * torchcde). docs/cde.md gives every formula; in short:
 *
 *   linear         piecewise linear through the knots;
 *   rectilinear    torchcde's linear_interpolation_coeffs(rectilinear=...):
 *                  first the time channel moves with the data held, then the
 *                  data move with the time held; a linear interpolation on a
 *                  doubled grid of 2n-1 knots at s = 0, 1, ..., 2n-2;
 *   natural_cubic  torchcde's natural_cubic_coeffs (C2, zero second
 *                  derivative at both ends);
 *   hermite_bdiff  torchcde's hermite_cubic_coefficients_with_backward_
 *                  differences: on [t_k, t_k+1] the cubic Hermite with
 *                  slopes d_(k-1) at t_k and d_k at t_k+1, d_k the slope of
 *                  the chord (d_(-1) = d_0); C1.
 *
 * THE PARAMETER s. The path is a function of a parameter s: s = t for
 * linear, natural_cubic and hermite_bdiff; s in [0, 2n-2] for rectilinear,
 * whose knots are the integers (torchcde's default grid there). A CDE is
 * invariant under reparametrisation, so it is solved in s; interp_param
 * maps an observation-span time t to s (rectilinear: t_k -> 2k, after the
 * data jump at t_k; between t_k and t_k+1 affinely onto [2k, 2k+1], the
 * stretch where only time moves).
 *
 * MISSING VALUES are NaN in x, per channel, as torchcde represents them:
 *   linear, hermite_bdiff  a channel's gaps are filled by linear
 *                          interpolation in t between its neighbouring
 *                          observations; the scheme then runs over all knots;
 *   natural_cubic          the spline over the channel's own observed times;
 *   rectilinear            last observation carried forward;
 * and for every scheme a leading gap takes the channel's first observed
 * value, imputed at t_0, and a trailing gap its last one, imputed at t_n-1
 * (torchcde's rule; for natural_cubic the spline then runs through the
 * imputed end knots, so it is not constant on such a gap).
 *
 * EVALUATION. On segment k (s_k <= s <= s_k+1, each channel a cubic in
 * f = s - s_k) the segment of s is torchcde's bucketize(s) - 1, clamped to
 * [0, segments - 1]: at an interior knot the left segment (left-sided
 * derivative), outside [s_0, s_last] the end segments extended. The solver
 * never evaluates exactly at a jump (num/driver.h), so this convention only
 * matters to callers who ask there.
 *
 * JUMPS: for linear and rectilinear every interior knot is a point where
 * dX/ds is discontinuous; interp_jumps lists them (in s). natural_cubic and
 * hermite_bdiff are C1 or better: no jumps.
 * STOPS: a step across a knot integrates a field that is not smooth there,
 * and the error estimate of an embedded pair, built for smooth fields,
 * misjudges it: the local error of a step across a knot is O(h) where dX/ds
 * jumps (linear), O(h^2) where it has a kink (hermite_bdiff: X'' jumps),
 * O(h^3) where its second derivative jumps (natural_cubic: X''' jumps),
 * against dopri5's O(h^6) on a smooth field, and the estimate lets such
 * steps through with errors far above the tolerance (docs/cde.md, the
 * work-precision table). So every scheme ends its steps at every interior
 * knot, in two lists for the driver (num/driver.h):
 *   interp_stops         jump times (linear, rectilinear: the kinks):
 *                        dX/ds has two values there, so the next step
 *                        starts afresh from the right-hand limit;
 *   interp_smooth_stops  stop times (natural_cubic, hermite_bdiff): dX/ds
 *                        is continuous there (C2, C1), so the last stage of
 *                        the step that ends at the knot is also the first
 *                        of the next (FSAL), and a fresh evaluation would
 *                        only cost one more right-hand side per knot.
 * The knots of a channel with missing values are a subset of the
 * observation times; stopping at all interior observation times is a
 * superset that costs at most a few short steps.
 *
 * Ownership and threads: an interp owns its arrays; it is immutable after
 * interp_new, so any number of threads may evaluate it at once. */
#ifndef ODESERVE_MODEL_INTERP_H
#define ODESERVE_MODEL_INTERP_H

#include "core/err.h"
#include "model/model_def.h"

#include <stddef.h>

typedef struct interp interp;

/* No time channel (schemes other than rectilinear). */
#define INTERP_NO_TIME_CHANNEL ((size_t)-1)

/* Build the path through n >= 1 observations: t (n finite, strictly
 * increasing times) and x (n x c values, row-major; NaN = missing). For
 * rectilinear, time_channel (< c) is the channel holding the time (never
 * missing); other schemes ignore it. With n == 1 the path is constant.
 * Errors, ERR_INVALID: "t[i]" for a non-finite or non-increasing time,
 * "x[i][j]" for an infinite value, "x[*][j]" for a channel with no value,
 * "time_channel" for a bad or missing-valued time channel. */
err_code interp_new(interp **out, model_interp scheme, const double *t, size_t n, const double *x,
                    size_t c, size_t time_channel, err *e);
void interp_free(interp *p); /* NULL is a no-op */

model_interp interp_scheme(const interp *p);
size_t interp_channels(const interp *p);
size_t interp_n_obs(const interp *p); /* n */

/* The knots in s (n, or 2n-1 for rectilinear), strictly increasing. */
size_t interp_n_knots(const interp *p);
const double *interp_knots(const interp *p);

/* Interior knots where dX/ds jumps (see above); NULL and 0 when none. */
size_t interp_n_jumps(const interp *p);
const double *interp_jumps(const interp *p);

/* Interior knots where a solver's steps end and restart, its jump times
 * (see STOPS); NULL and 0 when none. */
size_t interp_n_stops(const interp *p);
const double *interp_stops(const interp *p);

/* Interior knots where a solver's steps end and go on with FSAL, its stop
 * times (see STOPS); NULL and 0 when none. */
size_t interp_n_smooth_stops(const interp *p);
const double *interp_smooth_stops(const interp *p);

/* s of time t (t in [t_0, t_n-1]; outside it the end segments' maps are
 * extended). */
double interp_param(const interp *p, double t);

/* The time t of a parameter s, interp_param's inverse where it has one:
 * s itself but for rectilinear, whose time stretch [2k, 2k+1] maps affinely
 * onto [t_k, t_k+1] and whose data stretch [2k+1, 2k+2] (the observation at
 * t_k+1 arriving) maps to t_k+1. Non-decreasing in s; below s_0 the first
 * stretch's map is extended, beyond s_last it gives t_n-1. */
double interp_time(const interp *p, double s);

/* The segment whose cubic is used at s (see EVALUATION). */
size_t interp_segment(const interp *p, double s);

/* X(s), dX/ds(s), d2X/ds2(s) into x, dx, d2x (c values each; any may be
 * NULL). */
void interp_eval(const interp *p, double s, double *x, double *dx, double *d2x);

/* dX/ds(s) alone: the solver's inner loop. *hint (may be NULL) is a
 * segment to try first (a caller's last one, updated): the same result as
 * without it, without the search when s has not left that segment. */
void interp_deriv(const interp *p, double s, size_t *hint, double *dx);

/* Coefficients of channel j on segment k: X = a + b f + c f^2 + d f^3,
 * f = s - s_k (cf[0..3] = a, b, c, d). */
void interp_coeffs(const interp *p, size_t k, size_t j, double cf[4]);

#endif
