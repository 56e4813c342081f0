/* core/log.h: one line per event on stderr, key=value fields.
 *
 * Each line starts with a syslog priority prefix "<N>" (sd-daemon(3)), so
 * journald files it by level when we run under systemd; in a terminal the
 * prefix is harmless. A line is written with a single write(2), so lines from
 * different threads never interleave. The level may be changed at any time
 * from any thread (SIGHUP reload). */
#ifndef ODESERVE_CORE_LOG_H
#define ODESERVE_CORE_LOG_H

#include <stddef.h>

enum log_level {
    LOG_LVL_ERROR = 3,   /* syslog LOG_ERR */
    LOG_LVL_WARN = 4,    /* syslog LOG_WARNING */
    LOG_LVL_INFO = 6,    /* syslog LOG_INFO */
    LOG_LVL_DEBUG = 7    /* syslog LOG_DEBUG */
};

/* Lines above `level` are dropped. Default LOG_LVL_INFO. Thread-safe. */
void log_level_set(enum log_level level);
enum log_level log_level_get(void);

/* "error" | "warn" | "info" | "debug" -> level; returns 0 on success, -1 if unknown. */
int log_level_parse(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);

/* Send lines to `fd` instead of stderr (tests). */
void log_fd_set(int fd);

/* Emit `<N>ts=... level=... event=<event> <fields>` where `fields` is a
 * printf format producing further key=value pairs (may be NULL). Values
 * that may hold spaces or quotes must go through log_quote. */
void log_emit(enum log_level level, const char *event, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

/* The request this thread is working on, for every line it writes until
 * cleared: a line that has `request_id=<request_id>` gets ` <extra>` (e.g.
 * "trace_id=... span_id=...", may be "" or NULL) right after it; a line
 * without it gets ` request_id=<request_id> <extra>` at its end. So a
 * request's trace id is in every line of the request, whichever module
 * writes it. Both strings are borrowed until log_context_set(NULL, NULL).
 * Per thread; no locking. */
void log_context_set(const char *request_id, const char *extra);

/* Quote `s` as a log value into `buf` ("a b" -> "\"a b\""; plain tokens are
 * copied unquoted). Returns buf. */
const char *log_quote(char *buf, size_t n, const char *s);

#define log_error(ev, ...) log_emit(LOG_LVL_ERROR, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_emit(LOG_LVL_WARN, ev, __VA_ARGS__)
#define log_info(ev, ...) log_emit(LOG_LVL_INFO, ev, __VA_ARGS__)
#define log_debug(ev, ...) log_emit(LOG_LVL_DEBUG, ev, __VA_ARGS__)

#endif
