/* codec/codec_json.h: the decoders' helpers for jansson trees.
 *
 * Typed getters that check a value and, when it is wrong, fill an err with
 * the offending field as the document spells it ("y0[1]", "solver.rtol")
 * and why; the field-path builders they use; the check for unknown keys.
 * Packed arrays (codec_packed.h) read as the arrays they stand for.
 * The parser is codec_parse.h, the writer jbuf.h.
 *
 * Stateless and thread-safe. */
#ifndef ODESERVE_CODEC_CODEC_JSON_H
#define ODESERVE_CODEC_CODEC_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/* ---- typed getters for decoders ----
 * Each checks the type (and range), and on failure sets ERR_INVALID with
 * `field` and a message saying what was expected and what came. */

/* A finite number (JSON integers included). */
err_code codec_json_get_double(const json_t *v, const char *field, double *out, err *e);
/* An integral number in [lo, hi]. */
err_code codec_json_get_long(const json_t *v, const char *field, long lo, long hi, long *out,
                             err *e);
/* An integral number in [lo, hi] as a size_t. */
err_code codec_json_get_size(const json_t *v, const char *field, size_t lo, size_t hi, size_t *out,
                             err *e);
err_code codec_json_get_bool(const json_t *v, const char *field, bool *out, err *e);
/* A string; the pointer is borrowed from v. */
err_code codec_json_get_string(const json_t *v, const char *field, const char **out, err *e);
/* An array of exactly n finite numbers into out (n doubles). A wrong
 * length names `field`; a bad element names field[i]. */
err_code codec_json_get_vector(const json_t *v, const char *field, size_t n, double *out, err *e);

/* ---- arrays, packed or not (codec_packed.h) ----
 * A decoder reads an array that codec_parse_packed may have packed through
 * these, and codec_json_get_vector, and answers as for the plain array. */
bool codec_json_is_array(const json_t *v);
size_t codec_json_array_size(const json_t *v);
/* Element i: a NEW reference (release it with json_decref), made on the
 * spot for a packed array; NULL past the end or out of memory. */
json_t *codec_json_array_item(const json_t *v, size_t i);

/* `obj` must be an object whose keys are all in `allowed` (NULL-terminated).
 * An unknown key is ERR_INVALID with field "<field>.<key>" (or "<key>" for
 * the top level, field = "") and the list of known keys. */
err_code codec_json_keys_check(const json_t *obj, const char *field, const char *const *allowed,
                               err *e);

/* "a" + "b" -> "a.b"; "" + "b" -> "b"; "a" + "[3]" -> "a[3]"; the empty key
 * "a" + "" -> "a[\"\"]" (top level: "[\"\"]"). Writes into
 * buf (n bytes), truncating; returns buf. */
const char *codec_json_field(char *buf, size_t n, const char *parent, const char *child);
/* "a" + 3 -> "a[3]". */
const char *codec_json_field_index(char *buf, size_t n, const char *parent, size_t i);

/* The JSON type of v as a word for messages: "a string", "an array", ... */
const char *codec_json_type_name(const json_t *v);

#endif
