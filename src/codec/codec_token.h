/* codec/codec_token.h: the JSON of API tokens (docs/api.md#authentication).
 *
 * Create request: {"name": "ci", "scopes": ["read", "write"], "expires": "30d"}
 *   name as a model name; scopes a non-empty list of read, write, train,
 *   admin (or "all"); expires optional, a lifetime as model/api_token.h
 *   reads it ("30d", "12h", "never"; null = never).
 * A token as listed: {"id", "name", "scopes": [...], "created_at",
 *   "expires_at" (null = never), "last_used_at" (null = not yet),
 *   "expired": bool, "revoked_at" only once revoked}; never a secret.
 * Errors are ERR_INVALID naming the field. Stateless, thread-safe. */
#ifndef ODESERVE_CODEC_CODEC_TOKEN_H
#define ODESERVE_CODEC_CODEC_TOKEN_H

#include <jansson.h>

#include "core/err.h"
#include "model/api_token.h"

typedef struct codec_token_create {
    char name[API_TOKEN_NAME_MAX + 1];
    unsigned scopes;       /* enum api_token_scope bits, at least one */
    long long lifetime_s;  /* 0 = never expires */
} codec_token_create;

err_code codec_token_create_decode(const json_t *doc, codec_token_create *out, err *e);

/* New reference; NULL only when out of memory. */
json_t *codec_token_info_json(const api_token_info *t);

#endif
