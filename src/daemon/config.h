/* daemon/config.h: the daemon's settings, their table, and the command line.
 *
 * Every setting is one row of a static table (name, type, default, range,
 * whether SIGHUP may change it, one line of documentation). Parsing,
 * validation, --help, the environment (ODESERVE_<KEY>), the command line
 * (--<key-with-dashes> VALUE) and the "what changed" report on reload are
 * all driven by that table, so a new setting is one more row and one more
 * field.
 *
 * Sources, highest precedence first: command line > environment > file >
 * built-in default. Errors name their source: "FILE:LINE: ...",
 * "environment ODESERVE_X: ...", "option --x: ...", and say what was
 * expected; the daemon exits with status 2 on any of them.
 *
 * A `config` is plain data (fixed-size strings, no pointers): copy it with
 * `=`. Functions here are not thread-safe on the same `config`; the table is
 * immutable. */
#ifndef ODESERVE_DAEMON_CONFIG_H
#define ODESERVE_DAEMON_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define CONFIG_STR_MAX 1024 /* longest string value, including the NUL */
#define CONFIG_MAX_SET 64   /* most --key VALUE options on one command line */

typedef struct config {
    char listen[CONFIG_STR_MAX];       /* "ADDR:PORT"; port 0 = ephemeral */
    char db[CONFIG_STR_MAX];           /* SQLite database path */
    char log_level[16];                /* error | warn | info | debug */
    long long http_threads;            /* libmicrohttpd thread pool size; 0 = automatic */
    long long connection_timeout;      /* seconds a connection may stay idle */
    long long connection_limit;        /* concurrent connections, all clients */
    long long per_ip_connection_limit; /* concurrent connections per client IP; 0 = no cap */
    double header_timeout;             /* seconds a request's headers may take */
    long long min_body_rate;           /* bytes/s a body must average; 0 = none */
    uint64_t max_body_size;            /* request body cap, bytes */
    uint64_t large_body_size;          /* bodies from this size count as large; 0 = none */
    long long large_body_concurrency;  /* large bodies at once before 503; 0 = no cap */
    double shutdown_timeout;           /* seconds in-flight requests get on SIGTERM */
    char db_synchronous[16];           /* off | normal | full | extra */
    long long db_busy_timeout;         /* milliseconds SQLite waits for a lock */
    uint64_t db_reserve_size;          /* bytes kept free for deletes on a full disk (store/space.h) */
    long long eval_threads;            /* evaluation pool size; 0 = one per online CPU */
    long long eval_queue_limit;        /* evaluations waiting for a thread before 503 */
    long long max_solve_points;        /* most values in one trajectory reply */
    long long max_sde_samples;         /* most samples in one sde trajectory request */
    long long max_cnf_points;          /* most points in one cnf log_prob / sample request */
    long long max_cnf_exact_dim;       /* widest cnf served with the exact trace */
    long long max_cnf_probes;          /* most Hutchinson probes per cnf request */
    long long hybrid_max_expr_len, hybrid_max_nodes, hybrid_max_depth; /* docs/hybrid.md */
    uint64_t gradient_max_tape;        /* bytes one gradient request's engine may hold */
    double solve_timeout;              /* seconds one solve may run; 0 = no limit */
    double keepalive_poll;             /* seconds an idle HTTP thread polls a keep-alive
                                          connection after replying; 0 = never */
    double inline_budget;              /* seconds a solve may run on the HTTP thread; 0 = never */
    long long model_cache_size;        /* loaded model versions kept in memory when unused */
    char seed_models[CONFIG_STR_MAX];  /* model documents stored on start if absent; "" = none */
    long long job_workers;             /* training worker threads */
    long long train_threads;           /* a job's threads when its document gives none */
    long long checkpoint_every_iterations; /* a job checkpoints this often ... */
    double checkpoint_every_seconds;       /* ... or this often, whichever first */
    char metrics[16];                      /* GET /metrics: open | token | off */
    char auth[16];                         /* auto | required | writes | off (service.c) */
    char tls_cert[CONFIG_STR_MAX];         /* PEM certificate chain; "" = plain HTTP */
    char tls_key[CONFIG_STR_MAX];          /* PEM private key of tls_cert */
    char cors_origins[CONFIG_STR_MAX];     /* "" = CORS off; "*"; or "https://a,http://b:3000" */
    char ui[8];                            /* "on" | "off": the dashboard */
    char ui_dir[CONFIG_STR_MAX];           /* its files; "" = $(datadir)/odeserve/ui */
    char ui_lib_dir[CONFIG_STR_MAX];       /* Debian's JavaScript libraries; "" = configure's */
    long long rate_limit;                  /* requests/s per client address; 0 = no limit */
    long long rate_burst;                  /* bucket size above rate_limit */
} config;

typedef enum config_type {
    CONFIG_INT,     /* decimal integer in [min, max] */
    CONFIG_BYTES,   /* integer with optional K/M/G suffix (powers of 1024) */
    CONFIG_SECONDS, /* decimal number of seconds, fractions allowed */
    CONFIG_ENUM,    /* one of `choices` ("a|b|c") */
    CONFIG_PATH,    /* non-empty string */
    CONFIG_ADDR,    /* HOST:PORT, [IPv6]:PORT */
    CONFIG_PATHS,   /* comma-separated paths, none empty; "" = no paths */
    CONFIG_OPTPATH, /* a path, or "" = none */
    CONFIG_ORIGINS  /* "", "*", or comma-separated http(s)://host[:port] origins */
} config_type;

typedef struct config_key {
    const char *name; /* "http_threads"; env ODESERVE_HTTP_THREADS; CLI --http-threads */
    config_type type;
    size_t offset;       /* offsetof(config, field) */
    size_t size;         /* sizeof the field (string capacity) */
    const char *def;     /* default, in config-file syntax */
    double min, max;     /* numeric range, inclusive (INT, BYTES, SECONDS) */
    const char *choices; /* ENUM: "error|warn|info|debug" */
    int reloadable;      /* SIGHUP applies a new value without a restart */
    const char *doc;     /* one line for --help */
} config_key;

/* The table; *n receives its length. */
const config_key *config_keys(size_t *n);
const config_key *config_key_find(const char *name);

/* Every field to its default. */
void config_defaults(config *c);

/* Parse and validate `value` for `key` into c. On error the message says
 * what was expected ("expected an integer from 1 to 256, got 'x'"); the
 * caller prefixes the source. ERR_CONFIG for a bad value or unknown key. */
err_code config_set(config *c, const char *key, const char *value, err *e);

/* Apply a `key = value` file on top of c. ERR_CONFIG "FILE:LINE: ..." on an
 * unknown key, a malformed line, a duplicate key or a bad value; ERR_IO
 * "FILE: ..." when it cannot be read. */
err_code config_file_apply(config *c, const char *path, err *e);

/* Apply every ODESERVE_<KEY> environment variable naming a known key.
 * Other ODESERVE_* variables are left alone (ODESERVE_TEST_ROUTES). */
err_code config_env_apply(config *c, err *e);

/* Format the value of `k` in c as config-file text into buf. */
const char *config_format(const config *c, const config_key *k, char *buf, size_t n);

/* The command line. Options take `--opt VALUE` or `--opt=VALUE`. */
#define CONFIG_MAX_ARGS 16 /* most words and options of the token command */

typedef struct config_cli {
    const char *command;     /* NULL: serve; "migrate"; "token" */
    const char *config_file; /* --config FILE, or NULL */
    int check_config;        /* --check-config */
    int version;             /* --version */
    int help;                /* --help */
    size_t n_set;
    struct {
        const char *key;   /* table name, e.g. "log_level" (points into the table) */
        const char *value; /* points into argv */
    } set[CONFIG_MAX_SET];
    /* "token": its words and own options (--scope, --name, --expires with
     * their values), in order, for daemon/token_cmd.c; settings options
     * (--db, --config, ...) anywhere on the line go to set[] as usual */
    size_t n_args;
    const char *args[CONFIG_MAX_ARGS]; /* point into argv */
} config_cli;

/* Parse argv. ERR_CONFIG "option --x: ..." on an unknown option, a
 * missing value or an unknown command ("migrate" and "token" are known); values are validated later, by
 * config_load. argv must outlive `cli`. */
err_code config_args_parse(int argc, char **argv, config_cli *cli, err *e);

/* The full load: defaults, then cli->config_file (if any), then the
 * environment, then cli->set[]. Used at start and again on SIGHUP. */
err_code config_load(config *c, const config_cli *cli, err *e);

/* One log line (info) with every effective setting: event=config KEY=VALUE... */
void config_log(const config *c);

/* Write the usage text (options and every key with its default) to `out`
 * (a FILE *; void * keeps <stdio.h> out of this header). */
void config_print_help(void *out, const char *argv0);

#endif
