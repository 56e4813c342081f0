/* codec/codec_utf8.h: the UTF-8 validator (RFC 3629).
 *
 * One definition of valid UTF-8 for the parser (strings in a request body)
 * and for whatever must turn arbitrary bytes into a JSON string (error
 * messages quoting a client's key or path). Stateless, thread-safe. */
#ifndef ODESERVE_CODEC_CODEC_UTF8_H
#define ODESERVE_CODEC_CODEC_UTF8_H

#include <stddef.h>

/* Length (1 to 4) of the valid UTF-8 sequence at p, which has bytes up to
 * end (p < end), or 0: a byte that cannot start a sequence, a sequence cut
 * short by end or by a non-continuation byte, overlong forms, surrogates
 * and code points past U+10FFFF are invalid. */
size_t codec_utf8_len(const unsigned char *p, const unsigned char *end);

#endif
