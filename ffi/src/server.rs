//! The sans-IO server for C: `sio_server_*`.

use core::ffi::c_char;
use std::boxed::Box;
use std::vec::Vec;

use siocore::Instant;
use siocore::http::Header;
use siocore::server::{
    AckId, Args, Capacity, CloseReason, Data, DisconnectReason, Endpoint, Event, Protocol, Server,
    ServerConfig, SessionId, SocketId, Storage, StreamId, Targets,
};

use crate::{
    SIO_BUFFER_TOO_SMALL, SIO_EMPTY, SIO_INVALID_ARGUMENT, SIO_INVALID_JSON, SIO_NULL_ARGUMENT,
    SIO_OK, SIO_PANIC, SIO_UNKNOWN_NAMESPACE, SIO_WRONG_STATE, boundary, bytes, put, sio_bytes,
    sio_result, strings, text, with,
};

/// A stream (one TCP connection) of a server.
pub type sio_stream = u64;
/// An Engine.IO session.
pub type sio_session = u64;
/// A Socket.IO socket (a client in a namespace).
pub type sio_socket = u64;

/// Server settings; fill with `sio_config_default`, then change fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sio_config {
    /// Path answered as Socket.IO (default `"/socket.io/"`); `NULL` for none.
    pub socketio_path: *const c_char,
    /// Path answered as plain Engine.IO (default `NULL`: none), e.g. `"/engine.io/"`.
    pub engineio_path: *const c_char,
    /// Namespaces that exist from the start; `NULL` means just `"/"`.
    pub namespaces: *const *const c_char,
    /// How many `namespaces`.
    pub namespaces_len: usize,
    /// Hand CONNECTs to unknown namespaces to the application instead of refusing them.
    pub dynamic_namespaces: bool,
    /// Accept long-polling.
    pub polling: bool,
    /// Accept WebSocket.
    pub websocket: bool,
    /// Milliseconds between pings (25 000).
    pub ping_interval_ms: u32,
    /// Milliseconds to answer a ping (20 000).
    pub ping_timeout_ms: u32,
    /// Largest POST body or WebSocket message in bytes (1 000 000).
    pub max_payload: u32,
    /// Milliseconds an upgrade may take (10 000).
    pub upgrade_timeout_ms: u32,
    /// Milliseconds a Socket.IO client has to join a namespace (45 000).
    pub connect_timeout_ms: u32,
    /// Milliseconds a closed polling session waits to deliver its close packet (30 000).
    pub close_timeout_ms: u32,
    /// Most binary attachments per packet (10).
    pub max_attachments: u8,
    /// Most namespaces one client may join (16).
    pub max_namespaces_per_session: u8,
    /// Most acks awaited per socket (1024).
    pub max_acks_per_socket: u16,
    /// Most rooms one socket may be in (256); a join past it is `SIO_SOCKET_LIMIT`.
    pub max_rooms_per_socket: u16,
    /// Most bytes queued for one client before it is disconnected as a slow reader.
    pub max_queued_bytes: u32,
    /// Most bytes of one client's received packets held for the application (1 000 000);
    /// past it the client's input waits unconsumed until events are polled.
    pub max_inbound_bytes: u32,
    /// Most events of one client waiting for the application (64); past it, as above.
    pub max_inbound_events: u16,
    /// Longest HTTP request head (8 KiB).
    pub max_http_head: u32,
    /// Longest body of a plain HTTP request (64 KiB).
    pub max_http_body: u32,
    /// Milliseconds a connection has to send a whole request head (10 000): from when it
    /// opens, or after the previous response on a kept-alive one; also what a closing
    /// connection gets to write what it owes. Past it: `408` for a partial head, else the
    /// connection closes.
    pub headers_timeout_ms: u32,
    /// Milliseconds a request body may take once its head is in (30 000); `408` past it.
    pub request_timeout_ms: u32,
    /// `Access-Control-Allow-Origin` for polling responses; `NULL` for none.
    pub cors_origin: *const c_char,
    /// Most sessions at once.
    pub max_sessions: u32,
    /// Most bytes the server's pool may grow to.
    pub max_pool_bytes: u64,
}

/// Fills `out` with the defaults (the Node reference's timers and limits, Socket.IO at
/// `/socket.io/` with the namespace `/`, room for 1024 sessions and a 64 MiB pool).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_config_default(out: *mut sio_config) -> sio_result {
    boundary(SIO_PANIC, || {
        let d = ServerConfig::DEFAULT;
        let config = sio_config {
            socketio_path: c"/socket.io/".as_ptr(),
            engineio_path: core::ptr::null(),
            namespaces: core::ptr::null(),
            namespaces_len: 0,
            dynamic_namespaces: d.dynamic_namespaces,
            polling: d.polling,
            websocket: d.websocket,
            ping_interval_ms: d.ping_interval,
            ping_timeout_ms: d.ping_timeout,
            max_payload: d.max_payload,
            upgrade_timeout_ms: d.upgrade_timeout,
            connect_timeout_ms: d.connect_timeout,
            close_timeout_ms: d.close_timeout,
            max_attachments: d.max_attachments,
            max_namespaces_per_session: d.max_namespaces_per_session,
            max_acks_per_socket: d.max_acks_per_socket,
            max_rooms_per_socket: d.max_rooms_per_socket,
            max_queued_bytes: d.max_queued_bytes,
            max_inbound_bytes: d.max_inbound_bytes,
            max_inbound_events: d.max_inbound_events,
            max_http_head: d.max_http_head,
            max_http_body: d.max_http_body,
            headers_timeout_ms: d.headers_timeout,
            request_timeout_ms: d.request_timeout,
            cors_origin: core::ptr::null(),
            max_sessions: 1024,
            max_pool_bytes: 64 << 20,
        };
        // SAFETY: the caller passes a writable `sio_config` (or NULL, which `put` refuses).
        unsafe { put(out, config) }
    })
}

/// The strings a server's configuration borrows, owned here so they outlive the server.
pub(crate) struct Strings {
    /// Owned only: the `&'static str`s borrow these boxes.
    _texts: Vec<Box<str>>,
    endpoints: Box<[Endpoint<'static>]>,
    namespaces: Box<[&'static str]>,
}

/// Extends a string's lifetime to that of the `Strings` holding its box.
///
/// # Safety
/// The box must stay alive, unmoved in the heap, as long as the result is used; `Owned`
/// drops the server (the only user) before the strings.
unsafe fn forever(s: &str) -> &'static str {
    // SAFETY: see the function's contract.
    unsafe { &*(s as *const str) }
}

/// Turns a C configuration into a server configuration and the storage bounds.
///
/// # Safety
/// The pointers in `c` must be valid as `sio_config` documents.
pub(crate) unsafe fn config(
    c: &sio_config,
) -> Result<(ServerConfig<'static>, Capacity, Box<Strings>), sio_result> {
    let mut texts: Vec<Box<str>> = Vec::new();
    let mut own = |p: *const c_char| -> Result<Option<&'static str>, sio_result> {
        if p.is_null() {
            return Ok(None);
        }
        // SAFETY: a NUL-terminated string, as the contract says.
        let t: Box<str> = unsafe { text(p) }?.into();
        // SAFETY: the box goes into `texts`, which `Strings` keeps as long as the server.
        let s = unsafe { forever(&t) };
        texts.push(t);
        Ok(Some(s))
    };
    let mut endpoints = Vec::new();
    if let Some(path) = own(c.socketio_path)? {
        endpoints.push(Endpoint {
            path,
            protocol: Protocol::SocketIo,
        });
    }
    if let Some(path) = own(c.engineio_path)? {
        endpoints.push(Endpoint {
            path,
            protocol: Protocol::Engine,
        });
    }
    let mut namespaces = Vec::new();
    if c.namespaces.is_null() {
        if c.namespaces_len != 0 {
            return Err(SIO_NULL_ARGUMENT);
        }
        namespaces.push("/");
    } else {
        for i in 0..c.namespaces_len {
            // SAFETY: `namespaces` points to `namespaces_len` string pointers.
            let p = unsafe { *c.namespaces.add(i) };
            namespaces.push(own(p)?.ok_or(SIO_NULL_ARGUMENT)?);
        }
    }
    let cors = own(c.cors_origin)?;
    let strings = Box::new(Strings {
        _texts: texts,
        endpoints: endpoints.into_boxed_slice(),
        namespaces: namespaces.into_boxed_slice(),
    });
    // SAFETY: the slices live in `strings`' boxes, kept alive (and unmoved) as long as the
    // server, like the texts.
    let (endpoints, namespaces) = unsafe {
        (
            &*(&*strings.endpoints as *const [Endpoint<'static>]),
            &*(&*strings.namespaces as *const [&'static str]),
        )
    };
    let config = ServerConfig {
        endpoints,
        namespaces,
        dynamic_namespaces: c.dynamic_namespaces,
        polling: c.polling,
        websocket: c.websocket,
        ping_interval: c.ping_interval_ms,
        ping_timeout: c.ping_timeout_ms,
        max_payload: c.max_payload,
        upgrade_timeout: c.upgrade_timeout_ms,
        connect_timeout: c.connect_timeout_ms,
        close_timeout: c.close_timeout_ms,
        max_attachments: c.max_attachments,
        max_namespaces_per_session: c.max_namespaces_per_session,
        max_acks_per_socket: c.max_acks_per_socket,
        max_rooms_per_socket: c.max_rooms_per_socket,
        max_queued_bytes: c.max_queued_bytes,
        max_inbound_bytes: c.max_inbound_bytes,
        max_inbound_events: c.max_inbound_events,
        max_http_head: c.max_http_head,
        max_http_body: c.max_http_body,
        headers_timeout: c.headers_timeout_ms,
        request_timeout: c.request_timeout_ms,
        cors_origin: cors,
    };
    let pool = usize::try_from(c.max_pool_bytes).unwrap_or(usize::MAX);
    let capacity = Capacity::for_sessions(c.max_sessions as usize, pool);
    Ok((config, capacity, strings))
}

/// A server and the strings its configuration borrows. Field order matters: the server
/// drops first.
struct Owned {
    server: Server<'static>,
    _strings: Box<Strings>,
}

enum Inner {
    Owned(Box<Owned>),
    /// The server of a running `sio_loop`, lent for the length of one callback.
    Lent(*mut Server<'static>),
}

/// A sans-IO server (opaque).
pub struct sio_server {
    inner: Inner,
    /// Payload buffer of the current event.
    events: Vec<u8>,
    /// Attachment views of the current event.
    attachments: Vec<sio_bytes>,
}

impl core::fmt::Debug for sio_server {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("sio_server").finish_non_exhaustive()
    }
}

impl sio_server {
    pub(crate) fn lent(server: &mut Server<'_>) -> Self {
        Self {
            inner: Inner::Lent((server as *mut Server<'_>).cast()),
            events: Vec::new(),
            attachments: Vec::new(),
        }
    }

    fn server(&mut self) -> &mut Server<'static> {
        match &mut self.inner {
            Inner::Owned(o) => &mut o.server,
            // SAFETY: a lent server is only reachable during the callback that lent it,
            // while the loop does not touch it.
            Inner::Lent(p) => unsafe { &mut **p },
        }
    }
}

fn ok(r: Result<(), siocore::server::CommandError>) -> Result<sio_result, sio_result> {
    r.map(|()| SIO_OK).map_err(sio_result::from)
}

/// Creates a server with `config` (NULL: the defaults), its ids seeded from the 32 bytes
/// at `seed` (take them from a real entropy source), its clock starting at `now_ms`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_new(
    config: *const sio_config,
    seed: *const u8,
    now_ms: u64,
    out: *mut *mut sio_server,
) -> sio_result {
    boundary(SIO_PANIC, || {
        if seed.is_null() || out.is_null() {
            return SIO_NULL_ARGUMENT;
        }
        let mut defaults = core::mem::MaybeUninit::<sio_config>::uninit();
        let c = if config.is_null() {
            // SAFETY: writing the defaults into local storage.
            unsafe { sio_config_default(defaults.as_mut_ptr()) };
            // SAFETY: just initialized.
            unsafe { defaults.assume_init() }
        } else {
            // SAFETY: non-NULL, points to a caller's `sio_config`.
            unsafe { *config }
        };
        // SAFETY: `seed` points to 32 readable bytes.
        let key = unsafe { crate::seed(seed) };
        // SAFETY: the configuration's pointers are valid per the contract.
        let (config, capacity, strings) = match unsafe { self::config(&c) } {
            Ok(x) => x,
            Err(e) => return e,
        };
        let Ok(server) = Server::new(
            config,
            Storage::growable(capacity),
            key,
            Instant::from_millis(now_ms),
        ) else {
            return SIO_INVALID_ARGUMENT;
        };
        let events = std::vec![0u8; server.config().max_event()];
        let handle = Box::new(sio_server {
            inner: Inner::Owned(Box::new(Owned {
                server,
                _strings: strings,
            })),
            events,
            attachments: Vec::new(),
        });
        // SAFETY: `out` checked non-NULL; writable per the contract.
        unsafe { out.write(Box::into_raw(handle)) };
        SIO_OK
    })
}

/// Destroys a server made by `sio_server_new` (`NULL` is ignored).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_free(srv: *mut sio_server) {
    boundary((), || {
        // SAFETY: a live handle or NULL, per the contract.
        let Some(handle) = (unsafe { srv.as_ref() }) else {
            return;
        };
        if let Inner::Lent(_) = handle.inner {
            // A lent handle lives on the loop's stack: it is the loop's, never freed here.
            return;
        }
        // SAFETY: an owned handle is made by `sio_server_new` with `Box::into_raw`, freed
        // once.
        drop(unsafe { Box::from_raw(srv) });
    });
}

/// The most unconsumed input one stream can need the caller to keep (a whole request or
/// WebSocket message): size each stream's receive buffer to this and it never stalls.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_max_input(srv: *mut sio_server, out: *mut usize) -> sio_result {
    with(srv, |s| {
        let n = s.server().config().max_input();
        // SAFETY: `out` is a caller's `size_t` or NULL.
        Ok(unsafe { put(out, n) })
    })
}

/// Registers a connection the caller accepted.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_open_stream(
    srv: *mut sio_server,
    now_ms: u64,
    out: *mut sio_stream,
) -> sio_result {
    with(srv, |s| {
        if out.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        let id = s.server().open_stream(Instant::from_millis(now_ms))?;
        // SAFETY: checked non-NULL.
        unsafe { out.write(id.to_bits()) };
        Ok(SIO_OK)
    })
}

/// Offers the bytes received on `stream` and not yet consumed (`len` bytes at `buf`, the
/// earlier leftovers first); writes how many were consumed from the front. Keep the rest
/// and offer it again with more bytes appended. WebSocket payloads are unmasked in place:
/// `buf` may change.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_feed(
    srv: *mut sio_server,
    stream: sio_stream,
    now_ms: u64,
    buf: *mut u8,
    len: usize,
    out_consumed: *mut usize,
) -> sio_result {
    with(srv, |s| {
        if out_consumed.is_null() || (buf.is_null() && len > 0) {
            return Err(SIO_NULL_ARGUMENT);
        }
        let input: &mut [u8] = if len == 0 {
            &mut []
        } else {
            // SAFETY: `buf` points to `len` writable bytes, per the contract.
            unsafe { core::slice::from_raw_parts_mut(buf, len) }
        };
        let n = s.server().feed(
            StreamId::from_bits(stream),
            Instant::from_millis(now_ms),
            input,
        )?;
        // SAFETY: checked non-NULL.
        unsafe { out_consumed.write(n) };
        Ok(SIO_OK)
    })
}

/// The peer finished sending on `stream` (a read returned 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_feed_eof(
    srv: *mut sio_server,
    stream: sio_stream,
    now_ms: u64,
) -> sio_result {
    with(srv, |s| {
        ok(s.server()
            .feed_eof(StreamId::from_bits(stream), Instant::from_millis(now_ms)))
    })
}

/// The connection of `stream` is gone (reset, write error); its id is stale at once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_reset(
    srv: *mut sio_server,
    stream: sio_stream,
    now_ms: u64,
) -> sio_result {
    with(srv, |s| {
        ok(s.server()
            .reset(StreamId::from_bits(stream), Instant::from_millis(now_ms)))
    })
}

/// The socket of `stream` did not take all the bytes of its last transmit: keep the rest,
/// and the server hands out nothing more for this stream until
/// `sio_server_resume_transmit`. What the client is sent meanwhile waits in the server,
/// bounded by `max_queued_bytes`, so a client that does not read holds bounded memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_pause_transmit(
    srv: *mut sio_server,
    stream: sio_stream,
) -> sio_result {
    with(srv, |s| {
        ok(s.server().pause_transmit(StreamId::from_bits(stream)))
    })
}

/// Everything kept for `stream` is written: it may be handed out again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_resume_transmit(
    srv: *mut sio_server,
    stream: sio_stream,
) -> sio_result {
    with(srv, |s| {
        ok(s.server().resume_transmit(StreamId::from_bits(stream)))
    })
}

/// Bytes to write, from `sio_server_poll_transmit`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sio_transmit {
    /// The stream to write to.
    pub stream: sio_stream,
    /// How many bytes at the start of the buffer belong to it (0 when only `close` is news).
    pub len: usize,
    /// Close the stream after these bytes; its id is stale from now on.
    pub close: bool,
}

/// Writes the next bytes to send into `buf` (`cap` bytes): `SIO_OK` with `out` filled, or
/// `SIO_EMPTY` when nothing is to be written or closed. Call until `SIO_EMPTY`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_poll_transmit(
    srv: *mut sio_server,
    buf: *mut u8,
    cap: usize,
    out: *mut sio_transmit,
) -> sio_result {
    with(srv, |s| {
        if out.is_null() || buf.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        // SAFETY: `buf` points to `cap` writable bytes.
        let buf = unsafe { core::slice::from_raw_parts_mut(buf, cap) };
        let Some(t) = s.server().poll_transmit(buf) else {
            return Ok(SIO_EMPTY);
        };
        let t = sio_transmit {
            stream: t.stream.to_bits(),
            len: t.len,
            close: t.close,
        };
        // SAFETY: checked non-NULL.
        unsafe { out.write(t) };
        Ok(SIO_OK)
    })
}

/// The kinds of events.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sio_event_kind {
    /// A plain HTTP request: answer it with `sio_server_respond`.
    SIO_EVENT_HTTP = 1,
    /// A plain Engine.IO session opened.
    SIO_EVENT_ENGINE_OPEN = 2,
    /// A plain Engine.IO message (`data`, `binary`).
    SIO_EVENT_ENGINE_MESSAGE = 3,
    /// A plain Engine.IO session ended (`reason`).
    SIO_EVENT_ENGINE_CLOSE = 4,
    /// A client asks to join namespace `name` (`data`: its auth JSON): answer with
    /// `sio_server_accept` or `sio_server_refuse`.
    SIO_EVENT_CONNECT = 5,
    /// An event `name` with arguments `data`; `has_ack` when the client waits for
    /// `sio_server_ack`.
    SIO_EVENT_MESSAGE = 6,
    /// A client answered `sio_server_emit_with_ack` (`ack_id`, `data`).
    SIO_EVENT_ACK = 7,
    /// An ack did not come in time (`ack_id`).
    SIO_EVENT_ACK_TIMEOUT = 8,
    /// A socket left its namespace (`reason`).
    SIO_EVENT_DISCONNECT = 9,
}

pub use sio_event_kind::*;

/// Why a session or socket ended.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sio_reason {
    /// Not an ending event.
    SIO_REASON_NONE = 0,
    /// The connection ended (EOF, reset, close frame, abandoned long-poll).
    SIO_REASON_TRANSPORT_CLOSE = 1,
    /// The client broke the transport's rules.
    SIO_REASON_TRANSPORT_ERROR = 2,
    /// No pong in time.
    SIO_REASON_PING_TIMEOUT = 3,
    /// An invalid packet.
    SIO_REASON_PARSE_ERROR = 4,
    /// The client closed the session.
    SIO_REASON_CLIENT_CLOSE = 5,
    /// The application closed it.
    SIO_REASON_SERVER_CLOSE = 6,
    /// An upgrade started and never finished.
    SIO_REASON_UPGRADE_ABANDONED = 7,
    /// No namespace joined in time.
    SIO_REASON_CONNECT_TIMEOUT = 8,
    /// The client read too slowly.
    SIO_REASON_SLOW_READER = 9,
    /// The client left the namespace.
    SIO_REASON_CLIENT_DISCONNECT = 100,
    /// The application disconnected the socket.
    SIO_REASON_SERVER_DISCONNECT = 101,
}

pub use sio_reason::*;

fn close_reason(r: CloseReason) -> sio_reason {
    match r {
        CloseReason::TransportClose => SIO_REASON_TRANSPORT_CLOSE,
        CloseReason::TransportError => SIO_REASON_TRANSPORT_ERROR,
        CloseReason::PingTimeout => SIO_REASON_PING_TIMEOUT,
        CloseReason::ParseError => SIO_REASON_PARSE_ERROR,
        CloseReason::ClientClose => SIO_REASON_CLIENT_CLOSE,
        CloseReason::ServerClose => SIO_REASON_SERVER_CLOSE,
        CloseReason::UpgradeAbandoned => SIO_REASON_UPGRADE_ABANDONED,
        CloseReason::ConnectTimeout => SIO_REASON_CONNECT_TIMEOUT,
        _ => SIO_REASON_SLOW_READER,
    }
}

/// An event for the application. Its byte views are valid until the next call on the
/// server handle.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sio_event {
    /// What happened.
    pub kind: sio_event_kind,
    /// The stream (`SIO_EVENT_HTTP`).
    pub stream: sio_stream,
    /// The session (Engine.IO events, `SIO_EVENT_CONNECT`).
    pub session: sio_session,
    /// The socket (Socket.IO events).
    pub socket: sio_socket,
    /// The namespace index, `-1` when none (a dynamic namespace not accepted yet).
    pub namespace_index: i32,
    /// The event name; the namespace name for `SIO_EVENT_CONNECT`; the method for HTTP.
    pub name: sio_bytes,
    /// Arguments (raw JSON, comma separated), auth JSON, an Engine.IO message, or an HTTP
    /// body.
    pub data: sio_bytes,
    /// `SIO_EVENT_ENGINE_MESSAGE`: the message is binary.
    pub binary: bool,
    /// Binary attachments of an event or ack, in `num` order.
    pub attachments: *const sio_bytes,
    /// How many.
    pub attachments_len: usize,
    /// The client waits for an ack (`SIO_EVENT_MESSAGE`).
    pub has_ack: bool,
    /// The ack id (`SIO_EVENT_MESSAGE` with `has_ack`, `SIO_EVENT_ACK`,
    /// `SIO_EVENT_ACK_TIMEOUT`).
    pub ack_id: u64,
    /// Why (`SIO_EVENT_ENGINE_CLOSE`, `SIO_EVENT_DISCONNECT`).
    pub reason: sio_reason,
    /// HTTP: the request target (`/path?query`).
    pub http_target: sio_bytes,
    /// HTTP: the path.
    pub http_path: sio_bytes,
    /// HTTP: the query string without `?`.
    pub http_query: sio_bytes,
    /// HTTP: the raw head (request line to blank line), for `sio_event_header`.
    pub http_head: sio_bytes,
}

impl sio_event {
    fn blank(kind: sio_event_kind) -> Self {
        Self {
            kind,
            stream: 0,
            session: 0,
            socket: 0,
            namespace_index: -1,
            name: sio_bytes::EMPTY,
            data: sio_bytes::EMPTY,
            binary: false,
            attachments: core::ptr::null(),
            attachments_len: 0,
            has_ack: false,
            ack_id: 0,
            reason: SIO_REASON_NONE,
            http_target: sio_bytes::EMPTY,
            http_path: sio_bytes::EMPTY,
            http_query: sio_bytes::EMPTY,
            http_head: sio_bytes::EMPTY,
        }
    }
}

/// Turns an event into its C form; attachment views go into `views`.
pub(crate) fn c_event(e: &Event<'_>, views: &mut Vec<sio_bytes>) -> sio_event {
    views.clear();
    let mut att = |a: siocore::server::Attachments<'_>| {
        views.extend(a.iter().map(sio_bytes::of));
    };
    let mut out = match *e {
        Event::Http(r) => {
            let mut ev = sio_event::blank(SIO_EVENT_HTTP);
            ev.stream = r.stream.to_bits();
            ev.name = sio_bytes::of(r.method().as_str().as_bytes());
            ev.data = sio_bytes::of(r.body());
            ev.http_target = sio_bytes::of(r.target().as_bytes());
            ev.http_path = sio_bytes::of(r.path().as_bytes());
            ev.http_query = sio_bytes::of(r.query().as_bytes());
            ev.http_head = sio_bytes::of(r.head());
            ev
        }
        Event::EngineOpen { session } => {
            let mut ev = sio_event::blank(SIO_EVENT_ENGINE_OPEN);
            ev.session = session.to_bits();
            ev
        }
        Event::EngineMessage { session, data } => {
            let mut ev = sio_event::blank(SIO_EVENT_ENGINE_MESSAGE);
            ev.session = session.to_bits();
            let (bytes, binary) = match data {
                Data::Text(t) => (t.as_bytes(), false),
                Data::Binary(b) => (b, true),
            };
            ev.data = sio_bytes::of(bytes);
            ev.binary = binary;
            ev
        }
        Event::EngineClose { session, reason } => {
            let mut ev = sio_event::blank(SIO_EVENT_ENGINE_CLOSE);
            ev.session = session.to_bits();
            ev.reason = close_reason(reason);
            ev
        }
        Event::Connect(c) => {
            let mut ev = sio_event::blank(SIO_EVENT_CONNECT);
            ev.socket = c.socket.to_bits();
            ev.session = c.session.to_bits();
            ev.namespace_index = c.namespace.map_or(-1, |n| n.index() as i32);
            ev.name = sio_bytes::of(c.name.as_bytes());
            ev.data = sio_bytes::of(c.auth);
            ev
        }
        Event::Message(m) => {
            let mut ev = sio_event::blank(SIO_EVENT_MESSAGE);
            ev.socket = m.socket.to_bits();
            ev.namespace_index = m.namespace.index() as i32;
            ev.name = sio_bytes::of(m.name.as_bytes());
            ev.data = sio_bytes::of(m.args);
            ev.has_ack = m.ack.is_some();
            ev.ack_id = m.ack.map_or(0, |a| a.0);
            att(m.attachments);
            ev
        }
        Event::Ack(a) => {
            let mut ev = sio_event::blank(SIO_EVENT_ACK);
            ev.socket = a.socket.to_bits();
            ev.ack_id = a.id.0;
            ev.data = sio_bytes::of(a.args);
            att(a.attachments);
            ev
        }
        Event::AckTimeout { socket, id } => {
            let mut ev = sio_event::blank(SIO_EVENT_ACK_TIMEOUT);
            ev.socket = socket.to_bits();
            ev.ack_id = id.0;
            ev
        }
        Event::Disconnect {
            socket,
            namespace,
            reason,
        } => {
            let mut ev = sio_event::blank(SIO_EVENT_DISCONNECT);
            ev.socket = socket.to_bits();
            ev.namespace_index = namespace.map_or(-1, |n| n.index() as i32);
            ev.reason = match reason {
                DisconnectReason::Session(r) => close_reason(r),
                DisconnectReason::ClientDisconnect => SIO_REASON_CLIENT_DISCONNECT,
                _ => SIO_REASON_SERVER_DISCONNECT,
            };
            ev
        }
        _ => sio_event::blank(SIO_EVENT_DISCONNECT),
    };
    if !views.is_empty() {
        out.attachments = views.as_ptr();
        out.attachments_len = views.len();
    }
    out
}

/// The next event: `SIO_OK` with `out` filled (its views valid until the next call on
/// `srv`), or `SIO_EMPTY`. Call until `SIO_EMPTY` after draining the transmits.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_poll_event(
    srv: *mut sio_server,
    out: *mut sio_event,
) -> sio_result {
    with(srv, |s| {
        if out.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        if let Inner::Lent(_) = s.inner {
            // Inside a loop callback: the loop polls the events.
            return Err(SIO_WRONG_STATE);
        }
        let sio_server {
            inner,
            events,
            attachments,
        } = s;
        let Inner::Owned(owned) = inner else {
            return Err(SIO_WRONG_STATE);
        };
        let event = match owned.server.poll_event(events) {
            Ok(Some(e)) => e,
            Ok(None) => return Ok(SIO_EMPTY),
            // Cannot happen: the buffer has `max_event` bytes.
            Err(_) => return Err(SIO_BUFFER_TOO_SMALL),
        };
        let ev = c_event(&event, attachments);
        // SAFETY: checked non-NULL.
        unsafe { out.write(ev) };
        Ok(SIO_OK)
    })
}

/// The first header of an HTTP event named `name` (any case): `SIO_OK` with `out` set (a
/// view into the event), `SIO_EMPTY` when there is none.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_event_header(
    event: *const sio_event,
    name: *const c_char,
    out: *mut sio_bytes,
) -> sio_result {
    boundary(SIO_PANIC, || {
        // SAFETY: a live event or NULL.
        let Some(ev) = (unsafe { event.as_ref() }) else {
            return SIO_NULL_ARGUMENT;
        };
        // SAFETY: NUL-terminated or NULL.
        let name = match unsafe { text(name) } {
            Ok(n) => n,
            Err(e) => return e,
        };
        if out.is_null() {
            return SIO_NULL_ARGUMENT;
        }
        // SAFETY: the event's head view is valid until the next call on its server.
        let Some(head) = (unsafe { bytes(ev.http_head.ptr, ev.http_head.len) }) else {
            return SIO_NULL_ARGUMENT;
        };
        for line in head.split(|&b| b == b'\n').skip(1) {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let (n, v) = line.split_at(colon);
            if n.eq_ignore_ascii_case(name.as_bytes()) {
                let v = &v[1..];
                let ows = |b: &u8| *b == b' ' || *b == b'\t';
                let start = v.iter().position(|b| !ows(b)).unwrap_or(v.len());
                let end = v.iter().rposition(|b| !ows(b)).map_or(start, |i| i + 1);
                // SAFETY: checked non-NULL.
                unsafe { out.write(sio_bytes::of(&v[start..end])) };
                return SIO_OK;
            }
        }
        SIO_EMPTY
    })
}

/// When `sio_server_handle_timeout` should next run, in the caller's milliseconds:
/// `SIO_OK` with `out_ms` set, or `SIO_EMPTY` when no timer runs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_poll_timeout(
    srv: *mut sio_server,
    out_ms: *mut u64,
) -> sio_result {
    with(srv, |s| {
        if out_ms.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        match s.server().poll_timeout() {
            // SAFETY: checked non-NULL.
            Some(t) => Ok(unsafe { put(out_ms, t.as_millis()) }),
            None => Ok(SIO_EMPTY),
        }
    })
}

/// Runs the timers due at `now_ms` (safe to call early).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_handle_timeout(
    srv: *mut sio_server,
    now_ms: u64,
) -> sio_result {
    with(srv, |s| {
        s.server().handle_timeout(Instant::from_millis(now_ms));
        Ok(SIO_OK)
    })
}

/// An HTTP response header.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sio_header {
    /// The name, NUL-terminated.
    pub name: *const c_char,
    /// The value.
    pub value: sio_bytes,
}

/// Answers an `SIO_EVENT_HTTP` request on `stream`: `status`, `headers` (`headers_len` of
/// them; `Content-Length` and `Connection` are added) and the body.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_respond(
    srv: *mut sio_server,
    stream: sio_stream,
    status: u16,
    headers: *const sio_header,
    headers_len: usize,
    body: *const u8,
    body_len: usize,
) -> sio_result {
    with(srv, |s| {
        let mut list = Vec::with_capacity(headers_len);
        if headers_len > 0 {
            if headers.is_null() {
                return Err(SIO_NULL_ARGUMENT);
            }
            for i in 0..headers_len {
                // SAFETY: `headers` points to `headers_len` entries.
                let h = unsafe { *headers.add(i) };
                // SAFETY: NUL-terminated name, per the contract.
                let name = unsafe { text(h.name) }?;
                // SAFETY: a byte range per the contract.
                let value = unsafe { bytes(h.value.ptr, h.value.len) }.ok_or(SIO_NULL_ARGUMENT)?;
                list.push(Header { name, value });
            }
        }
        // SAFETY: a byte range per the contract.
        let body = unsafe { bytes(body, body_len) }.ok_or(SIO_NULL_ARGUMENT)?;
        ok(s.server()
            .respond(StreamId::from_bits(stream), status, &list, body))
    })
}

/// Sends a message on a plain Engine.IO session; `binary` picks the kind.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_send(
    srv: *mut sio_server,
    session: sio_session,
    data: *const u8,
    len: usize,
    binary: bool,
) -> sio_result {
    with(srv, |s| {
        // SAFETY: a byte range per the contract.
        let data = unsafe { bytes(data, len) }.ok_or(SIO_NULL_ARGUMENT)?;
        let data = if binary {
            Data::Binary(data)
        } else {
            Data::Text(core::str::from_utf8(data).map_err(|_| SIO_INVALID_ARGUMENT)?)
        };
        ok(s.server().send(SessionId::from_bits(session), data))
    })
}

/// Closes a session gracefully (close packet after what is queued).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_close(
    srv: *mut sio_server,
    session: sio_session,
) -> sio_result {
    with(srv, |s| ok(s.server().close(SessionId::from_bits(session))))
}

/// Accepts a pending socket (`SIO_EVENT_CONNECT`); writes its namespace index when
/// `out_namespace` is not `NULL`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_accept(
    srv: *mut sio_server,
    socket: sio_socket,
    out_namespace: *mut u32,
) -> sio_result {
    with(srv, |s| {
        let ns = s.server().accept(SocketId::from_bits(socket))?;
        if !out_namespace.is_null() {
            // SAFETY: checked non-NULL.
            unsafe { out_namespace.write(ns.index() as u32) };
        }
        Ok(SIO_OK)
    })
}

/// Refuses a pending socket with `message` and optional raw JSON `data` (`NULL`: none).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_refuse(
    srv: *mut sio_server,
    socket: sio_socket,
    message: *const c_char,
    data: *const u8,
    data_len: usize,
) -> sio_result {
    with(srv, |s| {
        // SAFETY: NUL-terminated per the contract.
        let message = unsafe { text(message) }?;
        let data = if data.is_null() {
            None
        } else {
            // SAFETY: a byte range per the contract.
            Some(unsafe { bytes(data, data_len) }.ok_or(SIO_NULL_ARGUMENT)?)
        };
        ok(s.server()
            .refuse(SocketId::from_bits(socket), message, data))
    })
}

/// Arguments of an emit or ack: raw JSON, comma separated (`1,"two"`), and the blobs its
/// `{"_placeholder":true,"num":k}` objects stand for.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sio_args {
    /// The argument list (may be empty).
    pub json: *const u8,
    /// Its length.
    pub json_len: usize,
    /// The blobs, in `num` order.
    pub binary: *const sio_bytes,
    /// How many (at most 32).
    pub binary_len: usize,
}

/// Calls `f` with the arguments `args` points to (`NULL`: none).
///
/// # Safety
/// `args` must be `NULL` or a valid `sio_args` whose ranges are readable.
pub(crate) unsafe fn with_args<R>(
    args: *const sio_args,
    f: impl FnOnce(Args<'_>) -> Result<R, sio_result>,
) -> Result<R, sio_result> {
    // SAFETY: NULL or a caller's `sio_args`.
    let Some(a) = (unsafe { args.as_ref() }) else {
        return f(Args::NONE);
    };
    // SAFETY: a byte range per the contract.
    let json = unsafe { bytes(a.json, a.json_len) }.ok_or(SIO_NULL_ARGUMENT)?;
    let mut blobs: Vec<&[u8]> = Vec::with_capacity(a.binary_len);
    if a.binary_len > 0 {
        if a.binary.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        for i in 0..a.binary_len {
            // SAFETY: `binary` points to `binary_len` views.
            let v = unsafe { *a.binary.add(i) };
            // SAFETY: each view is a byte range per the contract.
            blobs.push(unsafe { bytes(v.ptr, v.len) }.ok_or(SIO_NULL_ARGUMENT)?);
        }
    }
    f(Args::binary(json, &blobs))
}

/// Emits `event` with `args` (`NULL`: none) to one socket.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_emit(
    srv: *mut sio_server,
    socket: sio_socket,
    event: *const c_char,
    args: *const sio_args,
) -> sio_result {
    with(srv, |s| {
        // SAFETY: NUL-terminated per the contract.
        let event = unsafe { text(event) }?;
        // SAFETY: `args` per the contract.
        unsafe {
            with_args(args, |a| {
                ok(s.server().emit(SocketId::from_bits(socket), event, a))
            })
        }
    })
}

/// Emits `event` asking for an ack: its answer comes as `SIO_EVENT_ACK` with the id written
/// to `out_ack_id`, or `SIO_EVENT_ACK_TIMEOUT` after `timeout_ms` (0: no timeout).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_emit_with_ack(
    srv: *mut sio_server,
    socket: sio_socket,
    event: *const c_char,
    args: *const sio_args,
    timeout_ms: u32,
    out_ack_id: *mut u64,
) -> sio_result {
    with(srv, |s| {
        if out_ack_id.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        // SAFETY: NUL-terminated per the contract.
        let event = unsafe { text(event) }?;
        let timeout = (timeout_ms > 0).then_some(timeout_ms);
        // SAFETY: `args` per the contract.
        let id = unsafe {
            with_args(args, |a| {
                s.server()
                    .emit_with_ack(SocketId::from_bits(socket), event, a, timeout)
                    .map_err(sio_result::from)
            })
        }?;
        // SAFETY: checked non-NULL.
        unsafe { out_ack_id.write(id.0) };
        Ok(SIO_OK)
    })
}

/// Answers the ack request `ack_id` of an `SIO_EVENT_MESSAGE`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_ack(
    srv: *mut sio_server,
    socket: sio_socket,
    ack_id: u64,
    args: *const sio_args,
) -> sio_result {
    with(srv, |s| {
        // SAFETY: `args` per the contract.
        unsafe {
            with_args(args, |a| {
                ok(s.server()
                    .ack(SocketId::from_bits(socket), AckId(ack_id), a))
            })
        }
    })
}

/// Puts a socket in `room`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_join(
    srv: *mut sio_server,
    socket: sio_socket,
    room: *const c_char,
) -> sio_result {
    with(srv, |s| {
        // SAFETY: NUL-terminated per the contract.
        let room = unsafe { text(room) }?;
        ok(s.server().join(SocketId::from_bits(socket), room))
    })
}

/// Takes a socket out of `room`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_leave(
    srv: *mut sio_server,
    socket: sio_socket,
    room: *const c_char,
) -> sio_result {
    with(srv, |s| {
        // SAFETY: NUL-terminated per the contract.
        let room = unsafe { text(room) }?;
        ok(s.server().leave(SocketId::from_bits(socket), room))
    })
}

/// Who a broadcast reaches: the members of `rooms` (none: the whole namespace), minus the
/// members of `except_rooms` and the sockets in `except`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sio_targets {
    /// Room names, NUL-terminated.
    pub rooms: *const *const c_char,
    /// How many.
    pub rooms_len: usize,
    /// Rooms left out.
    pub except_rooms: *const *const c_char,
    /// How many.
    pub except_rooms_len: usize,
    /// Sockets left out.
    pub except: *const sio_socket,
    /// How many.
    pub except_len: usize,
}

/// Emits `event` to the sockets of namespace `namespace` that `targets` selects (`NULL`:
/// all); writes how many got it to `out_sent` when not `NULL`. Encoded once for all.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_broadcast(
    srv: *mut sio_server,
    namespace: *const c_char,
    targets: *const sio_targets,
    event: *const c_char,
    args: *const sio_args,
    out_sent: *mut usize,
) -> sio_result {
    with(srv, |s| {
        // SAFETY: NUL-terminated per the contract.
        let namespace = unsafe { text(namespace) }?;
        // SAFETY: NUL-terminated per the contract.
        let event = unsafe { text(event) }?;
        let ns = s
            .server()
            .namespace(namespace)
            .ok_or(SIO_UNKNOWN_NAMESPACE)?;
        // SAFETY: NULL or a caller's `sio_targets`.
        let (rooms, except_rooms, except) = match unsafe { targets.as_ref() } {
            None => (Vec::new(), Vec::new(), Vec::new()),
            Some(t) => {
                // SAFETY: the arrays per the contract.
                let rooms = unsafe { strings(t.rooms, t.rooms_len) }?;
                // SAFETY: the arrays per the contract.
                let except_rooms = unsafe { strings(t.except_rooms, t.except_rooms_len) }?;
                let except: Vec<SocketId> = if t.except_len == 0 {
                    Vec::new()
                } else if t.except.is_null() {
                    return Err(SIO_NULL_ARGUMENT);
                } else {
                    // SAFETY: `except_len` ids at `except`.
                    unsafe { core::slice::from_raw_parts(t.except, t.except_len) }
                        .iter()
                        .map(|&b| SocketId::from_bits(b))
                        .collect()
                };
                (rooms, except_rooms, except)
            }
        };
        let to = Targets {
            rooms: &rooms,
            except_rooms: &except_rooms,
            except: &except,
        };
        // SAFETY: `args` per the contract.
        let sent = unsafe {
            with_args(args, |a| {
                s.server()
                    .broadcast(ns, &to, event, a)
                    .map_err(sio_result::from)
            })
        }?;
        if !out_sent.is_null() {
            // SAFETY: checked non-NULL.
            unsafe { out_sent.write(sent) };
        }
        Ok(SIO_OK)
    })
}

/// Disconnects a socket from its namespace (the client gets DISCONNECT).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_disconnect(
    srv: *mut sio_server,
    socket: sio_socket,
) -> sio_result {
    with(srv, |s| {
        ok(s.server().disconnect(SocketId::from_bits(socket)))
    })
}

/// Writes a socket's id as the client knows it (20 characters and a NUL) into `out`, which
/// must have room for 21 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_socket_id(
    srv: *mut sio_server,
    socket: sio_socket,
    out: *mut c_char,
) -> sio_result {
    with(srv, |s| {
        if out.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        let id = s
            .server()
            .socket_sid(SocketId::from_bits(socket))
            .ok_or(crate::SIO_UNKNOWN_SOCKET)?;
        let text = id.as_str().as_bytes();
        // SAFETY: `out` has room for 21 bytes, per the contract.
        unsafe {
            core::ptr::copy_nonoverlapping(text.as_ptr(), out.cast::<u8>(), text.len());
            out.add(text.len()).write(0);
        }
        Ok(SIO_OK)
    })
}

/// Writes the name of namespace `index` (NUL-terminated) into `buf` (`cap` bytes): `SIO_OK`,
/// or `SIO_BUFFER_TOO_SMALL` with the size needed in `out_len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_namespace_name(
    srv: *mut sio_server,
    index: u32,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> sio_result {
    with(srv, |s| {
        if out_len.is_null() || (buf.is_null() && cap > 0) {
            return Err(SIO_NULL_ARGUMENT);
        }
        let server = s.server();
        let ns = server
            .namespace_by_index(index as usize)
            .ok_or(SIO_UNKNOWN_NAMESPACE)?;
        let name = server.namespace_name(ns).ok_or(SIO_UNKNOWN_NAMESPACE)?;
        let need = name.len() + 1;
        // SAFETY: checked non-NULL.
        unsafe { out_len.write(need) };
        if need > cap {
            return Ok(SIO_BUFFER_TOO_SMALL);
        }
        // SAFETY: `buf` has `cap >= need` writable bytes.
        unsafe {
            core::ptr::copy_nonoverlapping(name.as_ptr(), buf.cast::<u8>(), name.len());
            buf.add(name.len()).write(0);
        }
        Ok(SIO_OK)
    })
}

/// Splits a received argument list (`data` of an event) after its first value: `first` is
/// that value, `rest` the list after it (its placeholders keep their numbers, so it can be
/// sent on with the same attachments). `SIO_EMPTY` when the list is empty.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_args_split_first(
    args: *const u8,
    len: usize,
    first: *mut sio_bytes,
    rest: *mut sio_bytes,
) -> sio_result {
    boundary(SIO_PANIC, || {
        if first.is_null() || rest.is_null() {
            return SIO_NULL_ARGUMENT;
        }
        // SAFETY: a byte range per the contract.
        let Some(list) = (unsafe { bytes(args, len) }) else {
            return SIO_NULL_ARGUMENT;
        };
        if siocore::json::Limits::DEFAULT.validate_list(list).is_err() {
            return SIO_INVALID_JSON;
        }
        let mut elements = siocore::json::elements(list);
        let Some(head) = elements.next() else {
            return SIO_EMPTY;
        };
        let tail = match elements.next() {
            Some(second) => &list[second.as_ptr() as usize - list.as_ptr() as usize..],
            None => &[][..],
        };
        // SAFETY: both checked non-NULL.
        unsafe {
            first.write(sio_bytes::of(head));
            rest.write(sio_bytes::of(tail));
        }
        SIO_OK
    })
}

/// Decodes a JSON string value (`"lobby"`, escapes allowed) into `buf` (`cap` bytes) as
/// NUL-terminated UTF-8: `SIO_OK` with its length (without the NUL) in `out_len`,
/// `SIO_BUFFER_TOO_SMALL` with the size needed, `SIO_INVALID_JSON` when it is not a string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_json_string(
    value: *const u8,
    len: usize,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> sio_result {
    boundary(SIO_PANIC, || {
        if out_len.is_null() || (buf.is_null() && cap > 0) {
            return SIO_NULL_ARGUMENT;
        }
        // SAFETY: a byte range per the contract.
        let Some(token) = (unsafe { bytes(value, len) }) else {
            return SIO_NULL_ARGUMENT;
        };
        let trimmed = token.trim_ascii();
        let Ok(s) = siocore::json::JsonStr::parse(trimmed) else {
            return SIO_INVALID_JSON;
        };
        let n = s.unescaped_len();
        if n + 1 > cap {
            // SAFETY: checked non-NULL.
            unsafe { out_len.write(n + 1) };
            return SIO_BUFFER_TOO_SMALL;
        }
        // SAFETY: `buf` has `cap > n` writable bytes.
        let out = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), cap) };
        let Ok(written) = s.unescape_into(out) else {
            return SIO_BUFFER_TOO_SMALL;
        };
        out[written] = 0;
        // SAFETY: checked non-NULL.
        unsafe { out_len.write(written) };
        SIO_OK
    })
}
