# tests for datasets and training jobs: the codecs and the store in-process
# (check_datasets), the real daemon over TCP (check_jobs).
check_PROGRAMS += tests/check_datasets
TESTS += tests/check_datasets
tests_check_datasets_SOURCES = tests/check_datasets.c tests/store_testlib.c tests/store_testlib.h \
	tests/testutil.c tests/testutil.h
tests_check_datasets_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE_CFLAGS) $(JANSSON_CFLAGS)
tests_check_datasets_LDADD = src/codec/libcodec.la $(store_test_ldadd) $(JANSSON_LIBS)

check_PROGRAMS += tests/check_jobs
TESTS += tests/check_jobs
tests_check_jobs_SOURCES = tests/check_jobs.c tests/testutil.c tests/testutil.h
tests_check_jobs_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_jobs_LDADD = $(CHECK_LIBS) $(JANSSON_LIBS)

# the training runner and the job store in-process: checkpoint / resume of a
# cde job, a job's result committed with its status.
check_PROGRAMS += tests/check_train
TESTS += tests/check_train
tests_check_train_SOURCES = tests/check_train.c tests/store_testlib.c tests/store_testlib.h \
	tests/stiff_testlib.c tests/stiff_testlib.h tests/train_testlib.c tests/train_testlib.h \
	tests/testutil.c tests/testutil.h
tests_check_train_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE_CFLAGS) $(BLAS_CFLAGS)
tests_check_train_LDADD = src/jobs/libjobs.la src/codec/libcodec.la $(store_test_ldadd) $(JANSSON_LIBS)

# sde jobs through the real daemon: the Ornstein-Uhlenbeck acceptance test
# of issue #25 (examples/ou_sde) and the errors of sde job documents
check_PROGRAMS += tests/check_sde_train
TESTS += tests/check_sde_train
tests_check_sde_train_SOURCES = tests/check_sde_train.c tests/jobtest.c tests/jobtest.h tests/testutil.c tests/testutil.h
tests_check_sde_train_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_sde_train_LDADD = $(CHECK_LIBS) $(JANSSON_LIBS)

# A cnf trained by flow matching through the real daemon (check_cnf_job):
# a CSV point set, the job's metrics, the stored version served.
check_PROGRAMS += tests/check_cnf_job
TESTS += tests/check_cnf_job
tests_check_cnf_job_SOURCES = tests/check_cnf_job.c tests/jobtest.c tests/jobtest.h tests/testutil.c tests/testutil.h
tests_check_cnf_job_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_cnf_job_LDADD = $(CHECK_LIBS) $(JANSSON_LIBS)

# issue #26's HNN acceptance test through the real daemon (check_hnn_train):
# examples/pendulum_hnn, an hnn job and an ode derivative job on the same
# data, 100-period rollouts: energy without trend, phase error below the ode's.
check_PROGRAMS += tests/check_hnn_train
TESTS += tests/check_hnn_train
tests_check_hnn_train_SOURCES = tests/check_hnn_train.c tests/jobtest.c tests/jobtest.h tests/testutil.c tests/testutil.h
tests_check_hnn_train_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_hnn_train_LDADD = $(CHECK_LIBS) $(JANSSON_LIBS) -lm

# issue #26's LNN acceptance test through the real daemon (check_lnn_dp):
# examples/dpendulum_lnn, an lnn job and an ode derivative job on the same
# noisy double pendulum, rollouts from held-out states against SciPy's.
check_PROGRAMS += tests/check_lnn_dp
TESTS += tests/check_lnn_dp
tests_check_lnn_dp_SOURCES = tests/check_lnn_dp.c tests/jobtest.c tests/jobtest.h tests/testutil.c tests/testutil.h
tests_check_lnn_dp_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_lnn_dp_LDADD = $(CHECK_LIBS) $(JANSSON_LIBS) -lm

# A lagrangian model trained through the daemon (check_lnn_job): the lnn
# job on the harmonic oscillator, the stored version served.
check_PROGRAMS += tests/check_lnn_job
TESTS += tests/check_lnn_job
tests_check_lnn_job_SOURCES = tests/check_lnn_job.c tests/jobtest.c tests/jobtest.h tests/testutil.c tests/testutil.h
tests_check_lnn_job_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_lnn_job_LDADD = $(CHECK_LIBS) $(JANSSON_LIBS) -lm

# A hybrid model trained through the daemon (check_hybrid_job): the damped
# pendulum's constants fitted by a real job over HTTP, the stored version,
# its export's round trip, the parameters in the job's metrics, the init's
# refusals.
check_PROGRAMS += tests/check_hybrid_job
TESTS += tests/check_hybrid_job
tests_check_hybrid_job_SOURCES = tests/check_hybrid_job.c tests/jobtest.c tests/jobtest.h tests/testutil.c tests/testutil.h
tests_check_hybrid_job_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_hybrid_job_LDADD = $(CHECK_LIBS) $(JANSSON_LIBS) -lm
