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

#include "codec/codec_meta.h"
#include "codec/codec_model.h"
#include "http/api.h"
#include "http/handlers.h"
#include "nn/nn_blas.h"
#include "store/db.h"
#include "store/migrate.h"

void h_healthz(http_req *r)
{
    jbuf b;
    jbuf_init(&b);
    codec_meta_status_encode("ok", &b);
    api_reply_jbuf(r, 200, &b);
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
    jbuf b;
    jbuf_init(&b);
    codec_meta_status_encode("ready", &b);
    api_reply_jbuf(r, 200, &b);
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
    codec_meta_version v = {
        .version = PACKAGE_VERSION,
        .schema_latest = db_migrate_latest(),
        .schema_current = current,
        .libmicrohttpd = MHD_get_version(),
        .jansson = jansson_version_str(),
        .sqlite = db_sqlite_version(),
        .openblas = nn_blas_config(),
    };
    jbuf b;
    jbuf_init(&b);
    codec_meta_version_encode(&v, &b);
    api_reply_jbuf(r, 200, &b);
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
