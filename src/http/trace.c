/* http/trace.c: see trace.h. */
#include "http/trace.h"

#include <stdio.h>
#include <string.h>

/* n lowercase hex digits; *nonzero set when any is not '0'. */
static int lower_hex(const char *p, size_t n, int *nonzero)
{
    int nz = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return 0;
        nz |= c != '0';
    }
    if (nonzero) *nonzero = nz;
    return 1;
}

int http_trace_parse(const char *h, http_trace *t)
{
    memset(t, 0, sizeof *t);
    if (!h) return 0;
    size_t len = strlen(h);
    int tid_nz = 0, pid_nz = 0;
    /* version "00": exactly 55; later versions may add fields after a '-' */
    if (len < 55 || !lower_hex(h, 2, NULL) || strncmp(h, "ff", 2) == 0) return 0;
    if (strncmp(h, "00", 2) == 0 ? len != 55 : (len > 55 && h[55] != '-')) return 0;
    if (h[2] != '-' || h[35] != '-' || h[52] != '-') return 0;
    if (!lower_hex(h + 3, 32, &tid_nz) || !lower_hex(h + 36, 16, &pid_nz) ||
        !lower_hex(h + 53, 2, NULL) || !tid_nz || !pid_nz)
        return 0;
    memcpy(t->trace_id, h + 3, 32);
    memcpy(t->parent_id, h + 36, 16);
    memcpy(t->flags, h + 53, 2);
    return 1;
}

void http_trace_format(const http_trace *t, const char *span_id, char *buf, unsigned long n)
{
    /* version 00 whatever came in: it is the version we speak */
    snprintf(buf, n, "00-%s-%s-%s", t->trace_id, span_id, t->flags);
}
