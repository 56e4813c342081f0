/* check_auth: API tokens (#15), against the real odeserved.
 *
 *   tokens     model/api_token.c: the text's form, the salted hash and its
 *              check, scope and lifetime words (in-process);
 *   matrix     every route of the table (routes_table, so a new row is
 *              covered without touching this file) with no token, wrong
 *              tokens and a token of each scope, under auth = required,
 *              writes and off: 401 + WWW-Authenticate, 403, or through;
 *   lifecycle  expiry, revocation over HTTP (at once), `odeserved token`
 *              beside the running daemon (at once, and after SIGHUP),
 *              the tokens' text nowhere in the database files, the CLI's
 *              errors;
 *   network    on 0.0.0.0 the default is required, and without a token the
 *              daemon refuses to start (unless auth = off), saying how to
 *              make one;
 *   counters   http_auth_failures_* move with refused requests (an
 *              in-process server on the same database). */
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/workq.h"
#include "http/auth.h"
#include "http/routes.h"
#include "http/server.h"
#include "model/api_token.h"
#include "store/db.h"
#include "store/migrate.h"
#include "testutil.h"

static tu_daemon d;

static const char *const test_env[] = {"ODESERVE_TEST_ROUTES=1", NULL};

/* Start on the test's database; a restart begins a fresh log (the port is
 * read from its first listening line). */
static void start(const char *policy)
{
    const char *const args[] = {"--auth", policy, NULL};
    if (d.dir[0]) tu_write_file(d.log, "");
    if (tu_daemon_start(&d, args, test_env) != 0) {
        char *log = tu_read_file(d.log, NULL);
        ck_abort_msg("daemon did not start; log:\n%s", log ? log : "(none)");
    }
}

static void stop_ok(void)
{
    ck_assert_int_eq(tu_daemon_kill(&d, SIGTERM), 0);
    int st = tu_daemon_wait(&d, 30.0);
    if (st != 0) {
        char *log = tu_read_file(d.log, NULL);
        ck_abort_msg("exit status %d; log:\n%s", st, log ? log : "(none)");
    }
}

static void setup(void)
{
    memset(&d, 0, sizeof d);
    ck_assert_int_eq(tu_daemon_init(&d), 0);
}

static void cleanup(void)
{
    tu_daemon_cleanup(&d);
}

/* `odeserved token ARGS... --db DB`: exit status; output (stdout and
 * stderr) into *out (may be NULL). */
static int token_cmd(const char *dbpath, const char *const *args, char **out)
{
    const char *all[24] = {"token"};
    size_t n = 1;
    for (const char *const *a = args; *a && n < 20; a++)
        all[n++] = *a;
    all[n++] = "--db";
    all[n++] = dbpath;
    all[n] = NULL;
    char *o = NULL;
    int st = tu_run_daemon(all, NULL, &o);
    if (out)
        *out = o;
    else
        free(o);
    return st;
}

/* A new token from the CLI; malloc'd. */
static char *cli_token(const char *dbpath, const char *scope, const char *name)
{
    const char *const args[] = {"create", "--scope", scope, "--name", name, NULL};
    char *out = NULL;
    int st = token_cmd(dbpath, args, &out);
    ck_assert_msg(st == 0, "token create exited %d: %s", st, out ? out : "");
    const char *p = strstr(out, "ods_");
    ck_assert_msg(p && (p == out || p[-1] == '\n'), "no token line in: %s", out);
    char *tok = strndup(p, strcspn(p, "\n"));
    free(out);
    ck_assert_uint_eq(strlen(tok), 4 + API_TOKEN_ID_LEN + 1 + API_TOKEN_SECRET_LEN);
    return tok;
}

/* One request; `auth` is the whole Authorization value (or NULL). POSTs
 * carry "{}" as JSON. The status; the response in *out when non-NULL. */
static int call(const char *method, const char *path, const char *auth, const char *body,
                tu_response *out)
{
    char h[256];
    const char *headers[3] = {NULL, NULL, NULL};
    size_t n = 0;
    if (auth) {
        snprintf(h, sizeof h, "Authorization: %s", auth);
        headers[n++] = h;
    }
    int has_body = strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0;
    if (has_body) headers[n++] = "Content-Type: application/json";
    tu_response r;
    int rc = tu_http(d.port, method, path, headers, has_body ? (body ? body : "{}") : NULL, &r);
    if (rc != 0) {
        char *log = tu_read_file(d.log, NULL);
        ck_abort_msg("%s %s on port %d: no reply; log:\n%s", method, path, d.port,
                     log ? log : "(none)");
    }
    int st = r.status;
    if (out)
        *out = r;
    else
        tu_response_free(&r);
    return st;
}

static char *bearer(const char *tok)
{
    char *s = malloc(strlen(tok) + 8);
    sprintf(s, "Bearer %s", tok);
    return s;
}

static const char *error_code(const tu_response *r, char *buf, size_t n)
{
    json_error_t je;
    json_t *j = json_loads(r->body, 0, &je);
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    snprintf(buf, n, "%s", c ? c : "(none)");
    json_decref(j);
    return buf;
}

/* ---- tokens (in-process) ---- */

START_TEST(token_text_hash_and_words)
{
    api_token_new_out a, b;
    ck_assert_int_eq(api_token_new(&a, NULL), ERR_OK);
    ck_assert_int_eq(api_token_new(&b, NULL), ERR_OK);
    ck_assert_str_ne(a.text, b.text);
    ck_assert_int_ne(memcmp(a.salt, b.salt, sizeof a.salt), 0);
    char id[API_TOKEN_ID_LEN + 1];
    const char *secret;
    ck_assert_int_eq(api_token_parse(a.text, id, &secret), 1);
    ck_assert_str_eq(id, a.id);
    ck_assert(api_token_verify(secret, a.salt, a.hash));
    ck_assert(!api_token_verify(secret, b.salt, b.hash));
    ck_assert(!api_token_verify(secret, b.salt, a.hash)); /* the salt counts */
    char wrong[API_TOKEN_TEXT_MAX];
    snprintf(wrong, sizeof wrong, "%s", a.text);
    wrong[strlen(wrong) - 1] = wrong[strlen(wrong) - 1] == '0' ? '1' : '0';
    ck_assert_int_eq(api_token_parse(wrong, id, &secret), 1);
    ck_assert(!api_token_verify(secret, a.salt, a.hash));
    /* the stored hash is not the secret, nor does it contain it */
    ck_assert_ptr_null(memmem(a.hash, sizeof a.hash, a.text + 21, 8));
    const char *bad[] = {"", "ods_", "ods_xyz_abc", "Bearer ods_", "ODS_0123456789abcdef_00",
                         "ods_0123456789ABCDEF_0000000000000000000000000000000000000000000000000000000000000000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!api_token_parse(bad[i], id, &secret), "parsed: %s", bad[i]);
    char extra[API_TOKEN_TEXT_MAX + 2];
    snprintf(extra, sizeof extra, "%sa", a.text);
    ck_assert(!api_token_parse(extra, id, &secret));
    api_token_wipe(&a);
    for (size_t i = 0; i < sizeof a.text; i++)
        ck_assert_int_eq(a.text[i], 0);

    unsigned s;
    char buf[64];
    err e;
    ck_assert_int_eq(api_token_scopes_parse("write,read,read", &s, "scope", NULL), ERR_OK);
    ck_assert_str_eq(api_token_scopes_format(s, buf, sizeof buf), "read,write");
    ck_assert_int_eq(api_token_scopes_parse("all", &s, "scope", NULL), ERR_OK);
    ck_assert_str_eq(api_token_scopes_format(s, buf, sizeof buf), "read,write,train,admin");
    err_clear(&e);
    ck_assert_int_eq(api_token_scopes_parse("read,root", &s, "scope", &e), ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(e.message, "'root'"));
    ck_assert_int_eq(api_token_scopes_parse("", &s, "scope", NULL), ERR_INVALID);
    ck_assert_int_eq(api_token_scopes_parse("read,", &s, "scope", NULL), ERR_INVALID);

    long long sec;
    ck_assert_int_eq(api_token_lifetime_parse("30d", &sec, "x", NULL), ERR_OK);
    ck_assert_int_eq(sec, 30LL * 86400);
    ck_assert_int_eq(api_token_lifetime_parse("12h", &sec, "x", NULL), ERR_OK);
    ck_assert_int_eq(sec, 12LL * 3600);
    ck_assert_int_eq(api_token_lifetime_parse("90", &sec, "x", NULL), ERR_OK);
    ck_assert_int_eq(sec, 90);
    ck_assert_int_eq(api_token_lifetime_parse("never", &sec, "x", NULL), ERR_OK);
    ck_assert_int_eq(sec, 0);
    const char *badl[] = {"0d", "-1d", "1y", "d", "1.5h", "999999999999d", "30 d"};
    for (size_t i = 0; i < sizeof badl / sizeof badl[0]; i++)
        ck_assert_msg(api_token_lifetime_parse(badl[i], &sec, "x", NULL) == ERR_INVALID, "%s",
                      badl[i]);
}
END_TEST

/* ---- the matrix ---- */

/* The pattern with its placeholders filled by names that exist nowhere,
 * so that a request that gets through changes nothing (404s, 422s). */
static void fill(const char *pattern, char *out, size_t n)
{
    size_t o = 0;
    for (const char *p = pattern; *p && o + 16 < n;) {
        if (*p == '{') {
            const char *end = strchr(p, '}');
            const char *v = strncmp(p, "{v}", 3) == 0    ? "1"
                            : strncmp(p, "{id}", 4) == 0 ? "999999"
                                                         : "nosuch-auth";
            o += (size_t)snprintf(out + o, n - o, "%s", v);
            p = end + 1;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

enum { POL_OFF, POL_WRITES, POL_REQUIRED };

static const unsigned scope_bits[] = {API_TOKEN_READ, API_TOKEN_WRITE, API_TOKEN_TRAIN,
                                      API_TOKEN_ADMIN};
static const char *const scope_words[] = {"read", "write", "train", "admin"};

static unsigned bit_of(enum route_scope s)
{
    return s == ROUTE_SCOPE_READ    ? API_TOKEN_READ
           : s == ROUTE_SCOPE_WRITE ? API_TOKEN_WRITE
           : s == ROUTE_SCOPE_TRAIN ? API_TOKEN_TRAIN
           : s == ROUTE_SCOPE_ADMIN ? API_TOKEN_ADMIN
                                    : 0;
}

static void expect(const char *what, const http_route *rt, const char *path, int st,
                   const tu_response *r, int want)
{
    char code[64], h[128];
    if (want == 0) { /* through: whatever the handler says, but not 401/403 */
        ck_assert_msg(st != 401 && st != 403, "%s %s (%s, scope %s): %d %s", rt->method, path,
                      what, routes_scope_name(routes_scope(rt)), st, r->body);
        return;
    }
    ck_assert_msg(st == want, "%s %s (%s, scope %s): %d, want %d: %s", rt->method, path, what,
                  routes_scope_name(routes_scope(rt)), st, want, r->body);
    if (rt->flags & ROUTE_OIP) /* the protocol's error form: {"error": "<message>"} */
        ck_assert_msg(strstr(r->body, "{\"error\":\"") == r->body, "%s %s: %s", rt->method, path,
                      r->body);
    else
        ck_assert_str_eq(error_code(r, code, sizeof code),
                         want == 401 ? "unauthenticated" : "permission_denied");
    if (want == 401)
        ck_assert_msg(tu_header(r, "WWW-Authenticate", h, sizeof h) &&
                          strncmp(h, "Bearer", 6) == 0,
                      "%s %s: 401 without WWW-Authenticate: Bearer", rt->method, path);
}

static void run_matrix(int policy, char *const *tok, const char *const *wrong, size_t n_wrong)
{
    size_t n;
    const http_route *t = routes_table(&n);
    for (size_t i = 0; i < n; i++) {
        const http_route *rt = &t[i];
        enum route_scope need = routes_scope(rt);
        char path[256];
        fill(rt->pattern, path, sizeof path);
        int open = policy == POL_OFF || need == ROUTE_SCOPE_OPEN;
        int needed = !open && (policy == POL_REQUIRED || need != ROUTE_SCOPE_READ);
        tu_response r;
        int st = call(rt->method, path, NULL, NULL, &r);
        expect("no token", rt, path, st, &r, needed ? 401 : 0);
        tu_response_free(&r);
        for (size_t w = 0; w < n_wrong; w++) {
            st = call(rt->method, path, wrong[w], NULL, &r);
            expect(wrong[w], rt, path, st, &r, open ? 0 : 401);
            tu_response_free(&r);
        }
        for (size_t s = 0; s < 4; s++) {
            char *b = bearer(tok[s]);
            st = call(rt->method, path, b, NULL, &r);
            char what[32];
            snprintf(what, sizeof what, "%s token", scope_words[s]);
            expect(what, rt, path, st, &r, !needed || bit_of(need) == scope_bits[s] ? 0 : 403);
            tu_response_free(&r);
            free(b);
        }
    }
}

START_TEST(route_scopes)
{
    /* explicit rows, and the default of rows that leave the scope out */
    size_t n;
    const http_route *t = routes_table(&n);
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = t[i].pattern, *m = t[i].method;
        enum route_scope s = routes_scope(&t[i]);
        ck_assert_int_ne(s, ROUTE_SCOPE_DEFAULT);
        enum route_scope want = ROUTE_SCOPE_DEFAULT;
        if (strcmp(p, "/healthz") == 0 || strcmp(p, "/readyz") == 0) want = ROUTE_SCOPE_OPEN;
        if (strcmp(p, "/v1/models/{name}/trajectory") == 0) want = ROUTE_SCOPE_READ;
        if (strncmp(p, "/v1/jobs", 8) == 0)
            want = strcmp(m, "GET") == 0 ? ROUTE_SCOPE_READ : ROUTE_SCOPE_TRAIN;
        if (strncmp(p, "/v1/tokens", 10) == 0) want = ROUTE_SCOPE_ADMIN;
        if (want != ROUTE_SCOPE_DEFAULT) {
            ck_assert_msg(s == want, "%s %s: scope %s", m, p, routes_scope_name(s));
            seen++;
        }
        if (t[i].scope == ROUTE_SCOPE_DEFAULT)
            ck_assert_int_eq(s, strcmp(m, "GET") == 0 ? ROUTE_SCOPE_READ : ROUTE_SCOPE_WRITE);
    }
    ck_assert_int_eq(seen, 2 + 1 + 5 + 3);
    /* rows written without the field */
    http_route row = {.method = "DELETE", .pattern = "/x"};
    ck_assert_int_eq(routes_scope(&row), ROUTE_SCOPE_WRITE);
    http_route get = {.method = "GET", .pattern = "/x"};
    ck_assert_int_eq(routes_scope(&get), ROUTE_SCOPE_READ);
}
END_TEST

START_TEST(scopes_by_routes)
{
    char *tok[4];
    for (int s = 0; s < 4; s++) {
        char name[32];
        snprintf(name, sizeof name, "m-%s", scope_words[s]);
        tok[s] = cli_token(d.db, scope_words[s], name);
    }
    /* a real id with a wrong secret; an unknown id; not ours; another scheme */
    char wrong_secret[256], unknown[256];
    snprintf(wrong_secret, sizeof wrong_secret, "Bearer %s", tok[3]);
    size_t L = strlen(wrong_secret);
    wrong_secret[L - 1] = wrong_secret[L - 1] == 'a' ? 'b' : 'a';
    snprintf(unknown, sizeof unknown, "Bearer ods_0123456789abcdef_%s", tok[3] + 22);
    const char *wrong[] = {wrong_secret, unknown, "Bearer hunter2", "Basic YWRtaW46YWRtaW4="};
    static const char *const policies[] = {"off", "writes", "required"};
    for (int p = 0; p < 3; p++) {
        start(policies[p]);
        run_matrix(p, tok, wrong, sizeof wrong / sizeof wrong[0]);
        if (p == POL_REQUIRED) {
            tu_response r;
            ck_assert_int_eq(call("HEAD", "/v1/models", NULL, NULL, &r), 401);
            tu_response_free(&r);
            ck_assert_int_ge(tu_log_count(&d, "event=auth_failed"), 10);
            ck_assert_int_ge(tu_log_count(&d, "reason=forbidden token=m-read "), 1);
            ck_assert_int_ge(tu_log_count(&d, "reason=invalid token=m-admin "), 1);
        }
        if (p == POL_OFF) ck_assert_int_eq(tu_log_count(&d, "event=auth_failed"), 0);
        stop_ok();
        /* no log line holds a token's secret */
        char *log = tu_read_file(d.log, NULL);
        for (int s = 0; s < 4; s++)
            ck_assert_ptr_null(strstr(log, tok[s] + 21));
        free(log);
    }
    for (int s = 0; s < 4; s++)
        free(tok[s]);
}
END_TEST

/* ---- lifecycle ---- */

static char *http_token(const char *admin, const char *body, int want_status)
{
    char *b = bearer(admin);
    tu_response r;
    int st = call("POST", "/v1/tokens", b, body, &r);
    ck_assert_msg(st == want_status, "POST /v1/tokens %s: %d %s", body, st, r.body);
    char *tok = NULL;
    if (st == 201) {
        json_error_t je;
        json_t *j = json_loads(r.body, 0, &je);
        ck_assert_ptr_nonnull(j);
        tok = strdup(json_string_value(json_object_get(j, "token")));
        json_decref(j);
    }
    tu_response_free(&r);
    free(b);
    return tok;
}

static int use(const char *tok, const char *method, const char *path)
{
    char *b = bearer(tok);
    int st = call(method, path, b, NULL, NULL);
    free(b);
    return st;
}

static double auth_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

START_TEST(expiry_and_revocation)
{
    char *admin = cli_token(d.db, "admin,read", "root");
    start("required");
    /* a token of 3 s: asked for at once (within its life however slow the
     * machine, or the check says it could not tell), expired after it */
    const double sh_born = auth_now();
    char *sh = http_token(admin, "{\"name\": \"short\", \"scopes\": [\"read\"], \"expires\": \"3s\"}",
                          201);
    {
        int st = use(sh, "GET", "/v1/models");
        if (auth_now() - sh_born < 3.0)
            ck_assert_int_eq(st, 200);
        else
            printf("the short token's first use came %.1f s after it was asked for: not checked\n",
                   auth_now() - sh_born);
    }
    char *tmp = http_token(admin, "{\"name\": \"tmp\", \"scopes\": [\"read\", \"write\"]}", 201);
    /* bad requests name the field */
    free(http_token(admin, "{\"name\": \"tmp\", \"scopes\": [\"read\"]}", 409));
    free(http_token(admin, "{\"name\": \"x\", \"scopes\": [\"root\"]}", 422));
    free(http_token(admin, "{\"name\": \"x\", \"scopes\": []}", 422));
    free(http_token(admin, "{\"name\": \"x\", \"scopes\": [\"read\"], \"expires\": \"1y\"}", 422));
    /* "" is not "never": a token that never expires is asked for by name */
    free(http_token(admin, "{\"name\": \"x\", \"scopes\": [\"read\"], \"expires\": \"\"}", 422));
    /* NaN is named like everywhere else, not a bad_json */
    free(http_token(admin, "{\"name\": \"x\", \"scopes\": [\"read\"], \"expires\": NaN}", 422));
    free(http_token(admin, "{\"name\": \"../x\", \"scopes\": [\"read\"]}", 422));
    free(http_token(admin, "{\"scopes\": [\"read\"], \"extra\": 1}", 422));
    ck_assert_int_eq(use(tmp, "GET", "/v1/models"), 200);
    /* two Authorization headers: neither is guessed at, in either order */
    {
        char two[256];
        snprintf(two, sizeof two, "Bearer %s\r\nAuthorization: Bearer nope", tmp);
        tu_response r2;
        ck_assert_int_eq(call("GET", "/v1/models", two, NULL, &r2), 401);
        ck_assert_ptr_nonnull(strstr(r2.body, "more than one Authorization header"));
        tu_response_free(&r2);
        snprintf(two, sizeof two, "Bearer %s\r\nAuthorization: Bearer %s", tmp, tmp);
        ck_assert_int_eq(call("GET", "/v1/models", two, NULL, NULL), 401);
    }

    /* the list shows no secret */
    char *b = bearer(admin);
    tu_response r;
    ck_assert_int_eq(call("GET", "/v1/tokens", b, NULL, &r), 200);
    ck_assert_ptr_nonnull(strstr(r.body, "\"name\":\"tmp\""));
    ck_assert_ptr_nonnull(strstr(r.body, "\"scopes\":[\"read\",\"write\"]"));
    ck_assert_ptr_null(strstr(r.body, tmp + 21));
    ck_assert_ptr_null(strstr(r.body, "\"token\""));
    tu_response_free(&r);

    /* revoked over HTTP: refused from the next request on */
    ck_assert_int_eq(call("DELETE", "/v1/tokens/tmp", b, NULL, &r), 200);
    ck_assert_ptr_nonnull(strstr(r.body, "\"revoked_at\""));
    tu_response_free(&r);
    ck_assert_int_eq(call("GET", "/v1/models", "", NULL, &r), 401);
    tu_response_free(&r);
    char *bt = bearer(tmp);
    char code[64];
    ck_assert_int_eq(call("GET", "/v1/models", bt, NULL, &r), 401);
    ck_assert_str_eq(error_code(&r, code, sizeof code), "unauthenticated");
    ck_assert_ptr_nonnull(strstr(r.body, "revoked"));
    tu_response_free(&r);
    free(bt);
    ck_assert_int_eq(tu_wait_log(&d, "reason=revoked token=tmp ", 30), 0);
    ck_assert_int_eq(call("DELETE", "/v1/tokens/tmp", b, NULL, &r), 404);
    tu_response_free(&r);
    /* the name is free again */
    char *tmp2 = http_token(admin, "{\"name\": \"tmp\", \"scopes\": [\"read\"]}", 201);
    ck_assert_int_eq(use(tmp2, "GET", "/v1/models"), 200);

    /* expired: its 3 s have passed (the stored expiry has milliseconds) */
    while (auth_now() - sh_born < 3.2)
        usleep(50000);
    ck_assert_int_eq(call("GET", "/v1/models", (bt = bearer(sh)), NULL, &r), 401);
    ck_assert_ptr_nonnull(strstr(r.body, "expired"));
    tu_response_free(&r);
    free(bt);
    ck_assert_int_eq(tu_wait_log(&d, "reason=expired token=short ", 30), 0);
    ck_assert_int_eq(call("GET", "/v1/tokens", b, NULL, &r), 200);
    ck_assert_ptr_nonnull(strstr(r.body, "\"expired\":true"));
    ck_assert_ptr_nonnull(strstr(r.body, "\"last_used_at\":\"20"));
    tu_response_free(&r);

    /* `odeserved token` beside the running daemon: counts at once, and
     * after SIGHUP too */
    char *cli = cli_token(d.db, "write", "from-cli");
    ck_assert_int_eq(use(cli, "DELETE", "/v1/models/nosuch-auth"), 404);
    ck_assert_int_eq(tu_daemon_kill(&d, SIGHUP), 0);
    ck_assert_int_eq(tu_wait_log(&d, "event=reloaded", 30), 0);
    ck_assert_int_eq(use(cli, "DELETE", "/v1/models/nosuch-auth"), 404);
    const char *const rv[] = {"revoke", "from-cli", NULL};
    char *out = NULL;
    ck_assert_int_eq(token_cmd(d.db, rv, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "revoked \"from-cli\""));
    free(out);
    ck_assert_int_eq(use(cli, "DELETE", "/v1/models/nosuch-auth"), 401);
    ck_assert_int_eq(tu_daemon_kill(&d, SIGHUP), 0);
    ck_assert_int_eq(tu_wait_log(&d, "changed=0", 30), 0);
    ck_assert_int_eq(use(cli, "DELETE", "/v1/models/nosuch-auth"), 401);
    /* revoke by id */
    char id[API_TOKEN_ID_LEN + 1];
    const char *secret;
    ck_assert(api_token_parse(tmp2, id, &secret));
    const char *const rid[] = {"revoke", id, NULL};
    ck_assert_int_eq(token_cmd(d.db, rid, NULL), 0);
    ck_assert_int_eq(use(tmp2, "GET", "/v1/models"), 401);
    const char *const ls[] = {"list", NULL};
    ck_assert_int_eq(token_cmd(d.db, ls, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "root"));
    ck_assert_ptr_null(strstr(out, "from-cli"));
    ck_assert_ptr_null(strstr(out, admin + 21));
    free(out);
    stop_ok();

    /* nothing of any token's text in the database files (WAL included) */
    const char *toks[] = {admin, sh, tmp, tmp2, cli};
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int f = 0; f < 3; f++) {
        char path[512];
        snprintf(path, sizeof path, "%s%s", d.db, suffix[f]);
        size_t len = 0;
        char *bytes = tu_read_file(path, &len);
        if (!bytes) continue;
        for (int k = 0; k < 5; k++) {
            ck_assert_msg(!memmem(bytes, len, toks[k], strlen(toks[k])), "token %d in %s", k,
                          path);
            ck_assert_msg(!memmem(bytes, len, toks[k] + 21, 16), "secret %d in %s", k, path);
        }
        if (f == 0) ck_assert_ptr_nonnull(memmem(bytes, len, "from-cli", 8));
        free(bytes);
    }
    free(b);
    free(admin);
    free(sh);
    free(tmp);
    free(tmp2);
    free(cli);
}
END_TEST

START_TEST(cli_errors)
{
    char *out = NULL;
    const char *const bad_scope[] = {"create", "--scope", "read,root", "--name", "x", NULL};
    ck_assert_int_eq(token_cmd(d.db, bad_scope, &out), 2);
    ck_assert_ptr_nonnull(strstr(out, "'root'"));
    free(out);
    const char *const no_name[] = {"create", "--scope", "read", NULL};
    ck_assert_int_eq(token_cmd(d.db, no_name, NULL), 2);
    const char *const bad_exp[] = {"create", "--scope=read", "--name=x", "--expires=5y", NULL};
    ck_assert_int_eq(token_cmd(d.db, bad_exp, NULL), 2);
    const char *const verb[] = {"rotate", NULL};
    ck_assert_int_eq(token_cmd(d.db, verb, NULL), 2);
    free(cli_token(d.db, "read", "dup"));
    const char *const dup[] = {"create", "--scope", "read", "--name", "dup", NULL};
    ck_assert_int_eq(token_cmd(d.db, dup, &out), 1);
    ck_assert_ptr_nonnull(strstr(out, "exists"));
    free(out);
    const char *const bad_name[] = {"create", "--scope", "read", "--name", "a/b", NULL};
    ck_assert_int_eq(token_cmd(d.db, bad_name, &out), 1);
    ck_assert_msg(strstr(out, "a token name is 1 to 64 characters"), "%s", out); /* not "a model name" */
    free(out);
    /* list and revoke on a path with no database: said, and none is made */
    char typo[600];
    snprintf(typo, sizeof typo, "%s-typo", d.db);
    const char *const list[] = {"list", NULL};
    ck_assert_int_eq(token_cmd(typo, list, &out), 1);
    ck_assert_msg(strstr(out, "no database at"), "%s", out);
    free(out);
    const char *const revoke[] = {"revoke", "x", NULL};
    ck_assert_int_eq(token_cmd(typo, revoke, NULL), 1);
    ck_assert_int_ne(access(typo, F_OK), 0);
    const char *const gone[] = {"revoke", "nosuch", NULL};
    ck_assert_int_eq(token_cmd(d.db, gone, &out), 1);
    ck_assert_ptr_nonnull(strstr(out, "no active token"));
    free(out);
}
END_TEST

/* ---- network addresses ---- */

static int spawn_on_any(const char *const *extra, int *port)
{
    tu_write_file(d.log, "");
    const char *args[16] = {"--listen", "0.0.0.0:0", "--db", d.db};
    size_t n = 4;
    for (const char *const *a = extra; a && *a; a++)
        args[n++] = *a;
    args[n] = NULL;
    if (tu_daemon_spawn(&d, args, NULL) != 0) return -1;
    *port = 0;
    return 0;
}

static int wait_port(void)
{
    if (tu_wait_log(&d, "event=ready addr=", 30) != 0) return -1;
    char *log = tu_read_file(d.log, NULL);
    const char *p = strstr(log, "event=listening addr=0.0.0.0:");
    int port = p ? atoi(p + strlen("event=listening addr=0.0.0.0:")) : -1;
    free(log);
    return port;
}

START_TEST(network_refuses_without_token)
{
    int port;
    ck_assert_int_eq(spawn_on_any(NULL, &port), 0);
    int st = tu_daemon_wait(&d, 30.0);
    char *log = tu_read_file(d.log, NULL);
    ck_assert_msg(st == 1, "exit %d; log:\n%s", st, log);
    ck_assert_ptr_nonnull(strstr(log, "not a loopback address"));
    ck_assert_ptr_nonnull(strstr(log, "odeserved token create --db"));
    ck_assert_ptr_nonnull(strstr(log, "auth = off"));
    ck_assert_ptr_null(strstr(log, "event=listening"));
    free(log);

    /* an explicit writes is not off */
    const char *const writes[] = {"--auth", "writes", NULL};
    ck_assert_int_eq(spawn_on_any(writes, &port), 0);
    ck_assert_int_eq(tu_daemon_wait(&d, 30.0), 1);

    /* auth = off, explicitly: it starts, and asks for nothing */
    const char *const off[] = {"--auth", "off", NULL};
    ck_assert_int_eq(spawn_on_any(off, &port), 0);
    d.port = wait_port();
    ck_assert_int_gt(d.port, 0);
    ck_assert_int_eq(call("DELETE", "/v1/models/nosuch-auth", NULL, NULL, NULL), 404);
    stop_ok();
}
END_TEST

START_TEST(network_default_is_required)
{
    char *tok = cli_token(d.db, "read", "net");
    int port;
    ck_assert_int_eq(spawn_on_any(NULL, &port), 0);
    d.port = wait_port();
    ck_assert_int_gt(d.port, 0);
    ck_assert_int_eq(tu_wait_log(&d, "event=auth policy=required setting=auto loopback=0", 30),
                     0);
    ck_assert_int_eq(call("GET", "/healthz", NULL, NULL, NULL), 200);
    ck_assert_int_eq(call("GET", "/readyz", NULL, NULL, NULL), 200);
    ck_assert_int_eq(call("GET", "/v1/models", NULL, NULL, NULL), 401);
    ck_assert_int_eq(use(tok, "GET", "/v1/models"), 200);
    ck_assert_int_eq(use(tok, "DELETE", "/v1/models/nosuch-auth"), 403);
    stop_ok();
    free(tok);
    /* loopback: writes */
    start("auto");
    ck_assert_int_eq(tu_wait_log(&d, "event=auth policy=writes setting=auto loopback=1", 30), 0);
    ck_assert_int_eq(call("GET", "/v1/models", NULL, NULL, NULL), 200);
    ck_assert_int_eq(call("DELETE", "/v1/models/nosuch-auth", NULL, NULL, NULL), 401);
    stop_ok();
}
END_TEST

/* ---- counters (in-process server) ---- */

START_TEST(failures_counted)
{
    char *tok = cli_token(d.db, "read", "count");
    db_opts o;
    db_opts_default(&o);
    o.path = d.db;
    http_app app;
    memset(&app, 0, sizeof app);
    ck_assert_int_eq(db_conns_new(&app.db, &o, NULL), ERR_OK);
    ck_assert_int_eq(workq_new(&app.eval, 1, 4, NULL), ERR_OK);
    atomic_init(&app.max_body, 1 << 20);
    atomic_init(&app.state, HTTP_APP_READY);
    atomic_init(&app.auth_policy, HTTP_AUTH_REQUIRED);
    http_server *s = NULL;
    http_server_opts so = {.listen = "127.0.0.1:0", .threads = 2, .connection_timeout = 10,
                           .connection_limit = 16};
    ck_assert_int_eq(http_server_start(&s, &so, &app, NULL), ERR_OK);
    d.port = atoi(strrchr(http_server_addr(s), ':') + 1);

    uint64_t before[HTTP_AUTH_FAIL__COUNT], total0 = http_auth_failures_total();
    for (int i = 0; i < HTTP_AUTH_FAIL__COUNT; i++)
        before[i] = http_auth_failures((enum http_auth_failure)i);
    ck_assert_int_eq(call("GET", "/healthz", NULL, NULL, NULL), 200);
    ck_assert_int_eq(call("GET", "/v1/tokens", NULL, NULL, NULL), 401);
    ck_assert_int_eq(call("GET", "/v1/tokens", "Bearer nope", NULL, NULL), 401);
    ck_assert_int_eq(use(tok, "GET", "/v1/tokens"), 403);
    ck_assert_int_eq(use(tok, "POST", "/v1/tokens"), 403);
    ck_assert_uint_eq(http_auth_failures(HTTP_AUTH_FAIL_MISSING) - before[0], 1);
    ck_assert_uint_eq(http_auth_failures(HTTP_AUTH_FAIL_INVALID) - before[1], 1);
    ck_assert_uint_eq(http_auth_failures(HTTP_AUTH_FAIL_FORBIDDEN) - before[4], 2);
    ck_assert_uint_eq(http_auth_failures_total() - total0, 4);
    ck_assert_str_eq(http_auth_failure_name(HTTP_AUTH_FAIL_EXPIRED), "expired");

    /* the policy is read per request (SIGHUP changes it) */
    atomic_store(&app.auth_policy, HTTP_AUTH_OFF);
    ck_assert_int_ne(call("GET", "/v1/tokens", NULL, NULL, NULL), 401);
    ck_assert_uint_eq(http_auth_failures_total() - total0, 4);

    http_server_quiesce(s);
    workq_wait_idle(app.eval, 10.0);
    http_server_stop(s);
    workq_free(app.eval);
    db_conns_free(app.db);
    free(tok);
}
END_TEST

/* Alias changes record the token's name as "by" (GET /v1/models/{name}/history). */
START_TEST(alias_history_names_the_token)
{
    char *tok = cli_token(d.db, "read,write", "release-bot");
    start("writes");
    char *auth = bearer(tok);
    char path[1024], doc[1200];
    tu_source_path(path, sizeof path, "examples/spiral.json");
    char *spiral = tu_read_file(path, NULL);
    ck_assert_ptr_nonnull(spiral);
    ck_assert_int_eq(call("POST", "/v1/models/rel/versions", auth, spiral, NULL), 201);
    free(spiral);
    snprintf(doc, sizeof doc, "{\"version\": 1}");
    ck_assert_int_eq(call("PUT", "/v1/models/rel/aliases/stable", auth, doc, NULL), 200);
    /* without the token the change is refused, and not recorded */
    ck_assert_int_eq(call("PUT", "/v1/models/rel/aliases/canary", NULL, doc, NULL), 401);
    tu_response r;
    ck_assert_int_eq(call("GET", "/v1/models/rel/history", NULL, NULL, &r), 200);
    json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
    json_t *h = json_object_get(j, "history");
    ck_assert_uint_eq(json_array_size(h), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(h, 0), "by")),
                     "release-bot");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(h, 0), "alias")), "stable");
    json_decref(j);
    tu_response_free(&r);
    free(auth);
    free(tok);
    stop_ok();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("auth");
    TCase *c = tcase_create("tokens");
    tcase_add_test(c, token_text_hash_and_words);
    tcase_add_test(c, route_scopes);
    suite_add_tcase(s, c);
    c = tcase_create("daemon");
    tcase_set_timeout(c, 240);
    tcase_add_checked_fixture(c, setup, cleanup);
    tcase_add_test(c, scopes_by_routes);
    tcase_add_test(c, expiry_and_revocation);
    tcase_add_test(c, cli_errors);
    tcase_add_test(c, network_refuses_without_token);
    tcase_add_test(c, network_default_is_required);
    tcase_add_test(c, failures_counted);
    tcase_add_test(c, alias_history_names_the_token);
    suite_add_tcase(s, c);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
