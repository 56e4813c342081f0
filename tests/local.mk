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
include $(srcdir)/tests/codec.mk
include $(srcdir)/tests/store.mk
include $(srcdir)/tests/jobs.mk
include $(srcdir)/tests/http.mk
include $(srcdir)/tests/daemon.mk

# The Python client and odeservectl against live daemons (clients/python).
# The PyTorch bridge (tools/odeserve-export, tools/odeserve-import).
# The dashboard in headless Chromium (ui/, src/http/ui.c).
TESTS += tests/test_pyclient.sh tests/test_bridge.sh tests/test_ui.sh
EXTRA_DIST += tests/test_pyclient.sh tests/pyclient_test.py tests/pydaemon.py \
	tests/test_ui.sh tests/ui_test.py tools/ui-screenshots.sh \
	tests/test_bridge.sh tests/bridge_test.py tools/odeserve-export tools/odeserve-import \
	clients/python/odeserve/torch_bridge.py clients/python/odeserve/_torch_modules.py \
	clients/python/odeserve/bridge_cli.py \
	clients/python/README.md clients/python/pyproject.toml \
	clients/python/odeserve/__init__.py clients/python/odeserve/__main__.py \
	clients/python/odeserve/cli.py clients/python/odeserve/client.py \
	clients/python/odeserve/errors.py clients/python/odeserve/py.typed

# The layer order of src/ (tools/layers.sh, docs/STYLE.md), and the script
# itself on the fake trees of tests/fixtures/layers/.
TESTS += tests/test_layers.sh tests/test_layers_fixtures.sh
EXTRA_DIST += tests/test_layers.sh tests/test_layers_fixtures.sh tools/layers.sh

# The unit tests (no daemon process) under valgrind: no leaks, no invalid
# accesses (tests/run-valgrind.sh). .ci/run calls it; valgrind comes from
# ./bootstrap.
VALGRIND_TESTS = tests/check_core tests/check_num tests/check_sde tests/check_sde_model tests/check_sde_lik tests/check_nn tests/check_interp \
	tests/check_cde tests/check_cde_events tests/check_model_def tests/check_ode_model tests/check_grad \
	tests/check_grad_cde tests/check_loss_init tests/check_optim tests/check_store \
	tests/check_models tests/check_model_cache tests/check_datasets tests/check_codec \
	tests/check_codec_replies tests/check_fuzz_replay \
	tests/check_config tests/check_notify tests/check_http tests/check_train \
	tests/check_openapi tests/check_codec_oip tests/check_ratelimit tests/check_symplectic \
	tests/check_hamiltonian tests/check_cnf_model tests/check_cfm tests/check_lagrangian \
	tests/check_mlp_tangent tests/check_cnf_ml tests/check_grad_methods \
	tests/check_grad_keep
EXTRA_DIST += tests/run-valgrind.sh
check-valgrind: $(VALGRIND_TESTS)
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
	  $(SHELL) $(srcdir)/tests/run-valgrind.sh $(VALGRIND_TESTS)
.PHONY: check-valgrind
# the training maths of hamiltonian models (#26)
VALGRIND_TESTS += tests/check_mlp_grad2 tests/check_ham_train
# the batched Jacobian of the exact cnf trace (#27)
VALGRIND_TESTS += tests/check_mlp_jac_batch
VALGRIND_TESTS += tests/check_mlp_grad3 tests/check_lag_fit
VALGRIND_TESTS += tests/check_nn_pair
# a job's threads (#23)
VALGRIND_TESTS += tests/check_train_threads
# kept activations in backprop through a neural CDE (#23)
VALGRIND_TESTS += tests/check_grad_keep_cde
CLEANFILES += $(VALGRIND_TESTS:=.vg.log)
