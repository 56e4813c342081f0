/* store/models_internal.h: what the store layer's other modules need from
 * models.c. Not for use outside src/store/ (and its tests).
 *
 * store_model_put_in_tx writes the next version of a model inside the
 * caller's open write transaction (db_begin_immediate), so another write
 * can commit or roll back with it: store_job_succeed (jobs.c) stores a
 * job's result and marks the job succeeded in one transaction. On failure
 * the caller rolls back; after its commit it calls store_version_changed
 * (versions_internal.h). Thread safety: as for db. */
#ifndef ODESERVE_STORE_MODELS_INTERNAL_H
#define ODESERVE_STORE_MODELS_INTERNAL_H

#include "core/err.h"
#include "model/model_def.h"
#include "store/db.h"

/* As store_model_put, without its own transaction. */
err_code store_model_put_in_tx(db *d, const char *name, const model_def *def, int *version, err *e);

#endif
