//! The sans-IO Socket.IO client: Engine.IO v4 sessions over HTTP long-polling and
//! WebSocket, Socket.IO v5 namespaces, events, acknowledgements and binary attachments,
//! and reconnection, with no socket, clock, randomness or allocator of its own.
//!
//! # Driving it
//!
//! The client speaks over up to three TCP streams ([`Stream`]): the polling `GET`
//! (long-poll), the polling `POST`, and the WebSocket. The driver owns the sockets and
//! moves bytes and time:
//!
//! 1. [`Client::start`] begins the first attempt.
//! 2. [`Client::poll_io`] says what to do: connect a stream to the server, send the bytes
//!    it wrote into the driver's buffer on a stream (all of them, in order, before the
//!    bytes of a later `Send` on that stream), or close a stream. Call it until `None`.
//! 3. Report what happened: [`Client::connected`], [`Client::connect_failed`],
//!    [`Client::recv`] (or [`Client::rx_buf`] + [`Client::rx_commit`] to read in place),
//!    [`Client::closed`].
//! 4. [`Client::poll_event`] until `None`, answering with commands ([`Client::emit`],
//!    [`Client::ack`], ...). Taking events can queue packets without producing an event
//!    (a ping's pong), so call `poll_io` again after it.
//! 5. [`Client::poll_timeout`] is the next deadline; call [`Client::handle_timeout`] then.
//!
//! Every call that takes an [`Instant`] moves the client's clock forward; packets are
//! processed as of the latest one.
//!
//! # Memory
//!
//! Buffers come from one caller-lent arena of [`ClientConfig::arena_len`] bytes; the
//! namespace and ack tables are arrays sized by the `NS` and `ACKS` parameters. A
//! WebSocket-only client needs one receive buffer; polling needs a second one (and a small
//! one for POST responses). Events are copied into a buffer given to `poll_event`, so the
//! application can answer while it holds one.
//!
//! # Connection state recovery
//!
//! With the feature `recovery`, the client does its part of Socket.IO's connection state
//! recovery (socket.io 4.6 and later, `connectionStateRecovery` on the server), as the
//! JavaScript client does:
//!
//! - A server with recovery on answers CONNECT with a private session id (`pid`) beside
//!   the socket id, and appends an offset (a short string) to every event it keeps for a
//!   replay. The client keeps both per namespace and hands the events over without the
//!   offset: in a namespace with a pid, an event that does not ask for an ack and whose
//!   last argument is a string of at most [`RECOVERY_OFFSET_MAX`] plain characters loses
//!   that argument. (A volatile emit from the server carries no offset, so one that ends
//!   with such a string loses it too, as it is taken for the offset by the JavaScript
//!   client.)
//! - After the session is lost (a transport close or error, a ping timeout), the
//!   namespace's CONNECT offers the session back: `{"pid":"…","offset":"…"}` merged into
//!   its auth object. A server that still holds it restores the socket (same id, same
//!   rooms), sends the events missed meanwhile, in order, then answers with the same pid:
//!   the events come as [`Event::Message`] before [`Event::Connect`], whose `recovered` is
//!   then `true`. Otherwise it starts a new session.
//! - Leaving on purpose ([`Client::disconnect`], [`Client::close`], or the server's
//!   DISCONNECT) forgets the session, as the server does.
//! - [`Client::recovery_state`] gives a namespace's session as
//!   [`RECOVERY_STATE_LEN`] bytes to keep (in flash, say), and
//!   [`Client::restore_recovery`] gives it back, after a reboot for instance: the
//!   namespace then resumes its session if the server still holds it.
//!
//! The pid and the offset are bounded ([`RECOVERY_PID_MAX`], [`RECOVERY_OFFSET_MAX`]); a
//! longer or escaped pid is not kept, and that namespace starts a new session on its next
//! CONNECT. Each namespace keeps [`RECOVERY_STATE_LEN`] bytes in the client, and
//! [`ClientConfig::out_len`] grows by the namespace area and 88 bytes. Without the
//! feature the pid and the offsets are ignored: a server with recovery on then hands the
//! offset to the application as the last argument.
//!
//! # socket.io 2.x servers
//!
//! With the feature `eio3` and [`ClientConfig::eio3`] the client speaks Engine.IO v3 and
//! Socket.IO protocol v4 to a server that speaks nothing newer (see that field). The
//! application sees the same events and calls as with a current server.
//!
//! # The msgpack parser
//!
//! With the feature `msgpack-parser` and [`ClientConfig::parser`] set to
//! [`Parser::MsgPack`] the client speaks to a server started with
//! `socket.io-msgpack-parser`: every packet is one `MessagePack` map in one binary message
//! ([`sio::msgpack`](crate::sio::msgpack)), binary arguments in place. The application
//! sees the same events and calls: arguments still come and go as JSON with placeholders
//! and attachments, and the client converts at its edge (a received packet is put
//! together in that form in the binary buffer before it is delivered, an emit is written
//! into the outbox as `MessagePack`). Connection state recovery works as with the default
//! parser.

#[cfg(feature = "embedded-io")]
pub mod blocking;
mod config;
mod head;
mod inbound;
#[cfg(feature = "msgpack-parser")]
mod msgpack;
mod outbox;
#[cfg(feature = "recovery")]
mod recovery;
mod transmit;
#[cfg(feature = "eio3")]
mod v3;

use core::fmt;

pub use crate::server::Parser;
pub use crate::sio::{AckId, Args, Attachments};
pub use config::{ClientConfig, ConfigError, Reconnection, Transports};
#[cfg(feature = "recovery")]
pub use recovery::{RECOVERY_OFFSET_MAX, RECOVERY_PID_MAX, RECOVERY_STATE_LEN};

use crate::Instant;
use crate::json::JsonError;
use crate::rand::Rng;
use crate::ws::{ClientKey, MessageDecoder};
use outbox::{NO_ACK, Outbox};

/// Longest Engine.IO session id kept (the reference's are 20 characters).
const SID_MAX: usize = 64;
/// An idle polling stream older than this is closed and opened again before its next
/// request, so a request never races the server's keep-alive timeout (Node: 5 s).
const REUSE_MS: u64 = 2000;
/// How long a polling client waits for the answer to its close packet.
const CLOSE_WAIT_MS: u64 = 1000;
/// Notices waiting for `poll_event`.
const NOTICES: usize = 4;

/// One of the client's TCP streams to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// The polling `GET` requests (the handshake and the long-polls).
    Poll,
    /// The polling `POST` requests (what the client sends over polling).
    Post,
    /// The WebSocket.
    WebSocket,
}

impl Stream {
    /// The three streams.
    pub const ALL: [Self; 3] = [Self::Poll, Self::Post, Self::WebSocket];

    /// 0, 1 or 2, to index a driver's table.
    pub const fn index(self) -> usize {
        self as usize
    }

    const fn from_index(i: usize) -> Self {
        match i {
            0 => Self::Poll,
            1 => Self::Post,
            _ => Self::WebSocket,
        }
    }
}

/// What the driver must do next; see [`Client::poll_io`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Io {
    /// Open a TCP connection to the server for this stream, then report
    /// [`Client::connected`] or [`Client::connect_failed`].
    Connect(Stream),
    /// Write the first `len` bytes of the buffer given to `poll_io` on this stream.
    Send {
        /// The stream.
        stream: Stream,
        /// Bytes written into the buffer.
        len: usize,
    },
    /// Close this stream once the bytes already handed out for it are written. Reading
    /// from it stops; a later `Connect` for the same stream means a new connection.
    Close(Stream),
}

/// A namespace the application asked to join: an index into the client's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NamespaceId(u8);

impl NamespaceId {
    /// The id of table entry `index` (commands check that it is in use).
    pub const fn from_index(index: u8) -> Self {
        Self(index)
    }

    /// The table index.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// Why an Engine.IO session (or an attempt to open one) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The server closed a stream the session needed.
    TransportClose,
    /// The driver could not connect or a stream failed.
    TransportError,
    /// No ping from the server within `pingInterval + pingTimeout`.
    PingTimeout,
    /// The server sent something that is not valid Engine.IO or Socket.IO.
    ParseError,
    /// The server closed the session (close packet or WebSocket close frame).
    ServerClose,
    /// The application called [`Client::close`].
    ClientClose,
    /// No open packet within [`ClientConfig::connect_timeout_ms`].
    ConnectTimeout,
    /// The server answered an HTTP request with this status (`code` is the Engine.IO
    /// error code of a JSON error body, e.g. 1 for "Session ID unknown").
    Http {
        /// The HTTP status.
        status: u16,
        /// The Engine.IO error code, when the body had one.
        code: Option<u8>,
    },
    /// A response or message did not fit the receive buffer, or a binary packet the
    /// binary buffer.
    TooLarge,
    /// A packet did not fit the buffer given to [`Client::poll_io`].
    TransmitBufferTooSmall,
    /// The server's host refused the TCP connection: nothing listens on that port
    /// ([`Client::connect_failed_for`] with [`ConnectFailure::Refused`]).
    ConnectRefused,
    /// The server could not be reached: no route to it, the network down, or no answer to
    /// the TCP connection ([`ConnectFailure::Unreachable`]).
    Unreachable,
    /// The TLS handshake failed (the driver says why: an untrusted or mismatched
    /// certificate, a protocol error; [`ConnectFailure::Tls`]).
    Tls,
}

/// Why a stream could not connect, as the driver saw it
/// ([`Client::connect_failed_for`]); each becomes the [`CloseReason`] of the attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectFailure {
    /// The connection was refused ([`CloseReason::ConnectRefused`]).
    Refused,
    /// No route, the network down, the connection timed out
    /// ([`CloseReason::Unreachable`]).
    Unreachable,
    /// The TLS handshake failed ([`CloseReason::Tls`]).
    Tls,
    /// Anything else ([`CloseReason::TransportError`]).
    Other,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TransportClose => f.write_str("transport close"),
            Self::TransportError => f.write_str("transport error"),
            Self::PingTimeout => f.write_str("ping timeout"),
            Self::ParseError => f.write_str("parse error"),
            Self::ServerClose => f.write_str("server close"),
            Self::ClientClose => f.write_str("client close"),
            Self::ConnectTimeout => f.write_str("connect timeout"),
            Self::ConnectRefused => f.write_str("connection refused"),
            Self::Unreachable => f.write_str("server unreachable"),
            Self::Tls => f.write_str("TLS handshake failed"),
            Self::Http {
                status,
                code: Some(c),
            } => write!(f, "HTTP {status} (Engine.IO error {c})"),
            Self::Http { status, code: None } => write!(f, "HTTP {status}"),
            Self::TooLarge => f.write_str("message too large for the receive buffer"),
            Self::TransmitBufferTooSmall => f.write_str("packet too large for the send buffer"),
        }
    }
}

/// Why a namespace was left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The server sent DISCONNECT ("io server disconnect"); it is not joined again
    /// automatically.
    ServerDisconnect,
    /// The application called [`Client::disconnect`] or [`Client::close`].
    ClientDisconnect,
    /// The session was lost; the namespace is joined again after reconnecting.
    Session(CloseReason),
}

/// Why an acknowledgement will not come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckFailure {
    /// Its timeout passed.
    Timeout,
    /// The namespace was left after the event was sent.
    Disconnected,
}

/// An event the server emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'b> {
    /// The namespace.
    pub namespace: NamespaceId,
    /// The event name.
    pub name: &'b str,
    /// The arguments after the name, raw JSON, comma separated; binary arguments are
    /// `{"_placeholder":true,"num":k}`.
    pub args: &'b [u8],
    /// The blobs the placeholders stand for.
    pub attachments: Attachments<'b>,
    /// Set when the server waits for an answer: reply once with [`Client::ack`].
    pub ack: Option<AckId>,
}

/// Something the application must know about. Byte fields borrow the buffer given to
/// [`Client::poll_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'b> {
    /// A namespace was joined (again, after a reconnection); `sid` is the socket id.
    Connect {
        /// The namespace.
        namespace: NamespaceId,
        /// Its socket id on the server.
        sid: &'b str,
        /// The server resumed the namespace's previous session (connection state
        /// recovery, feature `recovery`): the same socket id and rooms, and the events
        /// missed meanwhile were delivered just before this event, in order. Always
        /// `false` without the feature.
        recovered: bool,
    },
    /// The server refused a namespace (`CONNECT_ERROR`). It stays unjoined until
    /// [`Client::connect`] asks again.
    ConnectError {
        /// The namespace.
        namespace: NamespaceId,
        /// The error's `message`.
        message: &'b str,
        /// The error's `data`, raw JSON, if any.
        data: Option<&'b [u8]>,
    },
    /// An event from the server.
    Message(Message<'b>),
    /// The server answered [`Client::emit_with_ack`].
    Ack {
        /// The namespace.
        namespace: NamespaceId,
        /// The id `emit_with_ack` returned.
        id: AckId,
        /// The reply arguments, raw JSON, comma separated.
        args: &'b [u8],
        /// Their blobs.
        attachments: Attachments<'b>,
    },
    /// An acknowledgement will not come; a late one is ignored.
    AckFailed {
        /// The namespace.
        namespace: NamespaceId,
        /// The id `emit_with_ack` returned.
        id: AckId,
        /// Why.
        reason: AckFailure,
    },
    /// A namespace was left.
    Disconnect {
        /// The namespace.
        namespace: NamespaceId,
        /// Why.
        reason: DisconnectReason,
    },
    /// The session moved from polling to WebSocket.
    Upgrade,
    /// The Engine.IO session (or an attempt to open one) ended.
    Closed {
        /// Why.
        reason: CloseReason,
    },
    /// Attempt `attempt` starts after `delay_ms`.
    Reconnecting {
        /// 1 for the first retry.
        attempt: u32,
        /// The backoff delay.
        delay_ms: u64,
    },
    /// The client gave up after this many failed attempts; call [`Client::start`] to try
    /// again.
    ReconnectFailed {
        /// Attempts made.
        attempts: u32,
    },
}

/// A command the client refused; nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    /// The namespace table (`NS`) is full.
    TooManyNamespaces,
    /// The namespace name must start with `/` and have no `,` or control characters.
    InvalidNamespace,
    /// The namespace's name and auth do not fit [`ClientConfig::namespace_capacity`].
    NamespaceSpace,
    /// The namespace was already asked for.
    NamespaceInUse,
    /// The id is not a namespace the application asked for.
    UnknownNamespace,
    /// The auth payload must be a JSON object.
    InvalidAuth,
    /// The arguments are not a valid JSON list.
    InvalidJson(JsonError),
    /// The placeholders in the arguments do not match the blobs.
    AttachmentMismatch,
    /// The name is reserved (`connect`, `disconnect`, ...).
    ReservedName,
    /// The packet does not fit the outbox now; `required` bytes are needed in all.
    OutboxFull {
        /// Bytes the packet needs in the outbox.
        required: usize,
    },
    /// The ack table (`ACKS`) is full.
    TooManyAcks,
    /// The acknowledgement is for another session or was already sent.
    StaleAck,
    /// The client is closed (after [`Client::close`]); [`Client::start`] opens it again.
    Closed,
    /// The bytes are not a state [`Client::recovery_state`] gives.
    #[cfg(feature = "recovery")]
    InvalidRecoveryState,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyNamespaces => f.write_str("namespace table full"),
            Self::InvalidNamespace => f.write_str("invalid namespace name"),
            Self::NamespaceSpace => f.write_str("namespace text space full"),
            Self::NamespaceInUse => f.write_str("namespace already joined or joining"),
            Self::UnknownNamespace => f.write_str("unknown namespace"),
            Self::InvalidAuth => f.write_str("auth must be a JSON object"),
            Self::InvalidJson(e) => write!(f, "invalid JSON arguments: {e}"),
            Self::AttachmentMismatch => f.write_str("placeholders do not match the blobs"),
            Self::ReservedName => f.write_str("reserved event name"),
            Self::OutboxFull { required } => write!(f, "outbox full ({required} bytes needed)"),
            Self::TooManyAcks => f.write_str("ack table full"),
            Self::StaleAck => f.write_str("acknowledgement is stale"),
            Self::Closed => f.write_str("client closed"),
            #[cfg(feature = "recovery")]
            Self::InvalidRecoveryState => f.write_str("invalid recovery state"),
        }
    }
}

impl core::error::Error for CommandError {}

/// Where the client is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not started, or given up, or closed.
    Idle,
    /// Opening a session (deadline: the connect timeout).
    Opening,
    /// A session is open (deadline: the ping timeout).
    Open,
    /// Waiting to reconnect until the deadline.
    Backoff,
}

/// Where the application's close of an open session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closing {
    /// Not closing.
    No,
    /// The close packet is owed (the application called `close`).
    Owed,
    /// The close packet was written into the current `Send`.
    Written,
    /// The close packet went out in a POST; the streams close when it is answered.
    Sent,
}

/// The upgrade of a polling session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upgrade {
    /// Not started (or not offered).
    None,
    /// The WebSocket is connecting or handshaking; `2probe` follows.
    Probing,
    /// `2probe` sent; waiting for `3probe`.
    ProbeSent,
    /// `3probe` received: no new polling requests; `5` goes when they are all done.
    Paused,
    /// On WebSocket.
    Done,
    /// Failed for this session: stay on polling.
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tcp {
    Down,
    Opening,
    Up,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    tcp: Tcp,
    /// `Io::Close` is due.
    close: bool,
    /// A request is out and its response not finished (polling streams).
    busy: bool,
    /// The server closed it; handled once its buffered bytes are processed.
    eof: bool,
    idle_since: Instant,
}

impl Slot {
    const DOWN: Self = Self {
        tcp: Tcp::Down,
        close: false,
        busy: false,
        eof: false,
        idle_since: Instant::ZERO,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NsState {
    Free,
    /// CONNECT to send (when `due`) or sent; waiting for the answer.
    Joining,
    Connected,
    /// Refused or kicked: not joined again until `connect`.
    Parked,
}

#[derive(Debug, Clone, Copy)]
struct Ns {
    state: NsState,
    /// The CONNECT packet still has to be sent in this session.
    due: bool,
    /// A `Disconnect` event to report.
    notice: Option<DisconnectReason>,
    /// The application left it: free the slot once its notices are read.
    release: bool,
    /// `names[off..off + len]`: the CONNECT packet, `40/chat,{"token":"x"}`.
    off: u16,
    len: u16,
}

impl Ns {
    const FREE: Self = Self {
        state: NsState::Free,
        due: false,
        notice: None,
        release: false,
        off: 0,
        len: 0,
    };
}

#[derive(Debug, Clone, Copy)]
struct AckSlot {
    /// 0 when free; else the id + 1.
    id: u64,
    ns: u8,
    deadline: Instant,
    /// The EVENT left the outbox.
    sent: bool,
    failed: Option<AckFailure>,
}

impl AckSlot {
    const FREE: Self = Self {
        id: 0,
        ns: 0,
        deadline: Instant::ZERO,
        sent: false,
        failed: None,
    };
}

/// Notices reported in order by `poll_event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice {
    Upgrade,
    Closed(CloseReason),
    Reconnecting(u32, u64),
    ReconnectFailed(u32),
}

/// A receive buffer with `len` bytes in it.
#[derive(Debug)]
struct Rx<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Rx<'_> {
    fn spare(&mut self) -> &mut [u8] {
        self.buf.get_mut(self.len..).unwrap_or_default()
    }
}

/// The WebSocket receive side: the handshake response, then frames.
#[derive(Debug)]
enum WsRx<'a> {
    Head(Rx<'a>),
    Frames(MessageDecoder<&'a mut [u8]>),
}

impl<'a> WsRx<'a> {
    /// Takes it out, leaving an empty head reader in its place.
    fn take(&mut self) -> Self {
        core::mem::replace(
            self,
            Self::Head(Rx {
                buf: &mut [],
                len: 0,
            }),
        )
    }

    fn into_buf(self) -> &'a mut [u8] {
        match self {
            Self::Head(rx) => rx.buf,
            Self::Frames(d) => d.into_inner(),
        }
    }
}

/// A binary packet being reassembled: its text at `buf[..text]`, then for each blob a
/// 4-byte little-endian length and the bytes, up to `len`.
#[derive(Debug)]
struct Asm<'a> {
    buf: &'a mut [u8],
    text: usize,
    len: usize,
    /// Blobs still expected.
    left: usize,
    /// Blobs received.
    count: usize,
    /// Whole and waiting to be delivered.
    ready: bool,
}

/// A sans-IO Socket.IO client; see the [module docs](self).
///
/// `NS` bounds the namespaces joined at once, `ACKS` the acknowledgements awaited at once.
/// `POLLING` (on by default) compiles the long-polling transport in; [`WsClient`] is the
/// client without it, WebSocket only, for the smallest flash image.
pub struct Client<'a, const NS: usize = 4, const ACKS: usize = 16, const POLLING: bool = true> {
    cfg: ClientConfig<'a>,
    rng: Rng,
    now: Instant,
    phase: Phase,
    /// Deadline of the phase: connect timeout, ping timeout, or end of the backoff.
    deadline: Instant,
    /// Failed attempts in a row.
    failures: u32,
    sid: [u8; SID_MAX],
    sid_len: usize,
    ping_interval: u32,
    ping_timeout: u32,
    max_payload: u32,
    /// The session's packets go over the WebSocket.
    on_ws: bool,
    upgrade: Upgrade,
    /// Pongs owed to the server (a v3 client: pings due).
    pongs: u8,
    /// A v3 client's next ping ([`Instant::MAX`] while one waits for its pong).
    #[cfg(feature = "eio3")]
    ping_at: Instant,
    closing: Closing,
    /// Payload of a WebSocket ping to answer.
    ws_ping: [u8; 125],
    ws_ping_len: Option<u8>,
    /// The WebSocket handshake request is due on the connected stream.
    ws_request: bool,
    key: ClientKey,
    slots: [Slot; 3],
    ws: WsRx<'a>,
    get: Rx<'a>,
    post: Rx<'a>,
    /// The GET body being processed: `(next record, end)` in `get.buf`.
    body: Option<(usize, usize)>,
    asm: Asm<'a>,
    outbox: Outbox<'a>,
    names: &'a mut [u8],
    names_len: usize,
    nss: [Ns; NS],
    /// Each namespace's session to resume.
    #[cfg(feature = "recovery")]
    resume: [recovery::Resume; NS],
    acks: [AckSlot; ACKS],
    next_ack: u64,
    notices: [Option<Notice>; NOTICES],
    /// Counts session resets, so a packet handler can tell its session is gone.
    epoch: u32,
    /// Counts WebSocket resets, likewise for the WebSocket.
    ws_epoch: u32,
}

/// A WebSocket-only [`Client`]: the polling transport is not compiled in, which is what a
/// microcontroller build wants (see BENCHMARKS.md for the flash it takes).
pub type WsClient<'a, const NS: usize = 4, const ACKS: usize = 16> = Client<'a, NS, ACKS, false>;

impl<const NS: usize, const ACKS: usize, const POLLING: bool> fmt::Debug
    for Client<'_, NS, ACKS, POLLING>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("phase", &self.phase)
            .field("on_ws", &self.on_ws)
            .field("upgrade", &self.upgrade)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

/// Splits `n` bytes off the front of `arena`.
fn carve<'a>(arena: &mut &'a mut [u8], n: usize) -> &'a mut [u8] {
    let (head, tail) = core::mem::take(arena).split_at_mut(n);
    *arena = tail;
    head
}

impl<'a, const NS: usize, const ACKS: usize, const POLLING: bool> Client<'a, NS, ACKS, POLLING> {
    /// A client for `config`, its buffers carved from `arena` (at least
    /// [`ClientConfig::arena_len`] bytes), ids and masks drawn from a keystream of `seed`
    /// (seed it from a real entropy source: WebSocket masks must be unpredictable).
    ///
    /// # Errors
    /// A [`ConfigError`] for an invalid configuration or a short arena.
    pub fn new(
        config: ClientConfig<'a>,
        arena: &'a mut [u8],
        seed: [u8; 32],
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        if !POLLING && config.transports != Transports::WebSocket {
            return Err(ConfigError::PollingNotCompiled);
        }
        if config.parser == Parser::MsgPack && !MSGPACK {
            return Err(ConfigError::MsgPackNotCompiled);
        }
        if config.eio3 && !EIO3 {
            return Err(ConfigError::Eio3NotCompiled);
        }
        if MSGPACK && config.parser == Parser::MsgPack && config.eio3 {
            return Err(ConfigError::MsgPackWithEio3);
        }
        // Table indices travel as `u8`, with 255 meaning "none".
        const {
            assert!(
                NS < 256 && ACKS < 256,
                "at most 255 namespaces and 255 acks"
            );
        }
        let need = config.arena_len();
        if arena.len() < need {
            return Err(ConfigError::ArenaTooSmall(need));
        }
        let mut arena = arena;
        let rx = config.rx_capacity;
        let ws = carve(
            &mut arena,
            if config.transports.websocket() { rx } else { 0 },
        );
        let (get_len, post_len) = if config.transports.polling() {
            (rx, config::POST_RX)
        } else {
            (0, 0)
        };
        let get = carve(&mut arena, get_len);
        let post = carve(&mut arena, post_len);
        let outbox = carve(&mut arena, config.outbox_capacity);
        let asm = carve(&mut arena, config.binary_capacity);
        let names = carve(&mut arena, config.namespace_capacity);
        let mut rng = Rng::new(seed);
        let mut k = [0u8; 16];
        rng.fill(&mut k);
        Ok(Self {
            cfg: config,
            rng,
            now: Instant::ZERO,
            phase: Phase::Idle,
            deadline: Instant::ZERO,
            failures: 0,
            sid: [0; SID_MAX],
            sid_len: 0,
            ping_interval: 25_000,
            ping_timeout: 20_000,
            max_payload: 1_000_000,
            on_ws: false,
            upgrade: Upgrade::None,
            pongs: 0,
            #[cfg(feature = "eio3")]
            ping_at: Instant::ZERO,
            closing: Closing::No,
            ws_ping: [0; 125],
            ws_ping_len: None,
            ws_request: false,
            key: ClientKey::from_random(k),
            slots: [Slot::DOWN; 3],
            ws: WsRx::Head(Rx { buf: ws, len: 0 }),
            get: Rx { buf: get, len: 0 },
            post: Rx { buf: post, len: 0 },
            body: None,
            asm: Asm {
                buf: asm,
                text: 0,
                len: 0,
                left: 0,
                count: 0,
                ready: false,
            },
            outbox: Outbox::new(outbox),
            names,
            names_len: 0,
            nss: [Ns::FREE; NS],
            #[cfg(feature = "recovery")]
            resume: [recovery::Resume::NONE; NS],
            acks: [AckSlot::FREE; ACKS],
            next_ack: 0,
            notices: [None; NOTICES],
            epoch: 0,
            ws_epoch: 0,
        })
    }

    /// The configuration.
    pub const fn config(&self) -> &ClientConfig<'a> {
        &self.cfg
    }

    /// Whether an Engine.IO session is open.
    pub fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// Whether the session runs over the WebSocket.
    pub const fn is_websocket(&self) -> bool {
        self.on_ws && matches!(self.phase, Phase::Open)
    }

    /// The Engine.IO session id while a session is open.
    pub fn session_id(&self) -> Option<&str> {
        if self.phase != Phase::Open {
            return None;
        }
        core::str::from_utf8(self.sid.get(..self.sid_len)?).ok()
    }

    /// Whether the namespace is joined.
    pub fn is_connected(&self, ns: NamespaceId) -> bool {
        self.nss
            .get(ns.index())
            .is_some_and(|n| n.state == NsState::Connected)
    }

    /// The name of a namespace the application asked for.
    pub fn namespace_name(&self, ns: NamespaceId) -> Option<&str> {
        let n = self
            .nss
            .get(ns.index())
            .filter(|n| n.state != NsState::Free && !n.release)?;
        Some(ns_name(self.ns_packet(n)))
    }

    /// Starts the first attempt now (or a new one after giving up or closing); does
    /// nothing while a session is open or being opened.
    pub fn start(&mut self, now: Instant) {
        self.tick(now);
        if matches!(self.phase, Phase::Open | Phase::Opening) {
            return;
        }
        self.failures = 0;
        self.begin_attempt();
    }

    /// Asks to join namespace `name` (`/`, `/chat`) with an optional auth object (raw
    /// JSON, the JavaScript `auth` option); the answer is [`Event::Connect`] or
    /// [`Event::ConnectError`]. The request (and the auth) is sent again after each
    /// reconnection. Asking again for a namespace that was refused or kicked retries it.
    ///
    /// # Errors
    /// A [`CommandError`] for a bad name or auth, or full tables.
    pub fn connect(
        &mut self,
        name: &str,
        auth: Option<&[u8]>,
    ) -> Result<NamespaceId, CommandError> {
        if !name.starts_with('/')
            || name.len() > 255
            || name.bytes().any(|b| b == b',' || b < b' ' || b == 0x7f)
        {
            return Err(CommandError::InvalidNamespace);
        }
        if let Some(a) = auth {
            let kind = crate::json::Limits::DEFAULT
                .validate(a)
                .map_err(|_| CommandError::InvalidAuth)?;
            if kind != crate::json::Kind::Object {
                return Err(CommandError::InvalidAuth);
            }
            // Protocol v4 sends it as a query: flat values only.
            #[cfg(feature = "eio3")]
            if self.v3() && !v3::flat_object(a) {
                return Err(CommandError::InvalidAuth);
            }
        }
        // Kept without the whitespace around it, and `{}` as none (the server sees `{}`
        // either way): a session to resume is merged in before its last `}`.
        #[cfg(feature = "recovery")]
        let auth = auth
            .map(crate::json::trim_ws)
            .filter(|a| !crate::json::Object::from_validated(a).is_empty());
        // With the msgpack parser the CONNECT goes as `MessagePack`, put together in room
        // the size of the namespace area (see `ClientConfig::parser`).
        #[cfg(feature = "msgpack-parser")]
        if self.msgpack() && msgpack::connect_len(name, auth) > self.cfg.namespace_capacity {
            return Err(CommandError::NamespaceSpace);
        }
        if let Some(i) = self.find_ns(name) {
            let n = &mut self.nss[i];
            if n.state != NsState::Parked {
                return Err(CommandError::NamespaceInUse);
            }
            // The auth may differ: write the packet again.
            self.free_ns_text(i);
            self.store_ns_text(i, name, auth)?;
            self.join(i);
            return Ok(NamespaceId(i as u8));
        }
        let i = self
            .nss
            .iter()
            .position(|n| n.state == NsState::Free)
            .ok_or(CommandError::TooManyNamespaces)?;
        self.store_ns_text(i, name, auth)?;
        self.join(i);
        Ok(NamespaceId(i as u8))
    }

    /// Leaves a namespace: sends DISCONNECT if it is joined, drops its waiting emits, and
    /// reports [`Event::Disconnect`] (and an [`Event::AckFailed`] for each
    /// acknowledgement still awaited on it). The id is then free for reuse.
    ///
    /// # Errors
    /// [`CommandError::UnknownNamespace`]; [`CommandError::OutboxFull`] when the
    /// DISCONNECT packet does not fit (nothing changed).
    pub fn disconnect(&mut self, ns: NamespaceId) -> Result<(), CommandError> {
        let i = self.ns_index(ns)?;
        if self.nss[i].state == NsState::Connected && self.phase == Phase::Open {
            let mut pkt = [0u8; DISCONNECT_MAX];
            let name = ns_name(self.ns_packet(&self.nss[i]));
            // The msgpack parser's map, its length; else the text packet.
            #[cfg(feature = "msgpack-parser")]
            let binary = if self.msgpack() {
                Some(
                    msgpack::disconnect_packet(name, &mut pkt)
                        .ok_or(CommandError::InvalidNamespace)?,
                )
            } else {
                None
            };
            #[cfg(not(feature = "msgpack-parser"))]
            let binary: Option<usize> = None;
            // `pkt[..=n]` is the packet.
            let (kind, n) = match binary {
                Some(len) => (outbox::BINARY, len - 1),
                None => {
                    pkt[0] = b'4';
                    let n = crate::sio::encode_disconnect(&mut pkt[1..], name)
                        .map_err(|_| CommandError::InvalidNamespace)?;
                    (outbox::TEXT, n)
                }
            };
            self.outbox.remove_ns(i as u8);
            if !self.outbox.push(kind, SESSION_NS, NO_ACK, &pkt[..=n]) {
                return Err(CommandError::OutboxFull {
                    required: outbox::HDR + n + 1,
                });
            }
        } else {
            self.outbox.remove_ns(i as u8);
        }
        self.leave(i, DisconnectReason::ClientDisconnect, true);
        Ok(())
    }

    /// Ends the session: leaves every namespace ([`Event::Disconnect`] with
    /// [`DisconnectReason::ClientDisconnect`]), sends the close packet, closes the streams
    /// and reports [`Event::Closed`] with [`CloseReason::ClientClose`]. No reconnection
    /// follows; emits still waiting are dropped, and every awaited acknowledgement gets
    /// [`Event::AckFailed`]. [`Client::start`] opens a new session.
    pub fn close(&mut self, now: Instant) {
        self.tick(now);
        for i in 0..NS {
            if self.nss[i].state != NsState::Free {
                self.outbox.remove_ns(i as u8);
                self.leave(i, DisconnectReason::ClientDisconnect, false);
            }
        }
        self.outbox.remove_ns(SESSION_NS);
        // Emits still waiting were dropped with the outbox: their acks will not come.
        for a in &mut self.acks {
            if a.id != 0 && a.failed.is_none() {
                a.failed = Some(AckFailure::Disconnected);
            }
        }
        if self.phase == Phase::Open {
            // The close packet goes with the next write; if it cannot go out soon, the
            // streams close anyway.
            if self.closing == Closing::No {
                self.closing = Closing::Owed;
            }
            self.deadline = self.deadline.min(self.now.plus_millis(CLOSE_WAIT_MS));
        } else {
            self.finish_close();
        }
    }

    /// Emits event `name` with `args` on a namespace. While the namespace is not joined
    /// (or the client is reconnecting) the packet waits in the outbox and goes out once it
    /// is joined.
    ///
    /// # Errors
    /// A [`CommandError`]; nothing was queued.
    pub fn emit(
        &mut self,
        ns: NamespaceId,
        name: &str,
        args: Args<'_>,
    ) -> Result<(), CommandError> {
        self.queue_event(ns, name, args, None)
    }

    /// Emits like [`Client::emit`] unless the namespace is not joined right now, in which
    /// case the packet is dropped (the JavaScript `volatile` flag); `Ok(false)` says it
    /// was dropped.
    ///
    /// # Errors
    /// As [`Client::emit`].
    pub fn emit_volatile(
        &mut self,
        ns: NamespaceId,
        name: &str,
        args: Args<'_>,
    ) -> Result<bool, CommandError> {
        self.ns_index(ns)?;
        if !(self.is_connected(ns) && self.phase == Phase::Open) {
            check_args(&args)?;
            check_name(name)?;
            return Ok(false);
        }
        self.queue_event(ns, name, args, None).map(|()| true)
    }

    /// Emits and asks for an acknowledgement: [`Event::Ack`] with the returned id, or
    /// [`Event::AckFailed`] when `timeout_ms` passes first (counted from now) or the
    /// namespace is left after the packet went out.
    ///
    /// # Errors
    /// As [`Client::emit`], and [`CommandError::TooManyAcks`].
    pub fn emit_with_ack(
        &mut self,
        ns: NamespaceId,
        name: &str,
        args: Args<'_>,
        timeout_ms: u64,
        now: Instant,
    ) -> Result<AckId, CommandError> {
        self.tick(now);
        let slot = self
            .acks
            .iter()
            .position(|a| a.id == 0)
            .ok_or(CommandError::TooManyAcks)?;
        let id = self.next_ack;
        self.queue_event(ns, name, args, Some((id, slot as u8)))?;
        // Ids wrap within the protocol's range (no 64-bit division on small targets).
        self.next_ack = if id + 1 > crate::sio::MAX_ACK_ID {
            0
        } else {
            id + 1
        };
        self.acks[slot] = AckSlot {
            id: id + 1,
            ns: ns.0,
            deadline: self.now.plus_millis(timeout_ms),
            sent: false,
            failed: None,
        };
        Ok(AckId(id))
    }

    /// Answers an event that asked for an acknowledgement ([`Message::ack`]).
    ///
    /// # Errors
    /// A [`CommandError`]; [`CommandError::StaleAck`] when the namespace is not joined
    /// (the session that asked is gone).
    pub fn ack(&mut self, ns: NamespaceId, id: AckId, args: Args<'_>) -> Result<(), CommandError> {
        self.ns_index(ns)?;
        if !self.is_connected(ns) {
            return Err(CommandError::StaleAck);
        }
        check_args(&args)?;
        self.encode_packet(ns.0, None, Some(id.0), args, NO_ACK)
    }

    /// The next deadline: call [`Client::handle_timeout`] then.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = match self.phase {
            Phase::Idle => None,
            _ => Some(self.deadline),
        };
        #[cfg(feature = "eio3")]
        if self.v3() && self.phase == Phase::Open {
            t = t.map(|t| t.min(self.ping_at));
        }
        for a in &self.acks {
            if a.id != 0 && a.failed.is_none() {
                t = Some(t.map_or(a.deadline, |t| t.min(a.deadline)));
            }
        }
        t
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        for a in &mut self.acks {
            if a.id != 0 && a.failed.is_none() && a.deadline <= self.now {
                a.failed = Some(AckFailure::Timeout);
            }
        }
        // A v3 client pings; its pong must come within the ping timeout.
        #[cfg(feature = "eio3")]
        if self.v3() && self.phase == Phase::Open && self.ping_at <= self.now {
            self.pongs = self.pongs.saturating_add(1);
            self.ping_at = Instant::MAX;
            self.deadline = self
                .deadline
                .min(self.now.plus_millis(u64::from(self.ping_timeout)));
        }
        if self.deadline > self.now {
            return;
        }
        match self.phase {
            Phase::Idle => {}
            Phase::Opening => self.lose(CloseReason::ConnectTimeout),
            Phase::Open if self.closing != Closing::No => self.finish_close(),
            Phase::Open => self.lose(CloseReason::PingTimeout),
            Phase::Backoff => {
                // Start only once the last attempt's notices were read, so they never
                // pile up.
                if self.notices.iter().all(Option::is_none) {
                    self.begin_attempt();
                } else {
                    self.deadline = self.now.plus_millis(1);
                }
            }
        }
    }

    // ----- internals shared by the submodules -----

    fn tick(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// Whether the client speaks Engine.IO v3 (a constant `false` without the feature).
    #[inline]
    const fn v3(&self) -> bool {
        EIO3 && self.cfg.eio3
    }

    /// Whether the client speaks the msgpack parser (a constant `false` without the
    /// feature).
    #[inline]
    const fn msgpack(&self) -> bool {
        MSGPACK && matches!(self.cfg.parser, Parser::MsgPack)
    }

    fn ns_index(&self, ns: NamespaceId) -> Result<usize, CommandError> {
        match self.nss.get(ns.index()) {
            Some(n) if n.state != NsState::Free && !n.release => Ok(ns.index()),
            _ => Err(CommandError::UnknownNamespace),
        }
    }

    fn ns_packet(&self, n: &Ns) -> &[u8] {
        packet_of(self.names, n)
    }

    fn find_ns(&self, name: &str) -> Option<usize> {
        self.nss.iter().position(|n| {
            n.state != NsState::Free && !n.release && ns_name(self.ns_packet(n)) == name
        })
    }

    /// Writes the CONNECT packet of namespace `i` into the names area.
    fn store_ns_text(
        &mut self,
        i: usize,
        name: &str,
        auth: Option<&[u8]>,
    ) -> Result<(), CommandError> {
        let at = self.names_len;
        let dst = self.names.get_mut(at..).unwrap_or_default();
        let (first, rest) = dst.split_first_mut().ok_or(CommandError::NamespaceSpace)?;
        *first = b'4';
        let n = crate::sio::encode_connect(rest, name, auth)
            .map_err(|_| CommandError::NamespaceSpace)?
            + 1;
        let (Ok(off), Ok(len)) = (u16::try_from(at), u16::try_from(n)) else {
            return Err(CommandError::NamespaceSpace);
        };
        self.names_len = at + n;
        self.nss[i] = Ns {
            state: NsState::Parked,
            due: false,
            notice: self.nss[i].notice,
            release: false,
            off,
            len,
        };
        Ok(())
    }

    /// Removes namespace `i`'s packet from the names area, moving later ones down.
    fn free_ns_text(&mut self, i: usize) {
        let (off, len) = (usize::from(self.nss[i].off), usize::from(self.nss[i].len));
        if len == 0 {
            return;
        }
        self.names.copy_within(off + len..self.names_len, off);
        self.names_len -= len;
        for n in &mut self.nss {
            if usize::from(n.off) > off {
                n.off -= len as u16;
            }
        }
        self.nss[i].len = 0;
    }

    /// Marks namespace `i` for joining in the current (or next) session.
    fn join(&mut self, i: usize) {
        let n = &mut self.nss[i];
        n.state = NsState::Joining;
        n.due = true;
    }

    /// Leaves namespace `i` for `reason`: fails its sent acks (all of them when `free`),
    /// reports the disconnect when it was joined, and frees the slot when `free` (once the
    /// notice is read).
    fn leave(&mut self, i: usize, reason: DisconnectReason, free: bool) {
        let was = self.nss[i].state;
        for a in &mut self.acks {
            if a.id != 0 && usize::from(a.ns) == i && a.failed.is_none() && (a.sent || free) {
                // Its slot (and the outbox's mention of it) goes once it is reported.
                a.failed = Some(AckFailure::Disconnected);
            }
        }
        if was == NsState::Connected {
            self.nss[i].notice = Some(reason);
        }
        // Left on purpose: the server dropped the session too (socket.io keeps one only
        // after a transport close, a transport error or a ping timeout).
        #[cfg(feature = "recovery")]
        if !matches!(reason, DisconnectReason::Session(_)) {
            self.resume[i].clear();
        }
        let n = &mut self.nss[i];
        n.due = false;
        n.state = match reason {
            DisconnectReason::Session(_) => NsState::Joining,
            _ => NsState::Parked,
        };
        if free {
            self.free_ns_text(i);
            self.nss[i].release = true;
            self.release_if_done(i);
        }
    }

    /// Frees namespace slot `i` once the application left it and nothing about it is
    /// left to report (its disconnect, its failed acks).
    fn release_if_done(&mut self, i: usize) {
        let acks = self
            .acks
            .iter()
            .any(|a| a.id != 0 && usize::from(a.ns) == i);
        if let Some(n) = self.nss.get_mut(i)
            && n.release
            && n.notice.is_none()
            && !acks
        {
            *n = Ns::FREE;
        }
    }

    fn push_notice(&mut self, n: Notice) {
        if let Some(slot) = self.notices.iter_mut().find(|s| s.is_none()) {
            *slot = Some(n);
        } else if let Some(last) = self.notices.last_mut() {
            // Only reachable when the application never reads events; keep the newest.
            *last = Some(n);
        }
    }

    /// Begins an attempt to open a session.
    fn begin_attempt(&mut self) {
        self.reset_session();
        self.phase = Phase::Opening;
        self.deadline = self.now.plus_millis(u64::from(self.cfg.connect_timeout_ms));
        for n in &mut self.nss {
            if n.state == NsState::Joining {
                n.due = true;
            }
        }
    }

    /// Forgets the session's transport state (not the namespaces or the outbox).
    fn reset_session(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        self.on_ws = !self.cfg.transports.polling();
        self.upgrade = Upgrade::None;
        self.pongs = 0;
        self.closing = Closing::No;
        self.sid_len = 0;
        self.body = None;
        self.get.len = 0;
        self.post.len = 0;
        self.asm.len = 0;
        self.asm.left = 0;
        self.asm.ready = false;
        self.reset_ws();
        let mut k = [0u8; 16];
        self.rng.fill(&mut k);
        self.key = ClientKey::from_random(k);
    }

    fn reset_ws(&mut self) {
        self.ws_epoch = self.ws_epoch.wrapping_add(1);
        self.ws = WsRx::Head(Rx {
            buf: self.ws.take().into_buf(),
            len: 0,
        });
        self.ws_request = false;
        self.ws_ping_len = None;
    }

    /// Asks the driver to close stream `i` if it is connected or connecting.
    fn drop_stream(&mut self, i: usize) {
        let s = &mut self.slots[i];
        if s.tcp != Tcp::Down {
            s.close = true;
        }
        s.busy = false;
        s.eof = false;
        match Stream::from_index(i) {
            Stream::Poll => {
                self.get.len = 0;
                self.body = None;
            }
            Stream::Post => self.post.len = 0,
            Stream::WebSocket => self.reset_ws(),
        }
    }

    /// The session (or attempt) ended for `reason`: close the streams, report, and
    /// schedule the next attempt.
    fn lose(&mut self, reason: CloseReason) {
        if !matches!(self.phase, Phase::Open | Phase::Opening) {
            return;
        }
        if self.closing != Closing::No {
            // Closing anyway: no reconnection.
            self.finish_close();
            return;
        }
        let was_open = self.phase == Phase::Open;
        for i in 0..3 {
            self.drop_stream(i);
        }
        self.outbox.remove_ns(SESSION_NS);
        for i in 0..NS {
            if matches!(self.nss[i].state, NsState::Connected | NsState::Joining) {
                self.leave(i, DisconnectReason::Session(reason), false);
            }
        }
        self.reset_session();
        self.push_notice(Notice::Closed(reason));
        if was_open {
            self.failures = 0;
        }
        self.failures = self.failures.saturating_add(1);
        let policy = self.cfg.reconnection;
        if !policy.enabled {
            self.phase = Phase::Idle;
            return;
        }
        if self.failures > policy.attempts {
            self.push_notice(Notice::ReconnectFailed(self.failures - 1));
            self.phase = Phase::Idle;
            return;
        }
        let r = self.rng.next_u64();
        let delay = policy.delay(self.failures, r as u32, (r >> 32) & 1 == 1);
        self.push_notice(Notice::Reconnecting(self.failures, delay));
        self.phase = Phase::Backoff;
        self.deadline = self.now.plus_millis(delay);
    }

    /// The close packet went out: close every stream and report.
    fn finish_close(&mut self) {
        let active = matches!(self.phase, Phase::Open | Phase::Opening | Phase::Backoff);
        for i in 0..3 {
            self.drop_stream(i);
        }
        self.reset_session();
        self.phase = Phase::Idle;
        if active {
            self.push_notice(Notice::Closed(CloseReason::ClientClose));
        }
    }

    /// Encodes an EVENT/ACK packet and its blobs into the outbox as one unit.
    fn encode_packet(
        &mut self,
        ns: u8,
        name: Option<&str>,
        ack: Option<u64>,
        args: Args<'_>,
        ack_slot: u8,
    ) -> Result<(), CommandError> {
        let count = args.blob_count();
        let blobs: usize = args.blob_iter().map(|b| b.len() + outbox::HDR).sum();
        let ns_name = self
            .nss
            .get(usize::from(ns))
            .map_or("/", |n| ns_name(packet_of(self.names, n)));
        #[cfg(feature = "msgpack-parser")]
        if self.msgpack() {
            let tag = if ack.is_some() && name.is_none() {
                SESSION_NS
            } else {
                ns
            };
            return msgpack::encode_packet(
                &mut self.outbox,
                ns_name,
                name,
                ack,
                &args,
                tag,
                ack_slot,
            );
        }
        let free = self.outbox.free();
        let tail = self.outbox.tail();
        let room = tail.len().saturating_sub(blobs + outbox::HDR + 1);
        let dst = tail
            .get_mut(outbox::HDR..outbox::HDR + 1 + room)
            .unwrap_or_default();
        let (first, rest) = dst
            .split_first_mut()
            .ok_or(CommandError::OutboxFull { required: free + 1 })?;
        *first = b'4';
        let r = match (name, count) {
            (Some(name), 0) => crate::sio::encode_event(rest, ns_name, ack, name, args.json),
            (Some(name), c) => {
                crate::sio::encode_binary_event(rest, ns_name, ack, name, args.json, c)
            }
            (None, 0) => crate::sio::encode_ack(rest, ns_name, ack.unwrap_or(0), args.json),
            (None, c) => {
                crate::sio::encode_binary_ack(rest, ns_name, ack.unwrap_or(0), args.json, c)
            }
        };
        let n = match r {
            Ok(n) => n + 1,
            Err(crate::sio::EncodeError::BufferTooSmall(e)) => {
                return Err(CommandError::OutboxFull {
                    required: e.required + 1 + blobs + outbox::HDR,
                });
            }
            Err(_) => return Err(CommandError::InvalidNamespace),
        };
        let tag = if ack.is_some() && name.is_none() {
            SESSION_NS
        } else {
            ns
        };
        self.outbox.commit(outbox::TEXT, tag, ack_slot, n);
        for b in args.blob_iter() {
            // Room for every blob was kept above.
            let pushed = self.outbox.push(outbox::BINARY, tag, NO_ACK, b);
            debug_assert!(pushed);
        }
        Ok(())
    }

    fn queue_event(
        &mut self,
        ns: NamespaceId,
        name: &str,
        args: Args<'_>,
        ack: Option<(u64, u8)>,
    ) -> Result<(), CommandError> {
        self.ns_index(ns)?;
        check_name(name)?;
        check_args(&args)?;
        let (id, slot) = match ack {
            Some((id, slot)) => (Some(id), slot),
            None => (None, NO_ACK),
        };
        self.encode_packet(ns.0, Some(name), id, args, slot)
    }
}

/// Whether Engine.IO v3 is compiled in (feature `eio3`).
const EIO3: bool = cfg!(feature = "eio3");

/// Whether the msgpack parser is compiled in (feature `msgpack-parser`).
const MSGPACK: bool = cfg!(feature = "msgpack-parser");

/// Room for a DISCONNECT packet: `41/…,` or, with the msgpack parser, its map (a name
/// of up to 255 bytes in either).
const DISCONNECT_MAX: usize = if MSGPACK { 16 + 256 } else { 4 + 256 };

/// Outbox tag of packets that belong to the session (acks), not to a namespace's wait.
const SESSION_NS: u8 = u8::MAX;

/// Namespace `n`'s CONNECT packet in the names area.
fn packet_of<'n>(names: &'n [u8], n: &Ns) -> &'n [u8] {
    let off = usize::from(n.off);
    names.get(off..off + usize::from(n.len)).unwrap_or_default()
}

/// The namespace name inside a stored CONNECT packet (`40/chat,{…}` → `/chat`).
fn ns_name(pkt: &[u8]) -> &str {
    let rest = pkt.get(2..).unwrap_or_default();
    if rest.first() != Some(&b'/') {
        return "/";
    }
    let end = rest.iter().position(|&b| b == b',').unwrap_or(rest.len());
    core::str::from_utf8(rest.get(..end).unwrap_or_default()).unwrap_or("/")
}

fn check_name(name: &str) -> Result<(), CommandError> {
    if crate::sio::RESERVED_EVENT_NAMES.contains(&name) {
        Err(CommandError::ReservedName)
    } else {
        Ok(())
    }
}

fn check_args(args: &Args<'_>) -> Result<(), CommandError> {
    crate::sio::check_args(args).map_err(|e| match e {
        crate::sio::ArgsError::InvalidJson(j) => CommandError::InvalidJson(j),
        crate::sio::ArgsError::AttachmentMismatch { .. } => CommandError::AttachmentMismatch,
    })
}
