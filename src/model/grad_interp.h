/* model/grad_interp.h: the paths of a neural CDE training batch
 * (grad_cde.h's struct grad_path) over model/interp.h interpolations, one
 * per item.
 *
 * A CDE is solved in the path's parameter s (interp.h: s = t except for
 * rectilinear), as cde_model solves it for serving: from s_0 = the first
 * knot, with the path's interp_stops (kinks) as jump times and its
 * interp_smooth_stops (the cubic schemes' knots) as stop times, so
 * training takes the very steps serving takes. Observation
 * times t map to s with grad_interp_param.
 *   x     X_b(s) = interp_eval;
 *   dxdt  dX_b/ds = interp_deriv, with a segment hint per item;
 *   jumps item b's interp_stops, or for several items the sorted union of
 *         theirs (built at creation for the whole batch; sub-ranges are
 *         merged into a buffer sized at creation: no allocation while
 *         solving);
 *   stops the same for interp_smooth_stops.
 *
 * Ownership and threads: the interps are borrowed and must outlive the
 * grad_interp; one thread at a time (the hints and the union buffer). */
#ifndef ODESERVE_MODEL_GRAD_INTERP_H
#define ODESERVE_MODEL_GRAD_INTERP_H

#include "core/err.h"
#include "model/grad_cde.h"
#include "model/interp.h"

#include <stddef.h>

typedef struct grad_interp grad_interp;

/* Paths for n >= 1 items, all with the same number of channels
 * (ERR_INVALID, field "paths[i]", otherwise). */
err_code grad_interp_new(grad_interp **out, const interp *const *paths, size_t n, err *e);
void grad_interp_free(grad_interp *g); /* NULL is a no-op */

/* The callbacks for grad_cde_batch.path (valid while g lives). */
const struct grad_path *grad_interp_path(const grad_interp *g);

/* s_0 of item b (its first knot): the t0 of its solve. */
double grad_interp_s0(const grad_interp *g, size_t item);

/* s of n observation times t of item b into s (interp_param). */
void grad_interp_params(const grad_interp *g, size_t item, const double *t, size_t n, double *s);

#endif
