//! The Engine.IO layer's state: one entry per session (with the Socket.IO layer's part of
//! it, [`SioSession`]), and [`EngineLayer`], which owns them.

use super::ix::{Ix, Link};
use super::pool::Queue;
use super::socketio::SocketSlot;
use super::storage::{NONE, Table, slot_entry};
use super::stream::StreamSlot;

/// Lifecycle of a session slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Free,
    Open,
    /// Ended: no new traffic. Still holds the slot until its sockets are reported to the
    /// app (`reaped`) and, for a graceful close over polling, the close packet is out.
    Closing,
}

/// The transport a session runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Polling,
    /// Polling, with a WebSocket open for the upgrade (`ws` is that stream).
    Upgrading,
    WebSocket,
}

/// One Engine.IO session.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Session {
    pub(crate) era: u32,
    /// Free list, then the reap list while closing.
    pub(crate) link: Link<SessionSlot>,
    pub(crate) state: State,
    pub(crate) transport: Transport,
    pub(crate) endpoint: u8,
    pub(crate) close_reason: u8,
    /// The upgrade probe was answered (the client has paused polling).
    pub(crate) probed: bool,
    pub(crate) awaiting_pong: bool,
    /// Closing gracefully: the queue ends with a close packet still to deliver.
    pub(crate) draining: bool,
    /// Its sockets have been reported to the app.
    pub(crate) reaped: bool,
    /// On the reap list.
    pub(crate) reaping: bool,
    /// An Engine.IO v3 client (`EIO=3`, feature `eio3`).
    pub(crate) eio3: bool,
    /// Raw session id bytes (the wire form is their URL-safe base64).
    pub(crate) sid: [u8; 15],
    /// Pending long-poll GET stream.
    pub(crate) get: Link<StreamSlot>,
    /// POST being processed (paused for room).
    pub(crate) post: Link<StreamSlot>,
    /// The WebSocket stream (active or probing).
    pub(crate) ws: Link<StreamSlot>,
    /// Packets to send.
    pub(crate) queue: Queue,
    /// Next heartbeat action: the ping time, or the pong deadline while awaiting it.
    pub(crate) hb_at: u64,
    /// Socket.IO connect deadline, 0 when none.
    pub(crate) connect_at: u64,
    /// Upgrade deadline, or the drain deadline of a graceful close; 0 when none.
    pub(crate) aux_at: u64,
    /// Earliest acknowledgement deadline of its sockets, 0 when none.
    pub(crate) ack_at: u64,
    /// Position in the timer heap.
    pub(crate) heap_pos: Link<HeapPos>,
    /// The session stored at heap position `self`'s index.
    pub(crate) heap_item: Link<SessionSlot>,
    /// The Socket.IO layer's state for this session (only that layer reads or writes it).
    pub(crate) sio: SioSession,
    /// Bytes of its received packets held for the application (events not polled yet,
    /// `bin`).
    pub(crate) inbound: u32,
    /// Its events not polled yet (a binary packet being assembled counts as one).
    pub(crate) inbound_events: u16,
    /// Its opening request's head, kept for the application (`handshake_head`): the time,
    /// then the head; `NONE` when none is kept.
    pub(crate) handshake: u32,
    /// The last stream that carried its packets (for `Server::session_stream` between
    /// long-polls).
    pub(crate) last_stream: Link<StreamSlot>,
}

/// What the Socket.IO layer keeps per Engine.IO session (Node's socket.io `Client`): its
/// sockets and the binary packet being assembled. It lives in the session's slot, so a
/// session needs one table entry, but the Engine.IO layer never interprets it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SioSession {
    /// The first packet (a CONNECT) came.
    pub(crate) connected_once: bool,
    /// Its sockets (linked through `Socket::next_in_session`).
    pub(crate) sockets: Link<SocketSlot>,
    pub(crate) socket_count: u8,
    /// The binary packet being assembled, if any.
    pub(crate) bin: Assembly,
    /// The pool message it is kept in, while `bin` is [`Assembly::Into`] (apart from
    /// `bin`, so that a session slot stays 120 bytes on a 32-bit target).
    pub(crate) bin_msg: u32,
}

/// The binary packet a session is receiving: its text came, its attachments are due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Assembly {
    /// None.
    Idle,
    /// Kept in pool message `SioSession::bin_msg`, `left` attachments still to come.
    Into { left: u8 },
    /// An ack nobody waits for: its `left` attachments are read and dropped.
    Discard { left: u8 },
}

impl SioSession {
    pub(crate) const EMPTY: Self = Self {
        connected_once: false,
        sockets: Link::NONE,
        socket_count: 0,
        bin: Assembly::Idle,
        bin_msg: NONE,
    };
}

impl Session {
    pub(crate) const EMPTY: Self = Self {
        era: 0,
        link: Link::NONE,
        state: State::Free,
        transport: Transport::Polling,
        endpoint: 0,
        close_reason: 0,
        probed: false,
        awaiting_pong: false,
        draining: false,
        reaped: false,
        reaping: false,
        eio3: false,
        sid: [0; 15],
        get: Link::NONE,
        post: Link::NONE,
        ws: Link::NONE,
        queue: Queue::EMPTY,
        hb_at: 0,
        connect_at: 0,
        aux_at: 0,
        ack_at: 0,
        heap_pos: Link::NONE,
        heap_item: Link::NONE,
        sio: SioSession::EMPTY,
        inbound: 0,
        inbound_events: 0,
        handshake: NONE,
        last_stream: Link::NONE,
    };
}

/// Storage for one Engine.IO session (an entry of the `sessions` table of a
/// [`Storage`](super::Storage)).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionSlot(pub(crate) Session);

impl SessionSlot {
    /// An unused entry.
    pub(crate) const EMPTY: Self = Self(Session::EMPTY);
}

// The generation outlives the session, and the timer heap's array lives in the slots
// (position i of the heap is stored in slot i), whatever uses the slot.
slot_entry!(SessionSlot, keep: era, heap_item);

/// The Engine.IO layer's state: the sessions, the heap of their deadlines (the first
/// `heap_len` entries of each session's heap position order) and the sessions closing.
/// A session's position.
pub(crate) type SessionIx = Ix<SessionSlot>;

/// Positions in the timer heap (the heap's array lives in the session slots).
#[derive(Debug)]
pub(crate) enum HeapPos {}

pub(crate) struct EngineLayer<'a> {
    pub(super) sessions: Table<'a, SessionSlot>,
    pub(super) heap_len: u32,
    /// Plain Engine.IO sessions closed while the event queue was full, whose close event is
    /// still to be queued (linked through `Session::link`).
    pub(super) reap_sessions: Link<SessionSlot>,
    pub(super) reap_sessions_tail: Link<SessionSlot>,
    /// The latest time the server was given, ms (deadlines count from it).
    pub(super) now: u64,
}
