# The shipped settings file: installed as $(sysconfdir)/odeserve/odeserve.conf
# (what the systemd unit reads); `make run` uses it from the source tree.
odeserveconfdir = $(sysconfdir)/odeserve
dist_odeserveconf_DATA = etc/odeserve.conf
