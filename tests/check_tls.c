/* check_tls: odeserved serving HTTPS (tls_cert, tls_key), spoken to by a
 * GnuTLS client that verifies the server against the self-signed
 * certificate, and by curl --cacert.
 *
 * Certificates are made at test time by `openssl req -x509` (P-256 keys,
 * subjectAltName 127.0.0.1). The served certificate is told apart by the
 * SHA-256 fingerprint of what the handshake delivered, compared with
 * `openssl x509 -fingerprint` of the file: before and after a SIGHUP
 * reload, after a reload with a bad pair (the old one must still serve),
 * and on a keep-alive connection opened before the reload (it keeps
 * working: no downtime). Also: plain HTTP to the TLS port fails cleanly
 * and the daemon serves on; a key of another certificate, one file
 * without the other, or a missing file refuse to start, naming the key.
 *
 * Skipped (exit 77) when openssl is missing or this build has no TLS. */
#include "build_config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "testutil.h"

static tu_daemon d;

static void cleanup(void)
{
    tu_daemon_cleanup(&d);
}

/* Run a shell command quietly; its exit status. */
static int sh(const char *fmt, const char *a, const char *b)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    char full[2100];
    snprintf(full, sizeof full, "(%s) >/dev/null 2>&1", cmd);
    int st = system(full);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A self-signed certificate and its key as dir/<name>.crt, dir/<name>.key. */
static void make_cert(const char *name, const char *cn)
{
    char cmd[1500];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
             "-nodes -keyout %s.key -out %s.crt -days 2 -subj /CN=%s "
             "-addext subjectAltName=IP:127.0.0.1,DNS:localhost",
             d.dir, name, name, cn);
    ck_assert_msg(sh("%s%s", cmd, "") == 0, "openssl req failed: %s", cmd);
}

/* `openssl x509 -fingerprint -sha256` of dir/<name>.crt: "AB:CD:..." */
static void file_fingerprint(const char *name, char *out, size_t n)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "openssl x509 -noout -fingerprint -sha256 -in '%s/%s.crt'", d.dir,
             name);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[256] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof line, p));
    pclose(p);
    char *eq = strchr(line, '=');
    ck_assert_ptr_nonnull(eq);
    snprintf(out, n, "%s", eq + 1);
    out[strcspn(out, "\r\n")] = '\0';
}

static void path_of(char *buf, size_t n, const char *file)
{
    snprintf(buf, n, "%s/%s", d.dir, file);
}

/* Make `name` the pair the daemon reads (server.crt/server.key), each file
 * replaced by rename, as a certificate manager does. */
static void install(const char *name)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && cp %s.key server.key.new && mv server.key.new server.key && "
             "cp %s.crt server.crt.new && mv server.crt.new server.crt",
             d.dir, name, name);
    ck_assert_int_eq(sh("%s%s", cmd, ""), 0);
}

static void start_tls(void)
{
    char crt[400], key[400];
    path_of(crt, sizeof crt, "server.crt");
    path_of(key, sizeof key, "server.key");
    const char *args[] = {"--tls-cert", crt, "--tls-key", key, NULL};
    if (tu_daemon_start(&d, args, NULL) != 0) {
        char *log = tu_read_file(d.log, NULL);
        ck_abort_msg("daemon did not start; log:\n%s", log ? log : "(none)");
    }
}

/* ---- a GnuTLS client ---- */

typedef struct tls_conn {
    int fd;
    gnutls_session_t s;
    gnutls_certificate_credentials_t cred;
    char fingerprint[100]; /* the served leaf certificate's SHA-256 */
} tls_conn;

static void tls_close(tls_conn *c)
{
    if (c->s) {
        gnutls_bye(c->s, GNUTLS_SHUT_WR);
        gnutls_deinit(c->s);
    }
    if (c->cred) gnutls_certificate_free_credentials(c->cred);
    if (c->fd >= 0) close(c->fd);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

/* Connect, handshake, verify the server against `ca` for 127.0.0.1.
 * 0, or a GnuTLS error code (negative). */
static int tls_open_prio(tls_conn *c, int port, const char *ca, const char *prio);

static int tls_open(tls_conn *c, int port, const char *ca)
{
    return tls_open_prio(c, port, ca, NULL);
}

/* tls_open with the client's GnuTLS priority string (NULL: the default). */
static int tls_open_prio(tls_conn *c, int port, const char *ca, const char *prio)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    ck_assert_int_eq(connect(c->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(gnutls_certificate_allocate_credentials(&c->cred), 0);
    ck_assert_int_ge(gnutls_certificate_set_x509_trust_file(c->cred, ca, GNUTLS_X509_FMT_PEM), 1);
    ck_assert_int_eq(gnutls_init(&c->s, GNUTLS_CLIENT), 0);
    if (prio)
        ck_assert_int_eq(gnutls_priority_set_direct(c->s, prio, NULL), 0);
    else
        ck_assert_int_eq(gnutls_set_default_priority(c->s), 0);
    ck_assert_int_eq(gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE, c->cred), 0);
    gnutls_session_set_verify_cert(c->s, "127.0.0.1", 0);
    gnutls_transport_set_int(c->s, c->fd);
    gnutls_handshake_set_timeout(c->s, 10000);
    int rc;
    do
        rc = gnutls_handshake(c->s);
    while (rc < 0 && !gnutls_error_is_fatal(rc));
    if (rc < 0) return rc;
    unsigned n = 0;
    const gnutls_datum_t *peer = gnutls_certificate_get_peers(c->s, &n);
    ck_assert(peer && n >= 1);
    unsigned char fp[32];
    size_t len = sizeof fp;
    ck_assert_int_eq(gnutls_fingerprint(GNUTLS_DIG_SHA256, &peer[0], fp, &len), 0);
    size_t o = 0;
    for (size_t i = 0; i < len; i++)
        o += (size_t)snprintf(c->fingerprint + o, sizeof c->fingerprint - o, "%s%02X",
                              i ? ":" : "", fp[i]);
    return 0;
}

/* GET path on the connection (keep-alive); the status, the body into
 * `body`. -1 when the connection fails. */
static int tls_get(tls_conn *c, const char *path, char *body, size_t bn)
{
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (gnutls_record_send(c->s, req, (size_t)n) != n) return -1;
    char buf[8192];
    size_t len = 0;
    for (;;) {
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            const char *cl = strcasestr(buf, "Content-Length:");
            size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
            size_t have = len - (size_t)(end + 4 - buf);
            if (have >= want) {
                snprintf(body, bn, "%.*s", (int)want, end + 4);
                return atoi(buf + 9);
            }
        }
        if (len + 1 >= sizeof buf) return -1;
        ssize_t r;
        do
            r = gnutls_record_recv(c->s, buf + len, sizeof buf - 1 - len);
        while (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED);
        if (r <= 0) return -1;
        len += (size_t)r;
    }
}

/* A new connection's handshake: the served fingerprint into fp, and a
 * /healthz over it answered 200. */
static void served_fingerprint(const char *ca, char *fp, size_t n)
{
    tls_conn c;
    int rc = tls_open(&c, d.port, ca);
    ck_assert_msg(rc == 0, "handshake: %s", gnutls_strerror(rc));
    char body[256];
    ck_assert_int_eq(tls_get(&c, "/healthz", body, sizeof body), 200);
    ck_assert_str_eq(body, "{\"status\":\"ok\"}");
    snprintf(fp, n, "%s", c.fingerprint);
    tls_close(&c);
}

/* ---- the tests ---- */

START_TEST(https_handshake_and_request)
{
    ck_assert_int_eq(tu_daemon_init(&d), 0);
    make_cert("one", "odeserve-one");
    install("one");
    start_tls();
    ck_assert_int_eq(tu_wait_log(&d, "scheme=https", 30), 0);
    char want[100], got[100], ca[400];
    file_fingerprint("one", want, sizeof want);
    path_of(ca, sizeof ca, "one.crt");
    served_fingerprint(ca, got, sizeof got);
    ck_assert_str_eq(got, want);
    char needle[200];
    snprintf(needle, sizeof needle, "event=tls_certificate fingerprint_sha256=%s", want);
    ck_assert_int_eq(tu_wait_log(&d, needle, 30), 0);

    /* a client that trusts another certificate refuses this server */
    make_cert("other", "odeserve-other");
    char other[400];
    path_of(other, sizeof other, "other.crt");
    tls_conn c;
    ck_assert_int_lt(tls_open(&c, d.port, other), 0);
    tls_close(&c);

    /* curl, as an operator would call it */
    char url[128], out[400];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/v1/version", d.port);
    path_of(out, sizeof out, "curl.out");
    char cmd[1500];
    snprintf(cmd, sizeof cmd, "curl -sS --fail --cacert '%s' -o '%s' %s", ca, out, url);
    ck_assert_int_eq(sh("%s%s", cmd, ""), 0);
    char *text = tu_read_file(out, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strstr(text, "\"name\":\"odeserved\""), "curl got: %s", text);
    free(text);
    ck_assert_int_eq(tu_daemon_kill(&d, SIGTERM), 0);
    ck_assert_int_eq(tu_daemon_wait(&d, 30), 0);
}
END_TEST

/* TLS 1.2 without forward secrecy (static RSA key exchange) or with a CBC
 * cipher, and TLS 1.1, are refused; TLS 1.2 with ECDHE and an AEAD cipher
 * is served (http_tls_priorities, docs/operations.md). */
START_TEST(weak_suites_refused)
{
    ck_assert_int_eq(tu_daemon_init(&d), 0);
    make_cert("one", "odeserve-one");
    install("one");
    start_tls();
    ck_assert_int_eq(tu_wait_log(&d, "scheme=https", 30), 0);
    char ca[400];
    path_of(ca, sizeof ca, "one.crt");
    static const char *const refused[] = {
        "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+RSA",
        "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-CBC:+AES-256-CBC",
        "NORMAL:-VERS-ALL:+VERS-TLS1.1",
    };
    tls_conn c;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        ck_assert_msg(tls_open_prio(&c, d.port, ca, refused[i]) < 0, "%s was served", refused[i]);
        tls_close(&c);
    }
    ck_assert_int_eq(tls_open_prio(&c, d.port, ca, "NORMAL:-VERS-ALL:+VERS-TLS1.2"), 0);
    char body[256];
    ck_assert_int_eq(tls_get(&c, "/healthz", body, sizeof body), 200);
    ck_assert_str_eq(gnutls_cipher_get_name(gnutls_cipher_get(c.s)), "AES-256-GCM");
    tls_close(&c);
    ck_assert_int_eq(tu_daemon_kill(&d, SIGTERM), 0);
    ck_assert_int_eq(tu_daemon_wait(&d, 30), 0);
}
END_TEST

START_TEST(sighup_swaps_the_certificate)
{
    ck_assert_int_eq(tu_daemon_init(&d), 0);
    make_cert("one", "odeserve-one");
    make_cert("two", "odeserve-two");
    install("one");
    start_tls();
    char fp1[100], fp2[100], got[100], ca1[400], ca2[400], body[256];
    file_fingerprint("one", fp1, sizeof fp1);
    file_fingerprint("two", fp2, sizeof fp2);
    ck_assert_str_ne(fp1, fp2);
    path_of(ca1, sizeof ca1, "one.crt");
    path_of(ca2, sizeof ca2, "two.crt");
    served_fingerprint(ca1, got, sizeof got);
    ck_assert_str_eq(got, fp1);

    /* a keep-alive connection made with the first certificate */
    tls_conn early;
    ck_assert_int_eq(tls_open(&early, d.port, ca1), 0);
    ck_assert_int_eq(tls_get(&early, "/healthz", body, sizeof body), 200);

    install("two");
    ck_assert_int_eq(tu_daemon_kill(&d, SIGHUP), 0);
    char needle[200];
    snprintf(needle, sizeof needle, "event=tls_reloaded fingerprint_sha256=%s", fp2);
    ck_assert_int_eq(tu_wait_log(&d, needle, 30), 0);
    served_fingerprint(ca2, got, sizeof got);
    ck_assert_str_eq(got, fp2);
    /* the connection from before the reload still serves */
    ck_assert_int_eq(tls_get(&early, "/healthz", body, sizeof body), 200);
    ck_assert_str_eq(early.fingerprint, fp1);
    tls_close(&early);

    /* a bad pair (the key of one, the certificate of two) is refused on
     * reload; the second certificate keeps serving */
    char cmd[1000];
    snprintf(cmd, sizeof cmd, "cd '%s' && cp one.key server.key", d.dir);
    ck_assert_int_eq(sh("%s%s", cmd, ""), 0);
    ck_assert_int_eq(tu_daemon_kill(&d, SIGHUP), 0);
    ck_assert_int_eq(tu_wait_log(&d, "event=tls_reload_failed", 30), 0);
    ck_assert_int_eq(tu_wait_log(&d, "does not belong to the certificate", 30), 0);
    served_fingerprint(ca2, got, sizeof got);
    ck_assert_str_eq(got, fp2);

    /* and garbage in place of the certificate */
    char crt[400];
    path_of(crt, sizeof crt, "server.crt");
    install("two");
    ck_assert_int_eq(tu_write_file(crt, "not a certificate\n"), 0);
    ck_assert_int_eq(tu_daemon_kill(&d, SIGHUP), 0);
    ck_assert_int_eq(tu_wait_log_count(&d, "event=tls_reload_failed", 2, 30.0), 2);
    ck_assert_int_eq(tu_log_count(&d, "expected PEM certificates"), 1);
    served_fingerprint(ca2, got, sizeof got);
    ck_assert_str_eq(got, fp2);
    ck_assert_int_eq(tu_daemon_kill(&d, SIGTERM), 0);
    ck_assert_int_eq(tu_daemon_wait(&d, 30), 0);
}
END_TEST

START_TEST(plain_http_to_the_tls_port)
{
    ck_assert_int_eq(tu_daemon_init(&d), 0);
    make_cert("one", "odeserve-one");
    install("one");
    start_tls();
    tu_response r;
    for (int i = 0; i < 3; i++) /* no reply, the connection closed: the client sees an error */
        ck_assert_int_eq(tu_http(d.port, "GET", "/healthz", NULL, NULL, &r), -1);
    char ca[400], got[100], want[100];
    path_of(ca, sizeof ca, "one.crt");
    file_fingerprint("one", want, sizeof want);
    served_fingerprint(ca, got, sizeof got);
    ck_assert_str_eq(got, want);
    ck_assert_int_eq(tu_daemon_kill(&d, SIGTERM), 0);
    ck_assert_int_eq(tu_daemon_wait(&d, 30), 0);
}
END_TEST

static void refuse(const char *cert, const char *key, const char *part)
{
    char db[400];
    path_of(db, sizeof db, "refused.db");
    const char *args[10] = {"--listen", "127.0.0.1:0", "--db", db};
    int n = 4;
    if (cert) args[n++] = "--tls-cert", args[n++] = cert;
    if (key) args[n++] = "--tls-key", args[n++] = key;
    args[n] = NULL;
    char *out = NULL;
    int st = tu_run_daemon(args, NULL, &out);
    ck_assert_msg(st == 1, "exit %d, want 1; output:\n%s", st, out ? out : "");
    ck_assert_msg(out && strstr(out, part), "output lacks '%s':\n%s", part, out);
    ck_assert_msg(strstr(out, "event=start_failed"), "no start_failed line:\n%s", out);
    free(out);
}

START_TEST(bad_pairs_refuse_to_start)
{
    ck_assert_int_eq(tu_daemon_init(&d), 0);
    make_cert("one", "odeserve-one");
    make_cert("two", "odeserve-two");
    char c1[400], k2[400], none[400];
    path_of(c1, sizeof c1, "one.crt");
    path_of(k2, sizeof k2, "two.key");
    path_of(none, sizeof none, "missing.pem");
    refuse(c1, k2, "tls_key: the key in");
    refuse(c1, k2, "does not belong to the certificate in");
    refuse(c1, NULL, "tls_cert and tls_key go together");
    refuse(NULL, k2, "tls_cert and tls_key go together");
    refuse(none, k2, "tls_cert: cannot read");
    refuse(k2, k2, "expected PEM certificates");
    refuse(c1, c1, "tls_key:");

    /* --check-config reads the files too, before a start or a reload */
    const char *check_bad[] = {"--tls-cert", c1, "--tls-key", k2, "--check-config", NULL};
    char *out = NULL;
    ck_assert_int_eq(tu_run_daemon(check_bad, NULL, &out), 2);
    ck_assert_msg(out && strstr(out, "does not belong to the certificate"), "%s", out);
    free(out);
    char k1[400];
    path_of(k1, sizeof k1, "one.key");
    const char *check_ok[] = {"--tls-cert", c1, "--tls-key", k1, "--check-config", NULL};
    ck_assert_int_eq(tu_run_daemon(check_ok, NULL, &out), 0);
    ck_assert_msg(out && strstr(out, "event=config_ok"), "%s", out);
    free(out);
}
END_TEST

/* A certificate whose validity ended in 2020, and its key: dir/old.crt,
 * dir/old.key (`openssl ca` sets the dates; `req -x509` cannot). */
static void make_expired_cert(void)
{
    char cmd[1500];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
             "-nodes -keyout old.key -out old.csr -subj /CN=localhost && : >ca.idx && "
             "echo 01 >ca.serial && printf '[ca]\\ndefault_ca=c\\n[c]\\ndatabase=ca.idx\\n"
             "new_certs_dir=.\\nserial=ca.serial\\ndefault_md=sha256\\npolicy=p\\n[p]\\n"
             "commonName=supplied\\n' >ca.cnf && openssl ca -config ca.cnf -selfsign "
             "-keyfile old.key -in old.csr -startdate 20200101000000Z -enddate "
             "20200201000000Z -batch -notext -out old.crt",
             d.dir);
    ck_assert_msg(sh("%s%s", cmd, "") == 0, "openssl ca failed: %s", cmd);
}

/* What serves but should not go unnoticed: an expired certificate, a key
 * every user may read. Both are warnings, from --check-config (which a
 * deployment runs before its SIGHUP) as from the daemon; a key readable by
 * its group (how a DynamicUser daemon gets it) is not. */
START_TEST(expired_and_exposed_are_warned)
{
    ck_assert_int_eq(tu_daemon_init(&d), 0);
    make_cert("one", "odeserve-one");
    make_expired_cert();
    char c1[400], k1[400], old_c[400], old_k[400];
    path_of(c1, sizeof c1, "one.crt");
    path_of(k1, sizeof k1, "one.key");
    path_of(old_c, sizeof old_c, "old.crt");
    path_of(old_k, sizeof old_k, "old.key");
    ck_assert_int_eq(chmod(k1, 0640), 0);
    ck_assert_int_eq(chmod(old_k, 0600), 0);
    char *out = NULL;
    const char *ok[] = {"--tls-cert", c1, "--tls-key", k1, "--check-config", NULL};
    ck_assert_int_eq(tu_run_daemon(ok, NULL, &out), 0);
    ck_assert_msg(!strstr(out, "level=warn"), "%s", out);
    free(out);
    const char *old[] = {"--tls-cert", old_c, "--tls-key", old_k, "--check-config", NULL};
    ck_assert_int_eq(tu_run_daemon(old, NULL, &out), 0);
    ck_assert_msg(strstr(out, "event=tls_certificate_expired") &&
                      strstr(out, "expires=1580515200") && strstr(out, "event=config_ok"),
                  "%s", out);
    free(out);
    ck_assert_int_eq(chmod(k1, 0644), 0);
    ck_assert_int_eq(tu_run_daemon(ok, NULL, &out), 0);
    ck_assert_msg(strstr(out, "event=tls_key_readable_by_others") && strstr(out, "mode=0644"), "%s",
                  out);
    free(out);
    /* the daemon says the same at start */
    const char *args[] = {"--tls-cert", c1, "--tls-key", k1, NULL};
    ck_assert_int_eq(tu_daemon_start(&d, args, NULL), 0);
    ck_assert_int_eq(tu_log_count(&d, "event=tls_key_readable_by_others"), 1);
    ck_assert_int_eq(tu_daemon_kill(&d, SIGTERM), 0);
    ck_assert_int_eq(tu_daemon_wait(&d, 30), 0);
}
END_TEST

START_TEST(version_says_tls)
{
    const char *v[] = {"--version", NULL};
    char *out = NULL;
    ck_assert_int_eq(tu_run_daemon(v, NULL, &out), 0);
    ck_assert_msg(out && strstr(out, "\ntls: GnuTLS "), "--version:\n%s", out);
    free(out);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tls");
    TCase *core = tcase_create("core");
    tcase_set_timeout(core, 120);
    tcase_add_checked_fixture(core, NULL, cleanup);
    tcase_add_test(core, https_handshake_and_request);
    tcase_add_test(core, sighup_swaps_the_certificate);
    tcase_add_test(core, weak_suites_refused);
    tcase_add_test(core, version_says_tls);
    suite_add_tcase(s, core);
    TCase *errors = tcase_create("errors");
    tcase_set_timeout(errors, 120);
    tcase_add_checked_fixture(errors, NULL, cleanup);
    tcase_add_test(errors, plain_http_to_the_tls_port);
    tcase_add_test(errors, bad_pairs_refuse_to_start);
    tcase_add_test(errors, expired_and_exposed_are_warned);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    if (system("openssl version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "check_tls: skipped: no openssl to make certificates with\n");
        return 77;
    }
    const char *v[] = {"--version", NULL};
    char *out = NULL;
    if (tu_run_daemon(v, NULL, &out) != 0 || !out || strstr(out, "tls: not supported")) {
        fprintf(stderr, "check_tls: skipped: this odeserved does not serve HTTPS\n%s",
                out ? out : "");
        free(out);
        return 77;
    }
    free(out);
    gnutls_global_init();
    int rc = tu_suite_run(suite());
    gnutls_global_deinit();
    return rc;
}
