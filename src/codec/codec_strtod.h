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

/* What codec_strtod_scan returns. */
enum {
    CODEC_STRTOD_NOMEM = -1,       /* out of memory (as codec_strtod's -1) */
    CODEC_STRTOD_OK = 0,           /* *out holds the number */
    CODEC_STRTOD_BAD_START = 1,    /* no digit after the optional '-' */
    CODEC_STRTOD_BAD_FRACTION = 2, /* no digit after '.' */
    CODEC_STRTOD_BAD_EXPONENT = 3, /* no digit after 'e' / 'E' and its sign */
};

/* codec_strtod of the longest prefix of s[0 .. end) that RFC 8259's number
 * grammar accepts, checked and read in one pass (a parser need not find
 * the token's end first). On CODEC_STRTOD_OK or _NOMEM *stop is the first
 * byte after the token; on CODEC_STRTOD_BAD_* it is where the grammar
 * failed (the byte that should have been a digit, or end) and *out is not
 * set. A token whose integer part is "0" ends there: "01" reads as 0 with
 * *stop at '1', as the grammar wants. */
int codec_strtod_scan(const char *s, const char *end, double *out, const char **stop);

#endif
