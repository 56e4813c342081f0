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
 * Parsing: our own strict parser (RFC 8259) builds the jansson tree,
 * because jansson's lexer spends about half a microsecond on each long
 * number, and a request is mostly numbers. Every number becomes a real
 * (strtod, correctly rounded); strings are checked UTF-8; duplicate keys,
 * "\u0000" and nesting deeper than PARSE_MAX_DEPTH are malformed. Bare
 * NaN / Infinity / inf (any case, signed), which some encoders write, and
 * literals that overflow a double are reported as a 422 naming the field
 * where they sit, from a stack of the containers being parsed.
 */
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

/* ---- numbers ---- */

static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

/* The decimal digits of f > 0 into the end of d (24 bytes); returns their
 * count (they start at d + 24 - count). Two at a time. */
static int to_digits(uint64_t f, char *d)
{
    char *p = d + 24;
    while (f >= 100) {
        unsigned r = (unsigned)(f % 100);
        f /= 100;
        p -= 2;
        memcpy(p, digit_pairs + 2 * r, 2);
    }
    if (f >= 10) {
        p -= 2;
        memcpy(p, digit_pairs + 2 * f, 2);
    } else {
        *--p = (char)('0' + f);
    }
    return (int)(d + 24 - p);
}

/* Write f x 10^e (f > 0, at most 17 digits) the way Python's repr does:
 * trailing zeros dropped; positional for decimal exponents -4..15 (".0" on
 * integers), otherwise d.ddde+XX with at least two exponent digits. */
static size_t render(char *buf, int neg, uint64_t f, int e)
{
    char d[24];
    int nd = to_digits(f, d);
    const char *dig = d + 24 - nd;
    while (dig[nd - 1] == '0') { /* f's trailing zeros */
        nd--;
        e++;
    }
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
        *o++ = 'e';
        *o++ = x < 0 ? '-' : '+';
        unsigned ax = (unsigned)(x < 0 ? -x : x);
        if (ax >= 100) *o++ = (char)('0' + ax / 100);
        memcpy(o, digit_pairs + 2 * (ax % 100), 2);
        o += 2;
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

#define PARSE_MAX_DEPTH 512
#define PATH_KEY_MAX 64 /* longest key kept for an error's field path */

/* Where the parser is inside the tree, for a field path on error. */
typedef struct frame {
    int is_object;
    size_t index;           /* arrays: the item being parsed */
    char key[PATH_KEY_MAX]; /* objects: the member being parsed (cut) */
} frame;

typedef struct parser {
    const char *start, *p, *end;
    err *e;
    int depth;
    frame stack[PARSE_MAX_DEPTH];
    jbuf sbuf; /* a string being decoded */
} parser;

/* 400 bad_json at the current position: "line L column C: why". */
static json_t *syntax_error(parser *ps, const char *why)
{
    int line = 1, col = 1;
    for (const char *q = ps->start; q < ps->p && q < ps->end; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    err_set(ps->e, ERR_BAD_JSON, NULL, "line %d column %d: %s", line, col, why);
    return NULL;
}

/* The field path of the value being parsed: "t[2]", "solver.rtol". */
static void current_path(const parser *ps, char *buf, size_t n)
{
    buf[0] = '\0';
    for (int i = 0; i < ps->depth; i++) {
        char tmp[ERR_FIELD_MAX];
        snprintf(tmp, sizeof tmp, "%s", buf);
        if (ps->stack[i].is_object)
            codec_field(buf, n, tmp, ps->stack[i].key);
        else
            codec_field_index(buf, n, tmp, ps->stack[i].index);
    }
}

/* 422 invalid_argument at the value being parsed. */
static json_t *value_error(parser *ps, const char *token, size_t len, const char *why)
{
    char path[ERR_FIELD_MAX];
    current_path(ps, path, sizeof path);
    err_set(ps->e, ERR_INVALID, path, "must be a finite number, got %.*s (%s)",
            (int)(len < 40 ? len : 40), token, why);
    return NULL;
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\t' || *ps->p == '\r'))
        ps->p++;
}

static int word_char(char c)
{
    return isalnum((unsigned char)c) || c == '+' || c == '-' || c == '.';
}

/* NaN, Infinity, inf (any case, optionally signed): not JSON, but written
 * by some encoders (Python's json.dumps); a 422 with the field. */
static int nonfinite_word(const char *w, size_t n)
{
    if (n && (*w == '-' || *w == '+')) w++, n--;
    return (n == 3 && (strncasecmp(w, "nan", 3) == 0 || strncasecmp(w, "inf", 3) == 0)) ||
           (n == 8 && strncasecmp(w, "infinity", 8) == 0);
}

static json_t *parse_number(parser *ps)
{
    const char *s = ps->p, *q = s;
    if (q < ps->end && *q == '-') q++;
    if (q < ps->end && (*q == 'N' || *q == 'n' || *q == 'I' || *q == 'i')) {
        const char *w = q;
        while (w < ps->end && word_char(*w))
            w++;
        if (nonfinite_word(s, (size_t)(w - s)))
            return value_error(ps, s, (size_t)(w - s), "JSON has no NaN or Infinity");
        return syntax_error(ps, "invalid number");
    }
    if (q < ps->end && *q == '0') {
        q++;
    } else if (q < ps->end && *q >= '1' && *q <= '9') {
        while (q < ps->end && isdigit((unsigned char)*q))
            q++;
    } else {
        return syntax_error(ps, "invalid number");
    }
    if (q < ps->end && *q == '.') {
        if (++q >= ps->end || !isdigit((unsigned char)*q)) {
            ps->p = q;
            return syntax_error(ps, "invalid number: a digit must follow '.'");
        }
        while (q < ps->end && isdigit((unsigned char)*q))
            q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < ps->end && (*q == '+' || *q == '-')) q++;
        if (q >= ps->end || !isdigit((unsigned char)*q)) {
            ps->p = q;
            return syntax_error(ps, "invalid number: a digit must follow the exponent");
        }
        while (q < ps->end && isdigit((unsigned char)*q))
            q++;
    }
    size_t n = (size_t)(q - s);
    char local[64], *text = n < sizeof local ? local : malloc(n + 1);
    if (!text) {
        err_set(ps->e, ERR_NOMEM, NULL, "out of memory parsing the request");
        return NULL;
    }
    memcpy(text, s, n);
    text[n] = '\0';
    double x = strtod(text, NULL); /* the grammar was checked: it reads all of it */
    if (text != local) free(text);
    if (isinf(x)) return value_error(ps, s, n, "too large for a double");
    ps->p = q;
    json_t *v = json_real(x);
    if (!v) err_set(ps->e, ERR_NOMEM, NULL, "out of memory parsing the request");
    return v;
}

static int hex4(const char *h, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = h[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static void put_utf8(jbuf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    } else {
        u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
    }
    jbuf_raw(b, u, n);
}

/* Length of the valid UTF-8 sequence at p (< end), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned cp;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if ((size_t)(end - p) < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0; /* overlong, out of range, or a surrogate */
    return n;
}

/* A string token into ps->sbuf (decoded, NUL-terminated); 0 or -1. */
static int parse_string_raw(parser *ps)
{
    ps->sbuf.len = 0;
    ps->p++; /* the opening quote */
    for (;;) {
        const char *run = ps->p;
        while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' &&
               (unsigned char)*ps->p >= 0x20 && (unsigned char)*ps->p < 0x80)
            ps->p++;
        jbuf_raw(&ps->sbuf, run, (size_t)(ps->p - run));
        if (ps->p >= ps->end) return syntax_error(ps, "unterminated string"), -1;
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            break;
        }
        if (c < 0x20) return syntax_error(ps, "control character in a string"), -1;
        if (c >= 0x80) {
            size_t n = utf8_len((const unsigned char *)ps->p, (const unsigned char *)ps->end);
            if (!n) return syntax_error(ps, "invalid UTF-8 in a string"), -1;
            jbuf_raw(&ps->sbuf, ps->p, n);
            ps->p += n;
            continue;
        }
        /* an escape */
        if (ps->end - ps->p < 2) return syntax_error(ps, "unterminated string"), -1;
        char x = ps->p[1];
        const char *simple = strchr("\"\\/bfnrt", x);
        if (x && simple) {
            static const char out[] = "\"\\/\b\f\n\r\t";
            jbuf_raw(&ps->sbuf, &out[simple - "\"\\/bfnrt"], 1);
            ps->p += 2;
            continue;
        }
        unsigned cp, lo;
        if (x != 'u' || ps->end - ps->p < 6 || hex4(ps->p + 2, &cp) != 0)
            return syntax_error(ps, "invalid escape in a string"), -1;
        ps->p += 6;
        if (cp >= 0xd800 && cp <= 0xdbff) { /* a surrogate pair */
            if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
                hex4(ps->p + 2, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
                return syntax_error(ps, "invalid \\u surrogate pair in a string"), -1;
            ps->p += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            return syntax_error(ps, "invalid \\u surrogate pair in a string"), -1;
        } else if (cp == 0) {
            return syntax_error(ps, "\\u0000 is not allowed in a string"), -1;
        }
        put_utf8(&ps->sbuf, cp);
    }
    jbuf_raw(&ps->sbuf, "", 0); /* make sure the text exists and is NUL-terminated */
    if (ps->sbuf.oom) {
        err_set(ps->e, ERR_NOMEM, NULL, "out of memory parsing the request");
        return -1;
    }
    return 0;
}

static json_t *parse_value(parser *ps);

static json_t *parse_container(parser *ps, int is_object)
{
    if (ps->depth == PARSE_MAX_DEPTH) return syntax_error(ps, "nested too deeply");
    json_t *c = is_object ? json_object() : json_array();
    if (!c) {
        err_set(ps->e, ERR_NOMEM, NULL, "out of memory parsing the request");
        return NULL;
    }
    frame *f = &ps->stack[ps->depth++];
    f->is_object = is_object;
    f->index = 0;
    f->key[0] = '\0';
    const char close = is_object ? '}' : ']';
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return c;
    }
    for (;;) {
        skip_ws(ps);
        if (is_object) {
            if (ps->p >= ps->end || *ps->p != '"') goto bad_key;
            const char *key_at = ps->p;
            if (parse_string_raw(ps) != 0) goto fail;
            const char *key = ps->sbuf.p;
            snprintf(f->key, sizeof f->key, "%s", key);
            if (json_object_get(c, key)) {
                ps->p = key_at;
                char why[PATH_KEY_MAX + 32];
                snprintf(why, sizeof why, "duplicate key \"%s\"", f->key);
                syntax_error(ps, why);
                goto fail;
            }
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                syntax_error(ps, "expected ':' after a key");
                goto fail;
            }
            ps->p++;
            char *k = strdup(key); /* sbuf is reused by the value */
            json_t *v = k ? parse_value(ps) : NULL;
            if (!k) err_set(ps->e, ERR_NOMEM, NULL, "out of memory parsing the request");
            if (!v || json_object_set_new_nocheck(c, k, v) != 0) {
                free(k);
                goto fail;
            }
            free(k);
        } else {
            json_t *v = parse_value(ps);
            if (!v || json_array_append_new(c, v) != 0) goto fail;
            f->index++;
        }
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            break;
        }
        syntax_error(ps, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
        goto fail;
    }
    ps->depth--;
    return c;
bad_key:
    syntax_error(ps, "expected a string (an object key)");
fail:
    json_decref(c);
    return NULL;
}

/* true, false, null; NaN and Infinity named as such; anything else malformed. */
static json_t *parse_word(parser *ps)
{
    const char *w = ps->p;
    while (w < ps->end && word_char(*w))
        w++;
    size_t n = (size_t)(w - ps->p);
    json_t *v = NULL;
    if (n == 4 && memcmp(ps->p, "true", 4) == 0)
        v = json_true();
    else if (n == 5 && memcmp(ps->p, "false", 5) == 0)
        v = json_false();
    else if (n == 4 && memcmp(ps->p, "null", 4) == 0)
        v = json_null();
    else if (nonfinite_word(ps->p, n))
        return value_error(ps, ps->p, n, "JSON has no NaN or Infinity");
    else
        return syntax_error(ps, "invalid literal (expected true, false or null)");
    ps->p = w;
    return v;
}

static json_t *parse_value(parser *ps)
{
    skip_ws(ps);
    if (ps->p >= ps->end) return syntax_error(ps, "unexpected end of the text: expected a value");
    char c = *ps->p;
    if (c == '{' || c == '[') return parse_container(ps, c == '{');
    if (c == '-' || isdigit((unsigned char)c)) return parse_number(ps);
    if (isalpha((unsigned char)c) || c == '+') return parse_word(ps);
    if (c != '"') return syntax_error(ps, "expected a value");
    if (parse_string_raw(ps) != 0) return NULL;
    json_t *s = json_stringn_nocheck(ps->sbuf.p, ps->sbuf.len);
    if (!s) err_set(ps->e, ERR_NOMEM, NULL, "out of memory parsing the request");
    return s;
}

err_code codec_parse(const char *text, size_t len, json_t **out, err *e)
{
    *out = NULL;
    parser *ps = malloc(sizeof *ps);
    if (!ps) return err_set(e, ERR_NOMEM, NULL, "out of memory parsing the request");
    err local;
    err_clear(&local);
    ps->start = ps->p = text;
    ps->end = text + len;
    ps->e = &local;
    ps->depth = 0;
    jbuf_init(&ps->sbuf);
    skip_ws(ps);
    json_t *v = NULL;
    if (ps->p == ps->end) {
        err_set(&local, ERR_BAD_JSON, NULL, "the request body is empty; expected JSON");
    } else if ((v = parse_value(ps)) != NULL) {
        skip_ws(ps);
        if (ps->p != ps->end) {
            syntax_error(ps, "text after the JSON value");
            json_decref(v);
            v = NULL;
        }
    }
    jbuf_free(&ps->sbuf);
    free(ps);
    if (!v)
        return err_set(e, local.code ? local.code : ERR_INTERNAL, local.field, "%s", local.message);
    *out = v;
    return ERR_OK;
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
