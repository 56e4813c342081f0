/* check_config: the settings table, its parsers, precedence, errors with
 * their line numbers, the command line, and the shipped etc/odeserve.conf. */
#include "daemon/config.h"
#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpfile_path[256];

/* Write `text` to a temporary file; its path stays in tmpfile_path. */
static const char *conf_file(const char *text)
{
    snprintf(tmpfile_path, sizeof tmpfile_path, "/tmp/odeserve-conf-XXXXXX");
    int fd = mkstemp(tmpfile_path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return tmpfile_path;
}

static void clear_env(void)
{
    size_t n;
    const config_key *k = config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        char name[96] = "ODESERVE_";
        size_t o = strlen(name);
        for (const char *p = k[i].name; *p; p++)
            name[o++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        name[o] = '\0';
        unsetenv(name);
    }
}

static void setup(void)
{
    clear_env();
    tmpfile_path[0] = '\0';
}

static void teardown(void)
{
    if (tmpfile_path[0]) unlink(tmpfile_path);
}

/* Expect the error message to start with `prefix` and contain `part`. */
static void expect_err(const err *e, err_code code, const char *prefix, const char *part)
{
    ck_assert_int_eq(e->code, code);
    ck_assert_msg(strncmp(e->message, prefix, strlen(prefix)) == 0,
                  "message '%s' lacks prefix '%s'", e->message, prefix);
    ck_assert_msg(strstr(e->message, part) != NULL, "message '%s' lacks '%s'", e->message, part);
}

/* ---- core: the table ---- */

START_TEST(defaults_parse_and_match)
{
    size_t n;
    const config_key *k = config_keys(&n);
    ck_assert_uint_ge(n, 11);
    config c;
    memset(&c, 0x5a, sizeof c);
    for (size_t i = 0; i < n; i++) {
        err e;
        err_clear(&e);
        ck_assert_msg(config_set(&c, k[i].name, k[i].def, &e) == ERR_OK, "default of %s: %s",
                      k[i].name, e.message);
        ck_assert_msg(k[i].doc && strlen(k[i].doc) > 10, "%s has no doc", k[i].name);
        ck_assert_ptr_eq(config_key_find(k[i].name), &k[i]);
    }
    config_defaults(&c);
    ck_assert_str_eq(c.listen, "127.0.0.1:8080");
    ck_assert_str_eq(c.db, "/var/lib/odeserve/odeserve.db");
    ck_assert_str_eq(c.log_level, "info");
    ck_assert_int_eq(c.http_threads, 0); /* automatic: eval_threads's rule */
    ck_assert_int_ge(c.per_ip_connection_limit, 128);
    ck_assert_uint_eq(c.max_body_size, 16u * 1024 * 1024);
    ck_assert_str_eq(c.db_synchronous, "full");
    ck_assert_int_eq(c.db_busy_timeout, 5000);
    ck_assert(c.shutdown_timeout > 0);
    ck_assert_ptr_null(config_key_find("nope"));
}
END_TEST

/* A good and a bad value for every key, driven by the key's type. */
START_TEST(every_key_good_and_bad)
{
    size_t n;
    const config_key *k = config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        config c;
        config_defaults(&c);
        const char *good = NULL, *bad[4] = {0};
        char lo[64], hi[64];
        switch (k[i].type) {
        case CONFIG_INT:
        case CONFIG_BYTES:
            snprintf(lo, sizeof lo, "%.0f", k[i].min - 1);
            snprintf(hi, sizeof hi, "%.0f", k[i].max + 1);
            good = k[i].def, bad[0] = lo, bad[1] = hi, bad[2] = "12x", bad[3] = "";
            break;
        case CONFIG_SECONDS:
            snprintf(hi, sizeof hi, "%.0f", k[i].max + 1);
            good = k[i].def, bad[0] = "-1", bad[1] = hi, bad[2] = "1e3", bad[3] = "nan";
            break;
        case CONFIG_ENUM:
            good = k[i].def, bad[0] = "loud", bad[1] = "", bad[2] = "INFO";
            break;
        case CONFIG_PATH:
            good = "/tmp/x.db", bad[0] = "";
            break;
        case CONFIG_ADDR:
            good = "[::1]:0", bad[0] = "127.0.0.1", bad[1] = "h:70000";
            break;
        case CONFIG_PATHS:
            good = "/a/x.json,b.json", bad[0] = ",", bad[1] = "a.json,", bad[2] = "a,,b";
            break;
        case CONFIG_OPTPATH: /* any path, or none */
            good = "/etc/odeserve/tls.pem";
            break;
        case CONFIG_ORIGINS:
            good = "https://app.example.com,http://localhost:3000,http://[::1]:8080";
            bad[0] = "https://app.example.com/", bad[1] = "*,https://a.example";
            bad[2] = "app.example.com", bad[3] = "https://a.example,";
            break;
        }
        err e;
        err_clear(&e);
        ck_assert_msg(config_set(&c, k[i].name, good, &e) == ERR_OK, "%s=%s: %s", k[i].name, good,
                      e.message);
        for (int b = 0; b < 4 && bad[b]; b++) {
            err_clear(&e);
            ck_assert_msg(config_set(&c, k[i].name, bad[b], &e) == ERR_CONFIG, "%s=%s accepted",
                          k[i].name, bad[b]);
            expect_err(&e, ERR_CONFIG, k[i].name, "expected");
            ck_assert_str_eq(e.field, k[i].name);
        }
    }
}
END_TEST

START_TEST(value_syntax)
{
    config c;
    config_defaults(&c);
    ck_assert_int_eq(config_set(&c, "max_body_size", "1k", NULL), ERR_OK);
    ck_assert_uint_eq(c.max_body_size, 1024);
    ck_assert_int_eq(config_set(&c, "max_body_size", "2M", NULL), ERR_OK);
    ck_assert_uint_eq(c.max_body_size, 2u << 20);
    ck_assert_int_eq(config_set(&c, "max_body_size", "1G", NULL), ERR_OK);
    ck_assert_uint_eq(c.max_body_size, 1u << 30);
    ck_assert_int_eq(config_set(&c, "max_body_size", "5000", NULL), ERR_OK);
    ck_assert_uint_eq(c.max_body_size, 5000);
    ck_assert_int_eq(config_set(&c, "max_body_size", "1.5M", NULL), ERR_CONFIG);
    ck_assert_int_eq(config_set(&c, "max_body_size", "2G", NULL), ERR_CONFIG);
    ck_assert_int_eq(config_set(&c, "max_body_size", "M", NULL), ERR_CONFIG);
    ck_assert_int_eq(config_set(&c, "shutdown_timeout", "2.25", NULL), ERR_OK);
    ck_assert(c.shutdown_timeout == 2.25);
    ck_assert_int_eq(config_set(&c, "shutdown_timeout", "0x10", NULL), ERR_CONFIG);
    ck_assert_int_eq(config_set(&c, "http_threads", "1.5", NULL), ERR_CONFIG);
    ck_assert_int_eq(config_set(&c, "http_threads", "99999999999999999999999", NULL), ERR_CONFIG);
    const char *addr_ok[] = {"127.0.0.1:0", "0.0.0.0:8080", "localhost:80", "[::]:65535"};
    const char *addr_bad[] = {":80",    "host:", "host:-1", "[::1]8080",
                              "a b:80", "[]:80", "::1:80",  "host:123456"};
    for (size_t i = 0; i < sizeof addr_ok / sizeof *addr_ok; i++)
        ck_assert_msg(config_set(&c, "listen", addr_ok[i], NULL) == ERR_OK, "%s", addr_ok[i]);
    for (size_t i = 0; i < sizeof addr_bad / sizeof *addr_bad; i++)
        ck_assert_msg(config_set(&c, "listen", addr_bad[i], NULL) == ERR_CONFIG, "%s", addr_bad[i]);
    err e;
    err_clear(&e);
    ck_assert_int_eq(config_set(&c, "nope", "1", &e), ERR_CONFIG);
    ck_assert_str_eq(e.message, "unknown key 'nope'");
}
END_TEST

START_TEST(format_round_trips)
{
    size_t n;
    const config_key *k = config_keys(&n);
    config c, d;
    config_defaults(&c);
    config_set(&c, "max_body_size", "3000", NULL);
    config_set(&c, "shutdown_timeout", "0.125", NULL);
    for (size_t i = 0; i < n; i++) {
        char a[CONFIG_STR_MAX], b[CONFIG_STR_MAX];
        config_format(&c, &k[i], a, sizeof a);
        config_defaults(&d);
        ck_assert_msg(config_set(&d, k[i].name, a, NULL) == ERR_OK, "%s=%s", k[i].name, a);
        ck_assert_str_eq(config_format(&d, &k[i], b, sizeof b), a);
    }
    char buf[32];
    ck_assert_str_eq(config_format(&c, config_key_find("max_body_size"), buf, sizeof buf), "3000");
    config_defaults(&c);
    ck_assert_str_eq(config_format(&c, config_key_find("max_body_size"), buf, sizeof buf), "16M");
}
END_TEST

/* ---- the file ---- */

START_TEST(file_syntax)
{
    const char *path = conf_file("# comment\n"
                                 "\n"
                                 "   # indented comment\n"
                                 "http_threads=3\n"
                                 "  log_level   =   debug  \r\n"
                                 "db = \" /tmp/with space.db\"\n"
                                 "listen = [::1]:0\n"
                                 "seed_models = /tmp/a#1.json\n"
                                 "ui_dir = \"/tmp/x #2\"\n");
    config c;
    config_defaults(&c);
    err e;
    err_clear(&e);
    ck_assert_msg(config_file_apply(&c, path, &e) == ERR_OK, "%s", e.message);
    ck_assert_int_eq(c.http_threads, 3);
    ck_assert_str_eq(c.log_level, "debug");
    ck_assert_str_eq(c.db, " /tmp/with space.db");
    ck_assert_str_eq(c.listen, "[::1]:0");
    ck_assert_str_eq(c.seed_models, "/tmp/a#1.json");
    ck_assert_str_eq(c.ui_dir, "/tmp/x #2");
    ck_assert_int_eq(c.connection_timeout, 30); /* untouched keys keep their defaults */
}
END_TEST

/* Each kind of error names the file and the line, and what was expected. */
static const struct {
    const char *text;
    unsigned line;
    const char *part;
} file_errors[] = {
    {"log_level = info\n\nnope = 1\n", 3, "unknown key 'nope'"},
    {"# ok\nlisten 127.0.0.1:80\n", 2, "expected 'key = value'"},
    {"Log-Level = info\n", 1, "expected 'key = value' with a key of a-z"},
    {"= 5\n", 1, "expected 'key = value' with a key"},
    {"http_threads = 2\nhttp_threads = 3\n", 2,
     "duplicate key 'http_threads' (first set on line 1)"},
    {"\n\n\n\nhttp_threads = many\n", 5,
     "http_threads: expected an integer from 0 to 256, got 'many'"},
    {"max_body_size = 1T\n", 1, "max_body_size: expected a size"},
    {"log_level = loud\n", 1, "log_level: expected one of error|warn|info|debug, got 'loud'"},
    {"db = \"/tmp/x.db\n", 1, "db: expected a closing '\"'"},
    {"db =\n", 1, "db: expected a non-empty path"},
    {"listen = localhost\n", 1, "listen: expected HOST:PORT"},
    {"db_synchronous = FULL\n", 1, "db_synchronous: expected one of off|normal|full|extra"},
    /* no comments after a value: they would become part of a path */
    {"log_level = info\ndb = /var/lib/odeserve/odeserve.db  # main\n", 2,
     "db: a '#' comment goes on a line of its own"},
    {"tls_cert = # none yet\n", 1, "tls_cert: a '#' comment goes on a line of its own"},
};

START_TEST(file_errors_name_the_line)
{
    const char *path = conf_file(file_errors[_i].text);
    config c;
    config_defaults(&c);
    err e;
    err_clear(&e);
    ck_assert_int_eq(config_file_apply(&c, path, &e), ERR_CONFIG);
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s:%u: ", path, file_errors[_i].line);
    expect_err(&e, ERR_CONFIG, prefix, file_errors[_i].part);
}
END_TEST

START_TEST(file_missing)
{
    config c;
    config_defaults(&c);
    err e;
    err_clear(&e);
    ck_assert_int_eq(config_file_apply(&c, "/nonexistent/odeserve.conf", &e), ERR_IO);
    expect_err(&e, ERR_IO, "/nonexistent/odeserve.conf: ", "cannot open");
    err_clear(&e);
    ck_assert_int_eq(config_file_apply(&c, "/tmp", &e), ERR_IO); /* a directory */
    expect_err(&e, ERR_IO, "/tmp: ", "cannot read: Is a directory");
}
END_TEST

/* ---- precedence: command line > environment > file > default ---- */

START_TEST(precedence)
{
    const char *path = conf_file("http_threads = 3\nlog_level = warn\ndb_busy_timeout = 100\n");
    char *argv_file[] = {"odeserved", "--config", (char *)path, NULL};
    char *argv_cli[] = {"odeserved", "--config",          (char *)path, "--http-threads",
                        "7",         "--log-level=error", NULL};
    config_cli cli;
    config c;
    err e;
    err_clear(&e);

    ck_assert_int_eq(config_args_parse(1, argv_file, &cli, &e), ERR_OK);
    ck_assert_int_eq(config_load(&c, &cli, &e), ERR_OK);
    ck_assert_int_eq(c.http_threads, 0); /* default: automatic */

    ck_assert_int_eq(config_args_parse(3, argv_file, &cli, &e), ERR_OK);
    ck_assert_int_eq(config_load(&c, &cli, &e), ERR_OK);
    ck_assert_int_eq(c.http_threads, 3); /* file over default */
    ck_assert_str_eq(c.log_level, "warn");

    setenv("ODESERVE_HTTP_THREADS", "5", 1);
    setenv("ODESERVE_LOG_LEVEL", "debug", 1);
    ck_assert_int_eq(config_load(&c, &cli, &e), ERR_OK);
    ck_assert_int_eq(c.http_threads, 5); /* environment over file */
    ck_assert_str_eq(c.log_level, "debug");
    ck_assert_int_eq(c.db_busy_timeout, 100); /* file still applies to other keys */

    ck_assert_int_eq(config_args_parse(6, argv_cli, &cli, &e), ERR_OK);
    ck_assert_int_eq(config_load(&c, &cli, &e), ERR_OK);
    ck_assert_int_eq(c.http_threads, 7); /* command line over environment */
    ck_assert_str_eq(c.log_level, "error");
    ck_assert_int_eq(c.db_busy_timeout, 100);
    ck_assert_str_eq(c.listen, "127.0.0.1:8080");
}
END_TEST

START_TEST(env_and_cli_errors)
{
    config_cli cli;
    config c;
    err e;
    char *argv0[] = {"odeserved", NULL};
    err_clear(&e);
    ck_assert_int_eq(config_args_parse(1, argv0, &cli, &e), ERR_OK);
    setenv("ODESERVE_MAX_BODY_SIZE", "lots", 1);
    ck_assert_int_eq(config_load(&c, &cli, &e), ERR_CONFIG);
    expect_err(&e, ERR_CONFIG, "environment ODESERVE_MAX_BODY_SIZE: max_body_size: ", "expected");
    unsetenv("ODESERVE_MAX_BODY_SIZE");
    setenv("ODESERVE_TEST_ROUTES", "1", 1); /* not a key: ignored */
    err_clear(&e);
    ck_assert_int_eq(config_load(&c, &cli, &e), ERR_OK);
    unsetenv("ODESERVE_TEST_ROUTES");

    char *argv_bad[] = {"odeserved", "--listen", "nowhere", NULL};
    ck_assert_int_eq(config_args_parse(3, argv_bad, &cli, &e), ERR_OK);
    ck_assert_int_eq(config_load(&c, &cli, &e), ERR_CONFIG);
    expect_err(&e, ERR_CONFIG, "option --listen: listen: ", "expected HOST:PORT");
}
END_TEST

/* ---- the command line ---- */

START_TEST(args_parse)
{
    config_cli cli;
    err e;
    err_clear(&e);
    char *a1[] = {"odeserved",
                  "migrate",
                  "--db",
                  "/tmp/x.db",
                  "--check-config",
                  "--version",
                  "--help",
                  "--db-busy-timeout=9",
                  "--config=/etc/x.conf",
                  NULL};
    ck_assert_int_eq(config_args_parse(9, a1, &cli, &e), ERR_OK);
    ck_assert_str_eq(cli.command, "migrate");
    ck_assert_str_eq(cli.config_file, "/etc/x.conf");
    ck_assert(cli.check_config && cli.version && cli.help);
    ck_assert_uint_eq(cli.n_set, 2);
    ck_assert_str_eq(cli.set[0].key, "db");
    ck_assert_str_eq(cli.set[0].value, "/tmp/x.db");
    ck_assert_str_eq(cli.set[1].key, "db_busy_timeout");
    ck_assert_str_eq(cli.set[1].value, "9");

    static const struct {
        const char *arg, *arg2, *part;
    } bad[] = {
        {"--frobnicate", NULL, "unknown option '--frobnicate'"},
        {"-x", NULL, "unknown option '-x'"},
        {"--db_busy_timeout", "9", "unknown option '--db_busy_timeout'"},
        {"--listen", NULL, "option --listen: expected a value"},
        {"--config", NULL, "option --config: expected a value"},
        {"serve", NULL, "unexpected argument 'serve'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *argv[] = {"odeserved", (char *)bad[i].arg, (char *)bad[i].arg2, NULL};
        err_clear(&e);
        ck_assert_int_eq(config_args_parse(bad[i].arg2 ? 3 : 2, argv, &cli, &e), ERR_CONFIG);
        ck_assert_msg(strstr(e.message, bad[i].part), "'%s' lacks '%s'", e.message, bad[i].part);
    }
}
END_TEST

START_TEST(help_lists_every_key)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    config_print_help(f, "odeserved");
    fclose(f);
    size_t n;
    const config_key *k = config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        char opt[96] = "--";
        size_t o = 2;
        for (const char *p = k[i].name; *p; p++)
            opt[o++] = *p == '_' ? '-' : *p;
        opt[o] = '\0';
        ck_assert_msg(strstr(buf, opt), "help lacks %s", opt);
    }
    ck_assert_ptr_nonnull(strstr(buf, "--check-config"));
    ck_assert_ptr_nonnull(strstr(buf, "migrate"));
    free(buf);
}
END_TEST

/* ---- the shipped file ---- */

START_TEST(shipped_file_has_every_key)
{
    char path[512];
    FILE *f = fopen(tu_source_path(path, sizeof path, "etc/odeserve.conf"), "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t n;
    const config_key *k = config_keys(&n);
    int *count = calloc(n, sizeof *count);
    char line[1024], block[8192] = "";
    while (fgets(line, sizeof line, f)) {
        char key[96];
        /* the paragraph a key's line ends: its comment (and the keys it
         * shares it with) since the last blank line */
        if (line[strspn(line, " \t\r\n")] == '\0')
            block[0] = '\0';
        else if (strlen(block) + strlen(line) < sizeof block)
            strcat(block, line);
        if (sscanf(line, " %95[a-z0-9_] =", key) != 1 || line[0] == '#') continue;
        const config_key *found = config_key_find(key);
        ck_assert_msg(found != NULL, "%s: unknown key %s", path, key);
        count[found - k]++;
        /* "Reloadable" in its comment exactly when SIGHUP applies it */
        ck_assert_msg(!strstr(block, "eloadable") == !found->reloadable,
                      "%s: the comment of %s %s \"Reloadable\"", path, key,
                      found->reloadable ? "should say" : "says");
    }
    fclose(f);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(count[i] == 1, "%s: key %s appears %d times (want 1)", path, k[i].name,
                      count[i]);
    free(count);

    /* It loads, and every value it ships is the built-in default (db is the
     * production path /var/lib/odeserve/odeserve.db), so the file documents
     * the defaults. */
    config c, d;
    err e;
    err_clear(&e);
    config_defaults(&c);
    ck_assert_msg(config_file_apply(&c, path, &e) == ERR_OK, "%s", e.message);
    config_defaults(&d);
    for (size_t i = 0; i < n; i++) {
        char a[CONFIG_STR_MAX], b[CONFIG_STR_MAX];
        ck_assert_msg(strcmp(config_format(&c, &k[i], a, sizeof a),
                             config_format(&d, &k[i], b, sizeof b)) == 0,
                      "shipped %s = %s, default %s", k[i].name, a, b);
    }
}
END_TEST

/* `odeserved token ...`: its words and options in order for the command,
 * settings options anywhere on the line as for the daemon. */
START_TEST(token_command_args)
{
    config_cli cli;
    err e;
    err_clear(&e);
    char *argv[] = {"odeserved", "--db", "/tmp/x.db", "token", "create", "--scope", "read,write",
                    "--name=ci", "--expires", "30d", "--log-level", "warn"};
    ck_assert_int_eq(config_args_parse(12, argv, &cli, &e), ERR_OK);
    ck_assert_str_eq(cli.command, "token");
    const char *want[] = {"create", "--scope", "read,write", "--name=ci", "--expires", "30d"};
    ck_assert_uint_eq(cli.n_args, 6);
    for (size_t i = 0; i < 6; i++)
        ck_assert_str_eq(cli.args[i], want[i]);
    ck_assert_uint_eq(cli.n_set, 2);
    ck_assert_str_eq(cli.set[0].key, "db");
    ck_assert_str_eq(cli.set[1].key, "log_level");
    char *missing[] = {"odeserved", "token", "create", "--scope"};
    ck_assert_int_eq(config_args_parse(4, missing, &cli, &e), ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.message, "--scope"));
    /* --scope is the token command's only: elsewhere it is unknown */
    char *serve[] = {"odeserved", "--scope", "read"};
    err_clear(&e);
    ck_assert_int_eq(config_args_parse(3, serve, &cli, &e), ERR_CONFIG);
    char *stray[] = {"odeserved", "migrate", "create"};
    ck_assert_int_eq(config_args_parse(3, stray, &cli, NULL), ERR_CONFIG);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *core = tcase_create("core");
    tcase_add_checked_fixture(core, setup, teardown);
    tcase_add_test(core, defaults_parse_and_match);
    tcase_add_test(core, every_key_good_and_bad);
    tcase_add_test(core, value_syntax);
    tcase_add_test(core, format_round_trips);
    tcase_add_test(core, file_syntax);
    tcase_add_test(core, precedence);
    tcase_add_test(core, args_parse);
    tcase_add_test(core, token_command_args);
    tcase_add_test(core, help_lists_every_key);
    tcase_add_test(core, shipped_file_has_every_key);
    suite_add_tcase(s, core);
    TCase *errors = tcase_create("errors");
    tcase_add_checked_fixture(errors, setup, teardown);
    tcase_add_loop_test(errors, file_errors_name_the_line, 0,
                        (int)(sizeof file_errors / sizeof file_errors[0]));
    tcase_add_test(errors, file_missing);
    tcase_add_test(errors, env_and_cli_errors);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    return tu_suite_run(config_suite());
}
