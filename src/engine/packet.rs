//! One Engine.IO packet (PROTOCOL.md A.2, A.3).

use core::fmt;

use crate::BufferTooSmall;
use crate::write::Writer;

/// The seven Engine.IO v4 packet types, sent as one ASCII digit.
///
/// This is the closed protocol set, so it is not `#[non_exhaustive]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum PacketType {
    /// `0`: the handshake, server to client.
    Open = 0,
    /// `1`: close the session.
    Close = 1,
    /// `2`: heartbeat ping (server to client), or `2probe` during an upgrade.
    Ping = 2,
    /// `3`: heartbeat pong (client to server), or `3probe` during an upgrade.
    Pong = 3,
    /// `4`: application data, text or binary, possibly empty.
    Message = 4,
    /// `5`: completes an upgrade to WebSocket.
    Upgrade = 5,
    /// `6`: no operation (used to release a pending poll).
    Noop = 6,
}

impl PacketType {
    /// All types in numeric order.
    pub const ALL: [Self; 7] = [
        Self::Open,
        Self::Close,
        Self::Ping,
        Self::Pong,
        Self::Message,
        Self::Upgrade,
        Self::Noop,
    ];

    /// The type for a number `0..=6`.
    pub const fn from_u8(n: u8) -> Option<Self> {
        Some(match n {
            0 => Self::Open,
            1 => Self::Close,
            2 => Self::Ping,
            3 => Self::Pong,
            4 => Self::Message,
            5 => Self::Upgrade,
            6 => Self::Noop,
            _ => return None,
        })
    }

    /// The type for an ASCII digit `b'0'..=b'6'`.
    pub const fn from_digit(digit: u8) -> Option<Self> {
        match digit.checked_sub(b'0') {
            Some(n) => Self::from_u8(n),
            None => None,
        }
    }

    /// The type's number, `0..=6`.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// The type's ASCII digit as sent on the wire, `b'0'..=b'6'`.
    pub const fn digit(self) -> u8 {
        b'0' + self as u8
    }

    /// The lowercase name used by the specification (`"open"`, `"close"`, …).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Close => "close",
            Self::Ping => "ping",
            Self::Pong => "pong",
            Self::Message => "message",
            Self::Upgrade => "upgrade",
            Self::Noop => "noop",
        }
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl TryFrom<u8> for PacketType {
    type Error = u8;

    /// Converts a number `0..=6` (not a digit); the error hands the number back.
    fn try_from(n: u8) -> Result<Self, u8> {
        Self::from_u8(n).ok_or(n)
    }
}

impl From<PacketType> for u8 {
    fn from(t: PacketType) -> Self {
        t.as_u8()
    }
}

/// Why bytes are not an Engine.IO packet (a WebSocket message or a polling record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PacketError {
    /// The packet has no bytes at all (an empty WebSocket text message, an empty polling
    /// body, or an empty record between separators). An empty *message* is `4`.
    Empty,
    /// The first byte is not a type digit `0`–`6` (or, in a polling body, `b`).
    InvalidType {
        /// The offending first byte.
        found: u8,
    },
    /// The packet data is not UTF-8; `valid_up_to` is the offset in the data (after the type
    /// digit) of the first bad byte.
    InvalidUtf8 {
        /// Length of the valid UTF-8 prefix of the data.
        valid_up_to: usize,
    },
    /// A polling binary record (`b…`) whose base64 is malformed; offsets in the error are
    /// relative to the base64 text (after the `b`).
    InvalidBase64(crate::base64::DecodeError),
    /// An Engine.IO v3 polling record whose length prefix is missing, malformed, or does
    /// not match the bytes after it.
    InvalidLength,
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty engine.io packet"),
            Self::InvalidType { found } => {
                write!(f, "invalid engine.io packet type byte 0x{found:02x}")
            }
            Self::InvalidUtf8 { valid_up_to } => {
                write!(
                    f,
                    "engine.io packet data is not UTF-8 after {valid_up_to} bytes"
                )
            }
            Self::InvalidBase64(e) => write!(f, "engine.io binary record: {e}"),
            Self::InvalidLength => f.write_str("engine.io v3 record length does not match"),
        }
    }
}

impl core::error::Error for PacketError {}

/// A text packet: a type and UTF-8 data, borrowed.
///
/// On the wire it is the type digit followed by the data, with no separator (`4hello`).
/// Any type may carry data at this layer (`2probe`, `3probe`); whether data is allowed for a
/// type is for the session logic to decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TextPacket<'a> {
    packet_type: PacketType,
    data: &'a str,
}

impl<'a> TextPacket<'a> {
    /// A packet of type `packet_type` carrying `data` (may be empty).
    pub const fn new(packet_type: PacketType, data: &'a str) -> Self {
        Self { packet_type, data }
    }

    /// Decodes a text packet: a WebSocket text message, or one polling record that does not
    /// start with `b`.
    ///
    /// Empty input, a first byte other than `0`–`6`, and data that is not UTF-8 are errors.
    #[must_use = "decoding has no effect besides the result"]
    pub fn decode(bytes: &'a [u8]) -> Result<Self, PacketError> {
        let (&first, data) = bytes.split_first().ok_or(PacketError::Empty)?;
        let packet_type =
            PacketType::from_digit(first).ok_or(PacketError::InvalidType { found: first })?;
        let data = core::str::from_utf8(data).map_err(|e| PacketError::InvalidUtf8 {
            valid_up_to: e.valid_up_to(),
        })?;
        Ok(Self { packet_type, data })
    }

    /// Decodes a text packet that is already known to be UTF-8, such as a WebSocket text
    /// message the frame decoder validated; the same rules as [`decode`](Self::decode)
    /// without validating the data again.
    #[must_use = "decoding has no effect besides the result"]
    pub fn decode_str(text: &'a str) -> Result<Self, PacketError> {
        let &first = text.as_bytes().first().ok_or(PacketError::Empty)?;
        let packet_type =
            PacketType::from_digit(first).ok_or(PacketError::InvalidType { found: first })?;
        // The first byte is an ASCII digit, so the data starts on a character boundary.
        let data = text.get(1..).unwrap_or_default();
        Ok(Self { packet_type, data })
    }

    /// The packet type.
    pub const fn packet_type(&self) -> PacketType {
        self.packet_type
    }

    /// The data after the type digit (empty for a bare `2`, `probe` for `2probe`).
    pub const fn data(&self) -> &'a str {
        self.data
    }

    /// `true` when the data is exactly `probe` (the upgrade probe `2probe` / `3probe`).
    pub fn is_probe(&self) -> bool {
        self.data == "probe"
    }

    /// Encoded length: one digit plus the data bytes.
    pub const fn encoded_len(&self) -> usize {
        self.data.len().saturating_add(1)
    }

    /// Writes the type digit and the data into `out`; returns the length written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let mut w = Writer::new(out);
        self.write_to(&mut w);
        w.finish()
    }

    pub(super) fn write_to(&self, w: &mut Writer<'_>) {
        w.byte(self.packet_type.digit());
        w.put(self.data.as_bytes());
    }
}

/// One Engine.IO packet: text (any type), or a binary message.
///
/// Over WebSocket a text packet travels in a text message and a binary packet is the raw
/// bytes of a binary message (the type is implicitly `message`). Over polling a binary
/// packet is written `b` + base64 by [`PayloadWriter`](super::PayloadWriter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Packet<'a> {
    /// A text packet.
    Text(TextPacket<'a>),
    /// A binary `message` packet's bytes (possibly empty).
    Binary(&'a [u8]),
}

impl<'a> Packet<'a> {
    /// Decodes a WebSocket text message; see [`TextPacket::decode`].
    #[must_use = "decoding has no effect besides the result"]
    pub fn decode_ws_text(bytes: &'a [u8]) -> Result<Self, PacketError> {
        TextPacket::decode(bytes).map(Self::Text)
    }

    /// Decodes a WebSocket text message already validated as UTF-8 (what
    /// [`ws::Incoming::Text`](crate::ws::Incoming::Text) carries); see
    /// [`TextPacket::decode_str`].
    #[must_use = "decoding has no effect besides the result"]
    pub fn decode_ws_str(text: &'a str) -> Result<Self, PacketError> {
        TextPacket::decode_str(text).map(Self::Text)
    }

    /// Decodes a WebSocket binary message: always a binary `message` packet of those bytes.
    #[must_use = "decoding has no effect besides the result"]
    pub const fn decode_ws_binary(bytes: &'a [u8]) -> Self {
        Self::Binary(bytes)
    }

    /// The packet type (`Message` for binary packets).
    pub const fn packet_type(&self) -> PacketType {
        match self {
            Self::Text(t) => t.packet_type(),
            Self::Binary(_) => PacketType::Message,
        }
    }

    /// `true` for a binary packet: it goes in a WebSocket *binary* message.
    pub const fn is_binary(&self) -> bool {
        matches!(self, Self::Binary(_))
    }

    /// Length of the WebSocket message payload for this packet.
    pub const fn ws_len(&self) -> usize {
        match self {
            Self::Text(t) => t.encoded_len(),
            Self::Binary(b) => b.len(),
        }
    }

    /// Writes the WebSocket message payload (type digit + data, or the raw binary bytes)
    /// into `out`; returns the length written. Use [`Packet::is_binary`] to pick the opcode.
    pub fn encode_ws(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let mut w = Writer::new(out);
        match self {
            Self::Text(t) => t.write_to(&mut w),
            Self::Binary(b) => w.put(b),
        }
        w.finish()
    }

    /// Length of this packet as one polling record (without separator): the text form,
    /// or `b` + padded base64.
    pub const fn polling_len(&self) -> usize {
        match self {
            Self::Text(t) => t.encoded_len(),
            Self::Binary(b) => crate::base64::encoded_len(b.len()).saturating_add(1),
        }
    }
}

impl<'a> From<TextPacket<'a>> for Packet<'a> {
    fn from(t: TextPacket<'a>) -> Self {
        Self::Text(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_digits() {
        for (n, t) in PacketType::ALL.into_iter().enumerate() {
            let n = n as u8;
            assert_eq!(t.as_u8(), n);
            assert_eq!(u8::from(t), n);
            assert_eq!(t.digit(), b'0' + n);
            assert_eq!(PacketType::from_u8(n), Some(t));
            assert_eq!(PacketType::try_from(n), Ok(t));
            assert_eq!(PacketType::from_digit(b'0' + n), Some(t));
        }
        assert_eq!(PacketType::from_u8(7), None);
        assert_eq!(PacketType::try_from(200), Err(200));
        for b in (0..=255u8).filter(|b| !(b'0'..=b'6').contains(b)) {
            assert_eq!(PacketType::from_digit(b), None, "{b}");
        }
        assert_eq!(PacketType::Noop.name(), "noop");
        assert_eq!(PacketType::Open.name(), "open");
    }

    fn text(bytes: &[u8]) -> (PacketType, &str) {
        let p = TextPacket::decode(bytes).unwrap();
        (p.packet_type(), p.data())
    }

    #[test]
    fn protocol_a3_text_examples() {
        // `4hello` is 34 68 65 6c 6c 6f.
        assert_eq!(
            text(&[0x34, 0x68, 0x65, 0x6c, 0x6c, 0x6f]),
            (PacketType::Message, "hello")
        );
        let mut out = [0u8; 8];
        let n = TextPacket::new(PacketType::Message, "hello")
            .encode(&mut out)
            .unwrap();
        assert_eq!(&out[..n], &[0x34, 0x68, 0x65, 0x6c, 0x6c, 0x6f]);
        // A bare ping is the single byte 0x32.
        assert_eq!(text(&[0x32]), (PacketType::Ping, ""));
        let n = TextPacket::new(PacketType::Ping, "")
            .encode(&mut out)
            .unwrap();
        assert_eq!(&out[..n], &[0x32]);
        // Probes.
        let p = TextPacket::decode(b"2probe").unwrap();
        assert!(p.is_probe() && p.packet_type() == PacketType::Ping);
        let p = TextPacket::decode(b"3probe").unwrap();
        assert!(p.is_probe() && p.packet_type() == PacketType::Pong);
        assert!(!TextPacket::decode(b"3").unwrap().is_probe());
        // An empty message is valid; `4€` is 4 bytes.
        assert_eq!(text(b"4"), (PacketType::Message, ""));
        let p = TextPacket::new(PacketType::Message, "€");
        assert_eq!(p.encoded_len(), 4);
        let n = p.encode(&mut out).unwrap();
        assert_eq!(&out[..n], &[0x34, 0xe2, 0x82, 0xac]);
        // Every type, bare.
        for t in PacketType::ALL {
            assert_eq!(text(&[t.digit()]), (t, ""));
        }
        // The open packet is just a type-0 text packet here.
        let (t, d) = text(br#"0{"sid":"x"}"#);
        assert_eq!((t, d), (PacketType::Open, r#"{"sid":"x"}"#));
    }

    #[test]
    fn decode_str_agrees_with_decode() {
        for text in [
            "4hello", "2", "2probe", "4", "4€", "1x", "", "abc", "7", "b",
        ] {
            assert_eq!(
                TextPacket::decode_str(text),
                TextPacket::decode(text.as_bytes()),
                "{text:?}"
            );
            assert_eq!(
                Packet::decode_ws_str(text),
                Packet::decode_ws_text(text.as_bytes())
            );
        }
    }

    #[test]
    fn malformed_text() {
        assert_eq!(TextPacket::decode(b""), Err(PacketError::Empty));
        assert_eq!(
            TextPacket::decode(b"abc"),
            Err(PacketError::InvalidType { found: b'a' })
        );
        assert_eq!(
            TextPacket::decode(b"7"),
            Err(PacketError::InvalidType { found: b'7' })
        );
        assert_eq!(
            TextPacket::decode(b"/"),
            Err(PacketError::InvalidType { found: b'/' })
        );
        // `b` is binary only in polling bodies; on WebSocket it is an invalid type.
        assert_eq!(
            Packet::decode_ws_text(b"bAQID"),
            Err(PacketError::InvalidType { found: b'b' })
        );
        assert_eq!(
            TextPacket::decode(b"4ab\xffc"),
            Err(PacketError::InvalidUtf8 { valid_up_to: 2 })
        );
        // A truncated multi-byte character.
        assert_eq!(
            TextPacket::decode(&[b'4', 0xe2, 0x82]),
            Err(PacketError::InvalidUtf8 { valid_up_to: 0 })
        );
    }

    #[test]
    fn ws_forms() {
        let bin = Packet::decode_ws_binary(&[1, 2, 3]);
        assert_eq!(bin, Packet::Binary(&[1, 2, 3]));
        assert!(bin.is_binary());
        assert_eq!(bin.packet_type(), PacketType::Message);
        assert_eq!(bin.ws_len(), 3);
        assert_eq!(bin.polling_len(), 5); // bAQID
        let mut out = [0u8; 8];
        assert_eq!(bin.encode_ws(&mut out), Ok(3));
        assert_eq!(&out[..3], &[1, 2, 3]);
        assert_eq!(
            bin.encode_ws(&mut out[..2]),
            Err(BufferTooSmall { required: 3 })
        );

        let t = Packet::decode_ws_text(b"3probe").unwrap();
        assert!(!t.is_binary());
        assert_eq!(t.packet_type(), PacketType::Pong);
        assert_eq!(t.ws_len(), 6);
        assert_eq!(t.encode_ws(&mut out), Ok(6));
        assert_eq!(&out[..6], b"3probe");
        assert_eq!(
            t.encode_ws(&mut out[..5]),
            Err(BufferTooSmall { required: 6 })
        );
        assert_eq!(Packet::decode_ws_binary(&[]).ws_len(), 0);
    }

    #[test]
    fn round_trip_random() {
        let mut rng = crate::testutil::Rng::new(41);
        let mut data = [0u8; 64];
        let mut out = [0u8; 80];
        for _ in 0..3000 {
            let len = rng.below(data.len());
            for b in &mut data[..len] {
                *b = rng.pick("aZ0 {}\"\\\x1e\x00".as_bytes());
            }
            let s = core::str::from_utf8(&data[..len]).unwrap();
            let t = PacketType::ALL[rng.below(7)];
            let p = Packet::Text(TextPacket::new(t, s));
            let n = p.encode_ws(&mut out).unwrap();
            assert_eq!(n, p.ws_len());
            assert_eq!(Packet::decode_ws_text(&out[..n]), Ok(p));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = crate::testutil::Rng::new(43);
        let mut input = [0u8; 24];
        for _ in 0..5000 {
            let len = rng.below(input.len() + 1);
            rng.fill(&mut input[..len]);
            if let Some(b) = input.first_mut()
                && rng.below(2) == 0
            {
                *b = b'0' + (*b % 8);
            }
            if let Ok(p) = TextPacket::decode(&input[..len]) {
                assert_eq!(p.encoded_len(), len);
            }
        }
    }
}
