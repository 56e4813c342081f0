# codec layer: all JSON reading and writing (jansson). The request parser and
# its number reader (codec_strtod), the one number writer (codec_num: the
# shortest round-trip form), the text buffer every reply is written into
# (jbuf), and the decoders and encoders of the API's documents: models,
# trajectory requests and replies (ode and cde), datasets, training jobs.
# Uses core, num, nn and model; knows nothing of HTTP, SQL or threads.
noinst_LTLIBRARIES += src/codec/libcodec.la
src_codec_libcodec_la_SOURCES = \
	src/codec/jbuf.c src/codec/jbuf.h \
	src/codec/codec_num.c src/codec/codec_num.h src/codec/codec_pow10.h \
	src/codec/codec_strtod.c src/codec/codec_strtod.h src/codec/codec_pow5.h \
	src/codec/codec_utf8.c src/codec/codec_utf8.h \
	src/codec/codec_parse.c src/codec/codec_parse.h \
	src/codec/codec_packed.c src/codec/codec_packed.h \
	src/codec/codec_json.c src/codec/codec_json.h \
	src/codec/codec_model.c src/codec/codec_model.h \
	src/codec/codec_model_solver.c src/codec/codec_model_solver.h \
	src/codec/codec_request.c src/codec/codec_request.h \
	src/codec/codec_cde.c src/codec/codec_cde.h \
	src/codec/codec_sde.c src/codec/codec_sde.h \
	src/codec/codec_ham.c src/codec/codec_ham.h \
	src/codec/codec_hybrid.c src/codec/codec_hybrid.h \
	src/codec/codec_grad.c src/codec/codec_grad.h \
	src/codec/codec_grad_cde.c src/codec/codec_grad_cde.h \
	src/codec/codec_cnf.c src/codec/codec_cnf.h \
	src/codec/codec_oip.c src/codec/codec_oip.h \
	src/codec/codec_dataset.c src/codec/codec_dataset.h \
	src/codec/codec_job.c src/codec/codec_job.h \
	src/codec/codec_job_info.c src/codec/codec_job_info.h \
	src/codec/codec_dataset_info.c src/codec/codec_dataset_info.h \
	src/codec/codec_dataset_export.c src/codec/codec_dataset_export.h \
	src/codec/codec_catalog.c src/codec/codec_catalog.h \
	src/codec/codec_meta.c src/codec/codec_meta.h \
	src/codec/codec_err.c src/codec/codec_err.h \
	src/codec/codec_token.c src/codec/codec_token.h
src_codec_libcodec_la_CPPFLAGS = $(AM_CPPFLAGS) $(JANSSON_CFLAGS)
src_codec_libcodec_la_LIBADD = $(JANSSON_LIBS) -lm
# codec_pow10.h and codec_pow5.h are generated (committed): src/codec/gen_pow10.py,
# src/codec/gen_pow5.py
EXTRA_DIST += src/codec/gen_pow10.py src/codec/gen_pow5.py
