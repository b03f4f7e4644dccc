#!/usr/bin/env bash
# Flash footprint on a Cortex-M4F (thumbv7em-none-eabihf), opt-level "s", LTO, one codegen
# unit: footprint/ builds three bare-metal images, `siocore-footprint` (every codec decoder and
# encoder), `server` (the sans-IO server with the codecs it uses), `client` (the sans-IO
# client with the codecs it uses) and `client_ws` (the WebSocket-only client, `WsClient`, the
# one a microcontroller builds), then the server and the two client images again with the
# feature `recovery` (connection state recovery; without it none of its code is compiled),
# the server image with the feature `eio3` (Engine.IO v3 clients), and the server and the two
# client images with the feature `msgpack-parser` (the msgpack parser), and the server image
# with the feature `cors` (configured with a list of origins).
# Prints their allocated
# sections, and the bytes per server table entry on that 32-bit target (Capacity's order:
# session, stream, socket, namespace, room, member, ack, event, block, node).
# BENCHMARKS.md records the result.
set -euo pipefail
cd "$(dirname "$0")/../footprint"
rustup target add thumbv7em-none-eabihf >/dev/null
cargo build --locked --release --target thumbv7em-none-eabihf
out=target/thumbv7em-none-eabihf/release
echo "codecs (siocore-footprint):"
python3 ../scripts/elf_sizes.py "$out/siocore-footprint"
echo "server:"
python3 ../scripts/elf_sizes.py "$out/server"
echo "server table entries (bytes):"
python3 ../scripts/elf_sizes.py --words SIZES "$out/server"
echo "client (all three transport modes, 2 namespaces, 4 acks):"
python3 ../scripts/elf_sizes.py "$out/client"
echo "client RAM on this target (bytes: the Client value, one Event):"
python3 ../scripts/elf_sizes.py --words SIZES "$out/client"
echo "WebSocket-only client (WsClient, no polling compiled in, 2 namespaces, 4 acks):"
python3 ../scripts/elf_sizes.py "$out/client_ws"
echo "WsClient RAM on this target (bytes: the WsClient value, one Event):"
python3 ../scripts/elf_sizes.py --words SIZES "$out/client_ws"
# The same server and client images with connection state recovery (feature `recovery`),
# in their own target directory so that neither build undoes the other.
cargo build --locked --release --target thumbv7em-none-eabihf --features recovery \
    --bin server --bin client --bin client_ws --target-dir target/recovery
rout=target/recovery/thumbv7em-none-eabihf/release
echo "server with recovery (feature recovery):"
python3 ../scripts/elf_sizes.py "$rout/server"
echo "server table entries with recovery (bytes):"
python3 ../scripts/elf_sizes.py --words SIZES "$rout/server"
echo "client with recovery (feature recovery):"
python3 ../scripts/elf_sizes.py "$rout/client"
echo "WsClient with recovery (feature recovery):"
python3 ../scripts/elf_sizes.py "$rout/client_ws"
echo "WsClient RAM with recovery (bytes: the WsClient value, one Event):"
python3 ../scripts/elf_sizes.py --words SIZES "$rout/client_ws"
# The server and client images with Engine.IO v3 (feature `eio3`; their configurations
# leave `allow_eio3` / `eio3` off, through `black_box`).
cargo build --locked --release --target thumbv7em-none-eabihf --features eio3 \
    --bin server --bin client --bin client_ws --target-dir target/eio3
eout=target/eio3/thumbv7em-none-eabihf/release
echo "server with eio3 (feature eio3):"
python3 ../scripts/elf_sizes.py "$eout/server"
echo "server table entries with eio3 (bytes):"
python3 ../scripts/elf_sizes.py --words SIZES "$eout/server"
echo "client with eio3 (feature eio3):"
python3 ../scripts/elf_sizes.py "$eout/client"
echo "WsClient with eio3 (feature eio3):"
python3 ../scripts/elf_sizes.py "$eout/client_ws"
echo "WsClient RAM with eio3 (bytes: the WsClient value, one Event):"
python3 ../scripts/elf_sizes.py --words SIZES "$eout/client_ws"
# The server and client images with the msgpack parser (feature `msgpack-parser`; their
# configurations leave `parser` at `Parser::Json`, through `black_box`).
cargo build --locked --release --target thumbv7em-none-eabihf --features msgpack-parser \
    --bin server --bin client --bin client_ws --target-dir target/msgpack
mout=target/msgpack/thumbv7em-none-eabihf/release
echo "server with the msgpack parser (feature msgpack-parser):"
python3 ../scripts/elf_sizes.py "$mout/server"
echo "server table entries with the msgpack parser (bytes):"
python3 ../scripts/elf_sizes.py --words SIZES "$mout/server"
echo "client with the msgpack parser (feature msgpack-parser):"
python3 ../scripts/elf_sizes.py "$mout/client"
echo "WsClient with the msgpack parser (feature msgpack-parser):"
python3 ../scripts/elf_sizes.py "$mout/client_ws"
echo "WsClient RAM with the msgpack parser (bytes: the WsClient value, one Event):"
python3 ../scripts/elf_sizes.py --words SIZES "$mout/client_ws"
# The server image with CORS (feature `cors`), configured with a list of two origins and
# credentials.
cargo build --locked --release --target thumbv7em-none-eabihf --features cors \
    --bin server --target-dir target/cors
cout=target/cors/thumbv7em-none-eabihf/release
echo "server with CORS (feature cors):"
python3 ../scripts/elf_sizes.py "$cout/server"
echo "server table entries with CORS (bytes):"
python3 ../scripts/elf_sizes.py --words SIZES "$cout/server"
