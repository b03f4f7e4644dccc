//! Engine.IO v4 wire codec.
//!
//! Everything here borrows from the caller's bytes and writes into caller buffers; nothing
//! allocates and nothing keeps state between calls.
//!
//! | item | what it speaks |
//! |---|---|
//! | [`PacketType`], [`Packet`], [`TextPacket`] | one packet: a WebSocket message, or one record of a polling body |
//! | [`Payload`], [`Record`], [`Base64Data`] | reading a polling body (records joined by `0x1E`, binary as `b` + base64) |
//! | [`PayloadWriter`] | batching packets into one polling body |
//! | [`OpenPacket`] | the handshake packet `0{"sid":…}` |
//! | [`ErrorBody`], [`ErrorCode`] | the JSON body of a rejected HTTP request |
//! | `v3` (feature `eio3`) | Engine.IO v3 polling bodies, for socket.io 2.x peers |
//!
//! ```
//! use siocore::engine::{Packet, PacketType, Payload, PayloadWriter, Record, TextPacket};
//!
//! // A server batches queued packets into one GET response.
//! let mut body = [0u8; 32];
//! let mut w = PayloadWriter::new(&mut body);
//! w.push(Packet::Text(TextPacket::new(PacketType::Message, "hi")))?;
//! w.push(Packet::Text(TextPacket::new(PacketType::Ping, "")))?;
//! w.push(Packet::Binary(&[0xca, 0xfe]))?;
//! assert_eq!(w.as_bytes(), b"4hi\x1e2\x1ebyv4=");
//!
//! // The other side reads it back.
//! let mut records = Payload::new(b"4hi\x1e2\x1ebyv4=");
//! assert!(matches!(records.next(), Some(Ok(Record::Text(p))) if p.data() == "hi"));
//! assert!(matches!(records.next(), Some(Ok(Record::Text(p))) if p.packet_type() == PacketType::Ping));
//! let Some(Ok(Record::Binary(b))) = records.next() else { panic!() };
//! let mut bytes = [0u8; 2];
//! assert_eq!(b.decode_into(&mut bytes)?, 2);
//! assert_eq!(bytes, [0xca, 0xfe]);
//! assert!(records.next().is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error_body;
mod json;
mod open;
mod packet;
mod payload;
#[cfg(feature = "eio3")]
pub mod v3;
// Without the feature the server's v3 paths are dead code behind a constant `false`, but
// they must still compile.
#[cfg(not(feature = "eio3"))]
#[allow(dead_code, unreachable_pub)]
pub(crate) mod v3;

pub use error_body::{ErrorBody, ErrorBodyError, ErrorCode};
pub use open::{OpenError, OpenField, OpenPacket};
pub use packet::{Packet, PacketError, PacketType, TextPacket};
pub use payload::{
    Base64Data, Payload, PayloadWriteError, PayloadWriter, RECORD_SEPARATOR, Record,
};
