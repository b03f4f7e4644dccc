//! The transport layer's state: one entry per TCP connection as the server sees it, and
//! [`TransportLayer`], which owns them.

use super::ix::{Ix, Link};
use super::pool::{Queue, Reader};
use super::session::SessionSlot;
use super::storage::{NONE, Table, slot_entry};
use crate::ws::{FrameScanner, Role};

/// What a stream is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Free,
    /// Reading HTTP requests.
    Http,
    /// A plain HTTP request is with the app; nothing more is read until it answers.
    App,
    /// A long-polling GET waits for packets.
    Get,
    /// A POST body is being handled (paused while the queues are full).
    Post,
    /// The WebSocket of a session.
    Ws,
    /// A WebSocket opened for an upgrade, probing.
    Probe,
    /// Closing: input is discarded, output drains, then the stream closes.
    Done,
}

/// A fixed response, written afresh from its description whenever it is transmitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fixed {
    /// An Engine.IO JSON error (`{"code":n,"message":…}`), status 400 or 403.
    EngineError(u8),
    /// A bare status with its reason phrase as a text body.
    Status(u16),
    /// The WebSocket upgrade refusal: `400` with the bare message of this error code.
    UpgradeRefused(u8),
    /// `200 ok` (a POST was handled).
    Ok,
    /// A polling body of `len` bytes follows (the queued packets).
    PollHead(u32),
    /// `200` with the body `6` (the GET released by an upgrade probe).
    Noop,
    /// `200` with the body `1` (a GET answered by the end of the session).
    Close,
    /// `204` answering a CORS preflight.
    Preflight,
}

/// What the stream is writing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    Idle,
    Fixed,
    /// A message from the stream's own queue, written as it is.
    Raw,
    /// A session packet in a WebSocket frame.
    PacketWs,
    /// A session packet as a polling record.
    PacketPoll,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Stream {
    pub(crate) era: u32,
    pub(crate) link: Link<StreamSlot>,
    pub(crate) state: State,
    /// The session this stream serves (`Get`, `Post`, `Ws`, `Probe`, or a polling body).
    pub(crate) session: Link<SessionSlot>,
    /// The peer has finished sending.
    pub(crate) eof: bool,
    /// Close the stream once its output is written.
    pub(crate) close_after: bool,
    /// The current request allows another one on this connection.
    pub(crate) keep_alive: bool,
    /// On the transmit queue.
    pub(crate) in_txq: bool,
    pub(crate) txq_next: Link<StreamSlot>,
    /// Where the search for the end of an HTTP head resumes.
    pub(crate) head_scan: u32,
    /// A POST body being handled: its offset and length in the input, and how much of it
    /// is done.
    pub(crate) post_at: u32,
    pub(crate) post_len: u32,
    pub(crate) post_done: u32,
    pub(crate) scanner: FrameScanner,
    // Output.
    pub(crate) fixed: Option<Fixed>,
    /// The fixed response says `Connection: close` (decided when it was set, so that its
    /// bytes never change while it is written).
    pub(crate) fixed_close: bool,
    /// Reset by the driver: free it without reporting it.
    pub(crate) silent: bool,
    pub(crate) raw: Queue,
    /// Packets of `session` still owed to the polling body being written.
    pub(crate) poll_left: u32,
    /// The next polling record is the first of its body (no separator).
    pub(crate) poll_first: bool,
    pub(crate) item: Item,
    /// Bytes of the current item written so far.
    pub(crate) pos: u32,
    /// The current item's message (`Raw`, `Packet`).
    pub(crate) msg: u32,
    /// Reader over `msg`'s bytes, past what is written.
    pub(crate) reader: Reader,
    /// The driver could not write all it was given: nothing more is handed out for this
    /// stream until it says the socket drained.
    pub(crate) paused: bool,
    /// The server gave up on the stream: its close is handed out, paused or not.
    pub(crate) aborted: bool,
    /// The application's request (`State::App`) is a `HEAD`: its answer has no body.
    pub(crate) head_only: bool,
    /// Whether it carries an Engine.IO v3 session (v3 polling bodies and binary frames),
    /// and the length prefix of the v3 polling record being written. Nothing without the
    /// feature `eio3`.
    pub(crate) v3: V3Mark,
    /// What the input waiting on the stream is.
    pub(crate) waiting: Waiting,
    /// The CORS headers of its Engine.IO response.
    pub(crate) cors: CorsPick,
    /// Which deadline list the stream is on, and its links there.
    pub(crate) timer: Timer,
    pub(crate) timer_prev: Link<StreamSlot>,
    pub(crate) timer_next: Link<StreamSlot>,
    /// When the stream's deadline passes, in server milliseconds.
    pub(crate) timer_at: u64,
}

/// What the CORS headers of a stream's Engine.IO response are (with
/// [`ServerConfig::cors`](super::ServerConfig::cors)), decided when its request came.
/// Nothing without the feature `cors`.
#[cfg(feature = "cors")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CorsPick {
    /// Which `Access-Control-Allow-Origin`: none (0), the configured value (1), entry
    /// `i` of the configured list (`2 + i`), or the request's origin kept in `msg`
    /// ([`CorsPick::ECHO`]).
    origin: u16,
    /// The bytes to echo, when there are: the origin's length (a byte), the origin, then
    /// a preflight's `Access-Control-Request-Headers`. [`NONE`] otherwise.
    msg: u32,
}

/// Without the feature `cors`: no byte of it in a stream's entry.
#[cfg(not(feature = "cors"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CorsPick;

impl CorsPick {
    pub(crate) const NONE: Self = Self::new(0, NONE);
    /// The origin echoed is the request's own.
    pub(crate) const ECHO: u16 = u16::MAX;

    #[allow(clippy::missing_const_for_fn)]
    pub(crate) const fn new(origin: u16, msg: u32) -> Self {
        #[cfg(feature = "cors")]
        return Self { origin, msg };
        #[cfg(not(feature = "cors"))]
        {
            let _ = (origin, msg);
            Self
        }
    }

    pub(crate) const fn origin(self) -> u16 {
        #[cfg(feature = "cors")]
        return self.origin;
        #[cfg(not(feature = "cors"))]
        0
    }

    pub(crate) const fn msg(self) -> u32 {
        #[cfg(feature = "cors")]
        return self.msg;
        #[cfg(not(feature = "cors"))]
        NONE
    }
}

/// What input waits, unconsumed, on a stream that reads requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waiting {
    /// Nothing, or nothing the server knows of.
    Nothing,
    /// Bytes of a request that do not make a whole one yet.
    Partial,
    /// A whole request the server has no room for yet (the event queue or the pool full).
    Held,
}

/// The deadline a stream is waiting under (see [`ServerConfig::headers_timeout`] and
/// [`ServerConfig::request_timeout`]).
///
/// [`ServerConfig::headers_timeout`]: super::ServerConfig::headers_timeout
/// [`ServerConfig::request_timeout`]: super::ServerConfig::request_timeout
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// None: the stream carries a session.
    Off = 0,
    /// A request head is due, or a closing stream is writing what it owes.
    Head = 1,
    /// The body of a request whose head came is due, or the application's answer to a
    /// request it was handed.
    Body = 2,
}

impl Stream {
    pub(crate) const EMPTY: Self = Self {
        era: 0,
        link: Link::NONE,
        state: State::Free,
        session: Link::NONE,
        eof: false,
        close_after: false,
        keep_alive: true,
        in_txq: false,
        txq_next: Link::NONE,
        head_scan: 0,
        post_at: 0,
        post_len: 0,
        post_done: 0,
        scanner: FrameScanner::new(Role::Server, 0),
        fixed: None,
        fixed_close: false,
        silent: false,
        raw: Queue::EMPTY,
        poll_left: 0,
        poll_first: true,
        item: Item::Idle,
        pos: 0,
        msg: NONE,
        reader: Reader::DONE,
        paused: false,
        aborted: false,
        head_only: false,
        v3: V3Mark::OFF,
        waiting: Waiting::Nothing,
        cors: CorsPick::NONE,
        timer: Timer::Off,
        timer_prev: Link::NONE,
        timer_next: Link::NONE,
        timer_at: 0,
    };

    /// Whether anything is still to be written (ignoring a body the session may still
    /// fill).
    pub(crate) fn tx_busy(&self) -> bool {
        self.item != Item::Idle
            || self.fixed.is_some()
            || !self.raw.is_empty()
            || self.poll_left > 0
    }
}

/// Storage for one stream (an entry of the `streams` table of a
/// [`Storage`](super::Storage)).
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamSlot(pub(crate) Stream);

/// A stream's Engine.IO v3 state (feature `eio3`).
#[cfg(feature = "eio3")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct V3Mark {
    on: bool,
    units: u32,
}

/// Without the feature `eio3`: no v3 state, and no byte of it in a stream's entry.
#[cfg(not(feature = "eio3"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct V3Mark;

impl V3Mark {
    #[cfg(feature = "eio3")]
    pub(crate) const OFF: Self = Self {
        on: false,
        units: 0,
    };
    #[cfg(not(feature = "eio3"))]
    pub(crate) const OFF: Self = Self;

    /// Whether the stream carries a v3 session.
    #[inline]
    pub(crate) const fn on(self) -> bool {
        #[cfg(feature = "eio3")]
        return self.on;
        #[cfg(not(feature = "eio3"))]
        false
    }

    /// Marks the stream as carrying a v3 session, or not.
    #[inline]
    #[cfg_attr(not(feature = "eio3"), allow(clippy::unused_self))]
    pub(crate) fn set(&mut self, on: bool) {
        #[cfg(feature = "eio3")]
        {
            self.on = on;
        }
        let _ = on;
    }

    /// The length prefix of the v3 record being written.
    #[inline]
    pub(crate) const fn units(self) -> usize {
        #[cfg(feature = "eio3")]
        return self.units as usize;
        #[cfg(not(feature = "eio3"))]
        0
    }

    /// Keeps the length prefix of the v3 record being written.
    #[inline]
    #[cfg_attr(not(feature = "eio3"), allow(clippy::unused_self))]
    pub(crate) fn set_units(&mut self, units: usize) {
        #[cfg(feature = "eio3")]
        {
            self.units = units as u32;
        }
        let _ = units;
    }
}

impl StreamSlot {
    /// An unused entry.
    pub(crate) const EMPTY: Self = Self(Stream::EMPTY);
}

slot_entry!(StreamSlot, keep: era);

/// The transport layer's state: the byte streams (HTTP requests and responses, WebSocket
/// framing), the streams with output waiting, and the HTTP deadlines.
/// A stream's position.
pub(crate) type StreamIx = Ix<StreamSlot>;

pub(crate) struct TransportLayer<'a> {
    pub(super) streams: Table<'a, StreamSlot>,
    /// Streams with output to write, in order (linked through `Stream::txq_next`).
    pub(super) txq_head: Link<StreamSlot>,
    pub(super) txq_tail: Link<StreamSlot>,
    /// Streams waiting under a deadline: the head deadline's list, the body deadline's.
    pub(super) stream_timers: [super::timer::TimerList; 2],
    /// [`ServerConfig::headers_timeout`](super::ServerConfig::headers_timeout), ms.
    pub(super) headers_timeout: u32,
    /// [`ServerConfig::request_timeout`](super::ServerConfig::request_timeout), ms.
    pub(super) request_timeout: u32,
    /// [`ServerConfig::cors`](super::ServerConfig::cors).
    pub(super) cors: Option<super::Cors<'a>>,
    /// The latest time the server was given, ms (deadlines count from it).
    pub(super) now: u64,
}
