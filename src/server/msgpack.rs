//! The msgpack parser at the server's edge ([`ServerConfig::parser`], feature
//! `msgpack-parser`): a client's binary message is one whole Socket.IO packet
//! ([`MsgPackPacket`]), turned into the same events as a text packet and its attachments
//! (arguments as JSON with placeholders, the binary values as attachments); what the
//! server sends is written as one binary message each ([`sio::msgpack`]). Both sides go
//! through [`PoolSink`], straight into pool messages.
//!
//! Without the feature everything here sits behind [`MSGPACK`](super::MSGPACK), a constant
//! `false`, and is left out.

use core::fmt;

use super::event::Payload;
use super::pool::Pool;
use super::socketio::{AUTH_MAX, Handled, Incoming, Input, SocketIoLayer};
use super::{AckId, Args, CloseReason, CommandError, NamespaceId, Resource, ServerConfig};
use crate::BufferTooSmall;
use crate::adapter::{DecodeError, Discard, EncodeError, JsonSink};
use crate::msgpack::Sink;
use crate::sio::PacketType;
use crate::sio::msgpack::MsgPackPacket;
use crate::write::Writer as TextWriter;

/// Writes into a pool message: the `MessagePack` of a packet to send ([`Sink`]), or the
/// JSON of a packet received ([`JsonSink`]). Once the pool runs out nothing more is
/// written and `ok` is `false`; the caller releases the message.
pub(super) struct PoolSink<'p, 'a> {
    pool: &'p mut Pool<'a>,
    msg: u32,
    ok: bool,
}

impl PoolSink<'_, '_> {
    fn append(&mut self, bytes: &[u8]) {
        self.ok = self.ok && self.pool.append(self.msg, bytes);
    }
}

impl Sink for PoolSink<'_, '_> {
    fn put(&mut self, head: &[u8], body: &[u8]) -> Result<(), BufferTooSmall> {
        self.append(head);
        self.append(body);
        if self.ok {
            Ok(())
        } else {
            Err(BufferTooSmall {
                required: usize::MAX,
            })
        }
    }
}

impl fmt::Write for PoolSink<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.append(s.as_bytes());
        Ok(())
    }
}

impl JsonSink for PoolSink<'_, '_> {
    fn put(&mut self, bytes: &[u8]) {
        self.append(bytes);
    }

    fn put_str(&mut self, s: &str) {
        // Escaped a piece at a time (only ASCII bytes are escaped, so pieces cut at
        // character boundaries escape as the whole would).
        const PIECE: usize = 64;
        self.append(b"\"");
        let mut rest = s;
        while !rest.is_empty() {
            let mut cut = rest.len().min(PIECE);
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            let (piece, tail) = rest.split_at(cut);
            let mut buf = [0u8; 6 * PIECE];
            let mut w = TextWriter::new(&mut buf);
            crate::json::put_escaped(&mut w, piece);
            match w.finish() {
                Ok(n) => self.append(buf.get(..n).unwrap_or_default()),
                Err(_) => self.ok = false,
            }
            rest = tail;
        }
        self.append(b"\"");
    }
}

/// A binary pool message holding what `write` writes (a packet to send).
///
/// # Errors
/// [`CommandError::Full`] when the pool runs out, [`CommandError::InvalidName`] for what
/// `write` refuses (the caller checked the arguments before).
pub(super) fn encode_msg(
    pool: &mut Pool<'_>,
    write: impl FnOnce(&mut PoolSink<'_, '_>) -> Result<(), EncodeError>,
) -> Result<u32, CommandError> {
    let msg = pool
        .new_msg(true)
        .ok_or(CommandError::Full(Resource::Pool))?;
    let mut sink = PoolSink {
        pool,
        msg,
        ok: true,
    };
    let written = write(&mut sink);
    let ok = sink.ok;
    match written {
        Ok(()) if ok => Ok(msg),
        Err(EncodeError::InvalidArgs) => {
            pool.release(msg);
            Err(CommandError::InvalidName)
        }
        _ => {
            pool.release(msg);
            Err(CommandError::Full(Resource::Pool))
        }
    }
}

impl ServerConfig<'_> {
    /// With [`Parser::MsgPack`](super::Parser::MsgPack), the most bytes the application
    /// can be handed for one binary message of `len` bytes (the event's name, its
    /// arguments as JSON with placeholders, and its attachments), and so the room the pool
    /// must have before the server reads it: every byte of `MessagePack` makes at most 6
    /// of JSON (`false` and its comma; a control character in a string), and each binary
    /// value at most 24 more (its placeholder and length).
    pub fn msgpack_room(&self, len: usize) -> usize {
        len.saturating_mul(6)
            .saturating_add(24 * usize::from(self.max_attachments))
            .saturating_add(64)
    }
}

/// An EVENT (`name` set) or ACK packet in a binary pool message, an event with an
/// `offset` carrying it as its last argument (connection state recovery).
pub(super) fn encode_packet(
    pool: &mut Pool<'_>,
    ns: &str,
    ack: Option<u64>,
    name: Option<&str>,
    args: &Args<'_>,
    offset: Option<u64>,
) -> Result<u32, CommandError> {
    // Checked here for the precise error (and again by the encoder).
    crate::sio::check_args(args)?;
    let mut digits = [0u8; 20];
    let offset = offset.map(|o| {
        let at = crate::write::format_decimal(o, &mut digits);
        core::str::from_utf8(digits.get(at..).unwrap_or_default()).unwrap_or_default()
    });
    encode_msg(pool, |w| {
        crate::sio::msgpack::encode_event(w, ns, ack, name, args, offset)
    })
}

impl SocketIoLayer<'_> {
    /// Handles a binary Engine.IO message of a Socket.IO session on a server with the
    /// msgpack parser: one whole packet.
    pub(super) fn on_msgpack(
        &mut self,
        cx: &mut Input<'_, '_>,
        msg: &[u8],
    ) -> Result<Handled, CloseReason> {
        let p = MsgPackPacket::decode(msg).map_err(|_| CloseReason::ParseError)?;
        if !cx.ss.connected_once {
            if p.packet_type() != PacketType::Connect {
                return Err(CloseReason::ParseError);
            }
            cx.ss.connected_once = true;
        }
        match p.packet_type() {
            PacketType::Connect => {
                let mut auth = [0u8; AUTH_MAX];
                let n = match p.write_data(&mut auth) {
                    Ok(0) => {
                        auth[..2].copy_from_slice(b"{}");
                        2
                    }
                    Ok(n) => n,
                    Err(_) => return Err(CloseReason::ParseError),
                };
                self.connect_as(cx, p.namespace(), auth.get(..n).unwrap_or_default())
            }
            PacketType::Disconnect => self.on_disconnect(cx, p.namespace()),
            PacketType::Event => {
                let sock = self.joined(cx.ss, p.namespace(), cx.pool)?;
                let inc = Incoming {
                    socket: self.handle(sock),
                    namespace: NamespaceId(self.sockets[sock].0.ns),
                    ack: p.ack_id().map(AckId),
                    is_ack: false,
                };
                msgpack_record(cx, inc, p.event_name(), &p)
            }
            PacketType::Ack => {
                let sock = self.joined(cx.ss, p.namespace(), cx.pool)?;
                let id = p.ack_id().ok_or(CloseReason::ParseError)?;
                // Nobody waits for it (unknown, late or timed out): ignored.
                let Some(deadline) = self.take_ack(sock, id) else {
                    return Ok(Handled::NOTHING);
                };
                let inc = Incoming {
                    socket: self.handle(sock),
                    namespace: NamespaceId(self.sockets[sock].0.ns),
                    ack: Some(AckId(id)),
                    is_ack: true,
                };
                let mut handled = msgpack_record(cx, inc, None, &p)?;
                handled.acks_changed = deadline != 0;
                Ok(handled)
            }
            _ => Err(CloseReason::ParseError),
        }
    }
}

/// Stores an event's or an ack's payload as a text packet's would be (the name, the
/// arguments as JSON with placeholders, then each binary value as an attachment: its
/// length, 4 bytes little-endian, and its bytes) and queues its record. The caller made
/// room for [`ServerConfig::msgpack_room`] of the message.
fn msgpack_record(
    cx: &mut Input<'_, '_>,
    inc: Incoming,
    name: Option<&str>,
    p: &MsgPackPacket<'_>,
) -> Result<Handled, CloseReason> {
    let max = usize::from(cx.config.max_attachments);
    let msg = cx.pool.new_msg(false).ok_or(CloseReason::ParseError)?;
    let mut sink = PoolSink {
        pool: cx.pool,
        msg,
        ok: true,
    };
    let name = name.unwrap_or_default();
    sink.append(name.as_bytes());
    // The JSON, each binary value numbered; then the same walk again for the values.
    let mut count = 0;
    let json = p.write_args_to(&mut sink, &mut |_| {
        count += 1;
        if count > max {
            return Err(DecodeError::Shape);
        }
        Ok(count - 1)
    });
    let args_len = sink.pool.len(msg).saturating_sub(name.len());
    let blobs = p.write_args_to(&mut Discard, &mut |b| {
        sink.append(&(b.len() as u32).to_le_bytes());
        sink.append(b);
        Ok(0)
    });
    if json.is_err() || blobs.is_err() || !sink.ok {
        cx.pool.release(msg);
        return Err(CloseReason::ParseError);
    }
    let bytes = Payload::parts(msg, name.len(), args_len);
    let held = cx.pool.len(msg);
    let r = inc.record(cx.session(), count as u8, bytes);
    cx.events.push_or_release(r, cx.pool);
    Ok(Handled {
        held,
        held_events: 1,
        ..Handled::NOTHING
    })
}
