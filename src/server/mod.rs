//! The sans-IO server: TCP byte streams in, Socket.IO sessions, events and bytes out.
//!
//! A [`Server`] holds every session, socket, room and queue, in tables the caller sizes
//! (see [`Storage`]). It owns no socket, no thread, no clock and no random source: the
//! driver tells it that a connection opened ([`open_stream`](Server::open_stream)), feeds it
//! the bytes read ([`feed`](Server::feed)) and the end of input
//! ([`feed_eof`](Server::feed_eof), [`reset`](Server::reset)), and asks it for the bytes to
//! write ([`poll_transmit`](Server::poll_transmit)), the application's events
//! ([`poll_event`](Server::poll_event)) and the next deadline
//! ([`poll_timeout`](Server::poll_timeout), [`handle_timeout`](Server::handle_timeout)).
//! Time is an [`Instant`] argument; ids come from a `ChaCha20` keystream seeded by the
//! caller.
//!
//! One server answers, on one port:
//!
//! * Engine.IO v4 at each configured [`Endpoint`]: polling (handshake, long-poll GET with
//!   batching, POST), WebSocket (direct or as an upgrade from polling, with the probe),
//!   heartbeat, close; either plain ([`Protocol::Engine`]) or carrying
//! * Socket.IO v5 ([`Protocol::SocketIo`]): namespaces (declared, or dynamic through
//!   [`Event::Connect`]), CONNECT with auth, events and acks both ways with binary
//!   attachments, rooms and broadcasts;
//! * any other HTTP request, handed to the application as [`Event::Http`] and answered with
//!   [`Server::respond`]: the page of a chat demo and its Socket.IO share the port.
//!
//! # Driving it
//!
//! After any input (`feed`, `feed_eof`, `reset`, `handle_timeout`, or a command), drain
//! the outputs in this order, and repeat while either gave something:
//!
//! 1. [`poll_transmit`](Server::poll_transmit) until `None`: write each [`Transmit`]'s bytes
//!    to its stream, and close the stream after them when `close` is set; when the socket
//!    does not take them all, keep the rest and call
//!    [`pause_transmit`](Server::pause_transmit), then
//!    [`resume_transmit`](Server::resume_transmit) once they are written (a transmit for a
//!    paused stream is its close: drop what was kept);
//! 2. [`poll_event`](Server::poll_event) until `None`, handling each event (which may issue
//!    commands, hence the repeat);
//! 3. offer again the input of any stream that had bytes left unconsumed (a stream waits
//!    while its request is with the application or while the server's queues are full);
//!
//! then wait for socket readiness or until [`poll_timeout`](Server::poll_timeout), and call
//! [`handle_timeout`](Server::handle_timeout) when it passes (calling it early is
//! harmless).
//!
//! `feed` consumes only whole units (a request with its body, a WebSocket message) and
//! says how many bytes it took; the caller keeps the rest at the front of its buffer and
//! offers it again with more bytes appended. A stream's unconsumed input never needs more
//! than [`ServerConfig::max_input`] bytes.
//!
//! # Commands
//!
//! Commands ([`emit`](Server::emit), [`broadcast`](Server::broadcast), [`ack`](Server::ack),
//! [`join`](Server::join), …) queue packets and return at once; what they cause for the
//! application (a session closed for a slow reader, the socket a `disconnect` ended) comes
//! later as events. Deadlines they start count from the latest `now` the server was given.
//!
//! # Limits
//!
//! Every table has the size the caller gave it, and every configured limit is enforced:
//! when something does not fit, the call that needed it fails with a [`CommandError`], the
//! offending client is closed with a [`CloseReason`], or the input waits in the caller's
//! buffer until room is made (the application draining its events). Nothing is dropped
//! silently. Per client, too: what one client's packets may hold for the application
//! ([`ServerConfig::max_inbound_bytes`], [`ServerConfig::max_inbound_events`]), what may be
//! queued for it ([`ServerConfig::max_queued_bytes`]), its rooms and awaited acks
//! ([`ServerConfig::max_rooms_per_socket`], [`ServerConfig::max_acks_per_socket`]); and
//! every connection that reads HTTP requests is under a deadline
//! ([`ServerConfig::headers_timeout`], [`ServerConfig::request_timeout`]).
//!
//! # Memory
//!
//! The server keeps all its state in the [`Storage`] tables, whose entries have fixed sizes
//! ([`Capacity::ENTRY_BYTES`] on the target at hand, [`Capacity::bytes`] for whole tables).
//! An idle WebSocket client joined to one namespace holds one session, one stream and one
//! socket entry and nothing else: 340 bytes on a 32-bit target (120 + 152 + 68 on a
//! Cortex-M4F) and 372 on a 64-bit one, besides the driver's socket buffers. The rest is
//! taken while in use and given back after: 256-byte pool blocks for packets waiting to be
//! written, event payloads waiting for [`poll_event`](Server::poll_event) and binary packets
//! being assembled; an 8-byte queue entry per queued packet and recipient (a broadcast's
//! bytes are stored once); room, membership and ack entries as the application uses them.
//! With `alloc`, a message expected to be large continues in big blocks
//! ([`Capacity::big_blocks`]), and the packet of the event with attachments handed out last
//! stays until the next `poll_event`: attachments given back with [`Args::attached`] are
//! queued as views of it (one small block each), not copied.
//!
//! # Connection state recovery
//!
//! With [`ServerConfig::recovery`] set (the milliseconds a lost socket is kept), the server
//! does what socket.io's `connectionStateRecovery` does, so that socket.io-client comes
//! back into its socket after a dropped transport:
//!
//! * the CONNECT reply carries a private session id, `{"sid":"…","pid":"…"}`; the pid
//!   names the socket's slot with a keyed MAC, so it is never stored and cannot be forged;
//! * every event the server sends without an ack request ([`emit`](Server::emit),
//!   [`broadcast`](Server::broadcast), binary ones too) carries one more, last argument, a
//!   string offset, and is kept in a log of the pool with its targets (sharing the queued
//!   bytes), for [`ServerConfig::recovery`] ms and at most
//!   [`ServerConfig::recovery_log_bytes`] bytes, the oldest dropped first;
//! * a connected socket that ends for a transport close or error, a ping timeout, an
//!   Engine.IO close packet or a session the server closes ([`Server::close`],
//!   [`Server::close_all`], `disconnect_sockets` with `close`: Node's recoverable
//!   reasons) is reported ([`Event::Disconnect`]) as always, but its slot is kept, out of
//!   its rooms and namespace, with its room names ([`Usage::parked`]); an explicit
//!   disconnect of the socket, from either side, ends it for good. (While the event queue
//!   is full, the socket's Disconnect waits, and so does every packet the server reads:
//!   a CONNECT for it is handled once it is parked.)
//! * a CONNECT whose auth object has the `pid` and `offset` of a parked socket of that
//!   namespace, in time, with every packet after that offset still in the log, gets that
//!   socket back ([`Connect::recovered`], the same [`SocketId`]); once
//!   [accepted](Server::accept) it is in its rooms again and the logged packets it missed
//!   (those its rooms select, as Node's `shouldIncludePacket`) follow the reply, in order.
//!   Anything else gets a new socket, never an error ([`Usage::unrecovered`] counts them).
//!
//! Recovery is compiled in with the crate's feature `recovery` (which `mio` turns on).
//! Without it the configuration fields, [`Connect::recovered`] (always `false`) and the
//! [`Usage`] counters (always 0) still exist, none of the code above is in the image, and
//! [`Server::new`] refuses a [`ServerConfig::recovery`] other than 0
//! ([`ConfigError::RecoveryNotCompiled`]).
//!
//! Parked sockets hold socket entries until they expire (a CONNECT that finds the table
//! full takes the oldest one's); the log holds pool blocks and queue entries within its
//! cap, and is emptied when a packet cannot be logged (the parked sockets then get new
//! ones).
//!
//! # Old clients
//!
//! With [`ServerConfig::allow_eio3`] (feature `eio3`) the server also serves Engine.IO v3
//! clients (`EIO=3`: socket.io 2.x), beside v4 ones and in the same namespaces, rooms and
//! broadcasts; the session's layer speaks their framing (`engine::v3` polling bodies,
//! binary frames with a type byte, the client's pings), and the Socket.IO layer their
//! protocol v4 (the implicit `/`, the auth in a namespace's query, CONNECT answers without
//! payload, refusals as plain strings). The application sees the same events as for any
//! client.
//!
//! # The msgpack parser
//!
//! With [`ServerConfig::parser`] set to [`Parser::MsgPack`] (feature `msgpack-parser`), the
//! server speaks what socket.io's `parser: require("socket.io-msgpack-parser")` speaks: each
//! packet one `MessagePack` map in one binary Engine.IO message (see
//! [`sio::msgpack`](crate::sio::msgpack)), binary arguments in place. At its edge the
//! server turns a received map into the events any packet makes (arguments as JSON with
//! placeholders, the binary values as attachments; what that may take of the pool, it
//! checks before reading: [`ServerConfig::msgpack_room`]) and the arguments of emits,
//! acks and broadcasts into maps (a broadcast's bytes still shared by its recipients); the
//! offset of connection state recovery is the last element of an event's `data`. Over
//! polling a binary record is decoded in place in the caller's input. Every client of the
//! server must use the parser; a text packet ends its session
//! ([`CloseReason::ParseError`]), as does any map the parser would not send.
//!
//! # Inside
//!
//! The state is split by protocol layer, each a type that owns its tables and its logic,
//! the upper ones reaching down, never up:
//!
//! * the transport layer (`TransportLayer`: `stream.rs`, `http.rs`, `transmit.rs`,
//!   `timer.rs`): streams, HTTP requests and responses, WebSocket framing, the HTTP
//!   deadlines, what waits to be written;
//! * the Engine.IO layer (`EngineLayer`: `session.rs`, `engine.rs`): sessions, handshake,
//!   polling and WebSocket, the upgrade, the heartbeat, packet queues;
//! * the Socket.IO layer (`SocketIoLayer`: `socketio.rs`, `rooms.rs`, `recovery.rs`):
//!   namespaces, sockets, rooms, acknowledgements, broadcast recipients, the recovery log
//!   and parked sockets.
//!
//! The pool (message bytes and queue entries) and the event queue are shared. `Server`'s
//! own methods are this facade and, in `dispatch.rs`, the flows between the layers: input
//! going up, packets and output going down, a layer's change that another must act on.
//! Layers answer with values the flow applies: where a request goes (`engine::Route`),
//! what a received packet leaves for Socket.IO (`engine::Up`), what a Socket.IO packet
//! left to do (`socketio::Handled`), what finished writing (`transmit::Finished`).
//!
//! Entries point at each other by typed positions (`ix.rs`: `Ix<T>` indexes only the table
//! of `T`, `Link<T>` is one or none), and an event waits in its queue as a `Record`, one
//! variant per kind of event.
//!
//! # Example
//!
//! A polling client's handshake, then its Socket.IO CONNECT, driven by hand:
//!
//! ```
//! # #[cfg(feature = "alloc")] {
//! use siocore::Instant;
//! use siocore::server::*;
//!
//! let mut server = Server::new(
//!     ServerConfig::DEFAULT,
//!     Storage::growable(Capacity::for_sessions(16, 1 << 20)),
//!     [7; 32], // from the OS in real life
//!     Instant::ZERO,
//! )
//! .unwrap();
//! let now = Instant::from_millis(5);
//! let (mut out, mut buf) = ([0u8; 1024], [0u8; 1024]);
//!
//! // A client connects and asks for a session.
//! let stream = server.open_stream(now).unwrap();
//! let mut input = *b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n";
//! assert_eq!(server.feed(stream, now, &mut input).unwrap(), input.len());
//! let tx = server.poll_transmit(&mut out).unwrap();
//! let response = &out[..tx.len];
//! let body = response.split(|&b| b == b'\n').last().unwrap();
//! let open = siocore::engine::OpenPacket::decode(body).unwrap();
//! let sid = open.sid.to_string();
//!
//! // It connects to the namespace `/` with a POST of `40`.
//! let head = format!(
//!     "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n\
//!      Host: x\r\nContent-Length: 2\r\n\r\n40"
//! );
//! let mut input = head.into_bytes();
//! assert_eq!(server.feed(stream, now, &mut input).unwrap(), input.len());
//! let tx = server.poll_transmit(&mut out).unwrap();
//! assert!(out[..tx.len].ends_with(b"\r\n\r\nok"));
//!
//! // The application hears of it and accepts.
//! let Ok(Some(Event::Connect(connect))) = server.poll_event(&mut buf) else { panic!() };
//! assert_eq!((connect.name, connect.auth), ("/", &b"{}"[..]));
//! let socket = connect.socket;
//! server.accept(socket).unwrap();
//! server.emit(socket, "welcome", Args::json(b"1,\"two\"")).unwrap();
//! # let _ = sid;
//! # }
//! ```

mod config;
mod dispatch;
mod engine;
mod event;
mod http;
mod ix;
mod msgpack;
mod pool;
#[cfg(feature = "recovery")]
mod recovery;
#[cfg(not(feature = "recovery"))]
#[path = "recovery_off.rs"]
mod recovery;
mod rooms;
mod session;
mod socketio;
mod storage;
mod stream;
mod timer;
mod transmit;

use core::fmt;

pub use crate::sio::{AckId, Args, Attachments};
pub use config::{AllowOrigin, Cors, Endpoint, Parser, Protocol, ServerConfig};
pub use event::{Ack, CloseReason, Connect, Data, DisconnectReason, Event, HttpRequest, Message};
pub use storage::{Capacity, Entry, Lend, ServerArena, Storage};

pub(crate) use rooms::siphash13;

use crate::json::JsonError;
use crate::rand::Rng;
use crate::{BufferTooSmall, Instant};
use event::Events;
use ix::Link;
use pool::Pool;
use session::SessionIx;
use socketio::SocketIx;
use socketio::{MAX_EMIT_ATTACHMENTS, PacketMsgs};
use storage::{NONE, Table};

/// Whether Engine.IO v3 is compiled in (feature `eio3`): a constant, so that its code is
/// left out of a build without it.
pub(crate) const EIO3: bool = cfg!(feature = "eio3");

/// Whether the msgpack parser is compiled in (feature `msgpack-parser`): a constant, so
/// that its code is left out of a build without it.
pub(crate) const MSGPACK: bool = cfg!(feature = "msgpack-parser");

/// Whether the crate was built with CORS (feature `cors`): without it none of its code is
/// compiled, and [`ServerConfig::cors`] must be `None`.
pub(crate) const CORS: bool = cfg!(feature = "cors");

/// Whether the pool's big blocks are compiled in (with `alloc`): a constant, so that a
/// bare-metal build leaves their code out, and every message takes small blocks as if
/// [`Capacity::big_blocks`] were 0.
pub(crate) const BIG_BLOCKS: bool = cfg!(feature = "alloc");

/// A connection as the server knows it. Stale after the stream closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId {
    pub(crate) index: u32,
    pub(crate) era: u32,
}

/// An Engine.IO session (one client connection, whatever its transport).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId {
    pub(crate) index: u32,
    pub(crate) era: u32,
}

/// A Socket.IO socket: one client in one namespace.
///
/// It displays as its Socket.IO id, the one the client knows (Node's `socket.id`), which
/// it carries: `println!("{socket}")` writes `Ab3…` (20 characters). Handles compare,
/// hash and order by their slot and era only.
#[derive(Clone, Copy)]
pub struct SocketId {
    pub(crate) index: u32,
    pub(crate) era: u32,
    /// The raw bytes of its wire id; all zero in a handle rebuilt by `from_bits`.
    pub(crate) raw: [u8; 15],
}

impl SocketId {
    /// A handle without its id (a placeholder, or one rebuilt from bits).
    pub(crate) const fn bare(index: u32, era: u32) -> Self {
        Self {
            index,
            era,
            raw: [0; 15],
        }
    }

    /// Its Socket.IO id (Node's `socket.id`, also the name of the room only it is in);
    /// `None` for a handle rebuilt by [`from_bits`](Self::from_bits), which has no id:
    /// ask [`Server::socket_sid`] then.
    pub fn sid(&self) -> Option<WireId> {
        (self.raw != [0; 15]).then(|| WireId::from_raw(&self.raw))
    }
}

impl PartialEq for SocketId {
    fn eq(&self, other: &Self) -> bool {
        (self.index, self.era) == (other.index, other.era)
    }
}

impl Eq for SocketId {}

impl core::hash::Hash for SocketId {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        (self.index, self.era).hash(state);
    }
}

impl PartialOrd for SocketId {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SocketId {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        (self.index, self.era).cmp(&(other.index, other.era))
    }
}

impl fmt::Debug for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SocketId");
        d.field("index", &self.index).field("era", &self.era);
        if let Some(sid) = self.sid() {
            d.field("sid", &sid);
        }
        d.finish()
    }
}

impl fmt::Display for SocketId {
    /// The Socket.IO id; `#index.era` for a handle without one (rebuilt from bits).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.sid() {
            Some(sid) => f.write_str(sid.as_str()),
            None => write!(f, "#{}.{}", self.index, self.era),
        }
    }
}

macro_rules! handle_accessors {
    ($($t:ty),*) => {$(
        impl $t {
            /// The slot index: unique among the live ones, reused after this one ends
            /// (for a driver's own tables).
            pub const fn index(&self) -> usize {
                self.index as usize
            }

            /// Packs the handle into 64 bits (for a C caller).
            pub const fn to_bits(self) -> u64 {
                ((self.era as u64) << 32) | self.index as u64
            }

            /// The handle [`to_bits`](Self::to_bits) packed.
            pub const fn from_bits(bits: u64) -> Self {
                Self {
                    index: bits as u32,
                    era: (bits >> 32) as u32,
                }
            }
        }
    )*};
}

handle_accessors!(StreamId, SessionId);

impl SocketId {
    /// The slot index: unique among the live ones, reused after this one ends (for a
    /// driver's own tables).
    pub const fn index(&self) -> usize {
        self.index as usize
    }

    /// Packs the handle into 64 bits (for a C caller); the id is not in them.
    pub const fn to_bits(self) -> u64 {
        ((self.era as u64) << 32) | self.index as u64
    }

    /// The handle [`to_bits`](Self::to_bits) packed, without its id: it names the same
    /// socket for every command, but [`sid`](Self::sid) is `None`.
    pub const fn from_bits(bits: u64) -> Self {
        Self::bare(bits as u32, (bits >> 32) as u32)
    }
}

/// A namespace, by its position in the server's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NamespaceId(pub(crate) u16);

impl NamespaceId {
    /// The position: namespaces of the configuration come first, in order.
    pub const fn index(&self) -> usize {
        self.0 as usize
    }
}

/// A session id or socket id as it travels on the wire: 20 URL-safe base64 characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct WireId([u8; 20]);

impl WireId {
    pub(crate) fn from_raw(raw: &[u8; 15]) -> Self {
        const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = [0u8; 20];
        for (group, chunk) in raw.chunks_exact(3).enumerate() {
            let n = (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8) | u32::from(chunk[2]);
            for k in 0..4 {
                out[group * 4 + k] = URL[((n >> (18 - 6 * k)) & 63) as usize];
            }
        }
        Self(out)
    }

    /// The raw bytes behind a wire id, or `None` when `text` is not one.
    pub(crate) fn parse(text: &[u8]) -> Option<[u8; 15]> {
        if text.len() != 20 {
            return None;
        }
        let value = |c: u8| -> Option<u32> {
            Some(u32::from(match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'-' => 62,
                b'_' => 63,
                _ => return None,
            }))
        };
        let mut raw = [0u8; 15];
        for (group, chunk) in text.chunks_exact(4).enumerate() {
            let mut n = 0u32;
            for &c in chunk {
                n = (n << 6) | value(c)?;
            }
            raw[group * 3] = (n >> 16) as u8;
            raw[group * 3 + 1] = (n >> 8) as u8;
            raw[group * 3 + 2] = n as u8;
        }
        Some(raw)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// 15 random bytes for a wire id that also carries `index` (so lookups need no hash table;
/// the other 12 bytes, 96 bits, are what makes it unguessable).
fn fresh_id(rng: &mut Rng, index: u32) -> [u8; 15] {
    let mut raw = [0u8; 15];
    rng.fill(&mut raw[3..]);
    raw[..3].copy_from_slice(&index.to_le_bytes()[..3]);
    raw
}

/// The slot index carried by a wire id (its first three bytes).
fn id_index(raw: &[u8; 15]) -> u32 {
    u32::from_le_bytes([raw[0], raw[1], raw[2], 0])
}

impl fmt::Debug for WireId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for WireId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a broadcast reaches within its namespace: every socket, or the members of
/// `rooms`, minus the members of `except_rooms` and the sockets in `except`. A room name
/// that is a socket's id means that socket (every socket is in the room named by its
/// id). Each recipient gets the packet once, however many of the rooms it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Targets<'t> {
    /// Rooms to reach; empty for the whole namespace.
    pub rooms: &'t [&'t str],
    /// Rooms whose members are left out.
    pub except_rooms: &'t [&'t str],
    /// Sockets left out (e.g. the sender).
    pub except: &'t [SocketId],
}

impl<'t> Targets<'t> {
    /// Every socket of the namespace.
    pub const ALL: Targets<'static> = Targets {
        rooms: &[],
        except_rooms: &[],
        except: &[],
    };

    /// The members of `rooms`.
    pub const fn to(rooms: &'t [&'t str]) -> Self {
        Self {
            rooms,
            except_rooms: &[],
            except: &[],
        }
    }

    /// Everyone but the sockets in `except` ("broadcast from the sender").
    pub const fn all_except(except: &'t [SocketId]) -> Self {
        Self {
            rooms: &[],
            except_rooms: &[],
            except,
        }
    }
}

/// Bytes to write to one stream, from [`Server::poll_transmit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "the bytes must be written to the stream"]
pub struct Transmit {
    /// The stream.
    pub stream: StreamId,
    /// How many bytes at the start of the output buffer belong to it (may be 0 when only
    /// `close` is news).
    pub len: usize,
    /// Close the stream after these bytes. The id is stale from now on.
    pub close: bool,
}

/// A table, or the byte pool, that was full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resource {
    /// [`Capacity::sessions`]
    Sessions,
    /// [`Capacity::streams`]
    Streams,
    /// [`Capacity::sockets`]
    Sockets,
    /// [`Capacity::namespaces`]
    Namespaces,
    /// [`Capacity::rooms`]
    Rooms,
    /// [`Capacity::members`]
    Members,
    /// [`Capacity::acks`]
    Acks,
    /// [`Capacity::blocks`]
    Pool,
    /// [`Capacity::nodes`]
    Nodes,
}

/// Why a command or driver call was refused. The server is unchanged, except where a
/// variant says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    /// The stream id is stale or was never given out.
    UnknownStream,
    /// The session id is stale, or the session has ended.
    UnknownSession,
    /// The socket id is stale, or the socket has left its namespace.
    UnknownSocket,
    /// The call does not fit the state of its target: answering a stream that has no
    /// request waiting, accepting a socket twice, sending raw Engine.IO data on a
    /// Socket.IO session, …
    WrongState,
    /// The arguments are not a valid JSON list.
    InvalidJson(JsonError),
    /// The placeholders in the arguments do not match the blobs given (or there are more
    /// than 32 blobs).
    AttachmentMismatch {
        /// Placeholders found in the JSON.
        placeholders: usize,
        /// Blobs given.
        attachments: usize,
    },
    /// An event name, room name or namespace name is too long, or a name or an Engine.IO
    /// text contains what it may not (a room name over 64 bytes; text with `0x1E`).
    InvalidName,
    /// A response head that cannot be written (bad header name or value, or over 4 KiB).
    InvalidResponse,
    /// A table or the pool is full.
    Full(Resource),
    /// The client's queue would pass [`ServerConfig::max_queued_bytes`]: the session was
    /// closed with [`CloseReason::SlowReader`] (the application hears of it as events).
    SlowReader,
    /// The socket already holds its share of a table, as configured so that no client can
    /// take a table from the others: [`ServerConfig::max_rooms_per_socket`] rooms
    /// ([`Resource::Members`]) or [`ServerConfig::max_acks_per_socket`] awaited
    /// acknowledgements ([`Resource::Acks`]).
    SocketLimit(Resource),
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownStream => f.write_str("unknown stream"),
            Self::UnknownSession => f.write_str("unknown or closed session"),
            Self::UnknownSocket => f.write_str("unknown or disconnected socket"),
            Self::WrongState => f.write_str("call not allowed in this state"),
            Self::InvalidJson(e) => write!(f, "invalid JSON arguments: {e}"),
            Self::AttachmentMismatch {
                placeholders,
                attachments,
            } => write!(
                f,
                "{placeholders} placeholders for {attachments} binary attachments"
            ),
            Self::InvalidName => f.write_str("invalid or too long name or text"),
            Self::InvalidResponse => f.write_str("invalid HTTP response head"),
            Self::Full(r) => write!(f, "server table full: {r:?}"),
            Self::SlowReader => f.write_str("client queue full: session closed"),
            Self::SocketLimit(Resource::Members) => f.write_str("socket in too many rooms"),
            Self::SocketLimit(Resource::Acks) => f.write_str("socket awaits too many acks"),
            Self::SocketLimit(r) => write!(f, "socket limit reached: {r:?}"),
        }
    }
}

impl core::error::Error for CommandError {}

impl From<crate::sio::ArgsError> for CommandError {
    fn from(e: crate::sio::ArgsError) -> Self {
        match e {
            crate::sio::ArgsError::InvalidJson(j) => Self::InvalidJson(j),
            crate::sio::ArgsError::AttachmentMismatch {
                placeholders,
                attachments,
            } => Self::AttachmentMismatch {
                placeholders,
                attachments,
            },
        }
    }
}

/// A configuration the server cannot run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// No endpoint, more than 255, or a path that does not start and end with `/`.
    Endpoints,
    /// A namespace name that does not start with `/`, is over 64 bytes, appears twice, or
    /// more names than [`Capacity::namespaces`] holds.
    Namespaces,
    /// A timer of 0 ms, a `max_payload` of 0, or a `recovery_log_bytes` of 0 with
    /// recovery on: the setting's name.
    Limits(&'static str),
    /// A [`Cors`] value longer than [`Cors::MAX_VALUE`] or with a control character.
    Cors,
    /// [`ServerConfig::cors`] is set, but the crate was built without its feature `cors`.
    CorsNotCompiled,
    /// Neither polling nor WebSocket is enabled.
    Transports,
    /// [`ServerConfig::recovery`] is set, but the crate was built without its feature
    /// `recovery`.
    RecoveryNotCompiled,
    /// [`ServerConfig::allow_eio3`] is set, but the crate was built without its feature
    /// `eio3`.
    Eio3NotCompiled,
    /// [`ServerConfig::parser`] is [`Parser::MsgPack`], but the crate was built without
    /// its feature `msgpack-parser`.
    MsgPackNotCompiled,
    /// [`ServerConfig::parser`] is [`Parser::MsgPack`] with
    /// [`ServerConfig::allow_eio3`]: the msgpack parser speaks Socket.IO v5 only.
    MsgPackWithEio3,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Endpoints => "invalid endpoint list",
            Self::Namespaces => "invalid namespace list",
            Self::Limits(name) => return write!(f, "{name} must not be 0"),
            Self::Cors => "a CORS value is too long or has a control character",
            Self::CorsNotCompiled => "CORS is not compiled in",
            Self::Transports => "no transport enabled",
            Self::RecoveryNotCompiled => "connection state recovery is not compiled in",
            Self::Eio3NotCompiled => "Engine.IO v3 support is not compiled in",
            Self::MsgPackNotCompiled => "the msgpack parser is not compiled in",
            Self::MsgPackWithEio3 => "the msgpack parser does not serve Engine.IO v3 clients",
        })
    }
}

impl core::error::Error for ConfigError {}

/// How much of each table is in use, for monitoring and the memory figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Sessions.
    pub sessions: usize,
    /// Streams.
    pub streams: usize,
    /// Sockets.
    pub sockets: usize,
    /// Rooms.
    pub rooms: usize,
    /// Memberships.
    pub members: usize,
    /// Awaited acknowledgements.
    pub acks: usize,
    /// Pool blocks holding data.
    pub blocks: usize,
    /// Big pool blocks holding data (see [`Capacity::big_blocks`]).
    pub big_blocks: usize,
    /// Queue entries.
    pub nodes: usize,
    /// Sockets parked for connection state recovery (they hold socket entries).
    pub parked: usize,
    /// Bytes of the recovery log (see [`ServerConfig::recovery_log_bytes`]).
    pub log_bytes: usize,
    /// CONNECTs that asked to recover a session and got a new socket instead (unknown,
    /// expired or forged pid, or missed packets no longer all in the log), since the start.
    pub unrecovered: u64,
}

/// The sans-IO Engine.IO / Socket.IO server; see the [module docs](self).
///
/// # Drain order
///
/// After any input or command: [`poll_transmit`](Self::poll_transmit) until `None`, then
/// [`poll_event`](Self::poll_event) until `None` (handling an event may issue commands), and
/// again while either gave something; then feed any leftover input once more, and wait
/// until [`poll_timeout`](Self::poll_timeout).
///
/// # Method kinds
///
/// * driver input: [`open_stream`](Self::open_stream), [`feed`](Self::feed),
///   [`feed_eof`](Self::feed_eof), [`reset`](Self::reset),
///   [`handle_timeout`](Self::handle_timeout);
/// * outputs: [`poll_transmit`](Self::poll_transmit) (or, with `alloc`,
///   `poll_transmit_vectored`, which lends large payloads instead of copying them),
///   [`poll_event`](Self::poll_event), [`poll_timeout`](Self::poll_timeout), in that drain
///   order;
/// * commands: [`respond`](Self::respond), [`send`](Self::send), [`close`](Self::close),
///   [`accept`](Self::accept), [`refuse`](Self::refuse), [`emit`](Self::emit),
///   [`emit_with_ack`](Self::emit_with_ack), [`ack`](Self::ack), [`join`](Self::join),
///   [`leave`](Self::leave), [`broadcast`](Self::broadcast),
///   [`disconnect`](Self::disconnect);
/// * getters (`&self`): [`namespace`](Self::namespace), [`socket_sid`](Self::socket_sid),
///   [`session_of`](Self::session_of), [`usage`](Self::usage), ….
pub struct Server<'a> {
    config: ServerConfig<'a>,
    rng: Rng,
    now: u64,
    /// Byte streams: HTTP, WebSocket framing, deadlines, what waits to be written.
    transport: stream::TransportLayer<'a>,
    /// Engine.IO sessions: handshake, transports, heartbeat, packet queues.
    engine: session::EngineLayer<'a>,
    /// Socket.IO: namespaces, sockets, rooms, acknowledgements.
    socketio: socketio::SocketIoLayer<'a>,
    /// What waits for the application's `poll_event`.
    events: Events<'a>,
    /// The bytes of every layer's messages (queued packets, event payloads).
    pool: Pool<'a>,
}

impl fmt::Debug for Server<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("now", &self.now)
            .field("usage", &self.usage())
            .finish_non_exhaustive()
    }
}

impl<'a> Server<'a> {
    /// A server with `config`, keeping its state in `storage`, drawing its ids from the
    /// `ChaCha20` keystream of `seed` (take it from a real entropy source: the ids are the
    /// clients' only credential), started at `now`.
    pub fn new(
        config: ServerConfig<'a>,
        storage: Storage<'a>,
        seed: [u8; 32],
        now: Instant,
    ) -> Result<Self, ConfigError> {
        if config.endpoints.is_empty()
            || config.endpoints.len() > 255
            || config
                .endpoints
                .iter()
                .any(|e| !e.path.starts_with('/') || !e.path.ends_with('/'))
        {
            return Err(ConfigError::Endpoints);
        }
        let zero = match () {
            () if config.ping_interval == 0 => "ping_interval",
            () if config.ping_timeout == 0 => "ping_timeout",
            () if config.upgrade_timeout == 0 => "upgrade_timeout",
            () if config.connect_timeout == 0 => "connect_timeout",
            () if config.close_timeout == 0 => "close_timeout",
            () if config.headers_timeout == 0 => "headers_timeout",
            () if config.request_timeout == 0 => "request_timeout",
            () if config.max_payload == 0 => "max_payload",
            () if recovery::ENABLED && config.recovery != 0 && config.recovery_log_bytes == 0 => {
                "recovery_log_bytes"
            }
            () => "",
        };
        if !zero.is_empty() {
            return Err(ConfigError::Limits(zero));
        }
        if config.cors.is_some() && !CORS {
            return Err(ConfigError::CorsNotCompiled);
        }
        if CORS && config.cors.is_some_and(|c| !c.valid()) {
            return Err(ConfigError::Cors);
        }
        if !recovery::ENABLED && config.recovery != 0 {
            return Err(ConfigError::RecoveryNotCompiled);
        }
        if !EIO3 && config.allow_eio3 {
            return Err(ConfigError::Eio3NotCompiled);
        }
        if !MSGPACK && config.parser == Parser::MsgPack {
            return Err(ConfigError::MsgPackNotCompiled);
        }
        if MSGPACK && config.parser == Parser::MsgPack && config.allow_eio3 {
            return Err(ConfigError::MsgPackWithEio3);
        }
        if !config.polling && !config.websocket {
            return Err(ConfigError::Transports);
        }
        let mut rng = Rng::new(seed);
        let hash_key = [rng.next_u64(), rng.next_u64()];
        let mut server = Self {
            config,
            rng,
            now: now.as_millis(),
            transport: stream::TransportLayer {
                streams: Table::new(storage.streams),
                txq_head: Link::NONE,
                txq_tail: Link::NONE,
                stream_timers: [timer::TimerList::EMPTY; 2],
                headers_timeout: config.headers_timeout,
                request_timeout: config.request_timeout,
                cors: if CORS { config.cors } else { None },
                now: now.as_millis(),
            },
            engine: session::EngineLayer {
                sessions: Table::new(storage.sessions),
                heap_len: 0,
                reap_sessions: Link::NONE,
                reap_sessions_tail: Link::NONE,
                now: now.as_millis(),
            },
            socketio: socketio::SocketIoLayer {
                sockets: Table::new(storage.sockets),
                namespaces: storage.namespaces,
                namespace_count: 0,
                rooms: Table::new(storage.rooms),
                buckets: 0,
                members: Table::new(storage.members),
                acks: Table::new(storage.acks),
                reap_sockets: Link::NONE,
                reap_sockets_tail: Link::NONE,
                stamp: 0,
                hash_key,
                recovery: recovery::Recovery::new(hash_key),
                held: socketio::Held::NONE,
            },
            events: Events::new(storage.events),
            pool: Pool::new(storage.blocks, storage.nodes, storage.big_blocks),
        };
        server.socketio.rebuild_buckets();
        for (i, name) in config.namespaces.iter().enumerate() {
            if config.namespaces[..i].contains(name)
                || server.socketio.add_namespace(name).is_none()
            {
                return Err(ConfigError::Namespaces);
            }
        }
        Ok(server)
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig<'a> {
        &self.config
    }

    /// How much of each table is in use.
    pub fn usage(&self) -> Usage {
        let (parked, log_bytes, unrecovered) = self.socketio.recovery.usage();
        Usage {
            sessions: self.engine.sessions.used(),
            streams: self.transport.streams.used(),
            sockets: self.socketio.sockets.used(),
            rooms: self.socketio.rooms.used(),
            members: self.socketio.members.used(),
            acks: self.socketio.acks.used(),
            blocks: self.pool.used_blocks(),
            big_blocks: self.pool.used_big_blocks(),
            nodes: self.pool.nodes.used(),
            parked,
            log_bytes,
            unrecovered,
        }
    }

    /// Whether connection state recovery is on: compiled in (a constant, so that the code
    /// of a build without it is dropped) and configured.
    #[inline(always)]
    pub(crate) const fn recovery_on(&self) -> bool {
        recovery::ENABLED && self.config.recovery != 0
    }

    /// Whether the server speaks the msgpack parser: compiled in (a constant, so that the
    /// code of a build without it is dropped) and configured.
    #[inline(always)]
    pub(crate) fn msgpack_on(&self) -> bool {
        MSGPACK && self.config.parser == Parser::MsgPack
    }

    fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now.as_millis());
        self.transport.now = self.now;
        self.engine.now = self.now;
    }

    // ------------------------------------------------------------------ streams

    /// Registers a new connection (the driver accepted it); `now` is when.
    pub fn open_stream(&mut self, now: Instant) -> Result<StreamId, CommandError> {
        self.advance(now);
        let i = self
            .transport
            .streams
            .alloc()
            .ok_or(CommandError::Full(Resource::Streams))?;
        let s = &mut self.transport.streams[i].0;
        s.era = s.era.wrapping_add(1);
        s.scanner =
            crate::ws::FrameScanner::new(crate::ws::Role::Server, self.config.max_payload as usize);
        let era = s.era;
        self.transport.set_state(i, stream::State::Http);
        Ok(StreamId {
            index: i.get(),
            era,
        })
    }

    fn session_index(&self, id: SessionId) -> Result<SessionIx, CommandError> {
        match self.engine.sessions.ix(id.index) {
            Some(i)
                if self.engine.sessions[i].0.era == id.era
                    && self.engine.sessions[i].0.state == session::State::Open =>
            {
                Ok(i)
            }
            _ => Err(CommandError::UnknownSession),
        }
    }

    /// The session of a live socket.
    fn socket_session(&self, sock: SocketIx) -> Result<SessionIx, CommandError> {
        self.socketio.sockets[sock]
            .0
            .session
            .get()
            .ok_or(CommandError::UnknownSocket)
    }

    /// The session id as the client knows it (`sid`), while the session is open.
    pub fn session_sid(&self, session: SessionId) -> Option<WireId> {
        let i = self.session_index(session).ok()?;
        Some(WireId::from_raw(&self.engine.sessions[i].0.sid))
    }

    // ------------------------------------------------------------------ rooms

    /// Puts a connected socket in `room` of its namespace (created on first use; at most
    /// 64 bytes of name). Joining a room twice is a no-op. A socket in
    /// [`ServerConfig::max_rooms_per_socket`] rooms already gets
    /// [`CommandError::SocketLimit`].
    pub fn join(&mut self, socket: SocketId, room: &str) -> Result<(), CommandError> {
        let sock = self.socketio.socket_index(socket)?;
        self.socketio
            .join(sock, room, self.config.max_rooms_per_socket)
    }

    /// Takes a socket out of `room`; leaving a room it is not in is a no-op.
    pub fn leave(&mut self, socket: SocketId, room: &str) -> Result<(), CommandError> {
        let sock = self.socketio.socket_index(socket)?;
        self.socketio.leave(sock, room);
        Ok(())
    }

    /// Whether the socket is in `room` (its own-id room included).
    pub fn in_room(&self, socket: SocketId, room: &str) -> bool {
        self.socketio
            .socket_index(socket)
            .is_ok_and(|sock| self.socketio.in_room(sock, room))
    }

    /// The rooms a socket joined, newest first (not the room named by its own id, which
    /// it is always in).
    pub fn socket_rooms(&self, socket: SocketId) -> impl Iterator<Item = &str> + '_ {
        let sock = self.socketio.socket_index(socket).ok();
        sock.into_iter().flat_map(|s| self.socketio.rooms_of(s))
    }

    /// The rooms of a namespace that have members (not the rooms named by socket ids).
    pub fn rooms(&self, namespace: NamespaceId) -> impl Iterator<Item = &str> + '_ {
        self.socketio.rooms_in(namespace.0)
    }

    /// How many sockets are in a room of a namespace (not counting own-id rooms).
    pub fn room_len(&self, namespace: NamespaceId, room: &str) -> usize {
        self.socketio.room_len(namespace.0, room)
    }

    /// Whether the session is still open.
    pub fn is_open(&self, session: SessionId) -> bool {
        self.session_index(session).is_ok()
    }

    /// The driver could not write all the bytes of `stream`'s last [`Transmit`]: it keeps
    /// the rest, and the server hands out nothing more for that stream until
    /// [`resume_transmit`](Self::resume_transmit). What the stream's session is sent
    /// meanwhile waits in the server, where [`ServerConfig::max_queued_bytes`] bounds it, so
    /// that a client that does not read holds a bounded amount of memory.
    ///
    /// One exception: when the server gives up on the stream (its deadline passed while
    /// paused, or its client was closed as a slow reader), it hands out the stream's close
    /// (`len == 0`, `close`) while paused. The driver then drops what it kept and closes
    /// the connection at once.
    ///
    /// [`ServerConfig::max_queued_bytes`]: ServerConfig::max_queued_bytes
    pub fn pause_transmit(&mut self, stream: StreamId) -> Result<(), CommandError> {
        let s = self.transport.index(stream)?;
        self.transport.pause(s);
        Ok(())
    }
    /// The driver wrote everything it kept for `stream`: the stream may be handed out
    /// again by [`poll_transmit`](Self::poll_transmit). This counts as the stream's output
    /// moving: the deadline of a connection writing a response starts again.
    pub fn resume_transmit(&mut self, stream: StreamId) -> Result<(), CommandError> {
        let s = self.transport.index(stream)?;
        self.transport.resume(s);
        Ok(())
    }

    /// The namespace named `name` (`/`, `/chat`), if it exists.
    pub fn namespace(&self, name: &str) -> Option<NamespaceId> {
        self.socketio.find_namespace(name).map(NamespaceId)
    }
    /// The namespace at position `index` (those of the configuration first, in order).
    pub fn namespace_by_index(&self, index: usize) -> Option<NamespaceId> {
        (index < usize::from(self.socketio.namespace_count)).then_some(NamespaceId(index as u16))
    }
    /// The name of a namespace.
    pub fn namespace_name(&self, ns: NamespaceId) -> Option<&str> {
        if ns.0 >= self.socketio.namespace_count {
            return None;
        }
        self.socketio
            .namespaces
            .as_slice()
            .get(ns.index())
            .map(|n| n.0.name())
    }
    /// How many sockets are connected to a namespace.
    pub fn namespace_len(&self, ns: NamespaceId) -> usize {
        if ns.0 >= self.socketio.namespace_count {
            return 0;
        }
        self.socketio
            .namespaces
            .as_slice()
            .get(ns.index())
            .map_or(0, |n| n.0.count as usize)
    }
    /// The socket's id as the client knows it (Node's `socket.id`), which is also the
    /// name of the room only it is in.
    pub fn socket_sid(&self, socket: SocketId) -> Option<WireId> {
        let i = self.socketio.socket_index(socket).ok()?;
        Some(WireId::from_raw(&self.socketio.sockets[i].0.id))
    }
    /// The connected socket of `namespace` whose id (as the client knows it) is `sid`.
    pub fn socket_by_sid(&self, namespace: NamespaceId, sid: &str) -> Option<SocketId> {
        let s = self.socketio.socket_by_wire_id(namespace.0, sid)?;
        Some(self.socketio.handle(s))
    }
    /// The opening request of `session` (Node's `socket.handshake`: its request line, with
    /// the URL and its query, and its headers, as [`crate::http::parse_request`] reads them)
    /// and when it came, copied into `buf`; `Ok(None)` when none is kept
    /// ([`ServerConfig::handshake_head`] is 0, the pool had no room) or the session ended.
    ///
    /// # Errors
    /// [`BufferTooSmall`] with the size needed; nothing is copied then.
    pub fn handshake<'b>(
        &self,
        session: SessionId,
        buf: &'b mut [u8],
    ) -> Result<Option<(Instant, &'b [u8])>, BufferTooSmall> {
        let Ok(sess) = self.session_index(session) else {
            return Ok(None);
        };
        let msg = self.engine.sessions[sess].0.handshake;
        if msg == NONE {
            return Ok(None);
        }
        let len = self.pool.len(msg).saturating_sub(8);
        if buf.len() < len {
            return Err(BufferTooSmall { required: len });
        }
        let mut r = self.pool.reader(msg);
        let mut issued = [0u8; 8];
        self.pool.read(&mut r, &mut issued);
        let n = self.pool.read(&mut r, &mut buf[..len]);
        Ok(Some((
            Instant::from_millis(u64::from_le_bytes(issued)),
            &buf[..n],
        )))
    }

    /// The connection that carries `session` now: its WebSocket, else its long-poll, else
    /// the POST it is reading, else (between long-polls) the last one that carried it, while
    /// it is open (for a driver that knows each connection's peer).
    pub fn session_stream(&self, session: SessionId) -> Option<StreamId> {
        let sess = self.session_index(session).ok()?;
        let s = &self.engine.sessions[sess].0;
        // Between long-polls: the last one, if it still belongs to the session.
        let last = s.last_stream.get().filter(|&l| {
            let st = &self.transport.streams[l].0;
            st.session.is(sess) && st.state != stream::State::Free
        });
        let stream =
            s.ws.get()
                .or_else(|| s.get.get())
                .or_else(|| s.post.get())
                .or(last)?;
        Some(self.transport.handle(stream))
    }

    /// The session a socket belongs to.
    pub fn session_of(&self, socket: SocketId) -> Option<SessionId> {
        let i = self.socketio.socket_index(socket).ok()?;
        Some(self.engine.handle(self.socket_session(i).ok()?))
    }
    /// The namespace of a connected socket.
    pub fn namespace_of(&self, socket: SocketId) -> Option<NamespaceId> {
        let i = self.socketio.socket_index(socket).ok()?;
        let ns = self.socketio.sockets[i].0.ns;
        (ns != u16::MAX).then_some(NamespaceId(ns))
    }

    // ------------------------------------------------------------------ Socket.IO commands

    /// Accepts a pending socket ([`Event::Connect`]): the client gets its CONNECT reply
    /// with the socket's id, and the socket may emit and receive. For a dynamic namespace,
    /// accepting creates the namespace.
    ///
    /// A recovered socket ([`Connect::recovered`]) joins its rooms again and gets the
    /// packets it missed after the reply. Should a room not be joined again (the room
    /// tables are full), the socket is accepted all the same, and the first such error is
    /// returned.
    pub fn accept(&mut self, socket: SocketId) -> Result<NamespaceId, CommandError> {
        let sock = self.socketio.socket_index(socket)?;
        let sess = self.socket_session(sock)?;
        let saved = self.socketio.recovering(sock);
        let eio3 = EIO3 && self.engine.sessions[sess].0.eio3;
        let pid = self.recovery_on() && !eio3;
        let msgpack = self.msgpack_on();
        let (ns, msg) = self
            .socketio
            .connect_reply(sock, pid, eio3, msgpack, &mut self.pool)?;
        self.queue_packets(sess, &[msg])?;
        if saved.is_some() {
            // Kept past `admit`, which would release it as a dynamic namespace's name.
            self.socketio.sockets[sock].0.name_msg = NONE;
        }
        self.socketio.admit(sock, ns, &mut self.pool);
        let session = &mut self.engine.sessions[sess].0;
        if session.connect_at != 0 {
            session.connect_at = 0;
            self.engine.reschedule(sess);
        }
        if let Some(saved) = saved {
            let restored = self.restore(sess, sock, saved);
            self.pool.release(saved);
            restored?;
        }
        Ok(NamespaceId(ns))
    }

    /// Refuses a pending socket: the client gets `CONNECT_ERROR` with `message` and, when
    /// given, `data` (raw JSON). No Disconnect event follows.
    pub fn refuse(
        &mut self,
        socket: SocketId,
        message: &str,
        data: Option<&[u8]>,
    ) -> Result<(), CommandError> {
        let sock = self.socketio.socket_index(socket)?;
        let sess = self.socket_session(sock)?;
        let eio3 = EIO3 && self.engine.sessions[sess].0.eio3;
        let msgpack = self.msgpack_on();
        let msg = self
            .socketio
            .refusal(sock, message, data, eio3, msgpack, &mut self.pool)?;
        self.queue_packets(sess, &[msg])?;
        // Gone without an event: the app refused it.
        self.socketio
            .forget(sock, &mut self.engine.sessions[sess].0.sio, &mut self.pool);
        Ok(())
    }

    fn emit_inner(
        &mut self,
        socket: SocketId,
        event: &str,
        args: Args<'_>,
        ack: Option<Option<u32>>,
    ) -> Result<Option<AckId>, CommandError> {
        let sock = self.socketio.connected(socket)?;
        let sess = self.socket_session(sock)?;
        if crate::sio::RESERVED_EVENT_NAMES.contains(&event) {
            return Err(CommandError::InvalidName);
        }
        let ack_id = match ack {
            None => None,
            Some(_) => Some(
                self.socketio
                    .next_ack_id(sock, self.config.max_acks_per_socket)?,
            ),
        };
        let mut msgs: PacketMsgs = [NONE; 1 + MAX_EMIT_ATTACHMENTS];
        let offset =
            (ack.is_none() && self.recovery_on()).then(|| self.socketio.recovery.take_offset());
        let encode = |server: &mut Self, msgs: &mut PacketMsgs| {
            server.socketio.encode_for(
                sock,
                ack_id.map(u64::from),
                Some(event),
                &args,
                offset,
                server.msgpack_on(),
                &mut server.pool,
                msgs,
            )
        };
        let mut encoded = encode(self, &mut msgs);
        // The recovery log gives its blocks back before an emit fails for them.
        if encoded == Err(CommandError::Full(Resource::Pool))
            && self.socketio.drop_log(&mut self.pool)
        {
            encoded = encode(self, &mut msgs);
        }
        let n = encoded?;
        // Logged once queued (a packet the application was told failed is never replayed),
        // as sent to the room named by the socket's id.
        if offset.is_some() {
            for &m in &msgs[..n] {
                self.pool.retain(m);
            }
        }
        let queued = self.queue_packets(sess, &msgs[..n]);
        if let Some(offset) = offset {
            if queued.is_ok() {
                let ns = self.socketio.sockets[sock].0.ns;
                self.log_packet(offset, ns, &msgs[..n], &Targets::ALL, Some(sock));
            }
            for &m in &msgs[..n] {
                self.pool.release(m);
            }
        }
        queued?;
        let Some(id) = ack_id else {
            return Ok(None);
        };
        let deadline = match ack.flatten() {
            Some(ms) => self.now.saturating_add(u64::from(ms)).max(1),
            None => 0,
        };
        self.socketio.await_ack(sock, id, deadline)?;
        if deadline != 0 {
            let session = &mut self.engine.sessions[sess].0;
            if session.ack_at == 0 || deadline < session.ack_at {
                session.ack_at = deadline;
            }
            self.engine.reschedule(sess);
        }
        Ok(Some(AckId(u64::from(id))))
    }

    /// Emits `event` with `args` to one socket.
    pub fn emit(
        &mut self,
        socket: SocketId,
        event: &str,
        args: Args<'_>,
    ) -> Result<(), CommandError> {
        self.emit_inner(socket, event, args, None).map(|_| ())
    }

    /// Emits `event` and asks the client to acknowledge it: its answer comes as
    /// [`Event::Ack`] with the returned id, or, when `timeout_ms` passes first,
    /// [`Event::AckTimeout`].
    pub fn emit_with_ack(
        &mut self,
        socket: SocketId,
        event: &str,
        args: Args<'_>,
        timeout_ms: Option<u32>,
    ) -> Result<AckId, CommandError> {
        self.emit_inner(socket, event, args, Some(timeout_ms))?
            .ok_or(CommandError::WrongState)
    }

    /// Answers an event the client sent with an ack request ([`Message::ack`]).
    pub fn ack(&mut self, socket: SocketId, id: AckId, args: Args<'_>) -> Result<(), CommandError> {
        let sock = self.socketio.connected(socket)?;
        let sess = self.socket_session(sock)?;
        let mut msgs: PacketMsgs = [NONE; 1 + MAX_EMIT_ATTACHMENTS];
        let n = self.socketio.encode_for(
            sock,
            Some(id.0),
            None,
            &args,
            None,
            self.msgpack_on(),
            &mut self.pool,
            &mut msgs,
        )?;
        self.queue_packets(sess, &msgs[..n])
    }

    /// Removes a socket from its namespace: the client gets DISCONNECT for it, and the
    /// application a Disconnect event ([`DisconnectReason::ServerDisconnect`]). The session
    /// and its other namespaces stay.
    pub fn disconnect(&mut self, socket: SocketId) -> Result<(), CommandError> {
        let sock = self.socketio.connected(socket)?;
        self.disconnect_ix(sock)
    }

    /// Sends a raw Engine.IO message on a plain Engine.IO session. Text may not contain
    /// the byte `0x1E` (polling bodies use it as separator).
    pub fn send(&mut self, session: SessionId, data: Data<'_>) -> Result<(), CommandError> {
        let sess = self.session_index(session)?;
        if self.engine.protocol_of(sess, &self.config) != Protocol::Engine {
            return Err(CommandError::WrongState);
        }
        let msg = match data {
            Data::Text(t) => {
                if t.as_bytes().contains(&crate::engine::RECORD_SEPARATOR) {
                    return Err(CommandError::InvalidName);
                }
                self.pool.msg_from(false, &[b"4", t.as_bytes()])
            }
            Data::Binary(b) => self.pool.msg_from(true, &[b]),
        }
        .ok_or(CommandError::Full(Resource::Pool))?;
        self.queue_packets(sess, &[msg])
    }
    /// Closes a session: the client gets the Engine.IO close packet after what is already
    /// queued for it, then its transport is closed. The application hears of it as
    /// Disconnect events (Socket.IO) or [`Event::EngineClose`],
    /// with [`CloseReason::ServerClose`].
    pub fn close(&mut self, session: SessionId) -> Result<(), CommandError> {
        let sess = self.session_index(session)?;
        self.close_session(sess, CloseReason::ServerClose, true);
        Ok(())
    }
    /// Closes every open session as [`close`](Self::close) does (for a shutdown); returns
    /// how many.
    pub fn close_all(&mut self) -> usize {
        let mut n = 0;
        for sess in self.engine.sessions.indices() {
            if self.engine.sessions[sess].0.state == session::State::Open {
                self.close_session(sess, CloseReason::ServerClose, true);
                n += 1;
            }
        }
        n
    }

    /// Answers an [`Event::Http`] request: `status`, the given headers,
    /// `Content-Length` and `Connection` (added by the server), and `body`. The answer to a
    /// `HEAD` request has the length of `body` and not its bytes (give it what a `GET` would
    /// get).
    pub fn respond(
        &mut self,
        stream: StreamId,
        status: u16,
        headers: &[crate::http::Header<'_>],
        body: &[u8],
    ) -> Result<(), CommandError> {
        let s = self.transport.index(stream)?;
        self.transport
            .respond_app(s, status, headers, body, &mut self.pool)
    }
}
