/* model/api_token.h: API tokens as data: making one, reading the text a
 * client sends, checking its secret against the stored salted hash, and
 * the words of scopes and lifetimes. No SQL (store/tokens.h keeps the rows)
 * and no HTTP (http/auth.c applies them to requests).
 *
 * A token's text is "ods_<id>_<secret>": `id` is 16 lowercase hex digits,
 * public, the key a daemon looks the token up by; `secret` is 64 lowercase
 * hex digits (32 random bytes from GnuTLS's gnutls_rnd, GNUTLS_RND_KEY).
 * Only SHA-256(salt || secret) is kept, with 16 random bytes of salt per
 * token; the text itself exists once, in what api_token_new returns to be
 * printed, and is wiped by api_token_wipe. Secrets are 256 random bits, so
 * a fast hash is enough (a slow KDF defends guessable passwords, which
 * these are not); the comparison is in constant time (api_token_verify).
 *
 * Stateless apart from GnuTLS's random generator; every function is
 * thread-safe. */
#ifndef ODESERVE_MODEL_API_TOKEN_H
#define ODESERVE_MODEL_API_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define API_TOKEN_ID_LEN 16     /* hex digits of the id */
#define API_TOKEN_SECRET_LEN 64 /* hex digits of the secret */
#define API_TOKEN_SALT_LEN 16   /* bytes */
#define API_TOKEN_HASH_LEN 32   /* bytes: SHA-256 */
#define API_TOKEN_TEXT_MAX (4 + API_TOKEN_ID_LEN + 1 + API_TOKEN_SECRET_LEN + 1)
#define API_TOKEN_NAME_MAX 64

/* Scopes, a set of bits; the stored value is this set. */
enum api_token_scope {
    API_TOKEN_READ = 1u << 0,  /* GET routes and evaluations (trajectory) */
    API_TOKEN_WRITE = 1u << 1, /* uploads, deletes, datasets */
    API_TOKEN_TRAIN = 1u << 2, /* training jobs */
    API_TOKEN_ADMIN = 1u << 3, /* tokens */
    API_TOKEN_ALL = 15u
};

/* What api_token_new makes: the text to hand out once, and the row to keep. */
typedef struct api_token_new_out {
    char text[API_TOKEN_TEXT_MAX]; /* "ods_<id>_<secret>": print, then api_token_wipe */
    char id[API_TOKEN_ID_LEN + 1];
    uint8_t salt[API_TOKEN_SALT_LEN];
    uint8_t hash[API_TOKEN_HASH_LEN];
} api_token_new_out;

/* A stored token as listed (no secret, no hash). Strings "" when unset. */
typedef struct api_token_info {
    char id[API_TOKEN_ID_LEN + 1];
    char name[API_TOKEN_NAME_MAX + 1];
    unsigned scopes;       /* enum api_token_scope bits */
    char created_at[32];   /* "2026-12-06T07:01:02.345Z", as every stored time */
    char expires_at[32];   /* "" = never */
    char last_used_at[32]; /* to the minute: store/tokens.h */
    char revoked_at[32];   /* "" = active */
    int expired;           /* expires_at had passed when the row was read */
} api_token_info;

/* What a daemon reads to check a presented token. */
typedef struct api_token_row {
    api_token_info info;
    uint8_t salt[API_TOKEN_SALT_LEN];
    uint8_t hash[API_TOKEN_HASH_LEN];
    int touch_due; /* last_used_at is older than a minute (store_token_touch) */
} api_token_row;

/* A fresh token. ERR_INTERNAL when the random generator fails. */
err_code api_token_new(api_token_new_out *out, err *e);

/* Overwrite the secret text (and the rest) so it does not linger in memory. */
void api_token_wipe(api_token_new_out *t);

/* Split a presented token: 1 with id (NUL-terminated) and *secret pointing
 * into `text` when it has the form above; 0 otherwise. */
int api_token_parse(const char *text, char id[API_TOKEN_ID_LEN + 1], const char **secret);

/* 1 when SHA-256(salt || secret) equals `hash`. The comparison runs over
 * every byte whatever the data (no early exit), so its time says nothing
 * about how much of the hash matched. */
int api_token_verify(const char *secret, const uint8_t salt[API_TOKEN_SALT_LEN],
                     const uint8_t hash[API_TOKEN_HASH_LEN]);

/* "read,write" -> the set. ERR_INVALID (field `field`) naming the unknown
 * word, or for an empty list. Words may repeat; "all" is every scope. */
err_code api_token_scopes_parse(const char *text, unsigned *scopes, const char *field, err *e);
/* The set as "read,write,train,admin" (in that order) into buf. */
const char *api_token_scopes_format(unsigned scopes, char *buf, size_t n);
/* The word of one scope bit ("read"), or "?". */
const char *api_token_scope_name(unsigned bit);

/* A lifetime: "30d", "12h", "15m", "90s" or plain seconds ("3600"), from 1
 * second to 100 years; "never" (or "") is 0. ERR_INVALID (field `field`)
 * saying what is expected. */
err_code api_token_lifetime_parse(const char *text, long long *seconds, const char *field, err *e);

#endif
