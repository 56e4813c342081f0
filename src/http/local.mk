# http layer: the only one that speaks HTTP. libmicrohttpd server (poll()
# with a thread pool, suspend/resume), the route table (routes.c: every endpoint),
# one error-body builder with the one code -> status table (request.c), and the
# handlers' glue: decode with codec/, act through store/, jobs/ and model/,
# defer CPU-heavy work to the evaluation pool (core/workq.h).
noinst_LTLIBRARIES += src/http/libhttp.la
src_http_libhttp_la_SOURCES = \
	src/http/app.h \
	src/http/handler.h src/http/handlers.h \
	src/http/request.c src/http/request_impl.h \
	src/http/routes.c src/http/routes.h \
	src/http/server.c src/http/server.h \
	src/http/framing.c src/http/framing.h \
	src/http/guard.c src/http/guard.h \
	src/http/meta.c \
	src/http/metrics.c src/http/metrics.h \
	src/http/testing.c \
	src/http/api.c src/http/api.h src/http/api_db.c src/http/api_db.h \
	src/http/models.c \
	src/http/aliases.c \
	src/http/trajectory.c src/http/traj.h \
	src/http/energy.c \
	src/http/gradient.c \
	src/http/cnf.c \
	src/http/oip.c \
	src/http/openapi.c src/http/openapi.h \
	src/http/ui.c src/http/dataset_series.c \
	src/http/datasets.c \
	src/http/jobs.c \
	src/http/auth.c src/http/auth.h \
	src/http/tls.c src/http/tls.h \
	src/http/admission.c src/http/admission.h \
	src/http/trace.c src/http/trace.h \
	src/http/cors.c src/http/cors.h
src_http_libhttp_la_CPPFLAGS = $(AM_CPPFLAGS) $(MHD_CFLAGS) $(JANSSON_CFLAGS) $(GNUTLS_CFLAGS)
src_http_libhttp_la_LIBADD = $(MHD_LIBS) $(JANSSON_LIBS) $(GNUTLS_LIBS) -lm -lpthread

# The OpenAPI document (docs/openapi.json) is embedded in the binary at
# build time, as the migrations are (src/store/local.mk), so GET
# /v1/openapi.json serves the committed file byte for byte.
nodist_src_http_libhttp_la_SOURCES = src/http/openapi_gen.c
EXTRA_DIST += src/http/embed-text.sh
BUILT_SOURCES += src/http/openapi_gen.c
CLEANFILES += src/http/openapi_gen.c src/http/openapi_gen.c-t
src/http/openapi_gen.c: docs/openapi.json src/http/embed-text.sh
	$(AM_V_GEN)$(MKDIR_P) src/http && \
	$(SHELL) $(srcdir)/src/http/embed-text.sh http/openapi.h http_openapi_json \
		$(srcdir)/docs/openapi.json >$@-t && \
	mv -f $@-t $@
