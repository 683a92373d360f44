# account: PGXS build.  `make installcheck` runs the regression, isolation
# and TAP suites against a running server; scripts/test.sh wraps all of it
# with a throwaway cluster (see README.md).

EXTENSION = account
# the version being built is the control file's default_version
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)
MODULE_big = account
# The files, top layer first (docs/internals.md): the SQL-facing files,
# then call.c, the two protocols and what they stand on, then the bottom
# layer and the pure code.
OBJS = src/find.o src/identifiers.o src/bulk.o src/try.o src/trigger.o \
       src/lifecycle.o src/record.o src/journal_api.o src/table_triggers.o src/legacy.o \
       src/resolve.o src/call.o src/lookup.o src/dist.o src/dist_create.o src/dist_errors.o src/statement.o src/rowlock.o \
       src/limits.o src/settle.o src/moves.o src/prepare.o src/journal.o src/catalog.o \
       src/types.o src/value.o src/node.o src/rules.o src/route.o src/normalize.o src/uuidv7.o
# The install script of the current version is built from sql/parts/,
# one file per concern (sql/install.sql says how); the frozen 1.0 script
# is the base of the update chain, and each update script is built from
# sql/updates/, with the trust guard (sql/parts/00_guard.sql) first and,
# in the newest one, where it says -- @parts@, the parts that define
# functions (a released update script is frozen: its functions are that
# version's, written out).
PARTS = $(filter-out sql/parts/00_guard.sql,$(sort $(wildcard sql/parts/*.sql)))
UPDATE_PARTS = $(filter-out sql/parts/10_tables.sql,$(PARTS))
UPDATES = $(patsubst sql/updates/%.sql,sql/$(EXTENSION)--%.sql,$(wildcard sql/updates/*.sql))
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql $(UPDATES)
DATA = sql/$(EXTENSION)--1.0.sql

# The server's headers are system headers to the compiler: newer majors'
# inline functions trip -Wextra's warnings (unused parameters), and
# -Wall -Wextra -Werror is for our code, not theirs.
PG_CPPFLAGS = -I$(srcdir)/src -isystem $(includedir_server) $(shell pkg-config --cflags icu-uc 2>/dev/null)
# Export only the SQL entry points and the magic block.  PGXS does this
# from PostgreSQL 16 on (-fvisibility=hidden, PGDLLEXPORT marks what is
# exported); on 15 do the same here.
PG_CPPFLAGS += $(if $(filter 15,$(MAJORVERSION)),-fvisibility=hidden '-DPGDLLEXPORT=__attribute__((visibility("default")))')
SHLIB_LINK = $(shell pkg-config --libs icu-uc 2>/dev/null || echo -licuuc -licudata)

# Regression tests: test/sql and test/expected; isolation specs: test/specs
# (expected output in test/expected too); TAP tests: test/t.
REGRESS = setup types find_or_create bulk identifiers errors continue_on_error trigger security search_path isolation_levels collation_c edges lifecycle journal record

ISOLATION = create_create create_find repeatable_read serializable savepoint timeouts try_timeouts try_conflicts multi_identifiers fk_account registry_drop last_identifier lock_squat merge_attach merge_merge merge_tables redact_create journal_order merge_resolve limit_attach record_lifecycle resolve_touch bulk_runs
REGRESS_OPTS = --inputdir=test
ISOLATION_OPTS = --inputdir=test --load-extension=account
# the TAP tests and their harnesses are not in the PGXN archive
# (.gitattributes): without them, installcheck runs the other two suites
ifneq ($(wildcard $(dir $(firstword $(MAKEFILE_LIST)))test/t/*.pl),)
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl
endif

EXTRA_CLEAN = output_iso tmp_check test/bench/out results regression.diffs regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# after PGXS, so that "all" stays the default goal
sql/$(EXTENSION)--$(EXTVERSION).sql: sql/install.sql sql/parts/00_guard.sql $(PARTS) sql/assemble.awk
	awk -v guard=sql/parts/00_guard.sql -v parts="$(PARTS)" -f sql/assemble.awk $< > $@
sql/$(EXTENSION)--%.sql: sql/updates/%.sql sql/parts/00_guard.sql $(UPDATE_PARTS) sql/assemble.awk
	awk -v guard=sql/parts/00_guard.sql -v parts="$(UPDATE_PARTS)" -f sql/assemble.awk $< > $@

# PGXS tracks no header dependencies (unless the server was configured with
# --enable-depend): rebuild every object when a header changes, so a struct
# that grew is never used at two sizes.
$(OBJS): $(wildcard $(srcdir)/src/*.h)

# make dist: the PGXN release archive of the committed tree (META.json's
# version), in dist/: what a user needs to build, install and test
# (pg_regress and isolation); CI, Debian packaging, scripts, the TAP tests
# and the load harnesses stay out (.gitattributes, export-ignore).
DISTVERSION = $(shell sed -n 's/^   "version": "\(.*\)",/\1/p' $(srcdir)/META.json)
.PHONY: dist
dist:
	mkdir -p dist
	git archive --format zip --prefix=$(EXTENSION)-$(DISTVERSION)/ \
		-o dist/$(EXTENSION)-$(DISTVERSION).zip HEAD
	@echo dist/$(EXTENSION)-$(DISTVERSION).zip
