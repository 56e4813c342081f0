# model layer: neural ODE/CDE/SDE models built from num (solvers) and nn (MLPs).
# Knows nothing of JSON, HTTP or SQLite.
noinst_LTLIBRARIES += src/model/libmodel.la
src_model_libmodel_la_SOURCES = \
	src/model/model_def.c src/model/model_def.h \
	src/model/model_name.c src/model/model_name.h \
	src/model/dataset.c src/model/dataset.h \
	src/model/model_rows.c src/model/model_rows.h \
	src/model/job_spec.c src/model/job_spec.h \
	src/model/job_status.c src/model/job_status.h \
	src/model/job_ckpt.c src/model/job_ckpt.h \
	src/model/job_info.h src/model/model_info.h \
	src/model/ode_model.c src/model/ode_model.h \
	src/model/served_model.c src/model/served_model.h \
	src/model/solve_cost.c src/model/solve_cost.h \
	src/model/api_token.c src/model/api_token.h
src_model_libmodel_la_CFLAGS = $(AM_CFLAGS) $(BLAS_CFLAGS) $(GNUTLS_CFLAGS)
src_model_libmodel_la_LIBADD = $(BLAS_LIBS) $(GNUTLS_LIBS) $(MATHEVAL_LIBS) -lpthread -lm
# cde: interpolation schemes, observation paths, the neural CDE model
src_model_libmodel_la_SOURCES += src/model/interp.c src/model/interp.h
src_model_libmodel_la_SOURCES += src/model/cde_path.c src/model/cde_path.h
src_model_libmodel_la_SOURCES += src/model/sde_model.c src/model/sde_model.h
src_model_libmodel_la_SOURCES += src/model/hamiltonian.c src/model/hamiltonian.h
src_model_libmodel_la_SOURCES += src/model/lagrangian.c src/model/lagrangian.h
src_model_libmodel_la_SOURCES += src/model/hybrid.c src/model/hybrid.h src/model/hybrid_def.c \
	src/model/hybrid_def.h src/model/hybrid_expr.c src/model/hybrid_expr.h
src_model_libmodel_la_SOURCES += src/model/lag_fit.c src/model/lag_fit.h
src_model_libmodel_la_SOURCES += src/model/cnf_model.c src/model/cnf_model.h
# cnf training: flow matching and its exact minibatch OT coupling
src_model_libmodel_la_SOURCES += src/model/cfm.c src/model/cfm.h src/model/lsap.c src/model/lsap.h
# cnf training by maximum likelihood: the augmented solve and its gradient
src_model_libmodel_la_SOURCES += src/model/cnf_ml.c src/model/cnf_ml.h
src_model_libmodel_la_SOURCES += src/model/cde_model.c src/model/cde_model.h src/model/cde_field.h
# training maths: losses, optimisers, init, RNG, gradients
src_model_libmodel_la_SOURCES += \
	src/model/rng.c src/model/rng.h \
	src/model/loss.c src/model/loss.h \
	src/model/optim.c src/model/optim.h \
	src/model/init.c src/model/init.h \
	src/model/grad.c src/model/grad.h \
	src/model/grad_core.c src/model/grad_core.h \
	src/model/grad_backprop.c src/model/grad_backprop.h \
	src/model/grad_adjoint.c src/model/grad_adjoint.h \
	src/model/grad_ckpt.c src/model/grad_ckpt.h \
	src/model/grad_reversible.c src/model/grad_reversible.h \
	src/model/grad_solve.c src/model/grad_solve.h \
	src/model/grad_batch.c src/model/grad_batch.h \
	src/model/grad_ode.c src/model/grad_ode.h \
	src/model/grad_cde.c src/model/grad_cde.h \
	src/model/grad_interp.c src/model/grad_interp.h \
	src/model/grad_serve.c src/model/grad_serve.h
# the training loop of one job, one for every kind (trainer_internal.h's table)
src_model_libmodel_la_SOURCES += \
	src/model/trainer.c src/model/trainer.h src/model/trainer_internal.h \
	src/model/trainer_pool.c src/model/trainer_pool.h \
	src/model/trainer_ode.c src/model/trainer_cde.c src/model/trainer_sde.c \
	src/model/trainer_cnf.c \
	src/model/trainer_deriv.c src/model/trainer_ham.c src/model/trainer_hybrid.c \
	src/model/deriv_pairs.c src/model/deriv_pairs.h \
	src/model/sde_lik.c src/model/sde_lik.h src/model/sde_lik_net.c src/model/sde_lik_net.h
src_model_libmodel_la_SOURCES += src/model/batch_solve.c src/model/batch_solve.h
