/* daemon/notify.h: the sd_notify(3) datagram protocol, spoken directly.
 *
 * When systemd starts a Type=notify service it sets NOTIFY_SOCKET to an
 * AF_UNIX datagram socket: a path, or an abstract name written with a
 * leading '@'. Each state change is one datagram of newline-separated
 * VAR=VALUE assignments ("READY=1\nSTATUS=serving"). Without NOTIFY_SOCKET
 * every call is a successful no-op, so the daemon behaves the same in a
 * terminal. No libsystemd is needed.
 *
 * Thread-safe: each call opens, sends on and closes its own socket. */
#ifndef ODESERVE_DAEMON_NOTIFY_H
#define ODESERVE_DAEMON_NOTIFY_H

#include "core/err.h"

/* Send `state` (e.g. "READY=1\nSTATUS=serving") to $NOTIFY_SOCKET.
 * ERR_OK when sent or when NOTIFY_SOCKET is unset or empty; ERR_IO (with
 * the reason) when the address is invalid or the send fails. */
err_code notify_send(const char *state, err *e);

/* printf-style notify_send. A state longer than 4 KiB is refused (ERR_INVALID). */
err_code notify_sendf(err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
