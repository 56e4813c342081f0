/* store/tokens.c: see tokens.h. */
#include "store/tokens.h"

#include "store/stmt.h"

#include "model/model_name.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ?8 is now and ?9 a minute ago, in the stored form (now_text): bound
 * rather than computed by SQLite's strftime, which costs more than the
 * indexed read itself on the per-request lookup (bench/bench_auth). */
#define COLS                                                                                       \
    "id, name, scopes, created_at, coalesce(expires_at, ''), coalesce(last_used_at, ''), "        \
    "coalesce(revoked_at, ''), expires_at IS NOT NULL AND expires_at <= ?8, salt, hash, "          \
    "last_used_at IS NULL OR last_used_at < ?9"

/* The time `ago` seconds before now as every table stores it
 * ("2026-12-06T07:01:02.345Z", STMT_NOW_SQL), from the same wall clock. */
static void now_text(char *buf, size_t n, int ago)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t t = ts.tv_sec - ago;
    struct tm tm;
    gmtime_r(&t, &tm);
    /* the ranges bounded for the compiler: a year past 9999 is not a timestamp we write */
    snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000,
             (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
             tm.tm_sec % 100, (int)(ts.tv_nsec / 1000000) % 1000);
}

static void bind_times(sqlite3_stmt *st, char now[40], char ago[40])
{
    now_text(now, 40, 0);
    now_text(ago, 40, 60);
    stmt_bind_text(st, 8, now);
    stmt_bind_text(st, 9, ago);
}

static void read_info(sqlite3_stmt *st, api_token_info *in)
{
    memset(in, 0, sizeof *in);
    stmt_column_text(st, 0, in->id, sizeof in->id);
    stmt_column_text_utf8(st, 1, in->name, sizeof in->name);
    in->scopes = (unsigned)sqlite3_column_int64(st, 2);
    stmt_column_text(st, 3, in->created_at, sizeof in->created_at);
    stmt_column_text(st, 4, in->expires_at, sizeof in->expires_at);
    stmt_column_text(st, 5, in->last_used_at, sizeof in->last_used_at);
    stmt_column_text(st, 6, in->revoked_at, sizeof in->revoked_at);
    in->expired = sqlite3_column_int(st, 7) != 0;
}

static void read_info_row(sqlite3_stmt *st, void *row, void *ctx)
{
    (void)ctx;
    read_info(st, row);
}

/* One row by a WHERE clause on ?1. */
static err_code get_one(db *d, const char *where, const char *key, api_token_info *info, err *e)
{
    char sql[512];
    snprintf(sql, sizeof sql, "%s%s", "SELECT " COLS " FROM tokens WHERE ", where);
    sqlite3_stmt *st = NULL;
    if (stmt_prepare(d, sql, &st, "prepare token read", e) != ERR_OK) return e->code;
    char now[40], ago[40];
    stmt_bind_text(st, 1, key);
    bind_times(st, now, ago);
    int rc = stmt_step_row(d, st, "read token", e);
    if (rc == 1) read_info(st, info);
    sqlite3_finalize(st);
    if (rc == 0) return err_set(e, ERR_NOT_FOUND, "name", "no active token named \"%s\"", key);
    return rc == 1 ? ERR_OK : e->code;
}

err_code store_token_put(db *d, const char *name, unsigned scopes, long long lifetime_s,
                         const api_token_new_out *t, api_token_info *info, err *e)
{
    if (!model_name_ok(name))
        return err_set(e, ERR_INVALID, "name",
                       "a token name is 1 to %d characters, each a letter, a digit, '.', '_' "
                       "or '-'",
                       MODEL_NAME_MAX);
    if (scopes == 0 || scopes > API_TOKEN_ALL)
        return err_set(e, ERR_INVALID, "scopes", "expected at least one scope");
    if (lifetime_s < 0) return err_set(e, ERR_INVALID, "expires", "must not be negative");
    sqlite3_stmt *st = NULL;
    if (db_begin_immediate(d, e) != ERR_OK) return e->code;
    if (stmt_prepare(d,
                     "INSERT INTO tokens (id, name, scopes, salt, hash, created_at, expires_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, " STMT_NOW_SQL ", CASE WHEN ?6 > 0 THEN "
                     "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || ?6 || ' seconds') END) "
                     "ON CONFLICT DO NOTHING",
                     &st, "prepare token insert", e) != ERR_OK)
        goto fail;
    stmt_bind_text(st, 1, t->id);
    stmt_bind_text(st, 2, name);
    stmt_bind_int(st, 3, scopes);
    stmt_bind_blob(st, 4, t->salt, sizeof t->salt);
    stmt_bind_blob(st, 5, t->hash, sizeof t->hash);
    stmt_bind_int(st, 6, lifetime_s);
    if (stmt_step_done(d, st, "insert token", e) != ERR_OK) goto fail;
    if (sqlite3_changes(db_sqlite(d)) == 0) {
        err_set(e, ERR_CONFLICT, "name",
                "a token named \"%s\" exists; revoke it first or pick another name", name);
        goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    api_token_info tmp;
    if (get_one(d, "id = ?1", t->id, info ? info : &tmp, e) != ERR_OK) goto fail;
    return db_commit(d, e);
fail:
    sqlite3_finalize(st);
    db_rollback(d);
    return e->code;
}

static const char lookup_sql[] = "SELECT " COLS " FROM tokens WHERE id = ?1";

err_code store_token_lookup(db *d, const char *id, api_token_row *out, err *e)
{
    sqlite3_stmt *st = NULL;
    if (db_stmt(d, lookup_sql, &st, e) != ERR_OK) return e->code;
    char now[40], ago[40];
    stmt_bind_text(st, 1, id);
    bind_times(st, now, ago);
    int rc = stmt_step_row(d, st, "look up token", e);
    if (rc == 1) {
        read_info(st, &out->info);
        const void *salt = sqlite3_column_blob(st, 8), *hash = sqlite3_column_blob(st, 9);
        if (!salt || !hash || sqlite3_column_bytes(st, 8) != API_TOKEN_SALT_LEN ||
            sqlite3_column_bytes(st, 9) != API_TOKEN_HASH_LEN) {
            rc = -1;
            err_set(e, ERR_DB, "token", "token %s: stored salt or hash is damaged", id);
        } else {
            memcpy(out->salt, salt, API_TOKEN_SALT_LEN);
            memcpy(out->hash, hash, API_TOKEN_HASH_LEN);
            out->touch_due = sqlite3_column_int(st, 10) != 0;
        }
    }
    db_stmt_reset(st);
    if (rc == 0) return err_set(e, ERR_NOT_FOUND, "token", "no token with id %s", id);
    return rc == 1 ? ERR_OK : e->code;
}

static const char touch_sql[] = "UPDATE tokens SET last_used_at = " STMT_NOW_SQL " WHERE id = ?1";

err_code store_token_touch(db *d, const char *id, err *e)
{
    sqlite3_stmt *st = NULL;
    if (db_stmt(d, touch_sql, &st, e) != ERR_OK) return e->code;
    stmt_bind_text(st, 1, id);
    err_code rc = stmt_step_done(d, st, "record token use", e);
    db_stmt_reset(st);
    return rc;
}

err_code store_token_list(db *d, api_token_info **out, size_t *n, err *e)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    if (stmt_prepare(d, "SELECT " COLS " FROM tokens WHERE revoked_at IS NULL ORDER BY name", &st,
                     "prepare token list", e) != ERR_OK)
        return e->code;
    char now[40], ago[40];
    bind_times(st, now, ago);
    void *rows;
    err_code rc = stmt_collect_rows(d, st, sizeof **out, read_info_row, NULL, &rows, n,
                                    "listing tokens", e);
    sqlite3_finalize(st);
    *out = rows;
    return rc;
}

err_code store_token_revoke(db *d, const char *which, api_token_info *info, err *e)
{
    api_token_info row;
    sqlite3_stmt *st = NULL;
    if (db_begin_immediate(d, e) != ERR_OK) return e->code;
    err le;
    err_clear(&le);
    if (get_one(d, "revoked_at IS NULL AND name = ?1", which, &row, &le) != ERR_OK) {
        if (le.code != ERR_NOT_FOUND) {
            err_set(e, le.code, le.field, "%s", le.message);
            goto fail;
        }
        if (get_one(d, "revoked_at IS NULL AND id = ?1", which, &row, e) != ERR_OK) {
            if (e && e->code == ERR_NOT_FOUND)
                snprintf(e->message, sizeof e->message,
                         "no active token named \"%.64s\" or with that id", which);
            goto fail;
        }
    }
    if (stmt_prepare(d, "UPDATE tokens SET revoked_at = " STMT_NOW_SQL " WHERE id = ?1", &st,
                     "prepare token revoke", e) != ERR_OK)
        goto fail;
    stmt_bind_text(st, 1, row.id);
    if (stmt_step_done(d, st, "revoke token", e) != ERR_OK) goto fail;
    sqlite3_finalize(st);
    st = NULL;
    if (get_one(d, "id = ?1", row.id, &row, e) != ERR_OK) goto fail;
    if (info) *info = row;
    return db_commit(d, e);
fail:
    sqlite3_finalize(st);
    db_rollback(d);
    return e ? e->code : ERR_NOT_FOUND;
}

err_code store_token_count_active(db *d, long long *n, err *e)
{
    return db_query_int(d,
                        "SELECT count(*) FROM tokens WHERE revoked_at IS NULL AND (expires_at IS "
                        "NULL OR expires_at > " STMT_NOW_SQL ")",
                        n, e);
}
