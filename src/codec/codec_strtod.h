/* codec/codec_strtod.h: the number reader of the API.
 *
 * codec_parse turns every JSON number into a double through codec_strtod:
 * the same double glibc's strtod gives (the nearest, ties to even), most
 * of them without strtod's multi-precision arithmetic, and read from the
 * request text in place (no NUL-terminated copy). Stateless, thread-safe. */
#ifndef ODESERVE_CODEC_CODEC_STRTOD_H
#define ODESERVE_CODEC_CODEC_STRTOD_H

#include <stddef.h>

/* The double the JSON number token s[0 .. len) stands for: s must match
 * RFC 8259's number grammar (-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?)
 * exactly, and need not be NUL-terminated. Beyond DBL_MAX (after rounding)
 * *out is +-inf, which the caller reports; below half the smallest
 * subnormal, +-0; "-0" is -0.0. Returns 0, or -1 when out of memory (only
 * a token of 64 bytes or more that the fast paths cannot decide is copied
 * for strtod). */
int codec_strtod(const char *s, size_t len, double *out);

#endif
