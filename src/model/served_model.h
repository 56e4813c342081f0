/* model/served_model.h: a model version built for serving.
 *
 * The daemon creates the model cache (store/model_cache.h) with these as
 * its build and unbuild functions, so a loaded version is built once into
 * a served_model (an ode_model for kind "ode", a cde_model for kind "cde", an
 * sde_model for kind "sde", a hamiltonian_model for kind "hamiltonian", a cnf_model
 * for kind "cnf", a lagrangian_model for kind "lagrangian", a hybrid_model for
 * kind "hybrid")
 * and shared by every request that solves it (the trajectory route,
 * http/trajectory.c).
 *
 * Ownership and threads: the cache owns what served_model_build returns and
 * frees it with served_model_free when its last handle is released; a
 * served_model is immutable but for its learned solve cost (solve_cost.h,
 * atomics), so any number of threads may solve with it. */
#ifndef ODESERVE_MODEL_SERVED_MODEL_H
#define ODESERVE_MODEL_SERVED_MODEL_H

#include "core/err.h"
#include "model/cde_model.h"
#include "model/hamiltonian.h"
#include "model/lagrangian.h"
#include "model/hybrid.h"
#include "model/cnf_model.h"
#include "model/model_def.h"
#include "model/ode_model.h"
#include "model/sde_model.h"
#include "model/solve_cost.h"

typedef struct served_model {
    model_kind kind;
    ode_model *ode;  /* kind ode */
    cde_model *cde;  /* kind cde */
    sde_model *sde;  /* kind sde */
    hamiltonian_model *ham; /* kind hamiltonian */
    cnf_model *cnf;  /* kind cnf */
    lagrangian_model *lag; /* kind lagrangian */
    hybrid_model *hyb; /* kind hybrid */
    solve_cost cost; /* learned from the solves served, for the inline decision */
} served_model;

/* model_build_fn: build the executable model for a validated def. NULL
 * with e filled on failure. */
void *served_model_build(const model_def *def, err *e);
/* model_unbuild_fn. NULL is a no-op. */
void served_model_free(void *built);

#endif
