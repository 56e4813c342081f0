/* codec/codec_parse.h: request bodies to jansson trees.
 *
 * Numbers come back as doubles (read by codec_strtod.h). JSON has no NaN
 * or Infinity; writers that emit them anyway (Python's json.dumps, printf's
 * "inf") get ERR_INVALID naming the field where the value sits, rather
 * than a bare ERR_BAD_JSON. Malformed JSON is ERR_BAD_JSON with line and
 * column. Stateless and thread-safe. */
#ifndef ODESERVE_CODEC_CODEC_PARSE_H
#define ODESERVE_CODEC_CODEC_PARSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/* Parse `len` bytes of JSON text. Numbers come back as reals (integers too:
 * JSON_DECODE_INT_AS_REAL), duplicate keys are malformed. Errors:
 *   ERR_BAD_JSON   "line L column C: <why>" (empty text included);
 *   ERR_INVALID    a NaN, Infinity or overflowing number, field = its path.
 * *out is a new reference on success. */
err_code codec_parse(const char *text, size_t len, json_t **out, err *e);

/* As codec_parse, but an array that is the value of a key in `pack_keys`
 * (NULL-terminated; any depth) and holds pack_min elements or more, all
 * numbers and nulls or all equal-length non-empty arrays of them, comes
 * back as one packed node (codec_packed.h) instead of a node per number:
 * the large arrays of an upload cost 8 bytes a number. Errors are exactly
 * codec_parse's; decoders read packed nodes through codec_json.h's
 * packed-aware helpers and answer as for the plain tree. */
err_code codec_parse_packed(const char *text, size_t len, const char *const *pack_keys,
                            size_t pack_min, json_t **out, err *e);

/* The pack_min the daemon uses: below it an array is cheap as it is. */
#define CODEC_PARSE_PACK_MIN 64

/* 1 when `ct` (a Content-Type header value, may be NULL) is
 * application/json, with or without parameters ("; charset=utf-8"). */
bool codec_parse_is_json_type(const char *ct);

#endif
