/* check_models: models and versions in SQLite (store/models.h), on real
 * database files, checked through the API and, independently, through SQL
 * on the tables of migrations/0002_models.sql. */
#include "build_config.h"

#include "core/log.h"
#include "store/db_internal.h"
#include "store/aliases.h"
#include "store/jobs.h"
#include "store/models.h"
#include "store_testlib.h"
#include "testutil.h"

#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static int exec_sql(db *d, const char *sql)
{
    return sqlite3_exec(db_sqlite(d), sql, NULL, NULL, NULL);
}

/* Rows in each model table, as one string, for before/after comparisons. */
static char *table_counts(db *d)
{
    return stl_q_text(
        d, "SELECT (SELECT count(*) FROM models) || ' ' || "
           "(SELECT count(*) FROM model_versions) || ' ' || "
           "(SELECT count(*) FROM model_nets) || ' ' || "
           "(SELECT count(*) FROM model_layers) || ' ' || "
           "(SELECT coalesce(group_concat(name || ':' || next_version), '') FROM models)");
}

/* Rows whose parent is gone, in every child table, plus foreign_key_check. */
static long long orphans(db *d)
{
    long long n = stl_q_int(d, "SELECT "
                               "(SELECT count(*) FROM model_versions v WHERE NOT EXISTS "
                               "  (SELECT 1 FROM models m WHERE m.id = v.model_id)) + "
                               "(SELECT count(*) FROM model_nets n WHERE NOT EXISTS "
                               "  (SELECT 1 FROM model_versions v WHERE v.id = n.version_id)) + "
                               "(SELECT count(*) FROM model_layers l WHERE NOT EXISTS "
                               "  (SELECT 1 FROM model_nets n WHERE n.version_id = l.version_id "
                               "   AND n.net = l.net))");
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db_sqlite(d), "PRAGMA foreign_key_check", -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
        n++;
    sqlite3_finalize(st);
    return n;
}

static int put_ok(db *d, const char *name, const model_def *def)
{
    err e;
    err_clear(&e);
    int v = -1;
    ck_assert_msg(store_model_put(d, name, def, &v, &e) == ERR_OK, "put %s: %s: %s", name, e.field,
                  e.message);
    ck_assert_int_ge(v, 1);
    return v;
}

static void put_example(db *d, const char *name, bool cde, unsigned seed, int want_version)
{
    model_def def;
    if (cde)
        stl_cde_def(&def, seed);
    else
        stl_ode_def(&def, seed);
    ck_assert_int_eq(put_ok(d, name, &def), want_version);
    model_def_free(&def);
}

static void load_ok(db *d, const char *name, int version, model_def *out, int *loaded)
{
    err e;
    err_clear(&e);
    model_def_init(out);
    ck_assert_msg(store_version_load(d, name, version, out, loaded, NULL, &e) == ERR_OK,
                  "load %s %d: %s", name, version, e.message);
}

/* Expect `rc` with e.code, e.field and (when msg is not NULL) e.message. */
static void expect_err(err_code rc, const err *e, err_code code, const char *field, const char *msg)
{
    ck_assert_msg(rc == code && e->code == code, "got %s (%s: %s), want %s", err_code_name(rc),
                  e->field, e->message, err_code_name(code));
    ck_assert_msg(strcmp(e->field, field) == 0, "field %s, want %s (%s)", e->field, field,
                  e->message);
    if (msg) ck_assert_str_eq(e->message, msg);
}

/* 64-bit FNV-1a of a byte string: the checksum, computed here from the
 * stored BLOB rather than from the doubles. */
static char *fnv_hex_of_blob(db *d, const char *sql)
{
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db_sqlite(d), sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *b = sqlite3_column_blob(st, 0);
    int n = sqlite3_column_bytes(st, 0);
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    sqlite3_finalize(st);
    char *s = malloc(17);
    ck_assert_ptr_nonnull(s);
    snprintf(s, 17, "%016llx", (unsigned long long)h);
    return s;
}

static bool is_timestamp(const char *s)
{
    /* 2026-11-27T17:49:30.123Z */
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (strlen(s) != sizeof shape - 1) return false;
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i]) return false;
    return true;
}

/* ---- round trips ---- */

START_TEST(ode_round_trip)
{
    db *d = stl_open();
    model_def def, back;
    stl_ode_def(&def, 1);
    ck_assert_int_eq(put_ok(d, "spiral", &def), 1);

    int loaded = 0;
    char created[32] = "";
    err e;
    err_clear(&e);
    model_def_init(&back);
    ck_assert_int_eq(store_version_load(d, "spiral", 1, &back, &loaded, created, &e), ERR_OK);
    ck_assert_int_eq(loaded, 1);
    ck_assert_msg(is_timestamp(created), "created_at %s", created);
    stl_assert_def_eq(&def, &back);
    ck_assert_ptr_ne(back.params, def.params);
    model_def_free(&back);
    load_ok(d, "spiral", 0, &back, &loaded); /* latest */
    ck_assert_int_eq(loaded, 1);
    stl_assert_def_eq(&def, &back);
    model_def_free(&back);

    /* The stored form, read with SQL: little-endian doubles (params[0] is
     * 1.0, params[1] is -0.0), the FNV-1a of exactly those bytes, unset
     * solver fields as NULL, the other kind's fields NULL. */
    char *hex = stl_q_text(d, "SELECT hex(substr(params, 1, 16)) FROM model_versions");
    ck_assert_str_eq(hex, "000000000000F03F0000000000000080");
    free(hex);
    char *sum = fnv_hex_of_blob(d, "SELECT params FROM model_versions");
    char *stored = stl_q_text(d, "SELECT checksum FROM model_versions");
    ck_assert_str_eq(stored, sum);
    char want[17];
    snprintf(want, sizeof want, "%016llx", model_def_checksum(&def));
    ck_assert_str_eq(stored, want);
    free(sum);
    free(stored);
    ck_assert_int_eq(stl_q_int(d,
                               "SELECT count(*) FROM model_versions WHERE solver_step IS NULL "
                               "AND hidden_dim IS NULL AND interpolation IS NULL "
                               "AND solver_method = 'tsit5' AND state_dim = 2 AND n_params = 67"),
                     1);
    ck_assert_int_eq(stl_q_int(d, "SELECT count(*) FROM model_layers"), 4);
    char *acts = stl_q_text(d, "SELECT group_concat(kind || ':' || activation, ',') FROM "
                               "(SELECT * FROM model_layers ORDER BY layer)");
    ck_assert_str_eq(acts, "elementwise:cube,linear:tanh,elementwise:sin,linear:identity");
    free(acts);
    model_def_free(&def);
    db_close(d);
}
END_TEST

START_TEST(cde_round_trip)
{
    db *d = stl_open();
    model_def def, back;
    stl_cde_def(&def, 2);
    ck_assert_ptr_null(def.description);
    ck_assert_int_eq(put_ok(d, "patients", &def), 1);
    int loaded = 0;
    load_ok(d, "patients", 0, &back, &loaded);
    ck_assert_int_eq(loaded, 1);
    stl_assert_def_eq(&def, &back);
    ck_assert_ptr_null(back.description);
    model_def_free(&back);
    ck_assert_int_eq(stl_q_int(d, "SELECT count(*) FROM model_versions WHERE state_dim IS NULL "
                                  "AND augment_dim IS NULL AND interpolation = 'hermite_bdiff' "
                                  "AND description IS NULL AND solver_rtol IS NULL"),
                     1);
    char *nets = stl_q_text(d, "SELECT group_concat(name, ',') FROM (SELECT name FROM model_nets "
                               "ORDER BY net)");
    ck_assert_str_eq(nets, "initial,vector_field,readout");
    free(nets);

    /* An empty description stays empty (not NULL); every interpolation. */
    free(def.description);
    def.description = strdup("");
    for (int i = 0; i < MODEL_INTERP__COUNT; i++) {
        def.interp = (model_interp)i;
        ck_assert_int_eq(put_ok(d, "patients", &def), i + 2);
        load_ok(d, "patients", i + 2, &back, NULL);
        stl_assert_def_eq(&def, &back);
        ck_assert_str_eq(back.description, "");
        model_def_free(&back);
    }
    model_def_free(&def);
    db_close(d);
}
END_TEST

START_TEST(info_and_versions)
{
    db *d = stl_open();
    put_example(d, "m", false, 1, 1);
    put_example(d, "m", true, 2, 2);
    model_info info;
    model_version_info *v = NULL;
    size_t n = 0;
    err e;
    err_clear(&e);
    ck_assert_int_eq(store_model_get(d, "m", &info, &v, &n, &e), ERR_OK);
    ck_assert_str_eq(info.name, "m");
    ck_assert_int_eq(info.kind, MODEL_KIND_CDE); /* of the latest version */
    ck_assert_uint_eq(info.state_dim, 4);        /* a cde's: hidden_dim (its state z) */
    ck_assert_uint_eq(info.input_channels, 3);   /* stl_cde_def: time + 1 data + 1 intensity */
    ck_assert_uint_eq(info.data_channels, 1);
    ck_assert_uint_eq(info.hidden_dim, 4);
    ck_assert_uint_eq(info.output_dim, 2); /* the readout's width */
    ck_assert_int_eq(info.latest_version, 2);
    ck_assert_int_eq(info.n_versions, 2);
    ck_assert_uint_eq(n, 2);
    ck_assert(is_timestamp(info.created_at));
    ck_assert_str_eq(info.created_at, v[0].created_at); /* the model's = its first version's */
    ck_assert_int_eq(v[0].version, 1);
    ck_assert_int_eq(v[1].version, 2);
    ck_assert_uint_eq(v[0].n_params, 67);
    ck_assert_uint_eq(v[1].n_params, 123);
    ck_assert_str_eq(v[1].description, "");
    model_def ode;
    stl_ode_def(&ode, 1);
    ck_assert_str_eq(v[0].description, ode.description);
    char want[17];
    snprintf(want, sizeof want, "%016llx", model_def_checksum(&ode));
    ck_assert_str_eq(v[0].checksum, want);
    free(v);

    /* A long description is cut at 255 bytes, on a UTF-8 boundary. */
    free(ode.description);
    ode.description = malloc(MODEL_DESCRIPTION_MAX + 1);
    memset(ode.description, 'a', MODEL_DESCRIPTION_MAX);
    memcpy(ode.description + 254, "\xc3\xa9", 2); /* bytes 254 and 255 */
    ode.description[MODEL_DESCRIPTION_MAX] = '\0';
    ck_assert_int_eq(put_ok(d, "m", &ode), 3);
    ck_assert_int_eq(store_model_get(d, "m", &info, &v, &n, &e), ERR_OK);
    ck_assert_uint_eq(strlen(v[2].description), 254);
    ck_assert_int_eq(info.kind, MODEL_KIND_ODE);
    ck_assert_uint_eq(info.state_dim, 2);
    free(v);
    model_def back;
    load_ok(d, "m", 3, &back, NULL);
    ck_assert_str_eq(back.description, ode.description); /* the full text is stored */
    model_def_free(&back);

    int latest = 0;
    ck_assert_int_eq(store_model_latest(d, "m", &latest, &e), ERR_OK);
    ck_assert_int_eq(latest, 3);
    model_def_free(&ode);
    db_close(d);
}
END_TEST

/* Reads on one connection see what another one committed since (no read
 * snapshot is left open between calls, e.g. by a cached statement). */
START_TEST(reads_see_other_connections)
{
    db *a = stl_open(), *b = stl_open();
    put_example(a, "m", false, 1, 1);
    err e;
    err_clear(&e);
    for (int v = 1; v <= 3; v++) {
        int latest = 0;
        ck_assert_int_eq(store_model_latest(a, "m", &latest, &e), ERR_OK);
        ck_assert_int_eq(latest, v);
        model_def back;
        int loaded = 0;
        load_ok(a, "m", 0, &back, &loaded);
        ck_assert_int_eq(loaded, v);
        model_def_free(&back);
        put_example(b, "m", false, 1, v + 1);
    }
    ck_assert_int_eq(store_model_delete(b, "m", NULL, &e), ERR_OK);
    int latest = 0;
    ck_assert_int_eq(store_model_latest(a, "m", &latest, &e), ERR_NOT_FOUND);
    db_close(a);
    db_close(b);
}
END_TEST

/* ---- versions and deletion ---- */

START_TEST(versions_are_numbered_and_never_reused)
{
    db *d = stl_open();
    for (int v = 1; v <= 3; v++)
        put_example(d, "m", false, (unsigned)v, v);
    err e;
    err_clear(&e);
    ck_assert_int_eq(store_version_delete(d, "m", 3, &e), ERR_OK);
    int latest = 0;
    ck_assert_int_eq(store_model_latest(d, "m", &latest, &e), ERR_OK);
    ck_assert_int_eq(latest, 2);
    put_example(d, "m", true, 4, 4); /* not 3 again */
    ck_assert_int_eq(store_version_delete(d, "m", 2, &e), ERR_OK);

    model_info info;
    model_version_info *v = NULL;
    size_t n = 0;
    ck_assert_int_eq(store_model_get(d, "m", &info, &v, &n, &e), ERR_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(v[0].version, 1);
    ck_assert_int_eq(v[1].version, 4);
    ck_assert_int_eq(info.n_versions, 2);
    ck_assert_int_eq(info.latest_version, 4);
    free(v);

    /* Version 1 is untouched by its neighbours' deletion. */
    model_def want, back;
    stl_ode_def(&want, 1);
    load_ok(d, "m", 1, &back, NULL);
    stl_assert_def_eq(&want, &back);
    model_def_free(&want);
    model_def_free(&back);

    model_def_init(&back);
    expect_err(store_version_load(d, "m", 2, &back, NULL, NULL, &e), &e, ERR_NOT_FOUND, "version",
               "model \"m\" has no version 2");
    err_clear(&e);
    expect_err(store_version_delete(d, "m", 3, &e), &e, ERR_NOT_FOUND, "version",
               "model \"m\" has no version 3");
    ck_assert_int_eq(orphans(d), 0);
    char *counts = table_counts(d);
    ck_assert_str_eq(counts, "1 2 4 9 m:5"); /* nets 1 + 3, layers 4 + 5 */
    free(counts);
    db_close(d);
}
END_TEST

START_TEST(deleting_the_last_version_deletes_the_model)
{
    db *d = stl_open();
    put_example(d, "m", false, 1, 1);
    put_example(d, "m", false, 2, 2);
    err e;
    err_clear(&e);
    ck_assert_int_eq(store_version_delete(d, "m", 1, &e), ERR_OK);
    ck_assert_int_eq(stl_q_int(d, "SELECT count(*) FROM models"), 1);
    ck_assert_int_eq(store_version_delete(d, "m", 2, &e), ERR_OK);
    char *counts = table_counts(d);
    ck_assert_str_eq(counts, "0 0 0 0 ");
    free(counts);
    model_info info;
    model_version_info *v = NULL;
    size_t n = 5;
    expect_err(store_model_get(d, "m", &info, &v, &n, &e), &e, ERR_NOT_FOUND, "name",
               "no model named \"m\"");
    ck_assert_ptr_null(v);
    ck_assert_uint_eq(n, 0);
    /* A new model of that name starts again at 1. */
    put_example(d, "m", true, 3, 1);
    db_close(d);
}
END_TEST

START_TEST(deleting_a_model_cascades)
{
    db *d = stl_open();
    put_example(d, "a", false, 1, 1);
    put_example(d, "a", true, 2, 2);
    put_example(d, "a", false, 3, 3);
    put_example(d, "b", true, 4, 1);
    char *before = table_counts(d);
    ck_assert_str_eq(before, "2 4 8 18 a:4,b:2"); /* layers: 4 + 5 + 4, 5 */
    free(before);
    err e;
    err_clear(&e);
    ck_assert_int_eq(store_model_delete(d, "a", NULL, &e), ERR_OK);
    char *after = table_counts(d);
    ck_assert_str_eq(after, "1 1 3 5 b:2");
    free(after);
    ck_assert_int_eq(orphans(d), 0);
    expect_err(store_model_delete(d, "a", NULL, &e), &e, ERR_NOT_FOUND, "name", "no model named \"a\"");
    model_def want, back;
    stl_cde_def(&want, 4);
    load_ok(d, "b", 1, &back, NULL);
    stl_assert_def_eq(&want, &back);
    model_def_free(&want);
    model_def_free(&back);
    db_close(d);
}
END_TEST

/* A version that a queued or running job warm-starts from (from_version)
 * is kept, and so is its model: the job loads it when it starts and again
 * when it resumes after a restart, and failed there ("no model named")
 * once it was gone. 409 naming the job; other versions, other models and
 * jobs that ended do not hold anything. */
START_TEST(delete_refused_while_a_job_warm_starts_from_it)
{
    db *d = stl_open();
    put_example(d, "m", false, 1, 1);
    put_example(d, "m", false, 2, 2);
    put_example(d, "m", false, 3, 3);
    err e;
    err_clear(&e);
    long long id = 0, id2 = 0, id3 = 0;
    /* 2.0 is version 2 to the decoder; init jobs hold no version */
    ck_assert_int_eq(store_job_create(d, "m", "obs", "{\"model\": \"m\", \"from_version\": 2.0}",
                                      10, &id, &e),
                     ERR_OK);
    ck_assert_int_eq(store_job_create(d, "m", "obs", "{\"model\": \"m\", \"init\": {}}", 10, &id2,
                                      &e),
                     ERR_OK);
    ck_assert_int_eq(store_job_create(d, "other", "obs", "{\"from_version\": 3}", 10, &id3, &e),
                     ERR_OK);
    ck_assert_int_eq(store_version_delete(d, "m", 2, &e), ERR_CONFLICT); /* queued */
    ck_assert_str_eq(e.field, "version");
    char want[64];
    snprintf(want, sizeof want, "job %lld (queued)", id);
    ck_assert_msg(strstr(e.message, want) != NULL, "%s", e.message);
    err_clear(&e);
    ck_assert_int_eq(store_model_delete(d, "m", NULL, &e), ERR_CONFLICT);
    ck_assert_str_eq(e.field, "name");
    err_clear(&e);
    stl_job_claim(d, id);
    ck_assert_int_eq(store_version_delete(d, "m", 2, &e), ERR_CONFLICT); /* running */
    ck_assert_msg(strstr(e.message, "(running)") != NULL, "%s", e.message);
    err_clear(&e);
    ck_assert_int_eq(stl_q_int(d, "SELECT count(*) FROM model_versions"), 3); /* all kept */
    ck_assert_int_eq(store_version_delete(d, "m", 3, &e), ERR_OK); /* another version */
    ck_assert_int_eq(store_job_finish(d, id, JOB_FAILED, "stopped by the test", &e), ERR_OK);
    ck_assert_int_eq(store_version_delete(d, "m", 2, &e), ERR_OK);
    ck_assert_int_eq(store_model_delete(d, "m", NULL, &e), ERR_OK); /* id2: an init job */
    db_close(d);
}
END_TEST

/* A cancel answered while the job ran, then a crash (or a stop that could
 * not checkpoint): at the next start the job is cancelled, as its worker
 * would have done, not resumed; the other running job is requeued. */
START_TEST(cancel_requested_before_a_crash_is_done_at_start)
{
    db *d = stl_open();
    err e;
    err_clear(&e);
    long long id = 0, id2 = 0;
    ck_assert_int_eq(store_job_create(d, "m", "obs", "{}", 10, &id, &e), ERR_OK);
    ck_assert_int_eq(store_job_create(d, "m", "obs", "{}", 10, &id2, &e), ERR_OK);
    stl_job_claim(d, id);
    stl_job_claim(d, id2);
    job_status after = JOB_QUEUED;
    ck_assert_int_eq(store_job_cancel(d, id, &after, &e), ERR_OK);
    ck_assert_int_eq(after, JOB_RUNNING); /* asked: the worker would see it */
    size_t requeued = 0;
    ck_assert_int_eq(store_job_requeue_all(d, &requeued, &e), ERR_OK); /* the next start */
    ck_assert_uint_eq(requeued, 1);
    job_info j;
    ck_assert_int_eq(store_job_get(d, id, &j, &e), ERR_OK);
    ck_assert_int_eq(j.status, JOB_CANCELLED);
    ck_assert_str_eq(j.error, "cancelled at iteration 0");
    ck_assert(j.finished_at[0] != '\0');
    ck_assert_int_eq(store_job_get(d, id2, &j, &e), ERR_OK);
    ck_assert_int_eq(j.status, JOB_QUEUED);
    stl_job_claim(d, id2); /* the cancelled one is not claimed again */
    db_close(d);
}
END_TEST

START_TEST(list_is_sorted_by_name)
{
    db *d = stl_open();
    model_info *list = (model_info *)&list; /* must be replaced */
    size_t n = 9;
    err e;
    err_clear(&e);
    ck_assert_int_eq(store_model_list(d, &list, &n, &e), ERR_OK);
    ck_assert_uint_eq(n, 0);
    free(list);

    const char *names[] = {"b", "A", "a.1", "_z", "-x", "0", "a"};
    const char *sorted[] = {"-x", "0", "A", "_z", "a", "a.1", "b"}; /* bytes, case-sensitive */
    const size_t k = sizeof names / sizeof names[0];
    for (size_t i = 0; i < k; i++)
        put_example(d, names[i], i % 2 == 1, (unsigned)i, 1);
    put_example(d, "a", true, 9, 2);
    put_example(d, "a", false, 10, 3);
    ck_assert_int_eq(store_version_delete(d, "a", 3, &e), ERR_OK);
    ck_assert_int_eq(store_model_list(d, &list, &n, &e), ERR_OK);
    ck_assert_uint_eq(n, k);
    for (size_t i = 0; i < k; i++) {
        ck_assert_str_eq(list[i].name, sorted[i]);
        ck_assert(is_timestamp(list[i].created_at));
    }
    /* "a": versions 1 (ode), 2 (cde); 3 deleted: the latest is the cde. */
    ck_assert_int_eq(list[4].latest_version, 2);
    ck_assert_int_eq(list[4].n_versions, 2);
    ck_assert_int_eq(list[4].kind, MODEL_KIND_CDE);
    ck_assert_uint_eq(list[4].state_dim, 4);
    ck_assert_uint_eq(list[4].output_dim, 2);
    ck_assert_uint_eq(list[0].hidden_dim, 0);       /* an ode has none */
    ck_assert_int_eq(list[0].kind, MODEL_KIND_ODE); /* "-x", names[4] */
    ck_assert_int_eq(list[0].latest_version, 1);
    ck_assert_int_eq(list[0].n_versions, 1);
    free(list);
    db_close(d);
}
END_TEST

/* ---- errors ---- */

START_TEST(bad_names_are_invalid)
{
    db *d = stl_open();
    char long_name[MODEL_NAME_MAX + 2];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0'; /* 65 characters */
    const char *bad[] = {"", "a b", "a/b", "a\n", "caf\xc3\xa9", "a;b", "..\\x", long_name, NULL};
    model_def def;
    stl_ode_def(&def, 1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *name = bad[i];
        ck_assert(!model_name_ok(name));
        err e;
        int v = -7;
        err_clear(&e);
        expect_err(store_model_put(d, name, &def, &v, &e), &e, ERR_INVALID, "name", NULL);
        ck_assert_int_eq(v, -7);
        err_clear(&e);
        model_info info;
        model_version_info *vi = NULL;
        size_t n = 0;
        expect_err(store_model_get(d, name, &info, &vi, &n, &e), &e, ERR_INVALID, "name", NULL);
        err_clear(&e);
        expect_err(store_model_latest(d, name, &v, &e), &e, ERR_INVALID, "name", NULL);
        err_clear(&e);
        model_def back;
        model_def_init(&back);
        expect_err(store_version_load(d, name, 0, &back, NULL, NULL, &e), &e, ERR_INVALID, "name",
                   NULL);
        err_clear(&e);
        expect_err(store_model_delete(d, name, NULL, &e), &e, ERR_INVALID, "name", NULL);
        err_clear(&e);
        expect_err(store_version_delete(d, name, 1, &e), &e, ERR_INVALID, "name", NULL);
    }
    long_name[MODEL_NAME_MAX] = '\0'; /* 64 characters: fine */
    ck_assert(model_name_ok(long_name));
    ck_assert_int_eq(put_ok(d, long_name, &def), 1);
    ck_assert(model_name_ok("Az09._-"));
    ck_assert_int_eq(put_ok(d, "Az09._-", &def), 1);
    /* The schema refuses what the code would: a name the C check missed
     * still cannot get in. */
    ck_assert_int_ne(exec_sql(d, "INSERT INTO models (name, created_at) VALUES "
                                 "('a b', '2026-11-27T17:49:30.123Z')"),
                     SQLITE_OK);
    model_def_free(&def);
    db_close(d);
}
END_TEST

START_TEST(not_found_names_the_field)
{
    db *d = stl_open();
    put_example(d, "m", false, 1, 1);
    err e;
    int v = 0;
    model_def back;
    model_def_init(&back);
    model_info info;
    model_version_info *vi = NULL;
    size_t n = 0;
    err_clear(&e);
    expect_err(store_model_get(d, "x", &info, &vi, &n, &e), &e, ERR_NOT_FOUND, "name",
               "no model named \"x\"");
    err_clear(&e);
    expect_err(store_model_latest(d, "x", &v, &e), &e, ERR_NOT_FOUND, "name",
               "no model named \"x\"");
    err_clear(&e);
    expect_err(store_version_load(d, "x", 0, &back, NULL, NULL, &e), &e, ERR_NOT_FOUND, "name",
               "no model named \"x\"");
    err_clear(&e);
    expect_err(store_version_load(d, "x", 3, &back, NULL, NULL, &e), &e, ERR_NOT_FOUND, "name",
               "no model named \"x\"");
    err_clear(&e);
    expect_err(store_version_load(d, "m", 7, &back, NULL, NULL, &e), &e, ERR_NOT_FOUND, "version",
               "model \"m\" has no version 7");
    err_clear(&e);
    expect_err(store_version_delete(d, "x", 1, &e), &e, ERR_NOT_FOUND, "name",
               "no model named \"x\"");
    err_clear(&e);
    expect_err(store_version_delete(d, "m", 7, &e), &e, ERR_NOT_FOUND, "version",
               "model \"m\" has no version 7");
    err_clear(&e);
    expect_err(store_version_load(d, "m", -1, &back, NULL, NULL, &e), &e, ERR_INVALID, "version",
               NULL);
    err_clear(&e);
    expect_err(store_version_delete(d, "m", 0, &e), &e, ERR_INVALID, "version", NULL);
    ck_assert_ptr_null(back.params); /* untouched on failure */
    ck_assert_int_eq(stl_q_int(d, "SELECT count(*) FROM model_versions"), 1);
    db_close(d);
}
END_TEST

START_TEST(rejected_put_leaves_nothing)
{
    db *d = stl_open();
    char *empty = table_counts(d);
    model_def def;
    stl_ode_def(&def, 1);
    err e;
    int v = -7;

    def.n_params--; /* the networks need one more */
    err_clear(&e);
    ck_assert_int_eq(store_model_put(d, "m", &def, &v, &e), ERR_INVALID);
    def.n_params++;
    def.params[5] = 0.0 / 0.0;
    err_clear(&e);
    ck_assert_int_eq(store_model_put(d, "m", &def, &v, &e), ERR_INVALID);
    def.params[5] = 1.0;
    def.nets[0].layers[1].in = 3; /* does not chain */
    err_clear(&e);
    expect_err(store_model_put(d, "m", &def, &v, &e), &e, ERR_INVALID, "vector_field.layers[1]",
               NULL);
    def.nets[0].layers[1].in = 4;
    def.hidden_dim = 3; /* a cde field on an ode */
    err_clear(&e);
    expect_err(store_model_put(d, "m", &def, &v, &e), &e, ERR_INVALID, "hidden_dim", NULL);
    def.hidden_dim = 0;
    snprintf(def.solver.method, sizeof def.solver.method, "heun");
    err_clear(&e);
    expect_err(store_model_put(d, "m", &def, &v, &e), &e, ERR_INVALID, "solver.method", NULL);
    ck_assert_int_eq(v, -7);
    char *now = table_counts(d);
    ck_assert_str_eq(now, empty);
    free(now);

    model_def cde;
    stl_cde_def(&cde, 1);
    cde.state_dim = 2; /* an ode field on a cde */
    err_clear(&e);
    expect_err(store_model_put(d, "m", &cde, &v, &e), &e, ERR_INVALID, "state_dim", NULL);
    cde.state_dim = 0;
    cde.augment_dim = 1;
    err_clear(&e);
    expect_err(store_model_put(d, "m", &cde, &v, &e), &e, ERR_INVALID, "augment_dim", NULL);
    model_def_free(&cde);

    /* Existing model: a rejected version does not use up a number. */
    snprintf(def.solver.method, sizeof def.solver.method, "dopri5");
    ck_assert_int_eq(put_ok(d, "m", &def), 1);
    char *one = table_counts(d);
    def.solver.rtol = -1;
    err_clear(&e);
    expect_err(store_model_put(d, "m", &def, &v, &e), &e, ERR_INVALID, "solver.rtol", NULL);
    now = table_counts(d);
    ck_assert_str_eq(now, one);
    free(now);
    def.solver.rtol = 1e-6;
    ck_assert_int_eq(put_ok(d, "m", &def), 2);
    free(one);
    free(empty);
    model_def_free(&def);
    db_close(d);
}
END_TEST

/* A failure half-way through the write (here a trigger refusing the layer
 * rows, after the model and version rows went in) rolls everything back. */
START_TEST(failed_write_rolls_back)
{
    db *d = stl_open();
    put_example(d, "old", false, 1, 1);
    char *before = table_counts(d);
    stl_exec_ok(d, "CREATE TEMP TRIGGER refuse_layers BEFORE INSERT ON main.model_layers "
                   "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END");
    model_def def;
    stl_cde_def(&def, 1);
    const char *names[] = {"new", "old"};
    for (int i = 0; i < 2; i++) {
        err e;
        err_clear(&e);
        int v = -7;
        ck_assert_int_eq(store_model_put(d, names[i], &def, &v, &e), ERR_DB);
        ck_assert_msg(strstr(e.message, "disk on fire"), "%s", e.message);
        ck_assert_int_eq(v, -7);
        ck_assert(!db_in_transaction(d));
        char *after = table_counts(d);
        ck_assert_str_eq(after, before);
        free(after);
    }
    stl_exec_ok(d, "DROP TRIGGER refuse_layers");
    ck_assert_int_eq(put_ok(d, "old", &def), 2);
    ck_assert_int_eq(put_ok(d, "new", &def), 1);
    free(before);
    model_def_free(&def);
    db_close(d);
}
END_TEST

START_TEST(versions_are_immutable)
{
    db *d = stl_open();
    put_example(d, "m", false, 1, 1);
    const char *updates[] = {
        "UPDATE model_versions SET description = 'x'",
        "UPDATE model_nets SET time_input = 0",
        "UPDATE model_layers SET activation = 'relu'",
    };
    for (size_t i = 0; i < sizeof updates / sizeof updates[0]; i++) {
        ck_assert_int_eq(exec_sql(d, updates[i]), SQLITE_CONSTRAINT_TRIGGER);
        ck_assert_str_eq(sqlite3_errmsg(db_sqlite(d)), "model versions are immutable");
    }
    /* The CHECK constraints: a few rows the code would never write. */
    const char *inserts[] = {
        "INSERT INTO model_versions (model_id, version, created_at, kind, state_dim, augment_dim, "
        "n_params, params, checksum) VALUES (1, 9, '2026-11-27T17:49:30.123Z', 'ode', 2, 0, 2, "
        "zeroblob(8), '0123456789abcdef')", /* BLOB too short */
        "INSERT INTO model_versions (model_id, version, created_at, kind, state_dim, augment_dim, "
        "n_params, params, checksum) VALUES (1, 9, '2026-11-27T17:49:30.123Z', 'ode', 2, 0, 1, "
        "zeroblob(8), '0123456789ABCDEF')", /* checksum not lower-case hex */
        "INSERT INTO model_versions (model_id, version, created_at, kind, state_dim, augment_dim, "
        "hidden_dim, n_params, params, checksum) VALUES (1, 9, '2026-11-27T17:49:30.123Z', "
        "'ode', 2, 0, 4, 1, zeroblob(8), '0123456789abcdef')", /* a cde field on an ode */
        "INSERT INTO model_versions (model_id, version, created_at, kind, state_dim, augment_dim, "
        "n_params, params, checksum) VALUES (1, 9, 'yesterday', 'ode', 2, 0, 1, zeroblob(8), "
        "'0123456789abcdef')",
        "INSERT INTO model_versions (model_id, version, created_at, kind, state_dim, augment_dim, "
        "n_params, params, checksum) VALUES (1, 9, '2026-11-27T17:49:30.123Z', 'ode', 'two', 0, 1, "
        "zeroblob(8), '0123456789abcdef')", /* STRICT: text in an INTEGER column */
        "INSERT INTO model_versions (model_id, version, created_at, kind, state_dim, augment_dim, "
        "n_params, params, checksum) VALUES (7, 9, '2026-11-27T17:49:30.123Z', 'ode', 2, 0, 1, "
        "zeroblob(8), '0123456789abcdef')", /* no model 7 */
        "INSERT INTO model_layers VALUES (1, 0, 9, 'linear', 0, 3, 'tanh')",
        "INSERT INTO model_layers VALUES (1, 0, 9, 'conv', 3, 3, 'tanh')",
    };
    for (size_t i = 0; i < sizeof inserts / sizeof inserts[0]; i++)
        ck_assert_msg(exec_sql(d, inserts[i]) != SQLITE_OK, "accepted: %s", inserts[i]);
    /* The same rows with nothing wrong go in (so the refusals above were
     * for the reasons given). */
    stl_exec_ok(d, "INSERT INTO model_layers VALUES (1, 0, 9, 'elementwise', 0, 0, 'tanh')");
    stl_exec_ok(d, "INSERT INTO model_versions (model_id, version, created_at, kind, state_dim, "
                   "augment_dim, n_params, params, checksum) VALUES (1, 9, "
                   "'2026-11-27T17:49:30.123Z', 'ode', 2, 0, 1, zeroblob(8), '0123456789abcdef')");
    db_close(d);
}
END_TEST

START_TEST(damage_is_detected_on_load)
{
    db *d = stl_open();
    put_example(d, "m", false, 1, 1);
    put_example(d, "m", false, 2, 2);
    put_example(d, "m", true, 3, 3);
    /* Bit rot does not go through triggers: lift the guard to simulate it. */
    stl_exec_ok(d, "DROP TRIGGER model_versions_immutable");
    /* One bit of one parameter of version 1, rewritten through SQL. */
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db_sqlite(d),
                                        "SELECT params FROM model_versions WHERE version = 1", -1,
                                        &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    int nb = sqlite3_column_bytes(st, 0);
    unsigned char *bytes = malloc((size_t)nb);
    memcpy(bytes, sqlite3_column_blob(st, 0), (size_t)nb);
    sqlite3_finalize(st);
    bytes[40] ^= 0x01;
    ck_assert_int_eq(sqlite3_prepare_v2(db_sqlite(d),
                                        "UPDATE model_versions SET params = ?1 WHERE version = 1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(st, 1, bytes, nb, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    free(bytes);

    err e;
    model_def back;
    model_def_init(&back);
    err_clear(&e);
    ck_assert_int_eq(store_version_load(d, "m", 1, &back, NULL, NULL, &e), ERR_DB);
    ck_assert_msg(
        strstr(e.message, "model \"m\" version 1 is damaged: parameter checksum mismatch"), "%s",
        e.message);
    ck_assert_ptr_null(back.params);
    ck_assert(!db_in_transaction(d));

    /* A lost layer row; an activation nn does not know. */
    stl_exec_ok(d, "DELETE FROM model_layers WHERE layer = 2 AND version_id = "
                   "(SELECT id FROM model_versions WHERE version = 2)");
    err_clear(&e);
    ck_assert_int_eq(store_version_load(d, "m", 2, &back, NULL, NULL, &e), ERR_DB);
    ck_assert_msg(strstr(e.message, "version 2 is damaged"), "%s", e.message);
    stl_exec_ok(d, "DROP TRIGGER model_layers_immutable");
    stl_exec_ok(d, "UPDATE model_layers SET activation = 'gelu' WHERE net = 2 AND version_id = "
                   "(SELECT id FROM model_versions WHERE version = 3)");
    err_clear(&e);
    ck_assert_int_eq(store_version_load(d, "m", 3, &back, NULL, NULL, &e), ERR_DB);
    ck_assert_msg(strstr(e.message, "version 3 is damaged"), "%s", e.message);
    /* A shape that no longer chains: caught by model_def_validate. */
    stl_exec_ok(d, "UPDATE model_layers SET activation = 'sigmoid', out_dim = 3 WHERE net = 2 AND "
                   "version_id = (SELECT id FROM model_versions WHERE version = 3)");
    stl_exec_ok(d, "DROP TRIGGER model_nets_immutable");
    stl_exec_ok(d, "UPDATE model_nets SET in_dim = 5 WHERE net = 2 AND version_id = "
                   "(SELECT id FROM model_versions WHERE version = 3)");
    err_clear(&e);
    ck_assert_int_eq(store_version_load(d, "m", 3, &back, NULL, NULL, &e), ERR_DB);
    ck_assert_msg(strstr(e.message, "version 3 is damaged: readout"), "%s", e.message);
    db_close(d);
}
END_TEST

/* ---- concurrency ---- */

enum { PUTTERS = 4, PUTS = 8 };

struct putter {
    db_conns *pool;
    pthread_barrier_t *go;
    int versions[PUTS];
    err e;
};

static void *putter_run(void *arg)
{
    struct putter *p = arg;
    err_clear(&p->e);
    model_def def;
    model_def_init(&def);
    stl_ode_def(&def, 3);
    db *d = NULL;
    err_code rc = db_conns_get(p->pool, &d, &p->e);
    pthread_barrier_wait(p->go);
    for (int i = 0; !rc && i < PUTS; i++)
        rc = store_model_put(d, "shared", &def, &p->versions[i], &p->e);
    model_def_free(&def);
    return NULL;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

START_TEST(concurrent_puts_get_consecutive_versions)
{
    db_conns *pool = stl_pool();
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, PUTTERS);
    struct putter p[PUTTERS];
    pthread_t th[PUTTERS];
    for (int i = 0; i < PUTTERS; i++) {
        memset(&p[i], 0, sizeof p[i]);
        p[i].pool = pool;
        p[i].go = &go;
        ck_assert_int_eq(pthread_create(&th[i], NULL, putter_run, &p[i]), 0);
    }
    int all[PUTTERS * PUTS];
    for (int i = 0; i < PUTTERS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(p[i].e.code == ERR_OK, "thread %d: %s", i, p[i].e.message);
        for (int j = 0; j < PUTS; j++) {
            if (j) ck_assert_int_gt(p[i].versions[j], p[i].versions[j - 1]);
            all[i * PUTS + j] = p[i].versions[j];
        }
    }
    pthread_barrier_destroy(&go);
    qsort(all, PUTTERS * PUTS, sizeof all[0], cmp_int);
    for (int i = 0; i < PUTTERS * PUTS; i++)
        ck_assert_int_eq(all[i], i + 1);
    db *d = NULL;
    err e;
    err_clear(&e);
    ck_assert_int_eq(db_conns_get(pool, &d, &e), ERR_OK);
    ck_assert_int_eq(stl_q_int(d, "SELECT count(*) FROM models"), 1);
    ck_assert_int_eq(stl_q_int(d, "SELECT next_version FROM models"), PUTTERS * PUTS + 1);
    ck_assert_int_eq(stl_q_int(d, "SELECT count(DISTINCT version) FROM model_versions"),
                     PUTTERS * PUTS);
    db_conns_free(pool);
}
END_TEST

/* Loads and metadata of a model while another thread adds and deletes
 * versions: each read sees one state of the database (a read
 * transaction), never a version whose layers were deleted half-way through
 * reading it, or a count of versions from before a delete with the list
 * from after. */
struct churn {
    db_conns *pool;
    int stop, loads; /* atomics */
    err e;
};

static void *loader_run(void *arg)
{
    struct churn *c = arg;
    db *d = NULL;
    err_clear(&c->e);
    if (db_conns_get(c->pool, &d, &c->e)) return NULL;
    model_def want;
    stl_ode_def(&want, 5);
    while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
        model_def back;
        model_def_init(&back);
        err e;
        err_clear(&e);
        if (store_version_load(d, "churn", 0, &back, NULL, NULL, &e)) {
            c->e = e;
            break;
        }
        if (back.n_params != want.n_params ||
            memcmp(back.params, want.params, want.n_params * sizeof *want.params) != 0) {
            err_set(&c->e, ERR_INTERNAL, NULL, "a load returned other parameters");
            model_def_free(&back);
            break;
        }
        model_def_free(&back);
        /* The metadata and the version list agree with each other. */
        model_info info;
        model_version_info *v = NULL;
        size_t n = 0;
        if (store_model_get(d, "churn", &info, &v, &n, &e)) {
            c->e = e;
            break;
        }
        if (n != (size_t)info.n_versions || v[n - 1].version != info.latest_version)
            err_set(&c->e, ERR_INTERNAL, NULL, "metadata and versions disagree");
        free(v);
        if (c->e.code) break;
        __atomic_add_fetch(&c->loads, 1, __ATOMIC_RELEASE);
    }
    model_def_free(&want);
    __atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
    return NULL;
}

START_TEST(loads_are_consistent_while_versions_change)
{
    db_conns *pool = stl_pool();
    db *d = NULL;
    err e;
    err_clear(&e);
    ck_assert_int_eq(db_conns_get(pool, &d, &e), ERR_OK);
    model_def def;
    stl_ode_def(&def, 5);
    put_ok(d, "churn", &def); /* version 1 stays; the latest comes and goes */
    struct churn c;
    memset(&c, 0, sizeof c);
    c.pool = pool;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, loader_run, &c), 0);
    for (int i = 0; i < 60 || __atomic_load_n(&c.loads, __ATOMIC_ACQUIRE) < 60; i++) {
        if (__atomic_load_n(&c.stop, __ATOMIC_ACQUIRE)) break; /* the loader failed */
        int v = put_ok(d, "churn", &def);
        ck_assert_int_eq(store_version_delete(d, "churn", v, &e), ERR_OK);
    }
    __atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    ck_assert_msg(c.e.code == ERR_OK, "%s", c.e.message);
    model_def_free(&def);
    db_conns_free(pool);
}
END_TEST

/* ---- aliases (store/aliases.h) ---- */

START_TEST(aliases_name_existing_versions)
{
    db *d = stl_open();
    put_example(d, "m", false, 1, 1);
    put_example(d, "m", false, 2, 2);
    err e;
    err_clear(&e);
    int prev = -1, v = 0;
    ck_assert_int_eq(store_alias_set(d, "m", "stable", 1, "ci", &prev, &e), ERR_OK);
    ck_assert_int_eq(prev, 0);
    ck_assert_int_eq(store_alias_resolve(d, "m", "stable", &v, &e), ERR_OK);
    ck_assert_int_eq(v, 1);
    /* to the same version: nothing changes, nothing is recorded */
    ck_assert_int_eq(store_alias_set(d, "m", "stable", 1, "ci", &prev, &e), ERR_OK);
    ck_assert_int_eq(prev, 1);
    ck_assert_int_eq(stl_q_int(d, "SELECT count(*) FROM model_alias_history"), 1);
    ck_assert_int_eq(store_alias_set(d, "m", "stable", 2, NULL, &prev, &e), ERR_OK);
    ck_assert_int_eq(prev, 1);
    ck_assert_int_eq(store_alias_set(d, "m", "canary", 2, "ops", NULL, &e), ERR_OK);
    model_alias *a = NULL;
    size_t n = 0;
    ck_assert_int_eq(store_alias_list(d, "m", &a, &n, &e), ERR_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(a[0].alias, "canary");
    ck_assert_str_eq(a[1].alias, "stable");
    ck_assert_int_eq(a[1].version, 2);
    ck_assert(is_timestamp(a[1].updated_at));
    free(a);

    /* the errors, each naming its field */
    err_clear(&e);
    expect_err(store_alias_set(d, "m", "stable", 7, "ci", NULL, &e), &e, ERR_NOT_FOUND, "version",
               "model \"m\" has no version 7");
    err_clear(&e);
    expect_err(store_alias_set(d, "x", "stable", 1, "ci", NULL, &e), &e, ERR_NOT_FOUND, "name",
               "no model named \"x\"");
    err_clear(&e);
    expect_err(store_alias_set(d, "m", "latest", 1, "ci", NULL, &e), &e, ERR_INVALID, "alias",
               NULL);
    err_clear(&e);
    expect_err(store_alias_set(d, "m", "9lives", 1, "ci", NULL, &e), &e, ERR_INVALID, "alias",
               NULL);
    err_clear(&e);
    expect_err(store_alias_set(d, "m", "stable", 0, "ci", NULL, &e), &e, ERR_INVALID, "version",
               NULL);
    err_clear(&e);
    expect_err(store_alias_resolve(d, "m", "beta", &v, &e), &e, ERR_NOT_FOUND, "version",
               "model \"m\" has no version or alias \"beta\"");
    err_clear(&e);
    expect_err(store_alias_delete(d, "m", "beta", "ci", NULL, &e), &e, ERR_NOT_FOUND, "alias",
               "model \"m\" has no alias \"beta\"");
    /* the SQL checks hold even past the store's own */
    ck_assert_int_ne(exec_sql(d, "INSERT INTO model_aliases VALUES "
                                 "((SELECT id FROM models), 'Bad', 1, 'x')"),
                     SQLITE_OK);

    /* a named version cannot go; an unnamed one can */
    err_clear(&e);
    expect_err(store_version_delete(d, "m", 2, &e), &e, ERR_CONFLICT, "version",
               "version 2 of model \"m\" is named by alias canary, stable: move or delete the "
               "alias first");
    ck_assert_int_eq(store_version_delete(d, "m", 1, &e), ERR_OK);
    ck_assert_int_eq(store_alias_delete(d, "m", "canary", "ops", &prev, &e), ERR_OK);
    ck_assert_int_eq(prev, 2);
    db_close(d);
}
END_TEST

START_TEST(alias_history_is_append_only_and_outlives_the_model)
{
    db *d = stl_open();
    put_example(d, "m", false, 1, 1);
    put_example(d, "m", false, 2, 2);
    err e;
    err_clear(&e);
    ck_assert_int_eq(store_alias_set(d, "m", "stable", 1, "ci", NULL, &e), ERR_OK);
    ck_assert_int_eq(store_alias_set(d, "m", "stable", 2, "ops", NULL, &e), ERR_OK);
    ck_assert_int_eq(store_alias_set(d, "m", "beta", 1, "ci", NULL, &e), ERR_OK);
    ck_assert_int_eq(store_model_delete(d, "m", "admin", &e), ERR_OK);
    ck_assert_int_eq(stl_q_int(d, "SELECT count(*) FROM model_aliases"), 0);
    model_alias_event *ev = NULL;
    size_t n = 0;
    ck_assert_int_eq(store_alias_history(d, "m", &ev, &n, &e), ERR_OK);
    ck_assert_uint_eq(n, 5);
    const struct {
        const char *alias;
        int from, to;
        const char *by;
    } want[] = {{"stable", 0, 1, "ci"},
                {"stable", 1, 2, "ops"},
                {"beta", 0, 1, "ci"},
                {"beta", 1, 0, "admin"},
                {"stable", 2, 0, "admin"}};
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(ev[i].alias, want[i].alias);
        ck_assert_int_eq(ev[i].from_version, want[i].from);
        ck_assert_int_eq(ev[i].to_version, want[i].to);
        ck_assert_str_eq(ev[i].actor, want[i].by);
        ck_assert(is_timestamp(ev[i].at));
    }
    free(ev);
    ck_assert_int_ne(exec_sql(d, "UPDATE model_alias_history SET actor = 'x'"), SQLITE_OK);
    ck_assert_int_ne(exec_sql(d, "DELETE FROM model_alias_history"), SQLITE_OK);
    ck_assert_int_eq(stl_q_int(d, "SELECT count(*) FROM model_alias_history"), 5);
    /* a name with neither a model nor a history */
    err_clear(&e);
    expect_err(store_alias_history(d, "never", &ev, &n, &e), &e, ERR_NOT_FOUND, "name",
               "no model named \"never\"");
    ck_assert_ptr_null(ev);
    db_close(d);
}
END_TEST

static Suite *models_suite(void)
{
    Suite *s = suite_create("models");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, stl_tmp_setup, stl_tmp_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, ode_round_trip);
    tcase_add_test(tc, cde_round_trip);
    tcase_add_test(tc, info_and_versions);
    tcase_add_test(tc, reads_see_other_connections);
    tcase_add_test(tc, versions_are_numbered_and_never_reused);
    tcase_add_test(tc, deleting_the_last_version_deletes_the_model);
    tcase_add_test(tc, deleting_a_model_cascades);
    tcase_add_test(tc, delete_refused_while_a_job_warm_starts_from_it);
    tcase_add_test(tc, cancel_requested_before_a_crash_is_done_at_start);
    tcase_add_test(tc, list_is_sorted_by_name);
    tcase_add_test(tc, aliases_name_existing_versions);
    tcase_add_test(tc, alias_history_is_append_only_and_outlives_the_model);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, stl_tmp_setup, stl_tmp_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, bad_names_are_invalid);
    tcase_add_test(tc, not_found_names_the_field);
    tcase_add_test(tc, rejected_put_leaves_nothing);
    tcase_add_test(tc, failed_write_rolls_back);
    tcase_add_test(tc, versions_are_immutable);
    tcase_add_test(tc, damage_is_detected_on_load);
    suite_add_tcase(s, tc);

    tc = tcase_create("concurrency");
    tcase_add_checked_fixture(tc, stl_tmp_setup, stl_tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, concurrent_puts_get_consecutive_versions);
    tcase_add_test(tc, loads_are_consistent_while_versions_change);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    log_level_set(LOG_LVL_WARN);
    stl_init("check_models");
    int rc = tu_suite_run(models_suite());
    stl_done();
    return rc;
}
