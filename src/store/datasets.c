/* store/datasets.c: see datasets.h. Series are stored as BLOBs of doubles
 * in host byte order (stmt_bind_doubles), which the schema calls
 * little-endian: odeserve targets little-endian machines (x86-64, aarch64). */
#include "store/datasets.h"

#include "store/space_internal.h"
#include "store/stmt.h"

#include "model/model_name.h"

#include <stdlib.h>
#include <string.h>

static err_code put_series(db *d, long long id, const dataset *ds, err *e)
{
    sqlite3_stmt *st = NULL;
    if (stmt_prepare(d,
                     "INSERT INTO dataset_series (dataset_id, idx, n_points, t, y, "
                     "label_class, label) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                     &st, "prepare dataset_series insert", e) != ERR_OK)
        return e->code;
    for (size_t s = 0; s < ds->n_series; s++) {
        const dataset_series *x = &ds->series[s];
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        stmt_bind_int(st, 1, id);
        stmt_bind_int(st, 2, (long long)s);
        stmt_bind_int(st, 3, (long long)x->n);
        stmt_bind_doubles(st, 4, x->t, x->n);
        stmt_bind_doubles(st, 5, x->y, (x->n * ds->channels));
        if (ds->label_kind == DATASET_LABEL_CLASS) stmt_bind_int(st, 6, x->label_class);
        if (ds->label_kind == DATASET_LABEL_VECTOR)
            stmt_bind_doubles(st, 7, x->label_vec, ds->label_dim);
        if (stmt_step_done(d, st, "insert dataset series", e) != ERR_OK) {
            sqlite3_finalize(st);
            return e->code;
        }
    }
    sqlite3_finalize(st);
    return ERR_OK;
}

err_code store_dataset_put(db *d, const char *name, const dataset *ds, err *e)
{
    if (model_name_check(name, e) != ERR_OK || dataset_validate(ds, e) != ERR_OK) return e->code;
    dataset_info in;
    dataset_summarise(ds, &in);
    sqlite3_stmt *st = NULL;
    if (db_begin_immediate(d, e) != ERR_OK) return e->code;
    if (stmt_prepare(d,
                     "INSERT INTO datasets (name, created_at, channels, n_series, n_points, "
                     "n_missing, t_min, t_max, label_kind, label_dim, kind) VALUES (?1, " STMT_NOW_SQL
                     ", ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (name) DO NOTHING",
                     &st, "prepare dataset insert", e) != ERR_OK)
        goto fail;
    stmt_bind_text(st, 1, name);
    stmt_bind_int(st, 2, (long long)in.channels);
    stmt_bind_int(st, 3, (long long)in.n_series);
    stmt_bind_int(st, 4, (long long)in.n_points);
    stmt_bind_int(st, 5, (long long)in.n_missing);
    stmt_bind_double(st, 6, in.t_min);
    stmt_bind_double(st, 7, in.t_max);
    stmt_bind_text(st, 8, dataset_label_kind_name(ds->label_kind));
    stmt_bind_int(st, 9, (long long)ds->label_dim);
    stmt_bind_text(st, 10, dataset_kind_name(ds->kind));
    if (stmt_step_done(d, st, "insert dataset", e) != ERR_OK) goto fail;
    if (sqlite3_changes(db_sqlite(d)) == 0) {
        err_set(e, ERR_CONFLICT, "name",
                "dataset \"%s\" exists; datasets are immutable: delete it first or pick "
                "another name",
                name);
        goto fail;
    }
    if (put_series(d, sqlite3_last_insert_rowid(db_sqlite(d)), ds, e) != ERR_OK) goto fail;
    sqlite3_finalize(st);
    return db_commit(d, e);
fail:
    sqlite3_finalize(st);
    db_rollback(d);
    return e->code;
}

#define INFO_COLS                                                                                  \
    "name, created_at, channels, n_series, n_points, n_missing, t_min, t_max, label_kind, "        \
    "label_dim, id, kind"

static long long read_info(sqlite3_stmt *st, dataset_info *in)
{
    memset(in, 0, sizeof *in);
    stmt_column_text(st, 0, in->name, sizeof in->name);
    stmt_column_text(st, 1, in->created_at, sizeof in->created_at);
    in->channels = (size_t)sqlite3_column_int64(st, 2);
    in->n_series = (size_t)sqlite3_column_int64(st, 3);
    in->n_points = (size_t)sqlite3_column_int64(st, 4);
    in->n_missing = (size_t)sqlite3_column_int64(st, 5);
    in->t_min = sqlite3_column_double(st, 6);
    in->t_max = sqlite3_column_double(st, 7);
    const char *k = (const char *)sqlite3_column_text(st, 8);
    in->label_kind = k && strcmp(k, "class") == 0    ? DATASET_LABEL_CLASS
                     : k && strcmp(k, "vector") == 0 ? DATASET_LABEL_VECTOR
                                                     : DATASET_LABEL_NONE;
    in->label_dim = (size_t)sqlite3_column_int64(st, 9);
    const char *kind = (const char *)sqlite3_column_text(st, 11);
    in->kind = kind && strcmp(kind, "points") == 0 ? DATASET_KIND_POINTS : DATASET_KIND_SERIES;
    return sqlite3_column_int64(st, 10);
}

static void read_info_row(sqlite3_stmt *st, void *row, void *ctx)
{
    (void)ctx;
    read_info(st, row);
}

err_code store_dataset_list(db *d, dataset_info **out, size_t *n, err *e)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    if (stmt_prepare(d, "SELECT " INFO_COLS " FROM datasets ORDER BY name", &st,
                     "prepare dataset list", e) != ERR_OK)
        return e->code;
    void *rows;
    err_code rc = stmt_collect_rows(d, st, sizeof **out, read_info_row, NULL, &rows, n,
                                    "listing datasets", e);
    sqlite3_finalize(st);
    *out = rows;
    return rc;
}

static err_code find(db *d, const char *name, dataset_info *info, long long *id, err *e)
{
    if (model_name_check(name, e) != ERR_OK) return e->code;
    sqlite3_stmt *st = NULL;
    if (stmt_prepare(d, "SELECT " INFO_COLS " FROM datasets WHERE name = ?1", &st,
                     "prepare dataset lookup", e) != ERR_OK)
        return e->code;
    stmt_bind_text(st, 1, name);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *id = read_info(st, info);
    else if (rc == SQLITE_DONE)
        err_set(e, ERR_NOT_FOUND, "name", "no dataset named \"%s\"", name);
    else
        db_error(d, e, "look up dataset");
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? ERR_OK : e->code;
}

err_code store_dataset_info(db *d, const char *name, dataset_info *info, err *e)
{
    long long id;
    return find(d, name, info, &id, e);
}

err_code store_dataset_longest_series(db *d, const char *name, size_t *n, err *e)
{
    *n = 0;
    if (model_name_check(name, e) != ERR_OK) return e->code;
    sqlite3_stmt *st = NULL;
    if (stmt_prepare(d,
                     "SELECT max(s.n_points) FROM datasets d JOIN dataset_series s "
                     "ON s.dataset_id = d.id WHERE d.name = ?1",
                     &st, "prepare dataset lookup", e) != ERR_OK)
        return e->code;
    stmt_bind_text(st, 1, name);
    int row = stmt_step_row(d, st, "look up dataset", e);
    err_code rc = row < 0 ? e->code : ERR_OK;
    if (row > 0 && sqlite3_column_type(st, 0) == SQLITE_NULL)
        rc = err_set(e, ERR_NOT_FOUND, "name", "no dataset named \"%s\"", name);
    else if (row > 0)
        *n = (size_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

/* Exactly n doubles; NULL for any other length (or out of memory). */
static double *blob_doubles(sqlite3_stmt *st, int col, size_t n)
{
    double *p;
    size_t got;
    if (stmt_column_doubles(st, col, &p, &got) && got == n) return p;
    free(p);
    return NULL;
}

static err_code load_series(db *d, long long id, dataset *ds, err *e)
{
    sqlite3_stmt *st = NULL;
    if (stmt_prepare(d,
                     "SELECT n_points, t, y, label_class, label FROM dataset_series "
                     "WHERE dataset_id = ?1 ORDER BY idx",
                     &st, "prepare dataset load", e) != ERR_OK)
        return e->code;
    stmt_bind_int(st, 1, id);
    size_t s = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && s < ds->n_series) {
        dataset_series *x = &ds->series[s++];
        x->n = (size_t)sqlite3_column_int64(st, 0);
        x->t = blob_doubles(st, 1, x->n);
        x->y = blob_doubles(st, 2, x->n * ds->channels);
        x->label_class = sqlite3_column_int64(st, 3);
        if (ds->label_kind == DATASET_LABEL_VECTOR)
            x->label_vec = blob_doubles(st, 4, ds->label_dim);
        if (!x->t || !x->y || (ds->label_kind == DATASET_LABEL_VECTOR && !x->label_vec)) {
            err_set(e, ERR_DB, "name", "dataset series %zu is damaged or out of memory", s - 1);
            goto fail;
        }
    }
    if (rc != SQLITE_DONE || s != ds->n_series) {
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
            db_error(d, e, "load dataset");
        else
            err_set(e, ERR_DB, "name", "dataset has %zu series rows, expected %zu", s,
                    ds->n_series);
        goto fail;
    }
    sqlite3_finalize(st);
    return ERR_OK;
fail:
    sqlite3_finalize(st);
    return e->code;
}

err_code store_dataset_load(db *d, const char *name, dataset *out, err *e)
{
    dataset_info in;
    long long id;
    if (db_begin_read(d, e) != ERR_OK) return e->code;
    if (find(d, name, &in, &id, e) != ERR_OK) goto fail;
    dataset ds;
    dataset_init(&ds);
    ds.kind = in.kind;
    ds.channels = in.channels;
    ds.label_kind = in.label_kind;
    ds.label_dim = in.label_dim;
    ds.n_series = in.n_series;
    ds.series = calloc(in.n_series, sizeof *ds.series);
    if (!ds.series) {
        err_set(e, ERR_NOMEM, NULL, "out of memory loading dataset \"%s\"", name);
        goto fail;
    }
    if (load_series(d, id, &ds, e) != ERR_OK) {
        dataset_free(&ds);
        goto fail;
    }
    db_rollback(d);
    *out = ds;
    return ERR_OK;
fail:
    db_rollback(d);
    return e->code;
}

static err_code dataset_delete_once(db *d, const char *name, err *e)
{
    if (model_name_check(name, e) != ERR_OK) return e->code;
    sqlite3_stmt *st = NULL;
    if (db_begin_immediate(d, e) != ERR_OK) return e->code;
    /* a job reads its dataset when it starts and again when it resumes
     * after a restart: one that may still run keeps it (checked in the
     * delete's transaction, so no job can start in between) */
    if (stmt_prepare(d,
                     "SELECT id, status FROM jobs WHERE dataset = ?1 "
                     "AND status IN ('queued', 'running') ORDER BY id LIMIT 1",
                     &st, "prepare dataset use", e) != ERR_OK)
        goto fail;
    stmt_bind_text(st, 1, name);
    int row = stmt_step_row(d, st, "dataset use", e);
    if (row < 0) goto fail;
    if (row) {
        err_set(e, ERR_CONFLICT, "name",
                "dataset \"%s\" is used by job %lld (%s); cancel the job or let it finish first",
                name, (long long)sqlite3_column_int64(st, 0),
                (const char *)sqlite3_column_text(st, 1));
        goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (stmt_prepare(d, "DELETE FROM datasets WHERE name = ?1", &st, "prepare dataset delete", e) !=
        ERR_OK)
        goto fail;
    stmt_bind_text(st, 1, name);
    if (stmt_step_done(d, st, "delete dataset", e) != ERR_OK) goto fail;
    if (sqlite3_changes(db_sqlite(d)) == 0) {
        err_set(e, ERR_NOT_FOUND, "name", "no dataset named \"%s\"", name);
        goto fail;
    }
    sqlite3_finalize(st);
    return db_commit(d, e);
fail:
    sqlite3_finalize(st);
    db_rollback(d);
    return e->code;
}

err_code store_dataset_delete(db *d, const char *name, err *e)
{
    err_code rc = dataset_delete_once(d, name, e);
    /* on a full disk, make room (the log, the reserve) and commit in it */
    if (rc == ERR_STORAGE_FULL) {
        db_space_release(db_sqlite(d));
        err_clear(e);
        rc = dataset_delete_once(d, name, e);
    }
    return rc;
}
