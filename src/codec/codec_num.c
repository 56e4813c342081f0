/* codec/codec_num.c: the number writer. See codec_num.h.
 *
 * DESIGN. The shortest decimal that reads back to the double, the nearest
 * one when several are as short, spelled as Python's repr spells it (so a
 * document written by json.dump comes back as the same text). Normal
 * doubles go through Schubfach (fmt_normal: a fixed amount of 128-bit
 * arithmetic, where a printf round-trip search takes many times as long,
 * and a trajectory reply is mostly numbers); subnormals through a %.*e
 * search. Both hand render 16 or 17 digits, which it turns into text with
 * word-wide arithmetic and fixed-size stores (costs: bench/bench_codec,
 * docs/benchmarks.md). Tested against Python's repr
 * (tests/fixtures/shortest_doubles.txt), a brute-force printf/strtod
 * search, and the previous writer kept as an oracle (tests/codec_num_ref.h)
 * on millions of doubles (tests/check_codec.c, fuzz/fuzz_number.c).
 */
#include "codec/codec_num.h"

#include "codec/codec_pow10.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

/* The 8 decimal digits of x < 10^8, zero-padded, as the bytes of a word
 * (first digit in the lowest byte, so a little-endian store spells them),
 * still without '0' added: SWAR, each step dividing every lane at once by
 * a multiply and shift that is exact for the lane's range (x / 100 for
 * x < 10^4, x / 10 for x < 100; tests/check_codec runs every lane value). */
static inline uint64_t digits8(uint32_t x)
{
    uint64_t v = (x / 10000) | ((uint64_t)(x % 10000) << 32);
    uint64_t q = ((v * 10486) >> 20) & 0x0000007f0000007full;
    v = q | ((v - q * 100) << 16);
    q = ((v * 103) >> 10) & 0x000f000f000f000full;
    return q | ((v - q * 10) << 8);
}

/* Store the 8 bytes of w at p, lowest byte first. */
static inline void put8(char *p, uint64_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    memcpy(p, &w, 8);
}

/* Bytes p .. p + 8 of the text held in w[0..3) (lowest byte first),
 * 0 <= p <= 16. Shifted out of registers, not reloaded from memory: a
 * load spanning the smaller stores that just wrote the digits would stall
 * until they retire. */
static inline uint64_t bytes_at(const uint64_t *w, int p)
{
    int i = p >> 3, r = (p & 7) * 8;
    return r ? (w[i] >> r) | (w[i + 1] << (64 - r)) : w[i];
}

/* Write f x 10^e, 10^15 <= f < 10^17 (what both writers below hand over),
 * the way Python's repr does: trailing zeros dropped; positional for
 * decimal exponents -4..15 (".0" on integers), otherwise d.ddde+XX with at
 * least two exponent digits. The digits move in 8-byte blocks, no loop or
 * copy of data-dependent length; every write stays inside the
 * CODEC_NUM_MAX bytes of buf, and the text ends at its NUL. */
static size_t render(char *buf, int neg, uint64_t f, int e)
{
    uint64_t hi = f / 100000000;
    uint32_t top = (uint32_t)(hi / 100000000);
    uint64_t mid = digits8((uint32_t)(hi % 100000000)), lo = digits8((uint32_t)(f % 100000000));
    int nd = 17 - (top == 0); /* f >= 10^15: mid's first digit is not 0 when top is */
    int x = e + nd - 1;       /* exponent of the first digit */
    /* trailing zero digits: the zero bytes at the top of the last nonzero word */
    nd -= lo ? __builtin_clzll(lo) / 8 : 8 + (mid ? __builtin_clzll(mid) / 8 : 8);
    const uint64_t zeros = 0x3030303030303030ull;
    mid |= zeros, lo |= zeros;
    /* the 16 or 17 digits, then '0's: all 17 with top's first, shifted by
     * a byte when top is 0 (no branch on the digit count: it is random) */
    int sh = 8 * (top == 0);
    uint64_t t0 = ('0' + top) | (mid << 8), t1 = (mid >> 56) | (lo << 8),
             t2 = (lo >> 56) | (zeros << 8);
    uint64_t w[3] = {(t0 >> sh) | ((t1 << (63 - sh)) << 1), (t1 >> sh) | ((t2 << (63 - sh)) << 1),
                     (t2 >> sh) | (zeros << (63 - sh) << 1)};
    char *o = buf;
    *o = '-';
    o += neg;
    if (x < -4 || x >= 16) {
        o[0] = (char)w[0];
        o[1] = '.';
        put8(o + 2, bytes_at(w, 1));
        put8(o + 10, bytes_at(w, 9));
        o += nd > 1 ? nd + 1 : 1;
        o[0] = 'e';
        o[1] = x < 0 ? '-' : '+';
        o += 2;
        unsigned ax = (unsigned)(x < 0 ? -x : x);
        if (ax >= 100) {
            *o++ = (char)('0' + ax / 100);
            ax %= 100;
        }
        memcpy(o, digit_pairs + 2 * ax, 2);
        o += 2;
    } else if (x < 0) { /* 0.000ddd */
        memcpy(o, "0.000000", 8);
        char *q = o + 1 - x;
        put8(q, w[0]);
        put8(q + 8, w[1]);
        q[16] = (char)w[2];
        o = q + nd;
    } else { /* ddd.ddd, or ddd000.0 from the digits' own zeros (nd >= 16 > x) */
        int p = x + 1;
        put8(o, w[0]);
        put8(o + 8, w[1]);
        o[p] = '.';
        if (nd <= p) {
            o[p + 1] = '0';
            o += p + 2;
        } else { /* at most 17 - p fraction digits: a second block only when p < 9 */
            put8(o + p + 1, bytes_at(w, p));
            if (nd - p > 8) put8(o + p + 9, bytes_at(w, p + 8));
            o += nd + 1;
        }
    }
    *o = '\0';
    return (size_t)(o - buf);
}

/* Subnormals (and zero): the fewest %.*e digits that read back. Slow, rare. */
static size_t fmt_small(char *buf, double v)
{
    char t[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*e", prec - 1, v);
        if (strtod(t, NULL) != v && prec < 17) continue;
        uint64_t f = 0;
        const char *p = t + (t[0] == '-');
        for (; *p && *p != 'e'; p++)
            if (isdigit((unsigned char)*p)) f = f * 10 + (uint64_t)(*p - '0');
        int e = atoi(p + 1) - (prec - 1);
        for (; f < 1000000000000000ull; f *= 10) /* render's 16 or 17 digits */
            e--;
        return render(buf, t[0] == '-', f, e);
    }
    return 0; /* not reached */
}

/* Schubfach (R. Giulietti, "The Schubfach way to render doubles", 2020),
 * for normal doubles v = c 2^q. Scaled by 10^-k, the rounding interval
 * [vbl, vbr] (quarter units, computed with 126-bit powers of ten rounded to
 * odd, which keeps every comparison exact) holds a multiple of 10 at most
 * once; if it holds one, that is the shortest decimal (fewer digits are its
 * trailing zeros), else the shortest is s = floor(v 10^-k) or s + 1,
 * whichever is inside, the nearer to v when both are (ties to even). */
static inline uint64_t mul_hi(uint64_t a, uint64_t b)
{
    return (uint64_t)(((unsigned __int128)a * b) >> 64);
}

/* floor(g cp / 2^127), rounded to odd (sticky bit for the dropped bits). */
static inline uint64_t round_odd(uint64_t g1, uint64_t g0, uint64_t cp)
{
    const uint64_t mask63 = (1ull << 63) - 1;
    uint64_t x1 = mul_hi(g0, cp), y0 = g1 * cp, y1 = mul_hi(g1, cp);
    uint64_t z = (y0 >> 1) + x1;
    return (y1 + (z >> 63)) | (((z & mask63) + mask63) >> 63);
}

/* floor(q log10 2), floor(log10(3/4 2^q)), floor(e log2 10) for the ranges
 * a double needs (|q| <= 1100): integer formulas, exact there. Right shifts
 * of negative values are arithmetic (floor) with GCC and Clang. */
static inline int flog10_pow2(int q)
{
    return (int)(((int64_t)q * 661971961083LL) >> 41);
}

static inline int flog10_three_quarters_pow2(int q)
{
    return (int)(((int64_t)q * 661971961083LL - 274743187321LL) >> 41);
}

static inline int flog2_pow10(int e)
{
    return (int)(((int64_t)e * 913124641741LL) >> 38);
}

static size_t fmt_normal(char *buf, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int neg = (int)(bits >> 63), bq = (int)((bits >> 52) & 0x7ff);
    uint64_t t = bits & ((1ull << 52) - 1), c = (1ull << 52) | t;
    int q = bq - 1075, k;
    uint64_t out = c & 1, cb = c << 2, cbr = cb + 2, cbl;
    if (t != 0 || bq == 1) { /* evenly spaced neighbours */
        cbl = cb - 2;
        k = flog10_pow2(q);
    } else { /* a power of two: the neighbour below is half as far */
        cbl = cb - 1;
        k = flog10_three_quarters_pow2(q);
    }
    int h = q + flog2_pow10(-k) + 2;
    const uint64_t *g = codec_pow10_g[-k - CODEC_POW10_E_MIN];
    uint64_t vb = round_odd(g[0], g[1], cb << h), vbl = round_odd(g[0], g[1], cbl << h),
             vbr = round_odd(g[0], g[1], cbr << h);
    uint64_t s = vb >> 2;
    if (s >= 100) {
        uint64_t sp10 = 10 * (s / 10), tp10 = sp10 + 10;
        int upin = vbl + out <= sp10 << 2, wpin = (tp10 << 2) + out <= vbr;
        if (upin != wpin) return render(buf, neg, upin ? sp10 : tp10, k);
    }
    uint64_t t1 = s + 1;
    int uin = vbl + out <= s << 2, win = (t1 << 2) + out <= vbr;
    if (uin != win) return render(buf, neg, uin ? s : t1, k);
    int64_t cmp = (int64_t)(vb - ((s + t1) << 1));
    return render(buf, neg, (cmp < 0 || (cmp == 0 && (s & 1) == 0)) ? s : t1, k);
}

size_t codec_num_write(char *buf, double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    unsigned bq = (unsigned)(bits >> 52) & 0x7ff; /* one test for the common case */
    if (bq - 1 < 0x7fe) return fmt_normal(buf, x);
    if (bq == 0x7ff) {
        memcpy(buf, "null", 5);
        return 4;
    }
    if (x == 0) {
        size_t n = signbit(x) ? 4 : 3;
        memcpy(buf, signbit(x) ? "-0.0" : "0.0", n + 1);
        return n;
    }
    return fmt_small(buf, x);
}
