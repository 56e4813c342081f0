# tests for nn: activations, vectorised elementary functions, MLPs.
check_PROGRAMS += tests/check_nn
TESTS += tests/check_nn
tests_check_nn_SOURCES = tests/check_nn.c tests/testutil.c tests/testutil.h
tests_check_nn_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS)
tests_check_nn_LDADD = src/nn/libnn.la src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lm -lpthread

# the input gradient and Hessian of scalar MLPs (nn/mlp_grad.h)
check_PROGRAMS += tests/check_mlp_grad
TESTS += tests/check_mlp_grad
tests_check_mlp_grad_SOURCES = tests/check_mlp_grad.c tests/mlp_testlib.c tests/mlp_testlib.h tests/testutil.c tests/testutil.h
tests_check_mlp_grad_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS)
tests_check_mlp_grad_LDADD = src/nn/libnn.la src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lm -lpthread

# forward-mode tangents of MLPs and the reverse pass over them (nn/mlp_tangent.h)
check_PROGRAMS += tests/check_mlp_tangent
TESTS += tests/check_mlp_tangent
tests_check_mlp_tangent_SOURCES = tests/check_mlp_tangent.c tests/testutil.c tests/testutil.h
tests_check_mlp_tangent_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS)
tests_check_mlp_tangent_LDADD = src/nn/libnn.la src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lm -lpthread
# the second derivatives training needs (nn/mlp_grad2.h)
check_PROGRAMS += tests/check_mlp_grad2
TESTS += tests/check_mlp_grad2
tests_check_mlp_grad2_SOURCES = tests/check_mlp_grad2.c tests/mlp_testlib.c tests/mlp_testlib.h tests/testutil.c tests/testutil.h
tests_check_mlp_grad2_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS)
tests_check_mlp_grad2_LDADD = src/nn/libnn.la src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lm -lpthread
# the batched input Jacobian, one GEMM per layer (nn/mlp_jac_batch.h)
check_PROGRAMS += tests/check_mlp_jac_batch
TESTS += tests/check_mlp_jac_batch
tests_check_mlp_jac_batch_SOURCES = tests/check_mlp_jac_batch.c tests/testutil.c tests/testutil.h
tests_check_mlp_jac_batch_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS)
tests_check_mlp_jac_batch_LDADD = src/nn/libnn.la src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lm -lpthread

# the third derivative a lagrangian's training needs (nn/mlp_grad3.h)
check_PROGRAMS += tests/check_mlp_grad3
TESTS += tests/check_mlp_grad3
tests_check_mlp_grad3_SOURCES = tests/check_mlp_grad3.c tests/mlp_testlib.c tests/mlp_testlib.h tests/testutil.c tests/testutil.h
tests_check_mlp_grad3_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS)
tests_check_mlp_grad3_LDADD = src/nn/libnn.la src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lm -lpthread

# the fused reverse pass through the last two linear layers (nn/linear_pair.h)
check_PROGRAMS += tests/check_nn_pair
TESTS += tests/check_nn_pair
tests_check_nn_pair_SOURCES = tests/check_nn_pair.c tests/testutil.c tests/testutil.h
tests_check_nn_pair_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS)
tests_check_nn_pair_LDADD = src/nn/libnn.la src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lm -lpthread
