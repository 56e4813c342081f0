/* store/versions.c: the model_versions rows, with their parameter BLOB. See
 * versions.h and migrations/0002_models.sql for the tables.
 *
 * DESIGN
 * Loading reads the version row, its networks and its layers inside one
 * read transaction (db_begin_read), so a concurrent delete cannot leave it
 * with a version whose layers are gone. What comes back is checked before
 * anyone uses it: the BLOB length, the checksum of the parameter bytes, the
 * layer numbering (model/model_rows.h), and finally model_def_validate, so a
 * damaged or hand-edited row is an ERR_DB naming the version, never a model
 * that crashes a solver.
 *
 * Statements are prepared per call: a put or a load (a cache miss) is
 * dominated by the disk and the rows, not by the parse. */
#include "store/versions.h"
#include "store/hybrid_internal.h"
#include "store/nets_internal.h"
#include "store/space_internal.h"
#include "store/stmt.h"
#include "store/model_row_internal.h"
#include "store/versions_internal.h"
#include "store/aliases_internal.h"

#include "core/log.h"
#include "model/model_name.h"
#include "model/model_rows.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- messages, counters ---- */

static err_code no_version(const char *name, int version, err *e)
{
    return err_set(e, ERR_NOT_FOUND, "version", "model \"%s\" has no version %d", name, version);
}

/* A stored row that cannot be what put wrote. */
static err_code corrupt(db *d, const char *name, int version, const char *what, err *e)
{
    char q[256];
    log_error("db_damaged", "path=%s model=%s version=%d what=%s", log_quote(q, sizeof q, db_path(d)),
              name, version, what);
    return err_set(e, ERR_DB, NULL, "database: model \"%s\" version %d is damaged: %s", name,
                   version, what);
}

static atomic_ulong version_changes, version_deletions;

unsigned long store_version_changes(void)
{
    return atomic_load(&version_changes);
}

unsigned long store_version_deletions(void)
{
    return atomic_load(&version_deletions);
}

void store_version_changed(bool deletion)
{
    if (deletion) atomic_fetch_add(&version_deletions, 1);
    atomic_fetch_add(&version_changes, 1);
}

/* ---- insert ---- */

static void bind_version_row(sqlite3_stmt *st, const model_def *def)
{
    model_version_row r;
    model_rows_version_encode(def, &r);
    stmt_bind_text(st, 4, r.kind);
    stmt_bind_text(st, 5, r.description);
    stmt_bind_int_opt(st, 6, r.state_dim);
    stmt_bind_int_opt(st, 7, r.augment_dim);
    stmt_bind_int_opt(st, 8, r.input_channels);
    stmt_bind_int_opt(st, 9, r.hidden_dim);
    stmt_bind_int_opt(st, 10, r.channel_time);
    stmt_bind_int_opt(st, 11, r.channel_intensity);
    stmt_bind_text(st, 12, r.interpolation);
    stmt_bind_text(st, 13, r.solver_method);
    stmt_bind_positive(st, 14, r.solver_rtol);
    stmt_bind_positive(st, 15, r.solver_atol);
    stmt_bind_int_opt(st, 16, r.solver_max_steps);
    stmt_bind_positive(st, 17, r.solver_first_step);
    stmt_bind_positive(st, 18, r.solver_min_step);
    stmt_bind_positive(st, 19, r.solver_max_step);
    stmt_bind_positive(st, 20, r.solver_step);
    stmt_bind_text(st, 24, r.calculus);
    stmt_bind_text(st, 25, r.noise);
    stmt_bind_int_opt(st, 26, r.brownian_dim);
    stmt_bind_text(st, 27, r.form);
}

err_code store_version_insert(db *d, const char *name, long long model_id, int version,
                              const char *now, const model_def *def, err *e)
{
    static const char sql[] =
        "INSERT INTO model_versions (model_id, version, created_at, kind, description, "
        "state_dim, augment_dim, input_channels, hidden_dim, channel_time, channel_intensity, "
        "interpolation, solver_method, solver_rtol, solver_atol, solver_max_steps, "
        "solver_first_step, solver_min_step, solver_max_step, solver_step, n_params, params, "
        "checksum, calculus, noise, brownian_dim, ham_form, base) VALUES (?1, ?2, ?3, ?4, ?5, "
        "?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, "
        "?24, ?25, ?26, ?27, ?28)";
    const char *what = "storing the model version";
    model_version_row vr;
    model_rows_version_encode(def, &vr);
    unsigned char *blob = malloc(def->n_params * 8 + vr.base_bytes);
    if (!blob) return err_set(e, ERR_NOMEM, NULL, "out of memory storing model \"%s\"", name);
    model_rows_params_encode(def, blob);
    if (vr.base_bytes) model_rows_base_encode(def, blob + def->n_params * 8);
    char sum[17];
    model_rows_checksum(def, sum);
    sqlite3_stmt *st = NULL;
    err_code rc = stmt_prepare(d, sql, &st, what, e);
    if (rc) goto out;
    stmt_bind_int(st, 1, model_id);
    stmt_bind_int(st, 2, version);
    stmt_bind_text(st, 3, now);
    bind_version_row(st, def);
    stmt_bind_int(st, 21, (long long)def->n_params);
    stmt_bind_blob(st, 22, blob, def->n_params * 8);
    stmt_bind_text(st, 23, sum);
    if (vr.base_bytes) stmt_bind_blob(st, 28, blob + def->n_params * 8, vr.base_bytes);
    if ((rc = stmt_step_done(d, st, what, e))) goto out;
    const long long vid = sqlite3_last_insert_rowid(db_sqlite(d));
    rc = store_net_insert(d, vid, def, e);
    if (!rc) rc = store_hybrid_insert(d, vid, def, e);
out:
    sqlite3_finalize(st);
    free(blob);
    return rc;
}

/* ---- list ---- */

err_code store_version_list(db *d, long long model_id, model_version_info **out, size_t n, err *e)
{
    const char *what = "listing the model's versions";
    sqlite3_stmt *st = NULL;
    model_version_info *v = calloc(n ? n : 1, sizeof *v);
    if (!v) return err_set(e, ERR_NOMEM, NULL, "out of memory listing versions");
    err_code rc = stmt_prepare(d,
                               "SELECT version, created_at, checksum, n_params, description "
                               "FROM model_versions WHERE model_id = ?1 ORDER BY version",
                               &st, what, e);
    size_t i = 0;
    int row = 0;
    if (!rc) stmt_bind_int(st, 1, model_id);
    while (!rc && i < n && (row = stmt_step_row(d, st, what, e)) == 1) {
        v[i].version = sqlite3_column_int(st, 0);
        stmt_column_text(st, 1, v[i].created_at, sizeof v[i].created_at);
        stmt_column_text(st, 2, v[i].checksum, sizeof v[i].checksum);
        v[i].n_params = (size_t)sqlite3_column_int64(st, 3);
        stmt_column_text_utf8(st, 4, v[i].description, sizeof v[i].description);
        i++;
    }
    if (row < 0) rc = ERR_DB;
    if (!rc && i != n)
        rc = err_set(e, ERR_INTERNAL, NULL, "versions changed inside a read transaction");
    sqlite3_finalize(st);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    return ERR_OK;
}

/* ---- load ---- */

/* Columns of the version row read by load. */
enum {
    V_ID,
    V_VERSION,
    V_CREATED,
    V_KIND,
    V_DESCRIPTION,
    V_STATE_DIM,
    V_AUGMENT_DIM,
    V_INPUT_CHANNELS,
    V_HIDDEN_DIM,
    V_CHANNEL_TIME,
    V_CHANNEL_INTENSITY,
    V_INTERPOLATION,
    V_METHOD,
    V_RTOL,
    V_ATOL,
    V_MAX_STEPS,
    V_FIRST_STEP,
    V_MIN_STEP,
    V_MAX_STEP,
    V_STEP,
    V_N_PARAMS,
    V_PARAMS_BYTES,
    V_CHECKSUM,
    V_CALCULUS,
    V_NOISE,
    V_BROWNIAN_DIM,
    V_HAM_FORM,
    V_BASE
};

static void read_version_row(sqlite3_stmt *st, model_version_row *r)
{
    r->kind = (const char *)sqlite3_column_text(st, V_KIND);
    r->description = (const char *)sqlite3_column_text(st, V_DESCRIPTION);
    r->state_dim = stmt_column_int_or(st, V_STATE_DIM, -1);
    r->augment_dim = stmt_column_int_or(st, V_AUGMENT_DIM, -1);
    r->input_channels = stmt_column_int_or(st, V_INPUT_CHANNELS, -1);
    r->hidden_dim = stmt_column_int_or(st, V_HIDDEN_DIM, -1);
    r->channel_time = stmt_column_int_or(st, V_CHANNEL_TIME, -1);
    r->channel_intensity = stmt_column_int_or(st, V_CHANNEL_INTENSITY, -1);
    r->interpolation = (const char *)sqlite3_column_text(st, V_INTERPOLATION);
    r->solver_method = (const char *)sqlite3_column_text(st, V_METHOD);
    r->solver_rtol = stmt_column_double_or(st, V_RTOL, 0.0);
    r->solver_atol = stmt_column_double_or(st, V_ATOL, 0.0);
    r->solver_max_steps = sqlite3_column_int64(st, V_MAX_STEPS);
    r->solver_first_step = stmt_column_double_or(st, V_FIRST_STEP, 0.0);
    r->solver_min_step = stmt_column_double_or(st, V_MIN_STEP, 0.0);
    r->solver_max_step = stmt_column_double_or(st, V_MAX_STEP, 0.0);
    r->solver_step = stmt_column_double_or(st, V_STEP, 0.0);
    r->calculus = (const char *)sqlite3_column_text(st, V_CALCULUS);
    r->noise = (const char *)sqlite3_column_text(st, V_NOISE);
    r->brownian_dim = stmt_column_int_or(st, V_BROWNIAN_DIM, -1);
    r->form = (const char *)sqlite3_column_text(st, V_HAM_FORM);
}

/* The parameter BLOB, checked against n_params and the checksum (*bad
 * says what is wrong). It is read with SQLite's incremental BLOB I/O
 * straight into def->params, without the intermediate copy that
 * sqlite3_column_blob would make, and decoded in place. */
static err_code read_params(db *d, sqlite3_stmt *st, model_def *def, const char **bad, err *e)
{
    long long n = stmt_column_int_or(st, V_N_PARAMS, -1);
    if (n < 1 || n > INT64_MAX / 8 || sqlite3_column_int64(st, V_PARAMS_BYTES) != 8 * n) {
        *bad = "the parameter BLOB does not hold n_params doubles";
        return ERR_OK;
    }
    if ((unsigned long long)n > SIZE_MAX / sizeof *def->params ||
        (unsigned long long)n > INT_MAX / 8 || /* sqlite3_blob_read takes an int */
        !(def->params = malloc((size_t)n * sizeof *def->params)))
        return err_set(e, ERR_NOMEM, NULL, "out of memory loading %lld parameters", n);
    def->n_params = (size_t)n;
    sqlite3_blob *blob = NULL;
    int s = sqlite3_blob_open(db_sqlite(d), "main", "model_versions", "params",
                              sqlite3_column_int64(st, V_ID), 0, &blob);
    if (s == SQLITE_OK) s = sqlite3_blob_read(blob, def->params, (int)(8 * n), 0);
    err_code rc = s == SQLITE_OK ? ERR_OK : db_error(d, e, "reading the parameters");
    sqlite3_blob_close(blob);
    if (rc) return rc;
    *bad = model_rows_params_decode(def, (const char *)sqlite3_column_text(st, V_CHECKSUM));
    return ERR_OK;
}

/* Everything the version row `st` points at, into def (which is freed by
 * the caller on failure). */
static err_code read_version(db *d, sqlite3_stmt *st, const char *name, int version, model_def *def,
                             err *e)
{
    sqlite3_int64 version_id = sqlite3_column_int64(st, V_ID);
    bool nomem = false;
    model_version_row r;
    read_version_row(st, &r);
    const char *bad = model_rows_version_decode(&r, def, &nomem);
    if (nomem) return err_set(e, ERR_NOMEM, NULL, "out of memory loading model \"%s\"", name);
    if (bad) return corrupt(d, name, version, bad, e);
    bad = model_rows_base_decode(sqlite3_column_blob(st, V_BASE),
                                 (size_t)sqlite3_column_bytes(st, V_BASE), def, &nomem);
    if (nomem) return err_set(e, ERR_NOMEM, NULL, "out of memory loading model \"%s\"", name);
    if (bad) return corrupt(d, name, version, bad, e);
    err_code rc = read_params(d, st, def, &bad, e);
    if (!rc && !bad) rc = store_net_load(d, version_id, def, &bad, e);
    if (!rc && !bad) rc = store_hybrid_load(d, version_id, def, &bad, e);
    if (rc) return rc;
    if (bad) return corrupt(d, name, version, bad, e);
    err v;
    err_clear(&v);
    if (model_def_validate(def, &v)) {
        char why[ERR_FIELD_MAX + ERR_MSG_MAX + 8];
        snprintf(why, sizeof why, "%s%s%s", v.field, v.field[0] ? ": " : "", v.message);
        return corrupt(d, name, version, why, e);
    }
    return ERR_OK;
}

/* Why a version was not found: the model, or only the version. */
static err_code not_found(db *d, const char *name, int version, err *e)
{
    const char *what = "reading the model";
    sqlite3_stmt *st = NULL;
    err_code rc = stmt_prepare(d, "SELECT 1 FROM models WHERE name = ?1", &st, what, e);
    if (rc) return rc;
    stmt_bind_text(st, 1, name);
    int row = stmt_step_row(d, st, what, e);
    sqlite3_finalize(st);
    if (row < 0) return ERR_DB;
    return row == 0 || version == 0 ? store_model_row_none(name, e)
                                    : no_version(name, version, e);
}

err_code store_version_load(db *d, const char *name, int version, model_def *def, int *loaded,
                            char created_at[32], err *e)
{
    static const char sql[] =
        "SELECT v.id, v.version, v.created_at, v.kind, v.description, v.state_dim, "
        "v.augment_dim, v.input_channels, v.hidden_dim, v.channel_time, v.channel_intensity, "
        "v.interpolation, v.solver_method, v.solver_rtol, v.solver_atol, v.solver_max_steps, "
        "v.solver_first_step, v.solver_min_step, v.solver_max_step, v.solver_step, v.n_params, "
        "length(v.params), v.checksum, v.calculus, v.noise, v.brownian_dim, v.ham_form, v.base "
        "FROM models m JOIN model_versions v ON v.model_id = m.id "
        "WHERE m.name = ?1 AND (?2 = 0 OR v.version = ?2) ORDER BY v.version DESC LIMIT 1";
    err_code rc = model_name_check(name, e);
    if (rc) return rc;
    if (version < 0)
        return err_set(e, ERR_INVALID, "version", "must be a version number >= 1 (or latest)");
    if ((rc = db_begin_read(d, e))) return rc;
    const char *what = "loading the model";
    sqlite3_stmt *st = NULL;
    model_def tmp;
    model_def_init(&tmp);
    if ((rc = stmt_prepare(d, sql, &st, what, e))) goto out;
    stmt_bind_text(st, 1, name);
    stmt_bind_int(st, 2, version);
    int row = stmt_step_row(d, st, what, e);
    if (row < 0) {
        rc = ERR_DB;
    } else if (row == 0) {
        rc = not_found(d, name, version, e);
    } else {
        int v = sqlite3_column_int(st, V_VERSION);
        rc = read_version(d, st, name, v, &tmp, e);
        if (!rc && loaded) *loaded = v;
        if (!rc && created_at) stmt_column_text(st, V_CREATED, created_at, 32);
    }
out:
    sqlite3_finalize(st);
    db_rollback(d);
    if (rc) {
        model_def_free(&tmp);
        return rc;
    }
    *def = tmp;
    return ERR_OK;
}

/* ---- delete ---- */

/* Run `sql` with ?1 = id, ?2 = version; *changes receives the rows changed. */
static err_code exec_id(db *d, const char *sql, long long id, int version, int *changes,
                        const char *what, err *e)
{
    sqlite3_stmt *st = NULL;
    err_code rc = stmt_prepare(d, sql, &st, what, e);
    if (rc) return rc;
    stmt_bind_int(st, 1, id);
    if (sqlite3_bind_parameter_count(st) >= 2) stmt_bind_int(st, 2, version);
    rc = stmt_step_done(d, st, what, e);
    if (!rc && changes) *changes = sqlite3_changes(db_sqlite(d));
    sqlite3_finalize(st);
    return rc;
}

err_code store_version_job_guard(db *d, const char *name, int version, const char *field, err *e)
{
    sqlite3_stmt *st = NULL;
    /* the job document is kept as submitted (valid JSON, decoded when it
     * was posted); from_version is a number there, 1 or 1.0 alike */
    err_code rc = stmt_prepare(d,
                               "SELECT id, status, json_extract(spec, '$.from_version') FROM jobs "
                               "WHERE model = ?1 AND status IN ('queued', 'running') "
                               "AND json_valid(spec) AND json_type(spec, '$.from_version') "
                               "IN ('integer', 'real') "
                               "AND (?2 = 0 OR json_extract(spec, '$.from_version') = ?2) "
                               "ORDER BY id LIMIT 1",
                               &st, "prepare version use", e);
    if (rc) return rc;
    stmt_bind_text(st, 1, name);
    stmt_bind_int(st, 2, version);
    int row = stmt_step_row(d, st, "version use", e);
    if (row < 0)
        rc = e->code;
    else if (row)
        rc = err_set(e, ERR_CONFLICT, field,
                     "version %lld of model \"%s\" is the from_version of job %lld (%s); cancel "
                     "the job or let it finish first",
                     (long long)sqlite3_column_double(st, 2), name,
                     (long long)sqlite3_column_int64(st, 0),
                     (const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    return rc;
}

static err_code version_delete_once(db *d, const char *name, int version, err *e)
{
    err_code rc = model_name_check(name, e);
    if (rc) return rc;
    if (version < 1) return err_set(e, ERR_INVALID, "version", "must be a version number >= 1");
    if ((rc = db_begin_immediate(d, e))) return rc;
    long long id = 0;
    int changed = 0;
    if ((rc = store_model_row_id(d, name, &id, e)) ||
        (rc = store_alias_guard(d, id, name, version, e)) ||
        (rc = store_version_job_guard(d, name, version, "version", e)))
        goto fail;
    if ((rc = exec_id(d, "DELETE FROM model_versions WHERE model_id = ?1 AND version = ?2", id,
                      version, &changed, "deleting the model version", e)))
        goto fail;
    if (changed == 0) {
        rc = no_version(name, version, e);
        goto fail;
    }
    /* The last version takes the model with it. */
    if ((rc = exec_id(d,
                      "DELETE FROM models WHERE id = ?1 AND NOT EXISTS "
                      "(SELECT 1 FROM model_versions WHERE model_id = ?1)",
                      id, 0, NULL, "deleting the model", e)))
        goto fail;
    rc = db_commit(d, e);
    store_version_changed(true);
    return rc;
fail:
    db_rollback(d);
    return rc;
}

err_code store_version_delete(db *d, const char *name, int version, err *e)
{
    err_code rc = version_delete_once(d, name, version, e);
    /* on a full disk, make room (the log, the reserve) and commit in it */
    if (rc == ERR_STORAGE_FULL) {
        db_space_release(db_sqlite(d));
        err_clear(e);
        rc = version_delete_once(d, name, version, e);
    }
    return rc;
}
