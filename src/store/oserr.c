/* store/oserr.c: see oserr_internal.h.
 *
 * A file of ours is the header SQLite sees followed by the real file's own
 * structure; every method forwards to the real one. Only xWrite, xSync,
 * xTruncate and xShmMap (which grows the shared-memory file) look at the
 * result. One such VFS per underlying VFS, made the first time a
 * connection opens over it: registering a VFS is process-wide in SQLite. */
#include "store/oserr_internal.h"

#include "core/log.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>

#define OSERR_VFS_MAX 4

typedef struct ofile {
    sqlite3_file base;
    sqlite3_file *real; /* right after this header, in the same allocation */
} ofile;

typedef struct overlay {
    sqlite3_vfs vfs; /* first: SQLite hands us this pointer back */
    sqlite3_vfs *real;
    char name[32];
} overlay;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static overlay overlays[OSERR_VFS_MAX]; /* under lock until registered, then read-only */
static int n_overlays;

static _Thread_local int last_errno;

int db_oserr_take(void)
{
    int en = last_errno;
    last_errno = 0;
    return en;
}

/* Read errno before anything else can change it. */
static int noted(int rc)
{
    if (rc != SQLITE_OK) last_errno = errno;
    return rc;
}

static sqlite3_file *R(sqlite3_file *f)
{
    return ((ofile *)f)->real;
}

static sqlite3_vfs *RV(sqlite3_vfs *v)
{
    return ((overlay *)v)->real;
}

static int f_close(sqlite3_file *f)
{
    int rc = R(f)->pMethods->xClose(R(f));
    f->pMethods = NULL;
    return rc;
}

static int f_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
    return R(f)->pMethods->xRead(R(f), buf, n, off);
}

static int f_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    return noted(R(f)->pMethods->xWrite(R(f), buf, n, off));
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return noted(R(f)->pMethods->xTruncate(R(f), size));
}

static int f_sync(sqlite3_file *f, int flags)
{
    return noted(R(f)->pMethods->xSync(R(f), flags));
}

static int f_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return R(f)->pMethods->xFileSize(R(f), size);
}

static int f_lock(sqlite3_file *f, int level)
{
    return R(f)->pMethods->xLock(R(f), level);
}

static int f_unlock(sqlite3_file *f, int level)
{
    return R(f)->pMethods->xUnlock(R(f), level);
}

static int f_check_reserved(sqlite3_file *f, int *out)
{
    return R(f)->pMethods->xCheckReservedLock(R(f), out);
}

static int f_fcntl(sqlite3_file *f, int op, void *arg)
{
    return R(f)->pMethods->xFileControl(R(f), op, arg);
}

static int f_sector(sqlite3_file *f)
{
    return R(f)->pMethods->xSectorSize(R(f));
}

static int f_devchar(sqlite3_file *f)
{
    return R(f)->pMethods->xDeviceCharacteristics(R(f));
}

static int f_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **p)
{
    if (R(f)->pMethods->iVersion < 2) return SQLITE_IOERR_SHMMAP;
    return noted(R(f)->pMethods->xShmMap(R(f), pg, pgsz, extend, p));
}

static int f_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    if (R(f)->pMethods->iVersion < 2) return SQLITE_IOERR_SHMLOCK;
    return R(f)->pMethods->xShmLock(R(f), offset, n, flags);
}

static void f_shm_barrier(sqlite3_file *f)
{
    if (R(f)->pMethods->iVersion >= 2) R(f)->pMethods->xShmBarrier(R(f));
}

static int f_shm_unmap(sqlite3_file *f, int del)
{
    if (R(f)->pMethods->iVersion < 2) return SQLITE_OK;
    return R(f)->pMethods->xShmUnmap(R(f), del);
}

static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **p)
{
    if (R(f)->pMethods->iVersion < 3) {
        *p = NULL; /* "read it the usual way" */
        return SQLITE_OK;
    }
    return R(f)->pMethods->xFetch(R(f), off, n, p);
}

static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    if (R(f)->pMethods->iVersion < 3) return SQLITE_OK;
    return R(f)->pMethods->xUnfetch(R(f), off, p);
}

static const sqlite3_io_methods io = {
    3,         f_close,   f_read,     f_write,       f_truncate,  f_sync,   f_size,
    f_lock,    f_unlock,  f_check_reserved, f_fcntl, f_sector,    f_devchar, f_shm_map,
    f_shm_lock, f_shm_barrier, f_shm_unmap, f_fetch, f_unfetch,
};

static int v_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    ofile *of = (ofile *)f;
    of->real = (sqlite3_file *)(of + 1);
    int rc = RV(v)->xOpen(RV(v), name, of->real, flags, out_flags);
    /* SQLite calls xClose only when pMethods is set */
    f->pMethods = rc == SQLITE_OK && of->real->pMethods ? &io : NULL;
    return rc;
}

static int v_delete(sqlite3_vfs *v, const char *name, int sync)
{
    return RV(v)->xDelete(RV(v), name, sync);
}

static int v_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    return RV(v)->xAccess(RV(v), name, flags, out);
}

static int v_fullpath(sqlite3_vfs *v, const char *name, int n, char *out)
{
    return RV(v)->xFullPathname(RV(v), name, n, out);
}

static void *v_dlopen(sqlite3_vfs *v, const char *name)
{
    return RV(v)->xDlOpen(RV(v), name);
}

static void v_dlerror(sqlite3_vfs *v, int n, char *msg)
{
    RV(v)->xDlError(RV(v), n, msg);
}

static void (*v_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
    return RV(v)->xDlSym(RV(v), h, sym);
}

static void v_dlclose(sqlite3_vfs *v, void *h)
{
    RV(v)->xDlClose(RV(v), h);
}

static int v_random(sqlite3_vfs *v, int n, char *out)
{
    return RV(v)->xRandomness(RV(v), n, out);
}

static int v_sleep(sqlite3_vfs *v, int us)
{
    return RV(v)->xSleep(RV(v), us);
}

static int v_time(sqlite3_vfs *v, double *out)
{
    return RV(v)->xCurrentTime(RV(v), out);
}

static int v_last_error(sqlite3_vfs *v, int n, char *out)
{
    return RV(v)->xGetLastError(RV(v), n, out);
}

static int v_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    return RV(v)->xCurrentTimeInt64(RV(v), out);
}

const char *db_oserr_vfs(void)
{
    sqlite3_vfs *real = sqlite3_vfs_find(NULL);
    if (!real || real->iVersion < 2) return NULL;
    const char *name = NULL;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < n_overlays && !name; i++)
        if (overlays[i].real == real || &overlays[i].vfs == real) name = overlays[i].name;
    if (!name && n_overlays < OSERR_VFS_MAX) {
        overlay *o = &overlays[n_overlays];
        o->real = real;
        snprintf(o->name, sizeof o->name, "odeserve-oserr-%d", n_overlays);
        o->vfs = (sqlite3_vfs){
            .iVersion = 2,
            .szOsFile = (int)sizeof(ofile) + real->szOsFile,
            .mxPathname = real->mxPathname,
            .zName = o->name,
            .xOpen = v_open,
            .xDelete = v_delete,
            .xAccess = v_access,
            .xFullPathname = v_fullpath,
            .xDlOpen = v_dlopen,
            .xDlError = v_dlerror,
            .xDlSym = v_dlsym,
            .xDlClose = v_dlclose,
            .xRandomness = v_random,
            .xSleep = v_sleep,
            .xCurrentTime = v_time,
            .xGetLastError = v_last_error,
            .xCurrentTimeInt64 = v_time64,
        };
        if (sqlite3_vfs_register(&o->vfs, 0) == SQLITE_OK) {
            n_overlays++;
            name = o->name;
        }
    }
    pthread_mutex_unlock(&lock);
    if (!name) log_warn("db_oserr_vfs", "reason=%s", "cannot register the VFS; ENOSPC at an fsync "
                                                     "will be reported as an I/O error");
    return name;
}
