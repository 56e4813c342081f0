/* model/cde_field.h (private to cde_model.c and grad_cde.c): the CDE field
 * product dz = F v, F a hidden x channels matrix stored row-major (the
 * vector_field network's output, cde_model.h), v the path's derivative.
 * Pure arithmetic on caller-owned buffers; thread-safe.
 *
 * One loop for the solver's right-hand side and the trainer's, so the two
 * sum in the same order and agree to the bit. */
#ifndef ODESERVE_MODEL_CDE_FIELD_H
#define ODESERVE_MODEL_CDE_FIELD_H

#include <stddef.h>

/* dz[i] = sum_j F[i * channels + j] * v[j], j in increasing order. */
static inline void cde_field_product(size_t hidden, size_t channels, const double *F,
                                     const double *v, double *dz)
{
    for (size_t i = 0; i < hidden; i++) {
        const double *row = F + i * channels;
        double acc = 0;
        for (size_t j = 0; j < channels; j++)
            acc += row[j] * v[j];
        dz[i] = acc;
    }
}

#endif
