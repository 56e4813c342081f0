# tests for store: real database files in a temporary directory.
check_PROGRAMS += tests/check_store
TESTS += tests/check_store
tests_check_store_SOURCES = tests/check_store.c
tests_check_store_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE_CFLAGS)
tests_check_store_LDADD = src/store/libstore.la src/core/libcore.la $(SQLITE_LIBS) \
	$(CHECK_LIBS) -lpthread
