/* nn/act.c: activations over arrays. See act.h. */
#include "nn/act.h"

#include "nn/simd.h"
#include "nn/vmath.h"

#include <math.h>
#include <string.h>

static const char *const act_names[ACT__COUNT] = {
    [ACT_IDENTITY] = "identity", [ACT_TANH] = "tanh",       [ACT_RELU] = "relu",
    [ACT_SOFTPLUS] = "softplus", [ACT_SIGMOID] = "sigmoid", [ACT_ELU] = "elu",
    [ACT_SILU] = "silu",         [ACT_CUBE] = "cube",       [ACT_SQUARE] = "square",
    [ACT_SIN] = "sin",
};

err_code act_from_name(const char *name, act_kind *out, err *e)
{
    for (int i = 0; name && i < ACT__COUNT; i++) {
        if (strcmp(name, act_names[i]) == 0) {
            *out = (act_kind)i;
            return ERR_OK;
        }
    }
    return err_set(e, ERR_INVALID, NULL,
                   "unknown activation \"%.40s\" (expected identity, tanh, relu, softplus, "
                   "sigmoid, elu, silu, cube, square or sin)",
                   name ? name : "(null)");
}

bool act_deriv_from_output(act_kind act)
{
    return act == ACT_IDENTITY || act == ACT_TANH || act == ACT_RELU || act == ACT_SIGMOID ||
           act == ACT_ELU;
}

const char *act_name(act_kind act)
{
    if ((int)act < 0 || act >= ACT__COUNT) return "?";
    return act_names[act];
}

SIMD_CLONES void act_apply(act_kind act, size_t n, const double *z, double *a)
{
    switch (act) {
    case ACT_IDENTITY:
        if (a != z) memmove(a, z, n * sizeof *a);
        break;
    case ACT_TANH:
        vmath_tanh(n, z, a);
        break;
    case ACT_SOFTPLUS:
        vmath_softplus(n, z, a);
        break;
    case ACT_SIGMOID:
        vmath_sigmoid(n, z, a);
        break;
    case ACT_ELU:
        vmath_elu(n, z, a);
        break;
    case ACT_SILU:
        vmath_silu(n, z, a);
        break;
    case ACT_RELU:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            a[i] = z[i] < 0 ? 0.0 : z[i]; /* keeps NaN */
        break;
    case ACT_CUBE:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            a[i] = z[i] * z[i] * z[i];
        break;
    case ACT_SQUARE:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            a[i] = z[i] * z[i];
        break;
    case ACT_SIN:
        for (size_t i = 0; i < n; i++)
            a[i] = sin(z[i]);
        break;
    case ACT__COUNT:
        break;
    }
}

void act_deriv(act_kind act, size_t n, const double *z, const double *a, double *d)
{
    switch (act) {
    case ACT_IDENTITY:
        for (size_t i = 0; i < n; i++)
            d[i] = 1.0;
        break;
    case ACT_TANH:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            d[i] = 1.0 - a[i] * a[i];
        break;
    case ACT_RELU:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            d[i] = a[i] > 0 ? 1.0 : 0.0; /* a > 0 iff z > 0 */
        break;
    case ACT_SOFTPLUS:
        vmath_sigmoid(n, z, d);
        break;
    case ACT_SIGMOID:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            d[i] = a[i] * (1.0 - a[i]);
        break;
    case ACT_ELU:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            d[i] = a[i] > 0 ? 1.0 : a[i] + 1.0; /* a > 0 iff z > 0; else a + 1 = e^z */
        break;
    case ACT_SILU: /* s (1 + z (1 - s)), s = sigmoid(z) */
        vmath_sigmoid(n, z, d);
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            d[i] = d[i] * (1.0 + z[i] * (1.0 - d[i]));
        break;
    case ACT_CUBE:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            d[i] = 3.0 * z[i] * z[i];
        break;
    case ACT_SQUARE:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            d[i] = 2.0 * z[i];
        break;
    case ACT_SIN:
        for (size_t i = 0; i < n; i++)
            d[i] = cos(z[i]);
        break;
    case ACT__COUNT:
        break;
    }
}

void act_deriv2(act_kind act, size_t n, const double *z, const double *a, double *d)
{
    for (size_t i = 0; i < n; i++) {
        double s;
        switch (act) {
        case ACT_TANH:
            d[i] = -2.0 * a[i] * (1.0 - a[i] * a[i]);
            break;
        case ACT_SOFTPLUS:
            s = 1.0 / (1.0 + exp(-z[i]));
            d[i] = s * (1.0 - s);
            break;
        case ACT_SIGMOID:
            d[i] = a[i] * (1.0 - a[i]) * (1.0 - 2.0 * a[i]);
            break;
        case ACT_SILU:
            s = 1.0 / (1.0 + exp(-z[i]));
            d[i] = s * (1.0 - s) * (2.0 + z[i] * (1.0 - 2.0 * s));
            break;
        case ACT_ELU: /* act' is a + 1 = e^z below 0 (act_deriv's side at 0) */
            d[i] = a[i] > 0 ? 0.0 : a[i] + 1.0;
            break;
        case ACT_CUBE:
            d[i] = 6.0 * z[i];
            break;
        case ACT_SQUARE:
            d[i] = 2.0;
            break;
        case ACT_SIN:
            d[i] = -a[i];
            break;
        default: /* identity; relu (piecewise linear) */
            d[i] = 0.0;
            break;
        }
    }
}

SIMD_CLONES void act_grad(act_kind act, size_t n, const double *z, const double *a, double *g)
{
    enum { CHUNK = 256 };
    double d[CHUNK];
    if (act == ACT_IDENTITY) return;
    if (act == ACT_TANH) { /* act_deriv's 1 - a^2, fused: the same operations */
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            g[i] *= 1.0 - a[i] * a[i];
        return;
    }
    for (size_t i0 = 0; i0 < n; i0 += CHUNK) {
        size_t m = n - i0 < CHUNK ? n - i0 : CHUNK;
        act_deriv(act, m, z + i0, a + i0, d);
        double *gi = g + i0;
#pragma omp simd
        for (size_t i = 0; i < m; i++)
            gi[i] *= d[i];
    }
}
