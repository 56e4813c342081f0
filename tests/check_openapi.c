/* check_openapi: docs/openapi.json (served by GET /v1/openapi.json) against
 * the route table and the rules of OpenAPI 3.1.
 *
 *   complete     every route of src/http/routes.c (but the test-only ones)
 *                is an operation of the document (method and pattern as
 *                written in the table), and every operation of the
 *                document is a route: a route added without its entry, or
 *                an entry left behind by a removed route, fails here with
 *                the line to add;
 *   structure    Debian packages no OpenAPI validator
 *                (python3-openapi-spec-validator is not in bookworm), so
 *                this is a structural check of what the specification
 *                requires and what clients trip over:
 *                  - "openapi" is "3.1.x"; "info" has "title" and "version"
 *                    strings; "paths" is an object of paths starting "/";
 *                  - a path item holds only operations (get, put, post,
 *                    delete, options, head, patch, trace) and the fields
 *                    summary, description, servers, parameters;
 *                  - every operation has a unique "operationId", a
 *                    "summary", and a non-empty "responses" whose keys are
 *                    "default" or a status (200, 4XX) and whose values have
 *                    a "description" (or are a $ref);
 *                  - every {name} of a path is declared as a path
 *                    parameter (name, in: path, required: true), on the
 *                    path item or the operation, and no path parameter is
 *                    declared that the path lacks;
 *                  - every "$ref" is local ("#/...") and resolves (JSON
 *                    pointer, ~0 and ~1 unescaped);
 *                the checker's own test feeds it broken documents, one
 *                fault each, and each must be caught. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/routes.h"
#include "testutil.h"

#define WHY 512

static json_t *load_doc(void)
{
    char path[1024];
    json_error_t je;
    json_t *doc = json_load_file(tu_source_path(path, sizeof path, "docs/openapi.json"), 0, &je);
    ck_assert_msg(doc != NULL, "docs/openapi.json: line %d: %s", je.line, je.text);
    return doc;
}

/* ---- the structural check ---- */

static const char *const methods[] = {"get",     "put",  "post",  "delete",
                                      "options", "head", "patch", "trace"};

static int is_method(const char *k)
{
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(k, methods[i]) == 0) return 1;
    return 0;
}

/* The value at a local JSON pointer ("#/components/schemas/Error"). */
static const json_t *pointer(const json_t *doc, const char *ref)
{
    if (strncmp(ref, "#/", 2) != 0) return NULL;
    const json_t *at = doc;
    const char *p = ref + 2;
    while (at && *p) {
        char key[256];
        size_t n = 0;
        for (; *p && *p != '/' && n + 1 < sizeof key; p++) {
            if (p[0] == '~' && p[1] == '0')
                key[n++] = '~', p++;
            else if (p[0] == '~' && p[1] == '1')
                key[n++] = '/', p++;
            else
                key[n++] = *p;
        }
        key[n] = '\0';
        if (*p == '/') p++;
        at = json_is_array(at) ? json_array_get(at, (size_t)atoi(key)) : json_object_get(at, key);
    }
    return at;
}

/* Every $ref under v resolves. */
static int refs_resolve(const json_t *doc, const json_t *v, char *why, size_t n)
{
    if (json_is_object(v)) {
        const char *k;
        const json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            if (strcmp(k, "$ref") == 0) {
                const char *r = json_string_value(x);
                if (!r || !pointer(doc, r)) {
                    snprintf(why, n, "$ref %s does not resolve (only local #/ refs)",
                             r ? r : "(not a string)");
                    return 0;
                }
            } else if (!refs_resolve(doc, x, why, n)) {
                return 0;
            }
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (!refs_resolve(doc, json_array_get(v, i), why, n)) return 0;
    }
    return 1;
}

static const json_t *deref(const json_t *doc, const json_t *v)
{
    const char *r = json_string_value(json_object_get(v, "$ref"));
    return r ? pointer(doc, r) : v;
}

/* Path parameters declared in `params` (a list, may be NULL) into names. */
static int collect_params(const json_t *doc, const json_t *params, const char *where,
                          char names[][64], int *n, char *why, size_t wn)
{
    for (size_t i = 0; i < json_array_size(params); i++) {
        const json_t *p = deref(doc, json_array_get(params, i));
        const char *in = json_string_value(json_object_get(p, "in")),
                   *name = json_string_value(json_object_get(p, "name"));
        if (!in || !name) {
            snprintf(why, wn, "%s: parameters[%zu] lacks name or in", where, i);
            return 0;
        }
        if (strcmp(in, "path") != 0) continue;
        if (!json_is_true(json_object_get(p, "required"))) {
            snprintf(why, wn, "%s: path parameter %s must say required: true", where, name);
            return 0;
        }
        if (*n < 8) snprintf(names[(*n)++], 64, "%s", name);
    }
    return 1;
}

static int check_operation(const json_t *doc, const char *path, const char *method,
                           const json_t *item, const json_t *op, json_t *ids, char *why, size_t n)
{
    char where[300];
    snprintf(where, sizeof where, "%s %s", method, path);
    const char *id = json_string_value(json_object_get(op, "operationId"));
    if (!id || !json_string_value(json_object_get(op, "summary"))) {
        snprintf(why, n, "%s: needs operationId and summary", where);
        return 0;
    }
    if (json_object_get(ids, id)) {
        snprintf(why, n, "%s: operationId %s is used twice", where, id);
        return 0;
    }
    json_object_set_new(ids, id, json_true());
    const json_t *rs = json_object_get(op, "responses");
    if (!json_is_object(rs) || json_object_size(rs) == 0) {
        snprintf(why, n, "%s: no responses", where);
        return 0;
    }
    const char *k;
    const json_t *r;
    json_object_foreach((json_t *)rs, k, r)
    {
        int status = strlen(k) == 3 && k[0] >= '1' && k[0] <= '5' &&
                     ((k[1] >= '0' && k[1] <= '9' && k[2] >= '0' && k[2] <= '9') ||
                      (k[1] == 'X' && k[2] == 'X'));
        if (!status && strcmp(k, "default") != 0) {
            snprintf(why, n, "%s: response key %s is not a status or default", where, k);
            return 0;
        }
        if (!json_object_get(r, "$ref") && !json_string_value(json_object_get(r, "description"))) {
            snprintf(why, n, "%s: response %s has no description", where, k);
            return 0;
        }
    }
    /* path parameters: declared exactly for the {names} of the path */
    char declared[8][64];
    int nd = 0;
    if (!collect_params(doc, json_object_get(item, "parameters"), where, declared, &nd, why, n) ||
        !collect_params(doc, json_object_get(op, "parameters"), where, declared, &nd, why, n))
        return 0;
    int in_path = 0;
    for (const char *p = strchr(path, '{'); p; p = strchr(p + 1, '{')) {
        const char *e = strchr(p, '}');
        char name[64];
        snprintf(name, sizeof name, "%.*s", e ? (int)(e - p - 1) : 0, p + 1);
        int found = 0;
        for (int i = 0; i < nd; i++)
            found |= strcmp(declared[i], name) == 0;
        if (!found) {
            snprintf(why, n, "%s: path parameter {%s} is not declared", where, name);
            return 0;
        }
        in_path++;
    }
    if (nd != in_path) {
        snprintf(why, n, "%s: declares %d path parameters, the path has %d", where, nd, in_path);
        return 0;
    }
    return 1;
}

/* 1 when doc passes every rule of the file's comment; else 0 and why. */
static int openapi_check(const json_t *doc, char *why, size_t n)
{
    const char *v = json_string_value(json_object_get(doc, "openapi"));
    const json_t *info = json_object_get(doc, "info"), *paths = json_object_get(doc, "paths");
    if (!v || strncmp(v, "3.1.", 4) != 0) {
        snprintf(why, n, "openapi must be \"3.1.x\", got %s", v ? v : "(none)");
        return 0;
    }
    if (!json_string_value(json_object_get(info, "title")) ||
        !json_string_value(json_object_get(info, "version"))) {
        snprintf(why, n, "info needs title and version strings");
        return 0;
    }
    if (!json_is_object(paths)) {
        snprintf(why, n, "paths must be an object");
        return 0;
    }
    if (!refs_resolve(doc, doc, why, n)) return 0;
    json_t *ids = json_object();
    const char *path;
    const json_t *item;
    int ok = 1;
    json_object_foreach((json_t *)paths, path, item)
    {
        if (path[0] != '/' || !json_is_object(item)) {
            snprintf(why, n, "path %s: must start with / and be an object", path);
            ok = 0;
            break;
        }
        const char *k;
        const json_t *op;
        json_object_foreach((json_t *)item, k, op)
        {
            if (is_method(k)) {
                if (!(ok = check_operation(doc, path, k, item, op, ids, why, n))) break;
            } else if (strcmp(k, "parameters") && strcmp(k, "summary") &&
                       strcmp(k, "description") && strcmp(k, "servers")) {
                snprintf(why, n, "path %s: unknown field %s", path, k);
                ok = 0;
                break;
            }
        }
        if (!ok) break;
    }
    json_decref(ids);
    return ok;
}

/* ---- tests ---- */

START_TEST(document_is_valid)
{
    json_t *doc = load_doc();
    char why[WHY] = "";
    ck_assert_msg(openapi_check(doc, why, sizeof why), "docs/openapi.json: %s", why);
    json_decref(doc);
}
END_TEST

static void lower(char *out, const char *s)
{
    for (; *s; s++)
        *out++ = (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
    *out = '\0';
}

START_TEST(document_matches_routes)
{
    json_t *doc = load_doc();
    const json_t *paths = json_object_get(doc, "paths");
    size_t n;
    const http_route *t = routes_table(&n);
    char report[8192] = "";
    size_t used = 0;
    int missing = 0, extra = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i].flags & ROUTE_TEST) continue;
        char m[16];
        lower(m, t[i].method);
        if (json_object_get(json_object_get(paths, t[i].pattern), m)) continue;
        missing++;
        used += (size_t)snprintf(report + used, used < sizeof report ? sizeof report - used : 0,
                                 "\n  %s %s is not in docs/openapi.json: add "
                                 "paths[\"%s\"].%s = {\"operationId\", \"summary\", "
                                 "\"parameters\" (one per {name}), \"responses\"} "
                                 "(docs/api.md, \"The OpenAPI document\")",
                                 t[i].method, t[i].pattern, t[i].pattern, m);
    }
    const char *path;
    const json_t *item;
    json_object_foreach((json_t *)paths, path, item)
    {
        const char *k;
        const json_t *op;
        json_object_foreach((json_t *)item, k, op)
        {
            if (!is_method(k)) continue;
            int found = 0;
            for (size_t i = 0; i < n && !found; i++) {
                char m[16];
                lower(m, t[i].method);
                found = !(t[i].flags & ROUTE_TEST) && strcmp(t[i].pattern, path) == 0 &&
                        strcmp(m, k) == 0;
            }
            if (found) continue;
            extra++;
            used += (size_t)snprintf(report + used, used < sizeof report ? sizeof report - used : 0,
                                     "\n  docs/openapi.json documents %s %s, which is no route "
                                     "of src/http/routes.c",
                                     k, path);
        }
    }
    ck_assert_msg(missing == 0 && extra == 0, "the OpenAPI document and the route table differ:%s",
                  report);
    json_decref(doc);
}
END_TEST

/* A valid little document, then one fault at a time: each must fail. */
static const char good[] =
    "{\"openapi\": \"3.1.0\", \"info\": {\"title\": \"t\", \"version\": \"1\"},"
    " \"paths\": {\"/a/{x}\": {\"get\": {\"operationId\": \"a\", \"summary\": \"s\","
    "   \"parameters\": [{\"$ref\": \"#/components/parameters/x\"}],"
    "   \"responses\": {\"200\": {\"description\": \"ok\", \"content\": {\"application/json\":"
    "     {\"schema\": {\"$ref\": \"#/components/schemas/A~1B\"}}}},"
    "                   \"default\": {\"$ref\": \"#/components/responses/E\"}}}}},"
    " \"components\": {\"schemas\": {\"A/B\": {\"type\": \"object\"}},"
    "   \"parameters\": {\"x\": {\"name\": \"x\", \"in\": \"path\", \"required\": true}},"
    "   \"responses\": {\"E\": {\"description\": \"e\"}}}}";

static const struct {
    const char *from, *to, *what;
} faults[] = {
    {"\"3.1.0\"", "\"3.0.3\"", "openapi"},
    {"\"title\": \"t\", ", "", "info.title"},
    {"A~1B", "A~1C", "$ref"},
    {"#/components/responses/E", "other.json#/E", "external $ref"},
    {"\"200\": {\"description\": \"ok\", ", "\"200\": {", "response description"},
    {"\"200\"", "\"20x\"", "status key"},
    {"/a/{x}", "/a/{y}", "undeclared path parameter"},
    {"\"/a/{x}\"", "\"/a\"", "declared parameter not in path"},
    {"\"required\": true", "\"required\": false", "required"},
    {"\"operationId\": \"a\", ", "", "operationId"},
    {"\"get\"", "\"fetch\"", "unknown field"},
    {"\"responses\": {\"200\"", "\"responses\": {}, \"x\": {\"200\"", "no responses"},
};

static json_t *with_fault(const char *from, const char *to)
{
    char text[sizeof good + 64];
    const char *p = strstr(good, from);
    ck_assert_msg(p != NULL, "fixture: %s not found", from);
    snprintf(text, sizeof text, "%.*s%s%s", (int)(p - good), good, to, p + strlen(from));
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    ck_assert_msg(doc != NULL, "fixture %s: %s", from, je.text);
    return doc;
}

START_TEST(checker_catches_faults)
{
    char why[WHY] = "";
    json_error_t je;
    json_t *doc = json_loads(good, 0, &je);
    ck_assert_ptr_nonnull(doc);
    ck_assert_msg(openapi_check(doc, why, sizeof why), "the good fixture fails: %s", why);
    json_decref(doc);
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
        doc = with_fault(faults[i].from, faults[i].to);
        why[0] = '\0';
        ck_assert_msg(!openapi_check(doc, why, sizeof why), "fault not caught: %s", faults[i].what);
        json_decref(doc);
    }
}
END_TEST

static Suite *openapi_suite(void)
{
    Suite *s = suite_create("openapi");
    TCase *c = tcase_create("core");
    tcase_add_test(c, document_is_valid);
    tcase_add_test(c, document_matches_routes);
    suite_add_tcase(s, c);
    TCase *e = tcase_create("errors");
    tcase_add_test(e, checker_catches_faults);
    suite_add_tcase(s, e);
    return s;
}

int main(void)
{
    return tu_suite_run(openapi_suite());
}
