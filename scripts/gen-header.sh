#!/usr/bin/env bash
# Generates include/siocore.h from ffi/src with the pinned cbindgen (installed when missing or
# of another version). `--check` fails instead of writing when the committed header differs.
set -euo pipefail
cd "$(dirname "$0")/.."
CBINDGEN_VERSION=0.29.4
if ! cbindgen --version 2>/dev/null | grep -qx "cbindgen $CBINDGEN_VERSION"; then
  cargo install --locked cbindgen --version "$CBINDGEN_VERSION"
fi
out=include/siocore.h
if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp)
  cbindgen --quiet --config ffi/cbindgen.toml --crate siocore-ffi --output "$tmp" ffi
  if ! diff -u "$out" "$tmp"; then
    echo "include/siocore.h is out of date: run scripts/gen-header.sh" >&2
    rm -f "$tmp"
    exit 1
  fi
  rm -f "$tmp"
else
  cbindgen --quiet --config ffi/cbindgen.toml --crate siocore-ffi --output "$out" ffi
fi
