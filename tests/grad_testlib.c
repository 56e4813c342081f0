/* tests/grad_testlib.c: see grad_testlib.h. */
#include "grad_testlib.h"

#include <check.h>
#include <math.h>

mlp *gt_net(const mlp_spec *spec, rng *r, double scale)
{
    mlp *m = NULL;
    err e;
    err_clear(&e);
    ck_assert_msg(mlp_new(&m, spec, &e) == ERR_OK, "%s", e.message);
    double *p = mlp_params(m);
    for (size_t i = 0; i < mlp_n_params(m); i++)
        p[i] = scale * rng_uniform_range(r, -1, 1);
    return m;
}

mlp *gt_net2(size_t in, bool time, size_t hidden, size_t out, act_kind act, rng *r, double scale)
{
    mlp_layer layers[2] = {{.kind = MLP_LINEAR, .in = in + time, .out = hidden, .act = act},
                           {.kind = MLP_LINEAR, .in = hidden, .out = out, .act = ACT_IDENTITY}};
    const mlp_spec spec = {.state_dim = in, .time_input = time, .n_layers = 2, .layers = layers};
    return gt_net(&spec, r, scale);
}

void gt_close(const char *what, size_t i, double g, double ref, double abs_tol, double rel_tol)
{
    ck_assert_msg(fabs(g - ref) <= abs_tol + rel_tol * fabs(ref),
                  "%s[%zu]: gradient %.15g, reference %.15g (diff %.3g)", what, i, g, ref,
                  fabs(g - ref));
}

void gt_central(const char *what, double (*loss)(void *ctx), void *ctx, double *x, size_t n,
                double h, const double *g, double abs_tol, double rel_tol)
{
    for (size_t i = 0; i < n; i++) {
        const double keep = x[i];
        x[i] = keep + h;
        const double lp = loss(ctx);
        x[i] = keep - h;
        const double lm = loss(ctx);
        x[i] = keep;
        gt_close(what, i, g[i], (lp - lm) / (2 * h), abs_tol, rel_tol);
    }
}
