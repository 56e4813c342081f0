# Tests: one Check suite per module, each in its own fragment so work on one
# layer never touches another's build rules.
TEST_EXTENSIONS = .sh
AM_TESTS_ENVIRONMENT = top_srcdir='$(abs_top_srcdir)'; top_builddir='$(abs_top_builddir)'; \
	export top_srcdir top_builddir OPENBLAS_NUM_THREADS=1;
EXTRA_DIST += tests/fixtures
include $(srcdir)/tests/core.mk
include $(srcdir)/tests/num.mk
include $(srcdir)/tests/nn.mk
include $(srcdir)/tests/model.mk
include $(srcdir)/tests/store.mk
include $(srcdir)/tests/jobs.mk
include $(srcdir)/tests/http.mk
include $(srcdir)/tests/daemon.mk
