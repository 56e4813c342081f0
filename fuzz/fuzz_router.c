/* fuzz_router: the route table's matcher (http/routes.c) and the version
 * references of paths. Input: a method, a newline, a path. Properties:
 * never a crash or an overrun (the matcher splits the path in place); a
 * match has the method asked for (HEAD as GET) and no more parameters than
 * its pattern's; a 405 lists an Allow that names real methods only. */
#include "fuzz/fuzz.h"

#include <string.h>

#include "http/routes.h"
#include "model/model_name.h"

FUZZ_ENTRY(router)
{
    if (size > 4096) return 0;
    char buf[4097];
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *nl = memchr(buf, '\n', size);
    if (!nl) return 0;
    *nl = '\0';
    const char *method = buf;
    char *path = nl + 1;
    char path_copy[4097];
    snprintf(path_copy, sizeof path_copy, "%s", path);
    for (int test_routes = 0; test_routes < 2; test_routes++) {
        char p[4097];
        snprintf(p, sizeof p, "%s", path_copy);
        route_params params;
        memset(&params, 0, sizeof params);
        char allow[128];
        err_code why = ERR_OK;
        const http_route *r = routes_match(method, p, test_routes, &params, allow, sizeof allow, &why);
        if (r) {
            const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
            FUZZ_ASSERT(strcmp(r->method, m) == 0);
            FUZZ_ASSERT(params.n <= ROUTE_MAX_PARAMS);
            for (int i = 0; i < params.n; i++)
                FUZZ_ASSERT(params.value[i] != NULL && params.value[i][0] != '\0');
            FUZZ_ASSERT(test_routes || !(r->flags & ROUTE_TEST));
        } else if (why == ERR_METHOD) {
            FUZZ_ASSERT(allow[0] != '\0');
        }
    }
    model_version_ref ref;
    if (model_version_ref_parse(path_copy, &ref)) {
        FUZZ_ASSERT(ref.version >= 0);
        FUZZ_ASSERT(ref.alias[0] == '\0' || model_alias_ok(ref.alias));
    }
    return 0;
}
