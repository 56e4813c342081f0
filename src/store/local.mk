# store: SQLite connections (one per thread), statement helpers, schema
# migrations, one file per table (models, their versions, the versions'
# networks, datasets, training jobs with their checkpoints and metrics) and
# the cache of loaded versions. The only layer that speaks SQL. Programs link
# it before src/model/libmodel.la (model/model_rows.h turns model_defs into
# rows and back).
noinst_LTLIBRARIES += src/store/libstore.la
src_store_libstore_la_SOURCES = \
	src/store/db.c src/store/db.h src/store/db_internal.h \
	src/store/stmt.c src/store/stmt.h \
	src/store/migrate.c src/store/migrate.h src/store/migrate_internal.h \
	src/store/conns.c \
	src/store/models.c src/store/models.h src/store/models_internal.h \
	src/store/aliases.c src/store/aliases.h src/store/aliases_internal.h \
	src/store/space.c src/store/space.h src/store/space_internal.h \
	src/store/oserr.c src/store/oserr_internal.h \
	src/store/model_row.c src/store/model_row_internal.h \
	src/store/versions.c src/store/versions.h src/store/versions_internal.h \
	src/store/nets.c src/store/nets_internal.h \
	src/store/hybrid.c src/store/hybrid_internal.h \
	src/store/model_cache.c src/store/model_cache.h \
	src/store/datasets.c src/store/datasets.h \
	src/store/jobs.c src/store/jobs.h \
	src/store/tokens.c src/store/tokens.h
nodist_src_store_libstore_la_SOURCES = src/store/migrations_gen.c
src_store_libstore_la_CPPFLAGS = $(AM_CPPFLAGS) $(SQLITE_CFLAGS)
src_store_libstore_la_LIBADD = $(SQLITE_LIBS) -lpthread

# Schema migrations, in order. A new migration is a new file here (never an
# edit of a released one). They are embedded in the binary at build time and
# also installed, for operators, under $(pkgdatadir)/migrations.
store_migrations = \
	migrations/0001_init.sql \
	migrations/0002_models.sql \
	migrations/0003_datasets.sql \
	migrations/0004_jobs.sql \
	migrations/0005_aliases.sql \
	migrations/0006_tokens.sql \
	migrations/0007_sde.sql \
	migrations/0008_cnf.sql \
	migrations/0009_points.sql \
	migrations/0010_hamiltonian.sql \
	migrations/0011_lagrangian.sql \
	migrations/0012_hybrid.sql \
	migrations/0013_job_parameters.sql
migrationsdir = $(pkgdatadir)/migrations
dist_migrations_DATA = $(store_migrations)

# migrations_gen.c is generated in the build tree (works out of tree and in
# make distcheck, where the source tree is read-only).
EXTRA_DIST += src/store/embed-migrations.sh
BUILT_SOURCES += src/store/migrations_gen.c
CLEANFILES += src/store/migrations_gen.c src/store/migrations_gen.c-t
src/store/migrations_gen.c: $(store_migrations) src/store/embed-migrations.sh
	$(AM_V_GEN)$(MKDIR_P) src/store && \
	$(SHELL) $(srcdir)/src/store/embed-migrations.sh $(srcdir) $(store_migrations) >$@-t && \
	mv -f $@-t $@
