/* store/stmt.c: see stmt.h. */
#include "store/stmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

err_code stmt_prepare(db *d, const char *sql, sqlite3_stmt **out, const char *what, err *e)
{
    *out = NULL;
    if (sqlite3_prepare_v2(db_sqlite(d), sql, -1, out, NULL) == SQLITE_OK) return ERR_OK;
    return db_error(d, e, what);
}

err_code stmt_step_done(db *d, sqlite3_stmt *st, const char *what, err *e)
{
    if (sqlite3_step(st) == SQLITE_DONE) return ERR_OK;
    return db_error(d, e, what);
}

int stmt_step_row(db *d, sqlite3_stmt *st, const char *what, err *e)
{
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) return 1;
    if (s == SQLITE_DONE) return 0;
    db_error(d, e, what);
    return -1;
}

err_code stmt_collect_rows(db *d, sqlite3_stmt *st, size_t size, stmt_read_row_fn read_row,
                           void *ctx, void **out, size_t *n, const char *what, err *e)
{
    char *rows = NULL;
    size_t len = 0, cap = 0;
    int rc;
    *out = NULL;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t nc = cap ? 2 * cap : 16;
            char *p = realloc(rows, nc * size);
            if (!p) {
                err_set(e, ERR_NOMEM, NULL, "out of memory %s", what);
                goto fail;
            }
            rows = p;
            cap = nc;
        }
        read_row(st, rows + len++ * size, ctx);
    }
    if (rc != SQLITE_DONE) {
        db_error(d, e, what);
        goto fail;
    }
    *out = rows;
    *n = len;
    return ERR_OK;
fail:
    free(rows);
    return e->code;
}

void stmt_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

void stmt_bind_int(sqlite3_stmt *st, int i, long long v)
{
    sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

void stmt_bind_int_opt(sqlite3_stmt *st, int i, long long v)
{
    if (v >= 0)
        sqlite3_bind_int64(st, i, (sqlite3_int64)v);
    else
        sqlite3_bind_null(st, i);
}

void stmt_bind_double(sqlite3_stmt *st, int i, double v)
{
    sqlite3_bind_double(st, i, v);
}

void stmt_bind_positive(sqlite3_stmt *st, int i, double v)
{
    if (v > 0)
        sqlite3_bind_double(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

void stmt_bind_finite(sqlite3_stmt *st, int i, double v)
{
    if (isfinite(v))
        sqlite3_bind_double(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

void stmt_bind_blob(sqlite3_stmt *st, int i, const void *p, size_t bytes)
{
    sqlite3_bind_blob64(st, i, p, (sqlite3_uint64)bytes, SQLITE_STATIC);
}

void stmt_bind_doubles(sqlite3_stmt *st, int i, const double *p, size_t n)
{
    sqlite3_bind_blob64(st, i, p, (sqlite3_uint64)n * 8, SQLITE_STATIC);
}

void stmt_column_text(sqlite3_stmt *st, int i, char *dst, size_t n)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    snprintf(dst, n, "%s", s ? (const char *)s : "");
}

void stmt_column_text_utf8(sqlite3_stmt *st, int i, char *dst, size_t n)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    size_t len = s ? strlen((const char *)s) : 0;
    if (len >= n) {
        len = n - 1;
        while (len > 0 && (s[len] & 0xc0) == 0x80) /* s[len] continues a character */
            len--;
    }
    if (len) memcpy(dst, s, len);
    dst[len] = '\0';
}

long long stmt_column_int_or(sqlite3_stmt *st, int i, long long none)
{
    if (sqlite3_column_type(st, i) != SQLITE_INTEGER) return none;
    return sqlite3_column_int64(st, i);
}

double stmt_column_double_or(sqlite3_stmt *st, int i, double none)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? none : sqlite3_column_double(st, i);
}

bool stmt_column_doubles(sqlite3_stmt *st, int i, double **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    const void *blob = sqlite3_column_blob(st, i); /* before _bytes, as SQLite advises */
    size_t bytes = (size_t)sqlite3_column_bytes(st, i);
    if (bytes % 8) return false;
    if (!blob || bytes == 0) return true;
    if (!(*out = malloc(bytes))) return false;
    memcpy(*out, blob, bytes);
    *n = bytes / 8;
    return true;
}
