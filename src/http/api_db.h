/* http/api_db.h: a handler's database connection. Below api.c and auth.c,
 * which both need it (auth.c for the token check, before any handler).
 *
 * Thread safety: the connection is the calling thread's own (store/conns);
 * it stays valid for the thread's life and must not be shared. */
#ifndef ODESERVE_HTTP_API_DB_H
#define ODESERVE_HTTP_API_DB_H

#include "http/handler.h"
#include "store/db.h"

/* This thread's database connection (from the app's pool), or a 5xx reply
 * and NULL. */
db *api_db(http_req *r);

#endif
