/* http/api_db.c: see api_db.h. */
#include "http/api_db.h"

#include "http/request_impl.h"
#include "store/db.h"

db *api_db(http_req *r)
{
    err e;
    err_clear(&e);
    db *d = NULL;
    if (db_conns_get(http_req_app(r)->db, &d, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return NULL;
    }
    return d;
}
