/* alloc_count.c: see alloc_count.h. */
#include "alloc_count.h"

#include <check.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ALLOC_HOOKED 0
#else
#define ALLOC_HOOKED 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_long n_alloc;

void *malloc(size_t n)
{
    atomic_fetch_add(&n_alloc, 1);
    return __libc_malloc(n);
}

void *calloc(size_t k, size_t n)
{
    atomic_fetch_add(&n_alloc, 1);
    return __libc_calloc(k, n);
}

void *realloc(void *old, size_t n)
{
    atomic_fetch_add(&n_alloc, 1);
    return __libc_realloc(old, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    atomic_fetch_add(&n_alloc, 1);
    return __libc_memalign(align, n);
}

void *memalign(size_t align, size_t n)
{
    atomic_fetch_add(&n_alloc, 1);
    return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    atomic_fetch_add(&n_alloc, 1);
    void *p = __libc_memalign(align, n);
    if (!p) return 12; /* ENOMEM */
    *out = p;
    return 0;
}
#endif

long alloc_count(void)
{
#if ALLOC_HOOKED
    return atomic_load(&n_alloc);
#else
    return 0;
#endif
}

int alloc_count_hooked(void)
{
    return ALLOC_HOOKED;
}

void alloc_count_check_counts(void)
{
    if (!alloc_count_hooked()) return;
    const long before = alloc_count();
    for (int i = 0; i < 3; i++) {
        void *volatile p = malloc(32);
        free(p);
    }
    ck_assert_int_eq(alloc_count() - before, 3);
}

int alloc_count_suite_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
