/* check_codec_oip: the Open Inference Protocol's codec (codec/codec_oip.h)
 * in-process, without a daemon (the routes: check_oip, tests/api/oip_*).
 *
 *   core    flat and nested tensor data decode alike and rewrite to the v1
 *           body a client of the v1 route would send (ode: one state, a
 *           batch, a grid per state, parameters; cde: the mask as nulls, a
 *           batch with shared observation times); the reply's text; the
 *           v1 decoders' fields renamed to the tensors' (flat and nested
 *           data, the batch index of a cde series);
 *   errors  each malformed envelope or tensor names its field. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_oip.h"
#include "codec/codec_parse.h"
#include "testutil.h"

static json_t *parse(const char *text)
{
    json_t *j = NULL;
    err e;
    err_clear(&e);
    ck_assert_msg(codec_parse(text, strlen(text), &j, &e) == ERR_OK, "%s: %s", text, e.message);
    return j;
}

/* Decode `oip` and rewrite it for an ode of state_dim (or a cde with dim
 * data channels); the v1 body must equal `v1`. */
static void rewrites_to(model_kind kind, size_t dim, const char *oip, const char *v1)
{
    json_t *body = parse(oip), *want = parse(v1), *got = NULL;
    codec_oip_req q;
    err e;
    err_clear(&e);
    ck_assert_msg(codec_oip_req_decode(body, &q, &e) == ERR_OK, "%s: %s %s", oip, e.field,
                  e.message);
    err_code rc = kind == MODEL_KIND_ODE ? codec_oip_to_ode(&q, dim, &got, &e)
                                         : codec_oip_to_cde(&q, dim, &got, &e);
    ck_assert_msg(rc == ERR_OK, "%s: %s %s", oip, e.field, e.message);
    char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_msg(json_equal(got, want), "%s\n-> %s\nwant %s", oip, g, v1);
    free(g);
    json_decref(got);
    json_decref(want);
    codec_oip_req_free(&q);
    json_decref(body);
}

START_TEST(rewrites_ode)
{
    rewrites_to(MODEL_KIND_ODE, 2,
                "{\"inputs\": [{\"name\": \"y0\", \"datatype\": \"FP64\", \"shape\": [2], "
                "\"data\": [1, 0.5]}, {\"name\": \"t\", \"datatype\": \"FP64\", \"shape\": [2], "
                "\"data\": [0.5, 1]}]}",
                "{\"y0\": [1, 0.5], \"t\": [0.5, 1]}");
    /* nested and flat: the same body */
    const char *v1 = "{\"y0\": [[1, 0], [0, 1], [2, 3]], \"t\": [[1], [2], [3]], \"t0\": 0.5, "
                     "\"augmented\": false, \"solver\": {\"rtol\": 1e-6, \"method\": \"rk4\"}}";
    rewrites_to(MODEL_KIND_ODE, 2,
                "{\"inputs\": [{\"name\": \"y0\", \"datatype\": \"FP64\", \"shape\": [3, 2], "
                "\"data\": [[1, 0], [0, 1], [2, 3]]}, {\"name\": \"t\", \"datatype\": \"FP64\", "
                "\"shape\": [3, 1], \"data\": [[1], [2], [3]]}], \"parameters\": {\"t0\": 0.5, "
                "\"augmented\": false, \"rtol\": 1e-6, \"method\": \"rk4\"}}",
                v1);
    rewrites_to(MODEL_KIND_ODE, 2,
                "{\"parameters\": {\"method\": \"rk4\", \"rtol\": 1e-6, \"augmented\": false, "
                "\"t0\": 0.5}, \"inputs\": [{\"name\": \"t\", \"datatype\": \"FP64\", \"shape\": "
                "[3, 1], \"data\": [1, 2, 3]}, {\"name\": \"y0\", \"datatype\": \"FP64\", "
                "\"shape\": [3, 2], \"data\": [1, 0, 0, 1, 2, 3]}]}",
                v1);
}
END_TEST

START_TEST(rewrites_cde)
{
    /* the mask becomes v1's nulls; the values under it do not reach the body */
    rewrites_to(MODEL_KIND_CDE, 2,
                "{\"inputs\": [{\"name\": \"obs_t\", \"datatype\": \"FP64\", \"shape\": [3], "
                "\"data\": [0, 1, 2]}, {\"name\": \"obs_x\", \"datatype\": \"FP64\", \"shape\": "
                "[3, 2], \"data\": [1, 99, 3, 4, 99, 6]}, {\"name\": \"obs_missing\", "
                "\"datatype\": \"BOOL\", \"shape\": [3, 2], \"data\": [false, true, false, false, "
                "true, false]}], \"outputs\": [{\"name\": \"hidden\"}, {\"name\": \"t\"}]}",
                "{\"observations\": {\"t\": [0, 1, 2], \"x\": [[1, null], [3, 4], [null, 6]]}, "
                "\"output\": \"hidden\"}");
    /* a batch: shared observation times, a grid of query times per series */
    rewrites_to(MODEL_KIND_CDE, 1,
                "{\"inputs\": [{\"name\": \"obs_t\", \"datatype\": \"FP64\", \"shape\": [2], "
                "\"data\": [0, 1]}, {\"name\": \"obs_x\", \"datatype\": \"FP64\", \"shape\": [2, "
                "2, 1], \"data\": [[[1], [2]], [[3], [4]]]}, {\"name\": \"t\", \"datatype\": "
                "\"FP64\", \"shape\": [2, 1], \"data\": [0.5, 0.25]}], \"parameters\": "
                "{\"atol\": 1e-9}}",
                "{\"series\": [{\"observations\": {\"t\": [0, 1], \"x\": [[1], [2]]}, \"t\": "
                "[0.5]}, {\"observations\": {\"t\": [0, 1], \"x\": [[3], [4]]}, \"t\": [0.25]}], "
                "\"output\": \"readout\", \"solver\": {\"atol\": 1e-9}}");
}
END_TEST

START_TEST(reply_text)
{
    json_t *body = parse("{\"id\": \"x\", \"inputs\": [{\"name\": \"y0\", \"datatype\": \"FP64\", "
                         "\"shape\": [1, 2], \"data\": [1, 0]}, {\"name\": \"t\", \"datatype\": "
                         "\"FP64\", \"shape\": [2], \"data\": [0.1, 1]}], \"outputs\": "
                         "[{\"name\": \"t\"}, {\"name\": \"y\"}]}");
    codec_oip_req q;
    codec_request_ode oq;
    json_t *v1 = NULL;
    err e;
    err_clear(&e);
    ck_assert_int_eq(codec_oip_req_decode(body, &q, &e), ERR_OK);
    ck_assert_int_eq(codec_oip_to_ode(&q, 2, &v1, &e), ERR_OK);
    ck_assert_int_eq(codec_request_ode_decode(v1, 2, &oq, &e), ERR_OK);
    const double y[] = {0.1, -2.5, 1e-300, 3};
    codec_request_stats st = {.nfe = 7, .steps = 1, .rejected = 0, .elapsed_ms = 0.25};
    jbuf b;
    jbuf_init(&b);
    codec_oip_ode_reply(&b, &q, "m", 3, &oq, y, 2, &st);
    size_t len;
    char *text = jbuf_take(&b, &len);
    ck_assert_str_eq(text, "{\"model_name\":\"m\",\"model_version\":\"3\",\"id\":\"x\","
                           "\"parameters\":{\"nfe\":7,\"steps\":1,\"rejected\":0,\"elapsed_ms\":"
                           "0.25},\"outputs\":[{\"name\":\"t\",\"datatype\":\"FP64\",\"shape\":[2],"
                           "\"data\":[0.1,1.0]},{\"name\":\"y\",\"datatype\":\"FP64\",\"shape\":"
                           "[1,2,2],\"data\":[0.1,-2.5,1e-300,3.0]}]}");
    free(text);
    codec_request_ode_free(&oq);
    json_decref(v1);
    codec_oip_req_free(&q);
    json_decref(body);
}
END_TEST

/* The v1 field `v1` of a request `oip` to a model of `kind` is `want`. */
static void maps(model_kind kind, const char *oip, const char *v1, const char *want)
{
    json_t *body = parse(oip);
    codec_oip_req q;
    err e;
    err_clear(&e);
    ck_assert_int_eq(codec_oip_req_decode(body, &q, &e), ERR_OK);
    err_set(&e, ERR_INVALID, v1, "why");
    codec_oip_field_map(&q, kind, &e);
    ck_assert_msg(strcmp(e.field, want) == 0, "%s -> %s, want %s", v1, e.field, want);
    codec_oip_req_free(&q);
    json_decref(body);
}

START_TEST(fields_map_back)
{
    const char *flat = "{\"inputs\": [{\"name\": \"t\", \"datatype\": \"FP64\", \"shape\": [2, 3], "
                       "\"data\": [1, 2, 3, 4, 5, 6]}, {\"name\": \"y0\", \"datatype\": \"FP64\", "
                       "\"shape\": [2, 2], \"data\": [1, 0, 0, 1]}]}";
    const char *nested = "{\"inputs\": [{\"name\": \"y0\", \"datatype\": \"FP64\", \"shape\": [2, "
                         "2], \"data\": [[1, 0], [0, 1]]}]}";
    maps(MODEL_KIND_ODE, flat, "y0[1][0]", "inputs[1].data[2]");
    maps(MODEL_KIND_ODE, flat, "y0[1]", "inputs[1].data");
    maps(MODEL_KIND_ODE, flat, "y0", "inputs[1]");
    maps(MODEL_KIND_ODE, flat, "t[1][2]", "inputs[0].data[5]");
    maps(MODEL_KIND_ODE, nested, "y0[1][0]", "inputs[0].data[1][0]");
    maps(MODEL_KIND_ODE, nested, "y0[1]", "inputs[0].data[1]");
    maps(MODEL_KIND_ODE, flat, "solver.rtol", "parameters.rtol");
    maps(MODEL_KIND_ODE, flat, "solver", "parameters");
    maps(MODEL_KIND_ODE, flat, "t0", "parameters.t0");
    maps(MODEL_KIND_ODE, flat, "augmented", "parameters.augmented");
    maps(MODEL_KIND_ODE, flat, "name", "name"); /* not the request's: as it is */
    const char *cde = "{\"inputs\": [{\"name\": \"obs_t\", \"datatype\": \"FP64\", \"shape\": "
                      "[3], \"data\": [0, 1, 2]}, {\"name\": \"obs_x\", \"datatype\": \"FP64\", "
                      "\"shape\": [2, 3, 1], \"data\": [1, 2, 3, 4, 5, 6]}, {\"name\": \"t\", "
                      "\"datatype\": \"FP64\", \"shape\": [2, 2], \"data\": [[0, 1], [1, 2]]}]}";
    maps(MODEL_KIND_CDE, cde, "series[1].observations.t[2]", "inputs[0].data[2]");
    maps(MODEL_KIND_CDE, cde, "series[1].observations.x[2][0]", "inputs[1].data[5]");
    maps(MODEL_KIND_CDE, cde, "series[1].t[0]", "inputs[2].data[1][0]");
    maps(MODEL_KIND_CDE, cde, "series[0].observations.x[*][0]", "inputs[1].data");
    maps(MODEL_KIND_CDE, cde, "output", "outputs");
    maps(MODEL_KIND_CDE, cde, "solver.method", "parameters.method");
}
END_TEST

/* `oip` fails to decode (or, with dim, to rewrite for an ode) at `field`. */
static void fails(const char *oip, size_t dim, const char *field)
{
    json_t *body = parse(oip), *v1 = NULL;
    codec_oip_req q;
    err e;
    err_clear(&e);
    err_code rc = codec_oip_req_decode(body, &q, &e);
    if (rc == ERR_OK && dim) rc = codec_oip_to_ode(&q, dim, &v1, &e);
    ck_assert_msg(rc == ERR_INVALID, "%s: accepted", oip);
    ck_assert_msg(strcmp(e.field, field) == 0, "%s: field %s (%s), want %s", oip, e.field,
                  e.message, field);
    ck_assert_ptr_null(v1);
    codec_oip_req_free(&q);
    json_decref(body);
}

#define Y0 "{\"name\": \"y0\", \"datatype\": \"FP64\", \"shape\": [2], \"data\": [1, 0]}"
#define T1 "{\"name\": \"t\", \"datatype\": \"FP64\", \"shape\": [1], \"data\": [1]}"

START_TEST(errors_name_fields)
{
    fails("{}", 0, "inputs");
    fails("{\"inputs\": []}", 0, "inputs");
    fails("{\"inputs\": [1]}", 0, "inputs[0]");
    fails("{\"inputs\": [" Y0 "], \"outputz\": []}", 0, "outputz");
    fails("{\"inputs\": [{\"datatype\": \"FP64\", \"shape\": [1], \"data\": [1]}]}", 0,
          "inputs[0].name");
    fails("{\"inputs\": [{\"name\": \"y0\", \"shape\": [1], \"data\": [1]}]}", 0,
          "inputs[0].datatype");
    fails("{\"inputs\": [{\"name\": \"y0\", \"datatype\": \"FP64\", \"data\": [1]}]}", 0,
          "inputs[0].shape");
    fails("{\"inputs\": [{\"name\": \"y0\", \"datatype\": \"FP64\", \"shape\": [1.5], \"data\": "
          "[1]}]}",
          0, "inputs[0].shape[0]");
    fails("{\"inputs\": [{\"name\": \"y0\", \"datatype\": \"FP64\", \"shape\": [1]}]}", 0,
          "inputs[0].data");
    fails("{\"inputs\": [{\"name\": \"y0\", \"datatype\": \"FP64\", \"shape\": [2, 2], \"data\": "
          "[[1, 2], [3, [4]]]}]}",
          0, "inputs[0].data[1][1]");
    fails("{\"inputs\": [{\"name\": \"y0\", \"datatype\": \"FP64\", \"shape\": [2], \"data\": [1, "
          "true]}]}",
          0, "inputs[0].data[1]");
    fails("{\"inputs\": [" Y0 "], \"parameters\": {\"a\": null}}", 0, "parameters.a");
    fails("{\"inputs\": [" Y0 "], \"outputs\": [{\"name\": \"y\"}, {\"name\": \"y\"}]}", 0,
          "outputs[1].name");
    fails("{\"inputs\": [" Y0 "], \"id\": []}", 0, "id");
    fails("{\"inputs\": [" Y0 ", " T1 ", " Y0 "]}", 0, "inputs[2].name");
    /* rewriting for an ode of 2 */
    fails("{\"inputs\": [" Y0 "]}", 2, "inputs");
    fails("{\"inputs\": [" Y0 ", " T1 "]}", 3, "inputs[0].shape");
    fails("{\"inputs\": [" Y0 ", {\"name\": \"t\", \"datatype\": \"FP64\", \"shape\": [1, 1], "
          "\"data\": [1]}]}",
          2, "inputs[1].shape");
    fails("{\"inputs\": [" Y0 ", " T1 "], \"outputs\": [{\"name\": \"hidden\"}]}", 2,
          "outputs[0].name");
}
END_TEST

static Suite *codec_oip_suite(void)
{
    Suite *s = suite_create("codec_oip");
    TCase *c = tcase_create("core");
    tcase_add_test(c, rewrites_ode);
    tcase_add_test(c, rewrites_cde);
    tcase_add_test(c, reply_text);
    tcase_add_test(c, fields_map_back);
    suite_add_tcase(s, c);
    TCase *e = tcase_create("errors");
    tcase_add_test(e, errors_name_fields);
    suite_add_tcase(s, e);
    return s;
}

int main(void)
{
    return tu_suite_run(codec_oip_suite());
}
