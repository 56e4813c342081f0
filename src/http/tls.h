/* http/tls.h: the server's TLS certificate, loaded from PEM files and
 * swapped on reload without a restart.
 *
 * libmicrohttpd fixes the certificate given to MHD_start_daemon for the
 * daemon's life. So the server instead hands libmicrohttpd a GnuTLS
 * certificate callback (MHD_OPTION_HTTPS_CERT_CALLBACK, http_tls_mhd_callback)
 * that picks the current certificate and key at each handshake, and a
 * reload swaps them: handshakes that started before keep what they got,
 * every later one gets the new pair, and no connection is refused or cut.
 * (The other design, a second MHD daemon on the same listening socket and
 * the old one quiesced, would run two thread pools at once and split the
 * in-flight accounting and the suspended connections between them, for no
 * gain.)
 *
 * Ownership: http_tls_new returns an object the caller owns; it holds every
 * certificate it has loaded (the current one and those replaced by
 * reloads, which a session that picked one may still point to) until
 * http_tls_free, which must come after the libmicrohttpd daemon stopped.
 * One http_tls serves at a time per process (the callback carries no
 * user pointer): the last one created.
 *
 * Threads: the callback runs on libmicrohttpd's threads and reads the
 * current pair through one atomic pointer; new/reload/free are called from
 * one thread (the daemon's main thread). Builds without GnuTLS compile the
 * same API: http_tls_supported() is 0 and http_tls_new fails with a
 * message saying so. */
#ifndef ODESERVE_HTTP_TLS_H
#define ODESERVE_HTTP_TLS_H

#include <stddef.h>

#include "core/err.h"

typedef struct http_tls http_tls;

/* 1 when this build serves HTTPS: GnuTLS at build time, and a
 * libmicrohttpd with TLS and the certificate callback at run time. */
int http_tls_supported(void);

/* One line for --version: "tls: GnuTLS 3.7.9" or "tls: not supported
 * (...why...)". */
const char *http_tls_describe(char *buf, size_t n);

/* Load the certificate chain in cert_path and the private key in key_path
 * (PEM; the key unencrypted) and check that they belong together. Both
 * paths must be non-empty (else ERR_CONFIG naming the empty one).
 * ERR_CONFIG naming the field ("tls_cert" or "tls_key") and the file when
 * a file cannot be read, holds no PEM certificate or key, or the key is
 * not the certificate's; ERR_CONFIG "tls_cert" when TLS is not supported. */
err_code http_tls_new(http_tls **out, const char *cert_path, const char *key_path, err *e);

/* Read both files again; on success the next handshakes use them. On
 * failure nothing changes (the running certificate keeps serving) and e
 * says why, as for http_tls_new. */
err_code http_tls_reload(http_tls *t, err *e);

/* The current certificate: SHA-256 fingerprint of its DER form in hex
 * with colons (as `openssl x509 -fingerprint -sha256` prints it), serial
 * in hex, expiry as seconds since the epoch. */
const char *http_tls_fingerprint(const http_tls *t);
const char *http_tls_serial(const http_tls *t);
long long http_tls_expires(const http_tls *t);

/* The `gnutls_certificate_retrieve_function2 *` to pass with
 * MHD_OPTION_HTTPS_CERT_CALLBACK (void * keeps GnuTLS out of this header). */
void *http_tls_mhd_callback(void);

/* The GnuTLS priority string for MHD_OPTION_HTTPS_PRIORITIES. */
const char *http_tls_priorities(void);

/* NULL is a no-op. After the server using it has stopped. */
void http_tls_free(http_tls *t);

#endif
