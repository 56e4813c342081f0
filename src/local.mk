# The daemon: main.c wires the layers together; config.c reads settings.
sbin_PROGRAMS += src/odeserved
src_odeserved_SOURCES = src/main.c
src_odeserved_LDADD = src/core/libcore.la
