/* store/aliases.c: see aliases.h and migrations/0005_aliases.sql. */
#include "store/aliases.h"
#include "store/aliases_internal.h"
#include "store/space_internal.h"
#include "store/stmt.h"
#include "store/model_row_internal.h"

#include "model/model_name.h"

#include <stdlib.h>
#include <string.h>

static err_code check_names(const char *name, const char *alias, err *e)
{
    err_code rc = model_name_check(name, e);
    if (!rc && alias) rc = model_alias_check(alias, "alias", e);
    return rc;
}

/* The version `alias` of model row `id` names into *version, 0 when none. */
static err_code current(db *d, long long id, const char *alias, int *version, err *e)
{
    const char *what = "reading the alias";
    sqlite3_stmt *st = NULL;
    err_code rc = stmt_prepare(
        d, "SELECT version FROM model_aliases WHERE model_id = ?1 AND alias = ?2", &st, what, e);
    if (rc) return rc;
    stmt_bind_int(st, 1, id);
    stmt_bind_text(st, 2, alias);
    int row = stmt_step_row(d, st, what, e);
    *version = row == 1 ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    return row < 0 ? ERR_DB : ERR_OK;
}

/* One history row; from/to 0 are NULL. */
static err_code record(db *d, const char *name, const char *alias, int from, int to,
                       const char *actor, err *e)
{
    const char *what = "recording the alias change";
    sqlite3_stmt *st = NULL;
    err_code rc = stmt_prepare(d,
                               "INSERT INTO model_alias_history (model, alias, from_version, "
                               "to_version, actor, at) VALUES (?1, ?2, ?3, ?4, ?5, " STMT_NOW_SQL
                               ")",
                               &st, what, e);
    if (rc) return rc;
    stmt_bind_text(st, 1, name);
    stmt_bind_text(st, 2, alias);
    stmt_bind_int_opt(st, 3, from > 0 ? from : -1);
    stmt_bind_int_opt(st, 4, to > 0 ? to : -1);
    stmt_bind_text(st, 5, actor && actor[0] ? actor : "anonymous");
    rc = stmt_step_done(d, st, what, e);
    sqlite3_finalize(st);
    return rc;
}

static err_code version_exists(db *d, long long id, const char *name, int version, err *e)
{
    const char *what = "reading the version";
    sqlite3_stmt *st = NULL;
    err_code rc = stmt_prepare(
        d, "SELECT 1 FROM model_versions WHERE model_id = ?1 AND version = ?2", &st, what, e);
    if (rc) return rc;
    stmt_bind_int(st, 1, id);
    stmt_bind_int(st, 2, version);
    int row = stmt_step_row(d, st, what, e);
    sqlite3_finalize(st);
    if (row < 0) return ERR_DB;
    if (row == 0)
        return err_set(e, ERR_NOT_FOUND, "version", "model \"%s\" has no version %d", name,
                       version);
    return ERR_OK;
}

err_code store_alias_set(db *d, const char *name, const char *alias, int version,
                         const char *actor, int *previous, err *e)
{
    err_code rc = check_names(name, alias, e);
    if (rc) return rc;
    if (version < 1) return err_set(e, ERR_INVALID, "version", "must be a version number >= 1");
    if ((rc = db_begin_immediate(d, e))) return rc;
    long long id = 0;
    int before = 0;
    if ((rc = store_model_row_id(d, name, &id, e)) ||
        (rc = version_exists(d, id, name, version, e)) ||
        (rc = current(d, id, alias, &before, e)))
        goto fail;
    if (before != version) {
        const char *what = "setting the alias";
        sqlite3_stmt *st = NULL;
        if ((rc = stmt_prepare(d,
                               "INSERT INTO model_aliases (model_id, alias, version, updated_at) "
                               "VALUES (?1, ?2, ?3, " STMT_NOW_SQL ") ON CONFLICT (model_id, alias) "
                               "DO UPDATE SET version = excluded.version, "
                               "updated_at = excluded.updated_at",
                               &st, what, e)))
            goto fail;
        stmt_bind_int(st, 1, id);
        stmt_bind_text(st, 2, alias);
        stmt_bind_int(st, 3, version);
        rc = stmt_step_done(d, st, what, e);
        sqlite3_finalize(st);
        if (rc || (rc = record(d, name, alias, before, version, actor, e))) goto fail;
    }
    if ((rc = db_commit(d, e))) return rc;
    if (previous) *previous = before;
    return ERR_OK;
fail:
    db_rollback(d);
    return rc;
}

static err_code alias_delete_once(db *d, const char *name, const char *alias, const char *actor,
                                  int *previous, err *e)
{
    err_code rc = check_names(name, alias, e);
    if (rc || (rc = db_begin_immediate(d, e))) return rc;
    long long id = 0;
    int before = 0;
    if ((rc = store_model_row_id(d, name, &id, e)) || (rc = current(d, id, alias, &before, e)))
        goto fail;
    if (before == 0) {
        rc = err_set(e, ERR_NOT_FOUND, "alias", "model \"%s\" has no alias \"%s\"", name, alias);
        goto fail;
    }
    const char *what = "removing the alias";
    sqlite3_stmt *st = NULL;
    if ((rc = stmt_prepare(d, "DELETE FROM model_aliases WHERE model_id = ?1 AND alias = ?2", &st,
                           what, e)))
        goto fail;
    stmt_bind_int(st, 1, id);
    stmt_bind_text(st, 2, alias);
    rc = stmt_step_done(d, st, what, e);
    sqlite3_finalize(st);
    if (rc || (rc = record(d, name, alias, before, 0, actor, e))) goto fail;
    if ((rc = db_commit(d, e))) return rc;
    if (previous) *previous = before;
    return ERR_OK;
fail:
    db_rollback(d);
    return rc;
}

err_code store_alias_delete(db *d, const char *name, const char *alias, const char *actor,
                            int *previous, err *e)
{
    err_code rc = alias_delete_once(d, name, alias, actor, previous, e);
    /* on a full disk, make room (the log, the reserve) and commit in it */
    if (rc == ERR_STORAGE_FULL) {
        db_space_release(db_sqlite(d));
        err_clear(e);
        rc = alias_delete_once(d, name, alias, actor, previous, e);
    }
    return rc;
}

err_code store_alias_resolve(db *d, const char *name, const char *alias, int *version, err *e)
{
    static const char sql[] =
        "SELECT a.version FROM models m LEFT JOIN model_aliases a "
        "ON a.model_id = m.id AND a.alias = ?2 WHERE m.name = ?1";
    err_code rc = check_names(name, alias, e);
    if (rc) return rc;
    sqlite3_stmt *st = NULL;
    if ((rc = db_stmt(d, sql, &st, e))) return rc;
    stmt_bind_text(st, 1, name);
    stmt_bind_text(st, 2, alias);
    int row = stmt_step_row(d, st, "resolving the alias", e);
    if (row < 0)
        rc = ERR_DB;
    else if (row == 0)
        rc = store_model_row_none(name, e);
    else if (sqlite3_column_type(st, 0) == SQLITE_NULL)
        rc = err_set(e, ERR_NOT_FOUND, "version", "model \"%s\" has no version or alias \"%s\"",
                     name, alias);
    else
        *version = sqlite3_column_int(st, 0);
    db_stmt_reset(st);
    return rc;
}

static void read_alias(sqlite3_stmt *st, void *row, void *ctx)
{
    (void)ctx;
    model_alias *a = row;
    memset(a, 0, sizeof *a);
    stmt_column_text(st, 0, a->alias, sizeof a->alias);
    a->version = (int)stmt_column_int_or(st, 1, 0);
    stmt_column_text(st, 2, a->updated_at, sizeof a->updated_at);
}

err_code store_alias_list(db *d, const char *name, model_alias **out, size_t *n, err *e)
{
    *out = NULL;
    *n = 0;
    err_code rc = check_names(name, NULL, e);
    if (rc || (rc = db_begin_read(d, e))) return rc;
    long long id = 0;
    sqlite3_stmt *st = NULL;
    const char *what = "reading the aliases";
    if (!(rc = store_model_row_id(d, name, &id, e)) &&
        !(rc = stmt_prepare(d,
                            "SELECT alias, version, updated_at FROM model_aliases "
                            "WHERE model_id = ?1 ORDER BY alias",
                            &st, what, e))) {
        stmt_bind_int(st, 1, id);
        rc = stmt_collect_rows(d, st, sizeof **out, read_alias, NULL, (void **)out, n, what, e);
    }
    sqlite3_finalize(st);
    db_rollback(d);
    return rc;
}

static void read_event(sqlite3_stmt *st, void *row, void *ctx)
{
    (void)ctx;
    model_alias_event *ev = row;
    memset(ev, 0, sizeof *ev);
    stmt_column_text(st, 0, ev->alias, sizeof ev->alias);
    ev->from_version = (int)stmt_column_int_or(st, 1, 0);
    ev->to_version = (int)stmt_column_int_or(st, 2, 0);
    stmt_column_text_utf8(st, 3, ev->actor, sizeof ev->actor);
    stmt_column_text(st, 4, ev->at, sizeof ev->at);
}

err_code store_alias_history(db *d, const char *name, model_alias_event **out, size_t *n,
                             err *e)
{
    *out = NULL;
    *n = 0;
    err_code rc = check_names(name, NULL, e);
    if (rc || (rc = db_begin_read(d, e))) return rc;
    sqlite3_stmt *st = NULL;
    const char *what = "reading the alias history";
    if (!(rc = stmt_prepare(d,
                            "SELECT alias, from_version, to_version, actor, at "
                            "FROM model_alias_history WHERE model = ?1 ORDER BY id",
                            &st, what, e))) {
        stmt_bind_text(st, 1, name);
        rc = stmt_collect_rows(d, st, sizeof **out, read_event, NULL, (void **)out, n, what, e);
    }
    sqlite3_finalize(st);
    long long id = 0;
    if (!rc && *n == 0) rc = store_model_row_id(d, name, &id, e);
    db_rollback(d);
    return rc;
}

err_code store_alias_guard(db *d, long long model_id, const char *name, int version, err *e)
{
    const char *what = "reading the aliases";
    sqlite3_stmt *st = NULL;
    err_code rc = stmt_prepare(d,
                               "SELECT group_concat(alias, ', ') FROM (SELECT alias FROM "
                               "model_aliases WHERE model_id = ?1 AND version = ?2 ORDER BY alias)",
                               &st, what, e);
    if (rc) return rc;
    stmt_bind_int(st, 1, model_id);
    stmt_bind_int(st, 2, version);
    int row = stmt_step_row(d, st, what, e);
    if (row < 0)
        rc = ERR_DB;
    else if (row == 1 && sqlite3_column_type(st, 0) != SQLITE_NULL)
        rc = err_set(e, ERR_CONFLICT, "version",
                     "version %d of model \"%s\" is named by alias %s: move or delete the alias "
                     "first",
                     version, name, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return rc;
}

err_code store_alias_drop_all(db *d, long long model_id, const char *name, const char *actor,
                              err *e)
{
    const char *what = "reading the aliases";
    sqlite3_stmt *st = NULL;
    err_code rc = stmt_prepare(
        d, "SELECT alias, version, updated_at FROM model_aliases WHERE model_id = ?1 "
        "ORDER BY alias", &st,
        what, e);
    if (rc) return rc;
    stmt_bind_int(st, 1, model_id);
    model_alias *rows = NULL;
    size_t n = 0;
    rc = stmt_collect_rows(d, st, sizeof *rows, read_alias, NULL, (void **)&rows, &n, what, e);
    sqlite3_finalize(st);
    for (size_t i = 0; !rc && i < n; i++)
        rc = record(d, name, rows[i].alias, rows[i].version, 0, actor, e);
    free(rows);
    return rc;
}
