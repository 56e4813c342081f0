/* store/db.h: SQLite connections.
 *
 * The only layer that speaks SQL. One connection per thread (SQLite's
 * recommended model with WAL): a db_conns hands each calling thread its own
 * connection, opened lazily and closed when the set is freed. Every
 * connection is set up the same way: WAL, busy_timeout, foreign_keys=ON and
 * the configured synchronous level (default FULL: models and jobs must not be
 * lost). Writes start with BEGIN IMMEDIATE so a writer never deadlocks on a
 * lock upgrade. The schema and its migrations are store/migrate.h's: a
 * connection knows nothing of them.
 *
 * Ownership and thread safety: a db is owned by whoever opened it (db_close)
 * or by its db_conns, and is used by one thread at a time; a db_conns is
 * thread-safe and owns every connection it hands out. */
#ifndef ODESERVE_STORE_DB_H
#define ODESERVE_STORE_DB_H

#include "core/err.h"

typedef struct db db;             /* one connection; use from one thread at a time */
typedef struct db_conns db_conns; /* thread-safe; hands out per-thread connections */

typedef struct db_opts {
    const char *path;        /* database file; created if missing (its directory must exist);
                                not ":memory:"; a name starting "file:" is a plain file name */
    int busy_timeout_ms;     /* PRAGMA busy_timeout; default 5000; 0 = fail at once when busy */
    const char *synchronous; /* "off" | "normal" | "full" | "extra" (any case); NULL or
                                default "full" */
} db_opts;

/* path = NULL (the caller must set it), busy_timeout_ms = 5000, synchronous = "full". */
void db_opts_default(db_opts *o);

/* Open one connection with the pragmas above. Bad options: ERR_CONFIG with
 * e->field "path", "busy_timeout_ms" or "synchronous" and what was expected.
 * Anything SQLite or the OS refuses (missing directory, permissions, not a
 * database, no WAL support): ERR_DB, the message naming the path, SQLite's
 * message and code, and the OS error where there is one. *out is NULL on
 * failure. `o` is not kept. */
err_code db_open(db **out, const db_opts *o, err *e);
void db_close(db *d); /* NULL is a no-op */

/* Claim the database file of `o` (checked first, as db_open does) for this
 * process: an exclusive flock(2) on it, held through *fd until db_unclaim.
 * A daemon claims its database before opening it, because it assumes it is
 * the only writer: it requeues "running" jobs at start, and caches answers
 * read from the database (model_cache.h). A file another process has claimed is
 * ERR_CONFLICT (field "db"): "... is in use by another process"; a file
 * that cannot be opened, ERR_IO. The file is created if missing. flock
 * locks are separate from SQLite's fcntl locks; but closing any descriptor
 * of the file drops this process's fcntl locks on it, so call db_unclaim
 * only after every connection to it has been closed. On NFS, Linux emulates
 * flock with fcntl locks, which SQLite's own would then release: keep the
 * database on a local file system (WAL needs one anyway). */
err_code db_claim(const db_opts *o, int *fd, err *e);
void db_unclaim(int fd); /* -1 is a no-op */

/* The SQLite library's version ("3.40.1"), for GET /v1/version, so that
 * layers above store never include sqlite3.h. Static storage; thread-safe. */
const char *db_sqlite_version(void);

/* PRAGMA user_version of the open database. */
err_code db_schema_version(db *d, int *version, err *e);

/* The database file's size in bytes as SQLite sees it (page_count x
 * page_size; the write-ahead log not included). */
err_code db_size_bytes(db *d, unsigned long long *bytes, err *e);

/* Connections per thread (store/conns.c): `o` is copied (strings too) and
 * checked at once (ERR_CONFIG as in db_open); no connection is opened until
 * a thread asks for one. */
err_code db_conns_new(db_conns **out, const db_opts *o, err *e);
/* Closes every connection; no thread may still use one (join them first).
 * NULL is a no-op. */
void db_conns_free(db_conns *p);
/* The calling thread's connection, opened on first use (errors as in
 * db_open) and the same one on every later call from that thread. It
 * belongs to the set: never db_close it. It is closed when the thread
 * exits, or by db_conns_free. */
err_code db_conns_get(db_conns *p, db **out, err *e);

#endif
