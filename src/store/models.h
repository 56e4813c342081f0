/* store/models.h: models in SQLite (the models table,
 * migrations/0002_models.sql).
 *
 * A model is a name ([A-Za-z0-9._-]{1,64}) with versions 1, 2, ...
 * (store/versions.h: loading and deleting one version). This is what is
 * done to a model as a whole: store its next version, list, describe,
 * find its latest version, delete it with all its versions.
 *
 * The rows are model/model_info.h's types. Every function takes the calling thread's connection (db_conns_get) and is
 * as thread-safe as SQLite's one-connection-per-thread model; writes run in
 * one BEGIN IMMEDIATE transaction each, so a failure leaves nothing behind.
 * Arrays returned are malloc'd and the caller's (free()). */
#ifndef ODESERVE_STORE_MODELS_H
#define ODESERVE_STORE_MODELS_H

#include "core/err.h"
#include "model/model_def.h"
#include "model/model_info.h"
#include "model/model_name.h"
#include "store/db.h"
#include "store/versions.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every function below checks its name with model_name_check. */

/* Validate d (model_def_validate) and store it as the next version of
 * `name`, creating the model on its first version. *version (may be NULL)
 * receives the new number. ERR_INVALID (field "name" or the model_def's
 * field); a field of the other kind that is set (an ode's hidden_dim, a
 * cde's state_dim, ...) is ERR_INVALID too: only a kind's own fields are
 * stored, so what put accepts loads back field for field. */
err_code store_model_put(db *d, const char *name, const model_def *def, int *version, err *e);

/* All models, sorted by name. *out is malloc'ed (free() it); *n may be 0. */
err_code store_model_list(db *d, model_info **out, size_t *n, err *e);

/* One model's metadata and its versions (ascending). *versions is malloc'ed.
 * ERR_NOT_FOUND (field "name") for an unknown model. */
err_code store_model_get(db *d, const char *name, model_info *info, model_version_info **versions,
                         size_t *n, err *e);

/* Latest version number of `name`; ERR_NOT_FOUND if none. */
err_code store_model_latest(db *d, const char *name, int *version, err *e);

/* Delete a model with all its versions and aliases, recording each alias's
 * removal by `actor` (store/aliases.h). ERR_NOT_FOUND (field "name"). */
err_code store_model_delete(db *d, const char *name, const char *actor, err *e);

#endif
