/* http/meta.c: liveness, readiness and version endpoints.
 *
 *   GET /healthz     200 {"status":"ok"} while the process serves at all.
 *   GET /readyz      200 {"status":"ready"} when the daemon has finished
 *                    starting, is not draining, and the database answers
 *                    with the current schema (db_migrate_check); 503 otherwise.
 *   GET /v1/version  the daemon's version, the schema versions, and the
 *                    versions of the libraries it runs on.
 *   GET /v1/solvers  the solver methods a request may name (codec_solvers_list). */
#include "build_config.h" /* autoconf (the top build dir): PACKAGE_VERSION */

#include <microhttpd.h>
#include <stdatomic.h>

#include "codec/codec_model.h"
#include "http/handlers.h"
#include "nn/nn_blas.h"
#include "store/db.h"
#include "store/migrate.h"

void h_healthz(http_req *r)
{
    http_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

void h_readyz(http_req *r)
{
    http_app *app = http_req_app(r);
    int state = atomic_load(&app->state);
    if (state != HTTP_APP_READY) {
        http_reply_errorf(r, ERR_UNAVAILABLE, NULL, "not ready: %s",
                          state == HTTP_APP_DRAINING ? "shutting down" : "starting");
        return;
    }
    err e;
    err_clear(&e);
    db *d = NULL;
    if (db_conns_get(app->db, &d, &e) != ERR_OK || db_migrate_check(d, &e) != ERR_OK) {
        http_reply_errorf(r, ERR_UNAVAILABLE, NULL, "not ready: database: %s", e.message);
        return;
    }
    http_reply_json(r, 200, json_pack("{s:s}", "status", "ready"));
}

void h_version(http_req *r)
{
    http_app *app = http_req_app(r);
    err e;
    err_clear(&e);
    db *d = NULL;
    int current = -1;
    if (db_conns_get(app->db, &d, &e) != ERR_OK || db_schema_version(d, &current, &e) != ERR_OK)
        current = -1;
    json_t *libs = json_pack("{s:s, s:s, s:s}", "libmicrohttpd", MHD_get_version(), "jansson",
                             jansson_version_str(), "sqlite", db_sqlite_version());
    const char *blas = nn_blas_config();
    if (libs && blas) json_object_set_new(libs, "openblas", json_string(blas));
    json_t *schema = json_pack("{s:i}", "latest", db_migrate_latest());
    if (schema)
        json_object_set_new(schema, "current", current >= 0 ? json_integer(current) : json_null());
    http_reply_json(r, 200,
                    json_pack("{s:s, s:s, s:o*, s:o*}", "name", "odeserved", "version",
                              PACKAGE_VERSION, "schema", schema, "libraries", libs));
}

void h_solvers(http_req *r)
{
    json_t *body = codec_solvers_list();
    if (!body) {
        http_reply_errorf(r, ERR_NOMEM, NULL, "out of memory");
        return;
    }
    http_reply_json(r, 200, body);
}
