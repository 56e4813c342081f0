/* check_oip: the Open Inference Protocol (KServe v2) routes against the real
 * daemon (ephemeral port, temporary database, the demo models seeded:
 * examples/spiral.json, an ode, and examples/cde-demo.json, a cde).
 *
 * The requests are written from the public protocol document (KServe's
 * "Open Inference Protocol (V2 Inference Protocol)", REST: inference
 * request and response objects, tensors with name, datatype, shape and
 * flat or nested row-major data; the health, server and model metadata and
 * readiness endpoints). No client library: tritonclient is not packaged in
 * Debian, so the test speaks raw HTTP.
 *
 *   round trip   an infer answer's tensors hold, as the same text, the
 *                numbers of the v1 trajectory answer to the same request
 *                (ode: one state, a batch with solver parameters and t0,
 *                a grid per state, an implicit method, flat and nested
 *                data; cde: missing values as the obs_missing mask against
 *                v1's nulls, both outputs, a batch with shared observation
 *                times and a query grid per series); "id" echoed, the
 *                output shapes, model_name and model_version;
 *   metadata     server metadata; model metadata per kind (tensor names,
 *                datatypes, shapes with -1 for the variable dimensions,
 *                the widths from GET /v1/models/{name}), every version
 *                listed, a version's own path; readiness of a model, of a
 *                version, and 404 in the protocol's error form for a
 *                missing one; the health endpoints;
 *   protocol     a request without Content-Type is served (tritonclient
 *                sends none), another type is 415; the same request on
 *                /versions/{v}/infer answers that version, an alias too.
 * Bad tensors (datatype, shape against data, NaN, unknown inputs, ...)
 * are data-driven cases in tests/api/ (oip_*). The OpenAPI document is
 * tests/check_openapi.c's; here only that the daemon serves it as
 * committed. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apitest.h"

static tu_daemon d;

static const char *const json_ct[] = {"Content-Type: application/json", NULL};

static void start(void)
{
    static char cde[1024];
    tu_source_path(cde, sizeof cde, "examples/cde-demo.json");
    char *doc = tu_read_file(cde, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_msg(apitest_start(&d, NULL) == 0, "the daemon did not start");
    tu_response r;
    ck_assert_int_eq(tu_http(d.port, "POST", "/v1/models/cde-demo/versions", json_ct, doc, &r), 0);
    ck_assert_msg(r.status == 201, "cde upload: %d %.300s", r.status, r.body);
    tu_response_free(&r);
    free(doc);
}

static void stop_ok(void)
{
    ck_assert_int_eq(apitest_stop(&d), 0);
}

static void cleanup(void)
{
    tu_daemon_cleanup(&d);
}

static tu_response req(const char *method, const char *path, const char *body)
{
    tu_response r;
    ck_assert_int_eq(tu_http(d.port, method, path, body ? json_ct : NULL, body, &r), 0);
    return r;
}

static json_t *reply_json(const tu_response *r, int status)
{
    ck_assert_msg(r->status == status, "status %d, want %d: %.400s", r->status, status, r->body);
    char why[256];
    json_t *j = apitest_json(r, why, sizeof why);
    ck_assert_msg(j != NULL, "%s", why);
    return j;
}

/* The JSON array starting at the first '[' at or after p, as its text with
 * every bracket removed ("[[1,2],[3]]" -> "1,2,3"): the numbers in row-major
 * order, spelled as the server wrote them. */
static char *flat_array(const char *p)
{
    p = strchr(p, '[');
    ck_assert_ptr_nonnull(p);
    char *out = malloc(strlen(p) + 1), *o = out;
    int depth = 0;
    do {
        if (*p == '[')
            depth++;
        else if (*p == ']')
            depth--;
        else
            *o++ = *p;
        p++;
    } while (depth > 0 && *p);
    *o = '\0';
    return out;
}

/* Every array after each occurrence of `key` (e.g. "\"readout\":") in a
 * v1 reply, flattened and joined by commas. */
static char *v1_values(const char *body, const char *key)
{
    size_t cap = strlen(body) + 1, n = 0;
    char *out = calloc(1, cap);
    for (const char *p = strstr(body, key); p; p = strstr(p + 1, key)) {
        char *a = flat_array(p + strlen(key));
        n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "," : "", a);
        free(a);
    }
    ck_assert_msg(n > 0, "no %s in %.300s", key, body);
    return out;
}

/* The data of output tensor `name` of an infer reply, flattened. */
static char *oip_values(const char *body, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "{\"name\":\"%s\"", name);
    const char *p = strstr(body, key);
    ck_assert_msg(p != NULL, "no output %s in %.300s", name, body);
    p = strstr(p, "\"data\":");
    ck_assert_ptr_nonnull(p);
    return flat_array(p + 7);
}

static const json_t *output_of(const json_t *reply, const char *name)
{
    const json_t *outs = json_object_get(reply, "outputs");
    for (size_t i = 0; i < json_array_size(outs); i++) {
        const json_t *o = json_array_get(outs, i);
        if (strcmp(json_string_value(json_object_get(o, "name")), name) == 0) return o;
    }
    ck_abort_msg("no output %s", name);
    return NULL;
}

/* The shape of an output as text, "[2,3,2]". */
static void shape_is(const json_t *reply, const char *name, const char *want)
{
    const json_t *o = output_of(reply, name);
    char *s = json_dumps(json_object_get(o, "shape"), JSON_COMPACT);
    ck_assert_msg(strcmp(s, want) == 0, "%s: shape %s, want %s", name, s, want);
    ck_assert_str_eq(json_string_value(json_object_get(o, "datatype")), "FP64");
    free(s);
}

/* POST the infer and the v1 requests; compare `pairs` (v1 key, OIP output)
 * of values as text. Returns the infer reply (parsed). */
static json_t *same_as_v1(const char *model, const char *oip, const char *v1,
                          const char *const *pairs)
{
    char p1[128], p2[128];
    snprintf(p1, sizeof p1, "/v2/models/%s/infer", model);
    snprintf(p2, sizeof p2, "/v1/models/%s/trajectory", model);
    tu_response a = req("POST", p1, oip), b = req("POST", p2, v1);
    json_t *j = reply_json(&a, 200);
    json_decref(reply_json(&b, 200));
    for (size_t i = 0; pairs[i]; i += 2) {
        char *x = oip_values(a.body, pairs[i + 1]), *y = v1_values(b.body, pairs[i]);
        ck_assert_msg(strcmp(x, y) == 0, "%s: infer %s\n != v1 %s\n(%s)", pairs[i + 1], x, y, oip);
        free(x);
        free(y);
    }
    tu_response_free(&a);
    tu_response_free(&b);
    ck_assert_str_eq(json_string_value(json_object_get(j, "model_name")), model);
    ck_assert_str_eq(json_string_value(json_object_get(j, "model_version")), "1");
    return j;
}

static const char *const ode_pairs[] = {"\"y\":", "y", "\"t\":", "t", NULL};

START_TEST(ode_round_trips)
{
    start();
    /* one state, flat data; "id" echoed */
    json_t *j = same_as_v1("spiral",
                           "{\"id\": \"r-1\", \"inputs\": ["
                           "{\"name\": \"y0\", \"datatype\": \"FP64\", \"shape\": [2], \"data\": "
                           "[2.0, 0.0]},"
                           "{\"name\": \"t\", \"datatype\": \"FP64\", \"shape\": [4], \"data\": "
                           "[0.1, 0.5, 1.0, 2.5]}]}",
                           "{\"y0\": [2.0, 0.0], \"t\": [0.1, 0.5, 1.0, 2.5]}", ode_pairs);
    ck_assert_str_eq(json_string_value(json_object_get(j, "id")), "r-1");
    shape_is(j, "y", "[4,2]");
    shape_is(j, "t", "[4]");
    ck_assert(json_number_value(json_object_get(json_object_get(j, "parameters"), "nfe")) > 0);
    json_decref(j);
    /* a batch, nested data, solver parameters and t0 */
    j = same_as_v1("spiral",
                   "{\"inputs\": ["
                   "{\"name\": \"y0\", \"datatype\": \"FP64\", \"shape\": [3, 2], \"data\": "
                   "[[2.0, 0.0], [1.0, 1.0], [-0.5, 0.25]]},"
                   "{\"name\": \"t\", \"datatype\": \"FP64\", \"shape\": [3], \"data\": "
                   "[0.5, 1.0, 2.0]}],"
                   " \"parameters\": {\"rtol\": 1e-9, \"atol\": 1e-11, \"method\": \"dopri5\", "
                   "\"t0\": 0.25}}",
                   "{\"y0\": [[2.0, 0.0], [1.0, 1.0], [-0.5, 0.25]], \"t\": [0.5, 1.0, 2.0], "
                   "\"t0\": 0.25, \"solver\": {\"rtol\": 1e-9, \"atol\": 1e-11, \"method\": "
                   "\"dopri5\"}}",
                   ode_pairs);
    ck_assert_ptr_null(json_object_get(j, "id"));
    shape_is(j, "y", "[3,3,2]");
    json_decref(j);
    /* a grid per state: t [batch, n], flat */
    j = same_as_v1("spiral",
                   "{\"inputs\": ["
                   "{\"name\": \"y0\", \"datatype\": \"FP64\", \"shape\": [2, 2], \"data\": "
                   "[2.0, 0.0, 1.0, 1.0]},"
                   "{\"name\": \"t\", \"datatype\": \"FP64\", \"shape\": [2, 3], \"data\": "
                   "[0.5, 1.0, 2.0, -1.0, 0.0, 3.0]}]}",
                   "{\"y0\": [[2.0, 0.0], [1.0, 1.0]], \"t\": [[0.5, 1.0, 2.0], [-1.0, 0.0, "
                   "3.0]]}",
                   ode_pairs);
    shape_is(j, "y", "[2,3,2]");
    shape_is(j, "t", "[2,3]");
    json_decref(j);
    /* an implicit method; only y asked for */
    j = same_as_v1("spiral",
                   "{\"inputs\": ["
                   "{\"name\": \"y0\", \"datatype\": \"FP64\", \"shape\": [1, 2], \"data\": "
                   "[[1.5, -0.5]]},"
                   "{\"name\": \"t\", \"datatype\": \"FP64\", \"shape\": [2], \"data\": [1, 2]}],"
                   " \"parameters\": {\"method\": \"rodas4\"}, \"outputs\": [{\"name\": \"y\"}]}",
                   "{\"y0\": [[1.5, -0.5]], \"t\": [1, 2], \"solver\": {\"method\": \"rodas4\"}}",
                   (const char *const[]){"\"y\":", "y", NULL});
    ck_assert_uint_eq(json_array_size(json_object_get(j, "outputs")), 1);
    ck_assert(json_number_value(json_object_get(json_object_get(j, "parameters"), "n_lu")) > 0);
    json_decref(j);
    stop_ok();
}
END_TEST

START_TEST(cde_round_trips)
{
    start();
    /* missing values: the mask against v1's nulls (the values under the
     * mask are garbage and must not matter); both outputs */
    json_t *j = same_as_v1(
        "cde-demo",
        "{\"inputs\": ["
        "{\"name\": \"obs_t\", \"datatype\": \"FP64\", \"shape\": [4], \"data\": [0, 0.4, 1.5, "
        "2]},"
        "{\"name\": \"obs_x\", \"datatype\": \"FP64\", \"shape\": [4, 2], \"data\": "
        "[[1.2, 1e300], [0.9, 3.1], [-7, 2.8], [0.5, 0.5]]},"
        "{\"name\": \"obs_missing\", \"datatype\": \"BOOL\", \"shape\": [4, 2], \"data\": "
        "[false, true, false, false, true, false, false, false]},"
        "{\"name\": \"t\", \"datatype\": \"FP64\", \"shape\": [3], \"data\": [0.2, 1.0, 1.9]}],"
        " \"outputs\": [{\"name\": \"readout\"}, {\"name\": \"hidden\"}, {\"name\": \"t\"}]}",
        "{\"observations\": {\"t\": [0, 0.4, 1.5, 2], \"x\": [[1.2, null], [0.9, 3.1], "
        "[null, 2.8], [0.5, 0.5]]}, \"t\": [0.2, 1.0, 1.9], \"output\": \"both\"}",
        (const char *const[]){"\"readout\":", "readout", "\"hidden\":", "hidden", "\"t\":", "t",
                              NULL});
    shape_is(j, "readout", "[3,1]");
    shape_is(j, "hidden", "[3,4]");
    json_decref(j);
    /* a batch: shared observation times, a query grid per series, a
     * solver parameter; readout by default */
    j = same_as_v1("cde-demo",
                   "{\"inputs\": ["
                   "{\"name\": \"obs_t\", \"datatype\": \"FP64\", \"shape\": [3], \"data\": [0, "
                   "1, 2]},"
                   "{\"name\": \"obs_x\", \"datatype\": \"FP64\", \"shape\": [2, 3, 2], "
                   "\"data\": [1, 2, 3, 4, 5, 6, -1, 0, 0, 1, 0.5, 0.25]},"
                   "{\"name\": \"t\", \"datatype\": \"FP64\", \"shape\": [2, 2], \"data\": "
                   "[[0.5, 1.5], [0.25, 2]]}],"
                   " \"parameters\": {\"rtol\": 1e-8}}",
                   "{\"series\": [{\"observations\": {\"t\": [0, 1, 2], \"x\": [[1, 2], [3, 4], "
                   "[5, 6]]}, \"t\": [0.5, 1.5]},"
                   " {\"observations\": {\"t\": [0, 1, 2], \"x\": [[-1, 0], [0, 1], [0.5, "
                   "0.25]]}, \"t\": [0.25, 2]}], \"solver\": {\"rtol\": 1e-8}}",
                   (const char *const[]){"\"readout\":", "readout", NULL});
    shape_is(j, "readout", "[2,2,1]");
    shape_is(j, "t", "[2,2]");
    ck_assert_uint_eq(json_array_size(json_object_get(j, "outputs")), 2); /* readout, t */
    json_decref(j);
    stop_ok();
}
END_TEST

static json_t *get_json(const char *path, int status)
{
    tu_response r = req("GET", path, NULL);
    json_t *j = reply_json(&r, status);
    tu_response_free(&r);
    return j;
}

/* An error in the protocol's form: {"error": "<field>: ..."}, nothing else. */
static void oip_error(const char *method, const char *path, const char *body, int status,
                      const char *field)
{
    tu_response r = req(method, path, body);
    json_t *j = reply_json(&r, status);
    const char *msg = json_string_value(json_object_get(j, "error"));
    ck_assert_msg(msg && json_object_size(j) == 1, "%s %s: not {\"error\": string}: %s", method,
                  path, r.body);
    char want[128];
    snprintf(want, sizeof want, "%s: ", field);
    ck_assert_msg(strncmp(msg, want, strlen(want)) == 0, "%s %s: want field %s: %s", method, path,
                  field, msg);
    json_decref(j);
    tu_response_free(&r);
}

/* The metadata tensor list `key` of j as compact text. */
static void tensors_are(const json_t *j, const char *key, const char *want)
{
    char *s = json_dumps(json_object_get(j, key), JSON_COMPACT | JSON_PRESERVE_ORDER);
    ck_assert_msg(strcmp(s, want) == 0, "%s: %s\nwant %s", key, s, want);
    free(s);
}

START_TEST(metadata_and_readiness)
{
    start();
    json_t *j = get_json("/v2/health/live", 200);
    ck_assert(json_is_true(json_object_get(j, "live")));
    json_decref(j);
    j = get_json("/v2/health/ready", 200);
    ck_assert(json_is_true(json_object_get(j, "ready")));
    json_decref(j);
    j = get_json("/v2", 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "odeserved");
    ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "version")));
    ck_assert(json_is_array(json_object_get(j, "extensions")));
    json_decref(j);

    /* a second version of the ode: both listed */
    char path[1024];
    char *doc = tu_read_file(tu_source_path(path, sizeof path, "examples/spiral.json"), NULL);
    tu_response r = req("POST", "/v1/models/spiral/versions", doc);
    ck_assert_int_eq(r.status, 201);
    tu_response_free(&r);
    free(doc);
    j = get_json("/v2/models/spiral", 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "spiral");
    ck_assert_str_eq(json_string_value(json_object_get(j, "platform")), "odeserve_ode");
    tensors_are(j, "versions", "[\"1\",\"2\"]");
    tensors_are(j, "inputs",
                "[{\"name\":\"y0\",\"datatype\":\"FP64\",\"shape\":[-1,2]},"
                "{\"name\":\"t\",\"datatype\":\"FP64\",\"shape\":[-1]}]");
    tensors_are(j, "outputs",
                "[{\"name\":\"y\",\"datatype\":\"FP64\",\"shape\":[-1,-1,2]},"
                "{\"name\":\"t\",\"datatype\":\"FP64\",\"shape\":[-1]}]");
    json_decref(j);
    j = get_json("/v2/models/spiral/versions/1", 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "spiral");
    json_decref(j);

    /* the cde's widths, as GET /v1/models/{name} states them */
    json_t *v1 = get_json("/v1/models/cde-demo", 200);
    long dc = (long)json_number_value(json_object_get(v1, "data_channels")),
         od = (long)json_number_value(json_object_get(v1, "output_dim")),
         hd = (long)json_number_value(json_object_get(v1, "hidden_dim"));
    json_decref(v1);
    char in[512], out[512];
    snprintf(in, sizeof in,
             "[{\"name\":\"obs_t\",\"datatype\":\"FP64\",\"shape\":[-1]},"
             "{\"name\":\"obs_x\",\"datatype\":\"FP64\",\"shape\":[-1,%ld]},"
             "{\"name\":\"obs_missing\",\"datatype\":\"BOOL\",\"shape\":[-1,%ld]},"
             "{\"name\":\"t\",\"datatype\":\"FP64\",\"shape\":[-1]}]",
             dc, dc);
    snprintf(out, sizeof out,
             "[{\"name\":\"readout\",\"datatype\":\"FP64\",\"shape\":[-1,%ld]},"
             "{\"name\":\"hidden\",\"datatype\":\"FP64\",\"shape\":[-1,%ld]},"
             "{\"name\":\"t\",\"datatype\":\"FP64\",\"shape\":[-1]}]",
             od, hd);
    j = get_json("/v2/models/cde-demo/versions/latest", 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "platform")), "odeserve_cde");
    tensors_are(j, "inputs", in);
    tensors_are(j, "outputs", out);
    json_decref(j);

    /* readiness */
    j = get_json("/v2/models/spiral/ready", 200);
    ck_assert(json_is_true(json_object_get(j, "ready")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "spiral");
    json_decref(j);
    json_decref(get_json("/v2/models/spiral/versions/2/ready", 200));
    oip_error("GET", "/v2/models/nope/ready", NULL, 404, "name");
    oip_error("GET", "/v2/models/spiral/versions/3/ready", NULL, 404, "version");
    oip_error("GET", "/v2/models/spiral/versions/x/ready", NULL, 404, "version");
    oip_error("GET", "/v2/models/nope", NULL, 404, "name");
    oip_error("GET", "/v2/models/bad%20name", NULL, 404, "name");
    stop_ok();
}
END_TEST

static const char small_infer[] =
    "{\"inputs\": [{\"name\": \"y0\", \"datatype\": \"FP64\", \"shape\": [2], \"data\": [1, 0]},"
    "{\"name\": \"t\", \"datatype\": \"FP64\", \"shape\": [1], \"data\": [1]}]}";

START_TEST(protocol_details)
{
    start();
    /* no Content-Type: served */
    tu_response r;
    ck_assert_int_eq(tu_http(d.port, "POST", "/v2/models/spiral/infer", NULL, small_infer, &r), 0);
    json_decref(reply_json(&r, 200));
    tu_response_free(&r);
    /* another type: 415, in the protocol's form */
    const char *const text[] = {"Content-Type: text/plain", NULL};
    ck_assert_int_eq(tu_http(d.port, "POST", "/v2/models/spiral/infer", text, small_infer, &r), 0);
    json_t *j = reply_json(&r, 415);
    ck_assert(json_is_string(json_object_get(j, "error")));
    json_decref(j);
    tu_response_free(&r);
    /* a version's path answers that version */
    char *doc = tu_read_file(tu_source_path((char[1024]){0}, 1024, "examples/spiral.json"), NULL);
    r = req("POST", "/v1/models/spiral/versions", doc);
    ck_assert_int_eq(r.status, 201);
    tu_response_free(&r);
    free(doc);
    r = req("POST", "/v2/models/spiral/versions/1/infer", small_infer);
    j = reply_json(&r, 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "model_version")), "1");
    json_decref(j);
    tu_response_free(&r);
    r = req("POST", "/v2/models/spiral/infer", small_infer);
    j = reply_json(&r, 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "model_version")), "2");
    json_decref(j);
    tu_response_free(&r);
    /* an alias names a version on these routes too */
    r = req("PUT", "/v1/models/spiral/aliases/stable", "{\"version\": 1}");
    ck_assert_msg(r.status == 200, "alias: %d %s", r.status, r.body);
    tu_response_free(&r);
    r = req("POST", "/v2/models/spiral/versions/stable/infer", small_infer);
    j = reply_json(&r, 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "model_version")), "1");
    json_decref(j);
    tu_response_free(&r);
    json_decref(get_json("/v2/models/spiral/versions/stable/ready", 200));
    oip_error("POST", "/v2/models/spiral/versions/canary/infer", small_infer, 404, "version");
    oip_error("POST", "/v2/models/spiral/versions/7/infer", small_infer, 404, "version");
    oip_error("POST", "/v2/models/nope/infer", small_infer, 404, "name");
    /* GET on infer: 405 */
    r = req("GET", "/v2/models/spiral/infer", NULL);
    ck_assert_int_eq(r.status, 405);
    tu_response_free(&r);
    /* the OpenAPI document, as committed */
    char path[1024];
    size_t len = 0;
    char *want = tu_read_file(tu_source_path(path, sizeof path, "docs/openapi.json"), &len);
    ck_assert_ptr_nonnull(want);
    r = req("GET", "/v1/openapi.json", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, len);
    ck_assert(memcmp(r.body, want, len) == 0);
    tu_response_free(&r);
    free(want);
    stop_ok();
}
END_TEST

static Suite *oip_suite(void)
{
    Suite *s = suite_create("oip");
    TCase *c = tcase_create("core");
    tcase_set_timeout(c, 120);
    tcase_add_checked_fixture(c, NULL, cleanup);
    tcase_add_test(c, ode_round_trips);
    tcase_add_test(c, cde_round_trips);
    tcase_add_test(c, metadata_and_readiness);
    tcase_add_test(c, protocol_details);
    suite_add_tcase(s, c);
    return s;
}

int main(void)
{
    return tu_suite_run(oip_suite());
}
