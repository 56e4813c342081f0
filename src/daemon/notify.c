/* daemon/notify.c: see notify.h. The wire format is sd_notify(3)'s: one datagram,
 * newline-separated assignments, sent to the socket named by NOTIFY_SOCKET
 * ("@name" is Linux's abstract namespace: a leading NUL in sun_path). */
#include "daemon/notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

err_code notify_send(const char *state, err *e)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !path[0]) return ERR_OK;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len < 2 || len >= sizeof sa.sun_path)
        return err_set(e, ERR_IO, "NOTIFY_SOCKET", "NOTIFY_SOCKET '%s' is not a socket path", path);
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@') sa.sun_path[0] = '\0';
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    if (path[0] == '/') salen++; /* include the terminating NUL of a path */

    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return err_set(e, ERR_IO, NULL, "notify socket: %s", strerror(errno));
    size_t n = strlen(state);
    ssize_t sent;
    do {
        sent = sendto(fd, state, n, MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
    } while (sent < 0 && errno == EINTR);
    int saved = errno;
    close(fd);
    if (sent < 0) return err_set(e, ERR_IO, NULL, "notify %s: %s", path, strerror(saved));
    if ((size_t)sent != n) return err_set(e, ERR_IO, NULL, "notify %s: short send", path);
    return ERR_OK;
}

err_code notify_sendf(err *e, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf)
        return err_set(e, ERR_INVALID, NULL, "notify state longer than %zu bytes", sizeof buf - 1);
    return notify_send(buf, e);
}
