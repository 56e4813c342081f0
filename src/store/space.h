/* store/space.h: room on the database's disk, and what happens when it
 * runs out.
 *
 * SQLite needs to write even to delete (the write-ahead log grows before
 * the database shrinks), so on a full disk an operator could not free space
 * through the API. The daemon therefore keeps a reserve: a file
 * "<database>-reserve" of a configured size, allocated (posix_fallocate) at
 * start. When a write fails for lack of space (SQLite's SQLITE_FULL, or the
 * OS's ENOSPC / EDQUOT) the store reports ERR_STORAGE_FULL and marks the
 * disk full (db_space_full, which /readyz reports); a delete that fails so
 * gives up the reserve and tries once more, and commits in the room it
 * leaves. Every later successful commit clears the mark, and one that finds
 * the reserve gone makes it again if the space is there: writes recover by
 * themselves once space returns, with the reserve ready for the next time
 * (made again once the disk has room for it twice over, so that it does not
 * take back at once the room a delete freed).
 *
 * One database per process (the daemon's): the state is process-wide and
 * thread-safe (atomics; the reserve file is made and removed under a lock). */
#ifndef ODESERVE_STORE_SPACE_H
#define ODESERVE_STORE_SPACE_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

/* Keep `bytes` in reserve next to the database at `db_path` (0: none, and a
 * reserve left by an earlier run is removed). A disk already too full to
 * allocate it is logged and retried at the next successful commit, not an
 * error; other I/O failures are ERR_IO (field "db_reserve_size"). */
err_code db_space_reserve(const char *db_path, size_t bytes, err *e);

/* True from a write that failed for lack of space until the next write
 * that succeeds. */
bool db_space_full(void);

#endif
