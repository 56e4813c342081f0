/* bench/bench_symplectic: the cost of a step of each method of
 * num/symplectic.h on analytic Hamiltonians (the solver's own overhead and
 * its Newton work, without a network: the model-level bench with networks
 * is bench_hamiltonian). One JSON line per problem and method: steps,
 * gradient evaluations and Newton iterations per step, median CPU ns per
 * step over the repeats, and the largest relative energy error seen at the
 * output times (every 10th step).
 *
 * Problems:
 *   kepler  n = 2: H = |p|^2/2 - 1/|q|, eccentricity 0.5, 100 orbits at
 *           200 steps per orbit
 *   fpu     n = 32: a Fermi-Pasta-Ulam-beta chain with fixed ends, V =
 *           sum_i (d_i^2/2 + d_i^4/4), d_i = q_{i+1} - q_i; 2,000 steps of 0.05
 *           (the implicit methods factor a 64 x 64 (midpoint) or 128 x 128
 *           (gauss4) matrix per step)
 *
 * OpenBLAS runs on this thread only (the CPU clock is this thread's), as
 * the daemon's solves do.
 *
 * Usage: bench_symplectic [--repeat N] [--methods leapfrog,gauss4,...] */
#include "bench_util.h" /* next to this file */
#include "num/symplectic.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FPU_N 32

static int kep_dT(const double *p, double *out, void *ctx)
{
    (void)ctx;
    out[0] = p[0];
    out[1] = p[1];
    return 0;
}

static int kep_dV(const double *q, double *out, void *ctx)
{
    (void)ctx;
    double r2 = q[0] * q[0] + q[1] * q[1], r3 = r2 * sqrt(r2);
    out[0] = q[0] / r3;
    out[1] = q[1] / r3;
    return 0;
}

static int kep_f(double t, const double *y, double *dy, void *ctx)
{
    (void)t;
    double g[2];
    kep_dV(y, g, ctx);
    dy[0] = y[2], dy[1] = y[3], dy[2] = -g[0], dy[3] = -g[1];
    return 0;
}

static int kep_jac(double t, const double *y, double *J, double *dfdt, void *ctx)
{
    (void)t, (void)dfdt, (void)ctx;
    double r2 = y[0] * y[0] + y[1] * y[1], r = sqrt(r2), r3 = r2 * r, r5 = r3 * r2;
    memset(J, 0, 16 * sizeof *J);
    J[0 * 4 + 2] = 1;
    J[1 * 4 + 3] = 1;
    /* -Hess V, V = -1/r */
    J[2 * 4 + 0] = -(1 / r3 - 3 * y[0] * y[0] / r5);
    J[2 * 4 + 1] = 3 * y[0] * y[1] / r5;
    J[3 * 4 + 0] = 3 * y[0] * y[1] / r5;
    J[3 * 4 + 1] = -(1 / r3 - 3 * y[1] * y[1] / r5);
    return 0;
}

static double kep_energy(const double *y)
{
    return 0.5 * (y[2] * y[2] + y[3] * y[3]) - 1 / hypot(y[0], y[1]);
}

/* FPU chain: q_0 = q_{N+1} = 0. */
static double fpu_d(const double *q, int i) /* q_{i+1} - q_i, i = 0..N */
{
    double a = i > 0 ? q[i - 1] : 0, b = i < FPU_N ? q[i] : 0;
    return b - a;
}

static int fpu_dT(const double *p, double *out, void *ctx)
{
    (void)ctx;
    memcpy(out, p, FPU_N * sizeof *out);
    return 0;
}

static int fpu_dV(const double *q, double *out, void *ctx)
{
    (void)ctx;
    for (int i = 0; i < FPU_N; i++) { /* dV/dq_i = V'(d_{i}) - V'(d_{i+1}) in 0-based q */
        double dl = fpu_d(q, i), dr = fpu_d(q, i + 1);
        out[i] = (dl + dl * dl * dl) - (dr + dr * dr * dr);
    }
    return 0;
}

static int fpu_f(double t, const double *y, double *dy, void *ctx)
{
    (void)t;
    memcpy(dy, y + FPU_N, FPU_N * sizeof *dy);
    fpu_dV(y, dy + FPU_N, ctx);
    for (int i = 0; i < FPU_N; i++)
        dy[FPU_N + i] = -dy[FPU_N + i];
    return 0;
}

static int fpu_jac(double t, const double *y, double *J, double *dfdt, void *ctx)
{
    (void)t, (void)dfdt, (void)ctx;
    const int m = 2 * FPU_N;
    memset(J, 0, (size_t)m * m * sizeof *J);
    for (int i = 0; i < FPU_N; i++) {
        J[i * m + FPU_N + i] = 1;
        double kl = 1 + 3 * fpu_d(y, i) * fpu_d(y, i), kr = 1 + 3 * fpu_d(y, i + 1) * fpu_d(y, i + 1);
        double *row = J + (FPU_N + i) * m; /* -Hess V */
        row[i] = -(kl + kr);
        if (i > 0) row[i - 1] = kl;
        if (i + 1 < FPU_N) row[i + 1] = kr;
    }
    return 0;
}

static double fpu_energy(const double *y)
{
    double h = 0;
    for (int i = 0; i < FPU_N; i++)
        h += 0.5 * y[FPU_N + i] * y[FPU_N + i];
    for (int i = 0; i <= FPU_N; i++) {
        double d = fpu_d(y, i);
        h += 0.5 * d * d + 0.25 * d * d * d * d;
    }
    return h;
}

struct case_ {
    const char *name;
    size_t n;
    struct symp_problem p;
    double step;
    long steps;
    double (*energy)(const double *y);
};

static int run(const struct case_ *c, const struct symp_method *m, int repeat)
{
    const long n_out = c->steps / 10;
    const size_t dim = 2 * c->n;
    double *ts = malloc((size_t)n_out * sizeof *ts), *ys = malloc((size_t)n_out * dim * sizeof *ys);
    double *cpu = malloc((size_t)repeat * sizeof *cpu);
    if (!ts || !ys || !cpu) return 1;
    for (long i = 0; i < n_out; i++)
        ts[i] = (double)(i + 1) * 10 * c->step;
    struct symp_problem p = c->p;
    p.t_out = ts;
    p.n_out = (size_t)n_out;
    struct symp_options o;
    symp_options_init(&o);
    o.step = c->step;
    struct ode_stats st = {0};
    for (int r = 0; r < repeat; r++) {
        err e = {0};
        double t0 = bench_cpu_now();
        err_code rc = symp_solve(m, &p, &o, ys, &st, &e);
        cpu[r] = bench_cpu_now() - t0;
        if (rc) {
            fprintf(stderr, "%s %s: %s\n", c->name, m->name, e.message);
            return 1;
        }
    }
    qsort(cpu, (size_t)repeat, sizeof *cpu, bench_cmp_double);
    double E0 = c->energy(p.y0), worst = 0;
    for (long i = 0; i < n_out; i++)
        worst = fmax(worst, fabs(c->energy(ys + (size_t)i * dim) - E0) / fabs(E0));
    double steps = (double)st.n_accepted;
    printf("{\"bench\":\"symplectic\",\"problem\":\"%s\",\"n\":%zu,\"method\":\"%s\","
           "\"order\":%d,\"step\":%.6g,\"steps\":%ld,\"nfe_per_step\":%.3f,"
           "\"newton_per_step\":%.3f,\"ns_per_step\":%.1f,\"energy_rel_err\":%.3e,"
           "\"repeat\":%d}\n",
           c->name, c->n, m->name, m->order, c->step, st.n_accepted, (double)st.nfe / steps,
           (double)st.n_newton / steps, 1e9 * cpu[repeat / 2] / steps, worst, repeat);
    fflush(stdout);
    free(ts);
    free(ys);
    free(cpu);
    return 0;
}

int main(int argc, char **argv)
{
    int repeat = 5;
    const char *methods = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--methods") && i + 1 < argc) methods = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--repeat N] [--methods a,b,...]\n", argv[0]);
            return 2;
        }
    }
    if (repeat < 1) repeat = 1;
    openblas_set_num_threads(1);

    static const double kep_y0[4] = {0.5, 0, 0, 1.7320508075688772};
    static double fpu_y0[2 * FPU_N];
    for (int i = 0; i < FPU_N; i++) /* the lowest mode, amplitude 1 */
        fpu_y0[i] = sin(M_PI * (i + 1) / (FPU_N + 1));
    struct case_ cases[2] = {
        {"kepler", 2, {.n = 2, .dT_dp = kep_dT, .dV_dq = kep_dV, .f = kep_f, .jac = kep_jac,
                       .autonomous = 1,
                       .y0 = kep_y0}, 2 * M_PI / 200, 100 * 200, kep_energy},
        {"fpu", FPU_N, {.n = FPU_N, .dT_dp = fpu_dT, .dV_dq = fpu_dV, .f = fpu_f, .jac = fpu_jac,
                        .autonomous = 1,
                        .y0 = fpu_y0}, 0.05, 2000, fpu_energy},
    };
    for (int c = 0; c < 2; c++)
        for (size_t k = 0; symp_method_names[k]; k++) {
            const char *name = symp_method_names[k];
            if (methods) { /* a comma-separated list: exact names only */
                const char *at = strstr(methods, name);
                size_t len = strlen(name);
                if (!at || (at != methods && at[-1] != ',') || (at[len] && at[len] != ','))
                    continue;
            }
            if (run(&cases[c], symp_method_find(name), repeat)) return 1;
        }
    return 0;
}
