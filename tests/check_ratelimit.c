/* check_ratelimit: the token buckets of core/ratelimit.h on a clock the
 * test drives: bursts, refill, retry times, independent keys, the bound on
 * memory (refilled buckets dropped, then the shared overflow bucket), and
 * several threads on one key taking exactly the tokens there are. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "core/ratelimit.h"
#include "testutil.h"

static ratelimit *make(size_t max_keys)
{
    ratelimit *rl = NULL;
    err e;
    err_clear(&e);
    ck_assert_int_eq(ratelimit_new(&rl, max_keys, &e), ERR_OK);
    return rl;
}

START_TEST(burst_then_rate)
{
    ratelimit *rl = make(1024);
    const unsigned char a[4] = {10, 0, 0, 1};
    for (int i = 0; i < 5; i++) /* burst 5 at t = 0 */
        ck_assert(ratelimit_take(rl, a, 4, 2.0, 5.0, 100.0) == 0);
    double wait = ratelimit_take(rl, a, 4, 2.0, 5.0, 100.0);
    ck_assert_double_eq_tol(wait, 0.5, 1e-12); /* one token per 0.5 s */
    ck_assert_double_gt(ratelimit_take(rl, a, 4, 2.0, 5.0, 100.25), 0);
    ck_assert_double_eq_tol(ratelimit_take(rl, a, 4, 2.0, 5.0, 100.25), 0.25, 1e-12);
    ck_assert(ratelimit_take(rl, a, 4, 2.0, 5.0, 100.5) == 0);
    ck_assert_double_gt(ratelimit_take(rl, a, 4, 2.0, 5.0, 100.5), 0);
    /* refills to the burst, not beyond */
    for (int i = 0; i < 5; i++)
        ck_assert(ratelimit_take(rl, a, 4, 2.0, 5.0, 1000.0) == 0);
    ck_assert_double_gt(ratelimit_take(rl, a, 4, 2.0, 5.0, 1000.0), 0);
    ratelimit_free(rl);
}
END_TEST

START_TEST(keys_are_independent)
{
    ratelimit *rl = make(1024);
    const unsigned char a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
    const unsigned char a16[16] = {10, 0, 0, 1}; /* same bytes, longer key: another client */
    ck_assert(ratelimit_take(rl, a, 4, 1.0, 1.0, 0) == 0);
    ck_assert_double_gt(ratelimit_take(rl, a, 4, 1.0, 1.0, 0), 0);
    ck_assert(ratelimit_take(rl, b, 4, 1.0, 1.0, 0) == 0);
    ck_assert(ratelimit_take(rl, a16, 16, 1.0, 1.0, 0) == 0);
    ck_assert_uint_eq(ratelimit_size(rl), 3);
    ratelimit_free(rl);
}
END_TEST

START_TEST(rate_change_applies_at_once)
{
    ratelimit *rl = make(1024);
    const unsigned char a[4] = {1, 2, 3, 4};
    ck_assert(ratelimit_take(rl, a, 4, 1.0, 1.0, 0) == 0);
    ck_assert_double_eq_tol(ratelimit_take(rl, a, 4, 1.0, 1.0, 0), 1.0, 1e-12);
    ck_assert_double_eq_tol(ratelimit_take(rl, a, 4, 10.0, 1.0, 0), 0.1, 1e-12);
    ratelimit_free(rl);
}
END_TEST

/* ---- limits ---- */

START_TEST(memory_is_bounded)
{
    ratelimit *rl = make(64); /* 4 per shard */
    uint32_t k;
    /* idle clients: their buckets refill and are dropped to make room */
    for (k = 0; k < 10000; k++)
        ck_assert(ratelimit_take(rl, &k, sizeof k, 1.0, 2.0, (double)k * 10) == 0);
    ck_assert_uint_le(ratelimit_size(rl), 64 + 16);
    ratelimit_free(rl);

    /* active clients at once: the table stays bounded, the newcomers share
     * one bucket per shard, which limits them together */
    rl = make(64);
    int refused = 0;
    for (k = 0; k < 10000; k++)
        refused += ratelimit_take(rl, &k, sizeof k, 1.0, 2.0, 5.0) > 0;
    ck_assert_uint_le(ratelimit_size(rl), 64 + 16);
    ck_assert_int_ge(refused, 10000 - 64 * 2 - 16 * 2);
    ratelimit_free(rl);
}
END_TEST

typedef struct {
    ratelimit *rl;
    int taken;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *w = p;
    const unsigned char key[2] = {7, 7};
    for (int i = 0; i < 1000; i++)
        w->taken += ratelimit_take(w->rl, key, 2, 1e-9, 500.0, 1.0) == 0;
    return NULL;
}

START_TEST(threads_share_one_bucket)
{
    ratelimit *rl = make(1024);
    pthread_t t[4];
    worker_arg w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_arg){rl, 0};
        pthread_create(&t[i], NULL, worker, &w[i]);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        total += w[i].taken;
    }
    ck_assert_int_eq(total, 500);
    ratelimit_free(rl);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ratelimit");
    TCase *core = tcase_create("core");
    tcase_add_test(core, burst_then_rate);
    tcase_add_test(core, keys_are_independent);
    tcase_add_test(core, rate_change_applies_at_once);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, memory_is_bounded);
    tcase_add_test(limits, threads_share_one_bucket);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
