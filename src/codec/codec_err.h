/* codec/codec_err.h: the error body every failed request gets,
 *   {"error": {"code": "not_found", "message": "...", "field": "name"}}
 * with "field" only when the error names one (core/err.h). Messages and
 * fields are cut to fixed sizes, possibly inside a multi-byte character
 * of a key the client sent, and a path may hold any byte: the text is
 * made valid UTF-8 here, so the body is always valid JSON.
 *
 * Returns a new jansson tree the caller owns (json_decref), so that a
 * caller may add a key (e.g. a deadline) before writing it; NULL when out
 * of memory. Thread-safe. */
#ifndef ODESERVE_CODEC_CODEC_ERR_H
#define ODESERVE_CODEC_CODEC_ERR_H

#include <jansson.h>

#include "core/err.h"

json_t *codec_err_json(const err *e);

/* The same error in the Open Inference Protocol's form (its routes,
 * codec_oip.h): {"error": "<field>: <message>"}, the message alone when
 * the error names no field. The protocol has no place for the field, and a
 * client needs it. */
json_t *codec_err_oip_json(const err *e);

#endif
