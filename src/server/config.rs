//! Server settings: endpoints, namespaces, timers and limits.

/// What runs at an endpoint path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// Engine.IO only: the app sends and receives raw messages
    /// ([`Event::EngineMessage`](super::Event::EngineMessage)).
    Engine,
    /// Socket.IO over Engine.IO: namespaces, events, acks, rooms.
    SocketIo,
}

/// A request path the server answers as Engine.IO, and what runs there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint<'a> {
    /// The path, with its trailing slash, matched exactly (`/socket.io/`). Any other path,
    /// including longer ones below it (`/socket.io/socket.io.js`), is a plain HTTP request
    /// for the app.
    pub path: &'a str,
    /// The protocol spoken there.
    pub protocol: Protocol,
}

impl Endpoint<'static> {
    /// Socket.IO at `/socket.io/`.
    pub const SOCKET_IO: Self = Self {
        path: "/socket.io/",
        protocol: Protocol::SocketIo,
    };
    /// Plain Engine.IO at `/engine.io/`.
    pub const ENGINE_IO: Self = Self {
        path: "/engine.io/",
        protocol: Protocol::Engine,
    };
}

/// How Socket.IO packets are written on the wire (Node's `parser` option), for the whole
/// server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Parser {
    /// The default parser: a packet is text (its type, namespace, ack id and a JSON
    /// payload), and each binary argument one more binary message (an attachment, with a
    /// placeholder in the JSON).
    #[default]
    Json,
    /// The msgpack parser (`socket.io-msgpack-parser`): a packet is one `MessagePack`
    /// map in one binary message, binary arguments in place (see
    /// [`sio::msgpack`](crate::sio::msgpack)). Every client of the server must use it.
    MsgPack,
}

/// Which pages may use the Engine.IO paths from another origin (Node's `cors.origin`).
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum AllowOrigin<'a> {
    /// `Access-Control-Allow-Origin: *`, any page (Node: `"*"`). Browsers refuse `*` for
    /// requests with credentials: use [`Reflect`](Self::Reflect) for those.
    Any,
    /// This value always (Node: a string), e.g. `"https://app.example"`.
    Exactly(&'a str),
    /// The request's `Origin` when it is one of these, byte for byte (Node: an array of
    /// strings); other origins get no `Access-Control-Allow-Origin`, so the browser keeps
    /// the response from the page.
    List(&'a [&'a str]),
    /// The request's `Origin`, whatever it is (Node: `true`).
    Reflect,
    /// The request's `Origin` when the function accepts it (Node: a function), e.g.
    /// `&|origin| origin.ends_with(".example.com")`.
    Check(&'a (dyn Fn(&str) -> bool + Sync)),
}

impl PartialEq for AllowOrigin<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Any, Self::Any) | (Self::Reflect, Self::Reflect) => true,
            (Self::Exactly(a), Self::Exactly(b)) => a == b,
            (Self::List(a), Self::List(b)) => a == b,
            (Self::Check(a), Self::Check(b)) => core::ptr::addr_eq(*a, *b),
            _ => false,
        }
    }
}

impl Eq for AllowOrigin<'_> {}

impl core::fmt::Debug for AllowOrigin<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Any => f.write_str("Any"),
            Self::Exactly(o) => f.debug_tuple("Exactly").field(o).finish(),
            Self::List(l) => f.debug_tuple("List").field(l).finish(),
            Self::Reflect => f.write_str("Reflect"),
            Self::Check(_) => f.write_str("Check(..)"),
        }
    }
}

/// The CORS headers of the Engine.IO paths (Node's `cors` option, as the `cors` package
/// answers it). Start from [`Cors::DEFAULT`].
///
/// ```
/// use siocore::server::{AllowOrigin, Cors, ServerConfig};
///
/// let config = ServerConfig {
///     cors: Some(Cors {
///         origin: AllowOrigin::List(&["https://app.example", "http://localhost:8080"]),
///         credentials: true,
///         ..Cors::DEFAULT
///     }),
///     ..ServerConfig::DEFAULT
/// };
/// # let _ = config;
/// ```
///
/// A response gets `Access-Control-Allow-Origin` as [`origin`](Self::origin) says (and
/// `Vary: Origin` unless it is [`AllowOrigin::Any`]), `Access-Control-Allow-Credentials:
/// true` with [`credentials`](Self::credentials); a preflight (`OPTIONS`) also gets
/// `Access-Control-Allow-Methods`, `Access-Control-Allow-Headers` and, when set,
/// `Access-Control-Max-Age`, with `204`. Each value (configured or echoed from the
/// request) is at most [`Cors::MAX_VALUE`] bytes: longer configured ones are refused by
/// [`Server::new`](super::Server::new), a longer request `Origin` is not allowed, and
/// longer requested headers are not echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cors<'a> {
    /// Which origins are allowed.
    pub origin: AllowOrigin<'a>,
    /// `Access-Control-Allow-Credentials: true` (Node: `credentials: true`): pages may send
    /// cookies (`withCredentials`), which sticky sessions behind a load balancer need.
    pub credentials: bool,
    /// `Access-Control-Allow-Methods` of preflights (Node: `methods`).
    pub methods: &'a str,
    /// `Access-Control-Allow-Headers` of preflights (Node: `allowedHeaders`); `None`
    /// echoes the request's `Access-Control-Request-Headers` (Node's default), e.g. the
    /// client's `extraHeaders`.
    pub allowed_headers: Option<&'a str>,
    /// `Access-Control-Max-Age` of preflights in seconds (Node: `maxAge`); 0 sends none.
    pub max_age: u32,
}

impl Cors<'static> {
    /// Any origin (`*`), no credentials, Node's methods
    /// (`GET,HEAD,PUT,PATCH,POST,DELETE`), the requested headers echoed, no max age.
    pub const DEFAULT: Self = Self {
        origin: AllowOrigin::Any,
        credentials: false,
        methods: "GET,HEAD,PUT,PATCH,POST,DELETE",
        allowed_headers: None,
        max_age: 0,
    };
}

impl Cors<'_> {
    /// The longest value a CORS header gets, configured or echoed.
    pub const MAX_VALUE: usize = 128;

    /// Whether every configured value is short enough and valid in a header.
    pub(crate) fn valid(&self) -> bool {
        let ok = |v: &str| {
            v.len() <= Self::MAX_VALUE && v.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7F))
        };
        let origin = match self.origin {
            AllowOrigin::Exactly(o) => ok(o),
            AllowOrigin::List(l) => l.iter().all(|o| ok(o)),
            _ => true,
        };
        origin && ok(self.methods) && self.allowed_headers.is_none_or(ok)
    }
}

/// The server's settings. Start from [`ServerConfig::DEFAULT`] (the Node reference's
/// defaults) and change what you need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConfig<'a> {
    /// Where Engine.IO is answered; the first matching path wins.
    pub endpoints: &'a [Endpoint<'a>],
    /// Namespaces that exist from the start (`/` is not implied: list it).
    pub namespaces: &'a [&'a str],
    /// Whether a CONNECT to a namespace that does not exist is handed to the app, which
    /// may accept it (creating the namespace) or refuse it. When `false` such a CONNECT is
    /// answered with `{"message":"Invalid namespace"}` at once.
    pub dynamic_namespaces: bool,
    /// Accept polling (`transport=polling`).
    pub polling: bool,
    /// Accept WebSocket (`transport=websocket`, direct or as an upgrade).
    pub websocket: bool,
    /// Milliseconds between the server's pings (reference: 25 000).
    pub ping_interval: u32,
    /// Milliseconds the client has to answer a ping (reference: 20 000).
    pub ping_timeout: u32,
    /// Largest POST body or WebSocket message accepted, in bytes (reference: 1 000 000).
    pub max_payload: u32,
    /// Milliseconds an upgrade may take from the WebSocket request to the `5` packet
    /// (reference: 10 000).
    pub upgrade_timeout: u32,
    /// Milliseconds a Socket.IO client has to connect to a namespace after the Engine.IO
    /// handshake (reference: 45 000).
    pub connect_timeout: u32,
    /// Milliseconds a polling session closed by the server waits for the GET that
    /// delivers the close packet (reference: 30 000).
    pub close_timeout: u32,
    /// Most binary attachments in one Socket.IO packet (reference: 10).
    pub max_attachments: u8,
    /// Most namespaces one client may join at once.
    pub max_namespaces_per_session: u8,
    /// Most acknowledgements the server waits for per socket.
    pub max_acks_per_socket: u16,
    /// Most rooms one socket may be in (its own-id room not counted); a
    /// [`join`](super::Server::join) past it fails with
    /// [`CommandError::SocketLimit`](super::CommandError::SocketLimit), so that no client can
    /// take the room tables from the others.
    pub max_rooms_per_socket: u16,
    /// Most bytes queued for one client; a client that reads slower than the app writes
    /// is disconnected ([`CloseReason::SlowReader`](super::CloseReason::SlowReader)) when its
    /// queue would pass this.
    pub max_queued_bytes: u32,
    /// Most bytes of one client's received packets the server holds for the application:
    /// event payloads not polled yet, and a binary packet being assembled. Past it, the
    /// client's next packet waits unconsumed in the driver's buffer (and TCP slows the
    /// client down) until the application polls; so one client cannot fill the event queue
    /// that all share. A packet is always taken when nothing of the client is held, so one
    /// of `max_payload` bytes still passes; the attachments of a binary packet being
    /// assembled are always taken (at most `max_attachments` of `max_payload` bytes).
    pub max_inbound_bytes: u32,
    /// Most events of one client waiting for the application; past it the client's input
    /// waits as for `max_inbound_bytes`. It keeps a client that sends many small packets
    /// (joins, say) to its share of each turn of the driver's loop.
    pub max_inbound_events: u16,
    /// Longest HTTP request head, in bytes (431 past it).
    pub max_http_head: u32,
    /// Longest body of a plain HTTP request handed to the app, in bytes (413 past it).
    pub max_http_body: u32,
    /// Milliseconds a connection has to send a whole request head: from when it opens, and
    /// on a kept-alive connection from when the previous response last moved (handed out by
    /// [`poll_transmit`](super::Server::poll_transmit), or drained by the driver:
    /// [`resume_transmit`](super::Server::resume_transmit)). Past it a connection that sent
    /// part of a head gets `408`, one whose whole request the server had no room for gets
    /// `503`, and both are closed; an idle one is closed. The same time bounds how long a
    /// response may stand still, and how long a closing connection may take to write what
    /// it owes (a peer that stops reading). (Node: `headersTimeout` 60 000 and
    /// `keepAliveTimeout` 5 000.)
    pub headers_timeout: u32,
    /// Milliseconds the body of a request may take to arrive once its head is in (past it,
    /// `408`), and the application may take to answer a request it was handed (past it,
    /// `503`); the connection then closes. (Node: `requestTimeout` 300 000, head included.)
    pub request_timeout: u32,
    /// Cross-origin access to the Engine.IO paths for pages of other origins (Node's `cors`
    /// option; see [`Cors`]): when set, polling responses carry the CORS headers it says,
    /// and `OPTIONS` requests on the Engine.IO paths are answered as preflights. `None`
    /// (the default, as in Node) sends no CORS header: only pages of the server's own
    /// origin can poll it. WebSocket connections are not subject to CORS.
    pub cors: Option<Cors<'a>>,
    /// Connection state recovery (Node's `connectionStateRecovery.maxDisconnectionDuration`):
    /// milliseconds a socket whose transport dropped (a transport close or error, an
    /// Engine.IO close packet, a ping timeout, a session the server closed; not an explicit
    /// disconnect of the socket) is kept for its
    /// client to come back to, with its id, its rooms and the packets it missed. 0 (the default) turns recovery off.
    /// See "Connection state recovery" in the [module docs](super). Needs the crate's
    /// feature `recovery` (which `mio` turns on): without it the field exists, no recovery
    /// code is compiled, and [`Server::new`](super::Server::new) refuses a value other than
    /// 0 with [`ConfigError::RecoveryNotCompiled`](super::ConfigError::RecoveryNotCompiled).
    pub recovery: u32,
    /// With `recovery`, most bytes of the pool the log of emitted packets may hold: the
    /// blocks of its packets (shared with the queues that send them, and kept alive by the
    /// log), a header block each, and their queue entries; the oldest go first. A client
    /// whose missed packets are no longer all in the log gets a new socket.
    pub recovery_log_bytes: u32,
    /// Also serve Engine.IO v3 clients (`EIO=3`: socket.io 2.x and the device libraries
    /// that speak it; Node's `allowEIO3`), beside v4 ones, in the same namespaces, rooms
    /// and broadcasts. Such a client pings and the server answers (it is closed after
    /// `ping_interval + ping_timeout` without a ping); its polling bodies are
    /// length-prefixed; it is joined to `/` as soon as its session opens (an
    /// [`Event::Connect`](super::Event::Connect) for `/` with an empty auth object), and
    /// the query of a namespace it asks for (`/admin?token=abc`) is its auth object
    /// (`{"token":"abc"}`). Its sockets cannot recover ([`recovery`](Self::recovery)).
    /// Needs the crate's feature `eio3` (which `mio` turns on): without it
    /// [`Server::new`](super::Server::new) refuses `true` with
    /// [`ConfigError::Eio3NotCompiled`](super::ConfigError::Eio3NotCompiled).
    pub allow_eio3: bool,
    /// How Socket.IO packets are written (Node's `parser`): [`Parser::Json`] (the
    /// default), or [`Parser::MsgPack`], which every client must then use too. The
    /// application's events and commands are the same with either: arguments are JSON
    /// with placeholders and attachments, which the server turns into `MessagePack` and
    /// back. A binary message of `n` bytes is taken when the pool has room for what its
    /// JSON may need ([`msgpack_room`](Self::msgpack_room)). Needs the crate's feature
    /// `msgpack-parser` (which `mio` turns on): without it [`Server::new`](super::Server::new)
    /// refuses [`Parser::MsgPack`] with
    /// [`ConfigError::MsgPackNotCompiled`](super::ConfigError::MsgPackNotCompiled); it
    /// cannot go with [`allow_eio3`](Self::allow_eio3)
    /// ([`ConfigError::MsgPackWithEio3`](super::ConfigError::MsgPackWithEio3)).
    pub parser: Parser,
    /// Bytes of each session's opening request (its request line and headers) kept for the
    /// application, as Node keeps `socket.handshake` (the headers, the URL and its query,
    /// the time): see [`Server::handshake`](super::Server::handshake). 0 (the default) keeps
    /// none. A longer head is kept up to its last whole line that fits. The bytes are the
    /// pool's, for as long as the session lives.
    pub handshake_head: u32,
}

impl ServerConfig<'static> {
    /// Socket.IO at `/socket.io/` with the namespace `/`, both transports, and the Node
    /// reference's timers and limits.
    pub const DEFAULT: Self = Self {
        endpoints: &[Endpoint::SOCKET_IO],
        namespaces: &["/"],
        dynamic_namespaces: false,
        polling: true,
        websocket: true,
        ping_interval: 25_000,
        ping_timeout: 20_000,
        max_payload: 1_000_000,
        upgrade_timeout: 10_000,
        connect_timeout: 45_000,
        close_timeout: 30_000,
        max_attachments: 10,
        max_namespaces_per_session: 16,
        max_acks_per_socket: 1024,
        max_rooms_per_socket: 256,
        max_queued_bytes: 4_000_000,
        max_inbound_bytes: 1_000_000,
        max_inbound_events: 64,
        max_http_head: 8 * 1024,
        max_http_body: 64 * 1024,
        headers_timeout: 10_000,
        request_timeout: 30_000,
        cors: None,
        recovery: 0,
        recovery_log_bytes: 1_000_000,
        allow_eio3: false,
        handshake_head: 0,
        parser: Parser::Json,
    };
}

impl Default for ServerConfig<'static> {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl ServerConfig<'_> {
    /// The most unconsumed input one stream can need the caller to hold: a whole request
    /// (head and body) or a whole WebSocket message with its framing. A driver whose
    /// receive buffer for a stream is this large never stalls on a full buffer.
    pub fn max_input(&self) -> usize {
        let head = self.max_http_head as usize;
        let body = (self.max_payload.max(self.max_http_body)) as usize;
        let ws = crate::ws::FrameScanner::max_buffered(self.max_payload as usize);
        head.saturating_add(body).max(ws)
    }

    /// The largest event payload [`Server::poll_event`](super::Server::poll_event) can
    /// need room for: a plain HTTP request (head and body), or a Socket.IO event with
    /// `max_attachments` attachments of `max_payload` bytes each (with the msgpack parser,
    /// what one message of `max_payload` bytes makes: [`msgpack_room`](Self::msgpack_room)).
    /// A buffer this large never gets [`BufferTooSmall`](crate::BufferTooSmall).
    pub fn max_event(&self) -> usize {
        let http = (self.max_http_head as usize).saturating_add(self.max_http_body as usize);
        let per = (self.max_payload as usize).saturating_add(4);
        let sio = per.saturating_mul(usize::from(self.max_attachments) + 1);
        if super::MSGPACK && self.parser == Parser::MsgPack {
            return http
                .max(sio)
                .max(self.msgpack_room(self.max_payload as usize));
        }
        http.max(sio)
    }
}
