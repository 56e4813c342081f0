/* check_core: the error record, the log line format and the work queue. */
#include "core/err.h"
#include "core/grow.h"
#include "core/log.h"
#include "core/workq.h"
#include "testutil.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

START_TEST(first_error_wins)
{
    err e;
    err_clear(&e);
    ck_assert_int_eq(err_set(&e, ERR_INVALID, "weight", "shape %d", 3), ERR_INVALID);
    err_set(&e, ERR_NOT_FOUND, "other", "later");
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_str_eq(e.field, "weight");
    ck_assert_str_eq(e.message, "shape 3");
    ck_assert_str_eq(err_code_name(e.code), "invalid_argument");
}
END_TEST

START_TEST(prefix_builds_paths)
{
    err e;
    err_clear(&e);
    err_set(&e, ERR_INVALID, "weight[3]", "x");
    err_prefix_field(&e, "layers[1]");
    err_prefix_field(&e, "vector_field");
    ck_assert_str_eq(e.field, "vector_field.layers[1].weight[3]");
    err_clear(&e);
    err_set(&e, ERR_INVALID, "[2]", "x");
    err_prefix_field(&e, "y0");
    ck_assert_str_eq(e.field, "y0[2]");
    ck_assert_int_eq(err_set(NULL, ERR_IO, NULL, "ok"), ERR_IO);
}
END_TEST

START_TEST(code_names_complete)
{
    for (int c = 0; c < ERR__COUNT; c++) ck_assert_ptr_nonnull(err_code_name((err_code)c));
    ck_assert_str_eq(err_code_name((err_code)999), "internal");
}
END_TEST

START_TEST(log_line_format)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    log_fd_set(fds[1]);
    log_level_set(LOG_LVL_INFO);
    char q[64];
    log_info("hello", "path=%s n=%d", log_quote(q, sizeof q, "a b\"c"), 7);
    log_debug("dropped", NULL);
    log_warn("warned", NULL);
    log_fd_set(2);
    close(fds[1]);
    char buf[1024] = {0};
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    ck_assert_int_gt(n, 0);
    ck_assert_msg(strncmp(buf, "<6>ts=", 6) == 0, "got %s", buf);
    ck_assert_ptr_nonnull(strstr(buf, "level=info event=hello path=\"a b\\\"c\" n=7\n"));
    ck_assert_ptr_null(strstr(buf, "dropped"));
    ck_assert_ptr_nonnull(strstr(buf, "<4>ts="));
    enum log_level l;
    ck_assert_int_eq(log_level_parse("debug", &l), 0);
    ck_assert_int_eq(l, LOG_LVL_DEBUG);
    ck_assert_int_eq(log_level_parse("loud", &l), -1);
}
END_TEST

/* ---- the work queue (workq.h) ---- */

typedef struct counter {
    pthread_mutex_t mu;
    int order[64];
    int n;
} counter;

typedef struct job_arg {
    counter *c;
    int id;
    atomic_int *gate;    /* spin until nonzero (NULL = no gate) */
    atomic_int *started; /* incremented when the job starts (may be NULL) */
} job_arg;

static void job_record(void *p)
{
    job_arg *a = p;
    if (a->started) atomic_fetch_add(a->started, 1);
    while (a->gate && !atomic_load(a->gate)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&a->c->mu);
    a->c->order[a->c->n++] = a->id;
    pthread_mutex_unlock(&a->c->mu);
}

START_TEST(workq_runs_fifo)
{
    workq *q;
    ck_assert_int_eq(workq_new(&q, 1, 64, NULL), ERR_OK);
    counter c = {.mu = PTHREAD_MUTEX_INITIALIZER};
    job_arg args[20];
    for (int i = 0; i < 20; i++) {
        args[i] = (job_arg){&c, i, NULL, NULL};
        ck_assert_int_eq(workq_submit(q, job_record, &args[i], NULL), ERR_OK);
    }
    ck_assert_int_eq(workq_wait_idle(q, -1), 1);
    ck_assert_uint_eq(workq_busy(q), 0);
    ck_assert_int_eq(c.n, 20);
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(c.order[i], i);
    workq_free(q);
}
END_TEST

START_TEST(workq_limits_and_drains)
{
    workq *q;
    ck_assert_int_eq(workq_new(&q, 2, 3, NULL), ERR_OK);
    counter c = {.mu = PTHREAD_MUTEX_INITIALIZER};
    atomic_int gate = 0, started = 0;
    job_arg args[8];
    for (int i = 0; i < 8; i++)
        args[i] = (job_arg){&c, i, &gate, &started};
    /* Two jobs occupy both threads (blocked on the gate)... */
    ck_assert_int_eq(workq_submit(q, job_record, &args[0], NULL), ERR_OK);
    ck_assert_int_eq(workq_submit(q, job_record, &args[1], NULL), ERR_OK);
    while (atomic_load(&started) < 2) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    /* ...three may wait, the sixth is refused. */
    err e;
    for (int i = 2; i < 5; i++)
        ck_assert_int_eq(workq_submit(q, job_record, &args[i], NULL), ERR_OK);
    err_clear(&e);
    ck_assert_int_eq(workq_submit(q, job_record, &args[5], &e), ERR_UNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(e.message, "retry"));
    ck_assert_uint_eq(workq_busy(q), 5);
    ck_assert_int_eq(workq_wait_idle(q, 0.05), 0); /* gated: not idle */
    atomic_store(&gate, 1);
    ck_assert_int_eq(workq_wait_idle(q, -1), 1);
    ck_assert_int_eq(c.n, 5);
    /* Freeing runs what is still queued. */
    atomic_store(&gate, 0);
    atomic_store(&started, 0);
    ck_assert_int_eq(workq_submit(q, job_record, &args[5], NULL), ERR_OK);
    ck_assert_int_eq(workq_submit(q, job_record, &args[6], NULL), ERR_OK);
    ck_assert_int_eq(workq_submit(q, job_record, &args[7], NULL), ERR_OK);
    atomic_store(&gate, 1);
    workq_free(q);
    ck_assert_int_eq(c.n, 8);
    ck_assert_int_eq(workq_new(&q, 0, 1, &e), ERR_INVALID);
    workq_free(NULL);
}
END_TEST

/* Rows appended one at a time keep every earlier row, in arrays of
 * different widths; a capacity whose bytes overflow is refused, untouched. */
START_TEST(grow_rows_keeps_rows)
{
    size_t *idx = NULL, cap = 0;
    double *vals = NULL;
    void *const arrays[] = {&idx, &vals};
    const size_t row[] = {sizeof *idx, 3 * sizeof *vals};
    for (size_t n = 0; n < 1000; n++) {
        ck_assert_int_eq(grow_rows(&cap, n + 1, 2, arrays, row), 0);
        ck_assert_uint_ge(cap, n + 1);
        idx[n] = n;
        for (int j = 0; j < 3; j++) vals[3 * n + j] = (double)n + j / 4.0;
    }
    ck_assert_uint_eq(cap, 1024);
    for (size_t n = 0; n < 1000; n++) {
        ck_assert_uint_eq(idx[n], n);
        ck_assert_double_eq(vals[3 * n + 2], (double)n + 0.5);
    }
    ck_assert_int_eq(grow_rows(&cap, 1000, 2, arrays, row), 0); /* room already */
    ck_assert_uint_eq(cap, 1024);
    const size_t huge[] = {sizeof *idx, SIZE_MAX / 1024};
    ck_assert_int_eq(grow_rows(&cap, 2048, 2, arrays, huge), -1);
    ck_assert_uint_eq(cap, 1024);
    ck_assert_uint_eq(idx[999], 999);
    free(idx);
    free(vals);
}
END_TEST

static Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, first_error_wins);
    tcase_add_test(tc, prefix_builds_paths);
    tcase_add_test(tc, code_names_complete);
    tcase_add_test(tc, log_line_format);
    tcase_add_test(tc, grow_rows_keeps_rows);
    suite_add_tcase(s, tc);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, workq_runs_fifo);
    tcase_add_test(limits, workq_limits_and_drains);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    return tu_suite_run(core_suite());
}
