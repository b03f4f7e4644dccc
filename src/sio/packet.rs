//! Socket.IO v5 packets: `<type>[<count>-][<nsp>,][<ack id>][<JSON>]`.

use core::fmt;

use crate::BufferTooSmall;
use crate::json::{self, Elements, JsonError, JsonStr, Kind, Limits, Visitor};
use crate::write::Writer;

/// Largest ack id: 2^53 − 1, the largest integer a JavaScript number holds exactly.
pub const MAX_ACK_ID: u64 = (1 << 53) - 1;

/// Event names the reference refuses to dispatch (`socket.io-parser` `RESERVED_EVENTS`).
pub const RESERVED_EVENT_NAMES: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// The seven Socket.IO packet types (a closed protocol set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `0`: join a namespace (client), or accept the join (server).
    Connect,
    /// `1`: leave a namespace.
    Disconnect,
    /// `2`: an event `[name, args…]`.
    Event,
    /// `3`: the reply to an event that carried an ack id.
    Ack,
    /// `4`: the server refuses a namespace join.
    ConnectError,
    /// `5`: an event whose arguments hold binary attachments.
    BinaryEvent,
    /// `6`: an ack whose arguments hold binary attachments.
    BinaryAck,
}

impl PacketType {
    /// All types, in id order.
    pub const ALL: [Self; 7] = [
        Self::Connect,
        Self::Disconnect,
        Self::Event,
        Self::Ack,
        Self::ConnectError,
        Self::BinaryEvent,
        Self::BinaryAck,
    ];

    /// The type for a wire digit (`b'0'`..=`b'6'`).
    pub const fn from_digit(digit: u8) -> Option<Self> {
        Some(match digit {
            b'0' => Self::Connect,
            b'1' => Self::Disconnect,
            b'2' => Self::Event,
            b'3' => Self::Ack,
            b'4' => Self::ConnectError,
            b'5' => Self::BinaryEvent,
            b'6' => Self::BinaryAck,
            _ => return None,
        })
    }

    /// The wire digit (`b'0'`..=`b'6'`).
    pub const fn digit(self) -> u8 {
        match self {
            Self::Connect => b'0',
            Self::Disconnect => b'1',
            Self::Event => b'2',
            Self::Ack => b'3',
            Self::ConnectError => b'4',
            Self::BinaryEvent => b'5',
            Self::BinaryAck => b'6',
        }
    }

    /// `true` for [`BinaryEvent`](Self::BinaryEvent) and [`BinaryAck`](Self::BinaryAck),
    /// which carry an attachment count.
    pub const fn is_binary(self) -> bool {
        matches!(self, Self::BinaryEvent | Self::BinaryAck)
    }

    /// `true` for the two event types.
    pub const fn is_event(self) -> bool {
        matches!(self, Self::Event | Self::BinaryEvent)
    }

    /// `true` for the two ack types.
    pub const fn is_ack(self) -> bool {
        matches!(self, Self::Ack | Self::BinaryAck)
    }
}

/// Which side is decoding (a closed set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Decoding what a client sent: `CONNECT_ERROR` is refused.
    Server,
    /// Decoding what a server sent: `CONNECT_ERROR` is accepted.
    Client,
}

/// Decoder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Who is decoding.
    pub role: Role,
    /// Largest attachment count accepted in a binary packet header (reference: 10).
    pub max_attachments: usize,
    /// Limits for the JSON payload.
    pub json: Limits,
    /// Socket.IO protocol v4 (socket.io 2.x, over Engine.IO v3; feature `eio3`, ignored
    /// without it): a `CONNECT_ERROR` (its `ERROR`) may carry any value: a string is its
    /// message, anything but an object with a `message` its data.
    pub protocol_v4: bool,
}

impl Config {
    /// Server role, at most 10 attachments, [`Limits::DEFAULT`].
    pub const DEFAULT: Self = Self {
        role: Role::Server,
        max_attachments: 10,
        json: Limits::DEFAULT,
        protocol_v4: false,
    };

    /// [`Config::DEFAULT`] with the client role.
    pub const CLIENT: Self = Self {
        role: Role::Client,
        ..Self::DEFAULT
    };

    /// [`Config::CLIENT`] for a socket.io 2.x server (protocol v4).
    pub const CLIENT_V4: Self = Self {
        protocol_v4: true,
        ..Self::CLIENT
    };
}

impl Default for Config {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why a text message is not a valid Socket.IO packet. Offsets count from the start of the
/// packet (after the Engine.IO `4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The message is empty.
    Empty,
    /// The first byte is not `0`–`6`.
    UnknownType {
        /// The byte found.
        byte: u8,
    },
    /// A binary packet's attachment count is missing or not decimal digits (`5-[…]`, `5x-`).
    InvalidAttachmentCount,
    /// A binary packet's attachment count is not followed by `-` (`51["x"]`).
    MissingAttachmentSeparator,
    /// The attachment count exceeds [`Config::max_attachments`].
    TooManyAttachments {
        /// The count announced (saturated).
        count: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The namespace is not UTF-8.
    InvalidNamespace,
    /// The ack id exceeds [`MAX_ACK_ID`].
    AckIdTooLarge,
    /// An ack id on a type that cannot carry one (CONNECT, DISCONNECT, `CONNECT_ERROR`).
    UnexpectedAckId,
    /// An ACK or `BINARY_ACK` without an ack id.
    MissingAckId,
    /// Where the namespace, ack id or payload should start there is a byte that can start
    /// none of them (`2abc["x"]`, or whitespace).
    JunkInHeader {
        /// Offset of the byte.
        offset: usize,
    },
    /// The payload is not valid JSON.
    Json(JsonError),
    /// An EVENT, ACK or `CONNECT_ERROR` without payload.
    MissingPayload,
    /// A DISCONNECT with a payload (`1{}`).
    UnexpectedPayload,
    /// A CONNECT payload that is not an object (`0"t"`, `0[]`).
    ConnectNotObject,
    /// An EVENT payload that is not an array (`2{}`, `2"x"`).
    EventNotArray,
    /// An EVENT payload that is an empty array (`2[]`).
    EmptyEvent,
    /// An EVENT whose first element is neither a string nor a number.
    InvalidEventName,
    /// An EVENT named with one of [`RESERVED_EVENT_NAMES`].
    ReservedEventName,
    /// An ACK payload that is not an array.
    AckNotArray,
    /// A `CONNECT_ERROR` received in the [`Role::Server`] role.
    UnexpectedConnectError,
    /// A `CONNECT_ERROR` payload that is not an object with a string `message`.
    InvalidConnectError,
    /// In a binary packet, an object with `"_placeholder":true` that is not exactly
    /// `{"_placeholder":true,"num":<integer>}` (either key order).
    InvalidPlaceholder {
        /// Offset of the object (or of the offending `true`).
        offset: usize,
    },
    /// A placeholder whose `num` is not below the attachment count.
    PlaceholderOutOfRange {
        /// The `num` found (saturated).
        num: u64,
        /// Offset of the placeholder object.
        offset: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty Socket.IO packet"),
            Self::UnknownType { byte } => write!(f, "unknown Socket.IO packet type {byte:#04x}"),
            Self::InvalidAttachmentCount => f.write_str("invalid attachment count"),
            Self::MissingAttachmentSeparator => f.write_str("attachment count not followed by '-'"),
            Self::TooManyAttachments { count, limit } => {
                write!(f, "{count} attachments exceed the limit of {limit}")
            }
            Self::InvalidNamespace => f.write_str("namespace is not UTF-8"),
            Self::AckIdTooLarge => f.write_str("ack id above 2^53-1"),
            Self::UnexpectedAckId => f.write_str("ack id on a packet type without one"),
            Self::MissingAckId => f.write_str("ack without an ack id"),
            Self::JunkInHeader { offset } => {
                write!(f, "unexpected byte in header at offset {offset}")
            }
            Self::Json(e) => write!(f, "invalid JSON payload: {e}"),
            Self::MissingPayload => f.write_str("payload missing"),
            Self::UnexpectedPayload => f.write_str("disconnect with a payload"),
            Self::ConnectNotObject => f.write_str("connect payload is not an object"),
            Self::EventNotArray => f.write_str("event payload is not an array"),
            Self::EmptyEvent => f.write_str("event payload is an empty array"),
            Self::InvalidEventName => f.write_str("event name is not a string or number"),
            Self::ReservedEventName => f.write_str("reserved event name"),
            Self::AckNotArray => f.write_str("ack payload is not an array"),
            Self::UnexpectedConnectError => f.write_str("connect error sent by a client"),
            Self::InvalidConnectError => f.write_str("connect error without a string message"),
            Self::InvalidPlaceholder { offset } => {
                write!(f, "malformed attachment placeholder at offset {offset}")
            }
            Self::PlaceholderOutOfRange { num, offset } => {
                write!(f, "placeholder num {num} out of range at offset {offset}")
            }
        }
    }
}

impl core::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Json(e) => Some(e),
            _ => None,
        }
    }
}

impl From<JsonError> for DecodeError {
    fn from(e: JsonError) -> Self {
        Self::Json(e)
    }
}

/// Why a packet could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The output buffer is too short.
    BufferTooSmall(BufferTooSmall),
    /// The namespace does not start with `/` or contains `,`.
    InvalidNamespace,
    /// The ack id exceeds [`MAX_ACK_ID`].
    AckIdOutOfRange,
    /// A binary writer wrote a different number of placeholders than it declared.
    AttachmentMismatch {
        /// The count written in the header.
        declared: usize,
        /// The placeholders written.
        written: usize,
    },
    /// A placeholder was written into a text (non-binary) packet.
    PlaceholderInTextPacket,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooSmall(e) => e.fmt(f),
            Self::InvalidNamespace => f.write_str("namespace must start with '/' and have no ','"),
            Self::AckIdOutOfRange => f.write_str("ack id above 2^53-1"),
            Self::AttachmentMismatch { declared, written } => {
                write!(
                    f,
                    "{declared} attachments declared, {written} placeholders written"
                )
            }
            Self::PlaceholderInTextPacket => f.write_str("placeholder in a text packet"),
        }
    }
}

impl core::error::Error for EncodeError {}

impl From<BufferTooSmall> for EncodeError {
    fn from(e: BufferTooSmall) -> Self {
        Self::BufferTooSmall(e)
    }
}

/// The name of an event: a JSON string, or a number (accepted like the reference does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName<'a> {
    /// A string name.
    Str(JsonStr<'a>),
    /// A numeric name, as its raw JSON number text.
    Number(&'a [u8]),
}

impl<'a> EventName<'a> {
    /// Whether the name equals `s` (a number compares by its raw text).
    pub fn eq_str(&self, s: &str) -> bool {
        match self {
            Self::Str(j) => j.eq_str(s),
            Self::Number(raw) => *raw == s.as_bytes(),
        }
    }

    /// The string name without escapes as `&str`, if that is what it is.
    pub fn as_str(&self) -> Option<&'a str> {
        match self {
            Self::Str(j) => j.as_str(),
            Self::Number(_) => None,
        }
    }
}

/// A decoded packet, borrowing from the message bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Packet<'a> {
    packet_type: PacketType,
    attachments: Option<usize>,
    namespace: &'a str,
    ack_id: Option<u64>,
    data: Option<&'a [u8]>,
    data_offset: usize,
    name: Option<EventName<'a>>,
    args: &'a [u8],
    message: Option<JsonStr<'a>>,
    error_data: Option<&'a [u8]>,
    placeholders: usize,
}

impl<'a> Packet<'a> {
    /// Decodes one packet (the Engine.IO message without its `4`) with [`Config::DEFAULT`].
    pub fn parse(input: &'a [u8]) -> Result<Self, DecodeError> {
        Self::parse_with(input, &Config::DEFAULT)
    }

    /// Decodes one packet with explicit settings; validates everything listed in the
    /// protocol's "what is invalid" section that a single packet can show.
    pub fn parse_with(input: &'a [u8], config: &Config) -> Result<Self, DecodeError> {
        let (&digit, _) = input.split_first().ok_or(DecodeError::Empty)?;
        let packet_type =
            PacketType::from_digit(digit).ok_or(DecodeError::UnknownType { byte: digit })?;
        let mut pos = 1;

        let attachments = if packet_type.is_binary() {
            let end = digit_run_end(input, pos);
            let run = input.get(pos..end).unwrap_or_default();
            if run.is_empty() {
                return Err(DecodeError::InvalidAttachmentCount);
            }
            if input.get(end) != Some(&b'-') {
                return Err(DecodeError::MissingAttachmentSeparator);
            }
            let count =
                usize::try_from(parse_decimal(run).unwrap_or(u64::MAX)).unwrap_or(usize::MAX);
            if count > config.max_attachments {
                return Err(DecodeError::TooManyAttachments {
                    count,
                    limit: config.max_attachments,
                });
            }
            pos = end + 1;
            Some(count)
        } else {
            None
        };

        let mut namespace = "/";
        if let Some(rest) = input.get(pos..).filter(|r| r.first() == Some(&b'/')) {
            let (name, after) = match rest.iter().position(|&b| b == b',') {
                Some(i) => (rest.get(..i).unwrap_or_default(), pos + i + 1),
                None => (rest, input.len()),
            };
            namespace = core::str::from_utf8(name).map_err(|_| DecodeError::InvalidNamespace)?;
            pos = after;
        }

        let end = digit_run_end(input, pos);
        let ack_id = match input.get(pos..end) {
            Some(run) if !run.is_empty() => {
                pos = end;
                match parse_decimal(run) {
                    Some(id) if id <= MAX_ACK_ID => Some(id),
                    _ => return Err(DecodeError::AckIdTooLarge),
                }
            }
            _ => None,
        };

        let data = input.get(pos..).filter(|d| !d.is_empty());
        if let Some(&b) = data.and_then(<[u8]>::first)
            && !matches!(b, b'{' | b'[' | b'"' | b'-' | b't' | b'f' | b'n')
        {
            return Err(DecodeError::JunkInHeader { offset: pos });
        }

        let mut packet = Self {
            packet_type,
            attachments,
            namespace,
            ack_id,
            data,
            data_offset: pos,
            name: None,
            args: &[],
            message: None,
            error_data: None,
            placeholders: 0,
        };

        if ack_id.is_some()
            && matches!(
                packet_type,
                PacketType::Connect | PacketType::Disconnect | PacketType::ConnectError
            )
        {
            return Err(DecodeError::UnexpectedAckId);
        }
        match packet_type {
            PacketType::Disconnect if data.is_some() => return Err(DecodeError::UnexpectedPayload),
            PacketType::Ack | PacketType::BinaryAck if ack_id.is_none() => {
                return Err(DecodeError::MissingAckId);
            }
            PacketType::ConnectError if config.role == Role::Server => {
                return Err(DecodeError::UnexpectedConnectError);
            }
            _ => {}
        }
        let Some(data) = data else {
            return match packet_type {
                PacketType::Connect | PacketType::Disconnect => Ok(packet),
                _ => Err(DecodeError::MissingPayload),
            };
        };

        let mut scan = Scan::new(data, attachments);
        let top = json::scan(data, &config.json, &mut scan)
            .map_err(|e| DecodeError::Json(e.shifted(pos)))?;
        if let Some(e) = scan.error {
            return Err(shift(e, pos));
        }
        packet.placeholders = scan.placeholders;

        match packet_type {
            PacketType::Connect => {
                if top.kind != Kind::Object {
                    return Err(DecodeError::ConnectNotObject);
                }
            }
            PacketType::Disconnect => return Err(DecodeError::UnexpectedPayload),
            PacketType::Event | PacketType::BinaryEvent => {
                if top.kind != Kind::Array {
                    return Err(DecodeError::EventNotArray);
                }
                let Some(first) = scan.first else {
                    return Err(DecodeError::EmptyEvent);
                };
                let token = data.get(first.start..first.end).unwrap_or_default();
                let name = match first.kind {
                    Kind::String => EventName::Str(JsonStr::from_token(token, first.escaped)),
                    Kind::Number => EventName::Number(token),
                    _ => return Err(DecodeError::InvalidEventName),
                };
                if let EventName::Str(s) = name
                    && RESERVED_EVENT_NAMES.iter().any(|r| s.eq_str(r))
                {
                    return Err(DecodeError::ReservedEventName);
                }
                packet.name = Some(name);
                if let Some(second) = scan.second_start {
                    packet.args = data.get(second..scan.last_end).unwrap_or_default();
                }
            }
            PacketType::Ack | PacketType::BinaryAck => {
                if top.kind != Kind::Array {
                    return Err(DecodeError::AckNotArray);
                }
                if let Some(first) = scan.first {
                    packet.args = data.get(first.start..scan.last_end).unwrap_or_default();
                }
            }
            // Protocol v4's ERROR carries any value: a string is the message, an object
            // with a string `message` reads as in v5, anything else is the data.
            PacketType::ConnectError if cfg!(feature = "eio3") && config.protocol_v4 => {
                match (top.kind, scan.message) {
                    (Kind::String, _) => {
                        packet.message = Some(
                            JsonStr::parse(data).map_err(|e| DecodeError::Json(e.shifted(pos)))?,
                        );
                    }
                    (Kind::Object, Some(Some(message))) => {
                        packet.message = Some(message);
                        packet.error_data = scan.error_data.and_then(|(s, e)| data.get(s..e));
                    }
                    _ => packet.error_data = Some(data),
                }
            }
            PacketType::ConnectError => {
                let (Kind::Object, Some(Some(message))) = (top.kind, scan.message) else {
                    return Err(DecodeError::InvalidConnectError);
                };
                packet.message = Some(message);
                packet.error_data = scan.error_data.and_then(|(s, e)| data.get(s..e));
            }
        }
        Ok(packet)
    }

    /// The packet type.
    pub const fn packet_type(&self) -> PacketType {
        self.packet_type
    }

    /// The attachment count: `Some` exactly for the binary types.
    pub const fn attachments(&self) -> Option<usize> {
        self.attachments
    }

    /// The namespace (`/` when absent), verbatim up to the first `,`.
    pub const fn namespace(&self) -> &'a str {
        self.namespace
    }

    /// The ack id, if present.
    pub const fn ack_id(&self) -> Option<u64> {
        self.ack_id
    }

    /// The raw JSON payload, if any (validated).
    pub const fn data(&self) -> Option<&'a [u8]> {
        self.data
    }

    /// Offset of the payload in the decoded message (the message length when absent).
    pub const fn data_offset(&self) -> usize {
        self.data_offset
    }

    /// The event name (EVENT and `BINARY_EVENT` only).
    pub const fn event_name(&self) -> Option<EventName<'a>> {
        self.name
    }

    /// The arguments as a raw comma-separated JSON list: for events everything after the
    /// name (`"hello",1` in `["chat message","hello",1]`), for acks the whole array
    /// interior. Empty when there are none and for the other types.
    pub const fn args(&self) -> &'a [u8] {
        self.args
    }

    /// The arguments one by one, as raw JSON slices.
    pub const fn args_iter(&self) -> Elements<'a> {
        Elements::new(self.args)
    }

    /// A `CONNECT_ERROR`'s `message`.
    pub const fn error_message(&self) -> Option<JsonStr<'a>> {
        self.message
    }

    /// A `CONNECT_ERROR`'s optional `data` member, raw.
    pub const fn error_data(&self) -> Option<&'a [u8]> {
        self.error_data
    }

    /// Number of placeholder objects found (binary types only).
    pub const fn placeholder_count(&self) -> usize {
        self.placeholders
    }

    /// The placeholder objects of a binary packet in walk order; ranges index
    /// [`Packet::data`]. Empty for the text types.
    pub fn placeholders(&self) -> super::binary::Placeholders<'a> {
        let data = if self.packet_type.is_binary() {
            self.data.unwrap_or_default()
        } else {
            &[]
        };
        super::binary::Placeholders::new(data)
    }

    /// Re-encodes the packet in canonical form (`/` omitted, payload verbatim).
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let mut w = Writer::new(out);
        write_header(
            &mut w,
            self.packet_type,
            self.attachments,
            self.namespace,
            self.ack_id,
        )?;
        w.put(self.data.unwrap_or_default());
        Ok(w.finish()?)
    }
}

fn shift(e: DecodeError, by: usize) -> DecodeError {
    match e {
        DecodeError::InvalidPlaceholder { offset } => DecodeError::InvalidPlaceholder {
            offset: offset.saturating_add(by),
        },
        DecodeError::PlaceholderOutOfRange { num, offset } => DecodeError::PlaceholderOutOfRange {
            num,
            offset: offset.saturating_add(by),
        },
        other => other,
    }
}

fn digit_run_end(input: &[u8], mut pos: usize) -> usize {
    while input.get(pos).is_some_and(u8::is_ascii_digit) {
        pos += 1;
    }
    pos
}

/// Decimal digits to `u64`; `None` on overflow or a non-digit. Kept out of line: its
/// 64-bit arithmetic is long on 32-bit targets and it has four callers.
#[inline(never)]
pub(crate) fn parse_decimal(digits: &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// A depth-1 value seen by [`Scan`].
#[derive(Debug, Clone, Copy)]
struct Item {
    kind: Kind,
    start: usize,
    end: usize,
    escaped: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    None,
    Placeholder,
    Num,
    Message,
    Data,
    Other,
}

/// What is known about the innermost open container, for placeholder detection.
#[derive(Debug, Clone, Copy)]
struct Obj {
    start: usize,
    /// Not an object whose members are all known scalars (an array, or an object after a
    /// nested container).
    complex: bool,
    members: usize,
    pending: Member,
    placeholder: bool,
    num: Option<u64>,
}

impl Obj {
    const COMPLEX: Self = Self {
        start: 0,
        complex: true,
        members: 0,
        pending: Member::None,
        placeholder: false,
        num: None,
    };
}

/// Collects, in one pass, what packet validation needs from the payload.
struct Scan<'a> {
    data: &'a [u8],
    depth: usize,
    object_top: bool,
    count: usize,
    value_start: usize,
    first: Option<Item>,
    second_start: Option<usize>,
    last_end: usize,
    top_key: Member,
    message: Option<Option<JsonStr<'a>>>,
    error_data: Option<(usize, usize)>,
    attachments: Option<usize>,
    obj: Obj,
    placeholders: usize,
    error: Option<DecodeError>,
}

impl<'a> Scan<'a> {
    fn new(data: &'a [u8], attachments: Option<usize>) -> Self {
        Self {
            data,
            depth: 0,
            object_top: false,
            count: 0,
            value_start: 0,
            first: None,
            second_start: None,
            last_end: 0,
            top_key: Member::None,
            message: None,
            error_data: None,
            attachments,
            obj: Obj::COMPLEX,
            placeholders: 0,
            error: None,
        }
    }

    fn fail(&mut self, e: DecodeError) {
        self.error.get_or_insert(e);
    }

    fn token(&self, start: usize, end: usize) -> &'a [u8] {
        self.data.get(start..end).unwrap_or_default()
    }

    /// A complete value directly inside the top-level container.
    fn top_value(&mut self, item: Item) {
        self.count += 1;
        if self.count == 1 {
            self.first = Some(item);
        } else if self.count == 2 {
            self.second_start = Some(item.start);
        }
        self.last_end = item.end;
        match self.top_key {
            Member::Message => {
                self.message =
                    Some((item.kind == Kind::String).then(|| {
                        JsonStr::from_token(self.token(item.start, item.end), item.escaped)
                    }));
            }
            Member::Data => self.error_data = Some((item.start, item.end)),
            _ => {}
        }
        self.top_key = Member::None;
    }

    fn classify(
        &self,
        start: usize,
        end: usize,
        escaped: bool,
        names: [(&str, Member); 2],
    ) -> Member {
        let key = JsonStr::from_token(self.token(start, end), escaped);
        names
            .into_iter()
            .find(|(name, _)| key.eq_str(name))
            .map_or(Member::Other, |(_, m)| m)
    }

    fn close_placeholder(&mut self) {
        let obj = self.obj;
        let Some(count) = self.attachments else {
            return;
        };
        match obj.num {
            Some(num) if obj.members == 2 => {
                if usize::try_from(num).is_ok_and(|n| n < count) {
                    self.placeholders += 1;
                } else {
                    self.fail(DecodeError::PlaceholderOutOfRange {
                        num,
                        offset: obj.start,
                    });
                }
            }
            _ => self.fail(DecodeError::InvalidPlaceholder { offset: obj.start }),
        }
    }
}

impl Visitor for Scan<'_> {
    fn open(&mut self, object: bool, start: usize) {
        if self.depth == 0 {
            self.object_top = object;
        } else if self.depth == 1 {
            self.value_start = start;
        }
        self.depth += 1;
        if self.attachments.is_some() {
            if !self.obj.complex && self.obj.placeholder {
                let offset = self.obj.start;
                self.fail(DecodeError::InvalidPlaceholder { offset });
            }
            self.obj = if object {
                Obj {
                    start,
                    complex: false,
                    ..Obj::COMPLEX
                }
            } else {
                Obj::COMPLEX
            };
        }
    }

    fn close(&mut self, object: bool, end: usize) {
        self.depth = self.depth.saturating_sub(1);
        if self.attachments.is_some() {
            if object && !self.obj.complex && self.obj.placeholder {
                self.close_placeholder();
            }
            self.obj = Obj::COMPLEX;
        }
        if self.depth == 1 {
            let kind = if object { Kind::Object } else { Kind::Array };
            self.top_value(Item {
                kind,
                start: self.value_start,
                end,
                escaped: false,
            });
        }
    }

    fn key(&mut self, start: usize, end: usize, escaped: bool) {
        if self.depth == 1 && self.object_top {
            self.top_key = self.classify(
                start,
                end,
                escaped,
                [("message", Member::Message), ("data", Member::Data)],
            );
        }
        if self.attachments.is_some() {
            self.obj.members = self.obj.members.saturating_add(1);
            self.obj.pending = self.classify(
                start,
                end,
                escaped,
                [("_placeholder", Member::Placeholder), ("num", Member::Num)],
            );
        }
    }

    fn scalar(&mut self, kind: Kind, start: usize, end: usize, escaped: bool) {
        if self.attachments.is_some() {
            match self.obj.pending {
                Member::Placeholder if self.token(start, end) == b"true" => {
                    if self.obj.complex {
                        self.fail(DecodeError::InvalidPlaceholder { offset: start });
                    } else {
                        self.obj.placeholder = true;
                    }
                }
                Member::Num => {
                    self.obj.num = match kind {
                        Kind::Number => parse_decimal(self.token(start, end)),
                        _ => None,
                    };
                }
                _ => {}
            }
            self.obj.pending = Member::None;
        }
        if self.depth == 1 {
            self.top_value(Item {
                kind,
                start,
                end,
                escaped,
            });
        }
    }
}

// ---------------------------------------------------------------------------------------
// Encoding.

/// Writes `<type>[<count>-][<nsp>,][<ack id>]` after checking namespace and ack id.
pub(crate) fn write_header(
    w: &mut Writer<'_>,
    packet_type: PacketType,
    attachments: Option<usize>,
    namespace: &str,
    ack_id: Option<u64>,
) -> Result<(), EncodeError> {
    if !namespace.starts_with('/') || namespace.contains(',') {
        return Err(EncodeError::InvalidNamespace);
    }
    if ack_id.is_some_and(|id| id > MAX_ACK_ID) {
        return Err(EncodeError::AckIdOutOfRange);
    }
    w.byte(packet_type.digit());
    if let Some(n) = attachments {
        w.decimal(n as u64);
        w.byte(b'-');
    }
    if namespace != "/" {
        w.put(namespace.as_bytes());
        w.byte(b',');
    }
    if let Some(id) = ack_id {
        w.decimal(id);
    }
    Ok(())
}

/// Writes a CONNECT: `0`, `0/chat,`, or with a raw JSON object payload `0{"token":"t1"}`.
pub fn encode_connect(
    out: &mut [u8],
    namespace: &str,
    data: Option<&[u8]>,
) -> Result<usize, EncodeError> {
    let mut w = Writer::new(out);
    write_header(&mut w, PacketType::Connect, None, namespace, None)?;
    w.put(data.unwrap_or_default());
    Ok(w.finish()?)
}

/// Writes the server's CONNECT reply `0/chat,{"sid":"…"}` (`sid` JSON-escaped).
pub fn encode_connect_sid(
    out: &mut [u8],
    namespace: &str,
    sid: &str,
) -> Result<usize, EncodeError> {
    let mut w = Writer::new(out);
    write_header(&mut w, PacketType::Connect, None, namespace, None)?;
    w.put(b"{\"sid\":");
    json::put_str(&mut w, sid);
    w.byte(b'}');
    Ok(w.finish()?)
}

/// Writes a DISCONNECT: `1` or `1/chat,`.
pub fn encode_disconnect(out: &mut [u8], namespace: &str) -> Result<usize, EncodeError> {
    let mut w = Writer::new(out);
    write_header(&mut w, PacketType::Disconnect, None, namespace, None)?;
    Ok(w.finish()?)
}

/// Writes an EVENT `2[/nsp,][id]["name",args]`. `name` is JSON-escaped; `args` is a raw,
/// comma-separated JSON list written verbatim (empty for a name-only event).
pub fn encode_event(
    out: &mut [u8],
    namespace: &str,
    ack_id: Option<u64>,
    name: &str,
    args: &[u8],
) -> Result<usize, EncodeError> {
    let mut w = Writer::new(out);
    write_header(&mut w, PacketType::Event, None, namespace, ack_id)?;
    put_event_body(&mut w, name, args);
    Ok(w.finish()?)
}

/// Writes an ACK `3[/nsp,]<id>[args]`; `args` is a raw comma-separated JSON list.
pub fn encode_ack(
    out: &mut [u8],
    namespace: &str,
    ack_id: u64,
    args: &[u8],
) -> Result<usize, EncodeError> {
    let mut w = Writer::new(out);
    write_header(&mut w, PacketType::Ack, None, namespace, Some(ack_id))?;
    put_array(&mut w, args);
    Ok(w.finish()?)
}

/// Writes a `CONNECT_ERROR` `4[/nsp,]{"message":"…"[,"data":<data>]}`; `message` is
/// JSON-escaped, `data` raw JSON.
pub fn encode_connect_error(
    out: &mut [u8],
    namespace: &str,
    message: &str,
    data: Option<&[u8]>,
) -> Result<usize, EncodeError> {
    let mut w = Writer::new(out);
    write_header(&mut w, PacketType::ConnectError, None, namespace, None)?;
    w.put(b"{\"message\":");
    json::put_str(&mut w, message);
    if let Some(data) = data {
        w.put(b",\"data\":");
        w.put(data);
    }
    w.byte(b'}');
    Ok(w.finish()?)
}

/// Writes a `BINARY_EVENT` `5<n>-[/nsp,][id]["name",args]`; `args` must already hold the
/// placeholders (see [`ArgsWriter`](super::ArgsWriter) to build them).
pub fn encode_binary_event(
    out: &mut [u8],
    namespace: &str,
    ack_id: Option<u64>,
    name: &str,
    args: &[u8],
    attachments: usize,
) -> Result<usize, EncodeError> {
    let mut w = Writer::new(out);
    write_header(
        &mut w,
        PacketType::BinaryEvent,
        Some(attachments),
        namespace,
        ack_id,
    )?;
    put_event_body(&mut w, name, args);
    Ok(w.finish()?)
}

/// Writes a `BINARY_ACK` `6<n>-[/nsp,]<id>[args]`; `args` must already hold the placeholders.
pub fn encode_binary_ack(
    out: &mut [u8],
    namespace: &str,
    ack_id: u64,
    args: &[u8],
    attachments: usize,
) -> Result<usize, EncodeError> {
    let mut w = Writer::new(out);
    write_header(
        &mut w,
        PacketType::BinaryAck,
        Some(attachments),
        namespace,
        Some(ack_id),
    )?;
    put_array(&mut w, args);
    Ok(w.finish()?)
}

fn put_event_body(w: &mut Writer<'_>, name: &str, args: &[u8]) {
    w.byte(b'[');
    json::put_str(w, name);
    if !args.is_empty() {
        w.byte(b',');
        w.put(args);
    }
    w.byte(b']');
}

fn put_array(w: &mut Writer<'_>, args: &[u8]) {
    w.byte(b'[');
    w.put(args);
    w.byte(b']');
}

#[cfg(test)]
mod tests;
