/* codec/codec_strtod.c: JSON number tokens to doubles. See codec_strtod.h.
 *
 * DESIGN. A token is first read into w * 10^q, with w the first 19
 * significant digits (any 19-digit integer fits in 64 bits) and a flag for
 * a nonzero digit dropped after them, its grammar checked in the same pass
 * (codec_strtod_scan: a parser need not find the token's end first). Then, cheapest first:
 *   1. Clinger's fast path (W. D. Clinger, "How to read floating point
 *      numbers accurately", PLDI 1990): w <= 2^53 and |q| <= 22 make w and
 *      10^|q| exact doubles, so one IEEE multiply or divide rounds the
 *      exact value once, correctly.
 *   2. The Eisel-Lemire algorithm (D. Lemire, "Number Parsing at a
 *      Gigabyte per Second", Software: Practice and Experience 51(8), 2021;
 *      N. Tao's description for Go's strconv): w times a 128-bit
 *      approximation of 5^q (codec_pow5.h) gives the top bits of the exact
 *      product; unless the bits below the rounding position are all ones
 *      (the approximation's error could carry into them) those bits round
 *      correctly, with exact ties recognised where they can occur
 *      (q in [-4, 23]). Subnormals, 0 and inf come out of the same
 *      arithmetic. With digits dropped, the value lies strictly between
 *      w * 10^q and (w + 1) * 10^q: when both round to the same double,
 *      that is the answer.
 *   3. Otherwise, glibc's strtod on a NUL-terminated copy: it decides
 *      with exact arithmetic. Rare: none of 2 * 10^6 random 16- and
 *      17-digit tokens needed it; mantissas of 20 digits and more close to
 *      a rounding boundary (the halfway cases of the tests) do.
 * Paths 1 and 2 assume round-to-nearest, the default, which nothing in the
 * daemon changes (strtod would follow another mode), and path 1 IEEE double
 * evaluation (FLT_EVAL_METHOD 0, x86-64's SSE2; elsewhere it is compiled
 * out). */
#include "codec/codec_strtod.h"

#include "codec/codec_pow5.h"

#include <float.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DIGITS 19
#define EXP_CAP 1000000000000000LL /* saturate a longer exponent: no token is 10^15 bytes */
#define INF_BITS 0x7ff0000000000000ull

typedef struct decimal {
    uint64_t w;     /* the first MAX_DIGITS significant digits */
    int64_t q;      /* the value is w * 10^q, or just above it if truncated */
    bool neg;       /* a leading '-' */
    bool truncated; /* a nonzero digit after the first MAX_DIGITS was dropped */
} decimal;

/* Eight ASCII digits, the first the most significant, as a number: digit
 * pairs, then pairs of pairs, then the two halves (SWAR: each step one
 * multiply on all lanes; no lane overflows into the next). Little-endian. */
static inline uint64_t eight_digits(uint64_t x)
{
    x -= 0x3030303030303030ull;
    x = (x * 10 + (x >> 8)) & 0x00ff00ff00ff00ffull;   /* 16-bit lanes: 0..99 */
    x = (x * 100 + (x >> 16)) & 0x0000ffff0000ffffull; /* 32-bit lanes: 0..9999 */
    return (x * 10000 + (x >> 32)) & 0xffffffffull;    /* 0..99999999 */
}

/* Every byte in '0'..'9': b - 0x30 and b + 0x46 both stay below 0x80 (a
 * borrow or carry between lanes comes only from a byte already out). */
static inline bool all_digits(uint64_t x)
{
    uint64_t under = x - 0x3030303030303030ull, over = x + 0x4646464646464646ull;
    return ((under | over) & 0x8080808080808080ull) == 0;
}

/* The digits at p into *w (w * 10 + digit, wrapping past 2^64: the caller
 * counts digits); returns the first non-digit. */
static inline const char *read_digits(const char *p, const char *end, uint64_t *w)
{
    uint64_t v = *w, x;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (end - p >= 8 && (memcpy(&x, p, 8), all_digits(x))) {
        v = v * 100000000 + eight_digits(x);
        p += 8;
    }
#else
    (void)x;
#endif
    for (; p < end && (unsigned char)(*p - '0') <= 9; p++)
        v = v * 10 + (uint64_t)(*p - '0');
    *w = v;
    return p;
}

/* More than MAX_DIGITS significant digits (rare): the first MAX_DIGITS,
 * whether a nonzero one follows, and the power of ten of the last kept. */
static void read_long_mantissa(const char *p, const char *end, decimal *d)
{
    uint64_t w = 0;
    int64_t q = 0;
    int nd = 0; /* significant digits kept: leading zeros are not */
    bool frac = false, truncated = false;
    for (; p < end; p++) {
        unsigned c = (unsigned)((unsigned char)*p - '0');
        if (c > 9) {
            if (*p != '.') break;
            frac = true;
            continue;
        }
        if (nd < MAX_DIGITS) {
            w = w * 10 + c;
            nd += w != 0;
            q -= frac;
        } else {
            truncated |= c != 0;
            q += !frac;
        }
    }
    d->w = w;
    d->q = q;
    d->truncated = truncated;
}

/* Reads the number at s into d in one pass, checking RFC 8259's grammar as
 * it goes; *stop is the first byte after the token, or where it is
 * malformed. Returns CODEC_STRTOD_OK or a CODEC_STRTOD_BAD_* code. */
static int scan_decimal(const char *s, const char *end, decimal *d, const char **stop)
{
    const char *p = s;
    uint64_t w = 0;
    d->neg = p < end && *p == '-';
    p += d->neg;
    const char *digits = p;
    if (p < end && *p == '0') {
        p++; /* a leading 0 is the whole integer part */
    } else if (p < end && (unsigned char)(*p - '1') <= 8) {
        p = read_digits(p, end, &w);
    } else {
        *stop = p;
        return CODEC_STRTOD_BAD_START;
    }
    int64_t nd = p - digits, q = 0;
    if (p < end && *p == '.') {
        const char *frac = ++p;
        p = read_digits(p, end, &w);
        if (p == frac) {
            *stop = p;
            return CODEC_STRTOD_BAD_FRACTION;
        }
        q = -(p - frac);
        nd += p - frac;
    }
    d->w = w;
    d->q = q;
    d->truncated = false;
    if (nd > MAX_DIGITS) { /* w may have wrapped, unless most are leading zeros */
        const char *z = digits;
        while (z < p && (*z == '0' || *z == '.'))
            z++;
        if (p - z - (memchr(z, '.', (size_t)(p - z)) != NULL) > MAX_DIGITS)
            read_long_mantissa(digits, p, d);
    }
    if (p < end && (*p | 0x20) == 'e') { /* 'e' or 'E' */
        p++;
        bool eneg = p < end && *p == '-';
        p += p < end && (*p == '-' || *p == '+');
        if (p == end || (unsigned char)(*p - '0') > 9) {
            *stop = p;
            return CODEC_STRTOD_BAD_EXPONENT;
        }
        int64_t e = 0;
        for (; p < end && (unsigned char)(*p - '0') <= 9; p++)
            if (e < EXP_CAP) e = e * 10 + (*p - '0');
        d->q += eneg ? -e : e;
    }
    *stop = p;
    return CODEC_STRTOD_OK;
}

static bool clinger(uint64_t w, int64_t q, double *x)
{
#if FLT_EVAL_METHOD == 0
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (w > (1ull << 53) || q < -22 || q > 22) return false;
    *x = q < 0 ? (double)w / pow10[-q] : (double)w * pow10[q];
    return true;
#else
    (void)w, (void)q, (void)x;
    return false;
#endif
}

static inline void mul_64x64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo)
{
    unsigned __int128 p = (unsigned __int128)a * b;
    *hi = (uint64_t)(p >> 64);
    *lo = (uint64_t)p;
}

/* The bits of the double nearest w * 10^q (w > 0, no sign), or false when
 * the 128-bit product cannot decide. */
static bool eisel_lemire(uint64_t w, int64_t q, uint64_t *bits)
{
    if (q < CODEC_POW5_Q_MIN) return *bits = 0, true; /* < 2^64 * 10^-343: below 2^-1075 */
    if (q > CODEC_POW5_Q_MAX) return *bits = INF_BITS, true;
    int lz = __builtin_clzll(w);
    w <<= lz;
    const uint64_t *t = codec_pow5[q - CODEC_POW5_Q_MIN];
    uint64_t hi, lo;
    mul_64x64(w, t[0], &hi, &lo);
    /* 54 bits are kept (53 and the rounding bit) of the 127 or 128 the
     * product has: the 9 bits under them all ones could take a carry from
     * w * t[1]: add its high half. */
    if ((hi & 0x1ff) == 0x1ff) {
        uint64_t h2, l2;
        mul_64x64(w, t[1], &h2, &l2);
        lo += h2;
        hi += lo < h2;
    }
    /* Still all ones: the dropped 64 x 64 bits might carry. Where 5^q is
     * exact in 128 bits ([0, 55]) or rounded up ([-27, -1]) they cannot
     * change the rounding (Lemire, sections 8 and 9.1). */
    if (lo == UINT64_MAX && (q < -27 || q > 55)) return false;
    int top = (int)(hi >> 63), shift = top + 9;
    uint64_t m = hi >> shift; /* 54 bits */
    /* the biased exponent: floor(log2(10^q)) (gen_pow5.py checks the
     * formula) plus the bits of the product above m's point */
    int64_t e2 = ((q * 217706) >> 16) + 63 + top - lz + 1023;
    if (e2 <= 0) { /* subnormal (or 0): keep fewer bits; ties cannot occur here */
        if (1 - e2 >= 64) return *bits = 0, true;
        m >>= 1 - e2;
        m = (m + (m & 1)) >> 1;
        *bits = m; /* rounding up to 2^52 is DBL_MIN's bits, as it should */
        return true;
    }
    /* An exact tie (the rounding bit set, nothing below it) rounds to even:
     * possible only for q in [-4, 23], where lo is 0 (5^q exact) or 1
     * (5^q rounded up). */
    if (lo <= 1 && q >= -4 && q <= 23 && (m & 3) == 1 && (m << shift) == hi) m &= ~1ull;
    m = (m + (m & 1)) >> 1;
    if (m >> 53) { /* rounded up to the next binade */
        m = 1ull << 52;
        e2++;
    }
    if (e2 >= 0x7ff) return *bits = INF_BITS, true;
    *bits = (uint64_t)e2 << 52 | (m & ((1ull << 52) - 1));
    return true;
}

static int slow_strtod(const char *s, size_t len, double *out)
{
    char local[64], *text = len < sizeof local ? local : malloc(len + 1);
    if (!text) return -1;
    memcpy(text, s, len);
    text[len] = '\0';
    *out = strtod(text, NULL); /* the grammar was checked: it reads all of it */
    if (text != local) free(text);
    return 0;
}

int codec_strtod_scan(const char *s, const char *end, double *out, const char **stop)
{
    decimal d;
    int rc = scan_decimal(s, end, &d, stop);
    if (rc != CODEC_STRTOD_OK) return rc;
    const size_t len = (size_t)(*stop - s);
    uint64_t bits, bits_up;
    double x;
    if (d.w == 0) {
        *out = d.neg ? -0.0 : 0.0;
        return 0;
    }
    if (!d.truncated) {
        if (clinger(d.w, d.q, &x)) {
            *out = d.neg ? -x : x;
            return 0;
        }
        if (!eisel_lemire(d.w, d.q, &bits)) return slow_strtod(s, len, out);
    } else if (!eisel_lemire(d.w, d.q, &bits) || !eisel_lemire(d.w + 1, d.q, &bits_up) ||
               bits != bits_up) {
        return slow_strtod(s, len, out);
    }
    bits |= (uint64_t)d.neg << 63;
    memcpy(out, &bits, sizeof *out);
    return 0;
}

int codec_strtod(const char *s, size_t len, double *out)
{
    const char *stop;
    /* a well-formed token is read to its end, so only -1 (out of memory) is possible */
    return codec_strtod_scan(s, s + len, out, &stop) == CODEC_STRTOD_NOMEM ? -1 : 0;
}
