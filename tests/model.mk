# tests for model: neural ODE models against closed forms and SciPy fixtures.
# jansson reads the fixture in the test only; libmodel never links it.
check_PROGRAMS += tests/check_ode_model
TESTS += tests/check_ode_model
tests_check_ode_model_SOURCES = tests/check_ode_model.c
tests_check_ode_model_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS) $(BLAS_CFLAGS)
tests_check_ode_model_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(JANSSON_LIBS) $(CHECK_LIBS) $(BLAS_LIBS) -lm -lpthread

check_PROGRAMS += tests/check_model_def
TESTS += tests/check_model_def
tests_check_model_def_SOURCES = tests/check_model_def.c
tests_check_model_def_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_model_def_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lm -lpthread
