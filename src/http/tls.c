/* http/tls.c: see tls.h.
 *
 * A loaded certificate is one immutable `tls_gen` (generation): the chain
 * as GnuTLS pcerts, the private key, and what the log shows of it. The
 * current generation is published through one atomic pointer (release on
 * store, acquire in the callback), so a handshake reads a complete pair.
 * Replaced generations stay on a list until http_tls_free: GnuTLS keeps
 * pointers to the pair a session picked for that session's life, and we do
 * not know when the last such session ends. A reload costs a few KB kept
 * until the daemon stops. */
#include "build_config.h" /* autoconf: HAVE_GNUTLS */

#include "http/tls.h"

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_GNUTLS
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#define TLS_MAX_CHAIN 16

typedef struct tls_gen {
    gnutls_pcert_st pcerts[TLS_MAX_CHAIN];
    unsigned n;
    gnutls_privkey_t key;
    char fingerprint[32 * 3 + 1]; /* "AB:CD:..." */
    char serial[64];          /* hex */
    long long expires;        /* seconds since the epoch */
    struct tls_gen *older;    /* replaced generations, newest first */
} tls_gen;

struct http_tls {
    char *cert_path, *key_path;
    tls_gen *gens; /* every generation loaded, the current one first */
};

/* The generation handshakes use now (the callback has no user pointer). */
static _Atomic(tls_gen *) current;

static void gen_free(tls_gen *g)
{
    if (!g) return;
    for (unsigned i = 0; i < g->n; i++)
        gnutls_pcert_deinit(&g->pcerts[i]);
    if (g->key) gnutls_privkey_deinit(g->key);
    free(g);
}

static void hex(char *out, size_t n, const unsigned char *p, size_t len, const char *sep)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < len && o + strlen(sep) + 2 < n; i++)
        o += (size_t)snprintf(out + o, n - o, "%s%02X", i ? sep : "", p[i]);
}

/* Fingerprint, serial and expiry of the leaf certificate. */
static err_code gen_describe(tls_gen *g, const char *cert_path, err *e)
{
    unsigned char buf[64];
    size_t len = sizeof buf;
    gnutls_x509_crt_t crt = NULL;
    int rc = gnutls_fingerprint(GNUTLS_DIG_SHA256, &g->pcerts[0].cert, buf, &len);
    if (rc < 0) goto fail;
    hex(g->fingerprint, sizeof g->fingerprint, buf, len, ":");
    if ((rc = gnutls_x509_crt_init(&crt)) < 0 ||
        (rc = gnutls_x509_crt_import(crt, &g->pcerts[0].cert, GNUTLS_X509_FMT_DER)) < 0)
        goto fail;
    len = sizeof buf;
    if ((rc = gnutls_x509_crt_get_serial(crt, buf, &len)) < 0) goto fail;
    hex(g->serial, sizeof g->serial, buf, len, "");
    g->expires = (long long)gnutls_x509_crt_get_expiration_time(crt);
    gnutls_x509_crt_deinit(crt);
    return ERR_OK;
fail:
    if (crt) gnutls_x509_crt_deinit(crt);
    return err_set(e, ERR_CONFIG, "tls_cert", "tls_cert: %s: %s", cert_path, gnutls_strerror(rc));
}

/* 1 when the key's public half is the leaf certificate's. */
static int key_matches(const tls_gen *g)
{
    gnutls_pubkey_t pub = NULL;
    gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
    int same = 0;
    if (gnutls_pubkey_init(&pub) == 0 && gnutls_pubkey_import_privkey(pub, g->key, 0, 0) == 0 &&
        gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &a) == 0 &&
        gnutls_pubkey_export2(g->pcerts[0].pubkey, GNUTLS_X509_FMT_DER, &b) == 0)
        same = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
    gnutls_free(a.data);
    gnutls_free(b.data);
    if (pub) gnutls_pubkey_deinit(pub);
    return same;
}

static err_code gen_load(const char *cert_path, const char *key_path, tls_gen **out, err *e)
{
    gnutls_datum_t c = {NULL, 0}, k = {NULL, 0};
    tls_gen *g = calloc(1, sizeof *g);
    err_code code = ERR_OK;
    int rc;
    if (!g) {
        code = err_set(e, ERR_NOMEM, NULL, "out of memory loading the TLS certificate");
        goto out;
    }
    if ((rc = gnutls_load_file(cert_path, &c)) < 0) {
        code = err_set(e, ERR_CONFIG, "tls_cert", "tls_cert: cannot read %s: %s", cert_path,
                       gnutls_strerror(rc));
        goto out;
    }
    if ((rc = gnutls_load_file(key_path, &k)) < 0) {
        code = err_set(e, ERR_CONFIG, "tls_key", "tls_key: cannot read %s: %s", key_path,
                       gnutls_strerror(rc));
        goto out;
    }
    g->n = TLS_MAX_CHAIN;
    rc = gnutls_pcert_list_import_x509_raw(g->pcerts, &g->n, &c, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0 || g->n == 0) {
        g->n = 0;
        code = err_set(e, ERR_CONFIG, "tls_cert",
                       "tls_cert: %s: expected PEM certificates (-----BEGIN CERTIFICATE-----, "
                       "the server's first, at most %d): %s",
                       cert_path, TLS_MAX_CHAIN, gnutls_strerror(rc));
        goto out;
    }
    if ((rc = gnutls_privkey_init(&g->key)) < 0 ||
        (rc = gnutls_privkey_import_x509_raw(g->key, &k, GNUTLS_X509_FMT_PEM, NULL,
                                             GNUTLS_PKCS_PLAIN)) < 0) {
        code = err_set(e, ERR_CONFIG, "tls_key",
                       "tls_key: %s: expected an unencrypted PEM private key: %s", key_path,
                       gnutls_strerror(rc));
        goto out;
    }
    if (!key_matches(g)) {
        code = err_set(e, ERR_CONFIG, "tls_key",
                       "tls_key: the key in %s does not belong to the certificate in %s "
                       "(its public key differs)",
                       key_path, cert_path);
        goto out;
    }
    code = gen_describe(g, cert_path, e);
out:
    gnutls_free(c.data);
    if (k.data) gnutls_memset(k.data, 0, k.size); /* the key's text, not only freed */
    gnutls_free(k.data);
    if (code != ERR_OK) {
        gen_free(g);
        g = NULL;
    }
    *out = g;
    return code;
}

/* gnutls_certificate_retrieve_function2: the current pair, for every
 * handshake, whatever the client asked for (one certificate served). */
static int cert_callback(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                         const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                         gnutls_pcert_st **pcert, unsigned int *pcert_length,
                         gnutls_privkey_t *privkey)
{
    (void)session, (void)req_ca_dn, (void)nreqs, (void)pk_algos, (void)pk_algos_length;
    tls_gen *g = atomic_load_explicit(&current, memory_order_acquire);
    if (!g) return -1;
    *pcert = g->pcerts;
    *pcert_length = g->n;
    *privkey = g->key;
    return 0;
}

int http_tls_supported(void)
{
    return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES &&
           MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK) == MHD_YES;
}

const char *http_tls_describe(char *buf, size_t n)
{
    if (http_tls_supported())
        snprintf(buf, n, "tls: GnuTLS %s", gnutls_check_version(NULL));
    else
        snprintf(buf, n, "tls: not supported (libmicrohttpd %s was built without TLS or "
                         "without the certificate callback)",
                 MHD_get_version());
    return buf;
}

err_code http_tls_new(http_tls **out, const char *cert_path, const char *key_path, err *e)
{
    *out = NULL;
    if (!cert_path[0] || !key_path[0])
        return err_set(e, ERR_CONFIG, cert_path[0] ? "tls_key" : "tls_cert",
                       "tls_cert and tls_key go together: set both (HTTPS) or neither");
    if (!http_tls_supported())
        return err_set(e, ERR_CONFIG, "tls_cert",
                       "tls_cert: this libmicrohttpd (%s) cannot serve HTTPS with a certificate "
                       "callback; leave tls_cert and tls_key empty",
                       MHD_get_version());
    http_tls *t = calloc(1, sizeof *t);
    if (!t || !(t->cert_path = strdup(cert_path)) || !(t->key_path = strdup(key_path))) {
        http_tls_free(t);
        return err_set(e, ERR_NOMEM, NULL, "out of memory loading the TLS certificate");
    }
    err_code rc = gen_load(cert_path, key_path, &t->gens, e);
    if (rc != ERR_OK) {
        http_tls_free(t);
        return rc;
    }
    atomic_store_explicit(&current, t->gens, memory_order_release);
    *out = t;
    return ERR_OK;
}

err_code http_tls_reload(http_tls *t, err *e)
{
    tls_gen *g = NULL;
    err_code rc = gen_load(t->cert_path, t->key_path, &g, e);
    if (rc != ERR_OK) return rc;
    g->older = t->gens;
    t->gens = g;
    atomic_store_explicit(&current, g, memory_order_release);
    return ERR_OK;
}

const char *http_tls_fingerprint(const http_tls *t)
{
    return t->gens->fingerprint;
}

const char *http_tls_serial(const http_tls *t)
{
    return t->gens->serial;
}

long long http_tls_expires(const http_tls *t)
{
    return t->gens->expires;
}

void *http_tls_mhd_callback(void)
{
    return (void *)cert_callback;
}

const char *http_tls_priorities(void)
{
    /* GnuTLS's defaults less TLS 1.0 and 1.1 (RFC 8996 deprecates them),
     * less the TLS 1.2 suites without forward secrecy (static RSA key
     * exchange) and those with CBC (Lucky Thirteen and its kin): the AEAD
     * ciphers only, as RFC 9325, 4.2 recommends. TLS 1.3 has only these. */
    return "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1:-VERS-DTLS-ALL:-RSA:-CIPHER-ALL:+AES-256-GCM:"
           "+CHACHA20-POLY1305:+AES-128-GCM:+AES-256-CCM:+AES-128-CCM";
}

void http_tls_free(http_tls *t)
{
    if (!t) return;
    tls_gen *expected = t->gens;
    atomic_compare_exchange_strong(&current, &expected, NULL);
    for (tls_gen *g = t->gens, *next; g; g = next) {
        next = g->older;
        gen_free(g);
    }
    free(t->cert_path);
    free(t->key_path);
    free(t);
}

#else /* no GnuTLS */

struct http_tls {
    int unused;
};

int http_tls_supported(void)
{
    return 0;
}

const char *http_tls_describe(char *buf, size_t n)
{
    snprintf(buf, n, "tls: not supported (built without GnuTLS)");
    return buf;
}

err_code http_tls_new(http_tls **out, const char *cert_path, const char *key_path, err *e)
{
    (void)cert_path, (void)key_path;
    *out = NULL;
    return err_set(e, ERR_CONFIG, "tls_cert",
                   "tls_cert: this odeserved was built without GnuTLS and cannot serve HTTPS; "
                   "rebuild with libgnutls28-dev installed, or leave tls_cert and tls_key empty");
}

err_code http_tls_reload(http_tls *t, err *e)
{
    (void)t;
    return err_set(e, ERR_CONFIG, "tls_cert", "tls_cert: built without GnuTLS");
}

const char *http_tls_fingerprint(const http_tls *t)
{
    (void)t;
    return "";
}

const char *http_tls_serial(const http_tls *t)
{
    (void)t;
    return "";
}

long long http_tls_expires(const http_tls *t)
{
    (void)t;
    return 0;
}

void *http_tls_mhd_callback(void)
{
    return NULL;
}

const char *http_tls_priorities(void)
{
    return "";
}

void http_tls_free(http_tls *t)
{
    free(t);
}

#endif
