/* http/ui.c: the dashboard's static files (GET /, /ui/{file}, /ui/lib/{file}).
 *
 * The page is plain files under `ui_dir` (installed to $(datadir)/odeserve/ui)
 * and the plotting library Debian ships under `ui_lib_dir`
 * (/usr/share/javascript); the daemon only hands them out. Everything the
 * page shows it fetches from the JSON API with the user's token, so these
 * routes are open: they carry no data.
 *
 * DESIGN: a file name is one path segment from a fixed set of extensions,
 * never starting with '.', opened with O_NOFOLLOW under the configured
 * directory, so no request can leave it. Each reply carries a strict
 * Content-Security-Policy (scripts, styles and fetches from this origin only,
 * no inline code, no framing) and an ETag from the file's size and mtime:
 * `no-cache` makes the browser revalidate, and an unchanged file costs a 304.
 * Files are read per request; they are small and the page loads once. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "http/handlers.h"

#define UI_FILE_MAX (8u << 20) /* larger than anything shipped; a cap, not a budget */

static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                          "form-action 'none'; frame-ancestors 'none'";

static const struct {
    const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},  {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},    {".svg", "image/svg+xml"},
    {".png", "image/png"},                  {".json", "application/json"},
    {".ico", "image/vnd.microsoft.icon"},
};

/* The Content-Type of `name`, or NULL for a name the dashboard never serves. */
static const char *ui_type(const char *name)
{
    if (name[0] == '.' || strchr(name, '/') || strlen(name) > 128) return NULL;
    for (const char *p = name; *p; p++)
        if (!(*p == '.' || *p == '-' || *p == '_' || (*p >= 'a' && *p <= 'z') ||
              (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return NULL;
    const char *dot = strrchr(name, '.');
    if (!dot) return NULL;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0) return types[i].type;
    return NULL;
}

/* The reply names no path (a client learns nothing of the server's files);
 * the log line does, for the operator. */
static void reply_missing(http_req *r, const char *what, const char *path)
{
    log_warn("ui_file_missing", "request_id=%s path=%s", http_req_id(r), path);
    http_reply_errorf(r, ERR_NOT_FOUND, "", "%s is not installed (the ui_dir setting: "
                      "docs/dashboard.md)", what);
}

/* If-None-Match against our (strong) tag, by weak comparison as RFC 9110
 * 13.1.2 asks: "*" matches any current file, W/"x" matches "x". */
static int etag_matches(const char *inm, const char *etag)
{
    if (!inm) return 0;
    while (*inm == ' ' || *inm == '\t')
        inm++;
    if (inm[0] == '*') {
        const char *p = inm + 1;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0') return 1;
    }
    return strstr(inm, etag) != NULL;
}

/* Serve dir/rel with Content-Type `type`. */
static void ui_send(http_req *r, const char *dir, const char *rel, const char *type,
                    const char *what)
{
    char path[4096];
    if (!dir || !*dir) {
        http_reply_errorf(r, ERR_NOT_FOUND, "", "the dashboard is off (ui = off)");
        return;
    }
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, rel) >= sizeof path) {
        reply_missing(r, what, dir);
        return;
    }
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        reply_missing(r, what, path);
        return;
    }
    struct stat st;
    char *body = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)UI_FILE_MAX) {
        close(fd);
        reply_missing(r, what, path);
        return;
    }
    char etag[64];
    snprintf(etag, sizeof etag, "\"%jx-%jx-%lx\"", (uintmax_t)st.st_size,
             (uintmax_t)st.st_mtim.tv_sec, (unsigned long)st.st_mtim.tv_nsec);
    http_reply_header(r, "Content-Security-Policy", csp);
    http_reply_header(r, "X-Content-Type-Options", "nosniff");
    http_reply_header(r, "Referrer-Policy", "no-referrer");
    http_reply_header(r, "X-Frame-Options", "DENY");
    http_reply_header(r, "Cache-Control", "no-cache");
    http_reply_header(r, "ETag", etag);
    if (etag_matches(http_req_header(r, "If-None-Match"), etag)) {
        close(fd);
        http_reply_text(r, 304, type, malloc(1), 0); /* NULL would be the out-of-memory reply */
        return;
    }
    size_t len = (size_t)st.st_size, got = 0;
    body = malloc(len ? len : 1);
    if (!body) {
        close(fd);
        http_reply_errorf(r, ERR_NOMEM, "", "out of memory");
        return;
    }
    while (got < len) {
        ssize_t k = read(fd, body + got, len - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    close(fd);
    if (got != len) {
        free(body);
        http_reply_errorf(r, ERR_INTERNAL, "", "%s: short read", what);
        return;
    }
    http_reply_text(r, 200, type, body, len);
}

void h_ui_index(http_req *r)
{
    ui_send(r, http_req_app(r)->ui_dir, "index.html", "text/html; charset=utf-8",
            "the dashboard");
}

void h_ui_file(http_req *r)
{
    const char *name = http_req_param(r, "file");
    const char *type = ui_type(name);
    if (!type) {
        http_reply_errorf(r, ERR_NOT_FOUND, "file", "no such dashboard file");
        return;
    }
    ui_send(r, http_req_app(r)->ui_dir, name, type, "the dashboard");
}

/* The libraries the page may load, by the name it asks for, and where
 * Debian's packages put them (the first that exists wins). */
static const struct {
    const char *name, *paths[3], *package;
} libs[] = {
    {"chart.js",
     {"chart.js/chart.umd.js", "chart.js/chart.min.js", "chart.js/chart.js"},
     "libjs-chart.js"},
};

void h_ui_lib(http_req *r)
{
    const char *name = http_req_param(r, "file");
    const char *dir = http_req_app(r)->ui_lib_dir;
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        if (strcmp(name, libs[i].name) != 0) continue;
        for (size_t j = 0; j < 3 && libs[i].paths[j]; j++) {
            char path[4096];
            struct stat st;
            if (dir && *dir &&
                (size_t)snprintf(path, sizeof path, "%s/%s", dir, libs[i].paths[j]) <
                    sizeof path &&
                stat(path, &st) == 0) {
                ui_send(r, dir, libs[i].paths[j], "text/javascript; charset=utf-8",
                        libs[i].package);
                return;
            }
        }
        log_warn("ui_lib_missing", "request_id=%s name=%s ui_lib_dir=%s", http_req_id(r), name,
                 dir ? dir : "");
        http_reply_errorf(r, ERR_NOT_FOUND, "file",
                          "%s is not installed (Debian: apt-get install %s; the ui_lib_dir "
                          "setting)", name, libs[i].package);
        return;
    }
    http_reply_errorf(r, ERR_NOT_FOUND, "file", "no such library");
}
