//! A server's part in a cluster for C: `sio_server_join_cluster*`, the cluster-wide
//! commands and the pub/sub plumbing (`sio_server_cluster_*`) of `siocore::adapter::Cluster`,
//! wire-compatible with Node's `@socket.io/redis-adapter` 8.3.0.

use core::ffi::{c_char, c_void};
#[cfg(feature = "std")]
use std::boxed::Box;

use siocore::Instant;
use siocore::adapter::{
    AckRoute, Channel, Cluster, ClusterConfig, ClusterError, ClusterEvent, DEFAULT_PREFIX, Done,
    PendingSlot, ReplyTo, RequestId, channel,
};
use siocore::json::{self, JsonStr};
use siocore::server::{Args, NamespaceId, Server};

use crate::memory::Carve;
use crate::server::{Picked, sio_event, sio_server, sio_targets};
use crate::{
    SIO_BUFFER_TOO_SMALL, SIO_EMPTY, SIO_EVENT_CLUSTER_ANSWER, SIO_EVENT_CLUSTER_DONE,
    SIO_EVENT_CLUSTER_SOCKETS, SIO_EVENT_SERVER_SIDE_EMIT, SIO_INVALID_ARGUMENT, SIO_INVALID_JSON,
    SIO_INVALID_NAME, SIO_MALFORMED_MESSAGE, SIO_MAX_TARGETS, SIO_NULL_ARGUMENT, SIO_OK,
    SIO_OUTBOX_FULL, SIO_PANIC, SIO_TABLE_FULL, SIO_UNKNOWN_NAMESPACE, SIO_UNSUPPORTED,
    SIO_WRONG_STATE, boundary, bytes, put, sio_bytes, sio_result, strings, text, with, with_ref,
};

/// The size of a cluster request id buffer: up to 16 bytes and a NUL.
pub const SIO_REQUEST_LEN: usize = 17;

/// The longest event name (in bytes, decoded) of another server's server-side emit whose
/// JSON string has escapes: one without escapes is handed out in place, whatever its
/// length; a longer escaped one is refused (`SIO_INVALID_NAME`).
pub const SIO_MAX_CLUSTER_NAME: usize = 256;

/// How a server takes part in a cluster; fill with `sio_cluster_config_default`, then
/// change fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sio_cluster_config {
    /// The channels' key prefix (Node's `key` option); `NULL`: `"socket.io"`.
    pub prefix: *const c_char,
    /// How long a request (`sio_server_fetch_sockets`, `sio_server_server_side_emit` with
    /// an ack) waits for the other servers, in milliseconds (5000, Node's
    /// `requestsTimeout`).
    pub request_timeout_ms: u32,
    /// Requests of this server waiting for answers at once (64).
    pub pending: u32,
    /// Client acknowledgements owed to other servers at once (1024), for their broadcasts
    /// that collect them.
    pub acks: u32,
    /// Bytes of messages waiting for the pub/sub (1 MiB); past it a message is dropped and
    /// counted (local delivery never waits).
    pub outbox_bytes: u32,
    /// Bytes to decode a received message's arguments and names: the largest message
    /// (1 000 000, the server's default `max_payload`).
    pub scratch_bytes: u32,
}

/// Fills `out` with the defaults: prefix `"socket.io"`, 5 s requests, 64 pending requests,
/// 1024 owed acknowledgements, a 1 MiB outbox and a 1 000 000-byte scratch buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_cluster_config_default(out: *mut sio_cluster_config) -> sio_result {
    boundary(SIO_PANIC, || {
        // SAFETY: the caller's `sio_cluster_config` or NULL (refused by `put`).
        unsafe { put(out, DEFAULT_CONFIG) }
    })
}

const DEFAULT_CONFIG: sio_cluster_config = sio_cluster_config {
    prefix: core::ptr::null(),
    request_timeout_ms: ClusterConfig::DEFAULT.request_timeout,
    pending: 64,
    acks: 1024,
    outbox_bytes: 1 << 20,
    scratch_bytes: 1_000_000,
};

/// A configuration from its pointer (`NULL`: the defaults), and its prefix.
///
/// # Safety
/// `config` must be `NULL` or a caller's `sio_cluster_config` whose prefix is `NULL` or a
/// NUL-terminated string valid for `'c`.
pub(crate) unsafe fn read_config<'c>(
    config: *const sio_cluster_config,
) -> Result<(sio_cluster_config, &'c str), sio_result> {
    // SAFETY: NULL or a caller's configuration.
    let c = unsafe { config.as_ref() }
        .copied()
        .unwrap_or(DEFAULT_CONFIG);
    let prefix = if c.prefix.is_null() {
        DEFAULT_PREFIX
    } else {
        // SAFETY: NUL-terminated per the contract.
        unsafe { text(c.prefix) }?
    };
    Ok((c, prefix))
}

/// A cluster member beside a `sio_server`, with room for the event name of a server-side
/// emit.
pub(crate) struct Member {
    cluster: Cluster<'static>,
    name: [u8; SIO_MAX_CLUSTER_NAME],
}

/// A member on the heap and the prefix its cluster borrows. Field order matters: the
/// member drops first.
#[cfg(feature = "std")]
pub(crate) struct OwnedMember {
    member: Member,
    _prefix: Box<str>,
}

/// The cluster of a `sio_server`.
pub(crate) enum Joined {
    /// Not in a cluster.
    None,
    /// `sio_server_join_cluster`: on the heap.
    #[cfg(feature = "std")]
    Owned(Box<OwnedMember>),
    /// `sio_server_join_cluster_in`: in the caller's memory, dropped in place with the
    /// server.
    Placed(*mut Member),
    /// The cluster of a running `sio_server_loop`, lent for one callback with its server.
    #[cfg(feature = "std")]
    Lent(*mut Cluster<'static>),
}

impl Joined {
    /// The cluster, when there is one.
    pub(crate) fn cluster(&mut self) -> Option<&mut Cluster<'static>> {
        match self {
            Self::None => None,
            #[cfg(feature = "std")]
            Self::Owned(o) => Some(&mut o.member.cluster),
            // SAFETY: placed by `sio_server_join_cluster_in` in memory the caller lends until
            // the server's free, used by nothing else.
            Self::Placed(p) => Some(unsafe { &mut (**p).cluster }),
            // SAFETY: a lent cluster is only reachable during the callback that lent it,
            // while the loop does not touch it.
            #[cfg(feature = "std")]
            Self::Lent(p) => Some(unsafe { &mut **p }),
        }
    }

    /// The member of a server that runs its own pub/sub plumbing (not a loop's).
    fn member(&mut self) -> Option<&mut Member> {
        match self {
            #[cfg(feature = "std")]
            Self::Owned(o) => Some(&mut o.member),
            // SAFETY: as in `cluster`.
            Self::Placed(p) => Some(unsafe { &mut **p }),
            _ => None,
        }
    }
}

impl Drop for Joined {
    fn drop(&mut self) {
        if let Self::Placed(p) = *self {
            // SAFETY: placed by `sio_server_join_cluster_in`, dropped once here (nothing in it
            // owns heap memory); the memory stays the caller's.
            unsafe { core::ptr::drop_in_place(p) };
        }
    }
}

/// The result for a cluster error.
pub(crate) fn cluster_result(e: ClusterError) -> sio_result {
    match e {
        ClusterError::OutboxFull => SIO_OUTBOX_FULL,
        ClusterError::PendingFull => SIO_TABLE_FULL,
        ClusterError::Server(e) => e.into(),
        ClusterError::Invalid => SIO_INVALID_ARGUMENT,
        ClusterError::Decode(_) | ClusterError::TooMany => SIO_MALFORMED_MESSAGE,
        _ => SIO_WRONG_STATE,
    }
}

/// A request id as a NUL-terminated C string.
fn request_text(id: &RequestId) -> [c_char; SIO_REQUEST_LEN] {
    let mut out = [0; SIO_REQUEST_LEN];
    for (slot, &b) in out.iter_mut().zip(id.as_str().as_bytes()) {
        *slot = b as c_char;
    }
    out
}

/// Writes a request id through `out` (17 bytes).
///
/// # Safety
/// `out` must have room for `SIO_REQUEST_LEN` bytes.
unsafe fn write_request(out: *mut c_char, id: Option<&RequestId>) {
    let text = id.map_or([0; SIO_REQUEST_LEN], request_text);
    // SAFETY: per the contract.
    unsafe { core::ptr::copy_nonoverlapping(text.as_ptr(), out, SIO_REQUEST_LEN) };
}

/// Turns a cluster event into its C form. A server-side emit's event name is decoded into
/// `name` when it has escapes; the views point into the event's message otherwise.
pub(crate) fn cluster_c_event(
    e: &ClusterEvent<'_>,
    name: &mut [u8; SIO_MAX_CLUSTER_NAME],
) -> Result<sio_event, sio_result> {
    Ok(match *e {
        ClusterEvent::ServerSideEmit {
            namespace,
            data,
            reply,
        } => {
            // `[event, ...args]`: anything else is not a server-side emit.
            let list = json::Array::parse(data).map_err(|_| SIO_MALFORMED_MESSAGE)?;
            let mut elements = list.elements();
            let first = elements.next().ok_or(SIO_MALFORMED_MESSAGE)?;
            let event = JsonStr::parse(first).map_err(|_| SIO_MALFORMED_MESSAGE)?;
            let event: &[u8] = if event.has_escapes() {
                let n = event
                    .unescape_into(&mut name[..])
                    .map_err(|_| SIO_INVALID_NAME)?;
                &name[..n]
            } else {
                event.raw()
            };
            let interior = list.interior();
            let args = match elements.next() {
                Some(second) => &interior[second.as_ptr() as usize - interior.as_ptr() as usize..],
                None => &[][..],
            };
            let mut ev = sio_event::blank(SIO_EVENT_SERVER_SIDE_EMIT);
            ev.namespace_index = namespace.index() as i32;
            ev.name = sio_bytes::of(event);
            ev.data = sio_bytes::of(args);
            if let Some(r) = reply {
                ev.has_ack = true;
                ev.request = request_text(&r.request);
            }
            ev
        }
        ClusterEvent::Sockets { request, sockets } => {
            let mut ev = sio_event::blank(SIO_EVENT_CLUSTER_SOCKETS);
            ev.request = request_text(&request);
            ev.data = sio_bytes::of(sockets);
            ev
        }
        ClusterEvent::Answer { request, data } => {
            let mut ev = sio_event::blank(SIO_EVENT_CLUSTER_ANSWER);
            ev.request = request_text(&request);
            ev.data = sio_bytes::of(data);
            ev
        }
        // Only a request of this server's `Cluster::broadcast_with_ack` gets these, and the
        // C API starts none.
        ClusterEvent::ClientAck { .. } => return Err(SIO_UNSUPPORTED),
    })
}

/// The C form of a request that is over.
pub(crate) fn done_event(d: &Done) -> sio_event {
    let mut ev = sio_event::blank(SIO_EVENT_CLUSTER_DONE);
    ev.request = request_text(&d.request);
    ev.answers = d.answers;
    ev.timed_out = d.timed_out;
    ev
}

// ---------------------------------------------------------------------- joining

/// Lays a cluster member out in `carve`: the member, a copy of the prefix, the tables and
/// buffers. When `carve` only measures, it counts the room and returns null.
fn place(
    c: &sio_cluster_config,
    prefix: &str,
    carve: &mut Carve,
    seed: [u8; 32],
    now_ms: u64,
) -> Result<*mut Member, sio_result> {
    let handle = carve.one::<Member>()?;
    let prefix = carve.text(prefix)?;
    let pending = carve.slice(c.pending as usize, || PendingSlot::FREE)?;
    let acks = carve.slice(c.acks as usize, || AckRoute::FREE)?;
    let outbox = carve.slice(c.outbox_bytes as usize, || 0u8)?;
    let scratch = carve.slice(c.scratch_bytes as usize, || 0u8)?;
    let (Some(pending), Some(acks), Some(outbox), Some(scratch)) = (pending, acks, outbox, scratch)
    else {
        // Measuring.
        return Ok(core::ptr::null_mut());
    };
    let config = ClusterConfig {
        prefix,
        request_timeout: c.request_timeout_ms,
    };
    let cluster = Cluster::new(
        config,
        seed,
        pending,
        acks,
        outbox,
        scratch,
        Instant::from_millis(now_ms),
    );
    // SAFETY: `handle` is room for one aligned `Member` in the block (`Carve::one`).
    unsafe {
        handle.write(Member {
            cluster,
            name: [0; SIO_MAX_CLUSTER_NAME],
        });
    }
    Ok(handle)
}

/// Refuses a server that is in a cluster already, or lent by a loop (which joins with
/// `sio_server_loop_join_cluster`).
fn can_join(s: &sio_server) -> Result<(), sio_result> {
    if s.is_lent() || !matches!(s.cluster, Joined::None) {
        return Err(SIO_WRONG_STATE);
    }
    Ok(())
}

/// Makes the server a member of a cluster with `config` (`NULL`: the defaults), on the
/// heap, its uids and request ids drawn from the 32 bytes at `seed` (take them from a real
/// entropy source), its clock at `now_ms`. Its namespaces take part. From then on
/// `sio_server_broadcast`, `sio_server_sockets_join`, `sio_server_sockets_leave` and
/// `sio_server_disconnect_sockets` reach every server (unless `targets->local`), and the
/// caller moves messages between the cluster and the pub/sub: subscribe the channels of
/// `sio_server_cluster_channel`, publish what `sio_server_cluster_next_publish` gives and
/// hand what arrives to `sio_server_cluster_receive`. `SIO_WRONG_STATE` when the server is
/// in a cluster already, or is a loop's (see `sio_server_loop_join_cluster`). Not in a
/// bare-metal build (see `sio_server_join_cluster_in`).
#[cfg(feature = "std")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_join_cluster(
    srv: *mut sio_server,
    config: *const sio_cluster_config,
    seed: *const u8,
    now_ms: u64,
) -> sio_result {
    with(srv, |s| {
        if seed.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        can_join(s)?;
        // SAFETY: NULL or a caller's configuration.
        let (c, prefix) = unsafe { read_config(config) }?;
        // SAFETY: `seed` points to 32 readable bytes.
        let key = unsafe { crate::seed(seed) };
        let prefix: Box<str> = prefix.into();
        // SAFETY: the box goes into `OwnedMember` beside the cluster, unmoved in the heap,
        // and outlives it (the member drops first).
        let borrowed: &'static str = unsafe { &*(&*prefix as *const str) };
        let cluster = Cluster::owned(
            ClusterConfig {
                prefix: borrowed,
                request_timeout: c.request_timeout_ms,
            },
            key,
            c.pending as usize,
            c.acks as usize,
            c.outbox_bytes as usize,
            c.scratch_bytes as usize,
            Instant::from_millis(now_ms),
        );
        s.cluster = Joined::Owned(Box::new(OwnedMember {
            member: Member {
                cluster,
                name: [0; SIO_MAX_CLUSTER_NAME],
            },
            _prefix: prefix,
        }));
        Ok(SIO_OK)
    })
}

/// Writes how many bytes `sio_server_join_cluster_in` needs for `config` (`NULL`: the
/// defaults): the member, its tables, its outbox and scratch buffer and a copy of the
/// prefix.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_cluster_memory_size(
    config: *const sio_cluster_config,
    out: *mut usize,
) -> sio_result {
    boundary(SIO_PANIC, || {
        // SAFETY: NULL or a caller's configuration.
        let (c, prefix) = match unsafe { read_config(config) } {
            Ok(x) => x,
            Err(e) => return e,
        };
        let mut carve = Carve::measure();
        if let Err(e) = place(&c, prefix, &mut carve, [0; 32], 0) {
            return e;
        }
        // SAFETY: a caller's `size_t` or NULL.
        unsafe { put(out, carve.used()) }
    })
}

/// As `sio_server_join_cluster`, in `len` bytes of the caller's memory at `memory`
/// (aligned to `SIO_MEMORY_ALIGN`, at least `sio_server_cluster_memory_size`); no
/// allocator is used. The memory must stay untouched until the server's `sio_server_free`.
/// `SIO_BUFFER_TOO_SMALL` when `len` is short, `SIO_INVALID_ARGUMENT` when `memory` is
/// misaligned.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_join_cluster_in(
    srv: *mut sio_server,
    config: *const sio_cluster_config,
    seed: *const u8,
    now_ms: u64,
    memory: *mut c_void,
    len: usize,
) -> sio_result {
    with(srv, |s| {
        if seed.is_null() || memory.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        can_join(s)?;
        // SAFETY: NULL or a caller's configuration.
        let (c, prefix) = unsafe { read_config(config) }?;
        // SAFETY: `seed` points to 32 readable bytes.
        let key = unsafe { crate::seed(seed) };
        // SAFETY: `memory` is `len` writable bytes the caller lends until the server's free.
        let mut carve = unsafe { Carve::over(memory.cast(), len) }?;
        let member = place(&c, prefix, &mut carve, key, now_ms)?;
        s.cluster = Joined::Placed(member);
        Ok(SIO_OK)
    })
}

// ---------------------------------------------------------------------- commands

/// The namespace named `namespace` of the server.
///
/// # Safety
/// `namespace` must be `NULL` or NUL-terminated.
unsafe fn namespace_of(
    server: &Server<'_>,
    namespace: *const c_char,
) -> Result<NamespaceId, sio_result> {
    // SAFETY: per the contract.
    let name = unsafe { text(namespace) }?;
    server.namespace(name).ok_or(SIO_UNKNOWN_NAMESPACE)
}

/// Writes `n` through `out` when it is not `NULL`.
///
/// # Safety
/// `out` must be `NULL` or a caller's `size_t`.
unsafe fn count(out: *mut usize, n: usize) -> Result<sio_result, sio_result> {
    if !out.is_null() {
        // SAFETY: checked non-NULL.
        unsafe { out.write(n) };
    }
    Ok(SIO_OK)
}

/// A command on the sockets `targets` selects: `local` on this server alone, `clustered`
/// on every server when the server is in a cluster and the targets are not `local`.
///
/// # Safety
/// `namespace` and `targets` as the commands document.
unsafe fn on_sockets(
    s: &mut sio_server,
    namespace: *const c_char,
    targets: *const sio_targets,
    local: impl FnOnce(&mut Server<'static>, NamespaceId, &Picked<'_>) -> Result<usize, sio_result>,
    clustered: impl FnOnce(
        &mut Cluster<'static>,
        &mut Server<'static>,
        NamespaceId,
        &siocore::adapter::Recipients<'_>,
    ) -> Result<usize, ClusterError>,
) -> Result<usize, sio_result> {
    let (server, cluster) = s.parts();
    // SAFETY: per the contract.
    let ns = unsafe { namespace_of(server, namespace) }?;
    // SAFETY: per the contract.
    let picked = unsafe { Picked::read(targets) }?;
    match cluster {
        Some(c) if !picked.local => {
            let ids = picked.except_ids(server);
            picked
                .with_recipients(&ids, |to| clustered(c, server, ns, to))
                .map_err(cluster_result)
        }
        _ => local(server, ns, &picked),
    }
}

/// Puts the sockets of namespace `namespace` that `targets` selects (`NULL`: all) in the
/// `rooms_len` rooms at `rooms` (at most `SIO_MAX_TARGETS`); writes how many of this
/// server's sockets were selected to `out_count` when not `NULL`. On a server in a cluster,
/// on every server unless `targets->local` (Node's `socketsJoin`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_sockets_join(
    srv: *mut sio_server,
    namespace: *const c_char,
    targets: *const sio_targets,
    rooms: *const *const c_char,
    rooms_len: usize,
    out_count: *mut usize,
) -> sio_result {
    with(srv, |s| {
        let mut list = [""; SIO_MAX_TARGETS];
        // SAFETY: `rooms_len` NUL-terminated strings per the contract.
        let rooms = unsafe { strings(rooms, rooms_len, &mut list) }?;
        // SAFETY: per the contract.
        let n = unsafe {
            on_sockets(
                s,
                namespace,
                targets,
                |server, ns, p| {
                    server
                        .sockets_join(ns, &p.targets(), rooms)
                        .map_err(sio_result::from)
                },
                |c, server, ns, to| c.sockets_join(server, ns, to, rooms),
            )
        }?;
        // SAFETY: NULL or a caller's `size_t`.
        unsafe { count(out_count, n) }
    })
}

/// Takes the sockets `targets` selects out of `rooms`; otherwise as
/// `sio_server_sockets_join` (Node's `socketsLeave`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_sockets_leave(
    srv: *mut sio_server,
    namespace: *const c_char,
    targets: *const sio_targets,
    rooms: *const *const c_char,
    rooms_len: usize,
    out_count: *mut usize,
) -> sio_result {
    with(srv, |s| {
        let mut list = [""; SIO_MAX_TARGETS];
        // SAFETY: `rooms_len` NUL-terminated strings per the contract.
        let rooms = unsafe { strings(rooms, rooms_len, &mut list) }?;
        // SAFETY: per the contract.
        let n = unsafe {
            on_sockets(
                s,
                namespace,
                targets,
                |server, ns, p| Ok(server.sockets_leave(ns, &p.targets(), rooms)),
                |c, server, ns, to| c.sockets_leave(server, ns, to, rooms),
            )
        }?;
        // SAFETY: NULL or a caller's `size_t`.
        unsafe { count(out_count, n) }
    })
}

/// Disconnects the sockets `targets` selects (with `close`, closing their connections too);
/// writes how many of this server's sockets were selected to `out_count` when not `NULL`.
/// On a server in a cluster, on every server unless `targets->local` (Node's
/// `disconnectSockets`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_disconnect_sockets(
    srv: *mut sio_server,
    namespace: *const c_char,
    targets: *const sio_targets,
    close: bool,
    out_count: *mut usize,
) -> sio_result {
    with(srv, |s| {
        // SAFETY: per the contract.
        let n = unsafe {
            on_sockets(
                s,
                namespace,
                targets,
                |server, ns, p| Ok(server.disconnect_sockets(ns, &p.targets(), close)),
                |c, server, ns, to| c.disconnect_sockets(server, ns, to, close),
            )
        }?;
        // SAFETY: NULL or a caller's `size_t`.
        unsafe { count(out_count, n) }
    })
}

/// Writes the ids of this server's sockets of namespace `namespace` that `targets` selects
/// (`NULL`: all; `local` makes no difference) into `out` (room for `cap`), and how many
/// there are to `out_len`: `SIO_OK`, or `SIO_BUFFER_TOO_SMALL` when there are more than
/// `cap` (the first `cap` are written).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_select(
    srv: *mut sio_server,
    namespace: *const c_char,
    targets: *const sio_targets,
    out: *mut u64,
    cap: usize,
    out_len: *mut usize,
) -> sio_result {
    with(srv, |s| {
        if out_len.is_null() || (out.is_null() && cap > 0) {
            return Err(SIO_NULL_ARGUMENT);
        }
        let server = s.server();
        // SAFETY: per the contract.
        let ns = unsafe { namespace_of(server, namespace) }?;
        // SAFETY: per the contract.
        let picked = unsafe { Picked::read(targets) }?;
        let mut at = 0;
        let n = server.select(ns, &picked.targets(), |_, socket| {
            if at < cap {
                // SAFETY: `out` has room for `cap` ids.
                unsafe { out.add(at).write(socket.to_bits()) };
                at += 1;
            }
        });
        // SAFETY: checked non-NULL.
        unsafe { out_len.write(n) };
        Ok(if n > cap {
            SIO_BUFFER_TOO_SMALL
        } else {
            SIO_OK
        })
    })
}

/// Asks the other servers of the cluster for their sockets of namespace `namespace` that
/// `targets` selects (Node's `fetchSockets`; this server's own are `sio_server_select`'s),
/// and writes the request's id to `out_request` (`SIO_REQUEST_LEN` bytes). Each server's
/// answer comes as `SIO_EVENT_CLUSTER_SOCKETS`, then the request's
/// `SIO_EVENT_CLUSTER_DONE`. `SIO_WRONG_STATE` without a cluster; `SIO_INVALID_ARGUMENT`
/// for `local` targets; `SIO_TABLE_FULL` when `pending` requests wait already.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_fetch_sockets(
    srv: *mut sio_server,
    namespace: *const c_char,
    targets: *const sio_targets,
    out_request: *mut c_char,
) -> sio_result {
    with(srv, |s| {
        if out_request.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        let (server, cluster) = s.parts();
        // SAFETY: per the contract.
        let ns = unsafe { namespace_of(server, namespace) }?;
        // SAFETY: per the contract.
        let picked = unsafe { Picked::read(targets) }?;
        let cluster = cluster.ok_or(SIO_WRONG_STATE)?;
        if picked.local {
            return Err(SIO_INVALID_ARGUMENT);
        }
        let ids = picked.except_ids(server);
        let id = picked
            .with_recipients(&ids, |to| cluster.fetch_sockets(server, ns, to))
            .map_err(cluster_result)?;
        // SAFETY: `out_request` has room for `SIO_REQUEST_LEN` bytes.
        unsafe { write_request(out_request, Some(&id)) };
        Ok(SIO_OK)
    })
}

/// Emits `event` with `json_args` (a JSON list without brackets, `""` for none; no binary)
/// to the other servers of the cluster in namespace `namespace` (Node's
/// `serverSideEmit`), for their `SIO_EVENT_SERVER_SIDE_EMIT`. With `ack`, their answers
/// come as `SIO_EVENT_CLUSTER_ANSWER`, then the request's `SIO_EVENT_CLUSTER_DONE`, and
/// the request's id is written to `out_request` (`SIO_REQUEST_LEN` bytes; it may be `NULL`
/// without `ack`, else it gets `""`). `SIO_WRONG_STATE` without a cluster,
/// `SIO_INVALID_JSON` for arguments that are not a JSON list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_server_side_emit(
    srv: *mut sio_server,
    namespace: *const c_char,
    event: *const c_char,
    json_args: *const c_char,
    ack: bool,
    out_request: *mut c_char,
) -> sio_result {
    with(srv, |s| {
        if ack && out_request.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        // SAFETY: NUL-terminated per the contract.
        let event = unsafe { text(event) }?;
        // SAFETY: NUL-terminated per the contract.
        let list = unsafe { text(json_args) }?;
        let (server, cluster) = s.parts();
        // SAFETY: per the contract.
        let ns = unsafe { namespace_of(server, namespace) }?;
        let cluster = cluster.ok_or(SIO_WRONG_STATE)?;
        if json::Limits::DEFAULT
            .validate_list(list.as_bytes())
            .is_err()
        {
            return Err(SIO_INVALID_JSON);
        }
        let args = Args::binary(list.as_bytes(), &[]);
        let id = cluster
            .server_side_emit(server, ns, event, args, ack)
            .map_err(cluster_result)?;
        if !out_request.is_null() {
            // SAFETY: `out_request` has room for `SIO_REQUEST_LEN` bytes.
            unsafe { write_request(out_request, id.as_ref()) };
        }
        Ok(SIO_OK)
    })
}

/// Answers another server's `SIO_EVENT_SERVER_SIDE_EMIT` (one with `has_ack`): its
/// `namespace_index` and `request`, and one JSON value `json_value` (NUL-terminated).
/// `SIO_WRONG_STATE` without a cluster, `SIO_INVALID_JSON` for a value that is not one
/// JSON value, `SIO_INVALID_ARGUMENT` for a request id longer than 16 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_cluster_answer(
    srv: *mut sio_server,
    namespace_index: i32,
    request: *const c_char,
    json_value: *const c_char,
) -> sio_result {
    with(srv, |s| {
        // SAFETY: NUL-terminated per the contract.
        let request = unsafe { text(request) }?;
        // SAFETY: NUL-terminated per the contract.
        let value = unsafe { text(json_value) }?;
        let (server, cluster) = s.parts();
        let namespace = usize::try_from(namespace_index)
            .ok()
            .and_then(|i| server.namespace_by_index(i))
            .ok_or(SIO_UNKNOWN_NAMESPACE)?;
        let cluster = cluster.ok_or(SIO_WRONG_STATE)?;
        let request = RequestId::new(request).ok_or(SIO_INVALID_ARGUMENT)?;
        if json::Limits::DEFAULT.validate(value.as_bytes()).is_err() {
            return Err(SIO_INVALID_JSON);
        }
        let reply = ReplyTo { namespace, request };
        cluster
            .answer(server, &reply, value.as_bytes())
            .map_err(cluster_result)?;
        Ok(SIO_OK)
    })
}

// ---------------------------------------------------------------------- pub/sub plumbing

/// The channels of a namespace a cluster member uses (`sio_server_cluster_channel`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sio_channel_kind {
    /// The pattern of the broadcasts, `PREFIX#NSP#*`: subscribe it as a pattern
    /// (`PSUBSCRIBE`).
    SIO_CHANNEL_PATTERN = 1,
    /// The requests to every server, `PREFIX-request#NSP#`: subscribe it.
    SIO_CHANNEL_REQUEST = 2,
    /// The answers to every server, `PREFIX-response#NSP#`: subscribe it.
    SIO_CHANNEL_RESPONSE = 3,
    /// The answers to this server, `PREFIX-response#NSP#UID#`: subscribe it.
    SIO_CHANNEL_RESPONSE_SELF = 4,
}

pub use sio_channel_kind::*;

/// Writes the name of channel `kind` (a `sio_channel_kind`) of namespace `namespace`
/// (NUL-terminated) into `buf` (`len` bytes): `SIO_OK` with its length without the NUL in
/// `written`, or `SIO_BUFFER_TOO_SMALL` with the size needed (NUL included). A server
/// subscribes, for each of its namespaces, the pattern and the three channels.
/// `SIO_WRONG_STATE` without a cluster; `SIO_INVALID_ARGUMENT` for an unknown kind.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_cluster_channel(
    srv: *mut sio_server,
    namespace: *const c_char,
    kind: u32,
    buf: *mut c_char,
    len: usize,
    written: *mut usize,
) -> sio_result {
    with(srv, |s| {
        if written.is_null() || (buf.is_null() && len > 0) {
            return Err(SIO_NULL_ARGUMENT);
        }
        // SAFETY: NUL-terminated per the contract.
        let nsp = unsafe { text(namespace) }?;
        let (server, cluster) = s.parts();
        server.namespace(nsp).ok_or(SIO_UNKNOWN_NAMESPACE)?;
        let cluster = cluster.ok_or(SIO_WRONG_STATE)?;
        let (chan, star) = match kind {
            k if k == SIO_CHANNEL_PATTERN as u32 => (Channel::Broadcast(None), "*"),
            k if k == SIO_CHANNEL_REQUEST as u32 => (Channel::Request, ""),
            k if k == SIO_CHANNEL_RESPONSE as u32 => (Channel::Response, ""),
            k if k == SIO_CHANNEL_RESPONSE_SELF as u32 => {
                (Channel::ResponseTo(cluster.uid(nsp)), "")
            }
            _ => return Err(SIO_INVALID_ARGUMENT),
        };
        let prefix = cluster.prefix();
        let need = match channel(&mut [], prefix, nsp, chan) {
            Ok(n) => n,
            Err(e) => e.required,
        } + star.len();
        if need + 1 > len {
            // SAFETY: checked non-NULL.
            unsafe { written.write(need + 1) };
            return Ok(SIO_BUFFER_TOO_SMALL);
        }
        // SAFETY: `buf` has `len > need` writable bytes.
        let out = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
        let n = channel(out, prefix, nsp, chan).map_err(|_| SIO_BUFFER_TOO_SMALL)?;
        out[n..n + star.len()].copy_from_slice(star.as_bytes());
        out[need] = 0;
        // SAFETY: checked non-NULL.
        unsafe { written.write(need) };
        Ok(SIO_OK)
    })
}

/// A message for the pub/sub, from `sio_server_cluster_next_publish`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sio_publish {
    /// The channel to publish on (not NUL-terminated).
    pub channel: sio_bytes,
    /// The message.
    pub message: sio_bytes,
    /// The request it carries, NUL-terminated, when this server waits for answers to it
    /// (empty otherwise): tell `sio_server_cluster_receivers` how many subscribers got it
    /// (Redis answers `PUBLISH` with that), and the request ends as soon as all of them
    /// answered instead of at its deadline.
    pub request: [c_char; SIO_REQUEST_LEN],
}

/// The server's member when it runs its own pub/sub plumbing: `SIO_WRONG_STATE` without a
/// cluster, and for a loop's server (the loop does it: its member is `Joined::Lent`).
fn member(s: &mut sio_server) -> Result<(&mut Server<'static>, &mut Member), sio_result> {
    let (server, joined) = s.split();
    Ok((server, joined.member().ok_or(SIO_WRONG_STATE)?))
}

/// The oldest message waiting for the pub/sub: `SIO_OK` with `out` filled (its views valid
/// until the next call on `srv`), or `SIO_EMPTY`. Publish it, then
/// `sio_server_cluster_pop_publish`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_cluster_next_publish(
    srv: *mut sio_server,
    out: *mut sio_publish,
) -> sio_result {
    with(srv, |s| {
        if out.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        let (_, m) = member(s)?;
        let Some(p) = m.cluster.next_publish() else {
            return Ok(SIO_EMPTY);
        };
        let p = sio_publish {
            channel: sio_bytes::of(p.channel.as_bytes()),
            message: sio_bytes::of(p.message),
            request: p
                .request
                .as_ref()
                .map_or([0; SIO_REQUEST_LEN], request_text),
        };
        // SAFETY: checked non-NULL.
        unsafe { out.write(p) };
        Ok(SIO_OK)
    })
}

/// The message `sio_server_cluster_next_publish` gave is published (or given up):
/// `SIO_OK`, or `SIO_EMPTY` when none waited.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_cluster_pop_publish(srv: *mut sio_server) -> sio_result {
    with(srv, |s| {
        let (_, m) = member(s)?;
        if m.cluster.next_publish().is_none() {
            return Ok(SIO_EMPTY);
        }
        m.cluster.pop_publish();
        Ok(SIO_OK)
    })
}

/// Request `request` (from a `sio_publish`) reached `n` subscribers, this server among
/// them, as the pub/sub says: it waits for `n - 1` answers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_cluster_receivers(
    srv: *mut sio_server,
    request: *const c_char,
    n: usize,
) -> sio_result {
    with(srv, |s| {
        // SAFETY: NUL-terminated per the contract.
        let request = unsafe { text(request) }?;
        let request = RequestId::new(request).ok_or(SIO_INVALID_ARGUMENT)?;
        let (_, m) = member(s)?;
        m.cluster.receivers(&request, n);
        Ok(SIO_OK)
    })
}

/// A message that arrived from the pub/sub on `channel` (`channel_len` bytes): another
/// server's broadcast or request is applied to this server (drain the transmits after) and
/// answered; `SIO_OK` with `out` filled for what the application handles
/// (`SIO_EVENT_SERVER_SIDE_EMIT`, `SIO_EVENT_CLUSTER_SOCKETS`, `SIO_EVENT_CLUSTER_ANSWER`),
/// `SIO_EMPTY` when there is nothing for it (this server's own messages, other namespaces,
/// answers to other servers), `SIO_MALFORMED_MESSAGE` for a message that cannot be read
/// (a server-side emit that is not `[name, ...]` among them), `SIO_INVALID_NAME` for a
/// server-side emit whose escaped name is longer than `SIO_MAX_CLUSTER_NAME` decoded.
/// The event's `data` (and a name without escapes) point into `msg`: they are valid while
/// it is, and until the next call on `srv`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_cluster_receive(
    srv: *mut sio_server,
    channel: *const u8,
    channel_len: usize,
    msg: *const u8,
    msg_len: usize,
    now_ms: u64,
    out: *mut sio_event,
) -> sio_result {
    with(srv, |s| {
        if out.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        // SAFETY: a byte range per the contract.
        let channel = unsafe { bytes(channel, channel_len) }.ok_or(SIO_NULL_ARGUMENT)?;
        // SAFETY: a byte range per the contract, valid during the call.
        let msg = unsafe { bytes(msg, msg_len) }.ok_or(SIO_NULL_ARGUMENT)?;
        let (server, m) = member(s)?;
        let event = m
            .cluster
            .receive(server, channel, msg, Instant::from_millis(now_ms))
            .map_err(cluster_result)?;
        let Some(event) = event else {
            return Ok(SIO_EMPTY);
        };
        let ev = cluster_c_event(&event, &mut m.name)?;
        // SAFETY: checked non-NULL.
        unsafe { out.write(ev) };
        Ok(SIO_OK)
    })
}

/// When `sio_server_cluster_handle_timeout` should next run (a request's deadline):
/// `SIO_OK` with `out_ms` set, or `SIO_EMPTY` when no request waits.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_cluster_poll_timeout(
    srv: *mut sio_server,
    out_ms: *mut u64,
) -> sio_result {
    with(srv, |s| {
        if out_ms.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        let (_, cluster) = s.parts();
        let cluster = cluster.ok_or(SIO_WRONG_STATE)?;
        match cluster.poll_timeout() {
            // SAFETY: checked non-NULL.
            Some(t) => Ok(unsafe { put(out_ms, t.as_millis()) }),
            None => Ok(SIO_EMPTY),
        }
    })
}

/// Ends the requests whose deadline passed at `now_ms` (then `sio_server_cluster_poll_done`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_cluster_handle_timeout(
    srv: *mut sio_server,
    now_ms: u64,
) -> sio_result {
    with(srv, |s| {
        let (_, m) = member(s)?;
        m.cluster.handle_timeout(Instant::from_millis(now_ms));
        Ok(SIO_OK)
    })
}

/// A request of this server that is over (every expected answer came, or its deadline
/// passed): `SIO_OK` with `out` an `SIO_EVENT_CLUSTER_DONE`, or `SIO_EMPTY`. Call after
/// `sio_server_cluster_receive` and `sio_server_cluster_handle_timeout` until `SIO_EMPTY`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_cluster_poll_done(
    srv: *mut sio_server,
    out: *mut sio_event,
) -> sio_result {
    with(srv, |s| {
        if out.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        let (_, m) = member(s)?;
        let Some(done) = m.cluster.poll_done() else {
            return Ok(SIO_EMPTY);
        };
        // SAFETY: checked non-NULL.
        unsafe { out.write(done_event(&done)) };
        Ok(SIO_OK)
    })
}

/// Counters of a cluster member's traffic (`sio_server_cluster_stats`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sio_cluster_stats {
    /// Messages queued for the pub/sub.
    pub queued: u64,
    /// Messages that did not fit the outbox and were dropped.
    pub dropped: u64,
    /// Messages received and acted on.
    pub received: u64,
    /// Messages received and not for this server (its own, another namespace, an answer
    /// to another server's request).
    pub ignored: u64,
    /// Messages received that could not be read, or named too much.
    pub malformed: u64,
    /// Broadcasts collecting acknowledgements that found more sockets here than the table
    /// of owed acknowledgements had room for (delivered without asking for them).
    pub untracked: u64,
}

/// Writes the cluster's counters. `SIO_WRONG_STATE` without a cluster.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_cluster_stats(
    srv: *const sio_server,
    out: *mut sio_cluster_stats,
) -> sio_result {
    with_ref(srv, |s| {
        if out.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        let st = s.cluster_stats().ok_or(SIO_WRONG_STATE)?;
        let value = sio_cluster_stats {
            queued: st.queued,
            dropped: st.dropped,
            received: st.received,
            ignored: st.ignored,
            malformed: st.malformed,
            untracked: st.untracked,
        };
        // SAFETY: checked non-NULL.
        Ok(unsafe { put(out, value) })
    })
}

impl sio_server {
    /// The cluster's counters, when the server is in one.
    fn cluster_stats(&self) -> Option<siocore::adapter::ClusterStats> {
        match &self.cluster {
            Joined::None => None,
            #[cfg(feature = "std")]
            Joined::Owned(o) => Some(o.member.cluster.stats()),
            // SAFETY: as in `Joined::cluster`.
            Joined::Placed(p) => Some(unsafe { (**p).cluster.stats() }),
            // SAFETY: as in `Joined::cluster`.
            #[cfg(feature = "std")]
            Joined::Lent(p) => Some(unsafe { (**p).stats() }),
        }
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    /// A heap server joined to a cluster in `len` bytes of an aligned block; frees both.
    fn join_in(c: &sio_cluster_config, len: usize) -> sio_result {
        let mut srv = core::ptr::null_mut();
        let seed = [5u8; 32];
        // SAFETY: the default configuration and a valid seed.
        let r = unsafe { crate::sio_server_new(core::ptr::null(), seed.as_ptr(), 0, &mut srv) };
        assert_eq!(r, SIO_OK);
        let mut block = std::vec![0u64; len.div_ceil(8)];
        // SAFETY: `block` is `len` writable bytes (at least), aligned to 8, alive until the
        // server is freed below.
        let r = unsafe {
            sio_server_join_cluster_in(srv, c, seed.as_ptr(), 0, block.as_mut_ptr().cast(), len)
        };
        // SAFETY: made just above.
        unsafe { crate::sio_server_free(srv) };
        drop(block);
        r
    }

    #[test]
    fn the_measured_size_is_what_the_carve_takes() {
        for (pending, acks, outbox, scratch, prefix) in [
            (0, 0, 0, 0, c"".as_ptr()),
            (1, 1, 1, 1, core::ptr::null()),
            (64, 1024, 4096, 1000, c"a-longer-prefix".as_ptr()),
        ] {
            let c = sio_cluster_config {
                prefix,
                request_timeout_ms: 100,
                pending,
                acks,
                outbox_bytes: outbox,
                scratch_bytes: scratch,
            };
            let mut need = 0;
            // SAFETY: a valid configuration and output.
            let r = unsafe { sio_server_cluster_memory_size(&c, &mut need) };
            assert_eq!(r, SIO_OK);
            let tables = pending as usize * size_of::<PendingSlot>()
                + acks as usize * size_of::<AckRoute>()
                + (outbox + scratch) as usize;
            assert!(need >= tables + size_of::<Member>(), "{need}");
            assert_eq!(join_in(&c, need), SIO_OK);
            assert_eq!(join_in(&c, need - 1), SIO_BUFFER_TOO_SMALL);
        }
    }
}
