# model layer: neural ODE/CDE models built from num (solvers) and nn (MLPs).
# Knows nothing of JSON, HTTP or SQLite.
noinst_LTLIBRARIES += src/model/libmodel.la
src_model_libmodel_la_SOURCES = \
	src/model/model_def.c src/model/model_def.h \
	src/model/ode_model.c src/model/ode_model.h
src_model_libmodel_la_CFLAGS = $(AM_CFLAGS) $(BLAS_CFLAGS)
src_model_libmodel_la_LIBADD = $(BLAS_LIBS) -lm
# cde: interpolation schemes, observation paths, the neural CDE model
src_model_libmodel_la_SOURCES += src/model/interp.c src/model/interp.h
src_model_libmodel_la_SOURCES += src/model/cde_path.c src/model/cde_path.h
src_model_libmodel_la_SOURCES += src/model/cde_model.c src/model/cde_model.h
