/* nn/act.c: activations over arrays. See act.h. */
#include "nn/act.h"

#include "nn/simd.h"
#include "nn/vmath.h"

#include <math.h>
#include <string.h>

static const char *const act_names[MLP_ACT__COUNT] = {
    [MLP_ACT_IDENTITY] = "identity", [MLP_ACT_TANH] = "tanh",       [MLP_ACT_RELU] = "relu",
    [MLP_ACT_SOFTPLUS] = "softplus", [MLP_ACT_SIGMOID] = "sigmoid", [MLP_ACT_ELU] = "elu",
    [MLP_ACT_SILU] = "silu",         [MLP_ACT_CUBE] = "cube",       [MLP_ACT_SQUARE] = "square",
    [MLP_ACT_SIN] = "sin",
};

err_code mlp_act_from_name(const char *name, mlp_act *out, err *e)
{
    for (int i = 0; name && i < MLP_ACT__COUNT; i++) {
        if (strcmp(name, act_names[i]) == 0) {
            *out = (mlp_act)i;
            return ERR_OK;
        }
    }
    return err_set(e, ERR_INVALID, NULL,
                   "unknown activation \"%.40s\" (expected identity, tanh, relu, softplus, "
                   "sigmoid, elu, silu, cube, square or sin)",
                   name ? name : "(null)");
}

bool mlp_act_deriv_from_output(mlp_act act)
{
    return act == MLP_ACT_IDENTITY || act == MLP_ACT_TANH || act == MLP_ACT_RELU ||
           act == MLP_ACT_SIGMOID || act == MLP_ACT_ELU;
}

const char *mlp_act_name(mlp_act act)
{
    if ((int)act < 0 || act >= MLP_ACT__COUNT) return "?";
    return act_names[act];
}

NN_CLONES void mlp_act_apply(mlp_act act, size_t n, const double *z, double *a)
{
    switch (act) {
    case MLP_ACT_IDENTITY:
        if (a != z) memmove(a, z, n * sizeof *a);
        break;
    case MLP_ACT_TANH:
        vm_tanh(n, z, a);
        break;
    case MLP_ACT_SOFTPLUS:
        vm_softplus(n, z, a);
        break;
    case MLP_ACT_SIGMOID:
        vm_sigmoid(n, z, a);
        break;
    case MLP_ACT_ELU:
        vm_elu(n, z, a);
        break;
    case MLP_ACT_SILU:
        vm_silu(n, z, a);
        break;
    case MLP_ACT_RELU:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            a[i] = z[i] < 0 ? 0.0 : z[i]; /* keeps NaN */
        break;
    case MLP_ACT_CUBE:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            a[i] = z[i] * z[i] * z[i];
        break;
    case MLP_ACT_SQUARE:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            a[i] = z[i] * z[i];
        break;
    case MLP_ACT_SIN:
        for (size_t i = 0; i < n; i++)
            a[i] = sin(z[i]);
        break;
    case MLP_ACT__COUNT:
        break;
    }
}

void mlp_act_deriv(mlp_act act, size_t n, const double *z, const double *a, double *d)
{
    switch (act) {
    case MLP_ACT_IDENTITY:
        for (size_t i = 0; i < n; i++)
            d[i] = 1.0;
        break;
    case MLP_ACT_TANH:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            d[i] = 1.0 - a[i] * a[i];
        break;
    case MLP_ACT_RELU:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            d[i] = a[i] > 0 ? 1.0 : 0.0; /* a > 0 iff z > 0 */
        break;
    case MLP_ACT_SOFTPLUS:
        vm_sigmoid(n, z, d);
        break;
    case MLP_ACT_SIGMOID:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            d[i] = a[i] * (1.0 - a[i]);
        break;
    case MLP_ACT_ELU:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            d[i] = a[i] > 0 ? 1.0 : a[i] + 1.0; /* a > 0 iff z > 0; else a + 1 = e^z */
        break;
    case MLP_ACT_SILU: /* s (1 + z (1 - s)), s = sigmoid(z) */
        vm_sigmoid(n, z, d);
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            d[i] = d[i] * (1.0 + z[i] * (1.0 - d[i]));
        break;
    case MLP_ACT_CUBE:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            d[i] = 3.0 * z[i] * z[i];
        break;
    case MLP_ACT_SQUARE:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            d[i] = 2.0 * z[i];
        break;
    case MLP_ACT_SIN:
        for (size_t i = 0; i < n; i++)
            d[i] = cos(z[i]);
        break;
    case MLP_ACT__COUNT:
        break;
    }
}

void mlp_act_grad(mlp_act act, size_t n, const double *z, const double *a, double *g)
{
    enum { CHUNK = 256 };
    double d[CHUNK];
    if (act == MLP_ACT_IDENTITY) return;
    for (size_t i0 = 0; i0 < n; i0 += CHUNK) {
        size_t m = n - i0 < CHUNK ? n - i0 : CHUNK;
        mlp_act_deriv(act, m, z + i0, a + i0, d);
        double *gi = g + i0;
#pragma omp simd
        for (size_t i = 0; i < m; i++)
            gi[i] *= d[i];
    }
}
