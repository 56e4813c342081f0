/* nn/simd.h (private to src/nn): function multiversioning for the kernels.
 *
 * NN_CLONES compiles a function for AVX-512F, AVX2 and baseline x86-64 and
 * lets the dynamic loader pick one for the CPU (GCC target_clones, an ifunc).
 * Compiled with -ffp-contract=off (src/nn/local.mk) every variant performs
 * the same IEEE operations in the same order, so results do not depend on
 * the variant. Elsewhere it expands to nothing. */
#ifndef ODESERVE_NN_SIMD_H
#define ODESERVE_NN_SIMD_H

#include <stdbool.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__gnu_linux__) &&   \
    !defined(ODESERVE_NO_CLONES)
#define NN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#define NN_HAVE_CLONES 1
#else
#define NN_CLONES
#endif

/* Whether the running code has vectors of 4 doubles or more (the AVX2 or
 * AVX-512 clone, or a build for such a target). Kernels that keep many
 * vector accumulators spill at SSE2 width and defer to OpenBLAS there. */
static inline bool nn_wide_vectors(void)
{
#if defined(NN_HAVE_CLONES)
    return __builtin_cpu_supports("avx2");
#elif defined(__AVX2__)
    return true;
#else
    return false;
#endif
}

/* Whether the running code has 8-double vectors (the AVX-512 clone). Kernels
 * that keep eight such accumulators spill at AVX2 width. */
static inline bool nn_vectors8(void)
{
#if defined(NN_HAVE_CLONES)
    return __builtin_cpu_supports("avx512f");
#elif defined(__AVX512F__)
    return true;
#else
    return false;
#endif
}

#endif
