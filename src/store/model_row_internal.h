/* store/model_row_internal.h: a model's row by its name, for the store's
 * table files (versions, aliases, models) that all start from it. Below
 * them all, so that none needs another's file for it. Not for use outside
 * src/store/ (and its tests).
 *
 * Thread safety: as for db (the caller's connection, inside the caller's
 * transaction). */
#ifndef ODESERVE_STORE_MODEL_ROW_INTERNAL_H
#define ODESERVE_STORE_MODEL_ROW_INTERNAL_H

#include "core/err.h"
#include "store/db.h"

/* ERR_NOT_FOUND (field "name"): "no model named ...", for every table file. */
err_code store_model_row_none(const char *name, err *e);

/* The id of model `name`'s row; ERR_NOT_FOUND (field "name") if none. */
err_code store_model_row_id(db *d, const char *name, long long *id, err *e);

#endif
