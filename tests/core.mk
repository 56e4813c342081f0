check_PROGRAMS += tests/check_core
TESTS += tests/check_core
tests_check_core_SOURCES = tests/check_core.c tests/testutil.c tests/testutil.h
tests_check_core_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_core_LDADD = src/core/libcore.la $(CHECK_LIBS)

# Per-client token buckets (core/ratelimit.h) on a test-driven clock.
check_PROGRAMS += tests/check_ratelimit
TESTS += tests/check_ratelimit
tests_check_ratelimit_SOURCES = tests/check_ratelimit.c tests/testutil.c tests/testutil.h
tests_check_ratelimit_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_ratelimit_LDADD = src/core/libcore.la $(CHECK_LIBS) -lpthread
