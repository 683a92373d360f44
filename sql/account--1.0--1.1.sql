/* account--1.0--1.1.sql: upgrade from 1.0 to 1.1 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION account UPDATE TO '1.1'" to load this file. \quit

-- 1.1 changes nothing yet: this is the scaffold that every later change
-- to sql/account.sql must be mirrored in.  test/t/005_upgrade.pl installs
-- 1.0, runs ALTER EXTENSION account UPDATE and compares the catalogs with
-- a fresh install of the current version.
