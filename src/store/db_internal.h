/* store/db_internal.h: what the store layer's own modules need from a
 * connection. Not for use outside src/store/ (and its tests): higher layers
 * call store functions and never see SQL, a statement or a transaction.
 *
 * Transactions: every write starts with db_begin_immediate, which takes the
 * database's write lock up front (waiting up to busy_timeout for it), so a
 * writer never fails half-way with SQLITE_BUSY on a lock upgrade. The usual
 * shape is
 *
 *     if (db_begin_immediate(d, e)) return e->code;
 *     if (... statements ... fail) goto fail;
 *     return db_commit(d, e);
 * fail:
 *     db_rollback(d);
 *     return e->code;
 *
 * Ownership: the handle and the cached statements (db_stmt) belong to the
 * connection and go with db_close. Statement helpers are store/stmt.h's.
 * Thread safety: as for db: one thread at a time per connection. */
#ifndef ODESERVE_STORE_DB_INTERNAL_H
#define ODESERVE_STORE_DB_INTERNAL_H

#include "store/db.h"

#include <sqlite3.h>
#include <stddef.h>

/* The underlying handle (borrowed; owned by `d`). */
sqlite3 *db_sqlite(db *d);

/* The path the connection was opened with (for messages). */
const char *db_path(db *d);

/* Record the connection's last SQLite error as ERR_DB,
 * "database error: <what>: <SQLite's message> ([<os error>; ]error N)", or,
 * when the disk is full (SQLITE_FULL, or an I/O error whose errno is ENOSPC
 * or EDQUOT: store/oserr_internal.h), ERR_STORAGE_FULL (store/space.h), or,
 * when the lock stayed taken past busy_timeout (SQLITE_BUSY), ERR_BUSY. `what` is a
 * description or the SQL text itself (db_exec): SQL shows in the message
 * only as "a statement". The path, the SQL and SQLite's code go to the log,
 * never into the message, which clients may see (tests/check_faults,
 * check_leaks). Returns the code (or the one already recorded in `e`). */
err_code db_error(db *d, err *e, const char *what);

/* Put the database's path before the message recorded in e, for errors
 * that only the operator sees (opening, migrating: at start-up). */
void db_error_path_prefix(db *d, err *e);

/* Check options as db_open does (ERR_CONFIG naming the bad field). */
err_code db_opts_check(const db_opts *o, err *e);

/* The single integer a one-row, one-column query returns (PRAGMA user_version
 * and the like). No row is an ERR_DB. */
err_code db_query_int(db *d, const char *sql, long long *out, err *e);

/* Run SQL text with no parameters and no result rows wanted (one or more
 * statements). */
err_code db_exec(db *d, const char *sql, err *e);

/* BEGIN IMMEDIATE / COMMIT. Starting a transaction inside another is an
 * ERR_INTERNAL (a bug in the caller). If COMMIT fails, the transaction is
 * rolled back before returning, so the connection is always usable after. */
err_code db_begin_immediate(db *d, err *e);
err_code db_commit(db *d, err *e);

/* Cached statements, for the queries on a request's path (a prepare costs
 * more than running a small indexed query). The connection's statement for
 * `sql`, prepared on its first use and kept until db_close. `sql` must have
 * static storage duration: its address is the key. The statement comes
 * back reset, without bindings; hand it back with db_stmt_reset as soon as
 * its rows are read (a statement not reset keeps its read snapshot open).
 * Rarer statements simply prepare and finalize. */
err_code db_stmt(db *d, const char *sql, sqlite3_stmt **out, err *e);
void db_stmt_reset(sqlite3_stmt *st); /* NULL is a no-op */

/* BEGIN (deferred) for reads only: the SELECTs that follow see one snapshot
 * of the database (WAL), so several queries agree with each other even
 * while other connections write. No lock is held against writers. End it
 * with db_rollback (there is nothing to commit). Inside another transaction:
 * ERR_INTERNAL. */
err_code db_begin_read(db *d, err *e);

/* Roll back the open transaction, if any (SQLite may already have rolled it
 * back after some errors). Never fails in a way the caller could act on; a
 * failure is logged. */
void db_rollback(db *d);

/* Is a transaction open on this connection? */
int db_in_transaction(db *d);

/* Number of connections the set holds open right now (diagnostics and
 * tests). */
size_t db_conns_size(db_conns *p);

#endif
