/* store/tokens.h: API tokens in SQLite (table tokens,
 * migrations/0006_tokens.sql). Only the id, the name, the scopes, the times
 * and the salted hash are stored (model/api_token.h makes them); never the
 * token's text.
 *
 * Revoking keeps the row (revoked_at set) so that a later attempt with the
 * token is still logged under its name; a name is unique among the tokens
 * not revoked. last_used_at is written at most once a minute per token
 * (store_token_touch when the lookup says touch_due), so that checking a
 * token on every request does not turn every request into a write.
 *
 * Every function takes the calling thread's connection (db_conns_get, or
 * the token command's own) and is as thread-safe as SQLite's
 * one-connection-per-thread model; each reads the database afresh, so a
 * token made or revoked by another process counts at the next request.
 * What is returned is the caller's (free() a list). */
#ifndef ODESERVE_STORE_TOKENS_H
#define ODESERVE_STORE_TOKENS_H

#include "core/err.h"
#include "model/api_token.h"
#include "store/db.h"

#include <stddef.h>

/* Store the token `t` (api_token_new) as `name` with `scopes` (1..15),
 * expiring `lifetime_s` seconds from now (0 = never). ERR_INVALID (field
 * "name" or "scopes"); ERR_CONFLICT (field "name") when an active token has
 * that name. *info (may be NULL) receives the stored row. */
err_code store_token_put(db *d, const char *name, unsigned scopes, long long lifetime_s,
                         const api_token_new_out *t, api_token_info *info, err *e);

/* The row of token `id`, revoked or expired ones too (the caller decides);
 * ERR_NOT_FOUND when there is none. A cached statement: cheap per request. */
err_code store_token_lookup(db *d, const char *id, api_token_row *out, err *e);

/* Set last_used_at of `id` to now. */
err_code store_token_touch(db *d, const char *id, err *e);

/* The tokens not revoked, by name; *out malloc'd (free()), *n may be 0. */
err_code store_token_list(db *d, api_token_info **out, size_t *n, err *e);

/* Revoke the active token named `which`, or else the active token whose id
 * is `which`. ERR_NOT_FOUND (field "name"). *info (may be NULL) receives the
 * row as revoked. */
err_code store_token_revoke(db *d, const char *which, api_token_info *info, err *e);

/* Tokens neither revoked nor expired. */
err_code store_token_count_active(db *d, long long *n, err *e);

#endif
