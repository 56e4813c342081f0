/* check_datasets: dataset uploads decoded from JSON and CSV
 * (codec/codec_dataset.c) and stored in SQLite (store/datasets.c): round
 * trips value for value (missing values included), summaries, and every
 * malformed input rejected naming its place, with nothing stored. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_dataset.h"
#include "core/log.h"
#include "store/datasets.h"
#include "store/jobs.h"
#include "store_testlib.h"
#include "testutil.h"

static err_code from_json(const char *text, dataset *ds, err *e)
{
    json_error_t je;
    json_t *doc = json_loads(text, JSON_DECODE_INT_AS_REAL, &je);
    ck_assert_msg(doc != NULL, "bad test JSON: %s", je.text);
    err_code rc = codec_dataset_json_decode(doc, ds, e);
    json_decref(doc);
    return rc;
}

static const char *const two_series =
    "{\"series\": [{\"t\": [0, 0.5, 1.5], \"y\": [[1, 2], [null, 3], [4, null]], \"label\": 1},"
    " {\"t\": [2], \"y\": [[5, 6]], \"label\": 0}]}";

START_TEST(json_round_trip)
{
    dataset ds, back;
    err e;
    err_clear(&e);
    ck_assert_int_eq(from_json(two_series, &ds, &e), ERR_OK);
    ck_assert_uint_eq(ds.channels, 2);
    ck_assert_uint_eq(ds.n_series, 2);
    ck_assert_int_eq(ds.label_kind, DATASET_LABEL_CLASS);
    ck_assert(isnan(ds.series[0].y[2]) && isnan(ds.series[0].y[5]));
    db *d = stl_open();
    ck_assert_int_eq(store_dataset_put(d, "obs", &ds, &e), ERR_OK);
    dataset_init(&back);
    ck_assert_int_eq(store_dataset_load(d, "obs", &back, &e), ERR_OK);
    ck_assert_uint_eq(back.n_series, 2);
    for (size_t s = 0; s < 2; s++) {
        ck_assert_uint_eq(back.series[s].n, ds.series[s].n);
        ck_assert_int_eq(back.series[s].label_class, ds.series[s].label_class);
        ck_assert_mem_eq(back.series[s].t, ds.series[s].t, ds.series[s].n * 8);
        ck_assert_mem_eq(back.series[s].y, ds.series[s].y, ds.series[s].n * 16);
    }
    dataset_info in;
    ck_assert_int_eq(store_dataset_info(d, "obs", &in, &e), ERR_OK);
    ck_assert_uint_eq(in.n_points, 4);
    ck_assert_uint_eq(in.n_missing, 2);
    ck_assert(in.t_min == 0 && in.t_max == 2);
    ck_assert_int_eq(store_dataset_put(d, "obs", &ds, &e), ERR_CONFLICT);
    err_clear(&e);
    ck_assert_int_eq(store_dataset_delete(d, "obs", &e), ERR_OK);
    ck_assert_int_eq(store_dataset_info(d, "obs", &in, &e), ERR_NOT_FOUND);
    ck_assert_str_eq(e.field, "name");
    dataset_free(&ds);
    dataset_free(&back);
    db_close(d);
}
END_TEST

/* A dataset that a queued or running job names is kept (409 naming
 * "name" and the job); once no job may still read it, it goes. */
START_TEST(delete_refused_while_a_job_needs_it)
{
    dataset ds;
    err e;
    err_clear(&e);
    ck_assert_int_eq(from_json(two_series, &ds, &e), ERR_OK);
    db *d = stl_open();
    ck_assert_int_eq(store_dataset_put(d, "obs", &ds, &e), ERR_OK);
    ck_assert_int_eq(store_dataset_put(d, "other", &ds, &e), ERR_OK);
    long long id = 0, id2 = 0;
    ck_assert_int_eq(store_job_create(d, "m", "obs", "{}", 10, &id, &e), ERR_OK);
    ck_assert_int_eq(store_job_create(d, "m", "other", "{}", 10, &id2, &e), ERR_OK);
    ck_assert_int_eq(store_dataset_delete(d, "obs", &e), ERR_CONFLICT); /* queued */
    ck_assert_str_eq(e.field, "name");
    char want[64];
    snprintf(want, sizeof want, "job %lld (queued)", id);
    ck_assert_msg(strstr(e.message, want) != NULL, "%s", e.message);
    err_clear(&e);
    stl_job_claim(d, id);
    ck_assert_int_eq(store_dataset_delete(d, "obs", &e), ERR_CONFLICT); /* running */
    ck_assert_msg(strstr(e.message, "(running)") != NULL, "%s", e.message);
    err_clear(&e);
    dataset_info in;
    ck_assert_int_eq(store_dataset_info(d, "obs", &in, &e), ERR_OK); /* still there */
    ck_assert_int_eq(store_job_finish(d, id, JOB_FAILED, "stopped by the test", &e), ERR_OK);
    ck_assert_int_eq(store_dataset_delete(d, "obs", &e), ERR_OK);
    ck_assert_int_eq(store_dataset_info(d, "obs", &in, &e), ERR_NOT_FOUND);
    err_clear(&e);
    job_status after;
    ck_assert_int_eq(store_job_cancel(d, id2, &after, &e), ERR_OK); /* queued -> cancelled */
    ck_assert_int_eq(store_dataset_delete(d, "other", &e), ERR_OK);
    dataset_free(&ds);
    db_close(d);
}
END_TEST

START_TEST(csv_matches_json)
{
    const char *csv = "series,t,a,b,label\n"
                      "s1,0,1,2,1\n"
                      "s1,0.5,,3,1\n"
                      "s1,1.5,4,NA,1\r\n"
                      "\n"
                      "s2,2,5,6,0\n";
    dataset a, b;
    err e;
    err_clear(&e);
    ck_assert_int_eq(codec_dataset_csv_decode(csv, strlen(csv), &a, &e), ERR_OK);
    ck_assert_int_eq(from_json(two_series, &b, &e), ERR_OK);
    ck_assert_uint_eq(a.channels, b.channels);
    ck_assert_uint_eq(a.n_series, b.n_series);
    for (size_t s = 0; s < 2; s++) {
        ck_assert_uint_eq(a.series[s].n, b.series[s].n);
        ck_assert_int_eq(a.series[s].label_class, b.series[s].label_class);
        ck_assert_mem_eq(a.series[s].t, b.series[s].t, a.series[s].n * 8);
        for (size_t i = 0; i < a.series[s].n * 2; i++) {
            double x = a.series[s].y[i], y = b.series[s].y[i];
            ck_assert(x == y || (isnan(x) && isnan(y)));
        }
    }
    dataset_free(&a);
    dataset_free(&b);
}
END_TEST

/* A point set: JSON and CSV decode to the same points, the store keeps
 * them (and the kind) bit for bit, the summary says "points". */
START_TEST(points_round_trip)
{
    const char *json = "{\"kind\": \"points\", \"points\": [[0.5, -1], [2, 3.25], [-4, 1e-3]]}";
    const char *csv = "\xef\xbb\xbfx, y\n0.5,-1\n2,3.25\r\n\n-4,1e-3\n";
    dataset a, b, back;
    err e;
    err_clear(&e);
    ck_assert_int_eq(from_json(json, &a, &e), ERR_OK);
    ck_assert_int_eq(codec_dataset_csv_points_decode(csv, strlen(csv), &b, &e), ERR_OK);
    ck_assert_int_eq(a.kind, DATASET_KIND_POINTS);
    ck_assert_int_eq(b.kind, DATASET_KIND_POINTS);
    ck_assert_uint_eq(a.channels, 2);
    ck_assert_uint_eq(b.channels, 2);
    ck_assert_uint_eq(a.n_series, 1);
    ck_assert_uint_eq(a.series[0].n, 3);
    ck_assert_uint_eq(b.series[0].n, 3);
    ck_assert_mem_eq(a.series[0].y, b.series[0].y, 6 * sizeof(double));
    ck_assert(a.series[0].y[3] == 3.25 && a.series[0].y[5] == 1e-3);
    db *d = stl_open();
    ck_assert_int_eq(store_dataset_put(d, "pts", &a, &e), ERR_OK);
    dataset_init(&back);
    ck_assert_int_eq(store_dataset_load(d, "pts", &back, &e), ERR_OK);
    ck_assert_int_eq(back.kind, DATASET_KIND_POINTS);
    ck_assert_uint_eq(back.channels, 2);
    ck_assert_uint_eq(back.series[0].n, 3);
    ck_assert_mem_eq(back.series[0].y, a.series[0].y, 6 * sizeof(double));
    dataset_info in;
    ck_assert_int_eq(store_dataset_info(d, "pts", &in, &e), ERR_OK);
    ck_assert_int_eq(in.kind, DATASET_KIND_POINTS);
    ck_assert_uint_eq(in.n_points, 3);
    /* a time-series upload is still "series" */
    dataset ts;
    ck_assert_int_eq(from_json(two_series, &ts, &e), ERR_OK);
    ck_assert_int_eq(ts.kind, DATASET_KIND_SERIES);
    ck_assert_int_eq(store_dataset_put(d, "obs", &ts, &e), ERR_OK);
    ck_assert_int_eq(store_dataset_info(d, "obs", &in, &e), ERR_OK);
    ck_assert_int_eq(in.kind, DATASET_KIND_SERIES);
    dataset_free(&ts);
    dataset_free(&a);
    dataset_free(&b);
    dataset_free(&back);
    db_close(d);
}
END_TEST

/* A point set made in memory with a missing value or a label is refused
 * by the store's own check too. */
START_TEST(points_store_checks)
{
    dataset a;
    dataset_init(&a);
    err e;
    err_clear(&e);
    ck_assert_int_eq(dataset_points_alloc(&a, 4, 2, &e), ERR_OK);
    a.series[0].y[5] = NAN;
    db *d = stl_open();
    ck_assert_int_eq(store_dataset_put(d, "pts", &a, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "points[2][1]");
    a.series[0].y[5] = 1;
    a.label_kind = DATASET_LABEL_CLASS;
    err_clear(&e);
    ck_assert_int_eq(store_dataset_put(d, "pts", &a, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "points");
    a.label_kind = DATASET_LABEL_NONE;
    err_clear(&e);
    ck_assert_int_eq(store_dataset_put(d, "pts", &a, &e), ERR_OK);
    dataset_free(&a);
    db_close(d);
}
END_TEST

struct bad_case {
    const char *text;
    int csv;
    const char *field;
};

static const struct bad_case bad[] = {
    {"{\"series\": []}", 0, "series"},
    {"{\"series\": [{\"t\": [0, 1], \"y\": [[1], [2, 3]]}]}", 0, "series[0].y[1]"},
    {"{\"series\": [{\"t\": [0, 1], \"y\": [[1]]}]}", 0, "series[0].y"},
    {"{\"series\": [{\"t\": [1, 0], \"y\": [[1], [2]]}]}", 0, "series[0].t[1]"},
    {"{\"series\": [{\"t\": [0], \"y\": [[\"x\"]]}]}", 0, "series[0].y[0][0]"},
    {"{\"series\": [{\"t\": [0], \"y\": [[1]], \"label\": 1}, {\"t\": [0], \"y\": [[1]]}]}", 0,
     "series[1].label"},
    {"{\"series\": [{\"t\": [0], \"y\": [[1]], \"extra\": 1}]}", 0, "series[0].extra"},
    {"{\"series\": [{\"t\": [0], \"y\": [[1]], \"label\": -1}]}", 0, "series[0].label"},
    {"", 1, "line[1]"},
    {"t,series,a\n0,s,1\n", 1, "line[1]"},
    {"series,t,a\n", 1, "line[2]"},
    {"series,t,a\ns,0,1\ns,x,2\n", 1, "line[3].t"},
    {"series,t,a\ns,0,1\ns,0,2\n", 1, "line[3].t"},
    {"series,t,a\ns,0,1,2\n", 1, "line[2]"},
    {"series,t,a\ns,0,1e999\n", 1, "line[2].a"},
    {"series,t,a\ns,0,1\nr,0,1\ns,1,1\n", 1, "line[4].series"},
    {"series,t,a,label\ns,0,1,0\ns,1,1,1\n", 1, "line[3].label"},
    {"series,t,a,label\ns,0,1,0.5\n", 1, "line[2].label"},
    /* point sets (csv 2: codec_dataset_csv_points_decode) */
    {"{\"kind\": \"points\", \"points\": []}", 0, "points"},
    {"{\"kind\": \"points\", \"points\": [[]]}", 0, "points[0]"},
    {"{\"kind\": \"points\", \"points\": [[1, 2], [3]]}", 0, "points[1]"},
    {"{\"kind\": \"points\", \"points\": [[1, 2], [3, null]]}", 0, "points[1][1]"},
    {"{\"kind\": \"points\", \"points\": [[1, 2], [3, \"x\"]]}", 0, "points[1][1]"},
    {"{\"kind\": \"points\", \"points\": [[1]], \"series\": []}", 0, "series"},
    {"{\"kind\": \"points\"}", 0, "points"},
    {"{\"kind\": 3, \"points\": [[1]]}", 0, "kind"},
    {"{\"points\": [[1]]}", 0, "points"},
    {"", 2, "line[1]"},
    {"x,y\n", 2, "line[2]"},
    {"x,,y\n1,2,3\n", 2, "line[1]"},
    {"x,y\n1,2\n3\n", 2, "line[3]"},
    {"x,y\n1,2\n3,\n", 2, "line[3].y"},
    {"x,y\n1,2\n3,NaN\n", 2, "line[3].y"},
    {"x,y\n1,0x10\n", 2, "line[2].y"},
    {"x,y\n1,1e999\n", 2, "line[2].y"},
    {"x,y\n1,\"2\n", 2, "line[2]"},
};

START_TEST(malformed_inputs_name_their_place)
{
    const struct bad_case *c = &bad[_i];
    dataset ds;
    err e;
    err_clear(&e);
    err_code rc = c->csv == 2   ? codec_dataset_csv_points_decode(c->text, strlen(c->text), &ds, &e)
                  : c->csv == 1 ? codec_dataset_csv_decode(c->text, strlen(c->text), &ds, &e)
                                : from_json(c->text, &ds, &e);
    ck_assert_msg(rc == ERR_INVALID, "case %d: rc %d (%s)", _i, rc, e.message);
    ck_assert_msg(strcmp(e.field, c->field) == 0, "case %d: field '%s', want '%s' (%s)", _i,
                  e.field, c->field, e.message);
    ck_assert_ptr_null(ds.series);
}
END_TEST

START_TEST(rejected_put_stores_nothing)
{
    dataset ds;
    err e;
    err_clear(&e);
    ck_assert_int_eq(from_json(two_series, &ds, &e), ERR_OK);
    ds.series[1].t[0] = INFINITY; /* invalid after decoding: the store checks too */
    db *d = stl_open();
    ck_assert_int_eq(store_dataset_put(d, "obs", &ds, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "series[1].t[0]");
    err_clear(&e);
    ck_assert_int_eq(store_dataset_put(d, "bad/name", &ds, &e), ERR_INVALID);
    dataset_info *list = NULL;
    size_t n = 9;
    err_clear(&e);
    ck_assert_int_eq(store_dataset_list(d, &list, &n, &e), ERR_OK);
    ck_assert_uint_eq(n, 0);
    free(list);
    dataset_free(&ds);
    db_close(d);
}
END_TEST

static Suite *datasets_suite(void)
{
    Suite *s = suite_create("datasets");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, stl_tmp_setup, stl_tmp_teardown);
    tcase_add_test(tc, json_round_trip);
    tcase_add_test(tc, delete_refused_while_a_job_needs_it);
    tcase_add_test(tc, csv_matches_json);
    tcase_add_test(tc, points_round_trip);
    tcase_add_test(tc, points_store_checks);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, stl_tmp_setup, stl_tmp_teardown);
    tcase_add_loop_test(tc, malformed_inputs_name_their_place, 0,
                        (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(tc, rejected_put_stores_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    log_level_set(LOG_LVL_WARN);
    stl_init("check_datasets");
    int rc = tu_suite_run(datasets_suite());
    stl_done();
    return rc;
}
