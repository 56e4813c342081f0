/* numconv_libs: the number conversions of a JSON document, timed with the
 * fastest general-purpose libraries a C or C++ program on this machine can
 * call, for the lower bound on a request's JSON cost that issue 13's
 * single-connection target is measured against (docs/benchmarks.md, "The
 * numbers' share of the one-connection overhead").
 *
 * For every number token of the document (outside strings, as bench_codec
 * finds them):
 *   write: libstdc++'s std::to_chars(double), shortest round-trip (Ryu
 *          since GCC 11); fmt's format_to(FMT_COMPILE("{}")) (Dragonbox);
 *   read:  libstdc++'s std::from_chars(double) (fast_float since GCC 12);
 *          glibc's strtod.
 * Prints one JSON line, median ns per number over --reps runs of at least
 * ~20 ms each, on the same tokens bench_codec times codec_strtod and
 * codec_num_write on. Each writer's text is read back and must be the same
 * double, so a broken library cannot look fast.
 *
 * C++ because those libraries are C++; it is built by bench/numconv_libs.sh
 * with the system compiler (bootstrap installs g++ and libfmt-dev) and is not
 * part of the daemon's build. */
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/compile.h>
#include <fmt/format.h>

namespace {

volatile double sink_d;
volatile size_t sink_n;

std::vector<std::string> number_tokens(const std::string &s)
{
    std::vector<std::string> out;
    bool in_string = false;
    for (size_t i = 0; i < s.size(); i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t j = i;
            while (j < s.size() && std::strchr("0123456789+-.eE", s[j]))
                j++;
            out.push_back(s.substr(i, j - i));
            i = j - 1;
        }
    }
    return out;
}

template <class F> double median_ns(F fn, size_t per_call, int reps)
{
    using clock = std::chrono::steady_clock;
    fn();
    auto t0 = clock::now();
    fn();
    double once = std::chrono::duration<double>(clock::now() - t0).count();
    long inner = once < 0.02 ? (long)(0.02 / std::max(once, 1e-8)) + 1 : 1;
    std::vector<double> r;
    for (int k = 0; k < reps; k++) {
        t0 = clock::now();
        for (long i = 0; i < inner; i++)
            fn();
        double s = std::chrono::duration<double>(clock::now() - t0).count();
        r.push_back(s * 1e9 / (double)(inner * (long)per_call));
    }
    std::sort(r.begin(), r.end());
    return r[r.size() / 2];
}

void check_roundtrip(const char *who, const char *b, const char *e, double want)
{
    double got = 0;
    auto res = std::from_chars(b, e, got);
    if (res.ec != std::errc() || got != want) {
        std::fprintf(stderr, "numconv_libs: %s wrote %.*s for %.17g\n", who, (int)(e - b), b,
                     want);
        std::exit(1);
    }
}

} // namespace

int main(int argc, char **argv)
{
    int reps = 21;
    const char *path = nullptr;
    for (int i = 1; i < argc; i++) {
        if (!std::strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = std::max(1, std::atoi(argv[++i]));
        else
            path = argv[i];
    }
    if (!path) {
        std::fprintf(stderr, "usage: numconv_libs [--reps N] DOCUMENT.json\n");
        return 2;
    }
    FILE *f = std::fopen(path, "rb");
    if (!f) {
        std::perror(path);
        return 1;
    }
    std::string text;
    char chunk[65536];
    size_t n;
    while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0)
        text.append(chunk, n);
    std::fclose(f);

    std::vector<std::string> tok = number_tokens(text);
    std::vector<double> val;
    for (const std::string &t : tok)
        val.push_back(std::strtod(t.c_str(), nullptr));
    if (tok.empty()) {
        std::fprintf(stderr, "numconv_libs: no numbers in %s\n", path);
        return 1;
    }

    char buf[64];
    for (double v : val) {
        auto r = std::to_chars(buf, buf + sizeof buf, v);
        check_roundtrip("to_chars", buf, r.ptr, v);
        char *e = fmt::format_to(buf, FMT_COMPILE("{}"), v);
        check_roundtrip("fmt", buf, e, v);
    }

    double to_chars_ns = median_ns(
        [&] {
            size_t a = 0;
            for (double v : val)
                a += (size_t)(std::to_chars(buf, buf + sizeof buf, v).ptr - buf) +
                     (unsigned char)buf[0];
            sink_n = a;
        },
        val.size(), reps);
    double fmt_ns = median_ns(
        [&] {
            size_t a = 0;
            for (double v : val)
                a += (size_t)(fmt::format_to(buf, FMT_COMPILE("{}"), v) - buf) +
                     (unsigned char)buf[0];
            sink_n = a;
        },
        val.size(), reps);
    double from_chars_ns = median_ns(
        [&] {
            double a = 0, x = 0;
            for (const std::string &t : tok) {
                std::from_chars(t.data(), t.data() + t.size(), x);
                a += x;
            }
            sink_d = a;
        },
        tok.size(), reps);
    double strtod_ns = median_ns(
        [&] {
            double a = 0;
            for (const std::string &t : tok)
                a += std::strtod(t.c_str(), nullptr);
            sink_d = a;
        },
        tok.size(), reps);
    std::printf("{\"bench\": \"numconv_libs\", \"numbers\": %zu, \"to_chars_ns\": %.1f, "
                "\"fmt_ns\": %.1f, \"from_chars_ns\": %.1f, \"strtod_ns\": %.1f, "
                "\"fmt_version\": %d, \"gcc\": \"%d.%d\"}\n",
                tok.size(), to_chars_ns, fmt_ns, from_chars_ns, strtod_ns, FMT_VERSION,
                __GNUC__, __GNUC_MINOR__);
    return 0;
}
