/* store/versions_internal.h: what the store's other table files need from
 * versions.c (models.c writes and lists versions, jobs.c stores a job's
 * result). Not for use outside src/store/ (and its tests).
 *
 * Thread safety: as for db (the caller's connection; insert inside the
 * caller's write transaction); the counters are atomic. */
#ifndef ODESERVE_STORE_VERSIONS_INTERNAL_H
#define ODESERVE_STORE_VERSIONS_INTERNAL_H

#include "core/err.h"
#include "model/model_def.h"
#include "store/db.h"
#include "store/versions.h"

#include <stdbool.h>
#include <stddef.h>

/* Store def (checked: model_rows_check) as version `version` of model row
 * `model_id` (`name` for messages), created at `now`: the version row with
 * its parameter BLOB and checksum, then its networks' rows. Inside the
 * caller's write transaction; on failure the caller rolls back. */
err_code store_version_insert(db *d, const char *name, long long model_id, int version,
                              const char *now, const model_def *def, err *e);

/* The n versions of model row `model_id`, ascending, into *out (malloc'd;
 * free()). Inside the caller's read transaction, which counted them: a
 * different count is ERR_INTERNAL. */
err_code store_version_list(db *d, long long model_id, model_version_info **out, size_t n, err *e);

/* ERR_CONFLICT (field `field`) when a queued or running job warm-starts
 * from version `version` of model `name` (0: from any of its versions),
 * naming the job: a job loads its from_version when it starts and again
 * when it resumes after a restart. Inside the caller's write transaction,
 * so no job can be queued or claimed between the check and the delete. */
err_code store_version_job_guard(db *d, const char *name, int version, const char *field, err *e);

/* Increase store_version_changes() (and with `deletion`,
 * store_version_deletions()); a writer calls it after its transaction ends
 * (commit or rollback), never before the commit. */
void store_version_changed(bool deletion);

#endif
