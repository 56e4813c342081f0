/* alloc_count: a test program that links alloc_count.c replaces malloc,
 * calloc, realloc, aligned_alloc, memalign and posix_memalign with
 * forwards to glibc's __libc_* that count the calls, so that it can assert
 * that a loop makes none (check_train_alloc, check_train_alloc_cde). The
 * sanitizer builds replace malloc themselves: there nothing is replaced,
 * alloc_count_hooked() is 0 and the count stays 0 (the tests say the skip).
 * Thread-safe (one atomic counter). */
#ifndef ODESERVE_TESTS_ALLOC_COUNT_H
#define ODESERVE_TESTS_ALLOC_COUNT_H

/* Allocator calls so far. */
long alloc_count(void);
/* 1 when the allocator is replaced in this build, else 0. */
int alloc_count_hooked(void);
/* The counter itself counts: three malloc/free pairs are three calls
 * (a Check assertion; nothing to check when not hooked). */
void alloc_count_check_counts(void);

/* Run the tests of `s` in this process, one after another (CK_NOFORK, as
 * the allocation tests have always run), with a CK_NORMAL report, and free
 * the runner with the suite: EXIT_SUCCESS when none failed, else
 * EXIT_FAILURE. */
struct Suite;
int alloc_count_suite_run(struct Suite *s);

#endif
