/* http/trace.h: the W3C Trace Context `traceparent` header
 * (https://www.w3.org/TR/trace-context/, section 3.2).
 *
 *   traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
 *                version-trace_id-parent_id-flags
 *
 * A valid header is accepted: its trace id is the request's (every log line
 * of the request carries it) and the reply's `traceparent` has the same
 * trace id with the server's own span id as parent id. An invalid one is
 * ignored, as the specification asks (the request goes on as if it had
 * none). Pure functions; any thread. */
#ifndef ODESERVE_HTTP_TRACE_H
#define ODESERVE_HTTP_TRACE_H

#define HTTP_TRACE_ID_LEN 32   /* hex digits */
#define HTTP_TRACE_SPAN_LEN 16 /* hex digits */

typedef struct http_trace {
    char trace_id[HTTP_TRACE_ID_LEN + 1]; /* "" = no trace */
    char parent_id[HTTP_TRACE_SPAN_LEN + 1];
    char flags[3];
} http_trace;

/* 1 and *t filled when `header` is a valid traceparent: version 00 exactly
 * (55 characters), or a later version (not ff) whose first 55 characters
 * have the version-00 form followed by the end or '-'; ids and flags in
 * lowercase hex; trace id and parent id not all zeros. Otherwise 0 and
 * t->trace_id is "". NULL is invalid. */
int http_trace_parse(const char *header, http_trace *t);

/* The reply's header value "00-<trace_id>-<span_id>-<flags>" into buf
 * (>= 56 bytes). */
void http_trace_format(const http_trace *t, const char *span_id, char *buf, unsigned long n);

#endif
