/* codec/codec_json.c: the text buffer and the typed getters. See
 * codec_json.h; the number writer is codec_num.c, the parser codec_parse.c. */
#include "codec/codec_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- text buffer ---- */

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
    b->len += codec_fmt_double(b->p + b->len, x);
}

void jbuf_int(jbuf *b, long long v)
{
    char t[32];
    int n = snprintf(t, sizeof t, "%lld", v);
    jbuf_raw(b, t, (size_t)n);
}

void jbuf_vec(jbuf *b, const double *v, size_t n)
{
    jbuf_raw(b, "[", 1);
    for (size_t k = 0; k < n; k++) {
        if (k) jbuf_raw(b, ",", 1);
        jbuf_double(b, v[k]);
    }
    jbuf_raw(b, "]", 1);
}

void jbuf_rows(jbuf *b, const double *y, size_t n, size_t dim)
{
    jbuf_raw(b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i) jbuf_raw(b, ",", 1);
        jbuf_vec(b, y + i * dim, dim);
    }
    jbuf_raw(b, "]", 1);
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
    case JSON_STRING:
        jbuf_str(b, json_string_value(v));
        break;
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

/* ---- typed getters ---- */

const char *codec_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

const char *codec_field(char *buf, size_t n, const char *parent, const char *child)
{
    if (!child[0]) child = "[\"\"]"; /* the empty key: visible, unlike "a." or "" */
    const char *sep = (!parent || !parent[0] || child[0] == '[') ? "" : ".";
    if (snprintf(buf, n, "%s%s%s", parent ? parent : "", sep, child) >= (int)n)
        buf[n - 1] = '\0'; /* cut: a path this long is still recognisable */
    return buf;
}

const char *codec_field_index(char *buf, size_t n, const char *parent, size_t i)
{
    if (snprintf(buf, n, "%s[%zu]", parent ? parent : "", i) >= (int)n) buf[n - 1] = '\0';
    return buf;
}

err_code codec_get_double(const json_t *v, const char *field, double *out, err *e)
{
    if (!json_is_number(v))
        return err_set(e, ERR_INVALID, field, "must be a number, got %s", codec_type_name(v));
    double x = json_number_value(v);
    if (!isfinite(x)) return err_set(e, ERR_INVALID, field, "must be a finite number");
    *out = x;
    return ERR_OK;
}

err_code codec_get_long(const json_t *v, const char *field, long lo, long hi, long *out, err *e)
{
    double x;
    if (!json_is_number(v) || !isfinite(x = json_number_value(v)) || x != floor(x))
        return err_set(e, ERR_INVALID, field, "must be an integer from %ld to %ld, got %s", lo, hi,
                       json_is_number(v) ? "a fraction" : codec_type_name(v));
    if (x < (double)lo || x > (double)hi)
        return err_set(e, ERR_INVALID, field, "must be an integer from %ld to %ld, got %.17g", lo,
                       hi, x);
    *out = (long)x;
    return ERR_OK;
}

err_code codec_get_size(const json_t *v, const char *field, size_t lo, size_t hi, size_t *out,
                        err *e)
{
    long x;
    if (codec_get_long(v, field, (long)lo, (long)hi, &x, e) != ERR_OK) return ERR_INVALID;
    *out = (size_t)x;
    return ERR_OK;
}

err_code codec_get_bool(const json_t *v, const char *field, bool *out, err *e)
{
    if (!json_is_boolean(v))
        return err_set(e, ERR_INVALID, field, "must be true or false, got %s", codec_type_name(v));
    *out = json_is_true(v);
    return ERR_OK;
}

err_code codec_get_string(const json_t *v, const char *field, const char **out, err *e)
{
    if (!json_is_string(v))
        return err_set(e, ERR_INVALID, field, "must be a string, got %s", codec_type_name(v));
    *out = json_string_value(v);
    return ERR_OK;
}

err_code codec_get_vector(const json_t *v, const char *field, size_t n, double *out, err *e)
{
    if (!json_is_array(v))
        return err_set(e, ERR_INVALID, field, "must be an array of %zu numbers, got %s", n,
                       codec_type_name(v));
    if (json_array_size(v) != n)
        return err_set(e, ERR_INVALID, field, "must hold %zu numbers, got %zu", n,
                       json_array_size(v));
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(v, i);
        if (json_is_real(x)) { /* the common case, without the checks below */
            out[i] = json_real_value(x);
            if (isfinite(out[i])) continue;
        }
        char f[ERR_FIELD_MAX];
        if (codec_get_double(x, codec_field_index(f, sizeof f, field, i), &out[i], e) != ERR_OK)
            return ERR_INVALID;
    }
    return ERR_OK;
}

err_code codec_check_keys(const json_t *obj, const char *field, const char *const *allowed, err *e)
{
    if (!json_is_object(obj))
        return err_set(e, ERR_INVALID, field, "must be an object, got %s", codec_type_name(obj));
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)obj, k, x)
    {
        int known = 0;
        for (const char *const *a = allowed; *a && !known; a++)
            known = strcmp(*a, k) == 0;
        if (known) continue;
        char f[ERR_FIELD_MAX], list[256];
        size_t o = 0;
        list[0] = '\0';
        for (const char *const *a = allowed; *a && o < sizeof list; a++)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", a == allowed ? "" : ", ", *a);
        return err_set(e, ERR_INVALID, codec_field(f, sizeof f, field, k),
                       "unknown key (expected one of: %s)", list);
    }
    return ERR_OK;
}
