/* store/datasets.h: uploaded time-series datasets (model/dataset.h) in
 * SQLite, each under a name ([A-Za-z0-9._-]{1,64}, as models).
 *
 * Datasets are immutable: a put stores a new name in one transaction (a
 * name already taken is ERR_CONFLICT), delete removes it.
 *
 * Functions take the calling thread's connection (db_conns_get) and are as
 * thread-safe as SQLite's one-connection-per-thread model. What they return
 * is the caller's: free() a list, dataset_free a loaded dataset. */
#ifndef ODESERVE_STORE_DATASETS_H
#define ODESERVE_STORE_DATASETS_H

#include "core/err.h"
#include "model/dataset.h"
#include "store/db.h"

#include <stddef.h>

/* Store d as `name`: ERR_INVALID (field "name", or dataset_validate's),
 * ERR_CONFLICT when the name exists. One transaction. */
err_code store_dataset_put(db *d, const char *name, const dataset *ds, err *e);
/* All datasets by name; *out malloc'ed (free()), *n may be 0. */
err_code store_dataset_list(db *d, dataset_info **out, size_t *n, err *e);
/* One dataset's summary; ERR_NOT_FOUND (field "name"). */
err_code store_dataset_info(db *d, const char *name, dataset_info *info, err *e);
/* The observations of the dataset's longest series (a job's batch_time
 * windows need one at least that long). ERR_NOT_FOUND (field "name"). */
err_code store_dataset_longest_series(db *d, const char *name, size_t *n, err *e);
/* Load the whole dataset into ds (dataset_init'ed; untouched on failure). */
err_code store_dataset_load(db *d, const char *name, dataset *ds, err *e);
/* ERR_NOT_FOUND (field "name"); ERR_CONFLICT (field "name") while a queued
 * or running job names the dataset. */
err_code store_dataset_delete(db *d, const char *name, err *e);

#endif
