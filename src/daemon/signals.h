/* daemon/signals.h: signals are handled by one thread, synchronously.
 *
 * signals_block() runs in main() before it starts any thread: it blocks
 * SIGTERM, SIGINT and SIGHUP in the calling thread (threads created
 * afterwards inherit the mask) and ignores SIGPIPE (a client that hangs up
 * is an error return, not a death). The calling thread then waits for them
 * with signals_wait() and acts on them in plain code.
 *
 * Threads that exist before main() runs (OpenBLAS starts its pool from a
 * library constructor) do not have the mask; the kernel may deliver a
 * process-directed signal to one of them, and with the default action a
 * SIGTERM would kill the process on the spot. So the three signals also get
 * a handler that only forwards the signal to the waiting thread
 * (pthread_kill, async-signal-safe), where it stays pending until
 * signals_wait takes it. No handler does any other work. */
#ifndef ODESERVE_DAEMON_SIGNALS_H
#define ODESERVE_DAEMON_SIGNALS_H

/* Block the daemon's signals in the calling thread (and the threads it
 * creates later) and make the calling thread their only receiver.
 * Returns 0, or -1 with errno set. */
int signals_block(void);

/* Wait for SIGTERM, SIGINT or SIGHUP for up to `timeout_s` seconds
 * (negative = forever). Returns the signal number, or 0 on timeout.
 * Call from the thread that called signals_block. */
int signals_wait(double timeout_s);

#endif
