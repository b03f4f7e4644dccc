//! The msgpack parser at the client's edge ([`ClientConfig::parser`](super::ClientConfig),
//! feature `msgpack-parser`): a received binary message is one whole packet
//! ([`MsgPackPacket`]), put together as the default parser carries it (the text packet
//! with placeholders, then the binary values as attachments) for the client to deliver as
//! one of those; what the client sends (the CONNECTs, emits, acks, DISCONNECTs) is one
//! `MessagePack` map each, a binary message, written with [`sio::msgpack`].

use super::outbox::{self, Outbox};
use super::{Args, Client, CloseReason, CommandError, Phase};
use crate::BufferTooSmall;
use crate::adapter::{DecodeError, Discard, EncodeError};
use crate::json;
use crate::msgpack::{Counter, Sink, Writer};
use crate::sio::msgpack::{MsgPackPacket, encode_connect_request, encode_disconnect, encode_event};
use crate::sio::{self, PacketType};
use crate::write::Writer as TextWriter;

impl<const NS: usize, const ACKS: usize, const POLLING: bool> Client<'_, NS, ACKS, POLLING> {
    /// A binary message of the msgpack parser: one whole packet, put together in the
    /// reassembly buffer in the default parser's form for
    /// [`poll_event`](Client::poll_event) to deliver as one of those. A packet for a
    /// namespace the application did not ask for is ignored, as a text one is.
    pub(super) fn on_msgpack(&mut self, msg: &[u8]) -> Result<(), CloseReason> {
        if self.phase != Phase::Open {
            return Err(CloseReason::ParseError);
        }
        let p = MsgPackPacket::decode(msg).map_err(|_| CloseReason::ParseError)?;
        // Ours are names a text packet can carry (no `,`, no control characters).
        if self.find_ns(p.namespace()).is_none() {
            return Ok(());
        }
        let (text, len, count) = text_form(&p, self.asm.buf)?;
        self.asm.text = text;
        self.asm.len = len;
        self.asm.count = count;
        self.asm.left = 0;
        self.asm.ready = true;
        Ok(())
    }
}

/// Why a packet could not be put together: no room is [`CloseReason::TooLarge`], anything
/// else (`MessagePack` out of shape, too many binary values) [`CloseReason::ParseError`].
fn reason(e: DecodeError) -> CloseReason {
    match e {
        DecodeError::BufferTooSmall(_) => CloseReason::TooLarge,
        _ => CloseReason::ParseError,
    }
}

/// Writes packet `p` into `buf` as the default parser carries it: the text packet
/// (`5{n}-/chat,7["name",…]`, a binary type with its count when it has binary values,
/// each a placeholder; a CONNECT's or a `CONNECT_ERROR`'s data as JSON), then each binary
/// value as its length (4 bytes, little-endian) and its bytes. Returns the text's length,
/// the whole length and the number of binary values (at most the default parser's 10).
fn text_form(p: &MsgPackPacket<'_>, buf: &mut [u8]) -> Result<(usize, usize, usize), CloseReason> {
    let max = sio::Config::CLIENT.max_attachments;
    let mut count = 0;
    p.write_args_to(&mut Discard, &mut |_| {
        count += 1;
        if count > max {
            return Err(DecodeError::Shape);
        }
        Ok(0)
    })
    .map_err(reason)?;
    let kind = match (p.packet_type(), count) {
        (PacketType::Event, 1..) => PacketType::BinaryEvent,
        (PacketType::Ack, 1..) => PacketType::BinaryAck,
        (k, _) => k,
    };
    let mut w = TextWriter::new(buf);
    w.byte(kind.digit());
    if count > 0 {
        w.decimal(count as u64);
        w.byte(b'-');
    }
    if p.namespace() != "/" {
        w.put(p.namespace().as_bytes());
        w.byte(b',');
    }
    if let Some(id) = p.ack_id() {
        w.decimal(id);
    }
    match p.packet_type() {
        PacketType::Event | PacketType::Ack => {
            w.byte(b'[');
            if let Some(name) = p.event_name() {
                json::put_str(&mut w, name);
                if p.args_len() > 0 {
                    w.byte(b',');
                }
            }
            let mut num = 0;
            p.write_args_to(&mut w, &mut |_| {
                num += 1;
                Ok(num - 1)
            })
            .map_err(reason)?;
            w.byte(b']');
        }
        _ => p.write_data_to(&mut w).map_err(reason)?,
    }
    let text = w.finish().map_err(|_| CloseReason::TooLarge)?;
    let mut at = text;
    p.write_args_to(&mut Discard, &mut |b| {
        let end = at + 4 + b.len();
        let dst = buf
            .get_mut(at..end)
            .ok_or(DecodeError::BufferTooSmall(BufferTooSmall {
                required: end,
            }))?;
        dst[..4].copy_from_slice(&(b.len() as u32).to_le_bytes());
        dst[4..].copy_from_slice(b);
        at = end;
        Ok(0)
    })
    .map_err(reason)?;
    Ok((text, at, count))
}

/// Writes an EVENT (with `name`) or an ACK into the outbox as one binary record, tagged
/// `tag` and naming ack slot `ack_slot`.
///
/// # Errors
/// [`CommandError::OutboxFull`] with the bytes the record needs.
pub(super) fn encode_packet(
    outbox: &mut Outbox<'_>,
    nsp: &str,
    name: Option<&str>,
    ack: Option<u64>,
    args: &Args<'_>,
    tag: u8,
    ack_slot: u8,
) -> Result<(), CommandError> {
    // Through `dyn Sink`, so that the writer and the counter share one copy of the encoder.
    let dst = outbox.tail().get_mut(outbox::HDR..).unwrap_or_default();
    let mut w = Writer::new(dst);
    match encode_event(&mut w as &mut dyn Sink, nsp, ack, name, args, None) {
        Ok(()) => {
            let n = w.len();
            outbox.commit(outbox::BINARY, tag, ack_slot, n);
            Ok(())
        }
        Err(EncodeError::BufferTooSmall(_)) => {
            let mut need = Counter::default();
            let _ = encode_event(&mut need as &mut dyn Sink, nsp, ack, name, args, None);
            Err(CommandError::OutboxFull {
                required: outbox::HDR + need.0,
            })
        }
        // The caller checked the arguments.
        Err(_) => Err(CommandError::AttachmentMismatch),
    }
}

/// The length of namespace `name`'s CONNECT with `auth` (a JSON object).
pub(super) fn connect_len(name: &str, auth: Option<&[u8]>) -> usize {
    let mut n = Counter::default();
    match encode_connect_request(&mut n as &mut dyn Sink, name, auth) {
        Ok(()) => n.0,
        Err(_) => usize::MAX,
    }
}

/// A stored CONNECT (`40/chat,{"token":"t"}`, as [`Client::connect`] keeps it, with a
/// session to resume merged in) as the msgpack parser sends it, written into `scratch`;
/// `None` when it does not fit (the namespace area's size is checked when it is stored).
pub(super) fn connect_packet<'s>(pkt: &[u8], scratch: &'s mut [u8]) -> Option<&'s [u8]> {
    let name = super::ns_name(pkt);
    let rest = pkt.get(2..)?;
    let auth = match rest.first() {
        Some(b'/') => rest.get(rest.iter().position(|&b| b == b',')? + 1..)?,
        _ => rest,
    };
    let mut w = Writer::new(scratch);
    let auth = (!auth.is_empty()).then_some(auth);
    encode_connect_request(&mut w as &mut dyn Sink, name, auth).ok()?;
    let n = w.len();
    scratch.get(..n)
}

/// Namespace `name`'s DISCONNECT, written into `out`; its length.
pub(super) fn disconnect_packet(name: &str, out: &mut [u8]) -> Option<usize> {
    let mut w = Writer::new(out);
    encode_disconnect(&mut w as &mut dyn Sink, name).ok()?;
    Some(w.len())
}
