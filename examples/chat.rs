//! The chat demo from the Socket.IO docs, on siocore: open `http://127.0.0.1:3000` in two
//! tabs; what one types appears in every tab, with "user connected/disconnected" notices and
//! a "typing…" hint for everyone but the typist.
//!
//! ```sh
//! bash scripts/chat.sh                                   # installs the client, then runs this
//! cargo run --release --features mio --example chat -- --port 3000 --bind 127.0.0.1
//! ```
//!
//! Flags: `--port N` (default 3000; 0 picks a free one, printed on start), `--bind ADDR`
//! (an IP address, or `localhost`; default 127.0.0.1), `--tls-cert FILE --tls-key FILE`
//! (serve `https://` and `wss://` with that PEM certificate chain and private key; needs
//! the feature `tls`), `--no-serve-client` (do not serve the client bundle, as Node's
//! `serveClient: false`), `--max-connections N` (hold at most N users at once; by default as
//! many as the process's descriptor limit allows, less 64), `--help`. A bad flag ends it with one line naming it and status
//! 2; an address it cannot listen on, with the address and status 1.
//!
//! Like the server of Node's tutorial it prints a line when a user connects and when one
//! disconnects; `RUST_LOG=debug` adds the library's own log.
//!
//! The page loads the official client from `/socket.io/socket.io.js`, which the server
//! sends, as Node's does, from the npm package `socket.io` when it finds it (installed by
//! `scripts/chat.sh`, or `npm ci --prefix tests/interop`, or `npm install socket.io` in the
//! current folder); otherwise the page tries the copy on the public CDN, and says so in
//! plain words when that fails too.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use siocore::app::{Io, Json, Listening, Response};
use siocore::server::ServerConfig;

// Tests that include two examples include this twice.
#[path = "common/cli.rs"]
#[allow(dead_code, clippy::duplicate_mod)]
mod cli;

const PAGE: &str = include_str!("chat/index.html");

const USAGE: &str = "\
usage: chat [--port N] [--bind ADDR] [--tls-cert FILE --tls-key FILE] [--no-serve-client]
            [--max-connections N]

The chat demo of the Socket.IO tutorial: open the address it prints in two tabs.

  --port N           TCP port (default 3000; 0 picks a free one)
  --bind ADDR        IP address to listen on, or localhost (default 127.0.0.1)
  --tls-cert FILE    serve https and wss with this PEM certificate chain...
  --tls-key FILE     ...and this PEM private key (needs the feature tls)
  --no-serve-client  do not serve /socket.io/socket.io.js (Node's serveClient: false)
  --max-connections N
                     most users held at once (default: the descriptor limit, ulimit -n,
                     less 64)
  --help             this text

RUST_LOG=debug (or info, warn, siocore::driver=trace, ...) prints the library's log.";

/// The settings the flags give.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen.
    pub addr: SocketAddr,
    /// The PEM certificate chain and private key to serve https with.
    pub tls: Option<(String, String)>,
    /// Serve the client bundle at `/socket.io/socket.io.js` when it is installed (Node's
    /// `serveClient`).
    pub serve_client: bool,
    /// Most users held at once (`None`: the library's default, from the descriptor limit).
    pub max_connections: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            tls: None,
            serve_client: true,
            max_connections: None,
        }
    }
}

impl Options {
    /// Reads `--port`, `--bind`, `--tls-cert`, `--tls-key`, `--no-serve-client`,
    /// `--max-connections`, `--help`.
    fn from_args(args: impl IntoIterator<Item = String>) -> Result<Self, cli::Stop> {
        let mut o = Self::default();
        let (mut cert, mut key) = (None, None);
        let mut flags = cli::Flags::new(args);
        while let Some(flag) = flags.next()? {
            match flag.as_str() {
                "--port" => o.addr.set_port(flags.port(&flag)?),
                "--bind" => o.addr.set_ip(flags.ip(&flag)?),
                "--tls-cert" => cert = Some(flags.value(&flag)?),
                "--tls-key" => key = Some(flags.value(&flag)?),
                "--no-serve-client" => o.serve_client = false,
                "--max-connections" => o.max_connections = Some(flags.connections(&flag)?),
                _ => return Err(cli::unknown(&flag)),
            }
        }
        o.tls = match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            (Some(_), None) => return Err(cli::usage("--tls-cert: needs --tls-key too")),
            (None, Some(_)) => return Err(cli::usage("--tls-key: needs --tls-cert too")),
        };
        Ok(o)
    }
}

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

/// Builds the chat server and binds it.
pub fn bind(addr: SocketAddr) -> io::Result<Listening<'static>> {
    bind_with(addr, None)
}

/// Builds the chat server, serving https with the PEM files `tls` (certificate chain, key)
/// when given, and binds it.
pub fn bind_with(addr: SocketAddr, tls: Option<(&str, &str)>) -> io::Result<Listening<'static>> {
    listen(&Options {
        addr,
        tls: tls.map(|(c, k)| (c.to_string(), k.to_string())),
        ..Options::default()
    })
}

/// Says why a broadcast reached nobody (arguments that are not JSON, say).
fn report(sent: Result<usize, siocore::app::EmitError>) {
    if let Err(e) = sent {
        eprintln!("chat: broadcast: {e}");
    }
}

/// Builds the chat server with the settings `o` and binds it. The errors say what failed:
/// `--tls-cert/--tls-key: …` for the TLS files, `cannot listen on <addr>: …` for the
/// address.
pub fn listen(o: &Options) -> io::Result<Listening<'static>> {
    let mut io = Io::new(ServerConfig::DEFAULT);
    if let Some(n) = o.max_connections {
        io = io.max_sessions(n);
    }
    if let Some((cert, key)) = &o.tls {
        io = with_tls(io, cert, key)
            .map_err(|e| io::Error::new(e.kind(), format!("--tls-cert/--tls-key: {e}")))?;
    }
    io.on_connection("/", |cx, socket, _| {
        // As the server of Node's tutorial: `console.log('a user connected')`; a socket
        // displays as its Socket.IO id.
        println!("a user connected: {socket}");
        report(
            cx.broadcast_from(socket)
                .emit("user connected", Json(&socket.to_string())),
        );
    });
    io.on_disconnect("/", |cx, socket, reason| {
        println!("user disconnected: {socket} ({reason})");
        report(
            cx.broadcast("/")
                .emit("user disconnected", Json(&socket.to_string())),
        );
    });
    io.on("/", "chat message", |cx, m| {
        // Everyone, the sender included.
        report(cx.broadcast("/").emit("chat message", m.args));
    });
    io.on("/", "typing", |cx, m| {
        report(
            cx.broadcast_from(m.socket)
                .emit("typing", Json(&m.socket.to_string())),
        );
    });
    if o.serve_client {
        match client_bundle() {
            Some(bundle) => {
                io.serve_file("/socket.io/socket.io.js", bundle);
            }
            None => eprintln!(
                "chat: the Socket.IO client is not installed, so the page will try the public \
                 CDN (bash scripts/chat.sh, or npm ci --prefix tests/interop, installs it)"
            ),
        }
    }
    io.on_http(|_, r| match r.path() {
        "/" | "/index.html" => Some(Response::new(200, "text/html; charset=utf-8", PAGE)),
        _ => None,
    });
    io.listen(o.addr).map_err(|e| {
        let why = cli::listen_error(o.addr, &e);
        io::Error::new(e.kind(), why)
    })
}

/// Serves https and wss with the PEM files `cert` and `key`.
#[cfg(feature = "tls")]
fn with_tls(io: Io<'static>, cert: &str, key: &str) -> io::Result<Io<'static>> {
    let tls = siocore::driver::ServerTls::from_pem_files(cert, key)?;
    Ok(io.tls(tls))
}

#[cfg(not(feature = "tls"))]
fn with_tls(_: Io<'static>, _: &str, _: &str) -> io::Result<Io<'static>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "https needs the feature tls (cargo run --features tls ...)",
    ))
}

#[allow(dead_code)]
fn main() {
    cli::init_logging();
    let options = Options::from_args(std::env::args().skip(1))
        .unwrap_or_else(|e| cli::exit("chat", USAGE, e));
    let mut server = listen(&options).unwrap_or_else(|e| cli::fail("chat", cli::plain(&e)));
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    println!("chat: open {scheme}://{} in two tabs", server.local_addr());
    if let Err(e) = server.run() {
        cli::fail("chat", cli::plain(&e));
    }
}
