/* store/jobs.c: see jobs.h. */
#include "store/jobs.h"
#include "model/model_name.h"
#include "store/models_internal.h"
#include "store/stmt.h"
#include "store/versions_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A nullable REAL column: NaN ("none yet") for NULL. */
static double col_real(sqlite3_stmt *st, int col)
{
    return stmt_column_double_or(st, col, NAN);
}

err_code store_job_create(db *d, const char *model, const char *dataset, const char *spec,
                          long iterations, long long *id, err *e)
{
    sqlite3_stmt *st = NULL;
    /* the codec checked them; the store holds to the pattern on its own,
     * as it does for uploads */
    const char *bad = !model_name_ok(model) ? "model" : !model_name_ok(dataset) ? "dataset" : NULL;
    if (bad)
        return err_set(e, ERR_INVALID, bad,
                       "a %s name is 1 to %d characters, each a letter, a digit, '.', '_' or '-'",
                       bad, MODEL_NAME_MAX);
    if (db_begin_immediate(d, e) != ERR_OK) return e->code;
    if (stmt_prepare(d,
                     "INSERT INTO jobs (model, dataset, spec, status, created_at, iterations) "
                     "VALUES (?1, ?2, ?3, 'queued', " STMT_NOW_SQL ", ?4)",
                     &st, "prepare", e) != ERR_OK)
        goto fail;
    stmt_bind_text(st, 1, model);
    stmt_bind_text(st, 2, dataset);
    stmt_bind_text(st, 3, spec);
    stmt_bind_int(st, 4, iterations);
    if (stmt_step_done(d, st, "insert job", e) != ERR_OK) goto fail;
    *id = sqlite3_last_insert_rowid(db_sqlite(d));
    sqlite3_finalize(st);
    return db_commit(d, e);
fail:
    sqlite3_finalize(st);
    db_rollback(d);
    return e->code;
}

#define INFO_COLS                                                                                  \
    "id, model, dataset, status, cancel_requested, created_at, started_at, finished_at, "          \
    "iterations, iteration, train_loss, val_loss, best_train_loss, best_val_loss, elapsed, "       \
    "result_version, error"

static void read_info(sqlite3_stmt *st, job_info *j)
{
    memset(j, 0, sizeof *j);
    j->id = sqlite3_column_int64(st, 0);
    stmt_column_text(st, 1, j->model, sizeof j->model);
    stmt_column_text(st, 2, j->dataset, sizeof j->dataset);
    job_status s = JOB_QUEUED;
    job_status_from_name((const char *)sqlite3_column_text(st, 3), &s, NULL);
    j->status = s;
    j->cancel_requested = sqlite3_column_int(st, 4) != 0;
    stmt_column_text(st, 5, j->created_at, sizeof j->created_at);
    stmt_column_text(st, 6, j->started_at, sizeof j->started_at);
    stmt_column_text(st, 7, j->finished_at, sizeof j->finished_at);
    j->iterations = (long)sqlite3_column_int64(st, 8);
    j->iteration = (long)sqlite3_column_int64(st, 9);
    j->train_loss = col_real(st, 10);
    j->val_loss = col_real(st, 11);
    j->best_train_loss = col_real(st, 12);
    j->best_val_loss = col_real(st, 13);
    j->elapsed = sqlite3_column_double(st, 14);
    j->result_version = sqlite3_column_int(st, 15);
    stmt_column_text(st, 16, j->error, sizeof j->error);
}

err_code store_job_get(db *d, long long id, job_info *out, err *e)
{
    sqlite3_stmt *st = NULL;
    if (stmt_prepare(d, "SELECT " INFO_COLS " FROM jobs WHERE id = ?1", &st, "prepare", e) !=
        ERR_OK)
        return e->code;
    stmt_bind_int(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        read_info(st, out);
    else if (rc == SQLITE_DONE)
        err_set(e, ERR_NOT_FOUND, "id", "no job %lld", id);
    else
        db_error(d, e, "get job");
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? ERR_OK : e->code;
}

static void read_info_row(sqlite3_stmt *st, void *row, void *ctx)
{
    (void)ctx;
    read_info(st, row);
}

err_code store_job_list(db *d, int status, job_info **out, size_t *n, err *e)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    if (stmt_prepare(d,
                     "SELECT " INFO_COLS " FROM jobs WHERE ?1 IS NULL OR status = ?1 ORDER BY id",
                     &st, "prepare", e) != ERR_OK)
        return e->code;
    if (status >= 0) stmt_bind_text(st, 1, job_status_name((job_status)status));
    void *rows;
    err_code rc =
        stmt_collect_rows(d, st, sizeof **out, read_info_row, NULL, &rows, n, "listing jobs", e);
    sqlite3_finalize(st);
    *out = rows;
    return rc;
}

err_code store_job_counts(db *d, long long counts[JOB__COUNT], double *iters_per_s, err *e)
{
    for (int i = 0; i < JOB__COUNT; i++)
        counts[i] = 0;
    *iters_per_s = 0;
    sqlite3_stmt *st = NULL;
    if (stmt_prepare(d,
                     "SELECT status, count(*), "
                     "total(CASE WHEN elapsed > 0 THEN iteration / elapsed END) "
                     "FROM jobs GROUP BY status",
                     &st, "prepare", e) != ERR_OK)
        return e->code;
    int row;
    while ((row = stmt_step_row(d, st, "counting jobs", e)) > 0) {
        char name[32];
        stmt_column_text(st, 0, name, sizeof name);
        job_status s;
        err ignore;
        err_clear(&ignore);
        if (job_status_from_name(name, &s, &ignore) != ERR_OK) continue;
        counts[s] = sqlite3_column_int64(st, 1);
        if (s == JOB_RUNNING) *iters_per_s = sqlite3_column_double(st, 2);
    }
    sqlite3_finalize(st);
    return row < 0 ? e->code : ERR_OK;
}

static void read_metric_row(sqlite3_stmt *st, void *row, void *ctx)
{
    job_metric *m = row;
    (void)ctx;
    m->iteration = (long)sqlite3_column_int64(st, 0);
    m->train_loss = col_real(st, 1);
    m->val_loss = col_real(st, 2);
    m->elapsed = sqlite3_column_double(st, 3);
}

err_code store_job_metrics(db *d, long long id, job_metric **out, size_t *n, err *e)
{
    job_info j;
    *out = NULL;
    *n = 0;
    if (store_job_get(d, id, &j, e) != ERR_OK) return e->code;
    sqlite3_stmt *st = NULL;
    if (stmt_prepare(d,
                     "SELECT iteration, train_loss, val_loss, elapsed FROM job_metrics "
                     "WHERE job_id = ?1 ORDER BY iteration",
                     &st, "prepare", e) != ERR_OK)
        return e->code;
    stmt_bind_int(st, 1, id);
    void *rows;
    err_code rc = stmt_collect_rows(d, st, sizeof **out, read_metric_row, NULL, &rows, n,
                                    "reading metrics", e);
    sqlite3_finalize(st);
    *out = rows;
    return rc;
}

err_code store_job_spec(db *d, long long id, char **spec, err *e)
{
    *spec = NULL;
    sqlite3_stmt *st = NULL;
    if (stmt_prepare(d, "SELECT spec FROM jobs WHERE id = ?1", &st, "prepare", e) != ERR_OK)
        return e->code;
    stmt_bind_int(st, 1, id);
    int s = stmt_step_row(d, st, "reading a job", e);
    err_code rc = s < 0 ? e->code : ERR_OK;
    if (s == 0) rc = err_set(e, ERR_NOT_FOUND, "id", "no job %lld", id);
    if (s > 0 && !(*spec = strdup((const char *)sqlite3_column_text(st, 0))))
        rc = err_set(e, ERR_NOMEM, NULL, "out of memory reading a job");
    sqlite3_finalize(st);
    return rc;
}

err_code store_job_metric_parameters(db *d, long long id, double **out, size_t *n_rows,
                                     size_t *n_par, err *e)
{
    *out = NULL;
    *n_rows = *n_par = 0;
    sqlite3_stmt *st = NULL;
    if (stmt_prepare(d,
                     "SELECT parameters FROM job_metrics WHERE job_id = ?1 AND parameters IS NOT "
                     "NULL ORDER BY iteration",
                     &st, "prepare", e) != ERR_OK)
        return e->code;
    stmt_bind_int(st, 1, id);
    double *v = NULL;
    size_t rows = 0, np = 0, cap = 0;
    err_code rc = ERR_OK;
    int s;
    while ((s = stmt_step_row(d, st, "reading metrics", e)) > 0) {
        const size_t n = (size_t)sqlite3_column_bytes(st, 0) / sizeof(double);
        const void *p = sqlite3_column_blob(st, 0);
        if (rows == 0) np = n;
        if (n != np || !p) { /* one job's rows all have the model's count */
            rc = err_set(e, ERR_DB, NULL, "job %lld: metric rows with %zu and %zu parameters", id,
                         np, n);
            break;
        }
        if ((rows + 1) * np > cap) {
            size_t nc = cap ? 2 * cap : 64 * np;
            double *q = realloc(v, nc * sizeof *q);
            if (!q) {
                rc = err_set(e, ERR_NOMEM, NULL, "out of memory reading metrics");
                break;
            }
            v = q;
            cap = nc;
        }
        memcpy(v + rows * np, p, np * sizeof(double));
        rows++;
    }
    if (rc == ERR_OK && s < 0) rc = e->code;
    sqlite3_finalize(st);
    if (rc != ERR_OK) {
        free(v);
        return rc;
    }
    *out = v;
    *n_rows = rows;
    *n_par = np;
    return ERR_OK;
}

/* Run one parameterised UPDATE on job `id`; *changed = rows changed. */
static err_code update(db *d, const char *sql, long long id, int *changed, err *e)
{
    sqlite3_stmt *st = NULL;
    if (stmt_prepare(d, sql, &st, "prepare", e) != ERR_OK) return e->code;
    stmt_bind_int(st, 1, id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_error(d, e, "update job");
    if (changed) *changed = sqlite3_changes(db_sqlite(d));
    return ERR_OK;
}

err_code store_job_cancel(db *d, long long id, job_status *after, err *e)
{
    job_info j;
    int changed = 0;
    if (db_begin_immediate(d, e) != ERR_OK) return e->code;
    if (store_job_get(d, id, &j, e) != ERR_OK) goto fail;
    if (j.status == JOB_QUEUED) {
        if (update(d,
                   "UPDATE jobs SET status = 'cancelled', finished_at = " STMT_NOW_SQL
                   ", error = 'cancelled before it started' WHERE id = ?1",
                   id, &changed, e) != ERR_OK)
            goto fail;
        *after = JOB_CANCELLED;
    } else if (j.status == JOB_RUNNING) {
        if (update(d, "UPDATE jobs SET cancel_requested = 1 WHERE id = ?1", id, &changed, e) !=
            ERR_OK)
            goto fail;
        *after = JOB_RUNNING;
    } else {
        err_set(e, ERR_CONFLICT, "id", "job %lld has already finished (%s)", id,
                job_status_name(j.status));
        goto fail;
    }
    return db_commit(d, e);
fail:
    db_rollback(d);
    return e->code;
}

err_code store_job_requeue_all(db *d, size_t *n, err *e)
{
    int changed = 0;
    if (db_begin_immediate(d, e) != ERR_OK) return e->code;
    /* A cancel answered 202 before the stop or crash is done now, as its
     * worker would have done at its next iteration: resuming the job would
     * only train it until its first checkpoint read the request. */
    if (update(d,
               "UPDATE jobs SET status = 'cancelled', finished_at = " STMT_NOW_SQL
               ", error = 'cancelled at iteration ' || iteration "
               "WHERE status IN ('running', 'queued') AND cancel_requested AND ?1 = ?1",
               0, NULL, e) != ERR_OK ||
        update(d, "UPDATE jobs SET status = 'queued' WHERE status = 'running' AND ?1 = ?1", 0,
               &changed, e) != ERR_OK) {
        db_rollback(d);
        return e->code;
    }
    if (n) *n = (size_t)changed;
    return db_commit(d, e);
}

err_code store_job_requeue(db *d, long long id, err *e)
{
    if (db_begin_immediate(d, e) != ERR_OK) return e->code;
    if (update(d, "UPDATE jobs SET status = 'queued' WHERE id = ?1 AND status = 'running'", id,
               NULL, e) != ERR_OK) {
        db_rollback(d);
        return e->code;
    }
    return db_commit(d, e);
}

static err_code read_ckpt(db *d, long long id, job_ckpt *ck, err *e)
{
    sqlite3_stmt *st = NULL;
    memset(ck, 0, sizeof *ck);
    if (stmt_prepare(
            d,
            "SELECT iteration, elapsed, train_loss, val_loss, best_train_loss, best_val_loss, "
            "ckpt_params, ckpt_best, ckpt_optim, ckpt_optim_steps, ckpt_rng FROM jobs "
            "WHERE id = ?1 AND ckpt_params IS NOT NULL",
            &st, "prepare", e) != ERR_OK)
        return e->code;
    stmt_bind_int(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        size_t nb, no;
        bool ok;
        ck->iteration = (long)sqlite3_column_int64(st, 0);
        ck->elapsed = sqlite3_column_double(st, 1);
        ck->train_loss = col_real(st, 2);
        ck->val_loss = col_real(st, 3);
        ck->best_train_loss = col_real(st, 4);
        ck->best_val_loss = col_real(st, 5);
        ok = stmt_column_doubles(st, 6, &ck->params, &ck->n_params);
        ok = stmt_column_doubles(st, 7, &ck->best, &nb) && ok;
        ok = stmt_column_doubles(st, 8, &ck->optim, &no) && ok;
        ck->optim_len = no;
        ck->optim_steps = (long)sqlite3_column_int64(st, 9);
        if (sqlite3_column_bytes(st, 10) == 32) memcpy(ck->rng, sqlite3_column_blob(st, 10), 32);
        if (!ok || !ck->params || !ck->best || nb != ck->n_params) {
            err_set(e, ERR_DB, "id", "job %lld: checkpoint damaged or out of memory", id);
            job_ckpt_free(ck);
            rc = SQLITE_ERROR;
        }
    } else if (rc != SQLITE_DONE) {
        db_error(d, e, "read checkpoint");
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? ERR_OK : e->code;
}

err_code store_job_claim(db *d, bool *found, long long *id, char **spec, job_ckpt *ck, err *e)
{
    sqlite3_stmt *st = NULL;
    *found = false;
    *spec = NULL;
    memset(ck, 0, sizeof *ck);
    if (db_begin_immediate(d, e) != ERR_OK) return e->code;
    if (stmt_prepare(d, "SELECT id, spec FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1",
                     &st, "prepare", e) != ERR_OK)
        goto fail;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(st);
        db_rollback(d);
        return ERR_OK;
    }
    if (rc != SQLITE_ROW) {
        db_error(d, e, "claim job");
        goto fail;
    }
    *id = sqlite3_column_int64(st, 0);
    *spec = strdup((const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    st = NULL;
    if (!*spec) {
        err_set(e, ERR_NOMEM, NULL, "out of memory claiming a job");
        goto fail;
    }
    if (update(d,
               "UPDATE jobs SET status = 'running', started_at = coalesce(started_at, " STMT_NOW_SQL
               ") WHERE id = ?1",
               *id, NULL, e) != ERR_OK ||
        read_ckpt(d, *id, ck, e) != ERR_OK)
        goto fail;
    if (db_commit(d, e) != ERR_OK) goto fail;
    *found = true;
    return ERR_OK;
fail:
    sqlite3_finalize(st);
    db_rollback(d);
    free(*spec);
    *spec = NULL;
    job_ckpt_free(ck);
    return e->code;
}

static err_code insert_metrics(db *d, long long id, const job_metric *rows, size_t n, err *e)
{
    sqlite3_stmt *st = NULL;
    if (stmt_prepare(d,
                     "INSERT INTO job_metrics (job_id, iteration, train_loss, val_loss, elapsed, "
                     "parameters) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                     &st, "prepare", e) != ERR_OK)
        return e->code;
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(st);
        stmt_bind_int(st, 1, id);
        stmt_bind_int(st, 2, rows[i].iteration);
        stmt_bind_finite(st, 3, rows[i].train_loss);
        stmt_bind_finite(st, 4, rows[i].val_loss);
        stmt_bind_double(st, 5, rows[i].elapsed);
        if (rows[i].parameters && rows[i].n_parameters)
            stmt_bind_doubles(st, 6, rows[i].parameters, rows[i].n_parameters);
        else
            sqlite3_bind_null(st, 6);
        if (stmt_step_done(d, st, "insert metrics", e) != ERR_OK) {
            sqlite3_finalize(st);
            return e->code;
        }
    }
    sqlite3_finalize(st);
    return ERR_OK;
}

err_code store_job_checkpoint(db *d, long long id, const job_ckpt *ck, const job_metric *rows,
                              size_t n_rows, bool *cancel, err *e)
{
    sqlite3_stmt *st = NULL;
    if (db_begin_immediate(d, e) != ERR_OK) return e->code;
    if (insert_metrics(d, id, rows, n_rows, e) != ERR_OK ||
        stmt_prepare(
            d,
            "UPDATE jobs SET iteration = ?2, elapsed = ?3, train_loss = ?4, val_loss = ?5, "
            "best_train_loss = ?6, best_val_loss = ?7, ckpt_params = ?8, ckpt_best = ?9, "
            "ckpt_optim = ?10, ckpt_optim_steps = ?11, ckpt_rng = ?12 WHERE id = ?1 "
            "RETURNING cancel_requested",
            &st, "prepare", e) != ERR_OK)
        goto fail;
    stmt_bind_int(st, 1, id);
    stmt_bind_int(st, 2, ck->iteration);
    stmt_bind_double(st, 3, ck->elapsed);
    stmt_bind_finite(st, 4, ck->train_loss);
    stmt_bind_finite(st, 5, ck->val_loss);
    stmt_bind_finite(st, 6, ck->best_train_loss);
    stmt_bind_finite(st, 7, ck->best_val_loss);
    stmt_bind_doubles(st, 8, ck->params, ck->n_params);
    stmt_bind_doubles(st, 9, ck->best, ck->n_params);
    if (ck->optim_len) stmt_bind_doubles(st, 10, ck->optim, ck->optim_len);
    stmt_bind_int(st, 11, ck->optim_steps);
    stmt_bind_blob(st, 12, ck->rng, sizeof ck->rng);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        if (rc == SQLITE_DONE)
            err_set(e, ERR_NOT_FOUND, "id", "no job %lld", id);
        else
            db_error(d, e, "write checkpoint");
        goto fail;
    }
    if (cancel) *cancel = sqlite3_column_int(st, 0) != 0;
    sqlite3_step(st);
    sqlite3_finalize(st);
    return db_commit(d, e);
fail:
    sqlite3_finalize(st);
    db_rollback(d);
    return e->code;
}

err_code store_job_finish(db *d, long long id, job_status status, const char *error, err *e)
{
    sqlite3_stmt *st = NULL;
    if (db_begin_immediate(d, e) != ERR_OK) return e->code;
    if (stmt_prepare(d,
                     "UPDATE jobs SET status = ?2, error = ?3, finished_at = " STMT_NOW_SQL
                     " WHERE id = ?1",
                     &st, "prepare", e) != ERR_OK)
        goto fail;
    stmt_bind_int(st, 1, id);
    stmt_bind_text(st, 2, job_status_name(status));
    if (error) stmt_bind_text(st, 3, error);
    if (stmt_step_done(d, st, "finish job", e) != ERR_OK) goto fail;
    sqlite3_finalize(st);
    return db_commit(d, e);
fail:
    sqlite3_finalize(st);
    db_rollback(d);
    return e->code;
}

err_code store_job_succeed(db *d, long long id, const char *model, const model_def *def,
                           int *version, err *e)
{
    sqlite3_stmt *st = NULL;
    int v = 0;
    if (db_begin_immediate(d, e) != ERR_OK) return e->code;
    if (store_model_put_in_tx(d, model, def, &v, e) != ERR_OK ||
        stmt_prepare(d,
                     "UPDATE jobs SET status = 'succeeded', result_version = ?2, error = NULL, "
                     "finished_at = " STMT_NOW_SQL " WHERE id = ?1 AND status = 'running'",
                     &st, "prepare", e) != ERR_OK)
        goto fail;
    stmt_bind_int(st, 1, id);
    stmt_bind_int(st, 2, v);
    if (stmt_step_done(d, st, "finish job", e) != ERR_OK) goto fail;
    if (sqlite3_changes(db_sqlite(d)) != 1) {
        err_set(e, ERR_CONFLICT, "id", "job %lld is not running: its result is not stored", id);
        goto fail;
    }
    sqlite3_finalize(st);
    err_code rc = db_commit(d, e);
    store_version_changed(false);
    if (rc == ERR_OK && version) *version = v;
    return rc;
fail:
    sqlite3_finalize(st);
    db_rollback(d);
    return e->code;
}
