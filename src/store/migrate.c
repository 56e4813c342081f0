/* store/migrate.c: apply the numbered schema migrations.
 *
 * DESIGN
 * The schema version is PRAGMA user_version (an integer in the database
 * header, written inside transactions like any page). Migration N takes the
 * database from version N-1 to N. Each one runs as
 *
 *     PRAGMA foreign_keys=OFF          -- outside the transaction (no-op inside)
 *     BEGIN IMMEDIATE                  -- take the write lock first
 *     re-read user_version             -- another process may have migrated
 *     the statements of NNNN_name.sql  -- one by one, to report the line
 *     PRAGMA foreign_key_check         -- must return no row
 *     INSERT INTO schema_history ...   -- if that table exists
 *     PRAGMA user_version = N
 *     COMMIT                           -- or ROLLBACK on any error
 *     PRAGMA foreign_keys=ON
 *
 * which is SQLite's documented procedure for schema changes that rebuild
 * tables (https://sqlite.org/lang_altertable.html#otheralter): with foreign
 * keys off, dropping and re-creating a parent table does not cascade, and the
 * check before COMMIT still refuses a migration that leaves dangling
 * references. A failing statement rolls the whole file back, so the database
 * is exactly as it was.
 *
 * The runner owns the transaction and the version: while a migration's
 * statements run, an authorizer refuses BEGIN/COMMIT/ROLLBACK and writes to
 * user_version and the connection-level pragmas, so no file can end the
 * transaction early and leave half a migration committed.
 *
 * Statements may use the parameter :odeserved_version (the daemon's version,
 * e.g. for the meta table); any other parameter is an error. */
#include "build_config.h"

#include "store/migrate.h"
#include "store/migrate_internal.h"
#include "store/stmt.h"

#include "core/log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

int db_migrate_latest(void)
{
    return (int)db_migrations_count;
}

err_code db_migrate(db *d, int *from, int *to, err *e)
{
    return db_migrate_list(d, db_migrations, db_migrations_count, from, to, e);
}

static err_code newer_error(db *d, int version, int latest, err *e)
{
    return err_set(e, ERR_SCHEMA, NULL,
                   "%s: database schema version %d is newer than this odeserved supports (%d); "
                   "upgrade odeserved",
                   db_path(d), version, latest);
}

err_code db_migrate_check(db *d, err *e)
{
    int v = 0;
    err_code rc = db_schema_version(d, &v, e);
    if (rc) return rc;
    int latest = db_migrate_latest();
    /* asked by /readyz: the message may reach a client, so no path in it */
    if (v > latest)
        return err_set(e, ERR_SCHEMA, NULL,
                       "database schema version %d is newer than this odeserved supports (%d)", v,
                       latest);
    if (v < latest)
        return err_set(e, ERR_UNAVAILABLE, NULL,
                       "database schema version %d, migrations up to %d not applied yet", v,
                       latest);
    return ERR_OK;
}

/* What the authorizer refused, for the error message (SQLite itself only
 * says "not authorized"). */
struct guard {
    const char *refused;
};

/* Pragmas that belong to the runner or to the connection set-up. */
static int is_guarded_pragma(const char *name)
{
    static const char *const names[] = {"user_version", "schema_version", "foreign_keys",
                                        "journal_mode", "synchronous",    "writable_schema",
                                        "locking_mode", "query_only"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i]) == 0) return 1;
    return 0;
}

static int guard_authorize(void *arg, int action, const char *a1, const char *a2, const char *a3,
                           const char *a4)
{
    (void)a3;
    (void)a4;
    struct guard *g = arg;
    if (action == SQLITE_TRANSACTION) {
        g->refused = "BEGIN/COMMIT/ROLLBACK is not allowed in a migration (each file already "
                     "runs in its own transaction)";
        return SQLITE_DENY;
    }
    if (action == SQLITE_PRAGMA && a1 && a2 && is_guarded_pragma(a1)) {
        g->refused = "setting this pragma is not allowed in a migration (the runner manages "
                     "user_version and the connection settings)";
        return SQLITE_DENY;
    }
    return SQLITE_OK;
}

/* Skip whitespace and comments, so the line we report is the statement's
 * own, not the end of the previous one. */
static const char *skip_blank(const char *p)
{
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f')
            p++;
        if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *end = strstr(p + 2, "*/");
            if (!end) return p; /* let SQLite report the unterminated comment */
            p = end + 2;
        } else {
            return p;
        }
    }
}

static int line_of(const char *text, const char *p)
{
    int line = 1;
    for (const char *q = text; q < p; q++)
        if (*q == '\n') line++;
    return line;
}

static err_code bind_params(db *d, sqlite3_stmt *st, const char *where, err *e)
{
    int n = sqlite3_bind_parameter_count(st);
    for (int i = 1; i <= n; i++) {
        const char *name = sqlite3_bind_parameter_name(st, i);
        if (!name || strcmp(name, ":odeserved_version") != 0)
            return err_set(e, ERR_DB, NULL,
                           "%s: %s: unknown parameter %s (only :odeserved_version is provided)",
                           db_path(d), where, name ? name : "?");
        if (sqlite3_bind_text(st, i, PACKAGE_VERSION, -1, SQLITE_STATIC) != SQLITE_OK)
            return db_error(d, e, where);
    }
    return ERR_OK;
}

/* Run one statement of a migration; `g` says why the authorizer refused it. */
static err_code run_statement(db *d, sqlite3_stmt *st, const struct guard *g, const char *where,
                              err *e)
{
    err_code rc = bind_params(d, st, where, e);
    if (rc) return rc;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    }
    if (s == SQLITE_DONE) return ERR_OK;
    if (g->refused) return err_set(e, ERR_DB, NULL, "%s: %s: %s", db_path(d), where, g->refused);
    return db_error(d, e, where);
}

/* Prepare and run each statement of `m` in turn. */
static err_code run_script(db *d, const struct migration *m, err *e)
{
    sqlite3 *c = db_sqlite(d);
    struct guard g = {NULL};
    err_code rc = ERR_OK;
    sqlite3_set_authorizer(c, guard_authorize, &g);
    const char *p = skip_blank(m->sql);
    while (*p && rc == ERR_OK) {
        char where[128];
        snprintf(where, sizeof where, "migration %s, line %d", m->name, line_of(m->sql, p));
        sqlite3_stmt *st = NULL;
        const char *tail = NULL;
        if (sqlite3_prepare_v2(c, p, -1, &st, &tail) != SQLITE_OK) {
            rc = g.refused ? err_set(e, ERR_DB, NULL, "%s: %s: %s", db_path(d), where, g.refused)
                           : db_error(d, e, where);
        } else if (st) {
            rc = run_statement(d, st, &g, where, e);
        }
        sqlite3_finalize(st);
        p = skip_blank(tail ? tail : p + strlen(p));
    }
    sqlite3_set_authorizer(c, NULL, NULL);
    return rc;
}

static err_code check_foreign_keys(db *d, const struct migration *m, err *e)
{
    const char *what = "PRAGMA foreign_key_check";
    sqlite3_stmt *st = NULL;
    err_code rc = stmt_prepare(d, what, &st, what, e);
    if (rc) return rc;
    int row = stmt_step_row(d, st, what, e);
    if (row < 0) {
        rc = ERR_DB;
    } else if (row == 1) {
        const char *table = (const char *)sqlite3_column_text(st, 0);
        rc = err_set(e, ERR_DB, NULL,
                     "%s: migration %s leaves rows in table %s that violate a foreign key",
                     db_path(d), m->name, table ? table : "?");
    }
    sqlite3_finalize(st);
    return rc;
}

/* The audit trail in schema_history (created by 0001_init.sql), written in
 * the migration's own transaction. Skipped when the table does not exist
 * (before 0001, and in tests with their own lists). */
static err_code record_history(db *d, const struct migration *m, err *e)
{
    long long exists = 0;
    err_code rc = db_query_int(d,
                               "SELECT count(*) FROM sqlite_master "
                               "WHERE type = 'table' AND name = 'schema_history'",
                               &exists, e);
    if (rc || !exists) return rc;
    const char *what = "recording the migration in schema_history";
    sqlite3_stmt *st = NULL;
    if ((rc = stmt_prepare(d,
                           "INSERT INTO schema_history (version, name, applied_at, "
                           "odeserved_version) VALUES (?1, ?2, " STMT_NOW_SQL ", ?3)",
                           &st, what, e)))
        return rc;
    stmt_bind_int(st, 1, m->version);
    stmt_bind_text(st, 2, m->name);
    stmt_bind_text(st, 3, PACKAGE_VERSION);
    rc = stmt_step_done(d, st, what, e);
    sqlite3_finalize(st);
    return rc;
}

/* The body of one migration, inside its transaction. */
static err_code apply_body(db *d, const struct migration *m, err *e)
{
    err_code rc = run_script(d, m, e);
    if (!rc) rc = check_foreign_keys(d, m, e);
    if (!rc) rc = record_history(d, m, e);
    if (!rc) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", m->version);
        rc = db_exec(d, sql, e);
    }
    return rc;
}

/* Apply `m` unless another connection got there first; *now receives the
 * version after. */
static err_code apply_one(db *d, const struct migration *m, int latest, int *now, err *e)
{
    err_code rc = db_exec(d, "PRAGMA foreign_keys=OFF", e);
    if (rc) return rc;
    if ((rc = db_begin_immediate(d, e))) goto out;
    int v = 0;
    if ((rc = db_schema_version(d, &v, e))) goto fail;
    if (v > latest) {
        rc = newer_error(d, v, latest, e);
        goto fail;
    }
    if (v >= m->version) { /* applied meanwhile by another connection */
        *now = v;
        db_rollback(d);
        goto out;
    }
    if ((rc = apply_body(d, m, e))) goto fail;
    if ((rc = db_commit(d, e))) goto out; /* db_commit rolled back */
    *now = m->version;
    char q[256];
    log_info("db_migrated", "path=%s migration=%s version=%d", log_quote(q, sizeof q, db_path(d)),
             m->name, m->version);
    goto out;
fail:
    db_rollback(d);
out:;
    /* Always back on, also after a failure: the connection stays in use. */
    err_code fk = db_exec(d, "PRAGMA foreign_keys=ON", e);
    return rc ? rc : fk;
}

static err_code check_list(const struct migration *list, size_t n, err *e)
{
    if (n > 9999) return err_set(e, ERR_INTERNAL, NULL, "too many migrations (%zu)", n);
    for (size_t i = 0; i < n; i++)
        if (list[i].version != (int)i + 1 || !list[i].name || !list[i].sql)
            return err_set(e, ERR_INTERNAL, NULL,
                           "migration list entry %zu (%s) is not numbered %zu", i,
                           list[i].name ? list[i].name : "?", i + 1);
    return ERR_OK;
}

err_code db_migrate_list(db *d, const struct migration *list, size_t n, int *from, int *to, err *e)
{
    int dummy_from, dummy_to;
    if (!from) from = &dummy_from;
    if (!to) to = &dummy_to;
    *from = *to = 0;
    err_code rc = check_list(list, n, e);
    if (rc) return rc;
    int latest = (int)n, cur = 0;
    if ((rc = db_schema_version(d, &cur, e))) return rc;
    *from = *to = cur;
    if (cur < 0)
        return err_set(e, ERR_SCHEMA, NULL,
                       "%s: user_version %d is not an odeserve schema version (is this an "
                       "odeserve database?)",
                       db_path(d), cur);
    if (cur > latest) return newer_error(d, cur, latest, e);
    /* Up to date: no transaction, no write, nothing logged. */
    while (*to < latest) {
        int now = *to;
        if ((rc = apply_one(d, &list[*to], latest, &now, e))) {
            db_error_path_prefix(d, e); /* at start-up: for the operator */
            return rc;
        }
        *to = now;
    }
    return ERR_OK;
}
