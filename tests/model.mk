# tests for model
# training maths (branch train): gradients, losses, optimisers, init, RNG
check_PROGRAMS += tests/check_grad tests/check_optim tests/check_loss_init
TESTS += tests/check_grad tests/check_optim tests/check_loss_init
tests_check_grad_SOURCES = tests/check_grad.c
tests_check_grad_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS)
tests_check_grad_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lm
tests_check_optim_SOURCES = tests/check_optim.c
tests_check_optim_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS) $(JANSSON_CFLAGS)
tests_check_optim_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(JANSSON_LIBS) $(CHECK_LIBS) $(BLAS_LIBS) -lm
tests_check_loss_init_SOURCES = tests/check_loss_init.c
tests_check_loss_init_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS) $(JANSSON_CFLAGS)
tests_check_loss_init_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(JANSSON_LIBS) $(CHECK_LIBS) $(BLAS_LIBS) -lm

# tests for model: neural ODE models against closed forms and SciPy fixtures.
# jansson reads the fixture in the test only; libmodel never links it.
check_PROGRAMS += tests/check_ode_model
TESTS += tests/check_ode_model
tests_check_ode_model_SOURCES = tests/check_ode_model.c
tests_check_ode_model_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS) $(BLAS_CFLAGS)
tests_check_ode_model_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(JANSSON_LIBS) $(CHECK_LIBS) $(BLAS_LIBS) -lm -lpthread
