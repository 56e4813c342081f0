/* daemon/token_cmd.c: see token_cmd.h. */
#include "daemon/token_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "daemon/service.h"
#include "model/api_token.h"
#include "store/db.h"
#include "store/migrate.h"
#include "store/tokens.h"

typedef struct token_args {
    const char *verb;  /* create | list | revoke */
    const char *which; /* revoke's NAME|ID */
    const char *scope, *name, *expires;
} token_args;

static int usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "odeserved token: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nusage: odeserved token create --scope SCOPES --name NAME [--expires 30d]\n"
                    "       odeserved token list\n"
                    "       odeserved token revoke NAME|ID\n"
                    "(with --db PATH or --config FILE as for the daemon; SCOPES: read, write, "
                    "train, admin, comma-separated, or all)\n");
    return EXIT_INVALID;
}

/* "--scope=x" or "--scope" "x" -> *slot; returns the words used, 0 on error. */
static int take(const config_cli *cli, size_t i, const char **slot)
{
    const char *eq = strchr(cli->args[i], '=');
    if (eq) {
        *slot = eq + 1;
        return 1;
    }
    if (i + 1 >= cli->n_args) return 0;
    *slot = cli->args[i + 1];
    return 2;
}

static int parse(const config_cli *cli, token_args *a)
{
    memset(a, 0, sizeof *a);
    for (size_t i = 0; i < cli->n_args;) {
        const char *w = cli->args[i];
        const char **slot = strncmp(w, "--scope", 7) == 0     ? &a->scope
                            : strncmp(w, "--name", 6) == 0    ? &a->name
                            : strncmp(w, "--expires", 9) == 0 ? &a->expires
                                                              : NULL;
        if (slot) {
            int used = take(cli, i, slot);
            if (!used) return usage("%s needs a value", w);
            i += (size_t)used;
        } else if (!a->verb) {
            a->verb = w;
            i++;
        } else if (strcmp(a->verb, "revoke") == 0 && !a->which) {
            a->which = w;
            i++;
        } else {
            return usage("unexpected argument '%s'", w);
        }
    }
    if (!a->verb) return usage("%s", "expected create, list or revoke");
    if (strcmp(a->verb, "create") == 0) {
        if (!a->scope || !a->name) return usage("%s", "create needs --scope and --name");
    } else if (strcmp(a->verb, "revoke") == 0) {
        if (!a->which) return usage("%s", "revoke needs the token's name or id");
    } else if (strcmp(a->verb, "list") != 0) {
        return usage("unknown command '%s' (expected create, list or revoke)", a->verb);
    }
    if (strcmp(a->verb, "create") != 0 && (a->scope || a->name || a->expires))
        return usage("%s", "--scope, --name and --expires go with create");
    return EXIT_OK;
}

/* Open cfg->db. With no daemon on it, claim and migrate; beside a running
 * one (which has migrated it), only check that the schema is current. */
static err_code open_db(const config *cfg, db **d, int *lock, err *e)
{
    db_opts o;
    db_opts_default(&o);
    o.path = cfg->db;
    o.busy_timeout_ms = (int)cfg->db_busy_timeout;
    o.synchronous = cfg->db_synchronous;
    err le;
    err_clear(&le);
    int claimed = db_claim(&o, lock, &le) == ERR_OK;
    if (!claimed && le.code != ERR_CONFLICT) return err_set(e, le.code, le.field, "%s", le.message);
    if (db_open(d, &o, e) != ERR_OK) return e->code;
    if (claimed) return db_migrate(*d, NULL, NULL, e);
    return db_migrate_check(*d, e);
}

static int create(db *d, const token_args *a, err *e)
{
    unsigned scopes;
    long long lifetime = 0;
    if (api_token_scopes_parse(a->scope, &scopes, "--scope", e) != ERR_OK ||
        api_token_lifetime_parse(a->expires ? a->expires : "", &lifetime, "--expires", e) !=
            ERR_OK)
        return usage("%s", e->message);
    api_token_new_out t;
    api_token_info info;
    if (api_token_new(&t, e) != ERR_OK ||
        store_token_put(d, a->name, scopes, lifetime, &t, &info, e) != ERR_OK) {
        api_token_wipe(&t);
        return EXIT_FAIL;
    }
    printf("%s\n", t.text);
    fflush(stdout);
    api_token_wipe(&t);
    char sc[64];
    fprintf(stderr,
            "odeserved token: created \"%s\" (id %s, scopes %s, expires %s); the token above is "
            "shown only this once: send it as \"Authorization: Bearer <token>\"\n",
            info.name, info.id, api_token_scopes_format(info.scopes, sc, sizeof sc),
            info.expires_at[0] ? info.expires_at : "never");
    return EXIT_OK;
}

static int list(db *d, err *e)
{
    api_token_info *rows = NULL;
    size_t n = 0;
    if (store_token_list(d, &rows, &n, e) != ERR_OK) return EXIT_FAIL;
    printf("%-16s  %-24s  %-22s  %-24s  %-24s  %s\n", "ID", "NAME", "SCOPES", "CREATED",
           "EXPIRES", "LAST USED");
    for (size_t i = 0; i < n; i++) {
        char sc[64];
        printf("%-16s  %-24s  %-22s  %-24s  %-24s  %s\n", rows[i].id, rows[i].name,
               api_token_scopes_format(rows[i].scopes, sc, sizeof sc), rows[i].created_at,
               rows[i].expires_at[0] ? rows[i].expires_at : "never",
               rows[i].last_used_at[0] ? rows[i].last_used_at : "-");
        if (rows[i].expired) printf("%-16s  (expired)\n", "");
    }
    free(rows);
    return EXIT_OK;
}

static int revoke(db *d, const char *which, err *e)
{
    api_token_info info;
    if (store_token_revoke(d, which, &info, e) != ERR_OK) return EXIT_FAIL;
    fprintf(stderr, "odeserved token: revoked \"%s\" (id %s)\n", info.name, info.id);
    return EXIT_OK;
}

int token_cmd_run(const config_cli *cli, const config *cfg)
{
    token_args a;
    int rc = parse(cli, &a);
    if (rc != EXIT_OK) return rc;
    err e;
    err_clear(&e);
    db *d = NULL;
    int lock = -1;
    /* list and revoke read a database: a mistyped path must not make a new,
     * empty one (create may: tokens come before a network daemon's start) */
    struct stat st;
    if (strcmp(a.verb, "create") != 0 && stat(cfg->db, &st) != 0) {
        fprintf(stderr,
                "odeserved token: no database at %s (give the daemon's with --db PATH or "
                "--config FILE)\n",
                cfg->db);
        return EXIT_FAIL;
    }
    if (open_db(cfg, &d, &lock, &e) != ERR_OK) {
        rc = EXIT_FAIL;
    } else if (strcmp(a.verb, "create") == 0) {
        rc = create(d, &a, &e);
    } else if (strcmp(a.verb, "list") == 0) {
        rc = list(d, &e);
    } else {
        rc = revoke(d, a.which, &e);
    }
    db_close(d);
    db_unclaim(lock);
    if (rc == EXIT_FAIL) fprintf(stderr, "odeserved token: %s\n", e.message);
    return rc;
}
