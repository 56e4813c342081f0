/* main.c: odeserved. Wires the modules together and nothing more:
 * command line and settings (daemon/config), signals (daemon/signals),
 * then the daemon's life (daemon/service). See `odeserved --help`. */
#include "build_config.h" /* autoconf: PACKAGE_VERSION */

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "daemon/config.h"
#include "daemon/service.h"
#include "daemon/signals.h"
#include "daemon/token_cmd.h"
#include "http/tls.h"

static int invalid(const err *e)
{
    char q[ERR_MSG_MAX + 8];
    log_error("config_invalid", "error=%s", log_quote(q, sizeof q, e->message));
    return EXIT_INVALID;
}

int main(int argc, char **argv)
{
    config_cli cli;
    config cfg;
    err e;
    err_clear(&e);
    if (config_args_parse(argc, argv, &cli, &e) != ERR_OK) return invalid(&e);
    if (cli.help) {
        config_print_help(stdout, "odeserved");
        return EXIT_OK;
    }
    if (cli.version) {
        char tls[256];
        printf("odeserved %s\n%s\n", PACKAGE_VERSION, http_tls_describe(tls, sizeof tls));
        return EXIT_OK;
    }
    if (config_load(&cfg, &cli, &e) != ERR_OK) return invalid(&e);
    enum log_level lvl = LOG_LVL_INFO;
    log_level_parse(cfg.log_level, &lvl);
    log_level_set(lvl);
    if (cli.check_config) {
        char q[CONFIG_STR_MAX + 8];
        config_log(&cfg);
        /* the files, as the server would load them at start and on SIGHUP */
        http_tls *tls = NULL;
        if ((cfg.tls_cert[0] || cfg.tls_key[0]) &&
            http_tls_new(&tls, cfg.tls_cert, cfg.tls_key, &e) != ERR_OK)
            return invalid(&e);
        if (tls) service_tls_warn(tls, cfg.tls_key);
        http_tls_free(tls);
        log_info("config_ok", "file=%s",
                 log_quote(q, sizeof q, cli.config_file ? cli.config_file : ""));
        return EXIT_OK;
    }
    if (cli.command && strcmp(cli.command, "migrate") == 0) return service_migrate(&cfg);
    if (cli.command && strcmp(cli.command, "token") == 0) return token_cmd_run(&cli, &cfg);
    /* Before any thread exists, so every thread inherits the mask. */
    if (signals_block() != 0) {
        log_error("signals_failed", NULL);
        return EXIT_FAIL;
    }
    return service_run(&cli, &cfg);
}
