/* tests/faultvfs.h: a test-only SQLite VFS that fails the N-th call.
 *
 * fvfs_install registers "faultvfs", a thin wrapper around SQLite's default
 * (unix) VFS, as the process's default, so every connection opened after it
 * (db_open passes no VFS name) goes through it without the store knowing.
 * While armed it counts the calls of the chosen kinds on every file (the
 * database, its write-ahead log, the shared-memory index) and makes the
 * N-th one fail with the given SQLite result code, once; everything else is
 * passed through unchanged. This is how the tests reach every write site of
 * a store operation in turn: fail the 1st write, the 2nd, ... until one run
 * of the operation makes fewer calls than N.
 *
 * Thread safety: the counters are atomic, so connections on other threads
 * may run while armed (each of their calls counts). Test code only. */
#ifndef ODESERVE_TESTS_FAULTVFS_H
#define ODESERVE_TESTS_FAULTVFS_H

enum {
    FVFS_WRITE = 1,    /* xWrite */
    FVFS_SYNC = 2,     /* xSync */
    FVFS_TRUNCATE = 4, /* xTruncate */
    FVFS_LOCK = 8,     /* xLock to RESERVED or above, and exclusive xShmLock (the WAL's
                          write lock, checkpoints): fail these with SQLITE_BUSY */
};

/* Register the VFS as the default; idempotent. Aborts the test on failure. */
void fvfs_install(void);
/* From now, count calls of `kinds`; the nth (1-based) returns `rc`, with
 * errno set as the OS would have (ENOSPC for SQLITE_FULL, EIO for an I/O
 * error). */
void fvfs_arm(unsigned kinds, long nth, int rc);
/* The same with the errno of the caller's choice: an fsync failing with
 * ENOSPC is SQLITE_IOERR_FSYNC with errno ENOSPC, as SQLite's unix VFS makes
 * it (the errno is all that says the disk is full). */
void fvfs_arm_errno(unsigned kinds, long nth, int rc, int err_no);
/* Stop counting and failing. */
void fvfs_disarm(void);
/* Calls counted since the last fvfs_arm. */
long fvfs_count(void);
/* Whether the armed fault has fired since the last fvfs_arm. */
int fvfs_fired(void);

#endif
