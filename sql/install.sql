-- account: the install script of the current version, built by the
-- Makefile from sql/parts/ (one file per concern, in name order; the trust
-- guard first).  The frozen sql/account--1.0.sql and the update scripts
-- built from sql/updates/ give every earlier version.
\echo Use "CREATE EXTENSION account" to load this file. \quit
-- @parts@
