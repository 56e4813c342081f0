/* store/models.h: models and their immutable, numbered versions in SQLite.
 *
 * A model is a name ([A-Za-z0-9._-]{1,64}) with versions 1, 2, ... Each
 * version is a model_def (model/model_def.h) stored as columns plus its
 * networks' layers, with the parameter vector as a compact BLOB of
 * little-endian doubles and its FNV-1a checksum (model_def_checksum), so
 * loading is one row read and a memcpy, not a JSON parse. Versions are never
 * modified; numbers are never reused, even after a version is deleted.
 * Deleting a model's last remaining version deletes the model.
 *
 * Every function takes the calling thread's connection (db_conns_get) and is
 * as thread-safe as SQLite's one-connection-per-thread model; writes run in
 * one BEGIN IMMEDIATE transaction each, so a failure leaves nothing behind. */
#ifndef ODESERVE_STORE_MODELS_H
#define ODESERVE_STORE_MODELS_H

#include "core/err.h"
#include "model/model_def.h"
#include "model/model_name.h"
#include "store/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>


typedef struct model_info {
    char name[MODEL_NAME_MAX + 1];
    model_kind kind;  /* of the latest version */
    size_t state_dim; /* ode: state_dim; cde: hidden_dim, the size of the solved state z */
    /* cde only (0 for an ode), of the latest version: */
    size_t input_channels; /* channels of the path X, the added ones included */
    size_t data_channels;  /* channels a client sends per observation */
    size_t hidden_dim;     /* size of z */
    size_t output_dim;     /* width of the readout network's output */
    int latest_version;
    int n_versions;
    char created_at[32]; /* ISO 8601 UTC, "2026-11-27T17:49:30.123Z" */
} model_info;

typedef struct model_version_info {
    int version;
    char created_at[32];
    char checksum[17]; /* 16 lowercase hex digits */
    size_t n_params;
    char description[256]; /* first 255 bytes of the description */
} model_version_info;

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

/* A counter that every write to models or versions through this process's
 * store (put, delete, a job's result) increases once its transaction has
 * ended. Read it before reading the database: while it still has that
 * value, what was read is current, as far as this process's writes go
 * (the daemon holds its database exclusively: db_claim). Thread-safe. */
unsigned long store_models_changes(void);
/* Likewise, increased by the deletions alone (a model or a version): a
 * cache of loaded versions drops what it holds when it moves, since a
 * deleted model re-created under the same name starts again at version 1. */
unsigned long store_models_deletions(void);

/* Latest version number of `name`; ERR_NOT_FOUND if none. */
err_code store_model_latest(db *d, const char *name, int *version, err *e);

/* Load version `version` (0 = latest) into def (model_def_init'ed by the
 * caller; model_def_free it after; untouched on failure). *loaded and
 * created_at (may be NULL) receive the version number and its creation
 * time. The checksum and the shapes are verified: a damaged row is ERR_DB
 * ("model \"x\" version 3 is damaged: ..."). A negative version is
 * ERR_INVALID (field "version"). */
err_code store_model_load(db *d, const char *name, int version, model_def *def, int *loaded,
                          char created_at[32], err *e);

/* Delete a model with all its versions / one version (>= 1; else
 * ERR_INVALID, field "version"). ERR_NOT_FOUND (field "name" or
 * "version"). */
err_code store_model_delete(db *d, const char *name, err *e);
err_code store_model_delete_version(db *d, const char *name, int version, err *e);

#endif
