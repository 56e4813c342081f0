# tests for nn: activations, vectorised elementary functions, MLPs.
check_PROGRAMS += tests/check_nn
TESTS += tests/check_nn
tests_check_nn_SOURCES = tests/check_nn.c tests/testutil.c tests/testutil.h
tests_check_nn_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS)
tests_check_nn_LDADD = src/nn/libnn.la src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lm -lpthread
