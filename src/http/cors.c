/* http/cors.c: see cors.h. */
#include "http/cors.h"

#include <stdlib.h>
#include <string.h>

struct http_cors {
    int any;       /* "*" */
    size_t n;
    char **origin; /* n exact origins */
};

err_code http_cors_new(http_cors **out, const char *origins, err *e)
{
    *out = NULL;
    if (!origins || !*origins) return ERR_OK;
    http_cors *c = calloc(1, sizeof *c);
    if (!c) return err_set(e, ERR_NOMEM, NULL, "cors_origins: out of memory");
    if (strcmp(origins, "*") == 0) {
        c->any = 1;
        *out = c;
        return ERR_OK;
    }
    size_t cap = 1;
    for (const char *p = origins; *p; p++)
        cap += *p == ',';
    if (!(c->origin = calloc(cap, sizeof *c->origin))) goto oom;
    for (const char *p = origins;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0) {
            http_cors_free(c);
            return err_set(e, ERR_CONFIG, "cors_origins", "cors_origins: an empty origin");
        }
        if (!(c->origin[c->n] = strndup(p, len))) goto oom;
        c->n++;
        if (!comma) break;
        p = comma + 1;
    }
    *out = c;
    return ERR_OK;
oom:
    http_cors_free(c);
    return err_set(e, ERR_NOMEM, NULL, "cors_origins: out of memory");
}

const char *http_cors_allow(const http_cors *c, const char *origin)
{
    if (!c || !origin) return NULL;
    if (c->any) return "*";
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->origin[i], origin) == 0) return c->origin[i];
    return NULL;
}

int http_cors_varies(const http_cors *c)
{
    return c && !c->any;
}

void http_cors_free(http_cors *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++)
        free(c->origin[i]);
    free(c->origin);
    free(c);
}
