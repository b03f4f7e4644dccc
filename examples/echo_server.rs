//! The echo server: the contract the interop tests check, on the mio driver.
//!
//! ```sh
//! cargo run --release --features mio --example echo_server -- --port 3000
//! ```
//!
//! Flags: `--port` (default 3000; 0 picks a free one, printed on start), `--ping-interval`
//! and `--ping-timeout` (milliseconds), `--max-payload` (bytes), `--redis URL` (join the
//! Redis cluster there, `redis://host:port`), `--recovery MS` (connection state recovery:
//! a client whose transport dropped may come back within that many milliseconds into its
//! socket, with its id, its rooms and the packets it missed; off by default),
//! `--allow-eio3` (also serve Engine.IO v3 clients: socket.io 2.x), `--parser msgpack`
//! (speak the msgpack parser, `socket.io-msgpack-parser`, to every client; `json`, the
//! default, is the other), `--tls-cert FILE --tls-key FILE` (serve https and wss with that
//! PEM certificate chain and private key; needs the feature `tls`: `--features tls`),
//! `--cors ORIGIN` (answer CORS for pages of that origin; repeat it for several, `*` for
//! any page, `reflect` for the request's own origin), `--cors-credentials` (and allow their
//! cookies), `--max-connections N` (hold at most N clients at once; by default as many as
//! the process's descriptor limit allows, less 64), `--help`. A bad flag ends it with one
//! line that names it and status 2; an address it
//! cannot listen on, with the address and status 1. `RUST_LOG=debug` prints the library's
//! log.
//!
//! * `/engine.io/`: plain Engine.IO; every message is echoed back, text as text, binary as
//!   binary.
//! * `/socket.io/`: namespaces `/` and `/custom` (any other is refused with
//!   `{"message":"Invalid namespace"}`). On every connect the server emits `auth` with the
//!   client's CONNECT payload (or `{}`). On `/`: `message` → `message-back` with the same
//!   arguments; `message-with-ack` → an ack with them; `echo` → `echo` back; `echo-ack` →
//!   an ack; `broadcast` → `broadcast` to every socket of `/`, the sender included; `join`
//!   (room) → joins it, or, when the join is refused (the socket is in
//!   `max_rooms_per_socket` rooms already, a name over 64 bytes), `error` with a string
//!   saying why; `to-room` (room, payload…) → `room-msg` (payload…) to that room;
//!   `request-ack` (args…) → `ack-request` (args…) to the sender with an ack request, and
//!   its answer (reply…) comes back as `ack-response` (reply…). Binary stays binary.
//!
//! With `--redis`, `/` and `/custom` are in the cluster and `broadcast` and `to-room` reach
//! its every server; on `/` also: `leave` (room); `to-room-except` (room, ex, payload…) →
//! `room-msg` (payload…) to the room minus room `ex`; `fetch-sockets` (room or null) with an
//! ack → the sorted ids of the matching sockets of the cluster; `remote-join` /
//! `remote-leave` (room, target) → the sockets in room `target` join / leave `room` on every
//! server, ack `"ok"`; `remote-disconnect` (room) → ack `"ok"`, then the sockets in it are
//! disconnected and their connections closed, cluster-wide; `server-side-emit` (data) with
//! an ack → the server-side event `ping-servers` (data) to the other servers, acked with
//! their sorted answers. Each server answers `ping-servers` with `"pong:<its port>"` and
//! emits `server-side` (data) to its own sockets only. (Without `--redis` the same events
//! act on this server alone.)

use std::cell::Cell;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::rc::Rc;

use siocore::app::{Io, Json, Listening, split_first_arg};
use siocore::server::{AllowOrigin, Cors, Endpoint, Parser, ServerConfig};

// Tests that include two examples include this twice.
#[path = "common/cli.rs"]
#[allow(dead_code, clippy::duplicate_mod)]
mod cli;

const USAGE: &str = "\
usage: echo_server [--port N] [--ping-interval MS] [--ping-timeout MS] [--max-payload BYTES]
                   [--redis redis://HOST:PORT] [--recovery MS] [--allow-eio3]
                   [--parser json|msgpack] [--tls-cert FILE --tls-key FILE]
                   [--cors ORIGIN]... [--cors-credentials]
                   [--max-connections N]

The echo server the interop tests check (its contract: examples/echo_server.rs), on
127.0.0.1.

  --port N             TCP port (default 3000; 0 picks a free one, printed on start)
  --ping-interval MS   milliseconds between pings (default 25000)
  --ping-timeout MS    milliseconds to answer one (default 20000)
  --max-payload BYTES  largest message (default 1000000)
  --redis URL          join the Redis cluster there (redis://host:port)
  --recovery MS        connection state recovery: keep a lost socket that long
  --allow-eio3         serve Engine.IO v3 clients too (socket.io 2.x)
  --parser P           json (the default) or msgpack (socket.io-msgpack-parser)
  --tls-cert FILE      serve https and wss with this PEM certificate chain...
  --tls-key FILE       ...and this PEM private key (needs the feature tls)
  --cors ORIGIN        let pages of ORIGIN poll (repeatable; * any, reflect: each its own)
  --cors-credentials   ...with their cookies (Access-Control-Allow-Credentials)
  --max-connections N  most clients held at once (default: the descriptor limit, ulimit -n,
                       less 64)
  --help               this text

RUST_LOG=debug (or info, warn, siocore::driver=trace, ...) prints the library's log.";

/// The settings the flags give.
#[derive(Debug, Clone)]
pub struct Options {
    /// TCP port on 127.0.0.1 (0: any).
    pub port: u16,
    /// Milliseconds between pings.
    pub ping_interval: u32,
    /// Milliseconds to answer a ping.
    pub ping_timeout: u32,
    /// Largest message, in bytes.
    pub max_payload: u32,
    /// The Redis of the cluster to join (`redis://host:port`).
    pub redis: Option<String>,
    /// Connection state recovery: milliseconds a lost socket is kept (0: off).
    pub recovery: u32,
    /// Serve Engine.IO v3 clients too.
    pub allow_eio3: bool,
    /// The PEM certificate chain to serve https with.
    pub tls_cert: Option<String>,
    /// The PEM private key of `tls_cert`.
    pub tls_key: Option<String>,
    /// How Socket.IO packets are written.
    pub parser: Parser,
    /// Origins whose pages may poll (`*`: any, `reflect`: each its own); none: no CORS.
    pub cors: Vec<String>,
    /// CORS with credentials.
    pub cors_credentials: bool,
    /// Most clients held at once (`None`: the library's default, from the descriptor
    /// limit).
    pub max_connections: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        let d = ServerConfig::DEFAULT;
        Self {
            port: 3000,
            ping_interval: d.ping_interval,
            ping_timeout: d.ping_timeout,
            max_payload: d.max_payload,
            redis: None,
            recovery: 0,
            allow_eio3: false,
            tls_cert: None,
            tls_key: None,
            parser: Parser::Json,
            cors: Vec::new(),
            cors_credentials: false,
            max_connections: None,
        }
    }
}

impl Options {
    /// Reads `--port`, `--ping-interval`, `--ping-timeout`, `--max-payload`, `--redis`,
    /// `--recovery`, `--allow-eio3`, `--parser`, `--tls-cert`, `--tls-key`,
    /// `--max-connections`; `--help` stops
    /// with [`cli::Stop::Help`], a bad flag with a [`cli::Stop::Usage`] that names it.
    pub(crate) fn from_args(args: impl IntoIterator<Item = String>) -> Result<Self, cli::Stop> {
        let mut o = Self::default();
        let mut flags = cli::Flags::new(args);
        while let Some(flag) = flags.next()? {
            let f = flag.as_str();
            match f {
                "--port" => o.port = flags.port(f)?,
                "--ping-interval" => o.ping_interval = flags.parse::<NonZeroU32>(f, MS)?.get(),
                "--ping-timeout" => o.ping_timeout = flags.parse::<NonZeroU32>(f, MS)?.get(),
                "--max-payload" => {
                    o.max_payload = flags
                        .parse::<NonZeroU32>(f, "a number of bytes above 0")?
                        .get();
                }
                "--redis" => {
                    let url = flags.value(f)?;
                    if !url.starts_with("redis://") {
                        return Err(cli::usage(format!("--redis: not a redis:// URL: {url}")));
                    }
                    o.redis = Some(url);
                }
                "--recovery" => o.recovery = flags.parse(f, "a number of milliseconds")?,
                "--allow-eio3" => o.allow_eio3 = true,
                "--tls-cert" => o.tls_cert = Some(flags.value(f)?),
                "--tls-key" => o.tls_key = Some(flags.value(f)?),
                "--cors" => o.cors.push(flags.value(f)?),
                "--cors-credentials" => o.cors_credentials = true,
                "--max-connections" => o.max_connections = Some(flags.connections(f)?),
                "--parser" => {
                    o.parser = match flags.value(f)?.as_str() {
                        "json" => Parser::Json,
                        "msgpack" => Parser::MsgPack,
                        other => {
                            return Err(cli::usage(format!(
                                "--parser: json or msgpack, not {other}"
                            )));
                        }
                    }
                }
                _ => return Err(cli::unknown(f)),
            }
        }
        if o.cors_credentials && o.cors.is_empty() {
            return Err(cli::usage("--cors-credentials: needs --cors too"));
        }
        if o.cors.len() > 1 && o.cors.iter().any(|c| c == "*" || c == "reflect") {
            return Err(cli::usage("--cors: * and reflect stand alone"));
        }
        match (&o.tls_cert, &o.tls_key) {
            (Some(_), None) => Err(cli::usage("--tls-cert: needs --tls-key too")),
            (None, Some(_)) => Err(cli::usage("--tls-key: needs --tls-cert too")),
            _ => Ok(o),
        }
    }
}

/// The CORS settings of the `--cors` flags (their strings kept for the process's life).
fn cors(origins: &[String], credentials: bool) -> Option<Cors<'static>> {
    let origin = match origins {
        [] => return None,
        [one] if one == "*" => AllowOrigin::Any,
        [one] if one == "reflect" => AllowOrigin::Reflect,
        list => {
            let list: Vec<&'static str> = list
                .iter()
                .map(|o| &*Box::leak(o.clone().into_boxed_str()))
                .collect();
            AllowOrigin::List(Box::leak(list.into_boxed_slice()))
        }
    };
    Some(Cors {
        origin,
        credentials,
        ..Cors::DEFAULT
    })
}

/// What a timer flag must be.
const MS: &str = "a number of milliseconds above 0";

/// Builds the echo server and binds it.
pub fn bind(o: Options) -> std::io::Result<Listening<'static>> {
    let config = ServerConfig {
        endpoints: &[Endpoint::SOCKET_IO, Endpoint::ENGINE_IO],
        namespaces: &["/", "/custom"],
        ping_interval: o.ping_interval,
        ping_timeout: o.ping_timeout,
        max_payload: o.max_payload,
        // Room for a few payloads of the largest size per client.
        max_queued_bytes: o.max_payload.saturating_mul(4).max(1 << 20),
        allow_eio3: o.allow_eio3,
        parser: o.parser,
        cors: cors(&o.cors, o.cors_credentials),
        ..ServerConfig::DEFAULT
    };
    let mut io = Io::new(config);
    if let Some(n) = o.max_connections {
        io = io.max_sessions(n);
    }
    if let Some(url) = &o.redis {
        io = io.redis(url);
    }
    if o.recovery != 0 {
        io = io.recovery(std::time::Duration::from_millis(o.recovery.into()));
    }
    if let (Some(cert), Some(key)) = (&o.tls_cert, &o.tls_key) {
        io = with_tls(io, cert, key).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("--tls-cert/--tls-key: {}", cli::plain(&e)),
            )
        })?;
    }
    for ns in ["/", "/custom"] {
        io.on_connection(ns, |cx, socket, handshake| {
            let _ = cx.emit(socket, "auth", handshake.auth);
        });
    }
    io.on_engine_message(|cx, session, data| {
        let _ = cx.server().send(session, data);
    });
    io.on("/", "message", |cx, m| {
        let _ = cx.emit_same(m.socket, "message-back", m);
    });
    io.on("/", "echo", |cx, m| {
        let _ = cx.emit_same(m.socket, "echo", m);
    });
    io.on("/", "message-with-ack", |cx, m| cx.ack_same(m));
    io.on("/", "echo-ack", |cx, m| cx.ack_same(m));
    io.on("/", "broadcast", |cx, m| {
        if let Err(e) = cx.broadcast("/").emit_same("broadcast", m) {
            eprintln!("echo_server: broadcast: {e}");
        }
    });
    io.on("/", "join", |cx, m| {
        if let Ok(room) = m.arg::<String>(0)
            && let Err(e) = cx.join(m.socket, &room)
        {
            let _ = cx.emit(m.socket, "error", Json(&format!("join {room}: {e}")));
        }
    });
    io.on("/", "to-room", |cx, m| {
        let (Some(room), Some((_, payload))) = (m.arg::<String>(0).ok(), split_first_arg(m.args))
        else {
            return;
        };
        if let Err(e) =
            cx.broadcast("/")
                .to(&room)
                .emit_with_attachments("room-msg", payload, m.attachments)
        {
            eprintln!("echo_server: to-room: {e}");
        }
    });
    io.on("/", "request-ack", |cx, m| {
        let socket = m.socket;
        let _ = cx.emit_with_ack(socket, "ack-request", m.args, 10_000, move |cx, reply| {
            if let Ok(reply) = reply {
                let _ =
                    cx.emit_with_attachments(socket, "ack-response", reply.args, reply.attachments);
            }
        });
    });
    let port = Rc::new(Cell::new(o.port));
    cluster_events(&mut io, &port);
    let addr = SocketAddr::from(([127, 0, 0, 1], o.port));
    let listening = io
        .listen(addr)
        .map_err(|e| std::io::Error::new(e.kind(), cli::listen_error(addr, &e)))?;
    port.set(listening.local_addr().port());
    Ok(listening)
}

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
        "https needs the feature tls (cargo run --features tls ...)",
    ))
}

/// The events of the cluster contract (see the module docs).
fn cluster_events(io: &mut Io<'static>, port: &Rc<Cell<u16>>) {
    io.on("/", "leave", |cx, m| {
        if let Ok(room) = m.arg::<String>(0) {
            let _ = cx.leave(m.socket, &room);
        }
    });
    io.on("/", "to-room-except", |cx, m| {
        let (Some(room), Some(ex)) = (m.arg::<String>(0).ok(), m.arg::<String>(1).ok()) else {
            return;
        };
        let payload = split_first_arg(m.args)
            .and_then(|(_, rest)| split_first_arg(rest))
            .map_or(&[][..], |(_, payload)| payload);
        if let Err(e) = cx
            .broadcast("/")
            .to(&room)
            .except(&ex)
            .emit_with_attachments("room-msg", payload, m.attachments)
        {
            eprintln!("echo_server: to-room-except: {e}");
        }
    });
    io.on("/", "fetch-sockets", |cx, m| {
        let (socket, ack) = (m.socket, m.ack_id);
        let mut b = cx.broadcast("/");
        if let Ok(room) = m.arg::<String>(0) {
            b = b.to(&room);
        }
        b.fetch_sockets(move |cx, fetched| {
            let mut ids: Vec<String> = fetched.sockets.into_iter().map(|s| s.id).collect();
            ids.sort();
            if let Some(id) = ack {
                cx.ack(socket, id, Json(&ids));
            }
        });
    });
    io.on("/", "remote-join", |cx, m| {
        if let (Some(room), Some(target)) = (m.arg::<String>(0).ok(), m.arg::<String>(1).ok()) {
            cx.broadcast("/").to(&target).sockets_join(&[&room]);
        }
        m.ack(cx, Json(&"ok"));
    });
    io.on("/", "remote-leave", |cx, m| {
        if let (Some(room), Some(target)) = (m.arg::<String>(0).ok(), m.arg::<String>(1).ok()) {
            cx.broadcast("/").to(&target).sockets_leave(&[&room]);
        }
        m.ack(cx, Json(&"ok"));
    });
    io.on("/", "remote-disconnect", |cx, m| {
        m.ack(cx, Json(&"ok"));
        if let Ok(room) = m.arg::<String>(0) {
            cx.broadcast("/").to(&room).disconnect_sockets(true);
        }
    });
    io.on("/", "server-side-emit", |cx, m| {
        let (socket, ack) = (m.socket, m.ack_id);
        cx.server_side_emit_with_ack("/", "ping-servers", m.args, move |cx, answers| {
            let mut all: Vec<String> = (0..answers.answers.len())
                .filter_map(|i| answers.value::<String>(i).ok())
                .collect();
            all.sort();
            if let Some(id) = ack {
                cx.ack(socket, id, Json(&all));
            }
        });
    });
    let port = Rc::clone(port);
    io.on_server_side("/", "ping-servers", move |cx, m| {
        m.ack(cx, Json(&format!("pong:{}", port.get())));
        if let Err(e) = cx.broadcast("/").local().emit("server-side", m.args) {
            eprintln!("echo_server: server-side: {e}");
        }
    });
}

#[allow(dead_code)]
fn main() {
    cli::init_logging();
    let options = Options::from_args(std::env::args().skip(1))
        .unwrap_or_else(|e| cli::exit("echo_server", USAGE, e));
    let scheme = if options.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    let mut server = bind(options).unwrap_or_else(|e| cli::fail("echo_server", cli::plain(&e)));
    println!(
        "echo server listening on {scheme}://{}",
        server.local_addr()
    );
    if let Err(e) = server.run() {
        cli::fail("echo_server", cli::plain(&e));
    }
}
