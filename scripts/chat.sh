#!/usr/bin/env bash
# The chat demo, as the README's first command: installs the official Socket.IO client when
# it is missing (the npm package socket.io at the version tests/interop/package-lock.json
# pins, with `npm ci --prefix tests/interop`), so that the demo's server hands it to the page
# as /socket.io/socket.io.js the way Node's does; then builds and starts the demo
# (examples/chat.rs). Every argument goes to the demo:
#
#   bash scripts/chat.sh [--port N] [--bind ADDR] [--tls-cert FILE --tls-key FILE] [--help]
#
# TLS flags build it with the feature `tls` instead of `mio`. Without npm or a network the
# demo starts anyway, and its page says in plain words that the client could not load.
set -euo pipefail
# The repository; the working directory stays the caller's, for relative --tls-cert paths.
root=$(cd "$(dirname "$0")/.." && pwd)

features=mio
help=false
for arg in "$@"; do
  case $arg in
    --tls-cert | --tls-key) features=tls ;;
    --help | -h) help=true ;;
  esac
done

bundle=$root/tests/interop/node_modules/socket.io/client-dist/socket.io.js
if [ ! -f "$bundle" ] && [ "$help" = false ]; then
  if ! command -v npm >/dev/null; then
    echo "chat.sh: npm is not installed, so the Socket.IO client cannot be; the page will try the public CDN" >&2
  else
    echo "chat.sh: installing the Socket.IO client (npm ci --prefix tests/interop)" >&2
    # One quick retry: offline, npm's default retries would hold the demo back a minute.
    if ! npm ci --prefix "$root/tests/interop" --no-audit --no-fund --loglevel=error \
      --fetch-retries=1 --fetch-retry-mintimeout=1000 --fetch-retry-maxtimeout=3000 >&2; then
      echo "chat.sh: could not install the Socket.IO client (offline?); the page will try the public CDN" >&2
    fi
  fi
fi

exec cargo run --manifest-path "$root/Cargo.toml" --release --features "$features" --example chat -- "$@"
