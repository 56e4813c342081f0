/* http/framing.c: Content-Length / Transfer-Encoding checks. See framing.h. */
#include "http/framing.h"

#include <string.h>
#include <strings.h>

typedef struct framing_seen {
    unsigned n_length; /* Content-Length headers */
    unsigned n_coding; /* Transfer-Encoding headers */
    const char *coding; /* the first Transfer-Encoding value */
} framing_seen;

static enum MHD_Result framing_count(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    framing_seen *s = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) s->n_length++;
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0 && s->n_coding++ == 0)
        s->coding = value ? value : "";
    return MHD_YES;
}

/* The codings of one Transfer-Encoding value, in order: chunked exactly once
 * and last is what we accept; any other coding is unknown to us. */
static err_code framing_codings(const char *v, err *e)
{
    const char *field = MHD_HTTP_HEADER_TRANSFER_ENCODING;
    unsigned n = 0, chunked = 0;
    int last_chunked = 0;
    const char *p = v;
    for (;;) {
        p += strspn(p, " \t");
        size_t len = strcspn(p, ",");
        size_t t = len;
        while (t > 0 && (p[t - 1] == ' ' || p[t - 1] == '\t'))
            t--;
        if (t == 0)
            return err_set(e, ERR_BAD_REQUEST, field, "Transfer-Encoding has an empty coding: '%.60s'",
                           v);
        n++;
        last_chunked = t == 7 && strncasecmp(p, "chunked", 7) == 0;
        if (last_chunked)
            chunked++;
        else
            return err_set(e, ERR_NOT_IMPLEMENTED, field,
                           "transfer coding '%.*s' is not supported (only chunked)",
                           (int)(t > 40 ? 40 : t), p);
        if (p[len] == '\0') break;
        p += len + 1;
    }
    if (chunked > 1 || !last_chunked || n != chunked)
        return err_set(e, ERR_BAD_REQUEST, field, "chunked must be given once and last: '%.60s'", v);
    return ERR_OK;
}

err_code http_framing_check(struct MHD_Connection *c, err *e)
{
    framing_seen s = {0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, framing_count, &s);
    if (s.n_length > 1)
        return err_set(e, ERR_BAD_REQUEST, MHD_HTTP_HEADER_CONTENT_LENGTH,
                       "Content-Length given %u times; give it once", s.n_length);
    if (s.n_coding > 0 && s.n_length > 0)
        return err_set(e, ERR_BAD_REQUEST, MHD_HTTP_HEADER_CONTENT_LENGTH,
                       "both Transfer-Encoding and Content-Length given; give one");
    if (s.n_coding > 1)
        return err_set(e, ERR_BAD_REQUEST, MHD_HTTP_HEADER_TRANSFER_ENCODING,
                       "Transfer-Encoding given %u times; give it once", s.n_coding);
    if (s.n_coding == 1) return framing_codings(s.coding, e);
    return ERR_OK;
}
