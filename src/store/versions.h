/* store/versions.h: the immutable, numbered versions of a model in SQLite
 * (table model_versions, with its networks' rows: migrations/0002_models.sql).
 *
 * Each version is a model_def (model/model_def.h) stored as columns plus its
 * networks' layers (model/model_rows.h says how), with the parameter vector
 * as a compact BLOB of little-endian doubles and its FNV-1a checksum
 * (model_def_checksum), so loading is one row read and a memcpy, not a JSON
 * parse. Versions are never modified; numbers are never reused, even after a
 * version is deleted. Deleting a model's last remaining version deletes the
 * model. Versions are written by store_model_put (models.h).
 *
 * Every function takes the calling thread's connection (db_conns_get) and is
 * as thread-safe as SQLite's one-connection-per-thread model; the counters
 * are thread-safe. What is loaded is the caller's (model_def_free). */
#ifndef ODESERVE_STORE_VERSIONS_H
#define ODESERVE_STORE_VERSIONS_H

#include "core/err.h"
#include "model/model_def.h"
#include "model/model_info.h"
#include "store/db.h"

#include <stddef.h>

/* Load version `version` (0 = latest) of model `name` into def
 * (model_def_init'ed by the caller; model_def_free it after; untouched on
 * failure). *loaded and created_at (may be NULL) receive the version number
 * and its creation time. The checksum and the shapes are verified: a damaged
 * row is ERR_DB ("model \"x\" version 3 is damaged: ..."). A negative
 * version is ERR_INVALID (field "version"); an unknown model or version
 * ERR_NOT_FOUND (field "name" or "version"). */
err_code store_version_load(db *d, const char *name, int version, model_def *def, int *loaded,
                            char created_at[32], err *e);

/* Delete one version (>= 1; else ERR_INVALID, field "version") of `name`,
 * and the model with its last version. ERR_NOT_FOUND (field "name" or
 * "version"); ERR_CONFLICT (field "version", naming them) while an alias
 * names the version. */
err_code store_version_delete(db *d, const char *name, int version, err *e);

/* A counter that every write to models or versions through this process's
 * store (put, delete, a job's result) increases once its transaction has
 * ended. Read it before reading the database: while it still has that
 * value, what was read is current, as far as this process's writes go
 * (the daemon holds its database exclusively: db_claim). Thread-safe. */
unsigned long store_version_changes(void);
/* Likewise, increased by the deletions alone (a model or a version): a
 * cache of loaded versions drops what it holds when it moves, since a
 * deleted model re-created under the same name starts again at version 1. */
unsigned long store_version_deletions(void);

#endif
