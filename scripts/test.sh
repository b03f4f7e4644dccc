#!/usr/bin/env bash
# Runs every test siocore has. Installs what the tests need first, so it works on a
# fresh machine: the bare-metal rustup targets and the Node reference packages the
# codec-reference test runs against (more tools join as later parts land).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain targets"
rustup target add thumbv7em-none-eabihf riscv32imc-unknown-none-elf

step "Node reference packages (tests/interop)"
npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error

step "format"
cargo fmt --all --check

step "clippy (no features, all features)"
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo clippy --locked --workspace --all-targets --all-features -- -D warnings

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --workspace --no-deps --all-features

step "bare-metal builds (no features)"
cargo build --locked -p siocore --no-default-features --target thumbv7em-none-eabihf
cargo build --locked -p siocore --no-default-features --target riscv32imc-unknown-none-elf

step "tests"
cargo test --locked --workspace --all-features
