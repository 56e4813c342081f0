/* http/openapi.h: the OpenAPI 3.1 document of the whole API.
 *
 * docs/openapi.json, embedded at build time (src/http/embed-text.sh), is
 * what GET /v1/openapi.json serves. tests/check_openapi.c keeps it true:
 * every route of the table (routes.c) is in it and it documents no other,
 * and it passes a structural check of the OpenAPI 3.1 rules. Immutable. */
#ifndef ODESERVE_HTTP_OPENAPI_H
#define ODESERVE_HTTP_OPENAPI_H

#include <stddef.h>

extern const char http_openapi_json[];     /* NUL-terminated */
extern const size_t http_openapi_json_len; /* without the NUL */

#endif
