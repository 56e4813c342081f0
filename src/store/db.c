/* store/db.c: one SQLite connection, set up the same way every time.
 *
 * DESIGN
 * Connections are opened with SQLITE_OPEN_NOMUTEX (SQLite's "multi-thread"
 * mode): SQLite takes no lock around calls on a connection, which is safe
 * because each connection belongs to one thread (db_conns). Each connection
 * gets, in this order:
 *   - the VFS of store/oserr_internal.h over the default one, which keeps
 *     the errno of a failed fsync that SQLite itself loses (ENOSPC: 507);
 *   - extended result codes, so messages carry e.g. SQLITE_BUSY_SNAPSHOT;
 *   - busy_timeout, before anything that may need a lock;
 *   - SQLITE_DBCONFIG_DEFENSIVE (no writable_schema, no journal_mode=OFF)
 *     and no double-quoted string literals (a "typo" is an error, not text);
 *   - journal_mode=WAL (readers never block the writer and vice versa;
 *     persistent in the file, so this is a no-op after the first open);
 *   - foreign_keys=ON (per connection in SQLite, off by default);
 *   - synchronous as configured (FULL: a commit is on disk when it returns).
 * Each setting is read back, so a SQLite built without foreign keys or a
 * file system that cannot hold a WAL is an error at start-up, not a
 * surprise later. */
#include "store/db.h"
#include "store/db_internal.h"
#include "store/oserr_internal.h"
#include "store/space_internal.h"

#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

struct cached_stmt {
    const char *sql;  /* the key: a string with static storage duration */
    sqlite3_stmt *st; /* owned */
};

struct db {
    sqlite3 *conn;             /* owned */
    char *path;                /* as given in db_opts, for messages */
    struct cached_stmt *stmts; /* db_stmt's statements */
    size_t n_stmts, cap_stmts;
};

static const struct {
    const char *name;   /* db_opts.synchronous */
    const char *pragma; /* PRAGMA synchronous value */
} sync_levels[] = {
    {"off", "OFF"},
    {"normal", "NORMAL"},
    {"full", "FULL"},
    {"extra", "EXTRA"},
};

void db_opts_default(db_opts *o)
{
    o->path = NULL;
    o->busy_timeout_ms = 5000;
    o->synchronous = "full";
}

/* PRAGMA synchronous keyword for a db_opts value (NULL = default FULL), or
 * NULL if the value is not one we accept. */
static const char *sync_pragma(const char *name)
{
    if (!name) return "FULL";
    for (size_t i = 0; i < sizeof sync_levels / sizeof sync_levels[0]; i++)
        if (strcasecmp(name, sync_levels[i].name) == 0) return sync_levels[i].pragma;
    return NULL;
}

err_code db_opts_check(const db_opts *o, err *e)
{
    if (!o) return err_set(e, ERR_INTERNAL, NULL, "db_opts is NULL");
    if (!o->path || !o->path[0])
        return err_set(e, ERR_CONFIG, "path", "database path must not be empty");
    if (strcmp(o->path, ":memory:") == 0)
        return err_set(e, ERR_CONFIG, "path",
                       "database path must be a file (\":memory:\" cannot be shared "
                       "between connections or use WAL)");
    if (o->busy_timeout_ms < 0)
        return err_set(e, ERR_CONFIG, "busy_timeout_ms", "must be >= 0 milliseconds (got %d)",
                       o->busy_timeout_ms);
    if (!sync_pragma(o->synchronous))
        return err_set(e, ERR_CONFIG, "synchronous",
                       "must be one of off, normal, full, extra (got \"%s\")", o->synchronous);
    return ERR_OK;
}

sqlite3 *db_sqlite(db *d)
{
    return d->conn;
}

const char *db_path(db *d)
{
    return d->path;
}

/* Does the OS error behind this result code say something useful? */
static int has_os_cause(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_FULL:
        return 1;
    default:
        return 0;
    }
}

/* What a client may read of `what`: store code passes a description
 * ("reading the model") or, from db_exec and friends, the SQL itself,
 * which stays in the log. */
static const char *client_what(const char *what)
{
    if (!what || !(what[0] >= 'A' && what[0] <= 'Z' && what[1] >= 'A' && what[1] <= 'Z'))
        return what ? what : "";
    if (strcmp(what, "COMMIT") == 0) return "committing";
    if (strncmp(what, "BEGIN", 5) == 0) return "starting a transaction";
    return "a statement";
}

err_code db_error(db *d, err *e, const char *what)
{
    int rc = sqlite3_extended_errcode(d->conn);
    int sys = sqlite3_system_errno(d->conn);
    /* the errno SQLite lost on the way (store/oserr_internal.h) is the one
     * that says why an fsync, a truncate or a write failed */
    int noted = db_oserr_take();
    if ((rc & 0xff) == SQLITE_IOERR && noted) sys = noted;
    int os = sys && has_os_cause(rc);
    /* the path goes to the log only: a client has no business knowing it */
    char q[256], w[128], m[256];
    log_error("db_error", "path=%s what=%s message=%s sqlite_code=%d os_error=%s",
              log_quote(q, sizeof q, d->path), log_quote(w, sizeof w, what),
              log_quote(m, sizeof m, sqlite3_errmsg(d->conn)), rc, os ? strerror(sys) : "none");
    if ((rc & 0xff) == SQLITE_FULL || (os && (sys == ENOSPC || sys == EDQUOT))) {
        db_space_note_full();
        return err_set(e, ERR_STORAGE_FULL, NULL,
                       "the database's disk is full (%s); deleting models, versions or datasets "
                       "frees space",
                       client_what(what));
    }
    /* busy_timeout ran out: another connection (a checkpoint, a backup, an
     * operator's sqlite3 shell) held the lock all along; nothing was
     * written, and the same request is likely to pass in a moment */
    if ((rc & 0xff) == SQLITE_BUSY)
        return err_set(e, ERR_BUSY, NULL,
                       "the database is busy (%s): another connection held its lock for longer "
                       "than busy_timeout; nothing was changed, retry",
                       client_what(what));
    /* SQLite's own message names tables and columns at most ("no such
     * table: t", "UNIQUE constraint failed: models.name"): the statement
     * itself stays in the log */
    const char *detail = sqlite3_errmsg(d->conn);
    if (os)
        return err_set(e, ERR_DB, NULL, "database error: %s: %s (%s; error %d)",
                       client_what(what), detail, strerror(sys), rc);
    return err_set(e, ERR_DB, NULL, "database error: %s: %s (error %d)", client_what(what),
                   detail, rc);
}

err_code db_exec(db *d, const char *sql, err *e)
{
    if (sqlite3_exec(d->conn, sql, NULL, NULL, NULL) == SQLITE_OK) return ERR_OK;
    char what[80];
    snprintf(what, sizeof what, "%s", sql);
    return db_error(d, e, what);
}

err_code db_query_int(db *d, const char *sql, long long *out, err *e)
{
    sqlite3_stmt *st = NULL;
    err_code rc = ERR_OK;
    if (sqlite3_prepare_v2(d->conn, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = db_error(d, e, sql);
        goto out;
    }
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
    } else if (s == SQLITE_DONE) {
        char q[256], w[256];
        log_error("db_no_row", "path=%s sql=%s", log_quote(q, sizeof q, d->path),
                  log_quote(w, sizeof w, sql));
        rc = err_set(e, ERR_DB, NULL, "database error: a query returned no row");
    } else {
        rc = db_error(d, e, sql);
    }
out:
    sqlite3_finalize(st);
    return rc;
}

/* PRAGMA journal_mode[=WAL]: the mode now in effect, lower case, into buf.
 * Returns the SQLite result code. */
static int journal_mode(db *d, const char *sql, char *buf, size_t n)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->conn, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        snprintf(buf, n, "%s", mode ? mode : "?");
        for (char *c = buf; *c; c++)
            if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Switch the file to WAL unless it is already (the mode persists in the
 * file). Switching needs an exclusive lock, and while another connection
 * holds the write lock SQLite answers SQLITE_BUSY at once, without calling
 * the busy handler (the pragma holds a read lock as it asks, and SQLite does
 * not wait where waiting could deadlock). That happens when several threads
 * or processes open a new database together, so we retry here, within
 * busy_timeout, with the busy handler's back-off. */
static err_code setup_wal(db *d, int busy_timeout_ms, err *e)
{
    static const int backoff_ms[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
    const size_t nb = sizeof backoff_ms / sizeof backoff_ms[0];
    char mode[16];
    if (journal_mode(d, "PRAGMA journal_mode", mode, sizeof mode) != SQLITE_OK)
        return db_error(d, e, "cannot read the journal mode");
    double deadline = clock_mono() + busy_timeout_ms / 1000.0;
    for (size_t i = 0; strcmp(mode, "wal") != 0; i++) {
        int rc = journal_mode(d, "PRAGMA journal_mode=WAL", mode, sizeof mode);
        if (rc == SQLITE_OK && strcmp(mode, "wal") != 0)
            return err_set(e, ERR_DB, NULL,
                           "%s: cannot enable WAL: journal mode stays \"%s\" (WAL needs a "
                           "local file system with shared memory)",
                           d->path, mode);
        if (rc == SQLITE_OK) break;
        if ((rc & 0xff) != SQLITE_BUSY || clock_mono() >= deadline)
            return db_error(d, e, "cannot enable WAL");
        struct timespec ts = {0, backoff_ms[i < nb ? i : nb - 1] * 1000000L};
        nanosleep(&ts, NULL);
    }
    return ERR_OK;
}

static err_code setup_connection(db *d, const db_opts *o, err *e)
{
    sqlite3 *c = d->conn;
    sqlite3_extended_result_codes(c, 1);
    if (sqlite3_db_readonly(c, "main") == 1)
        return err_set(e, ERR_DB, NULL,
                       "%s: database is read-only for this process (check the permissions "
                       "of the file and its directory)",
                       d->path);
    if (sqlite3_busy_timeout(c, o->busy_timeout_ms) != SQLITE_OK)
        return db_error(d, e, "cannot set busy_timeout");
    sqlite3_db_config(c, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    sqlite3_db_config(c, SQLITE_DBCONFIG_DQS_DDL, 0, (int *)NULL);
    sqlite3_db_config(c, SQLITE_DBCONFIG_DQS_DML, 0, (int *)NULL);
    err_code rc = setup_wal(d, o->busy_timeout_ms, e);
    if (rc) return rc;
    if ((rc = db_exec(d, "PRAGMA foreign_keys=ON", e))) return rc;
    long long fk = 0;
    if ((rc = db_query_int(d, "PRAGMA foreign_keys", &fk, e))) return rc;
    if (fk != 1)
        return err_set(e, ERR_DB, NULL, "%s: this SQLite does not enforce foreign keys", d->path);
    char sql[96];
    snprintf(sql, sizeof sql, "PRAGMA synchronous=%s", sync_pragma(o->synchronous));
    if ((rc = db_exec(d, sql, e))) return rc;
    /* keep the log smaller than the reserve, so that a checkpoint fits in
     * the reserve's room on a full disk (store/space.h) */
    size_t log_bytes = db_space_log_bytes();
    if (log_bytes == 0) return ERR_OK;
    size_t pages = log_bytes / 4096 > 16 ? log_bytes / 4096 : 16;
    snprintf(sql, sizeof sql, "PRAGMA wal_autocheckpoint=%zu", pages);
    if ((rc = db_exec(d, sql, e))) return rc;
    snprintf(sql, sizeof sql, "PRAGMA journal_size_limit=%zu", log_bytes);
    return db_exec(d, sql, e);
}

err_code db_open(db **out, const db_opts *o, err *e)
{
    *out = NULL;
    err_code rc = db_opts_check(o, e);
    if (rc) return rc;
    if (!sqlite3_threadsafe())
        return err_set(e, ERR_DB, NULL, "SQLite was built without thread support");
    char *open_path = NULL;
    db *d = calloc(1, sizeof *d);
    if (!d || !(d->path = strdup(o->path))) {
        rc = err_set(e, ERR_NOMEM, NULL, "out of memory opening %s", o->path);
        goto fail;
    }
    /* Debian's SQLite is built with SQLITE_USE_URI: a name starting with
     * "file:" would be parsed as a URI (with ?mode=... and the like). We
     * open plain file names only. */
    const char *path = o->path;
    if (strncmp(path, "file:", 5) == 0) {
        size_t n = strlen(path) + 3;
        if (!(open_path = malloc(n))) {
            rc = err_set(e, ERR_NOMEM, NULL, "out of memory opening %s", o->path);
            goto fail;
        }
        snprintf(open_path, n, "./%s", path);
        path = open_path;
    }
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &d->conn, flags, db_oserr_vfs()) != SQLITE_OK) {
        if (!d->conn) {
            rc = err_set(e, ERR_NOMEM, NULL, "out of memory opening %s", o->path);
            goto fail;
        }
        sqlite3_extended_result_codes(d->conn, 1);
        rc = db_error(d, e, "cannot open database");
        goto fail;
    }
    if ((rc = setup_connection(d, o, e))) goto fail;
    free(open_path);
    *out = d;
    return ERR_OK;
fail:
    if (d && d->path) db_error_path_prefix(d, e);
    free(open_path);
    db_close(d);
    return rc;
}

void db_error_path_prefix(db *d, err *e)
{
    if (!e || e->code == ERR_OK || strncmp(e->message, d->path, strlen(d->path)) == 0) return;
    char m[ERR_MSG_MAX];
    size_t p = strlen(d->path), n = strlen(e->message);
    if (p + 2 >= sizeof m) return;
    memcpy(m, d->path, p);
    memcpy(m + p, ": ", 2);
    if (n > sizeof m - p - 3) n = sizeof m - p - 3; /* cut: the path comes first */
    memcpy(m + p + 2, e->message, n);
    m[p + 2 + n] = '\0';
    memcpy(e->message, m, sizeof m);
}

err_code db_stmt(db *d, const char *sql, sqlite3_stmt **out, err *e)
{
    *out = NULL;
    for (size_t i = 0; i < d->n_stmts; i++) {
        if (d->stmts[i].sql == sql) {
            *out = d->stmts[i].st;
            return ERR_OK;
        }
    }
    if (d->n_stmts == d->cap_stmts) {
        size_t cap = d->cap_stmts ? 2 * d->cap_stmts : 8;
        struct cached_stmt *p = realloc(d->stmts, cap * sizeof *p);
        if (!p) return err_set(e, ERR_NOMEM, NULL, "out of memory preparing a statement");
        d->stmts = p;
        d->cap_stmts = cap;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(d->conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
        return db_error(d, e, sql);
    d->stmts[d->n_stmts++] = (struct cached_stmt){sql, st};
    *out = st;
    return ERR_OK;
}

void db_stmt_reset(sqlite3_stmt *st)
{
    if (!st) return;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

void db_close(db *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->n_stmts; i++)
        sqlite3_finalize(d->stmts[i].st);
    free(d->stmts);
    if (d->conn && sqlite3_close(d->conn) != SQLITE_OK) {
        /* A statement was left unfinalized: a bug. Let SQLite finish the
         * close when the statement goes, rather than leak the handle. */
        char q[256], m[256];
        log_error("db_close_busy", "path=%s error=%s", log_quote(q, sizeof q, d->path),
                  log_quote(m, sizeof m, sqlite3_errmsg(d->conn)));
        sqlite3_close_v2(d->conn);
    }
    free(d->path);
    free(d);
}

err_code db_schema_version(db *d, int *version, err *e)
{
    long long v = 0;
    err_code rc = db_query_int(d, "PRAGMA user_version", &v, e);
    if (rc) return rc;
    *version = (int)v;
    return ERR_OK;
}

err_code db_size_bytes(db *d, unsigned long long *bytes, err *e)
{
    long long pages = 0, size = 0;
    err_code rc = db_query_int(d, "PRAGMA page_count", &pages, e);
    if (rc || (rc = db_query_int(d, "PRAGMA page_size", &size, e))) return rc;
    *bytes = (unsigned long long)pages * (unsigned long long)size;
    return ERR_OK;
}

const char *db_sqlite_version(void)
{
    return sqlite3_libversion();
}

int db_in_transaction(db *d)
{
    return !sqlite3_get_autocommit(d->conn);
}

err_code db_begin_immediate(db *d, err *e)
{
    if (db_in_transaction(d))
        return err_set(e, ERR_INTERNAL, NULL, "database: BEGIN IMMEDIATE inside an open transaction");
    db_oserr_take(); /* a failure SQLite absorbed earlier is not this transaction's */
    return db_exec(d, "BEGIN IMMEDIATE", e);
}

err_code db_begin_read(db *d, err *e)
{
    if (db_in_transaction(d))
        return err_set(e, ERR_INTERNAL, NULL, "database: BEGIN inside an open transaction");
    db_oserr_take();
    return db_exec(d, "BEGIN", e);
}

err_code db_commit(db *d, err *e)
{
    if (sqlite3_exec(d->conn, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
        db_space_note_commit();
        return ERR_OK;
    }
    err_code rc = db_error(d, e, "COMMIT");
    db_rollback(d);
    return rc;
}

void db_rollback(db *d)
{
    if (!db_in_transaction(d)) return; /* SQLite rolled back already */
    if (sqlite3_exec(d->conn, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK) {
        char q[256], m[256];
        log_error("db_rollback_failed", "path=%s error=%s", log_quote(q, sizeof q, d->path),
                  log_quote(m, sizeof m, sqlite3_errmsg(d->conn)));
    }
}

err_code db_claim(const db_opts *o, int *fd, err *e)
{
    *fd = -1;
    err_code rc = db_opts_check(o, e); /* before creating a file named ":memory:" */
    if (rc) return rc;
    const char *path = o->path;
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (f < 0)
        return err_set(e, ERR_IO, "db", "cannot open the database %s: %s", path, strerror(errno));
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        int en = errno;
        close(f);
        if (en == EWOULDBLOCK)
            return err_set(e, ERR_CONFLICT, "db",
                           "the database %s is in use by another process (another odeserved?); "
                           "one daemon serves one database",
                           path);
        return err_set(e, ERR_IO, "db", "cannot lock the database %s: %s", path, strerror(en));
    }
    *fd = f;
    return ERR_OK;
}

void db_unclaim(int fd)
{
    if (fd >= 0) close(fd); /* the flock goes with it */
}
