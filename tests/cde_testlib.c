/* cde_testlib.c: see cde_testlib.h. */
#include "cde_testlib.h"
#include "testutil.h"

#include "nn/act.h"

#include <check.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t rng = 0x853c49e6748fea9bull;

double ct_urand(double lo, double hi)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * ((double)(rng >> 11) * 0x1p-53);
}

json_t *ct_json_load(const char *rel)
{
    char path[4096];
    tu_source_path(path, sizeof path, rel);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) {
        fprintf(stderr, "cannot load %s: %s (set top_srcdir)\n", path, je.text);
        abort();
    }
    return j;
}

static json_t *fixture;

json_t *ct_fixture(void)
{
    if (!fixture) fixture = ct_json_load("tests/fixtures/cde_reference.json");
    return fixture;
}

void ct_fixture_free(void)
{
    json_decref(fixture);
    fixture = NULL;
}

static double num(const json_t *v)
{
    return json_is_null(v) ? NAN : json_number_value(v);
}

double *ct_vec(const json_t *a, size_t *n)
{
    *n = json_array_size(a);
    double *v = malloc((*n ? *n : 1) * sizeof *v);
    if (!v) abort();
    for (size_t i = 0; i < *n; i++)
        v[i] = num(json_array_get(a, i));
    return v;
}

double *ct_mat(const json_t *a, size_t *rows, size_t *cols)
{
    *rows = json_array_size(a);
    *cols = *rows ? json_array_size(json_array_get(a, 0)) : 0;
    const size_t total = *rows * *cols;
    double *v = malloc((total ? total : 1) * sizeof *v);
    if (!v) abort();
    for (size_t i = 0; i < *rows; i++) {
        const json_t *r = json_array_get(a, i);
        if (json_array_size(r) != *cols) abort();
        for (size_t j = 0; j < *cols; j++)
            v[i * *cols + j] = num(json_array_get(r, j));
    }
    return v;
}

double ct_rel_err(const double *a, const double *b, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double r = fabs(a[i] - b[i]) / (1 + fabs(b[i]));
        if (!(r <= worst)) worst = r; /* NaN propagates */
    }
    return worst;
}

/* ---- CDE model definitions from fixtures ------------------------------------ */

static void load_net(const json_t *jn, model_net *net, double **params, size_t *np)
{
    const json_t *layers = json_object_get(jn, "layers");
    net->n_layers = json_array_size(layers);
    net->time_input = false;
    for (size_t i = 0; i < net->n_layers; i++) {
        const json_t *L = json_array_get(layers, i);
        mlp_layer *l = &net->layers[i];
        l->kind = MLP_LINEAR;
        l->in = (size_t)json_integer_value(json_object_get(L, "in"));
        l->out = (size_t)json_integer_value(json_object_get(L, "out"));
        ck_assert_int_eq(
            act_from_name(json_string_value(json_object_get(L, "activation")), &l->act, NULL),
            ERR_OK);
    }
    net->in_dim = net->layers[0].in;
    size_t n;
    double *p = ct_vec(json_object_get(jn, "params"), &n);
    *params = realloc(*params, (*np + n) * sizeof **params);
    memcpy(*params + *np, p, n * sizeof *p);
    *np += n;
    free(p);
}

void ct_load_cde_def(const json_t *cs, model_def *d)
{
    model_def_init(d);
    d->kind = MODEL_KIND_CDE;
    d->input_channels = (size_t)json_integer_value(json_object_get(cs, "input_channels"));
    d->hidden_dim = (size_t)json_integer_value(json_object_get(cs, "hidden_dim"));
    const json_t *ch = json_object_get(cs, "channels");
    d->channel_time = json_is_true(json_object_get(ch, "time"));
    d->channel_intensity = json_is_true(json_object_get(ch, "intensity"));
    ck_assert_int_eq(model_interp_from_name(json_string_value(json_object_get(cs, "interpolation")),
                                            &d->interp, NULL),
                     ERR_OK);
    d->n_nets = 3;
    const char *names[3] = {"initial", "vector_field", "readout"};
    for (size_t i = 0; i < 3; i++)
        load_net(json_object_get(cs, names[i]), &d->nets[i], &d->params, &d->n_params);
}
