/* num_testlib.c: see num_testlib.h. */
#include "num_testlib.h"
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const tp_adaptive_methods[] = {"bosh3", "dopri5", "tsit5", "dop853", NULL};

/* ---- right-hand sides ---------------------------------------------------- */

struct par {
    double v[8];
};

static int f_exp(double t, const double *y, double *d, void *ctx)
{
    const struct par *p = ctx;
    d[0] = -p->v[0] * y[0];
    return 0;
}

static int f_harmonic(double t, const double *y, double *d, void *ctx)
{
    const struct par *p = ctx;
    d[0] = y[1];
    d[1] = -p->v[0] * p->v[0] * y[0];
    return 0;
}

static int f_lotka(double t, const double *y, double *d, void *ctx)
{
    const double *v = ((const struct par *)ctx)->v; /* a b c d */
    d[0] = v[0] * y[0] - v[1] * y[0] * y[1];
    d[1] = -v[2] * y[1] + v[3] * y[0] * y[1];
    return 0;
}

static int f_vdp(double t, const double *y, double *d, void *ctx)
{
    const double mu = ((const struct par *)ctx)->v[0];
    d[0] = y[1];
    d[1] = mu * (1 - y[0] * y[0]) * y[1] - y[0];
    return 0;
}

static int f_arenstorf(double t, const double *y, double *d, void *ctx)
{
    const double mu = ((const struct par *)ctx)->v[0], mup = 1 - mu;
    const double r1 = (y[0] + mu) * (y[0] + mu) + y[1] * y[1];
    const double r2 = (y[0] - mup) * (y[0] - mup) + y[1] * y[1];
    const double d1 = r1 * sqrt(r1), d2 = r2 * sqrt(r2);
    d[0] = y[2];
    d[1] = y[3];
    d[2] = y[0] + 2 * y[3] - mup * (y[0] + mu) / d1 - mu * (y[0] - mup) / d2;
    d[3] = y[1] - 2 * y[2] - mup * y[1] / d1 - mu * y[1] / d2;
    return 0;
}

static int f_bruss(double t, const double *y, double *d, void *ctx)
{
    const double *v = ((const struct par *)ctx)->v; /* A B */
    d[0] = v[0] + y[0] * y[0] * y[1] - (v[1] + 1) * y[0];
    d[1] = v[1] * y[0] - y[0] * y[0] * y[1];
    return 0;
}

/* The tiny MLP by hand: y' = W2 tanh(W1 y + b1) + b2, 2 -> 16 -> 2. */
struct mlp {
    double w1[16][2], b1[16], w2[2][16], b2[2];
};

static int f_mlp(double t, const double *y, double *d, void *ctx)
{
    const struct mlp *m = ctx;
    double h[16];
    for (int i = 0; i < 16; i++)
        h[i] = tanh(m->w1[i][0] * y[0] + m->w1[i][1] * y[1] + m->b1[i]);
    for (int o = 0; o < 2; o++) {
        double acc = m->b2[o];
        for (int i = 0; i < 16; i++)
            acc += m->w2[o][i] * h[i];
        d[o] = acc;
    }
    return 0;
}

/* ---- the fixture ----------------------------------------------------------- */

static struct tp_problem probs[16];
static size_t nprobs;

static void die(const char *what)
{
    fprintf(stderr, "num_testlib: %s\n", what);
    exit(99); /* hard error for the automake harness */
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v)) die(key);
    return json_number_value(v);
}

static void vec(json_t *a, double *out, size_t n)
{
    if (!json_is_array(a) || json_array_size(a) != n) die("array size");
    for (size_t i = 0; i < n; i++)
        out[i] = json_number_value(json_array_get(a, i));
}

static void *params_for(const char *name, json_t *pj, ode_rhs_fn *f)
{
    static const struct {
        const char *name;
        ode_rhs_fn f;
        const char *keys[4];
    } simple[] = {
        {"exp_decay", f_exp, {"lam"}},
        {"harmonic", f_harmonic, {"w"}},
        {"lotka_volterra", f_lotka, {"a", "b", "c", "d"}},
        {"van_der_pol", f_vdp, {"mu"}},
        {"arenstorf", f_arenstorf, {"mu"}},
        {"brusselator", f_bruss, {"A", "B"}},
    };
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        if (strcmp(simple[i].name, name)) continue;
        struct par *p = calloc(1, sizeof *p);
        for (int k = 0; k < 4 && simple[i].keys[k]; k++)
            p->v[k] = num(pj, simple[i].keys[k]);
        *f = simple[i].f;
        return p;
    }
    if (strcmp(name, "mlp") == 0) {
        struct mlp *m = calloc(1, sizeof *m);
        for (int i = 0; i < 16; i++)
            vec(json_array_get(json_object_get(pj, "w1"), i), m->w1[i], 2);
        vec(json_object_get(pj, "b1"), m->b1, 16);
        for (int o = 0; o < 2; o++)
            vec(json_array_get(json_object_get(pj, "w2"), o), m->w2[o], 16);
        vec(json_object_get(pj, "b2"), m->b2, 2);
        *f = f_mlp;
        return m;
    }
    die(name);
    return NULL;
}

static void load_problem(json_t *pj, struct tp_problem *p)
{
    p->name = strdup(json_string_value(json_object_get(pj, "name")));
    p->dim = (size_t)num(pj, "dim");
    if (p->dim > TP_MAXDIM) die("dim");
    p->t0 = num(pj, "t0");
    double span[2];
    vec(json_object_get(pj, "span"), span, 2);
    p->t_lo = span[0];
    p->t_hi = span[1];
    vec(json_object_get(pj, "y0"), p->y0, p->dim);
    p->analytic = strcmp(json_string_value(json_object_get(pj, "reference")), "analytic") == 0;
    p->ref_err = num(pj, "ref_err_est");
    json_t *t = json_object_get(pj, "t"), *y = json_object_get(pj, "y");
    p->n = json_array_size(t);
    if (!p->n || json_array_size(y) != p->n) die("t/y");
    p->t = malloc(p->n * sizeof *p->t);
    p->ref_errs = malloc(p->n * sizeof *p->ref_errs);
    vec(json_object_get(pj, "ref_err"), p->ref_errs, p->n);
    p->y = malloc(p->n * p->dim * sizeof *p->y);
    vec(t, p->t, p->n);
    for (size_t i = 0; i < p->n; i++)
        vec(json_array_get(y, i), p->y + i * p->dim, p->dim);
    json_t *rows = json_object_get(pj, "scipy_rk45");
    if (json_array_size(rows) != TP_NFE_ROWS) die("scipy_rk45");
    for (size_t r = 0; r < TP_NFE_ROWS; r++) {
        json_t *row = json_array_get(rows, r);
        p->rk45[r] = (struct tp_nfe){num(row, "rtol"), num(row, "atol"), (long)num(row, "nfev"),
                                     (long)num(row, "n_steps")};
    }
    p->ctx = params_for(p->name, json_object_get(pj, "params"), &p->f);
}

void tp_load(void)
{
    if (nprobs) return;
    char path[4096];
    tu_source_path(path, sizeof path, "tests/fixtures/ode_reference.json");
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        fprintf(stderr, "%s:%d: %s\n", path, je.line, je.text);
        die("cannot load the fixture (set top_srcdir)");
    }
    json_t *arr = json_object_get(root, "problems");
    nprobs = json_array_size(arr);
    if (!nprobs || nprobs > sizeof probs / sizeof probs[0]) die("problems");
    for (size_t i = 0; i < nprobs; i++)
        load_problem(json_array_get(arr, i), &probs[i]);
    json_decref(root);
}

void tp_free(void)
{
    for (size_t i = 0; i < nprobs; i++) {
        free((char *)probs[i].name);
        free(probs[i].t);
        free(probs[i].ref_errs);
        free(probs[i].y);
        free(probs[i].ctx);
    }
    nprobs = 0;
}

size_t tp_count(void)
{
    return nprobs;
}

const struct tp_problem *tp_get(size_t i)
{
    return i < nprobs ? &probs[i] : NULL;
}

const struct tp_problem *tp_find(const char *name)
{
    for (size_t i = 0; i < nprobs; i++)
        if (strcmp(probs[i].name, name) == 0) return &probs[i];
    die(name);
    return NULL;
}

const double *tp_ref(const struct tp_problem *p, size_t i)
{
    return p->y + i * p->dim;
}

size_t tp_index_of(const struct tp_problem *p, double t)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->t[i] == t) return i;
    die("time not in the fixture");
    return 0;
}

double tp_scaled_err(const double *y, const double *ref, size_t n, size_t dim, double rtol,
                     double atol)
{
    double worst = 0;
    for (size_t i = 0; i < n * dim; i++) {
        double e = fabs(y[i] - ref[i]) / (atol + rtol * fabs(ref[i]));
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

double tp_normwise_err(const double *y, const double *ref, size_t n, size_t dim, double rtol,
                       double atol)
{
    double worst = 0;
    for (size_t j = 0; j < dim; j++) {
        double big = 0, e = 0;
        for (size_t i = 0; i < n; i++) {
            big = fmax(big, fabs(ref[i * dim + j]));
            double d = fabs(y[i * dim + j] - ref[i * dim + j]);
            if (!(d <= e)) e = d;
        }
        e /= atol + rtol * big;
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

double tp_max_abs_err(const double *y, const double *ref, size_t n, size_t dim)
{
    double worst = 0;
    for (size_t i = 0; i < n * dim; i++) {
        double e = fabs(y[i] - ref[i]);
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

double tp_slope(const double *h, const double *e, int n)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        double x = log(h[i]), y = log(e[i]);
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}
