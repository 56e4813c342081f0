/* store/models.c: models and their versions in SQLite. See models.h and
 * migrations/0002_models.sql for the tables.
 *
 * DESIGN
 * A version is written in one BEGIN IMMEDIATE transaction: the model row
 * (created on the first version), its next_version counter, the version row
 * with the parameter BLOB, then one row per network and per layer. The write
 * lock is taken before next_version is read, so concurrent uploads queue on
 * the lock (busy_timeout) and get consecutive numbers; a failure anywhere
 * rolls the whole version back.
 *
 * Loading reads the version row, its networks and its layers inside one
 * read transaction (db_begin_read), so a concurrent delete cannot leave it
 * with a version whose layers are gone. What comes back is checked before
 * anyone uses it: the BLOB length, the checksum of the parameter bytes, the
 * layer numbering, and finally model_def_validate, so a damaged or hand-
 * edited row is an ERR_DB naming the version, never a model that crashes a
 * solver.
 *
 * Parameters are stored as little-endian IEEE 754 doubles whatever the
 * host's byte order (the same bytes model_def_checksum hashes), so a
 * database file moves between machines. Statements are prepared per call:
 * a put or a load (a cache miss) is dominated by the disk and the rows, not
 * by the parse. */
#include "store/models.h"
#include "store/models_internal.h"
#include "store/stmt.h"

#include "nn/act.h"

#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW_SQL "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

/* ---- names, messages ---- */

static err_code no_model(const char *name, err *e)
{
    return err_set(e, ERR_NOT_FOUND, "name", "no model named \"%s\"", name);
}

static err_code no_version(const char *name, int version, err *e)
{
    return err_set(e, ERR_NOT_FOUND, "version", "model \"%s\" has no version %d", name, version);
}

/* A stored row that cannot be what put wrote. */
static err_code corrupt(db *d, const char *name, int version, const char *what, err *e)
{
    return err_set(e, ERR_DB, NULL, "%s: model \"%s\" version %d is damaged: %s", db_path(d), name,
                   version, what);
}

/* ---- statements ---- */

/* sqlite3_step expecting SQLITE_DONE. */
static err_code step_done(db *d, sqlite3_stmt *st, const char *what, err *e)
{
    if (sqlite3_step(st) == SQLITE_DONE) return ERR_OK;
    return db_error(d, e, what);
}

/* sqlite3_step: 1 for a row, 0 when done, -1 on error (recorded in e). */
static int step_row(db *d, sqlite3_stmt *st, const char *what, err *e)
{
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) return 1;
    if (s == SQLITE_DONE) return 0;
    db_error(d, e, what);
    return -1;
}

/* Bind helpers: SQLite reports bind errors again at step, so their codes
 * are not checked one by one. */
static void bind_size(sqlite3_stmt *st, int i, size_t v)
{
    sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

/* "Not set" (0) solver settings are stored as NULL. */
static void bind_opt_double(sqlite3_stmt *st, int i, double v)
{
    if (v > 0)
        sqlite3_bind_double(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

static void copy_text(char *dst, size_t n, const unsigned char *src)
{
    snprintf(dst, n, "%s", src ? (const char *)src : "");
}

/* A column that must hold an integer in [lo, hi]; -1 if it does not. */
static long long col_range(sqlite3_stmt *st, int i, long long lo, long long hi)
{
    if (sqlite3_column_type(st, i) != SQLITE_INTEGER) return -1;
    long long v = sqlite3_column_int64(st, i);
    return v < lo || v > hi ? -1 : v;
}

/* A nullable REAL column: 0 (not set) for NULL. */
static double col_opt_double(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? 0.0 : sqlite3_column_double(st, i);
}

/* ---- parameters ---- */

/* n doubles as little-endian bytes (8 n), whatever the host's order. The
 * shifts compile to plain 64-bit loads and stores on a little-endian host. */
static void params_to_le(unsigned char *dst, const double *src, size_t n)
{
    for (size_t i = 0; i < n; i++, dst += 8) {
        uint64_t b;
        memcpy(&b, &src[i], sizeof b);
        dst[0] = (unsigned char)b;
        dst[1] = (unsigned char)(b >> 8);
        dst[2] = (unsigned char)(b >> 16);
        dst[3] = (unsigned char)(b >> 24);
        dst[4] = (unsigned char)(b >> 32);
        dst[5] = (unsigned char)(b >> 40);
        dst[6] = (unsigned char)(b >> 48);
        dst[7] = (unsigned char)(b >> 56);
    }
}

static void params_from_le(double *dst, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, s += 8) {
        uint64_t b = (uint64_t)s[0] | (uint64_t)s[1] << 8 | (uint64_t)s[2] << 16 |
                     (uint64_t)s[3] << 24 | (uint64_t)s[4] << 32 | (uint64_t)s[5] << 40 |
                     (uint64_t)s[6] << 48 | (uint64_t)s[7] << 56;
        memcpy(&dst[i], &b, sizeof b);
    }
}

static void checksum_hex(const model_def *def, char out[17])
{
    snprintf(out, 17, "%016llx", model_def_checksum(def));
}

/* ---- put ---- */

/* The fields of the other kind must be unset: the tables store a kind's
 * own fields only (the others read back as zero), so what put accepts
 * loads back exactly. */
static err_code check_kind_fields(const model_def *def, err *e)
{
    const char *f = NULL;
    if (def->kind == MODEL_KIND_ODE) {
        if (def->input_channels)
            f = "input_channels";
        else if (def->hidden_dim)
            f = "hidden_dim";
        else if (def->channel_time || def->channel_intensity)
            f = "channels";
        else if (def->interp != MODEL_INTERP_LINEAR)
            f = "interpolation";
    } else if (def->state_dim) {
        f = "state_dim";
    } else if (def->augment_dim) {
        f = "augment_dim";
    }
    if (!f) return ERR_OK;
    return err_set(e, ERR_INVALID, f, "is not a field of a%s %s model",
                   def->kind == MODEL_KIND_ODE ? "n" : "", model_kind_name(def->kind));
}

static err_code check_def(const model_def *def, err *e)
{
    if (!def) return err_set(e, ERR_INTERNAL, NULL, "store_model_put: model_def is NULL");
    if (strnlen(def->solver.method, MODEL_METHOD_MAX) == MODEL_METHOD_MAX)
        return err_set(e, ERR_INVALID, "solver.method", "longer than %d characters",
                       MODEL_METHOD_MAX - 1);
    err_code rc = model_def_validate(def, e);
    if (rc) return rc;
    return check_kind_fields(def, e);
}

/* The model's id and the number the new version gets; creates the model
 * on its first version and advances next_version. Inside the write
 * transaction. */
static err_code reserve_version(db *d, const char *name, const char *now, sqlite3_int64 *model_id,
                                int *version, err *e)
{
    sqlite3_stmt *st = NULL;
    const char *what = "reading the model";
    err_code rc =
        stmt_prepare(d, "SELECT id, next_version FROM models WHERE name = ?1", &st, what, e);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int row = step_row(d, st, what, e);
    if (row == 1) {
        *model_id = sqlite3_column_int64(st, 0);
        long long next = sqlite3_column_int64(st, 1);
        if (next < 1 || next >= INT32_MAX)
            rc = err_set(e, ERR_DB, NULL, "%s: model \"%s\": next_version %lld out of range",
                         db_path(d), name, next);
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
        sqlite3_bind_int64(st, 1, *model_id);
    } else {
        what = "creating the model";
        if ((rc = stmt_prepare(
                 d, "INSERT INTO models (name, created_at, next_version) VALUES (?1, ?2, 2)", &st,
                 what, e)))
            return rc;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
        *version = 1;
    }
    rc = step_done(d, st, what, e);
    if (!rc && row == 0) *model_id = sqlite3_last_insert_rowid(db_sqlite(d));
    sqlite3_finalize(st);
    return rc;
}

static void bind_version_fields(sqlite3_stmt *st, const model_def *def)
{
    if (def->description) sqlite3_bind_text(st, 5, def->description, -1, SQLITE_STATIC);
    if (def->kind == MODEL_KIND_ODE) {
        sqlite3_bind_text(st, 4, "ode", -1, SQLITE_STATIC);
        bind_size(st, 6, def->state_dim);
        bind_size(st, 7, def->augment_dim);
    } else {
        sqlite3_bind_text(st, 4, "cde", -1, SQLITE_STATIC);
        bind_size(st, 8, def->input_channels);
        bind_size(st, 9, def->hidden_dim);
        sqlite3_bind_int(st, 10, def->channel_time);
        sqlite3_bind_int(st, 11, def->channel_intensity);
        sqlite3_bind_text(st, 12, model_interp_name(def->interp), -1, SQLITE_STATIC);
    }
    const model_solver *s = &def->solver;
    if (s->method[0]) sqlite3_bind_text(st, 13, s->method, -1, SQLITE_STATIC);
    bind_opt_double(st, 14, s->rtol);
    bind_opt_double(st, 15, s->atol);
    if (s->max_steps > 0) sqlite3_bind_int64(st, 16, s->max_steps);
    bind_opt_double(st, 17, s->first_step);
    bind_opt_double(st, 18, s->min_step);
    bind_opt_double(st, 19, s->max_step);
    bind_opt_double(st, 20, s->step);
}

static err_code insert_version(db *d, sqlite3_int64 model_id, int version, const char *now,
                               const model_def *def, const unsigned char *blob,
                               sqlite3_int64 *version_id, err *e)
{
    static const char sql[] =
        "INSERT INTO model_versions (model_id, version, created_at, kind, description, "
        "state_dim, augment_dim, input_channels, hidden_dim, channel_time, channel_intensity, "
        "interpolation, solver_method, solver_rtol, solver_atol, solver_max_steps, "
        "solver_first_step, solver_min_step, solver_max_step, solver_step, n_params, params, "
        "checksum) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
        "?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)";
    const char *what = "storing the model version";
    sqlite3_stmt *st = NULL;
    err_code rc = stmt_prepare(d, sql, &st, what, e);
    if (rc) return rc;
    char sum[17];
    checksum_hex(def, sum);
    sqlite3_bind_int64(st, 1, model_id);
    sqlite3_bind_int(st, 2, version);
    sqlite3_bind_text(st, 3, now, -1, SQLITE_STATIC);
    bind_version_fields(st, def);
    bind_size(st, 21, def->n_params);
    sqlite3_bind_blob64(st, 22, blob, (sqlite3_uint64)def->n_params * 8, SQLITE_STATIC);
    sqlite3_bind_text(st, 23, sum, -1, SQLITE_STATIC);
    rc = step_done(d, st, what, e);
    if (!rc) *version_id = sqlite3_last_insert_rowid(db_sqlite(d));
    sqlite3_finalize(st);
    return rc;
}

static err_code insert_nets(db *d, sqlite3_int64 version_id, const model_def *def, err *e)
{
    const char *what = "storing the model's networks";
    sqlite3_stmt *net = NULL, *layer = NULL;
    err_code rc = stmt_prepare(d,
                               "INSERT INTO model_nets (version_id, net, name, in_dim, time_input) "
                               "VALUES (?1, ?2, ?3, ?4, ?5)",
                               &net, what, e);
    if (!rc)
        rc =
            stmt_prepare(d,
                         "INSERT INTO model_layers (version_id, net, layer, kind, in_dim, out_dim, "
                         "activation) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                         &layer, what, e);
    for (size_t i = 0; !rc && i < def->n_nets; i++) {
        const model_net *n = &def->nets[i];
        sqlite3_reset(net);
        sqlite3_bind_int64(net, 1, version_id);
        bind_size(net, 2, i);
        sqlite3_bind_text(net, 3, model_net_name(def->kind, i), -1, SQLITE_STATIC);
        bind_size(net, 4, n->in_dim);
        sqlite3_bind_int(net, 5, n->time_input);
        rc = step_done(d, net, what, e);
        for (size_t j = 0; !rc && j < n->n_layers; j++) {
            const mlp_layer *l = &n->layers[j];
            sqlite3_reset(layer);
            sqlite3_bind_int64(layer, 1, version_id);
            bind_size(layer, 2, i);
            bind_size(layer, 3, j);
            sqlite3_bind_text(layer, 4, l->kind == MLP_LINEAR ? "linear" : "elementwise", -1,
                              SQLITE_STATIC);
            bind_size(layer, 5, l->in);
            bind_size(layer, 6, l->out);
            sqlite3_bind_text(layer, 7, mlp_act_name(l->act), -1, SQLITE_STATIC);
            rc = step_done(d, layer, what, e);
        }
    }
    sqlite3_finalize(net);
    sqlite3_finalize(layer);
    return rc;
}

/* The current time as stored ("2026-11-27T17:49:30.123Z"), from SQLite's
 * clock so that every timestamp in the file has one source. */
static err_code now_text(db *d, char out[32], err *e)
{
    sqlite3_stmt *st = NULL;
    const char *what = "reading the time";
    err_code rc = stmt_prepare(d, "SELECT " NOW_SQL, &st, what, e);
    if (rc) return rc;
    if (step_row(d, st, what, e) == 1)
        copy_text(out, 32, sqlite3_column_text(st, 0));
    else
        rc = err_set(e, ERR_DB, NULL, "%s: %s: no row", db_path(d), what);
    sqlite3_finalize(st);
    return rc;
}

err_code store_model_put_in_tx(db *d, const char *name, const model_def *def, int *version, err *e)
{
    err_code rc = model_name_check(name, e);
    if (rc || (rc = check_def(def, e))) return rc;
    unsigned char *blob = malloc(def->n_params * 8);
    if (!blob) return err_set(e, ERR_NOMEM, NULL, "out of memory storing model \"%s\"", name);
    params_to_le(blob, def->params, def->n_params);
    char now[32];
    sqlite3_int64 model_id = 0, version_id = 0;
    int v = 0;
    if ((rc = now_text(d, now, e)) || (rc = reserve_version(d, name, now, &model_id, &v, e)) ||
        (rc = insert_version(d, model_id, v, now, def, blob, &version_id, e)) ||
        (rc = insert_nets(d, version_id, def, e)))
        goto out;
    if (version) *version = v;
out:
    free(blob);
    return rc;
}

static atomic_ulong models_changes, models_deletions;

unsigned long store_models_changes(void)
{
    return atomic_load(&models_changes);
}

unsigned long store_models_deletions(void)
{
    return atomic_load(&models_deletions);
}

/* After a deletion's transaction ends: see store_models_deletions. */
static void models_deleted(void)
{
    atomic_fetch_add(&models_deletions, 1);
    store_models_changed();
}

void store_models_changed(void)
{
    atomic_fetch_add(&models_changes, 1);
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
    store_models_changed();
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
    copy_text(info->name, sizeof info->name, sqlite3_column_text(st, 0));
    copy_text(info->created_at, sizeof info->created_at, sqlite3_column_text(st, 1));
    const char *kind = (const char *)sqlite3_column_text(st, 2);
    info->kind = kind && strcmp(kind, "cde") == 0 ? MODEL_KIND_CDE : MODEL_KIND_ODE;
    if (info->kind == MODEL_KIND_ODE) {
        info->state_dim = (size_t)sqlite3_column_int64(st, 3);
    } else {
        size_t added = sqlite3_column_int(st, 10) ? 1 : 0, ch = (size_t)sqlite3_column_int64(st, 8);
        info->input_channels = ch;
        info->data_channels = ch >= added ? ch - added : 0;
        if (sqlite3_column_int(st, 11)) info->data_channels /= 2;
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

/* First `max - 1` bytes of s at most, cut at a UTF-8 character boundary
 * (the description goes into JSON replies). */
static void copy_utf8_prefix(char *dst, size_t max, const unsigned char *s)
{
    size_t len = s ? strlen((const char *)s) : 0;
    if (len >= max) {
        len = max - 1;
        while (len > 0 && (s[len] & 0xc0) == 0x80) /* s[len] continues a character */
            len--;
    }
    if (len) memcpy(dst, s, len);
    dst[len] = '\0';
}

static err_code read_versions(db *d, sqlite3_int64 model_id, model_version_info **out, size_t n,
                              err *e)
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
    if (!rc) sqlite3_bind_int64(st, 1, model_id);
    while (!rc && i < n && (row = step_row(d, st, what, e)) == 1) {
        v[i].version = sqlite3_column_int(st, 0);
        copy_text(v[i].created_at, sizeof v[i].created_at, sqlite3_column_text(st, 1));
        copy_text(v[i].checksum, sizeof v[i].checksum, sqlite3_column_text(st, 2));
        v[i].n_params = (size_t)sqlite3_column_int64(st, 3);
        copy_utf8_prefix(v[i].description, sizeof v[i].description, sqlite3_column_text(st, 4));
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

err_code store_model_get(db *d, const char *name, model_info *info, model_version_info **versions,
                         size_t *n, err *e)
{
    *versions = NULL;
    *n = 0;
    err_code rc = model_name_check(name, e);
    if (rc || (rc = db_begin_read(d, e))) return rc;
    const char *what = "reading the model";
    sqlite3_stmt *st = NULL;
    sqlite3_int64 model_id = 0;
    if ((rc = stmt_prepare(d, INFO_SELECT "AND m.name = ?1", &st, what, e))) goto out;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int row = step_row(d, st, what, e);
    if (row == 1) {
        read_info(st, info);
        model_id = sqlite3_column_int64(st, 7);
    }
    sqlite3_finalize(st);
    if (row < 0) rc = ERR_DB;
    if (row == 0) rc = no_model(name, e);
    if (!rc) rc = read_versions(d, model_id, versions, (size_t)info->n_versions, e);
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
    if ((rc = db_stmt(d, sql, &st, e))) return rc; /* on every request for "latest" */
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int row = step_row(d, st, what, e);
    if (row < 0)
        rc = ERR_DB;
    else if (row == 0 || sqlite3_column_type(st, 0) == SQLITE_NULL)
        rc = no_model(name, e);
    else
        *version = sqlite3_column_int(st, 0);
    db_stmt_reset(st);
    return rc;
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
    V_CHECKSUM
};

/* The version row's scalar fields into def. NULL when they are sound,
 * else what is wrong (*nomem: an allocation failed). */
static const char *read_scalars(sqlite3_stmt *st, model_def *def, bool *nomem)
{
    const char *kind = (const char *)sqlite3_column_text(st, V_KIND);
    if (!kind || model_kind_from_name(kind, &def->kind, NULL)) return "unknown kind";
    const unsigned char *desc = sqlite3_column_text(st, V_DESCRIPTION);
    if (desc && !(def->description = strdup((const char *)desc))) {
        *nomem = true;
        return "out of memory";
    }
    const long long big = (long long)MLP_MAX_WIDTH * MLP_MAX_WIDTH;
    long long v[6] = {0};
    if (def->kind == MODEL_KIND_ODE) {
        v[0] = col_range(st, V_STATE_DIM, 1, big);
        v[1] = col_range(st, V_AUGMENT_DIM, 0, big);
        def->state_dim = (size_t)v[0];
        def->augment_dim = (size_t)v[1];
    } else {
        v[2] = col_range(st, V_INPUT_CHANNELS, 1, big);
        v[3] = col_range(st, V_HIDDEN_DIM, 1, big);
        v[4] = col_range(st, V_CHANNEL_TIME, 0, 1);
        v[5] = col_range(st, V_CHANNEL_INTENSITY, 0, 1);
        const char *interp = (const char *)sqlite3_column_text(st, V_INTERPOLATION);
        if (!interp || model_interp_from_name(interp, &def->interp, NULL))
            return "unknown interpolation";
        def->input_channels = (size_t)v[2];
        def->hidden_dim = (size_t)v[3];
        def->channel_time = v[4] == 1;
        def->channel_intensity = v[5] == 1;
    }
    for (int i = 0; i < 6; i++)
        if (v[i] < 0) return "a dimension is out of range";
    model_solver *s = &def->solver;
    const unsigned char *method = sqlite3_column_text(st, V_METHOD);
    if (method && strlen((const char *)method) >= sizeof s->method) return "solver method too long";
    copy_text(s->method, sizeof s->method, method);
    s->rtol = col_opt_double(st, V_RTOL);
    s->atol = col_opt_double(st, V_ATOL);
    s->max_steps = (long)sqlite3_column_int64(st, V_MAX_STEPS);
    s->first_step = col_opt_double(st, V_FIRST_STEP);
    s->min_step = col_opt_double(st, V_MIN_STEP);
    s->max_step = col_opt_double(st, V_MAX_STEP);
    s->step = col_opt_double(st, V_STEP);
    return NULL;
}

/* The parameter BLOB, checked against n_params and the checksum (*bad
 * says what is wrong). It is read with SQLite's incremental BLOB I/O
 * straight into def->params, without the intermediate copy that
 * sqlite3_column_blob would make, and converted in place. */
static err_code read_params(db *d, sqlite3_stmt *st, model_def *def, const char **bad, err *e)
{
    long long n = col_range(st, V_N_PARAMS, 1, INT64_MAX / 8);
    if (n < 0 || sqlite3_column_int64(st, V_PARAMS_BYTES) != 8 * n) {
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
    params_from_le(def->params, (const unsigned char *)def->params, def->n_params);
    char sum[17];
    checksum_hex(def, sum);
    const unsigned char *stored = sqlite3_column_text(st, V_CHECKSUM);
    if (!stored || strcmp((const char *)stored, sum) != 0)
        *bad = "parameter checksum mismatch (the stored parameters changed since they were "
               "written)";
    return ERR_OK;
}

static err_code read_nets(db *d, sqlite3_int64 version_id, model_def *def, const char **bad, err *e)
{
    const char *what = "reading the model's networks";
    sqlite3_stmt *st = NULL;
    err_code rc =
        stmt_prepare(d,
                     "SELECT net, in_dim, time_input FROM model_nets WHERE version_id = ?1 "
                     "ORDER BY net",
                     &st, what, e);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, version_id);
    size_t want = model_kind_n_nets(def->kind);
    int row = 0;
    while (!*bad && (row = step_row(d, st, what, e)) == 1) {
        long long in = col_range(st, 1, 1, (long long)MLP_MAX_WIDTH * MLP_MAX_WIDTH);
        if (col_range(st, 0, 0, MODEL_MAX_NETS - 1) != (long long)def->n_nets || in < 0 ||
            def->n_nets >= want)
            *bad = "its networks are not numbered 0, 1, ... as its kind requires";
        else {
            model_net *n = &def->nets[def->n_nets++];
            n->in_dim = (size_t)in;
            n->time_input = sqlite3_column_int(st, 2) != 0;
        }
    }
    if (!*bad && def->n_nets != want) *bad = "a network is missing";
    sqlite3_finalize(st);
    return row < 0 ? ERR_DB : ERR_OK;
}

static err_code read_layers(db *d, sqlite3_int64 version_id, model_def *def, const char **bad,
                            err *e)
{
    const char *what = "reading the model's layers";
    sqlite3_stmt *st = NULL;
    err_code rc =
        stmt_prepare(d,
                     "SELECT net, layer, kind, in_dim, out_dim, activation FROM model_layers "
                     "WHERE version_id = ?1 ORDER BY net, layer",
                     &st, what, e);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, version_id);
    int row = 0;
    while (!*bad && (row = step_row(d, st, what, e)) == 1) {
        long long net = col_range(st, 0, 0, (long long)def->n_nets - 1);
        model_net *n = net < 0 ? NULL : &def->nets[net];
        if (!n || col_range(st, 1, 0, MLP_MAX_LAYERS - 1) != (long long)n->n_layers) {
            *bad = "its layers are not numbered 0, 1, ... in each network";
            break;
        }
        mlp_layer *l = &n->layers[n->n_layers++];
        const char *kind = (const char *)sqlite3_column_text(st, 2);
        long long in = col_range(st, 3, 0, MLP_MAX_WIDTH), out = col_range(st, 4, 0, MLP_MAX_WIDTH);
        const char *act = (const char *)sqlite3_column_text(st, 5);
        if (!kind || (strcmp(kind, "linear") != 0 && strcmp(kind, "elementwise") != 0) || in < 0 ||
            out < 0 || mlp_act_from_name(act, &l->act, NULL)) {
            *bad = "a layer has an unknown kind, activation or width";
            break;
        }
        l->kind = strcmp(kind, "linear") == 0 ? MLP_LINEAR : MLP_ELEMENTWISE;
        l->in = (size_t)in;
        l->out = (size_t)out;
    }
    for (size_t i = 0; !*bad && i < def->n_nets; i++)
        if (def->nets[i].n_layers == 0) *bad = "a network has no layers";
    sqlite3_finalize(st);
    return row < 0 ? ERR_DB : ERR_OK;
}

/* Everything the version row `st` points at, into def (which is freed by
 * the caller on failure). */
static err_code read_version(db *d, sqlite3_stmt *st, const char *name, int version, model_def *def,
                             err *e)
{
    sqlite3_int64 version_id = sqlite3_column_int64(st, V_ID);
    bool nomem = false;
    const char *bad = read_scalars(st, def, &nomem);
    if (nomem) return err_set(e, ERR_NOMEM, NULL, "out of memory loading model \"%s\"", name);
    if (bad) return corrupt(d, name, version, bad, e);
    err_code rc = read_params(d, st, def, &bad, e);
    if (!rc && !bad) rc = read_nets(d, version_id, def, &bad, e);
    if (!rc && !bad) rc = read_layers(d, version_id, def, &bad, e);
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
    sqlite3_stmt *st = NULL;
    err_code rc =
        stmt_prepare(d, "SELECT 1 FROM models WHERE name = ?1", &st, "reading the model", e);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int row = step_row(d, st, "reading the model", e);
    sqlite3_finalize(st);
    if (row < 0) return ERR_DB;
    return row == 0 || version == 0 ? no_model(name, e) : no_version(name, version, e);
}

err_code store_model_load(db *d, const char *name, int version, model_def *def, int *loaded,
                          char created_at[32], err *e)
{
    static const char sql[] =
        "SELECT v.id, v.version, v.created_at, v.kind, v.description, v.state_dim, "
        "v.augment_dim, v.input_channels, v.hidden_dim, v.channel_time, v.channel_intensity, "
        "v.interpolation, v.solver_method, v.solver_rtol, v.solver_atol, v.solver_max_steps, "
        "v.solver_first_step, v.solver_min_step, v.solver_max_step, v.solver_step, v.n_params, "
        "length(v.params), v.checksum FROM models m JOIN model_versions v ON v.model_id = m.id "
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
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, version);
    int row = step_row(d, st, what, e);
    if (row < 0) {
        rc = ERR_DB;
    } else if (row == 0) {
        rc = not_found(d, name, version, e);
    } else {
        int v = sqlite3_column_int(st, V_VERSION);
        rc = read_version(d, st, name, v, &tmp, e);
        if (!rc && loaded) *loaded = v;
        if (!rc && created_at) copy_text(created_at, 32, sqlite3_column_text(st, V_CREATED));
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

err_code store_model_delete(db *d, const char *name, err *e)
{
    err_code rc = model_name_check(name, e);
    if (rc || (rc = db_begin_immediate(d, e))) return rc;
    const char *what = "deleting the model";
    sqlite3_stmt *st = NULL;
    if (!(rc = stmt_prepare(d, "DELETE FROM models WHERE name = ?1", &st, what, e))) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = step_done(d, st, what, e);
        if (!rc && sqlite3_changes(db_sqlite(d)) == 0) rc = no_model(name, e);
    }
    sqlite3_finalize(st);
    if (rc)
        db_rollback(d);
    else
        rc = db_commit(d, e);
    models_deleted();
    return rc;
}

/* Run `sql` with ?1 = id, ?2 = version; *changes receives the rows changed. */
static err_code exec_id(db *d, const char *sql, sqlite3_int64 id, int version, int *changes,
                        const char *what, err *e)
{
    sqlite3_stmt *st = NULL;
    err_code rc = stmt_prepare(d, sql, &st, what, e);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_bind_parameter_count(st) >= 2) sqlite3_bind_int(st, 2, version);
    rc = step_done(d, st, what, e);
    if (!rc && changes) *changes = sqlite3_changes(db_sqlite(d));
    sqlite3_finalize(st);
    return rc;
}

/* The id of model `name`; ERR_NOT_FOUND if there is none. */
static err_code model_id_of(db *d, const char *name, sqlite3_int64 *id, err *e)
{
    sqlite3_stmt *st = NULL;
    err_code rc =
        stmt_prepare(d, "SELECT id FROM models WHERE name = ?1", &st, "reading the model", e);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int row = step_row(d, st, "reading the model", e);
    if (row == 1) *id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return row < 0 ? ERR_DB : row == 0 ? no_model(name, e) : ERR_OK;
}

err_code store_model_delete_version(db *d, const char *name, int version, err *e)
{
    err_code rc = model_name_check(name, e);
    if (rc) return rc;
    if (version < 1) return err_set(e, ERR_INVALID, "version", "must be a version number >= 1");
    if ((rc = db_begin_immediate(d, e))) return rc;
    sqlite3_int64 id = 0;
    int changed = 0;
    if ((rc = model_id_of(d, name, &id, e))) goto fail;
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
    models_deleted();
    return rc;
fail:
    db_rollback(d);
    return rc;
}
