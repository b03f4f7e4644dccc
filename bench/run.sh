#!/usr/bin/env bash
# The load benchmark: siocore's echo server, Node's socket.io and socketioxide, one after
# the other on this machine, every scenario, then the table with ratios.
#   bash bench/run.sh            full run (about 3 minutes a server)
#   bash bench/run.sh --quick    small counts: checks every scenario against every server
#   bash bench/run.sh --soak [M] the soak, siocore only: M minutes (10) of churn and broadcast
#                                at once, RSS and descriptors sampled each minute, flat or fails
#   bash bench/run.sh --cluster  broadcasts across two siocore instances against two Node
#                                instances, each pair on a redis-server started here
# Extra flags go to sio-load (--threads N, --seconds S).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
[ -d tests/interop/node_modules/socket.io ] || npm ci --prefix tests/interop --no-audit --no-fund
cargo build --release --quiet --features mio --example echo_server
cargo build --release --quiet --locked --manifest-path bench/Cargo.toml
ulimit -n 20000 2>/dev/null || true
if [ "${1:-}" = "--cluster" ]; then
  shift
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
  redis_pid=$!
  trap 'kill $redis_pid 2>/dev/null || true' EXIT
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.05; done
  url="redis://127.0.0.1:$port"
  bench/target/release/sio-load --cluster "$@" \
    "siocore=target/release/examples/echo_server --port 0 --max-payload 1000000 --redis $url" \
    "node=node bench/node/server.cjs 0 $url"
  exit $?
fi
if [ "${1:-}" = "--soak" ]; then
  exec bench/target/release/sio-load --soak "${2:-10}" \
    "siocore=target/release/examples/echo_server --port 0"
fi
exec bench/target/release/sio-load "$@" \
  "siocore=target/release/examples/echo_server --port 0 --max-payload 1000000" \
  "node=node bench/node/server.cjs 0" \
  "socketioxide=bench/target/release/sioxide-echo 0"
