/* check_faults: SQLite faults at every write site of the store's writes.
 *
 * tests/faultvfs.c sits under every connection and fails the N-th write,
 * sync or truncate (as an I/O error, or as a full disk), or the N-th lock a
 * writer takes (as SQLITE_BUSY, with no busy wait). Each walk takes one
 * store operation (a model upload, a dataset upload, a training checkpoint)
 * on a fresh copy of the same database and fails its 1st call, its 2nd,
 * ... until a run makes fewer calls than N. After each failure: the answer
 * is the right error code with a message free of paths and SQL, no
 * transaction is left open, PRAGMA integrity_check is ok, every table is
 * as it was (compared row for row, also through a new connection), and the
 * operation then succeeds when retried. A fault SQLite absorbs (one in a
 * checkpoint of the log, after the commit) must leave the whole change. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "faultvfs.h"
#include "leakscan.h"
#include "model/dataset.h"
#include "store/datasets.h"
#include "store/db_internal.h"
#include "store/jobs.h"
#include "store/migrate.h"
#include "store/models.h"
#include "store_testlib.h"
#include "testutil.h"

/* ---- paths: the template database and the copy each run works on ---- */

static char tmpl_path[4096], work_path[4096];

static void paths_set(void)
{
    const char *p = stl_db_path();
    snprintf(tmpl_path, sizeof tmpl_path, "%s.tmpl", p);
    snprintf(work_path, sizeof work_path, "%s", p);
}

static void copy_file(const char *from, const char *to)
{
    size_t n = 0;
    char *bytes = tu_read_file(from, &n);
    ck_assert_msg(bytes != NULL, "read %s", from);
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_msg(fd >= 0, "open %s: %s", to, strerror(errno));
    ck_assert(write(fd, bytes, n) == (ssize_t)n);
    close(fd);
    free(bytes);
}

/* A fresh work database, byte for byte the template (closed cleanly, so
 * with no log of its own). */
static void work_reset(void)
{
    char side[4200];
    snprintf(side, sizeof side, "%s-wal", work_path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", work_path);
    unlink(side);
    copy_file(tmpl_path, work_path);
}

static db *open_at(const char *path, int busy_timeout_ms)
{
    db_opts o;
    db_opts_default(&o);
    o.path = path;
    o.busy_timeout_ms = busy_timeout_ms;
    db *d = NULL;
    err e;
    err_clear(&e);
    ck_assert_msg(db_open(&d, &o, &e) == ERR_OK, "db_open: %s", e.message);
    return d;
}

/* ---- the state of a database, row for row ---- */

static void fnv(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        *h ^= b[i];
        *h *= 0x100000001b3ull;
    }
}

/* "table:rows:hash " for every table, in name order: the content of every
 * column (text, blobs, numbers as text) but the clock's (*_at, elapsed),
 * which differ between two runs of one operation. */
static char *fingerprint(db *d)
{
    sqlite3 *c = db_sqlite(d);
    sqlite3_stmt *tabs = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(c,
                                        "SELECT name FROM sqlite_schema WHERE type = 'table' "
                                        "AND name NOT LIKE 'sqlite_%' ORDER BY name",
                                        -1, &tabs, NULL),
                     SQLITE_OK);
    size_t cap = 8192, len = 0;
    char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    out[0] = '\0';
    while (sqlite3_step(tabs) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(tabs, 0);
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY rowid", t);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) != SQLITE_OK) {
            /* a WITHOUT ROWID table */
            snprintf(sql, sizeof sql, "SELECT * FROM \"%s\"", t);
            ck_assert_int_eq(sqlite3_prepare_v2(c, sql, -1, &st, NULL), SQLITE_OK);
        }
        uint64_t h = 0xcbf29ce484222325ull;
        long rows = 0;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            rows++;
            for (int i = 0; i < sqlite3_column_count(st); i++) {
                const char *name = sqlite3_column_name(st, i);
                size_t nl = strlen(name);
                if ((nl > 3 && strcmp(name + nl - 3, "_at") == 0) || strcmp(name, "elapsed") == 0)
                    continue;
                int type = sqlite3_column_type(st, i);
                const void *v = type == SQLITE_BLOB ? sqlite3_column_blob(st, i)
                                                    : (const void *)sqlite3_column_text(st, i);
                fnv(&h, &type, sizeof type);
                if (v) fnv(&h, v, (size_t)sqlite3_column_bytes(st, i));
            }
        }
        ck_assert_int_eq(rc, SQLITE_DONE);
        sqlite3_finalize(st);
        if (len + 200 > cap) {
            cap *= 2;
            out = realloc(out, cap);
            ck_assert_ptr_nonnull(out);
        }
        len += (size_t)snprintf(out + len, cap - len, "%s:%ld:%016llx ", t, rows,
                                (unsigned long long)h);
    }
    sqlite3_finalize(tabs);
    return out;
}

static void assert_intact(db *d)
{
    char *ic = stl_q_text(d, "PRAGMA integrity_check");
    ck_assert_str_eq(ic, "ok");
    free(ic);
    ck_assert_int_eq(stl_q_int(d, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
}

/* ---- the operations ---- */

typedef err_code (*op_fn)(db *d, err *e);

static err_code op_model_put(db *d, err *e)
{
    model_def def;
    stl_cde_def(&def, 3);
    int v = 0;
    err_code rc = store_model_put(d, "walked", &def, &v, e);
    model_def_free(&def);
    if (rc == ERR_OK) ck_assert_int_eq(v, 2); /* the template holds version 1 */
    return rc;
}

/* 40 series of 3 channels, some values missing, class labels: large enough
 * to spill over several pages. */
static err_code op_dataset_put(db *d, err *e)
{
    dataset ds;
    dataset_init(&ds);
    ds.channels = 3;
    ds.label_kind = DATASET_LABEL_CLASS;
    ds.n_series = 40;
    ds.series = calloc(ds.n_series, sizeof *ds.series);
    ck_assert_ptr_nonnull(ds.series);
    for (size_t s = 0; s < ds.n_series; s++) {
        dataset_series *r = &ds.series[s];
        r->n = 20 + s;
        r->t = malloc(r->n * sizeof *r->t);
        r->y = malloc(r->n * ds.channels * sizeof *r->y);
        ck_assert(r->t && r->y);
        for (size_t i = 0; i < r->n; i++) {
            r->t[i] = 0.25 * (double)i;
            for (size_t c = 0; c < ds.channels; c++)
                r->y[i * ds.channels + c] = (i + c) % 7 == 3 ? NAN : sin((double)(i * 3 + c + s));
        }
        r->label_class = (long)(s % 3);
    }
    err_code rc = store_dataset_put(d, "walked", &ds, e);
    dataset_free(&ds);
    return rc;
}

#define CKPT_PARAMS 3000
static err_code op_checkpoint(db *d, err *e)
{
    static double params[CKPT_PARAMS], best[CKPT_PARAMS], optim[2 * CKPT_PARAMS];
    for (size_t i = 0; i < CKPT_PARAMS; i++) {
        params[i] = cos((double)i);
        best[i] = sin((double)i);
        optim[2 * i] = 1e-3 * (double)i;
        optim[2 * i + 1] = 1.0 / (1.0 + (double)i);
    }
    job_ckpt ck = {.iteration = 20,
                   .elapsed = 2.5,
                   .train_loss = 0.5,
                   .val_loss = NAN,
                   .best_train_loss = 0.25,
                   .best_val_loss = NAN,
                   .n_params = CKPT_PARAMS,
                   .params = params,
                   .best = best,
                   .optim_len = 2 * CKPT_PARAMS,
                   .optim = optim,
                   .optim_steps = 20,
                   .rng = {1, 2, 3, 4}};
    job_metric rows[10];
    for (int i = 0; i < 10; i++)
        rows[i] = (job_metric){.iteration = 11 + i, .train_loss = 1.0 / (i + 1), .val_loss = NAN,
                               .elapsed = 0.1 * i};
    bool cancel = true;
    err_code rc = store_job_checkpoint(d, 1, &ck, rows, 10, &cancel, e);
    if (rc == ERR_OK) ck_assert(!cancel);
    return rc;
}

/* The template: migrated, a model "walked" at version 1, another model,
 * a dataset, and job 1 running with a first checkpoint (iteration 10). */
static void make_template(void)
{
    db *d = open_at(tmpl_path, 5000);
    err e;
    err_clear(&e);
    ck_assert_msg(db_migrate(d, NULL, NULL, &e) == ERR_OK, "%s", e.message);
    model_def def;
    stl_cde_def(&def, 1);
    ck_assert_int_eq(store_model_put(d, "walked", &def, NULL, &e), ERR_OK);
    ck_assert_int_eq(store_model_put(d, "other", &def, NULL, &e), ERR_OK);
    model_def_free(&def);
    long long id = 0;
    ck_assert_int_eq(store_job_create(d, "other", "none", "{}", 100, &id, &e), ERR_OK);
    ck_assert_int_eq(id, 1);
    bool found = false;
    char *spec = NULL;
    job_ckpt ck;
    memset(&ck, 0, sizeof ck);
    ck_assert_int_eq(store_job_claim(d, &found, &id, &spec, &ck, &e), ERR_OK);
    ck_assert(found);
    free(spec);
    job_ckpt_free(&ck);
    double p[4] = {1, 2, 3, 4};
    job_ckpt first = {.iteration = 10, .n_params = 4, .params = p, .best = p, .rng = {9, 9, 9, 9}};
    job_metric m = {.iteration = 10, .train_loss = 1, .val_loss = NAN, .elapsed = 0.5};
    ck_assert_int_eq(store_job_checkpoint(d, 1, &first, &m, 1, NULL, &e), ERR_OK);
    ck_assert_msg(e.code == ERR_OK, "%s", e.message);
    db_close(d);
}

/* ---- the walk ---- */

struct walk_result {
    long runs;     /* N tried, the last one without a fault */
    long failed;   /* runs the operation answered with an error */
    long absorbed; /* runs a fault fired and the operation still succeeded */
    char first[ERR_MSG_MAX]; /* the first failure's message, for the output */
};

static void assert_clean_message(const err *e)
{
    char why[128];
    ck_assert_msg(!leak_find(e->message, work_path, why, sizeof why), "message leaks %s: %s", why,
                  e->message);
}

static struct walk_result walk(op_fn op, unsigned kinds, int inject, int inject_errno,
                               int busy_timeout_ms, int cache_pages, err_code want)
{
    struct walk_result w = {0, 0, 0, ""};
    char *clean_after = NULL;
    for (long n = 1;; n++) {
        ck_assert_msg(n < 5000, "the walk does not end");
        work_reset();
        db *d = open_at(work_path, busy_timeout_ms);
        if (cache_pages) {
            char sql[64];
            snprintf(sql, sizeof sql, "PRAGMA cache_size=%d", cache_pages);
            stl_exec_ok(d, sql);
        }
        char *before = fingerprint(d);
        err e;
        err_clear(&e);
        fvfs_arm_errno(kinds, n, inject, inject_errno);
        err_code rc = op(d, &e);
        int fired = fvfs_fired();
        fvfs_disarm();
        w.runs = n;
        ck_assert(!db_in_transaction(d));
        assert_intact(d);
        char *now = fingerprint(d);
        if (!fired) {
            /* past the last call: the operation is whole */
            ck_assert_msg(rc == ERR_OK, "N=%ld: no fault, still %s", n, e.message);
            ck_assert_str_ne(now, before);
            if (clean_after) ck_assert_str_eq(now, clean_after);
            free(before);
            free(now);
            db_close(d);
            break;
        }
        if (rc == ERR_OK) {
            /* SQLite absorbed it (a checkpoint after the commit): all is there */
            w.absorbed++;
            ck_assert_str_ne(now, before);
            if (!clean_after) clean_after = strdup(now);
            ck_assert_str_eq(now, clean_after);
        } else {
            if (!w.failed++) snprintf(w.first, sizeof w.first, "%s", e.message);
            ck_assert_msg(rc == want, "N=%ld: %s (%s), wanted %s", n, err_code_name(rc),
                          e.message, err_code_name(want));
            assert_clean_message(&e);
            ck_assert_msg(strcmp(now, before) == 0, "N=%ld: changed by a failed write:\n%s\n%s", n,
                          before, now);
            /* what another connection sees, from the files */
            db *other = open_at(work_path, 5000);
            char *seen = fingerprint(other);
            ck_assert_str_eq(seen, before);
            free(seen);
            db_close(other);
            /* and the same operation succeeds now */
            err_clear(&e);
            ck_assert_msg(op(d, &e) == ERR_OK, "N=%ld: retry: %s", n, e.message);
            assert_intact(d);
            char *retried = fingerprint(d);
            ck_assert_str_ne(retried, before);
            if (!clean_after) clean_after = strdup(retried);
            ck_assert_str_eq(retried, clean_after);
            free(retried);
        }
        free(before);
        free(now);
        db_close(d);
    }
    free(clean_after);
    return w;
}

static void setup(void)
{
    stl_tmp_setup();
    fvfs_install();
    paths_set();
    make_template();
}

static void teardown(void)
{
    fvfs_disarm();
    stl_tmp_teardown();
}

struct fault_kind {
    const char *name;
    unsigned kinds;
    int inject;
    int inject_errno; /* 0: the one fvfs_arm sets for `inject` */
    int busy_timeout_ms;
    int cache_pages; /* 0: SQLite's default; small: pages spill to the log mid-statement */
    err_code want;
};

static const struct fault_kind fault_kinds[] = {
    /* with the default cache every page reaches the log at COMMIT */
    {"I/O error", FVFS_WRITE | FVFS_SYNC | FVFS_TRUNCATE, SQLITE_IOERR_WRITE, 0, 5000, 0, ERR_DB},
    {"disk full", FVFS_WRITE | FVFS_SYNC | FVFS_TRUNCATE, SQLITE_FULL, 0, 5000, 0,
     ERR_STORAGE_FULL},
    /* a cache of 10 pages spills to the log inside the INSERTs and UPDATEs:
     * the faults reach the statements themselves */
    {"I/O error, spilling", FVFS_WRITE | FVFS_SYNC | FVFS_TRUNCATE, SQLITE_IOERR_WRITE, 0, 5000,
     10, ERR_DB},
    {"disk full, spilling", FVFS_WRITE | FVFS_SYNC | FVFS_TRUNCATE, SQLITE_FULL, 0, 5000, 10,
     ERR_STORAGE_FULL},
    /* what SQLite's unix VFS makes of an fsync, a write or a truncate the
     * OS refuses for lack of space or quota (delayed allocation, thin
     * provisioning): an I/O error whose errno alone says the disk is full */
    {"fsync ENOSPC", FVFS_SYNC, SQLITE_IOERR_FSYNC, ENOSPC, 5000, 0, ERR_STORAGE_FULL},
    {"write EDQUOT", FVFS_WRITE, SQLITE_IOERR_WRITE, EDQUOT, 5000, 0, ERR_STORAGE_FULL},
    {"fsync or truncate ENOSPC, spilling", FVFS_TRUNCATE | FVFS_SYNC, SQLITE_IOERR_TRUNCATE, ENOSPC, 5000,
     10, ERR_STORAGE_FULL},
    /* no busy wait: the lock a writer takes, refused once */
    {"busy", FVFS_LOCK, SQLITE_BUSY, 0, 0, 0, ERR_BUSY},
};

static void walk_all(const char *what, op_fn op)
{
    for (size_t k = 0; k < sizeof fault_kinds / sizeof fault_kinds[0]; k++) {
        const struct fault_kind *f = &fault_kinds[k];
        struct walk_result w =
            walk(op, f->kinds, f->inject, f->inject_errno, f->busy_timeout_ms, f->cache_pages, f->want);
        printf("check_faults: %s, %s: %ld call sites, %ld failed cleanly, %ld absorbed (\"%s\")\n",
               what, f->name, w.runs - 1, w.failed, w.absorbed, w.first);
        /* every walk must have reached real write sites */
        ck_assert_msg(w.failed >= 1, "%s, %s: no fault made the operation fail", what, f->name);
    }
}

START_TEST(model_put_walk)
{
    walk_all("store_model_put", op_model_put);
}
END_TEST

START_TEST(dataset_put_walk)
{
    walk_all("store_dataset_put", op_dataset_put);
}
END_TEST

START_TEST(job_checkpoint_walk)
{
    walk_all("store_job_checkpoint", op_checkpoint);
}
END_TEST

/* With the usual busy_timeout a writer that finds the lock taken once
 * waits and goes on: one SQLITE_BUSY is never an error. */
START_TEST(one_busy_lock_is_waited_out)
{
    /* how many locks a clean run takes */
    work_reset();
    db *d = open_at(work_path, 5000);
    err e;
    err_clear(&e);
    fvfs_arm(FVFS_LOCK, LONG_MAX, SQLITE_BUSY);
    ck_assert_int_eq(op_model_put(d, &e), ERR_OK);
    long locks = fvfs_count();
    fvfs_disarm();
    db_close(d);
    ck_assert_int_ge(locks, 1);
    for (long n = 1; n <= locks; n++) {
        work_reset();
        d = open_at(work_path, 5000);
        fvfs_arm(FVFS_LOCK, n, SQLITE_BUSY);
        ck_assert_msg(op_model_put(d, &e) == ERR_OK, "N=%ld: %s", n, e.message);
        ck_assert(fvfs_fired());
        fvfs_disarm();
        assert_intact(d);
        db_close(d);
    }
}
END_TEST

/* The store holds names to the pattern itself, also a job's (the codec
 * checks them first; a caller that skipped it stores nothing). */
START_TEST(job_names_are_checked_by_the_store)
{
    static const char *const bad[] = {"", "../x", "a b", "x;DROP", "/tmp/x.db",
                                      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
    work_reset();
    db *d = open_at(work_path, 5000);
    char *before = fingerprint(d);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int which = 0; which < 2; which++) {
            err e;
            err_clear(&e);
            long long id = -1;
            err_code rc = which ? store_job_create(d, "m", bad[i], "{}", 10, &id, &e)
                                : store_job_create(d, bad[i], "ds", "{}", 10, &id, &e);
            ck_assert_msg(rc == ERR_INVALID, "\"%s\": %s", bad[i], e.message);
            ck_assert_str_eq(e.field, which ? "dataset" : "model");
            ck_assert_int_eq(id, -1);
        }
    }
    char *after = fingerprint(d);
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
    db_close(d);
}
END_TEST

static Suite *faults_suite(void)
{
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("walks");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, model_put_walk);
    tcase_add_test(tc, dataset_put_walk);
    tcase_add_test(tc, job_checkpoint_walk);
    tcase_add_test(tc, one_busy_lock_is_waited_out);
    tcase_add_test(tc, job_names_are_checked_by_the_store);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* every injected fault is logged as an error: keep the output short */
    log_level_set((enum log_level)(LOG_LVL_ERROR - 1));
    stl_init("check_faults");
    int rc = tu_suite_run(faults_suite());
    stl_done();
    return rc;
}
