/* codec/codec_cde.c: see codec_cde.h. */
#include "codec/codec_cde.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_json.h"
#include "codec/codec_model_solver.h"

static void series_free(struct cde_series *s)
{
    free((void *)s->obs.t);
    free((void *)s->obs.x);
    free((void *)s->obs.missing);
    free((void *)s->t);
    memset(s, 0, sizeof *s);
}

void codec_cde_req_free(codec_cde_req *q)
{
    if (!q) return;
    for (size_t b = 0; q->series && b < q->batch; b++)
        series_free(&q->series[b]);
    free(q->series);
    free(q->events);
    free(q->event_w);
    free(q->event_names);
    memset(q, 0, sizeof *q);
}

static void *alloc_n(size_t n, size_t size, err *e)
{
    void *p = n && n <= ((size_t)-1) / size ? calloc(n, size) : NULL;
    if (!p) err_set(e, ERR_NOMEM, NULL, "out of memory decoding the request");
    return p;
}

/* A non-empty array of finite numbers at `field` into a new array. */
static err_code decode_list(const json_t *v, const char *field, const char *what, double **out,
                            size_t *n, err *e)
{
    if (!json_is_array(v))
        return err_set(e, ERR_INVALID, field, "must be an array of %s, got %s", what,
                       codec_json_type_name(v));
    if (json_array_size(v) == 0)
        return err_set(e, ERR_INVALID, field, "must not be empty: give at least one of the %s",
                       what);
    *n = json_array_size(v);
    if (!(*out = alloc_n(*n, sizeof **out, e))) return ERR_NOMEM;
    return codec_json_get_vector(v, field, *n, *out, e);
}

/* "x": n rows of n_data values, each a number or null. */
static err_code decode_x(const json_t *v, size_t n, size_t n_data, struct cde_series *s, err *e)
{
    if (!v) return err_set(e, ERR_INVALID, "observations.x", "missing: one row per time");
    if (!json_is_array(v))
        return err_set(e, ERR_INVALID, "observations.x",
                       "must be an array of rows (%zu values each, null = not observed), got %s",
                       n_data, codec_json_type_name(v));
    if (cde_path_rows_check(n, json_array_size(v), e) != ERR_OK) return ERR_INVALID;
    double *x = alloc_n(n * n_data, sizeof *x, e);
    unsigned char *miss = x ? alloc_n(n * n_data, 1, e) : NULL;
    s->obs.x = x;
    s->obs.missing = miss;
    if (!miss) return ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const json_t *row = json_array_get(v, i);
        char f[ERR_FIELD_MAX];
        if (!json_is_array(row))
            return err_set(e, ERR_INVALID, codec_json_field_index(f, sizeof f, "observations.x", i),
                           "must be a row of %zu values (null = not observed), got %s", n_data,
                           codec_json_type_name(row));
        if (cde_path_row_check(i, json_array_size(row), n_data, e) != ERR_OK) return ERR_INVALID;
        for (size_t j = 0; j < n_data; j++) {
            const json_t *a = json_array_get(row, j);
            if (json_is_null(a)) {
                miss[i * n_data + j] = 1;
                continue;
            }
            char fi[ERR_FIELD_MAX], fj[ERR_FIELD_MAX];
            codec_json_field_index(fi, sizeof fi, "observations.x", i);
            if (codec_json_get_double(a, codec_json_field_index(fj, sizeof fj, fi, j),
                                      &x[i * n_data + j], e) != ERR_OK)
                return ERR_INVALID;
        }
    }
    return ERR_OK;
}

/* One series: "observations" and "t" (allowed `keys` of `obj`). */
static err_code decode_series(const json_t *obj, size_t n_data, struct cde_series *s, err *e)
{
    static const char *const obs_keys[] = {"t", "x", NULL};
    const json_t *o = json_object_get(obj, "observations"), *t = json_object_get(obj, "t");
    if (!o)
        return err_set(e, ERR_INVALID, "observations",
                       "missing: the series, {\"t\": [times], \"x\": [rows]}");
    if (!json_is_object(o))
        return err_set(e, ERR_INVALID, "observations",
                       "must be an object {\"t\": [times], \"x\": [rows]}, got %s",
                       codec_json_type_name(o));
    if (codec_json_keys_check(o, "observations", obs_keys, e) != ERR_OK) return ERR_INVALID;
    const json_t *ot = json_object_get(o, "t");
    if (!ot) return err_set(e, ERR_INVALID, "observations.t", "missing: the observation times");
    double *times = NULL;
    err_code rc = decode_list(ot, "observations.t", "observation times", &times, &s->obs.n, e);
    s->obs.t = times;
    if (rc != ERR_OK) return rc;
    if ((rc = decode_x(json_object_get(o, "x"), s->obs.n, n_data, s, e)) != ERR_OK) return rc;
    if ((rc = cde_path_validate(&s->obs, n_data, e)) != ERR_OK) return rc;
    double *qt = NULL;
    if (t) {
        rc = decode_list(t, "t", "query times", &qt, &s->n_t, e);
        s->t = qt;
        return rc;
    }
    /* default: the observation times */
    if (!(qt = alloc_n(s->obs.n, sizeof *qt, e))) return ERR_NOMEM;
    memcpy(qt, s->obs.t, s->obs.n * sizeof *qt);
    s->t = qt;
    s->n_t = s->obs.n;
    return ERR_OK;
}

static err_code decode_output(const json_t *v, cde_output *out, err *e)
{
    *out = CDE_OUTPUT_READOUT;
    if (!v) return ERR_OK;
    const char *s;
    if (codec_json_get_string(v, "output", &s, e) != ERR_OK) return ERR_INVALID;
    if (strcmp(s, "readout") == 0)
        *out = CDE_OUTPUT_READOUT;
    else if (strcmp(s, "hidden") == 0)
        *out = CDE_OUTPUT_HIDDEN;
    else if (strcmp(s, "both") == 0)
        *out = CDE_OUTPUT_BOTH;
    else
        return err_set(e, ERR_INVALID, "output",
                       "must be \"readout\", \"hidden\" or \"both\", got \"%.40s\"", s);
    return ERR_OK;
}

/* "on" of event object v (read before the rest: it sets the weights' count). */
static err_code decode_on(const json_t *v, const char *f, int *on, err *e)
{
    *on = CDE_EVENT_HIDDEN;
    const json_t *j = json_is_object(v) ? json_object_get(v, "on") : NULL;
    if (!j) return ERR_OK;
    char g[ERR_FIELD_MAX];
    const char *s;
    codec_json_field(g, sizeof g, f, "on");
    if (codec_json_get_string(j, g, &s, e) != ERR_OK) return ERR_INVALID;
    if (strcmp(s, "readout") == 0)
        *on = CDE_EVENT_READOUT;
    else if (strcmp(s, "hidden") != 0)
        return err_set(e, ERR_INVALID, g, "must be \"hidden\" or \"readout\", got \"%.40s\"", s);
    return ERR_OK;
}

/* "events": ode events on the hidden state or the readout ("on"). */
static err_code decode_events(const json_t *v, const codec_cde_dims *d, codec_cde_req *q, err *e)
{
    static const char *const extra[] = {"on", NULL};
    size_t n;
    if (codec_request_events_count(v, &n, e) != ERR_OK) return ERR_INVALID;
    if (!n) return ERR_OK;
    const size_t wmax = d->hidden_dim > d->readout_dim ? d->hidden_dim : d->readout_dim;
    q->events = alloc_n(n, sizeof *q->events, e);
    q->event_w = q->events ? alloc_n(n * wmax, sizeof *q->event_w, e) : NULL;
    q->event_names = q->event_w ? alloc_n(n, sizeof *q->event_names, e) : NULL;
    if (!q->event_names) return ERR_NOMEM;
    q->n_events = n;
    for (size_t k = 0; k < n; k++) {
        const json_t *ev = json_array_get(v, k);
        char f[ERR_FIELD_MAX];
        codec_json_field_index(f, sizeof f, "events", k);
        struct cde_event *ce = &q->events[k];
        if (decode_on(ev, f, &ce->on, e) != ERR_OK ||
            codec_request_event_decode(ev, f,
                                       ce->on == CDE_EVENT_READOUT ? d->readout_dim : d->hidden_dim,
                                       extra, &ce->g, q->event_w + k * wmax, q->event_names[k],
                                       e) != ERR_OK)
            return ERR_INVALID;
    }
    return ERR_OK;
}

static err_code decode_batch(const json_t *v, size_t n_data, codec_cde_req *q, err *e)
{
    static const char *const keys[] = {"observations", "t", NULL};
    if (!json_is_array(v))
        return err_set(e, ERR_INVALID, "series",
                       "must be an array of series {\"observations\", \"t\"}, got %s",
                       codec_json_type_name(v));
    if (json_array_size(v) == 0)
        return err_set(e, ERR_INVALID, "series", "must not be empty: give at least one series");
    q->batched = true;
    if (!(q->series = alloc_n(json_array_size(v), sizeof *q->series, e))) return ERR_NOMEM;
    q->batch = json_array_size(v);
    for (size_t b = 0; b < q->batch; b++) {
        const json_t *s = json_array_get(v, b);
        char f[ERR_FIELD_MAX];
        codec_json_field_index(f, sizeof f, "series", b);
        if (!json_is_object(s))
            return err_set(e, ERR_INVALID, f, "must be an object {\"observations\", \"t\"}, got %s",
                           codec_json_type_name(s));
        err_code rc = codec_json_keys_check(s, f, keys, e);
        if (rc == ERR_OK && (rc = decode_series(s, n_data, &q->series[b], e)) != ERR_OK)
            err_prefix_field(e, f);
        if (rc != ERR_OK) return rc;
    }
    return ERR_OK;
}

err_code codec_cde_req_decode(const json_t *body, const codec_cde_dims *dims, codec_cde_req *q,
                              err *e)
{
    static const char *const keys[] = {"observations", "t",      "series", "output",
                                       "version",      "solver", "events", NULL};
    const size_t n_data = dims->n_data;
    memset(q, 0, sizeof *q);
    const json_t *series = json_object_get(body, "series"),
                 *solver = json_object_get(body, "solver"), *events = json_object_get(body, "events");
    err_code rc = codec_json_keys_check(body, "", keys, e);
    if (rc == ERR_OK) rc = decode_output(json_object_get(body, "output"), &q->output, e);
    if (rc == ERR_OK && solver) rc = codec_model_solver_decode(solver, "solver", &q->solver, e);
    if (rc == ERR_OK && events) rc = decode_events(events, dims, q, e);
    if (rc == ERR_OK && series) {
        const char *extra = json_object_get(body, "observations") ? "observations"
                            : json_object_get(body, "t")          ? "t"
                                                                  : NULL;
        if (extra)
            rc = err_set(e, ERR_INVALID, extra,
                         "a batch (\"series\") carries \"observations\" and \"t\" inside each "
                         "series, not at the top level");
        else
            rc = decode_batch(series, n_data, q, e);
    } else if (rc == ERR_OK) {
        if (!(q->series = alloc_n(1, sizeof *q->series, e)))
            rc = ERR_NOMEM;
        else {
            q->batch = 1;
            rc = decode_series(body, n_data, &q->series[0], e);
        }
    }
    if (rc != ERR_OK) codec_cde_req_free(q);
    return rc;
}

/* Rows of y (n x dim), a NAN row (past a terminal event) as null. */
static void rows_or_null(jbuf *b, const double *y, size_t n, size_t dim)
{
    jbuf_raw(b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i) jbuf_raw(b, ",", 1);
        if (isnan(y[i * dim]))
            jbuf_lit(b, "null");
        else
            jbuf_vec(b, y + i * dim, dim);
    }
    jbuf_raw(b, "]", 1);
}

/* ,"events":[{"name","t","readout"?,"hidden"?},..] of series k (events from
 * *at on: they are sorted by series), then ,"stopped_at" if it stopped. */
static void write_events(jbuf *b, const codec_cde_req *q, const struct cde_model_events *ev,
                         size_t k, size_t *at, size_t rd, size_t hd)
{
    jbuf_lit(b, ",\"events\":[");
    for (int first = 1; *at < ev->n && ev->b[*at] == k; (*at)++, first = 0) {
        if (!first) jbuf_raw(b, ",", 1);
        jbuf_lit(b, "{\"name\":");
        jbuf_str(b, q->event_names[ev->which[*at]]);
        jbuf_lit(b, ",\"t\":");
        jbuf_double(b, ev->t[*at]);
        if ((q->output & CDE_OUTPUT_READOUT) && ev->readout) {
            jbuf_lit(b, ",\"readout\":");
            jbuf_vec(b, ev->readout + *at * rd, rd);
        }
        if (q->output & CDE_OUTPUT_HIDDEN) {
            jbuf_lit(b, ",\"hidden\":");
            jbuf_vec(b, ev->hidden + *at * hd, hd);
        }
        jbuf_raw(b, "}", 1);
    }
    jbuf_raw(b, "]", 1);
    if (ev->stopped_at && !isnan(ev->stopped_at[k])) {
        jbuf_lit(b, ",\"stopped_at\":");
        jbuf_double(b, ev->stopped_at[k]);
    }
}

/* "t":[..],"readout":[..],"hidden":[..] of one series from row `row`. */
static void write_series(jbuf *b, const codec_cde_req *q, const struct cde_series *s, size_t row,
                         const double *readout, size_t rd, const double *hidden, size_t hd)
{
    jbuf_lit(b, "\"t\":");
    jbuf_vec(b, s->t, s->n_t);
    if (q->output & CDE_OUTPUT_READOUT) {
        jbuf_lit(b, ",\"readout\":");
        rows_or_null(b, readout + row * rd, s->n_t, rd);
    }
    if (q->output & CDE_OUTPUT_HIDDEN) {
        jbuf_lit(b, ",\"hidden\":");
        rows_or_null(b, hidden + row * hd, s->n_t, hd);
    }
}

void codec_cde_reply(jbuf *b, const char *model, int version, const codec_cde_req *q,
                     const double *readout, size_t readout_dim, const double *hidden,
                     size_t hidden_dim, const struct cde_model_events *ev,
                     const codec_request_stats *st)
{
    size_t rows = 0, at = 0;
    for (size_t k = 0; k < q->batch; k++)
        rows += q->series[k].n_t;
    size_t per = 1 + ((q->output & CDE_OUTPUT_READOUT) ? readout_dim : 0) +
                 ((q->output & CDE_OUTPUT_HIDDEN) ? hidden_dim : 0);
    jbuf_reserve(b, 160 + strlen(model) + q->batch * 40 + rows * per * 25 +
                        (ev ? ev->n * ((per + 1) * 25 + CODEC_EVENT_NAME_MAX) : 0));
    jbuf_lit(b, "{\"model\":");
    jbuf_str(b, model);
    jbuf_lit(b, ",\"version\":");
    jbuf_int(b, version);
    jbuf_raw(b, ",", 1);
    if (!q->batched) {
        write_series(b, q, &q->series[0], 0, readout, readout_dim, hidden, hidden_dim);
        if (ev) write_events(b, q, ev, 0, &at, readout_dim, hidden_dim);
    } else {
        jbuf_lit(b, "\"series\":[");
        size_t row = 0;
        for (size_t k = 0; k < q->batch; k++) {
            jbuf_lit(b, k ? ",{" : "{");
            write_series(b, q, &q->series[k], row, readout, readout_dim, hidden, hidden_dim);
            if (ev) write_events(b, q, ev, k, &at, readout_dim, hidden_dim);
            jbuf_raw(b, "}", 1);
            row += q->series[k].n_t;
        }
        jbuf_raw(b, "]", 1);
    }
    codec_request_stats_write(b, st);
}
