/* http/dataset_series.c: GET /v1/datasets/{name}/series?offset=K&limit=N,
 * a stored dataset's series in the upload's JSON form (the dashboard's
 * preview; a client's way to get its data back). The dataset is loaded and
 * written on the evaluation pool: a large one takes a while. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_dataset_export.h"
#include "http/api.h"
#include "http/handlers.h"
#include "store/datasets.h"

#define SERIES_LIMIT_DEFAULT 20
#define SERIES_LIMIT_MAX 1000

typedef struct series_query {
    size_t offset, limit;
} series_query;

/* A non-negative integer query argument, or the default when absent. */
static int query_count(http_req *r, const char *key, long def, long max, size_t *out)
{
    const char *s = http_req_query(r, key);
    long v = def;
    if (s) {
        char *end;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < 0 || v > max || s[0] == '+' || s[0] == '-') {
            http_reply_errorf(r, ERR_INVALID, key, "must be an integer from 0 to %ld", max);
            return -1;
        }
    }
    *out = (size_t)v;
    return 0;
}

static void series_work(http_req *r)
{
    const char *name = http_req_param(r, "name");
    const series_query *q = http_req_user(r);
    err e;
    err_clear(&e);
    db *d = NULL;
    dataset ds;
    dataset_init(&ds);
    if (db_conns_get(http_req_app(r)->db, &d, &e) != ERR_OK ||
        store_dataset_load(d, name, &ds, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    jbuf b;
    jbuf_init(&b);
    codec_dataset_series_encode(name, &ds, q->offset, q->limit, &b);
    dataset_free(&ds);
    api_reply_jbuf(r, 200, &b);
}

void h_dataset_series(http_req *r)
{
    if (!api_path_name(r, "dataset", 0)) return;
    series_query *q = malloc(sizeof *q);
    if (!q) {
        http_reply_errorf(r, ERR_NOMEM, NULL, "out of memory");
        return;
    }
    if (query_count(r, "offset", 0, 1L << 40, &q->offset) != 0 ||
        query_count(r, "limit", SERIES_LIMIT_DEFAULT, SERIES_LIMIT_MAX, &q->limit) != 0) {
        free(q);
        return;
    }
    http_req_user_set(r, q, free);
    http_req_defer(r, series_work);
}
