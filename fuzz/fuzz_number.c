/* fuzz_number: the number reader and writer.
 * Properties: codec_strtod agrees with glibc's strtod, bit for bit, on
 * every token of RFC 8259's number grammar; and for the double made of the
 * first 8 bytes, codec_num_write's text is a JSON number of at most 17
 * significant digits that reads back (codec_strtod and strtod) to the same
 * bits, and exactly the text of the writer it replaced (the oracle,
 * tests/codec_num_ref.h; -0.0 and non-finite values too), and the doubles
 * of the first 64 bytes through codec_num_write_list give the oracle's
 * texts joined by commas. (That it is the
 * shortest such text is tests/check_codec's, against Python's repr.) */
#include "fuzz/fuzz.h"

#include <math.h>
#include <string.h>

#include "codec/codec_num.h"
#include "codec/codec_strtod.h"

#include "../tests/codec_num_ref.h"

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* s[0 .. n) matches -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int json_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-') i++;
    if (i >= n) return 0;
    if (s[i] == '0')
        i++;
    else if (s[i] >= '1' && s[i] <= '9')
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    else
        return 0;
    if (i < n && s[i] == '.') {
        size_t d = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d) return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d) return 0;
    }
    return i == n;
}

FUZZ_ENTRY(number)
{
    if (size >= sizeof(double)) {
        double x;
        memcpy(&x, data, sizeof x);
        char got[CODEC_NUM_MAX], want[CODEC_NUM_MAX];
        size_t gn = codec_num_write(got, x), wn = codec_num_ref_write(want, x);
        FUZZ_ASSERT(gn == wn && memcmp(got, want, gn + 1) == 0);
        if (isfinite(x)) {
            char buf[CODEC_NUM_MAX + 1];
            size_t n = codec_num_write(buf, x);
            FUZZ_ASSERT(n > 0 && n <= CODEC_NUM_MAX);
            buf[n] = '\0';
            double back = 0;
            FUZZ_ASSERT(json_number(buf, n));
            FUZZ_ASSERT(codec_strtod(buf, n, &back) == 0);
            FUZZ_ASSERT(same_bits(back, x) || (x == 0 && back == 0));
            FUZZ_ASSERT(same_bits(strtod(buf, NULL), x) || (x == 0 && back == 0));
            int digits = 0, lead = 1;
            for (const char *p = buf; *p && *p != 'e'; p++) {
                if (*p >= '1' && *p <= '9') lead = 0;
                digits += !lead && *p >= '0' && *p <= '9';
            }
            FUZZ_ASSERT(digits <= 18); /* 17 and a written ".0" */
        }
        /* the doubles of the first 8 x k bytes (k <= 8) through
         * codec_num_write_list, two at a time: the oracle's texts joined */
        double v[8];
        size_t k = size / sizeof(double) < 8 ? size / sizeof(double) : 8, m = 0;
        memcpy(v, data, k * sizeof(double));
        char list[8 * (CODEC_NUM_MAX + 1)], joined[8 * (CODEC_NUM_MAX + 1)];
        for (size_t i = 0; i < k; i++) {
            if (i) joined[m++] = ',';
            m += codec_num_ref_write(joined + m, v[i]);
        }
        size_t ln = (size_t)(codec_num_write_list(list, v, k) - list);
        FUZZ_ASSERT(ln == m && memcmp(list, joined, m) == 0);
    }
    if (size > 400 || !json_number((const char *)data, size)) return 0;
    char tok[402];
    memcpy(tok, data, size);
    tok[size] = '\0';
    char *end = NULL;
    double want = strtod(tok, &end);
    double got = 0;
    FUZZ_ASSERT(end == tok + size);
    FUZZ_ASSERT(codec_strtod(tok, size, &got) == 0);
    FUZZ_ASSERT(same_bits(got, want));
    return 0;
}
