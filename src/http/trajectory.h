/* http/trajectory.h: what the model cache holds for the trajectory route.
 *
 * The daemon creates the model cache (store/model_cache.h) with these as
 * its build and unbuild functions, so a loaded version is built once into
 * a served_model (an ode_model for kind "ode", a cde_model for kind "cde")
 * and shared by every request that solves it. The route itself is
 * h_trajectory (handlers.h).
 *
 * Ownership and threads: the cache owns what served_model_build returns and
 * frees it with served_model_free when its last handle is released; a
 * served_model is immutable, so any number of threads may solve with it. */
#ifndef ODESERVE_HTTP_TRAJECTORY_H
#define ODESERVE_HTTP_TRAJECTORY_H

#include "core/err.h"
#include "model/model_def.h"

/* model_build_fn: build the executable model for a validated def. NULL
 * with e filled on failure. The result is thread-safe: immutable but for
 * its learned solve cost (solve_cost.h, atomics). */
void *served_model_build(const model_def *def, err *e);
/* model_unbuild_fn. NULL is a no-op. */
void served_model_free(void *built);

#endif
