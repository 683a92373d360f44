-- account 1.0 -> 1.1: only the shared library changed.
\echo Use "ALTER EXTENSION account UPDATE TO '1.1'" to load this file. \quit

-- 1.1 changed only the shared library: its SQL objects are those of 1.0,
-- so this update has nothing to do.  test/t/005_upgrade.pl installs 1.0,
-- updates to the current version and compares the catalogs with a fresh
-- install.
