//! Standard base64 (RFC 4648 section 4, `+` `/` and `=` padding).
//!
//! Engine.IO v4 sends binary messages over polling as `b` followed by base64 of the bytes,
//! and the WebSocket handshake's `Sec-WebSocket-Accept` is the base64 of a SHA-1 digest.
//! Encoding always pads. Decoding accepts padded input and unpadded input whose length is
//! not 1 modulo 4; it rejects any byte outside the alphabet (no whitespace skipping) and
//! padding anywhere but at the end.

use core::fmt;

use crate::BufferTooSmall;
use crate::write::Writer;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

const INVALID: u8 = 0xFF;

const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Why a base64 text could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// A byte outside the alphabet, or `=` before the end, at this offset.
    InvalidByte {
        /// Offset of the byte in the input.
        offset: usize,
    },
    /// The length (without padding) is 1 modulo 4, or padding makes it not a multiple of 4.
    InvalidLength,
    /// The output buffer is too short.
    OutputTooSmall(BufferTooSmall),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidByte { offset } => write!(f, "invalid base64 byte at offset {offset}"),
            Self::InvalidLength => f.write_str("invalid base64 length"),
            Self::OutputTooSmall(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for DecodeError {}

/// Length of the padded encoding of `n` bytes.
pub const fn encoded_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Encodes `input` into `out`, padded; returns the number of bytes written.
pub fn encode(input: &[u8], out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    let required = encoded_len(input.len());
    let Some(out) = out.get_mut(..required) else {
        return Err(BufferTooSmall { required });
    };
    let mut chunks = input.chunks_exact(3);
    let mut dst = out.chunks_exact_mut(4);
    for (src, d) in (&mut chunks).zip(&mut dst) {
        let n = u32::from(src[0]) << 16 | u32::from(src[1]) << 8 | u32::from(src[2]);
        d[0] = ALPHABET[(n >> 18) as usize & 63];
        d[1] = ALPHABET[(n >> 12) as usize & 63];
        d[2] = ALPHABET[(n >> 6) as usize & 63];
        d[3] = ALPHABET[n as usize & 63];
    }
    let rest = chunks.remainder();
    if let Some(d) = dst.next() {
        let b0 = u32::from(rest.first().copied().unwrap_or(0));
        let b1 = u32::from(rest.get(1).copied().unwrap_or(0));
        let n = b0 << 16 | b1 << 8;
        d[0] = ALPHABET[(n >> 18) as usize & 63];
        d[1] = ALPHABET[(n >> 12) as usize & 63];
        d[2] = if rest.len() == 2 {
            ALPHABET[(n >> 6) as usize & 63]
        } else {
            b'='
        };
        d[3] = b'=';
    }
    Ok(required)
}

/// Encodes `input` through a [`Writer`] (used by the packet encoders).
pub(crate) fn encode_to(input: &[u8], w: &mut Writer<'_>) {
    let mut block = [0u8; 4];
    let mut chunks = input.chunks(3);
    for chunk in &mut chunks {
        // A chunk of at most 3 bytes always fits a 4-byte block.
        let _ = encode(chunk, &mut block);
        w.put(&block);
    }
}

/// The decoded length of `input`, or an error for an impossible length.
///
/// This checks only the length and padding count, not the alphabet.
pub fn decoded_len(input: &[u8]) -> Result<usize, DecodeError> {
    let data = strip_padding(input)?;
    match data.len() % 4 {
        1 => Err(DecodeError::InvalidLength),
        r => Ok(data.len() / 4 * 3 + r.saturating_sub(1)),
    }
}

fn strip_padding(input: &[u8]) -> Result<&[u8], DecodeError> {
    let pad = input.iter().rev().take_while(|&&b| b == b'=').count();
    if pad == 0 {
        return Ok(input);
    }
    if pad > 2 || !input.len().is_multiple_of(4) {
        return Err(DecodeError::InvalidLength);
    }
    Ok(&input[..input.len() - pad])
}

/// Decodes the base64 that fills `text` in place (the binary record of a polling body, which
/// the msgpack parser needs whole); returns the decoded length, at the front of `text`.
#[cfg(feature = "msgpack-parser")]
pub(crate) fn decode_in_place(text: &mut [u8]) -> Option<usize> {
    // Whole 4-character groups per piece: each decodes on its own, and its 192 bytes at
    // most land before where the next piece starts.
    let mut out = 0;
    let mut at = 0;
    while at < text.len() {
        let end = (at + 256).min(text.len());
        let mut piece = [0u8; 256];
        let n = end - at;
        piece.get_mut(..n)?.copy_from_slice(text.get(at..end)?);
        out += decode(piece.get(..n)?, text.get_mut(out..)?).ok()?;
        at = end;
    }
    Some(out)
}

/// Decodes `input` into `out`; returns the number of bytes written.
pub fn decode(input: &[u8], out: &mut [u8]) -> Result<usize, DecodeError> {
    let required = decoded_len(input)?;
    let data = strip_padding(input)?;
    let Some(out) = out.get_mut(..required) else {
        return Err(DecodeError::OutputTooSmall(BufferTooSmall { required }));
    };
    let sextet = |i: usize| -> Result<u32, DecodeError> {
        match DECODE[usize::from(data[i])] {
            INVALID => Err(DecodeError::InvalidByte { offset: i }),
            v => Ok(u32::from(v)),
        }
    };
    let full = data.len() / 4;
    let mut o = 0;
    for q in 0..full {
        let i = q * 4;
        let n = sextet(i)? << 18 | sextet(i + 1)? << 12 | sextet(i + 2)? << 6 | sextet(i + 3)?;
        out[o] = (n >> 16) as u8;
        out[o + 1] = (n >> 8) as u8;
        out[o + 2] = n as u8;
        o += 3;
    }
    let i = full * 4;
    match data.len() - i {
        2 => {
            let n = sextet(i)? << 18 | sextet(i + 1)? << 12;
            out[o] = (n >> 16) as u8;
        }
        3 => {
            let n = sextet(i)? << 18 | sextet(i + 1)? << 12 | sextet(i + 2)? << 6;
            out[o] = (n >> 16) as u8;
            out[o + 1] = (n >> 8) as u8;
        }
        _ => {}
    }
    Ok(required)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;

    fn enc(input: &[u8]) -> ([u8; 64], usize) {
        let mut out = [0u8; 64];
        let n = encode(input, &mut out).unwrap();
        (out, n)
    }

    #[test]
    fn rfc4648_vectors() {
        let cases: [(&[u8], &[u8]); 7] = [
            (b"", b""),
            (b"f", b"Zg=="),
            (b"fo", b"Zm8="),
            (b"foo", b"Zm9v"),
            (b"foob", b"Zm9vYg=="),
            (b"fooba", b"Zm9vYmE="),
            (b"foobar", b"Zm9vYmFy"),
        ];
        for (plain, coded) in cases {
            let (out, n) = enc(plain);
            assert_eq!(&out[..n], coded);
            let mut back = [0u8; 16];
            let m = decode(coded, &mut back).unwrap();
            assert_eq!(&back[..m], plain);
        }
    }

    #[test]
    fn protocol_examples() {
        // PROTOCOL.md A.3: 01 02 03 -> AQID; de ad be ef -> 3q2+7w==; A.4: ca fe -> yv4=
        assert_eq!(&enc(&[1, 2, 3]).0[..4], b"AQID");
        assert_eq!(&enc(&[0xde, 0xad, 0xbe, 0xef]).0[..8], b"3q2+7w==");
        assert_eq!(&enc(&[0xca, 0xfe]).0[..4], b"yv4=");
    }

    #[test]
    fn unpadded_accepted() {
        let mut out = [0u8; 8];
        assert_eq!(decode(b"Zm8", &mut out), Ok(2));
        assert_eq!(&out[..2], b"fo");
        assert_eq!(decode(b"Zg", &mut out), Ok(1));
    }

    #[test]
    fn malformed() {
        let mut out = [0u8; 16];
        assert_eq!(decode(b"Z", &mut out), Err(DecodeError::InvalidLength));
        assert_eq!(decode(b"Zm9v=", &mut out), Err(DecodeError::InvalidLength));
        assert_eq!(decode(b"Z===", &mut out), Err(DecodeError::InvalidLength));
        assert_eq!(
            decode(b"Zm=v", &mut out),
            Err(DecodeError::InvalidByte { offset: 2 })
        );
        assert_eq!(
            decode(b"Zm9v Zg==", &mut out),
            Err(DecodeError::InvalidLength)
        );
        assert_eq!(
            decode(b"Zm9 ", &mut out),
            Err(DecodeError::InvalidByte { offset: 3 })
        );
        assert_eq!(
            decode(b"Zm-v", &mut out),
            Err(DecodeError::InvalidByte { offset: 2 })
        );
        assert_eq!(
            decode(b"Zm9vYmFy", &mut out[..5]),
            Err(DecodeError::OutputTooSmall(BufferTooSmall { required: 6 }))
        );
        assert_eq!(
            encode(b"abcd", &mut out[..7]),
            Err(BufferTooSmall { required: 8 })
        );
    }

    #[test]
    fn round_trip_random() {
        let mut rng = Rng::new(7);
        let mut plain = [0u8; 300];
        let mut coded = [0u8; 400];
        let mut back = [0u8; 300];
        for _ in 0..2000 {
            let len = rng.below(plain.len() + 1);
            rng.fill(&mut plain[..len]);
            let n = encode(&plain[..len], &mut coded).unwrap();
            assert_eq!(n, encoded_len(len));
            let m = decode(&coded[..n], &mut back).unwrap();
            assert_eq!(&back[..m], &plain[..len]);
            // The writer path gives the same bytes.
            let mut again = [0u8; 400];
            let mut w = Writer::new(&mut again);
            encode_to(&plain[..len], &mut w);
            assert_eq!(w.finish(), Ok(n));
            assert_eq!(&again[..n], &coded[..n]);
        }
    }

    #[test]
    fn arbitrary_input_never_panics() {
        let mut rng = Rng::new(11);
        let mut input = [0u8; 40];
        let mut out = [0u8; 40];
        for _ in 0..5000 {
            let len = rng.below(input.len() + 1);
            for b in &mut input[..len] {
                *b = rng.pick(b"AZaz09+/=-_ \x00\xff");
            }
            let _ = decode(&input[..len], &mut out);
            let _ = decode(&input[..len], &mut out[..rng.below(10)]);
        }
    }
}
