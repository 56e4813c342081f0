# Tests for the http layer: its pieces in-process (check_http: routes,
# error table, request ids), and the real daemon over TCP
# (check_http_daemon, with the reusable client in tests/testutil.c).
check_PROGRAMS += tests/check_http tests/check_http_daemon
TESTS += tests/check_http tests/check_http_daemon

tests_check_http_SOURCES = tests/check_http.c tests/testutil.c tests/testutil.h
tests_check_http_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(MHD_CFLAGS) $(JANSSON_CFLAGS)
tests_check_http_LDADD = src/http/libhttp.la src/jobs/libjobs.la src/codec/libcodec.la \
	src/store/libstore.la \
	src/model/libmodel.la src/num/libnum.la src/nn/libnn.la src/core/libcore.la \
	$(CHECK_LIBS) $(MHD_LIBS) $(GNUTLS_LIBS) $(JANSSON_LIBS) $(SQLITE_LIBS) $(BLAS_LIBS) -lm -lpthread

tests_check_http_daemon_SOURCES = tests/check_http_daemon.c tests/testutil.c tests/testutil.h
tests_check_http_daemon_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_http_daemon_LDADD = $(CHECK_LIBS) $(JANSSON_LIBS)

# Message framing and abusive clients at the socket level (check_http_framing):
# request smuggling, the cases libmicrohttpd answers itself, slow headers and
# bodies, 413 with lingering close.
check_PROGRAMS += tests/check_http_framing
TESTS += tests/check_http_framing
tests_check_http_framing_SOURCES = tests/check_http_framing.c tests/testutil.c tests/testutil.h
tests_check_http_framing_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(MHD_CFLAGS) $(JANSSON_CFLAGS)
tests_check_http_framing_LDADD = $(CHECK_LIBS) $(JANSSON_LIBS)

# The model and trajectory API against the real daemon: the data-driven
# cases of tests/api/ (check_api).
check_PROGRAMS += tests/check_api
TESTS += tests/check_api
tests_check_api_SOURCES = tests/check_api.c tests/apitest.c tests/apitest.h tests/leakscan.c \
	tests/leakscan.h tests/testutil.c tests/testutil.h
tests_check_api_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_api_LDADD = $(CHECK_LIBS) $(JANSSON_LIBS) -lm
EXTRA_DIST += tests/api

# No file path or SQL in any error a client sees (the fuzz corpus through
# the daemon), names checked in job documents, no large body in the log.
check_PROGRAMS += tests/check_leaks
TESTS += tests/check_leaks
tests_check_leaks_SOURCES = tests/check_leaks.c tests/apitest.c tests/apitest.h tests/leakscan.c \
	tests/leakscan.h tests/testutil.c tests/testutil.h
tests_check_leaks_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_leaks_LDADD = $(CHECK_LIBS) $(JANSSON_LIBS) -lm

# Serving end to end (check_serve): upload/export round trips bit for bit,
# HTTP trajectories equal to the library's, slow solves not stalling small
# requests, and the README's curl examples.
check_PROGRAMS += tests/check_serve
TESTS += tests/check_serve
tests_check_serve_SOURCES = tests/check_serve.c tests/apitest.c tests/apitest.h tests/testutil.c \
	tests/testutil.h
tests_check_serve_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS) $(BLAS_CFLAGS)
tests_check_serve_LDADD = src/http/libhttp.la src/jobs/libjobs.la src/codec/libcodec.la \
	src/store/libstore.la \
	src/model/libmodel.la src/num/libnum.la src/nn/libnn.la src/core/libcore.la \
	$(CHECK_LIBS) $(JANSSON_LIBS) $(MHD_LIBS) $(GNUTLS_LIBS) $(SQLITE_LIBS) $(BLAS_LIBS) -lm -lpthread

# The gradient endpoint on a real daemon: every method against central
# differences of the endpoint's own loss (check_gradient_http).
check_PROGRAMS += tests/check_gradient_http
TESTS += tests/check_gradient_http
tests_check_gradient_http_SOURCES = tests/check_gradient_http.c tests/apitest.c tests/apitest.h \
	tests/testutil.c tests/testutil.h
tests_check_gradient_http_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_gradient_http_LDADD = $(CHECK_LIBS) $(JANSSON_LIBS) -lm -lpthread

# The daemon on a full disk (a tmpfs this test mounts; root only, else
# skipped): 507 storage_full, deletes still work, writes recover.
check_PROGRAMS += tests/check_disk_full
TESTS += tests/check_disk_full
tests_check_disk_full_SOURCES = tests/check_disk_full.c tests/testutil.c tests/testutil.h
tests_check_disk_full_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS) $(SQLITE_CFLAGS)
tests_check_disk_full_LDADD = $(CHECK_LIBS) $(JANSSON_LIBS) $(SQLITE_LIBS)
# The Open Inference Protocol (KServe v2) against the real daemon
# (check_oip: infer answers equal to the v1 answers, metadata, readiness),
# and the OpenAPI document against the route table (check_openapi).
check_PROGRAMS += tests/check_oip tests/check_openapi
TESTS += tests/check_oip tests/check_openapi
tests_check_oip_SOURCES = tests/check_oip.c tests/apitest.c tests/apitest.h tests/testutil.c \
	tests/testutil.h
tests_check_oip_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_oip_LDADD = $(CHECK_LIBS) $(JANSSON_LIBS) -lm

tests_check_openapi_SOURCES = tests/check_openapi.c tests/testutil.c tests/testutil.h
tests_check_openapi_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(MHD_CFLAGS) $(JANSSON_CFLAGS)
tests_check_openapi_LDADD = src/http/libhttp.la src/jobs/libjobs.la src/codec/libcodec.la \
	src/store/libstore.la \
	src/model/libmodel.la src/num/libnum.la src/nn/libnn.la src/core/libcore.la \
	$(CHECK_LIBS) $(MHD_LIBS) $(JANSSON_LIBS) $(SQLITE_LIBS) $(BLAS_LIBS) -lm -lpthread
# GET /metrics of the real daemon (check_metrics): the text read by a strict
# in-test reader and by Prometheus' parser (tests/metrics_check.py, Debian's
# python3-prometheus-client), and values that move with the requests made.
check_PROGRAMS += tests/check_metrics
TESTS += tests/check_metrics
EXTRA_DIST += tests/metrics_check.py
tests_check_metrics_SOURCES = tests/check_metrics.c tests/testutil.c tests/testutil.h
tests_check_metrics_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_metrics_LDADD = $(CHECK_LIBS) $(JANSSON_LIBS) -lm
# API tokens (check_auth): the token maths in-process, then every route of
# the table under each policy and scope against the real daemon, expiry,
# revocation (HTTP, `odeserved token`, SIGHUP), the refusal to start on a
# network address without a token, the failure counters.
check_PROGRAMS += tests/check_auth
TESTS += tests/check_auth
tests_check_auth_SOURCES = tests/check_auth.c tests/testutil.c tests/testutil.h
tests_check_auth_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(MHD_CFLAGS) $(JANSSON_CFLAGS)
tests_check_auth_LDADD = src/http/libhttp.la src/jobs/libjobs.la src/codec/libcodec.la \
	src/store/libstore.la \
	src/model/libmodel.la src/num/libnum.la src/nn/libnn.la src/core/libcore.la \
	$(CHECK_LIBS) $(MHD_LIBS) $(JANSSON_LIBS) $(SQLITE_LIBS) $(BLAS_LIBS) $(GNUTLS_LIBS) \
	-lm -lpthread


# HTTPS against the real daemon (check_tls): certificates made by openssl at
# test time, a GnuTLS client that verifies them, reload on SIGHUP. Only in a
# build with GnuTLS; it skips itself when openssl is missing.
if HAVE_GNUTLS
check_PROGRAMS += tests/check_tls
TESTS += tests/check_tls
endif
tests_check_tls_SOURCES = tests/check_tls.c tests/testutil.c tests/testutil.h
tests_check_tls_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(GNUTLS_CFLAGS)
tests_check_tls_LDADD = $(CHECK_LIBS) $(GNUTLS_LIBS)

# traceparent, CORS, 503/429 with Retry-After and the rate limit: the real
# daemon over TCP, their parsers and counters in-process (check_http_conv).
check_PROGRAMS += tests/check_http_conv
TESTS += tests/check_http_conv
tests_check_http_conv_SOURCES = tests/check_http_conv.c tests/testutil.c tests/testutil.h
tests_check_http_conv_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS) $(MHD_CFLAGS)
tests_check_http_conv_LDADD = src/http/libhttp.la src/jobs/libjobs.la src/codec/libcodec.la \
	src/store/libstore.la \
	src/model/libmodel.la src/num/libnum.la src/nn/libnn.la src/core/libcore.la \
	$(CHECK_LIBS) $(MHD_LIBS) $(GNUTLS_LIBS) $(JANSSON_LIBS) $(SQLITE_LIBS) $(BLAS_LIBS) -lm -lpthread

# The daemon's own writes failing (tests/faultio.c preloaded into it): an
# upload walked over every write and sync of its database files.
# libtool may be configured without shared libraries: the preloaded
# library is built by hand, without the sanitizers (it runs inside them).
tests/libfaultio.so: $(srcdir)/tests/faultio.c
	$(AM_V_CC)$(MKDIR_P) tests && $(CC) $(WARN_CFLAGS) $(CFLAGS) -fPIC -shared -o $@ \
	  $(srcdir)/tests/faultio.c -ldl -lpthread
EXTRA_DIST += tests/faultio.c
CLEANFILES += tests/libfaultio.so
EXTRA_tests_check_daemon_faults_DEPENDENCIES = tests/libfaultio.so
check_PROGRAMS += tests/check_daemon_faults
TESTS += tests/check_daemon_faults
tests_check_daemon_faults_SOURCES = tests/check_daemon_faults.c tests/apitest.c tests/apitest.h \
	tests/leakscan.c tests/leakscan.h tests/testutil.c tests/testutil.h
tests_check_daemon_faults_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS) $(SQLITE_CFLAGS)
tests_check_daemon_faults_LDADD = $(CHECK_LIBS) $(JANSSON_LIBS) $(SQLITE_LIBS) -lm

# The database locked by another process: writes 503 database_busy with
# Retry-After, reads go on, jobs checkpoint once the lock is gone.
check_PROGRAMS += tests/check_db_busy
TESTS += tests/check_db_busy
tests_check_db_busy_SOURCES = tests/check_db_busy.c tests/leakscan.c tests/leakscan.h \
	tests/testutil.c tests/testutil.h
tests_check_db_busy_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS) $(SQLITE_CFLAGS)
tests_check_db_busy_LDADD = $(CHECK_LIBS) $(JANSSON_LIBS) $(SQLITE_LIBS) -lm

# Evaluations whose client has gone are dropped (queued) or stopped
# (running); solve_timeout counts the queue wait.
check_PROGRAMS += tests/check_client_gone
TESTS += tests/check_client_gone
tests_check_client_gone_SOURCES = tests/check_client_gone.c tests/testutil.c tests/testutil.h
tests_check_client_gone_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_client_gone_LDADD = $(CHECK_LIBS) -lm

# Memory per request (check_large_body): the cap on concurrent large bodies
# and RSS after maximal bodies within a bound of idle (docs/operations.md).
check_PROGRAMS += tests/check_large_body
TESTS += tests/check_large_body
tests_check_large_body_SOURCES = tests/check_large_body.c tests/testutil.c tests/testutil.h
tests_check_large_body_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_large_body_LDADD = $(CHECK_LIBS)

# cnf models served end to end (check_cnf_serve): export round trip with the
# base (and after a restart), HTTP log_prob and sample equal to the library's.
check_PROGRAMS += tests/check_cnf_serve
TESTS += tests/check_cnf_serve
tests_check_cnf_serve_SOURCES = tests/check_cnf_serve.c tests/apitest.c tests/apitest.h \
	tests/testutil.c tests/testutil.h
tests_check_cnf_serve_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS) $(BLAS_CFLAGS)
tests_check_cnf_serve_LDADD = src/codec/libcodec.la src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la \
	$(CHECK_LIBS) $(JANSSON_LIBS) $(BLAS_LIBS) -lm -lpthread
