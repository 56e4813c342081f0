# nn layer: MLP vector fields (mlp: forward, VJP, JVP, Jacobian) on OpenBLAS,
# their linear layers (linear: batches, GEMM), the single-state kernels and
# packed weights (panel), and the vectorised activations (act, vmath).
# Knows nothing of solvers or JSON.
# Programs link it before src/core/libcore.la.
# -fopenmp-simd honours `#pragma omp simd` (no OpenMP runtime);
# -fno-trapping-math lets GCC if-convert the branch-free kernels (we never
# read the floating-point exception flags); -ffp-contract=off keeps every
# target_clones variant bit-identical.
noinst_LTLIBRARIES += src/nn/libnn.la
src_nn_libnn_la_SOURCES = \
	src/nn/simd.h src/nn/hsum8.h \
	src/nn/vmath.c src/nn/vmath.h src/nn/vmath_elem.h \
	src/nn/act.c src/nn/act.h \
	src/nn/panel.c src/nn/panel.h \
	src/nn/linear.c src/nn/linear.h \
	src/nn/linear_pair.c src/nn/linear_pair.h \
	src/nn/mlp.c src/nn/mlp.h \
	src/nn/mlp_grad.c src/nn/mlp_grad.h \
	src/nn/mlp_tangent.c src/nn/mlp_tangent.h \
	src/nn/mlp_jac_batch.c src/nn/mlp_jac_batch.h \
	src/nn/mlp_trace2.c src/nn/mlp_trace2.h \
	src/nn/mlp_grad2.c src/nn/mlp_grad2.h \
	src/nn/mlp_grad3.c src/nn/mlp_grad3.h \
	src/nn/nn_blas.c src/nn/nn_blas.h
src_nn_libnn_la_CFLAGS = $(AM_CFLAGS) $(BLAS_CFLAGS) -fopenmp-simd -fno-trapping-math -ffp-contract=off
src_nn_libnn_la_LIBADD = $(BLAS_LIBS) -lm
