# num: the solvers against SciPy fixtures and analytic solutions.
# jansson reads the fixture in the test only; libnum never links it.
check_PROGRAMS += tests/check_num
TESTS += tests/check_num
tests_check_num_SOURCES = tests/check_num.c tests/check_num_order.c tests/check_num_errors.c tests/check_num_events.c \
	tests/num_check.h tests/num_testlib.c tests/num_testlib.h tests/testutil.c tests/testutil.h
tests_check_num_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_num_LDADD = src/num/libnum.la src/core/libcore.la $(JANSSON_LIBS) $(CHECK_LIBS) -lm

# num: the implicit methods against the stiff fixture (gen_reference.py --stiff).
check_PROGRAMS += tests/check_num_stiff
TESTS += tests/check_num_stiff
tests_check_num_stiff_SOURCES = tests/check_num_stiff.c tests/testutil.c tests/testutil.h
tests_check_num_stiff_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_num_stiff_LDADD = src/num/libnum.la src/core/libcore.la $(JANSSON_LIBS) $(CHECK_LIBS) -lm

# num: the Brownian tree and the SDE solvers (statistical, fixed seeds; the
# OU reference is tests/fixtures/sde_ou.json, made by gen_sde_ou.py).
check_PROGRAMS += tests/check_sde
TESTS += tests/check_sde
tests_check_sde_SOURCES = tests/check_sde.c tests/testutil.c tests/testutil.h
tests_check_sde_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_sde_LDADD = src/num/libnum.la src/core/libcore.la $(JANSSON_LIBS) $(CHECK_LIBS) -lm

# num: the symplectic solvers (num/symplectic.h) against closed forms.
check_PROGRAMS += tests/check_symplectic
TESTS += tests/check_symplectic
tests_check_symplectic_SOURCES = tests/check_symplectic.c tests/testutil.c tests/testutil.h
tests_check_symplectic_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_symplectic_LDADD = src/num/libnum.la src/core/libcore.la $(CHECK_LIBS) -lm
