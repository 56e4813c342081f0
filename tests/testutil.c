/* tests/testutil.c: see testutil.h. */
#include "testutil.h"

#include <arpa/inet.h>
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void nap(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* ---- HTTP client ---- */

struct tu_conn {
    int fd;
    char *buf; /* bytes read but not consumed */
    size_t len, cap;
};

tu_conn *tu_connect(const char *host, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) return NULL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return NULL;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return NULL;
    }
    tu_conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return NULL;
    }
    c->fd = fd;
    return c;
}

void tu_close(tu_conn *c)
{
    if (!c) return;
    close(c->fd);
    free(c->buf);
    free(c);
}

int tu_conn_fd(const tu_conn *c)
{
    return c->fd;
}

int tu_send_raw(tu_conn *c, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int has_header(const char *const *headers, const char *name)
{
    size_t n = strlen(name);
    for (; headers && *headers; headers++)
        if (strncasecmp(*headers, name, n) == 0 && (*headers)[n] == ':') return 1;
    return 0;
}

int tu_send(tu_conn *c, const char *method, const char *path, const char *const *headers,
            const void *body, size_t body_len)
{
    size_t cap = 512 + strlen(path);
    for (const char *const *h = headers; h && *h; h++)
        cap += strlen(*h) + 2;
    char *req = malloc(cap);
    if (!req) return -1;
    size_t o = (size_t)snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n", method, path);
    for (const char *const *h = headers; h && *h; h++)
        o += (size_t)snprintf(req + o, cap - o, "%s\r\n", *h);
    if (body && !has_header(headers, "Content-Length") && !has_header(headers, "Transfer-Encoding"))
        o += (size_t)snprintf(req + o, cap - o, "Content-Length: %zu\r\n", body_len);
    o += (size_t)snprintf(req + o, cap - o, "\r\n");
    int rc = tu_send_raw(c, req, o);
    free(req);
    if (rc == 0 && body && body_len) rc = tu_send_raw(c, body, body_len);
    return rc;
}

int tu_readable(tu_conn *c, double timeout_s)
{
    if (c->len > 0) return 1;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    return poll(&p, 1, (int)(timeout_s * 1000)) > 0;
}

/* Read more bytes into c->buf before `deadline`. 1 = got some, 0 = EOF,
 * -1 = timeout or error. */
static int fill(tu_conn *c, double deadline)
{
    double left = deadline - now_s();
    if (left <= 0) return -1;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    int pr = poll(&p, 1, (int)(left * 1000) + 1);
    if (pr <= 0) return -1;
    if (c->len + 4096 + 1 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8192;
        while (cap < c->len + 4096 + 1)
            cap *= 2;
        char *b = realloc(c->buf, cap);
        if (!b) return -1;
        c->buf = b;
        c->cap = cap;
    }
    ssize_t n = recv(c->fd, c->buf + c->len, 4096, 0);
    if (n < 0) return errno == EINTR ? 1 : (errno == ECONNRESET ? 0 : -1);
    if (n == 0) return 0;
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    return 1;
}

static void consume(tu_conn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
    c->buf[c->len] = '\0'; /* stale bytes must not look like a reply */
}

/* Wait until buf holds `need` bytes (or EOF). */
static int need_bytes(tu_conn *c, size_t need, double deadline, int *eof)
{
    while (c->len < need) {
        int f = fill(c, deadline);
        if (f < 0) return -1;
        if (f == 0) {
            *eof = 1;
            return -1;
        }
    }
    return 0;
}

static char *find_crlf(tu_conn *c, size_t from)
{
    for (size_t i = from; i + 1 < c->len; i++)
        if (c->buf[i] == '\r' && c->buf[i + 1] == '\n') return c->buf + i;
    return NULL;
}

static int read_chunked(tu_conn *c, tu_response *out, double deadline)
{
    int eof = 0;
    size_t blen = 0;
    char *body = malloc(1);
    if (!body) return -1;
    for (;;) {
        char *crlf;
        while (!(crlf = find_crlf(c, 0)))
            if (fill(c, deadline) <= 0) goto fail;
        size_t size = strtoul(c->buf, NULL, 16);
        consume(c, (size_t)(crlf - c->buf) + 2);
        if (size == 0) {
            while (!(crlf = find_crlf(c, 0))) /* trailers end with an empty line */
                if (fill(c, deadline) <= 0) goto fail;
            consume(c, (size_t)(crlf - c->buf) + 2);
            break;
        }
        if (need_bytes(c, size + 2, deadline, &eof) != 0) goto fail;
        char *nb = realloc(body, blen + size + 1);
        if (!nb) goto fail;
        body = nb;
        memcpy(body + blen, c->buf, size);
        blen += size;
        consume(c, size + 2);
    }
    body[blen] = '\0';
    out->body = body;
    out->body_len = blen;
    return 0;
fail:
    free(body);
    return -1;
}

/* The body's length by RFC 9112 6.3: none after HEAD or for 1xx, 204 and
 * 304 (whatever the headers say); else Content-Length, chunked, or up to
 * the server's close. A close-delimited body that has not ended by the
 * deadline is a failure, not a body: a keep-alive reply without a length
 * would otherwise read as a success only after the whole timeout. */
static int read_body(tu_conn *c, tu_response *out, const char *method_hint, double deadline)
{
    char v[64];
    int eof = 0;
    int is_head = method_hint && strcmp(method_hint, "HEAD") == 0;
    size_t n = 0;
    if (is_head || out->status / 100 == 1 || out->status == 204 || out->status == 304) {
        n = 0;
    } else if (tu_header(out, "Transfer-Encoding", v, sizeof v) && strcasecmp(v, "chunked") == 0) {
        return read_chunked(c, out, deadline);
    } else if (tu_header(out, "Content-Length", v, sizeof v)) {
        n = strtoul(v, NULL, 10);
        if (need_bytes(c, n, deadline, &eof) != 0) return -1;
    } else {
        int f;
        while ((f = fill(c, deadline)) > 0) {
        }
        if (f < 0) return -1;
        n = c->len;
    }
    out->body = malloc(n + 1);
    if (!out->body) return -1;
    memcpy(out->body, c->buf, n);
    out->body[n] = '\0';
    out->body_len = n;
    consume(c, n);
    return 0;
}

static int recv_one(tu_conn *c, tu_response *out, double deadline)
{
    memset(out, 0, sizeof *out);
    char *end;
    while (!(c->buf && (end = strstr(c->buf, "\r\n\r\n"))))
        if (fill(c, deadline) <= 0) return -1;
    size_t hlen = (size_t)(end - c->buf) + 4;
    out->head = malloc(hlen + 1);
    if (!out->head) return -1;
    memcpy(out->head, c->buf, hlen);
    out->head[hlen] = '\0';
    consume(c, hlen);
    if (sscanf(out->head, "HTTP/1.%*d %d", &out->status) != 1) {
        tu_response_free(out);
        return -1;
    }
    return 0;
}

int tu_recv(tu_conn *c, tu_response *out, double timeout_s)
{
    double deadline = now_s() + timeout_s;
    for (;;) {
        if (recv_one(c, out, deadline) != 0) return -1;
        if (out->status >= 200) break;
        tu_response_free(out); /* 100 Continue */
    }
    if (read_body(c, out, NULL, deadline) != 0) {
        tu_response_free(out);
        return -1;
    }
    return 0;
}

int tu_request(tu_conn *c, const char *method, const char *path, const char *const *headers,
               const void *body, size_t body_len, tu_response *out)
{
    memset(out, 0, sizeof *out);
    if (tu_send(c, method, path, headers, body, body_len) != 0) return -1;
    /* generous: a sanitized daemon on a loaded CI machine runs 5-20x
     * slower; a test that means "promptly" bounds the time itself */
    double deadline = now_s() + 60.0;
    for (;;) {
        if (recv_one(c, out, deadline) != 0) return -1;
        if (out->status >= 200) break;
        tu_response_free(out);
    }
    if (read_body(c, out, method, deadline) != 0) {
        tu_response_free(out);
        return -1;
    }
    return 0;
}

int tu_http(int port, const char *method, const char *path, const char *const *headers,
            const char *body, tu_response *out)
{
    memset(out, 0, sizeof *out);
    tu_conn *c = tu_connect("127.0.0.1", port);
    if (!c) return -1;
    int rc = tu_request(c, method, path, headers, body, body ? strlen(body) : 0, out);
    tu_close(c);
    return rc;
}

const char *tu_header(const tu_response *r, const char *name, char *buf, size_t n)
{
    size_t nl = strlen(name);
    const char *p = r->head ? strstr(r->head, "\r\n") : NULL;
    while (p && p[2] != '\r' && p[2] != '\0') {
        const char *line = p + 2;
        const char *eol = strstr(line, "\r\n");
        if (!eol) break;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            size_t vl = (size_t)(eol - v);
            while (vl > 0 && isspace((unsigned char)v[vl - 1]))
                vl--;
            if (vl >= n) vl = n - 1;
            memcpy(buf, v, vl);
            buf[vl] = '\0';
            return buf;
        }
        p = eol;
    }
    return NULL;
}

void tu_response_free(tu_response *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* ---- files ---- */

int tu_suite_run(struct Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

const char *tu_source_path(char *buf, size_t n, const char *rel)
{
    snprintf(buf, n, "%s/%s", tu_srcdir(), rel);
    return buf;
}

FILE *tu_source_open(const char *rel)
{
    char path[4096];
    FILE *f = fopen(tu_source_path(path, sizeof path, rel), "r");
    if (!f) fprintf(stderr, "cannot open %s: %s (set top_srcdir)\n", path, strerror(errno));
    return f;
}

const char *tu_builddir(void)
{
    const char *d = getenv("top_builddir");
    return d && *d ? d : ".";
}

const char *tu_srcdir(void)
{
    const char *d = getenv("top_srcdir");
    return d && *d ? d : ".";
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    while (b) {
        size_t r = fread(b + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
        if (n + 1 == cap) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!b) return NULL;
    b[n] = '\0';
    if (len) *len = n;
    return b;
}

int tu_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int ok = fputs(text, f) >= 0;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void tu_rmtree(const char *dir)
{
    if (dir && dir[0]) nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---- the daemon ---- */

int tu_daemon_init(tu_daemon *d)
{
    memset(d, 0, sizeof *d);
    const char *tmp = getenv("TMPDIR");
    snprintf(d->dir, sizeof d->dir, "%s/odeserve-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(d->dir)) {
        d->dir[0] = '\0';
        return -1;
    }
    snprintf(d->log, sizeof d->log, "%s/daemon.log", d->dir);
    snprintf(d->db, sizeof d->db, "%s/odeserve.db", d->dir);
    return 0;
}

/* argv: [wrapper words...] odeserved args... */
static char **build_argv(const char *const *args, char **wrapper_copy)
{
    size_t n = 0, w = 0;
    for (const char *const *a = args; a && *a; a++)
        n++;
    const char *wrap = getenv("ODESERVE_TEST_WRAPPER");
    *wrapper_copy = wrap && *wrap ? strdup(wrap) : NULL;
    char *words[32];
    if (*wrapper_copy) {
        char *save = NULL;
        for (char *t = strtok_r(*wrapper_copy, " ", &save); t && w < 32;
             t = strtok_r(NULL, " ", &save))
            words[w++] = t;
    }
    char **argv = calloc(w + n + 2, sizeof *argv);
    if (!argv) return NULL;
    static char bin[512];
    snprintf(bin, sizeof bin, "%s/src/odeserved", tu_builddir());
    for (size_t i = 0; i < w; i++)
        argv[i] = words[i];
    argv[w] = bin;
    for (size_t i = 0; i < n; i++)
        argv[w + 1 + i] = (char *)args[i];
    return argv;
}

extern char **environ;

/* The child starts from the harness's environment minus anything that would
 * change the daemon's behaviour behind the test's back. */
static void clean_env(void)
{
    char name[256];
    for (size_t i = 0; environ[i];) {
        const char *eq = strchr(environ[i], '=');
        size_t n = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        if (n < sizeof name && (strncmp(environ[i], "ODESERVE_", 9) == 0 ||
                                (n == 13 && strncmp(environ[i], "NOTIFY_SOCKET", 13) == 0))) {
            memcpy(name, environ[i], n);
            name[n] = '\0';
            unsetenv(name); /* environ shifts down: look at index i again */
            continue;
        }
        i++;
    }
}

static pid_t spawn(const char *const *args, const char *const *env, int out_fd)
{
    char *wrap = NULL;
    char **argv = build_argv(args, &wrap);
    if (!argv) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        clean_env();
        for (const char *const *e = env; e && *e; e++)
            putenv((char *)*e);
        dup2(out_fd, STDOUT_FILENO);
        dup2(out_fd, STDERR_FILENO);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, STDIN_FILENO);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execvp(argv[0], argv);
        _exit(127);
    }
    free(argv);
    free(wrap);
    return pid;
}

int tu_daemon_spawn(tu_daemon *d, const char *const *args, const char *const *env)
{
    if (!d->dir[0] && tu_daemon_init(d) != 0) return -1;
    int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    d->pid = spawn(args, env, fd);
    close(fd);
    return d->pid > 0 ? 0 : -1;
}

int tu_daemon_start(tu_daemon *d, const char *const *args, const char *const *env)
{
    if (!d->dir[0] && tu_daemon_init(d) != 0) return -1;
    const char *all[64];
    size_t n = 0;
    all[n++] = "--listen";
    all[n++] = "127.0.0.1:0";
    all[n++] = "--db";
    all[n++] = d->db;
    int auth_set = 0;
    for (const char *const *a = args; a && *a && n < 61; a++) {
        auth_set |= strcmp(*a, "--auth") == 0 || strncmp(*a, "--auth=", 7) == 0;
        all[n++] = *a;
    }
    for (const char *const *v = env; v && *v; v++)
        auth_set |= strncmp(*v, "ODESERVE_AUTH=", 14) == 0;
    if (!auth_set) { /* tests not about authentication: see testutil.h */
        all[n++] = "--auth";
        all[n++] = "off";
    }
    all[n] = NULL;
    if (tu_daemon_spawn(d, all, env) != 0) return -1;
    if (tu_wait_log(d, "event=listening addr=", 60.0) != 0) return -1;
    char *log = tu_read_file(d->log, NULL);
    const char *p = log ? strstr(log, "event=listening addr=") : NULL;
    const char *colon = p ? strchr(p + strlen("event=listening addr="), ' ') : NULL;
    if (colon) {
        while (colon > p && *colon != ':')
            colon--;
        d->port = atoi(colon + 1);
    }
    free(log);
    /* "listening" comes before the rest of the start-up (jobs, readiness):
     * tests begin once the daemon says it is ready, as systemd would */
    if (d->port <= 0 || tu_wait_log(d, "event=ready addr=", 60.0) != 0) return -1;
    return 0;
}

int tu_log_count(tu_daemon *d, const char *needle)
{
    char *log = tu_read_file(d->log, NULL);
    int n = 0;
    for (const char *p = log; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    free(log);
    return n;
}

int tu_wait_log(tu_daemon *d, const char *needle, double timeout_s)
{
    double deadline = now_s() + timeout_s;
    do {
        if (tu_log_count(d, needle) > 0) return 0;
        if (d->pid > 0 && waitpid(d->pid, &d->status, WNOHANG) == d->pid) {
            d->pid = 0; /* exited: one last look */
            d->status = WIFEXITED(d->status) ? WEXITSTATUS(d->status) : 128 + WTERMSIG(d->status);
            return tu_log_count(d, needle) > 0 ? 0 : -1;
        }
        nap(0.01);
    } while (now_s() < deadline);
    return -1;
}

int tu_wait_log_count(tu_daemon *d, const char *needle, int n, double timeout_s)
{
    double deadline = now_s() + timeout_s;
    int k;
    while ((k = tu_log_count(d, needle)) < n && now_s() < deadline)
        nap(0.01);
    return k;
}

int tu_daemon_kill(tu_daemon *d, int sig)
{
    return d->pid > 0 ? kill(d->pid, sig) : -1;
}

int tu_daemon_wait(tu_daemon *d, double timeout_s)
{
    if (d->pid <= 0) return d->status;
    double deadline = now_s() + timeout_s;
    int st;
    for (;;) {
        pid_t w = waitpid(d->pid, &st, WNOHANG);
        if (w == d->pid) break;
        if (now_s() > deadline) {
            kill(d->pid, SIGKILL);
            waitpid(d->pid, &st, 0);
            d->pid = 0;
            d->status = -1;
            return -1;
        }
        nap(0.01);
    }
    d->pid = 0;
    d->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return d->status;
}

void tu_daemon_cleanup(tu_daemon *d)
{
    if (d->pid > 0) {
        kill(d->pid, SIGKILL);
        waitpid(d->pid, NULL, 0);
        d->pid = 0;
    }
    if (!getenv("ODESERVE_TEST_KEEP")) tu_rmtree(d->dir);
}

int tu_run_daemon(const char *const *args, const char *const *env, char **output)
{
    char path[] = "/tmp/odeserve-run-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    unlink(path);
    pid_t pid = spawn(args, env, fd);
    if (pid <= 0) {
        close(fd);
        return -1;
    }
    tu_daemon d = {.pid = pid};
    int st = tu_daemon_wait(&d, 30.0);
    if (output) {
        off_t n = lseek(fd, 0, SEEK_END);
        *output = malloc((size_t)n + 1);
        if (*output) {
            ssize_t r = pread(fd, *output, (size_t)n, 0);
            (*output)[r > 0 ? r : 0] = '\0';
        }
    }
    close(fd);
    return st;
}
