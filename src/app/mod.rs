//! A Socket.IO-style application API on the mio [driver](crate::driver).
//!
//! Handlers are closures registered per namespace and event name, as in Node's
//! `io.on("connection")` / `socket.on("event")`; they get a [`Cx`] through which they emit,
//! acknowledge, join rooms and broadcast. Arguments are raw JSON (what the wire carries) or
//! `serde` values through `serde-json-core`. Plain HTTP requests on the same port go to a
//! handler, to a static folder, or to single files.
//!
//! ```no_run
//! use siocore::app::{Io, Json};
//! use siocore::server::ServerConfig;
//!
//! let mut io = Io::new(ServerConfig::DEFAULT);
//! io.on_connection("/", |cx, socket, _handshake| {
//!     let _ = cx.broadcast("/").except_socket(socket).emit("user connected", ());
//! });
//! io.on("/", "chat message", |cx, msg| {
//!     // Everyone, the sender included, gets the message; an error says why nobody did.
//!     if let Err(e) = cx.broadcast("/").emit("chat message", msg.args) {
//!         eprintln!("chat message: {e}");
//!     }
//! });
//! io.on("/", "add", |cx, msg| {
//!     let (a, b): (i64, i64) = (msg.arg(0).unwrap_or(0), msg.arg(1).unwrap_or(0));
//!     msg.ack(cx, Json(&(a + b)));
//! });
//! io.serve_dir("/", "public");
//! io.listen("127.0.0.1:3000".parse()?)?.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Node's Server API, and ours
//!
//! | Node (`socket.io` 4) | here |
//! |---|---|
//! | `new Server(httpServer, opts)`, `io.listen(port)` | [`Io::new`]`(ServerConfig { .. })`, [`Io::listen`], [`Listening::run`] |
//! | `opts.pingInterval`, `pingTimeout`, `maxHttpBufferSize`, `path`, `transports` | [`ServerConfig`] fields (`ping_interval`, `ping_timeout`, `max_payload`, `endpoints`, `polling` / `websocket`) |
//! | `opts.connectionStateRecovery` | [`Io::recovery`] |
//! | `opts.allowEIO3` | `ServerConfig::allow_eio3` (feature `eio3`) |
//! | `opts.parser` (`socket.io-msgpack-parser`) | `ServerConfig::parser` (feature `msgpack-parser`) |
//! | `opts.cors` (`origin`: a string, an array, `true`, a function; `credentials`, `methods`, `allowedHeaders`, `maxAge`) | `ServerConfig::cors`: [`Cors`](crate::server::Cors) with [`AllowOrigin`](crate::server::AllowOrigin) `Exactly`, `List`, `Reflect`, `Check`, `Any` |
//! | `https.createServer(...)` | `Io::tls` (feature `tls`) |
//! | `io.adapter(createAdapter(redis))` | [`Io::redis`] |
//! | `io.use(fn)`, `io.of(nsp).use(fn)` | [`Io::authorize`] |
//! | `io.on("connection", fn)`, `io.of(nsp).on(...)` | [`Io::on_connection`] (naming a namespace creates it) |
//! | `socket.on(event, fn)`, `socket.onAny(fn)` | [`Io::on`], [`Io::on_any`] |
//! | `socket.on("disconnect", fn)` | [`Io::on_disconnect`] |
//! | `socket.use(fn)`, the socket's `error` listener | [`Io::use_packet`], [`Io::on_packet_error`] |
//! | `socket.handshake` (`auth`, `headers`, `query`, `url`, `address`, `issued`) | [`Handshake`] (`auth`, [`header`](Handshake::header), [`query`](Handshake::query), [`url`](Handshake::url), `address`, `issued`; keep the request with [`Io::keep_handshake`]) |
//! | `socket.recovered` | [`Handshake::recovered`] |
//! | `socket.id` | the [`SocketId`] every handler gets displays as it (`format!("{socket}")`, [`SocketId::sid`]) |
//! | `socket.emit(ev, ...args)` | [`Cx::emit`], [`Cx::emit_same`], [`Cx::emit_with_attachments`] |
//! | `socket.emit(ev, ...args, ack)`, `socket.timeout(ms).emit(...)` | [`Cx::emit_with_ack`] |
//! | an event's ack callback | [`Msg::ack`], [`Cx::ack`], [`Cx::ack_same`] |
//! | `socket.join(room)`, `socket.leave(room)`, `socket.disconnect()` | [`Cx::join`], [`Cx::leave`], [`Cx::disconnect`] |
//! | `io.emit(...)`, `io.to(room).except(room).emit(...)`, `socket.broadcast.emit(...)` | [`Cx::broadcast`]`.to(..).except(..).emit(..)`, [`Cx::broadcast_from`] |
//! | `io.local.emit(...)` | [`Broadcast::local`] |
//! | `io.timeout(ms).emit(ev, ..., (err, responses))`, `io.timeout(ms).emitWithAck(ev, ...)` | [`Broadcast::emit_with_ack`] (every server's sockets, in a cluster) |
//! | `io.fetchSockets()`, `io.socketsJoin(room)`, `io.socketsLeave(room)`, `io.disconnectSockets()` | [`Broadcast::fetch_sockets`], [`Broadcast::sockets_join`], [`Broadcast::sockets_leave`], [`Broadcast::disconnect_sockets`] |
//! | `io.serverSideEmit(...)`, `io.on(event)` for it | [`Cx::server_side_emit`], [`Cx::server_side_emit_with_ack`], [`Io::on_server_side`] |
//! | `setInterval(() => io.emit(...))`, `setTimeout(...)` | [`Io::every`], [`Io::after`], [`Cx::every`], [`Cx::after`] |
//! | emitting from outside a handler (another module, a thread) | [`Listening::handle`]: [`IoHandle`] |
//! | `app.get(...)` / `express.static(...)` beside Socket.IO | [`Io::on_http`], [`Io::serve_dir`], [`Io::serve_file`] |
//! | `io.close()` | [`Listening::shutdown_handle`] |

mod cluster;

pub use cluster::{Answers, Fetched, RemoteSocket, ServerSide};

use std::boxed::Box;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::string::{String, ToString};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::adapter::{Cluster, ClusterConfig, ClusterError, Flags, Recipients};
use crate::driver::{Driver, Handler, Shutdown};
use crate::http::{Header, Method};
use crate::json;
use crate::server::{
    AckId, Args, Attachments, Capacity, CommandError, Data, DisconnectReason, Event, HttpRequest,
    Server, ServerConfig, SessionId, SocketId, Storage, Targets,
};

/// Something that can be sent as the arguments of an emit or an ack.
pub trait ToArgs {
    /// The arguments, written into `buf` when they must be encoded first.
    fn to_args<'b>(&'b self, buf: &'b mut Vec<u8>) -> Result<Args<'b>, CommandError>;
}

impl ToArgs for Args<'_> {
    fn to_args<'b>(&'b self, _: &'b mut Vec<u8>) -> Result<Args<'b>, CommandError> {
        Ok(*self)
    }
}

/// Raw JSON arguments, comma separated (`1,"two"`), as received in [`Msg::args`].
impl ToArgs for &[u8] {
    fn to_args<'b>(&'b self, _: &'b mut Vec<u8>) -> Result<Args<'b>, CommandError> {
        Ok(Args::json(self))
    }
}

/// Raw JSON arguments given as text.
impl ToArgs for &str {
    fn to_args<'b>(&'b self, _: &'b mut Vec<u8>) -> Result<Args<'b>, CommandError> {
        Ok(Args::json(self.as_bytes()))
    }
}

/// No arguments.
impl ToArgs for () {
    fn to_args<'b>(&'b self, _: &'b mut Vec<u8>) -> Result<Args<'b>, CommandError> {
        Ok(Args::NONE)
    }
}

/// One argument, serialized with `serde-json-core`.
#[derive(Debug, Clone, Copy)]
pub struct Json<'t, T: ?Sized>(pub &'t T);

/// Several arguments: a tuple (or array) whose elements are the arguments, serialized with
/// `serde-json-core` (`JsonArgs(&("a", 1))` sends `"a",1`).
#[derive(Debug, Clone, Copy)]
pub struct JsonArgs<'t, T: ?Sized>(pub &'t T);

/// Serializes `value` into `buf`, growing it until it fits.
fn serialize<T: Serialize + ?Sized>(value: &T, buf: &mut Vec<u8>) -> Result<usize, CommandError> {
    if buf.len() < 256 {
        buf.resize(256, 0);
    }
    loop {
        match serde_json_core::to_slice(value, buf) {
            Ok(n) => return Ok(n),
            Err(serde_json_core::ser::Error::BufferFull) if buf.len() < 64 << 20 => {
                let len = buf.len() * 2;
                buf.resize(len, 0);
            }
            Err(_) => return Err(CommandError::InvalidJson(json::JsonError::UnexpectedEnd)),
        }
    }
}

impl<T: Serialize + ?Sized> ToArgs for Json<'_, T> {
    fn to_args<'b>(&'b self, buf: &'b mut Vec<u8>) -> Result<Args<'b>, CommandError> {
        let n = serialize(self.0, buf)?;
        Ok(Args::json(&buf[..n]))
    }
}

impl<T: Serialize + ?Sized> ToArgs for JsonArgs<'_, T> {
    fn to_args<'b>(&'b self, buf: &'b mut Vec<u8>) -> Result<Args<'b>, CommandError> {
        let n = serialize(self.0, buf)?;
        let Some([b'[', list @ .., b']']) = buf.get(..n) else {
            return Err(CommandError::InvalidJson(json::JsonError::UnexpectedByte {
                offset: 0,
            }));
        };
        Ok(Args::json(list))
    }
}

/// Why an acknowledgement the server asked for did not come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AckError {
    /// The timeout passed.
    Timeout,
    /// The socket left first.
    Disconnected,
}

/// A client's answer to [`Cx::emit_with_ack`].
#[derive(Debug, Clone, Copy)]
pub struct Reply<'b> {
    /// The reply arguments, raw JSON, comma separated.
    pub args: &'b [u8],
    /// Their binary attachments.
    pub attachments: Attachments<'b>,
}

impl Reply<'_> {
    /// Argument `i`, deserialized.
    ///
    /// # Errors
    /// [`ArgError`]: there is no such argument, or it is not a `T`.
    pub fn arg<'de, T: Deserialize<'de>>(&'de self, i: usize) -> Result<T, ArgError> {
        arg(self.args, i)
    }
}

/// Why an argument (or an auth object, or an answer) could not be read as the type asked
/// for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArgError {
    /// There is no argument `index`: the list has `count`.
    Missing {
        /// The argument asked for.
        index: usize,
        /// How many there are.
        count: usize,
    },
    /// The value is not of the type asked for (a number for a string, a field missing, a
    /// borrowed `&str` for text with escapes: ask for a `String`).
    Invalid {
        /// The argument (0 for an auth object or an answer).
        index: usize,
        /// What `serde-json-core` said.
        reason: String,
    },
}

impl core::fmt::Display for ArgError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Missing { index, count } => {
                write!(f, "no argument {index}: there are {count}")
            }
            Self::Invalid { index, reason } => write!(f, "argument {index}: {reason}"),
        }
    }
}

impl std::error::Error for ArgError {}

/// Argument `i` of a raw list, deserialized with `serde-json-core`.
fn arg<'de, T: Deserialize<'de>>(args: &'de [u8], i: usize) -> Result<T, ArgError> {
    let Some(raw) = json::elements(args).nth(i) else {
        return Err(ArgError::Missing {
            index: i,
            count: json::elements(args).count(),
        });
    };
    from_json(raw, i)
}

/// One JSON value (argument `index`), deserialized. Strings with escapes are unescaped into
/// a scratch buffer, so owned types (`String`) take them; a borrowed `&str` only works
/// without escapes.
fn from_json<'de, T: Deserialize<'de>>(raw: &'de [u8], index: usize) -> Result<T, ArgError> {
    let mut scratch = std::vec![0u8; raw.len()];
    serde_json_core::from_slice_escaped::<T>(raw, &mut scratch)
        .map(|(v, _)| v)
        .map_err(|e| ArgError::Invalid {
            index,
            reason: e.to_string(),
        })
}

/// Splits a received argument list after its first value: (first, the rest). The rest
/// keeps its placeholders' numbers, so it can be sent on with the same attachments as long
/// as the first value holds none.
pub fn split_first_arg(args: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut elements = json::elements(args);
    let first = elements.next()?;
    let rest = match elements.next() {
        Some(second) => {
            let at = second.as_ptr() as usize - args.as_ptr() as usize;
            args.get(at..).unwrap_or_default()
        }
        None => &[][..],
    };
    Some((first, rest))
}

/// A client's request to join a namespace, as the connection and authorization handlers
/// see it.
#[derive(Debug, Clone, Copy)]
pub struct Handshake<'b> {
    /// The session.
    pub session: SessionId,
    /// The namespace name.
    pub namespace: &'b str,
    /// The CONNECT payload, a JSON object (`{}` when none): Node's `socket.handshake.auth`.
    pub auth: &'b [u8],
    /// The client came back into a socket it lost with its transport (Node's
    /// `socket.recovered`; see [`Io::recovery`]): the same [`SocketId`], already in its rooms
    /// again, with the packets it missed on their way. Such a socket skips the
    /// [`authorize`](Io::authorize) handler (Node's default `skipMiddlewares`).
    pub recovered: bool,
    /// The opening request of the session, its request line and headers, when the server
    /// keeps it ([`Io::keep_handshake`]; empty otherwise): read it with
    /// [`header`](Self::header), [`url`](Self::url), [`query`](Self::query).
    pub head: &'b [u8],
    /// When that request came (the loop's clock; Node's `socket.handshake.issued`), when
    /// it is kept.
    pub issued: Option<crate::Instant>,
    /// The address of the client's end of the connection (Node's
    /// `socket.handshake.address`), when known.
    pub address: Option<SocketAddr>,
}

impl<'b> Handshake<'b> {
    /// The opening request, parsed (`None` when it is not kept).
    fn request<R>(&self, f: impl FnOnce(&crate::http::Request<'_, 'b>) -> R) -> Option<R> {
        if self.head.is_empty() {
            return None;
        }
        let mut slots = [crate::http::EMPTY_HEADER; 64];
        let limits = crate::http::Limits {
            max_head: self.head.len(),
            max_body: 0,
        };
        match crate::http::parse_request(self.head, &mut slots, &limits) {
            Ok(crate::Status::Complete(r)) => Some(f(&r)),
            _ => None,
        }
    }

    /// The first header of the opening request named `name` (any case; Node's
    /// `socket.handshake.headers`), when the request is kept ([`Io::keep_handshake`]).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        self.request(|r| r.header(name)).flatten()
    }

    /// The URL of the opening request (`/socket.io/?EIO=4&transport=polling&t=…`; Node's
    /// `socket.handshake.url`), when the request is kept.
    pub fn url(&self) -> Option<&'b str> {
        self.request(|r| r.target())
    }

    /// Its query string without `?` (Node's `socket.handshake.query`, not yet split: see
    /// [`crate::http::Params`]), when the request is kept.
    pub fn query(&self) -> Option<&'b str> {
        self.request(|r| r.query())
    }

    /// The auth payload, deserialized.
    ///
    /// # Errors
    /// [`ArgError::Invalid`] when it is not a `T`.
    pub fn auth_as<'de, T: Deserialize<'de>>(&'de self) -> Result<T, ArgError> {
        from_json(self.auth, 0)
    }
}

/// An authorization handler's refusal: the client gets `CONNECT_ERROR` with these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The error message.
    pub message: String,
    /// Optional data, raw JSON.
    pub data: Option<Vec<u8>>,
}

impl Refusal {
    /// A refusal with `message` and no data.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            data: None,
        }
    }
}

/// An event a client sent.
#[derive(Debug, Clone, Copy)]
pub struct Msg<'b> {
    /// The sender.
    pub socket: SocketId,
    /// The event name.
    pub event: &'b str,
    /// The arguments, raw JSON, comma separated (placeholders stand for the attachments).
    pub args: &'b [u8],
    /// The binary attachments.
    pub attachments: Attachments<'b>,
    /// Set when the client waits for an answer ([`Msg::ack`]).
    pub ack_id: Option<AckId>,
}

impl<'b> Msg<'b> {
    /// Argument `i`, deserialized with `serde-json-core`.
    ///
    /// # Errors
    /// [`ArgError`]: there is no such argument, or it is not a `T`.
    pub fn arg<'de, T: Deserialize<'de>>(&'de self, i: usize) -> Result<T, ArgError> {
        arg(self.args, i)
    }

    /// Answers the client's ack request (a no-op when it asked for none).
    pub fn ack(&self, cx: &mut Cx<'_, '_>, args: impl ToArgs) {
        if let Some(id) = self.ack_id {
            cx.ack(self.socket, id, args);
        }
    }
}

type ConnectionFn = Box<dyn FnMut(&mut Cx<'_, '_>, SocketId, &Handshake<'_>)>;
type AuthorizeFn = Box<dyn FnMut(&mut Cx<'_, '_>, &Handshake<'_>) -> Result<(), Refusal>>;
type MiddlewareFn = Box<dyn FnMut(&mut Cx<'_, '_>, &Msg<'_>) -> Result<(), Refusal>>;
type PacketErrorFn = Box<dyn FnMut(&mut Cx<'_, '_>, &Msg<'_>, Refusal)>;
type EventFn = Box<dyn FnMut(&mut Cx<'_, '_>, &Msg<'_>)>;
type DisconnectFn = Box<dyn FnMut(&mut Cx<'_, '_>, SocketId, DisconnectReason)>;
type EngineFn = Box<dyn FnMut(&mut Cx<'_, '_>, SessionId, Data<'_>)>;
type HttpFn = Box<dyn FnMut(&mut Cx<'_, '_>, &HttpRequest<'_>) -> Option<Response>>;
type AckFn = Box<dyn FnOnce(&mut Cx<'_, '_>, Result<Reply<'_>, AckError>)>;

/// A response to a plain HTTP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers besides `Content-Length` and `Connection`.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with `status`, a `Content-Type` and `body`.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: std::vec![("Content-Type".to_string(), content_type.as_bytes().to_vec())],
            body: body.into(),
        }
    }
}

/// What the handlers of one namespace are.
#[derive(Default)]
struct Namespace {
    authorize: Option<AuthorizeFn>,
    /// Per-packet middleware ([`Io::use_packet`]), in order.
    middleware: Vec<MiddlewareFn>,
    /// Told of a packet the middleware stopped ([`Io::on_packet_error`]).
    packet_error: Option<PacketErrorFn>,
    connection: Option<ConnectionFn>,
    events: HashMap<String, EventFn>,
    any: Option<EventFn>,
    disconnect: Option<DisconnectFn>,
    server_side: HashMap<String, cluster::ServerSideFn>,
}

#[derive(Default)]
struct Routes {
    namespaces: HashMap<String, Namespace>,
    /// Namespaces exist because a handler names them (besides the configuration's): a
    /// CONNECT to any other is refused as Node refuses an unknown namespace.
    declared_only: bool,
    engine: Option<EngineFn>,
    http: Option<HttpFn>,
    dirs: Vec<(String, PathBuf)>,
    files: HashMap<String, PathBuf>,
}

/// Callbacks of acks the server waits for, by socket and id.
type Pending = HashMap<(SocketId, AckId), AckFn>;

/// What handlers use to act: emit, ack, rooms, broadcasts, and the server itself.
pub struct Cx<'s, 'a> {
    server: &'s mut Server<'a>,
    cluster: Option<&'s mut Cluster<'a>>,
    pending: &'s mut Pending,
    waiting: &'s mut cluster::Waiting,
    buf: &'s mut Vec<u8>,
    timers: &'s mut Timers,
}

/// A timer's callback.
type TimerFn = Box<dyn FnMut(&mut Cx<'_, '_>)>;

/// A timer on the loop: when it is due, and its period when it repeats.
struct Timer {
    at: std::time::Instant,
    every: Option<Duration>,
    f: TimerFn,
}

/// The loop's timers, in no order (a handful: the earliest is looked for).
#[derive(Default)]
struct Timers(Vec<Timer>);

impl Timers {
    fn add(&mut self, delay: Duration, every: Option<Duration>, f: TimerFn) {
        let at = std::time::Instant::now() + delay;
        self.0.push(Timer { at, every, f });
    }

    fn next(&self) -> Option<std::time::Instant> {
        self.0.iter().map(|t| t.at).min()
    }

    /// Takes the timers due at `now` out (the caller sets the periodic ones again).
    fn due(&mut self, now: std::time::Instant) -> Vec<(Option<Duration>, TimerFn)> {
        let mut due = Vec::new();
        let mut i = 0;
        while i < self.0.len() {
            if self.0[i].at <= now {
                let t = self.0.swap_remove(i);
                due.push((t.every, t.f));
            } else {
                i += 1;
            }
        }
        due
    }
}

/// A job for the loop from another thread ([`IoHandle`]).
type Job = Box<dyn FnOnce(&mut Cx<'_, '_>) + Send>;

/// Runs commands on a running [`Io`] from any thread (a push from outside a handler: a
/// sensor thread, a REST call served elsewhere): each is queued and the loop is woken to run
/// it with a [`Cx`], in the order given. Cloned freely; made by [`Listening::handle`].
#[derive(Clone)]
pub struct IoHandle {
    jobs: Arc<Mutex<Vec<Job>>>,
    waker: Arc<mio::Waker>,
}

impl core::fmt::Debug for IoHandle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IoHandle").finish_non_exhaustive()
    }
}

impl IoHandle {
    /// Runs `f` on the loop with a [`Cx`] (emit, broadcast, join…).
    ///
    /// # Errors
    /// The loop could not be woken (it is gone); the job stays queued, never run.
    pub fn run(&self, f: impl FnOnce(&mut Cx<'_, '_>) + Send + 'static) -> io::Result<()> {
        match self.jobs.lock() {
            Ok(mut jobs) => jobs.push(Box::new(f)),
            Err(poisoned) => poisoned.into_inner().push(Box::new(f)),
        }
        self.waker.wake()
    }

    /// Emits `event` with the raw JSON arguments `json` (`1,"two"`) to `socket`; a failure
    /// (the socket is gone, the JSON invalid) is logged.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub fn emit(&self, socket: SocketId, event: &str, json: impl Into<String>) -> io::Result<()> {
        let (event, json) = (event.to_string(), json.into());
        self.run(move |cx| {
            if let Err(e) = cx.emit(socket, &event, json.as_bytes()) {
                log::warn!("handle emit {event}: {e}");
            }
        })
    }

    /// Broadcasts `event` with the raw JSON arguments `json` to namespace `namespace`, or to
    /// its room `room` when given (to the whole cluster when the server is in one); a
    /// failure is logged.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub fn broadcast(
        &self,
        namespace: &str,
        room: Option<&str>,
        event: &str,
        json: impl Into<String>,
    ) -> io::Result<()> {
        let (namespace, room) = (namespace.to_string(), room.map(str::to_string));
        let (event, json) = (event.to_string(), json.into());
        self.run(move |cx| {
            let mut b = cx.broadcast(&namespace);
            if let Some(room) = &room {
                b = b.to(room);
            }
            if let Err(e) = b.emit(&event, json.as_bytes()) {
                log::warn!("handle broadcast {event}: {e}");
            }
        })
    }

    /// Puts `socket` in `room`; a failure is logged.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub fn join(&self, socket: SocketId, room: &str) -> io::Result<()> {
        let room = room.to_string();
        self.run(move |cx| {
            if let Err(e) = cx.join(socket, &room) {
                log::warn!("handle join {room}: {e}");
            }
        })
    }
}

impl core::fmt::Debug for Cx<'_, '_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Cx").finish_non_exhaustive()
    }
}

impl<'a> Cx<'_, 'a> {
    /// Runs `f` on the loop once, `delay` from now (Node's `setTimeout`).
    pub fn after(&mut self, delay: Duration, f: impl FnMut(&mut Cx<'_, '_>) + 'static) {
        self.timers.add(delay, None, Box::new(f));
    }

    /// Runs `f` on the loop every `period`, the first time `period` from now (Node's
    /// `setInterval`).
    pub fn every(&mut self, period: Duration, f: impl FnMut(&mut Cx<'_, '_>) + 'static) {
        self.timers.add(period, Some(period), Box::new(f));
    }

    /// The server, for any command not wrapped here.
    pub fn server(&mut self) -> &mut Server<'a> {
        self.server
    }

    /// The server and its cluster, when it is in one ([`Io::redis`]), for the cluster's
    /// commands not wrapped here.
    pub fn cluster(&mut self) -> Option<(&mut Server<'a>, &mut Cluster<'a>)> {
        let cluster = self.cluster.as_deref_mut()?;
        Some((&mut *self.server, cluster))
    }

    fn log(result: Result<(), CommandError>, what: &str) -> Result<(), CommandError> {
        if let Err(e) = &result {
            log::debug!("{what}: {e}");
        }
        result
    }

    /// Emits `event` to one socket.
    pub fn emit(
        &mut self,
        socket: SocketId,
        event: &str,
        args: impl ToArgs,
    ) -> Result<(), CommandError> {
        let mut buf = core::mem::take(self.buf);
        let result = args
            .to_args(&mut buf)
            .and_then(|a| self.server.emit(socket, event, a));
        *self.buf = buf;
        Self::log(result, "emit")
    }

    /// Emits `event` with the same arguments and attachments as `msg` carried.
    pub fn emit_same(
        &mut self,
        socket: SocketId,
        event: &str,
        msg: &Msg<'_>,
    ) -> Result<(), CommandError> {
        self.emit_with_attachments(socket, event, msg.args, msg.attachments)
    }

    /// Emits `event` with raw JSON arguments and the received attachments their
    /// placeholders stand for (to pass on what a client sent, binary kept binary).
    pub fn emit_with_attachments(
        &mut self,
        socket: SocketId,
        event: &str,
        json: &[u8],
        attachments: Attachments<'_>,
    ) -> Result<(), CommandError> {
        let args = Args::attached(json, attachments);
        Self::log(self.server.emit(socket, event, args), "emit")
    }

    /// Emits `event` and calls `callback` with the client's answer, or with
    /// [`AckError::Timeout`] after `timeout_ms`, or [`AckError::Disconnected`].
    pub fn emit_with_ack(
        &mut self,
        socket: SocketId,
        event: &str,
        args: impl ToArgs,
        timeout_ms: u32,
        callback: impl FnOnce(&mut Cx<'_, '_>, Result<Reply<'_>, AckError>) + 'static,
    ) -> Result<(), CommandError> {
        let mut buf = core::mem::take(self.buf);
        let result = args.to_args(&mut buf).and_then(|a| {
            self.server
                .emit_with_ack(socket, event, a, Some(timeout_ms))
        });
        *self.buf = buf;
        let id = result.inspect_err(|e| log::debug!("emit_with_ack: {e}"))?;
        self.pending.insert((socket, id), Box::new(callback));
        Ok(())
    }

    /// Answers the ack request `id` of `socket`.
    pub fn ack(&mut self, socket: SocketId, id: AckId, args: impl ToArgs) {
        let mut buf = core::mem::take(self.buf);
        let result = args
            .to_args(&mut buf)
            .and_then(|a| self.server.ack(socket, id, a));
        *self.buf = buf;
        let _ = Self::log(result, "ack");
    }

    /// Answers `msg`'s ack request with its own arguments and attachments.
    pub fn ack_same(&mut self, msg: &Msg<'_>) {
        let Some(id) = msg.ack_id else { return };
        let args = Args::attached(msg.args, msg.attachments);
        let _ = Self::log(self.server.ack(msg.socket, id, args), "ack");
    }

    /// Puts the socket in `room`.
    pub fn join(&mut self, socket: SocketId, room: &str) -> Result<(), CommandError> {
        Self::log(self.server.join(socket, room), "join")
    }

    /// Takes the socket out of `room`.
    pub fn leave(&mut self, socket: SocketId, room: &str) -> Result<(), CommandError> {
        Self::log(self.server.leave(socket, room), "leave")
    }

    /// Ends the socket's membership of its namespace (the client gets DISCONNECT).
    pub fn disconnect(&mut self, socket: SocketId) -> Result<(), CommandError> {
        Self::log(self.server.disconnect(socket), "disconnect")
    }

    /// A broadcast to the sockets of `namespace`; narrow it with the builder's methods,
    /// then [`emit`](Broadcast::emit).
    pub fn broadcast<'c>(&'c mut self, namespace: &str) -> Broadcast<'c, 'a> {
        let ns = self.server.namespace(namespace);
        Broadcast {
            server: self.server,
            cluster: self.cluster.as_deref_mut(),
            local: false,
            pending: self.pending,
            waiting: self.waiting,
            buf: self.buf,
            timers: self.timers,
            ns,
            rooms: Vec::new(),
            except_rooms: Vec::new(),
            except: Vec::new(),
        }
    }

    /// A broadcast to the namespace of `socket`, leaving `socket` out ("everyone but the
    /// sender", Node's `socket.broadcast`).
    pub fn broadcast_from<'c>(&'c mut self, socket: SocketId) -> Broadcast<'c, 'a> {
        let ns = self.server.namespace_of(socket);
        Broadcast {
            server: self.server,
            cluster: self.cluster.as_deref_mut(),
            local: false,
            pending: self.pending,
            waiting: self.waiting,
            buf: self.buf,
            timers: self.timers,
            ns,
            rooms: Vec::new(),
            except_rooms: Vec::new(),
            except: std::vec![socket],
        }
    }
}

/// A broadcast being built; see [`Cx::broadcast`].
pub struct Broadcast<'c, 'a> {
    server: &'c mut Server<'a>,
    cluster: Option<&'c mut Cluster<'a>>,
    local: bool,
    pending: &'c mut Pending,
    waiting: &'c mut cluster::Waiting,
    buf: &'c mut Vec<u8>,
    timers: &'c mut Timers,
    ns: Option<crate::server::NamespaceId>,
    rooms: Vec<String>,
    except_rooms: Vec<String>,
    except: Vec<SocketId>,
}

impl<'a> Broadcast<'_, 'a> {
    /// The handler context its parts make, for a callback called at once (nobody to
    /// wait for).
    fn cx(&mut self) -> Cx<'_, 'a> {
        Cx {
            server: &mut *self.server,
            cluster: self.cluster.as_deref_mut(),
            pending: &mut *self.pending,
            waiting: &mut *self.waiting,
            buf: &mut *self.buf,
            timers: &mut *self.timers,
        }
    }
}

impl core::fmt::Debug for Broadcast<'_, '_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Broadcast")
            .field("ns", &self.ns)
            .field("rooms", &self.rooms)
            .field("except_rooms", &self.except_rooms)
            .field("except", &self.except)
            .field("local", &self.local)
            .finish()
    }
}

impl Broadcast<'_, '_> {
    /// Only the members of `room` (several calls: any of them).
    #[must_use]
    pub fn to(mut self, room: &str) -> Self {
        self.rooms.push(room.to_string());
        self
    }

    /// Not the members of `room`.
    #[must_use]
    pub fn except(mut self, room: &str) -> Self {
        self.except_rooms.push(room.to_string());
        self
    }

    /// Not `socket`.
    #[must_use]
    pub fn except_socket(mut self, socket: SocketId) -> Self {
        self.except.push(socket);
        self
    }

    /// On this server only, when it is in a cluster (Node's `local` flag).
    #[must_use]
    pub fn local(mut self) -> Self {
        self.local = true;
        self
    }

    /// Sends `event` with `args` to everyone selected (in the whole cluster, when the
    /// server is in one and the broadcast is not [`local`](Self::local)); returns how many
    /// of this server's sockets got it.
    ///
    /// # Errors
    /// [`EmitError`]: nobody got it (arguments that are not valid JSON, a namespace that
    /// does not exist, the pool full), or the cluster's part failed (see
    /// [`EmitError::Cluster`]).
    pub fn emit(mut self, event: &str, args: impl ToArgs) -> Result<usize, EmitError> {
        let mut buf = core::mem::take(self.buf);
        let sent = match args.to_args(&mut buf) {
            Ok(a) => self.deliver(event, a),
            Err(e) => Err(EmitError::Server(e)),
        };
        *self.buf = buf;
        sent
    }

    /// Sends to this server's selected sockets and, unless local, to the cluster's.
    fn deliver(&mut self, event: &str, args: Args<'_>) -> Result<usize, EmitError> {
        let Some(ns) = self.ns else {
            return Err(EmitError::UnknownNamespace);
        };
        // The sockets left out go by the rooms their ids name, for every server.
        let except = if self.cluster.is_some() && !self.local {
            self.except_with_ids()
        } else {
            Vec::new()
        };
        match self.cluster.as_deref_mut() {
            Some(cluster) if !self.local => {
                let rooms: Vec<&str> = self.rooms.iter().map(String::as_str).collect();
                let except: Vec<&str> = except.iter().map(String::as_str).collect();
                let to = Recipients {
                    rooms: &rooms,
                    except: &except,
                    flags: Flags::NONE,
                };
                cluster
                    .broadcast(self.server, ns, &to, event, args)
                    .map_err(EmitError::Cluster)
            }
            _ => {
                let rooms: Vec<&str> = self.rooms.iter().map(String::as_str).collect();
                let except_rooms: Vec<&str> =
                    self.except_rooms.iter().map(String::as_str).collect();
                let targets = Targets {
                    rooms: &rooms,
                    except_rooms: &except_rooms,
                    except: &self.except,
                };
                self.server
                    .broadcast(ns, &targets, event, args)
                    .map_err(EmitError::Server)
            }
        }
    }

    /// Sends `event` with `args` to everyone selected, each socket asked for an
    /// acknowledgement, and calls `done` once with every answer that came within
    /// `timeout_ms` (Node's `io.timeout(ms).emit(event, ..., (err, responses))`): one
    /// value per client, the first argument it answered with (`null` when none; a binary
    /// value as its placeholder, without the bytes). `complete` is `false` (Node's `err`)
    /// when a client did not answer in time or left first, when a server of the cluster
    /// did not say in time how many of its clients it asked, or when answers were dropped
    /// past the caps below. With nobody to wait for, `done` runs at once with none.
    ///
    /// In a cluster ([`Io::redis`]) and unless [`local`](Self::local), the other servers'
    /// sockets are asked too, as Node's adapter asks them: every server (Node's or
    /// siocore's) tells how many of its clients it asked and relays each answer, which
    /// `done` gets with this server's own, in the order they came. The request takes an
    /// entry of the cluster's table of pending requests (256 in the mio driver, shared with
    /// [`fetch_sockets`](Self::fetch_sockets) and
    /// [`Cx::server_side_emit_with_ack`]) until it is over.
    ///
    /// Bounded: one call keeps at most [`MAX_ACK_ANSWERS`] answers and
    /// [`MAX_ACK_ANSWER_BYTES`] bytes of their JSON text; answers past either are dropped
    /// (a warning is logged) and the result is incomplete.
    ///
    /// # Errors
    /// [`EmitError`] when it could not be sent at all, and then `done` is not called and
    /// nobody was asked: the namespace does not exist, the arguments are not valid, or
    /// (in a cluster) the request could not go out ([`ClusterError::PendingFull`],
    /// [`ClusterError::OutboxFull`]). A socket that cannot take it (its queue full) counts
    /// as not answering. `Ok` carries how many of this server's sockets were asked.
    pub fn emit_with_ack(
        mut self,
        event: &str,
        args: impl ToArgs,
        timeout_ms: u32,
        done: impl FnOnce(&mut Cx<'_, '_>, Answers) + 'static,
    ) -> Result<usize, EmitError> {
        let Some(ns) = self.ns else {
            return Err(EmitError::UnknownNamespace);
        };
        let mut buf = core::mem::take(self.buf);
        let args = match args.to_args(&mut buf) {
            Ok(a) => a,
            Err(e) => {
                *self.buf = buf;
                return Err(EmitError::Server(e));
            }
        };
        let rooms: Vec<&str> = self.rooms.iter().map(String::as_str).collect();
        // The sockets left out go by the rooms their ids name, for every server.
        let except = if self.cluster.is_some() && !self.local {
            self.except_with_ids()
        } else {
            Vec::new()
        };
        // The other servers first: when they cannot be asked, nobody is.
        let remote = match self.cluster.as_deref_mut() {
            Some(cluster) if !self.local => {
                let except: Vec<&str> = except.iter().map(String::as_str).collect();
                let to = Recipients {
                    rooms: &rooms,
                    except: &except,
                    flags: Flags::NONE,
                };
                match cluster.broadcast_with_ack(self.server, ns, &to, event, args, timeout_ms) {
                    Ok(id) => Some(id),
                    Err(e) => {
                        *self.buf = buf;
                        log::debug!("emit_with_ack: {e}");
                        return Err(EmitError::Cluster(e));
                    }
                }
            }
            _ => None,
        };
        let except_rooms: Vec<&str> = self.except_rooms.iter().map(String::as_str).collect();
        let targets = Targets {
            rooms: &rooms,
            except_rooms: &except_rooms,
            except: &self.except,
        };
        let mut sockets = Vec::new();
        self.server.select(ns, &targets, |_, s| sockets.push(s));
        let shared = std::rc::Rc::new(core::cell::RefCell::new(Collect {
            left: sockets.len(),
            remote: remote.is_some(),
            answers: Answers {
                answers: Vec::new(),
                complete: true,
            },
            bytes: 0,
            dropped: 0,
            done: Some(Box::new(done)),
        }));
        let mut sent = 0;
        let mut first_error = None;
        for &socket in &sockets {
            match self
                .server
                .emit_with_ack(socket, event, args, Some(timeout_ms))
            {
                Ok(id) => {
                    sent += 1;
                    let shared = std::rc::Rc::clone(&shared);
                    let f: AckFn = Box::new(move |cx, reply| {
                        Collect::answer(&shared, cx, reply.ok().map(|r| r.args));
                    });
                    self.pending.insert((socket, id), f);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                    let mut c = shared.borrow_mut();
                    c.left -= 1;
                    c.answers.complete = false;
                }
            }
        }
        *self.buf = buf;
        if let Some(id) = remote {
            self.waiting
                .insert(id, cluster::Wait::Acks(std::rc::Rc::clone(&shared)));
        } else if sent == 0
            && let Some(e) = first_error
        {
            return Err(EmitError::Server(e));
        }
        if shared.borrow().left == 0 && remote.is_none() {
            // Nobody to wait for.
            let mut cx = self.cx();
            Collect::finish(&shared, &mut cx);
        }
        Ok(sent)
    }

    /// Sends `event` with the arguments and attachments `msg` carried.
    ///
    /// # Errors
    /// As [`emit`](Self::emit).
    pub fn emit_same(self, event: &str, msg: &Msg<'_>) -> Result<usize, EmitError> {
        self.emit_with_attachments(event, msg.args, msg.attachments)
    }

    /// Sends `event` with raw JSON arguments and the received attachments their
    /// placeholders stand for.
    ///
    /// # Errors
    /// As [`emit`](Self::emit).
    pub fn emit_with_attachments(
        mut self,
        event: &str,
        json: &[u8],
        attachments: Attachments<'_>,
    ) -> Result<usize, EmitError> {
        self.deliver(event, Args::attached(json, attachments))
    }
}

/// The most answers one [`Broadcast::emit_with_ack`] keeps, this server's clients' and the
/// cluster's together; past it, answers are dropped and the result is incomplete.
pub const MAX_ACK_ANSWERS: usize = 100_000;

/// The most bytes of answers' JSON text one [`Broadcast::emit_with_ack`] keeps; past it,
/// answers are dropped and the result is incomplete.
pub const MAX_ACK_ANSWER_BYTES: usize = 16 << 20;

/// The answers a broadcast with acknowledgements collects ([`Broadcast::emit_with_ack`]).
struct Collect {
    /// This server's sockets that have not answered or failed yet.
    left: usize,
    /// The other servers' part is not over yet.
    remote: bool,
    answers: Answers,
    /// Bytes of answer text kept.
    bytes: usize,
    /// Answers dropped past the caps.
    dropped: usize,
    done: Option<CollectedFn>,
}

/// What a broadcast with acknowledgements calls with its answers.
type CollectedFn = Box<dyn FnOnce(&mut Cx<'_, '_>, Answers)>;

impl Collect {
    /// Room for an answer of `len` bytes of text, within the caps; a refusal is counted
    /// (and said once) and makes the result incomplete.
    fn room_for(&mut self, len: usize) -> bool {
        if self.answers.answers.len() < MAX_ACK_ANSWERS
            && self.bytes.saturating_add(len) <= MAX_ACK_ANSWER_BYTES
        {
            return true;
        }
        if self.dropped == 0 {
            log::warn!(
                "broadcast with acknowledgements: past {MAX_ACK_ANSWERS} answers or \
                 {MAX_ACK_ANSWER_BYTES} bytes of them; the others are dropped"
            );
        }
        self.dropped += 1;
        self.answers.complete = false;
        false
    }

    /// Keeps an answer's JSON text, within the caps.
    fn keep(&mut self, text: &[u8]) {
        if self.room_for(text.len()) {
            self.bytes += text.len();
            self.answers
                .answers
                .push(String::from_utf8_lossy(text).into_owned());
        }
    }

    /// One socket's answer (its raw JSON arguments, the first of them kept as Node's
    /// `responses` hold one value per client), or `None` for a timeout or a departure.
    fn answer(
        shared: &std::rc::Rc<core::cell::RefCell<Self>>,
        cx: &mut Cx<'_, '_>,
        args: Option<&[u8]>,
    ) {
        {
            let mut c = shared.borrow_mut();
            c.left = c.left.saturating_sub(1);
            match args {
                Some(a) => {
                    let first = split_first_arg(a).map_or(&b"null"[..], |(first, _)| first);
                    c.keep(first);
                }
                None => c.answers.complete = false,
            }
            if c.left > 0 || c.remote {
                return;
            }
        }
        Self::finish(shared, cx);
    }

    /// The other servers' part is over: every count and answer came, or not in time.
    fn remote_done(
        shared: &std::rc::Rc<core::cell::RefCell<Self>>,
        cx: &mut Cx<'_, '_>,
        timed_out: bool,
    ) {
        {
            let mut c = shared.borrow_mut();
            c.remote = false;
            if timed_out {
                c.answers.complete = false;
            }
            if c.left > 0 {
                return;
            }
        }
        Self::finish(shared, cx);
    }

    fn finish(shared: &std::rc::Rc<core::cell::RefCell<Self>>, cx: &mut Cx<'_, '_>) {
        let (done, answers) = {
            let mut c = shared.borrow_mut();
            let answers = core::mem::replace(
                &mut c.answers,
                Answers {
                    answers: Vec::new(),
                    complete: true,
                },
            );
            (c.done.take(), answers)
        };
        if let Some(done) = done {
            done(cx, answers);
        }
    }
}

/// Why a broadcast went to nobody, or not to the whole cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmitError {
    /// The namespace does not exist (no client joined it yet, and no handler or
    /// configuration names it).
    UnknownNamespace,
    /// This server refused it: the arguments are not a valid JSON list or do not match
    /// their attachments, a name is invalid, the pool or the queue entries ran out.
    Server(CommandError),
    /// The cluster refused it. With [`ClusterError::OutboxFull`] this server's own sockets
    /// got it and the other servers did not.
    Cluster(ClusterError),
}

impl core::fmt::Display for EmitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::UnknownNamespace => f.write_str("the namespace does not exist"),
            Self::Server(e) => write!(f, "{e}"),
            Self::Cluster(e) => write!(f, "cluster: {e}"),
        }
    }
}

impl std::error::Error for EmitError {}

/// The Socket.IO-style server: register handlers, then [`listen`](Io::listen).
pub struct Io<'a> {
    config: ServerConfig<'a>,
    timers: Timers,
    capacity: Capacity,
    routes: Routes,
    redis: Option<(String, ClusterConfig<'a>)>,
    #[cfg(feature = "tls")]
    tls: Option<crate::driver::ServerTls>,
}

impl core::fmt::Debug for Io<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Io")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<'a> Io<'a> {
    /// A server with `config`, room for as many sessions as the process may open
    /// descriptors for ([`driver::default_max_sessions`](crate::driver::default_max_sessions):
    /// the soft `RLIMIT_NOFILE` less 64, at most 1 048 576; 16 384 where the limit cannot be
    /// read) and up to 1 GiB of pool, all taken as needed. [`max_sessions`](Self::max_sessions)
    /// sets another cap.
    pub fn new(config: ServerConfig<'a>) -> Self {
        Self {
            config,
            timers: Timers::default(),
            capacity: Capacity::for_sessions(crate::driver::default_max_sessions(), 1 << 30),
            routes: Routes::default(),
            redis: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Joins the Redis cluster at `url` (`redis://host:port`) with Node's defaults (key
    /// prefix `socket.io`, requests time out after 5 s): broadcasts reach the sockets of
    /// every server on that Redis, Node's `@socket.io/redis-adapter` ones included (see
    /// [`Driver::join_cluster`]).
    #[must_use]
    pub fn redis(self, url: &str) -> Self {
        self.redis_with(url, ClusterConfig::DEFAULT)
    }

    /// [`redis`](Self::redis) with another key prefix or request timeout.
    #[must_use]
    pub fn redis_with(mut self, url: &str, config: ClusterConfig<'a>) -> Self {
        self.redis = Some((url.to_string(), config));
        self
    }

    /// Serves `https` and `wss` (feature `tls`): every connection speaks TLS with `tls`'s
    /// certificate, Socket.IO and the plain HTTP routes alike (see
    /// [`Driver::set_tls`]).
    ///
    /// ```no_run
    /// use siocore::app::Io;
    /// use siocore::driver::ServerTls;
    /// use siocore::server::ServerConfig;
    ///
    /// let tls = ServerTls::from_pem_files("fullchain.pem", "privkey.pem")?;
    /// let io = Io::new(ServerConfig::DEFAULT).tls(tls);
    /// io.listen("0.0.0.0:443".parse()?)?.run()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn tls(mut self, tls: crate::driver::ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Keeps each session's opening request, at most `bytes` of it, for the handlers'
    /// [`Handshake`] (its [`header`](Handshake::header)s, [`url`](Handshake::url),
    /// [`query`](Handshake::query) and [`issued`](Handshake::issued) time; Node's
    /// `socket.handshake`): sets [`ServerConfig::handshake_head`]. Off by default, as it
    /// costs each session those bytes of the pool (4096 holds a browser's request).
    #[must_use]
    pub fn keep_handshake(mut self, bytes: u32) -> Self {
        self.config.handshake_head = bytes;
        self
    }

    /// Runs `f` on the loop every `period` once it runs, the first time `period` after this
    /// call (Node's `setInterval(() => io.emit(...))`).
    pub fn every(
        &mut self,
        period: Duration,
        f: impl FnMut(&mut Cx<'_, '_>) + 'static,
    ) -> &mut Self {
        self.timers.add(period, Some(period), Box::new(f));
        self
    }

    /// Runs `f` on the loop once, `delay` after this call (Node's `setTimeout`).
    pub fn after(
        &mut self,
        delay: Duration,
        f: impl FnMut(&mut Cx<'_, '_>) + 'static,
    ) -> &mut Self {
        self.timers.add(delay, None, Box::new(f));
        self
    }

    /// Other table sizes (the most each may grow to).
    #[must_use]
    pub fn capacity(mut self, capacity: Capacity) -> Self {
        self.capacity = capacity;
        self
    }

    /// Room for at most `sessions` clients at once (Node has no such cap; the default is
    /// the process's descriptor limit, see [`new`](Self::new)): the tables of
    /// [`Capacity::for_sessions`], the pool as it was. A handshake past it is refused
    /// (`403`, Engine.IO's `{"code":4,"message":"Forbidden"}`; a WebSocket one `400`) while
    /// the others are served.
    #[must_use]
    pub fn max_sessions(mut self, sessions: usize) -> Self {
        self.capacity = Capacity {
            blocks: self.capacity.blocks,
            big_blocks: self.capacity.big_blocks,
            ..Capacity::for_sessions(sessions, 0)
        };
        self
    }

    /// Connection state recovery (Node's `connectionStateRecovery`, its
    /// `maxDisconnectionDuration`): a client whose transport dropped may come back, within
    /// `duration`, into its socket, with its id, its rooms and the packets it missed
    /// ([`Handshake::recovered`]; recovered sockets skip [`authorize`](Self::authorize)). Sets
    /// [`ServerConfig::recovery`] (whole milliseconds, at least 1); see "Connection state
    /// recovery" in the [server docs](crate::server). Off by default.
    #[must_use]
    pub fn recovery(mut self, duration: Duration) -> Self {
        self.config.recovery = u32::try_from(duration.as_millis())
            .unwrap_or(u32::MAX)
            .max(1);
        self
    }

    fn ns(&mut self, namespace: &str) -> &mut Namespace {
        self.routes
            .namespaces
            .entry(namespace.to_string())
            .or_default()
    }

    /// Decides whether a client may join `namespace` (Node's `io.use` middleware): `Err`
    /// refuses it with a `CONNECT_ERROR`. Without one every client is accepted.
    pub fn authorize(
        &mut self,
        namespace: &str,
        f: impl FnMut(&mut Cx<'_, '_>, &Handshake<'_>) -> Result<(), Refusal> + 'static,
    ) -> &mut Self {
        self.ns(namespace).authorize = Some(Box::new(f));
        self
    }

    /// Called when a socket has joined `namespace` (after the client got its CONNECT reply,
    /// so what it emits arrives after that).
    pub fn on_connection(
        &mut self,
        namespace: &str,
        f: impl FnMut(&mut Cx<'_, '_>, SocketId, &Handshake<'_>) + 'static,
    ) -> &mut Self {
        self.ns(namespace).connection = Some(Box::new(f));
        self
    }

    /// Handles `event` on `namespace`.
    pub fn on(
        &mut self,
        namespace: &str,
        event: &str,
        f: impl FnMut(&mut Cx<'_, '_>, &Msg<'_>) + 'static,
    ) -> &mut Self {
        self.ns(namespace)
            .events
            .insert(event.to_string(), Box::new(f));
        self
    }

    /// Per-packet middleware on the sockets of `namespace` (Node's `socket.use`): runs, in
    /// the order added, before the event handlers for every event a client sends; the first
    /// `Err` drops the packet (no handler runs, no acknowledgement is sent) and goes to
    /// [`on_packet_error`](Self::on_packet_error).
    pub fn use_packet(
        &mut self,
        namespace: &str,
        f: impl FnMut(&mut Cx<'_, '_>, &Msg<'_>) -> Result<(), Refusal> + 'static,
    ) -> &mut Self {
        self.ns(namespace).middleware.push(Box::new(f));
        self
    }

    /// Called with a packet of `namespace` that a [`use_packet`](Self::use_packet)
    /// middleware refused, and why (Node's socket `error` listener); without one, the
    /// refusal is logged at debug level.
    pub fn on_packet_error(
        &mut self,
        namespace: &str,
        f: impl FnMut(&mut Cx<'_, '_>, &Msg<'_>, Refusal) + 'static,
    ) -> &mut Self {
        self.ns(namespace).packet_error = Some(Box::new(f));
        self
    }

    /// Handles the events of `namespace` that have no handler of their own.
    pub fn on_any(
        &mut self,
        namespace: &str,
        f: impl FnMut(&mut Cx<'_, '_>, &Msg<'_>) + 'static,
    ) -> &mut Self {
        self.ns(namespace).any = Some(Box::new(f));
        self
    }

    /// Handles another server's server-side emit of `event` on `namespace` (Node's
    /// `io.on(event)` for what `serverSideEmit` sends); [`ServerSide::ack`] answers it.
    pub fn on_server_side(
        &mut self,
        namespace: &str,
        event: &str,
        f: impl FnMut(&mut Cx<'_, '_>, &ServerSide<'_>) + 'static,
    ) -> &mut Self {
        self.ns(namespace)
            .server_side
            .insert(event.to_string(), Box::new(f));
        self
    }

    /// Called when a socket leaves `namespace`.
    pub fn on_disconnect(
        &mut self,
        namespace: &str,
        f: impl FnMut(&mut Cx<'_, '_>, SocketId, DisconnectReason) + 'static,
    ) -> &mut Self {
        self.ns(namespace).disconnect = Some(Box::new(f));
        self
    }

    /// Handles the messages of plain Engine.IO sessions.
    pub fn on_engine_message(
        &mut self,
        f: impl FnMut(&mut Cx<'_, '_>, SessionId, Data<'_>) + 'static,
    ) -> &mut Self {
        self.routes.engine = Some(Box::new(f));
        self
    }

    /// Handles plain HTTP requests no file matched; `None` answers 404.
    pub fn on_http(
        &mut self,
        f: impl FnMut(&mut Cx<'_, '_>, &HttpRequest<'_>) -> Option<Response> + 'static,
    ) -> &mut Self {
        self.routes.http = Some(Box::new(f));
        self
    }

    /// Serves the files below `dir` under the URL prefix `prefix` (`/` for the root):
    /// `GET /a/b.js` reads `dir/a/b.js`; a path ending in `/` reads its `index.html`.
    pub fn serve_dir(&mut self, prefix: &str, dir: impl Into<PathBuf>) -> &mut Self {
        self.routes.dirs.push((prefix.to_string(), dir.into()));
        self
    }

    /// Serves one file at the URL path `path`.
    pub fn serve_file(&mut self, path: &str, file: impl Into<PathBuf>) -> &mut Self {
        self.routes.files.insert(path.to_string(), file.into());
        self
    }

    /// Binds `addr` (port 0 for any free port), ready to [`run`](Listening::run).
    ///
    /// A namespace that a handler names ([`on_connection`](Self::on_connection),
    /// [`on`](Self::on), [`authorize`](Self::authorize), …) exists as Node's `io.of(name)`
    /// makes it, whether or not [`ServerConfig::namespaces`] lists it; a CONNECT to a
    /// namespace neither names is refused with `{"message":"Invalid namespace"}` (unless the
    /// configuration asks for [`dynamic_namespaces`](ServerConfig::dynamic_namespaces), which
    /// then accepts any).
    pub fn listen(mut self, addr: SocketAddr) -> io::Result<Listening<'a>> {
        let storage = Storage::growable(self.capacity);
        let config = &mut self.config;
        if !config.dynamic_namespaces
            && self
                .routes
                .namespaces
                .keys()
                .any(|n| !config.namespaces.contains(&n.as_str()))
        {
            // The configuration's list is borrowed: the others are made when a client
            // first asks for them, from the handlers' names.
            config.dynamic_namespaces = true;
            self.routes.declared_only = true;
        }
        let mut driver = Driver::bind(addr, self.config, storage)?;
        #[cfg(feature = "tls")]
        if let Some(tls) = self.tls {
            driver.set_tls(tls);
        }
        if let Some((url, config)) = self.redis {
            driver.join_cluster(&url, config)?;
        }
        Ok(Listening {
            driver,
            app: App {
                routes: self.routes,
                pending: Pending::new(),
                waiting: cluster::Waiting::new(),
                buf: Vec::new(),
                peer: None,
                head: Vec::new(),
                timers: self.timers,
                jobs: Arc::default(),
            },
        })
    }
}

/// A bound server; [`run`](Listening::run) serves until shut down.
#[derive(Debug)]
pub struct Listening<'a> {
    driver: Driver<'a>,
    app: App,
}

impl Listening<'_> {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.driver.local_addr()
    }

    /// A handle that stops [`run`](Self::run) from another thread.
    pub fn shutdown_handle(&self) -> Shutdown {
        self.driver.shutdown_handle()
    }

    /// A handle that runs commands on this server from any thread (emits, broadcasts,
    /// joins): see [`IoHandle`].
    pub fn handle(&self) -> IoHandle {
        IoHandle {
            jobs: Arc::clone(&self.app.jobs),
            waker: self.driver.waker(),
        }
    }

    /// Serves until [`Shutdown::shutdown`] is called.
    pub fn run(&mut self) -> io::Result<()> {
        self.driver.run(&mut self.app)
    }
}

struct App {
    routes: Routes,
    pending: Pending,
    waiting: cluster::Waiting,
    buf: Vec<u8>,
    /// The peer of the next CONNECT's session ([`Handler::connect_peer`]).
    peer: Option<SocketAddr>,
    /// Room for a session's opening request ([`Server::handshake`]).
    head: Vec<u8>,
    /// The loop's timers ([`Io::every`], [`Cx::after`]).
    timers: Timers,
    /// Jobs from other threads ([`IoHandle`]).
    jobs: Arc<Mutex<Vec<Job>>>,
}

impl core::fmt::Debug for App {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("App")
            .field("pending_acks", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl Handler for App {
    fn connect_peer(&mut self, peer: Option<SocketAddr>) {
        self.peer = peer;
    }

    fn next_wake(&self) -> Option<std::time::Instant> {
        self.timers.next()
    }

    fn woken<'a>(&mut self, server: &mut Server<'a>, cluster: Option<&mut Cluster<'a>>) {
        let jobs = match self.jobs.lock() {
            Ok(mut jobs) => core::mem::take(&mut *jobs),
            Err(poisoned) => core::mem::take(&mut *poisoned.into_inner()),
        };
        let due = self.timers.due(std::time::Instant::now());
        let mut timers = core::mem::take(&mut self.timers);
        let mut cx = Cx {
            server,
            cluster,
            pending: &mut self.pending,
            waiting: &mut self.waiting,
            buf: &mut self.buf,
            timers: &mut timers,
        };
        for job in jobs {
            job(&mut cx);
        }
        for (every, mut f) in due {
            f(&mut cx);
            if let Some(period) = every {
                cx.timers.add(period, Some(period), f);
            }
        }
        self.timers.0.append(&mut timers.0);
    }

    fn event(&mut self, server: &mut Server<'_>, event: &Event<'_>) {
        self.event_in(server, None, event);
    }

    fn cluster_event<'a>(
        &mut self,
        server: &mut Server<'a>,
        cluster: &mut Cluster<'a>,
        event: &crate::adapter::ClusterEvent<'_>,
    ) {
        let mut waiting = core::mem::take(&mut self.waiting);
        let mut pending = core::mem::take(&mut self.pending);
        let mut buf = core::mem::take(&mut self.buf);
        let mut timers = core::mem::take(&mut self.timers);
        let mut cx = Cx {
            server,
            cluster: Some(cluster),
            pending: &mut pending,
            waiting: &mut waiting,
            buf: &mut buf,
            timers: &mut timers,
        };
        self.on_cluster_event(&mut cx, event);
        (self.waiting, self.pending, self.buf) = (waiting, pending, buf);
        self.timers.0.append(&mut timers.0);
    }

    fn cluster_done<'a>(
        &mut self,
        server: &mut Server<'a>,
        cluster: &mut Cluster<'a>,
        done: &crate::adapter::Done,
    ) {
        let mut cx = Cx {
            server,
            cluster: Some(cluster),
            pending: &mut self.pending,
            waiting: &mut self.waiting,
            buf: &mut self.buf,
            timers: &mut self.timers,
        };
        Self::on_cluster_done(&mut cx, done);
    }

    fn event_in<'a>(
        &mut self,
        server: &mut Server<'a>,
        cluster: Option<&mut Cluster<'a>>,
        event: &Event<'_>,
    ) {
        let Self {
            routes,
            pending,
            waiting,
            buf,
            peer,
            head,
            timers,
            jobs: _,
        } = self;
        // The opening request of a CONNECT's session, when the server keeps it.
        let mut issued = None;
        let mut head_len = 0;
        if let Event::Connect(c) = event {
            loop {
                match server.handshake(c.session, head) {
                    Ok(kept) => {
                        if let Some((at, h)) = kept {
                            issued = Some(at);
                            head_len = h.len();
                        }
                        break;
                    }
                    Err(e) => head.resize(e.required, 0),
                }
            }
        }
        let head = head.get(..head_len).unwrap_or_default();
        let mut cx = Cx {
            server,
            cluster,
            pending,
            waiting,
            buf,
            timers,
        };
        match *event {
            Event::Connect(c)
                if routes.declared_only
                    && c.namespace.is_none()
                    && !routes.namespaces.contains_key(c.name) =>
            {
                let _ = cx.server.refuse(c.socket, "Invalid namespace", None);
            }
            Event::Connect(c) => {
                let hs = Handshake {
                    session: c.session,
                    namespace: c.name,
                    auth: c.auth,
                    recovered: c.recovered,
                    head,
                    issued,
                    address: peer.take(),
                };
                let ns = routes.namespaces.get_mut(c.name);
                // A recovered socket passed its authorization when it first connected.
                if let Some(Err(refusal)) = ns
                    .filter(|_| !c.recovered)
                    .and_then(|n| n.authorize.as_mut())
                    .map(|f| f(&mut cx, &hs))
                {
                    let _ = cx
                        .server
                        .refuse(c.socket, &refusal.message, refusal.data.as_deref());
                    return;
                }
                if let Err(e) = cx.server.accept(c.socket) {
                    // A recovered socket is accepted even when one of its rooms could not
                    // be joined again: it is live, and its handler runs.
                    if cx.server.socket_sid(c.socket).is_none() {
                        log::debug!("accept: {e}");
                        return;
                    }
                    log::warn!("accept of a recovered socket: {e}");
                }
                if let Some(f) = routes
                    .namespaces
                    .get_mut(c.name)
                    .and_then(|n| n.connection.as_mut())
                {
                    f(&mut cx, c.socket, &hs);
                }
            }
            Event::Message(m) => {
                let msg = Msg {
                    socket: m.socket,
                    event: m.name,
                    args: m.args,
                    attachments: m.attachments,
                    ack_id: m.ack,
                };
                let ns_name = cx.server.namespace_name(m.namespace).unwrap_or("/");
                let Some(ns) = routes.namespaces.get_mut(ns_name) else {
                    return;
                };
                // Node's `socket.use`: a refusal drops the packet before any handler.
                let refused = ns
                    .middleware
                    .iter_mut()
                    .find_map(|f| f(&mut cx, &msg).err());
                if let Some(err) = refused {
                    match ns.packet_error.as_mut() {
                        Some(f) => f(&mut cx, &msg, err),
                        None => log::debug!("packet {} dropped: {}", msg.event, err.message),
                    }
                    return;
                }
                if let Some(f) = ns.events.get_mut(m.name) {
                    f(&mut cx, &msg);
                } else if let Some(f) = ns.any.as_mut() {
                    f(&mut cx, &msg);
                }
            }
            Event::Ack(a) => {
                if let Some(f) = cx.pending.remove(&(a.socket, a.id)) {
                    f(
                        &mut cx,
                        Ok(Reply {
                            args: a.args,
                            attachments: a.attachments,
                        }),
                    );
                }
            }
            Event::AckTimeout { socket, id } => {
                if let Some(f) = cx.pending.remove(&(socket, id)) {
                    f(&mut cx, Err(AckError::Timeout));
                }
            }
            Event::Disconnect {
                socket,
                namespace,
                reason,
            } => {
                let gone: Vec<(SocketId, AckId)> = cx
                    .pending
                    .keys()
                    .filter(|(s, _)| *s == socket)
                    .copied()
                    .collect();
                for key in gone {
                    if let Some(f) = cx.pending.remove(&key) {
                        f(&mut cx, Err(AckError::Disconnected));
                    }
                }
                let name = namespace
                    .and_then(|ns| cx.server.namespace_name(ns))
                    .unwrap_or_default()
                    .to_string();
                if let Some(f) = routes
                    .namespaces
                    .get_mut(&name)
                    .and_then(|n| n.disconnect.as_mut())
                {
                    f(&mut cx, socket, reason);
                }
            }
            Event::EngineMessage { session, data } => {
                if let Some(f) = routes.engine.as_mut() {
                    f(&mut cx, session, data);
                }
            }
            Event::Http(r) => {
                let response = static_file(routes, &r)
                    .or_else(|| routes.http.as_mut().and_then(|f| f(&mut cx, &r)))
                    .unwrap_or_else(|| {
                        Response::new(404, "text/plain; charset=utf-8", "Not Found")
                    });
                let headers: Vec<Header<'_>> = response
                    .headers
                    .iter()
                    .map(|(name, value)| Header { name, value })
                    .collect();
                // A HEAD request gets the length and no body (the server leaves it out).
                let body = &response.body[..];
                if let Err(e) = cx.server.respond(r.stream, response.status, &headers, body) {
                    log::warn!("respond: {e}");
                }
            }
            _ => {}
        }
    }
}

/// The content type for a file name.
fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "application/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// A file for a GET or HEAD request, if one of the static routes has it.
fn static_file(routes: &Routes, r: &HttpRequest<'_>) -> Option<Response> {
    if !matches!(r.method(), Method::Get | Method::Head) {
        return None;
    }
    let path = r.path();
    let file = routes.files.get(path).cloned().or_else(|| {
        routes.dirs.iter().find_map(|(prefix, dir)| {
            let rest = path.strip_prefix(prefix.as_str())?;
            let rest = rest.strip_prefix('/').unwrap_or(rest);
            let mut file = dir.clone();
            for part in Path::new(rest).components() {
                match part {
                    Component::Normal(p) => file.push(p),
                    // `..`, absolute parts: never outside the folder.
                    _ => return None,
                }
            }
            if rest.is_empty() || rest.ends_with('/') {
                file.push("index.html");
            }
            Some(file)
        })
    })?;
    let body = std::fs::read(&file).ok()?;
    Some(Response::new(200, content_type(&file), body))
}
