/* core/log.c: see log.h. */
#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int current_level = LOG_LVL_INFO;
static atomic_int out_fd = STDERR_FILENO;

void log_level_set(enum log_level level)
{
    atomic_store(&current_level, (int)level);
}

enum log_level log_level_get(void)
{
    return (enum log_level)atomic_load(&current_level);
}

void log_fd_set(int fd)
{
    atomic_store(&out_fd, fd);
}

static const struct {
    const char *name;
    enum log_level level;
} level_names[] = {
    {"error", LOG_LVL_ERROR},
    {"warn", LOG_LVL_WARN},
    {"info", LOG_LVL_INFO},
    {"debug", LOG_LVL_DEBUG},
};

int log_level_parse(const char *name, enum log_level *out)
{
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcmp(name, level_names[i].name) == 0) {
            *out = level_names[i].level;
            return 0;
        }
    }
    return -1;
}

const char *log_level_name(enum log_level level)
{
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
        if (level_names[i].level == level) return level_names[i].name;
    return "info";
}

static _Thread_local const char *ctx_id, *ctx_extra;

void log_context_set(const char *request_id, const char *extra)
{
    ctx_id = request_id;
    ctx_extra = extra && extra[0] ? extra : NULL;
}

/* The context's fields into line[0..n) (capacity cap, room kept for the
 * newline): after "request_id=<id>" when the line has it, else at the end.
 * Returns the new length. */
static int add_context(char *line, int n, size_t cap)
{
    char ins[160];
    char key[96];
    snprintf(key, sizeof key, " request_id=%s", ctx_id);
    size_t kl = strlen(key);
    char *at = NULL;
    for (char *p = strstr(line, key); p; p = strstr(p + 1, key))
        if (p[kl] == ' ' || p[kl] == '\0') {
            at = p + kl;
            break;
        }
    if (at && !ctx_extra) return n;
    if (at)
        snprintf(ins, sizeof ins, " %s", ctx_extra);
    else
        snprintf(ins, sizeof ins, "%s%s%s", key, ctx_extra ? " " : "", ctx_extra ? ctx_extra : "");
    size_t il = strlen(ins);
    if ((size_t)n + il > cap - 2) return n; /* a full line stays as it is */
    if (!at) at = line + n;
    memmove(at + il, at, (size_t)(line + n - at));
    memcpy(at, ins, il);
    return n + (int)il;
}

void log_emit(enum log_level level, const char *event, const char *fields, ...)
{
    if ((int)level > atomic_load(&current_level)) return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "<%d>ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s",
                     (int)level, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L, log_level_name(level), event);
    if (n < 0) return;
    if ((size_t)n < sizeof line - 2 && fields && fields[0]) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fields);
        int m = vsnprintf(line + n, sizeof line - (size_t)n, fields, ap);
        va_end(ap);
        if (m > 0) n += m;
    }
    if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
    line[n] = '\0';
    if (ctx_id) n = add_context(line, n, sizeof line);
    line[n++] = '\n';
    ssize_t w = write(atomic_load(&out_fd), line, (size_t)n);
    (void)w; /* nowhere to report a failed log write */
}

const char *log_quote(char *buf, size_t n, const char *s)
{
    if (n == 0) return buf;
    if (!s) s = "";
    int plain = s[0] != '\0';
    for (const char *p = s; *p; p++)
        if (*p == ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p < 0x20) plain = 0;
    if (plain) {
        snprintf(buf, n, "%s", s);
        return buf;
    }
    size_t o = 0;
    buf[o++] = '"';
    for (const char *p = s; *p && o + 3 < n; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20) {
            buf[o++] = ' ';
        } else {
            buf[o++] = (char)c;
        }
    }
    if (o + 1 < n) buf[o++] = '"';
    buf[o < n ? o : n - 1] = '\0';
    return buf;
}
