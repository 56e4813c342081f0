/* codec/codec_num.h: the number writer of the API.
 *
 * Every double the API writes (trajectories, model exports, error details)
 * goes through codec_num_write: the shortest decimal that strtod reads
 * back to the same double, spelled as Python's repr spells it. So a client
 * (or our own decoder) gets every bit back, and a model exported,
 * re-uploaded and exported again is the same text. Stateless, thread-safe. */
#ifndef ODESERVE_CODEC_CODEC_NUM_H
#define ODESERVE_CODEC_CODEC_NUM_H

#include <stddef.h>

#define CODEC_NUM_MAX 32 /* longest text codec_num_write writes, with the NUL */

/* Write x into buf (>= CODEC_NUM_MAX bytes); returns the length. The
 * shortest round-trip digits (the nearest such when several), positional
 * for decimal exponents -4..15 and "1.5e-07" / "1e+16" beyond; integral
 * values keep a ".0" ("2.0"), so every reader sees a real; -0.0 is "-0.0".
 * Non-finite values (never produced by a successful solve) are "null". */
size_t codec_num_write(char *buf, double x);

/* v[0],v[1],...: n numbers as codec_num_write writes them, joined by
 * commas, at o (room for n * (CODEC_NUM_MAX + 1) bytes); returns the end
 * of the text, which is not NUL-terminated. */
char *codec_num_write_list(char *o, const double *v, size_t n);

#endif
