/* store/stmt.h: the statement helpers every table file uses (models,
 * versions, nets, datasets, jobs, migrate): prepare, step, bind, read a
 * column, collect rows. Not for use outside src/store/ (and its tests).
 *
 * Binding: SQLite reports a failed bind again when the statement is
 * stepped, so the bind helpers return nothing and the step's error is the
 * one recorded. Text and BLOBs are bound SQLITE_STATIC: the caller keeps
 * them alive until the statement is reset or finalized.
 *
 * Reading: column helpers copy what they return (text into the caller's
 * buffer, doubles into a malloc'd array the caller frees), so nothing read
 * depends on the statement after its next step.
 *
 * The connection's cache of prepared statements (db_stmt) lives with the
 * connection in db_internal.h, since db_close finalizes it.
 *
 * Thread safety: as for db: one thread at a time per connection and its
 * statements. */
#ifndef ODESERVE_STORE_STMT_H
#define ODESERVE_STORE_STMT_H

#include "store/db_internal.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

/* The current time as every table stores it ("2026-11-27T17:49:30.123Z"),
 * from SQLite's clock so that every timestamp in the file has one source. */
#define STMT_NOW_SQL "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

/* Prepare a one-off statement (the caller finalizes it). On failure *out
 * is NULL and the error is db_error(d, e, what). */
err_code stmt_prepare(db *d, const char *sql, sqlite3_stmt **out, const char *what, err *e);

/* sqlite3_step expecting SQLITE_DONE; anything else is db_error(d, e, what). */
err_code stmt_step_done(db *d, sqlite3_stmt *st, const char *what, err *e);

/* sqlite3_step: 1 for a row, 0 when done, -1 on error (db_error(d, e, what)). */
int stmt_step_row(db *d, sqlite3_stmt *st, const char *what, err *e);

/* Reads the current row of st into `row` (one element of the array
 * stmt_collect_rows grows). */
typedef void (*stmt_read_row_fn)(sqlite3_stmt *st, void *row, void *ctx);

/* Step st (prepared and bound by the caller, who finalizes it) to the end,
 * reading each row with read_row(st, row, ctx) into a growing array of
 * `size`-byte elements. On success *out (malloc'd, the caller frees; NULL
 * when there are no rows) and *n hold the rows. On failure *out is NULL, *n
 * is 0, and e holds ERR_NOMEM ("out of memory <what>") or db_error(d, e,
 * what). */
err_code stmt_collect_rows(db *d, sqlite3_stmt *st, size_t size, stmt_read_row_fn read_row,
                           void *ctx, void **out, size_t *n, const char *what, err *e);

/* Parameters (1-based, as SQLite's). */
void stmt_bind_text(sqlite3_stmt *st, int i, const char *s); /* NULL s: SQL NULL */
void stmt_bind_int(sqlite3_stmt *st, int i, long long v);
void stmt_bind_int_opt(sqlite3_stmt *st, int i, long long v); /* v < 0: SQL NULL */
void stmt_bind_double(sqlite3_stmt *st, int i, double v);
void stmt_bind_positive(sqlite3_stmt *st, int i, double v); /* v > 0, else SQL NULL ("not set") */
void stmt_bind_finite(sqlite3_stmt *st, int i, double v);   /* NaN, inf: SQL NULL ("none") */
void stmt_bind_blob(sqlite3_stmt *st, int i, const void *p, size_t bytes);
/* n doubles as a BLOB of 8 n bytes, in host byte order (which the schema
 * calls little-endian: odeserve targets little-endian machines). */
void stmt_bind_doubles(sqlite3_stmt *st, int i, const double *p, size_t n);

/* Columns (0-based, as SQLite's). */

/* The text of column i into dst (n bytes, NUL-terminated, cut at n - 1;
 * "" for NULL). */
void stmt_column_text(sqlite3_stmt *st, int i, char *dst, size_t n);
/* As stmt_column_text, but cut at a UTF-8 character boundary (for text that
 * goes into JSON replies). */
void stmt_column_text_utf8(sqlite3_stmt *st, int i, char *dst, size_t n);
/* The column's integer, or `none` when it does not hold an INTEGER (NULL,
 * text, a REAL): for values a stored row must have as integers. */
long long stmt_column_int_or(sqlite3_stmt *st, int i, long long none);
/* The column's REAL, or `none` for NULL. */
double stmt_column_double_or(sqlite3_stmt *st, int i, double none);
/* A BLOB of doubles (host byte order, as stmt_bind_doubles) into *out, a
 * malloc'd copy the caller frees, and *n, how many: *out NULL and *n 0 for
 * NULL or an empty BLOB. False (*out NULL) when the BLOB is not whole
 * doubles or memory runs out. */
bool stmt_column_doubles(sqlite3_stmt *st, int i, double **out, size_t *n);

#endif
