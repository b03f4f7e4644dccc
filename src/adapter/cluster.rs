//! A server's part in a cluster of Socket.IO servers sharing a pub/sub, without I/O.

use core::fmt;

use super::request::{Names, Outgoing, Request, RequestId, RequestKind, Response};
use super::{
    Broadcast, Channel, DEFAULT_PREFIX, DecodeError, EncodeError, Recipients, Uid, channel,
    encode_ack, encode_broadcast, write_request,
};
use crate::json::{self, JsonStr};
use crate::rand::Rng;
use crate::server::{
    AckId, Args, CommandError, Event, NamespaceId, Server, SocketId, Targets, siphash13,
};
use crate::write::Writer;
use crate::{BufferTooSmall, Instant};

/// Rooms a received broadcast or request may name, in each of its lists.
pub const MAX_ROOMS: usize = 32;

/// Binary arguments a received broadcast may carry (as many as an emit may).
const MAX_BLOBS: usize = 32;

/// How a [`Cluster`] works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterConfig<'a> {
    /// The channels' key prefix (Node's `key` option).
    pub prefix: &'a str,
    /// How long a request waits for the other servers' answers, in milliseconds (Node's
    /// `requestsTimeout`).
    pub request_timeout: u32,
}

impl ClusterConfig<'static> {
    /// Node's defaults: prefix `socket.io`, 5 s.
    pub const DEFAULT: Self = Self {
        prefix: DEFAULT_PREFIX,
        request_timeout: 5_000,
    };
}

/// What a request of this server waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awaited {
    /// The other servers' sockets ([`Cluster::fetch_sockets`]).
    Sockets,
    /// The other servers' answers to a server-side emit
    /// ([`Cluster::server_side_emit`]).
    Answers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    Free,
    Waiting,
    Done { timed_out: bool },
}

/// An entry of a cluster's table of requests waiting for answers.
#[derive(Debug, Clone, Copy)]
pub struct PendingSlot {
    state: SlotState,
    id: RequestId,
    ns: NamespaceId,
    what: Awaited,
    deadline: u64,
    expected: Option<u32>,
    answers: u32,
}

impl PendingSlot {
    /// A free entry.
    pub const FREE: Self = Self {
        state: SlotState::Free,
        id: RequestId::from_random([0; 6]),
        ns: NamespaceId(0),
        what: Awaited::Sockets,
        deadline: 0,
        expected: None,
        answers: 0,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RouteState {
    Free,
    /// Chosen for a broadcast, its packet not sent yet.
    Chosen,
    /// Waiting for the client's acknowledgement.
    Waiting,
}

/// An entry of a cluster's table of client acknowledgements owed to another server (for
/// a broadcast that collects them).
#[derive(Debug, Clone, Copy)]
pub struct AckRoute {
    state: RouteState,
    socket: SocketId,
    ack: AckId,
    ns: NamespaceId,
    request: RequestId,
}

impl AckRoute {
    /// A free entry.
    pub const FREE: Self = Self {
        state: RouteState::Free,
        socket: SocketId { index: 0, era: 0 },
        ack: AckId(0),
        ns: NamespaceId(0),
        request: RequestId::from_random([0; 6]),
    };
}

/// A message for the pub/sub, from [`Cluster::next_publish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publish<'o> {
    /// The channel.
    pub channel: &'o str,
    /// The message.
    pub message: &'o [u8],
    /// The request it carries, when this server waits for answers to it: tell the cluster
    /// how many subscribers received it ([`Cluster::receivers`]; Redis's `PUBLISH`
    /// answers that), and the request completes as soon as all of them answered instead of
    /// at its deadline.
    pub request: Option<RequestId>,
}

/// Another server's message, for the application (from [`Cluster::receive`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterEvent<'m> {
    /// A server-side emit of another server (Node's `serverSideEmit`): `data` is the JSON
    /// array `[event, ...args]`. With `reply`, the sender waits for one answer
    /// ([`Cluster::answer`]).
    ServerSideEmit {
        /// The namespace.
        namespace: NamespaceId,
        /// `[event, ...args]`.
        data: &'m [u8],
        /// Where the answer goes, when one is awaited.
        reply: Option<ReplyTo>,
    },
    /// Another server's sockets for [`fetch_sockets`](Cluster::fetch_sockets) `request`: a
    /// JSON array of `{"id", "handshake", "rooms", "data"}` objects.
    Sockets {
        /// The request.
        request: RequestId,
        /// The sockets.
        sockets: &'m [u8],
    },
    /// Another server's answer to [`server_side_emit`](Cluster::server_side_emit)
    /// `request`: one JSON value.
    Answer {
        /// The request.
        request: RequestId,
        /// The answer.
        data: &'m [u8],
    },
}

/// Where the answer to another server's server-side emit goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyTo {
    /// The namespace.
    pub namespace: NamespaceId,
    /// The request.
    pub request: RequestId,
}

/// A request of this server that is over, from [`Cluster::poll_done`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    /// The request.
    pub request: RequestId,
    /// What it waited for.
    pub awaited: Awaited,
    /// How many servers answered.
    pub answers: u32,
    /// How many were expected, when known ([`Cluster::receivers`]).
    pub expected: Option<u32>,
    /// Whether the deadline passed before every expected answer came.
    pub timed_out: bool,
}

/// Why a cluster call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterError {
    /// The outbox cannot take the message (the pub/sub is slow or away): it is dropped
    /// and counted in [`ClusterStats::dropped`].
    OutboxFull,
    /// The table of pending requests is full.
    PendingFull,
    /// The local part failed.
    Server(CommandError),
    /// The arguments are not valid, or a name is too long.
    Invalid,
    /// A received message could not be read (it is counted in
    /// [`ClusterStats::malformed`]).
    Decode(DecodeError),
    /// A received message names more rooms than [`MAX_ROOMS`], or more binary arguments
    /// than an emit may carry.
    TooMany,
}

impl From<CommandError> for ClusterError {
    fn from(e: CommandError) -> Self {
        Self::Server(e)
    }
}

impl From<DecodeError> for ClusterError {
    fn from(e: DecodeError) -> Self {
        Self::Decode(e)
    }
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutboxFull => f.write_str("the cluster outbox is full; message dropped"),
            Self::PendingFull => f.write_str("too many cluster requests pending"),
            Self::Server(e) => write!(f, "local part failed: {e}"),
            Self::Invalid => f.write_str("invalid arguments or names"),
            Self::Decode(e) => write!(f, "malformed cluster message: {e}"),
            Self::TooMany => f.write_str("a cluster message names too many rooms or blobs"),
        }
    }
}

impl core::error::Error for ClusterError {}

/// Counters of a cluster's traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClusterStats {
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
    /// of owed acknowledgements had room for: delivered without asking for them, and
    /// counted as reaching no client.
    pub untracked: u64,
}

/// Memory a cluster keeps its tables in: lent, or (with `alloc`) its own.
#[derive(Debug)]
enum Mem<'a, T> {
    Lent(&'a mut [T]),
    #[cfg(feature = "alloc")]
    Owned(alloc::boxed::Box<[T]>),
}

impl<T> core::ops::Deref for Mem<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match self {
            Self::Lent(s) => s,
            #[cfg(feature = "alloc")]
            Self::Owned(b) => b,
        }
    }
}

impl<T> core::ops::DerefMut for Mem<'_, T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match self {
            Self::Lent(s) => s,
            #[cfg(feature = "alloc")]
            Self::Owned(b) => b,
        }
    }
}

/// Messages waiting for the pub/sub: `[channel len u16][message len u32][request id
/// len u8][16 id bytes]`, then the channel, then the message, one after the other.
#[derive(Debug)]
struct Outbox<'a> {
    buf: Mem<'a, u8>,
    head: usize,
    tail: usize,
    /// The channels' key prefix.
    prefix: &'a str,
    /// The traffic counters.
    stats: ClusterStats,
}

const HEAD: usize = 2 + 4 + 1 + 16;

impl Outbox<'_> {
    /// Appends a message written by `write` (channel and message, one after the other,
    /// given the free space; returns both lengths). Moves what waits to the front when the
    /// end has no room.
    fn push(
        &mut self,
        request: Option<&RequestId>,
        mut write: impl FnMut(&mut [u8]) -> Result<(usize, usize), BufferTooSmall>,
    ) -> Result<(), ClusterError> {
        if self.head == self.tail {
            self.head = 0;
            self.tail = 0;
        }
        let mut result = write(self.buf.get_mut(self.tail + HEAD..).unwrap_or_default());
        if let Err(e) = result
            && self.head > 0
            && (self.tail - self.head + HEAD).saturating_add(e.required) <= self.buf.len()
        {
            self.buf.copy_within(self.head..self.tail, 0);
            self.tail -= self.head;
            self.head = 0;
            result = write(self.buf.get_mut(self.tail + HEAD..).unwrap_or_default());
        }
        let (c, m) = result.map_err(|_| ClusterError::OutboxFull)?;
        let (Ok(c16), Ok(m32)) = (u16::try_from(c), u32::try_from(m)) else {
            return Err(ClusterError::OutboxFull);
        };
        let Some(h) = self.buf.get_mut(self.tail..self.tail + HEAD) else {
            return Err(ClusterError::OutboxFull);
        };
        h[..2].copy_from_slice(&c16.to_le_bytes());
        h[2..6].copy_from_slice(&m32.to_le_bytes());
        h[6..].fill(0);
        if let Some(id) = request {
            let id = id.as_str().as_bytes();
            h[6] = id.len() as u8;
            h[7..7 + id.len()].copy_from_slice(id);
        }
        self.tail += HEAD + c + m;
        Ok(())
    }

    fn front(&self) -> Option<Publish<'_>> {
        let h = self.buf.get(self.head..self.tail)?;
        let c = usize::from(u16::from_le_bytes([*h.first()?, *h.get(1)?]));
        let m = u32::from_le_bytes([h[2], h[3], h[4], h[5]]) as usize;
        let id_len = usize::from(h[6]);
        let request = (id_len > 0)
            .then(|| core::str::from_utf8(&h[7..7 + id_len]).ok())
            .flatten()
            .and_then(RequestId::new);
        Some(Publish {
            channel: core::str::from_utf8(&h[HEAD..HEAD + c]).unwrap_or_default(),
            message: &h[HEAD + c..HEAD + c + m],
            request,
        })
    }

    fn pop(&mut self) {
        if let Some(p) = self.front() {
            self.head += HEAD + p.channel.len() + p.message.len();
        }
    }
}

/// One server's part in a cluster of Socket.IO servers that share a pub/sub the way
/// `@socket.io/redis-adapter` 8.3.0 does, without I/O: Node servers and other siocore
/// servers on the same channels form one cluster with it.
///
/// The cluster sits beside a [`Server`] and is handed it on each call:
///
/// * commands reach the whole cluster: [`broadcast`](Self::broadcast),
///   [`sockets_join`](Self::sockets_join), [`sockets_leave`](Self::sockets_leave),
///   [`disconnect_sockets`](Self::disconnect_sockets) act on the local server at once and
///   queue a message for the others (unless [`Recipients::flags`] says `local`);
///   [`fetch_sockets`](Self::fetch_sockets) and
///   [`server_side_emit`](Self::server_side_emit) ask the others and collect their
///   answers until they all answered or the request timeout passes;
/// * the driver publishes what [`next_publish`](Self::next_publish) gives
///   ([`pop_publish`](Self::pop_publish) once it is sent), and feeds what arrives on the
///   subscribed channels to [`receive`](Self::receive): broadcasts and requests of the
///   others are applied to the local server and answered, server-side emits and answers
///   come back as [`ClusterEvent`]s; and it offers every server event to
///   [`on_event`](Self::on_event) first (the acknowledgements owed to others);
/// * time: [`poll_timeout`](Self::poll_timeout), [`handle_timeout`](Self::handle_timeout),
///   then [`poll_done`](Self::poll_done) for the requests that ended. A request's deadline
///   counts from the latest time the cluster was given, so call `handle_timeout` with the
///   current time before a command that waits for answers.
///
/// For each namespace NSP a server subscribes, on one connection, the pattern `PREFIX#NSP#*`
/// and the channels `PREFIX-request#NSP#`, `PREFIX-response#NSP#` and
/// `PREFIX-response#NSP#UID#` ([`uid`](Self::uid); see [`channel`]).
///
/// Everything is bounded by the caller: the table of pending requests, the outbox (a
/// message that does not fit is dropped and counted, never blocking local delivery), and
/// a scratch buffer as large as the largest message's arguments.
///
/// A socket fetched from this server carries its id and rooms; its `handshake` and `data`
/// are empty objects, as the server keeps neither.
pub struct Cluster<'a> {
    timeout: u32,
    key: [u64; 2],
    rng: Rng,
    now: u64,
    pending: Mem<'a, PendingSlot>,
    acks: Mem<'a, AckRoute>,
    /// Entries of `acks` in use.
    routes: usize,
    outbox: Outbox<'a>,
    scratch: Mem<'a, u8>,
}

impl fmt::Debug for Cluster<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("prefix", &self.outbox.prefix)
            .field("stats", &self.outbox.stats)
            .finish_non_exhaustive()
    }
}

impl<'a> Cluster<'a> {
    /// A cluster member with `config`, drawing its uids and request ids from `seed` (take
    /// it from a real entropy source), keeping its pending requests in `pending`, the
    /// client acknowledgements it owes other servers in `acks`, the messages waiting for
    /// the pub/sub in `outbox`, and using `scratch` to decode a received message's
    /// arguments and names (as large as the largest message).
    pub fn new(
        config: ClusterConfig<'a>,
        seed: [u8; 32],
        pending: &'a mut [PendingSlot],
        acks: &'a mut [AckRoute],
        outbox: &'a mut [u8],
        scratch: &'a mut [u8],
        now: Instant,
    ) -> Self {
        Self::with(
            config,
            seed,
            [Mem::Lent(pending)],
            Mem::Lent(acks),
            [Mem::Lent(outbox), Mem::Lent(scratch)],
            now,
        )
    }

    /// A cluster member as [`new`](Self::new) makes it, with tables of its own: `pending`
    /// requests, `acks` owed, an `outbox` and a `scratch` buffer of these many bytes.
    #[cfg(feature = "alloc")]
    pub fn owned(
        config: ClusterConfig<'a>,
        seed: [u8; 32],
        pending: usize,
        acks: usize,
        outbox: usize,
        scratch: usize,
        now: Instant,
    ) -> Self {
        use alloc::vec;
        Self::with(
            config,
            seed,
            [Mem::Owned(
                vec![PendingSlot::FREE; pending].into_boxed_slice(),
            )],
            Mem::Owned(vec![AckRoute::FREE; acks].into_boxed_slice()),
            [
                Mem::Owned(vec![0u8; outbox].into_boxed_slice()),
                Mem::Owned(vec![0u8; scratch].into_boxed_slice()),
            ],
            now,
        )
    }

    fn with(
        config: ClusterConfig<'a>,
        seed: [u8; 32],
        [mut pending]: [Mem<'a, PendingSlot>; 1],
        mut acks: Mem<'a, AckRoute>,
        [outbox, scratch]: [Mem<'a, u8>; 2],
        now: Instant,
    ) -> Self {
        let mut rng = Rng::new(seed);
        let key = [rng.next_u64(), rng.next_u64()];
        pending.fill(PendingSlot::FREE);
        acks.fill(AckRoute::FREE);
        Self {
            timeout: config.request_timeout,
            key,
            rng,
            now: now.as_millis(),
            pending,
            acks,
            routes: 0,
            outbox: Outbox {
                buf: outbox,
                head: 0,
                tail: 0,
                prefix: config.prefix,
                stats: ClusterStats::default(),
            },
            scratch,
        }
    }

    /// The key prefix.
    pub const fn prefix(&self) -> &'a str {
        self.outbox.prefix
    }

    /// This server's uid in namespace `nsp` (drawn for this cluster member, one per
    /// namespace).
    pub fn uid(&self, nsp: &str) -> Uid {
        let h = siphash13(self.key, nsp.as_bytes()).to_le_bytes();
        Uid::from_random([h[0], h[1], h[2], h[3], h[4], h[5]])
    }

    /// The traffic counters.
    pub const fn stats(&self) -> ClusterStats {
        self.outbox.stats
    }

    // ------------------------------------------------------------------ outbox

    /// The oldest message waiting for the pub/sub.
    #[must_use]
    pub fn next_publish(&self) -> Option<Publish<'_>> {
        self.outbox.front()
    }

    /// The message [`next_publish`](Self::next_publish) gave is sent (or given up).
    pub fn pop_publish(&mut self) {
        self.outbox.pop();
    }

    /// The carrier lost `n` messages it had taken from the outbox (a connection that
    /// failed before they were all written): they count as dropped.
    pub fn count_lost(&mut self, n: u64) {
        self.outbox.stats.dropped += n;
    }

    /// How many bytes wait in the outbox.
    pub const fn outbox_len(&self) -> usize {
        self.outbox.tail - self.outbox.head
    }

    /// Queues a message on namespace `nsp`'s `chan`, written by `msg`.
    fn publish(
        &mut self,
        nsp: &str,
        chan: Channel<'_>,
        request: Option<&RequestId>,
        mut msg: impl FnMut(&mut [u8]) -> Result<usize, BufferTooSmall>,
    ) -> Result<(), ClusterError> {
        let prefix = self.outbox.prefix;
        let r = self.outbox.push(request, |out| {
            let c = channel(out, prefix, nsp, chan)?;
            let rest = out.get_mut(c..).unwrap_or_default();
            let m = msg(rest).map_err(|e| BufferTooSmall {
                required: c.saturating_add(e.required),
            })?;
            Ok((c, m))
        });
        count_publish(&mut self.outbox.stats, r)
    }

    fn ns_name<'s>(server: &'s Server<'_>, ns: NamespaceId) -> Result<&'s str, ClusterError> {
        server
            .namespace_name(ns)
            .ok_or(ClusterError::Server(CommandError::WrongState))
    }

    // ------------------------------------------------------------------ commands

    // Commands start deadlines from the latest `now` the cluster was given
    // (`receive`, `handle_timeout`): give it the time before issuing them.

    /// Emits `event` with `args` to the sockets `to` selects in namespace `ns`, on this
    /// server at once and, unless `to.flags.local`, on every other server of the cluster.
    /// Returns how many local sockets got it.
    ///
    /// # Errors
    /// The local broadcast's error, or [`ClusterError::OutboxFull`] when the message for
    /// the others was dropped (the local sockets got it).
    pub fn broadcast(
        &mut self,
        server: &mut Server<'_>,
        ns: NamespaceId,
        to: &Recipients<'_>,
        event: &str,
        args: Args<'_>,
    ) -> Result<usize, ClusterError> {
        let targets = Targets {
            rooms: to.rooms,
            except_rooms: to.except,
            except: &[],
        };
        let sent = server.broadcast(ns, &targets, event, args)?;
        if !to.flags.local {
            let nsp = Self::ns_name(server, ns)?;
            let uid = self.uid(nsp);
            let room = match to.rooms {
                [one] => Some(*one),
                _ => None,
            };
            let mut invalid = false;
            let r = self.publish(nsp, Channel::Broadcast(room), None, |out| {
                encode_broadcast(out, &uid, nsp, event, &args, to).map_err(|e| match e {
                    EncodeError::BufferTooSmall(e) => e,
                    EncodeError::InvalidArgs => {
                        invalid = true;
                        BufferTooSmall { required: 0 }
                    }
                })
            });
            if invalid {
                return Err(ClusterError::Invalid);
            }
            r?;
        }
        Ok(sent)
    }

    /// Puts the sockets `to` selects in `rooms`, here and (unless `to.flags.local`) on
    /// every other server. Returns how many local sockets were selected.
    ///
    /// # Errors
    /// As [`Server::sockets_join`], or [`ClusterError::OutboxFull`].
    pub fn sockets_join(
        &mut self,
        server: &mut Server<'_>,
        ns: NamespaceId,
        to: &Recipients<'_>,
        rooms: &[&str],
    ) -> Result<usize, ClusterError> {
        let n = server.sockets_join(ns, &local(to), rooms);
        self.tell(server, ns, to, &Outgoing::Join(to, rooms))?;
        Ok(n?)
    }

    /// Takes the sockets `to` selects out of `rooms`, here and (unless `to.flags.local`)
    /// on every other server. Returns how many local sockets were selected.
    ///
    /// # Errors
    /// [`ClusterError::OutboxFull`].
    pub fn sockets_leave(
        &mut self,
        server: &mut Server<'_>,
        ns: NamespaceId,
        to: &Recipients<'_>,
        rooms: &[&str],
    ) -> Result<usize, ClusterError> {
        let n = server.sockets_leave(ns, &local(to), rooms);
        self.tell(server, ns, to, &Outgoing::Leave(to, rooms))?;
        Ok(n)
    }

    /// Disconnects the sockets `to` selects (with `close`, closing their connections),
    /// here and (unless `to.flags.local`) on every other server. Returns how many local
    /// sockets were selected.
    ///
    /// # Errors
    /// [`ClusterError::OutboxFull`].
    pub fn disconnect_sockets(
        &mut self,
        server: &mut Server<'_>,
        ns: NamespaceId,
        to: &Recipients<'_>,
        close: bool,
    ) -> Result<usize, ClusterError> {
        let n = server.disconnect_sockets(ns, &local(to), close);
        self.tell(server, ns, to, &Outgoing::Disconnect(to, close))?;
        Ok(n)
    }

    /// Publishes a request that expects no answer.
    fn tell(
        &mut self,
        server: &Server<'_>,
        ns: NamespaceId,
        to: &Recipients<'_>,
        req: &Outgoing<'_>,
    ) -> Result<(), ClusterError> {
        if to.flags.local {
            return Ok(());
        }
        let nsp = Self::ns_name(server, ns)?;
        let uid = self.uid(nsp);
        self.publish(nsp, Channel::Request, None, |out| {
            write_request(out, &uid, None, req)
        })
    }

    /// Asks the other servers for their sockets that `to` selects (Node's
    /// `fetchSockets`); this server's own are [`Server::select`]'s. Their answers come as
    /// [`ClusterEvent::Sockets`], then the request's [`Done`].
    ///
    /// # Errors
    /// [`ClusterError::PendingFull`], [`ClusterError::OutboxFull`].
    pub fn fetch_sockets(
        &mut self,
        server: &Server<'_>,
        ns: NamespaceId,
        to: &Recipients<'_>,
    ) -> Result<RequestId, ClusterError> {
        self.ask(server, ns, Awaited::Sockets, &Outgoing::Fetch(to))
    }

    /// Emits `event` with `args` (a JSON list, no binary) to the other servers of the
    /// cluster (Node's `serverSideEmit`), for their [`ClusterEvent::ServerSideEmit`]. With
    /// `ack`, their answers come as [`ClusterEvent::Answer`], then the request's [`Done`].
    ///
    /// # Errors
    /// [`ClusterError::Invalid`] for arguments that are not JSON or carry attachments,
    /// [`ClusterError::PendingFull`], [`ClusterError::OutboxFull`].
    pub fn server_side_emit(
        &mut self,
        server: &Server<'_>,
        ns: NamespaceId,
        event: &str,
        args: Args<'_>,
        ack: bool,
    ) -> Result<Option<RequestId>, ClusterError> {
        if !args.binary.is_empty() || super::LIMITS.validate_list(args.json).is_err() {
            return Err(ClusterError::Invalid);
        }
        let req = Outgoing::ServerSideEmit(event, args.json);
        if ack {
            return self.ask(server, ns, Awaited::Answers, &req).map(Some);
        }
        let nsp = Self::ns_name(server, ns)?;
        let uid = self.uid(nsp);
        self.publish(nsp, Channel::Request, None, |out| {
            write_request(out, &uid, None, &req)
        })?;
        Ok(None)
    }

    /// Publishes a request that waits for answers.
    fn ask(
        &mut self,
        server: &Server<'_>,
        ns: NamespaceId,
        what: Awaited,
        req: &Outgoing<'_>,
    ) -> Result<RequestId, ClusterError> {
        let nsp = Self::ns_name(server, ns)?;
        let slot = self
            .pending
            .iter()
            .position(|s| s.state == SlotState::Free)
            .ok_or(ClusterError::PendingFull)?;
        let mut raw = [0u8; 6];
        self.rng.fill(&mut raw);
        let id = RequestId::from_random(raw);
        let uid = self.uid(nsp);
        self.publish(nsp, Channel::Request, Some(&id), |out| {
            write_request(out, &uid, Some(&id), req)
        })?;
        self.pending[slot] = PendingSlot {
            state: SlotState::Waiting,
            id,
            ns,
            what,
            deadline: self.now.saturating_add(u64::from(self.timeout)),
            expected: None,
            answers: 0,
        };
        Ok(id)
    }

    /// Request `request` reached `n` subscribers (this server among them), as the
    /// pub/sub says (Redis answers `PUBLISH` with it): it waits for `n - 1` answers.
    pub fn receivers(&mut self, request: &RequestId, n: usize) {
        if let Some(slot) = self.pending_mut(request) {
            slot.expected = Some(u32::try_from(n.saturating_sub(1)).unwrap_or(u32::MAX));
            slot.check();
        }
    }

    /// Answers another server's server-side emit with one JSON value.
    ///
    /// # Errors
    /// [`ClusterError::Invalid`] when `data` is not one JSON value,
    /// [`ClusterError::OutboxFull`].
    pub fn answer(
        &mut self,
        server: &Server<'_>,
        reply: &ReplyTo,
        data: &[u8],
    ) -> Result<(), ClusterError> {
        if super::LIMITS.validate(data).is_err() {
            return Err(ClusterError::Invalid);
        }
        let nsp = Self::ns_name(server, reply.namespace)?;
        let id = reply.request;
        self.publish(nsp, Channel::Response, None, |out| {
            let mut w = Writer::new(out);
            w.put(b"{\"type\":6,\"requestId\":");
            json::put_str(&mut w, id.as_str());
            w.put(b",\"data\":");
            w.put(data);
            w.byte(b'}');
            w.finish()
        })
    }

    // ------------------------------------------------------------------ time

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending
            .iter()
            .filter(|s| s.state == SlotState::Waiting)
            .map(|s| s.deadline)
            .min()
            .map(Instant::from_millis)
    }

    /// Ends the requests whose deadline passed at `now` (see [`poll_done`](Self::poll_done)).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now.as_millis());
        for s in self.pending.iter_mut() {
            if s.state == SlotState::Waiting && s.deadline <= self.now {
                s.state = SlotState::Done { timed_out: true };
            }
        }
    }

    /// A request of this server that is over: every expected answer came, or its deadline
    /// passed.
    pub fn poll_done(&mut self) -> Option<Done> {
        let s = self
            .pending
            .iter_mut()
            .find(|s| matches!(s.state, SlotState::Done { .. }))?;
        let SlotState::Done { timed_out } = s.state else {
            return None;
        };
        s.state = SlotState::Free;
        Some(Done {
            request: s.id,
            awaited: s.what,
            answers: s.answers,
            expected: s.expected,
            timed_out,
        })
    }

    fn pending_mut(&mut self, id: &RequestId) -> Option<&mut PendingSlot> {
        self.pending
            .iter_mut()
            .find(|s| s.state == SlotState::Waiting && s.id == *id)
    }

    // ------------------------------------------------------------------ input

    /// A message that arrived on `channel`: another server's broadcast or request is
    /// applied to `server` (and answered), an answer to a request of this server comes
    /// back as an event, as does a server-side emit. Messages of this server itself, of
    /// namespaces `server` does not have, and answers to other servers' requests are
    /// ignored (`Ok(None)`).
    ///
    /// # Errors
    /// [`ClusterError::Decode`] or [`ClusterError::TooMany`] for a message that cannot be
    /// read; [`ClusterError::Server`] when the local delivery failed;
    /// [`ClusterError::OutboxFull`] when an answer could not be queued.
    pub fn receive<'m>(
        &mut self,
        server: &mut Server<'_>,
        channel: &[u8],
        msg: &'m [u8],
        now: Instant,
    ) -> Result<Option<ClusterEvent<'m>>, ClusterError> {
        self.now = self.now.max(now.as_millis());
        let Some(rest) = channel.strip_prefix(self.outbox.prefix.as_bytes()) else {
            self.outbox.stats.ignored += 1;
            return Ok(None);
        };
        let ignored = self.outbox.stats.ignored;
        let result = if let Some(r) = rest.strip_prefix(b"-request#") {
            self.on_request(server, r, msg)
        } else if let Some(r) = rest.strip_prefix(b"-response#") {
            self.on_response(server, r, msg)
        } else if let Some(r) = rest.strip_prefix(b"#") {
            self.on_broadcast(server, r, msg)
        } else {
            self.ignore()
        };
        match result {
            Err(ClusterError::Decode(_) | ClusterError::TooMany) => {
                self.outbox.stats.malformed += 1;
            }
            _ if self.outbox.stats.ignored != ignored => {}
            _ => self.outbox.stats.received += 1,
        }
        result
    }

    /// A message not for this server.
    fn ignore<T>(&mut self) -> Result<Option<T>, ClusterError> {
        self.outbox.stats.ignored += 1;
        Ok(None)
    }

    fn on_broadcast<'m>(
        &mut self,
        server: &mut Server<'_>,
        rest: &[u8],
        msg: &'m [u8],
    ) -> Result<Option<ClusterEvent<'m>>, ClusterError> {
        let b = Broadcast::decode(msg)?;
        let nsp = b.namespace();
        let Some(ns) = server.namespace(nsp) else {
            return self.ignore();
        };
        let on_channel = rest
            .strip_prefix(nsp.as_bytes())
            .is_some_and(|r| r.starts_with(b"#"));
        if !on_channel || b.uid() == self.uid(nsp).as_str() || b.flags().local {
            return self.ignore();
        }
        let u = Unpacked::of(&b, &mut self.scratch)?;
        let (targets, args) = (u.targets(), u.args(&self.scratch));
        server.broadcast(ns, &targets, b.event(), args)?;
        Ok(None)
    }

    fn on_request<'m>(
        &mut self,
        server: &mut Server<'_>,
        rest: &[u8],
        msg: &'m [u8],
    ) -> Result<Option<ClusterEvent<'m>>, ClusterError> {
        let Some(ns) = rest
            .strip_suffix(b"#")
            .and_then(|n| core::str::from_utf8(n).ok())
            .and_then(|n| server.namespace(n))
        else {
            return self.ignore();
        };
        let req = Request::decode(msg)?;
        let nsp = Self::ns_name(server, ns)?;
        let own = req.uid().is_some_and(|u| u.eq_str(self.uid(nsp).as_str()));
        // What this server sent it applied itself already, and answers its own requests
        // from its own tables.
        if own {
            return self.ignore();
        }
        match req.kind() {
            RequestKind::Sockets => {
                let Some(id) = req.request_id() else {
                    return self.ignore();
                };
                let sel = names(&mut self.scratch, req.rooms());
                let to = sel
                    .as_ref()
                    .ok()
                    .map(|(_, rooms, n)| Targets::to(&rooms[..*n]));
                Self::respond_walk(
                    &mut self.outbox,
                    server,
                    ns,
                    &id,
                    to.as_ref(),
                    b"sockets",
                    |w, server, s| {
                        put_id(w, server, s);
                    },
                )?;
                sel?;
            }
            RequestKind::AllRooms => {
                let Some(id) = req.request_id() else {
                    return self.ignore();
                };
                self.respond_rooms(server, ns, &id)?;
            }
            RequestKind::RemoteJoin | RequestKind::RemoteLeave => {
                let join = req.kind() == RequestKind::RemoteJoin;
                if let Some((rooms, except)) = req.selection() {
                    let (scratch, rooms, nr) = names(&mut self.scratch, rooms)?;
                    let (scratch, except, ne) = names(scratch, except)?;
                    let (_, which, nw) = names(scratch, req.rooms())?;
                    let to = Targets {
                        rooms: &rooms[..nr],
                        except_rooms: &except[..ne],
                        except: &[],
                    };
                    if join {
                        server.sockets_join(ns, &to, &which[..nw])?;
                    } else {
                        server.sockets_leave(ns, &to, &which[..nw]);
                    }
                    return Ok(None);
                }
                let (scratch, one, _) = names_of(&mut self.scratch, req.sid())?;
                let (_, room, _) = names_of(scratch, req.room())?;
                let Some(socket) = server.socket_by_sid(ns, one[0]) else {
                    return self.ignore();
                };
                if join {
                    server.join(socket, room[0])?;
                } else {
                    server.leave(socket, room[0])?;
                }
                self.respond_empty(server, ns, req.request_id())?;
            }
            RequestKind::RemoteDisconnect => {
                if let Some((rooms, except)) = req.selection() {
                    let (scratch, rooms, nr) = names(&mut self.scratch, rooms)?;
                    let (_, except, ne) = names(scratch, except)?;
                    let to = Targets {
                        rooms: &rooms[..nr],
                        except_rooms: &except[..ne],
                        except: &[],
                    };
                    server.disconnect_sockets(ns, &to, req.close());
                    return Ok(None);
                }
                let (_, one, _) = names_of(&mut self.scratch, req.sid())?;
                let Some(socket) = server.socket_by_sid(ns, one[0]) else {
                    return self.ignore();
                };
                match server.session_of(socket) {
                    Some(session) if req.close() => server.close(session)?,
                    // The queue may be full: the socket ends all the same.
                    _ => server.disconnect(socket).unwrap_or(()),
                }
                self.respond_empty(server, ns, req.request_id())?;
            }
            RequestKind::RemoteFetch => {
                let Some(id) = req.request_id() else {
                    return self.ignore();
                };
                // Without `opts`, Node's own code would fail: answer with none.
                let sel = req
                    .selection()
                    .ok_or(ClusterError::Decode(DecodeError::Shape))
                    .and_then(|(rooms, except)| {
                        let (scratch, rooms, nr) = names(&mut self.scratch, rooms)?;
                        let (_, except, ne) = names(scratch, except)?;
                        Ok((rooms, nr, except, ne))
                    });
                let to = sel.as_ref().ok().map(|(rooms, nr, except, ne)| Targets {
                    rooms: &rooms[..*nr],
                    except_rooms: &except[..*ne],
                    except: &[],
                });
                Self::respond_walk(
                    &mut self.outbox,
                    server,
                    ns,
                    &id,
                    to.as_ref(),
                    b"sockets",
                    |w, server, s| {
                        w.put(b"{\"id\":");
                        put_id(w, server, s);
                        w.put(b",\"handshake\":{},\"rooms\":[");
                        put_id(w, server, s);
                        for room in server.socket_rooms(s) {
                            w.byte(b',');
                            json::put_str(w, room);
                        }
                        w.put(b"],\"data\":{}}");
                    },
                )?;
                sel?;
            }
            RequestKind::ServerSideEmit => {
                let data = req.data();
                if super::LIMITS.validate(data).is_err() {
                    return Err(DecodeError::Shape.into());
                }
                let reply = match req.request_id() {
                    Some(request) => Some(ReplyTo {
                        namespace: ns,
                        request,
                    }),
                    None if req.has_request_id() => return Err(DecodeError::Shape.into()),
                    None => None,
                };
                return Ok(Some(ClusterEvent::ServerSideEmit {
                    namespace: ns,
                    data,
                    reply,
                }));
            }
            RequestKind::Broadcast => {
                self.broadcast_with_acks(server, ns, msg)?;
            }
        }
        Ok(None)
    }

    /// Another server's broadcast that collects its clients' acknowledgements: each
    /// selected socket here gets the packet with an ack request (a timeout of the flags'),
    /// the sender hears how many (`{"type":8,"clientCount":n}`), then each answer as it
    /// comes ([`on_event`](Self::on_event)).
    fn broadcast_with_acks(
        &mut self,
        server: &mut Server<'_>,
        ns: NamespaceId,
        msg: &[u8],
    ) -> Result<(), ClusterError> {
        let (id, b) = Broadcast::decode_with_acks(msg)?;
        let request = RequestId::new(id).ok_or(DecodeError::Shape)?;
        if Some(ns) != server.namespace(b.namespace()) {
            return Err(DecodeError::Shape.into());
        }
        let clients = self.deliver_with_acks(server, ns, &b, request);
        // The sender waits for exactly one count from every server, even when it is 0.
        let nsp = Self::ns_name(server, ns)?;
        self.publish(nsp, Channel::Response, None, |out| {
            let mut w = Writer::new(out);
            w.put(b"{\"type\":8,\"requestId\":");
            json::put_str(&mut w, request.as_str());
            w.put(b",\"clientCount\":");
            w.decimal(*clients.as_ref().unwrap_or(&0));
            w.byte(b'}');
            w.finish()
        })?;
        clients.map(|_| ())
    }

    /// Sends broadcast `b` to the selected sockets with an ack request each, remembering
    /// where their answers go; returns how many were asked.
    fn deliver_with_acks(
        &mut self,
        server: &mut Server<'_>,
        ns: NamespaceId,
        b: &Broadcast<'_>,
        request: RequestId,
    ) -> Result<u64, ClusterError> {
        let u = Unpacked::of(b, &mut self.scratch)?;
        let (targets, args) = (u.targets(), u.args(&self.scratch));
        let free = self.acks.len() - self.routes;
        let selected = server.select(ns, &targets, |_, _| {});
        let mut clients = 0;
        if selected > free {
            // No room to remember every answer: delivered without asking for them.
            self.outbox.stats.untracked += 1;
            server.broadcast(ns, &targets, b.event(), args)?;
        } else {
            let acks = &mut self.acks;
            let mut at = 0;
            server.select(ns, &targets, |_, socket| {
                while let Some(r) = acks.get_mut(at) {
                    at += 1;
                    if r.state == RouteState::Free {
                        *r = AckRoute {
                            state: RouteState::Chosen,
                            socket,
                            ack: AckId(0),
                            ns,
                            request,
                        };
                        break;
                    }
                }
            });
            let timeout = b
                .flags()
                .timeout
                .map_or(self.timeout, |t| u32::try_from(t).unwrap_or(u32::MAX));
            for r in self.acks.iter_mut() {
                if r.state != RouteState::Chosen {
                    continue;
                }
                match server.emit_with_ack(r.socket, b.event(), args, Some(timeout)) {
                    Ok(ack) => {
                        r.ack = ack;
                        r.state = RouteState::Waiting;
                        self.routes += 1;
                        clients += 1;
                    }
                    Err(_) => r.state = RouteState::Free,
                }
            }
        }
        Ok(clients)
    }

    /// Offers the cluster one of the server's events: a client's acknowledgement it owes
    /// another server is published, and `true` says the event was the cluster's (the
    /// application has nothing to do with it). An expired one and a disconnected socket's
    /// are forgotten. Pass it every [`Event::Ack`], [`Event::AckTimeout`] and
    /// [`Event::Disconnect`] (the mio driver does).
    pub fn on_event(&mut self, server: &Server<'_>, event: &Event<'_>) -> bool {
        if self.routes == 0 {
            return false;
        }
        let (socket, id) = match *event {
            Event::Ack(a) => (a.socket, Some(a.id)),
            Event::AckTimeout { socket, id } => (socket, Some(id)),
            Event::Disconnect { socket, .. } => (socket, None),
            _ => return false,
        };
        let mut mine = None;
        for r in self.acks.iter_mut() {
            if r.state == RouteState::Waiting
                && r.socket == socket
                && id.is_none_or(|id| r.ack == id)
            {
                r.state = RouteState::Free;
                self.routes -= 1;
                mine = Some((r.ns, r.request));
                if id.is_some() {
                    break;
                }
            }
        }
        let (Event::Ack(a), Some((ns, request))) = (event, mine) else {
            return mine.is_some() && id.is_some();
        };
        let Ok(nsp) = Self::ns_name(server, ns) else {
            return true;
        };
        let blobs = a.attachments.to_array::<MAX_BLOBS>();
        let (blobs, n) = blobs.unwrap_or(([&[]; MAX_BLOBS], 0));
        let args = Args {
            json: a.args,
            binary: &blobs[..n],
        };
        let r = self.publish(nsp, Channel::Response, None, |out| {
            encode_ack(out, request.as_str(), &args).map_err(|e| match e {
                EncodeError::BufferTooSmall(e) => e,
                // The client's answer was read as valid JSON: cannot happen.
                EncodeError::InvalidArgs => BufferTooSmall {
                    required: usize::MAX,
                },
            })
        });
        // A drop is counted in the stats; the sender's request times out.
        let _ = r;
        true
    }

    /// Answers request `id` with `{"requestId":…,"KEY":[…]}`, an element per socket `to`
    /// selects, written by `each` (none without `to`: the request could not be read, and
    /// the sender still waits for exactly one answer from every server).
    fn respond_walk(
        outbox: &mut Outbox<'_>,
        server: &mut Server<'_>,
        ns: NamespaceId,
        id: &RequestId,
        to: Option<&Targets<'_>>,
        key: &[u8],
        mut each: impl FnMut(&mut Writer<'_>, &Server<'_>, SocketId),
    ) -> Result<(), ClusterError> {
        let nsp = Self::ns_name(server, ns)?;
        let mut name = [0u8; 256];
        let nsp = copy_str(&mut name, nsp);
        let prefix = outbox.prefix;
        let r = outbox.push(None, |out| {
            let c = channel(out, prefix, nsp, Channel::Response)?;
            let mut w = Writer::new(out.get_mut(c..).unwrap_or_default());
            w.put(b"{\"requestId\":");
            json::put_str(&mut w, id.as_str());
            w.put(b",\"");
            w.put(key);
            w.put(b"\":[");
            let mut first = true;
            if let Some(to) = to {
                server.select(ns, to, |server, s| {
                    if !first {
                        w.byte(b',');
                    }
                    first = false;
                    each(&mut w, server, s);
                });
            }
            w.put(b"]}");
            let m = w.finish().map_err(|e| BufferTooSmall {
                required: c.saturating_add(e.required),
            })?;
            Ok((c, m))
        });
        count_publish(&mut outbox.stats, r)
    }

    /// Answers [`RequestKind::AllRooms`]: the namespace's rooms and its sockets' own-id rooms.
    fn respond_rooms(
        &mut self,
        server: &mut Server<'_>,
        ns: NamespaceId,
        id: &RequestId,
    ) -> Result<(), ClusterError> {
        let nsp = Self::ns_name(server, ns)?;
        let mut name = [0u8; 256];
        let nsp = copy_str(&mut name, nsp);
        let prefix = self.outbox.prefix;
        let r = self.outbox.push(None, |out| {
            let c = channel(out, prefix, nsp, Channel::Response)?;
            let mut w = Writer::new(out.get_mut(c..).unwrap_or_default());
            w.put(b"{\"requestId\":");
            json::put_str(&mut w, id.as_str());
            w.put(b",\"rooms\":[");
            let mut first = true;
            for room in server.rooms(ns) {
                if !first {
                    w.byte(b',');
                }
                first = false;
                json::put_str(&mut w, room);
            }
            server.select(ns, &Targets::ALL, |server, s| {
                if !first {
                    w.byte(b',');
                }
                first = false;
                put_id(&mut w, server, s);
            });
            w.put(b"]}");
            let m = w.finish().map_err(|e| BufferTooSmall {
                required: c.saturating_add(e.required),
            })?;
            Ok((c, m))
        });
        count_publish(&mut self.outbox.stats, r)
    }

    /// Answers a one-socket request with `{"requestId":…}`, when it has an id.
    fn respond_empty(
        &mut self,
        server: &Server<'_>,
        ns: NamespaceId,
        id: Option<RequestId>,
    ) -> Result<(), ClusterError> {
        let Some(id) = id else {
            return Ok(());
        };
        let nsp = Self::ns_name(server, ns)?;
        self.publish(nsp, Channel::Response, None, |out| {
            let mut w = Writer::new(out);
            w.put(b"{\"requestId\":");
            json::put_str(&mut w, id.as_str());
            w.byte(b'}');
            w.finish()
        })
    }

    fn on_response<'m>(
        &mut self,
        server: &Server<'_>,
        rest: &[u8],
        msg: &'m [u8],
    ) -> Result<Option<ClusterEvent<'m>>, ClusterError> {
        // `NSP#` or `NSP#UID#`.
        let ns = rest
            .strip_suffix(b"#")
            .and_then(|n| core::str::from_utf8(n).ok())
            .and_then(|n| {
                server.namespace(n).or_else(|| {
                    let (nsp, uid) = n.rsplit_once('#')?;
                    let ns = server.namespace(nsp)?;
                    (uid == self.uid(nsp).as_str()).then_some(ns)
                })
            });
        let Some(ns) = ns else {
            return self.ignore();
        };
        let resp = Response::decode(msg)?;
        let Some(id) = resp.request_id() else {
            return self.ignore();
        };
        let Some(slot) = self.pending_mut(&id) else {
            return self.ignore();
        };
        if slot.ns != ns {
            return self.ignore();
        }
        let event = match slot.what {
            Awaited::Sockets => ClusterEvent::Sockets {
                request: id,
                sockets: resp.sockets().ok_or(DecodeError::Shape)?,
            },
            Awaited::Answers => {
                if resp.kind() != Some(6) {
                    return Err(DecodeError::Shape.into());
                }
                ClusterEvent::Answer {
                    request: id,
                    data: resp.data().unwrap_or(b"null"),
                }
            }
        };
        slot.answers += 1;
        slot.check();
        Ok(Some(event))
    }
}

impl PendingSlot {
    /// Ends the request once every expected answer came.
    fn check(&mut self) {
        if self.state == SlotState::Waiting && self.expected.is_some_and(|e| self.answers >= e) {
            self.state = SlotState::Done { timed_out: false };
        }
    }
}

/// A received broadcast's recipients and arguments (its JSON in the scratch buffer).
struct Unpacked<'m> {
    rooms: [&'m str; MAX_ROOMS],
    nr: usize,
    except: [&'m str; MAX_ROOMS],
    ne: usize,
    blobs: [&'m [u8]; MAX_BLOBS],
    count: usize,
    len: usize,
}

impl<'m> Unpacked<'m> {
    /// Reads `b`'s rooms and writes its arguments into `scratch`.
    fn of(b: &Broadcast<'m>, scratch: &mut [u8]) -> Result<Self, ClusterError> {
        let mut u = Self {
            rooms: [""; MAX_ROOMS],
            nr: 0,
            except: [""; MAX_ROOMS],
            ne: 0,
            blobs: [&[]; MAX_BLOBS],
            count: 0,
            len: 0,
        };
        u.nr = fill(&mut u.rooms, b.rooms())?;
        u.ne = fill(&mut u.except, b.except())?;
        (u.len, u.count) = b.write_args(scratch, &mut u.blobs).map_err(|e| match e {
            DecodeError::BufferTooSmall(_) => ClusterError::TooMany,
            e => ClusterError::Decode(e),
        })?;
        Ok(u)
    }

    fn targets(&self) -> Targets<'_> {
        Targets {
            rooms: &self.rooms[..self.nr],
            except_rooms: &self.except[..self.ne],
            except: &[],
        }
    }

    /// The arguments, their JSON in `scratch` (the buffer [`of`](Self::of) wrote).
    fn args<'s>(&'s self, scratch: &'s [u8]) -> Args<'s> {
        Args {
            json: &scratch[..self.len],
            binary: &self.blobs[..self.count],
        }
    }
}

/// Counts a message queued or dropped.
fn count_publish(
    stats: &mut ClusterStats,
    r: Result<(), ClusterError>,
) -> Result<(), ClusterError> {
    match r {
        Ok(()) => stats.queued += 1,
        Err(_) => stats.dropped += 1,
    }
    r
}

/// The targets of a command on this server alone.
fn local<'t>(to: &Recipients<'t>) -> Targets<'t> {
    Targets {
        rooms: to.rooms,
        except_rooms: to.except,
        except: &[],
    }
}

/// Puts the rooms of a broadcast in `out`; returns how many.
fn fill<'a>(
    out: &mut [&'a str; MAX_ROOMS],
    rooms: impl Iterator<Item = Result<&'a str, DecodeError>>,
) -> Result<usize, ClusterError> {
    let mut n = 0;
    for room in rooms {
        *out.get_mut(n).ok_or(ClusterError::TooMany)? = room?;
        n += 1;
    }
    Ok(n)
}

/// Unescapes `list`'s names into `scratch`; returns the scratch left, the names and how
/// many.
fn names<'s>(
    scratch: &'s mut [u8],
    list: Names<'_>,
) -> Result<(&'s mut [u8], [&'s str; MAX_ROOMS], usize), ClusterError> {
    let mut out = [""; MAX_ROOMS];
    let mut rest = scratch;
    let mut n = 0;
    for name in list {
        let name = name.ok_or(DecodeError::Shape)?;
        let (s, tail) = unescape(rest, name)?;
        *out.get_mut(n).ok_or(ClusterError::TooMany)? = s;
        n += 1;
        rest = tail;
    }
    Ok((rest, out, n))
}

/// One name (`sid`, `room`), which must be there.
fn names_of<'s>(
    scratch: &'s mut [u8],
    name: Option<JsonStr<'_>>,
) -> Result<(&'s mut [u8], [&'s str; 1], usize), ClusterError> {
    let (s, rest) = unescape(scratch, name.ok_or(DecodeError::Shape)?)?;
    Ok((rest, [s], 1))
}

fn unescape<'s>(
    scratch: &'s mut [u8],
    name: JsonStr<'_>,
) -> Result<(&'s str, &'s mut [u8]), ClusterError> {
    let len = name
        .unescape_into(scratch)
        .map_err(|_| ClusterError::TooMany)?;
    let (head, tail) = scratch.split_at_mut(len);
    let head: &'s [u8] = head;
    let s = core::str::from_utf8(head).map_err(|_| DecodeError::Shape)?;
    Ok((s, tail))
}

/// A socket's id as a JSON string.
fn put_id(w: &mut Writer<'_>, server: &Server<'_>, s: SocketId) {
    let id = server.socket_sid(s);
    json::put_str(w, id.as_ref().map_or("", |id| id.as_str()));
}

/// Copies `s` into `buf` (a namespace name, at most 255 bytes), to hold it while the server
/// is borrowed mutably.
fn copy_str<'b>(buf: &'b mut [u8; 256], s: &str) -> &'b str {
    let n = s.len().min(buf.len());
    buf[..n].copy_from_slice(&s.as_bytes()[..n]);
    core::str::from_utf8(&buf[..n]).unwrap_or_default()
}
