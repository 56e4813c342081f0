/* tests/codec_num_ref.h: the test oracle for codec_num_write.
 *
 * The number writer as it was before its digits-and-spelling stage was
 * rewritten for speed (git history: src/codec/codec_num.c before the
 * httpfast branch), kept verbatim but for the names: the same Schubfach
 * core, digits by repeated division, spelling by length-dependent copies.
 * It was itself checked against Python's repr and a printf/strtod search
 * (tests/check_codec.c), so codec_num_write must give exactly its text for
 * every double: tests/check_codec.c (millions of random bit patterns and
 * edge cases) and fuzz/fuzz_number.c hold that. Header-only so that the
 * fuzz build (fuzz/fuzz.sh) needs no new object. */
#ifndef ODESERVE_TESTS_CODEC_NUM_REF_H
#define ODESERVE_TESTS_CODEC_NUM_REF_H

#include "codec/codec_pow10.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char ref_digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

/* The decimal digits of f > 0 into the end of d (24 bytes); returns their
 * count (they start at d + 24 - count). Two at a time. */
static int ref_to_digits(uint64_t f, char *d)
{
    char *p = d + 24;
    while (f >= 100) {
        unsigned r = (unsigned)(f % 100);
        f /= 100;
        p -= 2;
        memcpy(p, ref_digit_pairs + 2 * r, 2);
    }
    if (f >= 10) {
        p -= 2;
        memcpy(p, ref_digit_pairs + 2 * f, 2);
    } else {
        *--p = (char)('0' + f);
    }
    return (int)(d + 24 - p);
}

/* Write f x 10^e (f > 0, at most 17 digits) the way Python's repr does:
 * trailing zeros dropped; positional for decimal exponents -4..15 (".0" on
 * integers), otherwise d.ddde+XX with at least two exponent digits. */
static size_t ref_render(char *buf, int neg, uint64_t f, int e)
{
    char d[24];
    int nd = ref_to_digits(f, d);
    const char *dig = d + 24 - nd;
    while (dig[nd - 1] == '0') { /* f's trailing zeros */
        nd--;
        e++;
    }
    int x = e + nd - 1; /* exponent of the first digit */
    char *o = buf;
    if (neg) *o++ = '-';
    if (x < -4 || x >= 16) {
        *o++ = dig[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, dig + 1, (size_t)nd - 1);
            o += nd - 1;
        }
        *o++ = 'e';
        *o++ = x < 0 ? '-' : '+';
        unsigned ax = (unsigned)(x < 0 ? -x : x);
        if (ax >= 100) *o++ = (char)('0' + ax / 100);
        memcpy(o, ref_digit_pairs + 2 * (ax % 100), 2);
        o += 2;
    } else if (x < 0) { /* 0.000ddd */
        memcpy(o, "0.0000", (size_t)(1 - x));
        o += 1 - x;
        memcpy(o, dig, (size_t)nd);
        o += nd;
    } else if (nd <= x + 1) { /* ddd000.0 */
        memcpy(o, dig, (size_t)nd);
        o += nd;
        memset(o, '0', (size_t)(x + 1 - nd));
        o += x + 1 - nd;
        memcpy(o, ".0", 2);
        o += 2;
    } else { /* ddd.ddd */
        memcpy(o, dig, (size_t)x + 1);
        o += x + 1;
        *o++ = '.';
        memcpy(o, dig + x + 1, (size_t)(nd - x - 1));
        o += nd - x - 1;
    }
    *o = '\0';
    return (size_t)(o - buf);
}

/* Subnormals (and zero): the fewest %.*e digits that read back. Slow, rare. */
static size_t ref_fmt_small(char *buf, double v)
{
    char t[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*e", prec - 1, v);
        if (strtod(t, NULL) != v && prec < 17) continue;
        uint64_t f = 0;
        const char *p = t + (t[0] == '-');
        for (; *p && *p != 'e'; p++)
            if (isdigit((unsigned char)*p)) f = f * 10 + (uint64_t)(*p - '0');
        return ref_render(buf, t[0] == '-', f, atoi(p + 1) - (prec - 1));
    }
    return 0; /* not reached */
}

/* Schubfach (R. Giulietti, "The Schubfach way to ref_render doubles", 2020),
 * for normal doubles v = c 2^q. Scaled by 10^-k, the rounding interval
 * [vbl, vbr] (quarter units, computed with 126-bit powers of ten rounded to
 * odd, which keeps every comparison exact) holds a multiple of 10 at most
 * once; if it holds one, that is the shortest decimal (fewer digits are its
 * trailing zeros), else the shortest is s = floor(v 10^-k) or s + 1,
 * whichever is inside, the nearer to v when both are (ties to even). */
static inline uint64_t ref_mul_hi(uint64_t a, uint64_t b)
{
    return (uint64_t)(((unsigned __int128)a * b) >> 64);
}

/* floor(g cp / 2^127), rounded to odd (sticky bit for the dropped bits). */
static inline uint64_t ref_round_odd(uint64_t g1, uint64_t g0, uint64_t cp)
{
    const uint64_t mask63 = (1ull << 63) - 1;
    uint64_t x1 = ref_mul_hi(g0, cp), y0 = g1 * cp, y1 = ref_mul_hi(g1, cp);
    uint64_t z = (y0 >> 1) + x1;
    return (y1 + (z >> 63)) | (((z & mask63) + mask63) >> 63);
}

/* floor(q log10 2), floor(log10(3/4 2^q)), floor(e log2 10) for the ranges
 * a double needs (|q| <= 1100): integer formulas, exact there. Right shifts
 * of negative values are arithmetic (floor) with GCC and Clang. */
static inline int ref_flog10_pow2(int q)
{
    return (int)(((int64_t)q * 661971961083LL) >> 41);
}

static inline int ref_flog10_three_quarters_pow2(int q)
{
    return (int)(((int64_t)q * 661971961083LL - 274743187321LL) >> 41);
}

static inline int ref_flog2_pow10(int e)
{
    return (int)(((int64_t)e * 913124641741LL) >> 38);
}

static size_t ref_fmt_normal(char *buf, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int neg = (int)(bits >> 63), bq = (int)((bits >> 52) & 0x7ff);
    uint64_t t = bits & ((1ull << 52) - 1), c = (1ull << 52) | t;
    int q = bq - 1075, k;
    uint64_t out = c & 1, cb = c << 2, cbr = cb + 2, cbl;
    if (t != 0 || bq == 1) { /* evenly spaced neighbours */
        cbl = cb - 2;
        k = ref_flog10_pow2(q);
    } else { /* a power of two: the neighbour below is half as far */
        cbl = cb - 1;
        k = ref_flog10_three_quarters_pow2(q);
    }
    int h = q + ref_flog2_pow10(-k) + 2;
    const uint64_t *g = codec_pow10_g[-k - CODEC_POW10_E_MIN];
    uint64_t vb = ref_round_odd(g[0], g[1], cb << h), vbl = ref_round_odd(g[0], g[1], cbl << h),
             vbr = ref_round_odd(g[0], g[1], cbr << h);
    uint64_t s = vb >> 2;
    if (s >= 100) {
        uint64_t sp10 = 10 * (s / 10), tp10 = sp10 + 10;
        int upin = vbl + out <= sp10 << 2, wpin = (tp10 << 2) + out <= vbr;
        if (upin != wpin) return ref_render(buf, neg, upin ? sp10 : tp10, k);
    }
    uint64_t t1 = s + 1;
    int uin = vbl + out <= s << 2, win = (t1 << 2) + out <= vbr;
    if (uin != win) return ref_render(buf, neg, uin ? s : t1, k);
    int64_t cmp = (int64_t)(vb - ((s + t1) << 1));
    return ref_render(buf, neg, (cmp < 0 || (cmp == 0 && (s & 1) == 0)) ? s : t1, k);
}

static size_t codec_num_ref_write(char *buf, double x)
{
    if (!isfinite(x)) {
        memcpy(buf, "null", 5);
        return 4;
    }
    if (x == 0) {
        size_t n = signbit(x) ? 4 : 3;
        memcpy(buf, signbit(x) ? "-0.0" : "0.0", n + 1);
        return n;
    }
    return fabs(x) < DBL_MIN ? ref_fmt_small(buf, x) : ref_fmt_normal(buf, x);
}

#endif
