/* http/guard.h: the connections' deadlines, enforced by the daemon rather
 * than left to libmicrohttpd, whose connection_timeout restarts at every byte.
 *
 *   - a request's headers must all arrive within header_timeout seconds:
 *     of the connection's start for its first request, of the request line
 *     for a later one on a keep-alive connection (slowloris: one header
 *     line a second keeps a socket forever otherwise);
 *   - between requests, a keep-alive connection may wait idle_timeout
 *     seconds (connection_timeout) from the previous reply for the next
 *     request line, however its bytes trickle; idling is not a slow
 *     header: the wait between requests is the client's to take;
 *   - a body, after header_timeout, must keep coming at min_body_rate
 *     bytes/s on average;
 *   - at connection_limit, a new connection takes the place of the oldest
 *     one still waiting for its headers, or else of the longest idle
 *     keep-alive one, so slow clients cannot lock the others out
 *     (libmicrohttpd's own limit is set above ours, as a backstop);
 *   - lingering close: a connection closed while its client may still be
 *     sending a body (a 413 before the body is read) is kept open for
 *     reading, and what comes is discarded, for a bounded time after the
 *     reply, so the client reads the reply instead of a reset (as nginx does).
 * A late connection is shut down (shutdown(2)); libmicrohttpd then sees
 * the socket fail and closes it.
 *
 * Ownership: http_guard_new starts one thread; http_guard_free stops it,
 * after the libmicrohttpd daemon is stopped. A http_guard_conn is made at
 * a connection's start and freed at its close (libmicrohttpd's
 * notify-connection callback). Thread-safe: the HTTP threads and the
 * guard's thread share a mutex for the connection list; a connection's
 * phase is written only by the HTTP thread serving it (atomics). */
#ifndef ODESERVE_HTTP_GUARD_H
#define ODESERVE_HTTP_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct http_guard http_guard;
typedef struct http_guard_conn http_guard_conn;

/* limit: connection_limit; header_timeout: seconds (> 0); idle_timeout:
 * seconds between requests, 0 = none; min_body_rate: bytes per second,
 * 0 = none. */
err_code http_guard_new(http_guard **out, unsigned limit, double header_timeout,
                        double idle_timeout, uint64_t min_body_rate, err *e);
/* Closes the connections still lingering. NULL is a no-op. */
void http_guard_free(http_guard *g);

/* A connection on socket fd started: its header deadline runs. When over
 * the limit with no other connection waiting for headers or idle between
 * requests, this one is shut down at once. Never NULL unless out of memory
 * (then unguarded). */
http_guard_conn *http_guard_open(http_guard *g, int fd);
/* It is about to be closed (the socket is still open): forget it, and keep
 * the socket to drain when http_guard_linger was called. */
void http_guard_close(http_guard *g, http_guard_conn *gc);

/* A request line arrived: on a keep-alive connection, the idle wait ends
 * and the header deadline runs from now. */
void http_guard_request_line(http_guard_conn *gc);
/* The request's headers are in: its body (if any) is read now. */
void http_guard_headers_done(http_guard_conn *gc);
/* n more body bytes arrived. */
void http_guard_body(http_guard_conn *gc, size_t n);
/* The body is in: the request runs and replies; no deadline. */
void http_guard_busy(http_guard_conn *gc);
/* The reply is sent: the connection waits for its next request. */
void http_guard_idle(http_guard_conn *gc);
/* Drain the socket for a while once libmicrohttpd closes it. */
void http_guard_linger(http_guard_conn *gc);

#endif
