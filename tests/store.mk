# tests for store: real database files in a temporary directory.
check_PROGRAMS += tests/check_store
TESTS += tests/check_store

# models and versions in SQLite; the cache of loaded versions.
check_PROGRAMS += tests/check_models tests/check_model_cache
TESTS += tests/check_models tests/check_model_cache
store_test_ldadd = src/store/libstore.la src/model/libmodel.la src/nn/libnn.la \
	src/num/libnum.la src/core/libcore.la $(SQLITE_LIBS) $(BLAS_LIBS) $(CHECK_LIBS) -lm -lpthread
tests_check_store_SOURCES = tests/check_store.c tests/store_testlib.c tests/store_testlib.h \
	tests/testutil.c tests/testutil.h
tests_check_store_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE_CFLAGS)
tests_check_store_LDADD = $(store_test_ldadd)
tests_check_models_SOURCES = tests/check_models.c tests/store_testlib.c tests/store_testlib.h \
	tests/testutil.c tests/testutil.h
tests_check_models_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE_CFLAGS)
tests_check_models_LDADD = $(store_test_ldadd)
tests_check_model_cache_SOURCES = tests/check_model_cache.c tests/store_testlib.c \
	tests/store_testlib.h tests/testutil.c tests/testutil.h
tests_check_model_cache_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE_CFLAGS)
tests_check_model_cache_LDADD = $(store_test_ldadd)

# SQLite I/O errors, a full disk and SQLITE_BUSY at every write site of a
# model upload, a dataset upload and a training checkpoint (a fault VFS).
check_PROGRAMS += tests/check_faults
TESTS += tests/check_faults
tests_check_faults_SOURCES = tests/check_faults.c tests/faultvfs.c tests/faultvfs.h \
	tests/leakscan.c tests/leakscan.h tests/store_testlib.c tests/store_testlib.h \
	tests/testutil.c tests/testutil.h
tests_check_faults_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE_CFLAGS)
tests_check_faults_LDADD = $(store_test_ldadd)
