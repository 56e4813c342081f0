/* fuzz/fuzz.h: one entry point per fuzz target, built two ways.
 *
 * With FUZZ_LIBFUZZER (fuzz/fuzz.sh, clang -fsanitize=fuzzer) each target is
 * libFuzzer's LLVMFuzzerTestOneInput; without it (tests/check_fuzz_replay,
 * the ordinary build, also under valgrind and the sanitizers in CI) it is
 * fuzz_<name>(), which the replay test runs over the committed corpus and
 * every input that once crashed (fuzz/regress/). A target returns 0 and
 * aborts (FUZZ_ASSERT) on a broken property, so a wrong answer is a crash
 * to libFuzzer as much as a fault is. */
#ifndef ODESERVE_FUZZ_FUZZ_H
#define ODESERVE_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef FUZZ_LIBFUZZER
#define FUZZ_ENTRY(name) int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
#else
#define FUZZ_ENTRY(name) int fuzz_##name(const uint8_t *data, size_t size)
#endif

#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int fuzz_parse(const uint8_t *data, size_t size);
int fuzz_number(const uint8_t *data, size_t size);
int fuzz_model(const uint8_t *data, size_t size);
int fuzz_request(const uint8_t *data, size_t size);
int fuzz_dataset(const uint8_t *data, size_t size);
int fuzz_job(const uint8_t *data, size_t size);
int fuzz_router(const uint8_t *data, size_t size);
int fuzz_packed(const uint8_t *data, size_t size);
int fuzz_points(const uint8_t *data, size_t size);

#endif
