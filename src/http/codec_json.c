/* http/codec_json.c: see codec_json.h.
 *
 * DESIGN. Numbers: the shortest decimal that reads back to the double, the
 * nearest one when several are as short, spelled as Python's repr spells it
 * (so a document written by json.dump comes back as the same text). Normal
 * doubles go through Schubfach (fmt_normal; about 50 ns, where a printf
 * round-trip search takes over a microsecond, and a trajectory reply is
 * mostly numbers); subnormals through a %.*e search. Tested against
 * Python's repr (tests/fixtures/shortest_doubles.txt) and against strtod on
 * random doubles.
 *
 * NaN and Infinity. A first parse is strict. Only when it fails is the text
 * scanned for bare tokens NaN / Infinity / inf (any case, signed) and
 * number literals that overflow a double; each is replaced by a marker
 * string ("\u001f" + the token) and the text parsed again. If that parse
 * succeeds, the first marker found in the tree gives the field path of a
 * 422; otherwise the first parse's error (with the right line and column)
 * is the answer. So well-formed requests pay nothing for this. */
#include "http/codec_json.h"

#include "http/codec_pow10.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MARK '\x1f' /* first byte of a marker string */

/* ---- numbers ---- */

/* Write f x 10^e (f > 0, at most 17 digits) the way Python's repr does:
 * trailing zeros dropped; positional for decimal exponents -4..15 (".0" on
 * integers), otherwise d.ddde+XX with at least two exponent digits. */
static size_t render(char *buf, int neg, uint64_t f, int e)
{
    char d[24];
    int nd = 0;
    while (f % 10 == 0) {
        f /= 10;
        e++;
    }
    for (char *p = d + sizeof d; f; f /= 10) /* digits, most significant first */
        *--p = (char)('0' + f % 10), nd++;
    const char *dig = d + sizeof d - nd;
    int x = e + nd - 1; /* exponent of the first digit */
    char *o = buf;
    if (neg) *o++ = '-';
    if (x < -4 || x >= 16) {
        *o++ = dig[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, dig + 1, (size_t)nd - 1);
            o += nd - 1;
        }
        o += snprintf(o, 8, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
    } else if (x < 0) { /* 0.000ddd */
        memcpy(o, "0.0000", (size_t)(1 - x));
        o += 1 - x;
        memcpy(o, dig, (size_t)nd);
        o += nd;
    } else if (nd <= x + 1) { /* ddd000.0 */
        memcpy(o, dig, (size_t)nd);
        o += nd;
        memset(o, '0', (size_t)(x + 1 - nd));
        o += x + 1 - nd;
        memcpy(o, ".0", 2);
        o += 2;
    } else { /* ddd.ddd */
        memcpy(o, dig, (size_t)x + 1);
        o += x + 1;
        *o++ = '.';
        memcpy(o, dig + x + 1, (size_t)(nd - x - 1));
        o += nd - x - 1;
    }
    *o = '\0';
    return (size_t)(o - buf);
}

/* Subnormals (and zero): the fewest %.*e digits that read back. Slow, rare. */
static size_t fmt_small(char *buf, double v)
{
    char t[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*e", prec - 1, v);
        if (strtod(t, NULL) != v && prec < 17) continue;
        uint64_t f = 0;
        const char *p = t + (t[0] == '-');
        for (; *p && *p != 'e'; p++)
            if (isdigit((unsigned char)*p)) f = f * 10 + (uint64_t)(*p - '0');
        return render(buf, t[0] == '-', f, atoi(p + 1) - (prec - 1));
    }
    return 0; /* not reached */
}

/* Schubfach (R. Giulietti, "The Schubfach way to render doubles", 2020),
 * for normal doubles v = c 2^q. Scaled by 10^-k, the rounding interval
 * [vbl, vbr] (quarter units, computed with 126-bit powers of ten rounded to
 * odd, which keeps every comparison exact) holds a multiple of 10 at most
 * once; if it holds one, that is the shortest decimal (fewer digits are its
 * trailing zeros), else the shortest is s = floor(v 10^-k) or s + 1,
 * whichever is inside, the nearer to v when both are (ties to even). */
static inline uint64_t mul_hi(uint64_t a, uint64_t b)
{
    return (uint64_t)(((unsigned __int128)a * b) >> 64);
}

/* floor(g cp / 2^127), rounded to odd (sticky bit for the dropped bits). */
static inline uint64_t round_odd(uint64_t g1, uint64_t g0, uint64_t cp)
{
    const uint64_t mask63 = (1ull << 63) - 1;
    uint64_t x1 = mul_hi(g0, cp), y0 = g1 * cp, y1 = mul_hi(g1, cp);
    uint64_t z = (y0 >> 1) + x1;
    return (y1 + (z >> 63)) | (((z & mask63) + mask63) >> 63);
}

/* floor(q log10 2), floor(log10(3/4 2^q)), floor(e log2 10) for the ranges
 * a double needs (|q| <= 1100): integer formulas, exact there. Right shifts
 * of negative values are arithmetic (floor) with GCC and Clang. */
static inline int flog10_pow2(int q)
{
    return (int)(((int64_t)q * 661971961083LL) >> 41);
}

static inline int flog10_three_quarters_pow2(int q)
{
    return (int)(((int64_t)q * 661971961083LL - 274743187321LL) >> 41);
}

static inline int flog2_pow10(int e)
{
    return (int)(((int64_t)e * 913124641741LL) >> 38);
}

static size_t fmt_normal(char *buf, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int neg = (int)(bits >> 63), bq = (int)((bits >> 52) & 0x7ff);
    uint64_t t = bits & ((1ull << 52) - 1), c = (1ull << 52) | t;
    int q = bq - 1075, k;
    uint64_t out = c & 1, cb = c << 2, cbr = cb + 2, cbl;
    if (t != 0 || bq == 1) { /* evenly spaced neighbours */
        cbl = cb - 2;
        k = flog10_pow2(q);
    } else { /* a power of two: the neighbour below is half as far */
        cbl = cb - 1;
        k = flog10_three_quarters_pow2(q);
    }
    int h = q + flog2_pow10(-k) + 2;
    const uint64_t *g = codec_pow10_g[-k - CODEC_POW10_E_MIN];
    uint64_t vb = round_odd(g[0], g[1], cb << h), vbl = round_odd(g[0], g[1], cbl << h),
             vbr = round_odd(g[0], g[1], cbr << h);
    uint64_t s = vb >> 2;
    if (s >= 100) {
        uint64_t sp10 = 10 * (s / 10), tp10 = sp10 + 10;
        int upin = vbl + out <= sp10 << 2, wpin = (tp10 << 2) + out <= vbr;
        if (upin != wpin) return render(buf, neg, upin ? sp10 : tp10, k);
    }
    uint64_t t1 = s + 1;
    int uin = vbl + out <= s << 2, win = (t1 << 2) + out <= vbr;
    if (uin != win) return render(buf, neg, uin ? s : t1, k);
    int64_t cmp = (int64_t)(vb - ((s + t1) << 1));
    return render(buf, neg, (cmp < 0 || (cmp == 0 && (s & 1) == 0)) ? s : t1, k);
}

size_t codec_fmt_double(char *buf, double x)
{
    if (!isfinite(x)) {
        memcpy(buf, "null", 5);
        return 4;
    }
    if (x == 0) {
        size_t n = signbit(x) ? 4 : 3;
        memcpy(buf, signbit(x) ? "-0.0" : "0.0", n + 1);
        return n;
    }
    return fabs(x) < DBL_MIN ? fmt_small(buf, x) : fmt_normal(buf, x);
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
