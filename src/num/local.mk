# num: explicit Runge-Kutta and implicit (Rosenbrock, ESDIRK) solvers with dense output (see src/num/driver.h).
# Depends on core only; knows nothing of networks, JSON, HTTP or SQLite.
noinst_LTLIBRARIES += src/num/libnum.la
src_num_libnum_la_SOURCES = \
	src/num/tableau.c src/num/tableau.h \
	src/num/step.c src/num/step.h \
	src/num/control.c src/num/control.h \
	src/num/dense.c src/num/dense.h \
	src/num/evolve.c src/num/evolve.h \
	src/num/driver.c src/num/driver.h \
	src/num/events.c src/num/events.h \
	src/num/implicit.c src/num/implicit.h \
	src/num/autoswitch.c src/num/autoswitch.h \
	src/num/brownian.c src/num/brownian.h \
	src/num/sde.c src/num/sde.h \
	src/num/symplectic.c src/num/symplectic.h \
	src/num/gauss.c src/num/gauss.h \
	src/num/solver_impl.h src/num/num_simd.h
# -ffp-contract=off: the vector kernels' clones perform the same operations
# as the baseline code (num_simd.h)
src_num_libnum_la_CFLAGS = $(AM_CFLAGS) -ffp-contract=off
# LAPACK's dgetrf/dgetrs for the implicit methods come from OpenBLAS.
src_num_libnum_la_LIBADD = $(BLAS_LIBS) -lm
EXTRA_DIST += src/num/gen_tableau.py src/num/gen_implicit.py docs/solvers.md docs/sde.md
