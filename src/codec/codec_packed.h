/* codec/codec_packed.h: large numeric arrays of a parsed request, packed.
 *
 * codec_parse_packed (codec_parse.h) returns the arrays of numbers under
 * chosen keys (a dataset's "t" and "y", a layer's "weight" and "bias") as
 * one jansson node each that holds the doubles contiguously, instead of a
 * node per number and per row: 8 bytes a number rather than about 40
 * (docs/benchmarks.md, "Memory per request"). A packed array is either flat
 * (numbers and nulls) or rows (an array of equal-length non-empty arrays of
 * numbers and nulls). The node is a jansson string whose bytes no parsed
 * string can have (it starts with a NUL), so it travels in the tree and is
 * freed with it; read it only through these functions and the packed-aware
 * helpers of codec_json.h, which answer exactly as for the unpacked array.
 *
 * Stateless and thread-safe; a packed node is immutable once made. */
#ifndef ODESERVE_CODEC_CODEC_PACKED_H
#define ODESERVE_CODEC_CODEC_PACKED_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/* A packed array's shape and values (borrowed from the node). Flat:
 * cols = 0 and n = rows values; rows: rows x cols values, row-major.
 * A null element is a NaN (parsed numbers are finite). */
typedef struct codec_packed_view {
    size_t rows, cols;
    const double *v;
} codec_packed_view;

/* Doubles a buffer keeps free at its front for codec_packed_new_own. */
#define CODEC_PACKED_HEAD 3

/* A new node of the values in buf after its CODEC_PACKED_HEAD free doubles:
 * rows values (cols = 0) or rows * cols. buf (from malloc) is released, on
 * failure too: the values are copied once, into the node. NULL when out of
 * memory. */
json_t *codec_packed_new_own(double *buf, size_t rows, size_t cols);

/* true, with *out filled, when v is a packed node. */
bool codec_packed_get(const json_t *v, codec_packed_view *out);

/* Element i of a packed node as the parser would have built it (a real,
 * null, or for rows an array of them): a new reference; NULL when out of
 * memory or i is past the end. */
json_t *codec_packed_item(const codec_packed_view *p, size_t i);

/* Replace every packed node inside `tree` (any depth) by the plain array it
 * stands for, as codec_parse would have built it: for a decoder that reads
 * jansson arrays itself. ERR_NOMEM when out of memory (the tree is then
 * valid, partly expanded). */
err_code codec_packed_unpack(json_t *tree, err *e);

/* The value that stands for a JSON null in a packed array. */
double codec_packed_null(void);
bool codec_packed_is_null(double x);

#endif
