/* jobs/job_spec.c: see job_spec.h. */
#include "jobs/job_spec.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "num/tableau.h"
#include "store/models.h"

void job_spec_init(job_spec *s)
{
    memset(s, 0, sizeof *s);
    model_def_init(&s->init_def);
}

void job_spec_free(job_spec *s)
{
    if (!s) return;
    model_def_free(&s->init_def);
    job_spec_init(s);
}

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

static err_code parse_act(json_t *l, const char *field, mlp_act *act, err *e)
{
    const char *name = "identity";
    if (get_str(l, "activation", field, &name, e) != ERR_OK) return e->code;
    if (mlp_act_from_name(name, act, e) != ERR_OK) {
        err_prefix_field(e, field);
        return e->code;
    }
    return ERR_OK;
}

/* "layers": [{"activation": "cube"}, {"out": 50, "activation": "tanh"}, ...] */
static err_code parse_layers(json_t *arr, size_t in, model_net *net, err *e)
{
    static const char *const keys[] = {"out", "activation", NULL};
    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > MLP_MAX_LAYERS)
        return err_set(e, ERR_INVALID, "init.layers", "must be an array of 1 to %d layers",
                       MLP_MAX_LAYERS);
    size_t width = in;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *l = json_array_get(arr, i);
        char f[64];
        snprintf(f, sizeof f, "init.layers[%zu]", i);
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

static err_code parse_hidden(json_t *init, size_t in, model_net *net, err *e)
{
    mlp_act act = MLP_ACT_TANH;
    json_t *h = json_object_get(init, "hidden");
    if (json_object_get(init, "activation") && parse_act(init, "init", &act, e) != ERR_OK)
        return e->code;
    if (!json_is_array(h) || json_array_size(h) + 1 > MLP_MAX_LAYERS)
        return err_set(e, ERR_INVALID, "init.hidden", "must be an array of layer widths");
    size_t width = in;
    for (size_t i = 0; i <= json_array_size(h); i++) {
        mlp_layer *ly = &net->layers[net->n_layers++];
        ly->kind = MLP_LINEAR;
        ly->in = width;
        if (i < json_array_size(h)) {
            json_t *v = json_array_get(h, i);
            double w = json_number_value(v);
            if (!json_is_number(v) || w < 1 || w > 4096 || w != floor(w)) {
                char f[64];
                snprintf(f, sizeof f, "init.hidden[%zu]", i);
                return err_set(e, ERR_INVALID, f, "must be an integer in [1, 4096]");
            }
            ly->out = (size_t)w;
            ly->act = act;
        } else {
            ly->out = in;
            ly->act = MLP_ACT_IDENTITY;
        }
        width = ly->out;
    }
    return ERR_OK;
}

static err_code parse_scheme(json_t *init, struct init_config *c, err *e)
{
    static const char *const keys[] = {"name", "std", NULL};
    json_t *s = json_object_get(init, "scheme");
    c->scheme = INIT_PYTORCH;
    c->std = 0;
    if (!s) return ERR_OK;
    if (json_is_string(s)) return init_scheme_from_name(json_string_value(s), &c->scheme, e);
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

static err_code parse_init(json_t *init, job_spec *s, err *e)
{
    static const char *const keys[] = {"kind",   "state_dim",  "augment_dim", "layers",
                                       "hidden", "activation", "scheme",      NULL};
    if (check_keys(init, "init", keys, e) != ERR_OK) return e->code;
    const char *kind = "ode";
    if (get_str(init, "kind", "init.kind", &kind, e) != ERR_OK) return e->code;
    if (strcmp(kind, "ode") != 0)
        return err_set(e, ERR_INVALID, "init.kind",
                       "training jobs support \"ode\" models so far (cde training is not "
                       "implemented yet)");
    double sd = 0, aug = 0;
    if (get_int(init, "state_dim", "init", 1, 4096, &sd, e) != ERR_OK ||
        get_int(init, "augment_dim", "init", 0, 4096, &aug, e) != ERR_OK)
        return e->code;
    if (sd == 0) return err_set(e, ERR_INVALID, "init.state_dim", "is required");
    model_def *d = &s->init_def;
    d->kind = MODEL_KIND_ODE;
    d->state_dim = (size_t)sd;
    d->augment_dim = (size_t)aug;
    d->n_nets = 1;
    model_net *net = &d->nets[0];
    net->in_dim = d->state_dim + d->augment_dim;
    json_t *layers = json_object_get(init, "layers");
    if (layers && json_object_get(init, "hidden"))
        return err_set(e, ERR_INVALID, "init.hidden", "give either layers or hidden, not both");
    if (layers ? parse_layers(layers, net->in_dim, net, e)
               : parse_hidden(init, net->in_dim, net, e))
        return e->code;
    if (!layers && !json_object_get(init, "hidden"))
        return err_set(e, ERR_INVALID, "init.layers", "give layers or hidden");
    if (parse_scheme(init, &s->init_scheme, e) != ERR_OK) return e->code;
    rng r;
    rng_seed(&r, s->seed);
    if (init_model_params(d, &s->init_scheme, &r, e) != ERR_OK ||
        model_def_validate(d, e) != ERR_OK) {
        err_prefix_field(e, "init");
        return e->code;
    }
    return ERR_OK;
}

static err_code parse_objective(json_t *o, job_spec *s, err *e)
{
    static const char *const keys[] = {"loss", "batch_size", "batch_time", NULL};
    if (!o) return ERR_OK;
    const char *loss = "mse";
    double bs = 0, bt = 0;
    if (check_keys(o, "objective", keys, e) != ERR_OK ||
        get_str(o, "loss", "objective.loss", &loss, e) != ERR_OK ||
        get_int(o, "batch_size", "objective", 1, 1e6, &bs, e) != ERR_OK ||
        get_int(o, "batch_time", "objective", 2, 1e6, &bt, e) != ERR_OK)
        return e->code;
    if (loss_from_name(loss, &s->loss, e) != ERR_OK) {
        err_prefix_field(e, "objective.loss");
        return e->code;
    }
    if (s->loss == LOSS_CROSS_ENTROPY)
        return err_set(e, ERR_INVALID, "objective.loss",
                       "cross_entropy needs a cde model; ode jobs use mse or l1");
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
    static const char *const keys[] = {"method", "rtol", "atol", "max_steps", NULL};
    snprintf(s->method, sizeof s->method, "dopri5");
    s->rtol = 1e-6;
    s->atol = 1e-8;
    if (!o) return ERR_OK;
    const char *m = "dopri5";
    double ms = 0;
    if (check_keys(o, "solver", keys, e) || get_str(o, "method", "solver.method", &m, e) ||
        get_num(o, "rtol", "solver", 1e-14, 1, &s->rtol, e) ||
        get_num(o, "atol", "solver", 1e-300, 1e6, &s->atol, e) ||
        get_int(o, "max_steps", "solver", 1, 1e9, &ms, e))
        return e->code;
    const struct rk_tableau *tab = rk_tableau_find(m);
    if (!tab || !rk_tableau_adaptive(tab) || strlen(m) >= sizeof s->method)
        return err_set(e, ERR_INVALID, "solver.method",
                       "unknown or fixed-step method \"%.32s\" (e.g. dopri5, tsit5, bosh3)", m);
    snprintf(s->method, sizeof s->method, "%s", m);
    s->max_steps = (long)ms;
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
    const char *model = NULL, *dataset = NULL;
    if (get_str(doc, "model", "model", &model, e) ||
        get_str(doc, "dataset", "dataset", &dataset, e))
        return e->code;
    if (!model || !store_model_name_ok(model))
        return err_set(e, ERR_INVALID, "model",
                       "required: a model name, 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-'");
    if (!dataset || !store_model_name_ok(dataset))
        return err_set(e, ERR_INVALID, "dataset", "required: the name of an uploaded dataset");
    snprintf(s->model, sizeof s->model, "%s", model);
    snprintf(s->dataset, sizeof s->dataset, "%s", dataset);
    return ERR_OK;
}

static err_code parse_doc(json_t *doc, job_spec *s, err *e)
{
    static const char *const keys[] = {"model",      "init",      "from_version", "dataset",
                                       "validation", "objective", "optimizer",    "iterations",
                                       "gradient",   "solver",    "seed",         NULL};
    double it = 0, seed = 0, fv = 0;
    const char *grad = "adjoint";
    if (check_keys(doc, "", keys, e) || parse_names(doc, s, e) ||
        get_int(doc, "iterations", "", 1, 1e8, &it, e) ||
        get_int(doc, "seed", "", 0, 9007199254740991.0, &seed, e) ||
        get_int(doc, "from_version", "", 1, 1e9, &fv, e) ||
        get_str(doc, "gradient", "gradient", &grad, e))
        return e->code;
    if (it == 0) return err_set(e, ERR_INVALID, "iterations", "required: a number >= 1");
    s->iterations = (long)it;
    s->seed = (uint64_t)seed;
    s->from_version = (int)fv;
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
    return ERR_OK;
}

err_code job_spec_parse(const char *text, size_t len, job_spec *s, err *e)
{
    job_spec_init(s);
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return err_set(e, ERR_BAD_JSON, NULL, "line %d column %d: %s", je.line, je.column, je.text);
    err_code rc = json_is_object(doc) ? parse_doc(doc, s, e)
                                      : err_set(e, ERR_INVALID, "", "the body must be an object");
    json_decref(doc);
    if (rc != ERR_OK) job_spec_free(s);
    return rc;
}
