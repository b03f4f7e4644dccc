#!/usr/bin/env bash
# Runs every test siocore has. Installs what the tests need first, so it works on a
# fresh machine: the bare-metal rustup targets, the pinned npm packages (the Node
# reference codecs, socket.io-client and engine.io-client for the interop tests,
# playwright-core for the browser test), Debian's chromium, cmake, valgrind, redis-server,
# openssl (the C TLS tests' certificates),
# the aarch64 and armv7 cross compilers and qemu-user, their rustup targets, and the pinned cbindgen
# (scripts/gen-header.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain targets"
rustup target add thumbv7em-none-eabihf riscv32imc-unknown-none-elf \
  aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf

step "Node reference packages and clients (tests/interop)"
npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error

step "Debian packages: chromium (browser test), cmake and valgrind (C tests), cross compilers and qemu-user (small boards), gcc-arm-none-eabi and newlib (bare-metal C), redis-server (cluster tests)"
missing=()
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
command -v arm-linux-gnueabihf-gcc >/dev/null || missing+=(gcc-arm-linux-gnueabihf)
command -v qemu-aarch64 >/dev/null || missing+=(qemu-user)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v cmake >/dev/null || missing+=(cmake)
command -v arm-none-eabi-gcc >/dev/null || missing+=(gcc-arm-none-eabi)
[ -d /usr/lib/arm-none-eabi/newlib ] || missing+=(libnewlib-arm-none-eabi)
command -v valgrind >/dev/null || missing+=(valgrind)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  as_root=""
  if [ "$(id -u)" != 0 ]; then as_root="sudo"; fi
  $as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi
/usr/bin/chromium --headless --no-sandbox --version

step "format"
cargo fmt --all --check

step "clippy (the core with no features; everything with all features)"
# The core alone: in the workspace, the C crate would turn its `mio` feature on.
cargo clippy --locked -p siocore --all-targets -- -D warnings
cargo clippy --locked --workspace --all-targets --all-features -- -D warnings

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --workspace --no-deps --all-features

step "bare-metal builds (no features)"
cargo build --locked -p siocore --no-default-features --target thumbv7em-none-eabihf
cargo build --locked -p siocore --no-default-features --target riscv32imc-unknown-none-elf
# The client's connection state recovery is no_std too.
cargo clippy --locked -p siocore --no-default-features --features recovery \
  --target thumbv7em-none-eabihf -- -D warnings
cargo clippy --locked -p siocore-ffi --no-default-features --target thumbv7em-none-eabihf \
  -- -D warnings

step "tests"
cargo test --locked --workspace --all-features

step "C API: header check, C tests, C examples (plain, ASan+UBSan, valgrind)"
bash scripts/c-tests.sh

step "small boards: aarch64 and armv7 builds, tests under qemu-user"
bash scripts/cross-tests.sh

step "load benchmark, quick: every scenario against siocore, Node and socketioxide, then wss handshakes and echo over wss, every reply checked"
(cd bench && cargo fmt --all --check && cargo clippy --locked --release -- -D warnings)
bash bench/run.sh --quick
