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

/// Where a decoded item lies in the buffer (resolved into [`Incoming`] by `poll`).
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
/// [`poll`](Self::poll) until it answers `Ok(None)` ("need more bytes").
///
/// Only whole frames are processed. A frame's payload is unmasked in place. An unfragmented
/// message or a control frame is returned where it lies, without copying. The fragments of
/// a fragmented message are moved to the front of the buffer, one after
/// the other, so the finished message is one contiguous slice; control frames that arrive
/// between fragments are returned as they come. Consumed bytes (headers, returned frames)
/// become dead and are reclaimed by [`spare`](Self::spare), which moves the unparsed tail
/// down over them. Between two fully drained `poll` loops that tail is one incomplete
/// frame, so every byte is moved at most a small constant number of times: the work is
/// linear in the input.
///
/// This takes the "how much to discard" bookkeeping away from the caller: the dead bytes of
/// a fragmented message (its headers and any control frames in between) sit between the
/// message and the next frame, where a front-discard protocol cannot release them.
///
/// An item returned by `poll` borrows the decoder; it stays valid until the next call.
///
/// # Limits
///
/// The maximum message size is checked against each frame header, before its payload is
/// buffered. It is capped at the buffer's capacity minus [`CONTROL_RESERVE`], so that a
/// full-size message plus any control frame always fits.
///
/// After an error the decoder is spent: every later `poll` returns the same error. The
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
    /// The decoder starts empty, so its spare space begins at offset 0 of `buf`: bytes the
    /// caller already placed at the front of `buf` (for example what followed the HTTP
    /// upgrade head) are adopted with [`commit`](Self::commit).
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

    /// Received bytes not yet decoded (at most one incomplete frame after `poll` returned
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
    /// Reclaims dead bytes first by moving the unparsed input down. Call it after
    /// [`poll`](Self::poll) answered `Ok(None)`: then the unparsed input is at most one
    /// incomplete frame and the move is cheap. Empty only when the buffer is full of
    /// complete frames not yet polled.
    pub fn spare(&mut self) -> &mut [u8] {
        let buf = self.buf.as_mut();
        let filled = self.filled.min(buf.len());
        let pos = self.pos.min(filled);
        let live = self.open.map_or(0, |o| o.len).min(pos);
        if pos > live {
            move_down(buf, pos..filled, live);
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
    pub fn poll(&mut self) -> Result<Option<Incoming<'_>>, MessageError> {
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
            move_down(buf, start..end, live);
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
/// Moves `buf[src]` down to start at `dst` (`dst <= src.start`), like `copy_within`.
///
/// Written without `copy_within` so that a bare-metal image need not link a `memmove`
/// (about 1.5 KiB on Cortex-M): when the gap between source and destination is wide, it
/// copies gap-sized chunks, which never overlap; when it is narrow, whole words, each read
/// before it is written, which is safe for a move towards the front.
pub(super) fn move_down(buf: &mut [u8], src: core::ops::Range<usize>, dst: usize) {
    const WORD: usize = 8;
    let Some(gap) = src.start.checked_sub(dst).filter(|&g| g > 0) else {
        return;
    };
    let end = src.end.min(buf.len());
    let mut from = src.start;
    if gap >= 4 * WORD {
        while from < end {
            let n = gap.min(end - from);
            let (head, tail) = buf.split_at_mut(from);
            if let (Some(d), Some(s)) = (head.get_mut(from - gap..from - gap + n), tail.get(..n)) {
                d.copy_from_slice(s);
            }
            from += n;
        }
        return;
    }
    while from + WORD <= end {
        let Some(Ok(word)) = buf.get(from..from + WORD).map(<[u8; WORD]>::try_from) else {
            return;
        };
        if let Some(d) = buf.get_mut(from - gap..from - gap + WORD) {
            d.copy_from_slice(&word);
        }
        from += WORD;
    }
    while from < end {
        let b = buf.get(from).copied().unwrap_or_default();
        if let Some(d) = buf.get_mut(from - gap) {
            *d = b;
        }
        from += 1;
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;
    use crate::ws::frame::encode_frame;

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    #[test]
    fn move_down_matches_copy_within() {
        let mut rng = Rng::new(11);
        for _ in 0..3000 {
            let mut a = [0u8; 100];
            rng.fill(&mut a);
            let mut b = a;
            let start = rng.below(101);
            let end = start + rng.below(101 - start);
            let dst = rng.below(start + 1);
            a.copy_within(start..end, dst);
            move_down(&mut b, start..end, dst);
            assert_eq!(a, b, "{start}..{end} to {dst}");
        }
    }

    /// Appends one frame to `wire` at `*at`.
    fn push(
        wire: &mut [u8],
        at: &mut usize,
        fin: bool,
        op: OpCode,
        payload: &[u8],
        mask: Option<[u8; 4]>,
    ) {
        let n = encode_frame(&mut wire[*at..], fin, op, payload, mask).unwrap();
        *at += n;
    }

    /// A decoder over `rx` that has been fed all of `wire`.
    fn fed<'b>(
        rx: &'b mut [u8],
        role: Role,
        max: usize,
        wire: &[u8],
    ) -> MessageDecoder<&'b mut [u8]> {
        let mut dec = MessageDecoder::new(rx, role, max);
        assert_eq!(dec.feed(wire), wire.len());
        dec
    }

    /// Decoding all of `wire` yields exactly `want`, then `Ok(None)`; every strict prefix
    /// yields a prefix of `want` and then `Ok(None)`, never an error.
    fn check_stream(wire: &[u8], role: Role, want: &[Incoming<'_>]) {
        let mut rx = [0u8; 1024];
        for cut in 0..=wire.len() {
            let mut dec = fed(&mut rx, role, 512, &wire[..cut]);
            let mut seen = 0;
            while let Some(item) = dec.poll().unwrap() {
                assert_eq!(item, want[seen], "prefix {cut}");
                seen += 1;
            }
            if cut == wire.len() {
                assert_eq!(seen, want.len());
                assert_eq!(dec.buffered(), 0);
                assert!(!dec.in_message());
            }
        }
    }

    #[test]
    fn rfc_5_7_examples_as_messages() {
        check_stream(
            &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
            Role::Client,
            &[Incoming::Text("Hello")],
        );
        check_stream(
            &[
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
            ],
            Role::Server,
            &[Incoming::Text("Hello")],
        );
        check_stream(
            &[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f],
            Role::Client,
            &[Incoming::Text("Hello")],
        );
        check_stream(
            &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
            Role::Client,
            &[Incoming::Ping(b"Hello")],
        );
        check_stream(
            &[
                0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
            ],
            Role::Server,
            &[Incoming::Pong(b"Hello")],
        );
    }

    #[test]
    fn rfc_5_7_long_binary_messages() {
        let mut payload = [0u8; 65536];
        Rng::new(5).fill(&mut payload);
        let mut wire = [0u8; 65536 + 10];
        wire[..4].copy_from_slice(&[0x82, 0x7E, 0x01, 0x00]);
        wire[4..260].copy_from_slice(&payload[..256]);
        let mut rx = [0u8; 70000];
        let mut dec = fed(&mut rx, Role::Client, 65536, &wire[..260]);
        assert_eq!(dec.poll(), Ok(Some(Incoming::Binary(&payload[..256]))));
        assert_eq!(dec.poll(), Ok(None));

        wire[..10].copy_from_slice(&[0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]);
        wire[10..].copy_from_slice(&payload);
        let mut dec = fed(&mut rx, Role::Client, 65536, &wire[..9]);
        assert_eq!(dec.poll(), Ok(None));
        assert_eq!(dec.feed(&wire[9..65546 - 1]), 65536);
        assert_eq!(dec.poll(), Ok(None));
        assert_eq!(dec.feed(&wire[65545..]), 1);
        assert_eq!(dec.poll(), Ok(Some(Incoming::Binary(&payload[..]))));
        assert_eq!(dec.poll(), Ok(None));
    }

    #[test]
    fn single_frames_are_returned_in_place() {
        let mut wire = [0u8; 64];
        let mut at = 0;
        push(&mut wire, &mut at, true, OpCode::Binary, b"abc", None);
        push(&mut wire, &mut at, true, OpCode::Text, b"de", None);
        let mut rx = [0u8; 256];
        let mut dec = fed(&mut rx, Role::Client, 100, &wire[..at]);
        let Ok(Some(Incoming::Binary(first))) = dec.poll() else {
            panic!()
        };
        assert_eq!(first, b"abc");
        let offset = first.as_ptr() as usize;
        let Ok(Some(Incoming::Text(second))) = dec.poll() else {
            panic!()
        };
        assert_eq!(second, "de");
        // 2-byte header, 3-byte payload, 2-byte header: the second payload starts at 7.
        assert_eq!(second.as_ptr() as usize - offset, 5 + 2 - 2);
        let base = dec.into_inner().as_ptr() as usize;
        assert_eq!(offset - base, 2);
    }

    #[test]
    fn utf8_split_across_fragments() {
        // "é" = c3 a9, "€" = e2 82 ac, "𝄞" = f0 9d 84 9e.
        let text = "é€𝄞!";
        let bytes = text.as_bytes();
        // Every way of cutting the text into three fragments.
        for a in 0..=bytes.len() {
            for b in a..=bytes.len() {
                let mut wire = [0u8; 64];
                let mut at = 0;
                push(
                    &mut wire,
                    &mut at,
                    false,
                    OpCode::Text,
                    &bytes[..a],
                    Some(KEY),
                );
                push(
                    &mut wire,
                    &mut at,
                    false,
                    OpCode::Continuation,
                    &bytes[a..b],
                    Some(KEY),
                );
                push(
                    &mut wire,
                    &mut at,
                    true,
                    OpCode::Continuation,
                    &bytes[b..],
                    Some(KEY),
                );
                let mut rx = [0u8; 512];
                let mut dec = fed(&mut rx, Role::Server, 100, &wire[..at]);
                assert_eq!(dec.poll(), Ok(Some(Incoming::Text(text))), "cuts {a} {b}");
            }
        }
    }

    #[test]
    fn invalid_utf8_is_found_early() {
        let mut rx = [0u8; 512];
        // Invalid in a single frame.
        let dec_err =
            |rx: &mut [u8], wire: &[u8]| fed(rx, Role::Client, 100, wire).poll().unwrap_err();
        assert_eq!(
            dec_err(&mut rx, &[0x81, 0x02, 0xc3, 0x28]),
            MessageError::InvalidUtf8
        );
        // A truncated code point in a single frame.
        assert_eq!(
            dec_err(&mut rx, &[0x81, 0x01, 0xe2]),
            MessageError::InvalidUtf8
        );
        // Invalid in the first fragment: reported before any continuation arrives.
        assert_eq!(
            dec_err(&mut rx, &[0x01, 0x02, b'a', 0xff]),
            MessageError::InvalidUtf8
        );
        // Impossible second byte of a split sequence, in the next fragment.
        assert_eq!(
            dec_err(&mut rx, &[0x01, 0x01, 0xe2, 0x00, 0x01, b'x']),
            MessageError::InvalidUtf8
        );
        // A code point above U+10FFFF is refused as soon as its second byte is seen.
        assert_eq!(
            dec_err(&mut rx, &[0x01, 0x02, 0xf4, 0x90]),
            MessageError::InvalidUtf8
        );
        // A sequence still open at the final fragment.
        assert_eq!(
            dec_err(&mut rx, &[0x01, 0x01, 0xe2, 0x80, 0x01, 0x82]),
            MessageError::InvalidUtf8
        );
        // A truncated prefix is not an error until the final fragment.
        let mut dec = fed(
            &mut rx,
            Role::Client,
            100,
            &[0x01, 0x01, 0xe2, 0x00, 0x01, 0x82],
        );
        assert_eq!(dec.poll(), Ok(None));
        assert_eq!(MessageError::InvalidUtf8.close_code(), CloseCode(1007));
        // Binary messages are not checked.
        let mut dec = fed(&mut rx, Role::Client, 100, &[0x82, 0x02, 0xc3, 0x28]);
        assert_eq!(dec.poll(), Ok(Some(Incoming::Binary(&[0xc3, 0x28]))));
    }

    #[test]
    fn control_frames_between_fragments() {
        let mut wire = [0u8; 128];
        let mut at = 0;
        push(
            &mut wire,
            &mut at,
            false,
            OpCode::Binary,
            b"one ",
            Some(KEY),
        );
        push(
            &mut wire,
            &mut at,
            true,
            OpCode::Ping,
            b"p1",
            Some([9, 8, 7, 6]),
        );
        push(
            &mut wire,
            &mut at,
            false,
            OpCode::Continuation,
            b"two ",
            Some(KEY),
        );
        push(&mut wire, &mut at, true, OpCode::Pong, b"", Some(KEY));
        push(&mut wire, &mut at, true, OpCode::Ping, b"p2", Some(KEY));
        let close = CloseFrame {
            code: CloseCode::GOING_AWAY,
            reason: "bye",
        };
        let mut payload = [0u8; 8];
        let n = close.write_payload(&mut payload).unwrap();
        push(
            &mut wire,
            &mut at,
            true,
            OpCode::Close,
            &payload[..n],
            Some(KEY),
        );
        push(
            &mut wire,
            &mut at,
            true,
            OpCode::Continuation,
            b"three",
            Some([1, 2, 3, 4]),
        );
        push(&mut wire, &mut at, true, OpCode::Close, b"", Some(KEY));
        check_stream(
            &wire[..at],
            Role::Server,
            &[
                Incoming::Ping(b"p1"),
                Incoming::Pong(b""),
                Incoming::Ping(b"p2"),
                Incoming::Close(Some(close)),
                Incoming::Binary(b"one two three"),
                Incoming::Close(None),
            ],
        );
    }

    #[test]
    fn each_message_error() {
        use MessageError as E;
        let mut rx = [0u8; 512];
        let cases: [(Role, &[u8], MessageError, u16); 14] = [
            (Role::Client, &[0x80, 0x00], E::UnexpectedContinuation, 1002),
            (
                Role::Client,
                &[0x01, 0x01, b'a', 0x81, 0x00],
                E::ExpectedContinuation,
                1002,
            ),
            (
                Role::Client,
                &[0x02, 0x00, 0x02, 0x00],
                E::ExpectedContinuation,
                1002,
            ),
            // The payload of a too-big message is never needed: the header decides.
            (Role::Client, &[0x82, 0x7E, 0x00, 0x80], E::TooBig, 1009),
            (
                Role::Client,
                &[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0],
                E::TooBig,
                1009,
            ),
            (Role::Client, &[0x02, 0x65], E::TooBig, 1009),
            (
                Role::Client,
                &[0x88, 0x01, 0x03],
                E::Close(CloseError::OneBytePayload),
                1002,
            ),
            (
                Role::Client,
                &[0x88, 0x02, 0x03, 0xe7],
                E::Close(CloseError::InvalidCode(CloseCode(999))),
                1002,
            ),
            (
                Role::Client,
                &[0x88, 0x02, 0x03, 0xee],
                E::Close(CloseError::InvalidCode(CloseCode(1006))),
                1002,
            ),
            (
                Role::Client,
                &[0x88, 0x02, 0x07, 0xd0],
                E::Close(CloseError::InvalidCode(CloseCode(2000))),
                1002,
            ),
            (
                Role::Client,
                &[0x88, 0x03, 0x03, 0xe8, 0xff],
                E::Close(CloseError::InvalidUtf8),
                1007,
            ),
            (
                Role::Server,
                &[0x81, 0x00],
                E::Frame(FrameError::Unmasked),
                1002,
            ),
            (
                Role::Client,
                &[0x81, 0x80],
                E::Frame(FrameError::Masked),
                1002,
            ),
            (
                Role::Client,
                &[0xE1],
                E::Frame(FrameError::ReservedBits),
                1002,
            ),
        ];
        for (role, wire, want, code) in cases {
            let mut dec = fed(&mut rx, role, 100, wire);
            assert_eq!(dec.poll(), Err(want), "{wire:02x?}");
            assert_eq!(want.close_code(), CloseCode(code));
            // The decoder stays failed.
            assert_eq!(dec.poll(), Err(want));
        }
        // Too big across fragments: 60 + 41 > 100.
        let mut wire = [0u8; 256];
        let mut at = 0;
        push(&mut wire, &mut at, false, OpCode::Text, &[b'a'; 60], None);
        push(
            &mut wire,
            &mut at,
            true,
            OpCode::Continuation,
            &[b'a'; 41],
            None,
        );
        let mut dec = fed(&mut rx, Role::Client, 100, &wire[..at - 41]);
        assert_eq!(dec.poll(), Err(E::TooBig));
        // Exactly the maximum is fine.
        let mut dec = fed(&mut rx, Role::Client, 101, &wire[..at]);
        assert!(matches!(dec.poll(), Ok(Some(Incoming::Text(t))) if t.len() == 101));
    }

    #[test]
    fn tiny_buffers() {
        let mut small = [0u8; CONTROL_RESERVE + 10];
        let dec = MessageDecoder::new(&mut small[..], Role::Client, 1000);
        assert_eq!(dec.max_message(), 10);
        // A buffer too short for a 125-byte ping says so instead of waiting forever.
        let mut tiny = [0u8; 20];
        let mut dec = MessageDecoder::new(&mut tiny[..], Role::Client, 1000);
        assert_eq!(dec.max_message(), 0);
        assert_eq!(dec.feed(&[0x89, 0x7D, 0, 0]), 4);
        assert_eq!(dec.poll(), Err(MessageError::BufferFull));
        assert_eq!(MessageError::BufferFull.close_code(), CloseCode(1009));
        let mut dec = MessageDecoder::new(&mut tiny[..1], Role::Client, 1000);
        assert_eq!(dec.feed(&[0x89, 0x7D]), 1);
        assert_eq!(dec.poll(), Err(MessageError::BufferFull));
        // Empty messages still work.
        let mut dec = MessageDecoder::new(&mut tiny[..], Role::Client, 0);
        assert_eq!(dec.feed(&[0x82, 0x00, 0x01, 0x00, 0x80, 0x00]), 6);
        assert_eq!(dec.poll(), Ok(Some(Incoming::Binary(b""))));
        assert_eq!(dec.poll(), Ok(Some(Incoming::Text(""))));
        assert_eq!(dec.poll(), Ok(None));
    }

    #[test]
    fn adopts_bytes_already_in_the_buffer() {
        let mut rx = [0u8; 256];
        rx[..7].copy_from_slice(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        let mut dec = MessageDecoder::new(&mut rx[..], Role::Client, 100);
        dec.commit(7);
        assert_eq!(dec.poll(), Ok(Some(Incoming::Text("Hello"))));
        assert_eq!(dec.poll(), Ok(None));
        // Committing more than the spare space is clamped.
        dec.commit(usize::MAX);
        assert_eq!(dec.buffered(), 256);
        assert_eq!(dec.spare().len(), 0);
    }

    /// What a generated stream should decode to: kind and place in the payload pool.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Want {
        Text(usize, usize),
        Binary(usize, usize),
        Ping(usize, usize),
    }

    /// Random UTF-8 of exactly `len` bytes.
    fn random_text(rng: &mut Rng, out: &mut [u8]) {
        let chars = ["a", "Z", " ", "é", "€", "𝄞", "\u{7f}", "\u{10ffff}"];
        let mut at = 0;
        while at < out.len() {
            let c = chars[rng.below(chars.len())].as_bytes();
            let c = if c.len() <= out.len() - at { c } else { b"x" };
            out[at..at + c.len()].copy_from_slice(c);
            at += c.len();
        }
    }

    /// Encodes random messages (random fragmentation, pings between fragments, masks when
    /// the receiver is a server), feeds them in random-size chunks, checks what comes out.
    fn round_trip(seed: u64, cases: usize, max_message: usize) {
        let mut rng = Rng::new(seed);
        let mut pool = [0u8; 32_000];
        let mut pings = [0u8; 512 * 125];
        let mut wire = [0u8; 70_000];
        let mut rx = [0u8; 20_000];
        // The sender is the decoder's peer: clients mask, servers do not.
        let peer_mask = |role: Role, rng: &mut Rng| match role {
            Role::Server => Some((rng.next_u64() as u32).to_ne_bytes()),
            Role::Client => None,
        };
        for _ in 0..cases {
            let role = if rng.below(2) == 0 {
                Role::Server
            } else {
                Role::Client
            };
            let mut wants = [Want::Ping(0, 0); 512];
            let mut n_wants = 0;
            let (mut pool_at, mut pings_at, mut at) = (0, 0, 0);
            let messages = rng.below(6) + 1;
            for _ in 0..messages {
                let len = match rng.below(4) {
                    0 => rng.below(4),
                    1 => rng.below(200),
                    _ => rng.below(max_message + 1),
                };
                let text = rng.below(2) == 0;
                let payload = &mut pool[pool_at..pool_at + len];
                if text {
                    random_text(&mut rng, payload);
                } else {
                    rng.fill(payload);
                }
                let fragments = match rng.below(3) {
                    0 => 1,
                    1 => rng.below(4) + 1,
                    _ => rng.below(40) + 1,
                };
                let mut done = 0;
                for f in 0..fragments {
                    let last = f + 1 == fragments;
                    let take = if last {
                        len - done
                    } else {
                        rng.below(len - done + 1)
                            .min(rng.below(2 * len / fragments + 2))
                    };
                    let op = match (f, text) {
                        (0, true) => OpCode::Text,
                        (0, false) => OpCode::Binary,
                        _ => OpCode::Continuation,
                    };
                    let chunk = &pool[pool_at + done..pool_at + done + take];
                    let mask = peer_mask(role, &mut rng);
                    at += encode_frame(&mut wire[at..], last, op, chunk, mask).unwrap();
                    done += take;
                    if !last && rng.below(3) == 0 {
                        let p = rng.below(126);
                        let ping = &mut pings[pings_at..pings_at + p];
                        rng.fill(ping);
                        wants[n_wants] = Want::Ping(pings_at, p);
                        n_wants += 1;
                        let mask = peer_mask(role, &mut rng);
                        at +=
                            encode_frame(&mut wire[at..], true, OpCode::Ping, ping, mask).unwrap();
                        pings_at += p;
                    }
                }
                wants[n_wants] = if text {
                    Want::Text(pool_at, len)
                } else {
                    Want::Binary(pool_at, len)
                };
                n_wants += 1;
                pool_at += len;
            }
            // A receive buffer between the tightest allowed and roomy.
            let cap = max_message + CONTROL_RESERVE + rng.below(3) * rng.below(max_message + 1);
            let mut dec = MessageDecoder::new(&mut rx[..cap], role, max_message);
            let mut sent = 0;
            let mut seen = 0;
            let max_chunk = [1, 7, 64, 4096][rng.below(4)];
            loop {
                while let Some(item) = dec.poll().unwrap() {
                    match (wants[seen], item) {
                        (Want::Text(s, l), Incoming::Text(t)) => {
                            assert_eq!(t.as_bytes(), &pool[s..s + l]);
                        }
                        (Want::Binary(s, l), Incoming::Binary(b)) => assert_eq!(b, &pool[s..s + l]),
                        (Want::Ping(s, l), Incoming::Ping(p)) => assert_eq!(p, &pings[s..s + l]),
                        (want, got) => panic!("wanted {want:?}, got {got:?}"),
                    }
                    seen += 1;
                }
                if sent == at {
                    break;
                }
                let chunk = (rng.below(max_chunk) + 1).min(at - sent);
                let n = dec.feed(&wire[sent..sent + chunk]);
                assert!(n > 0, "decoder stuck: {dec:?}");
                sent += n;
            }
            assert_eq!(seen, n_wants);
            assert_eq!(dec.buffered(), 0);
            assert!(!dec.in_message());
        }
    }

    #[test]
    fn round_trip_random_small_messages() {
        round_trip(1, 2000, 300);
    }

    #[test]
    fn round_trip_random_large_messages() {
        round_trip(2, 150, 5000);
    }

    #[test]
    fn one_byte_fragments_fit_a_tight_buffer() {
        // 6-byte masked headers for 1-byte fragments: the dead space is 6 times the
        // message, and must be reclaimed for the message to fit.
        let max = 400;
        let mut wire = [0u8; 400 * 7 + 16];
        let mut at = 0;
        push(&mut wire, &mut at, false, OpCode::Binary, b"", Some(KEY));
        for i in 0..max {
            push(
                &mut wire,
                &mut at,
                i + 1 == max,
                OpCode::Continuation,
                &[i as u8],
                Some(KEY),
            );
        }
        let mut rx = [0u8; 400 + CONTROL_RESERVE];
        let mut dec = MessageDecoder::new(&mut rx[..], Role::Server, max);
        let mut sent = 0;
        loop {
            if let Some(item) = dec.poll().unwrap() {
                let Incoming::Binary(b) = item else { panic!() };
                assert_eq!(b.len(), max);
                assert!(b.iter().enumerate().all(|(i, &x)| x == i as u8));
                break;
            }
            let n = dec.feed(&wire[sent..at]);
            assert!(n > 0);
            sent += n;
        }
        assert_eq!(sent, at);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = Rng::new(99);
        let mut input = [0u8; 600];
        let mut rx = [0u8; 400];
        for _ in 0..3000 {
            let len = rng.below(input.len() + 1);
            rng.fill(&mut input[..len]);
            // Bias towards plausible headers.
            for b in input.iter_mut().take(len).step_by(7) {
                *b &= 0x8F;
            }
            let role = if rng.below(2) == 0 {
                Role::Server
            } else {
                Role::Client
            };
            let cap = rng.below(rx.len() + 1);
            let mut dec = MessageDecoder::new(&mut rx[..cap], role, rng.below(500));
            let mut sent = 0;
            loop {
                match dec.poll() {
                    Ok(Some(Incoming::Text(t))) => assert!(t.len() <= dec.max_message()),
                    Ok(Some(Incoming::Binary(b))) => assert!(b.len() <= dec.max_message()),
                    Ok(Some(Incoming::Ping(p) | Incoming::Pong(p))) => assert!(p.len() <= 125),
                    Ok(Some(Incoming::Close(_))) => {}
                    Ok(None) => {
                        let n = dec.feed(&input[sent..len.min(sent + rng.below(50) + 1)]);
                        if n == 0 {
                            break;
                        }
                        sent += n;
                    }
                    Err(e) => {
                        assert_eq!(dec.poll(), Err(e));
                        break;
                    }
                }
            }
        }
    }
}
