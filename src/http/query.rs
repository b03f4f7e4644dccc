//! Query strings: `key=value` pairs, percent-decoding, the Engine.IO parameters.

use core::fmt;

use crate::BufferTooSmall;
use crate::write::Writer;

/// The `key=value` pairs of a query string, split on `&` then on the first `=`.
///
/// Keys and values stay percent-encoded; empty segments (`a=1&&b=2`) are skipped, and a
/// segment without `=` has an empty value.
#[derive(Debug, Clone)]
pub struct Params<'a> {
    rest: &'a str,
}

impl<'a> Params<'a> {
    /// Pairs of `query` (the part after `?`, without the `?`).
    pub const fn new(query: &'a str) -> Self {
        Self { rest: query }
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let (segment, rest) = self.rest.split_once('&').unwrap_or((self.rest, ""));
            self.rest = rest;
            if segment.is_empty() {
                continue;
            }
            let (key, value) = segment.split_once('=').unwrap_or((segment, ""));
            return Some(Param { key, value });
        }
    }
}

/// One `key=value` pair, both still percent-encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    /// The key, as written.
    pub key: &'a str,
    /// The value, as written (empty when the pair had no `=`).
    pub value: &'a str,
}

impl Param<'_> {
    /// Decodes the value into `out`; see [`percent_decode_into`].
    ///
    /// # Errors
    /// As [`percent_decode_into`].
    pub fn percent_decode_into(&self, out: &mut [u8]) -> Result<usize, PercentDecodeError> {
        percent_decode_into(self.value.as_bytes(), out)
    }
}

/// A query component that cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PercentDecodeError {
    /// `%` not followed by two hex digits.
    InvalidEscape,
    /// The output buffer is too short.
    BufferTooSmall(BufferTooSmall),
}

impl From<BufferTooSmall> for PercentDecodeError {
    fn from(e: BufferTooSmall) -> Self {
        Self::BufferTooSmall(e)
    }
}

impl fmt::Display for PercentDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidEscape => f.write_str("invalid percent escape in query"),
            Self::BufferTooSmall(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for PercentDecodeError {}

/// Decodes a query key or value into `out` and returns the decoded length.
///
/// `%XX` (either hex case) becomes the byte `XX` and `+` becomes a space, as in
/// `application/x-www-form-urlencoded`; other bytes are copied. The result is bytes, not
/// necessarily UTF-8. It is never longer than the input.
///
/// # Errors
/// [`PercentDecodeError::InvalidEscape`] for a `%` without two hex digits (checked over
/// the whole input first); then [`PercentDecodeError::BufferTooSmall`] with the size needed.
pub fn percent_decode_into(input: &[u8], out: &mut [u8]) -> Result<usize, PercentDecodeError> {
    let mut w = Writer::new(out);
    let mut rest = input;
    while let Some(i) = rest.iter().position(|&b| b == b'%' || b == b'+') {
        let (plain, special) = rest.split_at(i);
        w.put(plain);
        match special {
            [b'+', tail @ ..] => {
                w.byte(b' ');
                rest = tail;
            }
            [b'%', hi, lo, tail @ ..] => {
                let (Some(hi), Some(lo)) = (hex(*hi), hex(*lo)) else {
                    return Err(PercentDecodeError::InvalidEscape);
                };
                w.byte(hi << 4 | lo);
                rest = tail;
            }
            _ => return Err(PercentDecodeError::InvalidEscape),
        }
    }
    w.put(rest);
    Ok(w.finish()?)
}

const fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The Engine.IO query parameters (`EIO`, `transport`, `sid`, `t`), still percent-encoded.
///
/// Unknown keys are ignored. When a key repeats, the first value is kept and
/// [`EngineQuery::repeated`] is set, so the server can refuse the request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EngineQuery<'a> {
    /// `EIO`: the protocol version (`"4"`).
    pub eio: Option<&'a str>,
    /// `transport`: `"polling"` or `"websocket"`.
    pub transport: Option<&'a str>,
    /// `sid`: the session id (absent on the handshake).
    pub sid: Option<&'a str>,
    /// `t`: the cache-buster, to be ignored.
    pub t: Option<&'a str>,
    /// One of the four keys appeared more than once.
    pub repeated: bool,
}

impl<'a> EngineQuery<'a> {
    /// Reads the parameters of `query` (the part after `?`).
    pub fn parse(query: &'a str) -> Self {
        let mut q = Self::default();
        for p in Params::new(query) {
            let slot = match p.key {
                "EIO" => &mut q.eio,
                "transport" => &mut q.transport,
                "sid" => &mut q.sid,
                "t" => &mut q.t,
                _ => continue,
            };
            if slot.is_some() {
                q.repeated = true;
            } else {
                *slot = Some(p.value);
            }
        }
        q
    }
}
