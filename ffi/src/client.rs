//! The client for C: the sans-IO `sio_client_*` and the ready loop `sio_client_loop_*`.

use core::ffi::{c_char, c_void};
use std::boxed::Box;
use std::string::String;
use std::vec::Vec;

use siocore::Instant;
use siocore::client::{
    AckFailure, AckId, Client, ClientConfig, CloseReason, CommandError, DisconnectReason, Event,
    Io, NsId, Reconnection, Stream, Transports,
};
use siocore::driver::{ClientDriver, ServerUrl, Wake, os_seed};
use siocore::http::Header;

use crate::server::{sio_args, with_args};
use crate::{
    SIO_ATTACHMENT_MISMATCH, SIO_BUFFER_TOO_SMALL, SIO_EMPTY, SIO_INVALID_ARGUMENT,
    SIO_INVALID_JSON, SIO_INVALID_NAME, SIO_IO_ERROR, SIO_NULL_ARGUMENT, SIO_OK, SIO_PANIC,
    SIO_TABLE_FULL, SIO_UNKNOWN_NAMESPACE, SIO_WRONG_STATE, boundary, bytes, put, sio_bytes,
    sio_result, strings, text, with,
};

/// Namespaces a C client can be in at once.
pub const SIO_CLIENT_MAX_NAMESPACES: usize = 8;
/// Acknowledgements a C client can await at once.
pub const SIO_CLIENT_MAX_ACKS: usize = 64;

type Cl = Client<'static, SIO_CLIENT_MAX_NAMESPACES, SIO_CLIENT_MAX_ACKS>;

/// Which transports a client uses.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sio_transports {
    /// Long-polling first, then an upgrade to WebSocket (the JavaScript default).
    SIO_TRANSPORTS_POLLING_THEN_WEBSOCKET = 0,
    /// WebSocket only.
    SIO_TRANSPORTS_WEBSOCKET = 1,
    /// Long-polling only.
    SIO_TRANSPORTS_POLLING = 2,
}

pub use sio_transports::*;

/// Client settings; fill with `sio_client_config_default`, then set `host` (and more).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sio_client_config {
    /// The `Host` header, `"example.com:3000"` (required).
    pub host: *const c_char,
    /// The Engine.IO path with its trailing slash (default `"/socket.io/"`).
    pub path: *const c_char,
    /// Extra query parameters, percent-encoded, without `?` (`NULL`: none).
    pub query: *const c_char,
    /// Names of extra request headers (`headers_len` of them, or `NULL`).
    pub header_names: *const *const c_char,
    /// Their values, in the same order.
    pub header_values: *const *const c_char,
    /// How many extra headers.
    pub headers_len: usize,
    /// Which transports.
    pub transports: sio_transports,
    /// Reconnect after a lost session (true).
    pub reconnection: bool,
    /// Attempts before giving up (`UINT32_MAX`: never).
    pub reconnection_attempts: u32,
    /// First reconnection delay in milliseconds (1000), doubling per attempt...
    pub reconnection_delay_ms: u32,
    /// ...up to this (5000).
    pub reconnection_delay_max_ms: u32,
    /// Jitter in thousandths of the delay (500).
    pub randomization_permille: u16,
    /// Milliseconds an attempt may take until the session opens (20 000).
    pub connect_timeout_ms: u32,
    /// Largest HTTP response or WebSocket message accepted, in bytes.
    pub rx_capacity: usize,
    /// Bytes of packets waiting to be sent (emits while disconnected included).
    pub outbox_capacity: usize,
    /// Largest received binary event (text and attachments); 0 refuses binary.
    pub binary_capacity: usize,
    /// Bytes for the namespaces' names and auth payloads.
    pub namespace_capacity: usize,
}

/// Fills `out` with the defaults: JavaScript client behaviour, 16 KiB messages.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_config_default(out: *mut sio_client_config) -> sio_result {
    boundary(SIO_PANIC, || {
        let d = ClientConfig::new("");
        let r = Reconnection::DEFAULT;
        let c = sio_client_config {
            host: core::ptr::null(),
            path: c"/socket.io/".as_ptr(),
            query: core::ptr::null(),
            header_names: core::ptr::null(),
            header_values: core::ptr::null(),
            headers_len: 0,
            transports: SIO_TRANSPORTS_POLLING_THEN_WEBSOCKET,
            reconnection: r.enabled,
            reconnection_attempts: r.attempts,
            reconnection_delay_ms: r.delay_ms,
            reconnection_delay_max_ms: r.delay_max_ms,
            randomization_permille: r.randomization_permille,
            connect_timeout_ms: d.connect_timeout_ms,
            rx_capacity: d.rx_capacity,
            outbox_capacity: d.outbox_capacity,
            binary_capacity: d.binary_capacity,
            namespace_capacity: d.namespace_capacity,
        };
        // SAFETY: a caller's `sio_client_config` or NULL.
        unsafe { put(out, c) }
    })
}

/// Memory a client owns: its arena and the strings its configuration borrows. Freed after
/// the client (it is declared after the client in every owner).
struct Leaked {
    arena: *mut [u8],
    strings: *mut (String, String, String, Vec<String>, Vec<Vec<u8>>),
    headers: *mut [Header<'static>],
}

impl Drop for Leaked {
    fn drop(&mut self) {
        // SAFETY: each pointer came from `Box::into_raw`/`Box::leak` in `build`, is freed
        // once here, after the client that borrowed them was dropped.
        unsafe {
            drop(Box::from_raw(self.headers));
            drop(Box::from_raw(self.strings));
            drop(Box::from_raw(self.arena));
        }
    }
}

/// Reads a C configuration and makes a client (not started).
///
/// # Safety
/// The configuration's pointers must be valid as its fields say.
unsafe fn build(c: &sio_client_config, seed: [u8; 32]) -> Result<(Cl, Leaked), sio_result> {
    let opt = |p: *const c_char| -> Result<String, sio_result> {
        if p.is_null() {
            Ok(String::new())
        } else {
            // SAFETY: NUL-terminated per the contract.
            unsafe { text(p) }.map(String::from)
        }
    };
    // SAFETY: per the contract.
    let host = unsafe { text(c.host) }?.to_owned();
    let path = if c.path.is_null() {
        String::from(ClientConfig::new("").path)
    } else {
        opt(c.path)?
    };
    let query = opt(c.query)?;
    // SAFETY: arrays of `headers_len` strings per the contract.
    let (names, values) = unsafe {
        (
            strings(c.header_names, c.headers_len)?,
            strings(c.header_values, c.headers_len)?,
        )
    };
    let names: Vec<String> = names.into_iter().map(String::from).collect();
    let values: Vec<Vec<u8>> = values.into_iter().map(|v| v.as_bytes().to_vec()).collect();
    let strings: &'static mut (String, String, String, Vec<String>, Vec<Vec<u8>>) =
        Box::leak(Box::new((host, path, query, names, values)));
    let strings_ptr: *mut _ = strings;
    // SAFETY: the box was just leaked; it is only read from now on, until `Leaked` frees it
    // after the client.
    let strings: &'static (String, String, String, Vec<String>, Vec<Vec<u8>>) =
        unsafe { &*strings_ptr };
    let headers: &'static mut [Header<'static>] = Box::leak(
        strings
            .3
            .iter()
            .zip(&strings.4)
            .map(|(n, v)| Header {
                name: n.as_str(),
                value: v.as_slice(),
            })
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    let headers_ptr: *mut [Header<'static>] = headers;
    let config = ClientConfig {
        host: &strings.0,
        path: &strings.1,
        query: &strings.2,
        // SAFETY: leaked above, freed by `Leaked` after the client.
        headers: unsafe { &*headers_ptr },
        transports: match c.transports {
            SIO_TRANSPORTS_WEBSOCKET => Transports::WebSocket,
            SIO_TRANSPORTS_POLLING => Transports::Polling,
            _ => Transports::PollingThenWebSocket,
        },
        reconnection: Reconnection {
            enabled: c.reconnection,
            attempts: c.reconnection_attempts,
            delay_ms: c.reconnection_delay_ms,
            delay_max_ms: c.reconnection_delay_max_ms,
            randomization_permille: c.randomization_permille,
        },
        connect_timeout_ms: c.connect_timeout_ms,
        rx_capacity: c.rx_capacity,
        outbox_capacity: c.outbox_capacity,
        binary_capacity: c.binary_capacity,
        namespace_capacity: c.namespace_capacity,
    };
    let arena: &'static mut [u8] = Box::leak(std::vec![0u8; config.arena_len()].into_boxed_slice());
    let arena_ptr: *mut [u8] = arena;
    let leaked = Leaked {
        arena: arena_ptr,
        strings: strings_ptr,
        headers: headers_ptr,
    };
    // SAFETY: leaked above; only the client uses it; freed by `Leaked` after the client.
    match Client::new(config, unsafe { &mut *arena_ptr }, seed) {
        Ok(client) => Ok((client, leaked)),
        Err(_) => Err(SIO_INVALID_ARGUMENT),
    }
}

/// A client and its memory. Field order matters: the client drops first.
struct OwnedClient {
    client: Cl,
    _leaked: Leaked,
}

enum ClientInner {
    Owned(Box<OwnedClient>),
    /// The client of a running `sio_client_loop`, lent for one callback.
    Lent(*mut Cl),
}

/// A sans-IO client (opaque).
pub struct sio_client {
    inner: ClientInner,
    /// Payload buffer of the current event.
    events: Vec<u8>,
    /// Attachment views of the current event.
    attachments: Vec<sio_bytes>,
}

impl core::fmt::Debug for sio_client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("sio_client").finish_non_exhaustive()
    }
}

impl sio_client {
    fn client(&mut self) -> &mut Cl {
        match &mut self.inner {
            ClientInner::Owned(o) => &mut o.client,
            // SAFETY: a lent client is only reachable during the callback that lent it,
            // while the loop does not touch it.
            ClientInner::Lent(p) => unsafe { &mut **p },
        }
    }
}

impl From<CommandError> for sio_result {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::TooManyNamespaces
            | CommandError::NamespaceSpace
            | CommandError::TooManyAcks => SIO_TABLE_FULL,
            CommandError::OutboxFull { .. } => SIO_BUFFER_TOO_SMALL,
            CommandError::InvalidNamespace | CommandError::ReservedName => SIO_INVALID_NAME,
            CommandError::UnknownNamespace => SIO_UNKNOWN_NAMESPACE,
            CommandError::InvalidAuth | CommandError::InvalidJson(_) => SIO_INVALID_JSON,
            CommandError::AttachmentMismatch => SIO_ATTACHMENT_MISMATCH,
            _ => SIO_WRONG_STATE,
        }
    }
}

/// Creates a client with `config`, its WebSocket masks and ids drawn from the 32 bytes at
/// `seed` (take them from a real entropy source). It starts idle: `sio_client_connect`
/// the namespaces, then `sio_client_start`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_new(
    config: *const sio_client_config,
    seed: *const u8,
    out: *mut *mut sio_client,
) -> sio_result {
    boundary(SIO_PANIC, || {
        if config.is_null() || seed.is_null() || out.is_null() {
            return SIO_NULL_ARGUMENT;
        }
        // SAFETY: `seed` points to 32 readable bytes.
        let key = unsafe { crate::seed(seed) };
        // SAFETY: a caller's configuration, valid per the contract.
        let (client, leaked) = match unsafe { build(&*config, key) } {
            Ok(x) => x,
            Err(e) => return e,
        };
        let events = std::vec![0u8; client.event_buf_len()];
        let handle = Box::new(sio_client {
            inner: ClientInner::Owned(Box::new(OwnedClient {
                client,
                _leaked: leaked,
            })),
            events,
            attachments: Vec::new(),
        });
        // SAFETY: checked non-NULL.
        unsafe { out.write(Box::into_raw(handle)) };
        SIO_OK
    })
}

/// Destroys a client made by `sio_client_new` (`NULL` is ignored).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_free(c: *mut sio_client) {
    boundary((), || {
        // SAFETY: a live handle or NULL, per the contract.
        let Some(handle) = (unsafe { c.as_ref() }) else {
            return;
        };
        if let ClientInner::Lent(_) = handle.inner {
            // A lent handle lives on the loop's stack: it is the loop's, never freed here.
            return;
        }
        // SAFETY: an owned handle is made by `sio_client_new` with `Box::into_raw`, freed
        // once.
        drop(unsafe { Box::from_raw(c) });
    });
}

/// Starts the first attempt (or a new one after giving up or `sio_client_close`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_start(c: *mut sio_client, now_ms: u64) -> sio_result {
    with(c, |h| {
        h.client().start(Instant::from_millis(now_ms));
        Ok(SIO_OK)
    })
}

/// Asks to join namespace `ns` (`"/"`, `"/chat"`) with an auth JSON object (`auth_len`
/// bytes at `auth`; 0 for none); writes its index. The answer is a
/// `SIO_CLIENT_EVENT_CONNECT` or `SIO_CLIENT_EVENT_CONNECT_ERROR` event.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_connect(
    c: *mut sio_client,
    ns: *const c_char,
    auth: *const u8,
    auth_len: usize,
    out_ns: *mut u32,
) -> sio_result {
    with(c, |h| {
        // SAFETY: NUL-terminated per the contract.
        let name = unsafe { text(ns) }?;
        // SAFETY: `auth_len` readable bytes or NULL with 0.
        let auth = unsafe { bytes(auth, auth_len) }.ok_or(SIO_NULL_ARGUMENT)?;
        let id = h
            .client()
            .connect(name, (!auth.is_empty()).then_some(auth))?;
        // SAFETY: a caller's `uint32_t` or NULL.
        Ok(unsafe { put(out_ns, id.index() as u32) })
    })
}

/// Leaves namespace `ns` (a `SIO_CLIENT_EVENT_DISCONNECT` follows).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_disconnect(c: *mut sio_client, ns: u32) -> sio_result {
    with(c, |h| {
        h.client().disconnect(ns_id(ns)?)?;
        Ok(SIO_OK)
    })
}

/// Ends the session for good (no reconnection).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_close(c: *mut sio_client, now_ms: u64) -> sio_result {
    with(c, |h| {
        h.client().close(Instant::from_millis(now_ms));
        Ok(SIO_OK)
    })
}

fn ns_id(ns: u32) -> Result<NsId, sio_result> {
    u8::try_from(ns)
        .map(NsId::from_index)
        .map_err(|_| SIO_UNKNOWN_NAMESPACE)
}

/// Emits event `name` with `args` (`NULL`: none; binary arguments as
/// `{"_placeholder":true,"num":k}` with their blobs). While the namespace is not joined the
/// packet waits and goes out once it is. `SIO_BUFFER_TOO_SMALL` here (and in the other
/// emits and `sio_client_ack`) means the outbox (`outbox_capacity`) has no room for the
/// packet now; nothing is written, as the room needed depends on what waits before it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_emit(
    c: *mut sio_client,
    ns: u32,
    name: *const c_char,
    args: *const sio_args,
) -> sio_result {
    with(c, |h| {
        // SAFETY: NUL-terminated per the contract.
        let name = unsafe { text(name) }?;
        let ns = ns_id(ns)?;
        // SAFETY: `args` per the contract.
        unsafe {
            with_args(args, |a| {
                h.client().emit(ns, name, a)?;
                Ok(SIO_OK)
            })
        }
    })
}

/// Like `sio_client_emit`, but asks for an acknowledgement: writes its id; the answer is a
/// `SIO_CLIENT_EVENT_ACK`, or `SIO_CLIENT_EVENT_ACK_FAILED` after `timeout_ms`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_emit_with_ack(
    c: *mut sio_client,
    ns: u32,
    name: *const c_char,
    args: *const sio_args,
    timeout_ms: u64,
    now_ms: u64,
    out_id: *mut u64,
) -> sio_result {
    with(c, |h| {
        if out_id.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        // SAFETY: NUL-terminated per the contract.
        let name = unsafe { text(name) }?;
        let ns = ns_id(ns)?;
        let now = Instant::from_millis(now_ms);
        // SAFETY: `args` per the contract.
        let id = unsafe {
            with_args(args, |a| {
                Ok(h.client().emit_with_ack(ns, name, a, timeout_ms, now)?)
            })
        }?;
        // SAFETY: checked non-NULL.
        Ok(unsafe { put(out_id, id.0) })
    })
}

/// Answers a `SIO_CLIENT_EVENT_MESSAGE` that has `has_ack`, with `args` (`NULL`: none).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_ack(
    c: *mut sio_client,
    ns: u32,
    ack_id: u64,
    args: *const sio_args,
) -> sio_result {
    with(c, |h| {
        let ns = ns_id(ns)?;
        // SAFETY: `args` per the contract.
        unsafe {
            with_args(args, |a| {
                h.client().ack(ns, AckId(ack_id), a)?;
                Ok(SIO_OK)
            })
        }
    })
}

/// A client's TCP streams.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sio_client_stream {
    /// The polling GET requests.
    SIO_STREAM_POLL = 0,
    /// The polling POST requests.
    SIO_STREAM_POST = 1,
    /// The WebSocket.
    SIO_STREAM_WEBSOCKET = 2,
}

pub use sio_client_stream::*;

fn stream(s: sio_client_stream) -> Stream {
    match s {
        SIO_STREAM_POLL => Stream::Poll,
        SIO_STREAM_POST => Stream::Post,
        SIO_STREAM_WEBSOCKET => Stream::WebSocket,
    }
}

/// What the driver must do, from `sio_client_poll_io`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sio_io_kind {
    /// Open a TCP connection to the server for `stream`, then call `sio_client_connected`
    /// or `sio_client_connect_failed`.
    SIO_IO_CONNECT = 1,
    /// Write the first `len` bytes of the buffer on `stream`, all of them, in order.
    SIO_IO_SEND = 2,
    /// Close `stream` once what was handed out for it is written.
    SIO_IO_CLOSE = 3,
}

pub use sio_io_kind::*;

/// One thing to do, from `sio_client_poll_io`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sio_client_io {
    /// What.
    pub kind: sio_io_kind,
    /// On which stream.
    pub stream: sio_client_stream,
    /// `SIO_IO_SEND`: bytes at the start of the buffer.
    pub len: usize,
}

/// The size of buffer `sio_client_poll_io` needs for the largest packet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_out_len(c: *mut sio_client, out: *mut usize) -> sio_result {
    with(c, |h| {
        let n = h.client().config().out_len();
        // SAFETY: a caller's `size_t` or NULL.
        Ok(unsafe { put(out, n) })
    })
}

/// The next thing to do, bytes written into `buf` (`cap` bytes, `sio_client_out_len` is
/// enough): `SIO_OK` with `out` filled, or `SIO_EMPTY`. Call until `SIO_EMPTY`, and again
/// after every other call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_poll_io(
    c: *mut sio_client,
    buf: *mut u8,
    cap: usize,
    out: *mut sio_client_io,
) -> sio_result {
    with(c, |h| {
        if out.is_null() || (buf.is_null() && cap > 0) {
            return Err(SIO_NULL_ARGUMENT);
        }
        let b: &mut [u8] = if cap == 0 {
            &mut []
        } else {
            // SAFETY: `cap` writable bytes per the contract.
            unsafe { core::slice::from_raw_parts_mut(buf, cap) }
        };
        let Some(io) = h.client().poll_io(b) else {
            return Ok(SIO_EMPTY);
        };
        let s = |s: Stream| match s {
            Stream::Poll => SIO_STREAM_POLL,
            Stream::Post => SIO_STREAM_POST,
            Stream::WebSocket => SIO_STREAM_WEBSOCKET,
        };
        let v = match io {
            Io::Connect(st) => sio_client_io {
                kind: SIO_IO_CONNECT,
                stream: s(st),
                len: 0,
            },
            Io::Send { stream, len } => sio_client_io {
                kind: SIO_IO_SEND,
                stream: s(stream),
                len,
            },
            Io::Close(st) => sio_client_io {
                kind: SIO_IO_CLOSE,
                stream: s(st),
                len: 0,
            },
        };
        // SAFETY: checked non-NULL.
        Ok(unsafe { put(out, v) })
    })
}

/// The driver connected `stream`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_connected(
    c: *mut sio_client,
    s: sio_client_stream,
    now_ms: u64,
) -> sio_result {
    with(c, |h| {
        h.client()
            .connected(stream(s), Instant::from_millis(now_ms));
        Ok(SIO_OK)
    })
}

/// The driver could not connect `stream`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_connect_failed(
    c: *mut sio_client,
    s: sio_client_stream,
    now_ms: u64,
) -> sio_result {
    with(c, |h| {
        h.client()
            .connect_failed(stream(s), Instant::from_millis(now_ms));
        Ok(SIO_OK)
    })
}

/// The server closed `stream` (a read returned 0) or it failed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_closed(
    c: *mut sio_client,
    s: sio_client_stream,
    now_ms: u64,
) -> sio_result {
    with(c, |h| {
        h.client().closed(stream(s), Instant::from_millis(now_ms));
        Ok(SIO_OK)
    })
}

/// Offers `len` bytes read from `stream`; writes how many were taken. Fewer than `len`
/// means the client's buffer is full of events not taken yet: keep the rest and offer it
/// again after `sio_client_poll_event`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_recv(
    c: *mut sio_client,
    s: sio_client_stream,
    buf: *const u8,
    len: usize,
    now_ms: u64,
    out_taken: *mut usize,
) -> sio_result {
    with(c, |h| {
        // SAFETY: `len` readable bytes per the contract.
        let input = unsafe { bytes(buf, len) }.ok_or(SIO_NULL_ARGUMENT)?;
        if out_taken.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        let n = h
            .client()
            .recv(stream(s), input, Instant::from_millis(now_ms));
        // SAFETY: checked non-NULL.
        Ok(unsafe { put(out_taken, n) })
    })
}

/// The kinds of client events.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sio_client_event_kind {
    /// Namespace `ns` was joined; `name` is the socket id.
    SIO_CLIENT_EVENT_CONNECT = 1,
    /// The server refused `ns`: `name` is the message, `data` the error data (JSON, empty
    /// when none).
    SIO_CLIENT_EVENT_CONNECT_ERROR = 2,
    /// An event `name` with arguments `data` and `attachments`; `has_ack` when the server
    /// waits for `sio_client_ack` with `ack_id`.
    SIO_CLIENT_EVENT_MESSAGE = 3,
    /// The answer to `sio_client_emit_with_ack` `ack_id`: arguments `data`, `attachments`.
    SIO_CLIENT_EVENT_ACK = 4,
    /// Ack `ack_id` will not come (`reason`: `SIO_CLIENT_REASON_TIMEOUT` or
    /// `SIO_CLIENT_REASON_DISCONNECTED`).
    SIO_CLIENT_EVENT_ACK_FAILED = 5,
    /// Namespace `ns` was left (`reason`).
    SIO_CLIENT_EVENT_DISCONNECT = 6,
    /// The session moved to WebSocket.
    SIO_CLIENT_EVENT_UPGRADE = 7,
    /// The session (or an attempt) ended (`reason`; `http_status` and `http_code` for
    /// `SIO_CLIENT_REASON_HTTP`).
    SIO_CLIENT_EVENT_CLOSED = 8,
    /// Attempt `attempt` starts in `delay_ms`.
    SIO_CLIENT_EVENT_RECONNECTING = 9,
    /// Reconnection gave up after `attempt` attempts.
    SIO_CLIENT_EVENT_RECONNECT_FAILED = 10,
}

pub use sio_client_event_kind::*;

/// Why a session, a namespace or an ack ended.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sio_client_reason {
    /// Not an ending event.
    SIO_CLIENT_REASON_NONE = 0,
    /// The server closed a stream.
    SIO_CLIENT_REASON_TRANSPORT_CLOSE = 1,
    /// A stream could not connect or failed.
    SIO_CLIENT_REASON_TRANSPORT_ERROR = 2,
    /// No ping from the server in time.
    SIO_CLIENT_REASON_PING_TIMEOUT = 3,
    /// The server sent something invalid.
    SIO_CLIENT_REASON_PARSE_ERROR = 4,
    /// The server closed the session.
    SIO_CLIENT_REASON_SERVER_CLOSE = 5,
    /// `sio_client_close`.
    SIO_CLIENT_REASON_CLIENT_CLOSE = 6,
    /// The session did not open in time.
    SIO_CLIENT_REASON_CONNECT_TIMEOUT = 7,
    /// An HTTP error status (`http_status`, `http_code`).
    SIO_CLIENT_REASON_HTTP = 8,
    /// A response or message did not fit the buffers.
    SIO_CLIENT_REASON_TOO_LARGE = 9,
    /// A packet did not fit the `sio_client_poll_io` buffer.
    SIO_CLIENT_REASON_BUFFER_TOO_SMALL = 10,
    /// The server disconnected the namespace.
    SIO_CLIENT_REASON_SERVER_DISCONNECT = 100,
    /// The application left the namespace.
    SIO_CLIENT_REASON_CLIENT_DISCONNECT = 101,
    /// An ack's timeout passed.
    SIO_CLIENT_REASON_TIMEOUT = 102,
    /// An ack's namespace was left.
    SIO_CLIENT_REASON_DISCONNECTED = 103,
}

pub use sio_client_reason::*;

/// A client event. Its byte views are valid until the next call on the client handle.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sio_client_event {
    /// What happened.
    pub kind: sio_client_event_kind,
    /// The namespace index (events about a namespace).
    pub ns: u32,
    /// The event name, the socket id (connect) or the error message (connect error).
    pub name: sio_bytes,
    /// Arguments (raw JSON, comma separated) or the connect error's data.
    pub data: sio_bytes,
    /// Binary attachments, in `num` order.
    pub attachments: *const sio_bytes,
    /// How many.
    pub attachments_len: usize,
    /// The server waits for an ack.
    pub has_ack: bool,
    /// The ack id.
    pub ack_id: u64,
    /// Why (ending events).
    pub reason: sio_client_reason,
    /// `SIO_CLIENT_REASON_HTTP`: the status.
    pub http_status: u16,
    /// `SIO_CLIENT_REASON_HTTP`: the Engine.IO error code, -1 when none.
    pub http_code: i32,
    /// Reconnection attempt number.
    pub attempt: u32,
    /// Reconnection delay.
    pub delay_ms: u64,
}

fn close_reason(r: CloseReason, ev: &mut sio_client_event) -> sio_client_reason {
    match r {
        CloseReason::TransportClose => SIO_CLIENT_REASON_TRANSPORT_CLOSE,
        CloseReason::TransportError => SIO_CLIENT_REASON_TRANSPORT_ERROR,
        CloseReason::PingTimeout => SIO_CLIENT_REASON_PING_TIMEOUT,
        CloseReason::ParseError => SIO_CLIENT_REASON_PARSE_ERROR,
        CloseReason::ServerClose => SIO_CLIENT_REASON_SERVER_CLOSE,
        CloseReason::ClientClose => SIO_CLIENT_REASON_CLIENT_CLOSE,
        CloseReason::ConnectTimeout => SIO_CLIENT_REASON_CONNECT_TIMEOUT,
        CloseReason::Http { status, code } => {
            ev.http_status = status;
            ev.http_code = code.map_or(-1, i32::from);
            SIO_CLIENT_REASON_HTTP
        }
        CloseReason::TooLarge => SIO_CLIENT_REASON_TOO_LARGE,
        _ => SIO_CLIENT_REASON_BUFFER_TOO_SMALL,
    }
}

/// Turns an event into its C form; attachment views go into `views`.
fn c_event(e: &Event<'_>, views: &mut Vec<sio_bytes>) -> sio_client_event {
    views.clear();
    let mut ev = sio_client_event {
        kind: SIO_CLIENT_EVENT_CLOSED,
        ns: 0,
        name: sio_bytes::EMPTY,
        data: sio_bytes::EMPTY,
        attachments: core::ptr::null(),
        attachments_len: 0,
        has_ack: false,
        ack_id: 0,
        reason: SIO_CLIENT_REASON_NONE,
        http_status: 0,
        http_code: -1,
        attempt: 0,
        delay_ms: 0,
    };
    match *e {
        Event::Connect { ns, sid } => {
            ev.kind = SIO_CLIENT_EVENT_CONNECT;
            ev.ns = ns.index() as u32;
            ev.name = sio_bytes::of(sid.as_bytes());
        }
        Event::ConnectError { ns, message, data } => {
            ev.kind = SIO_CLIENT_EVENT_CONNECT_ERROR;
            ev.ns = ns.index() as u32;
            ev.name = sio_bytes::of(message.as_bytes());
            ev.data = sio_bytes::of(data.unwrap_or_default());
        }
        Event::Message(m) => {
            ev.kind = SIO_CLIENT_EVENT_MESSAGE;
            ev.ns = m.ns.index() as u32;
            ev.name = sio_bytes::of(m.name.as_bytes());
            ev.data = sio_bytes::of(m.args);
            ev.has_ack = m.ack.is_some();
            ev.ack_id = m.ack.map_or(0, |a| a.0);
            views.extend(m.attachments.iter().map(sio_bytes::of));
        }
        Event::Ack {
            ns,
            id,
            args,
            attachments,
        } => {
            ev.kind = SIO_CLIENT_EVENT_ACK;
            ev.ns = ns.index() as u32;
            ev.ack_id = id.0;
            ev.data = sio_bytes::of(args);
            views.extend(attachments.iter().map(sio_bytes::of));
        }
        Event::AckFailed { ns, id, reason } => {
            ev.kind = SIO_CLIENT_EVENT_ACK_FAILED;
            ev.ns = ns.index() as u32;
            ev.ack_id = id.0;
            ev.reason = match reason {
                AckFailure::Timeout => SIO_CLIENT_REASON_TIMEOUT,
                AckFailure::Disconnected => SIO_CLIENT_REASON_DISCONNECTED,
            };
        }
        Event::Disconnect { ns, reason } => {
            ev.kind = SIO_CLIENT_EVENT_DISCONNECT;
            ev.ns = ns.index() as u32;
            ev.reason = match reason {
                DisconnectReason::ServerDisconnect => SIO_CLIENT_REASON_SERVER_DISCONNECT,
                DisconnectReason::ClientDisconnect => SIO_CLIENT_REASON_CLIENT_DISCONNECT,
                DisconnectReason::Session(r) => close_reason(r, &mut ev),
            };
        }
        Event::Upgrade => ev.kind = SIO_CLIENT_EVENT_UPGRADE,
        Event::Closed { reason } => {
            ev.kind = SIO_CLIENT_EVENT_CLOSED;
            ev.reason = close_reason(reason, &mut ev);
        }
        Event::Reconnecting { attempt, delay_ms } => {
            ev.kind = SIO_CLIENT_EVENT_RECONNECTING;
            ev.attempt = attempt;
            ev.delay_ms = delay_ms;
        }
        Event::ReconnectFailed { attempts } => {
            ev.kind = SIO_CLIENT_EVENT_RECONNECT_FAILED;
            ev.attempt = attempts;
        }
        _ => {}
    }
    if !views.is_empty() {
        ev.attachments = views.as_ptr();
        ev.attachments_len = views.len();
    }
    ev
}

/// The next event: `SIO_OK` with `out` filled (views valid until the next call on `c`),
/// or `SIO_EMPTY`. Call `sio_client_poll_io` again afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_poll_event(
    c: *mut sio_client,
    out: *mut sio_client_event,
) -> sio_result {
    with(c, |h| {
        if out.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        let sio_client {
            inner,
            events,
            attachments,
        } = h;
        let ClientInner::Owned(owned) = inner else {
            // Inside a loop callback: the loop polls the events.
            return Err(SIO_WRONG_STATE);
        };
        let event = match owned.client.poll_event(events) {
            Ok(Some(e)) => e,
            Ok(None) => return Ok(SIO_EMPTY),
            Err(_) => return Err(SIO_BUFFER_TOO_SMALL),
        };
        let ev = c_event(&event, attachments);
        // SAFETY: checked non-NULL.
        Ok(unsafe { put(out, ev) })
    })
}

/// When `sio_client_handle_timeout` should next run: `SIO_OK` with `out_ms`, or
/// `SIO_EMPTY` when no timer runs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_poll_timeout(
    c: *mut sio_client,
    out_ms: *mut u64,
) -> sio_result {
    with(c, |h| match h.client().poll_timeout() {
        // SAFETY: a caller's `uint64_t` or NULL.
        Some(t) => Ok(unsafe { put(out_ms, t.as_millis()) }),
        None => Ok(SIO_EMPTY),
    })
}

/// Runs the timers due at `now_ms`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_handle_timeout(c: *mut sio_client, now_ms: u64) -> sio_result {
    with(c, |h| {
        h.client().handle_timeout(Instant::from_millis(now_ms));
        Ok(SIO_OK)
    })
}

/// Called by `sio_client_loop_run` for every event. `client` is valid only during the call:
/// use it for commands (emit, ack, connect, close), never for polling or freeing. Return
/// `false` to end the run.
pub type sio_client_event_cb = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        client: *mut sio_client,
        event: *const sio_client_event,
        now_ms: u64,
    ) -> bool,
>;

/// A ready client loop (opaque): its streams, timers, one thread.
pub struct sio_client_loop {
    driver: ClientDriver<'static, SIO_CLIENT_MAX_NAMESPACES, SIO_CLIENT_MAX_ACKS>,
    // Dropped after the driver (declared after it): the memory its client borrows.
    _leaked: Leaked,
}

impl core::fmt::Debug for sio_client_loop {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("sio_client_loop").finish_non_exhaustive()
    }
}

/// Creates a loop for a client connecting to `url` (`"http://host:port"`); `config`'s
/// `host` may be `NULL` (then the URL's is used). Ids and masks are seeded from the
/// operating system. `namespaces` (`namespaces_len` names, `NULL` for just `"/"`) are
/// joined without auth; use `sio_client_connect` in the callback for more.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_loop_new(
    config: *const sio_client_config,
    url: *const c_char,
    namespaces: *const *const c_char,
    namespaces_len: usize,
    out: *mut *mut sio_client_loop,
) -> sio_result {
    boundary(SIO_PANIC, || {
        if config.is_null() || out.is_null() {
            return SIO_NULL_ARGUMENT;
        }
        // SAFETY: NUL-terminated per the contract.
        let url = match unsafe { text(url) } {
            Ok(u) => u,
            Err(e) => return e,
        };
        let Ok(server) = ServerUrl::parse(url) else {
            return SIO_INVALID_ARGUMENT;
        };
        // SAFETY: a caller's configuration.
        let mut c = unsafe { *config };
        let host = std::ffi::CString::new(server.host.clone()).unwrap_or_default();
        if c.host.is_null() {
            c.host = host.as_ptr();
        }
        let Ok(seed) = os_seed() else {
            return SIO_IO_ERROR;
        };
        // SAFETY: the configuration's pointers per the contract; `host` lives until
        // `build` copied it.
        let (mut client, leaked) = match unsafe { build(&c, seed) } {
            Ok(x) => x,
            Err(e) => return e,
        };
        let mut names = Vec::new();
        if !namespaces.is_null() {
            // SAFETY: `namespaces_len` strings per the contract.
            match unsafe { strings(namespaces, namespaces_len) } {
                Ok(v) => names = v,
                Err(e) => return e,
            }
        }
        if names.is_empty() {
            names.push("/");
        }
        for n in names {
            if let Err(e) = client.connect(n, None) {
                return sio_result::from(e);
            }
        }
        let Ok(driver) = ClientDriver::new(client, server.addr) else {
            return SIO_IO_ERROR;
        };
        let handle = Box::new(sio_client_loop {
            driver,
            _leaked: leaked,
        });
        // SAFETY: checked non-NULL.
        unsafe { out.write(Box::into_raw(handle)) };
        SIO_OK
    })
}

/// Destroys a loop (not while it runs); `NULL` is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_loop_free(lp: *mut sio_client_loop) {
    boundary((), || {
        if !lp.is_null() {
            // SAFETY: made by `sio_client_loop_new`, freed once.
            drop(unsafe { Box::from_raw(lp) });
        }
    });
}

/// Runs until the callback returns `false`, or the client is closed for good
/// (`sio_client_close`, or reconnection gave up).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_loop_run(
    lp: *mut sio_client_loop,
    callback: sio_client_event_cb,
    userdata: *mut c_void,
) -> sio_result {
    boundary(SIO_PANIC, || {
        // SAFETY: a live loop or NULL.
        let Some(l) = (unsafe { lp.as_mut() }) else {
            return SIO_NULL_ARGUMENT;
        };
        let Some(cb) = callback else {
            return SIO_NULL_ARGUMENT;
        };
        let mut views = Vec::new();
        let mut handler =
            |client: &mut Client<'_, SIO_CLIENT_MAX_NAMESPACES, SIO_CLIENT_MAX_ACKS>,
             wake: Wake<'_, '_>,
             now: Instant|
             -> bool {
                let Wake::Event(e) = wake else {
                    return true;
                };
                let ev = c_event(e, &mut views);
                let mut lent = sio_client {
                    inner: ClientInner::Lent(
                        (client as *mut Client<'_, SIO_CLIENT_MAX_NAMESPACES, SIO_CLIENT_MAX_ACKS>)
                            .cast(),
                    ),
                    events: Vec::new(),
                    attachments: Vec::new(),
                };
                // SAFETY: the callback gets pointers valid for the call, as its contract says.
                unsafe { cb(userdata, &mut lent, &ev, now.as_millis()) }
            };
        match l.driver.run(&mut handler) {
            Ok(()) => SIO_OK,
            Err(_) => SIO_IO_ERROR,
        }
    })
}
