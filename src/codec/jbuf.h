/* codec/jbuf.h: a growing text buffer with JSON writers.
 *
 * Every reply the daemon sends is written into a jbuf: straight, without a
 * json_t tree, on the trajectory hot path (codec_request.h, codec_cde.h),
 * or from a jansson tree (jbuf_json). Strings are escaped, and every number
 * goes through codec_num.h's codec_num_write, the one number writer (the
 * shortest round-trip form).
 *
 * Ownership: a jbuf owns its text until jbuf_take hands it over. Not
 * thread-safe: a jbuf belongs to one thread. */
#ifndef ODESERVE_CODEC_JBUF_H
#define ODESERVE_CODEC_JBUF_H

#include <jansson.h>
#include <stddef.h>

#include "codec/codec_num.h"

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
void jbuf_double(jbuf *b, double x);   /* codec_num_write */
void jbuf_int(jbuf *b, long long v);
/* [v0,v1,...]: n numbers as jbuf_double writes them (codec_num_write_list). */
void jbuf_vec(jbuf *b, const double *v, size_t n);
/* [[..],[..],...]: n rows of dim numbers each, row-major in y. */
void jbuf_rows(jbuf *b, const double *y, size_t n, size_t dim);
/* The same, a row whose first value is NaN written as null (a trajectory's
 * rows past a terminal event). */
void jbuf_rows_or_null(jbuf *b, const double *y, size_t n, size_t dim);
/* Any jansson value; reals through codec_num_write, object keys in
 * insertion order. */
void jbuf_json(jbuf *b, const json_t *v);
/* Pre-allocate room for n more bytes (an estimate; writes still grow). */
void jbuf_reserve(jbuf *b, size_t n);
/* Hand over the text (malloc'd, *len bytes without the NUL), or NULL after
 * an allocation failure. The jbuf is empty afterwards. */
char *jbuf_take(jbuf *b, size_t *len);

#endif
