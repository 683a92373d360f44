#!/usr/bin/env python3
"""Check META.json against the PGXN Meta Spec 1.0.0 (https://pgxn.org/spec/):
the required keys and their types, semantic versions, the license names the
spec knows, provided files that exist, and a version that agrees with
account.control and debian/changelog.  Exits non-zero on any problem."""
import json
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+)?$")
LICENSES = {"agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2", "bsd",
            "freebsd", "gfdl_1_2", "gfdl_1_3", "gpl_1", "gpl_2", "gpl_3", "lgpl_2_1",
            "lgpl_3_0", "mit", "mozilla_1_0", "mozilla_1_1", "openssl", "perl_5",
            "postgresql", "qpl_1_0", "ssleay", "sun", "zlib", "open_source",
            "restricted", "unrestricted", "unknown"}
PHASES = {"configure", "build", "test", "runtime", "develop"}
RELATIONS = {"requires", "recommends", "suggests", "conflicts"}
problems = []


def need(cond, what):
    if not cond:
        problems.append(what)


def nonempty_str(v):
    return isinstance(v, str) and v.strip() != ""


with open(os.path.join(ROOT, "META.json")) as f:
    meta = json.load(f)

for key in ("name", "abstract", "version", "maintainer", "license", "provides", "meta-spec"):
    need(key in meta, f"required key {key!r} is missing")
need(nonempty_str(meta.get("name")) and not re.search(r"[\s/\\]", meta.get("name", "")),
     "name: a non-empty string without spaces or slashes")
need(nonempty_str(meta.get("abstract")), "abstract: a non-empty string")
need(SEMVER.match(str(meta.get("version", ""))), "version: a semantic version (x.y.z)")
m = meta.get("maintainer")
need(nonempty_str(m) or (isinstance(m, list) and m and all(nonempty_str(x) for x in m)),
     "maintainer: a string or a list of strings")
lic = meta.get("license")
lics = [lic] if isinstance(lic, str) else (lic if isinstance(lic, list) else [])
need(bool(lics) and all(x in LICENSES for x in lics if isinstance(x, str)),
     f"license: one of the spec's names, got {lic!r}")
spec = meta.get("meta-spec", {})
need(spec.get("version") == "1.0.0", "meta-spec.version: 1.0.0")
provides = meta.get("provides", {})
need(isinstance(provides, dict) and provides, "provides: a non-empty object")
for ext, p in provides.items():
    need(nonempty_str(p.get("file")) and os.path.isfile(os.path.join(ROOT, p.get("file", ""))),
         f"provides.{ext}.file: an existing file")
    need(SEMVER.match(str(p.get("version", ""))), f"provides.{ext}.version: a semantic version")
    if "docfile" in p:
        need(os.path.isfile(os.path.join(ROOT, p["docfile"])), f"provides.{ext}.docfile: an existing file")
for phase, rels in meta.get("prereqs", {}).items():
    need(phase in PHASES, f"prereqs: unknown phase {phase!r}")
    for rel, reqs in rels.items():
        need(rel in RELATIONS, f"prereqs.{phase}: unknown relation {rel!r}")
        for name, ver in reqs.items():
            need(ver == 0 or SEMVER.match(str(ver)) or re.match(r"^[<>=!]", str(ver)),
                 f"prereqs.{phase}.{rel}.{name}: a version")
need(meta.get("release_status", "stable") in ("stable", "testing", "unstable"),
     "release_status: stable, testing or unstable")
for key in meta:
    need(key in {"name", "abstract", "description", "version", "maintainer", "license",
                 "provides", "meta-spec", "prereqs", "release_status", "resources",
                 "generated_by", "tags", "no_index"} or key.lower().startswith("x_"),
         f"unknown key {key!r} (custom keys start with x_)")

# one version everywhere
with open(os.path.join(ROOT, "account.control")) as f:
    control = re.search(r"default_version\s*=\s*'([^']+)'", f.read()).group(1)
with open(os.path.join(ROOT, "debian", "changelog")) as f:
    deb = re.match(r"\S+ \(([^)-]+)", f.readline()).group(1)
for label, v in (("META.json version", meta.get("version")),
                 ("META.json provides.account.version", provides.get("account", {}).get("version"))):
    need(str(v).startswith(control + ".") or v == control,
         f"{label} {v} does not match account.control's default_version {control}")
need(deb == control, f"debian/changelog's version {deb} does not match account.control's {control}")

for p in problems:
    print("META.json: " + p)
print("META.json: %s" % ("valid" if not problems else "%d problems" % len(problems)))
sys.exit(1 if problems else 0)
