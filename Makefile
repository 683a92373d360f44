# account: PGXS build.  `make installcheck` runs the regression, isolation
# and TAP suites against a running server; scripts/test.sh wraps all of it
# with a throwaway cluster (see README.md).

EXTENSION = account
EXTVERSION = 1.2
MODULE_big = account
OBJS = src/account.o src/bulk.o src/catalog.o src/lookup.o src/multi.o src/normalize.o src/trigger.o src/try.o src/uuidv7.o
# sql/account.sql is the current version; released versions are frozen
# files, and upgrades are account--A--B.sql.
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA = $(filter-out sql/$(EXTENSION)--$(EXTVERSION).sql,$(wildcard sql/$(EXTENSION)--*.sql))

PG_CPPFLAGS = -I$(srcdir)/src $(shell pkg-config --cflags icu-uc 2>/dev/null)
SHLIB_LINK = $(shell pkg-config --libs icu-uc 2>/dev/null || echo -licuuc -licudata)

REGRESS = setup types find_or_create bulk identifiers errors continue_on_error trigger security search_path isolation_levels collation_c edges

# Isolation specs and TAP tests live under test/ (specs/, expected/, t/).
ISOLATION = create_create create_find repeatable_read serializable savepoint timeouts try_timeouts try_conflicts multi_identifiers fk_account registry_drop last_identifier lock_squat
ISOLATION_OPTS = --inputdir=test --load-extension=account
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

EXTRA_CLEAN = output_iso tmp_check test/bench/out

sql/$(EXTENSION)--$(EXTVERSION).sql: sql/$(EXTENSION).sql
	cp $< $@

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
