//! Engine.IO v3 polling payloads (`EIO=3`, spoken by socket.io 2.x clients and servers;
//! PROTOCOL.md part C), feature `eio3`.
//!
//! A v3 polling body comes in one of two framings:
//!
//! * text: each packet preceded by its length and a colon, `<length>:<packet>`, the length
//!   counted in UTF-16 code units as JavaScript counts a string (`€` is 1, `😀` is 2);
//!   binary packets as `b4<base64>` (`6:4hello2:b4AQID` is not valid, `6:4hello8:b4AQIDBA==`
//!   is); an empty record (`0:`) is skipped;
//! * binary (XHR2, a body sent as `application/octet-stream`): each packet as a byte `0`
//!   (text) or `1` (binary), its length in bytes as one byte per decimal digit, the byte
//!   `0xFF`, then the packet: the UTF-8 text packet, or the type byte `4` and the data.
//!
//! [`V3Payload`] reads either (the first byte tells which); [`V3PayloadWriter`] writes the
//! text framing, which every v3 peer reads whether or not it asked for binary.
//!
//! ```
//! use siocore::engine::v3::{V3Payload, V3PayloadWriter, V3Record};
//! use siocore::engine::{Packet, PacketType, TextPacket};
//!
//! let mut body = [0u8; 64];
//! let mut w = V3PayloadWriter::new(&mut body);
//! w.push(Packet::Text(TextPacket::new(PacketType::Message, "€")))?;
//! w.push(Packet::Binary(&[1, 2, 3]))?;
//! assert_eq!(w.as_bytes(), "2:4€6:b4AQID".as_bytes());
//!
//! let mut records = V3Payload::new("2:4€6:b4AQID".as_bytes());
//! assert!(matches!(records.next(), Some(Ok(V3Record::Text(p))) if p.data() == "€"));
//! assert!(matches!(records.next(), Some(Ok(V3Record::Base64(b))) if b.decoded_len() == 3));
//! assert!(records.next().is_none());
//!
//! // The binary framing: `0`, `2` (the length's digit), `0xFF`, `4a`; then `1`, `4`, `0xFF`,
//! // the type byte 4 and three bytes of data.
//! let xhr2 = [0, 2, 0xff, b'4', b'a', 1, 4, 0xff, 4, 1, 2, 3];
//! let mut records = V3Payload::new(&xhr2);
//! assert!(matches!(records.next(), Some(Ok(V3Record::Text(p))) if p.data() == "a"));
//! assert!(matches!(records.next(), Some(Ok(V3Record::Binary(&[1, 2, 3])))));
//! assert!(records.next().is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::packet::{Packet, PacketError, TextPacket};
use super::payload::{Base64Data, PayloadWriteError};
use crate::BufferTooSmall;
use crate::base64;
use crate::write::Writer;

/// Most decimal digits of a record length (the lengths of a body that fits in memory).
const MAX_DIGITS: usize = 10;

/// The type byte of a binary message in a v3 binary record or WebSocket binary frame.
pub const BINARY_MESSAGE_TYPE: u8 = 4;

/// One record of a v3 polling body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum V3Record<'a> {
    /// A text packet.
    Text(TextPacket<'a>),
    /// A binary message of the text framing (`b4<base64>`), still encoded.
    Base64(Base64Data<'a>),
    /// A binary message of the binary framing: its bytes, after the type byte.
    Binary(&'a [u8]),
}

impl V3Record<'_> {
    /// The size of what the record carries: the text packet's bytes, or the binary data's.
    pub const fn len(&self) -> usize {
        match self {
            Self::Text(t) => t.encoded_len(),
            Self::Base64(b) => b.decoded_len(),
            Self::Binary(b) => b.len(),
        }
    }

    /// Whether the record carries nothing (never: a text packet has its type).
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Iterator over the records of a v3 polling body, in either framing.
///
/// After the first error the iterator ends; [`V3Payload::offset`] then gives the offset
/// of the bad record. Work is linear in the body.
#[derive(Debug, Clone)]
#[must_use = "iterators are lazy"]
pub struct V3Payload<'a> {
    body: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> V3Payload<'a> {
    /// Reads `body`. An empty body has no records.
    pub const fn new(body: &'a [u8]) -> Self {
        Self {
            body,
            offset: 0,
            failed: false,
        }
    }

    /// Offset in the body of the next record (of the bad one after an error).
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// The next text-framed record at `rest`: `(record or None when empty, bytes used)`.
    fn text_record(rest: &'a [u8]) -> Result<(Option<V3Record<'a>>, usize), PacketError> {
        let colon = rest
            .iter()
            .take(MAX_DIGITS + 1)
            .position(|&b| b == b':')
            .ok_or(PacketError::InvalidLength)?;
        let units = parse_digits(rest.get(..colon).unwrap_or_default(), |b| {
            b.is_ascii_digit().then(|| usize::from(b - b'0'))
        })?;
        let start = colon + 1;
        let len = utf16_prefix(rest.get(start..).unwrap_or_default(), units)?;
        let msg = rest.get(start..start + len).unwrap_or_default();
        let record = match msg {
            [] => None,
            [b'b', t, encoded @ ..] if *t == b'0' + BINARY_MESSAGE_TYPE => Some(V3Record::Base64(
                Base64Data::new(encoded).map_err(PacketError::InvalidBase64)?,
            )),
            [b'b', found, ..] => return Err(PacketError::InvalidType { found: *found }),
            _ => Some(V3Record::Text(TextPacket::decode(msg)?)),
        };
        Ok((record, start + len))
    }

    /// The next binary-framed record at `rest` (which starts with `0` or `1`).
    fn binary_record(rest: &'a [u8]) -> Result<(V3Record<'a>, usize), PacketError> {
        let (&kind, after) = rest.split_first().ok_or(PacketError::Empty)?;
        let end = after
            .iter()
            .take(MAX_DIGITS + 1)
            .position(|&b| b == 0xFF)
            .ok_or(PacketError::InvalidLength)?;
        let len = parse_digits(after.get(..end).unwrap_or_default(), |b| {
            (b <= 9).then_some(usize::from(b))
        })?;
        let start = 1 + end + 1;
        let msg = rest
            .get(start..start.saturating_add(len))
            .ok_or(PacketError::InvalidLength)?;
        let record = if kind == 0 {
            V3Record::Text(TextPacket::decode(msg)?)
        } else {
            match msg.split_first() {
                Some((&BINARY_MESSAGE_TYPE, data)) => V3Record::Binary(data),
                Some((&found, _)) => return Err(PacketError::InvalidType { found }),
                None => return Err(PacketError::Empty),
            }
        };
        Ok((record, start + len))
    }
}

impl<'a> Iterator for V3Payload<'a> {
    type Item = Result<V3Record<'a>, PacketError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.failed {
                return None;
            }
            let rest = self.body.get(self.offset..).filter(|r| !r.is_empty())?;
            let binary = matches!(self.body.first(), Some(0 | 1));
            let step = if binary {
                Self::binary_record(rest).map(|(r, n)| (Some(r), n))
            } else {
                Self::text_record(rest)
            };
            match step {
                Ok((record, n)) => {
                    self.offset += n;
                    if let Some(r) = record {
                        return Some(Ok(r));
                    }
                }
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// A decimal number of 1 to [`MAX_DIGITS`] digits, each read by `digit`.
fn parse_digits(bytes: &[u8], digit: impl Fn(u8) -> Option<usize>) -> Result<usize, PacketError> {
    if bytes.is_empty() || bytes.len() > MAX_DIGITS {
        return Err(PacketError::InvalidLength);
    }
    bytes.iter().try_fold(0usize, |n, &b| {
        let d = digit(b).ok_or(PacketError::InvalidLength)?;
        n.checked_mul(10)
            .and_then(|n| n.checked_add(d))
            .ok_or(PacketError::InvalidLength)
    })
}

/// The number of bytes of `utf8` that make `units` UTF-16 code units: an error when it has
/// fewer, or when the count ends inside a character of two units.
fn utf16_prefix(utf8: &[u8], units: usize) -> Result<usize, PacketError> {
    let (mut bytes, mut counted) = (0usize, 0usize);
    while counted < units {
        let &lead = utf8.get(bytes).ok_or(PacketError::InvalidLength)?;
        let (width, n) = match lead {
            0x00..=0x7F => (1, 1),
            0xC0..=0xDF => (2, 1),
            0xE0..=0xEF => (3, 1),
            0xF0..=0xF7 => (4, 2),
            _ => return Err(PacketError::InvalidUtf8 { valid_up_to: bytes }),
        };
        bytes += width;
        counted += n;
    }
    if counted != units || bytes > utf8.len() {
        return Err(PacketError::InvalidLength);
    }
    Ok(bytes)
}

/// The length of `text` in UTF-16 code units (JavaScript's `length`).
pub fn utf16_len(text: &[u8]) -> usize {
    text.iter()
        .map(|&b| match b {
            0x80..=0xBF => 0,
            0xF0..=0xFF => 2,
            _ => 1,
        })
        .sum()
}

/// Writes the `<length>:` that starts a text-framed record of `units` UTF-16 code units;
/// returns how many bytes that is (at most 11).
pub fn write_length(units: usize, out: &mut [u8; MAX_DIGITS + 1]) -> usize {
    let mut digits = [0u8; MAX_DIGITS];
    let mut n = 0;
    let mut v = units;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 || n == MAX_DIGITS {
            break;
        }
    }
    for (i, d) in digits[..n].iter().rev().enumerate() {
        out[i] = *d;
    }
    out[n] = b':';
    n + 1
}

/// Batches packets into a v3 polling body in the text framing (binary as `b4<base64>`).
/// A packet that does not fit is refused whole and leaves the body as it was.
#[derive(Debug)]
pub struct V3PayloadWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> V3PayloadWriter<'b> {
    /// An empty body at the start of `buf`.
    pub const fn new(buf: &'b mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// Appends one packet; on error nothing changes.
    pub fn push(&mut self, packet: Packet<'_>) -> Result<(), PayloadWriteError> {
        let mut head = [0u8; MAX_DIGITS + 1];
        let (units, body) = match packet {
            Packet::Text(t) => {
                let units = 1 + utf16_len(t.data().as_bytes());
                (units, t.encoded_len())
            }
            Packet::Binary(b) => {
                let units = 2 + base64::encoded_len(b.len());
                (units, units)
            }
        };
        let h = write_length(units, &mut head);
        let required = self.len.saturating_add(h).saturating_add(body);
        let Some(dst) = self.buf.get_mut(self.len..required) else {
            return Err(BufferTooSmall { required }.into());
        };
        let mut w = Writer::new(dst);
        w.put(&head[..h]);
        match packet {
            Packet::Text(t) => t.write_to(&mut w),
            Packet::Binary(b) => {
                w.put(&[b'b', b'0' + BINARY_MESSAGE_TYPE]);
                base64::encode_to(b, &mut w);
            }
        }
        debug_assert_eq!(w.finish(), Ok(required - self.len));
        self.len = required;
        Ok(())
    }

    /// The body written so far.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::PacketType;

    fn records(body: &[u8]) -> Result<std::vec::Vec<V3Record<'_>>, PacketError> {
        V3Payload::new(body).collect()
    }

    extern crate std;

    #[test]
    fn text_framing_counts_utf16_units() {
        // `€` is 3 bytes and 1 unit; `😀` is 4 bytes and 2 units.
        let body = "4:4€😀1:2".as_bytes();
        let r = records(body).unwrap();
        assert_eq!(r.len(), 2);
        assert!(matches!(r[0], V3Record::Text(t) if t.data() == "€😀"));
        assert!(matches!(r[1], V3Record::Text(t) if t.packet_type() == PacketType::Ping));
        // One unit short ends inside `😀`; one too many runs past the body.
        assert_eq!(
            records("3:4€😀".as_bytes()).unwrap_err(),
            PacketError::InvalidLength
        );
        assert_eq!(
            records("5:4€😀".as_bytes()).unwrap_err(),
            PacketError::InvalidLength
        );
    }

    #[test]
    fn empty_records_are_skipped_and_bad_lengths_refused() {
        assert!(records(b"0:").unwrap().is_empty());
        assert_eq!(records(b"0:1:6").unwrap().len(), 1);
        for bad in [&b":4a"[..], b"x:4a", b"2;4a", b"99999999999:4", b"1:"] {
            assert!(records(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            records(b"2:b3").unwrap_err(),
            PacketError::InvalidType { found: b'3' }
        );
        assert!(matches!(
            records(b"3:b4!").unwrap_err(),
            PacketError::InvalidBase64(_)
        ));
    }

    #[test]
    fn binary_framing() {
        let body = [
            0, 1, 0, 0xff, b'4', b'0', b'1', b'2', b'3', b'4', b'5', b'6', b'7', b'8',
        ];
        let r = records(&body).unwrap();
        assert!(matches!(r[0], V3Record::Text(t) if t.data() == "012345678"));
        assert!(records(&[1, 1, 0xff, 4]).unwrap() == [V3Record::Binary(&[])]);
        // Not the message type; no 0xFF; a digit byte above 9; short data.
        for bad in [
            &[1u8, 2, 0xff, 3, 0][..],
            &[0, 1, 2],
            &[0, 10, 0xff],
            &[0, 5, 0xff, b'4'],
        ] {
            assert!(records(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_writer_reads_back() {
        let mut out = [0u8; 64];
        let mut w = V3PayloadWriter::new(&mut out);
        w.push(Packet::Text(TextPacket::new(PacketType::Message, "😀é")))
            .unwrap();
        w.push(Packet::Binary(&[0xca, 0xfe])).unwrap();
        w.push(Packet::Text(TextPacket::new(PacketType::Pong, "")))
            .unwrap();
        assert_eq!(w.as_bytes(), "4:4😀é6:b4yv4=1:3".as_bytes());
        let r = records(w.as_bytes()).unwrap();
        assert_eq!(r.len(), 3);
        let mut small = [0u8; 4];
        let mut w = V3PayloadWriter::new(&mut small);
        assert_eq!(
            w.push(Packet::Text(TextPacket::new(PacketType::Message, "abc"))),
            Err(BufferTooSmall { required: 6 }.into())
        );
        assert!(w.as_bytes().is_empty());
    }

    #[test]
    fn lengths() {
        let mut head = [0u8; 11];
        let n = write_length(0, &mut head);
        assert_eq!(&head[..n], b"0:");
        let n = write_length(1_234_567, &mut head);
        assert_eq!(&head[..n], b"1234567:");
        assert_eq!(utf16_len("a€😀".as_bytes()), 4);
    }
}
