/* nn/linear.c: one linear layer over a batch, forward and reverse. See
 * linear.h. */
#include "nn/linear.h"

#include "nn/panel.h"
#include "nn/simd.h"

#include <cblas.h>
#include <string.h>

/* gp = W^T g (in values), four rows of W per pass over gp. */
SIMD_CLONES static void matvec_t(size_t out, size_t in, const double *W, const double *g,
                                 double *gp)
{
    memset(gp, 0, in * sizeof *gp);
    size_t o = 0;
    for (; o + 4 <= out; o += 4) {
        const double *w0 = W + o * in, *w1 = w0 + in, *w2 = w1 + in, *w3 = w2 + in;
        double g0 = g[o], g1 = g[o + 1], g2 = g[o + 2], g3 = g[o + 3];
#pragma omp simd
        for (size_t i = 0; i < in; i++)
            gp[i] += (g0 * w0[i] + g1 * w1[i]) + (g2 * w2[i] + g3 * w3[i]);
    }
    for (; o < out; o++) {
        const double *w = W + o * in;
        double go = g[o];
#pragma omp simd
        for (size_t i = 0; i < in; i++)
            gp[i] += go * w[i];
    }
}

/* dW += g u^T (out x in), db += g. */
SIMD_CLONES static void outer_acc(size_t out, size_t in, const double *g, const double *u,
                                  double *dW, double *db)
{
    for (size_t o = 0; o < out; o++) {
        double *d = dW + o * in;
        double go = g[o];
#pragma omp simd
        for (size_t i = 0; i < in; i++)
            d[i] += go * u[i];
        db[o] += go;
    }
}

/* y += x */
static void add_to(size_t n, const double *x, double *y)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        y[i] += x[i];
}

void linear_forward(size_t n, size_t out, size_t in, const double *W, const double *P,
                    const double *b, const double *u, double *z)
{
    if (n < LINEAR_GEMM_MIN_BATCH) {
        panel_matvec_n(n, out, in, W, P, b, u, z);
        return;
    }
    for (size_t k = 0; k < n; k++) {
        if (b)
            memcpy(z + k * out, b, out * sizeof *b);
        else
            memset(z + k * out, 0, out * sizeof *z);
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out, (int)in, 1.0, u, (int)in,
                W, (int)in, 1.0, z, (int)out);
}

void linear_param_grad(size_t n, size_t out, size_t in, const double *g, const double *u,
                       double *dW, double *db)
{
    if (n < LINEAR_GEMM_MIN_BATCH) {
        for (size_t k = 0; k < n; k++)
            outer_acc(out, in, g + k * out, u + k * in, dW, db);
        return;
    }
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)n, 1.0, g,
                (int)out, u, (int)in, 1.0, dW, (int)in);
    for (size_t k = 0; k < n; k++)
        add_to(out, g + k * out, db);
}

void linear_input_grad(size_t n, size_t out, size_t in, const double *W, const double *g,
                       double *gp)
{
    if (n < LINEAR_GEMM_MIN_BATCH) {
        for (size_t k = 0; k < n; k++)
            matvec_t(out, in, W, g + k * out, gp + k * in);
        return;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)in, (int)out, 1.0, g,
                (int)out, W, (int)in, 0.0, gp, (int)in);
}
