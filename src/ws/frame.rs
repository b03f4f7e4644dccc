//! Frame headers (RFC 6455 section 5.2): the decoder, the encoders, and their errors.

use core::fmt;

use super::close::{CloseCode, CloseFrame, MAX_CLOSE_REASON};
use super::mask::apply_mask;
use crate::write::Writer;
use crate::{BufferTooSmall, Status};

/// Which end of the connection we are. Servers receive masked frames and send unmasked
/// ones; clients the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The accepting end.
    Server,
    /// The connecting end.
    Client,
}

impl Role {
    /// The mask to send frames with: `Some(key)` for a client, `None` for a server.
    ///
    /// A client must pass a fresh unpredictable key for every frame (RFC 6455 section 5.3).
    pub const fn outgoing_mask(self, key: [u8; 4]) -> Option<[u8; 4]> {
        match self {
            Self::Server => None,
            Self::Client => Some(key),
        }
    }
}

/// A frame opcode defined by RFC 6455; the reserved values are errors, not variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// `0x0`: a later fragment of a data message.
    Continuation,
    /// `0x1`: the first frame of a text message.
    Text,
    /// `0x2`: the first frame of a binary message.
    Binary,
    /// `0x8`: close.
    Close,
    /// `0x9`: ping.
    Ping,
    /// `0xA`: pong.
    Pong,
}

impl OpCode {
    /// The opcode for a 4-bit value, or `None` for a reserved one (3-7, 0xB-0xF, or > 0xF).
    pub const fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            _ => return None,
        })
    }

    /// The 4-bit wire value.
    pub const fn as_u8(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    /// `true` for close, ping and pong.
    pub const fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

/// The largest payload a control frame may carry.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The longest frame header: 2 bytes, a 64-bit length and a masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// A decoded frame header.
///
/// Reserved bits are always zero (no extension is negotiated), so they are not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The final-fragment bit.
    pub fin: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, when the mask bit is set.
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Decodes a header from the start of `input`, received by an endpoint in `role`.
    ///
    /// Returns the header and its length in bytes (the payload follows). Every strict
    /// prefix of a valid header is `Partial`; an error is reported as soon as the bytes
    /// seen prove it, even when the header is incomplete.
    ///
    /// Lengths must use the minimal encoding (RFC 6455 section 5.2 says "MUST"); a 16-bit
    /// length below 126 or a 64-bit length below 65536 is [`FrameError::NonMinimalLength`].
    /// The decoder does not check fragmentation order; [`MessageDecoder`] does.
    ///
    /// [`MessageDecoder`]: super::MessageDecoder
    #[must_use = "the decoded header or error is the result"]
    pub fn decode(input: &[u8], role: Role) -> Result<Status<(Self, usize)>, FrameError> {
        let Some((&b0, rest)) = input.split_first() else {
            return Ok(Status::Partial);
        };
        if b0 & 0x70 != 0 {
            return Err(FrameError::ReservedBits);
        }
        let Some(opcode) = OpCode::from_u8(b0 & 0x0F) else {
            return Err(FrameError::ReservedOpcode(b0 & 0x0F));
        };
        let fin = b0 & 0x80 != 0;
        if opcode.is_control() && !fin {
            return Err(FrameError::FragmentedControl);
        }
        let Some((&b1, rest)) = rest.split_first() else {
            return Ok(Status::Partial);
        };
        let masked = b1 & 0x80 != 0;
        match (role, masked) {
            (Role::Server, false) => return Err(FrameError::Unmasked),
            (Role::Client, true) => return Err(FrameError::Masked),
            _ => {}
        }
        let len7 = b1 & 0x7F;
        if opcode.is_control() && usize::from(len7) > MAX_CONTROL_PAYLOAD {
            return Err(FrameError::ControlTooLong);
        }
        let (payload_len, rest) = match len7 {
            126 => {
                let Some((len, rest)) = rest.split_first_chunk::<2>() else {
                    return Ok(Status::Partial);
                };
                let len = u16::from_be_bytes(*len);
                if len < 126 {
                    return Err(FrameError::NonMinimalLength);
                }
                (u64::from(len), rest)
            }
            127 => {
                if rest.first().is_some_and(|b| b & 0x80 != 0) {
                    return Err(FrameError::LengthTopBit);
                }
                let Some((len, rest)) = rest.split_first_chunk::<8>() else {
                    return Ok(Status::Partial);
                };
                let len = u64::from_be_bytes(*len);
                if len <= 0xFFFF {
                    return Err(FrameError::NonMinimalLength);
                }
                (len, rest)
            }
            n => (u64::from(n), rest),
        };
        let mask = if masked {
            let Some((key, _)) = rest.split_first_chunk::<4>() else {
                return Ok(Status::Partial);
            };
            Some(*key)
        } else {
            None
        };
        let header = Self {
            fin,
            opcode,
            mask,
            payload_len,
        };
        Ok(Status::Complete((header, header.encoded_len())))
    }

    /// Length of this header on the wire (2 to 14 bytes).
    pub const fn encoded_len(&self) -> usize {
        let len = match self.payload_len {
            0..=125 => 2,
            126..=0xFFFF => 4,
            _ => 10,
        };
        if self.mask.is_some() { len + 4 } else { len }
    }

    /// Writes this header (and only the header) into `out`; returns its length.
    ///
    /// The caller writes `payload_len` payload bytes after it, masked with
    /// [`apply_mask`](super::apply_mask) when `mask` is set. Control-frame limits are not
    /// checked here; see [`encode_frame`]. A `payload_len` with the top bit set cannot be
    /// sent; it is written with that bit cleared.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let mut w = Writer::new(out);
        self.write(&mut w);
        w.finish()
    }

    fn write(&self, w: &mut Writer<'_>) {
        let b0 = if self.fin { 0x80 } else { 0 } | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        w.byte(b0);
        match self.payload_len {
            n @ 0..=125 => w.byte(mask_bit | n as u8),
            n @ 126..=0xFFFF => {
                w.byte(mask_bit | 126);
                w.put(&(n as u16).to_be_bytes());
            }
            n => {
                w.byte(mask_bit | 127);
                w.put(&(n & !(1 << 63)).to_be_bytes());
            }
        }
        if let Some(key) = self.mask {
            w.put(&key);
        }
    }
}

/// The two header bytes of a final, unmasked frame (a server's) whose payload is shorter
/// than 126 bytes: for frames the server keeps ready-made (close frames, the probe answer)
/// and for control frames, whose payload is at most 125 bytes.
///
/// ```
/// use siocore::ws::{OpCode, short_frame_head};
///
/// assert_eq!(short_frame_head(OpCode::Close, 2), [0x88, 2]);
/// ```
///
/// # Panics
/// When `len` is 126 or more (at compile time in a constant).
pub const fn short_frame_head(opcode: OpCode, len: u8) -> [u8; 2] {
    assert!(
        len < 126,
        "a payload of 126 bytes or more needs a longer header"
    );
    [0x80 | opcode.as_u8(), len]
}

/// Writes one whole frame (header then payload) into `out`; returns its length.
///
/// With `mask` set (a client; see [`Role::outgoing_mask`]) the payload is masked as it is
/// copied. Control frames must be final and carry at most 125 bytes.
pub fn encode_frame(
    out: &mut [u8],
    fin: bool,
    opcode: OpCode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) -> Result<usize, EncodeError> {
    if opcode.is_control() {
        if !fin {
            return Err(EncodeError::FragmentedControl);
        }
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(EncodeError::ControlTooLong);
        }
    }
    let header = FrameHeader {
        fin,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    };
    let start = header.encoded_len();
    let required = start.saturating_add(payload.len());
    let Some(out) = out.get_mut(..required) else {
        return Err(EncodeError::BufferTooSmall(BufferTooSmall { required }));
    };
    let (head, body) = out.split_at_mut(start);
    header.encode(head)?;
    body.copy_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(body, key, 0);
    }
    Ok(required)
}

/// Writes a close frame into `out`; returns its length.
///
/// `None` sends an empty payload (no status code). The code must be
/// [sendable](CloseCode::is_sendable) and the reason at most 123 bytes.
pub fn encode_close(
    out: &mut [u8],
    close: Option<CloseFrame<'_>>,
    mask: Option<[u8; 4]>,
) -> Result<usize, EncodeError> {
    let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
    let len = match close {
        None => 0,
        Some(frame) => {
            if !frame.code.is_sendable() {
                return Err(EncodeError::InvalidCloseCode(frame.code));
            }
            if frame.reason.len() > MAX_CLOSE_REASON {
                return Err(EncodeError::ControlTooLong);
            }
            frame.write_payload(&mut payload)?
        }
    };
    let payload = payload.get(..len).unwrap_or_default();
    encode_frame(out, true, OpCode::Close, payload, mask)
}

/// Why a frame header was refused. All of these answer with close code 1002.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// RSV1-3 set, but no extension was negotiated.
    ReservedBits,
    /// A reserved opcode (3-7 or 0xB-0xF); the value is included.
    ReservedOpcode(u8),
    /// A control frame without the FIN bit.
    FragmentedControl,
    /// A control frame whose payload is longer than 125 bytes.
    ControlTooLong,
    /// A server received an unmasked frame.
    Unmasked,
    /// A client received a masked frame.
    Masked,
    /// A 64-bit length with the most significant bit set.
    LengthTopBit,
    /// A length in a longer encoding than needed.
    NonMinimalLength,
}

impl FrameError {
    /// The close code to answer this error with (always 1002, protocol error).
    pub const fn close_code(self) -> CloseCode {
        CloseCode::PROTOCOL_ERROR
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservedBits => f.write_str("reserved frame bits set"),
            Self::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            Self::FragmentedControl => f.write_str("fragmented control frame"),
            Self::ControlTooLong => f.write_str("control frame payload longer than 125 bytes"),
            Self::Unmasked => f.write_str("unmasked frame from a client"),
            Self::Masked => f.write_str("masked frame from a server"),
            Self::LengthTopBit => f.write_str("64-bit frame length with the top bit set"),
            Self::NonMinimalLength => f.write_str("frame length not minimally encoded"),
        }
    }
}

impl core::error::Error for FrameError {}

/// Why a frame could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The output buffer is too short.
    BufferTooSmall(BufferTooSmall),
    /// A control frame payload longer than 125 bytes (or a close reason over 123).
    ControlTooLong,
    /// A control frame without the FIN bit.
    FragmentedControl,
    /// A close code that may not be sent.
    InvalidCloseCode(CloseCode),
}

impl From<BufferTooSmall> for EncodeError {
    fn from(e: BufferTooSmall) -> Self {
        Self::BufferTooSmall(e)
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooSmall(e) => e.fmt(f),
            Self::ControlTooLong => f.write_str("control frame payload too long"),
            Self::FragmentedControl => f.write_str("control frames cannot be fragmented"),
            Self::InvalidCloseCode(code) => write!(f, "close code {code} cannot be sent"),
        }
    }
}

impl core::error::Error for EncodeError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    fn decode(input: &[u8], role: Role) -> Result<Status<(FrameHeader, usize)>, FrameError> {
        FrameHeader::decode(input, role)
    }

    fn complete(input: &[u8], role: Role) -> (FrameHeader, usize) {
        decode(input, role).unwrap().complete().unwrap()
    }

    /// Every strict prefix is `Partial`; the whole input decodes to `want`.
    fn check_header(wire: &[u8], role: Role, want: FrameHeader) {
        for cut in 0..wire.len() {
            assert_eq!(
                decode(&wire[..cut], role),
                Ok(Status::Partial),
                "prefix {cut} of {wire:02x?}"
            );
        }
        assert_eq!(complete(wire, role), (want, wire.len()));
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = want.encode(&mut out).unwrap();
        assert_eq!(&out[..n], wire);
        assert_eq!(want.encoded_len(), n);
    }

    fn header(fin: bool, opcode: OpCode, mask: Option<[u8; 4]>, len: u64) -> FrameHeader {
        FrameHeader {
            fin,
            opcode,
            mask,
            payload_len: len,
        }
    }

    #[test]
    fn rfc_5_7_single_frame_unmasked_text() {
        let wire = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        check_header(
            &wire[..2],
            Role::Client,
            header(true, OpCode::Text, None, 5),
        );
        let mut out = [0u8; 16];
        let n = encode_frame(&mut out, true, OpCode::Text, b"Hello", None).unwrap();
        assert_eq!(&out[..n], wire);
    }

    #[test]
    fn rfc_5_7_single_frame_masked_text() {
        let wire = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        check_header(
            &wire[..6],
            Role::Server,
            header(true, OpCode::Text, Some(KEY), 5),
        );
        let mut out = [0u8; 16];
        let n = encode_frame(&mut out, true, OpCode::Text, b"Hello", Some(KEY)).unwrap();
        assert_eq!(&out[..n], wire);
    }

    #[test]
    fn rfc_5_7_fragmented_unmasked_text() {
        let first = [0x01, 0x03, 0x48, 0x65, 0x6c];
        let last = [0x80, 0x02, 0x6c, 0x6f];
        check_header(
            &first[..2],
            Role::Client,
            header(false, OpCode::Text, None, 3),
        );
        check_header(
            &last[..2],
            Role::Client,
            header(true, OpCode::Continuation, None, 2),
        );
        let mut out = [0u8; 8];
        let n = encode_frame(&mut out, false, OpCode::Text, b"Hel", None).unwrap();
        assert_eq!(&out[..n], first);
        let n = encode_frame(&mut out, true, OpCode::Continuation, b"lo", None).unwrap();
        assert_eq!(&out[..n], last);
    }

    #[test]
    fn rfc_5_7_ping_and_pong() {
        let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let pong = [
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        check_header(
            &ping[..2],
            Role::Client,
            header(true, OpCode::Ping, None, 5),
        );
        check_header(
            &pong[..6],
            Role::Server,
            header(true, OpCode::Pong, Some(KEY), 5),
        );
        let mut out = [0u8; 16];
        let n = encode_frame(&mut out, true, OpCode::Ping, b"Hello", None).unwrap();
        assert_eq!(&out[..n], ping);
        let n = encode_frame(&mut out, true, OpCode::Pong, b"Hello", Some(KEY)).unwrap();
        assert_eq!(&out[..n], pong);
        // The masked ping and unmasked pong of the same payload.
        let n = encode_frame(&mut out, true, OpCode::Ping, b"Hello", Some(KEY)).unwrap();
        assert_eq!(
            &out[..n],
            [
                0x89, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
            ]
        );
        let n = encode_frame(&mut out, true, OpCode::Pong, b"Hello", None).unwrap();
        assert_eq!(&out[..n], [0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    }

    #[test]
    fn rfc_5_7_long_binary_headers() {
        let h256 = [0x82, 0x7E, 0x01, 0x00];
        check_header(&h256, Role::Client, header(true, OpCode::Binary, None, 256));
        let h64k = [0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
        check_header(
            &h64k,
            Role::Client,
            header(true, OpCode::Binary, None, 65536),
        );
        let payload = [0xAB; 256];
        let mut out = [0u8; 300];
        let n = encode_frame(&mut out, true, OpCode::Binary, &payload, None).unwrap();
        assert_eq!(n, 260);
        assert_eq!(out[..4], h256);
        assert_eq!(out[4..260], payload);
        // Masked versions carry the key after the length.
        let masked = header(true, OpCode::Binary, Some(KEY), 65536);
        check_header(
            &[0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 0x37, 0xfa, 0x21, 0x3d],
            Role::Server,
            masked,
        );
    }

    #[test]
    fn length_boundaries() {
        let cases: [(u64, &[u8]); 6] = [
            (0, &[0x82, 0x00]),
            (125, &[0x82, 0x7D]),
            (126, &[0x82, 0x7E, 0x00, 0x7E]),
            (0xFFFF, &[0x82, 0x7E, 0xFF, 0xFF]),
            (0x1_0000, &[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]),
            (
                i64::MAX as u64,
                &[0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
            ),
        ];
        for (len, wire) in cases {
            check_header(wire, Role::Client, header(true, OpCode::Binary, None, len));
        }
    }

    #[test]
    fn each_malformed_header() {
        use FrameError as E;
        let cases: [(&[u8], Role, FrameError); 20] = [
            (&[0xC1], Role::Client, E::ReservedBits),
            (&[0xA1, 0x00], Role::Client, E::ReservedBits),
            (&[0x91, 0x00], Role::Client, E::ReservedBits),
            (&[0x83], Role::Client, E::ReservedOpcode(3)),
            (&[0x87], Role::Client, E::ReservedOpcode(7)),
            (&[0x8B], Role::Client, E::ReservedOpcode(0xB)),
            (&[0x8F], Role::Server, E::ReservedOpcode(0xF)),
            (&[0x09], Role::Client, E::FragmentedControl),
            (&[0x08, 0x00], Role::Client, E::FragmentedControl),
            (&[0x0A], Role::Server, E::FragmentedControl),
            (&[0x89, 0x7E], Role::Client, E::ControlTooLong),
            (&[0x88, 0xFF], Role::Server, E::ControlTooLong),
            (&[0x8A, 0x7F], Role::Client, E::ControlTooLong),
            (&[0x81, 0x05], Role::Server, E::Unmasked),
            (&[0x82, 0x80], Role::Client, E::Masked),
            (&[0x82, 0x7F, 0x80], Role::Client, E::LengthTopBit),
            (
                &[0x82, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0],
                Role::Server,
                E::LengthTopBit,
            ),
            (&[0x82, 0x7E, 0x00, 0x7D], Role::Client, E::NonMinimalLength),
            (
                &[0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF],
                Role::Client,
                E::NonMinimalLength,
            ),
            (
                &[0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0x05],
                Role::Server,
                E::NonMinimalLength,
            ),
        ];
        for (wire, role, want) in cases {
            assert_eq!(decode(wire, role), Err(want), "{wire:02x?}");
            assert_eq!(want.close_code(), CloseCode::PROTOCOL_ERROR);
        }
    }

    #[test]
    fn encoder_errors() {
        let mut out = [0u8; 256];
        assert_eq!(
            encode_frame(&mut out, true, OpCode::Ping, &[0; 126], None),
            Err(EncodeError::ControlTooLong)
        );
        assert_eq!(
            encode_frame(&mut out, false, OpCode::Close, b"", None),
            Err(EncodeError::FragmentedControl)
        );
        assert_eq!(
            encode_frame(&mut out[..6], true, OpCode::Text, b"Hello", None),
            Err(EncodeError::BufferTooSmall(BufferTooSmall { required: 7 }))
        );
        assert_eq!(
            encode_frame(&mut out[..10], true, OpCode::Text, b"Hello", Some(KEY)),
            Err(EncodeError::BufferTooSmall(BufferTooSmall { required: 11 }))
        );
        let h = header(true, OpCode::Binary, Some(KEY), 70000);
        assert_eq!(
            h.encode(&mut out[..13]),
            Err(BufferTooSmall { required: 14 })
        );
    }

    #[test]
    fn close_frames() {
        let mut out = [0u8; 160];
        let n = encode_close(&mut out, None, None).unwrap();
        assert_eq!(&out[..n], [0x88, 0x00]);
        let bye = CloseFrame {
            code: CloseCode::NORMAL,
            reason: "bye",
        };
        let n = encode_close(&mut out, Some(bye), None).unwrap();
        assert_eq!(&out[..n], [0x88, 0x05, 0x03, 0xE8, b'b', b'y', b'e']);
        let n = encode_close(&mut out, Some(bye), Some(KEY)).unwrap();
        assert_eq!(out[..6], [0x88, 0x85, 0x37, 0xfa, 0x21, 0x3d]);
        let mut payload = [0u8; 5];
        payload.copy_from_slice(&out[6..n]);
        apply_mask(&mut payload, KEY, 0);
        assert_eq!(&payload, b"\x03\xe8bye");
        let reason = core::str::from_utf8(&[b'x'; 123]).unwrap();
        let n = encode_close(
            &mut out,
            Some(CloseFrame {
                code: CloseCode(4000),
                reason,
            }),
            None,
        );
        assert_eq!(n, Ok(127));
        let long = core::str::from_utf8(&[b'x'; 124]).unwrap();
        assert_eq!(
            encode_close(
                &mut out,
                Some(CloseFrame {
                    code: CloseCode(4000),
                    reason: long
                }),
                None
            ),
            Err(EncodeError::ControlTooLong)
        );
        assert_eq!(
            encode_close(
                &mut out,
                Some(CloseFrame {
                    code: CloseCode(1005),
                    reason: ""
                }),
                None
            ),
            Err(EncodeError::InvalidCloseCode(CloseCode(1005)))
        );
    }

    #[test]
    fn round_trip_random_headers() {
        let mut rng = Rng::new(21);
        let opcodes = [
            OpCode::Continuation,
            OpCode::Text,
            OpCode::Binary,
            OpCode::Close,
            OpCode::Ping,
            OpCode::Pong,
        ];
        for _ in 0..5000 {
            let opcode = opcodes[rng.below(opcodes.len())];
            let role = if rng.below(2) == 0 {
                Role::Server
            } else {
                Role::Client
            };
            // The sender is the other role.
            let mask = match role {
                Role::Server => Some((rng.next_u64() as u32).to_ne_bytes()),
                Role::Client => None,
            };
            let payload_len = if opcode.is_control() {
                rng.below(126) as u64
            } else {
                match rng.below(3) {
                    0 => rng.below(126) as u64,
                    1 => rng.below(0x1_0000) as u64,
                    _ => rng.next_u64() >> 1,
                }
            };
            let fin = opcode.is_control() || rng.below(2) == 0;
            let h = header(fin, opcode, mask, payload_len);
            let mut out = [0u8; MAX_HEADER_LEN];
            let n = h.encode(&mut out).unwrap();
            assert_eq!(complete(&out[..n], role), (h, n));
            // Trailing bytes are not part of the header.
            let mut longer = [0xEEu8; MAX_HEADER_LEN + 3];
            longer[..n].copy_from_slice(&out[..n]);
            assert_eq!(complete(&longer, role), (h, n));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = Rng::new(22);
        let mut input = [0u8; 16];
        for _ in 0..20000 {
            let len = rng.below(input.len() + 1);
            rng.fill(&mut input[..len]);
            for role in [Role::Server, Role::Client] {
                if let Ok(Status::Complete((h, n))) = decode(&input[..len], role) {
                    assert!(n <= len);
                    let mut out = [0u8; MAX_HEADER_LEN];
                    assert_eq!(h.encode(&mut out), Ok(n));
                    assert_eq!(out[..n], input[..n]);
                }
            }
        }
    }
}
