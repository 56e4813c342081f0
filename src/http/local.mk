# http layer: the only one that speaks HTTP. libmicrohttpd server (poll()
# with a thread pool, suspend/resume), the route table (routes.c: every endpoint),
# one error-body builder, and the evaluation pool for deferred handlers.
noinst_LTLIBRARIES += src/http/libhttp.la
src_http_libhttp_la_SOURCES = \
	src/http/app.h \
	src/http/handler.h src/http/handlers.h \
	src/http/request.c src/http/request_impl.h \
	src/http/routes.c src/http/routes.h \
	src/http/server.c src/http/server.h \
	src/http/workq.c src/http/workq.h \
	src/http/meta.c \
	src/http/testing.c \
	src/http/api.c src/http/api.h \
	src/http/codec_json.c src/http/codec_json.h \
	src/http/codec_num.c src/http/codec_num.h src/http/codec_pow10.h \
	src/http/codec_strtod.c src/http/codec_strtod.h src/http/codec_pow5.h \
	src/http/codec_parse.c \
	src/http/codec_model.c src/http/codec_model.h \
	src/http/codec_request.c src/http/codec_request.h \
	src/http/codec_cde.c src/http/codec_cde.h \
	src/http/models.c \
	src/http/trajectory.c src/http/trajectory.h \
	src/http/solve_cost.c src/http/solve_cost.h \
	src/http/codec_dataset.c src/http/codec_dataset.h \
	src/http/codec_job.c src/http/codec_job.h \
	src/http/datasets.c \
	src/http/jobs.c
src_http_libhttp_la_CPPFLAGS = $(AM_CPPFLAGS) $(MHD_CFLAGS) $(JANSSON_CFLAGS)
src_http_libhttp_la_LIBADD = $(MHD_LIBS) $(JANSSON_LIBS) -lm -lpthread
# codec_pow10.h and codec_pow5.h are generated (committed): src/http/gen_pow10.py,
# src/http/gen_pow5.py
EXTRA_DIST += src/http/gen_pow10.py src/http/gen_pow5.py
