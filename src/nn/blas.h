/* nn/blas.h: which BLAS the networks run on, for reports such as
 * GET /v1/version; callers need not know the BLAS API.
 *
 * Thread safety: may be called from any thread. */
#ifndef ODESERVE_NN_BLAS_H
#define ODESERVE_NN_BLAS_H

/* OpenBLAS's build description ("OpenBLAS 0.3.21 DYNAMIC_ARCH ..."), static
 * storage; NULL when built on another BLAS, which does not say. */
const char *nn_blas_config(void);

#endif
