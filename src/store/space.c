/* store/space.c: see space.h. */
#include "store/space.h"
#include "store/space_internal.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *reserve_path;   /* under lock; NULL: no reserve wanted */
static size_t reserve_bytes; /* under lock */
static atomic_bool full, reserve_missing;

/* Allocate the reserve file; 0, or the errno. Under lock. */
static int make_reserve(void)
{
    int fd = open(reserve_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return errno;
    int rc = posix_fallocate(fd, 0, (off_t)reserve_bytes);
    if (rc == 0 && fsync(fd) != 0) rc = errno;
    close(fd);
    if (rc != 0) unlink(reserve_path); /* a part of a reserve is worth nothing */
    return rc;
}

/* Whether the disk has room for the reserve and as much again. A reserve
 * given up for deletes is made again only then: made at once on a disk the
 * deletes left nearly full, it would take back the room they freed (their
 * pages stay free inside the database file; the disk room came from the
 * reserve and the truncated log), and the next write would fail at once.
 * Under lock. */
static bool room_after_reserve(void)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", reserve_path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        slash[slash == dir ? 1 : 0] = '\0';
    struct statvfs v;
    if (statvfs(dir, &v) != 0) return true; /* unknown: try, as before */
    return (double)v.f_bavail * (double)v.f_frsize >= 2.0 * (double)reserve_bytes;
}

err_code db_space_reserve(const char *db_path, size_t bytes, err *e)
{
    char *path = NULL;
    size_t n = strlen(db_path) + sizeof "-reserve";
    if (!(path = malloc(n))) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    snprintf(path, n, "%s-reserve", db_path);
    pthread_mutex_lock(&lock);
    free(reserve_path);
    reserve_path = path;
    reserve_bytes = bytes;
    err_code rc = ERR_OK;
    if (bytes == 0) {
        if (unlink(path) != 0 && errno != ENOENT)
            rc = err_set(e, ERR_IO, "db_reserve_size", "cannot remove %s: %s", path,
                         strerror(errno));
        free(reserve_path);
        reserve_path = NULL;
        atomic_store(&reserve_missing, false);
    } else {
        int sys = make_reserve();
        atomic_store(&reserve_missing, sys != 0);
        if (sys == ENOSPC || sys == EDQUOT) {
            char q[256];
            log_warn("db_reserve_short", "path=%s bytes=%zu error=%s: retried after the next write",
                     log_quote(q, sizeof q, path), bytes, strerror(sys));
        } else if (sys != 0) {
            rc = err_set(e, ERR_IO, "db_reserve_size", "cannot allocate %s (%zu bytes): %s", path,
                         bytes, strerror(sys));
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

size_t db_space_log_bytes(void)
{
    pthread_mutex_lock(&lock);
    size_t n = reserve_path ? reserve_bytes / 2 : 0;
    pthread_mutex_unlock(&lock);
    return n;
}

bool db_space_full(void)
{
    return atomic_load(&full);
}

void db_space_note_full(void)
{
    if (!atomic_exchange(&full, true)) log_warn("storage_full", "writes fail until space is freed");
}

void db_space_note_commit(void)
{
    if (atomic_exchange(&full, false)) log_info("storage_recovered", "writes succeed again");
    if (!atomic_load(&reserve_missing)) return;
    pthread_mutex_lock(&lock);
    if (reserve_path && atomic_load(&reserve_missing) && room_after_reserve() &&
        make_reserve() == 0) {
        atomic_store(&reserve_missing, false);
        log_info("db_reserve_restored", "bytes=%zu", reserve_bytes);
    }
    pthread_mutex_unlock(&lock);
}

void db_space_release(sqlite3 *conn)
{
    bool had = false;
    pthread_mutex_lock(&lock);
    if (reserve_path && !atomic_load(&reserve_missing)) {
        had = unlink(reserve_path) == 0;
        atomic_store(&reserve_missing, true);
        if (had)
            log_warn("db_reserve_released", "bytes=%zu: for a delete on a full disk",
                     reserve_bytes);
    }
    pthread_mutex_unlock(&lock);
    /* the log's committed pages move into the database file (which grows by
     * at most the log, kept below the reserve), then the log is emptied */
    int log_pages = 0, moved = 0;
    int rc = sqlite3_wal_checkpoint_v2(conn, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log_pages, &moved);
    log_warn("db_wal_truncated", "rc=%d log_pages=%d checkpointed=%d: for a delete on a full disk",
             rc, log_pages, moved);
}
