/* http/datasets.c: uploaded time-series datasets (docs/training-jobs.md).
 *
 *   POST   /v1/datasets/{name}   upload (application/json or text/csv):
 *                                201 + Location + the summary; a CSV
 *                                point set says ?kind=points (a JSON one
 *                                "kind": "points" in its body)
 *   GET    /v1/datasets          every dataset's summary, by name
 *   GET    /v1/datasets/{name}   one summary: series, points, channels,
 *                                time range, missing fraction, labels
 *   DELETE /v1/datasets/{name}
 *
 * Uploads are decoded and validated in full before anything is written,
 * on the evaluation pool (a large CSV takes a while); the store writes the
 * dataset in one transaction, so a rejected upload stores nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec/codec_dataset.h"
#include "codec/codec_dataset_info.h"
#include "codec/codec_parse.h"
#include "core/log.h"
#include "http/api.h"
#include "http/handlers.h"
#include "store/datasets.h"

enum { BODY_JSON = 1, BODY_CSV = 2, BODY_CSV_POINTS = 3 };

static void upload_work(http_req *r)
{
    const char *name = http_req_param(r, "name");
    int kind = *(int *)http_req_user(r);
    err e;
    err_clear(&e);
    json_t *doc = NULL;
    dataset ds;
    dataset_init(&ds);
    db *d = NULL;
    size_t len = 0;
    const char *body = http_req_body(r, &len);
    err_code rc = kind == BODY_CSV ? codec_dataset_csv_decode(body ? body : "", len, &ds, &e)
                  : kind == BODY_CSV_POINTS
                      ? codec_dataset_csv_points_decode(body ? body : "", len, &ds, &e)
                  : api_body_parse_packed(r, codec_dataset_pack_keys, &doc, &e) == ERR_OK
                      ? codec_dataset_json_decode(doc, &ds, &e)
                      : e.code;
    json_decref(doc); /* decoded: the tree need not live through the store */
    doc = NULL;
    dataset_info in;
    if (rc != ERR_OK || db_conns_get(http_req_app(r)->db, &d, &e) != ERR_OK ||
        store_dataset_put(d, name, &ds, &e) != ERR_OK ||
        store_dataset_info(d, name, &in, &e) != ERR_OK) {
        http_reply_error(r, &e);
        goto out;
    }
    char loc[128];
    snprintf(loc, sizeof loc, "/v1/datasets/%s", name);
    http_reply_header(r, "Location", loc);
    log_info("dataset_stored", "request_id=%s name=%s kind=%s series=%zu points=%zu channels=%zu",
             http_req_id(r), name, dataset_kind_name(in.kind), in.n_series, in.n_points,
             in.channels);
    jbuf b;
    jbuf_init(&b);
    codec_dataset_info_encode(&in, &b);
    api_reply_jbuf(r, 201, &b);
out:
    dataset_free(&ds);
    json_decref(doc);
}

/* text/csv, any case, with or without parameters (as codec_parse_is_json_type). */
static int is_csv_type(const char *ct)
{
    if (!ct) return 0;
    ct += strspn(ct, " \t");
    if (strncasecmp(ct, "text/csv", 8) != 0) return 0;
    char c = ct[8];
    return c == '\0' || c == ';' || c == ' ' || c == '\t';
}

void h_dataset_create(http_req *r)
{
    if (!api_path_name(r, "dataset", 1)) return;
    const char *ct = http_req_header(r, "Content-Type");
    int kind = 0;
    if (codec_parse_is_json_type(ct))
        kind = BODY_JSON;
    else if (is_csv_type(ct))
        kind = BODY_CSV;
    if (!kind) {
        http_reply_errorf(r, ERR_MEDIA, NULL,
                          "Content-Type must be application/json or text/csv, got '%.80s'",
                          ct ? ct : "(none)");
        return;
    }
    /* JSON says its kind in the body; CSV has no place for it but the query */
    const char *qk = http_req_query(r, "kind");
    if (qk && strcmp(qk, "points") != 0 && strcmp(qk, "series") != 0) {
        http_reply_errorf(r, ERR_INVALID, "kind", "must be \"series\" (the default) or \"points\"");
        return;
    }
    if (qk && kind == BODY_JSON) {
        http_reply_errorf(r, ERR_INVALID, "kind",
                          "a JSON upload says its kind in the body (\"kind\": \"points\"); "
                          "?kind= is for CSV");
        return;
    }
    if (qk && strcmp(qk, "points") == 0 && kind == BODY_CSV) kind = BODY_CSV_POINTS;
    int *arg = malloc(sizeof *arg);
    if (!arg) {
        http_reply_errorf(r, ERR_NOMEM, NULL, "out of memory");
        return;
    }
    *arg = kind;
    http_req_user_set(r, arg, free);
    http_req_defer(r, upload_work);
}

void h_datasets_list(http_req *r)
{
    db *d = api_db(r);
    if (!d) return;
    err e;
    err_clear(&e);
    dataset_info *list = NULL;
    size_t n = 0;
    if (store_dataset_list(d, &list, &n, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    jbuf b;
    jbuf_init(&b);
    codec_dataset_info_list_encode(list, n, &b);
    free(list);
    api_reply_jbuf(r, 200, &b);
}

void h_dataset_get(http_req *r)
{
    const char *name = api_path_name(r, "dataset", 0);
    db *d = name ? api_db(r) : NULL;
    if (!d) return;
    err e;
    err_clear(&e);
    dataset_info in;
    if (store_dataset_info(d, name, &in, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    jbuf b;
    jbuf_init(&b);
    codec_dataset_info_encode(&in, &b);
    api_reply_jbuf(r, 200, &b);
}

void h_dataset_delete(http_req *r)
{
    const char *name = api_path_name(r, "dataset", 0);
    db *d = name ? api_db(r) : NULL;
    if (!d) return;
    err e;
    err_clear(&e);
    if (store_dataset_delete(d, name, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    log_info("dataset_deleted", "request_id=%s name=%s", http_req_id(r), name);
    jbuf b;
    jbuf_init(&b);
    codec_dataset_info_deleted_encode(name, &b);
    api_reply_jbuf(r, 200, &b);
}
