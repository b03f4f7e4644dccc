//! Binary attachments: placeholders in the JSON, the writer that emits them, and the
//! reassembly state machine.
//!
//! A `BINARY_EVENT` or `BINARY_ACK` carries `{"_placeholder":true,"num":k}` objects where the
//! sender's payload had binary values, and announces their count `N` in the header
//! (`52-[…]`). The `N` blobs follow as separate Engine.IO binary messages, in `num` order.
//! The blobs themselves stay with the caller: [`Reassembly`] only counts them and says which
//! `num` each one fills, and [`Placeholders`] says where each placeholder sits in the JSON.

use core::fmt;
use core::ops::Range;

use super::packet::{self, EncodeError, Packet, PacketType, parse_decimal};
use crate::json::{self, JsonStr};
use crate::write::Writer;

/// The placeholder text written for attachment `num`, minus the number and closing brace.
const PLACEHOLDER_PREFIX: &[u8] = b"{\"_placeholder\":true,\"num\":";

/// One placeholder object found in a binary packet's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placeholder {
    /// Offset of the `{` in [`Packet::data`].
    pub start: usize,
    /// Offset just past the `}`.
    pub end: usize,
    /// The attachment index it stands for (below the packet's attachment count).
    pub num: usize,
}

impl Placeholder {
    /// `start..end`, the bytes to replace with the blob's representation.
    pub const fn range(&self) -> Range<usize> {
        self.start..self.end
    }
}

/// Iterator over the placeholders of a validated binary packet, in walk order (depth first,
/// array and key order). Created by [`Packet::placeholders`].
#[derive(Debug, Clone)]
pub struct Placeholders<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Placeholders<'a> {
    pub(crate) const fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }
}

impl Iterator for Placeholders<'_> {
    type Item = Placeholder;

    fn next(&mut self) -> Option<Placeholder> {
        loop {
            let rest = self.data.get(self.pos..)?;
            let i = rest.iter().position(|&b| b == b'"' || b == b'{')?;
            let at = self.pos + i;
            if rest.get(i) == Some(&b'"') {
                self.pos = json::skip_validated_string(self.data, at);
                continue;
            }
            if let Some((end, num)) = match_placeholder(self.data, at) {
                self.pos = end;
                return Some(Placeholder {
                    start: at,
                    end,
                    num,
                });
            }
            self.pos = at + 1;
        }
    }
}

fn skip_ws(data: &[u8], mut pos: usize) -> usize {
    while matches!(data.get(pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        pos += 1;
    }
    pos
}

/// Matches exactly `{"_placeholder":true,"num":<digits>}` (either order, any whitespace) at
/// `at` in validated JSON; returns the end offset and `num`.
fn match_placeholder(data: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut pos = at + 1;
    let mut seen = false;
    let mut num = None;
    for separator in [b',', b'}'] {
        pos = skip_ws(data, pos);
        if data.get(pos) != Some(&b'"') {
            return None;
        }
        let key_end = json::skip_validated_string(data, pos);
        let token = data.get(pos..key_end)?;
        let key = JsonStr::from_token(token, token.contains(&b'\\'));
        pos = skip_ws(data, key_end);
        if data.get(pos) != Some(&b':') {
            return None;
        }
        let start = skip_ws(data, pos + 1);
        // Only scalars can match; containers are left to the outer walk, strings skipped
        // whole, so each byte is looked at a bounded number of times.
        let end = match data.get(start)? {
            b'{' | b'[' => return None,
            b'"' => json::skip_validated_string(data, start),
            _ => {
                let rest = data.get(start..)?;
                start
                    + rest.iter().position(|&b| {
                        matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                    })?
            }
        };
        let value = data.get(start..end)?;
        if key.eq_str("_placeholder") && !seen && value == b"true" {
            seen = true;
        } else if key.eq_str("num") && num.is_none() {
            num = Some(usize::try_from(parse_decimal(value)?).ok()?);
        } else {
            return None;
        }
        pos = skip_ws(data, end);
        if data.get(pos) != Some(&separator) {
            return None;
        }
        pos += 1;
    }
    if seen { num.map(|n| (pos, n)) } else { None }
}

/// Builds the argument list of an event or ack whose values may include binary blobs.
///
/// The caller declares the attachment count up front (it goes into the header, which
/// comes first); each [`binary_arg`](Self::binary_arg) or
/// [`placeholder`](Self::placeholder) writes `{"_placeholder":true,"num":k}` with
/// `k = 0, 1, …` in call order, and [`finish`](Self::finish) checks the count. The blobs
/// must then be sent in that same order. The text constructors ([`event`](Self::event),
/// [`ack`](Self::ack)) build plain EVENT/ACK packets the same way, without placeholders.
///
/// ```
/// use siocore::sio::ArgsWriter;
/// let mut buf = [0u8; 128];
/// let mut w = ArgsWriter::binary_event(&mut buf, "/", None, "message", 2).unwrap();
/// w.binary_arg();
/// w.binary_arg();
/// let len = w.finish().unwrap();
/// assert_eq!(
///     &buf[..len],
///     br#"52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
/// );
/// ```
#[derive(Debug)]
pub struct ArgsWriter<'a> {
    w: Writer<'a>,
    declared: Option<usize>,
    written: usize,
    need_comma: bool,
    error: Option<EncodeError>,
}

impl<'a> ArgsWriter<'a> {
    fn start(
        out: &'a mut [u8],
        packet_type: PacketType,
        declared: Option<usize>,
        namespace: &str,
        ack_id: Option<u64>,
        name: Option<&str>,
    ) -> Result<Self, EncodeError> {
        let mut w = Writer::new(out);
        packet::write_header(&mut w, packet_type, declared, namespace, ack_id)?;
        w.byte(b'[');
        if let Some(name) = name {
            json::put_str(&mut w, name);
        }
        Ok(Self {
            w,
            declared,
            written: 0,
            need_comma: name.is_some(),
            error: None,
        })
    }

    /// Starts an EVENT `2[/nsp,][id]["name"` (no placeholders allowed).
    pub fn event(
        out: &'a mut [u8],
        namespace: &str,
        ack_id: Option<u64>,
        name: &str,
    ) -> Result<Self, EncodeError> {
        Self::start(out, PacketType::Event, None, namespace, ack_id, Some(name))
    }

    /// Starts an ACK `3[/nsp,]<id>[` (no placeholders allowed).
    pub fn ack(out: &'a mut [u8], namespace: &str, ack_id: u64) -> Result<Self, EncodeError> {
        Self::start(out, PacketType::Ack, None, namespace, Some(ack_id), None)
    }

    /// Starts a `BINARY_EVENT` announcing `attachments` blobs.
    pub fn binary_event(
        out: &'a mut [u8],
        namespace: &str,
        ack_id: Option<u64>,
        name: &str,
        attachments: usize,
    ) -> Result<Self, EncodeError> {
        Self::start(
            out,
            PacketType::BinaryEvent,
            Some(attachments),
            namespace,
            ack_id,
            Some(name),
        )
    }

    /// Starts a `BINARY_ACK` announcing `attachments` blobs.
    pub fn binary_ack(
        out: &'a mut [u8],
        namespace: &str,
        ack_id: u64,
        attachments: usize,
    ) -> Result<Self, EncodeError> {
        Self::start(
            out,
            PacketType::BinaryAck,
            Some(attachments),
            namespace,
            Some(ack_id),
            None,
        )
    }

    /// Starts a new argument: writes the `,` separator when one is due. Use before building
    /// an argument from [`raw`](Self::raw) and [`placeholder`](Self::placeholder) pieces.
    pub fn begin_arg(&mut self) -> &mut Self {
        if self.need_comma {
            self.w.byte(b',');
        }
        self.need_comma = true;
        self
    }

    /// Appends one complete argument given as raw JSON (written verbatim).
    pub fn arg(&mut self, json: &[u8]) -> &mut Self {
        self.begin_arg();
        self.w.put(json);
        self
    }

    /// Appends one argument that is a blob; returns its `num`.
    pub fn binary_arg(&mut self) -> usize {
        self.begin_arg();
        self.placeholder()
    }

    /// Appends raw JSON bytes with no separator, for building a nested argument.
    pub fn raw(&mut self, json: &[u8]) -> &mut Self {
        self.w.put(json);
        self
    }

    /// Appends a placeholder object with no separator (a blob nested in an argument);
    /// returns its `num`.
    pub fn placeholder(&mut self) -> usize {
        let num = self.written;
        if self.declared.is_none() {
            self.error
                .get_or_insert(EncodeError::PlaceholderInTextPacket);
        }
        self.w.put(PLACEHOLDER_PREFIX);
        self.w.decimal(num as u64);
        self.w.byte(b'}');
        self.written += 1;
        num
    }

    /// Placeholders written so far.
    pub const fn placeholders_written(&self) -> usize {
        self.written
    }

    /// Closes the array; returns the packet length. Fails when the placeholder count
    /// differs from the declared one, or the buffer was too short.
    pub fn finish(mut self) -> Result<usize, EncodeError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if let Some(declared) = self.declared
            && declared != self.written
        {
            return Err(EncodeError::AttachmentMismatch {
                declared,
                written: self.written,
            });
        }
        self.w.byte(b']');
        Ok(self.w.finish()?)
    }
}

/// What the receiver should do next after a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The packet is whole: dispatch it.
    Complete,
    /// This many more binary messages must arrive before the packet is whole.
    Pending {
        /// Binary messages still expected.
        remaining: usize,
    },
}

/// A binary message accepted by [`Reassembly::binary`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attachment {
    /// The placeholder `num` this blob fills (blobs arrive in `num` order).
    pub num: usize,
    /// Whether the packet is now whole.
    pub progress: Progress,
}

/// A violation of the attachment framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReassemblyError {
    /// A text packet arrived while binary messages were still expected.
    TextWhilePending {
        /// Binary messages that were still expected.
        remaining: usize,
    },
    /// A binary message arrived when none was expected.
    UnexpectedBinary,
    /// A header announced more attachments than the limit.
    TooManyAttachments {
        /// The count announced.
        count: usize,
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for ReassemblyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TextWhilePending { remaining } => {
                write!(f, "text packet while {remaining} attachments are pending")
            }
            Self::UnexpectedBinary => f.write_str("binary message without a pending binary packet"),
            Self::TooManyAttachments { count, limit } => {
                write!(f, "{count} attachments exceed the limit of {limit}")
            }
        }
    }
}

impl core::error::Error for ReassemblyError {}

/// Tracks the binary messages owed to the last `BINARY_EVENT`/`BINARY_ACK` of one connection.
///
/// Feed every Engine.IO message in order: text packets to [`packet`](Self::packet) (or
/// [`text`](Self::text)), binary messages to [`binary`](Self::binary). It stores no blobs:
/// the caller keeps the packet and the blobs until [`Progress::Complete`]. After an error the
/// state is reset to idle (the connection is expected to close anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reassembly {
    limit: usize,
    total: usize,
    received: usize,
}

impl Reassembly {
    /// An idle tracker refusing headers with more than `limit` attachments.
    pub const fn new(limit: usize) -> Self {
        Self {
            limit,
            total: 0,
            received: 0,
        }
    }

    /// A text packet announcing `attachments` blobs (0 for the text types).
    pub fn text(&mut self, attachments: usize) -> Result<Progress, ReassemblyError> {
        let remaining = self.remaining();
        if remaining > 0 {
            self.reset();
            return Err(ReassemblyError::TextWhilePending { remaining });
        }
        if attachments > self.limit {
            return Err(ReassemblyError::TooManyAttachments {
                count: attachments,
                limit: self.limit,
            });
        }
        self.total = attachments;
        self.received = 0;
        Ok(self.progress())
    }

    /// A decoded text packet; same as [`text`](Self::text) with its attachment count.
    pub fn packet(&mut self, packet: &Packet<'_>) -> Result<Progress, ReassemblyError> {
        self.text(packet.attachments().unwrap_or(0))
    }

    /// A binary message; says which `num` it fills.
    pub fn binary(&mut self) -> Result<Attachment, ReassemblyError> {
        if self.remaining() == 0 {
            self.reset();
            return Err(ReassemblyError::UnexpectedBinary);
        }
        let num = self.received;
        self.received += 1;
        Ok(Attachment {
            num,
            progress: self.progress(),
        })
    }

    /// Binary messages still expected.
    pub const fn remaining(&self) -> usize {
        self.total.saturating_sub(self.received)
    }

    /// Forgets any pending packet.
    pub const fn reset(&mut self) {
        self.total = 0;
        self.received = 0;
    }

    fn progress(&self) -> Progress {
        match self.remaining() {
            0 => Progress::Complete,
            remaining => Progress::Pending { remaining },
        }
    }
}

impl Default for Reassembly {
    /// A tracker with the reference limit of 10 attachments.
    fn default() -> Self {
        Self::new(10)
    }
}

#[cfg(test)]
mod tests;
