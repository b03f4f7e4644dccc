//! The chat demo from the Socket.IO docs, on siocore: open `http://127.0.0.1:3000` in two
//! tabs; what one types appears in every tab, with "user connected/disconnected" notices and
//! a "typing…" hint for everyone but the typist.
//!
//! ```sh
//! cargo run --release --features mio --example chat    # --port 3000 --bind 127.0.0.1
//! ```
//!
//! With `--tls-cert FILE --tls-key FILE` (a PEM certificate chain and its private key) it
//! serves `https://` and `wss://` instead; that needs the feature `tls`
//! (`--features tls`).
//!
//! The page loads the official client from `/socket.io/socket.io.js`. The server sends the
//! bundle of the npm package `socket.io` when it finds one (run `npm ci --prefix
//! tests/interop`, or install `socket.io` in the current folder); otherwise the page takes
//! the copy on the public CDN.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::rc::Rc;

use siocore::app::{Io, Json, Listening, Response};
use siocore::server::{ServerConfig, SocketId};

const PAGE: &str = include_str!("chat/index.html");

/// Where the client bundle may be, first found wins.
fn client_bundle() -> Option<PathBuf> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    [
        PathBuf::from("node_modules/socket.io/client-dist/socket.io.js"),
        here.join("tests/interop/node_modules/socket.io/client-dist/socket.io.js"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// The socket's id as text, for the notices.
fn name(cx: &mut siocore::app::Cx<'_, '_>, socket: SocketId) -> String {
    cx.server()
        .socket_sid(socket)
        .map(|id| id.as_str().to_string())
        .unwrap_or_default()
}

/// Builds the chat server and binds it.
pub fn bind(addr: SocketAddr) -> std::io::Result<Listening<'static>> {
    bind_with(addr, None)
}

/// Says why a broadcast reached nobody (arguments that are not JSON, say).
fn report(sent: Result<usize, siocore::app::EmitError>) {
    if let Err(e) = sent {
        eprintln!("chat: broadcast: {e}");
    }
}

/// Builds the chat server, serving https with the PEM files `tls` (certificate chain, key)
/// when given, and binds it.
pub fn bind_with(
    addr: SocketAddr,
    tls: Option<(&str, &str)>,
) -> std::io::Result<Listening<'static>> {
    let mut io = Io::new(ServerConfig::DEFAULT);
    if let Some((cert, key)) = tls {
        io = with_tls(io, cert, key)?;
    }
    // The ids of the connected users, for the disconnect notice.
    let users: Rc<RefCell<HashMap<SocketId, String>>> = Rc::default();
    let joined = users.clone();
    io.on_connection("/", move |cx, socket, _| {
        let id = name(cx, socket);
        report(
            cx.broadcast_from(socket)
                .emit("user connected", Json(&id.as_str())),
        );
        joined.borrow_mut().insert(socket, id);
    });
    io.on_disconnect("/", move |cx, socket, _| {
        let id = users.borrow_mut().remove(&socket).unwrap_or_default();
        report(
            cx.broadcast("/")
                .emit("user disconnected", Json(&id.as_str())),
        );
    });
    io.on("/", "chat message", |cx, m| {
        // Everyone, the sender included.
        report(cx.broadcast("/").emit("chat message", m.args));
    });
    io.on("/", "typing", |cx, m| {
        let id = name(cx, m.socket);
        report(
            cx.broadcast_from(m.socket)
                .emit("typing", Json(&id.as_str())),
        );
    });
    match client_bundle() {
        Some(bundle) => {
            io.serve_file("/socket.io/socket.io.js", bundle);
        }
        None => eprintln!("chat: no socket.io client bundle found; the page will use the CDN copy"),
    }
    io.on_http(|_, r| match r.path() {
        "/" | "/index.html" => Some(Response::new(200, "text/html; charset=utf-8", PAGE)),
        _ => None,
    });
    io.listen(addr)
}

#[allow(dead_code)]
/// Serves https and wss with the PEM files `cert` and `key`.
#[cfg(feature = "tls")]
fn with_tls(io: Io<'static>, cert: &str, key: &str) -> std::io::Result<Io<'static>> {
    let tls = siocore::driver::ServerTls::from_pem_files(cert, key)?;
    Ok(io.tls(tls))
}

#[cfg(not(feature = "tls"))]
fn with_tls(_: Io<'static>, _: &str, _: &str) -> std::io::Result<Io<'static>> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "--tls-cert needs the feature tls (cargo run --features tls ...)",
    ))
}

fn main() {
    const USAGE: &str = "usage: chat [--port N] [--bind ADDR] [--tls-cert FILE --tls-key FILE]";
    let mut port = 3000u16;
    let mut host: IpAddr = [127, 0, 0, 1].into();
    let (mut cert, mut key) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        match flag.as_str() {
            "--port" => port = value.parse().expect("--port: a number"),
            "--bind" => host = value.parse().expect("--bind: an IP address"),
            "--tls-cert" => cert = Some(value),
            "--tls-key" => key = Some(value),
            _ => {
                eprintln!("{USAGE}");
                std::process::exit(2);
            }
        }
    }
    let tls = match (&cert, &key) {
        (Some(cert), Some(key)) => Some((cert.as_str(), key.as_str())),
        (None, None) => None,
        _ => {
            eprintln!("chat: --tls-cert and --tls-key go together\n{USAGE}");
            std::process::exit(2);
        }
    };
    let mut server = bind_with(SocketAddr::new(host, port), tls).unwrap_or_else(|e| {
        eprintln!("chat: {e}");
        std::process::exit(1);
    });
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("chat: open {scheme}://{} in two tabs", server.local_addr());
    if let Err(e) = server.run() {
        eprintln!("chat: {e}");
        std::process::exit(1);
    }
}
