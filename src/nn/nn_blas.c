/* nn/nn_blas.c: see nn_blas.h. */
#include "build_config.h" /* autoconf: HAVE_OPENBLAS */

#include "nn/nn_blas.h"

#include <stddef.h>

#ifdef HAVE_OPENBLAS
#include <cblas.h>
#endif

const char *nn_blas_config(void)
{
#ifdef HAVE_OPENBLAS
    return openblas_get_config();
#else
    return NULL;
#endif
}

void nn_blas_single_thread(void)
{
#ifdef HAVE_OPENBLAS
    openblas_set_num_threads(1);
#endif
}
