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
