//! What the server tells the application, and the bounded queue those events wait in.

use core::fmt;

use super::storage::Slots;
use super::{NamespaceId, SessionId, SocketId, StreamId};
use crate::http::Method;
use crate::sio::{AckId, Attachments};

/// Why an Engine.IO session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client's connection ended: EOF or reset on its WebSocket, a WebSocket close
    /// frame, or a long-polling GET abandoned while it waited.
    TransportClose,
    /// The client broke the transport's rules: malformed HTTP or WebSocket framing, a
    /// second concurrent GET or POST, a polling request after the upgrade.
    TransportError,
    /// No pong within `ping_timeout` of a ping.
    PingTimeout,
    /// A packet that is not valid Engine.IO or Socket.IO, or not allowed where it came.
    ParseError,
    /// The client sent the Engine.IO close packet.
    ClientClose,
    /// The application closed the session ([`Server::close`](super::Server::close)).
    ServerClose,
    /// The client answered the upgrade probe, then never finished the upgrade.
    UpgradeAbandoned,
    /// A Socket.IO client joined no namespace within `connect_timeout`.
    ConnectTimeout,
    /// The client's queue would have passed `max_queued_bytes`: it reads slower than the
    /// application writes. Nothing queued for it was sent after this.
    SlowReader,
}

impl CloseReason {
    /// The reason as Socket.IO names it on the Node server, where there is a name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::PingTimeout => "ping timeout",
            Self::ParseError => "parse error",
            Self::ClientClose => "client close",
            Self::ServerClose => "server close",
            Self::UpgradeAbandoned => "upgrade abandoned",
            Self::ConnectTimeout => "connect timeout",
            Self::SlowReader => "slow reader",
        }
    }

    pub(crate) const fn to_u8(self) -> u8 {
        self as u8
    }

    pub(crate) const fn from_u8(n: u8) -> Self {
        match n {
            0 => Self::TransportClose,
            1 => Self::TransportError,
            2 => Self::PingTimeout,
            3 => Self::ParseError,
            4 => Self::ClientClose,
            5 => Self::ServerClose,
            6 => Self::UpgradeAbandoned,
            7 => Self::ConnectTimeout,
            _ => Self::SlowReader,
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a socket left its namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The client's whole session ended.
    Session(CloseReason),
    /// The client left the namespace (it sent DISCONNECT).
    ClientDisconnect,
    /// The application disconnected the socket
    /// ([`Server::disconnect`](super::Server::disconnect)).
    ServerDisconnect,
}

impl DisconnectReason {
    pub(crate) const fn to_u8(self) -> u8 {
        match self {
            Self::Session(r) => r.to_u8(),
            Self::ClientDisconnect => 100,
            Self::ServerDisconnect => 101,
        }
    }

    pub(crate) const fn from_u8(n: u8) -> Self {
        match n {
            100 => Self::ClientDisconnect,
            101 => Self::ServerDisconnect,
            n => Self::Session(CloseReason::from_u8(n)),
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Session(r) => r.fmt(f),
            Self::ClientDisconnect => f.write_str("client namespace disconnect"),
            Self::ServerDisconnect => f.write_str("server namespace disconnect"),
        }
    }
}

/// The data of an Engine.IO message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Data<'b> {
    /// A text message.
    Text(&'b str),
    /// A binary message.
    Binary(&'b [u8]),
}

/// A plain HTTP request for the application: any path that is not an Engine.IO endpoint.
///
/// Answer it with [`Server::respond`](super::Server::respond); the stream reads no further
/// request until then (pipelined requests wait their turn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpRequest<'b> {
    /// The stream to answer on.
    pub stream: StreamId,
    head: &'b [u8],
    body: &'b [u8],
}

impl<'b> HttpRequest<'b> {
    fn request_line(&self) -> (&'b str, &'b str) {
        let line_end = self
            .head
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(self.head.len());
        let line = core::str::from_utf8(self.head.get(..line_end).unwrap_or_default())
            .unwrap_or_default()
            .trim_end_matches('\r');
        let mut parts = line.splitn(3, ' ');
        (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        )
    }

    /// The method.
    pub fn method(&self) -> Method<'b> {
        Method::from_token(self.request_line().0)
    }

    /// The request target as sent (`/path?query`).
    pub fn target(&self) -> &'b str {
        self.request_line().1
    }

    /// The path part of the target.
    pub fn path(&self) -> &'b str {
        let t = self.target();
        t.split_once('?').map_or(t, |(p, _)| p)
    }

    /// The query string without its `?` (empty when there is none).
    pub fn query(&self) -> &'b str {
        self.target().split_once('?').map_or("", |(_, q)| q)
    }

    /// The header lines as (name, value) pairs, in order; values without surrounding
    /// whitespace.
    pub fn headers(&self) -> impl Iterator<Item = (&'b str, &'b [u8])> + 'b {
        let mut lines = self.head.split(|&b| b == b'\n').skip(1);
        core::iter::from_fn(move || {
            let line = lines.next()?;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                return None;
            }
            let colon = line.iter().position(|&b| b == b':')?;
            let (name, value) = line.split_at(colon);
            let value = value.get(1..).unwrap_or_default();
            let ows = |b: &u8| *b == b' ' || *b == b'\t';
            let start = value.iter().position(|b| !ows(b)).unwrap_or(value.len());
            let end = value.iter().rposition(|b| !ows(b)).map_or(start, |i| i + 1);
            Some((
                core::str::from_utf8(name).unwrap_or_default(),
                value.get(start..end).unwrap_or_default(),
            ))
        })
    }

    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The body (by `Content-Length`; empty when there was none).
    pub const fn body(&self) -> &'b [u8] {
        self.body
    }

    /// The raw head, request line through the blank line.
    pub const fn head(&self) -> &'b [u8] {
        self.head
    }
}

/// A client asks to join a namespace. Answer with [`Server::accept`](super::Server::accept)
/// or [`Server::refuse`](super::Server::refuse).
///
/// A client may send events for the namespace before it has the answer; they come after this
/// event, in order. When the application refuses the socket, their socket id is stale (so
/// commands answering them fail with [`CommandError::UnknownSocket`](super::CommandError)).
/// For a namespace that does not exist yet such early events end the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connect<'b> {
    /// The socket the client will have if accepted (pending until then).
    pub socket: SocketId,
    /// The client's session.
    pub session: SessionId,
    /// The namespace, or `None` when it does not exist yet (with
    /// [`dynamic_namespaces`](super::ServerConfig::dynamic_namespaces)); accepting creates it.
    pub namespace: Option<NamespaceId>,
    /// The namespace name as the client sent it.
    pub name: &'b str,
    /// The CONNECT payload, a JSON object (`{}` when the client sent none): Node's
    /// `socket.handshake.auth`.
    pub auth: &'b [u8],
    /// The client came back into a socket it lost with its transport (connection state
    /// recovery, [`ServerConfig::recovery`](super::ServerConfig::recovery); Node's
    /// `socket.recovered`): `socket` is the same as before. Once accepted it is in its rooms
    /// again and the packets it missed are queued after its CONNECT reply.
    pub recovered: bool,
}

/// An event from a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'b> {
    /// Who sent it.
    pub socket: SocketId,
    /// The namespace it came on.
    pub namespace: NamespaceId,
    /// The event name.
    pub name: &'b str,
    /// The arguments after the name, as raw JSON, comma separated (`1,"2",{"3":[true]}`;
    /// empty for none). Binary arguments appear as `{"_placeholder":true,"num":k}`.
    pub args: &'b [u8],
    /// The binary attachments the placeholders stand for.
    pub attachments: Attachments<'b>,
    /// Set when the client waits for an answer: reply once with
    /// [`Server::ack`](super::Server::ack).
    pub ack: Option<AckId>,
}

/// A client answered an event the server emitted with
/// [`Server::emit_with_ack`](super::Server::emit_with_ack).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack<'b> {
    /// Who answered.
    pub socket: SocketId,
    /// The id `emit_with_ack` returned.
    pub id: AckId,
    /// The reply arguments, raw JSON, comma separated.
    pub args: &'b [u8],
    /// Their binary attachments.
    pub attachments: Attachments<'b>,
}

/// Something the application must know about. Events that carry bytes borrow the buffer
/// given to [`Server::poll_event`](super::Server::poll_event), not the server, so the
/// application can answer while it holds one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'b> {
    /// A plain HTTP request (not an Engine.IO path).
    Http(HttpRequest<'b>),
    /// A plain Engine.IO session opened (an [`Protocol::Engine`](super::Protocol::Engine)
    /// endpoint).
    EngineOpen {
        /// The session.
        session: SessionId,
    },
    /// A plain Engine.IO session received a message.
    EngineMessage {
        /// The session.
        session: SessionId,
        /// The message.
        data: Data<'b>,
    },
    /// A plain Engine.IO session ended.
    EngineClose {
        /// The session.
        session: SessionId,
        /// Why.
        reason: CloseReason,
    },
    /// A Socket.IO client asks to join a namespace.
    Connect(Connect<'b>),
    /// A Socket.IO event.
    Message(Message<'b>),
    /// A client acknowledged an event.
    Ack(Ack<'b>),
    /// An acknowledgement did not come within its timeout; a late one is ignored.
    AckTimeout {
        /// The socket it was asked of.
        socket: SocketId,
        /// The id `emit_with_ack` returned.
        id: AckId,
    },
    /// A socket left its namespace. Every [`Event::Connect`] is followed by exactly one of
    /// these for its socket, unless the application refused it. Acknowledgements still
    /// awaited from the socket will not come and get no [`Event::AckTimeout`].
    Disconnect {
        /// The socket, no longer usable.
        socket: SocketId,
        /// Its namespace (`None` for a dynamic namespace never accepted).
        namespace: Option<NamespaceId>,
        /// Why.
        reason: DisconnectReason,
    },
}

/// Where a queued event's bytes are: a pool message whose first `skip` bytes are not the
/// event's (an assembly header), then two parts of `first` and `second` bytes, then the
/// rest (attachments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Payload {
    pub(crate) msg: u32,
    pub(crate) first: u32,
    pub(crate) second: u32,
    pub(crate) skip: u8,
}

impl Payload {
    /// The whole of `msg`, in one part.
    pub(crate) fn whole(msg: u32, len: usize) -> Self {
        Self::parts(msg, len, 0)
    }

    /// `msg` in two parts of `first` and `second` bytes.
    pub(crate) fn parts(msg: u32, first: usize, second: usize) -> Self {
        Self {
            msg,
            first: first as u32,
            second: second as u32,
            skip: 0,
        }
    }
}

/// A queued event: handles, small fields, and where its bytes wait in the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Record {
    /// An unused queue entry.
    Empty,
    /// A plain HTTP request: its head, then its body.
    Http {
        stream: StreamId,
        bytes: Payload,
    },
    EngineOpen {
        session: SessionId,
    },
    /// A plain Engine.IO message, in one part.
    EngineMessage {
        session: SessionId,
        binary: bool,
        bytes: Payload,
    },
    EngineClose {
        session: SessionId,
        reason: CloseReason,
    },
    /// A CONNECT: the namespace name, then the auth payload.
    Connect {
        socket: SocketId,
        session: SessionId,
        namespace: Option<NamespaceId>,
        recovered: bool,
        bytes: Payload,
    },
    /// An event from `from`: the name, then the arguments, then the attachments.
    Message {
        socket: SocketId,
        from: SessionId,
        namespace: NamespaceId,
        ack: Option<AckId>,
        attachments: u8,
        bytes: Payload,
    },
    /// An ack from `from`: nothing, then the arguments, then the attachments.
    Ack {
        socket: SocketId,
        from: SessionId,
        id: AckId,
        attachments: u8,
        bytes: Payload,
    },
    AckTimeout {
        socket: SocketId,
        id: AckId,
    },
    Disconnect {
        socket: SocketId,
        namespace: Option<NamespaceId>,
        reason: DisconnectReason,
    },
}

impl Record {
    /// How many attachments an event's or an ack's payload carries.
    pub(crate) fn attachments(&self) -> Option<usize> {
        match *self {
            Self::Message { attachments, .. } | Self::Ack { attachments, .. } => {
                Some(usize::from(attachments))
            }
            _ => None,
        }
    }

    /// Where the record's bytes are, if it has any.
    #[inline]
    pub(crate) fn payload(&self) -> Option<Payload> {
        match *self {
            Self::Http { bytes, .. }
            | Self::EngineMessage { bytes, .. }
            | Self::Connect { bytes, .. }
            | Self::Message { bytes, .. }
            | Self::Ack { bytes, .. } => Some(bytes),
            _ => None,
        }
    }

    /// The session whose input the record's payload came from.
    #[inline]
    pub(crate) fn session(&self) -> Option<SessionId> {
        match *self {
            Self::EngineMessage { session, .. }
            | Self::Connect { session, .. }
            | Self::Message { from: session, .. }
            | Self::Ack { from: session, .. } => Some(session),
            _ => None,
        }
    }

    /// Turns the record and its payload (already copied into `buf`, without the skipped
    /// bytes) into an event (`None` for an unused entry, never queued).
    pub(crate) fn event<'b>(&self, buf: &'b [u8]) -> Option<Event<'b>> {
        let (first, second) = self
            .payload()
            .map_or((0, 0), |p| (p.first as usize, p.second as usize));
        let (one, rest) = buf.split_at_checked(first).unwrap_or((buf, &[]));
        let (two, rest) = rest.split_at_checked(second).unwrap_or((rest, &[]));
        let text = |b: &'b [u8]| core::str::from_utf8(b).unwrap_or_default();
        Some(match *self {
            Self::Http { stream, .. } => Event::Http(HttpRequest {
                stream,
                head: one,
                body: two,
            }),
            Self::EngineOpen { session } => Event::EngineOpen { session },
            Self::EngineMessage {
                session, binary, ..
            } => Event::EngineMessage {
                session,
                data: if binary {
                    Data::Binary(one)
                } else {
                    Data::Text(text(one))
                },
            },
            Self::EngineClose { session, reason } => Event::EngineClose { session, reason },
            Self::Connect {
                socket,
                session,
                namespace,
                recovered,
                ..
            } => Event::Connect(Connect {
                socket,
                session,
                namespace,
                name: text(one),
                auth: two,
                recovered,
            }),
            Self::Message {
                socket,
                namespace,
                ack,
                attachments,
                ..
            } => Event::Message(Message {
                socket,
                namespace,
                name: text(one),
                args: two,
                attachments: Attachments::from_stored(rest, usize::from(attachments)),
                ack,
            }),
            Self::Ack {
                socket,
                id,
                attachments,
                ..
            } => Event::Ack(Ack {
                socket,
                id,
                args: two,
                attachments: Attachments::from_stored(rest, usize::from(attachments)),
            }),
            Self::AckTimeout { socket, id } => Event::AckTimeout { socket, id },
            Self::Disconnect {
                socket,
                namespace,
                reason,
            } => Event::Disconnect {
                socket,
                namespace,
                reason,
            },
            Self::Empty => return None,
        })
    }
}
/// One entry of the event queue.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventSlot(Record);

impl EventSlot {
    /// An unused entry.
    pub(crate) const EMPTY: Self = Self(Record::Empty);
}

/// The event queue: a ring over its slots, unwrapped before it grows.
#[derive(Debug)]
pub(crate) struct Events<'a> {
    slots: Slots<'a, EventSlot>,
    head: usize,
    len: usize,
}

impl<'a> Events<'a> {
    /// Queues an event whose room the caller made sure of. Should that ever be wrong, the
    /// payload goes back to the pool rather than leak.
    pub(crate) fn push_or_release(&mut self, r: Record, pool: &mut super::pool::Pool<'_>) {
        if !self.push(r) {
            debug_assert!(false, "event queued without room: {r:?}");
            if let Some(p) = r.payload() {
                pool.release(p.msg);
            }
        }
    }

    pub(crate) fn new(slots: Slots<'a, EventSlot>) -> Self {
        Self {
            slots,
            head: 0,
            len: 0,
        }
    }

    /// Whether `n` more events fit (counting growth).
    pub(crate) fn has_room(&self, n: usize) -> bool {
        self.slots.capacity() - self.len >= n
    }

    pub(crate) fn push(&mut self, r: Record) -> bool {
        if self.len == self.slots.len() {
            self.slots.rotate_left(self.head);
            self.head = 0;
            if self.slots.push(EventSlot(r)).is_err() {
                return false;
            }
            self.len += 1;
            return true;
        }
        let cap = self.slots.len();
        let at = (self.head + self.len) % cap;
        if let Some(slot) = self.slots.as_mut_slice().get_mut(at) {
            slot.0 = r;
        }
        self.len += 1;
        true
    }

    pub(crate) fn front(&self) -> Option<&Record> {
        if self.len == 0 {
            return None;
        }
        self.slots.as_slice().get(self.head).map(|s| &s.0)
    }

    pub(crate) fn pop(&mut self) -> Option<Record> {
        if self.len == 0 {
            return None;
        }
        let cap = self.slots.len();
        let r = self.slots.as_slice().get(self.head).map(|s| s.0)?;
        self.head = (self.head + 1) % cap;
        self.len -= 1;
        Some(r)
    }
}
