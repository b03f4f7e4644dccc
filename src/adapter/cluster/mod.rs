//! A server's part in a cluster of Socket.IO servers sharing a pub/sub, without I/O.
//!
//! The member and its commands are here; what arrives from the pub/sub is handled in
//! `input.rs`, what waits to be published in `outbox.rs`.

use core::fmt;

mod input;
mod outbox;

use outbox::{Mem, Outbox};

use super::request::{Names, Outgoing, Request, RequestId, RequestKind, Response};
use super::{
    AckAnswer, Broadcast, Channel, DEFAULT_PREFIX, DecodeError, EncodeError, Flags, Recipients,
    Uid, channel, encode_ack, encode_broadcast, encode_broadcast_with_acks, write_request,
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
    /// The other servers' clients' acknowledgements of a broadcast
    /// ([`Cluster::broadcast_with_ack`]).
    Acks,
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
    /// Of a broadcast collecting acknowledgements: the clients the servers that answered
    /// asked, and the acknowledgements that came.
    clients: u32,
    acks: u32,
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
        clients: 0,
        acks: 0,
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
        socket: SocketId::bare(0, 0),
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
    /// A client of another server answered [`broadcast_with_ack`](Cluster::broadcast_with_ack)
    /// `request`.
    ClientAck {
        /// The request.
        request: RequestId,
        /// The client's answer (its first argument).
        answer: AckAnswer<'m>,
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
    /// How many servers answered (of a broadcast collecting acknowledgements: how many
    /// told their count of clients).
    pub answers: u32,
    /// How many were expected, when known ([`Cluster::receivers`]).
    pub expected: Option<u32>,
    /// Whether the deadline passed before every expected answer came (of a broadcast
    /// collecting acknowledgements: every server's count, and as many acknowledgements as
    /// the counts add up to).
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
///   [`broadcast_with_ack`](Self::broadcast_with_ack) collects the other servers'
///   clients' acknowledgements of a broadcast until they all came or its own timeout
///   passes;
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
                encoded(
                    encode_broadcast(out, &uid, nsp, event, &args, to),
                    &mut invalid,
                )
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
        if args.blob_count() != 0 || crate::adapter::LIMITS.validate_list(args.json).is_err() {
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

    /// Asks the other servers to emit `event` with `args` to their sockets that `to`
    /// selects, each socket asked for an acknowledgement within `timeout` milliseconds
    /// (Node's `io.timeout(ms).emit(event, ..., ack)` in a cluster, the adapter's
    /// `broadcastWithAck`; the flags carry the timeout). Each server answers with how
    /// many of its clients it asked, then relays each client's answer as it comes: the
    /// answers come as [`ClusterEvent::ClientAck`], then the request's [`Done`] once every
    /// server told its count and as many answers came, or `timeout` (not the configured
    /// request timeout) passed.
    ///
    /// This server's own sockets are not asked here: emit to them with
    /// [`Server::emit_with_ack`] with the same timeout and count their
    /// [`Event::Ack`]s with these. A request takes an entry of the table of pending
    /// requests until it is over; the answers take none (the caller keeps what it wants
    /// of them).
    ///
    /// # Errors
    /// [`ClusterError::Invalid`] for arguments that are not valid or a `local` broadcast
    /// (there is nobody else to ask), [`ClusterError::PendingFull`],
    /// [`ClusterError::OutboxFull`].
    pub fn broadcast_with_ack(
        &mut self,
        server: &Server<'_>,
        ns: NamespaceId,
        to: &Recipients<'_>,
        event: &str,
        args: Args<'_>,
        timeout: u32,
    ) -> Result<RequestId, ClusterError> {
        if to.flags.local {
            return Err(ClusterError::Invalid);
        }
        let to = Recipients {
            flags: Flags {
                timeout: Some(u64::from(timeout)),
                ..to.flags
            },
            ..*to
        };
        let nsp = Self::ns_name(server, ns)?;
        let mut invalid = false;
        let r = self.ask_with(server, ns, Awaited::Acks, timeout, |out, uid, id| {
            let n = encode_broadcast_with_acks(out, uid, id.as_str(), nsp, event, &args, &to);
            encoded(n, &mut invalid)
        });
        if invalid {
            return Err(ClusterError::Invalid);
        }
        r
    }

    /// Publishes a request that waits for answers until the request timeout.
    fn ask(
        &mut self,
        server: &Server<'_>,
        ns: NamespaceId,
        what: Awaited,
        req: &Outgoing<'_>,
    ) -> Result<RequestId, ClusterError> {
        self.ask_with(server, ns, what, self.timeout, |out, uid, id| {
            write_request(out, uid, Some(id), req)
        })
    }

    /// Publishes a request written by `write` (given the server's uid and the request's
    /// id) that waits for answers `timeout` milliseconds at most.
    fn ask_with(
        &mut self,
        server: &Server<'_>,
        ns: NamespaceId,
        what: Awaited,
        timeout: u32,
        mut write: impl FnMut(&mut [u8], &Uid, &RequestId) -> Result<usize, BufferTooSmall>,
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
            write(out, &uid, &id)
        })?;
        self.pending[slot] = PendingSlot {
            state: SlotState::Waiting,
            id,
            ns,
            what,
            deadline: self.now.saturating_add(u64::from(timeout)),
            ..PendingSlot::FREE
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
        if crate::adapter::LIMITS.validate(data).is_err() {
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
}

impl PendingSlot {
    /// Ends the request once every expected answer came (and, of a broadcast collecting
    /// acknowledgements, as many acknowledgements as the servers' counts add up to).
    fn check(&mut self) {
        if self.state == SlotState::Waiting
            && self.expected.is_some_and(|e| self.answers >= e)
            && self.acks >= self.clients
        {
            self.state = SlotState::Done { timed_out: false };
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

/// An encoder's result as the outbox takes it: arguments that are not valid set `invalid`
/// (and give a size the outbox refuses), a short buffer says how much is needed.
fn encoded(r: Result<usize, EncodeError>, invalid: &mut bool) -> Result<usize, BufferTooSmall> {
    r.map_err(|e| match e {
        EncodeError::BufferTooSmall(e) => e,
        EncodeError::InvalidArgs => {
            *invalid = true;
            BufferTooSmall { required: 0 }
        }
    })
}
