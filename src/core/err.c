/* core/err.c: the error record. See err.h. */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const code_names[ERR__COUNT] = {
    [ERR_OK] = "ok",
    [ERR_INVALID] = "invalid_argument",
    [ERR_BAD_JSON] = "bad_json",
    [ERR_NOT_FOUND] = "not_found",
    [ERR_METHOD] = "method_not_allowed",
    [ERR_TOO_LARGE] = "too_large",
    [ERR_MEDIA] = "unsupported_media_type",
    [ERR_CONFLICT] = "conflict",
    [ERR_SOLVER] = "solver_failed",
    [ERR_DEADLINE] = "deadline_exceeded",
    [ERR_UNAVAILABLE] = "unavailable",
    [ERR_ABORTED] = "aborted",
    [ERR_NOMEM] = "out_of_memory",
    [ERR_IO] = "io_error",
    [ERR_DB] = "database_error",
    [ERR_SCHEMA] = "schema_mismatch",
    [ERR_STORAGE_FULL] = "storage_full",
    [ERR_CONFIG] = "config_error",
    [ERR_INTERNAL] = "internal",
    [ERR_UNAUTHENTICATED] = "unauthenticated",
    [ERR_FORBIDDEN] = "permission_denied",
    [ERR_RATE_LIMITED] = "rate_limited",
    [ERR_BUSY] = "database_busy",
    [ERR_BAD_REQUEST] = "bad_request",
    [ERR_NOT_IMPLEMENTED] = "not_implemented",
};

void err_clear(err *e)
{
    if (!e) return;
    e->code = ERR_OK;
    e->field[0] = '\0';
    e->message[0] = '\0';
}

err_code err_set(err *e, err_code code, const char *field, const char *fmt, ...)
{
    if (!e || e->code != ERR_OK) return code;
    e->code = code;
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return code;
}

void err_prefix_field(err *e, const char *prefix)
{
    if (!e || !prefix || !prefix[0]) return;
    char buf[ERR_FIELD_MAX];
    const char *sep = (e->field[0] == '\0' || e->field[0] == '[') ? "" : ".";
    size_t lp = strlen(prefix), ls = strlen(sep), lf = strlen(e->field);
    if (lp + ls + lf >= sizeof buf) return; /* keep the innermost path rather than a cut one */
    memcpy(buf, prefix, lp);
    memcpy(buf + lp, sep, ls);
    memcpy(buf + lp + ls, e->field, lf + 1);
    memcpy(e->field, buf, sizeof buf);
}

const char *err_code_name(err_code code)
{
    if ((int)code < 0 || code >= ERR__COUNT || !code_names[code]) return "internal";
    return code_names[code];
}
