#!/usr/bin/env bash
# Runs every test siocore has. Installs what the tests need first, so it works on a
# fresh machine: the bare-metal rustup targets, the pinned npm packages (the Node
# reference codecs, socket.io-client and engine.io-client for the interop tests,
# playwright-core for the browser test) and Debian's chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain targets"
rustup target add thumbv7em-none-eabihf riscv32imc-unknown-none-elf

step "Node reference packages and clients (tests/interop)"
npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error

step "Chromium for the browser test (Debian's package)"
if [ ! -x /usr/bin/chromium ]; then
  as_root=""
  if [ "$(id -u)" != 0 ]; then as_root="sudo"; fi
  $as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq chromium >/dev/null
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

step "tests"
cargo test --locked --workspace --all-features

step "C API: header check, C tests, C examples (plain, ASan+UBSan, valgrind)"
bash scripts/c-tests.sh
