/* store/oserr_internal.h: the OS error behind a failed write, kept.
 *
 * SQLite reports an fsync, a truncate or (for EDQUOT) a write that the OS
 * refused as SQLITE_IOERR_FSYNC / _TRUNCATE / _WRITE, and keeps the errno
 * only as long as nothing else touches errno: by the time the error reaches
 * the store, the rollback's own calls have replaced it, and
 * sqlite3_system_errno() no longer says ENOSPC. Yet a full disk often shows
 * first at an fsync (delayed allocation, thin provisioning, NFS and quota
 * accounting at writeback). So every connection goes through a thin VFS
 * over the default one that notes the errno of each failed write, sync or
 * truncate, per thread, the moment the call returns; db_error reads it.
 *
 * Thread safety: the note is thread-local (a connection is used by one
 * thread, and SQLite does its file I/O on the calling thread); the VFS
 * table is built under a lock. */
#ifndef ODESERVE_STORE_OSERR_INTERNAL_H
#define ODESERVE_STORE_OSERR_INTERNAL_H

/* The name of the VFS to open a connection with: ours, over the process's
 * default VFS as it is now (a test may have put its own in between), or
 * NULL (SQLite's default, without the notes) when it cannot be registered. */
const char *db_oserr_vfs(void);

/* The errno of this thread's last failed write, sync or truncate since the
 * previous call (0: none), and forget it. */
int db_oserr_take(void);

#endif
