/* codec/codec_oip.c: see codec_oip.h. */
#include "codec/codec_oip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_json.h"

/* Tensor data larger than this many values is refused before allocating:
 * the body cap bounds it anyway, this keeps the size arithmetic safe. */
#define OIP_MAX_VALUES ((size_t)1 << 32)

/* The binary extension's request parameter: all outputs as binary data.
 * tritonclient sends it (true) whenever a request names no outputs; the
 * extension is not offered, so the outputs come as JSON (which tritonclient
 * reads too) and the key is not a solver override. */
#define BINARY_OUTPUT "binary_data_output"

void codec_oip_req_free(codec_oip_req *q)
{
    if (!q) return;
    for (size_t i = 0; i < q->n_inputs; i++)
        free(q->inputs[i].data);
    memset(q, 0, sizeof *q);
}

/* ---- the envelope and its tensors ---- */

static const char *const numeric_types[] = {"FP64",  "FP32",  "FP16",   "INT8",   "INT16",  "INT32",
                                            "INT64", "UINT8", "UINT16", "UINT32", "UINT64", NULL};

static int is_numeric_type(const char *s)
{
    for (size_t i = 0; numeric_types[i]; i++)
        if (strcmp(s, numeric_types[i]) == 0) return 1;
    return 0;
}

/* A $parameters object of the protocol: string, number or boolean values.
 * `f` is its field ("parameters", "inputs[0].parameters", ...). */
static err_code decode_parameters(const json_t *v, const char *f, err *e)
{
    if (!json_is_object(v))
        return err_set(e, ERR_INVALID, f, "must be an object, got %s", codec_json_type_name(v));
    const char *k;
    const json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        if (json_is_string(x) || json_is_number(x) || json_is_boolean(x)) continue;
        char g[ERR_FIELD_MAX];
        return err_set(e, ERR_INVALID, codec_json_field(g, sizeof g, f, k),
                       "must be a string, a number or a boolean, got %s", codec_json_type_name(x));
    }
    return ERR_OK;
}

static const char *shape_text(char *buf, size_t n, const size_t *shape, size_t rank)
{
    size_t o = (size_t)snprintf(buf, n, "[");
    for (size_t i = 0; i < rank && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%zu", i ? ", " : "", shape[i]);
    if (o < n) snprintf(buf + o, n - o, "]");
    return buf;
}

static err_code decode_shape(const json_t *v, const char *f, codec_oip_tensor *t, err *e)
{
    if (!v) return err_set(e, ERR_INVALID, f, "missing: the tensor's dimensions, e.g. [2, 3]");
    if (!json_is_array(v) || json_array_size(v) < 1 || json_array_size(v) > CODEC_OIP_MAX_RANK)
        return err_set(e, ERR_INVALID, f, "must be a list of 1 to %d dimensions, got %s",
                       CODEC_OIP_MAX_RANK, codec_json_type_name(v));
    t->rank = json_array_size(v);
    t->n = 1;
    for (size_t i = 0; i < t->rank; i++) {
        char g[ERR_FIELD_MAX];
        size_t d;
        if (codec_json_get_size(json_array_get(v, i), codec_json_field_index(g, sizeof g, f, i), 0,
                                OIP_MAX_VALUES, &d, e) != ERR_OK)
            return ERR_INVALID;
        t->shape[i] = d;
        if (d && t->n > OIP_MAX_VALUES / d)
            return err_set(e, ERR_INVALID, f, "holds more than %zu values", OIP_MAX_VALUES);
        t->n *= d;
    }
    return ERR_OK;
}

static err_code read_value(const json_t *v, const char *f, const codec_oip_tensor *t, double *out,
                           err *e)
{
    if (strcmp(t->datatype, "BOOL") == 0) {
        if (!json_is_boolean(v))
            return err_set(e, ERR_INVALID, f, "must be true or false (datatype BOOL), got %s",
                           codec_json_type_name(v));
        *out = json_is_true(v) ? 1.0 : 0.0;
        return ERR_OK;
    }
    if (!json_is_number(v))
        return err_set(e, ERR_INVALID, f, "must be a number (datatype %s), got %s", t->datatype,
                       codec_json_type_name(v));
    *out = json_number_value(v); /* finite: codec_parse refuses NaN and Infinity */
    return ERR_OK;
}

/* Nested data at dimension `level`: shape[level] items, arrays above the
 * last dimension; values into t->data from *pos. */
static err_code read_nested(const json_t *v, const char *f, codec_oip_tensor *t, size_t level,
                            size_t *pos, err *e)
{
    char s[96];
    if (!json_is_array(v) || json_array_size(v) != t->shape[level])
        return err_set(e, ERR_INVALID, f,
                       "must be a list of %zu items (nested data follows shape %s), got %s%s",
                       t->shape[level], shape_text(s, sizeof s, t->shape, t->rank),
                       codec_json_type_name(v), json_is_array(v) ? " of another length" : "");
    for (size_t i = 0; i < t->shape[level]; i++) {
        char g[ERR_FIELD_MAX];
        codec_json_field_index(g, sizeof g, f, i);
        const json_t *x = json_array_get(v, i);
        err_code rc = level + 1 < t->rank ? read_nested(x, g, t, level + 1, pos, e)
                                          : read_value(x, g, t, &t->data[(*pos)++], e);
        if (rc != ERR_OK) return rc;
    }
    return ERR_OK;
}

static err_code decode_data(const json_t *v, const char *f, codec_oip_tensor *t, err *e)
{
    char s[96];
    if (!v) return err_set(e, ERR_INVALID, f, "missing: the tensor's values");
    if (!json_is_array(v))
        return err_set(e, ERR_INVALID, f,
                       "must be a list of values (flat, row-major, or nested by shape), got %s",
                       codec_json_type_name(v));
    if (!(t->data = malloc((t->n ? t->n : 1) * sizeof *t->data)))
        return err_set(e, ERR_NOMEM, NULL, "out of memory decoding the request");
    t->nested = t->rank > 1 && json_array_size(v) > 0 && json_is_array(json_array_get(v, 0));
    size_t pos = 0;
    if (t->nested) return read_nested(v, f, t, 0, &pos, e);
    if (json_array_size(v) != t->n)
        return err_set(e, ERR_INVALID, f, "holds %zu values; shape %s needs %zu",
                       json_array_size(v), shape_text(s, sizeof s, t->shape, t->rank), t->n);
    for (size_t i = 0; i < t->n; i++) {
        char g[ERR_FIELD_MAX];
        if (read_value(json_array_get(v, i), codec_json_field_index(g, sizeof g, f, i), t,
                       &t->data[i], e) != ERR_OK)
            return ERR_INVALID;
    }
    return ERR_OK;
}

static err_code decode_tensor(const json_t *v, size_t k, codec_oip_req *q, err *e)
{
    static const char *const keys[] = {"name", "datatype", "shape", "data", "parameters", NULL};
    char f[ERR_FIELD_MAX], g[ERR_FIELD_MAX];
    codec_json_field_index(f, sizeof f, "inputs", k);
    if (!json_is_object(v))
        return err_set(e, ERR_INVALID, f,
                       "must be a tensor {\"name\", \"datatype\", \"shape\", \"data\"}, got %s",
                       codec_json_type_name(v));
    if (codec_json_keys_check(v, f, keys, e) != ERR_OK) return ERR_INVALID;
    codec_oip_tensor *t = &q->inputs[k];
    t->index = k;
    const json_t *name = json_object_get(v, "name"), *dt = json_object_get(v, "datatype"),
                 *par = json_object_get(v, "parameters");
    codec_json_field(g, sizeof g, f, "name");
    if (!name) return err_set(e, ERR_INVALID, g, "missing: the tensor's name");
    if (codec_json_get_string(name, g, &t->name, e) != ERR_OK) return ERR_INVALID;
    for (size_t i = 0; i < k; i++)
        if (strcmp(q->inputs[i].name, t->name) == 0)
            return err_set(e, ERR_INVALID, g, "\"%.40s\" is given twice (also inputs[%zu])",
                           t->name, i);
    codec_json_field(g, sizeof g, f, "parameters");
    if (par && decode_parameters(par, g, e) != ERR_OK) return ERR_INVALID;
    if (par && json_object_get(par, "binary_data_size"))
        return err_set(e, ERR_INVALID, g,
                       "the binary tensor data extension is not supported; send \"data\" as JSON");
    codec_json_field(g, sizeof g, f, "datatype");
    if (!dt) return err_set(e, ERR_INVALID, g, "missing: the tensor's datatype, e.g. \"FP64\"");
    if (codec_json_get_string(dt, g, &t->datatype, e) != ERR_OK) return ERR_INVALID;
    if (!is_numeric_type(t->datatype) && strcmp(t->datatype, "BOOL") != 0)
        return err_set(e, ERR_INVALID, g, "datatype \"%.40s\" is not supported (FP64, BOOL)",
                       t->datatype);
    if (decode_shape(json_object_get(v, "shape"), codec_json_field(g, sizeof g, f, "shape"), t,
                     e) != ERR_OK)
        return ERR_INVALID;
    return decode_data(json_object_get(v, "data"), codec_json_field(g, sizeof g, f, "data"), t, e);
}

static const struct {
    const char *name;
    unsigned bit;
} output_names[] = {{"y", CODEC_OIP_OUT_Y},
                    {"t", CODEC_OIP_OUT_T},
                    {"readout", CODEC_OIP_OUT_READOUT},
                    {"hidden", CODEC_OIP_OUT_HIDDEN}};

static err_code decode_outputs(const json_t *v, codec_oip_req *q, err *e)
{
    static const char *const keys[] = {"name", "parameters", NULL};
    if (!json_is_array(v) || json_array_size(v) > CODEC_OIP_MAX_INPUTS)
        return err_set(e, ERR_INVALID, "outputs", "must be a list of at most %d {\"name\"}, got %s",
                       CODEC_OIP_MAX_INPUTS, codec_json_type_name(v));
    for (size_t k = 0; k < json_array_size(v); k++) {
        const json_t *o = json_array_get(v, k);
        char f[ERR_FIELD_MAX], g[ERR_FIELD_MAX];
        codec_json_field_index(f, sizeof f, "outputs", k);
        if (codec_json_keys_check(o, f, keys, e) != ERR_OK) return ERR_INVALID;
        const json_t *name = json_object_get(o, "name"), *par = json_object_get(o, "parameters");
        const char *s;
        /* "binary_data": true asks for the binary extension, which is not
         * offered (no "binary_tensor_data" in the server's extensions):
         * the output comes as JSON, which its clients read as well */
        if (par &&
            decode_parameters(par, codec_json_field(g, sizeof g, f, "parameters"), e) != ERR_OK)
            return ERR_INVALID;
        codec_json_field(g, sizeof g, f, "name");
        if (!name) return err_set(e, ERR_INVALID, g, "missing: the output's name");
        if (codec_json_get_string(name, g, &s, e) != ERR_OK) return ERR_INVALID;
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof output_names / sizeof output_names[0]; i++)
            if (strcmp(s, output_names[i].name) == 0) bit = output_names[i].bit;
        if (!bit)
            return err_set(e, ERR_INVALID, g,
                           "unknown output \"%.40s\" (y, t for ode models; readout, hidden, t for "
                           "cde models)",
                           s);
        for (size_t i = 0; i < q->n_outputs; i++)
            if (q->outputs[i] == bit)
                return err_set(e, ERR_INVALID, g, "\"%s\" is asked for twice", s);
        q->output_names[q->n_outputs] = s;
        q->outputs[q->n_outputs++] = bit;
    }
    return ERR_OK;
}

err_code codec_oip_req_decode(const json_t *body, codec_oip_req *q, err *e)
{
    static const char *const keys[] = {"id", "parameters", "inputs", "outputs", NULL};
    memset(q, 0, sizeof *q);
    err_code rc = codec_json_keys_check(body, "", keys, e);
    const json_t *id = json_object_get(body, "id"), *inputs = json_object_get(body, "inputs"),
                 *outputs = json_object_get(body, "outputs");
    if (rc == ERR_OK && id) rc = codec_json_get_string(id, "id", &q->id, e);
    if (rc == ERR_OK && (q->parameters = json_object_get(body, "parameters")))
        rc = decode_parameters(q->parameters, "parameters", e);
    const json_t *bdo = q->parameters ? json_object_get(q->parameters, BINARY_OUTPUT) : NULL;
    if (rc == ERR_OK && bdo && !json_is_boolean(bdo))
        rc = err_set(e, ERR_INVALID, "parameters." BINARY_OUTPUT, "must be true or false, got %s",
                     codec_json_type_name(bdo));
    if (rc == ERR_OK && !inputs)
        rc = err_set(e, ERR_INVALID, "inputs", "missing: the input tensors");
    if (rc == ERR_OK && (!json_is_array(inputs) || json_array_size(inputs) == 0 ||
                         json_array_size(inputs) > CODEC_OIP_MAX_INPUTS))
        rc = err_set(e, ERR_INVALID, "inputs", "must be a list of 1 to %d tensors, got %s",
                     CODEC_OIP_MAX_INPUTS, codec_json_type_name(inputs));
    for (size_t k = 0; rc == ERR_OK && k < json_array_size(inputs); k++) {
        q->n_inputs = k + 1;
        rc = decode_tensor(json_array_get(inputs, k), k, q, e);
    }
    if (rc == ERR_OK && outputs) rc = decode_outputs(outputs, q, e);
    if (rc != ERR_OK) codec_oip_req_free(q);
    return rc;
}

/* ---- to the v1 body ---- */

static const codec_oip_tensor *find(const codec_oip_req *q, const char *name)
{
    for (size_t i = 0; i < q->n_inputs; i++)
        if (strcmp(q->inputs[i].name, name) == 0) return &q->inputs[i];
    return NULL;
}

static const char *tfield(char *buf, size_t n, const codec_oip_tensor *t, const char *child)
{
    char f[ERR_FIELD_MAX];
    codec_json_field_index(f, sizeof f, "inputs", t->index);
    return child ? codec_json_field(buf, n, f, child) : strcpy(buf, f);
}

/* Every input is one of `names` (NULL-terminated). */
static err_code check_names(const codec_oip_req *q, const char *kind, const char *const *names,
                            const char *list, err *e)
{
    for (size_t i = 0; i < q->n_inputs; i++) {
        int ok = 0;
        for (size_t j = 0; names[j]; j++)
            ok |= strcmp(q->inputs[i].name, names[j]) == 0;
        char f[ERR_FIELD_MAX];
        if (!ok)
            return err_set(e, ERR_INVALID, tfield(f, sizeof f, &q->inputs[i], "name"),
                           "unknown input \"%.40s\": a %s model takes %s", q->inputs[i].name, kind,
                           list);
    }
    return ERR_OK;
}

static err_code need(const codec_oip_req *q, const char *name, const char *what,
                     const codec_oip_tensor **out, err *e)
{
    if ((*out = find(q, name))) return ERR_OK;
    return err_set(e, ERR_INVALID, "inputs", "missing the input \"%s\" (%s)", name, what);
}

static err_code want_type(const codec_oip_tensor *t, const char *type, err *e)
{
    char f[ERR_FIELD_MAX];
    if (strcmp(t->datatype, type) == 0) return ERR_OK;
    return err_set(e, ERR_INVALID, tfield(f, sizeof f, t, "datatype"),
                   "input \"%s\" must be %s, got \"%.40s\"", t->name, type, t->datatype);
}

static err_code bad_shape(const codec_oip_tensor *t, const char *want, err *e)
{
    char f[ERR_FIELD_MAX], s[96];
    return err_set(e, ERR_INVALID, tfield(f, sizeof f, t, "shape"),
                   "input \"%s\" must have shape %s, got %s", t->name, want,
                   shape_text(s, sizeof s, t->shape, t->rank));
}

/* A JSON array of `n` values from v, a missing value (mask set) as null. */
static json_t *array_of(const double *v, const double *mask, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, mask && mask[i] != 0 ? json_null() : json_real(v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* rows x cols values as a list of lists. */
static json_t *matrix_of(const double *v, const double *mask, size_t rows, size_t cols)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < rows; i++)
        if (json_array_append_new(a, array_of(v + i * cols, mask ? mask + i * cols : NULL, cols)) !=
            0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* "parameters" into the v1 body: `direct` keys as they are, the rest under
 * "solver" (the v1 decoder checks them). */
static err_code put_parameters(const codec_oip_req *q, const char *const *direct, json_t *body,
                               err *e)
{
    const char *k;
    const json_t *x;
    json_t *solver = NULL;
    json_object_foreach((json_t *)q->parameters, k, x)
    {
        if (strcmp(k, BINARY_OUTPUT) == 0) continue;
        int top = 0;
        for (size_t i = 0; direct && direct[i]; i++)
            top |= strcmp(k, direct[i]) == 0;
        if (!top && !solver) {
            if (!(solver = json_object()) || json_object_set_new(body, "solver", solver) != 0)
                return err_set(e, ERR_NOMEM, NULL, "out of memory decoding the request");
        }
        if (json_object_set(top ? body : solver, k, (json_t *)x) != 0)
            return err_set(e, ERR_NOMEM, NULL, "out of memory decoding the request");
    }
    return ERR_OK;
}

static err_code check_outputs(const codec_oip_req *q, unsigned allowed, const char *kind, err *e)
{
    for (size_t i = 0; i < q->n_outputs; i++) {
        if (q->outputs[i] & allowed) continue;
        char f[ERR_FIELD_MAX];
        snprintf(f, sizeof f, "outputs[%zu].name", i);
        return err_set(e, ERR_INVALID, f, "a %s model has no output \"%s\"", kind,
                       q->output_names[i]);
    }
    return ERR_OK;
}

static err_code set_new(json_t *o, const char *key, json_t *v, err *e)
{
    if (v && json_object_set_new(o, key, v) == 0) return ERR_OK;
    return err_set(e, ERR_NOMEM, NULL, "out of memory decoding the request");
}

err_code codec_oip_to_ode(const codec_oip_req *q, size_t dim, json_t **out, err *e)
{
    static const char *const names[] = {"y0", "t", NULL}, *const direct[] = {"t0", "augmented",
                                                                             NULL};
    const codec_oip_tensor *y0, *t;
    char want[64];
    *out = NULL;
    if (check_names(q, "ode", names, "y0 and t", e) != ERR_OK ||
        need(q, "y0", "FP64, [batch, state_dim]", &y0, e) != ERR_OK ||
        need(q, "t", "FP64, [n] or [batch, n]", &t, e) != ERR_OK ||
        want_type(y0, "FP64", e) != ERR_OK || want_type(t, "FP64", e) != ERR_OK ||
        check_outputs(q, CODEC_OIP_OUT_Y | CODEC_OIP_OUT_T, "ode", e) != ERR_OK)
        return ERR_INVALID;
    snprintf(want, sizeof want, "[%zu] or [batch, %zu]", dim, dim);
    if (y0->rank > 2 || y0->shape[y0->rank - 1] != dim || (y0->rank == 2 && y0->shape[0] == 0))
        return bad_shape(y0, want, e);
    if (t->rank > 2) return bad_shape(t, "[n] or [batch, n]", e);
    if (t->rank == 2 && (y0->rank != 2 || t->shape[0] != y0->shape[0])) {
        if (y0->rank != 2) return bad_shape(t, "[n] (y0 holds one state)", e);
        snprintf(want, sizeof want, "[n] or [%zu, n] (a grid per state of y0)", y0->shape[0]);
        return bad_shape(t, want, e);
    }
    json_t *body = json_object();
    if (!body) return err_set(e, ERR_NOMEM, NULL, "out of memory decoding the request");
    err_code rc = set_new(body, "y0",
                          y0->rank == 1 ? array_of(y0->data, NULL, dim)
                                        : matrix_of(y0->data, NULL, y0->shape[0], dim),
                          e);
    if (rc == ERR_OK)
        rc = set_new(body, "t",
                     t->rank == 1 ? array_of(t->data, NULL, t->n)
                                  : matrix_of(t->data, NULL, t->shape[0], t->shape[1]),
                     e);
    if (rc == ERR_OK && q->parameters) rc = put_parameters(q, direct, body, e);
    if (rc != ERR_OK) {
        json_decref(body);
        return rc;
    }
    *out = body;
    return ERR_OK;
}

/* Series b of the cde tensors as a v1 series object. */
static json_t *cde_series(const codec_oip_tensor *ot, const codec_oip_tensor *x,
                          const codec_oip_tensor *miss, const codec_oip_tensor *t, size_t b,
                          json_t *into)
{
    const size_t n = x->shape[x->rank - 2], c = x->shape[x->rank - 1];
    const double *times = ot->rank == 2 ? ot->data + b * n : ot->data;
    json_t *obs = json_object();
    if (!obs || json_object_set_new(into, "observations", obs) != 0) return NULL;
    if (json_object_set_new(obs, "t", array_of(times, NULL, n)) != 0 ||
        json_object_set_new(
            obs, "x", matrix_of(x->data + b * n * c, miss ? miss->data + b * n * c : NULL, n, c)) !=
            0)
        return NULL;
    if (t) {
        const size_t m = t->shape[t->rank - 1];
        if (json_object_set_new(into, "t",
                                array_of(t->rank == 2 ? t->data + b * m : t->data, NULL, m)) != 0)
            return NULL;
    }
    return into;
}

err_code codec_oip_to_cde(const codec_oip_req *q, size_t n_data, json_t **out, err *e)
{
    static const char *const names[] = {"obs_t", "obs_x", "obs_missing", "t", NULL};
    const codec_oip_tensor *ot, *x, *miss = find(q, "obs_missing"), *t = find(q, "t");
    char want[96];
    *out = NULL;
    if (check_names(q, "cde", names, "obs_t, obs_x, obs_missing (optional) and t (optional)", e) !=
            ERR_OK ||
        need(q, "obs_t", "FP64, [n_obs] or [batch, n_obs]", &ot, e) != ERR_OK ||
        need(q, "obs_x", "FP64, [n_obs, data_channels] or [batch, n_obs, data_channels]", &x, e) !=
            ERR_OK ||
        want_type(ot, "FP64", e) != ERR_OK || want_type(x, "FP64", e) != ERR_OK ||
        (miss && want_type(miss, "BOOL", e) != ERR_OK) ||
        (t && want_type(t, "FP64", e) != ERR_OK) ||
        check_outputs(q, CODEC_OIP_OUT_READOUT | CODEC_OIP_OUT_HIDDEN | CODEC_OIP_OUT_T, "cde",
                      e) != ERR_OK)
        return ERR_INVALID;
    snprintf(want, sizeof want, "[n_obs, %zu] or [batch, n_obs, %zu]", n_data, n_data);
    if (x->rank < 2 || x->rank > 3 || x->shape[x->rank - 1] != n_data ||
        (x->rank == 3 && x->shape[0] == 0))
        return bad_shape(x, want, e);
    const int batched = x->rank == 3;
    const size_t batch = batched ? x->shape[0] : 1, n = x->shape[x->rank - 2];
    if (!((ot->rank == 1 && ot->shape[0] == n) ||
          (batched && ot->rank == 2 && ot->shape[0] == batch && ot->shape[1] == n))) {
        if (batched)
            snprintf(want, sizeof want, "[%zu] or [%zu, %zu] (obs_x's batch and times)", n, batch,
                     n);
        else
            snprintf(want, sizeof want, "[%zu] (obs_x's times)", n);
        return bad_shape(ot, want, e);
    }
    if (miss &&
        (miss->rank != x->rank || memcmp(miss->shape, x->shape, x->rank * sizeof *x->shape)))
        return bad_shape(miss, "obs_x's", e);
    if (t && !(t->rank == 1 || (batched && t->rank == 2 && t->shape[0] == batch))) {
        if (batched)
            snprintf(want, sizeof want, "[n] or [%zu, n]", batch);
        else
            snprintf(want, sizeof want, "[n]");
        return bad_shape(t, want, e);
    }
    unsigned asked = 0;
    for (size_t i = 0; i < q->n_outputs; i++)
        asked |= q->outputs[i];
    const int want_h = asked & CODEC_OIP_OUT_HIDDEN,
              want_r = !q->n_outputs || (asked & CODEC_OIP_OUT_READOUT) || !want_h;
    json_t *body = json_object();
    if (!body) return err_set(e, ERR_NOMEM, NULL, "out of memory decoding the request");
    err_code rc = set_new(body, "output",
                          json_string(!q->n_outputs      ? "readout"
                                      : want_r && want_h ? "both"
                                      : want_h           ? "hidden"
                                                         : "readout"),
                          e);
    if (rc == ERR_OK && !batched && !cde_series(ot, x, miss, t, 0, body))
        rc = err_set(e, ERR_NOMEM, NULL, "out of memory decoding the request");
    if (rc == ERR_OK && batched) {
        json_t *series = json_array();
        rc = set_new(body, "series", series, e);
        for (size_t b = 0; rc == ERR_OK && b < batch; b++) {
            json_t *s = json_object();
            if (!s || json_array_append_new(series, s) != 0 || !cde_series(ot, x, miss, t, b, s))
                rc = err_set(e, ERR_NOMEM, NULL, "out of memory decoding the request");
        }
    }
    if (rc == ERR_OK && q->parameters) rc = put_parameters(q, NULL, body, e);
    if (rc != ERR_OK) {
        json_decref(body);
        return rc;
    }
    *out = body;
    return ERR_OK;
}

/* ---- v1 error fields back to the OIP request ---- */

/* "[3][1]..." into idx (at most CODEC_OIP_MAX_RANK); the number read, or
 * -1 at anything else ("[*]"). *rest after the last index read. */
static int read_indices(const char *s, size_t *idx, size_t room, const char **rest)
{
    int n = 0;
    while (*s == '[' && (size_t)n < room) {
        char *end;
        if (s[1] < '0' || s[1] > '9') break;
        unsigned long long v = strtoull(s + 1, &end, 10);
        if (*end != ']') break;
        idx[n++] = (size_t)v;
        s = end + 1;
    }
    *rest = s;
    return n;
}

/* The field of element idx (n indices; fewer: the part they name) of t. */
static void element_field(char *buf, size_t size, const codec_oip_tensor *t, const size_t *idx,
                          size_t n)
{
    char f[ERR_FIELD_MAX];
    tfield(f, sizeof f, t, NULL);
    if (n == 0) {
        snprintf(buf, size, "%s", f);
        return;
    }
    size_t o = (size_t)snprintf(buf, size, "%s.data", f);
    if (t->nested || t->rank == 1) {
        for (size_t i = 0; i < n && o < size; i++)
            o += (size_t)snprintf(buf + o, size - o, "[%zu]", idx[i]);
        return;
    }
    if (n < t->rank) return; /* a row of flat data: the data as a whole */
    size_t flat = 0;
    for (size_t i = 0; i < t->rank; i++)
        flat = flat * t->shape[i] + idx[i];
    snprintf(buf + o, size - o, "[%zu]", flat);
}

/* v1 field "<prefix><indices>" of tensor `name`, with the batch index b
 * (SIZE_MAX: none) first when the tensor has the batch dimension. */
static int map_tensor(const codec_oip_req *q, const char *name, const char *rest, size_t b,
                      size_t batch_rank, err *e)
{
    const codec_oip_tensor *t = find(q, name);
    if (!t) return 0;
    size_t idx[CODEC_OIP_MAX_RANK + 1], n = 0;
    if (b != (size_t)-1 && t->rank == batch_rank) idx[n++] = b;
    const char *tail;
    n += (size_t)read_indices(rest, idx + n, CODEC_OIP_MAX_RANK - n, &tail);
    char f[ERR_FIELD_MAX];
    element_field(f, sizeof f, t, idx, n > t->rank ? t->rank : n);
    snprintf(e->field, sizeof e->field, "%s", f);
    return 1;
}

static int starts(const char *s, const char *p, const char **rest)
{
    size_t n = strlen(p);
    if (strncmp(s, p, n) != 0 || (s[n] && s[n] != '[' && s[n] != '.')) return 0;
    *rest = s + n;
    return 1;
}

void codec_oip_field_map(const codec_oip_req *q, model_kind kind, err *e)
{
    if (!e || !e->field[0]) return;
    char v1[ERR_FIELD_MAX];
    snprintf(v1, sizeof v1, "%s", e->field);
    const char *s = v1, *rest;
    if (starts(s, "solver", &rest)) {
        if (*rest == '.')
            codec_json_field(e->field, sizeof e->field, "parameters", rest + 1);
        else
            snprintf(e->field, sizeof e->field, "parameters");
        return;
    }
    if (kind == MODEL_KIND_ODE) {
        if (starts(s, "y0", &rest))
            map_tensor(q, "y0", rest, (size_t)-1, 0, e);
        else if (starts(s, "t0", &rest) || starts(s, "augmented", &rest))
            codec_json_field(e->field, sizeof e->field, "parameters", v1);
        else if (starts(s, "t", &rest))
            map_tensor(q, "t", rest, (size_t)-1, 0, e);
        return;
    }
    if (kind != MODEL_KIND_CDE) return;
    size_t b = (size_t)-1;
    if (strncmp(s, "series[", 7) == 0) {
        size_t idx[1];
        if (read_indices(s + 6, idx, 1, &rest) != 1) return;
        b = idx[0];
        s = *rest == '.' ? rest + 1 : rest;
    }
    if (starts(s, "observations.t", &rest))
        map_tensor(q, "obs_t", rest, b, 2, e);
    else if (starts(s, "observations.x", &rest))
        map_tensor(q, "obs_x", rest, b, 3, e);
    else if (starts(s, "t", &rest))
        map_tensor(q, "t", rest, b, 2, e);
    else if (starts(s, "output", &rest))
        snprintf(e->field, sizeof e->field, "outputs");
}

/* ---- replies ---- */

static void write_shape(jbuf *b, const size_t *shape, size_t rank)
{
    jbuf_raw(b, "[", 1);
    for (size_t i = 0; i < rank; i++) {
        if (i) jbuf_raw(b, ",", 1);
        jbuf_int(b, (long long)shape[i]);
    }
    jbuf_raw(b, "]", 1);
}

static void write_tensor(jbuf *b, int first, const char *name, const size_t *shape, size_t rank,
                         const double *data)
{
    size_t n = 1;
    for (size_t i = 0; i < rank; i++)
        n *= shape[i];
    jbuf_lit(b, first ? "{\"name\":" : ",{\"name\":");
    jbuf_str(b, name);
    jbuf_lit(b, ",\"datatype\":\"FP64\",\"shape\":");
    write_shape(b, shape, rank);
    jbuf_lit(b, ",\"data\":");
    jbuf_vec(b, data, n);
    jbuf_raw(b, "}", 1);
}

static void write_head(jbuf *b, const codec_oip_req *q, const char *model, int version,
                       const codec_request_stats *st)
{
    char v[16];
    snprintf(v, sizeof v, "%d", version);
    jbuf_lit(b, "{\"model_name\":");
    jbuf_str(b, model);
    jbuf_lit(b, ",\"model_version\":");
    jbuf_str(b, v);
    if (q->id) {
        jbuf_lit(b, ",\"id\":");
        jbuf_str(b, q->id);
    }
    jbuf_lit(b, ",\"parameters\":{");
    codec_request_stats_counts(b, st);
    if (st->auto_steps[0] || st->auto_steps[1]) {
        jbuf_lit(b, ",\"steps_dopri5\":");
        jbuf_int(b, st->auto_steps[0]);
        jbuf_lit(b, ",\"steps_rodas4\":");
        jbuf_int(b, st->auto_steps[1]);
        jbuf_lit(b, ",\"switches\":");
        jbuf_int(b, st->n_switches);
    }
    jbuf_lit(b, "},\"outputs\":[");
}

/* The outputs in the order asked, or `all` (n_all of them) when none was. */
static size_t outputs_order(const codec_oip_req *q, const unsigned *all, size_t n_all,
                            unsigned *order)
{
    if (!q->n_outputs) {
        memcpy(order, all, n_all * sizeof *all);
        return n_all;
    }
    memcpy(order, q->outputs, q->n_outputs * sizeof *order);
    return q->n_outputs;
}

void codec_oip_ode_reply(jbuf *b, const codec_oip_req *q, const char *model, int version,
                         const codec_request_ode *oq, const double *y, size_t od,
                         const codec_request_stats *st)
{
    static const unsigned all[] = {CODEC_OIP_OUT_Y, CODEC_OIP_OUT_T};
    const codec_oip_tensor *t = find(q, "t");
    const size_t n = oq->t_len ? oq->t_len[0] : oq->n_t;
    size_t ys[3], ny = 0;
    if (oq->batched) ys[ny++] = oq->batch;
    ys[ny++] = n;
    ys[ny++] = od;
    unsigned order[CODEC_OIP_MAX_INPUTS];
    size_t k = outputs_order(q, all, 2, order);
    jbuf_reserve(b, 256 + strlen(model) + (oq->n_t + oq->batch * n * od) * 25);
    write_head(b, q, model, version, st);
    for (size_t i = 0; i < k; i++) {
        if (order[i] == CODEC_OIP_OUT_Y)
            write_tensor(b, i == 0, "y", ys, ny, y);
        else
            write_tensor(b, i == 0, "t", t->shape, t->rank, oq->t);
    }
    jbuf_lit(b, "]}");
}

void codec_oip_cde_reply(jbuf *b, const codec_oip_req *q, const char *model, int version,
                         const codec_cde_req *cq, const double *readout, size_t readout_dim,
                         const double *hidden, size_t hidden_dim, const codec_request_stats *st)
{
    static const unsigned all[] = {CODEC_OIP_OUT_READOUT, CODEC_OIP_OUT_T};
    const size_t m = cq->series[0].n_t; /* the same for every series: tensors are rectangular */
    size_t rows = cq->batch * m;
    double *t = malloc((rows ? rows : 1) * sizeof *t);
    unsigned order[CODEC_OIP_MAX_INPUTS];
    size_t k = outputs_order(q, all, 2, order);
    for (size_t s = 0; t && s < cq->batch; s++)
        memcpy(t + s * m, cq->series[s].t, m * sizeof *t);
    jbuf_reserve(b, 256 + strlen(model) + rows * (1 + readout_dim + hidden_dim) * 25);
    write_head(b, q, model, version, st);
    for (size_t i = 0; i < k; i++) {
        size_t shape[3], r = 0;
        if (cq->batched) shape[r++] = cq->batch;
        shape[r++] = m;
        if (order[i] == CODEC_OIP_OUT_T) {
            write_tensor(b, i == 0, "t", shape, r, t);
            continue;
        }
        int ro = order[i] == CODEC_OIP_OUT_READOUT;
        shape[r++] = ro ? readout_dim : hidden_dim;
        write_tensor(b, i == 0, ro ? "readout" : "hidden", shape, r, ro ? readout : hidden);
    }
    jbuf_lit(b, "]}");
    free(t);
}

/* ---- metadata ---- */

static void meta_tensor(jbuf *b, int first, const char *name, const char *type, const long *shape,
                        size_t rank)
{
    jbuf_lit(b, first ? "{\"name\":" : ",{\"name\":");
    jbuf_str(b, name);
    jbuf_lit(b, ",\"datatype\":");
    jbuf_str(b, type);
    jbuf_lit(b, ",\"shape\":[");
    for (size_t i = 0; i < rank; i++) {
        if (i) jbuf_raw(b, ",", 1);
        jbuf_int(b, shape[i]);
    }
    jbuf_lit(b, "]}");
}

void codec_oip_model_meta_write(jbuf *b, const codec_oip_model_meta *m)
{
    jbuf_lit(b, "{\"name\":");
    jbuf_str(b, m->name);
    jbuf_lit(b, ",\"versions\":[");
    for (size_t i = 0; i < m->n_versions; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", m->versions[i]);
        if (i) jbuf_raw(b, ",", 1);
        jbuf_str(b, v);
    }
    jbuf_lit(b, "],\"platform\":");
    if (m->kind == MODEL_KIND_CDE) {
        const long x[] = {-1, (long)m->data_channels}, one[] = {-1},
                   r[] = {-1, (long)m->readout_dim}, h[] = {-1, (long)m->hidden_dim};
        jbuf_lit(b, "\"odeserve_cde\",\"inputs\":[");
        meta_tensor(b, 1, "obs_t", "FP64", one, 1);
        meta_tensor(b, 0, "obs_x", "FP64", x, 2);
        meta_tensor(b, 0, "obs_missing", "BOOL", x, 2);
        meta_tensor(b, 0, "t", "FP64", one, 1);
        jbuf_lit(b, "],\"outputs\":[");
        meta_tensor(b, 1, "readout", "FP64", r, 2);
        meta_tensor(b, 0, "hidden", "FP64", h, 2);
        meta_tensor(b, 0, "t", "FP64", one, 1);
    } else if (m->kind == MODEL_KIND_ODE) {
        const long y0[] = {-1, (long)m->state_dim}, one[] = {-1},
                   y[] = {-1, -1, (long)m->output_dim};
        jbuf_lit(b, "\"odeserve_ode\",\"inputs\":[");
        meta_tensor(b, 1, "y0", "FP64", y0, 2);
        meta_tensor(b, 0, "t", "FP64", one, 1);
        jbuf_lit(b, "],\"outputs\":[");
        meta_tensor(b, 1, "y", "FP64", y, 3);
        meta_tensor(b, 0, "t", "FP64", one, 1);
    } else {
        /* a kind the protocol does not infer (its v1 routes do): named as
         * it is, with no tensors, rather than as an ode it is not */
        char platform[40];
        snprintf(platform, sizeof platform, "odeserve_%s", model_kind_name(m->kind));
        jbuf_str(b, platform);
        jbuf_lit(b, ",\"inputs\":[],\"outputs\":[");
    }
    jbuf_lit(b, "]}");
}

void codec_oip_server_meta_write(jbuf *b, const char *name, const char *version)
{
    jbuf_lit(b, "{\"name\":");
    jbuf_str(b, name);
    jbuf_lit(b, ",\"version\":");
    jbuf_str(b, version);
    jbuf_lit(b, ",\"extensions\":[]}");
}

void codec_oip_health_write(jbuf *b, const char *key)
{
    jbuf_raw(b, "{", 1);
    jbuf_str(b, key);
    jbuf_lit(b, ":true}");
}

void codec_oip_model_ready_write(jbuf *b, const char *name)
{
    jbuf_lit(b, "{\"name\":");
    jbuf_str(b, name);
    jbuf_lit(b, ",\"ready\":true}");
}
