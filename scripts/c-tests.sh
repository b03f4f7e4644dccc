#!/usr/bin/env bash
# The C side of siocore: checks the committed header against the sources, builds libsiocore,
# builds the C tests and examples plain, with ASan+UBSan and for valgrind, and runs:
# - tests/c/server_test.c (the sans-IO server driven by hand) plain, sanitized, under
#   valgrind, and against the shared library; tests/c/client_test.c (the sans-IO client paired
#   with the sans-IO server in memory, every transport mode with the default and the msgpack
#   parser, and the misuse results) plain, sanitized and under valgrind;
#   tests/c/cluster_loop_test.c (two ready loops on threads in
#   one cluster through a redis-server it starts) plain, sanitized and under valgrind;
# - tests/c/header_check.cpp (the header as C++, -Werror, with and without
#   SIOCORE_BARE_METAL);
# - examples/c/bare_metal_client.c: linked for a Cortex-M4F against the bare-metal
#   libsiocore (no_std, no allocator; Debian's gcc-arm-none-eabi and newlib), its image size
#   printed; and built for the host with tests/c/bare_metal_test.c (its board: the sans-IO
#   server in memory), plain, sanitized and under valgrind;
# - examples/c/echo_server.c against the interop suite (tests/interop/echo_suite.mjs, the
#   same the Rust echo server passes), plain, sanitized and under valgrind; and against the
#   hostile-peer suite (tests/hostile.rs), plain;
# - examples/c/chat_server.c in two Chromium tabs (tests/interop/chat_browser.mjs), plain,
#   sanitized and under valgrind; and its page when the server has no client bundle;
# - the C examples' flags: --help, bad flags and values, a busy port (the c_ tests of
#   tests/examples.rs), plain and sanitized;
# - examples/c/mirror_client.c under the Node socket.io server (tests/interop/mirror_suite.mjs,
#   the suite the Rust mirror client passes) over websocket, polling and upgrade, plain and
#   sanitized; under valgrind over websocket; with --parser msgpack under the Node server with
#   the msgpack parser (mirror_suite.mjs --msgpack) in each mode, plain and sanitized; and with
#   --eio3 under socket.io 2.5.0 (mirror_suite.mjs --v2) in each mode, plain and
#   sanitized.
# - a fresh install prefix (scripts/install-c.sh) used through pkg-config and CMake.
# Valgrind and the sanitizers must report 0 errors and 0 leaks. Called by scripts/test.sh,
# after the npm packages, chromium and cmake are installed.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "header is up to date (cbindgen)"
bash scripts/gen-header.sh --check

step "libsiocore"
cargo build --locked --release -p siocore-ffi
lib=target/release/libsiocore.a
out=target/c
mkdir -p "$out"

cflags=(-std=c99 -Wall -Wextra -Werror -pedantic -Iinclude -g)
libs=("$lib" -lpthread -ldl -lm)
san=(-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
for prog in tests/c/server_test.c tests/c/client_test.c tests/c/cluster_loop_test.c \
  tests/c/tls_loop_test.c examples/c/echo_server.c examples/c/chat_server.c \
  examples/c/mirror_client.c; do
  name=$(basename "$prog" .c)
  gcc "${cflags[@]}" -O1 "$prog" "${libs[@]}" -o "$out/$name"
  gcc "${cflags[@]}" "${san[@]}" "$prog" "${libs[@]}" -o "$out/$name-asan"
done
# The firmware-style client and its host board, two translation units.
gcc "${cflags[@]}" -O1 -DBARE_METAL_NO_MAIN tests/c/bare_metal_test.c \
  examples/c/bare_metal_client.c "${libs[@]}" -o "$out/bare_metal_test"
gcc "${cflags[@]}" "${san[@]}" -DBARE_METAL_NO_MAIN tests/c/bare_metal_test.c \
  examples/c/bare_metal_client.c "${libs[@]}" -o "$out/bare_metal_test-asan"
gcc "${cflags[@]}" -O1 tests/c/server_test.c -Ltarget/release -lsiocore -o "$out/server_test-shared"
# The program asks for the library by its SONAME.
ln -sfn libsiocore.so target/release/libsiocore.so.0
g++ -std=c++11 -Wall -Wextra -Werror -pedantic -Iinclude tests/c/header_check.cpp "${libs[@]}" \
  -o "$out/header_check"
g++ -std=c++11 -Wall -Wextra -Werror -pedantic -Iinclude -DSIOCORE_BARE_METAL -fsyntax-only \
  tests/c/header_check.cpp

# TLS material for this run (a fresh CA and certificate): scripts/test-certs.sh.
tls="$out/tls"
bash scripts/test-certs.sh "$tls"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
valgrind=(valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=all
  --errors-for-leak-kinds=all)

step "C unit tests: plain, ASan+UBSan, valgrind, shared library; C++ header"
"$out/server_test"
"$out/server_test-asan"
"${valgrind[@]}" "$out/server_test"
"$out/client_test"
"$out/client_test-asan"
"${valgrind[@]}" "$out/client_test"
LD_LIBRARY_PATH=target/release "$out/server_test-shared"
"$out/cluster_loop_test"
"$out/cluster_loop_test-asan"
"${valgrind[@]}" "$out/cluster_loop_test"
tls_files=("$tls/ca.pem" "$tls/cert.pem" "$tls/key.pem" "$tls/other.key")
"$out/tls_loop_test" "${tls_files[@]}"
"$out/tls_loop_test-asan" "${tls_files[@]}"
# ring's AES-GCM assembly reads as uninitialised to memcheck: tests/c/ring.supp says which.
"${valgrind[@]}" --suppressions=tests/c/ring.supp "$out/tls_loop_test" "${tls_files[@]}"
"$out/header_check"
"$out/bare_metal_test"
"$out/bare_metal_test-asan"
"${valgrind[@]}" "$out/bare_metal_test"

step "bare-metal libsiocore (thumbv7em-none-eabihf: no_std, no allocator) and a C firmware on it"
# (Cargo warns that the target has no shared libraries: only libsiocore.a is made.)
cargo build --locked --release -p siocore-ffi --no-default-features --target thumbv7em-none-eabihf
bare=target/thumbv7em-none-eabihf/release/libsiocore.a
# The lent-memory constructors are in it (the host's bare_metal_test uses them).
bare_symbols=$(arm-none-eabi-nm -g --defined-only "$bare" 2>/dev/null)
for sym in sio_server_new_in sio_client_new_in sio_server_cluster_memory_size \
  sio_server_join_cluster_in sio_server_cluster_receive; do
  grep -q " T $sym\$" <<<"$bare_symbols" || {
    echo "bare-metal libsiocore lacks $sym" >&2
    exit 1
  }
done
arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -Os \
  -std=c99 -Wall -Wextra -Werror -ffunction-sections -fdata-sections -DSIOCORE_BARE_METAL \
  -Iinclude examples/c/bare_metal_client.c "$bare" -Wl,--gc-sections --specs=nosys.specs \
  -Wl,--no-warn-execstack -o "$out/bare_metal_client.elf"
echo "examples/c/bare_metal_client.c for a Cortex-M4F, with libsiocore and newlib:"
arm-none-eabi-size "$out/bare_metal_client.elf"

# Starts a server (the rest of the arguments: the command), waits for the URL it prints,
# runs `check` with it, stops the server with SIGTERM and requires exit status 0.
with_server() {
  local check=$1
  shift
  local log
  log=$(mktemp)
  "$@" >"$log" 2>&1 &
  local pid=$!
  local url=""
  for _ in $(seq 1 200); do
    url=$(grep -o 'https\?://127.0.0.1:[0-9]*' "$log" | head -n 1 || true)
    [ -n "$url" ] && break
    sleep 0.05
  done
  if [ -z "$url" ]; then
    echo "server did not start: $*" >&2
    cat "$log" >&2
    kill "$pid" 2>/dev/null || true
    exit 1
  fi
  local status=0
  "$check" "$url" || status=$?
  kill -TERM "$pid" 2>/dev/null || true
  local code=0
  wait "$pid" || code=$?
  if [ "$status" != 0 ] || [ "$code" != 0 ]; then
    echo "failed ($status), server exit $code: $*" >&2
    cat "$log" >&2
    exit 1
  fi
  rm -f "$log"
}

suite() { (cd tests/interop && timeout 200 node echo_suite.mjs "$@"); }

echo_checks() {
  local url=$1
  for mode in polling websocket upgrade; do
    suite "$url" socketio "$mode" || return 1
    suite "$url" engineio "$mode" || return 1
  done
  suite "$url" garbage
}

heartbeat_checks() { suite "$1" heartbeat; }

chat_checks() { (cd tests/interop && timeout 120 node chat_browser.mjs "$1/" /usr/bin/chromium); }

# Over https: Chromium trusts the server's certificate by its key.
tls_chat_checks() {
  (cd tests/interop && timeout 120 node chat_browser.mjs "$1/" /usr/bin/chromium "$PWD/../../$tls/cert.pem")
}

step "C examples: --help, bad flags and a busy port (tests/examples.rs), plain and ASan+UBSan"
cargo build --locked --all-features --examples # the Rust chat_client joins the C chat server
for suffix in "" -asan; do
  SIOCORE_C_EXAMPLES="$PWD/$out" SIOCORE_C_SUFFIX="$suffix" timeout 300 \
    cargo test --locked --all-features --test examples -- --ignored c_
done

# The chat page with no client bundle on the server and a browser offline: it says so in
# plain words and Enter keeps the message (the server runs where no node_modules is).
no_client_checks() {
  (cd tests/interop && timeout 120 node chat_browser.mjs --no-client "$1/" /usr/bin/chromium)
}

step "an install prefix: pkg-config and CMake consumers"
prefix=$(mktemp -d)
bash scripts/install-c.sh "$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
# shellcheck disable=SC2046 # word splitting of pkg-config's output is the point
gcc -std=c99 -Wall -Werror tests/c/server_test.c $(pkg-config --cflags --libs siocore) \
  -o "$out/server_test-pkgconfig"
LD_LIBRARY_PATH="$prefix/lib" "$out/server_test-pkgconfig" >/dev/null
cmake -S tests/c/cmake -B "$out/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$out/cmake" >/dev/null
"$out/cmake/server_test_static" >/dev/null
LD_LIBRARY_PATH="$prefix/lib" "$out/cmake/server_test_shared" >/dev/null
# The shared library carries its SONAME, programs record it, the install has its links.
readelf -d target/release/libsiocore.so | grep -q 'SONAME.*\[libsiocore\.so\.0\]'
readelf -d "$out/cmake/server_test_shared" | grep -q 'NEEDED.*\[libsiocore\.so\.0\]'
[ "$(readlink "$prefix/lib/libsiocore.so")" = libsiocore.so.0 ]
[ -f "$prefix/lib/$(readlink "$prefix/lib/libsiocore.so.0")" ]
rm -rf "$prefix"
echo "pkg-config and find_package(siocore) builds pass"

for variant in plain asan valgrind; do
  case $variant in
    plain) run=("$out/echo_server") chat=("$out/chat_server") ;;
    asan) run=("$out/echo_server-asan") chat=("$out/chat_server-asan") ;;
    valgrind) run=("${valgrind[@]}" "$out/echo_server") chat=("${valgrind[@]}" "$out/chat_server") ;;
  esac
  step "C echo server ($variant) against the interop suite"
  with_server echo_checks "${run[@]}" --port 0
  if [ "$variant" != valgrind ]; then
    # 300/200 ms heartbeats want real time; valgrind's slowdown would blur them.
    with_server heartbeat_checks "${run[@]}" --port 0 --ping-interval 300 --ping-timeout 200
  fi
  step "C chat server ($variant) in two Chromium tabs"
  with_server chat_checks "${chat[@]}" --port 0
  if [ "$variant" = plain ]; then
    step "C chat server without the client bundle: the page says so"
    elsewhere=$(mktemp -d)
    with_server no_client_checks env -C "$elsewhere" "$PWD/$out/chat_server" --port 0 \
      --page "$PWD/examples/chat/index.html"
    rmdir "$elsewhere"
  fi
  if [ "$variant" != valgrind ]; then
    step "C chat server ($variant) over https in two Chromium tabs"
    with_server tls_chat_checks "${chat[@]}" --port 0 --tls-cert "$tls/cert.pem" \
      --tls-key "$tls/key.pem"
  fi
done
step "C echo server against the hostile-peer suite"
SIOCORE_HOSTILE_SERVER="$PWD/$out/echo_server" timeout 300 \
  cargo test --locked --all-features --test hostile
mirror() { (cd tests/interop && timeout 150 node mirror_suite.mjs "$@"); }
for mode in websocket polling upgrade; do
  step "C mirror client ($mode) under the Node server: plain and ASan+UBSan"
  mirror "$mode" "$PWD/$out/mirror_client"
  mirror "$mode" "$PWD/$out/mirror_client-asan"
done
tls_mirror=(--tls "$PWD/$tls/cert.pem" "$PWD/$tls/key.pem" "$PWD/$tls/ca.pem")
for mode in websocket polling upgrade; do
  step "C mirror client ($mode) under Node's https server, --ca"
  mirror "${tls_mirror[@]}" "$mode" "$PWD/$out/mirror_client"
done
mirror "${tls_mirror[@]}" websocket "$PWD/$out/mirror_client-asan"
step "C mirror client (websocket) under valgrind"
mirror websocket "${valgrind[@]}" "$PWD/$out/mirror_client"
for mode in websocket polling upgrade; do
  step "C mirror client --parser msgpack ($mode) under the Node server with the msgpack parser: plain and ASan+UBSan"
  mirror --msgpack "$mode" "$PWD/$out/mirror_client"
  mirror --msgpack "$mode" "$PWD/$out/mirror_client-asan"
done
mirror_v2() { (cd tests/interop && timeout 150 node mirror_suite.mjs --v2 "$@"); }
for mode in websocket polling upgrade; do
  step "C mirror client --eio3 ($mode) under socket.io 2.5.0: plain and ASan+UBSan"
  mirror_v2 "$mode" "$PWD/$out/mirror_client"
  mirror_v2 "$mode" "$PWD/$out/mirror_client-asan"
done
echo "C tests passed"
