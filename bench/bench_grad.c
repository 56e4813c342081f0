/* bench_grad: peak memory and work of each gradient method (model/grad.h)
 * on the W1 model (bench_solve's: 2 -> 64 -> 64 -> 2 tanh, init seed 1,
 * dopri5 rtol 1e-6 atol 1e-8) from y0 = (2, 0), observed at 100 evenly
 * spaced times in (0, T], targets 0, sse; T = 25 and 2500. reversible takes
 * fixed steps of 0.025: 10^3 steps at T = 25, 10^5 at T = 2500.
 *
 * Each configuration runs in its own child process, which prints one line:
 * method, T, forward steps, forward NFE, backward NFE (adjoint_checkpointed:
 * its re-solves included), the engine's peak bytes (its byte counter,
 * grad_solve.h), the child's VmHWM (peak resident set, kB, whole process,
 * so mostly the libraries), and the wall time of one forward + backward.
 * Usage: bench_grad [T ...] (default 25 2500). docs/training.md has the
 * table. */
#include "model/grad_ode.h"
#include "model/init.h"
#include "model/model_def.h"
#include "model/ode_model.h"
#include "model/rng.h"
#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define N_OBS 100
#define REV_STEP 0.025

static err_code w1(model_def *d, err *e)
{
    model_def_init(d);
    d->kind = MODEL_KIND_ODE;
    d->state_dim = 2;
    d->n_nets = 1;
    model_net *n = &d->nets[MODEL_NET_ODE_FIELD];
    n->in_dim = 2;
    n->n_layers = 3;
    n->layers[0] = (mlp_layer){MLP_LINEAR, 2, 64, ACT_TANH};
    n->layers[1] = (mlp_layer){MLP_LINEAR, 64, 64, ACT_TANH};
    n->layers[2] = (mlp_layer){MLP_LINEAR, 64, 2, ACT_IDENTITY};
    const struct init_config ic = {.scheme = INIT_PYTORCH};
    rng r;
    rng_seed(&r, 1);
    if (init_model_params(d, &ic, &r, e)) return e->code;
    return model_def_validate(d, e);
}

static long vm_hwm_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

static int run(grad_method m, double T)
{
    err e;
    err_clear(&e);
    model_def d;
    ode_model *om = NULL;
    if (w1(&d, &e) || ode_model_new(&om, &d, &e)) {
        fprintf(stderr, "bench_grad: %s\n", e.message);
        return 1;
    }
    const mlp *f = ode_model_net(om);
    grad_ode *g = NULL;
    if (grad_ode_new(&g, f, 1, &e)) return 1;
    double y0[2] = {2, 0}, t0 = 0, t[N_OBS], target[N_OBS * 2] = {0};
    for (int i = 0; i < N_OBS; i++)
        t[i] = T * (i + 1) / N_OBS;
    const struct grad_ode_batch b = {
        .batch = 1, .y0 = y0, .t0 = &t0, .t = t, .n_t = N_OBS, .target = target};
    struct grad_ode_options o;
    grad_ode_options_init(&o);
    o.loss_scale = 1;
    o.solve.method = m;
    o.solve.ode.rtol = 1e-6;
    o.solve.ode.atol = 1e-8;
    o.solve.ode.max_steps = 100000000;
    if (m == GRAD_REVERSIBLE) o.solve.ode.fixed_step = REV_STEP;
    const size_t P = mlp_n_params(f);
    double *dth = calloc(P, sizeof *dth), dy0[2], loss;
    const double c0 = clock_mono();
    err_code rc = grad_ode_compute(g, &b, &o, &loss, dth, dy0, NULL, &e);
    const double el = clock_mono() - c0;
    if (rc) {
        printf("%-21s T=%-6g failed: %s\n", grad_method_name(m), T, e.message);
    } else {
        struct grad_stats st;
        size_t peak;
        grad_ode_stats(g, &st);
        grad_ode_mem(g, NULL, &peak);
        printf("%-21s T=%-6g steps=%-7ld fwd_nfe=%-8ld bwd_nfe=%-8ld peak_bytes=%-10zu "
               "vmhwm_kb=%-6ld time_s=%.3f dL/dy0=(%.6g, %.6g)\n",
               grad_method_name(m), T, st.fwd_steps, st.fwd_nfe, st.bwd_nfe + st.bwd_resolve_nfe,
               peak, vm_hwm_kb(), el, dy0[0], dy0[1]);
    }
    free(dth);
    grad_ode_free(g);
    ode_model_free(om);
    model_def_free(&d);
    return rc != ERR_OK;
}

int main(int argc, char **argv)
{
    double Ts[8] = {25, 2500};
    int nT = 2;
    if (argc > 1) {
        nT = 0;
        for (int i = 1; i < argc && nT < 8; i++)
            Ts[nT++] = atof(argv[i]);
    }
    double la[3];
    if (getloadavg(la, 3) == 3) printf("# load average %.2f %.2f %.2f\n", la[0], la[1], la[2]);
    const grad_method ms[] = {GRAD_BACKPROP, GRAD_ADJOINT, GRAD_ADJOINT_CKPT, GRAD_REVERSIBLE};
    for (int k = 0; k < nT; k++)
        for (size_t i = 0; i < 4; i++) {
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                const int rc = run(ms[i], Ts[k]);
                fflush(stdout);
                _exit(rc);
            }
            int status;
            waitpid(pid, &status, 0);
        }
    if (getloadavg(la, 3) == 3) printf("# load average %.2f %.2f %.2f\n", la[0], la[1], la[2]);
    return 0;
}
