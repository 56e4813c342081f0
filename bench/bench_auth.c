/* bench_auth: what checking an API token costs per request, as
 * http/auth.c does it: store_token_lookup (a cached statement, a primary-key
 * read on the thread's own SQLite connection) and api_token_verify (one
 * SHA-256 and the constant-time compare), on a temporary database holding
 * `--tokens N` tokens (default 100). Thread CPU time, median of 5 rounds of
 * 20000 checks; one JSON line:
 *   {"bench": "auth", "tokens": 100, "lookup_verify_us": ..., "verify_us": ...}
 * The figure backs http/auth.c's choice of reading tokens per request over
 * a cache (docs/api.md#authentication). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "model/api_token.h"
#include "store/db.h"
#include "store/migrate.h"
#include "store/tokens.h"

#define ROUNDS 5
#define N 20000

int main(int argc, char **argv)
{
    int ntok = 100;
    if (argc == 3 && strcmp(argv[1], "--tokens") == 0) ntok = atoi(argv[2]);
    char dir[] = "/tmp/bench-auth-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char path[64];
    snprintf(path, sizeof path, "%s/db", dir);
    db_opts o;
    db_opts_default(&o);
    o.path = path;
    o.synchronous = "normal";
    db *d = NULL;
    err e;
    err_clear(&e);
    if (db_open(&d, &o, &e) != ERR_OK || db_migrate(d, NULL, NULL, &e) != ERR_OK) {
        fprintf(stderr, "bench_auth: %s\n", e.message);
        return 1;
    }
    api_token_new_out t;
    char id[API_TOKEN_ID_LEN + 1];
    const char *secret = NULL;
    static char text[API_TOKEN_TEXT_MAX];
    for (int i = 0; i < ntok; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%d", i);
        if (api_token_new(&t, &e) != ERR_OK ||
            store_token_put(d, name, API_TOKEN_READ, 0, &t, NULL, &e) != ERR_OK) {
            fprintf(stderr, "bench_auth: %s\n", e.message);
            return 1;
        }
        if (i == ntok / 2) memcpy(text, t.text, sizeof text);
    }
    api_token_parse(text, id, &secret);
    double both[ROUNDS], verify[ROUNDS];
    int ok = 0;
    for (int r = 0; r < ROUNDS; r++) {
        api_token_row row;
        double t0 = bench_cpu_now();
        for (int i = 0; i < N; i++)
            ok += store_token_lookup(d, id, &row, NULL) == ERR_OK &&
                  api_token_verify(secret, row.salt, row.hash);
        both[r] = (bench_cpu_now() - t0) / N * 1e6;
        t0 = bench_cpu_now();
        for (int i = 0; i < N; i++)
            ok += api_token_verify(secret, row.salt, row.hash);
        verify[r] = (bench_cpu_now() - t0) / N * 1e6;
    }
    qsort(both, ROUNDS, sizeof both[0], bench_cmp_double);
    qsort(verify, ROUNDS, sizeof verify[0], bench_cmp_double);
    printf("{\"bench\": \"auth\", \"tokens\": %d, \"lookup_verify_us\": %.3f, \"verify_us\": %.3f, "
           "\"ok\": %d}\n",
           ntok, both[ROUNDS / 2], verify[ROUNDS / 2], ok == 2 * ROUNDS * N);
    db_close(d);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 && ok == 2 * ROUNDS * N ? 0 : 1;
}
