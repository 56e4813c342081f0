/* store/migrate.h: the database schema and its migrations.
 *
 * Migrations are the numbered files migrations/NNNN_name.sql, embedded in the
 * binary at build time. Each is applied in its own transaction together with
 * the PRAGMA user_version bump, so a failing migration leaves the database
 * exactly as it was. A database whose user_version is newer than the binary
 * knows is refused (ERR_SCHEMA).
 *
 * Built on store/db.h (which knows nothing of migrations). The migration
 * list is const data; every function works on the caller's connection and
 * is as thread-safe as it (one thread at a time per connection; two
 * connections, even in two processes, may migrate the same file at once). */
#ifndef ODESERVE_STORE_MIGRATE_H
#define ODESERVE_STORE_MIGRATE_H

#include "core/err.h"
#include "store/db.h"

/* Highest migration number compiled into this binary. */
int db_migrate_latest(void);

/* Apply every embedded migration above the current user_version, each in
 * its own transaction. *from / *to (may be NULL) receive the versions before
 * and after (also on failure: *to is then the last version committed).
 * Already current: returns at once, nothing written. ERR_SCHEMA if the
 * database is newer than db_migrate_latest() ("database schema version N is
 * newer than this odeserved supports (M); upgrade odeserved"); ERR_DB if a
 * migration fails (the message names the file, the line and SQLite's
 * message), the database then being exactly as before that migration. Safe
 * against another process migrating the same file at the same time. */
err_code db_migrate(db *d, int *from, int *to, err *e);

/* Readiness probe: the connection answers and the schema is current.
 * ERR_DB if the database does not answer, ERR_UNAVAILABLE if migrations are
 * still to be applied, ERR_SCHEMA if the database is newer than the binary. */
err_code db_migrate_check(db *d, err *e);

#endif
