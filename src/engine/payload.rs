//! Polling payloads: packets joined by `0x1E` (PROTOCOL.md A.4).

use core::fmt;

use super::packet::{Packet, PacketError, PacketType, TextPacket};
use crate::BufferTooSmall;
use crate::base64::{self, DecodeError};
use crate::write::Writer;

/// The byte that separates packets in a polling body (ASCII record separator).
pub const RECORD_SEPARATOR: u8 = 0x1E;

/// The prefix of a binary record in a polling body.
const BINARY_PREFIX: u8 = b'b';

fn is_base64_symbol(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// Validated standard base64 text of a binary message, borrowed from a polling body.
///
/// Construction checks the length, the padding and the alphabet, so decoding can only fail
/// for a short output buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Base64Data<'a> {
    encoded: &'a [u8],
    decoded_len: usize,
}

impl<'a> Base64Data<'a> {
    /// Checks `encoded` (the text after `b`): padded, or unpadded with a length that is not
    /// 1 modulo 4, and only alphabet bytes before the padding.
    #[must_use = "validation has no effect besides the result"]
    pub fn new(encoded: &'a [u8]) -> Result<Self, DecodeError> {
        let decoded_len = base64::decoded_len(encoded)?;
        // `decoded_len` accepted at most two trailing `=`; everything before must be alphabet.
        let pad = encoded.iter().rev().take_while(|&&b| b == b'=').count();
        let (symbols, _) = encoded.split_at(encoded.len().saturating_sub(pad));
        if let Some(offset) = symbols.iter().position(|&b| !is_base64_symbol(b)) {
            return Err(DecodeError::InvalidByte { offset });
        }
        Ok(Self {
            encoded,
            decoded_len,
        })
    }

    /// The base64 text as received (without the `b`).
    pub const fn encoded(&self) -> &'a [u8] {
        self.encoded
    }

    /// Number of bytes the data decodes to.
    pub const fn decoded_len(&self) -> usize {
        self.decoded_len
    }

    /// Decodes into `out`; returns the number of bytes written ([`Self::decoded_len`]).
    pub fn decode_into(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        match base64::decode(self.encoded, out) {
            Ok(n) => Ok(n),
            Err(DecodeError::OutputTooSmall(e)) => Err(e),
            // Ruled out by the validation in `new`; reported as a size problem rather than
            // a panic should that reasoning ever be wrong.
            Err(_) => {
                debug_assert!(false, "validated base64 failed to decode");
                Err(BufferTooSmall {
                    required: self.decoded_len,
                })
            }
        }
    }
}

/// One record of a polling body: a text packet, or a binary message as base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Record<'a> {
    /// A text packet (`<digit><data>`).
    Text(TextPacket<'a>),
    /// A binary message (`b<base64>`), still encoded.
    Binary(Base64Data<'a>),
}

impl<'a> Record<'a> {
    /// Decodes one record (the bytes between separators).
    #[must_use = "decoding has no effect besides the result"]
    pub fn decode(bytes: &'a [u8]) -> Result<Self, PacketError> {
        match bytes.split_first() {
            Some((&BINARY_PREFIX, encoded)) => Base64Data::new(encoded)
                .map(Self::Binary)
                .map_err(PacketError::InvalidBase64),
            _ => TextPacket::decode(bytes).map(Self::Text),
        }
    }

    /// The packet type (`Message` for binary records).
    pub const fn packet_type(&self) -> PacketType {
        match self {
            Self::Text(t) => t.packet_type(),
            Self::Binary(_) => PacketType::Message,
        }
    }

    /// The record as a [`Packet`], decoding binary data into `scratch`.
    pub fn to_packet<'s>(&self, scratch: &'s mut [u8]) -> Result<Packet<'s>, BufferTooSmall>
    where
        'a: 's,
    {
        match self {
            Self::Text(t) => Ok(Packet::Text(*t)),
            Self::Binary(b) => {
                let n = b.decode_into(scratch)?;
                let (bytes, _) = scratch.split_at(n);
                Ok(Packet::Binary(bytes))
            }
        }
    }
}

/// Iterator over the records of a polling body (HTTP GET response or POST request).
///
/// Records are separated by [`RECORD_SEPARATOR`], with none before the first or after the
/// last. Each item is one decoded [`Record`]. An empty record (an empty body, `4\x1e\x1e2`,
/// or a leading or trailing separator) is [`PacketError::Empty`]. After the first error the
/// iterator ends; [`Payload::offset`] then gives the offset of the bad record.
///
/// Work is linear in the body: each byte is looked at once by the separator search and once
/// by the record decoder.
#[derive(Debug, Clone)]
#[must_use = "iterators are lazy"]
pub struct Payload<'a> {
    rest: Option<&'a [u8]>,
    offset: usize,
}

impl<'a> Payload<'a> {
    /// Records of `body`.
    pub const fn new(body: &'a [u8]) -> Self {
        Self {
            rest: Some(body),
            offset: 0,
        }
    }

    /// Offset in the body of the next record to read (the body length once all records
    /// were read; the failing record's offset after an error).
    pub const fn offset(&self) -> usize {
        self.offset
    }
}

impl<'a> Iterator for Payload<'a> {
    type Item = Result<Record<'a>, PacketError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest?;
        let (record, next) = match rest.iter().position(|&b| b == RECORD_SEPARATOR) {
            Some(i) => {
                let (record, tail) = rest.split_at(i);
                // `tail` starts with the separator.
                (record, tail.get(1..))
            }
            None => (rest, None),
        };
        let item = Record::decode(record);
        if item.is_ok() {
            self.rest = next;
            let step = record.len().saturating_add(usize::from(next.is_some()));
            self.offset = self.offset.saturating_add(step);
        } else {
            self.rest = None;
        }
        Some(item)
    }
}

impl core::iter::FusedIterator for Payload<'_> {}

/// Why a packet could not be appended to a polling body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayloadWriteError {
    /// The buffer cannot hold the body with this packet; `required` is the whole body's
    /// length with it. What was written before is intact.
    BufferTooSmall(BufferTooSmall),
    /// The text data contains the record separator `0x1E`, which would split it into two
    /// records on the other side.
    SeparatorInData,
}

impl fmt::Display for PayloadWriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooSmall(e) => e.fmt(f),
            Self::SeparatorInData => f.write_str("packet data contains the record separator 0x1e"),
        }
    }
}

impl core::error::Error for PayloadWriteError {}

impl From<BufferTooSmall> for PayloadWriteError {
    fn from(e: BufferTooSmall) -> Self {
        Self::BufferTooSmall(e)
    }
}

/// Appends packets to a polling body in a caller buffer, separated by `0x1E`.
///
/// A server batches its queued packets into one GET response with it; a client batches a
/// POST (give it a buffer of at most the server's `maxPayload` bytes to respect the limit).
/// A packet that does not fit is refused whole and leaves the body as it was, so the caller
/// can send what was written and keep the rest for the next response.
/// Binary packets are written `b` + padded standard base64.
///
/// A body needs at least one packet: an empty body is not a valid payload.
#[derive(Debug)]
pub struct PayloadWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
    count: usize,
}

impl<'b> PayloadWriter<'b> {
    /// An empty body at the start of `buf`.
    pub const fn new(buf: &'b mut [u8]) -> Self {
        Self {
            buf,
            len: 0,
            count: 0,
        }
    }

    /// Body length if `packet` were appended now (separator included).
    pub const fn len_with(&self, packet: &Packet<'_>) -> usize {
        let sep = if self.count > 0 { 1 } else { 0 };
        self.len
            .saturating_add(sep)
            .saturating_add(packet.polling_len())
    }

    /// `true` when `packet` fits in the remaining space.
    pub const fn fits(&self, packet: &Packet<'_>) -> bool {
        self.len_with(packet) <= self.buf.len()
    }

    /// Appends `packet`, preceded by a separator unless it is the first.
    ///
    /// On error nothing changes.
    pub fn push(&mut self, packet: Packet<'_>) -> Result<(), PayloadWriteError> {
        if let Packet::Text(t) = &packet
            && t.data().as_bytes().contains(&RECORD_SEPARATOR)
        {
            return Err(PayloadWriteError::SeparatorInData);
        }
        let required = self.len_with(&packet);
        let Some(dst) = self.buf.get_mut(self.len..required) else {
            return Err(BufferTooSmall { required }.into());
        };
        let mut w = Writer::new(dst);
        if self.count > 0 {
            w.byte(RECORD_SEPARATOR);
        }
        match packet {
            Packet::Text(t) => t.write_to(&mut w),
            Packet::Binary(b) => {
                w.byte(BINARY_PREFIX);
                base64::encode_to(b, &mut w);
            }
        }
        // `dst` was sized by `len_with`, which counts exactly what was just written.
        debug_assert_eq!(w.finish(), Ok(required - self.len));
        self.len = required;
        self.count += 1;
        Ok(())
    }

    /// Bytes written so far.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// `true` before the first packet.
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Number of packets written.
    pub const fn packet_count(&self) -> usize {
        self.count
    }

    /// Size of the buffer.
    pub const fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// The body written so far.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// Forgets what was written, to start a new body in the same buffer.
    pub const fn clear(&mut self) {
        self.len = 0;
        self.count = 0;
    }

    /// Ends writing; returns the body length.
    pub const fn finish(self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;

    fn text(t: PacketType, data: &str) -> Packet<'_> {
        Packet::Text(TextPacket::new(t, data))
    }

    /// Decodes every record of `body` into owned-like stack storage for comparison.
    fn expect_records(body: &[u8], expected: &[Packet<'_>]) {
        let mut payload = Payload::new(body);
        for want in expected {
            let rec = payload.next().expect("record").expect("valid");
            let mut scratch = [0u8; 512];
            assert_eq!(rec.to_packet(&mut scratch).unwrap(), *want);
            assert_eq!(rec.packet_type(), want.packet_type());
        }
        assert!(payload.next().is_none());
        assert_eq!(payload.offset(), body.len());
    }

    #[test]
    fn protocol_a4_example() {
        // `4hi` + `2` + bytes ca fe -> 34 68 69 1e 32 1e 62 79 76 34 3d
        let wire = [
            0x34, 0x68, 0x69, 0x1e, 0x32, 0x1e, 0x62, 0x79, 0x76, 0x34, 0x3d,
        ];
        let packets = [
            text(PacketType::Message, "hi"),
            text(PacketType::Ping, ""),
            Packet::Binary(&[0xca, 0xfe]),
        ];
        let mut buf = [0u8; 32];
        let mut w = PayloadWriter::new(&mut buf);
        for p in packets {
            w.push(p).unwrap();
        }
        assert_eq!(w.as_bytes(), &wire);
        assert_eq!(w.packet_count(), 3);
        assert_eq!(w.finish(), 11);
        expect_records(&wire, &packets);

        let mut it = Payload::new(&wire);
        assert!(matches!(it.next(), Some(Ok(Record::Text(_)))));
        assert_eq!(it.offset(), 4);
        assert!(matches!(it.next(), Some(Ok(Record::Text(_)))));
        assert_eq!(it.offset(), 6);
        let Some(Ok(Record::Binary(b))) = it.next() else {
            panic!("binary record")
        };
        assert_eq!(b.encoded(), b"yv4=");
        assert_eq!(b.decoded_len(), 2);
        let mut out = [0u8; 2];
        assert_eq!(b.decode_into(&mut out), Ok(2));
        assert_eq!(out, [0xca, 0xfe]);
        assert_eq!(
            b.decode_into(&mut out[..1]),
            Err(BufferTooSmall { required: 2 })
        );
    }

    #[test]
    fn protocol_a3_binary_examples() {
        for (bytes, wire) in [
            (&[1u8, 2, 3][..], &b"bAQID"[..]),
            (&[0xde, 0xad, 0xbe, 0xef], b"b3q2+7w=="),
        ] {
            let mut buf = [0u8; 16];
            let mut w = PayloadWriter::new(&mut buf);
            let p = Packet::Binary(bytes);
            assert_eq!(w.len_with(&p), wire.len());
            w.push(p).unwrap();
            assert_eq!(w.as_bytes(), wire);
            expect_records(wire, &[p]);
        }
    }

    #[test]
    fn appendix_echo_body() {
        // POST `4\x1e6\x1e4€`: empty message, noop, message "€"; 8 bytes.
        let body = "4\u{1e}6\u{1e}4€".as_bytes();
        assert_eq!(body.len(), 8);
        let packets = [
            text(PacketType::Message, ""),
            text(PacketType::Noop, ""),
            text(PacketType::Message, "€"),
        ];
        expect_records(body, &packets);
        let mut buf = [0u8; 8];
        let mut w = PayloadWriter::new(&mut buf);
        for p in packets {
            w.push(p).unwrap();
        }
        assert_eq!(w.as_bytes(), body);
        // The echoed reply `4\x1e4€` is 8 bytes too.
        let mut buf = [0u8; 8];
        let mut w = PayloadWriter::new(&mut buf);
        w.push(packets[0]).unwrap();
        w.push(packets[2]).unwrap();
        assert_eq!(w.as_bytes(), "4\u{1e}4€".as_bytes());
        assert_eq!(w.len(), 6);
        // `4€` alone counts 4 bytes.
        assert_eq!(packets[2].polling_len(), 4);
    }

    #[test]
    fn malformed_payloads() {
        let first_err = |body: &[u8]| -> (PacketError, usize) {
            let mut it = Payload::new(body);
            for item in it.by_ref() {
                if let Err(e) = item {
                    assert!(it.next().is_none(), "fused after error");
                    return (e, it.offset());
                }
            }
            panic!("no error in {body:?}");
        };
        assert_eq!(first_err(b""), (PacketError::Empty, 0));
        assert_eq!(first_err(b"4a\x1e\x1e2"), (PacketError::Empty, 3));
        assert_eq!(first_err(b"\x1e4"), (PacketError::Empty, 0));
        assert_eq!(first_err(b"4\x1e"), (PacketError::Empty, 2));
        assert_eq!(first_err(b"\x1e"), (PacketError::Empty, 0));
        assert_eq!(
            first_err(b"4\x1ex"),
            (PacketError::InvalidType { found: b'x' }, 2)
        );
        assert_eq!(
            first_err(b"4\x1e4\xc3"),
            (PacketError::InvalidUtf8 { valid_up_to: 0 }, 2)
        );
        assert_eq!(
            first_err(b"b3q2*7w=="),
            (
                PacketError::InvalidBase64(DecodeError::InvalidByte { offset: 3 }),
                0
            )
        );
        assert_eq!(
            first_err(b"4\x1ebA"),
            (PacketError::InvalidBase64(DecodeError::InvalidLength), 2)
        );
        assert_eq!(
            first_err(b"bAQ=D"),
            (
                PacketError::InvalidBase64(DecodeError::InvalidByte { offset: 2 }),
                0
            )
        );
        // The v3 typed-binary form `b4AQID` has an impossible base64 length.
        assert_eq!(
            first_err(b"b4AQID"),
            (PacketError::InvalidBase64(DecodeError::InvalidLength), 0)
        );
        assert_eq!(
            first_err(b"bA==="),
            (PacketError::InvalidBase64(DecodeError::InvalidLength), 0)
        );
        assert_eq!(
            first_err(b"bAQ\xe2\x82\xacA"),
            (
                PacketError::InvalidBase64(DecodeError::InvalidByte { offset: 2 }),
                0
            )
        );
    }

    #[test]
    fn lenient_forms() {
        // An empty binary message and unpadded base64 are accepted.
        expect_records(b"b", &[Packet::Binary(&[])]);
        expect_records(
            b"bAQ\x1ebyv4",
            &[Packet::Binary(&[1]), Packet::Binary(&[0xca, 0xfe])],
        );
        // A v3 length-prefixed body is not recognised at this layer: `6:4hello` reads as a
        // noop carrying `:4hello`, which the session logic refuses.
        expect_records(b"6:4hello", &[text(PacketType::Noop, ":4hello")]);
    }

    #[test]
    fn writer_refuses_without_damage() {
        let mut buf = [0u8; 11];
        let mut w = PayloadWriter::new(&mut buf);
        let hello = text(PacketType::Message, "hello");
        assert!(w.fits(&hello));
        w.push(hello).unwrap();
        assert_eq!(w.len_with(&hello), 13);
        assert!(!w.fits(&hello));
        assert_eq!(
            w.push(hello),
            Err(PayloadWriteError::BufferTooSmall(BufferTooSmall {
                required: 13
            }))
        );
        assert_eq!(
            w.push(Packet::Binary(&[1, 2, 3, 4])),
            Err(PayloadWriteError::BufferTooSmall(BufferTooSmall {
                required: 16
            }))
        );
        assert_eq!(w.as_bytes(), b"4hello");
        assert_eq!(w.packet_count(), 1);
        // A smaller packet still fits: exactly to the end.
        w.push(text(PacketType::Ping, "abc")).unwrap();
        assert_eq!(w.as_bytes(), b"4hello\x1e2abc");
        assert_eq!(w.len(), 11);
        assert_eq!(w.capacity(), 11);
        w.push(text(PacketType::Noop, "")).unwrap_err();
        assert_eq!(w.as_bytes(), b"4hello\x1e2abc");
        // Data with the separator is refused.
        w.clear();
        assert!(w.is_empty());
        assert_eq!(
            w.push(text(PacketType::Message, "a\u{1e}b")),
            Err(PayloadWriteError::SeparatorInData)
        );
        assert_eq!(w.len(), 0);
        // A first packet larger than the buffer.
        let mut small = [0u8; 2];
        let mut w = PayloadWriter::new(&mut small);
        assert_eq!(
            w.push(Packet::Binary(&[1, 2, 3])),
            Err(PayloadWriteError::BufferTooSmall(BufferTooSmall {
                required: 5
            }))
        );
        assert_eq!(w.as_bytes(), b"");
    }

    /// Fills `data` with random text or binary content and returns a packet over it.
    fn random_packet<'d>(rng: &mut Rng, data: &'d mut [u8]) -> Packet<'d> {
        let len = rng.below(data.len() + 1);
        let data = &mut data[..len];
        if rng.below(3) == 0 {
            rng.fill(data);
            Packet::Binary(data)
        } else {
            for b in data.iter_mut() {
                *b = rng.pick(b"ab 0{\"}\\\x7f\x00\n");
            }
            let s = core::str::from_utf8(data).unwrap();
            Packet::Text(TextPacket::new(PacketType::ALL[rng.below(7)], s))
        }
    }

    #[test]
    fn round_trip_random_payloads() {
        let mut rng = Rng::new(2024);
        let mut storage = [[0u8; 40]; 8];
        let mut body = [0u8; 8 * 60];
        for _ in 0..3000 {
            let count = 1 + rng.below(storage.len());
            let mut packets = [Packet::Binary(&[]); 8];
            for (slot, data) in packets.iter_mut().zip(storage.iter_mut()).take(count) {
                *slot = random_packet(&mut rng, data);
            }
            let packets = &packets[..count];
            // Sometimes a buffer too small for all of them: the prefix that fits is intact.
            let cap = if rng.below(4) == 0 {
                rng.below(body.len())
            } else {
                body.len()
            };
            let mut w = PayloadWriter::new(&mut body[..cap]);
            let mut written = 0;
            for p in packets {
                let before = w.len();
                let expect = w.len_with(p);
                match w.push(*p) {
                    Ok(()) => {
                        assert_eq!(w.len(), expect);
                        written += 1;
                    }
                    Err(PayloadWriteError::BufferTooSmall(e)) => {
                        assert_eq!(e.required, expect);
                        assert_eq!(w.len(), before);
                        break;
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }
            let len = w.finish();
            if written == 0 {
                assert_eq!(len, 0);
                continue;
            }
            expect_records(&body[..len], &packets[..written]);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = Rng::new(99);
        let mut body = [0u8; 48];
        let mut scratch = [0u8; 48];
        for _ in 0..5000 {
            let len = rng.below(body.len() + 1);
            for b in &mut body[..len] {
                *b = rng.pick(b"0123456789bAQ+/=\x1e\xe2\x82\xac\xff");
            }
            let mut total = 0;
            let mut it = Payload::new(&body[..len]);
            for item in it.by_ref() {
                let Ok(rec) = item else { break };
                total += 1;
                if let Record::Binary(b) = rec {
                    assert_eq!(b.decode_into(&mut scratch), Ok(b.decoded_len()));
                }
                let _ = rec.to_packet(&mut scratch[..rng.below(4)]);
            }
            assert!(it.offset() <= len);
            assert!(total <= len);
            // Validation agrees with the decoder on every input.
            let input = &body[..len];
            let mut out = [0u8; 48];
            assert_eq!(
                Base64Data::new(input).map(|b| b.decoded_len()),
                base64::decode(input, &mut out)
            );
        }
    }
}
