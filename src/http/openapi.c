/* http/openapi.c: GET /v1/openapi.json, the embedded docs/openapi.json
 * (openapi.h). */
#include "http/openapi.h"

#include <stdlib.h>
#include <string.h>

#include "http/handlers.h"

void h_openapi(http_req *r)
{
    char *text = malloc(http_openapi_json_len);
    if (text) memcpy(text, http_openapi_json, http_openapi_json_len);
    http_reply_buf(r, 200, text, http_openapi_json_len); /* NULL: the out-of-memory reply */
}
