/* check_codec_replies: the resource replies of the API, in-process, byte
 * for byte against texts written out by hand from docs/api.md and
 * docs/training-jobs.md (models and versions, datasets, jobs and their loss
 * curves, /v1/version, health): key order, null for what is not known
 * yet, the kind-specific keys, escaping, and numbers in the shortest
 * round-trip form. Every text must also parse as JSON. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_catalog.h"
#include "codec/codec_dataset_info.h"
#include "codec/codec_job_info.h"
#include "codec/codec_meta.h"
#include "codec/jbuf.h"
#include "testutil.h"

/* The text b holds equals want, and parses. */
static void expect_text(jbuf *b, const char *want)
{
    size_t len = 0;
    char *got = jbuf_take(b, &len);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, want);
    ck_assert_uint_eq(len, strlen(want));
    json_error_t je;
    json_t *j = json_loads(got, JSON_REJECT_DUPLICATES, &je);
    ck_assert_msg(j != NULL, "not JSON: %s (%s)", got, je.text);
    json_decref(j);
    free(got);
}

START_TEST(catalog_list_and_model)
{
    model_info m[2] = {{.name = "cde1",
                        .kind = MODEL_KIND_CDE,
                        .state_dim = 4,
                        .input_channels = 3,
                        .data_channels = 2,
                        .hidden_dim = 4,
                        .output_dim = 1,
                        .latest_version = 1,
                        .n_versions = 1,
                        .created_at = "2026-12-06T07:00:00.000Z"},
                       {.name = "spiral",
                        .kind = MODEL_KIND_ODE,
                        .state_dim = 2,
                        .latest_version = 3,
                        .n_versions = 2,
                        .created_at = "2026-12-05T01:02:03.456Z"}};
    jbuf b;
    jbuf_init(&b);
    codec_catalog_list_encode(m, 2, &b);
    expect_text(&b, "{\"models\":[{\"name\":\"cde1\",\"kind\":\"cde\",\"state_dim\":4,"
                    "\"input_channels\":3,\"data_channels\":2,\"hidden_dim\":4,\"output_dim\":1,"
                    "\"latest_version\":1,\"versions\":1,\"created_at\":\"2026-12-06T07:00:00.000Z\"},"
                    "{\"name\":\"spiral\",\"kind\":\"ode\",\"state_dim\":2,\"latest_version\":3,"
                    "\"versions\":2,\"created_at\":\"2026-12-05T01:02:03.456Z\"}]}");
    codec_catalog_list_encode(NULL, 0, &b);
    expect_text(&b, "{\"models\":[]}");

    model_version_info v[2] = {
        {.version = 1, .created_at = "A", .checksum = "0123456789abcdef", .n_params = 4482,
         .description = "say \"hi\"\n\tthen\x01"},
        {.version = 3, .created_at = "B", .checksum = "fedcba9876543210", .n_params = 0,
         .description = "caf\xc3\xa9"}};
    model_alias al[2] = {{.alias = "canary", .version = 3}, {.alias = "stable", .version = 1}};
    codec_catalog_model_encode(&m[1], v, 2, al, 2, &b);
    expect_text(&b, "{\"name\":\"spiral\",\"kind\":\"ode\",\"state_dim\":2,\"latest_version\":3,"
                    "\"created_at\":\"2026-12-05T01:02:03.456Z\",\"versions\":["
                    "{\"version\":1,\"created_at\":\"A\",\"checksum\":\"0123456789abcdef\","
                    "\"n_params\":4482,\"description\":\"say \\\"hi\\\"\\n\\tthen\\u0001\"},"
                    "{\"version\":3,\"created_at\":\"B\",\"checksum\":\"fedcba9876543210\","
                    "\"n_params\":0,\"description\":\"caf\xc3\xa9\"}],"
                    "\"aliases\":{\"canary\":3,\"stable\":1}}");
    codec_catalog_model_encode(&m[1], NULL, 0, NULL, 0, &b);
    expect_text(&b, "{\"name\":\"spiral\",\"kind\":\"ode\",\"state_dim\":2,\"latest_version\":3,"
                    "\"created_at\":\"2026-12-05T01:02:03.456Z\",\"versions\":[],\"aliases\":{}}");
}
END_TEST

START_TEST(catalog_short_answers)
{
    jbuf b;
    jbuf_init(&b);
    codec_catalog_stored_encode("m.1", 12, &b);
    expect_text(&b, "{\"name\":\"m.1\",\"version\":12}");
    codec_catalog_deleted_encode("m.1", 0, &b);
    expect_text(&b, "{\"name\":\"m.1\",\"deleted\":true}");
    codec_catalog_deleted_encode("m.1", 4, &b);
    expect_text(&b, "{\"name\":\"m.1\",\"version\":4,\"deleted\":true}");
    codec_catalog_alias_encode("m", "stable", 4, 0, &b);
    expect_text(&b, "{\"name\":\"m\",\"alias\":\"stable\",\"version\":4,\"previous\":null}");
    codec_catalog_alias_encode("m", "stable", 4, 2, &b);
    expect_text(&b, "{\"name\":\"m\",\"alias\":\"stable\",\"version\":4,\"previous\":2}");
    codec_catalog_alias_encode("m", "stable", 0, 4, &b);
    expect_text(&b, "{\"name\":\"m\",\"alias\":\"stable\",\"deleted\":true,\"previous\":4}");
    model_alias_event ev[3] = {{"stable", 0, 1, "ci", "T1"},
                               {"stable", 1, 2, "anonymous", "T2"},
                               {"stable", 2, 0, "op \"x\"", "T3"}};
    codec_catalog_history_encode("m", ev, 3, &b);
    expect_text(&b, "{\"name\":\"m\",\"history\":["
                    "{\"alias\":\"stable\",\"from\":null,\"to\":1,\"by\":\"ci\",\"at\":\"T1\"},"
                    "{\"alias\":\"stable\",\"from\":1,\"to\":2,\"by\":\"anonymous\",\"at\":\"T2\"},"
                    "{\"alias\":\"stable\",\"from\":2,\"to\":null,\"by\":\"op \\\"x\\\"\",\"at\":\"T3\"}]}");
    codec_catalog_history_encode("m", NULL, 0, &b);
    expect_text(&b, "{\"name\":\"m\",\"history\":[]}");
}
END_TEST

START_TEST(dataset_summaries)
{
    dataset_info d[2] = {{.name = "obs",
                          .created_at = "T",
                          .channels = 2,
                          .n_series = 3,
                          .n_points = 7,
                          .n_missing = 2,
                          .t_min = -0.5,
                          .t_max = 1e21,
                          .label_kind = DATASET_LABEL_VECTOR,
                          .label_dim = 5},
                         {.name = "empty",
                          .created_at = "U",
                          .label_kind = DATASET_LABEL_CLASS}};
    jbuf b;
    jbuf_init(&b);
    codec_dataset_info_list_encode(d, 2, &b);
    /* 2 of 7 x 2 values missing: 1/7 in its shortest form */
    expect_text(&b, "{\"datasets\":[{\"name\":\"obs\",\"created_at\":\"T\",\"kind\":\"series\",\"series\":3,"
                    "\"points\":7,\"channels\":2,\"time_range\":[-0.5,1e+21],"
                    "\"missing_fraction\":0.14285714285714285,\"label\":\"vector\",\"label_dim\":5},"
                    "{\"name\":\"empty\",\"created_at\":\"U\",\"kind\":\"series\",\"series\":0,\"points\":0,"
                    "\"channels\":0,\"time_range\":[0.0,0.0],\"missing_fraction\":0.0,"
                    "\"label\":\"class\"}]}");
    /* a point set: no time, missing values or labels to report */
    dataset_info p = {.name = "pts", .created_at = "V", .channels = 3, .n_series = 1, .n_points = 9,
                      .t_min = 0, .t_max = 8, .kind = DATASET_KIND_POINTS};
    codec_dataset_info_encode(&p, &b);
    expect_text(&b, "{\"name\":\"pts\",\"created_at\":\"V\",\"kind\":\"points\",\"points\":9,"
                    "\"channels\":3}");
    codec_dataset_info_deleted_encode("obs", &b);
    expect_text(&b, "{\"name\":\"obs\",\"deleted\":true}");
}
END_TEST

START_TEST(job_rows)
{
    job_info q = {.id = 7,
                  .model = "m",
                  .dataset = "d",
                  .status = JOB_QUEUED,
                  .created_at = "C",
                  .iterations = 100,
                  .train_loss = NAN,
                  .val_loss = NAN,
                  .best_train_loss = NAN,
                  .best_val_loss = NAN};
    jbuf b;
    jbuf_init(&b);
    codec_job_info_encode(&q, &b);
    expect_text(&b, "{\"id\":7,\"status\":\"queued\",\"model\":\"m\",\"dataset\":\"d\","
                    "\"iterations\":100,\"iteration\":0,\"train_loss\":null,"
                    "\"validation_loss\":null,\"best_train_loss\":null,"
                    "\"best_validation_loss\":null,\"iterations_per_second\":null,"
                    "\"elapsed_seconds\":0.0,\"created_at\":\"C\",\"started_at\":null,"
                    "\"finished_at\":null,\"result_version\":null,\"error\":null}");
    job_info r = q;
    r.status = JOB_RUNNING;
    r.cancel_requested = true;
    r.iteration = 3;
    r.elapsed = 0.5;
    r.train_loss = 0.1;
    r.best_train_loss = 0.1;
    snprintf(r.started_at, sizeof r.started_at, "S");
    codec_job_info_encode(&r, &b);
    expect_text(&b, "{\"id\":7,\"status\":\"running\",\"model\":\"m\",\"dataset\":\"d\","
                    "\"iterations\":100,\"iteration\":3,\"train_loss\":0.1,"
                    "\"validation_loss\":null,\"best_train_loss\":0.1,"
                    "\"best_validation_loss\":null,\"iterations_per_second\":6.0,"
                    "\"elapsed_seconds\":0.5,\"created_at\":\"C\",\"started_at\":\"S\","
                    "\"finished_at\":null,\"result_version\":null,\"error\":null,"
                    "\"cancel_requested\":true}");
    /* a finished job does not say cancel_requested */
    r.status = JOB_FAILED;
    snprintf(r.error, sizeof r.error, "diverged: loss is \"nan\"");
    snprintf(r.finished_at, sizeof r.finished_at, "F");
    codec_job_info_list_encode(&r, 1, &b);
    expect_text(&b, "{\"jobs\":[{\"id\":7,\"status\":\"failed\",\"model\":\"m\",\"dataset\":\"d\","
                    "\"iterations\":100,\"iteration\":3,\"train_loss\":0.1,"
                    "\"validation_loss\":null,\"best_train_loss\":0.1,"
                    "\"best_validation_loss\":null,\"iterations_per_second\":6.0,"
                    "\"elapsed_seconds\":0.5,\"created_at\":\"C\",\"started_at\":\"S\","
                    "\"finished_at\":\"F\",\"result_version\":null,"
                    "\"error\":\"diverged: loss is \\\"nan\\\"\"}]}");
    r.status = JOB_SUCCEEDED;
    r.error[0] = '\0';
    r.result_version = 2;
    codec_job_info_encode(&r, &b);
    size_t len = 0;
    char *t = jbuf_take(&b, &len);
    ck_assert_ptr_nonnull(strstr(t, "\"result_version\":2,\"error\":null}"));
    free(t);
    codec_job_info_queued_encode(12, &b);
    expect_text(&b, "{\"id\":12,\"status\":\"queued\"}");
}
END_TEST

START_TEST(job_curve)
{
    job_metric m[3] = {{1, 0.5, NAN, 0.001, NULL, 0},
                       {2, 0.25, 1.0 / 3.0, 0.002, NULL, 0},
                       {3, INFINITY, NAN, 0.1, NULL, 0}};
    jbuf b;
    jbuf_init(&b);
    codec_job_info_metrics_encode(9, m, 3, &b);
    expect_text(&b, "{\"id\":9,\"iteration\":[1,2,3],\"train_loss\":[0.5,0.25,null],"
                    "\"validation_loss\":[null,0.3333333333333333,null],"
                    "\"elapsed_seconds\":[0.001,0.002,0.1]}");
    codec_job_info_metrics_encode(9, NULL, 0, &b);
    expect_text(&b, "{\"id\":9,\"iteration\":[],\"train_loss\":[],\"validation_loss\":[],"
                    "\"elapsed_seconds\":[]}");
}
END_TEST

START_TEST(meta_replies)
{
    jbuf b;
    jbuf_init(&b);
    codec_meta_status_encode("ready", &b);
    expect_text(&b, "{\"status\":\"ready\"}");
    codec_meta_degraded_encode("storage_full", &b);
    expect_text(&b, "{\"status\":\"degraded\",\"reason\":\"storage_full\"}");
    codec_meta_version v = {.version = "1.2.3",
                            .schema_latest = 6,
                            .schema_current = -1,
                            .libmicrohttpd = "0.9.75",
                            .jansson = "2.14",
                            .sqlite = "3.40.1"};
    codec_meta_version_encode(&v, &b);
    expect_text(&b, "{\"name\":\"odeserved\",\"version\":\"1.2.3\",\"schema\":{\"latest\":6,"
                    "\"current\":null},\"libraries\":{\"libmicrohttpd\":\"0.9.75\","
                    "\"jansson\":\"2.14\",\"sqlite\":\"3.40.1\"}}");
    v.schema_current = 6;
    v.openblas = "OpenBLAS 0.3.21";
    codec_meta_version_encode(&v, &b);
    expect_text(&b, "{\"name\":\"odeserved\",\"version\":\"1.2.3\",\"schema\":{\"latest\":6,"
                    "\"current\":6},\"libraries\":{\"libmicrohttpd\":\"0.9.75\","
                    "\"jansson\":\"2.14\",\"sqlite\":\"3.40.1\",\"openblas\":\"OpenBLAS 0.3.21\"}}");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("codec_replies");
    TCase *c = tcase_create("core");
    tcase_add_test(c, catalog_list_and_model);
    tcase_add_test(c, catalog_short_answers);
    tcase_add_test(c, dataset_summaries);
    tcase_add_test(c, job_rows);
    tcase_add_test(c, job_curve);
    tcase_add_test(c, meta_replies);
    suite_add_tcase(s, c);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
