#!/usr/bin/env bash
# Build the libFuzzer target with clang and run it for N seconds (default 10).
# Fails on a crash, a sanitizer report or a non-idempotent normalization.
set -euo pipefail
seconds=${1:-10}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$root/src" $(pkg-config --cflags icu-uc) \
    "$here/fuzz_normalize.c" "$root/src/normalize.c" \
    $(pkg-config --libs icu-uc) -o "$out/fuzz_normalize"
mkdir -p "$out/corpus"
# seeds: the interesting shapes from the unit tests
printf 'ABC' >"$out/corpus/1"; printf ' \tAbC\n' >"$out/corpus/2"
printf '\xc3\x89COLE' >"$out/corpus/3"; printf 'e\xcc\x81cole' >"$out/corpus/4"
printf 'Stra\xc3\x9fe' >"$out/corpus/5"; printf '\xcd\x85\xe2\x84\xab' >"$out/corpus/6"
printf 'Alice@Example.COM' >"$out/corpus/7"; printf '+1 (415) 555-0100' >"$out/corpus/8"
printf '\xe1\xbe\x80\xe1\xbe\x81\xe1\xbe\xa8' >"$out/corpus/9"; printf '\xef\xbc\xa1\xe2\x80\x8b\xef\xbb\xbf' >"$out/corpus/10"
"$out/fuzz_normalize" -max_total_time="$seconds" -max_len=256 -print_final_stats=1 "$out/corpus" 2>&1 | tail -n 8
