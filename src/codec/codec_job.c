/* codec/codec_job.c: see codec_job.h. */
#include "codec/codec_job.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_hybrid.h"
#include "codec/codec_json.h"
#include "codec/codec_parse.h"
#include "model/model_name.h"
#include "num/sde.h"
#include "num/symplectic.h"
#include "num/tableau.h"

static err_code check_keys(json_t *o, const char *field, const char *const *allowed, err *e)
{
    if (!json_is_object(o)) return err_set(e, ERR_INVALID, field, "must be an object");
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], k) != 0)
            i++;
        if (!allowed[i]) {
            char f[ERR_FIELD_MAX];
            snprintf(f, sizeof f, "%s%s%.64s", field, *field ? "." : "", k);
            return err_set(e, ERR_INVALID, f, "unknown key");
        }
    }
    return ERR_OK;
}

static err_code get_num(json_t *o, const char *key, const char *parent, double lo, double hi,
                        double *out, err *e)
{
    json_t *v = json_object_get(o, key);
    if (!v) return ERR_OK;
    char f[ERR_FIELD_MAX];
    snprintf(f, sizeof f, "%s%s%s", parent, *parent ? "." : "", key);
    if (!json_is_number(v) || !(json_number_value(v) >= lo && json_number_value(v) <= hi))
        return err_set(e, ERR_INVALID, f, "must be a number in [%g, %g]", lo, hi);
    *out = json_number_value(v);
    return ERR_OK;
}

static err_code get_int(json_t *o, const char *key, const char *parent, double lo, double hi,
                        double *out, err *e)
{
    if (get_num(o, key, parent, lo, hi, out, e) != ERR_OK) return e->code;
    if (*out != floor(*out)) {
        char f[ERR_FIELD_MAX];
        snprintf(f, sizeof f, "%s%s%s", parent, *parent ? "." : "", key);
        return err_set(e, ERR_INVALID, f, "must be an integer");
    }
    return ERR_OK;
}

static err_code get_str(json_t *o, const char *key, const char *field, const char **out, err *e)
{
    json_t *v = json_object_get(o, key);
    if (!v) return ERR_OK;
    if (!json_is_string(v)) return err_set(e, ERR_INVALID, field, "must be a string");
    *out = json_string_value(v);
    return ERR_OK;
}

static err_code parse_act(json_t *l, const char *field, act_kind *act, err *e)
{
    const char *name = "identity";
    if (get_str(l, "activation", field, &name, e) != ERR_OK) return e->code;
    if (act_from_name(name, act, e) != ERR_OK) {
        err_prefix_field(e, field);
        return e->code;
    }
    return ERR_OK;
}

/* "layers": [{"activation": "cube"}, {"out": 50, "activation": "tanh"}, ...]
 * under `field` ("init" or "init.vector_field"). */
static err_code parse_layers(json_t *arr, const char *field, size_t in, model_net *net, err *e)
{
    static const char *const keys[] = {"out", "activation", NULL};
    char f[ERR_FIELD_MAX];
    snprintf(f, sizeof f, "%s.layers", field);
    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > MLP_MAX_LAYERS)
        return err_set(e, ERR_INVALID, f, "must be an array of 1 to %d layers", MLP_MAX_LAYERS);
    size_t width = in;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *l = json_array_get(arr, i);
        snprintf(f, sizeof f, "%s.layers[%zu]", field, i);
        mlp_layer *ly = &net->layers[net->n_layers++];
        if (check_keys(l, f, keys, e) != ERR_OK || parse_act(l, f, &ly->act, e) != ERR_OK)
            return e->code;
        double out = 0;
        if (get_int(l, "out", f, 1, 4096, &out, e) != ERR_OK) return e->code;
        if (out == 0) {
            ly->kind = MLP_ELEMENTWISE;
            ly->in = ly->out = 0;
        } else {
            ly->kind = MLP_LINEAR;
            ly->in = width;
            ly->out = (size_t)out;
            width = ly->out;
        }
    }
    return ERR_OK;
}

/* "hidden": [64, 64], "activation": "tanh": Linear layers of those widths
 * with that activation, then a Linear layer to `out` with `last`. */
static err_code parse_hidden(json_t *o, const char *field, size_t in, size_t out, act_kind last,
                             model_net *net, err *e)
{
    act_kind act = ACT_TANH;
    json_t *h = json_object_get(o, "hidden");
    char f[ERR_FIELD_MAX];
    snprintf(f, sizeof f, "%s.hidden", field);
    if (json_object_get(o, "activation") && parse_act(o, field, &act, e) != ERR_OK) return e->code;
    if (!json_is_array(h) || json_array_size(h) + 1 > MLP_MAX_LAYERS)
        return err_set(e, ERR_INVALID, f, "must be an array of layer widths");
    size_t width = in;
    for (size_t i = 0; i <= json_array_size(h); i++) {
        mlp_layer *ly = &net->layers[net->n_layers++];
        ly->kind = MLP_LINEAR;
        ly->in = width;
        if (i < json_array_size(h)) {
            json_t *v = json_array_get(h, i);
            double w = json_number_value(v);
            if (!json_is_number(v) || w < 1 || w > 4096 || w != floor(w)) {
                snprintf(f, sizeof f, "%s.hidden[%zu]", field, i);
                return err_set(e, ERR_INVALID, f, "must be an integer in [1, 4096]");
            }
            ly->out = (size_t)w;
            ly->act = act;
        } else {
            ly->out = out;
            ly->act = last;
        }
        width = ly->out;
    }
    return ERR_OK;
}

/* The layers of one network: `layers`, or the `hidden` shorthand ending in
 * a Linear layer to `out` with activation `last` (out 0: the shorthand
 * takes the width from the object's "out", required). */
static err_code parse_net(json_t *o, const char *field, size_t in, size_t out, act_kind last,
                          model_net *net, err *e)
{
    json_t *layers = json_object_get(o, "layers"), *hidden = json_object_get(o, "hidden");
    char f[ERR_FIELD_MAX];
    net->in_dim = in;
    if (layers && hidden) {
        snprintf(f, sizeof f, "%s.hidden", field);
        return err_set(e, ERR_INVALID, f, "give either layers or hidden, not both");
    }
    if (layers) return parse_layers(layers, field, in, net, e);
    if (!hidden) {
        snprintf(f, sizeof f, "%s.layers", field);
        return err_set(e, ERR_INVALID, f, "give layers or hidden");
    }
    if (out == 0) {
        double w = 0;
        if (get_int(o, "out", field, 1, 4096, &w, e) != ERR_OK) return e->code;
        if (w == 0) {
            snprintf(f, sizeof f, "%s.out", field);
            return err_set(e, ERR_INVALID, f,
                           "required with hidden: the output width (classes for cross_entropy, "
                           "the label or data width for mse and l1)");
        }
        out = (size_t)w;
    }
    return parse_hidden(o, field, in, out, last, net, e);
}

/* Refuse an init whose networks would hold more than JOB_SPEC_MAX_PARAMS
 * parameters, before anything is allocated for them. */
static err_code params_cap(size_t n, err *e)
{
    if (n <= JOB_SPEC_MAX_PARAMS) return ERR_OK;
    return err_set(e, ERR_TOO_LARGE, "init",
                   "the networks would have %zu parameters; a job's init may have at most %zu "
                   "(fewer or narrower layers)",
                   n, JOB_SPEC_MAX_PARAMS);
}

static err_code nets_params_cap(const model_def *d, err *e)
{
    size_t total = 0, n;
    for (size_t i = 0; i < d->n_nets; i++) {
        if (model_net_n_params(&d->nets[i], &n, NULL) != ERR_OK) return ERR_OK; /* said later */
        total += n;
    }
    return params_cap(total, e);
}

static err_code parse_scheme(json_t *init, struct init_config *c, err *e)
{
    static const char *const keys[] = {"name", "std", NULL};
    json_t *s = json_object_get(init, "scheme");
    c->scheme = INIT_PYTORCH;
    c->std = 0;
    if (!s) return ERR_OK;
    if (json_is_string(s)) {
        /* the short form names a scheme without parameters: "normal" has a
         * std, and init_net_params would blame a field the request lacks */
        if (init_scheme_from_name(json_string_value(s), &c->scheme, e) != ERR_OK) {
            err_prefix_field(e, "init.scheme");
            return e->code;
        }
        if (c->scheme == INIT_NORMAL)
            return err_set(e, ERR_INVALID, "init.scheme",
                           "the normal scheme needs a std: {\"name\": \"normal\", \"std\": s}");
        return ERR_OK;
    }
    const char *name = "pytorch";
    if (check_keys(s, "init.scheme", keys, e) != ERR_OK ||
        get_str(s, "name", "init.scheme.name", &name, e) != ERR_OK)
        return e->code;
    if (init_scheme_from_name(name, &c->scheme, e) != ERR_OK) {
        err_prefix_field(e, "init.scheme.name");
        return e->code;
    }
    if (get_num(s, "std", "init.scheme", 1e-12, 1e6, &c->std, e) != ERR_OK) return e->code;
    if (c->scheme == INIT_NORMAL && c->std == 0)
        return err_set(e, ERR_INVALID, "init.scheme.std", "the normal scheme needs a std > 0");
    return ERR_OK;
}

static err_code parse_init_ode(json_t *init, model_def *d, err *e)
{
    static const char *const keys[] = {"kind",   "state_dim",  "augment_dim", "layers",
                                       "hidden", "activation", "scheme",      NULL};
    if (check_keys(init, "init", keys, e) != ERR_OK) return e->code;
    double sd = 0, aug = 0;
    if (get_int(init, "state_dim", "init", 1, 4096, &sd, e) != ERR_OK ||
        get_int(init, "augment_dim", "init", 0, 4096, &aug, e) != ERR_OK)
        return e->code;
    if (sd == 0) return err_set(e, ERR_INVALID, "init.state_dim", "is required");
    d->kind = MODEL_KIND_ODE;
    d->state_dim = (size_t)sd;
    d->augment_dim = (size_t)aug;
    d->n_nets = 1;
    size_t dim = d->state_dim + d->augment_dim;
    return parse_net(init, "init", dim, dim, ACT_IDENTITY, &d->nets[0], e);
}

static err_code parse_channels(json_t *o, model_def *d, err *e)
{
    static const char *const keys[] = {"time", "intensity", NULL};
    if (!o) return ERR_OK;
    if (check_keys(o, "init.channels", keys, e) != ERR_OK) return e->code;
    json_t *t = json_object_get(o, "time"), *i = json_object_get(o, "intensity");
    if (t && !json_is_boolean(t))
        return err_set(e, ERR_INVALID, "init.channels.time", "must be true or false");
    if (i && !json_is_boolean(i))
        return err_set(e, ERR_INVALID, "init.channels.intensity", "must be true or false");
    d->channel_time = t && json_is_true(t);
    d->channel_intensity = i && json_is_true(i);
    return ERR_OK;
}

/* The three networks of a cde: initial (C -> H), vector_field (H -> H*C,
 * the shorthand ending in tanh as torchcde's examples do), readout (H ->
 * out). A missing initial is one Linear layer. */
static err_code parse_cde_nets(json_t *init, model_def *d, err *e)
{
    static const char *const keys[] = {"layers", "hidden", "activation", "out", NULL};
    static const char *const names[] = {"initial", "vector_field", "readout"};
    const size_t h = d->hidden_dim, c = d->input_channels;
    const size_t in[3] = {c, h, h}, out[3] = {h, h * c, 0};
    const act_kind last[3] = {ACT_IDENTITY, ACT_TANH, ACT_IDENTITY};
    json_t *one_linear = json_pack("{s:[]}", "hidden");
    err_code rc = one_linear ? ERR_OK : err_set(e, ERR_NOMEM, NULL, "out of memory");
    for (size_t i = 0; rc == ERR_OK && i < 3; i++) {
        char f[64];
        snprintf(f, sizeof f, "init.%s", names[i]);
        json_t *o = json_object_get(init, names[i]);
        if (!o && i == MODEL_NET_CDE_INITIAL) o = one_linear;
        if (!o) {
            rc =
                err_set(e, ERR_INVALID, f, "required: {\"layers\": [...]} or {\"hidden\": [...]%s}",
                        i == MODEL_NET_CDE_READOUT ? ", \"out\": n" : "");
            break;
        }
        if (check_keys(o, f, keys, e) != ERR_OK ||
            (i != MODEL_NET_CDE_READOUT && json_object_get(o, "out") &&
             err_set(e, ERR_INVALID, f, "\"out\" is fixed for this network (%zu)", out[i])) ||
            parse_net(o, f, in[i], out[i], last[i], &d->nets[i], e) != ERR_OK)
            rc = e->code;
    }
    json_decref(one_linear);
    return rc;
}

static err_code parse_init_cde(json_t *init, model_def *d, err *e)
{
    static const char *const keys[] = {
        "kind",    "input_channels", "hidden_dim", "channels", "interpolation",
        "initial", "vector_field",   "readout",    "scheme",   NULL};
    if (check_keys(init, "init", keys, e) != ERR_OK) return e->code;
    double c = 0, h = 0;
    const char *name = NULL;
    if (get_int(init, "input_channels", "init", 1, 1024, &c, e) != ERR_OK ||
        get_int(init, "hidden_dim", "init", 1, 4096, &h, e) != ERR_OK ||
        parse_channels(json_object_get(init, "channels"), d, e) != ERR_OK ||
        get_str(init, "interpolation", "init.interpolation", &name, e) != ERR_OK)
        return e->code;
    if (c == 0) return err_set(e, ERR_INVALID, "init.input_channels", "is required");
    if (h == 0) return err_set(e, ERR_INVALID, "init.hidden_dim", "is required");
    d->kind = MODEL_KIND_CDE;
    d->input_channels = (size_t)c;
    d->hidden_dim = (size_t)h;
    d->n_nets = 3;
    size_t data = d->input_channels - (d->channel_time ? 1 : 0);
    if (d->input_channels <= (d->channel_time ? 1u : 0u) ||
        (d->channel_intensity && (data % 2 != 0 || data < 2)))
        return err_set(
            e, ERR_INVALID, "init.input_channels", "must be %s d%s for d >= 1 data channels",
            d->channel_time ? "1 (time) +" : "", d->channel_intensity ? " + d (intensity)" : "");
    if (!name)
        return err_set(e, ERR_INVALID, "init.interpolation",
                       "required: linear, rectilinear, natural_cubic or hermite_bdiff");
    if (model_interp_from_name(name, &d->interp, e) != ERR_OK) {
        err_prefix_field(e, "init.interpolation");
        return e->code;
    }
    if (d->interp == MODEL_INTERP_RECTILINEAR && !d->channel_time)
        return err_set(e, ERR_INVALID, "init.channels.time",
                       "rectilinear interpolation needs the time channel");
    return parse_cde_nets(init, d, e);
}

/* An sde network: `layers` or `hidden` (the shorthand ending in a Linear
 * layer to `out` without activation), and time_input where allowed. */
static err_code parse_sde_net(json_t *init, const char *name, size_t in, bool allow_time,
                              size_t out, model_net *net, err *e)
{
    static const char *const keys[] = {"layers", "hidden", "activation", "time_input", NULL};
    char f[64];
    snprintf(f, sizeof f, "init.%s", name);
    json_t *o = json_object_get(init, name);
    if (!o)
        return err_set(e, ERR_INVALID, f, "required: {\"layers\": [...]} or {\"hidden\": [...]}");
    if (!allow_time && json_object_get(o, "constant")) return ERR_OK; /* parse_sde_constant */
    if (check_keys(o, f, keys, e) != ERR_OK) return e->code;
    json_t *ti = json_object_get(o, "time_input");
    snprintf(f, sizeof f, "init.%s.time_input", name);
    if (ti && !json_is_boolean(ti)) return err_set(e, ERR_INVALID, f, "must be true or false");
    if (ti && json_is_true(ti) && !allow_time)
        return err_set(e, ERR_INVALID, f,
                       "with additive noise the diffusion network's one input is the time");
    const bool time_input = ti && json_is_true(ti);
    snprintf(f, sizeof f, "init.%s", name);
    if (parse_net(o, f, in + (time_input ? 1 : 0), out, ACT_IDENTITY, net, e) != ERR_OK)
        return e->code;
    net->in_dim = in;
    net->time_input = time_input;
    return ERR_OK;
}

/* Additive noise's "diffusion": {"constant": true}: one Linear layer from
 * the time whose weight starts at zero and stays there (the trainer holds
 * it, job_spec.h's sde_constant_diffusion), so g is its bias alone. */
static err_code parse_sde_constant(json_t *init, job_spec *s, err *e)
{
    static const char *const keys[] = {"constant", NULL};
    model_def *d = &s->init_def;
    json_t *o = json_object_get(init, "diffusion"), *c = json_object_get(o, "constant");
    if (!c) return ERR_OK;
    if (d->sde_noise != SDE_NOISE_ADDITIVE)
        return err_set(e, ERR_INVALID, "init.diffusion.constant",
                       "a constant diffusion is for noise \"additive\"");
    if (check_keys(o, "init.diffusion", keys, e) != ERR_OK) return e->code;
    if (!json_is_true(c))
        return err_set(e, ERR_INVALID, "init.diffusion.constant",
                       "true, or leave it out and give layers or hidden");
    model_net *g = &d->nets[MODEL_NET_SDE_DIFFUSION];
    g->in_dim = 1;
    g->time_input = false;
    g->n_layers = 1;
    g->layers[0] =
        (mlp_layer){.kind = MLP_LINEAR, .in = 1, .out = d->state_dim, .act = ACT_IDENTITY};
    s->sde_constant_diffusion = true;
    return ERR_OK;
}

/* dh = f(h, t) dt + g(h, t) dW (docs/sde.md): calculus (default ito),
 * noise (default diagonal), brownian_dim for general noise. */
static err_code parse_init_sde(json_t *init, model_def *d, err *e)
{
    static const char *const keys[] = {"kind",  "state_dim", "calculus", "noise", "brownian_dim",
                                       "drift", "diffusion", "scheme",   NULL};
    if (check_keys(init, "init", keys, e) != ERR_OK) return e->code;
    double sd = 0, bd = 0;
    const char *calc = "ito", *noise = "diagonal";
    if (get_int(init, "state_dim", "init", 1, 4096, &sd, e) != ERR_OK ||
        get_int(init, "brownian_dim", "init", 1, 4096, &bd, e) != ERR_OK ||
        get_str(init, "calculus", "init.calculus", &calc, e) != ERR_OK ||
        get_str(init, "noise", "init.noise", &noise, e) != ERR_OK)
        return e->code;
    if (sd == 0) return err_set(e, ERR_INVALID, "init.state_dim", "is required");
    if ((d->sde_calculus = sde_calculus_from_name(calc)) < 0)
        return err_set(e, ERR_INVALID, "init.calculus", "must be \"ito\" or \"stratonovich\"");
    if ((d->sde_noise = sde_noise_from_name(noise)) < 0)
        return err_set(e, ERR_INVALID, "init.noise",
                       "must be \"diagonal\", \"scalar\", \"additive\" or \"general\"");
    const bool general = d->sde_noise == SDE_NOISE_GENERAL;
    const bool additive = d->sde_noise == SDE_NOISE_ADDITIVE;
    if (general && bd == 0)
        return err_set(e, ERR_INVALID, "init.brownian_dim", "required with noise \"general\"");
    if (!general && bd != 0)
        return err_set(e, ERR_INVALID, "init.brownian_dim", "is for noise \"general\" only");
    d->kind = MODEL_KIND_SDE;
    d->state_dim = (size_t)sd;
    d->brownian_dim = (size_t)bd;
    d->n_nets = 2;
    const size_t n = d->state_dim;
    if (parse_sde_net(init, "drift", n, true, n, &d->nets[MODEL_NET_SDE_DRIFT], e) != ERR_OK)
        return e->code;
    return parse_sde_net(init, "diffusion", additive ? 1 : n, !additive,
                         general ? n * d->brownian_dim : n, &d->nets[MODEL_NET_SDE_DIFFUSION], e);
}

/* A cnf's base N(mean, diag(scale)^2): both arrays of dim numbers. */
static err_code parse_cnf_base(json_t *b, model_def *d, err *e)
{
    static const char *const keys[] = {"mean", "scale", NULL};
    if (!b) return ERR_OK;
    if (check_keys(b, "init.base", keys, e) != ERR_OK) return e->code;
    json_t *m = json_object_get(b, "mean"), *sc = json_object_get(b, "scale");
    if (!m || !sc)
        return err_set(e, ERR_INVALID, m ? "init.base.scale" : "init.base.mean",
                       "required: base gives both mean and scale (%zu numbers each)", d->state_dim);
    d->base_mean = calloc(d->state_dim, sizeof(double));
    d->base_scale = calloc(d->state_dim, sizeof(double));
    if (!d->base_mean || !d->base_scale) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    if (codec_json_get_vector(m, "init.base.mean", d->state_dim, d->base_mean, e) ||
        codec_json_get_vector(sc, "init.base.scale", d->state_dim, d->base_scale, e))
        return e->code;
    return ERR_OK;
}

/* dz/dt = f(z, t), t appended as the field's last input (docs/cnf.md). */
static err_code parse_init_cnf(json_t *init, model_def *d, err *e)
{
    static const char *const keys[] = {"kind", "dim", "vector_field", "base", "scheme", NULL};
    static const char *const net_keys[] = {"layers", "hidden", "activation", NULL};
    if (check_keys(init, "init", keys, e) != ERR_OK) return e->code;
    double dim = 0;
    if (get_int(init, "dim", "init", 1, 4096, &dim, e) != ERR_OK) return e->code;
    if (dim == 0) return err_set(e, ERR_INVALID, "init.dim", "is required");
    d->kind = MODEL_KIND_CNF;
    d->state_dim = (size_t)dim;
    d->n_nets = 1;
    json_t *f = json_object_get(init, "vector_field");
    if (!f)
        return err_set(e, ERR_INVALID, "init.vector_field",
                       "required: {\"layers\": [...]} or {\"hidden\": [...]}");
    if (check_keys(f, "init.vector_field", net_keys, e) != ERR_OK) return e->code;
    model_net *net = &d->nets[MODEL_NET_CNF_FIELD];
    if (parse_net(f, "init.vector_field", d->state_dim + 1, d->state_dim, ACT_IDENTITY, net, e))
        return e->code;
    net->in_dim = d->state_dim;
    net->time_input = true;
    return parse_cnf_base(json_object_get(init, "base"), d, e);
}

/* A scalar network of a hamiltonian: layers, or the hidden shorthand ending
 * in a Linear layer to 1 without activation. */
static err_code parse_ham_net(json_t *init, const char *name, size_t in, model_net *net, err *e)
{
    static const char *const keys[] = {"layers", "hidden", "activation", NULL};
    char f[64];
    snprintf(f, sizeof f, "init.%s", name);
    json_t *o = json_object_get(init, name);
    if (check_keys(o, f, keys, e) != ERR_OK) return e->code;
    return parse_net(o, f, in, 1, ACT_IDENTITY, net, e);
}

/* {"kind": "hamiltonian", "dof": n, "hamiltonian": net} or "potential": net
 * with "mass": [n positive numbers] or "kinetic": net (docs/structured.md).
 * The masses are the form's last parameters and are not trained. */
static err_code parse_init_ham(json_t *init, job_spec *s, err *e)
{
    static const char *const keys[] = {"kind", "dof",  "hamiltonian", "potential",
                                       "mass", "kinetic", "scheme",   NULL};
    model_def *d = &s->init_def;
    if (check_keys(init, "init", keys, e) != ERR_OK) return e->code;
    double dof = 0;
    if (get_int(init, "dof", "init", 1, 2048, &dof, e) != ERR_OK) return e->code;
    if (dof == 0) return err_set(e, ERR_INVALID, "init.dof", "is required");
    const size_t n = (size_t)dof;
    json_t *hv = json_object_get(init, "hamiltonian"), *pv = json_object_get(init, "potential"),
           *mv = json_object_get(init, "mass"), *kv = json_object_get(init, "kinetic");
    if (!hv == !pv)
        return err_set(e, ERR_INVALID, hv ? "init.potential" : "init.hamiltonian",
                       hv ? "give hamiltonian (a general H) or potential, not both"
                          : "required: hamiltonian (a network of [q; p]) or potential (V(q), "
                            "with mass or kinetic)");
    if (hv && (mv || kv))
        return err_set(e, ERR_INVALID, mv ? "init.mass" : "init.kinetic",
                       "is for the separable form (potential); a general H has no kinetic term");
    if (pv && !mv == !kv)
        return err_set(e, ERR_INVALID, mv ? "init.kinetic" : "init.mass",
                       mv ? "give mass or kinetic, not both"
                          : "required with potential: mass (n positive numbers) or kinetic (a "
                            "network of p)");
    d->kind = MODEL_KIND_HAMILTONIAN;
    d->state_dim = 2 * n;
    d->ham_form = hv ? MODEL_HAM_GENERAL : mv ? MODEL_HAM_MASS : MODEL_HAM_KINETIC;
    d->n_nets = d->ham_form == MODEL_HAM_KINETIC ? 2 : 1;
    if (parse_ham_net(init, hv ? "hamiltonian" : "potential", hv ? 2 * n : n,
                      &d->nets[MODEL_NET_HAM_H], e) ||
        (kv && parse_ham_net(init, "kinetic", n, &d->nets[MODEL_NET_HAM_T], e)) ||
        parse_scheme(init, &s->init_scheme, e))
        return e->code;
    size_t np = 0, k;
    for (size_t i = 0; i < d->n_nets; i++) {
        if (model_net_n_params(&d->nets[i], &k, e) != ERR_OK) return e->code;
        np += k;
    }
    d->n_params = np + (mv ? n : 0);
    if (params_cap(d->n_params, e) != ERR_OK) return e->code;
    d->params = calloc(d->n_params, sizeof *d->params);
    if (!d->params) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    if (mv && codec_json_get_vector(mv, "init.mass", n, d->params + np, e)) return e->code;
    rng r;
    rng_seed(&r, s->seed);
    for (size_t i = 0; i < d->n_nets; i++)
        if (init_net_params(&d->nets[i], &s->init_scheme, &r, d->params + model_def_net_offset(d, i),
                            e) != ERR_OK) {
            err_prefix_field(e, "init");
            return e->code;
        }
    if (model_def_validate(d, e) != ERR_OK) {
        err_prefix_field(e, "init");
        return e->code;
    }
    return ERR_OK;
}

/* {"kind": "lagrangian", "dof": n, "lagrangian": net}: a network
 * 2n -> 1 of [q; dq/dt] (docs/structured.md, "Training: lagrangian"). */
static err_code parse_init_lag(json_t *init, job_spec *s, err *e)
{
    static const char *const keys[] = {"kind", "dof", "lagrangian", "scheme", NULL};
    model_def *d = &s->init_def;
    if (check_keys(init, "init", keys, e) != ERR_OK) return e->code;
    double dof = 0;
    if (get_int(init, "dof", "init", 1, 2048, &dof, e) != ERR_OK) return e->code;
    if (dof == 0) return err_set(e, ERR_INVALID, "init.dof", "is required");
    if (!json_object_get(init, "lagrangian"))
        return err_set(e, ERR_INVALID, "init.lagrangian",
                       "required: a network of [q; dq/dt] to one output");
    const size_t n = (size_t)dof;
    d->kind = MODEL_KIND_LAGRANGIAN;
    d->state_dim = 2 * n;
    d->n_nets = 1;
    if (parse_ham_net(init, "lagrangian", 2 * n, &d->nets[MODEL_NET_LAG_L], e) ||
        parse_scheme(init, &s->init_scheme, e) ||
        model_net_n_params(&d->nets[MODEL_NET_LAG_L], &d->n_params, e) ||
        params_cap(d->n_params, e))
        return e->code;
    d->params = calloc(d->n_params, sizeof *d->params);
    if (!d->params) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    rng r;
    rng_seed(&r, s->seed);
    if (init_net_params(&d->nets[MODEL_NET_LAG_L], &s->init_scheme, &r, d->params, e) != ERR_OK ||
        model_def_validate(d, e) != ERR_OK) {
        err_prefix_field(e, "init");
        return e->code;
    }
    return ERR_OK;
}

/* {"kind": "hybrid", ...the model document's fields...} (docs/hybrid.md,
 * "Training"): the equations, parameters, trainable and bounds as a model
 * document has them; the optional network as layers without weights (or
 * the hidden shorthand with "out"), drawn by the scheme. */
static err_code parse_init_hybrid(json_t *init, job_spec *s, err *e)
{
    static const char *const keys[] = {"kind",      "state_dim", "state_names", "parameters",
                                       "equations", "network",   "trainable",   "bounds",
                                       "scheme",    NULL};
    static const char *const net_keys[] = {"layers", "hidden", "activation", "out", "time_input",
                                           NULL};
    model_def *d = &s->init_def;
    double *values = NULL;
    if (check_keys(init, "init", keys, e) != ERR_OK) return e->code;
    d->kind = MODEL_KIND_HYBRID;
    if (codec_hybrid_decode(init, d, &values, e) != ERR_OK) goto fail_prefix;
    json_t *net = json_object_get(init, "network");
    size_t n_net = 0;
    if (net) {
        json_t *ti = json_object_get(net, "time_input");
        if (check_keys(net, "init.network", net_keys, e) != ERR_OK) goto fail;
        if (ti && !json_is_boolean(ti)) {
            err_set(e, ERR_INVALID, "init.network.time_input", "must be true or false");
            goto fail;
        }
        model_net *mn = &d->nets[MODEL_NET_HYBRID];
        const bool t_in = ti && json_is_true(ti);
        d->n_nets = 1;
        if (parse_net(net, "init.network", d->state_dim + (t_in ? 1 : 0), 0, ACT_IDENTITY, mn,
                      e) != ERR_OK ||
            parse_scheme(init, &s->init_scheme, e) != ERR_OK ||
            model_net_n_params(mn, &n_net, e) != ERR_OK)
            goto fail;
        mn->in_dim = d->state_dim;
        mn->time_input = t_in;
    } else if (json_object_get(init, "scheme")) {
        err_set(e, ERR_INVALID, "init.scheme", "draws a network's weights; this init has none");
        goto fail;
    }
    d->n_params = n_net + d->hybrid->n_par;
    if (params_cap(d->n_params, e) != ERR_OK) goto fail;
    if (d->n_params == 0) {
        err_set(e, ERR_INVALID, "init.parameters",
                "nothing to train: give parameters (listed in trainable) or a network");
        goto fail;
    }
    d->params = calloc(d->n_params, sizeof *d->params);
    if (!d->params) {
        err_set(e, ERR_NOMEM, NULL, "out of memory");
        goto fail;
    }
    memcpy(d->params + n_net, values, d->hybrid->n_par * sizeof *values);
    rng r;
    rng_seed(&r, s->seed);
    if ((net && init_net_params(&d->nets[MODEL_NET_HYBRID], &s->init_scheme, &r, d->params, e)) ||
        model_def_validate(d, e) != ERR_OK)
        goto fail_prefix;
    free(values);
    return ERR_OK;
fail_prefix:
    err_prefix_field(e, "init");
fail:
    free(values);
    return e->code;
}

static err_code parse_init(json_t *init, job_spec *s, err *e)
{
    if (!json_is_object(init)) return err_set(e, ERR_INVALID, "init", "must be an object");
    const char *kind = "ode";
    if (get_str(init, "kind", "init.kind", &kind, e) != ERR_OK) return e->code;
    model_def *d = &s->init_def;
    if (strcmp(kind, "ode") == 0) {
        if (parse_init_ode(init, d, e) != ERR_OK) return e->code;
    } else if (strcmp(kind, "cde") == 0) {
        if (parse_init_cde(init, d, e) != ERR_OK) return e->code;
    } else if (strcmp(kind, "sde") == 0) {
        if (parse_init_sde(init, d, e) != ERR_OK) return e->code;
    } else if (strcmp(kind, "cnf") == 0) {
        if (parse_init_cnf(init, d, e) != ERR_OK) return e->code;
    } else if (strcmp(kind, "hamiltonian") == 0) {
        return parse_init_ham(init, s, e);
    } else if (strcmp(kind, "lagrangian") == 0) {
        return parse_init_lag(init, s, e);
    } else if (strcmp(kind, "hybrid") == 0) {
        return parse_init_hybrid(init, s, e);
    } else {
        return err_set(e, ERR_INVALID, "init.kind",
                       "must be \"ode\", \"cde\", \"hamiltonian\", \"lagrangian\", \"hybrid\", "
                       "\"sde\" or \"cnf\"");
    }
    if (d->kind == MODEL_KIND_SDE && parse_sde_constant(init, s, e) != ERR_OK) return e->code;
    if (parse_scheme(init, &s->init_scheme, e) != ERR_OK ||
        nets_params_cap(d, e) != ERR_OK)
        return e->code;
    rng r;
    rng_seed(&r, s->seed);
    if (init_model_params(d, &s->init_scheme, &r, e) != ERR_OK ||
        model_def_validate(d, e) != ERR_OK) {
        err_prefix_field(e, "init");
        return e->code;
    }
    if (s->sde_constant_diffusion) /* the weight on the time: zero, and held there */
        memset(d->params + model_def_net_offset(d, MODEL_NET_SDE_DIFFUSION), 0,
               d->state_dim * sizeof(double));
    return ERR_OK;
}

/* A cnf job's objective.loss, coupling and sigma_min (docs/cnf-training.md). */
static err_code parse_cfm(json_t *o, const char **loss, job_spec *s, err *e)
{
    const char *coupling = NULL;
    if (get_str(o, "coupling", "objective.coupling", &coupling, e) ||
        get_num(o, "sigma_min", "objective", 0, 1e3, &s->sigma_min, e))
        return e->code;
    s->cfm_keys = coupling || json_object_get(o, "sigma_min");
    if (coupling && strcmp(coupling, "ot") == 0)
        s->coupling = CFM_COUPLING_OT;
    else if (coupling && strcmp(coupling, "independent") == 0)
        s->coupling = CFM_COUPLING_INDEPENDENT;
    else if (coupling)
        return err_set(e, ERR_INVALID, "objective.coupling", "must be \"ot\" or \"independent\"");
    if (strcmp(*loss, "flow_matching") == 0) {
        s->cnf_objective = JOB_CNF_FLOW_MATCHING;
        *loss = "mse"; /* the regression's; loss stays the default */
    } else if (strcmp(*loss, "max_likelihood") == 0) {
        s->cnf_objective = JOB_CNF_MAX_LIKELIHOOD;
        *loss = "mse"; /* as flow_matching: loss stays the default */
    }
    return ERR_OK;
}

/* A max_likelihood job's trace, probes and noise (docs/cnf-training.md). */
static err_code parse_ml(json_t *o, job_spec *s, err *e)
{
    const char *trace = NULL, *noise = NULL;
    double probes = 0;
    if (get_str(o, "trace", "objective.trace", &trace, e) ||
        get_str(o, "noise", "objective.noise", &noise, e) ||
        get_int(o, "probes", "objective", 1, 1024, &probes, e))
        return e->code;
    s->ml_keys = trace || noise || json_object_get(o, "probes");
    s->ml_probes = probes ? (size_t)probes : 1;
    s->ml_trace_given = trace != NULL;
    if (trace && strcmp(trace, "exact") == 0)
        s->ml_trace = CNF_TRACE_EXACT;
    else if (trace && strcmp(trace, "hutchinson") == 0)
        s->ml_trace = CNF_TRACE_HUTCHINSON;
    else if (trace)
        return err_set(e, ERR_INVALID, "objective.trace", "must be \"exact\" or \"hutchinson\"");
    if (noise && strcmp(noise, "rademacher") == 0)
        s->ml_noise = CNF_NOISE_RADEMACHER;
    else if (noise && strcmp(noise, "gaussian") == 0)
        s->ml_noise = CNF_NOISE_GAUSSIAN;
    else if (noise)
        return err_set(e, ERR_INVALID, "objective.noise",
                       "must be \"rademacher\" or \"gaussian\"");
    if (s->ml_trace_given && s->ml_trace == CNF_TRACE_EXACT &&
        (noise || json_object_get(o, "probes")))
        return err_set(e, ERR_INVALID, noise ? "objective.noise" : "objective.probes",
                       "is for \"trace\": \"hutchinson\"");
    return ERR_OK;
}

/* The hnn, derivative and trajectory fits and objective.derivatives
 * (docs/training.md, "Objectives"). */
static err_code parse_fit(json_t *o, const char **loss, job_spec *s, err *e)
{
    static const char *const fits[] = {"hnn", "derivative", "trajectory", "lnn"};
    static const job_fit fit_of[] = {JOB_FIT_HNN, JOB_FIT_DERIVATIVE, JOB_FIT_TRAJECTORY,
                                     JOB_FIT_LNN};
    static const char *const rules[] = {"channels", "central_difference", "spline"};
    static const job_derivs rule_of[] = {JOB_DERIVS_CHANNELS, JOB_DERIVS_CENTRAL,
                                         JOB_DERIVS_SPLINE};
    const char *d = NULL;
    if (get_str(o, "derivatives", "objective.derivatives", &d, e)) return e->code;
    for (size_t i = 0; d && i < 3 && !s->derivs; i++)
        if (strcmp(d, rules[i]) == 0) s->derivs = rule_of[i];
    if (d && !s->derivs)
        return err_set(e, ERR_INVALID, "objective.derivatives",
                       "must be \"channels\", \"central_difference\" or \"spline\"");
    for (size_t i = 0; i < 4; i++)
        if (strcmp(*loss, fits[i]) == 0) {
            s->fit = fit_of[i];
            *loss = "mse"; /* every fit is a squared error; loss stays the default */
        }
    if (d && s->fit != JOB_FIT_HNN && s->fit != JOB_FIT_DERIVATIVE && s->fit != JOB_FIT_LNN &&
        s->fit != JOB_FIT_DEFAULT)
        return err_set(e, ERR_INVALID, "objective.derivatives",
                       "derivatives are for the hnn, lnn and derivative fits");
    return ERR_OK;
}

static err_code parse_objective(json_t *o, job_spec *s, err *e)
{
    static const char *const keys[] = {"loss",     "batch_size", "batch_time", "target",
                                       "coupling", "sigma_min",  "trace",      "probes",
                                       "noise",    "derivatives", NULL};
    if (!o) return ERR_OK;
    json_t *shorthand = NULL; /* "objective": "flow_matching" = {"loss": "flow_matching"} */
    if (json_is_string(o)) {
        shorthand = json_pack("{s:O}", "loss", o);
        if (!shorthand) return err_set(e, ERR_NOMEM, NULL, "out of memory");
        o = shorthand;
    }
    const char *loss = "mse", *target = NULL;
    double bs = 0, bt = 0;
    if (check_keys(o, "objective", keys, e) != ERR_OK ||
        get_str(o, "loss", "objective.loss", &loss, e) != ERR_OK ||
        get_str(o, "target", "objective.target", &target, e) != ERR_OK ||
        get_int(o, "batch_size", "objective", 1, 1e6, &bs, e) != ERR_OK ||
        get_int(o, "batch_time", "objective", 2, 1e6, &bt, e) != ERR_OK ||
        parse_cfm(o, &loss, s, e) != ERR_OK || parse_ml(o, s, e) != ERR_OK ||
        parse_fit(o, &loss, s, e) != ERR_OK) {
        json_decref(shorthand);
        return e->code;
    }
    json_decref(shorthand); /* "O" took a reference: loss is still the document's string */
    if (loss_from_name(loss, &s->loss, e) != ERR_OK) {
        err_prefix_field(e, "objective.loss");
        return e->code;
    }
    if (target && strcmp(target, "label") == 0)
        s->target = JOB_TARGET_LABEL;
    else if (target && strcmp(target, "series") == 0)
        s->target = JOB_TARGET_SERIES;
    else if (target)
        return err_set(e, ERR_INVALID, "objective.target", "must be \"label\" or \"series\"");
    if (target && s->loss == LOSS_CROSS_ENTROPY)
        return err_set(e, ERR_INVALID, "objective.target",
                       "cross_entropy always compares with the class label");
    s->batch_size = (size_t)bs;
    s->batch_time = (size_t)bt;
    return ERR_OK;
}

static err_code parse_optimizer(json_t *o, job_spec *s, err *e)
{
    static const char *const keys[] = {
        "name",  "lr",       "weight_decay", "clip_norm", "momentum", "dampening", "nesterov",
        "alpha", "centered", "beta1",        "beta2",     "eps",      NULL};
    const char *name = "adam";
    if (o && (check_keys(o, "optimizer", keys, e) != ERR_OK ||
              get_str(o, "name", "optimizer.name", &name, e) != ERR_OK))
        return e->code;
    optim_kind k;
    if (optim_kind_from_name(name, &k, e) != ERR_OK) {
        err_prefix_field(e, "optimizer.name");
        return e->code;
    }
    struct optim_config *c = &s->optim;
    optim_config_init(c, k);
    if (!o) return ERR_OK;
    if (get_num(o, "lr", "optimizer", 0, 1e6, &c->lr, e) ||
        get_num(o, "weight_decay", "optimizer", 0, 1e6, &c->weight_decay, e) ||
        get_num(o, "clip_norm", "optimizer", 0, 1e12, &s->clip_norm, e) ||
        get_num(o, "momentum", "optimizer", 0, 1, &c->momentum, e) ||
        get_num(o, "dampening", "optimizer", 0, 1, &c->dampening, e) ||
        get_num(o, "alpha", "optimizer", 0, 1, &c->alpha, e) ||
        get_num(o, "beta1", "optimizer", 0, 1, &c->beta1, e) ||
        get_num(o, "beta2", "optimizer", 0, 1, &c->beta2, e) ||
        get_num(o, "eps", "optimizer", 0, 1, &c->eps, e))
        return e->code;
    json_t *b = json_object_get(o, "nesterov");
    if (b) c->nesterov = json_is_true(b);
    b = json_object_get(o, "centered");
    if (b) c->centered = json_is_true(b);
    if (optim_config_validate(c, e) != ERR_OK) {
        err_prefix_field(e, "optimizer");
        return e->code;
    }
    return ERR_OK;
}

static err_code parse_solver(json_t *o, job_spec *s, err *e)
{
    static const char *const keys[] = {"method", "rtol", "atol", "max_steps", "step", NULL};
    snprintf(s->method, sizeof s->method, "dopri5");
    s->method_default = true;
    s->rtol = 1e-6;
    s->atol = 1e-8;
    if (!o) return ERR_OK;
    const char *m = NULL;
    double ms = 0;
    if (check_keys(o, "solver", keys, e) || get_str(o, "method", "solver.method", &m, e) ||
        get_num(o, "rtol", "solver", 1e-14, 1, &s->rtol, e) ||
        get_num(o, "atol", "solver", 1e-300, 1e6, &s->atol, e) ||
        get_int(o, "max_steps", "solver", 1, 1e9, &ms, e) ||
        get_num(o, "step", "solver", 0x1p-20, 1e6, &s->step, e))
        return e->code;
    s->max_steps = (long)ms;
    if (!m) return ERR_OK;
    s->method_default = false;
    /* an sde method: job_spec_kind_check holds it to sde models */
    if (sde_method_find(m) || symp_method_find(m)) {
        snprintf(s->method, sizeof s->method, "%s", m);
        return ERR_OK;
    }
    const struct rk_tableau *tab = rk_tableau_find(m);
    if (!tab || !rk_tableau_adaptive(tab) || strlen(m) >= sizeof s->method)
        return err_set(e, ERR_INVALID, "solver.method",
                       "unknown or fixed-step method \"%.32s\" (e.g. dopri5, tsit5, bosh3; "
                       "euler_maruyama for an sde)",
                       m);
    if (rk_tableau_implicit(tab) && s->gradient == GRAD_BACKPROP)
        return err_set(e, ERR_INVALID, "gradient",
                       "backprop runs each step's Runge-Kutta map backwards, and the implicit "
                       "method %s has none: use \"gradient\": \"adjoint\" (the default)",
                       m);
    snprintf(s->method, sizeof s->method, "%s", m);
    return ERR_OK;
}

static err_code parse_validation(json_t *o, job_spec *s, err *e)
{
    static const char *const keys[] = {"every", "holdout_fraction", NULL};
    if (!o) return ERR_OK;
    double every = 0;
    if (check_keys(o, "validation", keys, e) ||
        get_int(o, "every", "validation", 0, 1e9, &every, e) ||
        get_num(o, "holdout_fraction", "validation", 0, 0.9, &s->holdout_fraction, e))
        return e->code;
    s->val_every = (size_t)every;
    return ERR_OK;
}

static err_code parse_names(json_t *doc, job_spec *s, err *e)
{
    const char *model = NULL, *ds_name = NULL;
    if (get_str(doc, "model", "model", &model, e) ||
        get_str(doc, "dataset", "dataset", &ds_name, e))
        return e->code;
    if (!model || !model_name_ok(model))
        return err_set(e, ERR_INVALID, "model",
                       "required: a model name, 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-'");
    if (!ds_name || !model_name_ok(ds_name))
        return err_set(e, ERR_INVALID, "dataset", "required: the name of an uploaded dataset");
    snprintf(s->model, sizeof s->model, "%s", model);
    snprintf(s->dataset, sizeof s->dataset, "%s", ds_name);
    return ERR_OK;
}

static err_code parse_doc(json_t *doc, job_spec *s, err *e)
{
    static const char *const keys[] = {"model",      "init",      "from_version", "dataset",
                                       "validation", "objective", "optimizer",    "iterations",
                                       "gradient",   "solver",    "seed",         "threads",
                                       NULL};
    double it = 0, seed = 0, fv = 0, threads = 0;
    const char *grad = "adjoint";
    if (check_keys(doc, "", keys, e) || parse_names(doc, s, e) ||
        get_int(doc, "iterations", "", 1, 1e8, &it, e) ||
        get_int(doc, "seed", "", 0, 9007199254740991.0, &seed, e) ||
        get_int(doc, "from_version", "", 1, 1e9, &fv, e) ||
        get_int(doc, "threads", "", 1, JOB_SPEC_MAX_THREADS, &threads, e) ||
        get_str(doc, "gradient", "gradient", &grad, e))
        return e->code;
    s->gradient_default = !json_object_get(doc, "gradient");
    if (it == 0) return err_set(e, ERR_INVALID, "iterations", "required: a number >= 1");
    s->iterations = (long)it;
    s->seed = (uint64_t)seed;
    s->from_version = (int)fv;
    s->threads = (int)threads;
    if (grad_method_from_name(grad, &s->gradient, e) != ERR_OK) {
        err_prefix_field(e, "gradient");
        return e->code;
    }
    json_t *init = json_object_get(doc, "init");
    if (!init == !s->from_version)
        return err_set(e, ERR_INVALID, "init", "give either init (a new model) or from_version");
    if (init && parse_init(init, s, e) != ERR_OK) return e->code;
    if (parse_objective(json_object_get(doc, "objective"), s, e) ||
        parse_optimizer(json_object_get(doc, "optimizer"), s, e) ||
        parse_solver(json_object_get(doc, "solver"), s, e) ||
        parse_validation(json_object_get(doc, "validation"), s, e))
        return e->code;
    return s->init_def.kind ? job_spec_kind_check(s, s->init_def.kind, e) : ERR_OK;
}

err_code codec_job_decode(const char *text, size_t len, job_spec *s, err *e)
{
    job_spec_init(s);
    json_t *doc = NULL;
    /* the API's one parser: NaN, Infinity and overflowing numbers are 422
     * naming the field, as in every other body */
    if (codec_parse(text, len, &doc, e) != ERR_OK) return e->code;
    err_code rc = json_is_object(doc) ? parse_doc(doc, s, e)
                                      : err_set(e, ERR_INVALID, "", "the body must be an object");
    json_decref(doc);
    if (rc != ERR_OK) job_spec_free(s);
    return rc;
}
