/* tests/check_large_body.c: memory per request against the real daemon.
 *
 * Large bodies (large_body_size and more) are admitted at most
 * large_body_concurrency at a time, the rest answered 503 with Retry-After
 * before their body is read; and the memory a large request used is handed
 * back, so the daemon's RSS after a run of maximal bodies stays within a
 * bound of its idle value (docs/operations.md, "Memory"). The bound is a
 * correctness one, generous, not a measure of speed. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

/* RSS of pid in KiB, from /proc; -1 when unreadable. */
static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1) break;
    fclose(f);
    return kib;
}

/* A trajectory request of about `bytes` bytes: a time list of
 * 17-character numbers, the shape of a client's largest request. */
static char *big_request(size_t bytes, size_t *len)
{
    char *b = malloc(bytes + 64);
    ck_assert_ptr_nonnull(b);
    size_t n = (size_t)sprintf(b, "{\"y0\": [1.0, 0.0], \"t\": [");
    for (unsigned i = 0; n + 40 < bytes; i++)
        n += (size_t)sprintf(b + n, "%s%.15f", i ? "," : "", 0.001 * (i % 9973));
    n += (size_t)sprintf(b + n, "]}");
    *len = n;
    return b;
}

/* A dataset upload of at most `bytes` bytes (about four fifths of it):
 * one series of 2 channels, the values 17 characters long as a client's
 * encoder writes them. */
static char *big_dataset(size_t bytes, size_t *len)
{
    char *b = malloc(bytes + 64);
    ck_assert_ptr_nonnull(b);
    size_t n = (size_t)sprintf(b, "{\"series\": [{\"t\": [");
    size_t count = (bytes - 64) / 60;
    for (size_t i = 0; i < count; i++)
        n += (size_t)sprintf(b + n, "%s%zu.5", i ? "," : "", i);
    n += (size_t)sprintf(b + n, "], \"y\": [");
    for (size_t i = 0; i < count; i++)
        n += (size_t)sprintf(b + n, "%s[%.15f,%.15f]", i ? "," : "", 0.001 * (double)(i % 997),
                             -0.002 * (double)(i % 991));
    n += (size_t)sprintf(b + n, "]}]}");
    ck_assert_uint_le(n, bytes + 64);
    *len = n;
    return b;
}

START_TEST(concurrent_large_bodies_are_capped)
{
    tu_daemon d = {0};
    const char *args[] = {"--large-body-size", "64K", "--large-body-concurrency", "1", NULL};
    ck_assert_int_eq(tu_daemon_start(&d, args, NULL), 0);
    size_t len;
    char *body = big_request(200 * 1024, &len);
    const char *h[] = {"Content-Type: application/json", NULL};

    /* the first holds the only slot while its body is still coming: its
     * 100 Continue comes once the daemon has admitted it */
    tu_conn *a = tu_connect("127.0.0.1", d.port);
    ck_assert_ptr_nonnull(a);
    char head[256];
    int hn = snprintf(head, sizeof head,
                      "POST /v1/datasets/first HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      "application/json\r\nExpect: 100-continue\r\nContent-Length: %zu\r\n\r\n",
                      len);
    ck_assert_int_eq(tu_send_raw(a, head, (size_t)hn), 0);
    ck_assert(tu_readable(a, 10));
    char cont[64] = {0};
    ck_assert_int_gt(recv(tu_conn_fd(a), cont, sizeof cont - 1, 0), 0);
    ck_assert_msg(strncmp(cont, "HTTP/1.1 100", 12) == 0, "got %s", cont);
    ck_assert_int_eq(tu_send_raw(a, body, 1000), 0);

    /* a second large one is refused before its body is read */
    tu_response r;
    tu_conn *b = tu_connect("127.0.0.1", d.port);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(tu_send(b, "POST", "/v1/models/spiral/trajectory", h, body, len), 0);
    ck_assert_int_eq(tu_recv(b, &r, 10), 0);
    ck_assert_int_eq(r.status, 503);
    char v[32];
    ck_assert_ptr_nonnull(tu_header(&r, "Retry-After", v, sizeof v));
    ck_assert_int_ge(atoi(v), 1);
    ck_assert_ptr_nonnull(strstr(r.body, "\"unavailable\""));
    ck_assert_ptr_nonnull(strstr(r.body, "large request bodies"));
    tu_response_free(&r);
    tu_close(b);

    /* a small one still goes through */
    ck_assert_int_eq(tu_http(d.port, "POST", "/v1/models/spiral/trajectory", h,
                             "{\"y0\": [1, 0], \"t\": [1]}", &r),
                     0);
    ck_assert_int_eq(r.status, 404); /* no such model: past admission */
    tu_response_free(&r);

    /* the first completes (an invalid dataset: 422), and gives its slot back */
    ck_assert_int_eq(tu_send_raw(a, body + 1000, len - 1000), 0);
    ck_assert_int_eq(tu_recv(a, &r, 30), 0);
    ck_assert_int_eq(r.status, 422);
    tu_response_free(&r);
    tu_close(a);
    /* the slot returns when the request completes, just after its reply */
    int status = 0;
    for (int i = 0; i < 300 && status != 404; i++) { /* up to 30 s on a loaded machine */
        if (i) usleep(100 * 1000);
        tu_conn *c = tu_connect("127.0.0.1", d.port);
        ck_assert_int_eq(tu_request(c, "POST", "/v1/models/spiral/trajectory", h, body, len, &r),
                         0);
        status = r.status;
        ck_assert(status == 404 || status == 503);
        tu_response_free(&r);
        tu_close(c);
    }
    ck_assert_int_eq(status, 404);

    free(body);
    tu_daemon_cleanup(&d);
}
END_TEST

/* RSS after 20 large dataset uploads (13 MB, near max_body_size; each
 * parsed, decoded, stored, then deleted) ends within twice the idle value
 * plus one maximal body (the bound of docs/operations.md, "Memory per
 * request"; without the trim it ends hundreds of MiB above, and without the
 * fixed mmap threshold the threads' arenas keep about 80 MiB). */
#define LARGE_BODY_RSS_SLACK_MIB 16
START_TEST(memory_is_handed_back)
{
    tu_daemon d = {0};
    ck_assert_int_eq(tu_daemon_start(&d, NULL, NULL), 0);
    const char *h[] = {"Content-Type: application/json", NULL};
    tu_response r;
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/datasets", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_response_free(&r);
    long idle = rss_kib(d.pid);
    ck_assert_int_gt(idle, 0);

    size_t len;
    char *body = big_dataset(16 * 1024 * 1024 - 4096, &len);
    tu_conn *c = tu_connect("127.0.0.1", d.port);
    ck_assert_ptr_nonnull(c);
    for (int i = 0; i < 20; i++) {
        ck_assert_int_eq(tu_request(c, "POST", "/v1/datasets/big", h, body, len, &r), 0);
        ck_assert_msg(r.status == 201, "upload %d: %d %s", i, r.status, r.body);
        tu_response_free(&r);
        ck_assert_int_eq(tu_request(c, "DELETE", "/v1/datasets/big", NULL, NULL, 0, &r), 0);
        ck_assert_int_eq(r.status, 200);
        tu_response_free(&r);
    }
    tu_close(c);
    free(body);
    long after = rss_kib(d.pid);
    fprintf(stderr, "memory_is_handed_back: idle %ld KiB, after 20 bodies of %zu bytes %ld KiB\n",
            idle, len, after);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    /* the sanitizer's allocator (its quarantine, its own arenas) owns the
     * daemon's memory here: what glibc's malloc_trim hands back is not
     * what this build measures, so only the uploads above are checked */
    fprintf(stderr, "memory_is_handed_back: RSS bound skipped (the sanitizer owns malloc)\n");
#else
    ck_assert_int_le(after, 2 * idle + LARGE_BODY_RSS_SLACK_MIB * 1024);
#endif
    tu_daemon_cleanup(&d);
}
END_TEST

/* Peak RSS (VmHWM, in KiB) since the last reset; -1 when unreadable. */
static long hwm_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld", &kib) == 1) break;
    fclose(f);
    return kib;
}

/* One dataset upload of 12 MiB peaks at most UPLOAD_PEAK_MULTIPLE times its
 * body above the idle daemon (the bound of docs/operations.md, "Memory per
 * request": the body, its packed numbers, the decoded arrays, the store's
 * rows; a tree of a node per number took 7-8 times). The peak is the
 * kernel's high-water mark of the daemon's RSS, reset just before. */
#define UPLOAD_PEAK_MULTIPLE 3
START_TEST(one_upload_peak_is_bounded)
{
    tu_daemon d = {0};
    ck_assert_int_eq(tu_daemon_start(&d, NULL, NULL), 0);
    const char *h[] = {"Content-Type: application/json", NULL};
    tu_response r;
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/datasets", NULL, NULL, &r), 0);
    tu_response_free(&r);
    size_t len;
    char *body = big_dataset(15 * 1024 * 1024, &len); /* about four fifths: 12 MiB */
    long idle = rss_kib(d.pid);
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/clear_refs", (long)d.pid);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs("5", f) >= 0, 1); /* 5: reset the peak RSS */
    ck_assert_int_eq(fclose(f), 0);
    tu_conn *c = tu_connect("127.0.0.1", d.port);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(tu_request(c, "POST", "/v1/datasets/big", h, body, len, &r), 0);
    tu_close(c);
    ck_assert_msg(r.status == 201, "%d %s", r.status, r.body);
    tu_response_free(&r);
    long peak = hwm_kib(d.pid);
    fprintf(stderr,
            "one_upload_peak_is_bounded: idle %ld KiB, peak %ld KiB, body %zu bytes: %.2f x\n",
            idle, peak, len, (double)(peak - idle) * 1024 / (double)len);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    fprintf(stderr, "one_upload_peak_is_bounded: bound skipped (the sanitizer owns malloc)\n");
#else
    ck_assert_int_le((peak - idle) * 1024, (long)(UPLOAD_PEAK_MULTIPLE * len));
#endif
    free(body);
    tu_daemon_cleanup(&d);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("large_body");
    TCase *t = tcase_create("daemon");
    tcase_set_timeout(t, 600);
    tcase_add_test(t, concurrent_large_bodies_are_capped);
    tcase_add_test(t, memory_is_handed_back);
    tcase_add_test(t, one_upload_peak_is_bounded);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
