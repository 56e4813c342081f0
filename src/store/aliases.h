/* store/aliases.h: version aliases of a model ("stable" -> 3) and the
 * append-only history of their changes, in SQLite
 * (migrations/0005_aliases.sql).
 *
 * An alias always names an existing version: setting one to a missing
 * version is ERR_NOT_FOUND (field "version"), and deleting a version an
 * alias names is ERR_CONFLICT (store/versions.h). Each change writes its
 * history row (who, when, from -> to) in the same transaction as the change,
 * so the trail can neither run ahead of nor lag behind the aliases.
 *
 * Every function takes the calling thread's connection (db_conns_get) and is
 * as thread-safe as SQLite's one-connection-per-thread model. Arrays
 * returned are malloc'd and the caller's (free()). */
#ifndef ODESERVE_STORE_ALIASES_H
#define ODESERVE_STORE_ALIASES_H

#include "core/err.h"
#include "model/model_info.h"
#include "store/db.h"

#include <stddef.h>

/* Point `alias` of model `name` at `version`, by `actor` (a token's name,
 * or "anonymous"). *previous (may be NULL) receives the version it named
 * before, 0 when the alias is new. Setting an alias to the version it
 * already names changes nothing and records nothing. */
err_code store_alias_set(db *d, const char *name, const char *alias, int version,
                         const char *actor, int *previous, err *e);

/* Remove `alias`; *previous (may be NULL) receives the version it named.
 * ERR_NOT_FOUND (field "alias") when there is no such alias. */
err_code store_alias_delete(db *d, const char *name, const char *alias, const char *actor,
                            int *previous, err *e);

/* The version `alias` names. ERR_NOT_FOUND: field "name" for an unknown
 * model, "version" for an unknown alias. A cached statement: this is on
 * the path of every request that names an alias. */
err_code store_alias_resolve(db *d, const char *name, const char *alias, int *version, err *e);

/* The model's aliases, by name; *n may be 0. ERR_NOT_FOUND (field "name"). */
err_code store_alias_list(db *d, const char *name, model_alias **out, size_t *n, err *e);

/* Every recorded change of the model's aliases, oldest first; kept after
 * the model is deleted. ERR_NOT_FOUND (field "name") only when there is
 * neither such a model nor any history under its name. */
err_code store_alias_history(db *d, const char *name, model_alias_event **out, size_t *n,
                             err *e);

#endif
