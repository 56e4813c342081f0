# Tests for the http layer: its pieces in-process (check_http: routes,
# error table, request ids, evaluation pool), and the real daemon over TCP
# (check_http_daemon, with the reusable client in tests/testutil.c).
check_PROGRAMS += tests/check_http tests/check_http_daemon
TESTS += tests/check_http tests/check_http_daemon

tests_check_http_SOURCES = tests/check_http.c
tests_check_http_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(MHD_CFLAGS) $(JANSSON_CFLAGS)
tests_check_http_LDADD = src/http/libhttp.la src/jobs/libjobs.la src/store/libstore.la \
	src/model/libmodel.la src/num/libnum.la src/nn/libnn.la src/core/libcore.la \
	$(CHECK_LIBS) $(MHD_LIBS) $(JANSSON_LIBS) $(SQLITE_LIBS) $(BLAS_LIBS) -lm -lpthread

tests_check_http_daemon_SOURCES = tests/check_http_daemon.c tests/testutil.c tests/testutil.h
tests_check_http_daemon_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_http_daemon_LDADD = $(CHECK_LIBS) $(JANSSON_LIBS)

# The API's JSON codecs in-process (numbers against Python's repr, model
# documents, trajectory requests and replies).
check_PROGRAMS += tests/check_codec
TESTS += tests/check_codec
tests_check_codec_SOURCES = tests/check_codec.c
tests_check_codec_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_codec_LDADD = src/http/libhttp.la src/jobs/libjobs.la src/store/libstore.la \
	src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(CHECK_LIBS) $(JANSSON_LIBS) $(MHD_LIBS) \
	$(SQLITE_LIBS) $(BLAS_LIBS) -lm -lpthread
