/* http/jobs.c: training jobs (docs/training-jobs.md).
 *
 *   POST /v1/jobs               queue a job: 202 + Location + {"id", "status"}
 *   GET  /v1/jobs[?status=S]    jobs by id, optionally one status
 *   GET  /v1/jobs/{id}          status, progress, losses, result, error
 *   GET  /v1/jobs/{id}/metrics  the loss curve
 *   POST /v1/jobs/{id}/cancel   cancel a queued or running job
 *
 * The job document is checked in full (codec/codec_job.h) before it is
 * queued; the model and dataset named are checked to exist (the dataset
 * may still be deleted before the job runs: the job then fails). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_job.h"
#include "codec/codec_job_info.h"
#include "core/log.h"
#include "http/api.h"
#include "http/handlers.h"
#include "jobs/pool.h"
#include "store/datasets.h"
#include "store/jobs.h"
#include "store/models.h"

/* The {id} segment: a positive integer, else 404. */
static long long path_id(http_req *r)
{
    /* digits only, no sign, space or leading zero, and short enough not to
     * saturate: "+1", " 1" and 10^30 name no job */
    long long id = api_path_number(r, "id", 18);
    if (!id) http_reply_errorf(r, ERR_NOT_FOUND, "id", "no such job");
    return id;
}

/* The model (init, or the from_version) against the dataset's shape. */
static err_code check_data(db *d, const job_spec *s, const dataset_info *di, err *e)
{
    if (!s->from_version)
        return job_spec_data_check(s, &s->init_def, "init.readout", di->kind, di->channels,
                                   di->label_kind,
                                   di->label_dim, NULL, e);
    model_def def;
    model_def_init(&def);
    err_code rc = store_version_load(d, s->model, s->from_version, &def, NULL, NULL, e);
    if (rc == ERR_OK)
        rc = job_spec_data_check(s, &def, "from_version", di->kind, di->channels, di->label_kind,
                                 di->label_dim, NULL, e);
    model_def_free(&def);
    return rc;
}

static void create_work(http_req *r)
{
    err e;
    err_clear(&e);
    size_t len = 0;
    const char *body = http_req_body(r, &len);
    job_spec s;
    db *d = NULL;
    long long id = 0;
    dataset_info di;
    int latest = 0;
    if (codec_job_decode(body ? body : "", len, &s, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    if (db_conns_get(http_req_app(r)->db, &d, &e) != ERR_OK ||
        store_dataset_info(d, s.dataset, &di, &e) != ERR_OK)
        goto fail;
    if (s.from_version) {
        if (store_model_latest(d, s.model, &latest, &e) != ERR_OK) goto fail;
        if (s.from_version > latest) {
            err_set(&e, ERR_NOT_FOUND, "from_version", "model \"%s\" has no version %d", s.model,
                    s.from_version);
            goto fail;
        }
    }
    if (check_data(d, &s, &di, &e) != ERR_OK) goto fail;
    if (s.batch_time) { /* a window needs a series at least that long: else the job fails */
        size_t longest = 0;
        if (store_dataset_longest_series(d, s.dataset, &longest, &e) != ERR_OK) goto fail;
        if (longest < s.batch_time) {
            err_set(&e, ERR_INVALID, "objective.batch_time",
                    "windows of %zu observations, but the longest series of dataset \"%s\" has %zu",
                    s.batch_time, s.dataset, longest);
            goto fail;
        }
    }
    /* the body is not NUL-terminated */
    char *text = strndup(body ? body : "", len);
    if (!text) {
        err_set(&e, ERR_NOMEM, NULL, "out of memory");
        goto fail;
    }
    err_code rc = store_job_create(d, s.model, s.dataset, text, s.iterations, &id, &e);
    free(text);
    if (rc != ERR_OK) goto fail;
    jobs_pool_notify(http_req_app(r)->jobs);
    char loc[64];
    snprintf(loc, sizeof loc, "/v1/jobs/%lld", id);
    http_reply_header(r, "Location", loc);
    log_info("job_queued", "request_id=%s id=%lld model=%s dataset=%s iterations=%ld",
             http_req_id(r), id, s.model, s.dataset, s.iterations);
    jbuf b;
    jbuf_init(&b);
    codec_job_info_queued_encode(id, &b);
    api_reply_jbuf(r, 202, &b);
    job_spec_free(&s);
    return;
fail:
    if (e.code == ERR_NOT_FOUND && strcmp(e.field, "name") == 0)
        snprintf(e.field, sizeof e.field, "%s", s.from_version ? "model" : "dataset");
    job_spec_free(&s);
    http_reply_error(r, &e);
}

void h_job_create(http_req *r)
{
    if (!api_require_json(r)) return;
    http_req_defer(r, create_work);
}

void h_jobs_list(http_req *r)
{
    const char *q = http_req_query(r, "status");
    job_status want = JOB_QUEUED;
    err e;
    err_clear(&e);
    if (q && job_status_from_name(q, &want, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    db *d = api_db(r);
    if (!d) return;
    job_info *list = NULL;
    size_t n = 0;
    if (store_job_list(d, q ? (int)want : -1, &list, &n, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    jbuf b;
    jbuf_init(&b);
    codec_job_info_list_encode(list, n, &b);
    free(list);
    api_reply_jbuf(r, 200, &b);
}

void h_job_get(http_req *r)
{
    long long id = path_id(r);
    db *d = id ? api_db(r) : NULL;
    if (!d) return;
    err e;
    err_clear(&e);
    job_info j;
    if (store_job_get(d, id, &j, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    jbuf b;
    jbuf_init(&b);
    codec_job_info_encode(&j, &b);
    api_reply_jbuf(r, 200, &b);
}

/* A hybrid job's parameter names: its init's, or its from_version's (both
 * immutable: the names of every metric row). */
static err_code param_names(db *d, long long id, job_spec *js, model_def *def, char *const **names,
                            size_t n_par, err *e)
{
    char *spec = NULL;
    if (store_job_spec(d, id, &spec, e) != ERR_OK) return e->code;
    err_code rc = codec_job_decode(spec, strlen(spec), js, e);
    free(spec);
    if (rc != ERR_OK) return rc;
    const model_def *m = &js->init_def;
    if (js->from_version) {
        if (store_version_load(d, js->model, js->from_version, def, NULL, NULL, e)) return e->code;
        m = def;
    }
    if (m->kind != MODEL_KIND_HYBRID || m->hybrid->n_par != n_par)
        return err_set(e, ERR_DB, NULL, "job %lld: its metric rows do not fit its model", id);
    *names = m->hybrid->par_names;
    return ERR_OK;
}

void h_job_metrics(http_req *r)
{
    long long id = path_id(r);
    db *d = id ? api_db(r) : NULL;
    if (!d) return;
    err e;
    err_clear(&e);
    job_metric *m = NULL;
    size_t n = 0;
    if (store_job_metrics(d, id, &m, &n, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    double *pars = NULL;
    size_t n_rows = 0, n_par = 0;
    model_def def;
    job_spec js;
    model_def_init(&def);
    job_spec_init(&js);
    char *const *names = NULL;
    if (store_job_metric_parameters(d, id, &pars, &n_rows, &n_par, &e) != ERR_OK ||
        (pars && param_names(d, id, &js, &def, &names, n_par, &e) != ERR_OK)) {
        free(m);
        free(pars);
        job_spec_free(&js);
        model_def_free(&def);
        http_reply_error(r, &e);
        return;
    }
    jbuf b;
    jbuf_init(&b);
    codec_job_info_metrics_params_encode(id, m, n, names, pars, n_rows, n_par, &b);
    free(m);
    free(pars);
    job_spec_free(&js);
    model_def_free(&def);
    api_reply_jbuf(r, 200, &b);
}

void h_job_cancel(http_req *r)
{
    long long id = path_id(r);
    db *d = id ? api_db(r) : NULL;
    if (!d) return;
    err e;
    err_clear(&e);
    job_status after;
    if (store_job_cancel(d, id, &after, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    if (after == JOB_RUNNING) jobs_pool_cancel(http_req_app(r)->jobs, id);
    log_info("job_cancel", "request_id=%s id=%lld status=%s", http_req_id(r), id,
             job_status_name(after));
    job_info j;
    if (store_job_get(d, id, &j, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    jbuf b;
    jbuf_init(&b);
    codec_job_info_encode(&j, &b);
    api_reply_jbuf(r, 202, &b);
}
