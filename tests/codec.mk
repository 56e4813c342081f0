# The API's JSON codecs in-process (numbers against Python's repr, model
# documents, trajectory requests and replies).
check_PROGRAMS += tests/check_codec
TESTS += tests/check_codec
tests_check_codec_SOURCES = tests/check_codec.c tests/codec_num_ref.h tests/testutil.c tests/testutil.h
tests_check_codec_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_codec_LDADD = src/codec/libcodec.la src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(CHECK_LIBS) $(JANSSON_LIBS) $(BLAS_LIBS) -lm -lpthread

# The resource replies (models, datasets, jobs, version) byte for byte.
check_PROGRAMS += tests/check_codec_replies
TESTS += tests/check_codec_replies
tests_check_codec_replies_SOURCES = tests/check_codec_replies.c tests/testutil.c tests/testutil.h
tests_check_codec_replies_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_codec_replies_LDADD = src/codec/libcodec.la src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(CHECK_LIBS) $(JANSSON_LIBS) $(BLAS_LIBS) -lm -lpthread

# The Open Inference Protocol's codec in-process (check_codec_oip: tensors
# to the v1 body, the reply's text, error fields).
check_PROGRAMS += tests/check_codec_oip
TESTS += tests/check_codec_oip
tests_check_codec_oip_SOURCES = tests/check_codec_oip.c tests/testutil.c tests/testutil.h
tests_check_codec_oip_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_codec_oip_LDADD = src/codec/libcodec.la src/model/libmodel.la src/num/libnum.la \
	src/nn/libnn.la src/core/libcore.la $(CHECK_LIBS) $(JANSSON_LIBS) $(BLAS_LIBS) -lm -lpthread

# An allocation failure at every allocation of the request decoders (a
# counting malloc replaced in the test program; skipped under the sanitizers).
check_PROGRAMS += tests/check_nomem
TESTS += tests/check_nomem
tests_check_nomem_SOURCES = tests/check_nomem.c tests/testutil.c tests/testutil.h
tests_check_nomem_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_nomem_LDADD = $(tests_check_codec_LDADD)

# The decode's memory as a multiple of the body (check_codec_memory: a
# counting malloc replaced in the test program; dataset and model uploads
# of 1, 4 and 12 MiB, packed against the plain tree).
check_PROGRAMS += tests/check_codec_memory
TESTS += tests/check_codec_memory
tests_check_codec_memory_SOURCES = tests/check_codec_memory.c
tests_check_codec_memory_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_check_codec_memory_LDADD = $(tests_check_codec_LDADD)
