/* check_core: the error record and the log line format. */
#include "core/err.h"
#include "core/log.h"
#include "testutil.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
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
    log_set_fd(fds[1]);
    log_set_level(LOG_LVL_INFO);
    char q[64];
    log_info("hello", "path=%s n=%d", log_quote(q, sizeof q, "a b\"c"), 7);
    log_debug("dropped", NULL);
    log_warn("warned", NULL);
    log_set_fd(2);
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

static Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, first_error_wins);
    tcase_add_test(tc, prefix_builds_paths);
    tcase_add_test(tc, code_names_complete);
    tcase_add_test(tc, log_line_format);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(core_suite());
}
