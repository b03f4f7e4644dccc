#!/usr/bin/env bash
# The load benchmark: siocore's echo server, Node's socket.io and socketioxide, one after
# the other on this machine, every scenario, then the table with ratios.
#   bash bench/run.sh            full run (about 3 minutes a server), then the scale scenario
#                                (below)
#   bash bench/run.sh --quick    small counts: checks every scenario against every server,
#                                then tls-connect and tls-echo, then the scale scenario with
#                                50 clients (a few seconds)
#   bash bench/run.sh --scale    the scale scenario alone: 1 000, 5 000 and 18 000 idle
#                                WebSocket clients on each server (every server pinging every
#                                5 s), RSS per connection, idle CPU, a broadcast to all; the
#                                plot goes to bench/scale.svg (--svg FILE elsewhere, --sizes
#                                N,... other counts; about 5 minutes)
#   bash bench/run.sh --soak [M] the soak, siocore only: M minutes (10) of churn and broadcast
#                                at once, RSS and descriptors sampled each minute, flat or fails
#   bash bench/run.sh --cluster  broadcasts across two siocore instances against two Node
#                                instances, each pair on a redis-server started here
#   bash bench/run.sh --tls      the TLS scenarios (idle wss connections' RSS, wss handshakes
#                                per second, echo over wss) against the three servers serving
#                                https, with a CA and certificate made for the run
#                                (scripts/test-certs.sh)
# Extra flags go to sio-load (--threads N, --seconds S, --rounds R, --only A,B).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
[ -d tests/interop/node_modules/socket.io ] || npm ci --prefix tests/interop --no-audit --no-fund
quick=0
case " $* " in *" --quick "*) quick=1 ;; esac
tls=0
if [ "${1:-}" = "--tls" ] || [ "$quick" = 1 ]; then tls=1; fi
# The plain scenarios measure the build without TLS; a TLS run needs the feature.
if [ "${1:-}" != "--tls" ]; then
  cargo build --release --quiet --features mio --example echo_server
  cp target/release/examples/echo_server target/release/examples/echo_server_plain
fi
if [ "$tls" = 1 ]; then
  cargo build --release --quiet --features tls --example echo_server
  cp target/release/examples/echo_server target/release/examples/echo_server_tls
fi
cargo build --release --quiet --locked --manifest-path bench/Cargo.toml
# Up to 20 000 descriptors for the servers and the load generator (the scale scenario's
# 18 000 clients need that many on each side), as far as the hard limit allows; sio-load
# skips a client count the limit cannot hold, and says so.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge 20000 ]; then
  ulimit -n 20000 2>/dev/null || true
else
  ulimit -n "$hard" 2>/dev/null || true
fi

# The scale scenario against the three servers; the arguments go to sio-load.
run_scale() {
  bench/target/release/sio-load --scale "$@" \
    "siocore=target/release/examples/echo_server_plain --port 0 --max-payload 1000000" \
    "node=node bench/node/server.cjs 0" \
    "socketioxide=bench/target/release/sioxide-echo 0"
}

# The TLS scenarios against the three servers serving https with a fresh CA and
# certificate (for localhost and 127.0.0.1); the arguments go to sio-load.
run_tls() {
  local pki status=0
  pki=$(mktemp -d /tmp/sio-bench-tls.XXXXXX)
  bash scripts/test-certs.sh "$pki"
  bench/target/release/sio-load --tls "$pki/ca.pem" "$@" \
    "siocore=target/release/examples/echo_server_tls --port 0 --max-payload 1000000 --tls-cert $pki/cert.pem --tls-key $pki/key.pem" \
    "node=node bench/node/server.cjs --tls $pki/cert.pem $pki/key.pem 0" \
    "socketioxide=bench/target/release/sioxide-echo --tls $pki/cert.pem $pki/key.pem 0" ||
    status=$?
  rm -rf "$pki"
  return "$status"
}

if [ "${1:-}" = "--tls" ]; then
  shift
  run_tls "$@"
  exit $?
fi
if [ "${1:-}" = "--cluster" ]; then
  shift
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
  redis_pid=$!
  trap 'kill $redis_pid 2>/dev/null || true' EXIT
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.05; done
  url="redis://127.0.0.1:$port"
  bench/target/release/sio-load --cluster "$@" \
    "siocore=target/release/examples/echo_server_plain --port 0 --max-payload 1000000 --redis $url" \
    "node=node bench/node/server.cjs 0 $url"
  exit $?
fi
if [ "${1:-}" = "--scale" ]; then
  shift
  run_scale --svg bench/scale.svg "$@"
  exit $?
fi
if [ "${1:-}" = "--soak" ]; then
  exec bench/target/release/sio-load --soak "${2:-10}" \
    "siocore=target/release/examples/echo_server_plain --port 0"
fi
status=0
bench/target/release/sio-load "$@" \
  "siocore=target/release/examples/echo_server_plain --port 0 --max-payload 1000000" \
  "node=node bench/node/server.cjs 0" \
  "socketioxide=bench/target/release/sioxide-echo 0" || status=$?
if [ "$quick" = 1 ]; then
  # The quick check of the TLS scenarios (the idle one is the plain one's code with
  # two seconds of waiting: left to `--tls`).
  run_tls "$@" --only tls-connect,tls-echo || status=$?
  # The scale scenario at 50 clients, its plot written and thrown away.
  plot=$(mktemp /tmp/sio-bench-scale.XXXXXX.svg)
  run_scale "$@" --svg "$plot" || status=$?
  rm -f "$plot"
else
  case " $* " in
    *" --only "*) ;;
    *) run_scale --svg bench/scale.svg "$@" || status=$? ;;
  esac
fi
exit "$status"
