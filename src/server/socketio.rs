//! The Socket.IO layer ([`SocketIoLayer`]) on top of the Engine.IO sessions: namespaces,
//! sockets, CONNECT, events, acknowledgements, binary attachments. A client's packets come
//! in with an [`Input`] (the session's `SioSession` and the shared parts) and what they
//! leave for the session comes back as a [`Handled`] value.

use super::engine::Bin;
use super::event::{Events, Payload, Record};
use super::ix::{Ix, Link};
use super::pool::{Pool, VIEWS};
use super::session::{Assembly, SessionIx, SessionSlot, SioSession};
use super::storage::{NONE, Slots, Table, slot_entry};
use super::{
    Args, CloseReason, CommandError, DisconnectReason, NamespaceId, Resource, ServerConfig,
    SessionId, SocketId, WireId,
};
use crate::json::{JsonStr, Limits};
use crate::rand::Rng;
use crate::sio::AckId;
use crate::sio::{self, EventName, Packet, PacketType};

/// Longest namespace or room name kept by the server, in bytes.
pub(crate) const MAX_NAME: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SockState {
    Free,
    /// Waiting for the app's accept or refuse.
    Pending,
    Connected,
    /// Left its namespace; waits for its Disconnect event to be queued.
    Closing,
    /// Reported disconnected, kept for its client to recover (see `recovery.rs`).
    #[cfg(feature = "recovery")]
    Parked,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Socket {
    pub(crate) era: u32,
    /// Free list, then the reap list while closing.
    pub(crate) link: Link<SocketSlot>,
    pub(crate) state: SockState,
    pub(crate) reason: u8,
    /// Namespace index, `u16::MAX` for a dynamic one not yet accepted.
    pub(crate) ns: u16,
    pub(crate) session: Link<SessionSlot>,
    pub(crate) id: [u8; 15],
    pub(crate) next_in_session: Link<SocketSlot>,
    pub(crate) ns_prev: Link<SocketSlot>,
    pub(crate) ns_next: Link<SocketSlot>,
    /// Memberships (linked through `MemberSlot::sock_next`).
    pub(crate) rooms: Link<MemberSlot>,
    /// Awaited acks (linked through `AckSlot::next`).
    pub(crate) acks: Link<AckSlot>,
    pub(crate) ack_count: u16,
    /// Rooms it is in (its memberships).
    pub(crate) room_count: u16,
    pub(crate) next_ack: u32,
    /// Broadcast de-duplication mark.
    pub(crate) stamp: u32,
    /// The name asked for, for a dynamic namespace not yet accepted (a pool message).
    pub(crate) name_msg: u32,
}

impl Socket {
    const EMPTY: Self = Self {
        era: 0,
        link: Link::NONE,
        state: SockState::Free,
        reason: 0,
        ns: u16::MAX,
        session: Link::NONE,
        id: [0; 15],
        next_in_session: Link::NONE,
        ns_prev: Link::NONE,
        ns_next: Link::NONE,
        rooms: Link::NONE,
        acks: Link::NONE,
        ack_count: 0,
        room_count: 0,
        next_ack: 0,
        stamp: 0,
        name_msg: NONE,
    };
}

/// Storage for one socket (an entry of the `sockets` table of a [`Storage`](super::Storage)).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SocketSlot(pub(crate) Socket);

impl SocketSlot {
    /// An unused entry.
    pub(crate) const EMPTY: Self = Self(Socket::EMPTY);
}

slot_entry!(SocketSlot, keep: era);

#[derive(Debug, Clone, Copy)]
pub(crate) struct Namespace {
    pub(crate) used: bool,
    pub(crate) len: u8,
    pub(crate) name: [u8; MAX_NAME],
    /// Connected sockets (linked through `Socket::ns_next`).
    pub(crate) sockets: Link<SocketSlot>,
    pub(crate) count: u32,
}

/// Storage for one namespace (an entry of the `namespaces` table of a
/// [`Storage`](super::Storage)).
#[derive(Debug, Clone, Copy)]
pub(crate) struct NamespaceSlot(pub(crate) Namespace);

impl NamespaceSlot {
    /// An unused entry.
    pub(crate) const EMPTY: Self = Self(Namespace {
        used: false,
        len: 0,
        name: [0; MAX_NAME],
        sockets: Link::NONE,
        count: 0,
    });
}

impl Namespace {
    pub(crate) fn name(&self) -> &str {
        core::str::from_utf8(self.name.get(..usize::from(self.len)).unwrap_or_default())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Room {
    pub(crate) link: Link<RoomSlot>,
    pub(crate) used: bool,
    pub(crate) ns: u16,
    pub(crate) len: u8,
    pub(crate) name: [u8; MAX_NAME],
    pub(crate) hash: u32,
    pub(crate) members: Link<MemberSlot>,
    pub(crate) count: u32,
    pub(crate) hash_next: Link<RoomSlot>,
    /// Head of hash bucket `self`'s index (the bucket array lives in the slots).
    pub(crate) bucket: Link<RoomSlot>,
}

impl Room {
    pub(crate) fn name(&self) -> &str {
        core::str::from_utf8(self.name.get(..usize::from(self.len)).unwrap_or_default())
            .unwrap_or_default()
    }
}

/// Storage for one room (an entry of the `rooms` table of a [`Storage`](super::Storage)).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RoomSlot(pub(crate) Room);

impl RoomSlot {
    /// An unused entry.
    pub(crate) const EMPTY: Self = Self(Room {
        link: Link::NONE,
        used: false,
        ns: 0,
        len: 0,
        name: [0; MAX_NAME],
        hash: 0,
        members: Link::NONE,
        count: 0,
        hash_next: Link::NONE,
        bucket: Link::NONE,
    });
}

// The hash bucket array lives in the slots (bucket i's head in slot i).
slot_entry!(RoomSlot, keep: bucket);

#[derive(Debug, Clone, Copy)]
pub(crate) struct Member {
    pub(crate) link: Link<MemberSlot>,
    pub(crate) room: Link<RoomSlot>,
    pub(crate) socket: Link<SocketSlot>,
    pub(crate) room_prev: Link<MemberSlot>,
    pub(crate) room_next: Link<MemberSlot>,
    pub(crate) sock_next: Link<MemberSlot>,
}

/// Storage for one room membership (an entry of the `members` table of a
/// [`Storage`](super::Storage)).
#[derive(Debug, Clone, Copy)]
pub(crate) struct MemberSlot(pub(crate) Member);

impl MemberSlot {
    /// An unused entry.
    pub(crate) const EMPTY: Self = Self(Member {
        link: Link::NONE,
        room: Link::NONE,
        socket: Link::NONE,
        room_prev: Link::NONE,
        room_next: Link::NONE,
        sock_next: Link::NONE,
    });
}

slot_entry!(MemberSlot);

#[derive(Debug, Clone, Copy)]
pub(crate) struct AckEntry {
    pub(crate) link: Link<AckSlot>,
    pub(crate) id: u32,
    /// 0 for no timeout.
    pub(crate) deadline: u64,
    pub(crate) next: Link<AckSlot>,
}

/// Storage for one awaited acknowledgement (an entry of the `acks` table of a
/// [`Storage`](super::Storage)).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AckSlot(pub(crate) AckEntry);

impl AckSlot {
    /// An unused entry.
    pub(crate) const EMPTY: Self = Self(AckEntry {
        link: Link::NONE,
        id: 0,
        deadline: 0,
        next: Link::NONE,
    });
}

slot_entry!(AckSlot);

/// The Socket.IO layer's state: namespaces, sockets, rooms with their memberships,
/// awaited acknowledgements.
/// A socket's position.
pub(crate) type SocketIx = Ix<SocketSlot>;
/// A room's position.
pub(crate) type RoomIx = Ix<RoomSlot>;
/// A membership's position.
pub(crate) type MemberIx = Ix<MemberSlot>;
/// An awaited ack's position.
pub(crate) type AckIx = Ix<AckSlot>;

pub(crate) struct SocketIoLayer<'a> {
    pub(super) sockets: Table<'a, SocketSlot>,
    pub(super) namespaces: Slots<'a, NamespaceSlot>,
    pub(super) namespace_count: u16,
    pub(super) rooms: Table<'a, RoomSlot>,
    /// Room hash buckets in use (a power of two, or 0 for none).
    pub(super) buckets: u32,
    pub(super) members: Table<'a, MemberSlot>,
    pub(super) acks: Table<'a, AckSlot>,
    /// Sockets closed whose Disconnect event is still to be queued (linked through
    /// `Socket::link`).
    pub(super) reap_sockets: Link<SocketSlot>,
    pub(super) reap_sockets_tail: Link<SocketSlot>,
    /// The latest broadcast's de-duplication mark.
    pub(super) stamp: u32,
    /// The room hash key.
    pub(super) hash_key: [u64; 2],
    /// Connection state recovery: the packet log and the parked sockets.
    pub(super) recovery: super::recovery::Recovery,
    /// The stored message of the event with attachments handed out last, kept until the
    /// next `poll_event` so that its attachments can be sent on without a copy.
    pub(super) held: Held,
}

/// The event with attachments the application was handed last: its pool message, where
/// its attachments start in it, and where they were copied to (the address of the bytes
/// handed out, compared with what an emit is given back, never read through).
#[derive(Debug, Clone, Copy)]
pub(super) struct Held {
    pub(super) msg: u32,
    pub(super) at: u32,
    pub(super) copy: usize,
    pub(super) len: usize,
    pub(super) count: usize,
}

impl Held {
    pub(super) const NONE: Self = Self {
        msg: NONE,
        at: 0,
        copy: 0,
        len: 0,
        count: 0,
    };

    /// Where in the stored message each of `args`' attached blobs is, when they are the
    /// held event's attachments as it handed them out.
    fn locate(&self, args: &Args<'_>) -> Option<([(u32, u32); MAX_EMIT_ATTACHMENTS], usize)> {
        let raw = args.attached.stored_raw()?;
        if self.msg == NONE
            || raw.as_ptr() as usize != self.copy
            || raw.len() != self.len
            || args.attached.len() != self.count
        {
            return None;
        }
        let mut out = [(0, 0); MAX_EMIT_ATTACHMENTS];
        let mut n = 0;
        for blob in args.attached.iter() {
            let off = (blob.as_ptr() as usize).checked_sub(self.copy)?;
            *out.get_mut(n)? = (
                self.at.checked_add(u32::try_from(off).ok()?)?,
                blob.len() as u32,
            );
            n += 1;
        }
        Some((out, n))
    }
}

/// Bytes of the header a binary packet being assembled keeps at the front of its pool
/// message, to become its event record when the last attachment arrives.
const BIN_HEAD: usize = 44;
/// Scratch for packet headers (type, namespace, ack id, event name).
const HEADER_SCRATCH: usize = 1024;
/// The usual header fits in this much; longer event names take the slow path.
const SHORT_HEADER: usize = 160;
/// Most blobs one emit, ack or broadcast may carry.
pub(crate) use crate::sio::MAX_EMIT_ATTACHMENTS;

/// The pool messages of one outgoing packet: the text, then one per blob.
pub(crate) type PacketMsgs = [u32; 1 + MAX_EMIT_ATTACHMENTS];

/// Writes `4` and the head of an EVENT or ACK (everything but the arguments and the
/// closing `]`) into `out`; returns its length.
fn packet_head(
    out: &mut [u8],
    ns: &str,
    ack: Option<u64>,
    name: Option<&str>,
    count: usize,
) -> Result<usize, sio::EncodeError> {
    let (first, rest) = out
        .split_first_mut()
        .ok_or(sio::EncodeError::BufferTooSmall(crate::BufferTooSmall {
            required: 1,
        }))?;
    *first = b'4';
    let ack_id = ack.unwrap_or_default();
    let n = match (name, count) {
        (Some(name), 0) => sio::encode_event(rest, ns, ack, name, b""),
        (Some(name), _) => sio::encode_binary_event(rest, ns, ack, name, b"", count),
        (None, 0) => sio::encode_ack(rest, ns, ack_id, b""),
        (None, _) => sio::encode_binary_ack(rest, ns, ack_id, b"", count),
    }?;
    // The `1 + n` bytes written end with the `]` of the empty argument list; the head
    // is the first `n`.
    Ok(n)
}

impl<'a> SocketIoLayer<'a> {
    /// Adds a namespace; `None` for a bad name or a full table.
    pub(super) fn add_namespace(&mut self, name: &str) -> Option<u16> {
        if !name.starts_with('/') || name.len() > MAX_NAME {
            return None;
        }
        let index = self.namespace_count;
        if usize::from(index) >= self.namespaces.len() {
            self.namespaces.push(NamespaceSlot::EMPTY).ok()?;
        }
        let slot = &mut self
            .namespaces
            .as_mut_slice()
            .get_mut(usize::from(index))?
            .0;
        slot.used = true;
        slot.len = name.len() as u8;
        slot.name[..name.len()].copy_from_slice(name.as_bytes());
        slot.sockets = Link::NONE;
        slot.count = 0;
        self.namespace_count += 1;
        Some(index)
    }

    /// The index of the namespace named `name`.
    pub(super) fn find_namespace(&self, name: &str) -> Option<u16> {
        self.namespaces
            .as_slice()
            .iter()
            .take(usize::from(self.namespace_count))
            .position(|n| n.0.name() == name)
            .map(|i| i as u16)
    }

    /// The name of namespace `ns` (`/` for one that does not exist).
    pub(super) fn ns_name(&self, ns: u16) -> &str {
        self.namespaces
            .as_slice()
            .get(usize::from(ns))
            .map_or("/", |n| n.0.name())
    }

    /// The handle of a live socket index.
    pub(super) fn handle(&self, sock: SocketIx) -> SocketId {
        let s = &self.sockets[sock].0;
        SocketId {
            index: sock.get(),
            era: s.era,
            raw: s.id,
        }
    }

    /// The index of a live socket (pending or connected).
    pub(super) fn socket_index(&self, id: SocketId) -> Result<SocketIx, CommandError> {
        match self.sockets.ix(id.index) {
            Some(i)
                if self.sockets[i].0.era == id.era
                    && matches!(
                        self.sockets[i].0.state,
                        SockState::Pending | SockState::Connected
                    ) =>
            {
                Ok(i)
            }
            _ => Err(CommandError::UnknownSocket),
        }
    }

    /// The socket whose wire id is `text`, if it is live in namespace `ns`.
    pub(super) fn socket_by_wire_id(&self, ns: u16, text: &str) -> Option<SocketIx> {
        let raw = WireId::parse(text.as_bytes())?;
        let i = self.sockets.ix(super::id_index(&raw))?;
        let s = &self.sockets[i].0;
        (s.state == SockState::Connected && s.ns == ns && s.id == raw).then_some(i)
    }

    /// A session's sockets (`ss`), newest first.
    pub(super) fn sockets_of<'s>(
        &'s self,
        ss: &SioSession,
    ) -> impl Iterator<Item = SocketIx> + use<'s, 'a> {
        let mut at = ss.sockets;
        core::iter::from_fn(move || {
            let s = at.get()?;
            at = self.sockets[s].0.next_in_session;
            Some(s)
        })
    }

    /// The awaited acks of socket `sock`.
    fn acks_of(&self, sock: SocketIx) -> impl Iterator<Item = AckIx> + use<'_, 'a> {
        let mut at = self.sockets[sock].0.acks;
        core::iter::from_fn(move || {
            let a = at.get()?;
            at = self.acks[a].0.next;
            Some(a)
        })
    }

    /// The index of a connected socket.
    pub(super) fn connected(&self, id: SocketId) -> Result<SocketIx, CommandError> {
        let i = self.socket_index(id)?;
        if self.sockets[i].0.state != SockState::Connected {
            return Err(CommandError::WrongState);
        }
        Ok(i)
    }

    /// The live socket of a session (`ss`, its Socket.IO state) in the namespace named
    /// `name`.
    pub(super) fn find_socket(
        &self,
        ss: &SioSession,
        name: &str,
        pool: &Pool<'_>,
    ) -> Option<SocketIx> {
        self.sockets_of(ss).find(|&s| {
            let sock = &self.sockets[s].0;
            if sock.ns == u16::MAX {
                let mut buf = [0u8; MAX_NAME];
                let n = pool.copy_all(sock.name_msg, &mut buf);
                buf.get(..n) == Some(name.as_bytes())
            } else {
                self.ns_name(sock.ns) == name
            }
        })
    }

    /// The socket of the session in `namespace`, or a protocol error. A socket still waiting
    /// for the application's answer counts (a client may send right after its CONNECT; the
    /// events queue after the Connect event), unless its namespace does not exist yet.
    pub(super) fn joined(
        &self,
        ss: &SioSession,
        namespace: &str,
        pool: &Pool<'_>,
    ) -> Result<SocketIx, CloseReason> {
        match self.find_socket(ss, namespace, pool) {
            Some(s) if self.sockets[s].0.ns != u16::MAX => Ok(s),
            _ => Err(CloseReason::ParseError),
        }
    }

    /// The namespace name of a socket (its pending dynamic name written into `buf`).
    pub(super) fn socket_ns_name<'b>(
        &'b self,
        sock: SocketIx,
        buf: &'b mut [u8; MAX_NAME],
        pool: &Pool<'_>,
    ) -> &'b str {
        let s = &self.sockets[sock].0;
        if s.ns != u16::MAX {
            return self.ns_name(s.ns);
        }
        let n = pool.copy_all(s.name_msg, buf);
        core::str::from_utf8(buf.get(..n).unwrap_or_default()).unwrap_or("/")
    }

    /// Whether a session (`ss`) has a connected socket.
    pub(super) fn has_connected(&self, ss: &SioSession) -> bool {
        self.sockets_of(ss)
            .any(|s| self.sockets[s].0.state == SockState::Connected)
    }

    /// Takes socket `sock` out of its session's list (`ss`).
    pub(super) fn unlink_from_session(&mut self, sock: SocketIx, ss: &mut SioSession) {
        let next = self.sockets[sock].0.next_in_session;
        let mut prev: Option<SocketIx> = None;
        let mut found = false;
        for s in self.sockets_of(ss) {
            if s == sock {
                found = true;
                break;
            }
            prev = Some(s);
        }
        if found {
            match prev {
                None => ss.sockets = next,
                Some(p) => self.sockets[p].0.next_in_session = next,
            }
            ss.socket_count = ss.socket_count.saturating_sub(1);
        }
        self.sockets[sock].0.next_in_session = Link::NONE;
    }

    /// Ends a socket: out of its namespace, rooms and session (`ss`) at once; its
    /// Disconnect event is queued now if it fits, else by the reaper.
    /// With `park_at` (the time), a connected socket is parked once reported (see
    /// `recovery.rs`).
    pub(super) fn close_socket(
        &mut self,
        sock: SocketIx,
        reason: DisconnectReason,
        park_at: Option<u64>,
        ss: &mut SioSession,
        pool: &mut Pool<'_>,
        events: &mut Events<'_>,
    ) {
        let s = self.sockets[sock].0;
        if !matches!(s.state, SockState::Pending | SockState::Connected) {
            return;
        }
        let saved = match park_at {
            Some(now) if s.state == SockState::Connected => self.save_for_park(sock, now, pool),
            _ => None,
        };
        self.leave_all(sock);
        self.drop_acks(sock);
        self.unlink_from_session(sock, ss);
        // Out of the namespace's list.
        if s.state == SockState::Connected
            && let Some(ns) = self.namespaces.as_mut_slice().get_mut(usize::from(s.ns))
        {
            if ns.0.sockets.is(sock) {
                ns.0.sockets = s.ns_next;
            }
            ns.0.count = ns.0.count.saturating_sub(1);
            if let Some(p) = s.ns_prev.get() {
                self.sockets[p].0.ns_next = s.ns_next;
            }
            if let Some(n) = s.ns_next.get() {
                self.sockets[n].0.ns_prev = s.ns_prev;
            }
        }
        if s.name_msg != NONE {
            pool.release(s.name_msg);
        }
        let slot = &mut self.sockets[sock].0;
        slot.state = SockState::Closing;
        slot.reason = reason.to_u8();
        // A closing socket's `name_msg` is what it saved to be parked.
        slot.name_msg = saved.unwrap_or(NONE);
        if self.reap_sockets.is_none() && events.has_room(1) {
            self.report_disconnect(sock, events);
        } else {
            slot.link = Link::NONE;
            match self.reap_sockets_tail.get() {
                None => self.reap_sockets = sock.into(),
                Some(tail) => self.sockets[tail].0.link = sock.into(),
            }
            self.reap_sockets_tail = sock.into();
        }
    }

    /// Ends every socket of a session (`ss`) that closes for `reason` (parking the
    /// connected ones with `park_at`); drops the binary packet it was assembling.
    pub(super) fn close_session(
        &mut self,
        ss: &mut SioSession,
        reason: CloseReason,
        park_at: Option<u64>,
        pool: &mut Pool<'_>,
        events: &mut Events<'_>,
    ) {
        while let Some(sock) = ss.sockets.get() {
            let reason = DisconnectReason::Session(reason);
            self.close_socket(sock, reason, park_at, ss, pool, events);
        }
        if let Assembly::Into { .. } = ss.bin {
            pool.release(ss.bin_msg);
        }
        ss.bin = Assembly::Idle;
        ss.bin_msg = NONE;
    }

    /// Queues a closing socket's Disconnect event and frees it.
    fn report_disconnect(&mut self, sock: SocketIx, events: &mut Events<'_>) -> bool {
        let s = self.sockets[sock].0;
        let r = Record::Disconnect {
            socket: SocketId {
                index: sock.get(),
                era: s.era,
                raw: s.id,
            },
            namespace: (s.ns != u16::MAX).then_some(NamespaceId(s.ns)),
            reason: DisconnectReason::from_u8(s.reason),
        };
        if !events.push(r) {
            return false;
        }
        if !super::recovery::ENABLED || s.name_msg == NONE {
            self.sockets.release(sock);
        } else {
            self.park(sock);
        }
        true
    }

    /// Queues the Disconnect events of sockets that ended while the event queue was full.
    pub(super) fn reap_sockets(&mut self, events: &mut Events<'_>) {
        while let Some(sock) = self.reap_sockets.get()
            && events.has_room(1)
        {
            let next = self.sockets[sock].0.link;
            if !self.report_disconnect(sock, events) {
                break;
            }
            self.reap_sockets = next;
            if next.is_none() {
                self.reap_sockets_tail = Link::NONE;
            }
        }
    }

    fn drop_acks(&mut self, sock: SocketIx) {
        let mut a = self.sockets[sock].0.acks;
        while let Some(ack) = a.get() {
            a = self.acks[ack].0.next;
            self.acks.release(ack);
        }
        self.sockets[sock].0.acks = Link::NONE;
        self.sockets[sock].0.ack_count = 0;
    }

    /// The earliest ack deadline of a session's sockets (`ss`), 0 for none.
    pub(super) fn ack_deadline(&self, ss: &SioSession) -> u64 {
        let mut min = 0u64;
        for s in self.sockets_of(ss) {
            for a in self.acks_of(s) {
                let d = self.acks[a].0.deadline;
                if d != 0 && (min == 0 || d < min) {
                    min = d;
                }
            }
        }
        min
    }

    /// Reports the acks of a session's sockets (`ss`) that timed out by `now`, as far as
    /// the event queue has room; returns the session's next ack deadline.
    pub(super) fn expire_acks(
        &mut self,
        ss: &SioSession,
        now: u64,
        events: &mut Events<'_>,
    ) -> u64 {
        let mut at = ss.sockets;
        while let Some(s) = at.get() {
            let mut prev: Option<AckIx> = None;
            let mut next = self.sockets[s].0.acks;
            while let Some(a) = next.get() {
                let e = self.acks[a].0;
                if e.deadline != 0 && e.deadline <= now {
                    let r = Record::AckTimeout {
                        socket: self.handle(s),
                        id: AckId(u64::from(e.id)),
                    };
                    if !events.push(r) {
                        return self.ack_deadline(ss);
                    }
                    match prev {
                        None => self.sockets[s].0.acks = e.next,
                        Some(p) => self.acks[p].0.next = e.next,
                    }
                    self.sockets[s].0.ack_count -= 1;
                    self.acks.release(a);
                } else {
                    prev = Some(a);
                }
                next = e.next;
            }
            at = self.sockets[s].0.next_in_session;
        }
        self.ack_deadline(ss)
    }

    /// Removes the awaited ack `id` of the socket; its deadline (0 for none) if it was
    /// awaited.
    pub(super) fn take_ack(&mut self, sock: SocketIx, id: u64) -> Option<u64> {
        let mut prev: Option<AckIx> = None;
        let a = self.acks_of(sock).find(|&a| {
            let hit = u64::from(self.acks[a].0.id) == id;
            if !hit {
                prev = Some(a);
            }
            hit
        })?;
        let e = self.acks[a].0;
        match prev {
            None => self.sockets[sock].0.acks = e.next,
            Some(p) => self.acks[p].0.next = e.next,
        }
        self.sockets[sock].0.ack_count -= 1;
        self.acks.release(a);
        Some(e.deadline)
    }

    // ------------------------------------------------------------------ commands

    /// The CONNECT reply of pending socket `sock` (see [`Server::accept`]): its namespace
    /// (a dynamic one is created now) and the packet.
    /// With `pid`, the reply carries the socket's pid (connection state recovery).
    pub(super) fn connect_reply(
        &mut self,
        sock: SocketIx,
        pid: bool,
        eio3: bool,
        msgpack: bool,
        pool: &mut Pool<'_>,
    ) -> Result<(u16, u32), CommandError> {
        let s = self.sockets[sock].0;
        if s.state != SockState::Pending {
            return Err(CommandError::WrongState);
        }
        let ns = if s.ns == u16::MAX {
            let mut buf = [0u8; MAX_NAME];
            let n = pool.copy_all(s.name_msg, &mut buf);
            let name = core::str::from_utf8(&buf[..n]).map_err(|_| CommandError::InvalidName)?;
            match self.find_namespace(name) {
                Some(ns) => ns,
                None => self
                    .add_namespace(name)
                    .ok_or(CommandError::Full(Resource::Namespaces))?,
            }
        } else {
            s.ns
        };
        if super::EIO3 && eio3 {
            // Protocol v4: `40` for `/`, `40/chat,` for the others, no payload.
            let name = self.ns_name(ns).as_bytes();
            let (name, comma): (&[u8], &[u8]) = if name == b"/" {
                (b"", b"")
            } else {
                (name, b",")
            };
            let msg = pool
                .msg_from(false, &[b"40", name, comma])
                .ok_or(CommandError::Full(Resource::Pool))?;
            return Ok((ns, msg));
        }
        if super::MSGPACK && msgpack {
            let wire = WireId::from_raw(&s.id);
            let pid = pid.then(|| self.recovery.pid(sock.get(), s.era));
            let pid = pid.as_ref().map(WireId::as_str);
            let msg = super::msgpack::encode_msg(pool, |w| {
                sio::msgpack::encode_connect(w, self.ns_name(ns), wire.as_str(), pid)
            })?;
            return Ok((ns, msg));
        }
        let mut out = [0u8; HEADER_SCRATCH];
        out[0] = b'4';
        let wire = WireId::from_raw(&s.id);
        let n = sio::encode_connect_sid(&mut out[1..], self.ns_name(ns), wire.as_str())
            .map_err(|_| CommandError::InvalidName)?;
        let msg = if pid {
            // `…{"sid":"…"}` becomes `…{"sid":"…","pid":"…"}`.
            let pid = self.recovery.pid(sock.get(), s.era);
            pool.msg_from(
                false,
                &[&out[..n], b",\"pid\":\"", pid.as_str().as_bytes(), b"\"}"],
            )
        } else {
            pool.msg_from(false, &[&out[..1 + n]])
        }
        .ok_or(CommandError::Full(Resource::Pool))?;
        Ok((ns, msg))
    }

    /// Pending socket `sock`, whose CONNECT reply is queued, joins namespace `ns`.
    pub(super) fn admit(&mut self, sock: SocketIx, ns: u16, pool: &mut Pool<'_>) {
        let name_msg = self.sockets[sock].0.name_msg;
        if name_msg != NONE {
            pool.release(name_msg);
        }
        let head = self.namespaces.as_slice()[usize::from(ns)].0.sockets;
        if let Some(h) = head.get() {
            self.sockets[h].0.ns_prev = sock.into();
        }
        let slot = &mut self.namespaces.as_mut_slice()[usize::from(ns)].0;
        slot.sockets = sock.into();
        slot.count += 1;
        let s = &mut self.sockets[sock].0;
        s.state = SockState::Connected;
        s.ns = ns;
        s.name_msg = NONE;
        s.ns_prev = Link::NONE;
        s.ns_next = head;
    }

    /// The `CONNECT_ERROR` packet of pending socket `sock` (see [`Server::refuse`]).
    pub(super) fn refusal(
        &self,
        sock: SocketIx,
        message: &str,
        data: Option<&[u8]>,
        eio3: bool,
        msgpack: bool,
        pool: &mut Pool<'_>,
    ) -> Result<u32, CommandError> {
        if self.sockets[sock].0.state != SockState::Pending {
            return Err(CommandError::WrongState);
        }
        if let Some(d) = data {
            Limits::DEFAULT
                .validate(d)
                .map_err(CommandError::InvalidJson)?;
        }
        let mut name = [0u8; MAX_NAME];
        let mut out = [0u8; HEADER_SCRATCH];
        out[0] = b'4';
        let ns = self.socket_ns_name(sock, &mut name, pool);
        if super::MSGPACK && msgpack {
            let mut copy = [0u8; MAX_NAME];
            copy[..ns.len()].copy_from_slice(ns.as_bytes());
            let ns = core::str::from_utf8(&copy[..ns.len()]).unwrap_or("/");
            return super::msgpack::encode_msg(pool, |w| {
                sio::msgpack::encode_connect_error(w, ns, message, data)
            });
        }
        if super::EIO3 && eio3 {
            // Protocol v4's ERROR: the data when there is some, else the message as a
            // JSON string (Node sends `err.data || err.message`).
            let mut text = [0u8; HEADER_SCRATCH];
            let body: &[u8] = match data {
                Some(d) => d,
                None => {
                    let n = crate::json::write_str(&mut text, message)
                        .map_err(|_| CommandError::InvalidName)?;
                    &text[..n]
                }
            };
            let (ns, comma): (&[u8], &[u8]) = if ns == "/" {
                (b"", b"")
            } else {
                (ns.as_bytes(), b",")
            };
            return pool
                .msg_from(false, &[b"44", ns, comma, body])
                .ok_or(CommandError::Full(Resource::Pool));
        }
        let n = sio::encode_connect_error(&mut out[1..], ns, message, None)
            .map_err(|_| CommandError::InvalidName)?;
        // `…{"message":"…"}`: reopen the object for the data.
        let (head, tail): (&[u8], &[&[u8]]) = match data {
            Some(d) => (&out[..n], &[b",\"data\":", d, b"}"]),
            None => (&out[..1 + n], &[]),
        };
        let mut parts: [&[u8]; 4] = [head, b"", b"", b""];
        for (slot, t) in parts[1..].iter_mut().zip(tail) {
            *slot = t;
        }
        pool.msg_from(false, &parts)
            .ok_or(CommandError::Full(Resource::Pool))
    }

    /// Frees a pending socket the application refused, without an event.
    pub(super) fn forget(&mut self, sock: SocketIx, ss: &mut SioSession, pool: &mut Pool<'_>) {
        self.unlink_from_session(sock, ss);
        let name_msg = self.sockets[sock].0.name_msg;
        if name_msg != NONE {
            pool.release(name_msg);
        }
        self.sockets.release(sock);
    }

    /// Encodes an EVENT (`name` set) or ACK packet for socket `sock`, in its namespace
    /// (with the msgpack parser when `msgpack`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn encode_for(
        &self,
        sock: SocketIx,
        ack: Option<u64>,
        name: Option<&str>,
        args: &Args<'_>,
        offset: Option<u64>,
        msgpack: bool,
        pool: &mut Pool<'_>,
        msgs: &mut PacketMsgs,
    ) -> Result<usize, CommandError> {
        let ns = self.ns_name(self.sockets[sock].0.ns);
        encode_packet(pool, ns, ack, name, args, offset, msgpack, &self.held, msgs)
    }

    /// The id the next ack socket `sock` asks for gets, if it may ask for one more.
    pub(super) fn next_ack_id(&self, sock: SocketIx, max_acks: u16) -> Result<u32, CommandError> {
        let s = &self.sockets[sock].0;
        if s.ack_count >= max_acks {
            return Err(CommandError::SocketLimit(Resource::Acks));
        }
        if !self.acks.can_take(1) {
            return Err(CommandError::Full(Resource::Acks));
        }
        Ok(s.next_ack)
    }

    /// Socket `sock` waits for ack `id` until `deadline` (0: no deadline).
    pub(super) fn await_ack(
        &mut self,
        sock: SocketIx,
        id: u32,
        deadline: u64,
    ) -> Result<(), CommandError> {
        let Some(a) = self.acks.alloc() else {
            return Err(CommandError::Full(Resource::Acks));
        };
        let slot = &mut self.sockets[sock].0;
        self.acks[a].0 = AckEntry {
            link: Link::NONE,
            id,
            deadline,
            next: slot.acks,
        };
        slot.acks = a.into();
        slot.ack_count += 1;
        slot.next_ack = slot.next_ack.wrapping_add(1) & 0x7FFF_FFFF;
        Ok(())
    }

    /// The DISCONNECT packet of socket `sock`.
    pub(super) fn disconnect_packet(
        &self,
        sock: SocketIx,
        msgpack: bool,
        pool: &mut Pool<'_>,
    ) -> Result<u32, CommandError> {
        if super::MSGPACK && msgpack {
            let ns = self.ns_name(self.sockets[sock].0.ns);
            return super::msgpack::encode_msg(pool, |w| sio::msgpack::encode_disconnect(w, ns));
        }
        let mut out = [0u8; HEADER_SCRATCH];
        out[0] = b'4';
        let n = sio::encode_disconnect(&mut out[1..], self.ns_name(self.sockets[sock].0.ns))
            .map_err(|_| CommandError::InvalidName)?;
        pool.msg_from(false, &[&out[..1 + n]])
            .ok_or(CommandError::Full(Resource::Pool))
    }
}

/// An event or an ack from a client, before its payload is stored.
#[derive(Debug, Clone, Copy)]
pub(super) struct Incoming {
    pub(super) socket: SocketId,
    pub(super) namespace: NamespaceId,
    /// For an event, the ack id the client waits on; for an ack, its id.
    pub(super) ack: Option<AckId>,
    pub(super) is_ack: bool,
}

impl Incoming {
    /// Its record, once its payload is stored.
    #[inline(never)]
    pub(super) fn record(self, from: SessionId, attachments: u8, bytes: Payload) -> Record {
        let Self {
            socket,
            namespace,
            ack,
            is_ack,
        } = self;
        match (is_ack, ack) {
            (true, Some(id)) => Record::Ack {
                socket,
                from,
                id,
                attachments,
                bytes,
            },
            _ => Record::Message {
                socket,
                from,
                namespace,
                ack,
                attachments,
                bytes,
            },
        }
    }
}

/// The header of a binary packet being assembled, at the front of its message: what
/// [`Incoming::record`] needs once the last attachment is in.
fn write_bin_head(pool: &mut Pool<'_>, msg: u32, inc: &Incoming, attachments: u8, bytes: Payload) {
    let mut head = [0u8; BIN_HEAD];
    head[0] = u8::from(inc.is_ack);
    head[1] = attachments;
    head[2..4].copy_from_slice(&inc.namespace.0.to_le_bytes());
    head[4..8].copy_from_slice(&inc.socket.index.to_le_bytes());
    head[8..12].copy_from_slice(&inc.socket.era.to_le_bytes());
    head[12..16].copy_from_slice(&bytes.first.to_le_bytes());
    head[16..20].copy_from_slice(&bytes.second.to_le_bytes());
    head[20] = u8::from(inc.ack.is_some());
    head[21..29].copy_from_slice(&inc.ack.map_or(0, |a| a.0).to_le_bytes());
    head[29..44].copy_from_slice(&inc.socket.raw);
    pool.overwrite(msg, 0, &head);
}

/// The record of the binary packet whose header [`write_bin_head`] wrote, sent by `from`.
fn read_bin_head(pool: &Pool<'_>, msg: u32, from: SessionId) -> Record {
    let mut head = [0u8; BIN_HEAD];
    pool.copy_all(msg, &mut head);
    let word = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    let mut ack = [0u8; 8];
    ack.copy_from_slice(&head[21..29]);
    let mut raw = [0u8; 15];
    raw.copy_from_slice(&head[29..44]);
    let inc = Incoming {
        socket: SocketId {
            index: word(4),
            era: word(8),
            raw,
        },
        namespace: NamespaceId(u16::from_le_bytes([head[2], head[3]])),
        ack: (head[20] == 1).then_some(AckId(u64::from_le_bytes(ack))),
        is_ack: head[0] == 1,
    };
    let bytes = Payload {
        msg,
        first: word(12),
        second: word(16),
        skip: BIN_HEAD as u8,
    };
    inc.record(from, head[1], bytes)
}

/// Encodes an EVENT (`name` set) or ACK packet with its attachments into pool messages:
/// `msgs[0]` is the text packet, then one per blob; returns how many. An event with an
/// `offset` gets it as its last argument (connection state recovery). With `msgpack`, the
/// msgpack parser's one binary message instead.
#[allow(clippy::too_many_arguments)]
pub(super) fn encode_packet(
    pool: &mut Pool<'_>,
    ns: &str,
    ack: Option<u64>,
    name: Option<&str>,
    args: &Args<'_>,
    offset: Option<u64>,
    msgpack: bool,
    held: &Held,
    msgs: &mut PacketMsgs,
) -> Result<usize, CommandError> {
    if super::MSGPACK && msgpack {
        msgs[0] = super::msgpack::encode_packet(pool, ns, ack, name, args, offset)?;
        return Ok(1);
    }
    sio::check_args(args)?;
    let count = args.blob_count();
    let sep: &[u8] = if name.is_some() && !args.json.is_empty() {
        b","
    } else {
        b""
    };
    // `]`, or with an offset `,"<offset>"]` (at most 24 bytes).
    let mut tail = [0u8; 24];
    let end: &[u8] = match (offset, name) {
        (Some(o), Some(_)) if super::recovery::ENABLED => {
            let n = super::recovery::offset_arg(o, &mut tail);
            tail[n] = b']';
            &tail[..=n]
        }
        _ => b"]",
    };
    let mut short = [0u8; SHORT_HEADER];
    let text = match packet_head(&mut short, ns, ack, name, count) {
        Ok(n) => pool.msg_from(false, &[&short[..n], sep, args.json, end]),
        Err(sio::EncodeError::BufferTooSmall(_)) => {
            let mut long = [0u8; HEADER_SCRATCH];
            let n = packet_head(&mut long, ns, ack, name, count)
                .map_err(|_| CommandError::InvalidName)?;
            pool.msg_from(false, &[&long[..n], sep, args.json, end])
        }
        Err(_) => return Err(CommandError::InvalidName),
    }
    .ok_or(CommandError::Full(Resource::Pool))?;
    msgs[0] = text;
    // Attachments of the event the application holds are shared, not copied.
    let stored = if VIEWS { held.locate(args) } else { None };
    for (k, blob) in args.blob_iter().enumerate() {
        let shared = stored
            .and_then(|(at, _)| at.get(k).copied())
            .and_then(|(at, len)| pool.view(held.msg, at as usize, len as usize, true));
        match shared.or_else(|| pool.msg_from(true, &[blob])) {
            Some(m) => msgs[k + 1] = m,
            None => {
                for &m in &msgs[..=k] {
                    pool.release(m);
                }
                return Err(CommandError::Full(Resource::Pool));
            }
        }
    }
    Ok(1 + count)
}

/// What handling a client's packet borrows from the rest of the server: the session it
/// came on (`sess`, its generation `era`, its Socket.IO state `ss`) and the shared parts.
pub(super) struct Input<'x, 'a> {
    pub(super) sess: SessionIx,
    pub(super) era: u32,
    /// The session is an Engine.IO v3 client's (Socket.IO protocol v4).
    pub(super) eio3: bool,
    pub(super) ss: &'x mut SioSession,
    pub(super) config: &'x ServerConfig<'a>,
    pub(super) pool: &'x mut Pool<'a>,
    pub(super) events: &'x mut Events<'a>,
    pub(super) rng: &'x mut Rng,
    /// The server's time.
    pub(super) now: u64,
}

impl Input<'_, '_> {
    /// The session the input came on.
    pub(super) fn session(&self) -> SessionId {
        SessionId {
            index: self.sess.get(),
            era: self.era,
        }
    }

    /// Queues an event whose room the caller made sure of; should that ever be wrong, the
    /// payload goes back to the pool rather than leak.
    fn push(&mut self, r: Record) {
        self.events.push_or_release(r, self.pool);
    }
}

/// What a client's packet left for the rest of the server to do.
#[derive(Debug, Clone, Copy)]
pub(super) struct Handled {
    /// Bytes and events of the session's input now held for the application.
    pub(super) held: usize,
    pub(super) held_events: u16,
    /// A packet to send back (a refused CONNECT).
    pub(super) reply: Option<u32>,
    /// An awaited ack with a deadline was answered: the session's ack deadline moves.
    pub(super) acks_changed: bool,
}

impl Handled {
    pub(super) const NOTHING: Self = Self {
        held: 0,
        held_events: 0,
        reply: None,
        acks_changed: false,
    };
}

impl SocketIoLayer<'_> {
    // ------------------------------------------------------------------ input

    /// Handles a text Engine.IO message of a Socket.IO session.
    pub(super) fn on_text(
        &mut self,
        cx: &mut Input<'_, '_>,
        text: &str,
    ) -> Result<Handled, CloseReason> {
        if cx.ss.bin != Assembly::Idle {
            // A text packet while attachments are owed.
            return Err(CloseReason::ParseError);
        }
        let config = sio::Config {
            role: sio::Role::Server,
            max_attachments: usize::from(cx.config.max_attachments),
            json: Limits {
                max_depth: 64,
                max_size: cx.config.max_payload as usize,
            },
            protocol_v4: false,
        };
        let p =
            Packet::parse_with(text.as_bytes(), &config).map_err(|_| CloseReason::ParseError)?;
        if !cx.ss.connected_once {
            if p.packet_type() != PacketType::Connect {
                return Err(CloseReason::ParseError);
            }
            cx.ss.connected_once = true;
        }
        match p.packet_type() {
            PacketType::Connect => self.on_connect(cx, &p),
            PacketType::Disconnect => self.on_disconnect(cx, p.namespace()),
            PacketType::Event | PacketType::BinaryEvent => {
                let sock = self.joined(cx.ss, p.namespace(), cx.pool)?;
                let name = match p.event_name() {
                    Some(EventName::Str(s)) => s,
                    // A number as event name, as the reference accepts it: its text.
                    Some(EventName::Number(raw)) => JsonStr::unquoted(raw),
                    None => return Err(CloseReason::ParseError),
                };
                let inc = Incoming {
                    socket: self.handle(sock),
                    namespace: NamespaceId(self.sockets[sock].0.ns),
                    ack: p.ack_id().map(AckId),
                    is_ack: false,
                };
                packet_record(cx, inc, Some(name), p.args(), p.attachments().unwrap_or(0))
            }
            PacketType::Ack | PacketType::BinaryAck => {
                let sock = self.joined(cx.ss, p.namespace(), cx.pool)?;
                let count = p.attachments().unwrap_or(0);
                let id = p.ack_id().unwrap_or_default();
                let Some(deadline) = self.take_ack(sock, id) else {
                    // Nobody waits for it (unknown, late or timed out): ignored, but its
                    // attachments still have to be read.
                    if count > 0 {
                        cx.ss.bin = Assembly::Discard { left: count as u8 };
                    }
                    return Ok(Handled::NOTHING);
                };
                let inc = Incoming {
                    socket: self.handle(sock),
                    namespace: NamespaceId(self.sockets[sock].0.ns),
                    ack: Some(AckId(id)),
                    is_ack: true,
                };
                let mut handled = packet_record(cx, inc, None, p.args(), count)?;
                handled.acks_changed = deadline != 0;
                Ok(handled)
            }
            PacketType::ConnectError => Err(CloseReason::ParseError),
        }
    }

    /// A DISCONNECT: the client leaves namespace `nsp`.
    pub(super) fn on_disconnect(
        &mut self,
        cx: &mut Input<'_, '_>,
        nsp: &str,
    ) -> Result<Handled, CloseReason> {
        let sock = self
            .find_socket(cx.ss, nsp, cx.pool)
            .ok_or(CloseReason::ParseError)?;
        self.close_socket(
            sock,
            DisconnectReason::ClientDisconnect,
            None,
            cx.ss,
            cx.pool,
            cx.events,
        );
        Ok(Handled::NOTHING)
    }

    fn on_connect(
        &mut self,
        cx: &mut Input<'_, '_>,
        p: &Packet<'_>,
    ) -> Result<Handled, CloseReason> {
        if super::EIO3 && cx.eio3 {
            return self.on_connect_v3(cx, p.namespace());
        }
        self.connect_as(cx, p.namespace(), p.data().unwrap_or(b"{}"))
    }

    /// A v3 client's CONNECT (protocol v4): no payload, the auth rides in the namespace's
    /// query (`/admin?token=abc`).
    #[inline(never)]
    fn on_connect_v3(&mut self, cx: &mut Input<'_, '_>, nsp: &str) -> Result<Handled, CloseReason> {
        let (name, query) = nsp.split_once('?').unwrap_or((nsp, ""));
        let mut auth = [0u8; AUTH_MAX];
        let n = query_object(query, &mut auth).ok_or(CloseReason::ParseError)?;
        self.connect_as(cx, name, auth.get(..n).unwrap_or(b"{}"))
    }

    /// A CONNECT to namespace `name` with the auth object `auth`.
    pub(super) fn connect_as(
        &mut self,
        cx: &mut Input<'_, '_>,
        name: &str,
        auth: &[u8],
    ) -> Result<Handled, CloseReason> {
        if self.find_socket(cx.ss, name, cx.pool).is_some() {
            // A CONNECT for a namespace already joined or asked for.
            return Err(CloseReason::ParseError);
        }
        let ns = self.find_namespace(name);
        if ns.is_none() && (!cx.config.dynamic_namespaces || name.len() > MAX_NAME) {
            return connect_error(cx, name, "Invalid namespace");
        }
        if cx.ss.socket_count >= cx.config.max_namespaces_per_session {
            return connect_error(cx, name, "Too many namespaces");
        }
        // A claimed socket cannot be given back: the CONNECT event must fit. (Without
        // recovery the check below is the only one, as it always was.)
        if super::recovery::ENABLED
            && cx.config.recovery != 0
            && !cx.pool.has_room(name.len() + auth.len())
        {
            return Err(CloseReason::ParseError);
        }
        // A socket coming back (connection state recovery) keeps its slot, era and id.
        let recovered = match ns {
            Some(ns) if super::recovery::ENABLED && cx.config.recovery != 0 && !cx.eio3 => {
                self.claim(ns, auth, cx.now, cx.config.recovery, cx.pool)
            }
            _ => None,
        };
        let sock = match recovered {
            Some(sock) => sock,
            None => {
                let Some(sock) = self.sockets.alloc().or_else(|| {
                    // Parked sockets give their slots to new ones, the oldest first.
                    self.drop_oldest_parked(cx.pool)
                        .then(|| self.sockets.alloc())
                        .flatten()
                }) else {
                    return connect_error(cx, name, "Server full");
                };
                let id = super::fresh_id(cx.rng, sock.get());
                let name_msg = match ns {
                    Some(_) => NONE,
                    None => match cx.pool.msg_from(false, &[name.as_bytes()]) {
                        Some(m) => m,
                        None => {
                            self.sockets.release(sock);
                            return Err(CloseReason::ParseError);
                        }
                    },
                };
                let s = &mut self.sockets[sock].0;
                s.id = id;
                s.name_msg = name_msg;
                sock
            }
        };
        let Some(msg) = cx.pool.msg_from(false, &[name.as_bytes(), auth]) else {
            // Only without recovery (room was checked above otherwise): the new slot goes
            // back unused.
            let name_msg = self.sockets[sock].0.name_msg;
            cx.pool.release(name_msg);
            self.sockets[sock].0.name_msg = NONE;
            self.sockets.release(sock);
            return Err(CloseReason::ParseError);
        };
        let next = cx.ss.sockets;
        cx.ss.sockets = sock.into();
        cx.ss.socket_count += 1;
        let s = &mut self.sockets[sock].0;
        if recovered.is_none() {
            // A new socket: a new era (a recovered one keeps its own).
            s.era = s.era.wrapping_add(1);
        }
        s.state = SockState::Pending;
        s.ns = ns.unwrap_or(u16::MAX);
        s.session = cx.sess.into();
        s.next_in_session = next;
        let r = Record::Connect {
            socket: SocketId {
                index: sock.get(),
                era: s.era,
                raw: s.id,
            },
            session: cx.session(),
            namespace: ns.map(NamespaceId),
            recovered: recovered.is_some(),
            bytes: Payload::parts(msg, name.len(), auth.len()),
        };
        let held = cx.pool.len(msg);
        cx.push(r);
        Ok(Handled {
            held,
            held_events: 1,
            ..Handled::NOTHING
        })
    }

    /// Handles a binary Engine.IO message of a Socket.IO session: the next attachment of
    /// the binary packet being assembled.
    pub(super) fn on_binary(cx: &mut Input<'_, '_>, data: Bin<'_>) -> Result<Handled, CloseReason> {
        let keep = matches!(cx.ss.bin, Assembly::Into { .. });
        let (Assembly::Into { left } | Assembly::Discard { left }) = &mut cx.ss.bin else {
            return Err(CloseReason::ParseError);
        };
        if *left == 0 {
            return Err(CloseReason::ParseError);
        }
        *left -= 1;
        let done = *left == 0;
        let msg = cx.ss.bin_msg;
        let mut handled = Handled::NOTHING;
        if keep {
            let len = (data.len() as u32).to_le_bytes();
            // A large first attachment takes big blocks if the packet is still in its
            // first block.
            cx.pool.expect(msg, len.len() + data.len());
            if !(cx.pool.append(msg, &len) && data.append_to(cx.pool, msg)) {
                return Err(CloseReason::ParseError);
            }
            handled.held = len.len() + data.len();
        }
        if done {
            cx.ss.bin = Assembly::Idle;
            cx.ss.bin_msg = NONE;
            if keep {
                let r = read_bin_head(cx.pool, msg, cx.session());
                cx.push(r);
            }
        }
        Ok(handled)
    }
}

/// Stores an event or ack payload (`name` unescaped, then the raw args) and queues its
/// record, or starts waiting for its `attachments`.
fn packet_record(
    cx: &mut Input<'_, '_>,
    inc: Incoming,
    name: Option<JsonStr<'_>>,
    args: &[u8],
    attachments: usize,
) -> Result<Handled, CloseReason> {
    let head = if attachments > 0 { BIN_HEAD } else { 0 };
    let msg = cx
        .pool
        .new_msg_for(false, head + args.len())
        .ok_or(CloseReason::ParseError)?;
    let mut ok = cx.pool.append(msg, &[0u8; BIN_HEAD][..head]);
    let mut name_len = 0usize;
    if let Some(name) = name {
        name.for_each_unescaped(|piece| {
            ok &= cx.pool.append(msg, piece);
            name_len += piece.len();
        });
    }
    ok &= cx.pool.append(msg, args);
    if !ok {
        // The caller checked for room; running out here means the check was wrong.
        cx.pool.release(msg);
        return Err(CloseReason::ParseError);
    }
    let bytes = Payload {
        msg,
        first: name_len as u32,
        second: args.len() as u32,
        skip: head as u8,
    };
    let handled = Handled {
        held: cx.pool.len(msg),
        held_events: 1,
        ..Handled::NOTHING
    };
    if attachments == 0 {
        let r = inc.record(cx.session(), 0, bytes);
        cx.push(r);
        return Ok(handled);
    }
    write_bin_head(cx.pool, msg, &inc, attachments as u8, bytes);
    cx.ss.bin = Assembly::Into {
        left: attachments as u8,
    };
    cx.ss.bin_msg = msg;
    Ok(handled)
}

/// Answers a CONNECT with `44/nsp,{"message":"…"}`, the namespace as the client wrote it.
/// Most bytes of the auth object a v3 client's namespace query, or the `data` of a CONNECT
/// of the msgpack parser, makes.
pub(super) const AUTH_MAX: usize = 1024;

/// A v3 CONNECT's query (`token=abc&x=1`) as the object Node makes of it
/// (`{"token":"abc","x":"1"}`: every value a string, percent-decoded, `+` a space), written
/// in `out`; `None` when it does not fit or does not decode to UTF-8.
fn query_object(query: &str, out: &mut [u8]) -> Option<usize> {
    *out.first_mut()? = b'{';
    let mut n = 1;
    for (i, param) in crate::http::Params::new(query).enumerate() {
        for (j, part) in [param.key, param.value].into_iter().enumerate() {
            let sep = match (i, j) {
                (_, 1) => Some(b':'),
                (0, _) => None,
                _ => Some(b','),
            };
            if let Some(sep) = sep {
                *out.get_mut(n)? = sep;
                n += 1;
            }
            let mut text = [0u8; 256];
            let len = crate::http::percent_decode_into(part.as_bytes(), &mut text).ok()?;
            let text = core::str::from_utf8(text.get(..len)?).ok()?;
            n += crate::json::write_str(out.get_mut(n..)?, text).ok()?;
        }
    }
    *out.get_mut(n)? = b'}';
    Some(n + 1)
}

fn connect_error(
    cx: &mut Input<'_, '_>,
    name: &str,
    message: &str,
) -> Result<Handled, CloseReason> {
    if super::MSGPACK && cx.config.parser == super::Parser::MsgPack {
        let msg = super::msgpack::encode_msg(cx.pool, |w| {
            sio::msgpack::encode_connect_error(w, name, message, None)
        })
        .map_err(|_| CloseReason::SlowReader)?;
        return Ok(Handled {
            reply: Some(msg),
            ..Handled::NOTHING
        });
    }
    let ns_part: &[u8] = if name == "/" { b"" } else { name.as_bytes() };
    let comma: &[u8] = if name == "/" { b"" } else { b"," };
    let mut body = [0u8; 64];
    let n = crate::json::write_str(&mut body, message).unwrap_or(0);
    let Some(msg) = cx.pool.msg_from(
        false,
        &[b"44", ns_part, comma, b"{\"message\":", &body[..n], b"}"],
    ) else {
        return Err(CloseReason::SlowReader);
    };
    Ok(Handled {
        reply: Some(msg),
        ..Handled::NOTHING
    })
}
