/* codec/codec_parse.c: request bodies to jansson trees. See codec_parse.h.
 *
 * DESIGN. Our own strict parser (RFC 8259) builds the jansson tree, because
 * jansson's lexer is slow on long numbers and a request is mostly numbers.
 * Every number becomes a real (correctly rounded); strings are checked
 * UTF-8 (codec_utf8.h); duplicate keys, "\\u0000" and nesting deeper than
 * PARSE_MAX_DEPTH are malformed (ERR_BAD_JSON with line and column). Bare
 * NaN / Infinity / inf (any case, signed), which some encoders write, and
 * literals that overflow a double are ERR_INVALID naming the field where
 * they sit, from a stack of the containers being parsed; the first problem
 * met is reported.
 *
 * Numbers are read by codec_strtod_scan, in place: strtod's own result, bit
 * for bit, but a request's shortest round-trip numbers (16-17 digits, where
 * glibc takes its multi-precision path) mostly without that path, no
 * NUL-terminated copy made, and the grammar checked in the same pass over
 * the digits (bench/bench_codec measures the numbers and a whole request's
 * parse; docs/benchmarks.md has the figures).
 *
 * Packing (codec_parse_packed): an upload is mostly a few long arrays of
 * numbers, and a jansson node per number (a real of 32 bytes with malloc's
 * header, a slot of the array, a node per row) made the tree several times
 * the body. Under the decoder's keys, such arrays are read into one buffer
 * of doubles by the same number reader, with the same error at the same
 * place; an element that does not fit turns the array back into the very
 * nodes codec_parse makes. docs/benchmarks.md, "Memory per request", has
 * the figures; fuzz_packed holds packed and plain to the same answers.
 */
#include "codec/codec_parse.h"

#include "codec/codec_json.h"
#include "codec/codec_packed.h"
#include "codec/codec_strtod.h"
#include "codec/codec_utf8.h"
#include "codec/jbuf.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool codec_parse_is_json_type(const char *ct)
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
#define PARSE_FRAMES_INLINE 32 /* frames in the parser itself; deeper texts get a heap stack */

/* Where the parser is inside the tree, for a field path on error. */
typedef struct frame {
    int is_object;
    size_t index;           /* arrays: the item being parsed */
    char key[PATH_KEY_MAX]; /* objects: the member being parsed (cut) */
} frame;

typedef struct parser {
    const char *start, *p, *end;
    err *e;
    int depth, cap;
    frame *stack;                     /* cap frames: the inline ones, or PARSE_MAX_DEPTH on the heap */
    frame inline_stack[PARSE_FRAMES_INLINE]; /* a request's depth is a few: no malloc */
    jbuf sbuf;                    /* a string being decoded */
    const char *const *pack_keys; /* NULL: pack nothing */
    size_t pack_min;
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
            codec_json_field(buf, n, tmp, ps->stack[i].key);
        else
            codec_json_field_index(buf, n, tmp, ps->stack[i].index);
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

/* A number token into *out (finite); 0, or -1 with the error set. */
static int read_number(parser *ps, double *out)
{
    const char *s = ps->p, *q = s + (s < ps->end && *s == '-');
    if (q < ps->end && (*q == 'N' || *q == 'n' || *q == 'I' || *q == 'i')) {
        const char *w = q;
        while (w < ps->end && word_char(*w))
            w++;
        if (nonfinite_word(s, (size_t)(w - s)))
            return value_error(ps, s, (size_t)(w - s), "JSON has no NaN or Infinity"), -1;
        return syntax_error(ps, "invalid number"), -1;
    }
    const char *stop;
    double x;
    switch (codec_strtod_scan(s, ps->end, &x, &stop)) {
    case CODEC_STRTOD_OK:
        break;
    case CODEC_STRTOD_BAD_START:
        return syntax_error(ps, "invalid number"), -1;
    case CODEC_STRTOD_BAD_FRACTION:
        ps->p = stop;
        return syntax_error(ps, "invalid number: a digit must follow '.'"), -1;
    case CODEC_STRTOD_BAD_EXPONENT:
        ps->p = stop;
        return syntax_error(ps, "invalid number: a digit must follow the exponent"), -1;
    default:
        err_set(ps->e, ERR_NOMEM, NULL, "out of memory parsing the request");
        return -1;
    }
    const size_t n = (size_t)(stop - s);
    if (isinf(x)) return value_error(ps, s, n, "too large for a double"), -1;
    ps->p = stop;
    *out = x;
    return 0;
}

static json_t *parse_number(parser *ps)
{
    double x;
    if (read_number(ps, &x) != 0) return NULL;
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
            size_t n = codec_utf8_len((const unsigned char *)ps->p, (const unsigned char *)ps->end);
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

/* The key (len bytes) for a field path, cut to PATH_KEY_MAX - 1 bytes at a
 * character boundary (the key is valid UTF-8: it was just decoded); true
 * when it was not cut. */
static bool copy_key(char *dst, const char *key, size_t len)
{
    size_t n = len;
    if (n >= PATH_KEY_MAX) {
        n = PATH_KEY_MAX - 1;
        while (n > 0 && ((unsigned char)key[n] & 0xc0) == 0x80) /* key[n] continues a char */
            n--;
    }
    memcpy(dst, key, n);
    dst[n] = '\0';
    return n == len;
}

/* Room for one more frame: the inline frames moved to a heap stack of
 * PARSE_MAX_DEPTH (frame pointers taken before are stale). 0 or -1. */
static int stack_grow(parser *ps)
{
    if (ps->depth < ps->cap) return 0;
    frame *big = malloc(PARSE_MAX_DEPTH * sizeof *big);
    if (!big) {
        err_set(ps->e, ERR_NOMEM, NULL, "out of memory parsing the request");
        return -1;
    }
    memcpy(big, ps->stack, (size_t)ps->depth * sizeof *big);
    ps->stack = big;
    ps->cap = PARSE_MAX_DEPTH;
    return 0;
}

/* ---- packing (codec_packed.h) ----
 * An array under a pack key collects its numbers and nulls (flat), or its
 * equal-length rows of them, as doubles; the first element that fits
 * neither spills what was collected back into jansson nodes, exactly those
 * the plain parser makes, and the array goes on as usual. */
enum { PACK_OFF, PACK_NONE, PACK_FLAT, PACK_ROWS };

typedef struct pack {
    int mode;
    double *v;         /* CODEC_PACKED_HEAD free, then the values */
    size_t n, cap;     /* doubles used and allocated */
    size_t rows, cols; /* elements (flat: values), and values per row */
} pack;

static int pack_key(const parser *ps)
{
    if (!ps->pack_keys || ps->depth == 0 || !ps->stack[ps->depth - 1].is_object) return 0;
    for (const char *const *k = ps->pack_keys; *k; k++)
        if (strcmp(*k, ps->stack[ps->depth - 1].key) == 0) return 1;
    return 0;
}

static int pack_put(parser *ps, pack *pk, double x)
{
    if (pk->n == pk->cap) {
        /* the first block under glibc's smallbin limit (1008 bytes): a
         * larger request makes malloc consolidate its fastbins first, the
         * jansson nodes freed by the previous request */
        size_t cap = pk->cap ? 2 * pk->cap : 120;
        if (!pk->cap) pk->n = CODEC_PACKED_HEAD; /* room for codec_packed_new_own */
        double *v = cap < ((size_t)-1) / sizeof *v ? realloc(pk->v, cap * sizeof *v) : NULL;
        if (!v) {
            err_set(ps->e, ERR_NOMEM, NULL, "out of memory parsing the request");
            return -1;
        }
        pk->v = v;
        pk->cap = cap;
    }
    pk->v[pk->n++] = x;
    return 0;
}

/* v (a parsed element) into the pack: 1 taken (v released), 0 it does not
 * fit (v kept), -1 out of memory (v released). */
static int pack_absorb(parser *ps, pack *pk, json_t *v)
{
    if (json_is_null(v) && pk->mode != PACK_ROWS) {
        pk->mode = PACK_FLAT;
        pk->rows++;
        return pack_put(ps, pk, codec_packed_null()) == 0 ? 1 : -1;
    }
    if (!json_is_array(v) || pk->mode == PACK_FLAT) return 0;
    size_t k = json_array_size(v);
    if (k == 0 || (pk->mode == PACK_ROWS && k != pk->cols)) return 0;
    for (size_t i = 0; i < k; i++) {
        const json_t *x = json_array_get(v, i);
        if (!json_is_real(x) && !json_is_null(x)) return 0;
    }
    for (size_t i = 0; i < k; i++) {
        const json_t *x = json_array_get(v, i);
        if (pack_put(ps, pk, json_is_null(x) ? codec_packed_null() : json_real_value(x)) != 0) {
            json_decref(v);
            return -1;
        }
    }
    pk->mode = PACK_ROWS;
    pk->cols = k;
    pk->rows++;
    json_decref(v);
    return 1;
}

/* What the pack holds, appended to c as the plain parser's nodes; the
 * pack is off after it. 0, or -1 out of memory. */
static int pack_spill(parser *ps, pack *pk, json_t *c)
{
    codec_packed_view view = {pk->rows, pk->mode == PACK_ROWS ? pk->cols : 0,
                              pk->v ? pk->v + CODEC_PACKED_HEAD : NULL};
    int rc = 0;
    for (size_t i = 0; i < pk->rows && rc == 0; i++)
        if (json_array_append_new(c, codec_packed_item(&view, i)) != 0) rc = -1;
    free(pk->v);
    pk->v = NULL;
    pk->mode = PACK_OFF;
    if (rc) err_set(ps->e, ERR_NOMEM, NULL, "out of memory parsing the request");
    return rc;
}

/* The array's end: a packed node when the pack holds pack_min elements
 * or more, else c with the elements spilled into it. */
static json_t *pack_finish(parser *ps, pack *pk, json_t *c)
{
    if (pk->mode == PACK_OFF) return c;
    if (pk->rows < ps->pack_min || pk->rows == 0) {
        if (pack_spill(ps, pk, c) == 0) return c;
        json_decref(c);
        return NULL;
    }
    json_t *v = codec_packed_new_own(pk->v, pk->rows, pk->mode == PACK_ROWS ? pk->cols : 0);
    pk->v = NULL;
    json_decref(c);
    if (!v) err_set(ps->e, ERR_NOMEM, NULL, "out of memory parsing the request");
    return v;
}

static json_t *parse_container(parser *ps, int is_object)
{
    if (ps->depth == PARSE_MAX_DEPTH) return syntax_error(ps, "nested too deeply");
    if (stack_grow(ps) != 0) return NULL;
    const int level = ps->depth;
    pack pk = {.mode = !is_object && pack_key(ps) ? PACK_NONE : PACK_OFF};
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
            const bool whole = copy_key(f->key, key, ps->sbuf.len);
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
            /* sbuf is reused by the value: the key is f->key, unless cut */
            char *k = whole ? NULL : strdup(key);
            json_t *v = whole || k ? parse_value(ps) : NULL;
            if (!whole && !k) err_set(ps->e, ERR_NOMEM, NULL, "out of memory parsing the request");
            f = &ps->stack[level]; /* the stack may have moved */
            if (!v || json_object_set_new_nocheck(c, whole ? f->key : k, v) != 0) {
                /* v set, the insertion failed: jansson is out of memory (v is freed) */
                if (v) err_set(ps->e, ERR_NOMEM, NULL, "out of memory parsing the request");
                free(k);
                goto fail;
            }
            free(k);
        } else if (pk.mode != PACK_OFF && pk.mode != PACK_ROWS && ps->p < ps->end &&
                   (*ps->p == '-' || isdigit((unsigned char)*ps->p))) {
            double x; /* a number of a flat pack: no node made */
            if (read_number(ps, &x) != 0 || pack_put(ps, &pk, x) != 0) goto fail;
            pk.mode = PACK_FLAT;
            pk.rows++;
            f->index++;
        } else {
            json_t *v = parse_value(ps);
            if (!v) goto fail;
            f = &ps->stack[level]; /* the stack may have moved */
            int taken = pk.mode != PACK_OFF ? pack_absorb(ps, &pk, v) : 0;
            if (taken < 0) goto fail;
            if (!taken) {
                if (pk.mode != PACK_OFF && pack_spill(ps, &pk, c) != 0) {
                    json_decref(v);
                    goto fail;
                }
                if (json_array_append_new(c, v) != 0) { /* out of memory; v is freed */
                    err_set(ps->e, ERR_NOMEM, NULL, "out of memory parsing the request");
                    goto fail;
                }
            }
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
    return pack_finish(ps, &pk, c);
bad_key:
    syntax_error(ps, "expected a string (an object key)");
fail:
    free(pk.v);
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
    return codec_parse_packed(text, len, NULL, 0, out, e);
}

err_code codec_parse_packed(const char *text, size_t len, const char *const *pack_keys,
                            size_t pack_min, json_t **out, err *e)
{
    *out = NULL;
    parser parse, *ps = &parse;
    err local;
    err_clear(&local);
    ps->start = ps->p = text;
    ps->end = text + len;
    ps->e = &local;
    ps->depth = 0;
    ps->cap = PARSE_FRAMES_INLINE;
    ps->stack = ps->inline_stack;
    ps->pack_keys = pack_keys;
    ps->pack_min = pack_min;
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
    if (ps->stack != ps->inline_stack) free(ps->stack);
    if (!v)
        return err_set(e, local.code ? local.code : ERR_INTERNAL, local.field, "%s", local.message);
    *out = v;
    return ERR_OK;
}
