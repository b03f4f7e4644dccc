//! The client for C: the sans-IO `sio_client_*` and the ready loop `sio_client_loop_*`.

use core::ffi::{c_char, c_void};
#[cfg(feature = "std")]
use std::boxed::Box;
#[cfg(feature = "std")]
use std::string::String;
#[cfg(feature = "std")]
use std::vec::Vec;

use siocore::Instant;
use siocore::client::{
    AckFailure, AckId, Client, ClientConfig, CloseReason, CommandError, ConnectFailure,
    DisconnectReason, Event, Io, NamespaceId, Parser, Reconnection, Stream, Transports,
};
use siocore::http::Header;

use crate::memory::{Buf, Carve};
use crate::server::{sio_args, with_args};
use crate::{
    SIO_ATTACHMENT_MISMATCH, SIO_BUFFER_TOO_SMALL, SIO_EMPTY, SIO_INVALID_ARGUMENT,
    SIO_INVALID_JSON, SIO_INVALID_NAME, SIO_NULL_ARGUMENT, SIO_OK, SIO_PANIC, SIO_TABLE_FULL,
    SIO_UNKNOWN_NAMESPACE, SIO_WRONG_STATE, boundary, bytes, put, sio_bytes, sio_result, text,
    with, with_ref,
};

/// Namespaces a C client can be in at once.
pub const SIO_CLIENT_MAX_NAMESPACES: usize = 8;
/// Acknowledgements a C client can await at once.
pub const SIO_CLIENT_MAX_ACKS: usize = 64;

pub(crate) type Cl = Client<'static, SIO_CLIENT_MAX_NAMESPACES, SIO_CLIENT_MAX_ACKS>;

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
    /// Speak Engine.IO v3 / Socket.IO protocol v4, to a socket.io 2.x server (false): the
    /// client pings, `/` is joined by the server itself (connect it before
    /// `sio_client_start`), a namespace's auth object (flat values) goes as the query of
    /// its CONNECT. `SIO_UNSUPPORTED` from the constructors in a build without it.
    pub eio3: bool,
    /// Speak the msgpack parser (`socket.io-msgpack-parser`), to a server started with it
    /// (false): a packet is one `MessagePack` map in one binary message. The events and
    /// calls stay the same (arguments as JSON with placeholders and attachments); every
    /// packet received is put together in that form in the `binary_capacity` buffer, and
    /// one that does not fit closes the session (`SIO_CLIENT_REASON_TOO_LARGE`). Not with
    /// `eio3` (`SIO_INVALID_ARGUMENT`); `SIO_UNSUPPORTED` from the constructors in a build
    /// without it.
    pub msgpack_parser: bool,
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
            eio3: d.eio3,
            msgpack_parser: d.parser == Parser::MsgPack,
        };
        // SAFETY: a caller's `sio_client_config` or NULL.
        unsafe { put(out, c) }
    })
}

/// The strings of a C client configuration, borrowed for the call.
struct ClientText<'c> {
    host: &'c str,
    path: &'c str,
    query: &'c str,
    names: &'c [*const c_char],
    values: &'c [*const c_char],
}

impl<'c> ClientText<'c> {
    /// # Safety
    /// The pointers in `c` must be valid as `sio_client_config` documents, for `'c`.
    unsafe fn read(c: &'c sio_client_config) -> Result<Self, sio_result> {
        let opt = |p: *const c_char, default: &'c str| -> Result<&'c str, sio_result> {
            if p.is_null() {
                Ok(default)
            } else {
                // SAFETY: NUL-terminated per the contract.
                unsafe { text(p) }
            }
        };
        let list = |p: *const *const c_char| -> Result<&'c [*const c_char], sio_result> {
            if c.headers_len == 0 {
                Ok(&[])
            } else if p.is_null() {
                Err(SIO_NULL_ARGUMENT)
            } else {
                // SAFETY: `headers_len` string pointers per the contract.
                Ok(unsafe { core::slice::from_raw_parts(p, c.headers_len) })
            }
        };
        Ok(Self {
            // SAFETY: per the contract.
            host: unsafe { text(c.host) }?,
            path: opt(c.path, ClientConfig::new("").path)?,
            query: opt(c.query, "")?,
            names: list(c.header_names)?,
            values: list(c.header_values)?,
        })
    }

    /// Extra header `i`: its name and value.
    ///
    /// # Safety
    /// As [`read`](Self::read).
    unsafe fn header(&self, i: usize) -> Result<(&'c str, &'c str), sio_result> {
        let (Some(&n), Some(&v)) = (self.names.get(i), self.values.get(i)) else {
            return Err(SIO_INVALID_ARGUMENT);
        };
        // SAFETY: NUL-terminated per the contract.
        unsafe { Ok((text(n)?, text(v)?)) }
    }
}

/// A client configuration from a C one and the strings given.
fn settings(
    c: &sio_client_config,
    host: &'static str,
    path: &'static str,
    query: &'static str,
    headers: &'static [Header<'static>],
) -> ClientConfig<'static> {
    ClientConfig {
        host,
        path,
        query,
        headers,
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
        eio3: c.eio3,
        parser: if c.msgpack_parser {
            Parser::MsgPack
        } else {
            Parser::Json
        },
    }
}

/// The result for a configuration the client refuses.
fn client_config_error(e: siocore::client::ConfigError) -> sio_result {
    match e {
        siocore::client::ConfigError::Eio3NotCompiled
        | siocore::client::ConfigError::MsgPackNotCompiled => crate::SIO_UNSUPPORTED,
        _ => SIO_INVALID_ARGUMENT,
    }
}

/// Attachment views a client handle keeps: the most a received packet may carry.
pub(crate) const CLIENT_VIEWS: usize = siocore::sio::Config::CLIENT.max_attachments;

/// Memory a heap client owns: its arena and the strings its configuration borrows. Freed
/// after the client (it is declared after the client in every owner).
#[cfg(feature = "std")]
pub(crate) struct Leaked {
    arena: *mut [u8],
    strings: *mut (String, String, String, Vec<String>, Vec<Vec<u8>>),
    headers: *mut [Header<'static>],
}

#[cfg(feature = "std")]
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

/// Reads a C configuration and makes a client on the heap (not started).
///
/// # Safety
/// The configuration's pointers must be valid as its fields say.
#[cfg(feature = "std")]
pub(crate) unsafe fn build(
    c: &sio_client_config,
    seed: [u8; 32],
) -> Result<(Cl, Leaked), sio_result> {
    // SAFETY: per the contract.
    let t = unsafe { ClientText::read(c) }?;
    let mut names = Vec::new();
    let mut values = Vec::new();
    for i in 0..t.names.len() {
        // SAFETY: per the contract.
        let (n, v) = unsafe { t.header(i) }?;
        names.push(String::from(n));
        values.push(v.as_bytes().to_vec());
    }
    let strings: &'static mut (String, String, String, Vec<String>, Vec<Vec<u8>>) = Box::leak(
        Box::new((t.host.into(), t.path.into(), t.query.into(), names, values)),
    );
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
    // SAFETY: leaked above, freed by `Leaked` after the client.
    let config = settings(c, &strings.0, &strings.1, &strings.2, unsafe {
        &*headers_ptr
    });
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
        Err(e) => Err(client_config_error(e)),
    }
}

/// Lays a client out in `carve`: the handle, its arena, its event buffers and copies of its
/// configuration's strings. When `carve` only measures, it counts the room and returns
/// null.
///
/// # Safety
/// The configuration's pointers must be valid as its fields say.
unsafe fn place(
    c: &sio_client_config,
    carve: &mut Carve,
    seed: [u8; 32],
) -> Result<*mut sio_client, sio_result> {
    // SAFETY: per the contract.
    let t = unsafe { ClientText::read(c) }?;
    let handle = carve.one::<sio_client>()?;
    let host = carve.text(t.host)?;
    let path = carve.text(t.path)?;
    let query = carve.text(t.query)?;
    let mut headers = carve.slice(t.names.len(), || Header {
        name: "",
        value: &[],
    })?;
    for i in 0..t.names.len() {
        // SAFETY: per the contract.
        let (n, v) = unsafe { t.header(i) }?;
        let (name, value) = (carve.text(n)?, carve.text(v)?);
        if let Some(slot) = headers.as_deref_mut().and_then(|h| h.get_mut(i)) {
            *slot = Header {
                name,
                value: value.as_bytes(),
            };
        }
    }
    let arena = carve.slice(settings(c, "", "", "", &[]).arena_len(), || 0u8)?;
    let events = carve.slice(c.rx_capacity.max(c.binary_capacity), || 0u8)?;
    let views = carve.slice(CLIENT_VIEWS, || sio_bytes::EMPTY)?;
    let (Some(headers), Some(arena), Some(events), Some(views)) = (headers, arena, events, views)
    else {
        // Measuring.
        return Ok(core::ptr::null_mut());
    };
    let config = settings(c, host, path, query, headers);
    let client = Client::new(config, arena, seed).map_err(client_config_error)?;
    // SAFETY: `handle` is room for one aligned `sio_client` in the block (`Carve::one`).
    unsafe {
        handle.write(sio_client {
            inner: ClientInner::Placed(client),
            events: Buf::lent(events),
            attachments: Buf::lent(views),
        });
    }
    Ok(handle)
}

/// A heap client and its memory. Field order matters: the client drops first.
#[cfg(feature = "std")]
pub(crate) struct OwnedClient {
    client: Cl,
    _leaked: Leaked,
}

// A client in lent memory sits in the handle itself: no allocator to box it.
#[allow(clippy::large_enum_variant)]
pub(crate) enum ClientInner {
    /// Made by `sio_client_new`, on the heap.
    #[cfg(feature = "std")]
    Owned(Box<OwnedClient>),
    /// Made by `sio_client_new_in`, in the caller's memory.
    Placed(Cl),
    /// The client of a running `sio_client_loop`, lent for one callback.
    #[cfg(feature = "std")]
    Lent(*mut Cl),
}

/// A sans-IO client (opaque).
pub struct sio_client {
    pub(crate) inner: ClientInner,
    /// Payload buffer of the current event.
    pub(crate) events: Buf<u8>,
    /// Attachment views of the current event.
    pub(crate) attachments: Buf<sio_bytes>,
}

impl core::fmt::Debug for sio_client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("sio_client").finish_non_exhaustive()
    }
}

impl sio_client {
    fn client_ref(&self) -> &Cl {
        match &self.inner {
            #[cfg(feature = "std")]
            ClientInner::Owned(o) => &o.client,
            ClientInner::Placed(c) => c,
            // SAFETY: a lent client is only reachable during the callback that lent it,
            // while the loop does not touch it.
            #[cfg(feature = "std")]
            ClientInner::Lent(p) => unsafe { &**p },
        }
    }

    fn client(&mut self) -> &mut Cl {
        match &mut self.inner {
            #[cfg(feature = "std")]
            ClientInner::Owned(o) => &mut o.client,
            ClientInner::Placed(c) => c,
            // SAFETY: a lent client is only reachable during the callback that lent it,
            // while the loop does not touch it.
            #[cfg(feature = "std")]
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

/// Creates a client with `config` on the heap, its WebSocket masks and ids drawn from the
/// 32 bytes at `seed` (take them from a real entropy source). It starts idle:
/// `sio_client_connect` the namespaces, then `sio_client_start`. Not in a bare-metal build
/// (see `sio_client_new_in`).
#[cfg(feature = "std")]
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
            events: Buf::heap(events),
            attachments: Buf::heap(std::vec![sio_bytes::EMPTY; CLIENT_VIEWS]),
        });
        // SAFETY: checked non-NULL.
        unsafe { out.write(Box::into_raw(handle)) };
        SIO_OK
    })
}

/// Writes how many bytes `sio_client_new_in` needs for `config`: the handle, the client's
/// buffers, the event buffer and copies of the configuration's strings. It measures only:
/// the configuration is checked by `sio_client_new_in`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_memory_size(
    config: *const sio_client_config,
    out: *mut usize,
) -> sio_result {
    boundary(SIO_PANIC, || {
        // SAFETY: NULL or a caller's configuration.
        let Some(c) = (unsafe { config.as_ref() }) else {
            return SIO_NULL_ARGUMENT;
        };
        let mut carve = Carve::measure();
        // SAFETY: the configuration's pointers are valid per the contract.
        if let Err(e) = unsafe { place(c, &mut carve, [0; 32]) } {
            return e;
        }
        // SAFETY: a caller's `size_t` or NULL.
        unsafe { put(out, carve.used()) }
    })
}

/// Creates a client in `len` bytes of the caller's memory at `memory` (aligned to
/// `SIO_MEMORY_ALIGN`, at least `sio_client_memory_size`); no allocator is used. The memory
/// must stay untouched until `sio_client_free`, which frees nothing. Otherwise as
/// `sio_client_new`. `SIO_BUFFER_TOO_SMALL` when `len` is short (no size is written: ask
/// `sio_client_memory_size`), `SIO_INVALID_ARGUMENT` when `memory` is misaligned or the
/// configuration is refused.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_new_in(
    config: *const sio_client_config,
    memory: *mut c_void,
    len: usize,
    seed: *const u8,
    out: *mut *mut sio_client,
) -> sio_result {
    boundary(SIO_PANIC, || {
        if config.is_null() || seed.is_null() || out.is_null() {
            return SIO_NULL_ARGUMENT;
        }
        // SAFETY: `seed` points to 32 readable bytes.
        let key = unsafe { crate::seed(seed) };
        // SAFETY: `memory` is `len` writable bytes the caller lends until the free.
        let mut carve = match unsafe { Carve::over(memory.cast(), len) } {
            Ok(c) => c,
            Err(e) => return e,
        };
        // SAFETY: a caller's configuration, valid per the contract.
        match unsafe { place(&*config, &mut carve, key) } {
            Ok(handle) => {
                // SAFETY: checked non-NULL.
                unsafe { out.write(handle) };
                SIO_OK
            }
            Err(e) => e,
        }
    })
}

/// Destroys a client made by `sio_client_new` or `sio_client_new_in` (`NULL` is ignored).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_free(c: *mut sio_client) {
    boundary((), || {
        // SAFETY: a live handle or NULL, per the contract.
        let Some(handle) = (unsafe { c.as_ref() }) else {
            return;
        };
        match handle.inner {
            // A lent handle lives on the loop's stack: it is the loop's, never freed here.
            #[cfg(feature = "std")]
            ClientInner::Lent(_) => {}
            // SAFETY: in the caller's memory: dropped in place (nothing there owns heap
            // memory), the memory stays the caller's.
            ClientInner::Placed(_) => unsafe { core::ptr::drop_in_place(c) },
            // SAFETY: an owned handle is made by `sio_client_new` with `Box::into_raw`,
            // freed once.
            #[cfg(feature = "std")]
            ClientInner::Owned(_) => drop(unsafe { Box::from_raw(c) }),
        }
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

/// Asks to join namespace `name` (`"/"`, `"/chat"`) with an auth JSON object (`auth_len`
/// bytes at `auth`; 0 for none); writes its index to `out_namespace_index`. The answer is a
/// `SIO_CLIENT_EVENT_CONNECT` or `SIO_CLIENT_EVENT_CONNECT_ERROR` event.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_connect(
    c: *mut sio_client,
    name: *const c_char,
    auth: *const u8,
    auth_len: usize,
    out_namespace_index: *mut u32,
) -> sio_result {
    with(c, |h| {
        // SAFETY: NUL-terminated per the contract.
        let name = unsafe { text(name) }?;
        // SAFETY: `auth_len` readable bytes or NULL with 0.
        let auth = unsafe { bytes(auth, auth_len) }.ok_or(SIO_NULL_ARGUMENT)?;
        let id = h
            .client()
            .connect(name, (!auth.is_empty()).then_some(auth))?;
        // SAFETY: a caller's `uint32_t` or NULL.
        Ok(unsafe { put(out_namespace_index, id.index() as u32) })
    })
}

/// Leaves the namespace at `namespace_index` (a `SIO_CLIENT_EVENT_DISCONNECT` follows).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_disconnect(
    c: *mut sio_client,
    namespace_index: u32,
) -> sio_result {
    with(c, |h| {
        h.client().disconnect(ns_id(namespace_index)?)?;
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

fn ns_id(namespace_index: u32) -> Result<NamespaceId, sio_result> {
    u8::try_from(namespace_index)
        .map(NamespaceId::from_index)
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
    namespace_index: u32,
    name: *const c_char,
    args: *const sio_args,
) -> sio_result {
    with(c, |h| {
        // SAFETY: NUL-terminated per the contract.
        let name = unsafe { text(name) }?;
        let ns = ns_id(namespace_index)?;
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
    namespace_index: u32,
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
        let ns = ns_id(namespace_index)?;
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
    namespace_index: u32,
    ack_id: u64,
    args: *const sio_args,
) -> sio_result {
    with(c, |h| {
        let ns = ns_id(namespace_index)?;
        // SAFETY: `args` per the contract.
        unsafe {
            with_args(args, |a| {
                h.client().ack(ns, AckId(ack_id), a)?;
                Ok(SIO_OK)
            })
        }
    })
}

/// Bytes of a namespace's recovery state (`sio_client_recovery_state`): a format byte,
/// then the private session id and the last offset, each with its length.
pub const SIO_RECOVERY_STATE_LEN: usize = 67;

#[cfg(feature = "recovery")]
const _: () = assert!(SIO_RECOVERY_STATE_LEN == siocore::client::RECOVERY_STATE_LEN);

/// Copies the recovery state of namespace `namespace_index` into the
/// `SIO_RECOVERY_STATE_LEN` bytes at `out`: the session the client resumes on its next
/// CONNECT there (connection state recovery, when the server offers it). Keep it, in flash
/// say, and give it back with `sio_client_restore_recovery` to a client made after a
/// reboot. `SIO_EMPTY` when the namespace has no session to resume (the server does not
/// offer recovery, or the client left); `SIO_UNSUPPORTED` in a build without recovery.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_recovery_state(
    c: *const sio_client,
    namespace_index: u32,
    out: *mut u8,
) -> sio_result {
    with_ref(c, |h| {
        let ns = ns_id(namespace_index)?;
        if out.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        recovery_state(h.client_ref(), ns, out)
    })
}

#[cfg(feature = "recovery")]
fn recovery_state(c: &Cl, ns: NamespaceId, out: *mut u8) -> Result<sio_result, sio_result> {
    let Some(state) = c.recovery_state(ns) else {
        // An unknown namespace, or one without a session.
        c.namespace_name(ns).ok_or(SIO_UNKNOWN_NAMESPACE)?;
        return Ok(SIO_EMPTY);
    };
    // SAFETY: `out` has room for `SIO_RECOVERY_STATE_LEN` bytes per the contract; it is a
    // caller's buffer, apart from the client.
    unsafe { core::ptr::copy_nonoverlapping(state.as_ptr(), out, state.len()) };
    Ok(SIO_OK)
}

#[cfg(not(feature = "recovery"))]
fn recovery_state(_: &Cl, _: NamespaceId, _: *mut u8) -> Result<sio_result, sio_result> {
    Err(crate::SIO_UNSUPPORTED)
}

/// Gives namespace `namespace_index` the session in the `SIO_RECOVERY_STATE_LEN` bytes at
/// `state` (from `sio_client_recovery_state`, perhaps before a reboot): its next CONNECT
/// offers it, and if the server still holds it the `SIO_CLIENT_EVENT_CONNECT` says
/// `recovered`. A state whose first byte is 0 forgets the session. Call it after
/// `sio_client_connect` and before `sio_client_start` (or while reconnecting):
/// `SIO_WRONG_STATE` while the namespace is joined or joining, `SIO_INVALID_ARGUMENT` for
/// bytes that are not a state, `SIO_UNSUPPORTED` in a build without recovery.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_restore_recovery(
    c: *mut sio_client,
    namespace_index: u32,
    state: *const u8,
) -> sio_result {
    with(c, |h| {
        let ns = ns_id(namespace_index)?;
        if state.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        // SAFETY: `SIO_RECOVERY_STATE_LEN` readable bytes per the contract.
        let state = unsafe { &*state.cast::<[u8; SIO_RECOVERY_STATE_LEN]>() };
        restore_recovery(h.client(), ns, state)
    })
}

#[cfg(feature = "recovery")]
pub(crate) fn restore_recovery(
    c: &mut Cl,
    ns: NamespaceId,
    state: &[u8; SIO_RECOVERY_STATE_LEN],
) -> Result<sio_result, sio_result> {
    match c.restore_recovery(ns, state) {
        Ok(()) => Ok(SIO_OK),
        Err(CommandError::InvalidRecoveryState) => Err(SIO_INVALID_ARGUMENT),
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(feature = "recovery"))]
pub(crate) fn restore_recovery(
    _: &mut Cl,
    _: NamespaceId,
    _: &[u8; SIO_RECOVERY_STATE_LEN],
) -> Result<sio_result, sio_result> {
    Err(crate::SIO_UNSUPPORTED)
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
pub unsafe extern "C" fn sio_client_out_len(c: *const sio_client, out: *mut usize) -> sio_result {
    with_ref(c, |h| {
        let n = h.client_ref().config().out_len();
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

/// Why a stream could not connect (`sio_client_connect_failed_for`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sio_connect_failure {
    /// Anything else (`SIO_CLIENT_REASON_TRANSPORT_ERROR`).
    SIO_CONNECT_FAILURE_OTHER = 0,
    /// `ECONNREFUSED` (`SIO_CLIENT_REASON_CONNECT_REFUSED`).
    SIO_CONNECT_FAILURE_REFUSED = 1,
    /// `EHOSTUNREACH`, `ENETUNREACH`, `ENETDOWN`, `ETIMEDOUT`
    /// (`SIO_CLIENT_REASON_UNREACHABLE`).
    SIO_CONNECT_FAILURE_UNREACHABLE = 2,
    /// The TLS handshake failed (`SIO_CLIENT_REASON_TLS`).
    SIO_CONNECT_FAILURE_TLS = 3,
}

pub use sio_connect_failure::*;

/// Like `sio_client_connect_failed`, saying why: the attempt's `SIO_CLIENT_EVENT_CLOSED`
/// then has the matching reason.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_connect_failed_for(
    c: *mut sio_client,
    s: sio_client_stream,
    why: sio_connect_failure,
    now_ms: u64,
) -> sio_result {
    with(c, |h| {
        let why = match why {
            SIO_CONNECT_FAILURE_REFUSED => ConnectFailure::Refused,
            SIO_CONNECT_FAILURE_UNREACHABLE => ConnectFailure::Unreachable,
            SIO_CONNECT_FAILURE_TLS => ConnectFailure::Tls,
            SIO_CONNECT_FAILURE_OTHER => ConnectFailure::Other,
        };
        h.client()
            .connect_failed_for(stream(s), why, Instant::from_millis(now_ms));
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
    /// The namespace at `namespace_index` was joined; `name` is the socket id.
    SIO_CLIENT_EVENT_CONNECT = 1,
    /// The server refused the namespace: `name` is the message, `data` the error data (JSON, empty
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
    /// The namespace was left (`reason`).
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
    /// A stream's TLS failed (`sio_client_loop` on an `https://` URL): `tls_error` says what
    /// (`SIO_TLS_UNTRUSTED_CERTIFICATE`, `SIO_TLS_NAME_MISMATCH`, …), `name` in words. The
    /// client hears of the failed stream right after, and retries as for any lost
    /// connection; return `false` to give up instead.
    SIO_CLIENT_EVENT_TLS_ERROR = 11,
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
    /// The server's host refused the connection (nothing listens there).
    SIO_CLIENT_REASON_CONNECT_REFUSED = 11,
    /// The server could not be reached (no route, the network down, no answer).
    SIO_CLIENT_REASON_UNREACHABLE = 12,
    /// The TLS handshake failed (a ready loop also reports why, as
    /// `SIO_CLIENT_EVENT_TLS_ERROR`).
    SIO_CLIENT_REASON_TLS = 13,
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

/// A client event. Its byte views are valid until the next `sio_client_poll_event` on the
/// client handle, or its free (commands such as `sio_client_ack` may take them).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sio_client_event {
    /// What happened.
    pub kind: sio_client_event_kind,
    /// The namespace index (events about a namespace).
    pub namespace_index: u32,
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
    /// `SIO_CLIENT_EVENT_CONNECT`: the server gave back the session this client lost
    /// (connection state recovery): the same socket id and rooms; the events it missed came
    /// before this event.
    pub recovered: bool,
    /// `SIO_CLIENT_EVENT_TLS_ERROR`: which failure; `SIO_OK` for the other events.
    pub tls_error: sio_result,
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
        CloseReason::ConnectRefused => SIO_CLIENT_REASON_CONNECT_REFUSED,
        CloseReason::Unreachable => SIO_CLIENT_REASON_UNREACHABLE,
        CloseReason::Tls => SIO_CLIENT_REASON_TLS,
        _ => SIO_CLIENT_REASON_BUFFER_TOO_SMALL,
    }
}

/// Turns an event into its C form; attachment views go into `views` (as many as fit: it
/// has room for every attachment a received packet may carry).
pub(crate) fn c_event(e: &Event<'_>, views: &mut [sio_bytes]) -> sio_client_event {
    let mut count = 0;
    let mut ev = sio_client_event {
        kind: SIO_CLIENT_EVENT_CLOSED,
        namespace_index: 0,
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
        recovered: false,
        tls_error: SIO_OK,
    };
    match *e {
        Event::Connect {
            namespace: ns,
            sid,
            recovered,
        } => {
            ev.kind = SIO_CLIENT_EVENT_CONNECT;
            ev.recovered = recovered;
            ev.namespace_index = ns.index() as u32;
            ev.name = sio_bytes::of(sid.as_bytes());
        }
        Event::ConnectError {
            namespace: ns,
            message,
            data,
        } => {
            ev.kind = SIO_CLIENT_EVENT_CONNECT_ERROR;
            ev.namespace_index = ns.index() as u32;
            ev.name = sio_bytes::of(message.as_bytes());
            ev.data = sio_bytes::of(data.unwrap_or_default());
        }
        Event::Message(m) => {
            ev.kind = SIO_CLIENT_EVENT_MESSAGE;
            ev.namespace_index = m.namespace.index() as u32;
            ev.name = sio_bytes::of(m.name.as_bytes());
            ev.data = sio_bytes::of(m.args);
            ev.has_ack = m.ack.is_some();
            ev.ack_id = m.ack.map_or(0, |a| a.0);
            debug_assert!(m.attachments.len() <= views.len(), "a view per attachment");
            for (slot, blob) in views.iter_mut().zip(m.attachments.iter()) {
                *slot = sio_bytes::of(blob);
                count += 1;
            }
        }
        Event::Ack {
            namespace: ns,
            id,
            args,
            attachments,
        } => {
            ev.kind = SIO_CLIENT_EVENT_ACK;
            ev.namespace_index = ns.index() as u32;
            ev.ack_id = id.0;
            ev.data = sio_bytes::of(args);
            debug_assert!(attachments.len() <= views.len(), "a view per attachment");
            for (slot, blob) in views.iter_mut().zip(attachments.iter()) {
                *slot = sio_bytes::of(blob);
                count += 1;
            }
        }
        Event::AckFailed {
            namespace: ns,
            id,
            reason,
        } => {
            ev.kind = SIO_CLIENT_EVENT_ACK_FAILED;
            ev.namespace_index = ns.index() as u32;
            ev.ack_id = id.0;
            ev.reason = match reason {
                AckFailure::Timeout => SIO_CLIENT_REASON_TIMEOUT,
                AckFailure::Disconnected => SIO_CLIENT_REASON_DISCONNECTED,
            };
        }
        Event::Disconnect {
            namespace: ns,
            reason,
        } => {
            ev.kind = SIO_CLIENT_EVENT_DISCONNECT;
            ev.namespace_index = ns.index() as u32;
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
    if count > 0 {
        ev.attachments = views.as_ptr();
        ev.attachments_len = count;
    }
    ev
}

/// The next event: `SIO_OK` with `out` filled (views valid until the next poll of `c`),
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
        // One arm without `std`.
        #[allow(clippy::infallible_destructuring_match)]
        let client = match inner {
            #[cfg(feature = "std")]
            ClientInner::Owned(owned) => &mut owned.client,
            ClientInner::Placed(client) => client,
            // Inside a loop callback: the loop polls the events.
            #[cfg(feature = "std")]
            ClientInner::Lent(_) => return Err(SIO_WRONG_STATE),
        };
        let event = match client.poll_event(events.get()) {
            Ok(Some(e)) => e,
            Ok(None) => return Ok(SIO_EMPTY),
            Err(_) => return Err(SIO_BUFFER_TOO_SMALL),
        };
        let ev = c_event(&event, attachments.get());
        // SAFETY: checked non-NULL.
        Ok(unsafe { put(out, ev) })
    })
}

/// When `sio_client_handle_timeout` should next run: `SIO_OK` with `out_ms`, or
/// `SIO_EMPTY` when no timer runs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_poll_timeout(
    c: *const sio_client,
    out_ms: *mut u64,
) -> sio_result {
    with_ref(c, |h| match h.client_ref().poll_timeout() {
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
