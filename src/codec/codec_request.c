/* codec/codec_request.c: see codec_request.h. */
#include "codec/codec_request.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_json.h"
#include "codec/codec_model_solver.h"
#include "codec/codec_packed.h"

err_code codec_request_version(const json_t *body, model_version_ref *ref, err *e)
{
    const json_t *v = json_object_get(body, "version");
    memset(ref, 0, sizeof *ref);
    if (!v) return ERR_OK;
    if (json_is_string(v)) {
        if (model_version_ref_parse(json_string_value(v), ref) && ref->version == 0) return ERR_OK;
        memset(ref, 0, sizeof *ref);
        return err_set(e, ERR_INVALID, "version",
                       "must be a positive integer, \"latest\" or an alias (1 to %d of a-z, 0-9, "
                       "'_' and '-', starting with a letter)",
                       MODEL_ALIAS_MAX);
    }
    long n;
    if (!json_is_number(v))
        return err_set(e, ERR_INVALID, "version",
                       "must be a positive integer, \"latest\" or an alias, got %s",
                       codec_json_type_name(v));
    if (codec_json_get_long(v, "version", 1, 2147483647L, &n, e) != ERR_OK) return ERR_INVALID;
    ref->version = (int)n;
    return ERR_OK;
}

void codec_request_ode_free(codec_request_ode *q)
{
    if (!q) return;
    free(q->t);
    free(q->y0);
    free(q->t_len);
    free(q->events);
    free(q->event_w);
    free(q->event_names);
    memset(q, 0, sizeof *q);
}

static void *alloc_doubles(size_t n, err *e)
{
    void *p = n <= ((size_t)-1) / sizeof(double) ? malloc(n * sizeof(double)) : NULL;
    if (!p) err_set(e, ERR_NOMEM, NULL, "out of memory decoding the request");
    return p;
}

/* Whether element 0 of the non-empty array v is an array (a list of
 * lists); v may be packed (codec_parse_packed: the trajectory route packs
 * "t" and "y0"): then it holds rows or numbers, no element needs making. */
static bool first_is_array(const json_t *v)
{
    codec_packed_view p;
    if (codec_packed_get(v, &p)) return p.cols > 0;
    return json_is_array(json_array_get(v, 0));
}

/* Element i < size of array v (codec_json_array_item: a new reference);
 * NULL only when out of memory, with e set. */
static json_t *item(const json_t *v, size_t i, err *e)
{
    json_t *x = codec_json_array_item(v, i);
    if (!x) err_set(e, ERR_NOMEM, NULL, "out of memory decoding the request");
    return x;
}

/* "t" as a list of lists: one grid per state of y0 (decoded first). */
static err_code decode_grids(const json_t *v, codec_request_ode *q, err *e)
{
    const size_t n = codec_json_array_size(v);
    if (!q->batched || n != q->batch)
        return err_set(e, ERR_INVALID, "t",
                       "holds %zu lists of times; y0 holds %zu state%s (a list of lists needs one "
                       "list per state of a list of states)",
                       n, q->batched ? q->batch : 1, q->batched && q->batch == 1 ? "" : "s");
    if (!(q->t_len = calloc(n, sizeof *q->t_len)))
        return err_set(e, ERR_NOMEM, NULL, "out of memory decoding the request");
    size_t total = 0;
    for (size_t b = 0; b < n; b++) {
        json_t *g = item(v, b, e);
        if (!g) return ERR_NOMEM;
        char f[ERR_FIELD_MAX];
        codec_json_field_index(f, sizeof f, "t", b);
        if (!codec_json_is_array(g)) {
            err_set(e, ERR_INVALID, f, "must be a list of times (t is a list of lists), got %s",
                    codec_json_type_name(g));
            json_decref(g);
            return ERR_INVALID;
        }
        q->t_len[b] = codec_json_array_size(g);
        json_decref(g);
        total += q->t_len[b];
    }
    if (total == 0)
        return err_set(e, ERR_INVALID, "t", "must not be empty: give at least one output time");
    q->n_t = total;
    if (!(q->t = alloc_doubles(total, e))) return ERR_NOMEM;
    size_t off = 0;
    for (size_t b = 0; b < n; b++) {
        char f[ERR_FIELD_MAX];
        codec_json_field_index(f, sizeof f, "t", b);
        json_t *g = item(v, b, e);
        if (!g) return ERR_NOMEM;
        err_code rc = codec_json_get_vector(g, f, q->t_len[b], q->t + off, e);
        json_decref(g);
        if (rc != ERR_OK) return ERR_INVALID;
        off += q->t_len[b];
    }
    return ERR_OK;
}

/* "t": a non-empty list of finite numbers, or of lists (decode_grids). */
static err_code decode_times(const json_t *v, codec_request_ode *q, err *e)
{
    if (!v) return err_set(e, ERR_INVALID, "t", "missing: the list of output times");
    if (!codec_json_is_array(v))
        return err_set(e, ERR_INVALID, "t", "must be an array of times, got %s",
                       codec_json_type_name(v));
    if (codec_json_array_size(v) == 0)
        return err_set(e, ERR_INVALID, "t", "must not be empty: give at least one output time");
    if (first_is_array(v)) return decode_grids(v, q, e);
    q->n_t = codec_json_array_size(v);
    if (!(q->t = alloc_doubles(q->n_t, e))) return ERR_NOMEM;
    return codec_json_get_vector(v, "t", q->n_t, q->t, e);
}

/* "y0": one state (dim numbers) or a non-empty list of states. */
static err_code decode_y0(const json_t *v, size_t dim, codec_request_ode *q, err *e)
{
    if (!v) return err_set(e, ERR_INVALID, "y0", "missing: the initial state (%zu numbers)", dim);
    if (!codec_json_is_array(v))
        return err_set(e, ERR_INVALID, "y0",
                       "must be a state (%zu numbers) or a list of states, got %s", dim,
                       codec_json_type_name(v));
    q->batched = codec_json_array_size(v) > 0 && first_is_array(v);
    q->batch = q->batched ? codec_json_array_size(v) : 1;
    if (!(q->y0 = alloc_doubles(q->batch * dim, e))) return ERR_NOMEM;
    if (!q->batched) return codec_json_get_vector(v, "y0", dim, q->y0, e);
    codec_packed_view p;
    if (codec_packed_get(v, &p) && p.cols == dim) { /* rows of numbers: no node per row */
        bool nulls = false;
        for (size_t i = 0; i < p.rows * dim; i++)
            nulls |= codec_packed_is_null(p.v[i]);
        if (!nulls) {
            memcpy(q->y0, p.v, p.rows * dim * sizeof *q->y0);
            return ERR_OK;
        }
    }
    for (size_t b = 0; b < q->batch; b++) {
        char f[ERR_FIELD_MAX];
        json_t *row = item(v, b, e);
        if (!row) return ERR_NOMEM;
        err_code rc = codec_json_get_vector(row, codec_json_field_index(f, sizeof f, "y0", b), dim,
                                            q->y0 + b * dim, e);
        json_decref(row);
        if (rc != ERR_OK) return ERR_INVALID;
    }
    return ERR_OK;
}

static const char *const direction_names[] = {"falling", "both", "rising"}; /* direction + 1 */

err_code codec_request_event_decode(const json_t *v, const char *f, size_t dim,
                                    const char *const *extra, struct ode_event *ev, double *w,
                                    char *name, err *e)
{
    const char *keys[12] = {"name", "state", "value", "direction", "terminal"};
    size_t nk = 5;
    for (; extra && *extra && nk + 1 < sizeof keys / sizeof keys[0]; extra++)
        keys[nk++] = *extra;
    keys[nk] = NULL;
    char g[ERR_FIELD_MAX];
    if (!json_is_object(v))
        return err_set(e, ERR_INVALID, f, "must be an object {\"name\", \"state\", ...}, got %s",
                       codec_json_type_name(v));
    if (codec_json_keys_check(v, f, keys, e) != ERR_OK) return ERR_INVALID;
    *ev = (struct ode_event){.w = w};
    const json_t *jname = json_object_get(v, "name"), *state = json_object_get(v, "state"),
                 *value = json_object_get(v, "value"), *dir = json_object_get(v, "direction"),
                 *term = json_object_get(v, "terminal");
    const char *s;
    codec_json_field(g, sizeof g, f, "name");
    if (!jname) return err_set(e, ERR_INVALID, g, "missing: a name for the event");
    if (codec_json_get_string(jname, g, &s, e) != ERR_OK) return ERR_INVALID;
    const size_t len = strlen(s);
    if (len < 1 || len > CODEC_EVENT_NAME_MAX || len != json_string_length(jname))
        return err_set(e, ERR_INVALID, g, "must be 1 to %d bytes (no NUL), got %zu",
                       CODEC_EVENT_NAME_MAX, json_string_length(jname));
    memcpy(name, s, len + 1);
    codec_json_field(g, sizeof g, f, "state");
    if (!state)
        return err_set(e, ERR_INVALID, g, "missing: the weights of g = state . y - value (%zu numbers)",
                       dim);
    if (codec_json_get_vector(state, g, dim, w, e) != ERR_OK) return ERR_INVALID;
    codec_json_field(g, sizeof g, f, "value");
    if (value && codec_json_get_double(value, g, &ev->value, e) != ERR_OK) return ERR_INVALID;
    ev->direction = ODE_EVENT_BOTH;
    if (dir) {
        codec_json_field(g, sizeof g, f, "direction");
        if (codec_json_get_string(dir, g, &s, e) != ERR_OK) return ERR_INVALID;
        int d = -2;
        for (int i = 0; i < 3; i++)
            if (strcmp(s, direction_names[i]) == 0) d = i - 1;
        if (d == -2)
            return err_set(e, ERR_INVALID, g, "must be \"rising\", \"falling\" or \"both\"");
        ev->direction = d;
    }
    bool t = false;
    codec_json_field(g, sizeof g, f, "terminal");
    if (term && codec_json_get_bool(term, g, &t, e) != ERR_OK) return ERR_INVALID;
    ev->terminal = t;
    return ERR_OK;
}

err_code codec_request_events_count(const json_t *v, size_t *n, err *e)
{
    *n = 0;
    if (!json_is_array(v))
        return err_set(e, ERR_INVALID, "events", "must be a list of events, got %s",
                       codec_json_type_name(v));
    if (json_array_size(v) > CODEC_MAX_EVENTS)
        return err_set(e, ERR_INVALID, "events", "holds %zu events, at most %d are allowed",
                       json_array_size(v), CODEC_MAX_EVENTS);
    *n = json_array_size(v);
    return ERR_OK;
}

/* "events": a list of at most CODEC_MAX_EVENTS event objects. */
static err_code decode_events(const json_t *v, size_t dim, codec_request_ode *q, err *e)
{
    size_t n;
    if (codec_request_events_count(v, &n, e) != ERR_OK) return ERR_INVALID;
    if (!n) return ERR_OK;
    q->events = calloc(n, sizeof *q->events);
    q->event_w = calloc(n * dim, sizeof *q->event_w);
    q->event_names = calloc(n, sizeof *q->event_names);
    if (!q->events || !q->event_w || !q->event_names)
        return err_set(e, ERR_NOMEM, NULL, "out of memory decoding the request");
    q->n_events = n;
    for (size_t k = 0; k < n; k++) {
        char f[ERR_FIELD_MAX];
        codec_json_field_index(f, sizeof f, "events", k);
        if (codec_request_event_decode(json_array_get(v, k), f, dim, NULL, &q->events[k],
                                       q->event_w + k * dim, q->event_names[k], e) != ERR_OK)
            return ERR_INVALID;
    }
    return ERR_OK;
}

/* The members of obj under keys (NULL-terminated) into at[] in one walk
 * over obj (rather than a lookup per key); false when obj is not an object
 * or has another key (codec_json_keys_check then tells which). */
static bool members_of(const json_t *obj, const char *const *keys, const json_t **at)
{
    if (!json_is_object(obj)) return false;
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)obj, k, x)
    {
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], k) != 0)
            i++;
        if (!keys[i]) return false;
        at[i] = x;
    }
    return true;
}

err_code codec_request_ode_decode(const json_t *body, size_t state_dim, codec_request_ode *q,
                                  err *e)
{
    enum { Y0, T, T0, VERSION, SOLVER, AUGMENTED, EVENTS, N_KEYS };
    static const char *const keys[N_KEYS + 1] = {
        [Y0] = "y0",         [T] = "t",           [T0] = "t0",         [VERSION] = "version",
        [SOLVER] = "solver", [AUGMENTED] = "augmented", [EVENTS] = "events", [N_KEYS] = NULL};
    memset(q, 0, sizeof *q);
    const json_t *at[N_KEYS] = {NULL};
    const bool known = members_of(body, keys, at);
    const json_t *t0 = at[T0], *solver = at[SOLVER], *aug = at[AUGMENTED], *events = at[EVENTS];
    if ((!known && codec_json_keys_check(body, "", keys, e) != ERR_OK) ||
        decode_y0(at[Y0], state_dim, q, e) != ERR_OK || decode_times(at[T], q, e) != ERR_OK ||
        (t0 && codec_json_get_double(t0, "t0", &q->t0, e) != ERR_OK) ||
        (solver && codec_model_solver_decode(solver, "solver", &q->solver, e) != ERR_OK) ||
        (aug && codec_json_get_bool(aug, "augmented", &q->augmented, e) != ERR_OK) ||
        (events && decode_events(events, state_dim, q, e) != ERR_OK)) {
        codec_request_ode_free(q);
        return e ? e->code : ERR_INVALID;
    }
    return ERR_OK;
}

void codec_request_stats_counts(jbuf *b, const codec_request_stats *st)
{
    jbuf_lit(b, "\"nfe\":");
    jbuf_int(b, st->nfe);
    jbuf_lit(b, ",\"steps\":");
    jbuf_int(b, st->steps);
    jbuf_lit(b, ",\"rejected\":");
    jbuf_int(b, st->rejected);
    jbuf_lit(b, ",\"elapsed_ms\":");
    jbuf_double(b, st->elapsed_ms);
    if (st->n_jac || st->n_lu) {
        jbuf_lit(b, ",\"n_jac\":");
        jbuf_int(b, st->n_jac);
        jbuf_lit(b, ",\"n_lu\":");
        jbuf_int(b, st->n_lu);
    }
}

void codec_request_stats_write(jbuf *b, const codec_request_stats *st)
{
    jbuf_lit(b, ",\"stats\":{");
    codec_request_stats_counts(b, st);
    if (st->auto_steps[0] || st->auto_steps[1]) {
        jbuf_lit(b, ",\"methods\":{\"dopri5\":");
        jbuf_int(b, st->auto_steps[0]);
        jbuf_lit(b, ",\"rodas4\":");
        jbuf_int(b, st->auto_steps[1]);
        jbuf_lit(b, "},\"switches\":");
        jbuf_int(b, st->n_switches);
    }
    jbuf_lit(b, "}}");
}

/* Trajectory b's events, [{"name", "t", "y"}, ..], from *at on (they are
 * sorted by trajectory). */
static void events_of(jbuf *b, const codec_request_ode *q, const struct ode_model_events *ev,
                      size_t traj, size_t *at)
{
    jbuf_raw(b, "[", 1);
    for (int first = 1; *at < ev->n && ev->b[*at] == traj; (*at)++, first = 0) {
        if (!first) jbuf_raw(b, ",", 1);
        jbuf_lit(b, "{\"name\":");
        jbuf_str(b, q->event_names[ev->which[*at]]);
        jbuf_lit(b, ",\"t\":");
        jbuf_double(b, ev->t[*at]);
        jbuf_lit(b, ",\"y\":");
        jbuf_vec(b, ev->y + *at * ev->od, ev->od);
        jbuf_raw(b, "}", 1);
    }
    jbuf_raw(b, "]", 1);
}

/* Where trajectory b stopped: a number, [before t0, after t0] when both
 * sweeps stopped, null when neither did. */
static void stop_of(jbuf *b, const struct ode_model_events *ev, size_t traj)
{
    const double lo = ev->stop_bwd[traj], hi = ev->stop_fwd[traj];
    if (!isnan(lo) && !isnan(hi)) {
        const double both[2] = {lo, hi};
        jbuf_vec(b, both, 2);
    } else if (!isnan(lo) || !isnan(hi)) {
        jbuf_double(b, isnan(lo) ? hi : lo);
    } else {
        jbuf_lit(b, "null");
    }
}

static int stopped(const struct ode_model_events *ev, size_t traj)
{
    return !isnan(ev->stop_bwd[traj]) || !isnan(ev->stop_fwd[traj]);
}

void codec_request_ode_reply_ev(jbuf *b, const char *model, int version,
                                const codec_request_ode *q, const double *y, size_t od,
                                const struct ode_model_events *ev, const codec_request_stats *st)
{
    jbuf_reserve(b, 160 + strlen(model) + (q->n_t * (q->t_len ? 1 : q->batch) * (od + 1)) * 25 +
                        (ev ? ev->n * (od + 2) * 25 + CODEC_EVENT_NAME_MAX * ev->n : 0));
    jbuf_lit(b, "{\"model\":");
    jbuf_str(b, model);
    jbuf_lit(b, ",\"version\":");
    jbuf_int(b, version);
    jbuf_lit(b, ",\"t\":");
    if (q->t_len) {
        jbuf_raw(b, "[", 1);
        for (size_t k = 0, off = 0; k < q->batch; off += q->t_len[k++]) {
            if (k) jbuf_raw(b, ",", 1);
            jbuf_vec(b, q->t + off, q->t_len[k]);
        }
        jbuf_raw(b, "]", 1);
    } else {
        jbuf_vec(b, q->t, q->n_t);
    }
    jbuf_lit(b, ",\"y\":");
    if (!q->batched) {
        jbuf_rows_or_null(b, y, q->n_t, od);
    } else {
        jbuf_raw(b, "[", 1);
        for (size_t k = 0, off = 0; k < q->batch; k++) {
            const size_t n = q->t_len ? q->t_len[k] : q->n_t;
            if (k) jbuf_raw(b, ",", 1);
            jbuf_rows_or_null(b, y + off * od, n, od);
            off += n;
        }
        jbuf_raw(b, "]", 1);
    }
    if (ev) {
        size_t at = 0;
        jbuf_lit(b, ",\"events\":");
        if (!q->batched) {
            events_of(b, q, ev, 0, &at);
            if (stopped(ev, 0)) {
                jbuf_lit(b, ",\"stopped_at\":");
                stop_of(b, ev, 0);
            }
        } else {
            jbuf_raw(b, "[", 1);
            for (size_t k = 0; k < q->batch; k++) {
                if (k) jbuf_raw(b, ",", 1);
                events_of(b, q, ev, k, &at);
            }
            jbuf_raw(b, "]", 1);
            int any = 0;
            for (size_t k = 0; k < q->batch; k++)
                any |= stopped(ev, k);
            if (any) {
                jbuf_lit(b, ",\"stopped_at\":[");
                for (size_t k = 0; k < q->batch; k++) {
                    if (k) jbuf_raw(b, ",", 1);
                    stop_of(b, ev, k);
                }
                jbuf_raw(b, "]", 1);
            }
        }
    }
    codec_request_stats_write(b, st);
}

void codec_request_ode_reply(jbuf *b, const char *model, int version, const codec_request_ode *q,
                             const double *y, size_t od, const codec_request_stats *st)
{
    if (q->t_len || q->n_events) {
        codec_request_ode_reply_ev(b, model, version, q, y, od, NULL, st);
        return;
    }
    jbuf_reserve(b, 160 + strlen(model) + (q->n_t + q->batch * q->n_t * od) * 25);
    jbuf_lit(b, "{\"model\":");
    jbuf_str(b, model);
    jbuf_lit(b, ",\"version\":");
    jbuf_int(b, version);
    jbuf_lit(b, ",\"t\":");
    jbuf_vec(b, q->t, q->n_t);
    jbuf_lit(b, ",\"y\":");
    if (!q->batched) {
        jbuf_rows(b, y, q->n_t, od);
    } else {
        jbuf_raw(b, "[", 1);
        for (size_t k = 0; k < q->batch; k++) {
            if (k) jbuf_raw(b, ",", 1);
            jbuf_rows(b, y + k * q->n_t * od, q->n_t, od);
        }
        jbuf_raw(b, "]", 1);
    }
    codec_request_stats_write(b, st);
}
