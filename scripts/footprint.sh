#!/usr/bin/env bash
# Flash footprint of the codecs: builds footprint/ (a bare-metal image that links every
# decoder and encoder) for thumbv7em-none-eabihf with opt-level "s", LTO, one codegen unit,
# and prints its allocated sections. BENCHMARKS.md records the result.
set -euo pipefail
cd "$(dirname "$0")/../footprint"
rustup target add thumbv7em-none-eabihf >/dev/null
cargo build --locked --release --target thumbv7em-none-eabihf
python3 ../scripts/elf_sizes.py target/thumbv7em-none-eabihf/release/siocore-footprint
