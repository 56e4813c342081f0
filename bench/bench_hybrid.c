/* bench/bench_hybrid: the cost of hybrid models' equations (issue #22;
 * docs/benchmarks.md, "Hybrid models").
 *
 *   1. ns per evaluation of a ten-node expression (a*sin(x) - c*y + b) by
 *      the bytecode (hybrid_sys_eval), and the same as a model's field;
 *   2. µs per NFE of a pendulum whose forcing is a 2-32-32-1 tanh network,
 *      against the network's forward pass alone (the equations' share);
 *   3. Van der Pol, mu = 1000, from (2, 0) to t = 3000 with rodas4 and the
 *      symbolic Jacobian at rtol = atol = 1e-6: ms per solve, steps, NFE;
 *      bench/vdp_scipy.py runs SciPy's Radau with the analytic Jacobian at
 *      the same tolerances for the comparison.
 *
 * Usage: bench/bench_hybrid [repeats] (default 5; the median is printed). */
#include "bench_util.h" /* next to this file */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/codec_model.h"
#include "model/hybrid.h"
#include "model/hybrid_expr.h"
#include "nn/mlp.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static hybrid_model *model(const char *text)
{
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    model_def d;
    err e;
    err_clear(&e);
    hybrid_model *m = NULL;
    if (!doc || codec_model_decode(doc, &d, &e) || hybrid_model_new(&m, &d, &e)) {
        fprintf(stderr, "bench_hybrid: %s: %s\n", e.field, e.message);
        exit(1);
    }
    json_decref(doc);
    model_def_free(&d);
    return m;
}

static volatile double sink;

int main(int argc, char **argv)
{
    const int reps = argc > 1 ? atoi(argv[1]) : 5;
    double *t = malloc((size_t)reps * sizeof *t);
    err e;
    err_clear(&e);

    /* 1. a ten-node expression */
    const char *vars[] = {"x", "y", "a", "b", "c", "t"};
    const char *eq[] = {"a*sin(x) - c*y + b"};
    struct hybrid_sys_spec sp = {1, eq, 6, vars, 0, "equations"};
    hybrid_sys *s;
    if (hybrid_sys_new(&s, &sp, &e)) return 1;
    double v[6] = {0.3, -0.2, 7.3, 0.5, 0.21, 0}, out, scratch[16];
    const long n1 = 20000000;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (long i = 0; i < n1; i++) {
            v[0] = 1e-9 * (double)i;
            hybrid_sys_eval(s, v, &out, scratch);
            sink = out;
        }
        t[r] = (now() - t0) / n1 * 1e9;
    }
    printf("ten-node expression a*sin(x) - c*y + b: %.1f ns per evaluation (median of %d)\n",
           bench_median(t, reps), reps);
    hybrid_sys_free(s);

    /* 2. pendulum + 2-32-32-1 network, against the network alone */
    char doc[16384], *p = doc;
    p += sprintf(p, "{\"kind\":\"hybrid\",\"state_dim\":2,\"state_names\":[\"theta\",\"omega\"],"
                    "\"parameters\":{\"a\":7.3,\"c\":0.21},\"equations\":[\"omega\","
                    "\"-a*sin(theta) - c*omega + nn_0\"],\"network\":{\"layers\":[");
    const int w[] = {2, 32, 32, 1};
    unsigned seed = 1;
    for (int l = 0; l < 3; l++) {
        p += sprintf(p, "%s{\"weight\":[", l ? "," : "");
        for (int o = 0; o < w[l + 1]; o++) {
            p += sprintf(p, "%s[", o ? "," : "");
            for (int i = 0; i < w[l]; i++) {
                seed = seed * 1103515245u + 12345u;
                p += sprintf(p, "%s%.3f", i ? "," : "", ((seed >> 8) % 2000) / 1000.0 - 1);
            }
            p += sprintf(p, "]");
        }
        p += sprintf(p, "],\"bias\":[");
        for (int o = 0; o < w[l + 1]; o++)
            p += sprintf(p, "%s0.01", o ? "," : "");
        p += sprintf(p, "],\"activation\":\"%s\"}", l < 2 ? "tanh" : "identity");
    }
    sprintf(p, "]}}");
    hybrid_model *m = model(doc);
    hybrid_ws *ws;
    if (hybrid_ws_new(&ws, m, &e)) return 1;
    json_t *jd = json_loads(doc, 0, NULL);
    model_def d;
    codec_model_decode(jd, &d, &e);
    json_decref(jd);
    const mlp_spec spec = {.state_dim = 2, .n_layers = d.nets[0].n_layers, .layers = d.nets[0].layers};
    mlp *net;
    mlp_ws *nw;
    mlp_new(&net, &spec, &e);
    memcpy(mlp_params(net), d.params, mlp_n_params(net) * sizeof(double));
    mlp_pack(net, &e);
    mlp_ws_new(&nw, net, 1, &e);
    const long n2 = 2000000;
    double y[2] = {0.3, 0.1}, f[2], tn[64];
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (long i = 0; i < n2; i++) {
            y[0] = 1e-9 * (double)i;
            hybrid_model_field(ws, 0, y, f);
            sink = f[1];
        }
        t[r] = (now() - t0) / n2 * 1e6;
        t0 = now();
        for (long i = 0; i < n2; i++) {
            y[0] = 1e-9 * (double)i;
            mlp_forward(net, nw, y, 0, f);
            sink = f[0];
        }
        tn[r] = (now() - t0) / n2 * 1e6;
    }
    double th = bench_median(t, reps), tnet = bench_median(tn, reps);
    printf("pendulum + 2-32-32-1 tanh network: %.3f us per NFE; the network alone %.3f us "
           "(equations and glue %.0f%% of the field)\n",
           th, tnet, 100 * (th - tnet) / th);
    mlp_ws_free(nw);
    mlp_free(net);
    model_def_free(&d);
    hybrid_ws_free(ws);
    hybrid_model_free(m);

    /* 3. Van der Pol, mu = 1000, to t = 3000 */
    m = model("{\"kind\":\"hybrid\",\"state_dim\":2,\"state_names\":[\"x\",\"y\"],"
              "\"parameters\":{\"mu\":1000},\"equations\":[\"y\",\"mu*(1 - x^2)*y - x\"]}");
    double y0[2] = {2, 0}, tt[1] = {3000}, yo[2];
    struct model_traj_query q = {.t0 = 0, .batch = 1, .y0 = y0, .t = tt, .n_t = 1};
    snprintf(q.solver.method, sizeof q.solver.method, "rodas4");
    q.solver.rtol = q.solver.atol = 1e-6;
    struct model_traj_stats st;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        if (hybrid_model_solve(m, &q, yo, &st, &e)) {
            fprintf(stderr, "bench_hybrid: %s\n", e.message);
            return 1;
        }
        t[r] = (now() - t0) * 1e3;
    }
    printf("Van der Pol mu=1000 to t=3000, rodas4 rtol=atol=1e-6: %.3f ms per solve "
           "(%ld steps, %ld rejected, %ld NFE, %ld Jacobians, %ld LU); y(3000) = (%.6f, %.6g)\n",
           bench_median(t, reps), st.steps, st.rejected, st.nfe, st.n_jac, st.n_lu, yo[0], yo[1]);
    hybrid_model_free(m);
    free(t);
    return 0;
}
