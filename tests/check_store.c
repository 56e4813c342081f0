/* check_store: connections, pragmas, migrations and the per-thread pool,
 * on real database files in a fresh temporary directory per test. */
#include "build_config.h"

#include "core/log.h"
#include "store/db.h"
#include "store/db_internal.h"
#include "store/migrate_internal.h"
#include "store_testlib.h"
#include "testutil.h"

#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One directory per run (removed at the end even if a test failed and
 * skipped its teardown), one subdirectory per test. */
static char topdir[PATH_MAX];
static char tmpdir[PATH_MAX];

static void tmp_setup(void)
{
    int n = snprintf(tmpdir, sizeof tmpdir, "%s/test.XXXXXX", topdir);
    ck_assert(n > 0 && (size_t)n < sizeof tmpdir);
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void tmp_teardown(void)
{
    rm_tree(tmpdir);
}

/* A path inside the test's temporary directory. */
static const char *tmp_path(char *buf, size_t n, const char *name)
{
    int len = snprintf(buf, n, "%s/%s", tmpdir, name);
    ck_assert(len > 0 && (size_t)len < n);
    return buf;
}

static db *open_ok(const char *path)
{
    db_opts o;
    db_opts_default(&o);
    o.path = path;
    err e;
    err_clear(&e);
    db *d = NULL;
    ck_assert_msg(db_open(&d, &o, &e) == ERR_OK, "db_open: %s", e.message);
    return d;
}

/* Everything in the schema, for before/after comparisons. */
static char *schema_dump(db *d)
{
    return stl_q_text(d, "SELECT coalesce(group_concat(type || ' ' || name || ' ' || "
                         "coalesce(sql, ''), char(10)), '') "
                         "FROM (SELECT * FROM sqlite_master ORDER BY type, name)");
}

static long long table_exists(db *d, const char *name)
{
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db_sqlite(d),
                                        "SELECT count(*) FROM sqlite_master WHERE name = ?1", -1,
                                        &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static const struct migration *real_first(void)
{
    ck_assert_uint_ge(db_migrations_count, 1);
    return &db_migrations[0];
}

/* ---- migrations ---- */

START_TEST(fresh_database_migrates_to_latest)
{
    char p[PATH_MAX];
    db *d = open_ok(tmp_path(p, sizeof p, "fresh.db"));
    err e;
    err_clear(&e);
    int v = -1, from = -1, to = -1;
    ck_assert_int_eq(db_schema_version(d, &v, &e), ERR_OK);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(db_migrate_check(d, &e), ERR_UNAVAILABLE);
    err_clear(&e);
    ck_assert_msg(db_migrate(d, &from, &to, &e) == ERR_OK, "%s", e.message);
    ck_assert_int_eq(from, 0);
    ck_assert_int_eq(to, db_migrate_latest());
    ck_assert_int_eq(db_migrate_latest(), (int)db_migrations_count);
    ck_assert_int_eq(stl_q_int(d, "PRAGMA user_version"), db_migrate_latest());
    ck_assert_int_eq(db_migrate_check(d, &e), ERR_OK);

    /* 0001_init.sql: meta and the runner's audit trail. */
    char *by = stl_q_text(d, "SELECT value FROM meta WHERE key = 'created_by'");
    ck_assert_str_eq(by, "odeserved " PACKAGE_VERSION);
    free(by);
    char *at = stl_q_text(d, "SELECT value FROM meta WHERE key = 'created_at'");
    ck_assert_msg(strlen(at) == 24 && at[10] == 'T' && at[23] == 'Z', "created_at %s", at);
    free(at);
    ck_assert_int_eq(stl_q_int(d, "SELECT count(*) FROM meta WHERE key = 'database_id' "
                                  "AND length(value) = 32 AND value NOT GLOB '*[^0-9a-f]*'"),
                     1);
    ck_assert_int_eq(stl_q_int(d, "SELECT count(*) FROM schema_history"), db_migrate_latest());
    char *name = stl_q_text(d, "SELECT name || ' ' || odeserved_version FROM schema_history "
                               "WHERE version = 1");
    ck_assert_str_eq(name, "0001_init.sql " PACKAGE_VERSION);
    free(name);
    /* The CHECK constraints hold. */
    ck_assert_int_ne(
        sqlite3_exec(db_sqlite(d), "INSERT INTO meta VALUES ('', 'x')", NULL, NULL, NULL),
        SQLITE_OK);
    db_close(d);
}
END_TEST

START_TEST(rerun_is_a_noop)
{
    char p[PATH_MAX];
    tmp_path(p, sizeof p, "rerun.db");
    db *d = open_ok(p);
    db *other = open_ok(p);
    err e;
    err_clear(&e);
    ck_assert_int_eq(db_migrate(d, NULL, NULL, &e), ERR_OK);
    char *before = schema_dump(d);
    long long dv = stl_q_int(other, "PRAGMA data_version");
    int changes = sqlite3_total_changes(db_sqlite(d));

    int from = -1, to = -1;
    ck_assert_int_eq(db_migrate(d, &from, &to, &e), ERR_OK);
    ck_assert_int_eq(from, db_migrate_latest());
    ck_assert_int_eq(to, db_migrate_latest());
    /* Nothing was committed: another connection sees the same data_version. */
    ck_assert_int_eq(stl_q_int(other, "PRAGMA data_version"), dv);
    ck_assert_int_eq(sqlite3_total_changes(db_sqlite(d)), changes);
    char *after = schema_dump(d);
    ck_assert_str_eq(before, after);
    ck_assert_int_eq(stl_q_int(d, "SELECT count(*) FROM schema_history"), db_migrate_latest());
    free(before);
    free(after);

    /* And from another connection, after a reopen. */
    db_close(d);
    d = open_ok(p);
    ck_assert_int_eq(db_migrate(d, &from, &to, &e), ERR_OK);
    ck_assert_int_eq(from, to);
    db_close(d);
    db_close(other);
}
END_TEST

START_TEST(newer_schema_is_refused_untouched)
{
    char p[PATH_MAX];
    tmp_path(p, sizeof p, "newer.db");
    db *d = open_ok(p);
    err e;
    err_clear(&e);
    ck_assert_int_eq(db_migrate(d, NULL, NULL, &e), ERR_OK);
    char sql[64];
    int newer = db_migrate_latest() + 1;
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", newer);
    stl_exec_ok(d, sql);
    db_close(d); /* last connection: the WAL is checkpointed into the file */

    size_t n0, n1;
    char *bytes0 = read_file(p, &n0);
    d = open_ok(p);
    int from = -1, to = -1;
    ck_assert_int_eq(db_migrate(d, &from, &to, &e), ERR_SCHEMA);
    char want[200];
    snprintf(want, sizeof want,
             "database schema version %d is newer than this odeserved supports (%d); "
             "upgrade odeserved",
             newer, db_migrate_latest());
    ck_assert_msg(strstr(e.message, want) != NULL, "got: %s", e.message);
    ck_assert_msg(strstr(e.message, p) != NULL, "path missing: %s", e.message);
    ck_assert_int_eq(from, newer);
    ck_assert_int_eq(to, newer);
    err_clear(&e);
    ck_assert_int_eq(db_migrate_check(d, &e), ERR_SCHEMA);
    db_close(d);
    char *bytes1 = read_file(p, &n1);
    ck_assert_uint_eq(n0, n1);
    ck_assert_msg(memcmp(bytes0, bytes1, n0) == 0, "the refused database was modified");
    free(bytes0);
    free(bytes1);
}
END_TEST

START_TEST(broken_migration_rolls_back)
{
    char p[PATH_MAX];
    db *d = open_ok(tmp_path(p, sizeof p, "broken.db"));
    err e;
    err_clear(&e);
    struct migration list[2] = {
        *real_first(),
        {2, "0002_broken.sql",
         "-- a valid first statement, an invalid second\n"
         "CREATE TABLE half_done (x INTEGER);\n"
         "INSERT INTO half_done VALUES (1);\n"
         "\n"
         "INSERT INTO no_such_table VALUES (1);\n"},
    };
    ck_assert_int_eq(db_migrate_list(d, list, 1, NULL, NULL, &e), ERR_OK);
    char *before = schema_dump(d);
    char *meta_before = stl_q_text(d, "SELECT group_concat(key || '=' || value) FROM meta");

    int from = -1, to = -1;
    ck_assert_int_eq(db_migrate_list(d, list, 2, &from, &to, &e), ERR_DB);
    ck_assert_msg(strstr(e.message, "0002_broken.sql, line 5") != NULL, "got: %s", e.message);
    ck_assert_msg(strstr(e.message, "no such table: no_such_table") != NULL, "got: %s", e.message);
    ck_assert_msg(strstr(e.message, p) != NULL, "path missing: %s", e.message);
    ck_assert_int_eq(from, 1);
    ck_assert_int_eq(to, 1);

    ck_assert_int_eq(stl_q_int(d, "PRAGMA user_version"), 1);
    ck_assert_int_eq(table_exists(d, "half_done"), 0);
    ck_assert_int_eq(stl_q_int(d, "SELECT count(*) FROM schema_history"), 1);
    char *after = schema_dump(d);
    char *meta_after = stl_q_text(d, "SELECT group_concat(key || '=' || value) FROM meta");
    ck_assert_str_eq(before, after);
    ck_assert_str_eq(meta_before, meta_after);
    /* The connection is left as it was: no transaction, foreign keys on. */
    ck_assert(!db_in_transaction(d));
    ck_assert_int_eq(stl_q_int(d, "PRAGMA foreign_keys"), 1);
    free(before);
    free(after);
    free(meta_before);
    free(meta_after);
    db_close(d);
}
END_TEST

START_TEST(broken_first_migration_leaves_empty_database)
{
    char p[PATH_MAX];
    db *d = open_ok(tmp_path(p, sizeof p, "empty.db"));
    err e;
    err_clear(&e);
    struct migration list[] = {
        {1, "0001_bad.sql", "CREATE TABLE a (x);\nCREATE TABLE a (y);\n"},
    };
    ck_assert_int_eq(db_migrate_list(d, list, 1, NULL, NULL, &e), ERR_DB);
    ck_assert_msg(strstr(e.message, "0001_bad.sql, line 2: table a already exists") != NULL,
                  "got: %s", e.message);
    ck_assert_int_eq(stl_q_int(d, "PRAGMA user_version"), 0);
    ck_assert_int_eq(stl_q_int(d, "SELECT count(*) FROM sqlite_master"), 0);
    db_close(d);
}
END_TEST

START_TEST(migration_cannot_end_its_transaction)
{
    char p[PATH_MAX];
    db *d = open_ok(tmp_path(p, sizeof p, "txn.db"));
    err e;
    static const char *const bodies[] = {
        "CREATE TABLE t (x);\nCOMMIT;\nCREATE TABLE u (x);\n",
        "CREATE TABLE t (x);\nROLLBACK;\n",
        "CREATE TABLE t (x);\nEND;\n",
        "CREATE TABLE t (x);\nPRAGMA user_version = 7;\n",
        "CREATE TABLE t (x);\nPRAGMA foreign_keys = OFF;\n",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        struct migration m = {1, "0001_sneaky.sql", bodies[i]};
        err_clear(&e);
        ck_assert_int_eq(db_migrate_list(d, &m, 1, NULL, NULL, &e), ERR_DB);
        ck_assert_msg(strstr(e.message, "0001_sneaky.sql, line 2") &&
                          strstr(e.message, "not allowed in a migration"),
                      "body %zu: %s", i, e.message);
        ck_assert_int_eq(stl_q_int(d, "PRAGMA user_version"), 0);
        ck_assert_int_eq(table_exists(d, "t"), 0);
        ck_assert(!db_in_transaction(d));
    }
    /* Reading a guarded pragma is fine, as is an unknown-parameter check. */
    struct migration ok = {1, "0001_ok.sql", "PRAGMA foreign_keys;\nCREATE TABLE t (x);\n"};
    err_clear(&e);
    ck_assert_msg(db_migrate_list(d, &ok, 1, NULL, NULL, &e) == ERR_OK, "%s", e.message);
    db_close(d);

    d = open_ok(tmp_path(p, sizeof p, "param.db"));
    struct migration bad = {1, "0001_param.sql", "CREATE TABLE t (x);\nSELECT :nope;\n"};
    err_clear(&e);
    ck_assert_int_eq(db_migrate_list(d, &bad, 1, NULL, NULL, &e), ERR_DB);
    ck_assert_msg(strstr(e.message, "unknown parameter :nope"), "%s", e.message);
    ck_assert_int_eq(table_exists(d, "t"), 0);
    db_close(d);
}
END_TEST

START_TEST(migration_foreign_keys)
{
    char p[PATH_MAX];
    db *d = open_ok(tmp_path(p, sizeof p, "fk.db"));
    err e;
    err_clear(&e);
    struct migration list[] = {
        {1, "0001_tables.sql",
         "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);\n"
         "CREATE TABLE child (id INTEGER PRIMARY KEY,\n"
         "    parent_id INTEGER NOT NULL REFERENCES parent (id) ON DELETE CASCADE);\n"
         "INSERT INTO parent VALUES (1, 'a');\n"
         "INSERT INTO child VALUES (10, 1);\n"},
        /* A table rebuild (SQLite's 12-step ALTER): with foreign keys on,
         * DROP TABLE parent would cascade into child. */
        {2, "0002_rebuild.sql",
         "CREATE TABLE parent_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '');\n"
         "INSERT INTO parent_new SELECT id, name FROM parent;\n"
         "DROP TABLE parent;\n"
         "ALTER TABLE parent_new RENAME TO parent;\n"},
        {3, "0003_dangling.sql", "INSERT INTO child VALUES (11, 99);\n"},
    };
    ck_assert_msg(db_migrate_list(d, list, 2, NULL, NULL, &e) == ERR_OK, "%s", e.message);
    ck_assert_int_eq(stl_q_int(d, "SELECT count(*) FROM child"), 1);
    ck_assert_int_eq(stl_q_int(d, "PRAGMA foreign_keys"), 1);

    int to = -1;
    ck_assert_int_eq(db_migrate_list(d, list, 3, NULL, &to, &e), ERR_DB);
    ck_assert_msg(strstr(e.message, "0003_dangling.sql leaves rows in table child"), "%s",
                  e.message);
    ck_assert_int_eq(to, 2);
    ck_assert_int_eq(stl_q_int(d, "SELECT count(*) FROM child"), 1);
    ck_assert_int_eq(stl_q_int(d, "PRAGMA foreign_keys"), 1);
    /* Foreign keys are enforced again outside migrations. */
    ck_assert_int_ne(
        sqlite3_exec(db_sqlite(d), "INSERT INTO child VALUES (12, 99)", NULL, NULL, NULL),
        SQLITE_OK);
    db_close(d);
}
END_TEST

START_TEST(migration_list_must_be_numbered)
{
    char p[PATH_MAX];
    db *d = open_ok(tmp_path(p, sizeof p, "num.db"));
    err e;
    err_clear(&e);
    struct migration list[] = {
        {1, "0001_a.sql", "CREATE TABLE a (x);"},
        {3, "0003_c.sql", "CREATE TABLE c (x);"},
    };
    ck_assert_int_eq(db_migrate_list(d, list, 2, NULL, NULL, &e), ERR_INTERNAL);
    ck_assert_int_eq(stl_q_int(d, "SELECT count(*) FROM sqlite_master"), 0);
    db_close(d);
}
END_TEST

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The embedded list is exactly the .sql files in migrations/: a file added to the folder
 * but not to src/store/local.mk (or edited without a rebuild) fails here. */
START_TEST(embedded_migrations_match_files)
{
    char dir[PATH_MAX];
    tu_source_path(dir, sizeof dir, "migrations");
    DIR *dh = opendir(dir);
    ck_assert_msg(dh != NULL, "cannot open %s", dir);
    char *names[1000];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(dh)) && n < 1000) {
        size_t nl = strlen(de->d_name);
        if (nl > 4 && strcmp(de->d_name + nl - 4, ".sql") == 0) names[n++] = strdup(de->d_name);
    }
    closedir(dh);
    qsort(names, n, sizeof names[0], cmp_str);
    ck_assert_uint_eq(n, db_migrations_count);
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(names[i], db_migrations[i].name);
        ck_assert_int_eq(db_migrations[i].version, (int)i + 1);
        char path[PATH_MAX];
        int len = snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        ck_assert(len > 0 && (size_t)len < sizeof path);
        size_t size;
        char *text = read_file(path, &size);
        ck_assert_uint_eq(strlen(db_migrations[i].sql), size);
        ck_assert_msg(memcmp(text, db_migrations[i].sql, size) == 0, "%s differs", names[i]);
        free(text);
        free(names[i]);
    }
}
END_TEST

/* ---- connections ---- */

START_TEST(pragmas_in_effect)
{
    char p[PATH_MAX];
    db *d = open_ok(tmp_path(p, sizeof p, "pragmas.db"));
    char *mode = stl_q_text(d, "PRAGMA journal_mode");
    ck_assert_str_eq(mode, "wal");
    free(mode);
    ck_assert_int_eq(stl_q_int(d, "PRAGMA foreign_keys"), 1);
    ck_assert_int_eq(stl_q_int(d, "PRAGMA synchronous"), 2); /* FULL */
    ck_assert_int_eq(stl_q_int(d, "PRAGMA busy_timeout"), 5000);
    char *version = stl_q_text(d, "SELECT sqlite_version()"); /* what GET /v1/version reports */
    ck_assert_str_eq(db_sqlite_version(), version);
    free(version);
    db_close(d);

    static const struct {
        const char *name;
        int level;
    } levels[] = {{"off", 0}, {"normal", 1}, {"FULL", 2}, {"extra", 3}, {NULL, 2}};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        db_opts o;
        db_opts_default(&o);
        o.path = p;
        o.synchronous = levels[i].name;
        o.busy_timeout_ms = 1234 + (int)i;
        err e;
        err_clear(&e);
        ck_assert_msg(db_open(&d, &o, &e) == ERR_OK, "%s", e.message);
        ck_assert_int_eq(stl_q_int(d, "PRAGMA synchronous"), levels[i].level);
        ck_assert_int_eq(stl_q_int(d, "PRAGMA busy_timeout"), 1234 + (int)i);
        ck_assert_int_eq(stl_q_int(d, "PRAGMA foreign_keys"), 1);
        db_close(d);
    }
}
END_TEST

START_TEST(bad_options_rejected)
{
    char p[PATH_MAX];
    tmp_path(p, sizeof p, "opts.db");
    db_opts o;
    db *d = (db *)&o; /* must be reset to NULL on failure */
    db_conns *pool = (db_conns *)&o;
    err e;

    db_opts_default(&o);
    o.path = p;
    o.synchronous = "fast";
    err_clear(&e);
    ck_assert_int_eq(db_open(&d, &o, &e), ERR_CONFIG);
    ck_assert_ptr_null(d);
    ck_assert_str_eq(e.field, "synchronous");
    ck_assert_msg(strstr(e.message, "off, normal, full, extra") && strstr(e.message, "\"fast\""),
                  "%s", e.message);
    err_clear(&e);
    ck_assert_int_eq(db_conns_new(&pool, &o, &e), ERR_CONFIG);
    ck_assert_ptr_null(pool);
    ck_assert_str_eq(e.field, "synchronous");

    db_opts_default(&o);
    o.path = p;
    o.busy_timeout_ms = -1;
    err_clear(&e);
    ck_assert_int_eq(db_open(&d, &o, &e), ERR_CONFIG);
    ck_assert_str_eq(e.field, "busy_timeout_ms");

    db_opts_default(&o);
    err_clear(&e);
    ck_assert_int_eq(db_open(&d, &o, &e), ERR_CONFIG);
    ck_assert_str_eq(e.field, "path");
    o.path = ":memory:";
    err_clear(&e);
    ck_assert_int_eq(db_open(&d, &o, &e), ERR_CONFIG);
    ck_assert_str_eq(e.field, "path");
    /* Nothing was created along the way. */
    ck_assert_int_ne(access(p, F_OK), 0);
}
END_TEST

static void expect_db_error(const char *path, const char *why)
{
    db_opts o;
    db_opts_default(&o);
    o.path = path;
    err e;
    err_clear(&e);
    db *d = NULL;
    ck_assert_int_eq(db_open(&d, &o, &e), ERR_DB);
    ck_assert_ptr_null(d);
    ck_assert_msg(strstr(e.message, path) != NULL, "path missing: %s", e.message);
    ck_assert_msg(strstr(e.message, why) != NULL, "want \"%s\" in: %s", why, e.message);
}

START_TEST(unusable_path_is_a_db_error)
{
    char p[PATH_MAX];
    /* A directory that does not exist: cannot be created, even by root. */
    expect_db_error(tmp_path(p, sizeof p, "no/such/dir/x.db"), "No such file or directory");
    /* A directory where the file should be. */
    ck_assert_int_eq(mkdir(tmp_path(p, sizeof p, "adir"), 0700), 0);
    expect_db_error(p, "cannot open database");
    /* A file that is not a database. */
    FILE *f = fopen(tmp_path(p, sizeof p, "junk.db"), "wb");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 200; i++)
        fputs("this is not an SQLite database\n", f);
    fclose(f);
    expect_db_error(p, "file is not a database");
    /* Read-only directory and file (root ignores permissions: skip). */
    if (geteuid() != 0) {
        ck_assert_int_eq(mkdir(tmp_path(p, sizeof p, "ro"), 0500), 0);
        expect_db_error(tmp_path(p, sizeof p, "ro/x.db"), "cannot open database");
        db_close(open_ok(tmp_path(p, sizeof p, "rofile.db")));
        ck_assert_int_eq(chmod(p, 0400), 0);
        expect_db_error(p, "read-only");
        chmod(tmp_path(p, sizeof p, "ro"), 0700);
    }
}
END_TEST

START_TEST(file_colon_names_are_plain_files)
{
    char cwd[PATH_MAX];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(tmpdir), 0);
    db *d = open_ok("file:odd.db?mode=ro");
    stl_exec_ok(d, "CREATE TABLE t (x)");
    db_close(d);
    ck_assert_int_eq(access("file:odd.db?mode=ro", F_OK), 0);
    ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST

START_TEST(transaction_helpers)
{
    char p[PATH_MAX];
    db *d = open_ok(tmp_path(p, sizeof p, "txn.db"));
    err e;
    err_clear(&e);
    stl_exec_ok(d, "CREATE TABLE t (x INTEGER)");
    ck_assert(!db_in_transaction(d));
    ck_assert_int_eq(db_begin_immediate(d, &e), ERR_OK);
    ck_assert(db_in_transaction(d));
    ck_assert_int_eq(db_begin_immediate(d, &e), ERR_INTERNAL);
    err_clear(&e);
    ck_assert_int_eq(db_exec(d, "INSERT INTO t VALUES (1)", &e), ERR_OK);
    db_rollback(d);
    ck_assert(!db_in_transaction(d));
    ck_assert_int_eq(stl_q_int(d, "SELECT count(*) FROM t"), 0);
    db_rollback(d); /* nothing open: a no-op */

    ck_assert_int_eq(db_begin_immediate(d, &e), ERR_OK);
    ck_assert_int_eq(db_exec(d, "INSERT INTO t VALUES (2)", &e), ERR_OK);
    ck_assert_int_eq(db_commit(d, &e), ERR_OK);
    ck_assert_int_eq(stl_q_int(d, "SELECT sum(x) FROM t"), 2);

    ck_assert_int_eq(db_exec(d, "INSERT INTO nowhere VALUES (1)", &e), ERR_DB);
    /* a request's error may reach a client: the path goes to the log only */
    ck_assert_msg(strstr(e.message, "no such table: nowhere") && !strstr(e.message, p), "%s",
                  e.message);
    db_close(d);
}
END_TEST

/* Without a busy timeout a second writer fails at once: the control for
 * concurrent_writers below, which succeeds only because of busy_timeout. */
START_TEST(writer_without_busy_timeout_gets_busy)
{
    char p[PATH_MAX];
    tmp_path(p, sizeof p, "busy.db");
    db *a = open_ok(p);
    db_opts o;
    db_opts_default(&o);
    o.path = p;
    o.busy_timeout_ms = 0;
    err e;
    err_clear(&e);
    db *b = NULL;
    ck_assert_int_eq(db_open(&b, &o, &e), ERR_OK);
    ck_assert_int_eq(db_begin_immediate(a, &e), ERR_OK);
    /* database_busy (503, retry), not a database_error */
    ck_assert_int_eq(db_begin_immediate(b, &e), ERR_BUSY);
    ck_assert_msg(strstr(e.message, "the database is busy") && !strstr(e.message, p), "%s",
                  e.message);
    ck_assert(!db_in_transaction(b));
    ck_assert_int_eq(db_commit(a, NULL), ERR_OK);
    err_clear(&e);
    ck_assert_int_eq(db_begin_immediate(b, &e), ERR_OK);
    ck_assert_int_eq(db_commit(b, &e), ERR_OK);
    db_close(a);
    db_close(b);
}
END_TEST

/* ---- the pool ---- */

struct pool_probe {
    db_conns *pool;
    pthread_barrier_t *started, *checked;
    db *first, *second;
    long long answer;
    err e;
};

static void *pool_probe_run(void *arg)
{
    struct pool_probe *t = arg;
    err_clear(&t->e);
    if (db_conns_get(t->pool, &t->first, &t->e) == ERR_OK &&
        db_conns_get(t->pool, &t->second, &t->e) == ERR_OK)
        db_query_int(t->first, "SELECT 6 * 7", &t->answer, &t->e);
    pthread_barrier_wait(t->started);
    pthread_barrier_wait(t->checked); /* stay alive until the main thread has looked */
    return NULL;
}

START_TEST(pool_gives_each_thread_its_own_connection)
{
    char p[PATH_MAX];
    db_opts o;
    db_opts_default(&o);
    o.path = tmp_path(p, sizeof p, "pool.db");
    err e;
    err_clear(&e);
    db_conns *pool = NULL;
    ck_assert_int_eq(db_conns_new(&pool, &o, &e), ERR_OK);
    ck_assert_uint_eq(db_conns_size(pool), 0); /* lazily opened */
    db *mine = NULL, *again = NULL;
    ck_assert_int_eq(db_conns_get(pool, &mine, &e), ERR_OK);
    ck_assert_int_eq(db_conns_get(pool, &again, &e), ERR_OK);
    ck_assert_ptr_eq(mine, again);
    ck_assert_int_eq(db_migrate(mine, NULL, NULL, &e), ERR_OK);

    enum { N = 3 };
    pthread_barrier_t started, checked;
    pthread_barrier_init(&started, NULL, N + 1);
    pthread_barrier_init(&checked, NULL, N + 1);
    struct pool_probe t[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        t[i] = (struct pool_probe){.pool = pool, .started = &started, .checked = &checked};
        ck_assert_int_eq(pthread_create(&th[i], NULL, pool_probe_run, &t[i]), 0);
    }
    pthread_barrier_wait(&started);
    ck_assert_uint_eq(db_conns_size(pool), N + 1);
    pthread_barrier_wait(&checked);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    /* Each exiting thread closed its connection. */
    ck_assert_uint_eq(db_conns_size(pool), 1);

    for (int i = 0; i < N; i++) {
        ck_assert_msg(t[i].e.code == ERR_OK, "thread %d: %s", i, t[i].e.message);
        ck_assert_ptr_nonnull(t[i].first);
        ck_assert_ptr_eq(t[i].first, t[i].second);
        ck_assert_ptr_ne(t[i].first, mine);
        ck_assert_int_eq(t[i].answer, 42);
        for (int j = 0; j < i; j++)
            ck_assert_ptr_ne(t[i].first, t[j].first);
    }
    pthread_barrier_destroy(&started);
    pthread_barrier_destroy(&checked);
    ck_assert_int_eq(db_migrate_check(mine, &e), ERR_OK);
    db_conns_free(pool);
    db_conns_free(NULL);
}
END_TEST

enum { WRITERS = 4, WRITES = 50 };

struct writer {
    db_conns *pool;
    int failures;
    err e; /* the first failure */
};

/* A read-modify-write: a lost update or a SQLITE_BUSY would show. */
static err_code increment(db *d, err *e)
{
    long long n = 0;
    err_code rc = db_begin_immediate(d, e);
    if (rc) return rc;
    if ((rc = db_query_int(d, "SELECT n FROM counter", &n, e))) goto fail;
    char sql[64];
    snprintf(sql, sizeof sql, "UPDATE counter SET n = %lld", n + 1);
    if ((rc = db_exec(d, sql, e))) goto fail;
    return db_commit(d, e);
fail:
    db_rollback(d);
    return rc;
}

static void *writer_run(void *arg)
{
    struct writer *w = arg;
    err_clear(&w->e);
    db *d = NULL;
    if (db_conns_get(w->pool, &d, &w->e)) {
        w->failures = WRITES;
        return NULL;
    }
    for (int i = 0; i < WRITES; i++)
        if (increment(d, &w->e)) w->failures++;
    return NULL;
}

START_TEST(concurrent_writers_wait_instead_of_failing)
{
    char p[PATH_MAX];
    db_opts o;
    db_opts_default(&o); /* synchronous FULL */
    /* that they wait at all is the point (the control above fails without
     * a timeout); the default 5 s is short of what a writer may wait behind
     * 199 fsync'd commits of a sanitized build on a loaded machine */
    o.busy_timeout_ms = 60000;
    o.path = tmp_path(p, sizeof p, "writers.db");
    err e;
    err_clear(&e);
    db_conns *pool = NULL;
    ck_assert_int_eq(db_conns_new(&pool, &o, &e), ERR_OK);
    db *mine = NULL;
    ck_assert_int_eq(db_conns_get(pool, &mine, &e), ERR_OK);
    ck_assert_int_eq(db_migrate(mine, NULL, NULL, &e), ERR_OK);
    stl_exec_ok(mine, "CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0)");

    struct writer w[WRITERS];
    pthread_t th[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){.pool = pool};
        ck_assert_int_eq(pthread_create(&th[i], NULL, writer_run, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < WRITERS; i++)
        ck_assert_msg(w[i].failures == 0, "writer %d: %d failures, first: %s", i, w[i].failures,
                      w[i].e.message);
    ck_assert_int_eq(stl_q_int(mine, "SELECT n FROM counter"), WRITERS * WRITES);
    db_conns_free(pool);
}
END_TEST

/* Several connections open a fresh file and migrate it at once (a daemon
 * starting while `odeserved migrate` runs): each migration is applied once,
 * the losers find it done after waiting for the write lock. */
enum { MIGRATORS = 4, ROUNDS = 5 };

static const struct migration race_list[] = {
    {1, "0001_a.sql", "CREATE TABLE a (x); INSERT INTO a VALUES (1);"},
    {2, "0002_b.sql", "CREATE TABLE b (x); INSERT INTO b SELECT x + 1 FROM a;"},
    {3, "0003_c.sql", "ALTER TABLE a ADD COLUMN y DEFAULT 7;"},
};

struct migrator {
    const char *path;
    pthread_barrier_t *go;
    int from, to;
    err e;
};

static void *migrator_run(void *arg)
{
    struct migrator *m = arg;
    err_clear(&m->e);
    db_opts o;
    db_opts_default(&o);
    o.busy_timeout_ms = 60000; /* as concurrent_writers_wait_instead_of_failing */
    o.path = m->path;
    db *d = NULL;
    pthread_barrier_wait(m->go);
    if (db_open(&d, &o, &m->e) == ERR_OK) db_migrate_list(d, race_list, 3, &m->from, &m->to, &m->e);
    db_close(d);
    return NULL;
}

START_TEST(concurrent_migrations_apply_once)
{
    for (int r = 0; r < ROUNDS; r++) {
        char p[PATH_MAX], name[32];
        snprintf(name, sizeof name, "race%d.db", r);
        tmp_path(p, sizeof p, name);
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, MIGRATORS);
        struct migrator m[MIGRATORS];
        pthread_t th[MIGRATORS];
        for (int i = 0; i < MIGRATORS; i++) {
            m[i] = (struct migrator){.path = p, .go = &go};
            ck_assert_int_eq(pthread_create(&th[i], NULL, migrator_run, &m[i]), 0);
        }
        for (int i = 0; i < MIGRATORS; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&go);
        for (int i = 0; i < MIGRATORS; i++) {
            ck_assert_msg(m[i].e.code == ERR_OK, "round %d, migrator %d: %s", r, i, m[i].e.message);
            ck_assert_int_eq(m[i].to, 3);
        }
        db *d = open_ok(p);
        ck_assert_int_eq(stl_q_int(d, "PRAGMA user_version"), 3);
        ck_assert_int_eq(stl_q_int(d, "SELECT count(*) FROM a"), 1);
        ck_assert_int_eq(stl_q_int(d, "SELECT count(*) FROM b"), 1);
        ck_assert_int_eq(stl_q_int(d, "SELECT y FROM a"), 7);
        db_close(d);
    }
}
END_TEST

/* 0011 (the lagrangian kind) rebuilds model_versions and model_nets: a
 * hamiltonian version stored under 0010 keeps its id, form and network;
 * afterwards a lagrangian row is accepted with an even state_dim and no
 * other kind's fields, and refused otherwise. */
START_TEST(lagrangian_migration_keeps_versions)
{
    char p[PATH_MAX];
    db *d = open_ok(tmp_path(p, sizeof p, "lag.db"));
    err e;
    err_clear(&e);
    ck_assert_uint_ge(db_migrations_count, 11);
    ck_assert_str_eq(db_migrations[10].name, "0011_lagrangian.sql");
    ck_assert_msg(db_migrate_list(d, db_migrations, 10, NULL, NULL, &e) == ERR_OK, "%s",
                  e.message);
#define VROW(id, kind, dim, form)                                                                  \
    "INSERT INTO model_versions (id, model_id, version, created_at, kind, state_dim, n_params, "    \
    "params, checksum, ham_form) VALUES (" id ", 1, " id ", '2026-12-06T00:00:00.000Z', '" kind    \
    "', " dim ", 1, zeroblob(8), '0123456789abcdef', " form ")"
    stl_exec_ok(d, "INSERT INTO models (id, name, created_at, next_version) VALUES "
                   "(1, 'm', '2026-12-06T00:00:00.000Z', 9)");
    stl_exec_ok(d, VROW("7", "hamiltonian", "2", "'mass'"));
    stl_exec_ok(d, "INSERT INTO model_nets VALUES (7, 0, 'potential', 1, 0)");
    ck_assert_msg(db_migrate_list(d, db_migrations, 11, NULL, NULL, &e) == ERR_OK, "%s",
                  e.message);
    ck_assert_int_eq(stl_q_int(d, "SELECT count(*) FROM model_versions WHERE id = 7 AND "
                                  "kind = 'hamiltonian' AND ham_form = 'mass'"),
                     1);
    ck_assert_int_eq(stl_q_int(d, "SELECT count(*) FROM model_nets WHERE version_id = 7 AND "
                                  "name = 'potential'"),
                     1);
    stl_exec_ok(d, VROW("8", "lagrangian", "4", "NULL"));
    stl_exec_ok(d, "INSERT INTO model_nets VALUES (8, 0, 'lagrangian', 4, 0)");
    sqlite3 *s = db_sqlite(d);
    ck_assert_int_ne(sqlite3_exec(s, VROW("9", "lagrangian", "3", "NULL"), NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_ne(sqlite3_exec(s, VROW("9", "lagrangian", "2", "'mass'"), NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_ne(sqlite3_exec(s, VROW("9", "lagrangian", "NULL", "NULL"), NULL, NULL, NULL),
                     SQLITE_OK);
#undef VROW
    /* the immutability triggers are made again */
    ck_assert_int_ne(sqlite3_exec(s, "UPDATE model_versions SET description = 'x' WHERE id = 8",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    db_close(d);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("migrations");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, fresh_database_migrates_to_latest);
    tcase_add_test(tc, rerun_is_a_noop);
    tcase_add_test(tc, newer_schema_is_refused_untouched);
    tcase_add_test(tc, broken_migration_rolls_back);
    tcase_add_test(tc, broken_first_migration_leaves_empty_database);
    tcase_add_test(tc, migration_cannot_end_its_transaction);
    tcase_add_test(tc, migration_foreign_keys);
    tcase_add_test(tc, migration_list_must_be_numbered);
    tcase_add_test(tc, embedded_migrations_match_files);
    tcase_add_test(tc, lagrangian_migration_keeps_versions);
    suite_add_tcase(s, tc);

    tc = tcase_create("connections");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, pragmas_in_effect);
    tcase_add_test(tc, bad_options_rejected);
    tcase_add_test(tc, unusable_path_is_a_db_error);
    tcase_add_test(tc, file_colon_names_are_plain_files);
    tcase_add_test(tc, transaction_helpers);
    tcase_add_test(tc, writer_without_busy_timeout_gets_busy);
    suite_add_tcase(s, tc);

    tc = tcase_create("pool");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, pool_gives_each_thread_its_own_connection);
    tcase_add_test(tc, concurrent_writers_wait_instead_of_failing);
    tcase_add_test(tc, concurrent_migrations_apply_once);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    log_level_set(LOG_LVL_WARN);
    const char *base = getenv("TMPDIR");
    if (!base || !base[0]) base = "/tmp";
    snprintf(topdir, sizeof topdir, "%s/check_store.XXXXXX", base);
    if (!mkdtemp(topdir)) {
        perror(topdir);
        return EXIT_FAILURE;
    }
    int rc = tu_suite_run(store_suite());
    rm_tree(topdir);
    return rc;
}
