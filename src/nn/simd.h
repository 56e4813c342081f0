/* nn/simd.h (private to src/nn): function multiversioning for the kernels.
 *
 * SIMD_CLONES compiles a function for AVX-512F, AVX2 and baseline x86-64 and
 * lets the dynamic loader pick one for the CPU (GCC target_clones, an ifunc).
 * Compiled with -ffp-contract=off (src/nn/local.mk) every variant performs
 * the same IEEE operations in the same order, so results do not depend on
 * the variant. Elsewhere it expands to nothing. Stateless; thread-safe. */
#ifndef ODESERVE_NN_SIMD_H
#define ODESERVE_NN_SIMD_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__gnu_linux__) &&   \
    !defined(ODESERVE_NO_CLONES)
#define SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#define SIMD_HAVE_CLONES 1
#else
#define SIMD_CLONES
#endif

/* Doubles per vector register of the running code: 8 in the AVX-512 clone,
 * 4 in the AVX2 one, 2 at baseline (or in a build for such a target).
 * Kernels that keep many vector accumulators spill at narrower widths and
 * pick another path there. */
static inline int simd_vector_doubles(void)
{
#if defined(SIMD_HAVE_CLONES)
    return __builtin_cpu_supports("avx512f") ? 8 : __builtin_cpu_supports("avx2") ? 4 : 2;
#elif defined(__AVX512F__)
    return 8;
#elif defined(__AVX2__)
    return 4;
#else
    return 2;
#endif
}

#endif
