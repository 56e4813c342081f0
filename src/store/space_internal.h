/* store/space_internal.h: the store's own hooks into space.h's state. */
#ifndef ODESERVE_STORE_SPACE_INTERNAL_H
#define ODESERVE_STORE_SPACE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

/* The most the write-ahead log should hold (half the reserve; 0 without
 * one): db_open sets wal_autocheckpoint and journal_size_limit from it. */
size_t db_space_log_bytes(void);

/* A write failed for lack of space. */
void db_space_note_full(void);
/* A write committed: clears the mark; re-makes a released reserve when the
 * space is there. */
void db_space_note_commit(void);
/* Make room for a delete that failed for lack of space: write the
 * write-ahead log back into the database and truncate it (its pages are
 * the bulk of what a full disk holds), and give up the reserve. Then retry
 * the delete once. `conn` is the caller's connection (db_sqlite): this file
 * sits below db.c, which calls the hooks above. */
void db_space_release(sqlite3 *conn);

#endif
