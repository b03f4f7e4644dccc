//! The in-place scanner: messages decoded inside a receive buffer the *caller* keeps.
//!
//! [`MessageDecoder`](super::MessageDecoder) owns its buffer. [`FrameScanner`] owns none:
//! it is for a caller that keeps the bytes it read itself, offers all unconsumed bytes on
//! every call and discards from the front what the scanner says was consumed (the
//! `feed`-and-`consumed` style of a sans-IO server). Its state is a few words, so a server
//! can keep one per connection at no cost.

use super::close::CloseFrame;
use super::frame::{FrameHeader, OpCode, Role};
use super::mask::apply_mask;
use super::message::{Incoming, MessageError, move_down};
use crate::Status;

/// Bytes a fragmented message may occupy in the receive buffer beyond its payload (frame
/// headers and control frames between the fragments) before it is refused as too big.
pub const FRAGMENT_OVERHEAD: usize = 16 * 1024;

/// What [`FrameScanner::peek`] found complete at the front of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Peeked {
    /// A text message of `len` payload bytes (not yet checked as UTF-8).
    Text {
        /// Payload length.
        len: usize,
    },
    /// A binary message of `len` bytes.
    Binary {
        /// Payload length.
        len: usize,
    },
    /// A ping, pong or close frame.
    Control(OpCode),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    /// A control frame at `at` (header length `header`, payload `len`).
    Control {
        at: usize,
        header: usize,
        len: usize,
        opcode: OpCode,
    },
    /// An unfragmented message at offset 0.
    Single {
        header: usize,
        len: usize,
        text: bool,
    },
    /// The last fragment of a message arrived; the frames span `0..end`.
    Chain { end: usize, len: usize, text: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Open {
    text: bool,
    /// Payload bytes in the fragments so far.
    len: usize,
}

/// Decodes WebSocket messages in place in a buffer the caller keeps.
///
/// # Protocol
///
/// 1. Call [`peek`](Self::peek) with every byte received and not yet consumed. It reads
///    frame headers only and never changes the input; `Ok(None)` means more bytes are
///    needed.
/// 2. When it found an item, call [`take`](Self::take) with the same bytes (more may have
///    been appended). It unmasks the payload in place, returns the item and the number of
///    bytes to discard from the front before the next call.
///
/// A caller that cannot handle the item yet (its queues are full) simply does not call
/// `take`: the input is untouched and the next `peek` finds the same item again.
///
/// An unfragmented message is returned where it lies. The fragments of a fragmented
/// message stay in the buffer until the last one arrives; `take` then moves their payloads
/// together at the front, so the message is one slice. Control frames that arrive between
/// fragments are returned as they come, with 0 bytes consumed (the fragments before them
/// are still needed); they are skipped when the message is put together.
///
/// # Limits
///
/// A message longer than `max_message` is refused from the frame header that goes past
/// the limit ([`MessageError::TooBig`]). A fragmented message whose frames occupy more than
/// `max_message + FRAGMENT_OVERHEAD` bytes is refused the same way, so the caller's buffer
/// never needs more than [`FrameScanner::max_buffered`] bytes.
///
/// After an error the scanner is spent: every later call returns the same error. Send a
/// close frame with [`MessageError::close_code`] and close the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameScanner {
    role: Role,
    max_message: usize,
    /// Offset of the next header to read (past the fragments gathered so far).
    next: usize,
    open: Option<Open>,
    pending: Option<Pending>,
    failed: Option<MessageError>,
}

impl FrameScanner {
    /// A scanner for an endpoint in `role`, refusing messages over `max_message` bytes.
    pub const fn new(role: Role, max_message: usize) -> Self {
        Self {
            role,
            max_message,
            next: 0,
            open: None,
            pending: None,
            failed: None,
        }
    }

    /// The most unconsumed bytes a caller's buffer must be able to hold for messages up to
    /// `max_message` bytes.
    pub const fn max_buffered(max_message: usize) -> usize {
        max_message.saturating_add(FRAGMENT_OVERHEAD)
    }

    /// Whether a fragmented message has started and not yet finished.
    pub const fn in_message(&self) -> bool {
        self.open.is_some()
    }

    /// Looks for the next complete item at the front of `input`; see the type docs.
    #[must_use = "the found item or error is the result"]
    pub fn peek(&mut self, input: &[u8]) -> Result<Option<Peeked>, MessageError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        match self.scan(input) {
            Ok(found) => Ok(found),
            Err(e) => {
                self.failed = Some(e);
                Err(e)
            }
        }
    }

    fn scan(&mut self, input: &[u8]) -> Result<Option<Peeked>, MessageError> {
        if let Some(p) = self.pending {
            return Ok(Some(peeked(p)));
        }
        let limit = Self::max_buffered(self.max_message);
        loop {
            let at = self.next;
            let rest = input.get(at..).unwrap_or_default();
            let (header, header_len) = match FrameHeader::decode(rest, self.role) {
                Err(e) => return Err(MessageError::Frame(e)),
                Ok(Status::Partial) => return Ok(None),
                Ok(Status::Complete(found)) => found,
            };
            match (header.opcode, self.open) {
                (OpCode::Continuation, None) => return Err(MessageError::UnexpectedContinuation),
                (OpCode::Text | OpCode::Binary, Some(_)) => {
                    return Err(MessageError::ExpectedContinuation);
                }
                _ => {}
            }
            let gathered = self.open.map_or(0, |o| o.len);
            let room = if header.opcode.is_control() {
                usize::MAX
            } else {
                self.max_message.saturating_sub(gathered)
            };
            let len = match usize::try_from(header.payload_len) {
                Ok(n) if n <= room => n,
                _ => return Err(MessageError::TooBig),
            };
            let end = at.saturating_add(header_len).saturating_add(len);
            if end > limit {
                return Err(MessageError::TooBig);
            }
            if input.len() < end {
                return Ok(None);
            }
            let pending = match header.opcode {
                OpCode::Ping | OpCode::Pong | OpCode::Close => Pending::Control {
                    at,
                    header: header_len,
                    len,
                    opcode: header.opcode,
                },
                opcode => {
                    let text = match self.open {
                        Some(o) => o.text,
                        None => opcode == OpCode::Text,
                    };
                    if !header.fin {
                        self.open = Some(Open {
                            text,
                            len: gathered + len,
                        });
                        self.next = end;
                        continue;
                    }
                    if self.open.is_some() {
                        Pending::Chain {
                            end,
                            len: gathered + len,
                            text,
                        }
                    } else {
                        Pending::Single {
                            header: header_len,
                            len,
                            text,
                        }
                    }
                }
            };
            self.pending = Some(pending);
            return Ok(Some(peeked(pending)));
        }
    }

    /// Produces the item [`peek`](Self::peek) found: unmasks it in place in `input` (the
    /// same unconsumed bytes, perhaps with more appended) and returns it with the number of
    /// bytes to discard from the front of `input` before the next call.
    ///
    /// `Ok(None)` when `peek` has not found an item since the last `take`.
    #[must_use = "the item and the bytes to discard are the result"]
    pub fn take<'a>(
        &mut self,
        input: &'a mut [u8],
    ) -> Result<Option<(Incoming<'a>, usize)>, MessageError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let Some(pending) = self.pending.take() else {
            return Ok(None);
        };
        let (item, consumed) = match pending {
            Pending::Control {
                at,
                header,
                len,
                opcode,
            } => {
                let start = at + header;
                let end = start + len;
                let mask = FrameHeader::decode(input.get(at..).unwrap_or_default(), self.role)
                    .ok()
                    .and_then(Status::complete)
                    .and_then(|(h, _)| h.mask);
                let payload = input.get_mut(start..end).unwrap_or_default();
                if let Some(key) = mask {
                    apply_mask(payload, key, 0);
                }
                let consumed = if self.open.is_some() {
                    // Between fragments: the fragments before it are still needed.
                    self.next = end;
                    0
                } else {
                    end
                };
                let payload: &'a [u8] = input.get(start..end).unwrap_or_default();
                let item = match opcode {
                    OpCode::Ping => Incoming::Ping(payload),
                    OpCode::Pong => Incoming::Pong(payload),
                    _ => match CloseFrame::parse(payload) {
                        Ok(close) => Incoming::Close(close),
                        Err(e) => return Err(self.fail(MessageError::Close(e))),
                    },
                };
                (item, consumed)
            }
            Pending::Single { header, len, text } => {
                let end = header + len;
                let mask = FrameHeader::decode(input, self.role)
                    .ok()
                    .and_then(Status::complete)
                    .and_then(|(h, _)| h.mask);
                let payload = input.get_mut(header..end).unwrap_or_default();
                if let Some(key) = mask {
                    apply_mask(payload, key, 0);
                }
                let payload: &'a [u8] = input.get(header..end).unwrap_or_default();
                (self.message(payload, text)?, end)
            }
            Pending::Chain { end, len, text } => {
                self.assemble(input, end);
                self.open = None;
                self.next = 0;
                let payload: &'a [u8] = input.get(..len).unwrap_or_default();
                (self.message(payload, text)?, end)
            }
        };
        Ok(Some((item, consumed)))
    }

    fn message<'a>(&mut self, payload: &'a [u8], text: bool) -> Result<Incoming<'a>, MessageError> {
        if !text {
            return Ok(Incoming::Binary(payload));
        }
        core::str::from_utf8(payload)
            .map(Incoming::Text)
            .map_err(|_| self.fail(MessageError::InvalidUtf8))
    }

    fn fail(&mut self, e: MessageError) -> MessageError {
        self.failed = Some(e);
        e
    }

    /// Unmasks the data frames in `input[..end]` and moves their payloads to the front.
    fn assemble(&self, input: &mut [u8], end: usize) {
        let mut pos = 0;
        let mut dst = 0;
        while pos < end {
            let Ok(Status::Complete((header, header_len))) =
                FrameHeader::decode(input.get(pos..end).unwrap_or_default(), self.role)
            else {
                return;
            };
            let start = pos + header_len;
            let stop = start + header.payload_len as usize;
            if !header.opcode.is_control() {
                if let (Some(key), Some(payload)) = (header.mask, input.get_mut(start..stop)) {
                    apply_mask(payload, key, 0);
                }
                move_down(input, start..stop, dst);
                dst += stop - start;
            }
            pos = stop;
        }
    }
}

const fn peeked(p: Pending) -> Peeked {
    match p {
        Pending::Control { opcode, .. } => Peeked::Control(opcode),
        Pending::Single { len, text, .. } | Pending::Chain { len, text, .. } => {
            if text {
                Peeked::Text { len }
            } else {
                Peeked::Binary { len }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;
    use crate::ws::{CloseCode, encode_close, encode_frame};

    const KEY: Option<[u8; 4]> = Some([0x37, 0xfa, 0x21, 0x3d]);

    fn frame(out: &mut [u8], fin: bool, op: OpCode, payload: &[u8]) -> usize {
        encode_frame(out, fin, op, payload, KEY).unwrap()
    }

    type Items = [(u8, [u8; 64], usize); 64];

    /// Runs the scanner over `wire` offered `chunk` bytes at a time, the way a server
    /// would; collects (kind, payload) of every item.
    fn run(wire: &[u8], chunk: usize, max: usize) -> Result<(Items, usize), MessageError> {
        let mut buf = [0u8; 4096];
        let mut filled = 0;
        let mut fed = 0;
        let mut scanner = FrameScanner::new(Role::Server, max);
        let mut items = [(0u8, [0u8; 64], 0usize); 64];
        let mut n = 0;
        loop {
            while scanner.peek(&buf[..filled])?.is_some() {
                let (item, consumed) = scanner.take(&mut buf[..filled])?.unwrap();
                let (kind, bytes): (u8, &[u8]) = match item {
                    Incoming::Text(t) => (b't', t.as_bytes()),
                    Incoming::Binary(b) => (b'b', b),
                    Incoming::Ping(p) => (b'i', p),
                    Incoming::Pong(p) => (b'o', p),
                    Incoming::Close(c) => (b'c', c.map_or(&b""[..], |c| c.reason.as_bytes())),
                };
                items[n].0 = kind;
                items[n].1[..bytes.len()].copy_from_slice(bytes);
                items[n].2 = bytes.len();
                n += 1;
                buf.copy_within(consumed..filled, 0);
                filled -= consumed;
            }
            if fed == wire.len() {
                return Ok((items, n));
            }
            let take = chunk.min(wire.len() - fed);
            buf[filled..filled + take].copy_from_slice(&wire[fed..fed + take]);
            filled += take;
            fed += take;
        }
    }

    #[test]
    fn single_frames_and_controls_in_any_chunking() {
        let mut wire = [0u8; 256];
        let mut len = frame(&mut wire, true, OpCode::Text, b"4hello");
        len += frame(&mut wire[len..], true, OpCode::Binary, &[1, 2, 3]);
        len += frame(&mut wire[len..], true, OpCode::Ping, b"p");
        len += encode_close(
            &mut wire[len..],
            Some(CloseFrame {
                code: CloseCode::NORMAL,
                reason: "bye",
            }),
            KEY,
        )
        .unwrap();
        for chunk in [1, 2, 3, 7, 100] {
            let (items, n) = run(&wire[..len], chunk, 1000).unwrap();
            assert_eq!(n, 4, "chunk {chunk}");
            assert_eq!(
                (items[0].0, &items[0].1[..items[0].2]),
                (b't', &b"4hello"[..])
            );
            assert_eq!(
                (items[1].0, &items[1].1[..items[1].2]),
                (b'b', &[1u8, 2, 3][..])
            );
            assert_eq!((items[2].0, &items[2].1[..items[2].2]), (b'i', &b"p"[..]));
            assert_eq!((items[3].0, &items[3].1[..items[3].2]), (b'c', &b"bye"[..]));
        }
    }

    #[test]
    fn fragments_with_a_ping_between() {
        let mut wire = [0u8; 256];
        let mut len = frame(&mut wire, false, OpCode::Text, b"4he");
        len += frame(&mut wire[len..], true, OpCode::Ping, b"x");
        len += frame(&mut wire[len..], false, OpCode::Continuation, b"ll");
        len += frame(&mut wire[len..], true, OpCode::Continuation, b"o");
        len += frame(&mut wire[len..], true, OpCode::Binary, b"z");
        for chunk in [1, 5, 200] {
            let (items, n) = run(&wire[..len], chunk, 1000).unwrap();
            assert_eq!(n, 3);
            assert_eq!((items[0].0, &items[0].1[..items[0].2]), (b'i', &b"x"[..]));
            assert_eq!(
                (items[1].0, &items[1].1[..items[1].2]),
                (b't', &b"4hello"[..])
            );
            assert_eq!((items[2].0, &items[2].1[..items[2].2]), (b'b', &b"z"[..]));
        }
    }

    #[test]
    fn peek_without_take_leaves_the_input_alone() {
        let mut wire = [0u8; 64];
        let len = frame(&mut wire, true, OpCode::Text, b"4abc");
        let copy = wire;
        let mut s = FrameScanner::new(Role::Server, 100);
        assert_eq!(s.peek(&wire[..len]), Ok(Some(Peeked::Text { len: 4 })));
        assert_eq!(s.peek(&wire[..len]), Ok(Some(Peeked::Text { len: 4 })));
        assert_eq!(wire, copy);
        let (item, consumed) = s.take(&mut wire[..len]).unwrap().unwrap();
        assert_eq!(item, Incoming::Text("4abc"));
        assert_eq!(consumed, len);
        assert_eq!(s.take(&mut wire[..len]), Ok(None));
    }

    #[test]
    fn limits_and_errors() {
        let mut wire = [0u8; 256];
        let len = frame(&mut wire, true, OpCode::Text, &[b'a'; 11]);
        assert_eq!(
            run(&wire[..len], 100, 10).unwrap_err(),
            MessageError::TooBig
        );
        // Fragments adding up past the limit.
        let mut len = frame(&mut wire, false, OpCode::Binary, &[0; 6]);
        len += frame(&mut wire[len..], true, OpCode::Continuation, &[0; 6]);
        assert_eq!(
            run(&wire[..len], 100, 10).unwrap_err(),
            MessageError::TooBig
        );
        let len = frame(&mut wire, true, OpCode::Continuation, b"x");
        assert_eq!(
            run(&wire[..len], 100, 10).unwrap_err(),
            MessageError::UnexpectedContinuation
        );
        let mut len = frame(&mut wire, false, OpCode::Text, b"x");
        len += frame(&mut wire[len..], true, OpCode::Text, b"y");
        assert_eq!(
            run(&wire[..len], 100, 10).unwrap_err(),
            MessageError::ExpectedContinuation
        );
        let len = frame(&mut wire, true, OpCode::Text, &[0xff]);
        assert_eq!(
            run(&wire[..len], 100, 10).unwrap_err(),
            MessageError::InvalidUtf8
        );
        // Unmasked client frame.
        let len = encode_frame(&mut wire, true, OpCode::Text, b"x", None).unwrap();
        assert!(matches!(
            run(&wire[..len], 100, 10),
            Err(MessageError::Frame(_))
        ));
    }

    #[test]
    fn random_fragmentations_reassemble() {
        let mut rng = Rng::new(11);
        for _ in 0..300 {
            let mut msg = [0u8; 60];
            let msg_len = 1 + rng.below(60);
            rng.fill(&mut msg[..msg_len]);
            let mut wire = [0u8; 2048];
            let mut len = 0;
            let mut at = 0;
            let mut first = true;
            while at < msg_len {
                let piece = 1 + rng.below(msg_len - at);
                let op = if first {
                    OpCode::Binary
                } else {
                    OpCode::Continuation
                };
                first = false;
                if rng.below(3) == 0 {
                    len += frame(&mut wire[len..], true, OpCode::Pong, b"");
                }
                len += frame(
                    &mut wire[len..],
                    at + piece == msg_len,
                    op,
                    &msg[at..at + piece],
                );
                at += piece;
            }
            let chunk = 1 + rng.below(40);
            let (items, n) = run(&wire[..len], chunk, 1000).unwrap();
            let last = &items[..n].iter().rev().find(|i| i.0 == b'b').unwrap();
            assert_eq!(&last.1[..last.2], &msg[..msg_len]);
        }
    }
}
