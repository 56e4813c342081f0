/* check_daemon: the odeserved binary as an operator and systemd see it:
 * --help/--version, --check-config and its exit codes, start-up errors,
 * `migrate`, sd_notify (READY=1, RELOADING=1 + MONOTONIC_USEC, STOPPING=1)
 * on a datagram socket this test binds, and SIGHUP reloads. */
#include "build_config.h" /* autoconf: PACKAGE_VERSION */

#include <check.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "testutil.h"

static tu_daemon d;

static void cleanup(void)
{
    tu_daemon_cleanup(&d);
}

/* Run odeserved to completion; expect `status` and `part` in its output. */
static void run_expect(const char *const *args, const char *const *env, int status,
                       const char *part)
{
    char *out = NULL;
    int st = tu_run_daemon(args, env, &out);
    ck_assert_msg(st == status, "exit %d, want %d; output:\n%s", st, status, out ? out : "");
    if (part) ck_assert_msg(out && strstr(out, part), "output lacks '%s':\n%s", part, out);
    free(out);
}

static const char *shipped_conf(void)
{
    static char path[512];
    return tu_source_path(path, sizeof path, "etc/odeserve.conf");
}

/* ---- the command line ---- */

START_TEST(help_and_version)
{
    const char *v[] = {"--version", NULL};
    char want[64];
    snprintf(want, sizeof want, "odeserved %s\n", PACKAGE_VERSION);
    run_expect(v, NULL, 0, want);
    const char *h[] = {"--help", NULL};
    run_expect(h, NULL, 0, "--per-ip-connection-limit");
    const char *bad[] = {"--frobnicate", NULL};
    run_expect(bad, NULL, 2, "unknown option '--frobnicate'");
    const char *cmd[] = {"serve", NULL};
    run_expect(cmd, NULL, 2, "unexpected argument 'serve'");
}
END_TEST

START_TEST(check_config_exit_codes)
{
    const char *ok[] = {"--config", shipped_conf(), "--check-config", NULL};
    run_expect(ok, NULL, 0, "event=config_ok");

    ck_assert_int_eq(tu_daemon_init(&d), 0);
    char path[400];
    snprintf(path, sizeof path, "%s/bad.conf", d.dir);
    ck_assert_int_eq(tu_write_file(path, "# test\nlog_level = info\nfrobs = 3\n"), 0);
    const char *bad[] = {"--config", path, "--check-config", NULL};
    char want[500];
    snprintf(want, sizeof want, "%s:3: unknown key 'frobs'", path);
    run_expect(bad, NULL, 2, want);

    ck_assert_int_eq(tu_write_file(path, "http_threads = 257\n"), 0);
    run_expect(bad, NULL, 2, ":1: http_threads: expected an integer from 0 to 256, got '257'");

    const char *missing[] = {"--config", "/nonexistent/x.conf", "--check-config", NULL};
    run_expect(missing, NULL, 2, "/nonexistent/x.conf: cannot open");

    /* Environment and command line are checked too, and win over the file. */
    const char *env_bad[] = {"ODESERVE_CONNECTION_LIMIT=none", NULL};
    run_expect(ok, env_bad, 2, "environment ODESERVE_CONNECTION_LIMIT: connection_limit: expected");
    const char *cli_bad[] = {"--config", shipped_conf(),   "--log-level",
                             "loud",     "--check-config", NULL};
    run_expect(cli_bad, NULL, 2, "option --log-level: log_level: expected one of");
}
END_TEST

/* End to end: command line > environment > file > default, as the binary
 * reports its effective settings. */
START_TEST(precedence_end_to_end)
{
    ck_assert_int_eq(tu_daemon_init(&d), 0);
    char path[400];
    snprintf(path, sizeof path, "%s/p.conf", d.dir);
    ck_assert_int_eq(tu_write_file(path, "http_threads = 3\nlog_level = warn\n"
                                         "connection_timeout = 7\ndb_busy_timeout = 11\n"),
                     0);
    const char *env[] = {"ODESERVE_HTTP_THREADS=5", "ODESERVE_CONNECTION_TIMEOUT=8", NULL};
    char *out = NULL;
    /* The file says warn, which would hide the info line: --log-level wins. */
    const char *args2[] = {"--config",         path, "--check-config", "--connection-timeout", "9",
                           "--log-level=info", NULL};
    ck_assert_int_eq(tu_run_daemon(args2, env, &out), 0);
    ck_assert_msg(strstr(out, " http_threads=5 "), "env over file: %s", out);
    ck_assert_msg(strstr(out, " connection_timeout=9 "), "cli over env: %s", out);
    ck_assert_msg(strstr(out, " db_busy_timeout=11 "), "file over default: %s", out);
    ck_assert_msg(strstr(out, " connection_limit=512 "), "default: %s", out);
    ck_assert_msg(strstr(out, " log_level=info "), "cli: %s", out);
    free(out);
}
END_TEST

/* http_threads = 0 starts one HTTP thread per online CPU, at least 2 (the
 * listening line says how many); a set value is taken as it is. */
START_TEST(http_threads_default_is_the_cpus)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int want = cpus < 2 ? 2 : (int)cpus;
    char needle[64];
    snprintf(needle, sizeof needle, " http_threads=%d ", want);
    ck_assert_int_eq(tu_daemon_start(&d, NULL, NULL), 0);
    ck_assert_msg(tu_wait_log(&d, needle, 30) == 0, "want%s", needle);
    ck_assert_int_eq(tu_daemon_kill(&d, SIGTERM), 0);
    ck_assert_int_eq(tu_daemon_wait(&d, 20.0), 0);
    tu_daemon_cleanup(&d);
    memset(&d, 0, sizeof d);
    const char *args[] = {"--http-threads", "3", NULL};
    ck_assert_int_eq(tu_daemon_start(&d, args, NULL), 0);
    ck_assert_int_eq(tu_wait_log(&d, " http_threads=3 ", 30), 0);
}
END_TEST

START_TEST(start_failures)
{
    ck_assert_int_eq(tu_daemon_init(&d), 0);
    /* The database directory does not exist. */
    const char *nodir[] = {"--listen", "127.0.0.1:0", "--db", "/nonexistent/dir/x.db", NULL};
    run_expect(nodir, NULL, 1, "event=start_failed");

    /* The port is taken. */
    ck_assert_int_eq(tu_daemon_start(&d, NULL, NULL), 0);
    char listen[64], db2[400];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", d.port);
    snprintf(db2, sizeof db2, "%s/second.db", d.dir);
    const char *taken[] = {"--listen", listen, "--db", db2, NULL};
    run_expect(taken, NULL, 1, "Address already in use");

    /* The database is another daemon's (this one's): neither a second
     * daemon nor a migration may open it. */
    const char *shared[] = {"--listen", "127.0.0.1:0", "--db", d.db, NULL};
    run_expect(shared, NULL, 1, "is in use by another process");
    const char *mig[] = {"migrate", "--db", d.db, NULL};
    run_expect(mig, NULL, 1, "event=migrate_failed code=conflict");
    ck_assert_int_eq(tu_daemon_kill(&d, SIGTERM), 0);
    ck_assert_int_eq(tu_daemon_wait(&d, 30), 0);
    /* ... until it has stopped */
    run_expect(mig, NULL, 0, "event=migrate_done");
}
END_TEST

START_TEST(migrate_command)
{
    ck_assert_int_eq(tu_daemon_init(&d), 0);
    const char *m[] = {"migrate", "--db", d.db, NULL};
    run_expect(m, NULL, 0, "event=migrated from=0 to=");
    run_expect(m, NULL, 0, "event=schema_current version=");
    const char *nodb[] = {"migrate", "--db", "/nonexistent/dir/x.db", NULL};
    run_expect(nodb, NULL, 1, "event=migrate_failed");
}
END_TEST

/* ---- sd_notify and SIGHUP ---- */

static int notify_fd = -1;
static char notify_name[400];

static void bind_notify(int abstract)
{
    notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(notify_fd, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (abstract)
        snprintf(notify_name, sizeof notify_name, "@odeserve-test-%ld", (long)getpid());
    else
        snprintf(notify_name, sizeof notify_name, "%s/notify.sock", d.dir);
    size_t len = strlen(notify_name);
    ck_assert_uint_lt(len, sizeof sa.sun_path);
    memcpy(sa.sun_path, notify_name, len);
    if (abstract) sa.sun_path[0] = '\0';
    socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + !abstract);
    ck_assert_int_eq(bind(notify_fd, (struct sockaddr *)&sa, sl), 0);
}

/* Next datagram (10 s at most); it must contain `part`. */
static void expect_notify(const char *part, char *out, size_t n)
{
    struct pollfd p = {.fd = notify_fd, .events = POLLIN};
    ck_assert_msg(poll(&p, 1, 10000) == 1, "no notification (waiting for %s)", part);
    char buf[4200];
    ssize_t r = recv(notify_fd, buf, sizeof buf - 1, 0);
    ck_assert_int_gt(r, 0);
    buf[r] = '\0';
    ck_assert_msg(strstr(buf, part), "notification '%s' lacks '%s'", buf, part);
    if (out) snprintf(out, n, "%s", buf);
}

static void notify_cycle(int abstract)
{
    ck_assert_int_eq(tu_daemon_init(&d), 0);
    bind_notify(abstract);
    char env_notify[450];
    snprintf(env_notify, sizeof env_notify, "NOTIFY_SOCKET=%s", notify_name);
    const char *env[] = {env_notify, NULL};
    ck_assert_int_eq(tu_daemon_start(&d, NULL, env), 0);
    char msg[4200];
    expect_notify("READY=1", msg, sizeof msg);
    ck_assert_ptr_nonnull(strstr(msg, "STATUS=serving on 127.0.0.1:"));

    ck_assert_int_eq(tu_daemon_kill(&d, SIGHUP), 0);
    expect_notify("RELOADING=1", msg, sizeof msg);
    const char *usec = strstr(msg, "MONOTONIC_USEC=");
    ck_assert_ptr_nonnull(usec);
    ck_assert(strtoull(usec + strlen("MONOTONIC_USEC="), NULL, 10) > 0);
    expect_notify("READY=1", NULL, 0);

    ck_assert_int_eq(tu_daemon_kill(&d, SIGTERM), 0);
    expect_notify("STOPPING=1", NULL, 0);
    ck_assert_int_eq(tu_daemon_wait(&d, 30), 0);
    close(notify_fd);
}

START_TEST(notify_path_socket)
{
    notify_cycle(0);
}
END_TEST

START_TEST(notify_abstract_socket)
{
    notify_cycle(1);
}
END_TEST

/* SIGHUP re-reads the file: log_level applies at once, a key that needs a
 * restart is reported, an invalid file is refused and the old settings
 * stay. */
START_TEST(sighup_reloads)
{
    ck_assert_int_eq(tu_daemon_init(&d), 0);
    char conf[400];
    snprintf(conf, sizeof conf, "%s/odeserve.conf", d.dir);
    ck_assert_int_eq(tu_write_file(conf, "log_level = info\nhttp_threads = 2\n"), 0);
    const char *args[] = {"--config", conf, NULL};
    const char *env[] = {"ODESERVE_TEST_ROUTES=1", NULL};
    ck_assert_int_eq(tu_daemon_start(&d, args, env), 0);

    tu_response r;
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/test/eval?ms=0", NULL, NULL, &r), 0);
    tu_response_free(&r);
    ck_assert_int_eq(tu_log_count(&d, "level=debug"), 0);

    ck_assert_int_eq(tu_write_file(conf, "log_level = debug\nhttp_threads = 4\n"
                                         "max_body_size = 1M\n"),
                     0);
    ck_assert_int_eq(tu_daemon_kill(&d, SIGHUP), 0);
    ck_assert_int_eq(tu_wait_log(&d, "event=reloaded changed=2", 30), 0);
    ck_assert_int_eq(tu_log_count(&d, "event=config_changed key=log_level old=info new=debug"), 1);
    ck_assert_int_eq(tu_log_count(&d, "event=config_changed key=max_body_size old=16M new=1M"), 1);
    ck_assert_int_eq(tu_log_count(&d, "event=config_needs_restart key=http_threads running=2 "
                                      "file=4"),
                     1);
    const char *hid[] = {"X-Request-Id: after-reload", NULL};
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/test/eval?ms=0", hid, NULL, &r), 0);
    tu_response_free(&r);
    ck_assert_int_eq(tu_wait_log(&d, "level=debug event=deferred request_id=after-reload", 30), 0);

    /* The new cap is in force: 2 MB announced -> 413. */
    const char *big[] = {"Content-Type: application/json", "Content-Length: 2000000", NULL};
    tu_conn *c = tu_connect("127.0.0.1", d.port);
    ck_assert_int_eq(tu_send(c, "POST", "/v1/test/echo", big, NULL, 0), 0);
    ck_assert_int_eq(tu_recv(c, &r, 10), 0);
    ck_assert_int_eq(r.status, 413);
    tu_response_free(&r);
    tu_close(c);

    /* A broken file: refused with its line, the daemon keeps serving. */
    ck_assert_int_eq(tu_write_file(conf, "log_level = info\nlog_level = warn\n"), 0);
    ck_assert_int_eq(tu_daemon_kill(&d, SIGHUP), 0);
    ck_assert_int_eq(tu_wait_log(&d, "event=reload_failed", 30), 0);
    ck_assert_int_eq(tu_log_count(&d, "odeserve.conf:2: duplicate key 'log_level'"), 1);
    ck_assert_int_eq(tu_http(d.port, "GET", "/healthz", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_response_free(&r);
    ck_assert_int_eq(tu_daemon_kill(&d, SIGTERM), 0);
    ck_assert_int_eq(tu_daemon_wait(&d, 30), 0);
}
END_TEST

/* A thread of the daemon's process that does not block SIGHUP, other than
 * the main thread (which waits for it): OpenBLAS's pool threads start in a
 * library constructor, before main() can set the mask. 0 if none. */
static pid_t foreign_thread(pid_t pid)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%ld/task", (long)pid);
    DIR *dp = opendir(dir);
    if (!dp) return 0;
    pid_t found = 0;
    struct dirent *de;
    while (!found && (de = readdir(dp))) {
        long tid = atol(de->d_name);
        if (tid <= 0 || tid == pid) continue;
        char path[128];
        snprintf(path, sizeof path, "%s/%ld/status", dir, tid);
        char *st = tu_read_file(path, NULL);
        const char *blk = st ? strstr(st, "SigBlk:") : NULL;
        if (blk && !(strtoull(blk + 7, NULL, 16) & (1ull << (SIGHUP - 1)))) found = (pid_t)tid;
        free(st);
    }
    closedir(dp);
    return found;
}

/* A SIGHUP or SIGTERM that the kernel hands to such a thread (it does
 * whenever the main thread is not inside sigwait) must still reach the
 * main thread: without forwarding, the default action would kill the
 * process. The test sends them straight to the foreign thread. */
START_TEST(signals_on_foreign_threads_are_forwarded)
{
    const char *env[] = {"OPENBLAS_NUM_THREADS=2", NULL};
    ck_assert_int_eq(tu_daemon_start(&d, NULL, env), 0);
    ck_assert_int_eq(tu_wait_log(&d, "event=ready", 30), 0);
    pid_t tid = foreign_thread(d.pid);
    if (tid == 0) { /* a single-threaded BLAS: nothing to forward from */
        ck_assert_int_eq(tu_daemon_kill(&d, SIGTERM), 0);
        ck_assert_int_eq(tu_daemon_wait(&d, 30), 0);
        return;
    }
    ck_assert_int_eq(syscall(SYS_tgkill, d.pid, tid, SIGHUP), 0);
    ck_assert_int_eq(tu_wait_log(&d, "event=reloaded", 30), 0);
    ck_assert_int_eq(syscall(SYS_tgkill, d.pid, tid, SIGTERM), 0);
    int st = tu_daemon_wait(&d, 30);
    ck_assert_msg(st == 0, "exit status %d", st);
    ck_assert_int_eq(tu_log_count(&d, "event=stopped exit=0"), 1);
}
END_TEST

static Suite *daemon_suite(void)
{
    Suite *s = suite_create("daemon");
    TCase *core = tcase_create("core");
    tcase_add_checked_fixture(core, NULL, cleanup);
    tcase_set_timeout(core, 120);
    tcase_add_test(core, help_and_version);
    tcase_add_test(core, check_config_exit_codes);
    tcase_add_test(core, migrate_command);
    tcase_add_test(core, precedence_end_to_end);
    tcase_add_test(core, http_threads_default_is_the_cpus);
    suite_add_tcase(s, core);
    TCase *errors = tcase_create("errors");
    tcase_add_checked_fixture(errors, NULL, cleanup);
    tcase_set_timeout(errors, 120);
    tcase_add_test(errors, start_failures);
    suite_add_tcase(s, errors);
    TCase *sys = tcase_create("systemd");
    tcase_add_checked_fixture(sys, NULL, cleanup);
    tcase_set_timeout(sys, 120);
    tcase_add_test(sys, notify_path_socket);
    tcase_add_test(sys, notify_abstract_socket);
    tcase_add_test(sys, sighup_reloads);
    tcase_add_test(sys, signals_on_foreign_threads_are_forwarded);
    suite_add_tcase(s, sys);
    return s;
}

int main(void)
{
    return tu_suite_run(daemon_suite());
}
