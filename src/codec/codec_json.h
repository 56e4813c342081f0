/* codec/codec_json.h: JSON text in and out for the API codecs.
 *
 *   - jbuf: a growing text buffer with JSON writers (strings escaped,
 *     numbers through codec_num.h's codec_fmt_double, the one number writer
 *     of the API; any jansson value), for replies built without a json_t
 *     tree (the trajectory hot path) or from one;
 *   - codec_parse (codec_parse.c): the request body to a json_t, numbers as
 *     doubles. JSON has no NaN or Infinity; writers that emit them anyway
 *     (Python's json.dumps, printf's "inf") get 422 invalid_argument naming
 *     the field where the value sits, rather than a bare 400 bad_json.
 *     Malformed JSON is 400 bad_json with line and column;
 *   - field-path helpers for decoders: typed getters that fill an err with
 *     the offending field ("y0[1]", "solver.rtol") and why.
 *
 * Stateless and thread-safe; a jbuf belongs to one thread. */
#ifndef ODESERVE_CODEC_CODEC_JSON_H
#define ODESERVE_CODEC_CODEC_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "codec/codec_num.h"

/* ---- text buffer ---- */

typedef struct jbuf {
    char *p; /* NUL-terminated text (NULL until the first write) */
    size_t len, cap;
    int oom; /* an allocation failed: the text is incomplete, jbuf_take returns NULL */
} jbuf;

void jbuf_init(jbuf *b);
void jbuf_free(jbuf *b); /* frees the text; the jbuf may be reused after jbuf_init */
void jbuf_raw(jbuf *b, const char *s, size_t n);
void jbuf_lit(jbuf *b, const char *s); /* raw NUL-terminated text, e.g. "{\"y\":[" */
void jbuf_str(jbuf *b, const char *s); /* a JSON string, quoted and escaped */
void jbuf_double(jbuf *b, double x);   /* codec_fmt_double */
void jbuf_int(jbuf *b, long long v);
/* [v0,v1,...]: n numbers through jbuf_double. */
void jbuf_vec(jbuf *b, const double *v, size_t n);
/* [[..],[..],...]: n rows of dim numbers each, row-major in y. */
void jbuf_rows(jbuf *b, const double *y, size_t n, size_t dim);
/* Any jansson value; reals through codec_fmt_double, object keys in
 * insertion order. */
void jbuf_json(jbuf *b, const json_t *v);
/* Pre-allocate room for n more bytes (an estimate; writes still grow). */
void jbuf_reserve(jbuf *b, size_t n);
/* Hand over the text (malloc'd, *len bytes without the NUL), or NULL after
 * an allocation failure. The jbuf is empty afterwards. */
char *jbuf_take(jbuf *b, size_t *len);

/* ---- parsing ---- */

/* Parse `len` bytes of JSON text. Numbers come back as reals (integers too:
 * JSON_DECODE_INT_AS_REAL), duplicate keys are malformed. Errors:
 *   ERR_BAD_JSON   "line L column C: <why>" (empty text included);
 *   ERR_INVALID    a NaN, Infinity or overflowing number, field = its path.
 * *out is a new reference on success. */
err_code codec_parse(const char *text, size_t len, json_t **out, err *e);

/* 1 when `ct` (a Content-Type header value, may be NULL) is
 * application/json, with or without parameters ("; charset=utf-8"). */
bool codec_is_json_type(const char *ct);

/* ---- typed getters for decoders ----
 * Each checks the type (and range), and on failure sets ERR_INVALID with
 * `field` and a message saying what was expected and what came. */

/* A finite number (JSON integers included). */
err_code codec_get_double(const json_t *v, const char *field, double *out, err *e);
/* An integral number in [lo, hi]. */
err_code codec_get_long(const json_t *v, const char *field, long lo, long hi, long *out, err *e);
/* An integral number in [lo, hi] as a size_t. */
err_code codec_get_size(const json_t *v, const char *field, size_t lo, size_t hi, size_t *out,
                        err *e);
err_code codec_get_bool(const json_t *v, const char *field, bool *out, err *e);
/* A string; the pointer is borrowed from v. */
err_code codec_get_string(const json_t *v, const char *field, const char **out, err *e);
/* An array of exactly n finite numbers into out (n doubles). A wrong
 * length names `field`; a bad element names field[i]. */
err_code codec_get_vector(const json_t *v, const char *field, size_t n, double *out, err *e);

/* `obj` must be an object whose keys are all in `allowed` (NULL-terminated).
 * An unknown key is ERR_INVALID with field "<field>.<key>" (or "<key>" for
 * the top level, field = "") and the list of known keys. */
err_code codec_check_keys(const json_t *obj, const char *field, const char *const *allowed, err *e);

/* "a" + "b" -> "a.b"; "" + "b" -> "b"; "a" + "[3]" -> "a[3]"; the empty key
 * "a" + "" -> "a[\"\"]" (top level: "[\"\"]"). Writes into
 * buf (n bytes), truncating; returns buf. */
const char *codec_field(char *buf, size_t n, const char *parent, const char *child);
/* "a" + 3 -> "a[3]". */
const char *codec_field_index(char *buf, size_t n, const char *parent, size_t i);

/* The JSON type of v as a word for messages: "a string", "an array", ... */
const char *codec_type_name(const json_t *v);

#endif
