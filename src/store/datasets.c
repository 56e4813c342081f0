/* store/datasets.c: see datasets.h. Series are stored as BLOBs of doubles
 * in host byte order, which the schema calls little-endian: odeserve
 * targets little-endian machines (x86-64, aarch64). */
#include "store/datasets.h"

#include "store/db_internal.h"
#include "store/models.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW_SQL "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

static void copy_text(char *dst, size_t n, const unsigned char *src)
{
    snprintf(dst, n, "%s", src ? (const char *)src : "");
}

static err_code put_series(db *d, long long id, const dataset *ds, err *e)
{
    sqlite3_stmt *st = NULL;
    if (db_prepare(d,
                   "INSERT INTO dataset_series (dataset_id, idx, n_points, t, y, "
                   "label_class, label) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                   &st, "prepare dataset_series insert", e) != ERR_OK)
        return e->code;
    for (size_t s = 0; s < ds->n_series; s++) {
        const dataset_series *x = &ds->series[s];
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)s);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)x->n);
        sqlite3_bind_blob64(st, 4, x->t, (sqlite3_uint64)x->n * 8, SQLITE_STATIC);
        sqlite3_bind_blob64(st, 5, x->y, (sqlite3_uint64)(x->n * ds->channels) * 8, SQLITE_STATIC);
        if (ds->label_kind == DATASET_LABEL_CLASS) sqlite3_bind_int64(st, 6, x->label_class);
        if (ds->label_kind == DATASET_LABEL_VECTOR)
            sqlite3_bind_blob64(st, 7, x->label_vec, (sqlite3_uint64)ds->label_dim * 8,
                                SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) {
            db_error(d, e, "insert dataset series");
            sqlite3_finalize(st);
            return e->code;
        }
    }
    sqlite3_finalize(st);
    return ERR_OK;
}

err_code store_dataset_put(db *d, const char *name, const dataset *ds, err *e)
{
    if (model_name_check(name, e) != ERR_OK || dataset_validate(ds, e) != ERR_OK)
        return e->code;
    dataset_info in;
    dataset_summarise(ds, &in);
    sqlite3_stmt *st = NULL;
    if (db_begin_immediate(d, e) != ERR_OK) return e->code;
    if (db_prepare(d,
                   "INSERT INTO datasets (name, created_at, channels, n_series, n_points, "
                   "n_missing, t_min, t_max, label_kind, label_dim) VALUES (?1, " NOW_SQL
                   ", ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (name) DO NOTHING",
                   &st, "prepare dataset insert", e) != ERR_OK)
        goto fail;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)in.channels);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)in.n_series);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)in.n_points);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)in.n_missing);
    sqlite3_bind_double(st, 6, in.t_min);
    sqlite3_bind_double(st, 7, in.t_max);
    sqlite3_bind_text(st, 8, dataset_label_kind_name(ds->label_kind), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)ds->label_dim);
    if (sqlite3_step(st) != SQLITE_DONE) {
        db_error(d, e, "insert dataset");
        goto fail;
    }
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
    "label_dim, id"

static long long read_info(sqlite3_stmt *st, dataset_info *in)
{
    memset(in, 0, sizeof *in);
    copy_text(in->name, sizeof in->name, sqlite3_column_text(st, 0));
    copy_text(in->created_at, sizeof in->created_at, sqlite3_column_text(st, 1));
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
    if (db_prepare(d, "SELECT " INFO_COLS " FROM datasets ORDER BY name", &st,
                   "prepare dataset list", e) != ERR_OK)
        return e->code;
    void *rows;
    err_code rc =
        db_collect_rows(d, st, sizeof **out, read_info_row, NULL, &rows, n, "listing datasets", e);
    sqlite3_finalize(st);
    *out = rows;
    return rc;
}

static err_code find(db *d, const char *name, dataset_info *info, long long *id, err *e)
{
    if (model_name_check(name, e) != ERR_OK) return e->code;
    sqlite3_stmt *st = NULL;
    if (db_prepare(d, "SELECT " INFO_COLS " FROM datasets WHERE name = ?1", &st,
                   "prepare dataset lookup", e) != ERR_OK)
        return e->code;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
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

static double *blob_doubles(sqlite3_stmt *st, int col, size_t n)
{
    if ((size_t)sqlite3_column_bytes(st, col) != n * 8) return NULL;
    double *p = malloc(n ? n * 8 : 8);
    if (p && n) memcpy(p, sqlite3_column_blob(st, col), n * 8);
    return p;
}

static err_code load_series(db *d, long long id, dataset *ds, err *e)
{
    sqlite3_stmt *st = NULL;
    if (db_prepare(d,
                   "SELECT n_points, t, y, label_class, label FROM dataset_series "
                   "WHERE dataset_id = ?1 ORDER BY idx",
                   &st, "prepare dataset load", e) != ERR_OK)
        return e->code;
    sqlite3_bind_int64(st, 1, id);
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

err_code store_dataset_delete(db *d, const char *name, err *e)
{
    if (model_name_check(name, e) != ERR_OK) return e->code;
    sqlite3_stmt *st = NULL;
    if (db_begin_immediate(d, e) != ERR_OK) return e->code;
    if (db_prepare(d, "DELETE FROM datasets WHERE name = ?1", &st, "prepare dataset delete", e) !=
        ERR_OK)
        goto fail;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        db_error(d, e, "delete dataset");
        goto fail;
    }
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
