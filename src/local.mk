# The daemon. src/daemon/ holds its own modules (settings and command line,
# sd_notify, signals) as a convenience library so tests link them without
# main(); service.c (the daemon's life) and main.c (wiring) make the program.
noinst_LTLIBRARIES += src/daemon/libdaemon.la
src_daemon_libdaemon_la_SOURCES = \
	src/daemon/config.c src/daemon/config.h \
	src/daemon/notify.c src/daemon/notify.h \
	src/daemon/signals.c src/daemon/signals.h
src_daemon_libdaemon_la_LIBADD = -lm -lpthread

sbin_PROGRAMS += src/odeserved
src_odeserved_SOURCES = src/main.c src/daemon/service.c src/daemon/service.h \
	src/daemon/token_cmd.c src/daemon/token_cmd.h
src_odeserved_LDADD = src/daemon/libdaemon.la src/http/libhttp.la src/jobs/libjobs.la \
	src/codec/libcodec.la src/store/libstore.la \
	src/model/libmodel.la src/num/libnum.la src/nn/libnn.la src/core/libcore.la \
	$(MHD_LIBS) $(JANSSON_LIBS) $(SQLITE_LIBS) $(BLAS_LIBS) $(GNUTLS_LIBS) -lm -lpthread

# make run: the daemon in the foreground with the shipped settings, its
# database under ./var (created on first start), on 127.0.0.1:8080, with the
# demo model `spiral` stored on first start (examples/spiral.json).
.PHONY: run
run: src/odeserved
	$(MKDIR_P) var
	src/odeserved --config $(srcdir)/etc/odeserve.conf --db var/odeserve.db --ui-dir $(srcdir)/ui \
		--seed-models $(srcdir)/examples/spiral.json
