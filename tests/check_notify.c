/* check_notify: the sd_notify datagram protocol against a socket this test
 * binds, at a path and in the abstract namespace, and its failure modes. */
#include "daemon/notify.h"
#include "testutil.h"

#include <check.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Bind a datagram socket at `name` ("/path" or "@abstract"). */
static int bind_notify(const char *name)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(name);
    memcpy(sa.sun_path, name, len);
    if (name[0] == '@') sa.sun_path[0] = '\0';
    socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/'));
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sl), 0);
    return fd;
}

static void recv_eq(int fd, const char *want)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ck_assert_int_eq(poll(&p, 1, 5000), 1);
    char buf[4200];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_str_eq(buf, want);
}

START_TEST(sends_to_a_path)
{
    char path[108];
    snprintf(path, sizeof path, "/tmp/odeserve-notify-%ld.sock", (long)getpid());
    unlink(path);
    int fd = bind_notify(path);
    setenv("NOTIFY_SOCKET", path, 1);
    err e;
    err_clear(&e);
    ck_assert_int_eq(notify_send("READY=1\nSTATUS=serving", &e), ERR_OK);
    recv_eq(fd, "READY=1\nSTATUS=serving");
    ck_assert_int_eq(notify_sendf(&e, "RELOADING=1\nMONOTONIC_USEC=%llu", 42ull), ERR_OK);
    recv_eq(fd, "RELOADING=1\nMONOTONIC_USEC=42");
    close(fd);
    unlink(path);
    /* Nobody listens any more: an error, not a crash. */
    ck_assert_int_eq(notify_send("STOPPING=1", &e), ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.message, path));
}
END_TEST

START_TEST(sends_to_an_abstract_socket)
{
    char name[64];
    snprintf(name, sizeof name, "@odeserve-notify-test-%ld", (long)getpid());
    int fd = bind_notify(name);
    setenv("NOTIFY_SOCKET", name, 1);
    ck_assert_int_eq(notify_send("STOPPING=1", NULL), ERR_OK);
    recv_eq(fd, "STOPPING=1");
    close(fd);
}
END_TEST

START_TEST(unset_is_a_no_op_and_bad_is_an_error)
{
    unsetenv("NOTIFY_SOCKET");
    ck_assert_int_eq(notify_send("READY=1", NULL), ERR_OK);
    setenv("NOTIFY_SOCKET", "", 1);
    ck_assert_int_eq(notify_send("READY=1", NULL), ERR_OK);
    err e;
    err_clear(&e);
    setenv("NOTIFY_SOCKET", "relative/path", 1);
    ck_assert_int_eq(notify_send("READY=1", &e), ERR_IO);
    ck_assert_str_eq(e.field, "NOTIFY_SOCKET");
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    err_clear(&e);
    ck_assert_int_eq(notify_sendf(&e, "STATUS=%s", big), ERR_INVALID);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("notify");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, sends_to_a_path);
    tcase_add_test(tc, sends_to_an_abstract_socket);
    tcase_add_test(tc, unset_is_a_no_op_and_bad_is_an_error);
    suite_add_tcase(s, tc);
    return tu_suite_run(s);
}
