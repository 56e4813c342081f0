/* model/model_rows.c: see model_rows.h. */
#include "model/model_rows.h"

#include "nn/act.h"
#include "num/sde.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Widths and dimensions a stored row may hold: what an MLP layer can be,
 * and a cde's vector field output (hidden_dim * input_channels). */
static const long long max_dim = (long long)MLP_MAX_WIDTH * MLP_MAX_WIDTH;

/* v when it is in [lo, hi], else -1 (lo >= 0, so -1, "not an integer",
 * stays -1). */
static long long in_range(long long v, long long lo, long long hi)
{
    return v < lo || v > hi ? -1 : v;
}

/* ---- checking ---- */

/* The fields of the other kind must be unset: the tables store a kind's
 * own fields only (the others read back as zero), so what is stored loads
 * back exactly. */
static err_code check_kind_fields(const model_def *def, err *e)
{
    const char *f = NULL;
    if (def->kind != MODEL_KIND_SDE && (def->sde_calculus || def->sde_noise || def->brownian_dim))
        f = def->brownian_dim ? "brownian_dim" : def->sde_noise ? "noise" : "calculus";
    else if (def->kind != MODEL_KIND_CDE && def->input_channels)
        f = "input_channels";
    else if (def->kind != MODEL_KIND_CDE && def->hidden_dim)
        f = "hidden_dim";
    else if (def->kind != MODEL_KIND_CDE && (def->channel_time || def->channel_intensity))
        f = "channels";
    else if (def->kind != MODEL_KIND_CDE && def->interp != MODEL_INTERP_LINEAR)
        f = "interpolation";
    else if (def->kind != MODEL_KIND_HAMILTONIAN && def->ham_form)
        f = "hamiltonian";
    else if (def->kind != MODEL_KIND_HYBRID && def->hybrid)
        f = "equations";
    else if ((def->kind == MODEL_KIND_SDE || def->kind == MODEL_KIND_HAMILTONIAN ||
              def->kind == MODEL_KIND_CNF || def->kind == MODEL_KIND_LAGRANGIAN ||
              def->kind == MODEL_KIND_HYBRID) &&
             def->augment_dim)
        f = "augment_dim";
    else if (def->kind == MODEL_KIND_CDE && def->state_dim)
        f = "state_dim";
    else if (def->kind == MODEL_KIND_CDE && def->augment_dim)
        f = "augment_dim";
    else if (def->kind != MODEL_KIND_CNF && (def->base_mean || def->base_scale))
        f = "base";
    if (!f) return ERR_OK;
    return err_set(e, ERR_INVALID, f, "is not a field of a%s %s model",
                   def->kind == MODEL_KIND_ODE ? "n" : "", model_kind_name(def->kind));
}

err_code model_rows_check(const model_def *def, err *e)
{
    if (strnlen(def->solver.method, MODEL_METHOD_MAX) == MODEL_METHOD_MAX)
        return err_set(e, ERR_INVALID, "solver.method", "longer than %d characters",
                       MODEL_METHOD_MAX - 1);
    err_code rc = model_def_validate(def, e);
    if (rc) return rc;
    return check_kind_fields(def, e);
}

/* ---- encoding ---- */

void model_rows_version_encode(const model_def *def, model_version_row *r)
{
    memset(r, 0, sizeof *r);
    r->kind = model_kind_name(def->kind);
    r->description = def->description;
    r->state_dim = r->augment_dim = -1;
    r->input_channels = r->hidden_dim = r->channel_time = r->channel_intensity = -1;
    r->brownian_dim = -1;
    if (def->kind == MODEL_KIND_ODE) {
        r->state_dim = (long long)def->state_dim;
        r->augment_dim = (long long)def->augment_dim;
    } else if (def->kind == MODEL_KIND_CNF) {
        r->state_dim = (long long)def->state_dim;
        r->base_bytes = def->base_mean ? 16 * def->state_dim : 0;
    } else if (def->kind == MODEL_KIND_SDE) {
        r->state_dim = (long long)def->state_dim;
        r->calculus = sde_calculus_name((sde_calculus)def->sde_calculus);
        r->noise = sde_noise_name((sde_noise)def->sde_noise);
        if (def->sde_noise == SDE_NOISE_GENERAL) r->brownian_dim = (long long)def->brownian_dim;
    } else if (def->kind == MODEL_KIND_HYBRID) {
        r->state_dim = (long long)def->state_dim;
    } else if (def->kind == MODEL_KIND_HAMILTONIAN) {
        r->state_dim = (long long)def->state_dim;
        r->form = model_ham_form_name((model_ham_form)def->ham_form);
    } else if (def->kind == MODEL_KIND_LAGRANGIAN) {
        r->state_dim = (long long)def->state_dim;
    } else {
        r->input_channels = (long long)def->input_channels;
        r->hidden_dim = (long long)def->hidden_dim;
        r->channel_time = def->channel_time;
        r->channel_intensity = def->channel_intensity;
        r->interpolation = model_interp_name(def->interp);
    }
    const model_solver *s = &def->solver;
    r->solver_method = s->method[0] ? s->method : NULL;
    r->solver_rtol = s->rtol;
    r->solver_atol = s->atol;
    r->solver_max_steps = s->max_steps > 0 ? s->max_steps : -1;
    r->solver_first_step = s->first_step;
    r->solver_min_step = s->min_step;
    r->solver_max_step = s->max_step;
    r->solver_step = s->step;
}

void model_rows_net_encode(const model_def *def, size_t net, model_net_row *r)
{
    const model_net *n = &def->nets[net];
    r->net = (long long)net;
    r->name = model_def_net_name(def, net);
    r->in_dim = (long long)n->in_dim;
    r->time_input = n->time_input;
}

void model_rows_layer_encode(const model_def *def, size_t net, size_t layer, model_layer_row *r)
{
    const mlp_layer *l = &def->nets[net].layers[layer];
    r->net = (long long)net;
    r->layer = (long long)layer;
    r->kind = l->kind == MLP_LINEAR ? "linear" : "elementwise";
    r->in_dim = (long long)l->in;
    r->out_dim = (long long)l->out;
    r->activation = act_name(l->act);
}

/* The shifts compile to plain 64-bit stores on a little-endian host. */
static void le_put(const double *v, size_t n, unsigned char *dst)
{
    for (size_t i = 0; i < n; i++, dst += 8) {
        uint64_t b;
        memcpy(&b, &v[i], sizeof b);
        dst[0] = (unsigned char)b;
        dst[1] = (unsigned char)(b >> 8);
        dst[2] = (unsigned char)(b >> 16);
        dst[3] = (unsigned char)(b >> 24);
        dst[4] = (unsigned char)(b >> 32);
        dst[5] = (unsigned char)(b >> 40);
        dst[6] = (unsigned char)(b >> 48);
        dst[7] = (unsigned char)(b >> 56);
    }
}

void model_rows_params_encode(const model_def *def, unsigned char *dst)
{
    le_put(def->params, def->n_params, dst);
}

void model_rows_base_encode(const model_def *def, unsigned char *dst)
{
    le_put(def->base_mean, def->state_dim, dst);
    le_put(def->base_scale, def->state_dim, dst + 8 * def->state_dim);
}

void model_rows_checksum(const model_def *def, char out[17])
{
    snprintf(out, 17, "%016llx", model_def_checksum(def));
}

/* ---- decoding ---- */

const char *model_rows_version_decode(const model_version_row *r, model_def *def, bool *nomem)
{
    if (!r->kind || model_kind_from_name(r->kind, &def->kind, NULL)) return "unknown kind";
    if (r->description && !(def->description = strdup(r->description))) {
        *nomem = true;
        return "out of memory";
    }
    long long v[6] = {0};
    if (def->kind == MODEL_KIND_ODE) {
        v[0] = in_range(r->state_dim, 1, max_dim);
        v[1] = in_range(r->augment_dim, 0, max_dim);
        def->state_dim = (size_t)v[0];
        def->augment_dim = (size_t)v[1];
    } else if (def->kind == MODEL_KIND_CNF) {
        v[0] = in_range(r->state_dim, 1, MLP_MAX_WIDTH);
        def->state_dim = (size_t)v[0];
    } else if (def->kind == MODEL_KIND_SDE) {
        v[0] = in_range(r->state_dim, 1, max_dim);
        def->state_dim = (size_t)v[0];
        def->sde_calculus = sde_calculus_from_name(r->calculus);
        def->sde_noise = sde_noise_from_name(r->noise);
        if (def->sde_calculus < 0 || def->sde_noise < 0) return "unknown calculus or noise";
        if (def->sde_noise == SDE_NOISE_GENERAL) {
            v[1] = in_range(r->brownian_dim, 1, MLP_MAX_WIDTH);
            def->brownian_dim = (size_t)v[1];
        }
    } else if (def->kind == MODEL_KIND_HYBRID) {
        v[0] = in_range(r->state_dim, 1, MLP_MAX_WIDTH - 1);
        def->state_dim = (size_t)v[0];
    } else if (def->kind == MODEL_KIND_HAMILTONIAN) {
        v[0] = in_range(r->state_dim, 2, max_dim);
        def->state_dim = (size_t)v[0];
        if ((def->ham_form = model_ham_form_from_name(r->form)) < 0) return "unknown form";
    } else if (def->kind == MODEL_KIND_LAGRANGIAN) {
        v[0] = in_range(r->state_dim, 2, max_dim);
        def->state_dim = (size_t)v[0];
    } else {
        v[2] = in_range(r->input_channels, 1, max_dim);
        v[3] = in_range(r->hidden_dim, 1, max_dim);
        v[4] = in_range(r->channel_time, 0, 1);
        v[5] = in_range(r->channel_intensity, 0, 1);
        if (!r->interpolation || model_interp_from_name(r->interpolation, &def->interp, NULL))
            return "unknown interpolation";
        def->input_channels = (size_t)v[2];
        def->hidden_dim = (size_t)v[3];
        def->channel_time = v[4] == 1;
        def->channel_intensity = v[5] == 1;
    }
    for (int i = 0; i < 6; i++)
        if (v[i] < 0) return "a dimension is out of range";
    model_solver *s = &def->solver;
    if (r->solver_method && strlen(r->solver_method) >= sizeof s->method)
        return "solver method too long";
    snprintf(s->method, sizeof s->method, "%s", r->solver_method ? r->solver_method : "");
    s->rtol = r->solver_rtol;
    s->atol = r->solver_atol;
    s->max_steps = (long)r->solver_max_steps;
    s->first_step = r->solver_first_step;
    s->min_step = r->solver_min_step;
    s->max_step = r->solver_max_step;
    s->step = r->solver_step;
    return NULL;
}

static double le_get(const unsigned char *p)
{
    uint64_t b = 0;
    for (int k = 7; k >= 0; k--)
        b = b << 8 | p[k];
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

const char *model_rows_base_decode(const unsigned char *src, size_t n, model_def *def, bool *nomem)
{
    if (!src) return NULL;
    if (def->kind != MODEL_KIND_CNF || n != 16 * def->state_dim)
        return "the base BLOB does not hold 2 x state_dim doubles";
    def->base_mean = malloc(def->state_dim * sizeof(double));
    def->base_scale = malloc(def->state_dim * sizeof(double));
    if (!def->base_mean || !def->base_scale) {
        *nomem = true;
        return "out of memory";
    }
    for (size_t i = 0; i < def->state_dim; i++) {
        def->base_mean[i] = le_get(src + 8 * i);
        def->base_scale[i] = le_get(src + 8 * (def->state_dim + i));
    }
    return NULL;
}

const char *model_rows_net_decode(const model_net_row *r, model_def *def)
{
    long long in = in_range(r->in_dim, 1, max_dim);
    if (in_range(r->net, 0, MODEL_MAX_NETS - 1) != (long long)def->n_nets || in < 0 ||
        def->n_nets >= (def->kind == MODEL_KIND_HYBRID ? 1 : model_def_n_nets(def)))
        return "its networks are not numbered 0, 1, ... as its kind requires";
    model_net *n = &def->nets[def->n_nets++];
    n->in_dim = (size_t)in;
    n->time_input = r->time_input;
    return NULL;
}

const char *model_rows_nets_done(const model_def *def)
{
    if (def->kind == MODEL_KIND_HYBRID) return NULL; /* its network is optional */
    return def->n_nets != model_def_n_nets(def) ? "a network is missing" : NULL;
}

const char *model_rows_layer_decode(const model_layer_row *r, model_def *def)
{
    long long net = in_range(r->net, 0, (long long)def->n_nets - 1);
    model_net *n = net < 0 ? NULL : &def->nets[net];
    if (!n || in_range(r->layer, 0, MLP_MAX_LAYERS - 1) != (long long)n->n_layers)
        return "its layers are not numbered 0, 1, ... in each network";
    mlp_layer *l = &n->layers[n->n_layers++];
    long long in = in_range(r->in_dim, 0, MLP_MAX_WIDTH);
    long long out = in_range(r->out_dim, 0, MLP_MAX_WIDTH);
    const char *kind = r->kind;
    if (!kind || (strcmp(kind, "linear") != 0 && strcmp(kind, "elementwise") != 0) || in < 0 ||
        out < 0 || act_from_name(r->activation, &l->act, NULL))
        return "a layer has an unknown kind, activation or width";
    l->kind = strcmp(kind, "linear") == 0 ? MLP_LINEAR : MLP_ELEMENTWISE;
    l->in = (size_t)in;
    l->out = (size_t)out;
    return NULL;
}

const char *model_rows_layers_done(const model_def *def)
{
    for (size_t i = 0; i < def->n_nets; i++)
        if (def->nets[i].n_layers == 0) return "a network has no layers";
    return NULL;
}

/* The shifts compile to plain 64-bit loads on a little-endian host. */
const char *model_rows_params_decode(model_def *def, const char *checksum)
{
    const unsigned char *s = (const unsigned char *)def->params;
    for (size_t i = 0; i < def->n_params; i++, s += 8) {
        uint64_t b = (uint64_t)s[0] | (uint64_t)s[1] << 8 | (uint64_t)s[2] << 16 |
                     (uint64_t)s[3] << 24 | (uint64_t)s[4] << 32 | (uint64_t)s[5] << 40 |
                     (uint64_t)s[6] << 48 | (uint64_t)s[7] << 56;
        memcpy(&def->params[i], &b, sizeof b);
    }
    char sum[17];
    model_rows_checksum(def, sum);
    if (!checksum || strcmp(checksum, sum) != 0)
        return "parameter checksum mismatch (the stored parameters changed since they were "
               "written)";
    return NULL;
}

size_t model_rows_data_channels(size_t input_channels, bool channel_time, bool channel_intensity)
{
    size_t added = channel_time ? 1 : 0;
    size_t n = input_channels >= added ? input_channels - added : 0;
    return channel_intensity ? n / 2 : n;
}
