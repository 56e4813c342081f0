/* bench_cde_knots: the work-precision table of docs/cde.md ("Knots and step
 * control"): readout error against NFE, rtol 1e-3 ... 1e-10 (atol = rtol /
 * 1000), for linear, natural_cubic and hermite_bdiff, odeserve (dopri5)
 * next to the real torchcde with and without jump_t. The models, series,
 * 1e-12 references and torchcde's runs come from
 * tests/fixtures/cde_knots.json (tests/fixtures/gen_cde_knots.py, which runs
 * torchcde); this program runs odeserve on the same inputs and prints the
 * table as Markdown, with per scheme and tolerance the worst readout error
 * over the fixture's series and their total NFE.
 *
 *   bench/bench_cde_knots [path/to/cde_knots.json]
 *
 * Counts, not timings: deterministic, so one run is the result. */
#include "nn/act.h"
#include "model/cde_model.h"
#include "model/model_def.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double TOLS[] = {1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10};
#define N_TOLS (sizeof TOLS / sizeof TOLS[0])

static void die(const char *what)
{
    fprintf(stderr, "bench_cde_knots: %s\n", what);
    exit(1);
}

static double num(const json_t *v)
{
    return json_is_null(v) ? NAN : json_number_value(v);
}

static double *vec(const json_t *a, size_t *n)
{
    *n = json_array_size(a);
    double *v = malloc((*n ? *n : 1) * sizeof *v);
    if (!v) die("out of memory");
    for (size_t i = 0; i < *n; i++)
        v[i] = num(json_array_get(a, i));
    return v;
}

static double *mat(const json_t *a, size_t *rows, size_t *cols)
{
    *rows = json_array_size(a);
    *cols = *rows ? json_array_size(json_array_get(a, 0)) : 0;
    const size_t len = *rows * *cols;
    double *v = malloc((len ? len : 1) * sizeof *v);
    if (!v) die("out of memory");
    for (size_t i = 0; i < *rows; i++)
        for (size_t j = 0; j < *cols; j++)
            v[i * *cols + j] = num(json_array_get(json_array_get(a, i), j));
    return v;
}

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
        if (act_from_name(json_string_value(json_object_get(L, "activation")), &l->act, NULL))
            die("bad activation");
    }
    net->in_dim = net->layers[0].in;
    size_t n;
    double *p = vec(json_object_get(jn, "params"), &n);
    double *all = realloc(*params, (*np + n) * sizeof *all);
    if (!all) die("out of memory");
    *params = all;
    memcpy(*params + *np, p, n * sizeof *p);
    *np += n;
    free(p);
}

static cde_model *load_model(const json_t *cs, model_def *d)
{
    model_def_init(d);
    d->kind = MODEL_KIND_CDE;
    d->input_channels = (size_t)json_integer_value(json_object_get(cs, "input_channels"));
    d->hidden_dim = (size_t)json_integer_value(json_object_get(cs, "hidden_dim"));
    const json_t *ch = json_object_get(cs, "channels");
    d->channel_time = json_is_true(json_object_get(ch, "time"));
    d->channel_intensity = json_is_true(json_object_get(ch, "intensity"));
    if (model_interp_from_name(json_string_value(json_object_get(cs, "interpolation")), &d->interp,
                               NULL))
        die("bad interpolation");
    d->n_nets = 3;
    const char *names[3] = {"initial", "vector_field", "readout"};
    for (size_t i = 0; i < 3; i++)
        load_net(json_object_get(cs, names[i]), &d->nets[i], &d->params, &d->n_params);
    cde_model *m = NULL;
    err e = {0};
    if (cde_model_new(&m, d, &e)) die(e.message);
    return m;
}

/* torchcde's worst error and total NFE over the series at rtol, with or
 * without jump_t. */
static void torch_row(const json_t *series, double rtol, int jump, double *err_out, long *nfe)
{
    *err_out = 0;
    *nfe = 0;
    const json_t *js;
    size_t b;
    json_array_foreach(series, b, js)
    {
        const json_t *r;
        size_t i;
        json_array_foreach(json_object_get(js, "torchcde"), i, r)
        {
            if (json_number_value(json_object_get(r, "rtol")) != rtol ||
                json_is_true(json_object_get(r, "jump_t")) != jump)
                continue;
            *err_out = fmax(*err_out, json_number_value(json_object_get(r, "err")));
            *nfe += (long)json_integer_value(json_object_get(r, "nfe"));
        }
    }
}

static void run_case(const json_t *cs)
{
    model_def d;
    cde_model *m = load_model(cs, &d);
    const json_t *series = json_object_get(cs, "series");
    const size_t R = cde_model_readout_dim(m);
    for (size_t k = 0; k < N_TOLS; k++) {
        double worst = 0;
        long nfe = 0;
        const json_t *js;
        size_t b;
        json_array_foreach(series, b, js)
        {
            size_t n, n2, c, nq, rq, rc;
            double *t = vec(json_object_get(js, "t"), &n);
            double *x = mat(json_object_get(js, "x"), &n2, &c);
            double *tq = vec(json_object_get(js, "t_query"), &nq);
            double *ref = mat(json_object_get(js, "readout"), &rq, &rc);
            struct cde_series s = {.obs = {.n = n, .t = t, .x = x}, .t = tq, .n_t = nq};
            struct cde_model_query q = {.batch = 1, .series = &s, .output = CDE_OUTPUT_READOUT};
            snprintf(q.solver.method, sizeof q.solver.method, "dopri5");
            q.solver.rtol = TOLS[k];
            q.solver.atol = TOLS[k] * 1e-3;
            double *ro = malloc(nq * R * sizeof *ro);
            struct cde_model_stats st;
            err e = {0};
            if (!ro || cde_model_solve(m, &q, ro, NULL, &st, &e)) die(e.message);
            for (size_t i = 0; i < nq * R; i++)
                worst = fmax(worst, fabs(ro[i] - ref[i]));
            nfe += st.nfe;
            free(t);
            free(x);
            free(tq);
            free(ref);
            free(ro);
        }
        double ej, en;
        long nj, nn;
        torch_row(series, TOLS[k], 1, &ej, &nj);
        torch_row(series, TOLS[k], 0, &en, &nn);
        printf("| %s | %.0e | %ld | %.2e | %ld | %.2e | %ld | %.2e |\n",
               json_string_value(json_object_get(cs, "interpolation")), TOLS[k], nfe, worst, nj, ej,
               nn, en);
    }
    cde_model_free(m);
    model_def_free(&d);
}

int main(int argc, char **argv)
{
    char path[4096];
    if (argc > 1) {
        snprintf(path, sizeof path, "%s", argv[1]);
    } else {
        const char *top = getenv("top_srcdir");
        snprintf(path, sizeof path, "%s/tests/fixtures/cde_knots.json", top ? top : ".");
    }
    json_error_t je;
    json_t *fx = json_load_file(path, 0, &je);
    if (!fx) {
        fprintf(stderr, "bench_cde_knots: cannot load %s: %s\n", path, je.text);
        return 1;
    }
    printf("| scheme | rtol | odeserve NFE | odeserve error | torchcde+jump_t NFE | error | "
           "torchcde NFE | error |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    const json_t *cs;
    size_t i;
    json_array_foreach(json_object_get(fx, "cases"), i, cs) run_case(cs);
    json_decref(fx);
    return 0;
}
