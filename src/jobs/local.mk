# jobs layer: running one training job (load, checkpoint, stop, record;
# the maths is model/trainer.h), and the worker pool (see src/jobs/*.h). No
# JSON here: the document is decoded by codec/codec_job.c, handed down as a
# function pointer.
noinst_LTLIBRARIES += src/jobs/libjobs.la
src_jobs_libjobs_la_SOURCES = \
	src/jobs/train_job.c src/jobs/train_job.h \
	src/jobs/pool.c src/jobs/pool.h
src_jobs_libjobs_la_CPPFLAGS = $(AM_CPPFLAGS)
src_jobs_libjobs_la_LIBADD = -lpthread
