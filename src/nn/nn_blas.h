/* nn/nn_blas.h: the process-wide BLAS settings and which BLAS the networks run
 * on (GET /v1/version); callers need not know the BLAS API.
 *
 * Thread safety: nn_blas_config may be called from any thread. */
#ifndef ODESERVE_NN_NN_BLAS_H
#define ODESERVE_NN_NN_BLAS_H

/* OpenBLAS's build description ("OpenBLAS 0.3.21 DYNAMIC_ARCH ..."), static
 * storage; NULL when built on another BLAS, which does not say. */
const char *nn_blas_config(void);

/* Make BLAS calls single-threaded for the whole process: parallelism comes
 * from serving requests and running jobs at once, not from inside a GEMM.
 * Call once at start, before any worker thread runs. */
void nn_blas_single_thread(void);

#endif
