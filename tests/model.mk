# tests for model
# cde: interpolation schemes (check_interp) and the neural CDE model
# (check_cde), against tests/fixtures/cde_reference.json (gen_cde_reference.py).
check_PROGRAMS += tests/check_interp tests/check_cde
TESTS += tests/check_interp tests/check_cde
tests_check_interp_SOURCES = tests/check_interp.c tests/cde_testlib.c tests/cde_testlib.h \
	tests/testutil.c tests/testutil.h
tests_check_interp_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_interp_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(JANSSON_LIBS) $(CHECK_LIBS) $(BLAS_LIBS) -lm
tests_check_cde_SOURCES = tests/check_cde.c tests/cde_testlib.c tests/cde_testlib.h \
	tests/testutil.c tests/testutil.h
tests_check_cde_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS) $(BLAS_CFLAGS)
tests_check_cde_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(JANSSON_LIBS) $(CHECK_LIBS) $(BLAS_LIBS) -lm -lpthread

# cde events: against the closed form of a rotation CDE and SciPy
# (tests/fixtures/cde_events_reference.json, gen_reference.py --cde-events).
check_PROGRAMS += tests/check_cde_events
TESTS += tests/check_cde_events
tests_check_cde_events_SOURCES = tests/check_cde_events.c tests/cde_testlib.c \
	tests/cde_testlib.h tests/testutil.c tests/testutil.h
tests_check_cde_events_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS) $(BLAS_CFLAGS)
tests_check_cde_events_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(JANSSON_LIBS) $(CHECK_LIBS) $(BLAS_LIBS) -lm

# ode: the neural ODE model against closed forms and SciPy fixtures
# (tests/fixtures/ode_model_reference.json, gen_ode_model_reference.py);
# model_def validation.
check_PROGRAMS += tests/check_ode_model
TESTS += tests/check_ode_model
tests_check_ode_model_SOURCES = tests/check_ode_model.c tests/testutil.c tests/testutil.h
tests_check_ode_model_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS) $(BLAS_CFLAGS)
tests_check_ode_model_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(JANSSON_LIBS) $(CHECK_LIBS) $(BLAS_LIBS) -lm -lpthread

# training maths: gradients, losses, optimisers, init, RNG
check_PROGRAMS += tests/check_grad tests/check_grad_cde tests/check_optim tests/check_loss_init
TESTS += tests/check_grad tests/check_grad_cde tests/check_optim tests/check_loss_init
tests_check_grad_SOURCES = tests/check_grad.c tests/grad_testlib.c tests/grad_testlib.h \
	tests/testutil.c tests/testutil.h
tests_check_grad_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS)
tests_check_grad_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lm
tests_check_optim_SOURCES = tests/check_optim.c tests/testutil.c tests/testutil.h
tests_check_optim_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS) $(JANSSON_CFLAGS)
tests_check_optim_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(JANSSON_LIBS) $(CHECK_LIBS) $(BLAS_LIBS) -lm
tests_check_loss_init_SOURCES = tests/check_loss_init.c tests/testutil.c tests/testutil.h
tests_check_loss_init_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS) $(JANSSON_CFLAGS)
tests_check_loss_init_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(JANSSON_LIBS) $(CHECK_LIBS) $(BLAS_LIBS) -lm
tests_check_grad_cde_SOURCES = tests/check_grad_cde.c tests/testutil.c tests/testutil.h
tests_check_grad_cde_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS)
tests_check_grad_cde_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lm

check_PROGRAMS += tests/check_model_def
TESTS += tests/check_model_def
tests_check_model_def_SOURCES = tests/check_model_def.c tests/testutil.c tests/testutil.h
tests_check_model_def_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_model_def_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lm -lpthread

# gradients through the implicit methods (the esdirk4 adjoint), num's block Jacobians
check_PROGRAMS += tests/check_grad_methods
TESTS += tests/check_grad_methods
tests_check_grad_methods_SOURCES = tests/check_grad_methods.c tests/grad_testlib.c tests/grad_testlib.h \
	tests/testutil.c tests/testutil.h \
	tests/fixtures/contracting.h
tests_check_grad_methods_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS) -I$(srcdir)/tests
tests_check_grad_methods_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lm

# backprop with the forward's kept activations: bit for bit the re-evaluating sweep
check_PROGRAMS += tests/check_grad_keep
TESTS += tests/check_grad_keep
tests_check_grad_keep_SOURCES = tests/check_grad_keep.c tests/grad_testlib.c tests/grad_testlib.h \
	tests/testutil.c tests/testutil.h
tests_check_grad_keep_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS)
tests_check_grad_keep_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lm

# the same for a neural CDE's field (its tape and dX/dt), every path, shared and per item
check_PROGRAMS += tests/check_grad_keep_cde
TESTS += tests/check_grad_keep_cde
tests_check_grad_keep_cde_SOURCES = tests/check_grad_keep_cde.c tests/grad_testlib.c tests/grad_testlib.h \
	tests/testutil.c tests/testutil.h
tests_check_grad_keep_cde_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS)
tests_check_grad_keep_cde_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lm

check_PROGRAMS += tests/check_grad_stiff
TESTS += tests/check_grad_stiff
tests_check_grad_stiff_SOURCES = tests/check_grad_stiff.c tests/stiff_testlib.c \
	tests/stiff_testlib.h tests/testutil.c tests/testutil.h
tests_check_grad_stiff_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS)
tests_check_grad_stiff_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lm

# sde: the neural SDE model (thread count and subsets leave every number
# unchanged, Milstein through the networks, summaries, the document).
check_PROGRAMS += tests/check_sde_model
TESTS += tests/check_sde_model
tests_check_sde_model_SOURCES = tests/check_sde_model.c tests/testutil.c tests/testutil.h
tests_check_sde_model_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS) $(BLAS_CFLAGS)
tests_check_sde_model_LDADD = src/codec/libcodec.la src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(JANSSON_LIBS) $(CHECK_LIBS) $(BLAS_LIBS) -lpthread -lm

# the sde training objective: the transition likelihood's gradient against
# finite differences, its exactness for a linear drift with additive noise
check_PROGRAMS += tests/check_sde_lik
TESTS += tests/check_sde_lik
tests_check_sde_lik_SOURCES = tests/check_sde_lik.c tests/testutil.c tests/testutil.h
tests_check_sde_lik_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS)
tests_check_sde_lik_LDADD = src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lpthread -lm

# the hamiltonian kind: field, Jacobian, energy conservation, documents
check_PROGRAMS += tests/check_hamiltonian
TESTS += tests/check_hamiltonian
tests_check_hamiltonian_SOURCES = tests/check_hamiltonian.c tests/testutil.c tests/testutil.h
tests_check_hamiltonian_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS) $(BLAS_CFLAGS)
tests_check_hamiltonian_LDADD = src/codec/libcodec.la src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(JANSSON_LIBS) $(CHECK_LIBS) $(BLAS_LIBS) -lpthread -lm

# the lagrangian kind against SciPy (tests/fixtures/lnn_reference.json,
# gen_lnn.py), closed forms, energy conservation, singular mass matrices
check_PROGRAMS += tests/check_lagrangian
TESTS += tests/check_lagrangian
tests_check_lagrangian_SOURCES = tests/check_lagrangian.c tests/testutil.c tests/testutil.h
tests_check_lagrangian_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS) $(BLAS_CFLAGS)
tests_check_lagrangian_LDADD = src/codec/libcodec.la src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(JANSSON_LIBS) $(CHECK_LIBS) $(BLAS_LIBS) -lpthread -lm

# cnf: the continuous normalizing flow against closed forms (linear field and
# the matrix exponential, normalisation on a grid, Hutchinson's estimator)
check_PROGRAMS += tests/check_cnf_model
TESTS += tests/check_cnf_model
tests_check_cnf_model_SOURCES = tests/check_cnf_model.c tests/testutil.c tests/testutil.h
tests_check_cnf_model_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS)
tests_check_cnf_model_LDADD = src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lpthread -lm

# Flow matching (check_cfm): the exact assignment solver against brute
# force, the OT coupling, the loss's gradient against finite differences.
check_PROGRAMS += tests/check_cfm
TESTS += tests/check_cfm
tests_check_cfm_SOURCES = tests/check_cfm.c tests/testutil.c tests/testutil.h \
	tests/lsap_ref.c tests/lsap_ref.h
tests_check_cfm_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS)
tests_check_cfm_LDADD = src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lpthread -lm

# Maximum likelihood for a cnf (check_cnf_ml): the loss against the served
# log-density, its gradient against central differences (exact trace and
# fixed-probe Hutchinson, backprop), the adjoint against backprop.
check_PROGRAMS += tests/check_cnf_ml
TESTS += tests/check_cnf_ml
tests_check_cnf_ml_SOURCES = tests/check_cnf_ml.c tests/testutil.c tests/testutil.h
tests_check_cnf_ml_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS)
tests_check_cnf_ml_LDADD = src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lpthread -lm

# A cnf trained by flow matching end to end (check_cnf_train): 8 Gaussians
# (tests/fixtures/gen_cnf_8gaussians.py), held-out NLL against the true
# entropy, an energy-distance two-sample test, bit-for-bit resume.
check_PROGRAMS += tests/check_cnf_train
TESTS += tests/check_cnf_train
tests_check_cnf_train_SOURCES = tests/check_cnf_train.c tests/testutil.c tests/testutil.h
tests_check_cnf_train_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS) $(JANSSON_CFLAGS)
tests_check_cnf_train_LDADD = src/codec/libcodec.la src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) $(JANSSON_LIBS) -lpthread -lm

# The hamiltonian fits and the ode derivative fit (check_ham_train): the
# derivative rules, every gradient against central differences, the
# trajectory fit's states against serving's, a trainer run.
check_PROGRAMS += tests/check_ham_train
TESTS += tests/check_ham_train
tests_check_ham_train_SOURCES = tests/check_ham_train.c tests/train_testlib.c tests/train_testlib.h tests/testutil.c tests/testutil.h
tests_check_ham_train_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS) $(JANSSON_CFLAGS)
tests_check_ham_train_LDADD = src/codec/libcodec.la src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) $(JANSSON_LIBS) -lpthread -lm
# hybrid models: trajectories against SciPy (tests/fixtures/gen_hybrid.py),
# exact derivatives against differences, refusals and limits, threads (TSan)
check_PROGRAMS += tests/check_hybrid
TESTS += tests/check_hybrid
tests_check_hybrid_SOURCES = tests/check_hybrid.c tests/testutil.c tests/testutil.h
tests_check_hybrid_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS) $(BLAS_CFLAGS)
tests_check_hybrid_LDADD = src/codec/libcodec.la src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(JANSSON_LIBS) $(CHECK_LIBS) $(BLAS_LIBS) -lpthread -lm

# training hybrid models (check_hybrid_train): the field's VJP, the init's
# refusals, bounds, and the acceptance fits (damped pendulum, Lotka-Volterra
# UDE against a neural ODE) on tests/fixtures/gen_hybrid_train.py's data.
# Slow by design: not in VALGRIND_TESTS.
check_PROGRAMS += tests/check_hybrid_train
TESTS += tests/check_hybrid_train
tests_check_hybrid_train_SOURCES = tests/check_hybrid_train.c tests/testutil.c tests/testutil.h
tests_check_hybrid_train_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS) $(BLAS_CFLAGS)
tests_check_hybrid_train_LDADD = src/codec/libcodec.la src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(JANSSON_LIBS) $(CHECK_LIBS) $(BLAS_LIBS) -lpthread -lm

# The lagrangian derivative fit at one pair (check_lag_fit): the
# acceleration against the Euler-Lagrange equations, the exact gradient
# against central differences.
check_PROGRAMS += tests/check_lag_fit
TESTS += tests/check_lag_fit
tests_check_lag_fit_SOURCES = tests/check_lag_fit.c tests/testutil.c tests/testutil.h
tests_check_lag_fit_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS)
tests_check_lag_fit_LDADD = src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lpthread -lm

# The lagrangian derivative fit through the trainer (check_lnn_train): the
# whole loss's gradient against central differences, a trainer run.
check_PROGRAMS += tests/check_lnn_train
TESTS += tests/check_lnn_train
tests_check_lnn_train_SOURCES = tests/check_lnn_train.c tests/train_testlib.c tests/train_testlib.h tests/testutil.c tests/testutil.h
tests_check_lnn_train_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS) $(JANSSON_CFLAGS)
tests_check_lnn_train_LDADD = src/codec/libcodec.la src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) $(JANSSON_LIBS) -lpthread -lm

# nothing allocates in the training inner loop (issue 23; a counting allocator)
check_PROGRAMS += tests/check_train_alloc
TESTS += tests/check_train_alloc
tests_check_train_alloc_SOURCES = tests/check_train_alloc.c tests/alloc_count.c tests/alloc_count.h
tests_check_train_alloc_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS)
tests_check_train_alloc_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lm

# the same for a neural CDE (W3's field, per series, backprop keeping its stages)
check_PROGRAMS += tests/check_train_alloc_cde
TESTS += tests/check_train_alloc_cde
tests_check_train_alloc_cde_SOURCES = tests/check_train_alloc_cde.c tests/alloc_count.c \
	tests/alloc_count.h
tests_check_train_alloc_cde_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS)
tests_check_train_alloc_cde_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) -lm

# a job's threads (#23): loss curves and parameters bit-identical on 1, 2 and
# 3 threads (ode, cde), yielding to serving, errors, "threads" validation;
# TSan runs it (.ci/run)
check_PROGRAMS += tests/check_train_threads
TESTS += tests/check_train_threads
tests_check_train_threads_SOURCES = tests/check_train_threads.c tests/train_testlib.c \
	tests/train_testlib.h
tests_check_train_threads_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS) $(JANSSON_CFLAGS)
tests_check_train_threads_LDADD = src/codec/libcodec.la src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(CHECK_LIBS) $(BLAS_LIBS) $(JANSSON_LIBS) -lpthread -lm
