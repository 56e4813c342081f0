# The systemd unit, generated from the .in with the configured paths and
# installed into the system unit directory (configure: pkg-config systemd,
# or --with-systemdsystemunitdir).
systemdsystemunit_DATA = systemd/odeserved.service
EXTRA_DIST += systemd/odeserved.service.in
CLEANFILES += systemd/odeserved.service systemd/odeserved.service-t

systemd/odeserved.service: $(srcdir)/systemd/odeserved.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	    -e 's|@PACKAGE_VERSION[@]|$(PACKAGE_VERSION)|g' \
	    $(srcdir)/systemd/odeserved.service.in >$@-t && \
	mv -f $@-t $@
