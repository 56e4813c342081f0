/* codec/codec_model.c: see codec_model.h.
 *
 * Decoding walks the document once, in the order the networks chain:
 * each layer's input width is the previous layer's output (the network's
 * input for the first), so a shape mismatch is reported at the layer and
 * row where it happens, and the parameters are collected straight into the
 * model_def layout (nn/mlp.h: per linear layer W row-major, then b). */
#include "codec/codec_model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_hybrid.h"
#include "codec/codec_json.h"
#include "codec/codec_model_solver.h"
#include "codec/codec_parse.h"
#include "num/sde.h"
#include "num/symplectic.h"
#include "num/tableau.h"

#define F(buf, parent, child) codec_json_field(buf, sizeof buf, parent, child)

/* The parameter vector being collected. */
typedef struct pvec {
    double *v;
    size_t n, cap;
} pvec;

static double *pvec_add(pvec *p, size_t n, err *e)
{
    if (p->n + n > p->cap) {
        size_t cap = p->cap ? p->cap : 1024;
        while (cap < p->n + n)
            cap *= 2;
        double *v = realloc(p->v, cap * sizeof *v);
        if (!v) {
            err_set(e, ERR_NOMEM, NULL, "out of memory decoding the model's parameters");
            return NULL;
        }
        p->v = v;
        p->cap = cap;
    }
    double *at = p->v + p->n;
    p->n += n;
    return at;
}

static err_code missing(const char *field, const char *what, err *e)
{
    return err_set(e, ERR_INVALID, field, "missing: %s", what);
}

/* ---- layers and networks ---- */

/* A network being decoded: where its input comes from (for messages) and
 * the running width. */
const char *const codec_model_pack_keys[] = {"weight", "bias", NULL};

typedef struct net_ctx {
    const char *field; /* "vector_field" */
    const char *input; /* "state_dim + augment_dim = 2" */
    size_t width;      /* input width of the next layer */
    pvec *params;
} net_ctx;

static err_code decode_weight(const json_t *w, const char *field, net_ctx *c, size_t first,
                              size_t *rows_out, double **wv, err *e)
{
    char f[ERR_FIELD_MAX];
    if (!codec_json_is_array(w) || codec_json_array_size(w) == 0)
        return err_set(e, ERR_INVALID, field,
                       "must be a non-empty array of rows (out x in), got %s",
                       codec_json_is_array(w) ? "an empty array" : codec_json_type_name(w));
    size_t rows = codec_json_array_size(w);
    json_t *row = codec_json_array_item(w, 0); /* a new reference (w may be packed) */
    if (!row) return err_set(e, ERR_NOMEM, field, "out of memory");
    if (!json_is_array(row)) {
        err_set(e, ERR_INVALID, codec_json_field_index(f, sizeof f, field, 0),
                "must be an array of numbers (a row of the out x in matrix), got %s",
                codec_json_type_name(row));
        goto fail;
    }
    size_t cols = json_array_size(row);
    if (cols != c->width) {
        if (first)
            err_set(e, ERR_INVALID, field,
                    "rows have %zu values, but the network's input has %zu (%s)", cols, c->width,
                    c->input);
        else
            err_set(e, ERR_INVALID, field,
                    "rows have %zu values, but the layer before gives %zu (shape mismatch "
                    "with the previous layer)",
                    cols, c->width);
        goto fail;
    }
    if (rows > MLP_MAX_WIDTH) {
        err_set(e, ERR_INVALID, field, "has %zu rows, at most %d allowed", rows, MLP_MAX_WIDTH);
        goto fail;
    }
    double *v = pvec_add(c->params, rows * cols + rows, e);
    if (!v) goto fail;
    for (size_t j = 0; j < rows; j++) {
        if (j) {
            json_decref(row);
            if (!(row = codec_json_array_item(w, j))) {
                err_set(e, ERR_NOMEM, field, "out of memory");
                goto fail;
            }
        }
        codec_json_field_index(f, sizeof f, field, j);
        if (json_is_array(row) && json_array_size(row) != cols) {
            err_set(e, ERR_INVALID, f, "has %zu values, row 0 has %zu", json_array_size(row), cols);
            goto fail;
        }
        if (!json_is_array(row)) {
            err_set(e, ERR_INVALID, f, "must be an array of %zu numbers, got %s", cols,
                    codec_json_type_name(row));
            goto fail;
        }
        if (codec_json_get_vector(row, f, cols, v + j * cols, e) != ERR_OK) goto fail;
    }
    json_decref(row);
    *rows_out = rows;
    *wv = v;
    return ERR_OK;
fail:
    json_decref(row);
    return e->code;
}

/* One layer; n_linear = linear layers before it (0: its rows must match
 * the network's input). */
static err_code decode_layer(const json_t *l, const char *field, size_t n_linear, net_ctx *c,
                             mlp_layer *out, err *e)
{
    static const char *const keys[] = {"weight", "bias", "activation", NULL};
    char f[ERR_FIELD_MAX];
    if (codec_json_keys_check(l, field, keys, e) != ERR_OK) return ERR_INVALID;
    const json_t *w = json_object_get(l, "weight"), *b = json_object_get(l, "bias"),
                 *a = json_object_get(l, "activation");
    memset(out, 0, sizeof *out);
    out->act = ACT_IDENTITY;
    if (a) {
        const char *name;
        if (codec_json_get_string(a, F(f, field, "activation"), &name, e) != ERR_OK)
            return ERR_INVALID;
        err ae;
        err_clear(&ae);
        if (act_from_name(name, &out->act, &ae) != ERR_OK)
            return err_set(e, ERR_INVALID, f, "%s", ae.message);
    }
    if (!w) {
        if (b) return err_set(e, ERR_INVALID, F(f, field, "bias"), "a bias needs a weight");
        if (!a)
            return err_set(e, ERR_INVALID, field,
                           "a layer needs a weight and a bias (linear), or an activation alone "
                           "(elementwise)");
        out->kind = MLP_ELEMENTWISE;
        out->in = out->out = c->width;
        return ERR_OK;
    }
    if (!b) return missing(F(f, field, "bias"), "one value per weight row (zeros for none)", e);
    size_t rows = 0;
    double *wv = NULL;
    if (decode_weight(w, F(f, field, "weight"), c, n_linear == 0, &rows, &wv, e) != ERR_OK)
        return e->code;
    if (codec_json_get_vector(b, F(f, field, "bias"), rows, wv + rows * c->width, e) != ERR_OK)
        return ERR_INVALID;
    out->kind = MLP_LINEAR;
    out->in = c->width;
    out->out = rows;
    c->width = rows;
    return ERR_OK;
}

/* One network object. want_out = 0 accepts any output width. ode: time_input
 * is allowed and the input is described as in_name (NULL: an ode's
 * "state_dim + augment_dim"). */
static err_code decode_net_named(const json_t *v, const char *field, size_t in_dim, bool ode,
                                 const char *in_name, size_t want_out, const char *want_what,
                                 pvec *params, model_net *net, err *e)
{
    static const char *const ode_keys[] = {"time_input", "layers", NULL};
    static const char *const cde_keys[] = {"layers", NULL};
    char f[ERR_FIELD_MAX], input[96];
    if (!v) return missing(field, "an object with \"layers\"", e);
    if (codec_json_keys_check(v, field, ode ? ode_keys : cde_keys, e) != ERR_OK) return ERR_INVALID;
    memset(net, 0, sizeof *net);
    net->in_dim = in_dim;
    const json_t *ti = json_object_get(v, "time_input");
    if (ti && codec_json_get_bool(ti, F(f, field, "time_input"), &net->time_input, e) != ERR_OK)
        return ERR_INVALID;
    const json_t *layers = json_object_get(v, "layers");
    F(f, field, "layers");
    if (!layers) return missing(f, "the list of layers", e);
    if (!json_is_array(layers) || json_array_size(layers) == 0 ||
        json_array_size(layers) > MLP_MAX_LAYERS)
        return err_set(e, ERR_INVALID, f, "must be an array of 1 to %d layers, got %s",
                       MLP_MAX_LAYERS,
                       json_is_array(layers) ? "the wrong count" : codec_json_type_name(layers));
    if (ode || in_name)
        snprintf(input, sizeof input, "%s = %zu%s", in_name ? in_name : "state_dim + augment_dim",
                 in_dim, net->time_input ? ", plus time" : "");
    else
        snprintf(input, sizeof input, "%zu", in_dim);
    net_ctx c = {field, input, in_dim + (net->time_input ? 1 : 0), params};
    size_t linear = 0;
    for (size_t i = 0; i < json_array_size(layers); i++) {
        char lf[ERR_FIELD_MAX];
        codec_json_field_index(lf, sizeof lf, f, i);
        if (decode_layer(json_array_get(layers, i), lf, linear, &c, &net->layers[i], e) != ERR_OK)
            return e->code;
        linear += net->layers[i].kind == MLP_LINEAR;
    }
    net->n_layers = json_array_size(layers);
    if (linear == 0) return err_set(e, ERR_INVALID, f, "needs at least one layer with a weight");
    if (want_out && c.width != want_out) {
        char lf[ERR_FIELD_MAX];
        codec_json_field_index(lf, sizeof lf, f, net->n_layers - 1);
        return err_set(e, ERR_INVALID, lf, "gives %zu outputs, expected %zu (%s)", c.width,
                       want_out, want_what);
    }
    return ERR_OK;
}

static err_code decode_net(const json_t *v, const char *field, size_t in_dim, bool ode,
                           size_t want_out, const char *want_what, pvec *params, model_net *net,
                           err *e)
{
    return decode_net_named(v, field, in_dim, ode, NULL, want_out, want_what, params, net, e);
}

/* ---- documents ---- */

static err_code decode_common(const json_t *doc, model_def *d, err *e)
{
    const json_t *desc = json_object_get(doc, "description");
    if (desc) {
        const char *s;
        if (codec_json_get_string(desc, "description", &s, e) != ERR_OK) return ERR_INVALID;
        if (strlen(s) > MODEL_DESCRIPTION_MAX)
            return err_set(e, ERR_INVALID, "description", "longer than %d bytes",
                           MODEL_DESCRIPTION_MAX);
        if (!(d->description = strdup(s)))
            return err_set(e, ERR_NOMEM, NULL, "out of memory decoding the model");
    }
    const json_t *solver = json_object_get(doc, "solver");
    if (solver && codec_model_solver_decode(solver, "solver", &d->solver, e) != ERR_OK)
        return ERR_INVALID;
    return ERR_OK;
}

static err_code required_size(const json_t *doc, const char *key, size_t lo, size_t *out, err *e)
{
    const json_t *v = json_object_get(doc, key);
    if (!v) return missing(key, "a positive integer", e);
    return codec_json_get_size(v, key, lo, MLP_MAX_WIDTH, out, e);
}

static err_code decode_ode(const json_t *doc, model_def *d, pvec *p, err *e)
{
    static const char *const keys[] = {"kind",         "description", "state_dim", "augment_dim",
                                       "vector_field", "solver",      NULL};
    if (codec_json_keys_check(doc, "", keys, e) != ERR_OK) return ERR_INVALID;
    if (required_size(doc, "state_dim", 1, &d->state_dim, e) != ERR_OK) return ERR_INVALID;
    const json_t *aug = json_object_get(doc, "augment_dim");
    if (aug &&
        codec_json_get_size(aug, "augment_dim", 0, MLP_MAX_WIDTH, &d->augment_dim, e) != ERR_OK)
        return ERR_INVALID;
    if (decode_common(doc, d, e) != ERR_OK) return e->code;
    size_t dim = d->state_dim + d->augment_dim;
    d->n_nets = 1;
    return decode_net(json_object_get(doc, "vector_field"), "vector_field", dim, true, dim,
                      "state_dim + augment_dim", p, &d->nets[MODEL_NET_ODE_FIELD], e);
}

static err_code decode_channels(const json_t *v, model_def *d, err *e)
{
    static const char *const keys[] = {"time", "intensity", NULL};
    if (!v) return ERR_OK;
    if (codec_json_keys_check(v, "channels", keys, e) != ERR_OK) return ERR_INVALID;
    const json_t *t = json_object_get(v, "time"), *i = json_object_get(v, "intensity");
    if (t && codec_json_get_bool(t, "channels.time", &d->channel_time, e) != ERR_OK)
        return ERR_INVALID;
    if (i && codec_json_get_bool(i, "channels.intensity", &d->channel_intensity, e) != ERR_OK)
        return ERR_INVALID;
    return ERR_OK;
}

static err_code decode_cde(const json_t *doc, model_def *d, pvec *p, err *e)
{
    static const char *const keys[] = {
        "kind",    "description",  "input_channels", "hidden_dim", "channels", "interpolation",
        "initial", "vector_field", "readout",        "solver",     NULL};
    if (codec_json_keys_check(doc, "", keys, e) != ERR_OK) return ERR_INVALID;
    if (required_size(doc, "input_channels", 1, &d->input_channels, e) != ERR_OK ||
        required_size(doc, "hidden_dim", 1, &d->hidden_dim, e) != ERR_OK ||
        decode_channels(json_object_get(doc, "channels"), d, e) != ERR_OK)
        return ERR_INVALID;
    const json_t *interp = json_object_get(doc, "interpolation");
    const char *name;
    if (!interp)
        return missing("interpolation", "linear, rectilinear, natural_cubic or hermite_bdiff", e);
    if (codec_json_get_string(interp, "interpolation", &name, e) != ERR_OK) return ERR_INVALID;
    err ie;
    err_clear(&ie);
    if (model_interp_from_name(name, &d->interp, &ie) != ERR_OK)
        return err_set(e, ERR_INVALID, "interpolation", "%s", ie.message);
    if (d->interp == MODEL_INTERP_RECTILINEAR && !d->channel_time) /* docs/cde.md, as torchcde */
        return err_set(e, ERR_INVALID, "channels.time",
                       "rectilinear interpolation needs the time channel: set channels.time");
    if (decode_common(doc, d, e) != ERR_OK) return e->code;
    size_t h = d->hidden_dim, c = d->input_channels;
    d->n_nets = 3;
    if (decode_net(json_object_get(doc, "initial"), "initial", c, false, h, "hidden_dim", p,
                   &d->nets[MODEL_NET_CDE_INITIAL], e) != ERR_OK ||
        decode_net(json_object_get(doc, "vector_field"), "vector_field", h, false, h * c,
                   "hidden_dim x input_channels", p, &d->nets[MODEL_NET_CDE_FIELD], e) != ERR_OK ||
        decode_net(json_object_get(doc, "readout"), "readout", h, false, 0, NULL, p,
                   &d->nets[MODEL_NET_CDE_READOUT], e) != ERR_OK)
        return e->code;
    return ERR_OK;
}

/* An enum field named by one of its names (sde.h's name lookups). */
static err_code decode_name(const json_t *doc, const char *key, const char *expect,
                            int (*from_name)(const char *), int *out, err *e)
{
    const json_t *v = json_object_get(doc, key);
    const char *name;
    if (!v) return missing(key, expect, e);
    if (codec_json_get_string(v, key, &name, e) != ERR_OK) return ERR_INVALID;
    if ((*out = from_name(name)) < 0)
        return err_set(e, ERR_INVALID, key, "unknown %s \"%.40s\" (expected %s)", key, name,
                       expect);
    return ERR_OK;
}

static err_code decode_sde(const json_t *doc, model_def *d, pvec *p, err *e)
{
    static const char *const keys[] = {"kind",  "description", "state_dim", "calculus",
                                       "noise", "brownian_dim", "drift",    "diffusion",
                                       "solver", NULL};
    if (codec_json_keys_check(doc, "", keys, e) != ERR_OK) return ERR_INVALID;
    if (required_size(doc, "state_dim", 1, &d->state_dim, e) != ERR_OK ||
        decode_name(doc, "calculus", "\"ito\" or \"stratonovich\"", sde_calculus_from_name,
                    &d->sde_calculus, e) != ERR_OK ||
        decode_name(doc, "noise", "\"diagonal\", \"scalar\", \"additive\" or \"general\"",
                    sde_noise_from_name, &d->sde_noise, e) != ERR_OK)
        return ERR_INVALID;
    const json_t *bd = json_object_get(doc, "brownian_dim");
    if (d->sde_noise == SDE_NOISE_GENERAL) {
        if (required_size(doc, "brownian_dim", 1, &d->brownian_dim, e) != ERR_OK)
            return ERR_INVALID;
    } else if (bd) {
        return err_set(e, ERR_INVALID, "brownian_dim", "is for noise \"general\" only");
    }
    if (decode_common(doc, d, e) != ERR_OK) return e->code;
    const size_t n = d->state_dim;
    const bool general = d->sde_noise == SDE_NOISE_GENERAL;
    const bool additive = d->sde_noise == SDE_NOISE_ADDITIVE;
    d->n_nets = 2;
    if (decode_net_named(json_object_get(doc, "drift"), "drift", n, true, "state_dim", n,
                         "state_dim", p, &d->nets[MODEL_NET_SDE_DRIFT], e) != ERR_OK)
        return e->code;
    if (additive && json_object_get(json_object_get(doc, "diffusion"), "time_input"))
        return err_set(e, ERR_INVALID, "diffusion.time_input",
                       "with additive noise the diffusion network's one input is the time");
    return decode_net_named(json_object_get(doc, "diffusion"), "diffusion", additive ? 1 : n,
                            !additive, additive ? "the time" : "state_dim",
                            general ? n * d->brownian_dim : n,
                            general ? "state_dim x brownian_dim" : "state_dim", p,
                            &d->nets[MODEL_NET_SDE_DIFFUSION], e);
}

/* A hamiltonian (docs/structured.md): "dof", then exactly one of
 * "hamiltonian" (a network of [q; p]) or "potential" (of q) with exactly one
 * of "mass" (dof positive numbers, appended to the parameters) or "kinetic"
 * (a network of p). Every network ends in one output. */
static err_code decode_hamiltonian(const json_t *doc, model_def *d, pvec *p, err *e)
{
    static const char *const keys[] = {"kind",      "description", "dof",    "hamiltonian",
                                       "potential", "mass",        "kinetic", "solver",
                                       NULL};
    if (codec_json_keys_check(doc, "", keys, e) != ERR_OK) return ERR_INVALID;
    size_t n = 0;
    if (required_size(doc, "dof", 1, &n, e) != ERR_OK) return ERR_INVALID;
    if (2 * n >= MLP_MAX_WIDTH)
        return err_set(e, ERR_INVALID, "dof", "must be below %d", MLP_MAX_WIDTH / 2);
    d->state_dim = 2 * n;
    if (decode_common(doc, d, e) != ERR_OK) return e->code;
    const json_t *h = json_object_get(doc, "hamiltonian"), *v = json_object_get(doc, "potential"),
                 *m = json_object_get(doc, "mass"), *t = json_object_get(doc, "kinetic");
    if (h) {
        const char *extra = v ? "potential" : m ? "mass" : t ? "kinetic" : NULL;
        if (extra)
            return err_set(e, ERR_INVALID, extra,
                           "give either \"hamiltonian\" (a network of [q; p]) or \"potential\" "
                           "with \"mass\" or \"kinetic\", not both");
        d->ham_form = MODEL_HAM_GENERAL;
        d->n_nets = 1;
        return decode_net_named(h, "hamiltonian", 2 * n, false, "2 dof", 1, "the energy H", p,
                                &d->nets[MODEL_NET_HAM_H], e);
    }
    if (!v)
        return missing("hamiltonian",
                       "a network of [q; p] (\"hamiltonian\"), or \"potential\" with \"mass\" "
                       "or \"kinetic\" for a separable H",
                       e);
    if (!m == !t)
        return err_set(e, ERR_INVALID, m ? "kinetic" : "mass",
                       m ? "give \"mass\" or \"kinetic\", not both"
                         : "missing: a separable H needs \"mass\" (dof positive numbers) or "
                           "\"kinetic\" (a network of p)");
    d->ham_form = m ? MODEL_HAM_MASS : MODEL_HAM_KINETIC;
    d->n_nets = m ? 1 : 2;
    if (decode_net_named(v, "potential", n, false, "dof", 1, "the potential V", p,
                         &d->nets[MODEL_NET_HAM_V], e) != ERR_OK)
        return e->code;
    if (t)
        return decode_net_named(t, "kinetic", n, false, "dof", 1, "the kinetic energy T", p,
                                &d->nets[MODEL_NET_HAM_T], e);
    if (!json_is_array(m) || json_array_size(m) != n)
        return err_set(e, ERR_INVALID, "mass", "must be an array of dof = %zu positive numbers",
                       n);
    double *mv = pvec_add(p, n, e);
    if (!mv) return e->code;
    if (codec_json_get_vector(m, "mass", n, mv, e) != ERR_OK) return ERR_INVALID;
    for (size_t i = 0; i < n; i++)
        if (!(mv[i] > 0) || !isfinite(mv[i])) {
            char f[32];
            snprintf(f, sizeof f, "mass[%zu]", i);
            return err_set(e, ERR_INVALID, f, "must be a positive finite number, got %.17g",
                           mv[i]);
        }
    return ERR_OK;
}

/* A lagrangian (docs/structured.md): "dof" and "lagrangian", a network of
 * [q; dq/dt] with one output, L. */
static err_code decode_lagrangian(const json_t *doc, model_def *d, pvec *p, err *e)
{
    static const char *const keys[] = {"kind", "description", "dof", "lagrangian", "solver", NULL};
    if (codec_json_keys_check(doc, "", keys, e) != ERR_OK) return ERR_INVALID;
    size_t n = 0;
    if (required_size(doc, "dof", 1, &n, e) != ERR_OK) return ERR_INVALID;
    if (2 * n >= MLP_MAX_WIDTH)
        return err_set(e, ERR_INVALID, "dof", "must be below %d", MLP_MAX_WIDTH / 2);
    d->state_dim = 2 * n;
    if (decode_common(doc, d, e) != ERR_OK) return e->code;
    d->n_nets = 1;
    return decode_net_named(json_object_get(doc, "lagrangian"), "lagrangian", 2 * n, false,
                            "2 dof", 1, "the Lagrangian L", p, &d->nets[MODEL_NET_LAG_L], e);
}

/* A cnf's base: {"mean": [dim], "scale": [dim]} (docs/cnf.md). */
static err_code decode_cnf_base(const json_t *v, model_def *d, err *e)
{
    static const char *const keys[] = {"mean", "scale", NULL};
    if (codec_json_keys_check(v, "base", keys, e) != ERR_OK) return ERR_INVALID;
    const json_t *mean = json_object_get(v, "mean"), *scale = json_object_get(v, "scale");
    if (!mean) return missing("base.mean", "an array of dim numbers", e);
    if (!scale) return missing("base.scale", "an array of dim positive numbers", e);
    if (!(d->base_mean = malloc(d->state_dim * sizeof(double))) ||
        !(d->base_scale = malloc(d->state_dim * sizeof(double))))
        return err_set(e, ERR_NOMEM, NULL, "out of memory decoding the model");
    if (codec_json_get_vector(mean, "base.mean", d->state_dim, d->base_mean, e) != ERR_OK ||
        codec_json_get_vector(scale, "base.scale", d->state_dim, d->base_scale, e) != ERR_OK)
        return ERR_INVALID;
    return ERR_OK;
}

static err_code decode_cnf(const json_t *doc, model_def *d, pvec *p, err *e)
{
    static const char *const keys[] = {"kind", "description", "dim", "base", "vector_field",
                                       "solver", NULL};
    if (codec_json_keys_check(doc, "", keys, e) != ERR_OK) return ERR_INVALID;
    if (required_size(doc, "dim", 1, &d->state_dim, e) != ERR_OK) return ERR_INVALID;
    const json_t *base = json_object_get(doc, "base");
    if (base && decode_cnf_base(base, d, e) != ERR_OK) return e->code;
    if (decode_common(doc, d, e) != ERR_OK) return e->code;
    d->n_nets = 1;
    return decode_net_named(json_object_get(doc, "vector_field"), "vector_field", d->state_dim,
                            true, "dim", d->state_dim, "dim", p, &d->nets[MODEL_NET_CNF_FIELD], e);
}

/* A hybrid (docs/hybrid.md): codec_hybrid's fields, the optional network
 * (nn_0 .. nn_{k-1} are its k outputs), then the parameters' values after
 * its weights. */
static err_code decode_hybrid(const json_t *doc, model_def *d, pvec *p, err *e)
{
    static const char *const keys[] = {"kind",    "description", "state_dim", "state_names",
                                       "parameters", "equations", "network", "trainable",
                                       "bounds", "solver", NULL};
    if (codec_json_keys_check(doc, "", keys, e) != ERR_OK) return ERR_INVALID;
    double *values = NULL;
    err_code rc = codec_hybrid_decode(doc, d, &values, e);
    if (rc == ERR_OK) rc = decode_common(doc, d, e);
    const json_t *net = json_object_get(doc, "network");
    if (rc == ERR_OK && net) {
        d->n_nets = 1;
        rc = decode_net_named(net, "network", d->state_dim, true, "state_dim", 0, NULL, p,
                              &d->nets[MODEL_NET_HYBRID], e);
    }
    /* no pvec_add of nothing: with neither network nor parameters the
     * vector stays NULL, which validation refuses by name */
    if (rc == ERR_OK && d->hybrid->n_par) {
        double *at = pvec_add(p, d->hybrid->n_par, e);
        if (at) memcpy(at, values, d->hybrid->n_par * sizeof *at);
        else rc = e->code;
    }
    free(values);
    return rc;
}

err_code codec_model_decode(const json_t *doc, model_def *d, err *e)
{
    model_def_init(d);
    if (!json_is_object(doc))
        return err_set(e, ERR_INVALID, "", "a model document must be an object, got %s",
                       codec_json_type_name(doc));
    const json_t *k = json_object_get(doc, "kind");
    const char *kind;
    if (!k)
        return missing("kind",
                       "\"ode\", \"cde\", \"sde\", \"hamiltonian\", \"lagrangian\", \"cnf\" or "
                       "\"hybrid\"", e);
    if (codec_json_get_string(k, "kind", &kind, e) != ERR_OK) return ERR_INVALID;
    err ke;
    err_clear(&ke);
    if (model_kind_from_name(kind, &d->kind, &ke) != ERR_OK)
        return err_set(e, ERR_INVALID, "kind", "%s", ke.message);
    pvec p = {0};
    err_code rc = d->kind == MODEL_KIND_ODE   ? decode_ode(doc, d, &p, e)
                  : d->kind == MODEL_KIND_SDE ? decode_sde(doc, d, &p, e)
                  : d->kind == MODEL_KIND_HAMILTONIAN ? decode_hamiltonian(doc, d, &p, e)
                  : d->kind == MODEL_KIND_CNF ? decode_cnf(doc, d, &p, e)
                  : d->kind == MODEL_KIND_LAGRANGIAN ? decode_lagrangian(doc, d, &p, e)
                  : d->kind == MODEL_KIND_HYBRID ? decode_hybrid(doc, d, &p, e)
                                              : decode_cde(doc, d, &p, e);
    d->params = p.v;
    d->n_params = p.n;
    if (rc == ERR_OK) rc = model_def_validate(d, e);
    if (rc != ERR_OK) model_def_free(d);
    return rc;
}

/* ---- encoding ---- */

static void encode_layers(const model_net *n, const double *p, jbuf *b)
{
    jbuf_lit(b, "\"layers\":[");
    for (size_t i = 0; i < n->n_layers; i++) {
        const mlp_layer *l = &n->layers[i];
        if (i) jbuf_lit(b, ",");
        if (l->kind == MLP_LINEAR) {
            jbuf_lit(b, "{\"weight\":[");
            for (size_t r = 0; r < l->out; r++) {
                jbuf_lit(b, r ? ",[" : "[");
                for (size_t c = 0; c < l->in; c++) {
                    if (c) jbuf_raw(b, ",", 1);
                    jbuf_double(b, *p++);
                }
                jbuf_lit(b, "]");
            }
            jbuf_lit(b, "],\"bias\":[");
            for (size_t r = 0; r < l->out; r++) {
                if (r) jbuf_raw(b, ",", 1);
                jbuf_double(b, *p++);
            }
            jbuf_lit(b, "],");
        } else {
            jbuf_lit(b, "{");
        }
        jbuf_lit(b, "\"activation\":");
        jbuf_str(b, act_name(l->act));
        jbuf_lit(b, "}");
    }
    jbuf_lit(b, "]");
}

static void encode_net(const model_def *d, size_t i, bool time_key, jbuf *b)
{
    const model_net *n = &d->nets[i];
    jbuf_lit(b, ",");
    jbuf_str(b, model_def_net_name(d, i));
    jbuf_lit(b, ":{");
    if (time_key) jbuf_lit(b, n->time_input ? "\"time_input\":true," : "\"time_input\":false,");
    encode_layers(n, d->params + model_def_net_offset(d, i), b);
    jbuf_lit(b, "}");
}

static void encode_key_double(jbuf *b, int *first, const char *key, double v)
{
    if (!(v > 0)) return;
    jbuf_lit(b, *first ? "" : ",");
    *first = 0;
    jbuf_str(b, key);
    jbuf_lit(b, ":");
    jbuf_double(b, v);
}

static void encode_solver(const model_solver *s, jbuf *b)
{
    int first = 1;
    jbuf_lit(b, ",\"solver\":{");
    if (s->method[0]) {
        jbuf_lit(b, "\"method\":");
        jbuf_str(b, s->method);
        first = 0;
    }
    encode_key_double(b, &first, "rtol", s->rtol);
    encode_key_double(b, &first, "atol", s->atol);
    if (s->max_steps > 0) {
        jbuf_lit(b, first ? "\"max_steps\":" : ",\"max_steps\":");
        jbuf_int(b, s->max_steps);
        first = 0;
    }
    encode_key_double(b, &first, "first_step", s->first_step);
    encode_key_double(b, &first, "min_step", s->min_step);
    encode_key_double(b, &first, "max_step", s->max_step);
    encode_key_double(b, &first, "step", s->step);
    jbuf_lit(b, "}");
}

static void encode_key_size(jbuf *b, const char *key, size_t v)
{
    jbuf_lit(b, ",");
    jbuf_str(b, key);
    jbuf_lit(b, ":");
    jbuf_int(b, (long long)v);
}

void codec_model_encode(const model_def *d, jbuf *b)
{
    jbuf_reserve(b, 64 + d->n_params * 24);
    jbuf_lit(b, "{\"kind\":");
    jbuf_str(b, model_kind_name(d->kind));
    if (d->kind == MODEL_KIND_ODE) {
        encode_key_size(b, "state_dim", d->state_dim);
        if (d->augment_dim) encode_key_size(b, "augment_dim", d->augment_dim);
    } else if (d->kind == MODEL_KIND_SDE) {
        encode_key_size(b, "state_dim", d->state_dim);
        jbuf_lit(b, ",\"calculus\":");
        jbuf_str(b, sde_calculus_name((sde_calculus)d->sde_calculus));
        jbuf_lit(b, ",\"noise\":");
        jbuf_str(b, sde_noise_name((sde_noise)d->sde_noise));
        if (d->sde_noise == SDE_NOISE_GENERAL) encode_key_size(b, "brownian_dim", d->brownian_dim);
    } else if (d->kind == MODEL_KIND_HYBRID) {
        codec_hybrid_encode_head(d, b);
    } else if (d->kind == MODEL_KIND_HAMILTONIAN || d->kind == MODEL_KIND_LAGRANGIAN) {
        encode_key_size(b, "dof", d->state_dim / 2);
    } else if (d->kind == MODEL_KIND_CNF) {
        encode_key_size(b, "dim", d->state_dim);
        if (d->base_mean) {
            jbuf_lit(b, ",\"base\":{\"mean\":[");
            for (size_t i = 0; i < d->state_dim; i++) {
                if (i) jbuf_raw(b, ",", 1);
                jbuf_double(b, d->base_mean[i]);
            }
            jbuf_lit(b, "],\"scale\":[");
            for (size_t i = 0; i < d->state_dim; i++) {
                if (i) jbuf_raw(b, ",", 1);
                jbuf_double(b, d->base_scale[i]);
            }
            jbuf_lit(b, "]}");
        }
    } else {
        encode_key_size(b, "input_channels", d->input_channels);
        encode_key_size(b, "hidden_dim", d->hidden_dim);
        jbuf_lit(b, d->channel_time ? ",\"channels\":{\"time\":true"
                                    : ",\"channels\":{\"time\":false");
        jbuf_lit(b, d->channel_intensity ? ",\"intensity\":true}" : ",\"intensity\":false}");
        jbuf_lit(b, ",\"interpolation\":");
        jbuf_str(b, model_interp_name(d->interp));
    }
    if (d->description) {
        jbuf_lit(b, ",\"description\":");
        jbuf_str(b, d->description);
    }
    for (size_t i = 0; i < d->n_nets; i++)
        encode_net(d, i,
                   d->kind == MODEL_KIND_ODE || d->kind == MODEL_KIND_CNF ||
                       d->kind == MODEL_KIND_HYBRID ||
                       (d->kind == MODEL_KIND_SDE &&
                        !(i == MODEL_NET_SDE_DIFFUSION && d->sde_noise == SDE_NOISE_ADDITIVE)),
                   b);
    const double *mass = model_def_ham_mass(d);
    if (mass) {
        jbuf_lit(b, ",\"mass\":");
        jbuf_vec(b, mass, d->state_dim / 2);
    }
    if (d->kind == MODEL_KIND_HYBRID) codec_hybrid_encode_tail(d, b);
    encode_solver(&d->solver, b);
    jbuf_lit(b, "}");
}

/* ---- files ---- */

static char *read_all(const char *path, size_t *len, err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_set(e, ERR_IO, NULL, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    jbuf b;
    jbuf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        jbuf_raw(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        jbuf_free(&b);
        err_set(e, ERR_IO, NULL, "%s: read error", path);
        return NULL;
    }
    char *text = jbuf_take(&b, len);
    if (!text) err_set(e, ERR_NOMEM, NULL, "%s: out of memory", path);
    return text;
}

err_code codec_model_file_load(const char *path, model_def *d, err *e)
{
    model_def_init(d);
    size_t len = 0;
    char *text = read_all(path, &len, e);
    if (!text) return e ? e->code : ERR_IO;
    json_t *doc = NULL;
    err le;
    err_clear(&le);
    if (codec_parse_packed(text, len, codec_model_pack_keys, CODEC_PARSE_PACK_MIN, &doc, &le) ==
        ERR_OK)
        codec_model_decode(doc, d, &le);
    json_decref(doc);
    free(text);
    if (le.code != ERR_OK)
        return err_set(e, le.code, le.field, "%s: %s%s%s", path, le.field[0] ? le.field : "",
                       le.field[0] ? ": " : "", le.message);
    return ERR_OK;
}

/* ---- the solver list ----------------------------------------------------- */

static const char *kind_name(int kind)
{
    switch (kind) {
    case RK_ROSENBROCK: return "rosenbrock";
    case RK_ESDIRK: return "esdirk";
    case RK_AUTO: return "auto";
    default: return "explicit";
    }
}

json_t *codec_solvers_list(void)
{
    size_t n;
    const struct rk_tableau *const *all = rk_tableau_all(&n);
    json_t *list = json_array();
    if (!list) return NULL;
    for (size_t i = 0; i < n; i++) {
        const struct rk_tableau *t = all[i];
        const int adaptive = rk_tableau_adaptive(t);
        json_t *o = json_pack("{s:s, s:s, s:i, s:o, s:s, s:i}", "name", t->name, "kind",
                              kind_name(t->kind), "order", t->order, "embedded_order",
                              adaptive ? json_integer(t->err_order) : json_null(), "stepping",
                              adaptive ? "adaptive" : "fixed", "dense_order", t->dense_order);
        if (o && t->kind == RK_AUTO)
            json_object_set_new(o, "runs", json_pack("[s, s]", rk_dopri5.name, rk_rodas4.name));
        if (!o || json_array_append_new(list, o)) {
            json_decref(list);
            return NULL;
        }
    }
    /* The symplectic methods (num/symplectic.h): fixed step, hamiltonian
     * models only; an explicit splitting needs a separable H. Off-grid
     * output times get an extra step, not an interpolant: no dense order. */
    for (size_t i = 0; symp_method_names[i]; i++) {
        const struct symp_method *m = symp_method_find(symp_method_names[i]);
        const int split = symp_method_explicit(m);
        json_t *o = json_pack("{s:s, s:s, s:i, s:n, s:s, s:n, s:[s], s:b}", "name", m->name,
                              "kind", split ? "splitting" : "gauss", "order",
                              symp_method_order(m), "embedded_order", "stepping", "fixed",
                              "dense_order", "models", "hamiltonian", "separable_only", split);
        if (!o || json_array_append_new(list, o)) {
            json_decref(list);
            return NULL;
        }
    }
    return json_pack("{s:o}", "solvers", list);
}
