/* num/num_simd.h (private to src/num): the vector kernels' multiversioning.
 *
 * NUM_CLONES compiles a function for AVX-512F, AVX2 and baseline x86-64 and
 * lets the dynamic loader pick one (GCC target_clones, an ifunc); elsewhere
 * it expands to nothing. num_v4 is four doubles as one value (the GCC/clang
 * vector extension): elementwise IEEE operations, two SSE2 instructions at
 * baseline, one AVX instruction in a clone (num_v8: eight). Compiled without contraction
 * (-ffp-contract=off, src/num/local.mk), every variant performs the same
 * operations in the same order: results do not depend on the variant.
 * Load and store through memcpy (unaligned). Stateless; thread-safe. */
#ifndef ODESERVE_NUM_SIMD_H
#define ODESERVE_NUM_SIMD_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__gnu_linux__) &&   \
    !defined(ODESERVE_NO_CLONES)
#define NUM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NUM_CLONES
#endif

typedef double num_v4 __attribute__((vector_size(4 * sizeof(double))));
typedef long long num_i4 __attribute__((vector_size(4 * sizeof(long long)))); /* its masks */
/* Eight doubles: one instruction in the AVX-512 clone, two or four elsewhere. */
typedef double num_v8 __attribute__((vector_size(8 * sizeof(double))));
typedef long long num_i8 __attribute__((vector_size(8 * sizeof(long long))));

#endif
