/* codec/codec_meta.h: the replies about the daemon itself: liveness and
 * readiness ({"status": ...}) and GET /v1/version.
 *
 * The facts are gathered by the caller (http/meta.c asks libmicrohttpd,
 * SQLite and OpenBLAS); this only writes them. Writers append to the
 * caller's jbuf; no state: thread-safe. */
#ifndef ODESERVE_CODEC_CODEC_META_H
#define ODESERVE_CODEC_CODEC_META_H

#include "codec/jbuf.h"

typedef struct codec_meta_version {
    const char *version;       /* the daemon's */
    int schema_latest;         /* the newest migration this build knows */
    int schema_current;        /* the database's; < 0 = unknown (null) */
    const char *libmicrohttpd; /* library versions, as they report them */
    const char *jansson;
    const char *sqlite;
    const char *openblas; /* NULL: not reported (left out) */
} codec_meta_version;

/* {"status": status} */
void codec_meta_status_encode(const char *status, jbuf *b);
/* {"name": "odeserved", "version", "schema": {"latest", "current"},
 *  "libraries": {...}} */
void codec_meta_version_encode(const codec_meta_version *v, jbuf *b);

#endif
