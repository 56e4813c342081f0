#include "codec/codec_job_info.h"

#include <math.h>

static void num_or_null(jbuf *b, double v)
{
    if (isfinite(v))
        jbuf_double(b, v);
    else
        jbuf_lit(b, "null");
}

static void str_or_null(jbuf *b, const char *s)
{
    if (s[0])
        jbuf_str(b, s);
    else
        jbuf_lit(b, "null");
}

void codec_job_info_encode(const job_info *j, jbuf *b)
{
    jbuf_lit(b, "{\"id\":");
    jbuf_int(b, j->id);
    jbuf_lit(b, ",\"status\":");
    jbuf_str(b, job_status_name(j->status));
    jbuf_lit(b, ",\"model\":");
    jbuf_str(b, j->model);
    jbuf_lit(b, ",\"dataset\":");
    jbuf_str(b, j->dataset);
    jbuf_lit(b, ",\"iterations\":");
    jbuf_int(b, j->iterations);
    jbuf_lit(b, ",\"iteration\":");
    jbuf_int(b, j->iteration);
    jbuf_lit(b, ",\"train_loss\":");
    num_or_null(b, j->train_loss);
    jbuf_lit(b, ",\"validation_loss\":");
    num_or_null(b, j->val_loss);
    jbuf_lit(b, ",\"best_train_loss\":");
    num_or_null(b, j->best_train_loss);
    jbuf_lit(b, ",\"best_validation_loss\":");
    num_or_null(b, j->best_val_loss);
    jbuf_lit(b, ",\"iterations_per_second\":");
    num_or_null(b, j->elapsed > 0 ? (double)j->iteration / j->elapsed : NAN);
    jbuf_lit(b, ",\"elapsed_seconds\":");
    jbuf_double(b, j->elapsed);
    jbuf_lit(b, ",\"created_at\":");
    jbuf_str(b, j->created_at);
    jbuf_lit(b, ",\"started_at\":");
    str_or_null(b, j->started_at);
    jbuf_lit(b, ",\"finished_at\":");
    str_or_null(b, j->finished_at);
    jbuf_lit(b, ",\"result_version\":");
    if (j->result_version > 0)
        jbuf_int(b, j->result_version);
    else
        jbuf_lit(b, "null");
    jbuf_lit(b, ",\"error\":");
    str_or_null(b, j->error);
    if (j->cancel_requested && j->status == JOB_RUNNING) jbuf_lit(b, ",\"cancel_requested\":true");
    jbuf_raw(b, "}", 1);
}

void codec_job_info_list_encode(const job_info *list, size_t n, jbuf *b)
{
    jbuf_lit(b, "{\"jobs\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) jbuf_raw(b, ",", 1);
        codec_job_info_encode(&list[i], b);
    }
    jbuf_lit(b, "]}");
}

void codec_job_info_metrics_encode(long long id, const job_metric *m, size_t n, jbuf *b)
{
    codec_job_info_metrics_params_encode(id, m, n, NULL, NULL, 0, 0, b);
}

void codec_job_info_metrics_params_encode(long long id, const job_metric *m, size_t n,
                                          char *const *names, const double *pars, size_t n_rows,
                                          size_t n_par, jbuf *b)
{
    jbuf_lit(b, "{\"id\":");
    jbuf_int(b, id);
    jbuf_lit(b, ",\"iteration\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) jbuf_raw(b, ",", 1);
        jbuf_int(b, m[i].iteration);
    }
    jbuf_lit(b, "],\"train_loss\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) jbuf_raw(b, ",", 1);
        num_or_null(b, m[i].train_loss);
    }
    jbuf_lit(b, "],\"validation_loss\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) jbuf_raw(b, ",", 1);
        num_or_null(b, m[i].val_loss);
    }
    jbuf_lit(b, "],\"elapsed_seconds\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) jbuf_raw(b, ",", 1);
        jbuf_double(b, m[i].elapsed);
    }
    jbuf_raw(b, "]", 1);
    if (names && n_par) {
        jbuf_lit(b, ",\"parameters\":{");
        for (size_t p = 0; p < n_par; p++) {
            if (p) jbuf_raw(b, ",", 1);
            jbuf_str(b, names[p]);
            jbuf_lit(b, ":[");
            for (size_t i = 0; i < n_rows; i++) {
                if (i) jbuf_raw(b, ",", 1);
                num_or_null(b, pars[i * n_par + p]);
            }
            jbuf_raw(b, "]", 1);
        }
        jbuf_raw(b, "}", 1);
    }
    jbuf_raw(b, "}", 1);
}

void codec_job_info_queued_encode(long long id, jbuf *b)
{
    jbuf_lit(b, "{\"id\":");
    jbuf_int(b, id);
    jbuf_lit(b, ",\"status\":\"queued\"}");
}
