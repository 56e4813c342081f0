/* stiff_testlib.c: see stiff_testlib.h. */
#include "stiff_testlib.h"

#include "model/rng.h"

void stiff_mlp_params(double fast, uint64_t seed, double *p)
{
    rng r;
    rng_seed(&r, seed);
    const double s = 0.05;
    const double V[9] = {1.0, 0.3, 0.2, 0.1, 1.0, 0.4, 0.2, 0.1, 1.0};
    const double Bm[9] = {-0.1, 1.0, 0.0, -1.0, -0.1, 0.0, 0.0, 0.0, -fast};
    /* V^-1 by cofactors */
    double Vi[9];
    const double det = V[0] * (V[4] * V[8] - V[5] * V[7]) - V[1] * (V[3] * V[8] - V[5] * V[6]) +
                       V[2] * (V[3] * V[7] - V[4] * V[6]);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            const int r0 = (j + 1) % 3, r1 = (j + 2) % 3, c0 = (i + 1) % 3, c1 = (i + 2) % 3;
            Vi[i * 3 + j] =
                (V[r0 * 3 + c0] * V[r1 * 3 + c1] - V[r0 * 3 + c1] * V[r1 * 3 + c0]) / det;
        }
    double VB[9], M[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            VB[i * 3 + j] = 0;
            for (int k = 0; k < 3; k++)
                VB[i * 3 + j] += V[i * 3 + k] * Bm[k * 3 + j];
        }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            M[i * 3 + j] = 0;
            for (int k = 0; k < 3; k++)
                M[i * 3 + j] += VB[i * 3 + k] * Vi[k * 3 + j];
        }
    double *W1 = p, *b1 = p + 24, *W2 = p + 32, *b2 = p + 56;
    for (int h = 0; h < 8; h++) {
        for (int k = 0; k < 3; k++)
            W1[h * 3 + k] = h < 3 ? (h == k ? s : 0.0) : rng_uniform_range(&r, -1, 1);
        b1[h] = h < 3 ? 0.0 : rng_uniform_range(&r, -0.5, 0.5);
    }
    for (int o = 0; o < 3; o++) {
        for (int h = 0; h < 8; h++)
            W2[o * 8 + h] = h < 3 ? M[o * 3 + h] / s : rng_uniform_range(&r, -0.5, 0.5);
        b2[o] = rng_uniform_range(&r, -0.2, 0.2);
    }
}
