/* http/codec_json.c: see codec_json.h.
 *
 * DESIGN. Numbers: a double has a shortest decimal form of at most 17
 * significant digits that reads back to it; %.15g is exact for any value
 * whose shortest form has <= 15 digits (a normal double is within half an
 * ulp, 2^-53 relative, of that form, far inside half the 15-digit spacing,
 * 5e-16 relative, so it is the nearest 15-digit value), so trying 15, 16, 17 in turn
 * and keeping the first that strtod maps back gives the shortest form in
 * the common cases and a correct one always (17 digits always round-trip,
 * IEEE 754 5.12.2). glibc's printf and strtod round correctly.
 *
 * NaN and Infinity. A first parse is strict. Only when it fails is the text
 * scanned for bare tokens NaN / Infinity / inf (any case, signed) and
 * number literals that overflow a double; each is replaced by a marker
 * string ("\u001f" + the token) and the text parsed again. If that parse
 * succeeds, the first marker found in the tree gives the field path of a
 * 422; otherwise the first parse's error (with the right line and column)
 * is the answer. So well-formed requests pay nothing for this. */
#include "http/codec_json.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MARK '\x1f' /* first byte of a marker string */

/* ---- numbers ---- */

/* A power of two has a lower half-interval half as wide as the upper one,
 * so its nearest prec-digit decimal may fall just below the values that
 * read back to it while the next one up does not (2^-24: %.16g gives
 * ...062e-08, only ...063e-08 reads back). Try that one, written as %g
 * would (every such case is in %g's exponent range). Returns its length,
 * or 0 when it does not read back either. */
static int fmt_next_up(char *buf, double x, int prec)
{
    char t[48], digits[24];
    snprintf(t, sizeof t, "%.*e", prec - 1, x);
    const char *p = t + (t[0] == '-');
    int nd = 0;
    for (; *p && *p != 'e'; p++)
        if (isdigit((unsigned char)*p)) digits[nd++] = *p;
    int exp10 = atoi(p + 1), i = nd - 1;
    while (i >= 0 && digits[i] == '9')
        digits[i--] = '0';
    if (i < 0) { /* 9.99..9 -> 1.00..0 one decade up */
        digits[0] = '1';
        exp10++;
    } else {
        digits[i]++;
    }
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    int n = 0;
    if (t[0] == '-') buf[n++] = '-';
    buf[n++] = digits[0];
    if (nd > 1) {
        buf[n++] = '.';
        memcpy(buf + n, digits + 1, (size_t)nd - 1);
        n += nd - 1;
    }
    n += snprintf(buf + n, CODEC_NUM_MAX - (size_t)n, "e%+03d", exp10);
    return strtod(buf, NULL) == x ? n : 0;
}

static int power_of_two(double x)
{
    int e;
    return fabs(x) >= DBL_MIN && fabs(frexp(x, &e)) == 0.5;
}

size_t codec_fmt_double(char *buf, double x)
{
    if (!isfinite(x)) {
        memcpy(buf, "null", 5);
        return 4;
    }
    int n = 0;
    /* Subnormals carry fewer bits: their shortest form may be short of 15
     * digits without %.15g being it ("5e-324"), so they search from 1. */
    for (int prec = fabs(x) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
        n = snprintf(buf, CODEC_NUM_MAX, "%.*g", prec, x);
        if (prec == 17 || strtod(buf, NULL) == x) break;
        if (power_of_two(x) && (n = fmt_next_up(buf, x, prec)) > 0) break;
    }
    /* "2" -> "2.0", "-0" -> "-0.0": a real for every reader. */
    if (!strpbrk(buf, ".e")) {
        buf[n++] = '.';
        buf[n++] = '0';
        buf[n] = '\0';
    }
    return (size_t)n;
}

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

/* ---- parsing ---- */

bool codec_is_json_type(const char *ct)
{
    static const char want[] = "application/json";
    if (!ct) return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, want, sizeof want - 1) != 0) return false;
    char c = ct[sizeof want - 1];
    return c == '\0' || c == ';' || c == ' ' || c == '\t';
}

static int token_char(char c)
{
    return isalnum((unsigned char)c) || c == '+' || c == '-' || c == '.';
}

/* NaN, Infinity, inf (any case, optionally signed), or a number literal
 * that overflows a double. */
static int nonfinite_token(const char *t, size_t n)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf) return 0;
    memcpy(buf, t, n);
    buf[n] = '\0';
    const char *w = buf + (buf[0] == '-' || buf[0] == '+');
    if (strcasecmp(w, "nan") == 0 || strcasecmp(w, "inf") == 0 || strcasecmp(w, "infinity") == 0)
        return 1;
    if (!(isdigit((unsigned char)buf[0]) || buf[0] == '-')) return 0;
    char *end;
    errno = 0;
    double x = strtod(buf, &end);
    return *end == '\0' && isinf(x);
}

/* The text with each non-finite token replaced by a marker string; NULL
 * when there is none (or out of memory). */
static char *mark_nonfinite(const char *text, size_t len, size_t *out_len)
{
    jbuf b;
    jbuf_init(&b);
    int in_str = 0, found = 0;
    size_t i = 0;
    while (i < len) {
        char c = text[i];
        if (in_str) {
            size_t n = (c == '\\' && i + 1 < len) ? 2 : 1;
            if (c == '"') in_str = 0;
            jbuf_raw(&b, text + i, n);
            i += n;
        } else if (c == '"') {
            in_str = 1;
            jbuf_raw(&b, text + i, 1);
            i++;
        } else if (token_char(c)) {
            size_t j = i;
            while (j < len && token_char(text[j]))
                j++;
            if (nonfinite_token(text + i, j - i)) {
                found = 1;
                jbuf_lit(&b, "\"\\u001f");
                jbuf_raw(&b, text + i, j - i);
                jbuf_lit(&b, "\"");
            } else {
                jbuf_raw(&b, text + i, j - i);
            }
            i = j;
        } else {
            jbuf_raw(&b, text + i, 1);
            i++;
        }
    }
    if (!found) {
        jbuf_free(&b);
        return NULL;
    }
    return jbuf_take(&b, out_len);
}

/* Depth-first search for a marker string; its path into `path`, the token
 * it replaced into *tok. Returns 1 when found as a value, -1 when found as
 * a key (the original text was malformed there), 0 when absent. */
static int find_marker(const json_t *v, char *path, size_t n, const char **tok)
{
    char sub[ERR_FIELD_MAX];
    if (json_is_string(v)) {
        *tok = json_string_value(v) + 1;
        return json_string_value(v)[0] == MARK ? 1 : 0;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            codec_field_index(sub, sizeof sub, path, i);
            int r = find_marker(json_array_get(v, i), sub, sizeof sub, tok);
            if (r) {
                snprintf(path, n, "%s", sub);
                return r;
            }
        }
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            if (k[0] == MARK) return -1;
            codec_field(sub, sizeof sub, path, k);
            int r = find_marker(x, sub, sizeof sub, tok);
            if (r) {
                snprintf(path, n, "%s", sub);
                return r;
            }
        }
    }
    return 0;
}

/* After a failed strict parse: a 422 naming a non-finite number, if that
 * is what broke it. */
static err_code explain_nonfinite(const char *text, size_t len, err *e)
{
    size_t mlen = 0;
    char *marked = mark_nonfinite(text, len, &mlen);
    if (!marked) return ERR_OK;
    json_t *j = json_loadb(marked, mlen, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    free(marked);
    if (!j) return ERR_OK;
    char path[ERR_FIELD_MAX] = "";
    const char *tok = "";
    err_code rc = ERR_OK;
    if (find_marker(j, path, sizeof path, &tok) == 1) {
        int literal = isdigit((unsigned char)tok[tok[0] == '-']);
        rc = err_set(e, ERR_INVALID, path, "must be a finite number, got %.40s%s", tok,
                     literal ? " (too large for a double)" : " (JSON has no NaN or Infinity)");
    }
    json_decref(j);
    return rc;
}

err_code codec_parse(const char *text, size_t len, json_t **out, err *e)
{
    *out = NULL;
    size_t i = 0;
    while (i < len && isspace((unsigned char)text[i]))
        i++;
    if (i == len) return err_set(e, ERR_BAD_JSON, NULL, "the request body is empty; expected JSON");
    json_error_t je;
    json_t *j = json_loadb(text, len,
                           JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_REJECT_DUPLICATES, &je);
    if (j) {
        *out = j;
        return ERR_OK;
    }
    if (explain_nonfinite(text, len, e) != ERR_OK) return ERR_INVALID;
    return err_set(e, ERR_BAD_JSON, NULL, "line %d column %d: %s", je.line, je.column, je.text);
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
    const char *sep = (!parent || !parent[0] || child[0] == '[') ? "" : ".";
    snprintf(buf, n, "%s%s%s", parent ? parent : "", sep, child);
    return buf;
}

const char *codec_field_index(char *buf, size_t n, const char *parent, size_t i)
{
    snprintf(buf, n, "%s[%zu]", parent ? parent : "", i);
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
