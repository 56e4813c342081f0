/* bench_hamiltonian: the hamiltonian kind's cost per step (issue #26;
 * docs/benchmarks.md, "Hamiltonian").
 *
 * Networks: tanh MLPs of widths 64 and 200 (two hidden layers), weights
 * drawn as torch.nn.Linear draws them (U(-1/sqrt(in), 1/sqrt(in))) from
 * model/rng.h. The general H is 2-W-W-1 (Greydanus et al.'s default at
 * W = 200), solved by gauss4 (the only kind of method a non-separable H
 * admits); the separable H is a potential 1-W-W-1 and a kinetic 1-W-W-1
 * network, solved by leapfrog and yoshida4. Each solve takes 1000 steps of
 * 0.01 at batch 1, 100 at batch 256.
 *
 * The arithmetic bound: a gradient of the network costs about 3 forward
 * passes (forward, backward through the weights, the activation's
 * derivative), so a step that evaluates g gradients costs at least
 * g x 3 x the measured forward pass (at the same batch size). An implicit
 * method also takes the Hessian of H once per step (its simplified
 * Newton's matrix): its forward sweep carries the input and its d tangent
 * columns (1 + d passes) and its backward sweep one more, so a Hessian
 * costs about d + 2 forward passes, counted per Hessian taken. The lines
 * give µs per step per trajectory, the gradients and Hessians per step
 * (nfe / steps, n_jac / steps), the bound and the ratio measured / bound;
 * and the forward and gradient passes alone.
 *
 * The lagrangian kind (model/lagrangian.h) on the same 2-W-W-1 network read
 * as L(q, v), next to it read as a general H: µs per field evaluation
 * (NFE) of an rk4 solve at batch 1 (100 steps of 0.001, short enough that
 * the random L's mass matrix stays away from zero). A lagrangian NFE takes
 * the network's full Hessian and a LAPACK solve of the mass matrix where
 * the hamiltonian one takes a gradient. One JSON object per line; the load
 * average last. `bench_hamiltonian nfe` prints the NFE lines alone. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h" /* next to this file */
#include "model/hamiltonian.h"
#include "model/lagrangian.h"
#include "model/rng.h"
#include "nn/mlp_grad.h"

static size_t fill_net(model_net *n, size_t in, size_t w, double *p, rng *r)
{
    const size_t widths[] = {in, w, w, 1};
    size_t k = 0;
    n->in_dim = in;
    n->time_input = false;
    n->n_layers = 3;
    for (int l = 0; l < 3; l++) {
        n->layers[l] = (mlp_layer){MLP_LINEAR, widths[l], widths[l + 1], l < 2 ? ACT_TANH : ACT_IDENTITY};
        const double s = 1 / sqrt((double)widths[l]);
        for (size_t i = 0; i < widths[l + 1] * (widths[l] + 1); i++)
            p[k++] = (2 * rng_uniform(r) - 1) * s;
    }
    return k;
}

static size_t net_params(size_t in, size_t w)
{
    return w * (in + 1) + w * (w + 1) + (w + 1);
}

static void make_def(model_def *d, int separable, size_t w, const char *method)
{
    rng r;
    rng_seed(&r, 26);
    model_def_init(d);
    d->kind = MODEL_KIND_HAMILTONIAN;
    d->state_dim = 2;
    d->ham_form = separable ? MODEL_HAM_KINETIC : MODEL_HAM_GENERAL;
    d->n_nets = separable ? 2 : 1;
    d->n_params = separable ? 2 * net_params(1, w) : net_params(2, w);
    d->params = malloc(d->n_params * sizeof *d->params);
    size_t off = fill_net(&d->nets[0], separable ? 1 : 2, w, d->params, &r);
    if (separable) fill_net(&d->nets[1], 1, w, d->params + off, &r);
    snprintf(d->solver.method, sizeof d->solver.method, "%s", method);
    d->solver.step = 0.01;
}

/* Median CPU µs of fn over reps calls. */
static double cpu_us(void (*fn)(void *), void *ctx, int reps)
{
    double t[15];
    for (int i = 0; i < 15; i++) {
        double a = bench_cpu_now();
        for (int k = 0; k < reps; k++)
            fn(ctx);
        t[i] = (bench_cpu_now() - a) / reps * 1e6;
    }
    qsort(t, 15, sizeof t[0], bench_cmp_double);
    return t[7];
}

typedef struct pass_ctx {
    mlp *m;
    mlp_grad_ws *gw;
    mlp_ws *ws;
    size_t n;
    double *x, *y, *g;
} pass_ctx;

static void do_fwd(void *c)
{
    pass_ctx *p = c;
    if (p->n == 1) mlp_forward(p->m, p->ws, p->x, 0, p->y);
    else mlp_forward_batch(p->m, p->ws, p->n, p->x, 0, p->y);
}

static void do_grad(void *c)
{
    pass_ctx *p = c;
    if (p->n == 1) p->y[0] = mlp_grad_eval(p->m, p->gw, p->x, p->g);
    else mlp_grad_eval_batch(p->m, p->gw, p->n, p->x, p->y, p->g);
}

/* µs per row of a forward pass and of a gradient of the 2-w-w-1 or
 * 1-w-w-1 network at batch n. */
static void passes(size_t in, size_t w, size_t n, double *fwd, double *grad)
{
    model_def d;
    make_def(&d, in == 1, w, "gauss4");
    mlp_spec s = {.state_dim = in, .n_layers = 3, .layers = d.nets[0].layers};
    pass_ctx p = {.n = n};
    mlp_new(&p.m, &s, NULL);
    memcpy(mlp_params(p.m), d.params, mlp_n_params(p.m) * sizeof(double));
    mlp_pack(p.m, NULL);
    mlp_ws_new(&p.ws, p.m, n, NULL);
    mlp_grad_ws_new(&p.gw, p.m, n, NULL);
    p.x = malloc(n * in * sizeof *p.x);
    p.y = malloc(n * sizeof *p.y);
    p.g = malloc(n * in * sizeof *p.g);
    for (size_t i = 0; i < n * in; i++)
        p.x[i] = 0.3 + 0.001 * (double)i;
    const int reps = n == 1 ? (w > 100 ? 200 : 2000) : (w > 100 ? 2 : 10);
    *fwd = cpu_us(do_fwd, &p, reps) / (double)n;
    *grad = cpu_us(do_grad, &p, reps) / (double)n;
    free(p.x);
    free(p.y);
    free(p.g);
    mlp_grad_ws_free(p.gw);
    mlp_ws_free(p.ws);
    mlp_free(p.m);
    model_def_free(&d);
}

static void solve_line(int separable, size_t w, size_t batch, const char *method)
{
    model_def d;
    make_def(&d, separable, w, method);
    hamiltonian_model *m;
    err e;
    err_clear(&e);
    if (hamiltonian_model_new(&m, &d, &e)) {
        fprintf(stderr, "bench_hamiltonian: %s: %s\n", e.field, e.message);
        exit(1);
    }
    double *y0 = malloc(batch * 2 * sizeof *y0), *y = malloc(batch * 2 * sizeof *y);
    for (size_t b = 0; b < batch; b++) {
        y0[2 * b] = 0.5 + 0.001 * (double)b;
        y0[2 * b + 1] = -0.2;
    }
    const double t = batch == 1 ? 10.0 : 1.0; /* 1000 (100 for a batch) steps of 0.01 */
    struct model_traj_query q = {.batch = batch, .y0 = y0, .t = &t, .n_t = 1};
    struct model_traj_stats st;
    double best = INFINITY;
    for (int rep = 0; rep < 3; rep++) {
        double a = bench_cpu_now();
        if (hamiltonian_model_solve(m, &q, y, NULL, &st, &e)) {
            fprintf(stderr, "bench_hamiltonian: %s\n", e.message);
            exit(1);
        }
        best = fmin(best, bench_cpu_now() - a);
    }
    const double us = best * 1e6 / (double)st.steps / (double)batch;
    const double grads = (double)st.nfe / (double)st.steps; /* per step, whole batch */
    double fwd, grad;
    passes(separable ? 1 : 2, w, batch, &fwd, &grad);
    /* a step's gradients: one network each (separable: V or T, the same size);
     * an implicit step's Hessians (n_jac counts one per step, and a step
     * takes each state's) */
    const double hess = (double)st.n_jac / (double)st.steps;
    const double dim = separable ? 1 : 2;
    const double bound = (grads * 3 + hess * (dim + 2)) * fwd;
    printf("{\"bench\":\"step\",\"H\":\"%s\",\"width\":%zu,\"batch\":%zu,\"method\":\"%s\","
           "\"us_per_step\":%.3f,\"gradients_per_step\":%.2f,\"hessians_per_step\":%.2f,"
           "\"n_lu_per_step\":%.2f,\"fwd_us\":%.3f,\"grad_us\":%.3f,\"bound_us\":%.3f,"
           "\"ratio\":%.2f}\n",
           separable ? "separable" : "general", w, batch, method, us, grads, hess,
           (double)st.n_lu / (double)st.steps, fwd, grad, bound, us / bound);
    fflush(stdout);
    free(y0);
    free(y);
    hamiltonian_model_free(m);
    model_def_free(&d);
}

/* µs per NFE of rk4 at batch 1: the 2-w-w-1 network as a general H and as
 * L. */
static void nfe_line(size_t w)
{
    double us[2];
    long nfe[2];
    for (int k = 0; k < 2; k++) {
        model_def d;
        make_def(&d, 0, w, "rk4");
        d.solver.step = 0.001;
        if (k) d.kind = MODEL_KIND_LAGRANGIAN; /* same network, read as L */
        err e;
        err_clear(&e);
        hamiltonian_model *hm = NULL;
        lagrangian_model *lm = NULL;
        if (k ? lagrangian_model_new(&lm, &d, &e) : hamiltonian_model_new(&hm, &d, &e)) {
            fprintf(stderr, "bench_hamiltonian: %s: %s\n", e.field, e.message);
            exit(1);
        }
        const double y0[2] = {0.5, -0.2}, t = 0.1;
        double y[2], best = INFINITY;
        for (int rep = 0; rep < 5; rep++) {
            double a = bench_cpu_now();
            err_code rc;
            if (k) {
                struct model_traj_query q = {.batch = 1, .y0 = y0, .t = &t, .n_t = 1};
                struct model_traj_stats st;
                rc = lagrangian_model_solve(lm, &q, y, NULL, &st, &e);
                nfe[k] = st.nfe;
            } else {
                struct model_traj_query q = {.batch = 1, .y0 = y0, .t = &t, .n_t = 1};
                struct model_traj_stats st;
                rc = hamiltonian_model_solve(hm, &q, y, NULL, &st, &e);
                nfe[k] = st.nfe;
            }
            if (rc) {
                fprintf(stderr, "bench_hamiltonian: %s\n", e.message);
                exit(1);
            }
            best = fmin(best, bench_cpu_now() - a);
        }
        us[k] = best * 1e6 / (double)nfe[k];
        hamiltonian_model_free(hm);
        lagrangian_model_free(lm);
        model_def_free(&d);
    }
    printf("{\"bench\":\"nfe\",\"width\":%zu,\"batch\":1,\"method\":\"rk4\","
           "\"hamiltonian_us_per_nfe\":%.3f,\"lagrangian_us_per_nfe\":%.3f,\"ratio\":%.2f,"
           "\"nfe\":%ld}\n",
           w, us[0], us[1], us[1] / us[0], nfe[1]);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const size_t widths[] = {64, 200}, batches[] = {1, 256};
    const int nfe_only = argc > 1 && strcmp(argv[1], "nfe") == 0; /* the lagrangian lines alone */
    for (int wi = 0; wi < 2 && !nfe_only; wi++)
        for (int bi = 0; bi < 2; bi++) {
            solve_line(0, widths[wi], batches[bi], "gauss4");
            solve_line(1, widths[wi], batches[bi], "leapfrog");
            solve_line(1, widths[wi], batches[bi], "yoshida4");
        }
    for (int wi = 0; wi < 2; wi++)
        nfe_line(widths[wi]);
    double la[3] = {0};
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &la[0], &la[1], &la[2]) != 3) la[0] = -1;
        fclose(f);
    }
    printf("{\"bench\":\"load\",\"loadavg\":[%.2f,%.2f,%.2f]}\n", la[0], la[1], la[2]);
    return 0;
}
