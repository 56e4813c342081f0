/* store/nets_internal.h: a model version's networks and their layers, the
 * tables model_nets and model_layers (migrations/0002_models.sql). Used by
 * versions.c alone, which writes and reads them with the version row; not
 * for use outside src/store/.
 *
 * What a network or a layer is, and whether a row can be one, is
 * model/model_rows.h's; this file only moves its rows in and out of SQL.
 * Thread safety: as for db (the caller's connection, inside the caller's
 * transaction). */
#ifndef ODESERVE_STORE_NETS_INTERNAL_H
#define ODESERVE_STORE_NETS_INTERNAL_H

#include "core/err.h"
#include "model/model_def.h"
#include "store/db.h"

/* One row per network and per layer of def, for the version row
 * `version_id`, inside the caller's write transaction. */
err_code store_net_insert(db *d, long long version_id, const model_def *def, err *e);

/* The networks and layers of version `version_id` into def, whose kind is
 * already decoded. A row that cannot be what store_net_insert wrote sets
 * *bad (what is wrong) and returns ERR_OK; an SQL failure is ERR_DB. */
err_code store_net_load(db *d, long long version_id, model_def *def, const char **bad, err *e);

#endif
