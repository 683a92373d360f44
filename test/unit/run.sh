#!/usr/bin/env bash
# Build and run the normalizer unit tests (no server needed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cc -std=c99 -Wall -Wextra -Werror -O1 -g -fsanitize=address,undefined \
    -I"$root/src" $(pkg-config --cflags icu-uc) \
    "$here/normalize_test.c" "$root/src/normalize.c" \
    $(pkg-config --libs icu-uc) -o "$out/normalize_test"
"$out/normalize_test"
