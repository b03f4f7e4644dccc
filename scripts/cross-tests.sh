#!/usr/bin/env bash
# Small boards: cross-builds libsiocore and the C examples for aarch64 and armv7 Linux with
# Debian's cross compilers, then runs, under qemu-user, the C unit tests, the core's Rust
# tests (library, server suite, client pair tests, fuzz-corpus replay, zero-allocation check),
# the Rust client and server over TLS (feature `tls`: rustls and ring built for the target),
# the C echo server against the interop suite over WebSocket, and the C mirror client under
# the Node server over WebSocket, plain and over TLS (wss, the Node server on https). Called
# by scripts/test.sh, which installs the cross toolchains, qemu-user and the rustup targets
# first.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

for target in aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf; do
  case $target in
    aarch64-*) triple=aarch64-linux-gnu qemu=qemu-aarch64 ;;
    armv7-*) triple=arm-linux-gnueabihf qemu=qemu-arm ;;
  esac
  cc="$triple-gcc"
  sysroot="/usr/$triple"
  var=$(echo "$target" | tr 'a-z-' 'A-Z_')
  export "CARGO_TARGET_${var}_LINKER=$cc"
  export "CARGO_TARGET_${var}_RUNNER=$qemu -L $sysroot"
  out="target/c/$target"
  mkdir -p "$out"

  step "$target: libsiocore and the C programs"
  cargo build --locked --release -p siocore-ffi --target "$target"
  lib="target/$target/release/libsiocore.a"
  for prog in tests/c/server_test.c tests/c/client_test.c examples/c/echo_server.c \
    examples/c/chat_server.c examples/c/mirror_client.c; do
    "$cc" -std=c99 -O2 -Wall -Wextra -Werror -Iinclude "$prog" "$lib" -lpthread -ldl -lm \
      -o "$out/$(basename "$prog" .c)"
  done

  step "$target: C unit tests under $qemu"
  "$qemu" -L "$sysroot" "$out/server_test"
  "$qemu" -L "$sysroot" "$out/client_test"

  step "$target: the core's Rust tests under $qemu"
  cargo test --locked -p siocore --target "$target" --features alloc \
    --lib --test server --test client --test fuzz_corpus --test no_alloc

  step "$target: TLS (feature tls: rustls on ring) under $qemu, the Rust client and server"
  cargo test --locked -p siocore --target "$target" --features tls --test tls -- --exact \
    rust_client_and_server_over_tls_in_every_mode \
    an_untrusted_certificate_is_refused_with_an_error_that_says_so \
    a_certificate_for_another_name_is_refused_with_an_error_that_says_so \
    plain_http_routes_share_the_tls_port

  step "$target: the C echo server under $qemu against the interop suite (WebSocket)"
  log=$(mktemp)
  "$qemu" -L "$sysroot" "$out/echo_server" --port 0 >"$log" 2>&1 &
  pid=$!
  url=""
  for _ in $(seq 1 200); do
    url=$(grep -o 'http://127.0.0.1:[0-9]*' "$log" | head -n 1 || true)
    [ -n "$url" ] && break
    sleep 0.05
  done
  [ -n "$url" ] || { cat "$log"; kill "$pid"; exit 1; }
  status=0
  (cd tests/interop && timeout 300 node echo_suite.mjs "$url" socketio websocket) || status=$?
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || true
  rm -f "$log"
  [ "$status" = 0 ] || exit 1

  step "$target: the C mirror client under $qemu against the Node server (WebSocket)"
  mirror_bin="$PWD/$out/mirror_client"
  (cd tests/interop && timeout 150 node mirror_suite.mjs websocket "$qemu" -L "$sysroot" \
    "$mirror_bin")

  step "$target: the C mirror client under $qemu against Node's https server (wss, --ca)"
  tls="$PWD/$out/tls"
  bash scripts/test-certs.sh "$tls"
  (cd tests/interop && timeout 150 node mirror_suite.mjs --tls "$tls/cert.pem" "$tls/key.pem" \
    "$tls/ca.pem" websocket "$qemu" -L "$sysroot" "$mirror_bin")
done
echo "cross tests passed"
