/* check_model_def: validation of model_def (model/model_def.h): the
 * offending field named as the model document spells it. */
#include "model/model_def.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ode, state 2 (+ augment): in -> 4 (tanh) -> elementwise cube -> 2 + aug */
static void make_ode(model_def *d, size_t augment_dim)
{
    model_def_init(d);
    size_t dim = 2 + augment_dim;
    d->kind = MODEL_KIND_ODE;
    d->state_dim = 2;
    d->augment_dim = augment_dim;
    d->n_nets = 1;
    d->nets[0].in_dim = dim;
    d->nets[0].n_layers = 3;
    d->nets[0].layers[0] = (mlp_layer){MLP_LINEAR, dim, 4, ACT_TANH};
    d->nets[0].layers[1] = (mlp_layer){MLP_ELEMENTWISE, 0, 0, ACT_CUBE};
    d->nets[0].layers[2] = (mlp_layer){MLP_LINEAR, 4, dim, ACT_IDENTITY};
    d->n_params = dim * 4 + 4 + 4 * dim + dim;
    d->params = calloc(d->n_params, sizeof *d->params);
    ck_assert_ptr_nonnull(d->params);
}

static void expect_field(const model_def *d, const char *field)
{
    err e;
    err_clear(&e);
    ck_assert_int_eq(model_def_validate(d, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, field);
    ck_assert(e.message[0] != '\0');
}

START_TEST(valid_model)
{
    model_def d;
    make_ode(&d, 1);
    err e;
    err_clear(&e);
    ck_assert_int_eq(model_def_validate(&d, &e), ERR_OK);
    model_def_free(&d);
}
END_TEST

START_TEST(non_finite_parameter_named)
{
    model_def d;
    make_ode(&d, 0);
    d.params[1 * 2 + 1] = NAN; /* layers[0].weight[1][1] */
    expect_field(&d, "vector_field.layers[0].weight[1][1]");
    d.params[1 * 2 + 1] = 0;
    d.params[8 + 3] = INFINITY; /* layers[0].bias[3] */
    expect_field(&d, "vector_field.layers[0].bias[3]");
    d.params[8 + 3] = 0;
    d.params[12 + 4 + 2] = -INFINITY; /* layers[2].weight[1][2] (layer 1 is elementwise) */
    expect_field(&d, "vector_field.layers[2].weight[1][2]");
    d.params[12 + 4 + 2] = 0;
    d.params[d.n_params - 1] = NAN; /* layers[2].bias[1] */
    expect_field(&d, "vector_field.layers[2].bias[1]");
    model_def_free(&d);
}
END_TEST

START_TEST(shapes)
{
    model_def d;
    make_ode(&d, 0);
    d.nets[0].layers[1].in = 3; /* elementwise after width 4 */
    expect_field(&d, "vector_field.layers[1]");
    d.nets[0].layers[1].in = 4;
    err e;
    err_clear(&e);
    ck_assert_int_eq(model_def_validate(&d, &e), ERR_OK);
    model_def_free(&d);

    make_ode(&d, 0); /* an input wider than an mlp may take */
    d.state_dim = MLP_MAX_WIDTH;
    d.nets[0].in_dim = MLP_MAX_WIDTH;
    d.nets[0].layers[0].in = MLP_MAX_WIDTH;
    d.nets[0].layers[2].out = MLP_MAX_WIDTH;
    expect_field(&d, "vector_field.layers[0]");
    model_def_free(&d);
}
END_TEST

START_TEST(solver_method)
{
    model_solver s;
    memset(&s, 0, sizeof s);
    err e;
    err_clear(&e);
    ck_assert_int_eq(model_solver_validate(&s, &e), ERR_OK);
    memset(s.method, 'x', sizeof s.method); /* no terminating NUL */
    ck_assert_int_eq(model_solver_validate(&s, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "solver.method");
    memcpy(s.method, "tsit5", 6);
    err_clear(&e);
    ck_assert_int_eq(model_solver_validate(&s, &e), ERR_OK);
    model_solver over = {.rtol = 1e-9}, out;
    s.rtol = 1e-6, s.atol = 1e-8;
    model_solver_merge(&s, &over, &out);
    ck_assert_str_eq(out.method, "tsit5");
    ck_assert(out.rtol == 1e-9 && out.atol == 1e-8);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("model_def");
    TCase *tc = tcase_create("errors");
    tcase_add_test(tc, valid_model);
    tcase_add_test(tc, non_finite_parameter_named);
    tcase_add_test(tc, shapes);
    tcase_add_test(tc, solver_method);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
