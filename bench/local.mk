# bench: throughput programs, built by `make`, run from the build tree; each
# prints one JSON object per line. Never run by `make check`.
noinst_PROGRAMS += bench/bench_nn
bench_bench_nn_SOURCES = bench/bench_nn.c
bench_bench_nn_CFLAGS = $(AM_CFLAGS) $(BLAS_CFLAGS)
bench_bench_nn_LDADD = src/nn/libnn.la src/core/libcore.la $(BLAS_LIBS) -lm

# bench_solve: W1 trajectory solves through model/ode_model.h (docs/benchmarks.md).
noinst_PROGRAMS += bench/bench_solve
bench_bench_solve_SOURCES = bench/bench_solve.c
bench_bench_solve_CFLAGS = $(AM_CFLAGS) $(BLAS_CFLAGS) $(JANSSON_CFLAGS)
bench_bench_solve_LDADD = src/codec/libcodec.la src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(JANSSON_LIBS) $(BLAS_LIBS) -lm
EXTRA_DIST += bench/gen_w1_weights.py bench/bench_util.h

# bench_metrics: CPU ns to count one trajectory request in http/metrics.h,
# on 1, 2, 4 threads at once (docs/benchmarks.md, "Metrics").
noinst_PROGRAMS += bench/bench_metrics
bench_bench_metrics_SOURCES = bench/bench_metrics.c
bench_bench_metrics_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(JANSSON_CFLAGS)
bench_bench_metrics_LDADD = src/http/libhttp.la src/jobs/libjobs.la src/codec/libcodec.la \
	src/store/libstore.la src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(MHD_LIBS) $(JANSSON_LIBS) $(SQLITE_LIBS) $(BLAS_LIBS) -lm -lpthread

# bench_http.sh: the trajectory endpoint under wrk (w1_trajectory.lua posts
# bench_solve --print-request's W1 request) against a running daemon.
EXTRA_DIST += bench/bench_http.sh bench/w1_trajectory.lua
# http_profile.sh: where the daemon's CPU goes under load, by stage (perf).
EXTRA_DIST += bench/http_profile.sh bench/body_peak.py bench/slowloris.py
# http_ceiling.sh: the rate the machine allows at all, from CPU per request
# of the daemon and of wrk, for /healthz and the W1-sized request.
EXTRA_DIST += bench/http_ceiling.sh
# http_cpu.sh: CPU time, context switches and system calls per request (perf stat)
EXTRA_DIST += bench/http_cpu.sh
# http_overhead.sh: the one-connection overhead of W1 over /healthz on W1's own
# model (its own daemons), with the daemon's request_stages (docs/benchmarks.md)
EXTRA_DIST += bench/http_overhead.sh
# numconv_libs.sh: W1's numbers converted by odeserve's codec and by libstdc++'s
# to_chars / from_chars and fmt (numconv_libs.cc, built by the script with g++
# and libfmt-dev): the numbers' share of that overhead at the fastest rate
EXTRA_DIST += bench/numconv_libs.sh bench/numconv_libs.cc
# http_w1_load.sh: W1 at 64 connections on W1's own model, one and two wrk
# threads, the daemon's and wrk's CPU per request against the target's
EXTRA_DIST += bench/http_w1_load.sh
# w1_daemon.sh: http_overhead.sh, numconv_libs.sh and http_w1_load.sh start
# their daemons (W1 seeded) through it
EXTRA_DIST += bench/w1_daemon.sh
# w2_bound.sh: W2's iteration against its arithmetic bound (this machine's
# tanh and dgemm rates, bench_nn) and against the real torchdiffeq, per round
EXTRA_DIST += bench/w2_bound.sh
# bench_loopback: the machine's own loopback TCP round trip (no HTTP), on one
# CPU and across two, for reading http_overhead.sh's figures against it.
noinst_PROGRAMS += bench/bench_loopback
bench_bench_loopback_SOURCES = bench/bench_loopback.c
bench_bench_loopback_LDADD = -lpthread
# http_small_request.json: a W1-sized spiral request (y0 = (0.5, 0), 100
# times in [0, 5]: about a tenth of the demo request's evaluations), for
# REQUEST= of both scripts: the HTTP path's own cost at the solve size of W1.
EXTRA_DIST += bench/http_small_request.json

# W3: neural CDE evaluation, batch of 32 series (docs/benchmarks.md).
noinst_PROGRAMS += bench/bench_cde
bench_bench_cde_SOURCES = bench/bench_cde.c
bench_bench_cde_CFLAGS = $(AM_CFLAGS) $(BLAS_CFLAGS)
bench_bench_cde_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(BLAS_LIBS) -lm
# w3_torch.py: W3 in PyTorch as torchcde + torchdiffeq compute it, for the
# ratio (needs Debian's python3-torch; not a build dependency).
EXTRA_DIST += bench/w3_torch.py
# bench_train: time per training iteration, spiral setup
noinst_PROGRAMS += bench/bench_train
bench_bench_train_SOURCES = bench/bench_train.c
bench_bench_train_CFLAGS = $(AM_CFLAGS) $(BLAS_CFLAGS)
bench_bench_train_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(BLAS_LIBS) -lm
# bench_codec: the request parser's number reading (strtod vs codec_strtod,
# ns per number) and codec_parse of a whole request, fed on stdin:
#   bench/bench_solve --print-request | bench/bench_codec
noinst_PROGRAMS += bench/bench_codec
bench_bench_codec_SOURCES = bench/bench_codec.c
bench_bench_codec_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
bench_bench_codec_LDADD = src/codec/libcodec.la src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(JANSSON_LIBS) $(BLAS_LIBS) -lm
# bench_cde_knots: docs/cde.md's work-precision table (knots and step
# control) from tests/fixtures/cde_knots.json (gen_cde_knots.py runs torchcde).
noinst_PROGRAMS += bench/bench_cde_knots
bench_bench_cde_knots_SOURCES = bench/bench_cde_knots.c
bench_bench_cde_knots_CFLAGS = $(AM_CFLAGS) $(BLAS_CFLAGS) $(JANSSON_CFLAGS)
bench_bench_cde_knots_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(JANSSON_LIBS) $(BLAS_LIBS) -lm

# make bench: W1, W2, W3 and HTTP side by side with the anchors (the real
# torchdiffeq / torchcde through Debian's python3-torch), ROUNDS alternating
# rounds, ratios and load average per round, then a markdown table
# (bench/run_bench.sh; docs/benchmarks.md). Not part of make check.
EXTRA_DIST += bench/run_bench.sh bench/w1_torch.py bench/w2_torch.py bench/anchor_common.py
ROUNDS = 3
# The Python that has torch (empty: /usr/bin/python3 when it imports torch, else python3).
BENCH_PY =
.PHONY: bench
bench: bench/bench_solve bench/bench_train bench/bench_cde src/odeserved
	ROUNDS='$(ROUNDS)' PYTHON='$(BENCH_PY)' srcdir='$(srcdir)' \
		$(SHELL) $(srcdir)/bench/run_bench.sh

# bench_stiff: a stiff neural ODE (state 3, stiffness ratio ~1e5) to t = 10,
# rodas4 / esdirk4 / dopri5; stiff_scipy.py runs it and SciPy Radau and BDF
# on the same weights (docs/benchmarks.md, docs/solvers.md).
noinst_PROGRAMS += bench/bench_stiff
bench_bench_stiff_SOURCES = bench/bench_stiff.c
bench_bench_stiff_CFLAGS = $(AM_CFLAGS) $(BLAS_CFLAGS)
bench_bench_stiff_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(BLAS_LIBS) -lm
EXTRA_DIST += bench/stiff_scipy.py

# bench_auth: the cost of checking an API token per request (a SQLite
# lookup through a cached statement + SHA-256 + constant-time compare).
noinst_PROGRAMS += bench/bench_auth
bench_bench_auth_SOURCES = bench/bench_auth.c
bench_bench_auth_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
bench_bench_auth_LDADD = src/store/libstore.la src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(SQLITE_LIBS) $(GNUTLS_LIBS) $(BLAS_LIBS) -lm -lpthread

# soak.sh: soak and overload against a daemon it starts (soak.py, the client;
# docs/benchmarks.md, "Soak"). Not in make check.
EXTRA_DIST += bench/soak.sh bench/soak.py bench/with_daemon.sh

# bench_sde: neural SDE sampling, 2-64-64-2 drift and diffusion (issue #25;
# docs/benchmarks.md, "SDE"); sde_torchsde.py is the torchsde side.
noinst_PROGRAMS += bench/bench_sde
bench_bench_sde_SOURCES = bench/bench_sde.c
bench_bench_sde_CFLAGS = $(AM_CFLAGS) $(BLAS_CFLAGS) $(JANSSON_CFLAGS)
bench_bench_sde_LDADD = src/codec/libcodec.la src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(JANSSON_LIBS) $(BLAS_LIBS) -lpthread -lm
EXTRA_DIST += bench/sde_torchsde.py

# bench_symplectic: ns per step of each method of num/symplectic.h on
# analytic Hamiltonians (Kepler, n = 2; an FPU chain, n = 32), with Newton
# iterations per step and the energy error (docs/solvers.md).
noinst_PROGRAMS += bench/bench_symplectic
bench_bench_symplectic_SOURCES = bench/bench_symplectic.c
bench_bench_symplectic_CFLAGS = $(AM_CFLAGS) $(BLAS_CFLAGS)
bench_bench_symplectic_LDADD = src/num/libnum.la src/core/libcore.la $(BLAS_LIBS) -lm

# bench_hamiltonian: µs per step of hamiltonian models, 2-W-W-1 general H
# (gauss4) and 1-W-W-1 potential + kinetic (leapfrog, yoshida4), W = 64 and
# 200, batch 1 and 256, against the 3-forward-passes-per-gradient bound
# (issue #26; docs/benchmarks.md, "Hamiltonian").
noinst_PROGRAMS += bench/bench_hamiltonian
bench_bench_hamiltonian_SOURCES = bench/bench_hamiltonian.c
bench_bench_hamiltonian_CFLAGS = $(AM_CFLAGS) $(BLAS_CFLAGS) $(JANSSON_CFLAGS)
bench_bench_hamiltonian_LDADD = src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(BLAS_LIBS) -lpthread -lm
# hnn_torch.py: the reference HNN code's way (PyTorch autograd of H in a
# Python loop, and solve_ivp RK45 for a rollout) next to bench_hamiltonian
# and a live daemon's 1,000-period rollout of the same trained H.
EXTRA_DIST += bench/hnn_torch.py

# bench_cnf: log_prob of a continuous normalizing flow, 2-D exact trace and
# 64-D Hutchinson (issue #27; docs/benchmarks.md, "CNF"); cnf_torchdiffeq.py
# is the torchdiffeq (FFJORD-style) side.
noinst_PROGRAMS += bench/bench_cnf
bench_bench_cnf_SOURCES = bench/bench_cnf.c
bench_bench_cnf_CFLAGS = $(AM_CFLAGS) $(BLAS_CFLAGS) $(JANSSON_CFLAGS)
bench_bench_cnf_LDADD = src/codec/libcodec.la src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(JANSSON_LIBS) $(BLAS_LIBS) -lpthread -lm
EXTRA_DIST += bench/cnf_torchdiffeq.py

# bench_cfm: one flow-matching training iteration, 3-64-64-2 at batch 256,
# independent and exact-OT coupling (issue #27; docs/benchmarks.md, "CFM");
# cfm_torch.py is the PyTorch side.
noinst_PROGRAMS += bench/bench_cfm
bench_bench_cfm_SOURCES = bench/bench_cfm.c
bench_bench_cfm_CFLAGS = $(AM_CFLAGS) $(BLAS_CFLAGS)
bench_bench_cfm_LDADD = src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(BLAS_LIBS) -lpthread -lm
EXTRA_DIST += bench/cfm_torch.py

# bench_hybrid: hybrid models' equations (issue #22; docs/benchmarks.md,
# "Hybrid models"): ns per evaluation of a ten-node expression, µs per NFE of
# a pendulum with a 2-32-32-1 network against the network alone, Van der Pol
# mu = 1000 to t = 3000 with rodas4 (vdp_scipy.py: SciPy's Radau).
noinst_PROGRAMS += bench/bench_hybrid
bench_bench_hybrid_SOURCES = bench/bench_hybrid.c
bench_bench_hybrid_CFLAGS = $(AM_CFLAGS) $(BLAS_CFLAGS) $(JANSSON_CFLAGS)
bench_bench_hybrid_LDADD = src/codec/libcodec.la src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(JANSSON_LIBS) $(BLAS_LIBS) -lpthread -lm
EXTRA_DIST += bench/vdp_scipy.py
# bench_grad: peak memory and NFE of each gradient method on W1 to t = 25
# and 2500 (docs/training.md, "Gradient methods compared").
noinst_PROGRAMS += bench/bench_grad
bench_bench_grad_SOURCES = bench/bench_grad.c
bench_bench_grad_CFLAGS = $(AM_CFLAGS) $(BLAS_CFLAGS)
bench_bench_grad_LDADD = src/model/libmodel.la src/num/libnum.la src/nn/libnn.la \
	src/core/libcore.la $(BLAS_LIBS) -lm

# bench_train_threads: one ode (batch 256) and one cde (batch 64) training
# iteration on 1 and 2 threads, a job's "threads" (docs/benchmarks.md,
# "Training threads").
noinst_PROGRAMS += bench/bench_train_threads
bench_bench_train_threads_SOURCES = bench/bench_train_threads.c
bench_bench_train_threads_CFLAGS = $(AM_CFLAGS) $(BLAS_CFLAGS) $(JANSSON_CFLAGS)
bench_bench_train_threads_LDADD = src/codec/libcodec.la src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(JANSSON_LIBS) $(BLAS_LIBS) -lpthread -lm
# train_serving.sh: serving p50 / p99 while a job runs on 0, 1, 2 threads.
EXTRA_DIST += bench/train_serving.sh bench/train_serving.py
