/* store/models.c: the models table, and what is done to a model as a whole:
 * put its next version, list, get, latest, delete. See models.h and
 * migrations/0002_models.sql for the tables; a version's own rows are
 * versions.c's.
 *
 * DESIGN
 * A version is written in one BEGIN IMMEDIATE transaction: the model row
 * (created on the first version), its next_version counter, then the
 * version with its networks (store_version_insert). The write lock is taken
 * before next_version is read, so concurrent uploads queue on the lock
 * (busy_timeout) and get consecutive numbers; a failure anywhere rolls the
 * whole version back. Statements are prepared per call, except the latest
 * version's lookup, which is on every request for "latest". */
#include "store/models.h"
#include "store/aliases_internal.h"
#include "store/models_internal.h"
#include "store/space_internal.h"
#include "store/stmt.h"
#include "store/model_row_internal.h"
#include "store/versions_internal.h"

#include "model/model_rows.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- put ---- */

/* The model's id and the number the new version gets; creates the model
 * on its first version and advances next_version. Inside the write
 * transaction. */
static err_code reserve_version(db *d, const char *name, const char *now, long long *model_id,
                                int *version, err *e)
{
    sqlite3_stmt *st = NULL;
    const char *what = "reading the model";
    err_code rc =
        stmt_prepare(d, "SELECT id, next_version FROM models WHERE name = ?1", &st, what, e);
    if (rc) return rc;
    stmt_bind_text(st, 1, name);
    int row = stmt_step_row(d, st, what, e);
    if (row == 1) {
        *model_id = sqlite3_column_int64(st, 0);
        long long next = sqlite3_column_int64(st, 1);
        if (next < 1 || next >= INT32_MAX)
            rc = err_set(e, ERR_DB, NULL, "database: model \"%s\": next_version %lld out of range",
                         name, next);
        *version = (int)next;
    }
    sqlite3_finalize(st);
    if (row < 0) return ERR_DB;
    if (rc) return rc;
    if (row == 1) {
        what = "advancing the model's version counter";
        if ((rc = stmt_prepare(d, "UPDATE models SET next_version = next_version + 1 WHERE id = ?1",
                               &st, what, e)))
            return rc;
        stmt_bind_int(st, 1, *model_id);
    } else {
        what = "creating the model";
        if ((rc = stmt_prepare(
                 d, "INSERT INTO models (name, created_at, next_version) VALUES (?1, ?2, 2)", &st,
                 what, e)))
            return rc;
        stmt_bind_text(st, 1, name);
        stmt_bind_text(st, 2, now);
        *version = 1;
    }
    rc = stmt_step_done(d, st, what, e);
    if (!rc && row == 0) *model_id = sqlite3_last_insert_rowid(db_sqlite(d));
    sqlite3_finalize(st);
    return rc;
}

/* The current time as stored, read once so that the model row and its
 * version row carry the same instant. */
static err_code now_text(db *d, char out[32], err *e)
{
    sqlite3_stmt *st = NULL;
    const char *what = "reading the time";
    err_code rc = stmt_prepare(d, "SELECT " STMT_NOW_SQL, &st, what, e);
    if (rc) return rc;
    if (stmt_step_row(d, st, what, e) == 1)
        stmt_column_text(st, 0, out, 32);
    else
        rc = err_set(e, ERR_DB, NULL, "database: %s: no row", what);
    sqlite3_finalize(st);
    return rc;
}

err_code store_model_put_in_tx(db *d, const char *name, const model_def *def, int *version, err *e)
{
    err_code rc = model_name_check(name, e);
    if (rc) return rc;
    if (!def) return err_set(e, ERR_INTERNAL, NULL, "store_model_put: model_def is NULL");
    if ((rc = model_rows_check(def, e))) return rc;
    char now[32];
    long long model_id = 0;
    int v = 0;
    if ((rc = now_text(d, now, e)) || (rc = reserve_version(d, name, now, &model_id, &v, e)) ||
        (rc = store_version_insert(d, name, model_id, v, now, def, e)))
        return rc;
    if (version) *version = v;
    return ERR_OK;
}

err_code store_model_put(db *d, const char *name, const model_def *def, int *version, err *e)
{
    int v = 0;
    if (db_begin_immediate(d, e) != ERR_OK) return e->code;
    if (store_model_put_in_tx(d, name, def, &v, e) != ERR_OK) {
        db_rollback(d);
        return e->code;
    }
    err_code rc = db_commit(d, e); /* rolled back on failure */
    store_version_changed(false);
    if (rc == ERR_OK && version) *version = v;
    return rc;
}

/* ---- list, get, latest ---- */

/* A model_info row: name, created_at, kind, state_dim, latest version,
 * number of versions, readout width (cde), the model's id, then (cde)
 * input_channels, hidden_dim, channel_time, channel_intensity. */
#define INFO_SELECT                                                                                \
    "SELECT m.name, m.created_at, v.kind, v.state_dim, v.version, "                                \
    "(SELECT count(*) FROM model_versions c WHERE c.model_id = m.id), "                            \
    "(SELECT l.out_dim FROM model_layers l WHERE l.version_id = v.id AND l.net = 2 "               \
    "AND l.kind = 'linear' ORDER BY l.layer DESC LIMIT 1), m.id, "                                 \
    "v.input_channels, v.hidden_dim, v.channel_time, v.channel_intensity "                         \
    "FROM models m JOIN model_versions v ON v.model_id = m.id "                                    \
    "WHERE v.version = (SELECT max(x.version) FROM model_versions x WHERE x.model_id = m.id) "

static void read_info(sqlite3_stmt *st, model_info *info)
{
    memset(info, 0, sizeof *info);
    stmt_column_text(st, 0, info->name, sizeof info->name);
    stmt_column_text(st, 1, info->created_at, sizeof info->created_at);
    const char *kind = (const char *)sqlite3_column_text(st, 2);
    if (!kind || model_kind_from_name(kind, &info->kind, NULL)) info->kind = MODEL_KIND_ODE;
    if (info->kind == MODEL_KIND_ODE || info->kind == MODEL_KIND_SDE ||
        info->kind == MODEL_KIND_HAMILTONIAN || info->kind == MODEL_KIND_CNF ||
        info->kind == MODEL_KIND_LAGRANGIAN || info->kind == MODEL_KIND_HYBRID) {
        info->state_dim = (size_t)sqlite3_column_int64(st, 3);
    } else {
        info->input_channels = (size_t)sqlite3_column_int64(st, 8);
        info->data_channels = model_rows_data_channels(
            info->input_channels, sqlite3_column_int(st, 10) != 0, sqlite3_column_int(st, 11) != 0);
        info->hidden_dim = (size_t)sqlite3_column_int64(st, 9);
        info->output_dim = (size_t)sqlite3_column_int64(st, 6);
        info->state_dim = info->hidden_dim; /* z is the state a CDE solves for */
    }
    info->latest_version = sqlite3_column_int(st, 4);
    info->n_versions = sqlite3_column_int(st, 5);
}

static void read_info_row(sqlite3_stmt *st, void *row, void *ctx)
{
    (void)ctx;
    read_info(st, row);
}

err_code store_model_list(db *d, model_info **out, size_t *n, err *e)
{
    *out = NULL;
    *n = 0;
    const char *what = "listing the models";
    sqlite3_stmt *st = NULL;
    void *rows = NULL;
    err_code rc = stmt_prepare(d, INFO_SELECT "ORDER BY m.name", &st, what, e);
    if (!rc) rc = stmt_collect_rows(d, st, sizeof **out, read_info_row, NULL, &rows, n, what, e);
    sqlite3_finalize(st);
    *out = rows;
    return rc;
}

err_code store_model_get(db *d, const char *name, model_info *info, model_version_info **versions,
                         size_t *n, err *e)
{
    *versions = NULL;
    *n = 0;
    err_code rc = model_name_check(name, e);
    if (rc || (rc = db_begin_read(d, e))) return rc;
    const char *what = "reading the model";
    sqlite3_stmt *st = NULL;
    long long model_id = 0;
    if ((rc = stmt_prepare(d, INFO_SELECT "AND m.name = ?1", &st, what, e))) goto out;
    stmt_bind_text(st, 1, name);
    int row = stmt_step_row(d, st, what, e);
    if (row == 1) {
        read_info(st, info);
        model_id = sqlite3_column_int64(st, 7);
    }
    sqlite3_finalize(st);
    if (row < 0) rc = ERR_DB;
    if (row == 0) rc = store_model_row_none(name, e);
    if (!rc) rc = store_version_list(d, model_id, versions, (size_t)info->n_versions, e);
    if (!rc) *n = (size_t)info->n_versions;
out:
    db_rollback(d);
    return rc;
}

err_code store_model_latest(db *d, const char *name, int *version, err *e)
{
    static const char sql[] = "SELECT max(v.version) FROM models m JOIN model_versions v "
                              "ON v.model_id = m.id WHERE m.name = ?1";
    err_code rc = model_name_check(name, e);
    if (rc) return rc;
    const char *what = "reading the latest version";
    sqlite3_stmt *st = NULL;
    if ((rc = db_stmt(d, sql, &st, e))) return rc;
    stmt_bind_text(st, 1, name);
    int row = stmt_step_row(d, st, what, e);
    if (row < 0)
        rc = ERR_DB;
    else if (row == 0 || sqlite3_column_type(st, 0) == SQLITE_NULL)
        rc = store_model_row_none(name, e);
    else
        *version = sqlite3_column_int(st, 0);
    db_stmt_reset(st);
    return rc;
}

/* ---- delete ---- */

static err_code model_delete_once(db *d, const char *name, const char *actor, err *e)
{
    err_code rc = model_name_check(name, e);
    if (rc || (rc = db_begin_immediate(d, e))) return rc;
    const char *what = "deleting the model";
    sqlite3_stmt *st = NULL;
    long long id = 0;
    if (!(rc = store_model_row_id(d, name, &id, e)) &&
        !(rc = store_version_job_guard(d, name, 0, "name", e)) &&
        !(rc = store_alias_drop_all(d, id, name, actor, e)) &&
        !(rc = stmt_prepare(d, "DELETE FROM models WHERE id = ?1", &st, what, e))) {
        stmt_bind_int(st, 1, id);
        rc = stmt_step_done(d, st, what, e);
    }
    sqlite3_finalize(st);
    if (rc)
        db_rollback(d);
    else
        rc = db_commit(d, e);
    store_version_changed(true);
    return rc;
}

err_code store_model_delete(db *d, const char *name, const char *actor, err *e)
{
    err_code rc = model_delete_once(d, name, actor, e);
    /* on a full disk, make room (the log, the reserve) and commit in it */
    if (rc == ERR_STORAGE_FULL) {
        db_space_release(db_sqlite(d));
        err_clear(e);
        rc = model_delete_once(d, name, actor, e);
    }
    return rc;
}
