#!/usr/bin/env bash
# The load benchmark: siocore's echo server, Node's socket.io and socketioxide, one after
# the other on this machine, every scenario, then the table with ratios.
#   bash bench/run.sh            full run (about 3 minutes a server)
#   bash bench/run.sh --quick    small counts: checks every scenario against every server
#   bash bench/run.sh --soak [M] the soak, siocore only: M minutes (10) of churn and broadcast
#                                at once, RSS and descriptors sampled each minute, flat or fails
# Extra flags go to sio-load (--threads N, --seconds S).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
[ -d tests/interop/node_modules/socket.io ] || npm ci --prefix tests/interop --no-audit --no-fund
cargo build --release --quiet --features mio --example echo_server
cargo build --release --quiet --locked --manifest-path bench/Cargo.toml
ulimit -n 20000 2>/dev/null || true
if [ "${1:-}" = "--soak" ]; then
  exec bench/target/release/sio-load --soak "${2:-10}" \
    "siocore=target/release/examples/echo_server --port 0"
fi
exec bench/target/release/sio-load "$@" \
  "siocore=target/release/examples/echo_server --port 0 --max-payload 1000000" \
  "node=node bench/node/server.cjs 0" \
  "socketioxide=bench/target/release/sioxide-echo 0"
