/* store/migrate_internal.h: the migration list and a runner that takes any
 * list, so tests can apply deliberately broken migrations. Not for use
 * outside src/store/ and its tests.
 *
 * The embedded list is generated at build time from migrations/NNNN_*.sql by
 * src/store/embed-migrations.sh into migrations_gen.c (see src/store/local.mk).
 * The list is const data; the runner works on the caller's connection (one
 * thread at a time, as db). */
#ifndef ODESERVE_STORE_MIGRATE_INTERNAL_H
#define ODESERVE_STORE_MIGRATE_INTERNAL_H

#include "store/migrate.h"

#include <stddef.h>

struct migration {
    int version;      /* NNNN of the file name; list[i].version == i + 1 */
    const char *name; /* file name, e.g. "0001_init.sql" (for messages and schema_history) */
    const char *sql;  /* the file's text, NUL-terminated */
};

/* Generated: the migrations compiled into this binary, in order. */
extern const struct migration db_migrations[];
extern const size_t db_migrations_count;

/* db_migrate over an explicit list (which must be numbered 1..n in order;
 * otherwise ERR_INTERNAL). The latest version is then n. */
err_code db_migrate_list(db *d, const struct migration *list, size_t n, int *from, int *to, err *e);

#endif
