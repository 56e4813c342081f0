/* daemon/signals.h: signals are handled by one thread, synchronously.
 *
 * signals_block() runs in main() before any thread exists: it blocks
 * SIGTERM, SIGINT and SIGHUP (every thread created afterwards inherits the
 * mask, so none of them is ever interrupted) and ignores SIGPIPE (a client
 * that hangs up is an error return, not a death). The main thread then
 * waits for them with signals_wait(). There are no asynchronous handlers,
 * so no handler does any work at all. */
#ifndef ODESERVE_DAEMON_SIGNALS_H
#define ODESERVE_DAEMON_SIGNALS_H

/* Block the daemon's signals in the calling thread (and its future
 * children threads). Returns 0, or -1 with errno set. */
int signals_block(void);

/* Wait for SIGTERM, SIGINT or SIGHUP for up to `timeout_s` seconds
 * (negative = forever). Returns the signal number, or 0 on timeout. */
int signals_wait(double timeout_s);

/* Undo signals_block in the calling thread (tests). */
void signals_unblock(void);

#endif
