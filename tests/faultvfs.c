/* tests/faultvfs.c: see faultvfs.h.
 *
 * A file of ours is the header SQLite sees followed by the real (unix)
 * file's own structure; every method forwards to the real one, after a
 * look at the fault counter for the kinds that can fail. */
#include "faultvfs.h"

#include <check.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <string.h>

typedef struct ffile {
    sqlite3_file base;
    sqlite3_file *real; /* right after this header, in the same allocation */
} ffile;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs fault_vfs;
static atomic_uint armed_kinds;
static atomic_long counted, target;
static atomic_int fired, inject_rc, inject_errno;

/* Count one call of `kind`; the SQLite code to fail it with, or 0. */
static int fault_hit(unsigned kind)
{
    if (!(atomic_load(&armed_kinds) & kind)) return 0;
    long n = atomic_fetch_add(&counted, 1) + 1;
    if (n != atomic_load(&target)) return 0;
    atomic_store(&fired, 1);
    int rc = atomic_load(&inject_rc);
    /* what the OS would have said: SQLite reads errno back (xGetLastError) */
    int en = atomic_load(&inject_errno);
    errno = en                           ? en
            : (rc & 0xff) == SQLITE_FULL  ? ENOSPC
            : (rc & 0xff) == SQLITE_IOERR ? EIO
                                          : errno;
    return rc;
}

static sqlite3_file *R(sqlite3_file *f)
{
    return ((ffile *)f)->real;
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
    int rc = fault_hit(FVFS_WRITE);
    return rc ? rc : R(f)->pMethods->xWrite(R(f), buf, n, off);
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    int rc = fault_hit(FVFS_TRUNCATE);
    return rc ? rc : R(f)->pMethods->xTruncate(R(f), size);
}

static int f_sync(sqlite3_file *f, int flags)
{
    int rc = fault_hit(FVFS_SYNC);
    return rc ? rc : R(f)->pMethods->xSync(R(f), flags);
}

static int f_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return R(f)->pMethods->xFileSize(R(f), size);
}

static int f_lock(sqlite3_file *f, int level)
{
    int rc = level >= SQLITE_LOCK_RESERVED ? fault_hit(FVFS_LOCK) : 0;
    return rc ? rc : R(f)->pMethods->xLock(R(f), level);
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
    return R(f)->pMethods->xShmMap(R(f), pg, pgsz, extend, p);
}

static int f_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    int want = (flags & SQLITE_SHM_LOCK) && (flags & SQLITE_SHM_EXCLUSIVE);
    int rc = want ? fault_hit(FVFS_LOCK) : 0;
    return rc ? rc : R(f)->pMethods->xShmLock(R(f), offset, n, flags);
}

static void f_shm_barrier(sqlite3_file *f)
{
    R(f)->pMethods->xShmBarrier(R(f));
}

static int f_shm_unmap(sqlite3_file *f, int del)
{
    return R(f)->pMethods->xShmUnmap(R(f), del);
}

static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **p)
{
    return R(f)->pMethods->xFetch(R(f), off, n, p);
}

static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return R(f)->pMethods->xUnfetch(R(f), off, p);
}

static const sqlite3_io_methods fault_io = {
    3,         f_close,       f_read,       f_write,         f_truncate,   f_sync,
    f_size,    f_lock,        f_unlock,     f_check_reserved, f_fcntl,     f_sector,
    f_devchar, f_shm_map,     f_shm_lock,   f_shm_barrier,   f_shm_unmap,  f_fetch,
    f_unfetch,
};

static int v_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)v;
    ffile *ff = (ffile *)f;
    ff->real = (sqlite3_file *)(ff + 1);
    int rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out_flags);
    /* SQLite calls xClose only when pMethods is set */
    f->pMethods = rc == SQLITE_OK && ff->real->pMethods ? &fault_io : NULL;
    return rc;
}

static int v_delete(sqlite3_vfs *v, const char *name, int sync)
{
    (void)v;
    return real_vfs->xDelete(real_vfs, name, sync);
}

static int v_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    (void)v;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int v_fullpath(sqlite3_vfs *v, const char *name, int n, char *out)
{
    (void)v;
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static void *v_dlopen(sqlite3_vfs *v, const char *name)
{
    (void)v;
    return real_vfs->xDlOpen(real_vfs, name);
}

static void v_dlerror(sqlite3_vfs *v, int n, char *msg)
{
    (void)v;
    real_vfs->xDlError(real_vfs, n, msg);
}

static void (*v_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
    (void)v;
    return real_vfs->xDlSym(real_vfs, h, sym);
}

static void v_dlclose(sqlite3_vfs *v, void *h)
{
    (void)v;
    real_vfs->xDlClose(real_vfs, h);
}

static int v_random(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return real_vfs->xRandomness(real_vfs, n, out);
}

static int v_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    return real_vfs->xSleep(real_vfs, us);
}

static int v_time(sqlite3_vfs *v, double *out)
{
    (void)v;
    return real_vfs->xCurrentTime(real_vfs, out);
}

static int v_last_error(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return real_vfs->xGetLastError(real_vfs, n, out);
}

static int v_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    (void)v;
    return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

void fvfs_install(void)
{
    if (real_vfs) return;
    ck_assert_int_eq(sqlite3_initialize(), SQLITE_OK);
    sqlite3_vfs *r = sqlite3_vfs_find(NULL);
    ck_assert_msg(r && r->iVersion >= 2, "no default SQLite VFS of version 2 or later");
    real_vfs = r;
    fault_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(ffile) + r->szOsFile,
        .mxPathname = r->mxPathname,
        .zName = "faultvfs",
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
    ck_assert_int_eq(sqlite3_vfs_register(&fault_vfs, 1), SQLITE_OK);
    ck_assert_ptr_eq(sqlite3_vfs_find(NULL), &fault_vfs);
}

void fvfs_arm(unsigned kinds, long nth, int rc)
{
    fvfs_arm_errno(kinds, nth, rc, 0);
}

void fvfs_arm_errno(unsigned kinds, long nth, int rc, int err_no)
{
    atomic_store(&armed_kinds, 0u);
    atomic_store(&inject_errno, err_no);
    atomic_store(&counted, 0);
    atomic_store(&fired, 0);
    atomic_store(&target, nth);
    atomic_store(&inject_rc, rc);
    atomic_store(&armed_kinds, kinds);
}

void fvfs_disarm(void)
{
    atomic_store(&armed_kinds, 0u);
}

long fvfs_count(void)
{
    return atomic_load(&counted);
}

int fvfs_fired(void)
{
    return atomic_load(&fired);
}
