#include "mlp_testlib.h"

#include <check.h>
#include <math.h>

#include "core/err.h"

const act_kind mt_smooth[MT_N_SMOOTH] = {ACT_IDENTITY, ACT_TANH, ACT_SOFTPLUS, ACT_SIGMOID,
                                         ACT_SILU,     ACT_CUBE, ACT_SQUARE,   ACT_SIN};

double mt_urand(uint64_t *state, double lo, double hi)
{
    uint64_t s = *state;
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    *state = s;
    return lo + (hi - lo) * ((double)(s >> 11) * 0x1p-53);
}

mlp *mt_net(size_t d, size_t width, act_kind act, uint64_t *state)
{
    const mlp_layer L[] = {{MLP_LINEAR, d, width, act},
                           {MLP_ELEMENTWISE, 0, 0, act},
                           {MLP_LINEAR, width, 5, act},
                           {MLP_LINEAR, 5, 1, ACT_IDENTITY}};
    mlp_spec s = {.state_dim = d, .n_layers = 4, .layers = L};
    mlp *m = NULL;
    err e;
    err_clear(&e);
    ck_assert_msg(mlp_new(&m, &s, &e) == ERR_OK, "%s: %s", e.field, e.message);
    double *p = mlp_params(m);
    const double sc = act == ACT_CUBE || act == ACT_SQUARE ? 0.4 : 0.9;
    for (size_t i = 0; i < mlp_n_params(m); i++)
        p[i] = mt_urand(state, -sc, sc);
    return m;
}

void mt_near(double a, double b, const char *what, size_t i)
{
    ck_assert_msg(fabs(a - b) <= 1e-6 * fmax(1.0, fabs(a)), "%s[%zu]: %.17g vs fd %.17g", what, i,
                  a, b);
}

void mt_check_refusals(err_code (*try_new)(const mlp *m, err *e))
{
    const mlp_layer relu[] = {{MLP_LINEAR, 2, 4, ACT_RELU}, {MLP_LINEAR, 4, 1, ACT_IDENTITY}};
    const mlp_layer two[] = {{MLP_LINEAR, 2, 4, ACT_TANH}, {MLP_LINEAR, 4, 2, ACT_IDENTITY}};
    const mlp_layer *ls[] = {relu, two};
    const char *field[] = {"layers[0].activation", "layers[1]"};
    for (int i = 0; i < 2; i++) {
        mlp_spec s = {.state_dim = 2, .n_layers = 2, .layers = ls[i]};
        mlp *m = NULL;
        ck_assert_int_eq(mlp_new(&m, &s, NULL), ERR_OK);
        err e;
        err_clear(&e);
        ck_assert_int_eq(try_new(m, &e), ERR_INVALID);
        ck_assert_str_eq(e.field, field[i]);
        mlp_free(m);
    }
}
