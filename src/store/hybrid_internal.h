/* store/hybrid_internal.h: a hybrid version's state names and equations,
 * and its parameters' names, trainable flags and bounds: the table
 * model_hybrid_terms (migrations/0012_hybrid.sql). Used by versions.c
 * alone, with the version row; not for use outside src/store/.
 *
 * Thread safety: as for db (the caller's connection, inside the caller's
 * transaction). */
#ifndef ODESERVE_STORE_HYBRID_INTERNAL_H
#define ODESERVE_STORE_HYBRID_INTERNAL_H

#include "core/err.h"
#include "model/model_def.h"
#include "store/db.h"

/* The rows of def->hybrid (nothing for the other kinds). */
err_code store_hybrid_insert(db *d, long long version_id, const model_def *def, err *e);

/* The rows of version `version_id` into def->hybrid (def's kind and
 * state_dim decoded; nothing for the other kinds). Rows that cannot be
 * what store_hybrid_insert wrote set *bad and return ERR_OK. */
err_code store_hybrid_load(db *d, long long version_id, model_def *def, const char **bad, err *e);

#endif
