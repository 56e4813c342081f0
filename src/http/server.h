/* http/server.h: the HTTP server (libmicrohttpd) and its lifecycle.
 *
 * poll() with an internal thread pool (not epoll: see server.c); connection timeout, total and
 * per-IP connection limits from the settings; suspend/resume enabled for deferred handlers
 * (handler.h). The listening socket is bound here, so bind errors are precise and port 0 works:
 * http_server_addr() tells the real port. With tls_cert and tls_key, HTTPS only
 * (GnuTLS through libmicrohttpd; the certificate swaps on reload: http/tls.h).
 *
 * Shutdown, driven by main: http_server_quiesce (stop accepting; existing
 * connections still finish), wait for http_server_inflight() to reach 0 or
 * the deadline, set app->cancel, wait for the evaluation pool to go idle
 * (every suspended connection has then been resumed), http_server_stop.
 * Called from one thread (main); the server's own threads do the rest. */
#ifndef ODESERVE_HTTP_SERVER_H
#define ODESERVE_HTTP_SERVER_H

#include <stdint.h>

#include "core/err.h"
#include "http/app.h"

typedef struct http_server http_server;

typedef struct http_server_opts {
    const char *listen;               /* "127.0.0.1:8080", "[::1]:0" */
    unsigned threads;                 /* thread pool size, >= 1 */
    unsigned connection_timeout;      /* idle seconds */
    unsigned connection_limit;        /* all clients */
    unsigned per_ip_connection_limit; /* 0 = none */
    double header_timeout;            /* seconds for a request's headers (guard.h); 0 = 10 */
    uint64_t min_body_rate;           /* bytes/s a body must average after that; 0 = none */
    const char *tls_cert;             /* PEM chain; NULL or "" = plain HTTP */
    const char *tls_key;              /* PEM key of tls_cert; both or neither */
} http_server_opts;

/* Bind, listen and start serving. `app` is borrowed and must outlive the
 * server. ERR_IO with the address and reason when binding fails. */
err_code http_server_start(http_server **out, const http_server_opts *o, http_app *app, err *e);

/* The bound address, "127.0.0.1:41234" / "[::1]:41234". */
const char *http_server_addr(const http_server *s);

/* The TLS certificate (http/tls.h) when serving HTTPS, else NULL.
 * Borrowed from the server. */
const struct http_tls *http_server_tls(const http_server *s);

/* Re-read tls_cert and tls_key (same paths); new handshakes use them,
 * nothing else changes. On an error the running certificate stays and e
 * says why. ERR_OK at once when not serving HTTPS. Main thread. */
err_code http_server_tls_reload(http_server *s, err *e);

/* Stop accepting connections (closes the listening socket). Idempotent. */
void http_server_quiesce(http_server *s);

/* Requests between their first byte of headers and their completion. */
unsigned http_server_inflight(const http_server *s);

/* Stop the threads, close every connection, free. No connection may be
 * suspended (see the shutdown order above). NULL is a no-op. */
void http_server_stop(http_server *s);

#endif
