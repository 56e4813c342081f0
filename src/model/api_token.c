/* model/api_token.c: see api_token.h. SHA-256 and the random bytes come
 * from GnuTLS (gnutls_hash_fast, gnutls_rnd), the library libmicrohttpd's
 * TLS is built on, so the daemon carries one crypto library. */
#include "model/api_token.h"

#include <ctype.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char hexdig[] = "0123456789abcdef";

static void hex(char *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[p[i] >> 4];
        out[2 * i + 1] = hexdig[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* 0, or -1 when GnuTLS refuses (a FIPS mode without SHA-256, say). */
static int digest(const char *secret, const uint8_t salt[API_TOKEN_SALT_LEN],
                  uint8_t out[API_TOKEN_HASH_LEN])
{
    size_t n = strlen(secret);
    uint8_t buf[API_TOKEN_SALT_LEN + 256];
    /* secrets we issue are 64 characters; a longer presented one is wrong
     * anyway, and cutting it keeps the work bounded */
    if (n > sizeof buf - API_TOKEN_SALT_LEN) n = sizeof buf - API_TOKEN_SALT_LEN;
    memcpy(buf, salt, API_TOKEN_SALT_LEN);
    memcpy(buf + API_TOKEN_SALT_LEN, secret, n);
    int rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, API_TOKEN_SALT_LEN + n, out);
    gnutls_memset(buf, 0, sizeof buf);
    return rc == 0 ? 0 : -1;
}

err_code api_token_new(api_token_new_out *out, err *e)
{
    uint8_t id[API_TOKEN_ID_LEN / 2], secret[API_TOKEN_SECRET_LEN / 2];
    char stext[API_TOKEN_SECRET_LEN + 1];
    memset(out, 0, sizeof *out);
    if (gnutls_rnd(GNUTLS_RND_NONCE, id, sizeof id) != 0 ||
        gnutls_rnd(GNUTLS_RND_KEY, secret, sizeof secret) != 0 ||
        gnutls_rnd(GNUTLS_RND_NONCE, out->salt, sizeof out->salt) != 0)
        return err_set(e, ERR_INTERNAL, NULL, "the random number generator failed");
    hex(out->id, id, sizeof id);
    hex(stext, secret, sizeof secret);
    snprintf(out->text, sizeof out->text, "ods_%s_%s", out->id, stext);
    int rc = digest(stext, out->salt, out->hash);
    gnutls_memset(secret, 0, sizeof secret);
    gnutls_memset(stext, 0, sizeof stext);
    if (rc != 0) {
        api_token_wipe(out);
        return err_set(e, ERR_INTERNAL, NULL, "SHA-256 (GnuTLS) failed");
    }
    return ERR_OK;
}

void api_token_wipe(api_token_new_out *t)
{
    gnutls_memset(t, 0, sizeof *t);
}

static int all_hex(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!p[i] || !strchr(hexdig, p[i])) return 0;
    return 1;
}

int api_token_parse(const char *text, char id[API_TOKEN_ID_LEN + 1], const char **secret)
{
    if (strncmp(text, "ods_", 4) != 0) return 0;
    const char *p = text + 4;
    if (!all_hex(p, API_TOKEN_ID_LEN) || p[API_TOKEN_ID_LEN] != '_') return 0;
    const char *s = p + API_TOKEN_ID_LEN + 1;
    if (strlen(s) != API_TOKEN_SECRET_LEN || !all_hex(s, API_TOKEN_SECRET_LEN)) return 0;
    memcpy(id, p, API_TOKEN_ID_LEN);
    id[API_TOKEN_ID_LEN] = '\0';
    *secret = s;
    return 1;
}

int api_token_verify(const char *secret, const uint8_t salt[API_TOKEN_SALT_LEN],
                     const uint8_t hash[API_TOKEN_HASH_LEN])
{
    uint8_t got[API_TOKEN_HASH_LEN];
    if (digest(secret, salt, got) != 0) return 0;
    /* OR of the differences over all bytes; volatile keeps the compiler from
     * turning the loop into an early-exit memcmp */
    volatile uint8_t diff = 0;
    for (size_t i = 0; i < API_TOKEN_HASH_LEN; i++)
        diff = (uint8_t)(diff | (got[i] ^ hash[i]));
    return diff == 0;
}

static const struct {
    const char *word;
    unsigned bit;
} scope_words[] = {
    {"read", API_TOKEN_READ},
    {"write", API_TOKEN_WRITE},
    {"train", API_TOKEN_TRAIN},
    {"admin", API_TOKEN_ADMIN},
};
#define N_SCOPES (sizeof scope_words / sizeof scope_words[0])

err_code api_token_scopes_parse(const char *text, unsigned *scopes, const char *field, err *e)
{
    unsigned set = 0;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        unsigned bit = 0;
        if (len == 3 && strncmp(p, "all", 3) == 0) bit = API_TOKEN_ALL;
        for (size_t i = 0; i < N_SCOPES && !bit; i++)
            if (strlen(scope_words[i].word) == len && strncmp(p, scope_words[i].word, len) == 0)
                bit = scope_words[i].bit;
        if (!bit)
            return err_set(e, ERR_INVALID, field,
                           "expected scopes from read, write, train, admin (or all), "
                           "comma-separated; got '%.*s'",
                           (int)(len > 40 ? 40 : len), p);
        set |= bit;
        if (!comma) break;
        p = comma + 1;
    }
    *scopes = set;
    return ERR_OK;
}

const char *api_token_scopes_format(unsigned scopes, char *buf, size_t n)
{
    size_t o = 0;
    if (n) buf[0] = '\0';
    for (size_t i = 0; i < N_SCOPES; i++)
        if (scopes & scope_words[i].bit && o < n)
            o += (size_t)snprintf(buf + o, n - o, "%s%s", o ? "," : "", scope_words[i].word);
    return buf;
}

const char *api_token_scope_name(unsigned bit)
{
    for (size_t i = 0; i < N_SCOPES; i++)
        if (scope_words[i].bit == bit) return scope_words[i].word;
    return "?";
}

err_code api_token_lifetime_parse(const char *text, long long *seconds, const char *field, err *e)
{
    *seconds = 0;
    if (text[0] == '\0' || strcmp(text, "never") == 0) return ERR_OK;
    const char *p = text;
    long long v = 0;
    int digits = 0;
    for (; isdigit((unsigned char)*p) && digits < 12; p++, digits++)
        v = v * 10 + (*p - '0');
    long long unit = 0;
    if (*p == '\0' || strcmp(p, "s") == 0) unit = 1;
    else if (strcmp(p, "m") == 0) unit = 60;
    else if (strcmp(p, "h") == 0) unit = 3600;
    else if (strcmp(p, "d") == 0) unit = 86400;
    if (digits == 0 || unit == 0 || v < 1 || v * unit > 100LL * 366 * 86400)
        return err_set(e, ERR_INVALID, field,
                       "expected a lifetime like 30d, 12h, 15m or 90s (at most 100 years), or "
                       "never; got '%.40s'",
                       text);
    *seconds = v * unit;
    return ERR_OK;
}
