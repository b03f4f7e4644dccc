//! The sans-IO server for C: `sio_server_*`.

use core::ffi::{c_char, c_void};
#[cfg(feature = "std")]
use std::boxed::Box;
#[cfg(feature = "std")]
use std::vec::Vec;

use siocore::Instant;
use siocore::adapter::{Cluster, Flags, Recipients};
use siocore::http::{EMPTY_HEADER, Header};
use siocore::server::{
    AckId, AllowOrigin, Args, Capacity, CloseReason, ConfigError, Cors, Data, DisconnectReason,
    Endpoint, Event, Parser, Protocol, Server, ServerConfig, SessionId, SocketId, Storage,
    StreamId, Targets, WireId,
};
use siocore::sio::{Attachments, MAX_EMIT_ATTACHMENTS};

use crate::cluster::{Joined, SIO_REQUEST_LEN};
use crate::memory::{Buf, Carve};
use crate::{
    SIO_ATTACHMENT_MISMATCH, SIO_BUFFER_TOO_SMALL, SIO_EMPTY, SIO_INVALID_ARGUMENT,
    SIO_INVALID_JSON, SIO_NULL_ARGUMENT, SIO_OK, SIO_PANIC, SIO_UNKNOWN_NAMESPACE, SIO_UNSUPPORTED,
    boundary, bytes, put, sio_bytes, sio_result, strings, text, with, with_ref,
};

/// A stream (one TCP connection) of a server.
pub type sio_stream = u64;
/// An Engine.IO session.
pub type sio_session = u64;
/// A Socket.IO socket (a client in a namespace).
pub type sio_socket = u64;

/// Server settings; fill with `sio_server_config_default`, then change fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sio_server_config {
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
    /// opens, or after the previous response last moved on a kept-alive one; also how long
    /// a response may stand still and what a closing connection gets to write what it owes.
    /// Past it: `408` for a partial head, `503` for a whole one the server had no room for,
    /// else the connection closes.
    pub headers_timeout_ms: u32,
    /// Milliseconds a request body may take once its head is in (30 000; `408` past it),
    /// and the application to answer a request it was handed (`503` past it).
    pub request_timeout_ms: u32,
    /// CORS for the Engine.IO paths (Node's `cors` option): which pages of other origins
    /// may poll the server. At most one of `cors_origin`, `cors_origins`, `cors_reflect` and
    /// `cors_check` is set (`SIO_INVALID_ARGUMENT` otherwise); with none (the default) no
    /// CORS header is sent and the other `cors_` fields are not used. This one: this value
    /// always (`"*"`: any page).
    pub cors_origin: *const c_char,
    /// The request's `Origin` when it is one of these `cors_origins_len` strings.
    pub cors_origins: *const *const c_char,
    /// How many strings `cors_origins` points to.
    pub cors_origins_len: usize,
    /// The request's `Origin`, whatever it is (Node: `origin: true`).
    pub cors_reflect: bool,
    /// The request's `Origin` when this returns true for it (`origin` is not
    /// NUL-terminated: `len` bytes), called with `cors_check_user` from within the call
    /// that handles the request.
    pub cors_check:
        Option<unsafe extern "C" fn(user: *mut c_void, origin: *const c_char, len: usize) -> bool>,
    /// Passed to `cors_check`.
    pub cors_check_user: *mut c_void,
    /// `Access-Control-Allow-Credentials: true` (false): pages may send cookies.
    pub cors_credentials: bool,
    /// `Access-Control-Allow-Methods` of preflights; `NULL`: Node's
    /// `GET,HEAD,PUT,PATCH,POST,DELETE`.
    pub cors_methods: *const c_char,
    /// `Access-Control-Allow-Headers` of preflights; `NULL`: the request's
    /// `Access-Control-Request-Headers` echoed.
    pub cors_allowed_headers: *const c_char,
    /// `Access-Control-Max-Age` of preflights in seconds; 0 (the default) sends none.
    pub cors_max_age: u32,
    /// Most sessions at once. In `sio_server_loop_new`, 0 takes as many as the process may
    /// open descriptors for (the soft `RLIMIT_NOFILE` less 64, at most 1 048 576), which is
    /// what a NULL configuration gets there; the other constructors take the number as it is.
    pub max_sessions: u32,
    /// Most bytes the server's pool may grow to.
    pub max_pool_bytes: u64,
    /// Connection state recovery (Node's `connectionStateRecovery`): milliseconds a socket
    /// whose transport was lost (closed, failed, ping timeout, or closed by the server) is
    /// kept for its client to come back into, with its id, rooms and the packets it missed;
    /// 0 (the default) turns it off. `SIO_UNSUPPORTED` from the constructors when the
    /// library was built without recovery.
    pub recovery_ms: u32,
    /// Most bytes the recovery log holds of the pool: the packets sent to sockets, kept for
    /// those that may come back (1 000 000). A socket whose missed packets are no longer
    /// all there gets a new session.
    pub recovery_log_bytes: u32,
    /// Also serve Engine.IO v3 clients (`EIO=3`: socket.io 2.x and the device libraries
    /// that speak it; Node's `allowEIO3`), beside current ones (false). `SIO_UNSUPPORTED`
    /// from the constructors when the library was built without it.
    pub allow_eio3: bool,
    /// Bytes of each session's opening request (request line and headers) kept for
    /// `sio_server_handshake` (Node's `socket.handshake`); 0 (the default) keeps none.
    pub handshake_head: u32,
    /// Speak the msgpack parser (`socket.io-msgpack-parser`, Node's `parser` option) to
    /// every client instead of the default one (false): a packet is one `MessagePack` map
    /// in one binary message. The events and calls stay the same (arguments as JSON with
    /// placeholders and attachments). Not with `allow_eio3` (`SIO_INVALID_ARGUMENT`);
    /// `SIO_UNSUPPORTED` from the constructors when the library was built without it.
    pub msgpack_parser: bool,
}

/// Fills `out` with the defaults (the Node reference's timers and limits, Socket.IO at
/// `/socket.io/` with the namespace `/`, room for 1024 sessions and a 64 MiB pool).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_config_default(out: *mut sio_server_config) -> sio_result {
    boundary(SIO_PANIC, || {
        let d = ServerConfig::DEFAULT;
        let config = sio_server_config {
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
            cors_origins: core::ptr::null(),
            cors_origins_len: 0,
            cors_reflect: false,
            cors_check: None,
            cors_check_user: core::ptr::null_mut(),
            cors_credentials: false,
            cors_methods: core::ptr::null(),
            cors_allowed_headers: core::ptr::null(),
            cors_max_age: 0,
            max_sessions: 1024,
            max_pool_bytes: 64 << 20,
            recovery_ms: d.recovery,
            recovery_log_bytes: d.recovery_log_bytes,
            allow_eio3: d.allow_eio3,
            handshake_head: d.handshake_head,
            msgpack_parser: d.parser == Parser::MsgPack,
        };
        // SAFETY: the caller passes a writable `sio_server_config` (or NULL, which `put` refuses).
        unsafe { put(out, config) }
    })
}

/// The settings of a C configuration, with the strings given.
fn settings(
    c: &sio_server_config,
    endpoints: &'static [Endpoint<'static>],
    namespaces: &'static [&'static str],
    cors: Option<Cors<'static>>,
) -> ServerConfig<'static> {
    ServerConfig {
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
        cors,
        recovery: c.recovery_ms,
        recovery_log_bytes: c.recovery_log_bytes,
        allow_eio3: c.allow_eio3,
        handshake_head: c.handshake_head,
        parser: if c.msgpack_parser {
            Parser::MsgPack
        } else {
            Parser::Json
        },
    }
}

/// The result for a configuration the server refuses.
pub(crate) fn config_error(e: ConfigError) -> sio_result {
    match e {
        ConfigError::RecoveryNotCompiled
        | ConfigError::Eio3NotCompiled
        | ConfigError::MsgPackNotCompiled
        | ConfigError::CorsNotCompiled => SIO_UNSUPPORTED,
        _ => SIO_INVALID_ARGUMENT,
    }
}

/// A NUL-terminated string, or `None` for `NULL`.
///
/// # Safety
/// `p` must be `NULL` or a NUL-terminated string valid for `'a`.
unsafe fn opt_text<'a>(p: *const c_char) -> Result<Option<&'a str>, sio_result> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: per the contract.
    unsafe { text(p) }.map(Some)
}

/// The strings of a C configuration, borrowed for the call: the two endpoint paths, the
/// namespaces and the CORS origin.
struct ConfigText<'c> {
    endpoints: [Option<Endpoint<'c>>; 2],
    namespaces: &'c [*const c_char],
    cors: Option<CorsText<'c>>,
}

/// The CORS settings of a C configuration, borrowed for the call.
struct CorsText<'c> {
    origin: CorsChoice<'c>,
    methods: Option<&'c str>,
    allowed_headers: Option<&'c str>,
}

/// Which of the C configuration's ways to allow origins is set.
enum CorsChoice<'c> {
    Exactly(&'c str),
    List(&'c [*const c_char]),
    Reflect,
    Check(CorsCheck),
}

/// A C configuration's `cors_check` with its user pointer.
#[derive(Clone, Copy)]
struct CorsCheck {
    f: unsafe extern "C" fn(*mut c_void, *const c_char, usize) -> bool,
    user: *mut c_void,
}

// SAFETY: the pointer is only handed back to the C callback, from whatever thread drives
// the server, as `sio_server_config` documents; siocore never reads it.
unsafe impl Sync for CorsCheck {}
// SAFETY: as for `Sync`.
unsafe impl Send for CorsCheck {}

impl CorsCheck {
    fn allows(&self, origin: &str) -> bool {
        // SAFETY: a C callback given in the configuration, called as documented.
        unsafe { (self.f)(self.user, origin.as_ptr().cast(), origin.len()) }
    }
}

/// A CORS check as the core takes it.
type OriginCheck = dyn Fn(&str) -> bool + Sync;

/// Keeps the configuration's CORS strings (and the check) for as long as the server.
trait KeepCors {
    fn text(&mut self, t: &str) -> Result<&'static str, sio_result>;
    fn list(&mut self, n: usize) -> Result<Option<&'static mut [&'static str]>, sio_result>;
    fn check(&mut self, check: CorsCheck) -> Result<Option<&'static OriginCheck>, sio_result>;
}

impl CorsText<'_> {
    /// The core's settings, the strings kept by `keep`; `None` when measuring.
    fn cors(
        &self,
        c: &sio_server_config,
        keep: &mut impl KeepCors,
    ) -> Result<Option<Cors<'static>>, sio_result> {
        // Every piece is kept (or counted, when measuring) before any early return.
        let methods = match self.methods {
            Some(m) => keep.text(m)?,
            None => Cors::DEFAULT.methods,
        };
        let allowed_headers = self.allowed_headers.map(|h| keep.text(h)).transpose()?;
        let origin = match self.origin {
            CorsChoice::Exactly(o) => AllowOrigin::Exactly(keep.text(o)?),
            CorsChoice::Reflect => AllowOrigin::Reflect,
            CorsChoice::List(list) => {
                let mut kept = keep.list(list.len())?;
                for (i, &p) in list.iter().enumerate() {
                    // SAFETY: the caller's `cors_origins` strings, per the contract.
                    let o = keep.text(unsafe { opt_text(p) }?.ok_or(SIO_NULL_ARGUMENT)?)?;
                    if let Some(slot) = kept.as_deref_mut().and_then(|k| k.get_mut(i)) {
                        *slot = o;
                    }
                }
                match kept {
                    Some(k) => AllowOrigin::List(k),
                    None => return Ok(None),
                }
            }
            CorsChoice::Check(check) => match keep.check(check)? {
                Some(f) => AllowOrigin::Check(f),
                None => return Ok(None),
            },
        };
        Ok(Some(Cors {
            origin,
            credentials: c.cors_credentials,
            methods,
            allowed_headers,
            max_age: c.cors_max_age,
        }))
    }
}

impl<'c> ConfigText<'c> {
    /// # Safety
    /// The pointers in `c` must be valid as `sio_server_config` documents, for `'c`.
    unsafe fn read(c: &'c sio_server_config) -> Result<Self, sio_result> {
        let endpoint = |p, protocol| -> Result<Option<Endpoint<'c>>, sio_result> {
            // SAFETY: per the contract.
            Ok(unsafe { opt_text(p) }?.map(|path| Endpoint { path, protocol }))
        };
        let namespaces: &[*const c_char] = if c.namespaces.is_null() {
            if c.namespaces_len != 0 {
                return Err(SIO_NULL_ARGUMENT);
            }
            &[]
        } else {
            // SAFETY: `namespaces` points to `namespaces_len` string pointers.
            unsafe { core::slice::from_raw_parts(c.namespaces, c.namespaces_len) }
        };
        Ok(Self {
            endpoints: [
                endpoint(c.socketio_path, Protocol::SocketIo)?,
                endpoint(c.engineio_path, Protocol::Engine)?,
            ],
            namespaces,
            // SAFETY: per the contract.
            cors: unsafe { Self::cors(c) }?,
        })
    }

    /// # Safety
    /// As [`read`](Self::read).
    unsafe fn cors(c: &'c sio_server_config) -> Result<Option<CorsText<'c>>, sio_result> {
        // SAFETY: per the contract.
        let exactly = unsafe { opt_text(c.cors_origin) }?;
        let list: Option<&[*const c_char]> = if c.cors_origins.is_null() {
            if c.cors_origins_len != 0 {
                return Err(SIO_NULL_ARGUMENT);
            }
            None
        } else {
            // SAFETY: `cors_origins` points to `cors_origins_len` string pointers.
            Some(unsafe { core::slice::from_raw_parts(c.cors_origins, c.cors_origins_len) })
        };
        let check = c.cors_check.map(|f| CorsCheck {
            f,
            user: c.cors_check_user,
        });
        let set = usize::from(exactly.is_some())
            + usize::from(list.is_some())
            + usize::from(c.cors_reflect)
            + usize::from(check.is_some());
        let origin = match (exactly, list, check) {
            _ if set > 1 => return Err(SIO_INVALID_ARGUMENT),
            (Some(o), _, _) => CorsChoice::Exactly(o),
            (_, Some(l), _) => CorsChoice::List(l),
            (_, _, Some(f)) => CorsChoice::Check(f),
            _ if c.cors_reflect => CorsChoice::Reflect,
            _ => return Ok(None),
        };
        Ok(Some(CorsText {
            origin,
            // SAFETY: per the contract.
            methods: unsafe { opt_text(c.cors_methods) }?,
            // SAFETY: per the contract.
            allowed_headers: unsafe { opt_text(c.cors_allowed_headers) }?,
        }))
    }

    /// How many namespaces there are (`/` alone when none is listed).
    fn namespace_count(&self) -> usize {
        self.namespaces.len().max(1)
    }

    /// Namespace `i`.
    ///
    /// # Safety
    /// As [`read`](Self::read).
    unsafe fn namespace(&self, i: usize) -> Result<&'c str, sio_result> {
        match self.namespaces.get(i) {
            // SAFETY: per the contract.
            Some(&p) => unsafe { opt_text(p) }?.ok_or(SIO_NULL_ARGUMENT),
            None => Ok("/"),
        }
    }
}

/// The strings a heap server's configuration borrows, owned here so they outlive it.
#[cfg(feature = "std")]
pub(crate) struct Strings {
    /// Owned only: the `&'static str`s borrow these.
    _kept: HeapKeep,
    endpoints: Box<[Endpoint<'static>]>,
    namespaces: Box<[&'static str]>,
}

/// What a heap server's configuration borrows besides its endpoints and namespaces: the
/// copied strings, the CORS list and check.
#[cfg(feature = "std")]
#[derive(Default)]
struct HeapKeep {
    texts: Vec<Box<str>>,
    /// From `Box::into_raw`, freed on drop.
    lists: Vec<*mut [&'static str]>,
    /// From `Box::into_raw`, freed on drop.
    checks: Vec<*mut OriginCheck>,
}

// SAFETY: the raw pointers are owned boxes (of `&'static str`s and a `Sync` closure whose
// only capture is `CorsCheck`, itself `Send`).
#[cfg(feature = "std")]
unsafe impl Send for HeapKeep {}

#[cfg(feature = "std")]
impl HeapKeep {
    fn own(&mut self, t: &str) -> &'static str {
        let b: Box<str> = t.into();
        // SAFETY: the box goes into `texts`, which `Strings` keeps (unmoved in the heap) as
        // long as the server: `Owned` drops the server first.
        let s = unsafe { &*(&*b as *const str) };
        self.texts.push(b);
        s
    }
}

#[cfg(feature = "std")]
impl KeepCors for HeapKeep {
    fn text(&mut self, t: &str) -> Result<&'static str, sio_result> {
        Ok(self.own(t))
    }

    fn list(&mut self, n: usize) -> Result<Option<&'static mut [&'static str]>, sio_result> {
        let p = Box::into_raw(std::vec![""; n].into_boxed_slice());
        self.lists.push(p);
        // SAFETY: a fresh box, freed only when `Strings` drops, after the server.
        Ok(Some(unsafe { &mut *p }))
    }

    fn check(&mut self, check: CorsCheck) -> Result<Option<&'static OriginCheck>, sio_result> {
        let f: Box<OriginCheck> = Box::new(move |o: &str| check.allows(o));
        let p = Box::into_raw(f);
        self.checks.push(p);
        // SAFETY: as for `list`.
        Ok(Some(unsafe { &*p }))
    }
}

#[cfg(feature = "std")]
impl Drop for HeapKeep {
    fn drop(&mut self) {
        for p in self.lists.drain(..) {
            // SAFETY: from `Box::into_raw`, dropped once.
            drop(unsafe { Box::from_raw(p) });
        }
        for p in self.checks.drain(..) {
            // SAFETY: as above.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

/// Turns a C configuration into a server configuration, its strings copied to the heap, and
/// the storage bounds.
///
/// # Safety
/// The pointers in `c` must be valid as `sio_server_config` documents.
#[cfg(feature = "std")]
pub(crate) unsafe fn config(
    c: &sio_server_config,
) -> Result<(ServerConfig<'static>, Capacity, Box<Strings>), sio_result> {
    // SAFETY: per the contract.
    let text = unsafe { ConfigText::read(c) }?;
    let mut kept = HeapKeep::default();
    let endpoints: Vec<Endpoint<'static>> = text
        .endpoints
        .iter()
        .flatten()
        .map(|e| Endpoint {
            path: kept.own(e.path),
            protocol: e.protocol,
        })
        .collect();
    let mut namespaces = Vec::new();
    for i in 0..text.namespace_count() {
        // SAFETY: per the contract.
        namespaces.push(kept.own(unsafe { text.namespace(i) }?));
    }
    let cors = match &text.cors {
        Some(t) => t.cors(c, &mut kept)?,
        None => None,
    };
    let strings = Box::new(Strings {
        _kept: kept,
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
    let pool = usize::try_from(c.max_pool_bytes).unwrap_or(usize::MAX);
    let capacity = Capacity::for_sessions(c.max_sessions as usize, pool);
    Ok((settings(c, endpoints, namespaces, cors), capacity, strings))
}

impl KeepCors for Carve {
    fn text(&mut self, t: &str) -> Result<&'static str, sio_result> {
        Self::text(self, t)
    }

    fn list(&mut self, n: usize) -> Result<Option<&'static mut [&'static str]>, sio_result> {
        self.slice(n, || "")
    }

    fn check(&mut self, check: CorsCheck) -> Result<Option<&'static OriginCheck>, sio_result> {
        let f = self.slice(1, || move |o: &str| check.allows(o))?;
        Ok(f.and_then(|f| f.first()).map(|f| f as &OriginCheck))
    }
}

/// The size of each table of a server in lent memory (`sio_server_new_in`); see
/// `sio_capacity_for_sessions` for a start.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sio_capacity {
    /// Engine.IO sessions (one per connected client).
    pub sessions: usize,
    /// TCP streams (a WebSocket, a polling request, a plain HTTP one: a polling client can
    /// use three at once).
    pub streams: usize,
    /// Socket.IO sockets (one per client per namespace joined).
    pub sockets: usize,
    /// Namespaces (those of the configuration, then dynamic ones).
    pub namespaces: usize,
    /// Rooms.
    pub rooms: usize,
    /// Room memberships.
    pub members: usize,
    /// Acknowledgements the server waits for.
    pub acks: usize,
    /// Events waiting for `sio_server_poll_event`.
    pub events: usize,
    /// Pool blocks of 252 bytes: queued packets, event payloads, responses.
    pub blocks: usize,
    /// Queue entries (one per packet queued per client).
    pub nodes: usize,
    /// Big pool blocks of 4092 bytes for large messages (binary messages and
    /// attachments of about that size or more); 0: every message takes the small blocks. A
    /// library built without `alloc` (bare metal) never uses them: give 0 there.
    pub big_blocks: usize,
}

/// The same eleven sizes both ways: C's `sio_capacity` and the core's `Capacity`.
macro_rules! capacity_fields {
    ($from:ty => $to:ident) => {
        impl From<$from> for $to {
            fn from(c: $from) -> Self {
                Self {
                    sessions: c.sessions,
                    streams: c.streams,
                    sockets: c.sockets,
                    namespaces: c.namespaces,
                    rooms: c.rooms,
                    members: c.members,
                    acks: c.acks,
                    events: c.events,
                    blocks: c.blocks,
                    nodes: c.nodes,
                    big_blocks: c.big_blocks,
                }
            }
        }
    };
}
capacity_fields!(sio_capacity => Capacity);
capacity_fields!(Capacity => sio_capacity);

/// Fills `out` with the table sizes the heap server uses for `sessions` clients and a pool
/// of `pool_bytes` (generous: room for growth that costs nothing until used on the heap).
/// For lent memory on a small board, start from these and lower what the application does
/// not need (`events`, `nodes`, `namespaces`, `rooms` above all).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_capacity_for_sessions(
    sessions: usize,
    pool_bytes: usize,
    out: *mut sio_capacity,
) -> sio_result {
    boundary(SIO_PANIC, || {
        let value = sio_capacity::from(Capacity::for_sessions(sessions, pool_bytes));
        // SAFETY: a caller's `sio_capacity` or NULL.
        unsafe { put(out, value) }
    })
}

/// Lays a server out in `carve`: the handle, its tables, its event buffers and copies of
/// its configuration's strings. When `carve` only measures, it counts the room and returns
/// null.
///
/// # Safety
/// The pointers in `c` must be valid as `sio_server_config` documents.
unsafe fn place(
    c: &sio_server_config,
    cap: &sio_capacity,
    carve: &mut Carve,
    seed: [u8; 32],
    now_ms: u64,
) -> Result<*mut sio_server, sio_result> {
    // SAFETY: per the contract.
    let text = unsafe { ConfigText::read(c) }?;
    let handle = carve.one::<sio_server>()?;
    let endpoint_count = text.endpoints.iter().flatten().count();
    let mut endpoints = carve.slice(endpoint_count, || Endpoint::SOCKET_IO)?;
    for (k, e) in text.endpoints.iter().flatten().enumerate() {
        let path = carve.text(e.path)?;
        if let Some(slot) = endpoints.as_deref_mut().and_then(|s| s.get_mut(k)) {
            *slot = Endpoint {
                path,
                protocol: e.protocol,
            };
        }
    }
    let mut namespaces = carve.slice(text.namespace_count(), || "/")?;
    for i in 0..text.namespace_count() {
        // SAFETY: per the contract.
        let name = carve.text(unsafe { text.namespace(i) }?)?;
        if let Some(slot) = namespaces.as_deref_mut().and_then(|s| s.get_mut(i)) {
            *slot = name;
        }
    }
    let cors = match &text.cors {
        Some(t) => t.cors(c, carve)?,
        None => None,
    };
    // The event buffers: the largest event, and one view per attachment.
    let max_event = settings(c, &[], &[], None).max_event();
    let events = carve.slice(max_event, || 0u8)?;
    let views = carve.slice(usize::from(c.max_attachments), || sio_bytes::EMPTY)?;
    // Every table is asked for (and counted when measuring) even after one is refused.
    let storage = Storage::lent(&Capacity::from(*cap), carve);
    carve.refusal()?;
    let (Some(endpoints), Some(namespaces), Some(events), Some(views), Some(storage)) =
        (endpoints, namespaces, events, views, storage)
    else {
        // Measuring.
        return Ok(core::ptr::null_mut());
    };
    let config = settings(c, endpoints, namespaces, cors);
    let server =
        Server::new(config, storage, seed, Instant::from_millis(now_ms)).map_err(config_error)?;
    // SAFETY: `handle` is room for one aligned `sio_server` in the block (`Carve::one`).
    unsafe {
        handle.write(sio_server {
            inner: Inner::Placed(server),
            events: Buf::lent(events),
            attachments: Buf::lent(views),
            cluster: Joined::None,
            handed: None,
        });
    }
    Ok(handle)
}

/// A server and the strings its configuration borrows. Field order matters: the server
/// drops first.
#[cfg(feature = "std")]
struct Owned {
    server: Server<'static>,
    _strings: Box<Strings>,
}

// A server in lent memory sits in the handle itself: no allocator to box it.
#[allow(clippy::large_enum_variant)]
enum Inner {
    /// Made by `sio_server_new`, on the heap.
    #[cfg(feature = "std")]
    Owned(Box<Owned>),
    /// Made by `sio_server_new_in`, in the caller's memory.
    Placed(Server<'static>),
    /// The server of a running `sio_server_loop`, lent for the length of one callback.
    #[cfg(feature = "std")]
    Lent(*mut Server<'static>),
}

/// A sans-IO server (opaque).
pub struct sio_server {
    inner: Inner,
    /// Payload buffer of the current event.
    events: Buf<u8>,
    /// Attachment views of the current event.
    attachments: Buf<sio_bytes>,
    /// The cluster the server joined, if any (`sio_server_join_cluster`).
    pub(crate) cluster: Joined,
    /// The attachments of the event handed out last, while their views are valid.
    handed: Option<Handed>,
}

/// The attachments of an event a handle handed out: the views C got, and the attachments
/// they show. Given those same views back in `sio_args`, an emit passes the attachments on
/// as received ([`Args::attached`]): the server then queues them without copying.
#[derive(Clone, Copy)]
pub(crate) struct Handed {
    views: *const sio_bytes,
    attachments: Attachments<'static>,
}

impl Handed {
    /// `event`'s attachments, if it has any, shown to C as `views`.
    ///
    /// # Safety
    /// The result must not be used once the bytes of `event` change or go: the handle keeping
    /// it drops it before its next poll, and a lent handle lives for one callback.
    pub(crate) unsafe fn of(event: &Event<'_>, views: *const sio_bytes) -> Option<Self> {
        let a = match event {
            Event::Message(m) => m.attachments,
            Event::Ack(a) => a.attachments,
            _ => return None,
        };
        if a.is_empty() {
            return None;
        }
        Some(Self {
            views,
            // SAFETY: per this function's contract, it is dropped before the bytes change.
            attachments: unsafe {
                core::mem::transmute::<Attachments<'_>, Attachments<'static>>(a)
            },
        })
    }
}

impl core::fmt::Debug for sio_server {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("sio_server").finish_non_exhaustive()
    }
}

impl sio_server {
    /// The server of a running loop, and its cluster when the loop joined one, lent for
    /// one callback.
    #[cfg(feature = "std")]
    pub(crate) fn lent<'a>(server: &mut Server<'a>, cluster: Option<&mut Cluster<'a>>) -> Self {
        Self {
            inner: Inner::Lent((server as *mut Server<'a>).cast()),
            events: Buf::empty(),
            attachments: Buf::empty(),
            cluster: cluster.map_or(Joined::None, |c| {
                Joined::Lent((c as *mut Cluster<'a>).cast())
            }),
            handed: None,
        }
    }

    /// Remembers the attachments of the event given to C with this handle.
    #[cfg(feature = "std")]
    pub(crate) fn hand(&mut self, handed: Option<Handed>) {
        self.handed = handed;
    }

    /// Whether this handle is a loop's server lent to its callback.
    pub(crate) fn is_lent(&self) -> bool {
        #[cfg(feature = "std")]
        return matches!(self.inner, Inner::Lent(_));
        #[cfg(not(feature = "std"))]
        false
    }

    /// The server and, when it joined one, its cluster.
    pub(crate) fn parts(&mut self) -> (&mut Server<'static>, Option<&mut Cluster<'static>>) {
        let (server, joined) = self.split();
        (server, joined.cluster())
    }

    /// The server and its cluster field.
    pub(crate) fn split(&mut self) -> (&mut Server<'static>, &mut Joined) {
        // One arm without `std`.
        #[allow(clippy::infallible_destructuring_match)]
        let server = match &mut self.inner {
            #[cfg(feature = "std")]
            Inner::Owned(o) => &mut o.server,
            Inner::Placed(s) => s,
            // SAFETY: a lent server is only reachable during the callback that lent it,
            // while the loop does not touch it.
            #[cfg(feature = "std")]
            Inner::Lent(p) => unsafe { &mut **p },
        };
        (server, &mut self.cluster)
    }

    pub(crate) fn server_ref(&self) -> &Server<'static> {
        match &self.inner {
            #[cfg(feature = "std")]
            Inner::Owned(o) => &o.server,
            Inner::Placed(s) => s,
            // SAFETY: a lent server is only reachable during the callback that lent it,
            // while the loop does not touch it.
            #[cfg(feature = "std")]
            Inner::Lent(p) => unsafe { &**p },
        }
    }

    pub(crate) fn server(&mut self) -> &mut Server<'static> {
        match &mut self.inner {
            #[cfg(feature = "std")]
            Inner::Owned(o) => &mut o.server,
            Inner::Placed(s) => s,
            // SAFETY: a lent server is only reachable during the callback that lent it,
            // while the loop does not touch it.
            #[cfg(feature = "std")]
            Inner::Lent(p) => unsafe { &mut **p },
        }
    }
}

fn ok(r: Result<(), siocore::server::CommandError>) -> Result<sio_result, sio_result> {
    r.map(|()| SIO_OK).map_err(sio_result::from)
}

/// A configuration from its pointer (`NULL`: the defaults).
///
/// # Safety
/// `config` must be `NULL` or a caller's `sio_server_config`.
unsafe fn config_or_default(config: *const sio_server_config) -> sio_server_config {
    // SAFETY: NULL or a caller's configuration.
    match unsafe { config.as_ref() } {
        Some(c) => *c,
        None => {
            let mut defaults = core::mem::MaybeUninit::<sio_server_config>::uninit();
            // SAFETY: writing the defaults into local storage.
            unsafe { sio_server_config_default(defaults.as_mut_ptr()) };
            // SAFETY: just initialized.
            unsafe { defaults.assume_init() }
        }
    }
}

/// Creates a server with `config` (NULL: the defaults) on the heap, its tables growing as
/// needed up to `max_sessions` and `max_pool_bytes`, its ids seeded from the 32 bytes at
/// `seed` (take them from a real entropy source), its clock starting at `now_ms`. Not in a
/// bare-metal build (see `sio_server_new_in`).
#[cfg(feature = "std")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_new(
    config: *const sio_server_config,
    seed: *const u8,
    now_ms: u64,
    out: *mut *mut sio_server,
) -> sio_result {
    boundary(SIO_PANIC, || {
        if seed.is_null() || out.is_null() {
            return SIO_NULL_ARGUMENT;
        }
        // SAFETY: NULL or a caller's configuration.
        let c = unsafe { config_or_default(config) };
        // SAFETY: `seed` points to 32 readable bytes.
        let key = unsafe { crate::seed(seed) };
        // SAFETY: the configuration's pointers are valid per the contract.
        let (config, capacity, strings) = match unsafe { self::config(&c) } {
            Ok(x) => x,
            Err(e) => return e,
        };
        let server = match Server::new(
            config,
            Storage::growable(capacity),
            key,
            Instant::from_millis(now_ms),
        ) {
            Ok(s) => s,
            Err(e) => return config_error(e),
        };
        let events = std::vec![0u8; server.config().max_event()];
        let views = std::vec![sio_bytes::EMPTY; usize::from(server.config().max_attachments)];
        let handle = Box::new(sio_server {
            inner: Inner::Owned(Box::new(Owned {
                server,
                _strings: strings,
            })),
            events: Buf::heap(events),
            attachments: Buf::heap(views),
            cluster: Joined::None,
            handed: None,
        });
        // SAFETY: `out` checked non-NULL; writable per the contract.
        unsafe { out.write(Box::into_raw(handle)) };
        SIO_OK
    })
}

/// Writes how many bytes `sio_server_new_in` needs for `config` (NULL: the defaults) with
/// tables of the sizes in `capacity`: the handle, the tables, the largest event and copies
/// of the configuration's strings. It measures only: the configuration is checked by
/// `sio_server_new_in`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_memory_size(
    config: *const sio_server_config,
    capacity: *const sio_capacity,
    out: *mut usize,
) -> sio_result {
    boundary(SIO_PANIC, || {
        // SAFETY: NULL or a caller's `sio_capacity`.
        let Some(cap) = (unsafe { capacity.as_ref() }) else {
            return SIO_NULL_ARGUMENT;
        };
        // SAFETY: NULL or a caller's configuration.
        let c = unsafe { config_or_default(config) };
        let mut carve = Carve::measure();
        // SAFETY: the configuration's pointers are valid per the contract.
        if let Err(e) = unsafe { place(&c, cap, &mut carve, [0; 32], 0) } {
            return e;
        }
        // SAFETY: a caller's `size_t` or NULL.
        unsafe { put(out, carve.used()) }
    })
}

/// Creates a server in `len` bytes of the caller's memory at `memory` (aligned to
/// `SIO_MEMORY_ALIGN`, at least `sio_server_memory_size`), with `config` (NULL: the
/// defaults) and tables of the sizes in `capacity`; no allocator is used. The memory must
/// stay untouched until `sio_server_free`, which frees nothing. Otherwise as
/// `sio_server_new`. `SIO_BUFFER_TOO_SMALL` when `len` is short (no size is written: ask
/// `sio_server_memory_size`), `SIO_INVALID_ARGUMENT` when `memory` is misaligned or the
/// configuration is refused.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_new_in(
    config: *const sio_server_config,
    capacity: *const sio_capacity,
    memory: *mut c_void,
    len: usize,
    seed: *const u8,
    now_ms: u64,
    out: *mut *mut sio_server,
) -> sio_result {
    boundary(SIO_PANIC, || {
        if seed.is_null() || out.is_null() {
            return SIO_NULL_ARGUMENT;
        }
        // SAFETY: NULL or a caller's `sio_capacity`.
        let Some(cap) = (unsafe { capacity.as_ref() }) else {
            return SIO_NULL_ARGUMENT;
        };
        // SAFETY: NULL or a caller's configuration.
        let c = unsafe { config_or_default(config) };
        // SAFETY: `seed` points to 32 readable bytes.
        let key = unsafe { crate::seed(seed) };
        // SAFETY: `memory` is `len` writable bytes the caller lends until the free.
        let mut carve = match unsafe { Carve::over(memory.cast(), len) } {
            Ok(c) => c,
            Err(e) => return e,
        };
        // SAFETY: the configuration's pointers are valid per the contract.
        match unsafe { place(&c, cap, &mut carve, key, now_ms) } {
            Ok(handle) => {
                // SAFETY: checked non-NULL.
                unsafe { out.write(handle) };
                SIO_OK
            }
            Err(e) => e,
        }
    })
}

/// Destroys a server made by `sio_server_new` or `sio_server_new_in` (`NULL` is ignored).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_free(srv: *mut sio_server) {
    boundary((), || {
        // SAFETY: a live handle or NULL, per the contract.
        let Some(handle) = (unsafe { srv.as_ref() }) else {
            return;
        };
        match handle.inner {
            // A lent handle lives on the loop's stack: it is the loop's, never freed here.
            #[cfg(feature = "std")]
            Inner::Lent(_) => {}
            // SAFETY: in the caller's memory: dropped in place (nothing there owns heap
            // memory), the memory stays the caller's.
            Inner::Placed(_) => unsafe { core::ptr::drop_in_place(srv) },
            // SAFETY: an owned handle is made by `sio_server_new` with `Box::into_raw`,
            // freed once.
            #[cfg(feature = "std")]
            Inner::Owned(_) => drop(unsafe { Box::from_raw(srv) }),
        }
    });
}

/// The most unconsumed input one stream can need the caller to keep (a whole request or
/// WebSocket message): size each stream's receive buffer to this and it never stalls.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_max_input(
    srv: *const sio_server,
    out: *mut usize,
) -> sio_result {
    with_ref(srv, |s| {
        let n = s.server_ref().config().max_input();
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
    /// Another server of the cluster emitted event `name` to the servers of namespace
    /// `namespace_index`, with the arguments `data` (raw JSON, comma separated); when
    /// `has_ack`, it waits for one answer: `sio_server_cluster_answer` with `request`.
    SIO_EVENT_SERVER_SIDE_EMIT = 10,
    /// Another server's sockets for `sio_server_fetch_sockets` `request`: `data` is a JSON
    /// array of `{"id", "handshake", "rooms", "data"}` objects.
    SIO_EVENT_CLUSTER_SOCKETS = 11,
    /// Another server's answer to `sio_server_server_side_emit` `request`: `data` is one
    /// JSON value.
    SIO_EVENT_CLUSTER_ANSWER = 12,
    /// A request of this server to the cluster is over (`request`): `answers` servers
    /// answered; `timed_out` when its deadline passed before every expected answer came.
    SIO_EVENT_CLUSTER_DONE = 13,
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

/// An event for the application. Its byte views are valid until the next
/// `sio_server_poll_event` on the server handle, or its free (commands such as
/// `sio_server_emit` may take them); in a loop callback, during the call. The views of an
/// event from `sio_server_cluster_receive` point into the message the caller passed (and a
/// decoded event name into the server): valid while that message is, until the next call
/// on the server.
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
    /// The cluster request, NUL-terminated (`SIO_EVENT_SERVER_SIDE_EMIT` with `has_ack`,
    /// `SIO_EVENT_CLUSTER_SOCKETS`, `SIO_EVENT_CLUSTER_ANSWER`, `SIO_EVENT_CLUSTER_DONE`);
    /// empty otherwise.
    pub request: [c_char; SIO_REQUEST_LEN],
    /// `SIO_EVENT_CLUSTER_DONE`: how many servers answered.
    pub answers: u32,
    /// `SIO_EVENT_CLUSTER_DONE`: the deadline passed before every expected answer came.
    pub timed_out: bool,
    /// `SIO_EVENT_CONNECT`: the client came back into the socket it lost with its transport
    /// (connection state recovery, `recovery_ms`; Node's `socket.recovered`): `socket` is
    /// the one it had. Once accepted it is in its rooms again and the packets it missed
    /// follow the CONNECT answer.
    pub recovered: bool,
}

impl sio_event {
    pub(crate) fn blank(kind: sio_event_kind) -> Self {
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
            request: [0; SIO_REQUEST_LEN],
            answers: 0,
            timed_out: false,
            recovered: false,
        }
    }
}

/// Turns an event into its C form; attachment views go into `views` (as many as fit: it
/// has room for `max_attachments`, more than any event carries).
pub(crate) fn c_event(e: &Event<'_>, views: &mut [sio_bytes]) -> sio_event {
    let mut count = 0;
    let mut att = |a: Attachments<'_>| {
        debug_assert!(a.len() <= views.len(), "room for every attachment's view");
        for (slot, blob) in views.iter_mut().zip(a.iter()) {
            *slot = sio_bytes::of(blob);
            count += 1;
        }
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
            ev.recovered = c.recovered;
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
    if count > 0 {
        out.attachments = views.as_ptr();
        out.attachments_len = count;
    }
    out
}

/// The next event: `SIO_OK` with `out` filled (its views valid until the next call on
/// `srv`), or `SIO_EMPTY`. Call until `SIO_EMPTY` after draining the transmits. On a server
/// in a cluster, the acknowledgements its clients owe other servers are taken (and queued
/// for them) here and never come out.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_poll_event(
    srv: *mut sio_server,
    out: *mut sio_event,
) -> sio_result {
    with(srv, |s| {
        if out.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        let sio_server {
            inner,
            events,
            attachments,
            cluster,
            handed,
        } = s;
        // The bytes the views showed are about to be rewritten.
        *handed = None;
        // One arm without `std`.
        #[allow(clippy::infallible_destructuring_match)]
        let server = match inner {
            #[cfg(feature = "std")]
            Inner::Owned(owned) => &mut owned.server,
            Inner::Placed(server) => server,
            // Inside a loop callback: the loop polls the events.
            #[cfg(feature = "std")]
            Inner::Lent(_) => return Err(crate::SIO_WRONG_STATE),
        };
        let mut cluster = cluster.cluster();
        let ev = loop {
            let event = match server.poll_event(events.get()) {
                Ok(Some(e)) => e,
                Ok(None) => return Ok(SIO_EMPTY),
                // Cannot happen: the buffer has `max_event` bytes.
                Err(_) => return Err(SIO_BUFFER_TOO_SMALL),
            };
            // An acknowledgement owed to another server is the cluster's alone.
            if let Some(c) = cluster.as_deref_mut()
                && c.on_event(server, &event)
            {
                continue;
            }
            let ev = c_event(&event, attachments.get());
            // SAFETY: dropped at the next poll (above), before `events` is written again.
            *handed = unsafe { Handed::of(&event, ev.attachments) };
            break ev;
        };
        // SAFETY: checked non-NULL.
        unsafe { out.write(ev) };
        Ok(SIO_OK)
    })
}

/// Copies the opening request of `session` (its request line with the URL and query, and its
/// headers; Node's `socket.handshake`) into the `cap` bytes at `buf`, its length to
/// `out_len` and when it came to `out_issued_ms` (the server's clock): `SIO_OK`;
/// `SIO_EMPTY` when none is kept (`handshake_head` is 0) or the session ended;
/// `SIO_BUFFER_TOO_SMALL` with the length needed in `out_len`. To read a header of it, put
/// the bytes in the `http_head` of a `sio_event` and call `sio_event_header`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_handshake(
    srv: *const sio_server,
    session: sio_session,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
    out_issued_ms: *mut u64,
) -> sio_result {
    with_ref(srv, |s| {
        if out_len.is_null() || out_issued_ms.is_null() || (buf.is_null() && cap > 0) {
            return Err(SIO_NULL_ARGUMENT);
        }
        let out: &mut [u8] = if cap == 0 {
            &mut []
        } else {
            // SAFETY: `cap` writable bytes per the contract, apart from the server.
            unsafe { core::slice::from_raw_parts_mut(buf, cap) }
        };
        match s.server_ref().handshake(SessionId::from_bits(session), out) {
            Ok(Some((issued, head))) => {
                // SAFETY: checked non-NULL.
                unsafe {
                    out_len.write(head.len());
                    out_issued_ms.write(issued.as_millis());
                }
                Ok(SIO_OK)
            }
            Ok(None) => Ok(SIO_EMPTY),
            Err(e) => {
                // SAFETY: checked non-NULL.
                unsafe { out_len.write(e.required) };
                Ok(SIO_BUFFER_TOO_SMALL)
            }
        }
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

/// What a server holds now, entries in use per table (`sio_server_usage`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct sio_usage {
    /// Sessions.
    pub sessions: usize,
    /// Streams.
    pub streams: usize,
    /// Sockets.
    pub sockets: usize,
    /// Rooms.
    pub rooms: usize,
    /// Room memberships.
    pub members: usize,
    /// Acknowledgements the server waits for.
    pub acks: usize,
    /// Pool blocks holding data.
    pub blocks: usize,
    /// Big pool blocks holding data.
    pub big_blocks: usize,
    /// Queue entries.
    pub nodes: usize,
}

/// Writes what the server holds now to `out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_usage(
    srv: *const sio_server,
    out: *mut sio_usage,
) -> sio_result {
    with_ref(srv, |s| {
        if out.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        let u = s.server_ref().usage();
        let usage = sio_usage {
            sessions: u.sessions,
            streams: u.streams,
            sockets: u.sockets,
            rooms: u.rooms,
            members: u.members,
            acks: u.acks,
            blocks: u.blocks,
            big_blocks: u.big_blocks,
            nodes: u.nodes,
        };
        // SAFETY: checked non-NULL.
        unsafe { out.write(usage) };
        Ok(SIO_OK)
    })
}

/// When `sio_server_handle_timeout` should next run, in the caller's milliseconds:
/// `SIO_OK` with `out_ms` set, or `SIO_EMPTY` when no timer runs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_poll_timeout(
    srv: *const sio_server,
    out_ms: *mut u64,
) -> sio_result {
    with_ref(srv, |s| {
        if out_ms.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        match s.server_ref().poll_timeout() {
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

/// The most headers `sio_server_respond` takes.
pub const SIO_MAX_RESPONSE_HEADERS: usize = 32;
const MAX_RESPONSE_HEADERS: usize = SIO_MAX_RESPONSE_HEADERS;

/// Answers an `SIO_EVENT_HTTP` request on `stream`: `status`, `headers` (`headers_len` of
/// them, at most `SIO_MAX_RESPONSE_HEADERS`, else `SIO_INVALID_ARGUMENT`; `Content-Length`
/// and `Connection` are added) and the body.
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
        let mut list = [EMPTY_HEADER; MAX_RESPONSE_HEADERS];
        let list = list.get_mut(..headers_len).ok_or(SIO_INVALID_ARGUMENT)?;
        if headers_len > 0 {
            if headers.is_null() {
                return Err(SIO_NULL_ARGUMENT);
            }
            for (i, slot) in list.iter_mut().enumerate() {
                // SAFETY: `headers` points to `headers_len` entries.
                let h = unsafe { *headers.add(i) };
                // SAFETY: NUL-terminated name, per the contract.
                let name = unsafe { text(h.name) }?;
                // SAFETY: a byte range per the contract.
                let value = unsafe { bytes(h.value.ptr, h.value.len) }.ok_or(SIO_NULL_ARGUMENT)?;
                *slot = Header { name, value };
            }
        }
        // SAFETY: a byte range per the contract.
        let body = unsafe { bytes(body, body_len) }.ok_or(SIO_NULL_ARGUMENT)?;
        ok(s.server()
            .respond(StreamId::from_bits(stream), status, list, body))
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
///
/// To send on the attachments of the event the server handle gave out last, give its
/// `attachments` and `attachments_len` as `binary` and `binary_len` (the same pointer, not
/// a copy of the views): the server then queues them by reference to the received packet
/// instead of copying them (with the library's `std` feature, as the big pool blocks).
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

/// [`with_args`] for a server command: blobs that are the views of the attachments the
/// handle handed out last (`handed`) are passed on as those attachments.
///
/// # Safety
/// As [`with_args`].
pub(crate) unsafe fn with_server_args<R>(
    args: *const sio_args,
    handed: Option<Handed>,
    f: impl FnOnce(Args<'_>) -> Result<R, sio_result>,
) -> Result<R, sio_result> {
    // SAFETY: NULL or a caller's `sio_args`.
    let a = unsafe { args.as_ref() };
    if let (Some(a), Some(h)) = (a, handed)
        && a.binary_len > 0
        && core::ptr::eq(a.binary, h.views)
        && a.binary_len == h.attachments.len()
    {
        // SAFETY: a byte range per the contract.
        let json = unsafe { bytes(a.json, a.json_len) }.ok_or(SIO_NULL_ARGUMENT)?;
        return f(Args::attached(json, h.attachments));
    }
    // SAFETY: per the contract.
    unsafe { with_args(args, f) }
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
    let mut blobs: [&[u8]; MAX_EMIT_ATTACHMENTS] = [&[]; MAX_EMIT_ATTACHMENTS];
    let blobs = blobs
        .get_mut(..a.binary_len)
        .ok_or(SIO_ATTACHMENT_MISMATCH)?;
    if a.binary_len > 0 {
        if a.binary.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        for (i, slot) in blobs.iter_mut().enumerate() {
            // SAFETY: `binary` points to `binary_len` views.
            let v = unsafe { *a.binary.add(i) };
            // SAFETY: each view is a byte range per the contract.
            *slot = unsafe { bytes(v.ptr, v.len) }.ok_or(SIO_NULL_ARGUMENT)?;
        }
    }
    f(Args::binary(json, blobs))
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
            with_server_args(args, s.handed, |a| {
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
            with_server_args(args, s.handed, |a| {
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
            with_server_args(args, s.handed, |a| {
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

/// Who a broadcast or a command on many sockets reaches: the members of `rooms` (none: the
/// whole namespace), minus the members of `except_rooms` and the sockets in `except`. On a
/// server in a cluster, the whole cluster unless `local`.
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
    /// Sockets left out (on the other servers of a cluster too: they go as the rooms named
    /// by their ids).
    pub except: *const sio_socket,
    /// How many.
    pub except_len: usize,
    /// This server's sockets only, when it is in a cluster (no effect otherwise).
    pub local: bool,
}

/// The most rooms, rooms left out and sockets left out one `sio_targets` may list.
pub const SIO_MAX_TARGETS: usize = 64;

/// The lists of a `sio_targets`, read and checked.
pub(crate) struct Picked<'t> {
    rooms: [&'t str; SIO_MAX_TARGETS],
    rooms_len: usize,
    except_rooms: [&'t str; SIO_MAX_TARGETS],
    except_rooms_len: usize,
    except: [SocketId; SIO_MAX_TARGETS],
    except_len: usize,
    /// `sio_targets::local`.
    pub(crate) local: bool,
}

impl<'t> Picked<'t> {
    /// The lists at `targets` (`NULL`: every socket of the namespace).
    ///
    /// # Safety
    /// `targets` must be `NULL` or a caller's `sio_targets` whose arrays are valid for `'t`.
    pub(crate) unsafe fn read(targets: *const sio_targets) -> Result<Self, sio_result> {
        let mut p = Self {
            rooms: [""; SIO_MAX_TARGETS],
            rooms_len: 0,
            except_rooms: [""; SIO_MAX_TARGETS],
            except_rooms_len: 0,
            except: [SocketId::from_bits(0); SIO_MAX_TARGETS],
            except_len: 0,
            local: false,
        };
        // SAFETY: NULL or a caller's `sio_targets`.
        let Some(t) = (unsafe { targets.as_ref() }) else {
            return Ok(p);
        };
        // SAFETY: the arrays per the contract.
        p.rooms_len = unsafe { strings(t.rooms, t.rooms_len, &mut p.rooms) }?.len();
        // SAFETY: the arrays per the contract.
        p.except_rooms_len =
            unsafe { strings(t.except_rooms, t.except_rooms_len, &mut p.except_rooms) }?.len();
        if t.except_len > 0 && t.except.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        let except = p
            .except
            .get_mut(..t.except_len)
            .ok_or(SIO_INVALID_ARGUMENT)?;
        if t.except_len > 0 {
            // SAFETY: `except_len` ids at `except`.
            let ids = unsafe { core::slice::from_raw_parts(t.except, t.except_len) };
            for (slot, &bits) in except.iter_mut().zip(ids) {
                *slot = SocketId::from_bits(bits);
            }
        }
        p.except_len = t.except_len;
        p.local = t.local;
        Ok(p)
    }

    /// The selection on this server.
    pub(crate) fn targets(&self) -> Targets<'_> {
        Targets {
            rooms: &self.rooms[..self.rooms_len],
            except_rooms: &self.except_rooms[..self.except_rooms_len],
            except: &self.except[..self.except_len],
        }
    }

    /// The wire ids of the sockets left out (`None` for one that is gone), for
    /// [`with_recipients`](Self::with_recipients).
    pub(crate) fn except_ids(&self, server: &Server<'_>) -> [Option<WireId>; SIO_MAX_TARGETS] {
        let mut ids = [None; SIO_MAX_TARGETS];
        for (slot, &s) in ids.iter_mut().zip(&self.except[..self.except_len]) {
            *slot = server.socket_sid(s);
        }
        ids
    }

    /// Calls `f` with the selection as a cluster takes it: the sockets left out as the
    /// rooms their `ids` name.
    pub(crate) fn with_recipients<R>(
        &self,
        ids: &[Option<WireId>; SIO_MAX_TARGETS],
        f: impl FnOnce(&Recipients<'_>) -> R,
    ) -> R {
        let mut names = [""; 2 * SIO_MAX_TARGETS];
        let mut n = 0;
        let listed = self.except_rooms[..self.except_rooms_len].iter().copied();
        for (slot, name) in names
            .iter_mut()
            .zip(listed.chain(ids.iter().flatten().map(WireId::as_str)))
        {
            *slot = name;
            n += 1;
        }
        f(&Recipients {
            rooms: &self.rooms[..self.rooms_len],
            except: &names[..n],
            flags: Flags::NONE,
        })
    }
}

/// Emits `event` to the sockets of namespace `namespace` that `targets` selects (`NULL`:
/// all); writes how many of this server's sockets got it to `out_sent` when not `NULL`.
/// Encoded once for all. Each list of `targets` may hold `SIO_MAX_TARGETS` entries
/// (`SIO_INVALID_ARGUMENT` past it). On a server in a cluster it reaches every server's
/// sockets unless `targets->local`; `SIO_OUTBOX_FULL` then says this server's sockets got
/// it and the other servers will not.
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
        let handed = s.handed;
        let (server, cluster) = s.parts();
        let ns = server.namespace(namespace).ok_or(SIO_UNKNOWN_NAMESPACE)?;
        // SAFETY: NULL or a caller's `sio_targets`.
        let picked = unsafe { Picked::read(targets) }?;
        // SAFETY: `args` per the contract.
        let sent = unsafe {
            with_server_args(args, handed, |a| match cluster {
                Some(c) if !picked.local => {
                    let ids = picked.except_ids(server);
                    picked
                        .with_recipients(&ids, |to| c.broadcast(server, ns, to, event, a))
                        .map_err(crate::cluster::cluster_result)
                }
                _ => server
                    .broadcast(ns, &picked.targets(), event, a)
                    .map_err(sio_result::from),
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
    srv: *const sio_server,
    socket: sio_socket,
    out: *mut c_char,
) -> sio_result {
    with_ref(srv, |s| {
        if out.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        let id = s
            .server_ref()
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

/// Writes the name of the namespace at `namespace_index` (NUL-terminated) into `buf` (`cap`
/// bytes): `SIO_OK`, or `SIO_BUFFER_TOO_SMALL` with the size needed in `out_len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_namespace_name(
    srv: *const sio_server,
    namespace_index: u32,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> sio_result {
    with_ref(srv, |s| {
        if out_len.is_null() || (buf.is_null() && cap > 0) {
            return Err(SIO_NULL_ARGUMENT);
        }
        let server = s.server_ref();
        let ns = server
            .namespace_by_index(namespace_index as usize)
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

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::SIO_MEMORY_ALIGN;

    fn memory_size(cap: &sio_capacity) -> Result<usize, sio_result> {
        let mut need = 0;
        // SAFETY: NULL for the default configuration, and valid pointers.
        match unsafe { sio_server_memory_size(core::ptr::null(), cap, &mut need) } {
            SIO_OK => Ok(need),
            e => Err(e),
        }
    }

    /// `sio_server_new_in` on `len` bytes of an aligned block; frees what it made.
    fn new_in(cap: &sio_capacity, len: usize) -> sio_result {
        let mut block = std::vec![0u64; len.div_ceil(8)];
        let mut srv = core::ptr::null_mut();
        // SAFETY: `block` is `len` writable bytes (at least), aligned to 8, alive until the
        // server is freed below.
        let r = unsafe {
            sio_server_new_in(
                core::ptr::null(),
                cap,
                block.as_mut_ptr().cast(),
                len,
                [3u8; 32].as_ptr(),
                0,
                &mut srv,
            )
        };
        // SAFETY: made just above, or NULL.
        unsafe { sio_server_free(srv) };
        r
    }

    #[test]
    fn the_measured_size_is_what_the_carve_takes_with_every_table() {
        // No tables (measurable, though no server could run in it).
        let zero = sio_capacity {
            sessions: 0,
            streams: 0,
            sockets: 0,
            namespaces: 0,
            rooms: 0,
            members: 0,
            acks: 0,
            events: 0,
            blocks: 0,
            nodes: 0,
            big_blocks: 0,
        };
        let base = memory_size(&zero).unwrap();
        for (sessions, pool) in [(1, 0), (2, 4096), (7, 100_000)] {
            let cap = sio_capacity::from(Capacity::for_sessions(sessions, pool));
            let need = memory_size(&cap).unwrap();
            // Every table counted (padding between them aside).
            let tables = Capacity::from(cap).bytes();
            assert!(need - base >= tables, "{need} - {base} < {tables}");
            assert!(need - base < tables + 11 * SIO_MEMORY_ALIGN);
            assert_eq!(new_in(&cap, need), SIO_OK);
            assert_eq!(new_in(&cap, need - 1), SIO_BUFFER_TOO_SMALL);
            // Short already at the first table.
            assert_eq!(new_in(&cap, base), SIO_BUFFER_TOO_SMALL);
        }
        let huge = sio_capacity::from(Capacity::for_sessions(usize::MAX / 4, 0));
        assert_eq!(memory_size(&huge), Err(SIO_INVALID_ARGUMENT));
    }
}
