# Tests for the daemon: settings and command line (unit), sd_notify (unit),
# the binary as operators and systemd see it (check_daemon runs the real
# odeserved), and the generated systemd unit.
check_PROGRAMS += tests/check_config tests/check_notify tests/check_daemon
TESTS += tests/check_config tests/check_notify tests/check_daemon tests/test_systemd.sh
EXTRA_DIST += tests/test_systemd.sh

tests_check_config_SOURCES = tests/check_config.c tests/testutil.c tests/testutil.h
tests_check_config_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_config_LDADD = src/daemon/libdaemon.la src/core/libcore.la $(CHECK_LIBS)

tests_check_notify_SOURCES = tests/check_notify.c tests/testutil.c tests/testutil.h
tests_check_notify_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_notify_LDADD = src/daemon/libdaemon.la src/core/libcore.la $(CHECK_LIBS)

tests_check_daemon_SOURCES = tests/check_daemon.c tests/testutil.c tests/testutil.h
tests_check_daemon_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_daemon_LDADD = $(CHECK_LIBS)
