//! The message decoder: frames in, whole messages and control frames out.

use core::fmt;

use super::close::{CloseCode, CloseError, CloseFrame};
use super::frame::{FrameError, FrameHeader, MAX_CONTROL_PAYLOAD, OpCode, Role};
use super::mask::apply_mask;
use crate::Status;

/// Room kept free for one control frame next to a full-size message: the largest masked
/// control frame (6-byte header and 125-byte payload).
pub const CONTROL_RESERVE: usize = 6 + MAX_CONTROL_PAYLOAD;

/// One decoded item; it borrows the decoder's buffer until the next call on the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A complete text message (valid UTF-8), reassembled if it was fragmented.
    Text(&'a str),
    /// A complete binary message, reassembled if it was fragmented.
    Binary(&'a [u8]),
    /// A ping; answer with a pong carrying the same bytes.
    Ping(&'a [u8]),
    /// A pong.
    Pong(&'a [u8]),
    /// A close frame; `None` when it carried no status code.
    Close(Option<CloseFrame<'a>>),
}

/// A fragmented message being reassembled at the front of the buffer.
#[derive(Debug, Clone, Copy)]
struct Open {
    text: bool,
    /// Payload bytes gathered so far, at `buf[..len]`.
    len: usize,
    /// For text: `buf[..valid]` is checked UTF-8; `buf[valid..len]` is at most the first
    /// 3 bytes of a code point that continues in the next fragment.
    valid: usize,
}

/// Where a decoded item lies in the buffer (resolved into [`Incoming`] by `next`).
#[derive(Debug, Clone, Copy)]
enum Ready {
    Text(usize, usize),
    Binary(usize, usize),
    Ping(usize, usize),
    Pong(usize, usize),
    Close(usize, usize),
}

/// Reassembles WebSocket messages in place inside a buffer lent by the caller.
///
/// # Design
///
/// The decoder borrows (or owns) one receive buffer `B` (`&mut [u8]`, `[u8; N]`, ...)
/// and keeps three regions in it:
///
/// ```text
/// [ message so far | dead bytes | unparsed input | free space ]
/// 0                len          pos              filled       capacity
/// ```
///
/// The driver reads socket bytes into [`spare`](Self::spare) and reports them with
/// [`commit`](Self::commit) (or copies them in with [`feed`](Self::feed)), then calls
/// [`next`](Self::next) until it answers `Ok(None)` ("need more bytes").
///
/// Only whole frames are processed. A frame's payload is unmasked in place. An unfragmented
/// message or a control frame is returned where it lies, without copying. The fragments of
/// a fragmented message are moved with `copy_within` to the front of the buffer, one after
/// the other, so the finished message is one contiguous slice; control frames that arrive
/// between fragments are returned as they come. Consumed bytes (headers, returned frames)
/// become dead and are reclaimed by [`spare`](Self::spare), which moves the unparsed tail
/// down over them. Between two fully drained `next` loops that tail is one incomplete
/// frame, so every byte is moved at most a small constant number of times: the work is
/// linear in the input.
///
/// This takes the "how much to discard" bookkeeping away from the caller: the dead bytes of
/// a fragmented message (its headers and any control frames in between) sit between the
/// message and the next frame, where a front-discard protocol cannot release them.
///
/// An item returned by `next` borrows the decoder; it stays valid until the next call.
///
/// # Limits
///
/// The maximum message size is checked against each frame header, before its payload is
/// buffered. It is capped at the buffer's capacity minus [`CONTROL_RESERVE`], so that a
/// full-size message plus any control frame always fits.
///
/// After an error the decoder is spent: every later `next` returns the same error. The
/// caller sends a close frame with [`MessageError::close_code`] and closes the connection.
/// Frames after a close frame are still decoded; stopping there is up to the caller.
pub struct MessageDecoder<B> {
    buf: B,
    filled: usize,
    pos: usize,
    role: Role,
    max_message: usize,
    open: Option<Open>,
    failed: Option<MessageError>,
}

impl<B> fmt::Debug for MessageDecoder<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageDecoder")
            .field("filled", &self.filled)
            .field("pos", &self.pos)
            .field("role", &self.role)
            .field("max_message", &self.max_message)
            .field("open", &self.open)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> MessageDecoder<B> {
    /// A decoder over `buf` for an endpoint in `role`, refusing messages longer than
    /// `max_message` bytes (capped at `capacity - CONTROL_RESERVE`).
    ///
    /// `buf`'s content is ignored; bytes already in it can be adopted with
    /// [`commit`](Self::commit), since the spare space of a new decoder starts at 0.
    pub fn new(buf: B, role: Role, max_message: usize) -> Self {
        let cap = buf.as_ref().len();
        Self {
            buf,
            filled: 0,
            pos: 0,
            role,
            max_message: max_message.min(cap.saturating_sub(CONTROL_RESERVE)),
            open: None,
            failed: None,
        }
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The effective maximum message size in bytes.
    pub fn max_message(&self) -> usize {
        self.max_message
    }

    /// Received bytes not yet decoded (at most one incomplete frame after `next` returned
    /// `Ok(None)`).
    pub fn buffered(&self) -> usize {
        self.filled.saturating_sub(self.pos)
    }

    /// Whether a fragmented message has started and not yet finished.
    pub fn in_message(&self) -> bool {
        self.open.is_some()
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> B {
        self.buf
    }

    /// The free space to read socket bytes into; report them with [`commit`](Self::commit).
    ///
    /// Reclaims dead bytes first by moving the unparsed input down. Empty only when the
    /// buffer holds undecoded complete frames (call [`next`](Self::next) first).
    pub fn spare(&mut self) -> &mut [u8] {
        let buf = self.buf.as_mut();
        let filled = self.filled.min(buf.len());
        let pos = self.pos.min(filled);
        let live = self.open.map_or(0, |o| o.len).min(pos);
        if pos > live {
            buf.copy_within(pos..filled, live);
            self.filled = filled - (pos - live);
            self.pos = live;
        }
        buf.get_mut(self.filled..).unwrap_or_default()
    }

    /// Records that `n` bytes were written at the start of [`spare`](Self::spare)
    /// (clamped to the free space).
    pub fn commit(&mut self, n: usize) {
        let cap = self.buf.as_ref().len();
        self.filled = self.filled.saturating_add(n).min(cap);
    }

    /// Copies as much of `bytes` as fits into the buffer; returns how many were taken.
    pub fn feed(&mut self, bytes: &[u8]) -> usize {
        let spare = self.spare();
        let n = spare.len().min(bytes.len());
        if let (Some(dst), Some(src)) = (spare.get_mut(..n), bytes.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.commit(n);
        n
    }

    /// Decodes the next message or control frame.
    ///
    /// `Ok(None)` means the buffered bytes end inside a frame (or there are none): read
    /// more into [`spare`](Self::spare). Non-final fragments are absorbed without
    /// returning.
    #[must_use = "the decoded item or error is the result"]
    pub fn next(&mut self) -> Result<Option<Incoming<'_>>, MessageError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let ready = match self.step() {
            Ok(Some(ready)) => ready,
            Ok(None) => return Ok(None),
            Err(e) => {
                self.failed = Some(e);
                return Err(e);
            }
        };
        let Self { buf, failed, .. } = self;
        let buf: &[u8] = (*buf).as_ref();
        let slice = |s: usize, e: usize| buf.get(s..e).unwrap_or_default();
        let result = match ready {
            Ready::Binary(s, e) => Ok(Incoming::Binary(slice(s, e))),
            Ready::Ping(s, e) => Ok(Incoming::Ping(slice(s, e))),
            Ready::Pong(s, e) => Ok(Incoming::Pong(slice(s, e))),
            Ready::Text(s, e) => core::str::from_utf8(slice(s, e))
                .map(Incoming::Text)
                .map_err(|_| MessageError::InvalidUtf8),
            Ready::Close(s, e) => CloseFrame::parse(slice(s, e))
                .map(Incoming::Close)
                .map_err(MessageError::Close),
        };
        match result {
            Ok(item) => Ok(Some(item)),
            Err(e) => {
                *failed = Some(e);
                Err(e)
            }
        }
    }

    /// Consumes frames until one yields an item or the input runs out.
    fn step(&mut self) -> Result<Option<Ready>, MessageError> {
        loop {
            let buf = self.buf.as_mut();
            let cap = buf.len();
            let filled = self.filled.min(cap);
            let pos = self.pos.min(filled);
            let live = self.open.map_or(0, |o| o.len);
            if pos == filled && self.open.is_none() {
                // Nothing live: start over at the front, for free.
                self.pos = 0;
                self.filled = 0;
                return Ok(None);
            }
            let input = buf.get_mut(pos..filled).unwrap_or_default();
            let (header, header_len) = match FrameHeader::decode(input, self.role) {
                Err(e) => return Err(MessageError::Frame(e)),
                Ok(Status::Partial) => {
                    // Once compacted the header would start at `live`; if even then the
                    // buffer is full, it can never complete.
                    if live.saturating_add(input.len()) >= cap {
                        return Err(MessageError::BufferFull);
                    }
                    return Ok(None);
                }
                Ok(Status::Complete(found)) => found,
            };
            match (header.opcode, self.open) {
                (OpCode::Continuation, None) => return Err(MessageError::UnexpectedContinuation),
                (OpCode::Text | OpCode::Binary, Some(_)) => {
                    return Err(MessageError::ExpectedContinuation);
                }
                _ => {}
            }
            let room = if header.opcode.is_control() {
                MAX_CONTROL_PAYLOAD
            } else {
                self.max_message.saturating_sub(live)
            };
            let payload_len = match usize::try_from(header.payload_len) {
                Ok(n) if n <= room => n,
                _ => return Err(MessageError::TooBig),
            };
            let total = header_len.saturating_add(payload_len);
            if live.saturating_add(total) > cap {
                return Err(MessageError::BufferFull);
            }
            // `input` is `buf[pos..filled]`; the frame is its first `total` bytes.
            let Some(payload) = input.get_mut(header_len..total) else {
                return Ok(None);
            };
            if let Some(key) = header.mask {
                apply_mask(payload, key, 0);
            }
            let start = pos + header_len;
            let end = pos + total;
            self.pos = end;
            let text = match header.opcode {
                OpCode::Ping => return Ok(Some(Ready::Ping(start, end))),
                OpCode::Pong => return Ok(Some(Ready::Pong(start, end))),
                OpCode::Close => return Ok(Some(Ready::Close(start, end))),
                OpCode::Text if header.fin => return Ok(Some(Ready::Text(start, end))),
                OpCode::Binary if header.fin => return Ok(Some(Ready::Binary(start, end))),
                OpCode::Text => true,
                OpCode::Binary => false,
                OpCode::Continuation => self.open.is_some_and(|o| o.text),
            };
            // A fragment: append its payload to the message at the front. Everything
            // between `live` and `start` is dead, so the move only overwrites dead bytes.
            buf.copy_within(start..end, live);
            let len = live + payload_len;
            let mut open = self.open.unwrap_or(Open {
                text,
                len: 0,
                valid: 0,
            });
            open.len = len;
            if text {
                let unchecked = buf.get(open.valid..len).unwrap_or_default();
                open.valid += utf8_prefix(unchecked)?;
            }
            if !header.fin {
                self.open = Some(open);
                continue;
            }
            self.open = None;
            if !text {
                return Ok(Some(Ready::Binary(0, len)));
            }
            if open.valid != len {
                // The message ends inside a code point.
                return Err(MessageError::InvalidUtf8);
            }
            return Ok(Some(Ready::Text(0, len)));
        }
    }
}

/// Length of the longest prefix of `bytes` that is valid UTF-8 and may be followed by more
/// bytes: an error only when the bytes cannot be the start of valid text.
fn utf8_prefix(bytes: &[u8]) -> Result<usize, MessageError> {
    match core::str::from_utf8(bytes) {
        Ok(_) => Ok(bytes.len()),
        Err(e) if e.error_len().is_none() => Ok(e.valid_up_to()),
        Err(_) => Err(MessageError::InvalidUtf8),
    }
}

/// Why the message decoder stopped. Each maps to the close code to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageError {
    /// A malformed frame header (1002).
    Frame(FrameError),
    /// A continuation frame with no fragmented message open (1002).
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is open (1002).
    ExpectedContinuation,
    /// A text message that is not UTF-8, found as early as possible: an impossible byte
    /// sequence in any fragment, or a code point cut off by the final fragment (1007).
    InvalidUtf8,
    /// A message longer than the maximum, detected from a frame header (1009).
    TooBig,
    /// A malformed close frame payload (1002, or 1007 for a non-UTF-8 reason).
    Close(CloseError),
    /// A frame that cannot fit in the lent buffer even when it is empty. Only possible with
    /// a buffer shorter than [`CONTROL_RESERVE`] (1009).
    BufferFull,
}

impl MessageError {
    /// The close code to send for this error.
    pub const fn close_code(self) -> CloseCode {
        match self {
            Self::Frame(e) => e.close_code(),
            Self::Close(e) => e.close_code(),
            Self::UnexpectedContinuation | Self::ExpectedContinuation => CloseCode::PROTOCOL_ERROR,
            Self::InvalidUtf8 => CloseCode::INVALID_PAYLOAD,
            Self::TooBig | Self::BufferFull => CloseCode::MESSAGE_TOO_BIG,
        }
    }
}

impl From<FrameError> for MessageError {
    fn from(e: FrameError) -> Self {
        Self::Frame(e)
    }
}

impl From<CloseError> for MessageError {
    fn from(e: CloseError) -> Self {
        Self::Close(e)
    }
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Frame(e) => e.fmt(f),
            Self::Close(e) => e.fmt(f),
            Self::UnexpectedContinuation => f.write_str("continuation frame without a message"),
            Self::ExpectedContinuation => {
                f.write_str("new data frame while a fragmented message is open")
            }
            Self::InvalidUtf8 => f.write_str("text message is not valid UTF-8"),
            Self::TooBig => f.write_str("message larger than the maximum"),
            Self::BufferFull => f.write_str("frame does not fit in the receive buffer"),
        }
    }
}

impl core::error::Error for MessageError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Frame(e) => Some(e),
            Self::Close(e) => Some(e),
            _ => None,
        }
    }
}
