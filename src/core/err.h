/* core/err.h: status codes and the caller-owned error record.
 *
 * Every fallible function in odeserve returns an err_code (0 = ok) and, when
 * given a non-NULL `err *`, fills it. The first error set wins: a caller that
 * adds context later never overwrites the root cause (GSL gsl_errno.h codes,
 * jansson's json_error_t record). The record is plain data, owned by the
 * caller, usually on its stack; it is not shared between threads.
 *
 * Each code has a stable name (err_code_name), the word logs use and that
 * any layer reporting an error outside the process may show; how a code is
 * reported is that layer's choice, not core's. */
#ifndef ODESERVE_CORE_ERR_H
#define ODESERVE_CORE_ERR_H

#include <stddef.h>

typedef enum err_code {
    ERR_OK = 0,
    ERR_INVALID,      /* invalid_argument: a value has the wrong type, shape or range */
    ERR_BAD_JSON,     /* bad_json: a text that should be JSON does not parse */
    ERR_NOT_FOUND,    /* not_found: no such model, version, job, dataset or endpoint */
    ERR_METHOD,       /* method_not_allowed: the thing exists, the operation asked of it does not */
    ERR_TOO_LARGE,    /* too_large: an input or the work it asks for is over a configured cap */
    ERR_MEDIA,        /* unsupported_media_type: the input's format is not one we accept */
    ERR_CONFLICT,     /* conflict: the request clashes with stored state */
    ERR_SOLVER,       /* solver_failed: max_steps, step underflow, non-finite state */
    ERR_DEADLINE,     /* deadline_exceeded: the work ran past its time limit */
    ERR_UNAVAILABLE,  /* unavailable: starting, draining or overloaded */
    ERR_ABORTED,      /* aborted: a caller-supplied abort hook stopped the work */
    ERR_NOMEM,        /* out_of_memory: an allocation failed */
    ERR_IO,           /* io_error: a file or socket operation failed */
    ERR_DB,           /* database_error: SQLite reported an error */
    ERR_SCHEMA,       /* schema_mismatch: the database is newer than this binary */
    ERR_STORAGE_FULL, /* storage_full: the disk (or quota) under the database is full */
    ERR_CONFIG,       /* config_error: the configuration is invalid */
    ERR_INTERNAL,     /* internal: a bug; the message says where */
    ERR_UNAUTHENTICATED, /* unauthenticated: no credentials, or wrong, expired or revoked ones */
    ERR_FORBIDDEN,       /* permission_denied: the credentials lack the permission asked for */
    ERR_RATE_LIMITED, /* rate_limited: the client sent more than its configured rate */
    ERR_BUSY,         /* database_busy: another writer held the database past busy_timeout */
    ERR_BAD_REQUEST,  /* bad_request: the HTTP message itself is malformed or ambiguous (framing) */
    ERR_NOT_IMPLEMENTED, /* not_implemented: a protocol feature we do not support (a transfer coding) */
    ERR__COUNT
} err_code;

#define ERR_FIELD_MAX 160
#define ERR_MSG_MAX 320

typedef struct err {
    err_code code;              /* ERR_OK until the first err_set */
    char field[ERR_FIELD_MAX];  /* offending field path, e.g. "vector_field.layers[1].weight[3]"; may be empty */
    char message[ERR_MSG_MAX];  /* human-readable, one line */
} err;

/* Reset to ERR_OK. */
void err_clear(err *e);

/* Record an error unless one is recorded already; returns `code` so callers
 * can write `return err_set(e, ERR_INVALID, "t", "must not be empty");`.
 * `e` may be NULL; `field` may be NULL. */
err_code err_set(err *e, err_code code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prefix the recorded field with `prefix` ("layers[1]" + "weight" ->
 * "layers[1].weight"; an index prefix like "[3]" joins without a dot). Used by
 * nested validators that know only their own part of the path. */
void err_prefix_field(err *e, const char *prefix);

/* Wire name ("invalid_argument") of a code; never NULL. */
const char *err_code_name(err_code code);

#endif
