# core: status codes, error records, logging, clocks, the work queue
# (threads). Depends on nothing.
noinst_LTLIBRARIES += src/core/libcore.la
src_core_libcore_la_SOURCES = \
	src/core/err.c src/core/err.h \
	src/core/log.c src/core/log.h \
	src/core/clock.c src/core/clock.h \
	src/core/workq.c src/core/workq.h \
	src/core/metric.c src/core/metric.h \
	src/core/ratelimit.c src/core/ratelimit.h \
	src/core/grow.c src/core/grow.h
src_core_libcore_la_LIBADD = -lm -lpthread
