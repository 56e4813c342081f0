/* codec/codec_num.c: the number writer. See codec_num.h.
 *
 * DESIGN. The shortest decimal that reads back to the double, the nearest
 * one when several are as short, spelled as Python's repr spells it (so a
 * document written by json.dump comes back as the same text). Normal
 * doubles go through Schubfach (shortest: a fixed amount of 128-bit
 * arithmetic, where a printf round-trip search takes many times as long,
 * and a trajectory reply is mostly numbers); subnormals through a %.*e
 * search. Both hand render 16 or 17 digits, which it turns into text with
 * vector (SSE2) or word-wide arithmetic and fixed-size stores, inlined into
 * the common path, which saves no registers and calls nothing (costs:
 * bench/bench_codec, docs/benchmarks.md). Tested against Python's repr
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

#if defined(__SSE2__) && defined(__x86_64__)
#include <emmintrin.h>
#endif

static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

#if defined(__SSE2__) && defined(__x86_64__)
/* The 16 digits of a and b (each < 10^8, zero-padded, a's first, as
 * ASCII) in one vector: both divided by 10^4 at once, then the four 4-digit
 * lanes broadcast and divided by 1000, 100, 10, 1 with 16-bit multiplies
 * (M. Yip's SSE2 itoa, widened to two numbers; exact for every lane value,
 * which tests/check_codec runs). Fewer micro-ops than two word-wide
 * conversions (digits8), and the writer is bound by its micro-ops. */
static inline __m128i digits16(uint32_t a, uint32_t b)
{
    const __m128i div10000 = _mm_set1_epi32((int)0xd1b71759), e10000 = _mm_set1_epi32(10000);
    const __m128i divp = _mm_setr_epi16(8389, 5243, 13108, (short)32768, 8389, 5243, 13108,
                                        (short)32768);
    const __m128i shp = _mm_setr_epi16(1 << 7, 1 << 11, 1 << 13, (short)(1 << 15), 1 << 7,
                                       1 << 11, 1 << 13, (short)(1 << 15));
    __m128i v = _mm_set_epi64x(b, a);
    __m128i hi4 = _mm_srli_epi64(_mm_mul_epu32(v, div10000), 45);
    __m128i lo4 = _mm_sub_epi32(v, _mm_mul_epu32(hi4, e10000));
    /* 32-bit lanes a / 10^4, a % 10^4, b / 10^4, b % 10^4, times 4 */
    __m128i x = _mm_slli_epi32(_mm_or_si128(hi4, _mm_slli_epi64(lo4, 32)), 2);
    __m128i xa = _mm_shuffle_epi32(_mm_unpacklo_epi16(x, x), _MM_SHUFFLE(2, 2, 0, 0));
    __m128i xb = _mm_shuffle_epi32(_mm_unpackhi_epi16(x, x), _MM_SHUFFLE(2, 2, 0, 0));
    /* each 16-bit lane: the lane's first 1, 2, 3, 4 digits */
    xa = _mm_mulhi_epu16(_mm_mulhi_epu16(xa, divp), shp);
    xb = _mm_mulhi_epu16(_mm_mulhi_epu16(xb, divp), shp);
    /* less ten times the lane before: one digit each */
    xa = _mm_sub_epi16(xa, _mm_slli_epi64(_mm_mullo_epi16(xa, _mm_set1_epi16(10)), 16));
    xb = _mm_sub_epi16(xb, _mm_slli_epi64(_mm_mullo_epi16(xb, _mm_set1_epi16(10)), 16));
    return _mm_add_epi8(_mm_packus_epi16(xa, xb), _mm_set1_epi8('0'));
}
#else
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
#endif

/* int_masks[p]: the first p of 16 bytes set (the integer digits of a
 * positional number), as two words, lowest byte first. */
#define MASK_BYTES(n) ((n) >= 8 ? ~0ull : (1ull << ((8 * (n)) & 63)) - 1)
#define MASK_ROW(p) {MASK_BYTES(p), (p) > 8 ? MASK_BYTES((p) - 8) : 0}
static const uint64_t int_masks[17][2] = {
    MASK_ROW(0),  MASK_ROW(1),  MASK_ROW(2),  MASK_ROW(3),  MASK_ROW(4),  MASK_ROW(5),
    MASK_ROW(6),  MASK_ROW(7),  MASK_ROW(8),  MASK_ROW(9),  MASK_ROW(10), MASK_ROW(11),
    MASK_ROW(12), MASK_ROW(13), MASK_ROW(14), MASK_ROW(15), MASK_ROW(16)};

/* Store the 8 bytes of w at p, lowest byte first. */
static inline void put8(char *p, uint64_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    memcpy(p, &w, 8);
}

/* Write f x 10^e, 10^15 <= f < 10^17 (what both writers below hand over),
 * the way Python's repr does: trailing zeros dropped; positional for
 * decimal exponents -4..15 (".0" on integers), otherwise d.ddde+XX with at
 * least two exponent digits. The digits move in 8-byte blocks, no loop or
 * copy of data-dependent length; every write stays inside the
 * CODEC_NUM_MAX bytes of buf, and the text ends at its NUL. */
static inline __attribute__((always_inline)) size_t render(char *buf, int neg, uint64_t f, int e)
{
    uint64_t hi = f / 100000000;
    /* = hi / 10^8, but from f: beside hi's multiply, not after it (the
     * writer waits on its chain of multiplies) */
    uint32_t top = (uint32_t)(f / 10000000000000000ull);
    int nd = 17 - (top == 0); /* f >= 10^15: mid's first digit is not 0 when top is */
    int x = e + nd - 1;       /* exponent of the first digit */
    const uint64_t zeros = 0x3030303030303030ull;
#if defined(__SSE2__) && defined(__x86_64__)
    __m128i d = digits16((uint32_t)hi - top * 100000000, (uint32_t)(f - hi * 100000000));
    uint64_t mid = (uint64_t)_mm_cvtsi128_si64(d),
             lo = (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(d, d));
    /* trailing zero digits: the '0' bytes at the top of the 16 (at most 15
     * of them when top is 0, as mid's first digit is not 0 then) */
    unsigned zmask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(d, _mm_set1_epi8('0')));
    nd -= __builtin_clz((~zmask << 16) | 0x8000u);
#else
    uint64_t mid = digits8((uint32_t)hi - top * 100000000),
             lo = digits8((uint32_t)(f - hi * 100000000));
    /* trailing zero digits: the zero bytes at the top of the last nonzero word */
    nd -= lo ? __builtin_clzll(lo) / 8 : 8 + (mid ? __builtin_clzll(mid) / 8 : 8);
    mid |= zeros, lo |= zeros;
#endif
    /* the 16 or 17 digits, then '0's: selected on top (not shifted by a
     * variable count, three micro-ops on x86 without BMI2; GCC branches
     * here, which measured faster than masks) */
    uint64_t w0 = top ? ('0' + top) | (mid << 8) : mid;
    uint64_t w1 = top ? (mid >> 56) | (lo << 8) : lo;
    uint64_t w2 = top ? (lo >> 56) | (zeros << 8) : zeros;
    char *o = buf;
    *o = '-';
    o += neg;
    if (x < -4 || x >= 16) {
        o[0] = (char)w0;
        o[1] = '.';
        put8(o + 2, (w0 >> 8) | (w1 << 56));
        put8(o + 10, (w1 >> 8) | (w2 << 56));
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
        put8(q, w0);
        put8(q + 8, w1);
        q[16] = (char)w2;
        o = q + nd;
    } else { /* ddd.ddd, or ddd000.0 from the digits' own zeros (nd >= 16 > x) */
        /* the p integer digits, then the rest one byte further on: each
         * word merged from the digits and the digits shifted by a byte,
         * under a mask of the first p bytes; the point goes in after */
        int p = x + 1;
        const uint64_t *m = int_masks[p];
        uint64_t s0 = w0 << 8, s1 = (w1 << 8) | (w0 >> 56), s2 = (w2 << 8) | (w1 >> 56);
        put8(o, (w0 & m[0]) | (s0 & ~m[0]));
        put8(o + 8, (w1 & m[1]) | (s1 & ~m[1]));
        put8(o + 16, s2);
        o[p] = '.';
        /* one fraction digit at least: a '0' of the padding when nd <= p */
        o += nd > p ? nd + 1 : p + 2;
    }
    *o = '\0';
    return (size_t)(o - buf);
}

/* render out of line, for the rare paths: inlined there it would make
 * codec_num_write save registers on every call. */
static __attribute__((noinline)) size_t render_slow(char *buf, int neg, uint64_t f, int e)
{
    return render(buf, neg, f, e);
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
        return render_slow(buf, t[0] == '-', f, e);
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

/* The shortest decimal of the normal double of these bits: f x 10^*e,
 * 10^15 <= f < 10^17 as render wants it. */
static inline __attribute__((always_inline)) uint64_t shortest(uint64_t bits, int *e)
{
    int bq = (int)((bits >> 52) & 0x7ff);
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
    uint64_t s = vb >> 2, t1 = s + 1;
    /* The choice below is made without branches: which candidate wins is
     * close to random for a solver's output, and a mispredicted branch there
     * costs more than computing every candidate. */
    uint64_t sp10 = 10 * (s / 10), tp10 = sp10 + 10;
    int upin = vbl + out <= sp10 << 2, wpin = (tp10 << 2) + out <= vbr;
    int uin = vbl + out <= s << 2, win = (t1 << 2) + out <= vbr;
    int64_t cmp = (int64_t)(vb - ((s + t1) << 1));
    int lower = cmp < 0 || (cmp == 0 && (s & 1) == 0);
    uint64_t f = uin != win ? (uin ? s : t1) : (lower ? s : t1);
    f = (s >= 100 && upin != wpin) ? (upin ? sp10 : tp10) : f;
    *e = k;
    return f;
}

/* Zero, subnormals, non-finite values: out of line, so the common path
 * stays a leaf that saves no registers. */
static __attribute__((noinline)) size_t fmt_special(char *buf, double x, unsigned bq)
{
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

/* Normal doubles (a biased exponent of 1..0x7fe): one test for the
 * common case. */
static inline int is_normal(uint64_t bits)
{
    return ((unsigned)(bits >> 52) & 0x7ff) - 1 < 0x7fe;
}

size_t codec_num_write(char *buf, double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    if (!is_normal(bits)) return fmt_special(buf, x, (unsigned)(bits >> 52) & 0x7ff);
    int e;
    uint64_t f = shortest(bits, &e);
    return render(buf, (int)(bits >> 63), f, e);
}

/* Two numbers at a time, both computed before either is placed: the
 * writer is bound by the latency of its multiply chains, and with a call
 * per number the processor's window holds too little of the next number's
 * chain to overlap the two (a third and fourth at a time gained nothing
 * more; docs/benchmarks.md, "The number list writer"). */
char *codec_num_write_list(char *o, const double *v, size_t n)
{
    size_t k = 0;
    for (; k + 2 <= n; k += 2) {
        uint64_t b0, b1;
        memcpy(&b0, v + k, sizeof b0);
        memcpy(&b1, v + k + 1, sizeof b1);
        if (k) *o++ = ',';
        if (is_normal(b0) && is_normal(b1)) {
            int e0, e1;
            uint64_t f0 = shortest(b0, &e0), f1 = shortest(b1, &e1);
            o += render(o, (int)(b0 >> 63), f0, e0);
            *o++ = ',';
            o += render(o, (int)(b1 >> 63), f1, e1);
        } else {
            o += codec_num_write(o, v[k]);
            *o++ = ',';
            o += codec_num_write(o, v[k + 1]);
        }
    }
    if (k < n) {
        if (k) *o++ = ',';
        o += codec_num_write(o, v[k]);
    }
    return o;
}
