/* codec/jbuf.c: the text buffer and its JSON writers. See jbuf.h; the
 * number writer is codec_num.c. */
#include "codec/jbuf.h"

#include "codec/codec_packed.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jbuf_init(jbuf *b)
{
    memset(b, 0, sizeof *b);
}

void jbuf_free(jbuf *b)
{
    if (!b) return;
    free(b->p);
    jbuf_init(b);
}

static int grow(jbuf *b, size_t need)
{
    if (b->oom) return -1;
    if (b->len + need + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + need + 1) {
        if (cap > ((size_t)-1) / 2) {
            b->oom = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void jbuf_reserve(jbuf *b, size_t n)
{
    grow(b, n);
}

void jbuf_raw(jbuf *b, const char *s, size_t n)
{
    if (grow(b, n) != 0) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void jbuf_lit(jbuf *b, const char *s)
{
    jbuf_raw(b, s, strlen(s));
}

void jbuf_str(jbuf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(s);
    if (grow(b, 6 * n + 2) != 0) return; /* worst case: every byte \u00XX */
    char *o = b->p + b->len;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else if (c == '\t') {
            *o++ = '\\';
            *o++ = 't';
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    *o = '\0';
    b->len = (size_t)(o - b->p);
}

void jbuf_double(jbuf *b, double x)
{
    if (grow(b, CODEC_NUM_MAX) != 0) return;
    b->len += codec_num_write(b->p + b->len, x);
}

/* Digits from the end, not snprintf: a reply carries several counters
 * and printf's format machinery costs more than the digits. */
void jbuf_int(jbuf *b, long long v)
{
    char t[24], *p = t + sizeof t;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0) *--p = '-';
    jbuf_raw(b, p, (size_t)(t + sizeof t - p));
}

/* One growth check per block of numbers, which are then written in
 * place: the per-number checks and NUL writes of jbuf_raw/jbuf_double are
 * a visible share of a trajectory reply. A block's room is its numbers'
 * longest text plus codec_num_write's scratch (CODEC_NUM_MAX), so blocks
 * keep the extra room small for a long vector. */
void jbuf_vec(jbuf *b, const double *v, size_t n)
{
    enum { BLOCK = 256 };
    jbuf_raw(b, "[", 1);
    for (size_t k = 0; k < n;) {
        size_t m = n - k < BLOCK ? n - k : BLOCK;
        if (grow(b, m * (CODEC_NUM_MAX + 1)) != 0) return;
        char *o = b->p + b->len;
        if (k) *o++ = ',';
        o = codec_num_write_list(o, v + k, m);
        k += m;
        *o = '\0';
        b->len = (size_t)(o - b->p);
    }
    jbuf_raw(b, "]", 1);
}

/* As jbuf_vec, a block of rows at a time: a trajectory's rows are short
 * (a state each), and a jbuf_vec per row, with its brackets and commas
 * through jbuf_raw (a growth check and a NUL store each), was a visible
 * share of a trajectory reply (docs/benchmarks.md, bench_codec --reply).
 * A block's room: each number's CODEC_NUM_MAX + 1 as in jbuf_vec, and a
 * row's brackets and comma. */
static void rows_write(jbuf *b, const double *y, size_t n, size_t dim, int nan_row_null)
{
    enum { BLOCK = 256 };
    const size_t per = dim < BLOCK ? BLOCK / (dim ? dim : 1) : 1;
    jbuf_raw(b, "[", 1);
    for (size_t i = 0; i < n;) {
        size_t m = n - i < per ? n - i : per;
        if (grow(b, m * (dim * (CODEC_NUM_MAX + 1) + 4)) != 0) return;
        char *o = b->p + b->len;
        for (size_t end = i + m; i < end; i++) {
            const double *r = y + i * dim;
            if (i) *o++ = ',';
            if (nan_row_null && dim && isnan(r[0])) {
                memcpy(o, "null", 4);
                o += 4;
                continue;
            }
            *o++ = '[';
            o = codec_num_write_list(o, r, dim);
            *o++ = ']';
        }
        *o = '\0';
        b->len = (size_t)(o - b->p);
    }
    jbuf_raw(b, "]", 1);
}

void jbuf_rows(jbuf *b, const double *y, size_t n, size_t dim)
{
    rows_write(b, y, n, dim, 0);
}

void jbuf_rows_or_null(jbuf *b, const double *y, size_t n, size_t dim)
{
    rows_write(b, y, n, dim, 1);
}

void jbuf_json(jbuf *b, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *x;
        int first = 1;
        jbuf_raw(b, "{", 1);
        json_object_foreach((json_t *)v, k, x)
        {
            if (!first) jbuf_raw(b, ",", 1);
            first = 0;
            jbuf_str(b, k);
            jbuf_raw(b, ":", 1);
            jbuf_json(b, x);
        }
        jbuf_raw(b, "}", 1);
        break;
    }
    case JSON_ARRAY:
        jbuf_raw(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) jbuf_raw(b, ",", 1);
            jbuf_json(b, json_array_get(v, i));
        }
        jbuf_raw(b, "]", 1);
        break;
    case JSON_STRING: {
        codec_packed_view p;
        if (!codec_packed_get(v, &p)) {
            jbuf_str(b, json_string_value(v));
            break;
        }
        jbuf_raw(b, "[", 1); /* a packed array writes as the array it stands for */
        for (size_t i = 0; i < p.rows; i++) {
            json_t *x = codec_packed_item(&p, i);
            if (!x) {
                b->oom = 1;
                break;
            }
            if (i) jbuf_raw(b, ",", 1);
            jbuf_json(b, x);
            json_decref(x);
        }
        jbuf_raw(b, "]", 1);
        break;
    }
    case JSON_INTEGER:
        jbuf_int(b, (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        jbuf_double(b, json_real_value(v));
        break;
    case JSON_TRUE:
        jbuf_lit(b, "true");
        break;
    case JSON_FALSE:
        jbuf_lit(b, "false");
        break;
    default:
        jbuf_lit(b, "null");
    }
}

char *jbuf_take(jbuf *b, size_t *len)
{
    char *p = b->oom ? NULL : b->p;
    if (!p) { /* nothing written yet: an empty text */
        if (!b->oom) p = calloc(1, 1);
        if (b->oom) free(b->p);
    }
    if (len) *len = p ? b->len : 0;
    jbuf_init(b);
    return p;
}
