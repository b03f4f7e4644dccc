//! Socket.IO v5 wire codec.
//!
//! A Socket.IO packet travels as the text of one Engine.IO `message` (the caller strips or
//! writes the Engine.IO `4`):
//!
//! ```text
//! <type digit>[<attachment count>-][<namespace>,][<ack id>][<JSON payload>]
//! ```
//!
//! * [`Packet::parse`] decodes and fully validates one packet, borrowing from the message:
//!   type, attachment count, namespace, ack id, raw JSON payload, and for events the name
//!   and the raw argument list, so a server can re-emit the same arguments without parsing
//!   them. Every malformed form has its own [`DecodeError`] variant.
//! * `encode_*` functions write packets into caller buffers, byte for byte like the
//!   reference (`JSON.stringify` output; caller JSON passed through raw). [`ArgsWriter`]
//!   builds argument lists piece by piece, with attachment placeholders.
//! * [`Reassembly`] counts the binary messages owed to a `BINARY_EVENT`/`BINARY_ACK` and
//!   [`Packet::placeholders`] locates the placeholders to substitute.
//! * `msgpack` (feature `msgpack-parser`) reads and writes the packets of the msgpack
//!   parser instead: one `MessagePack` map each, binary in place.
//! * [`crate::json`] is the validating scanner underneath (shared with Engine.IO): one linear
//!   pass, no tree, no recursion.
//!
//! ```
//! use siocore::sio::{Packet, PacketType, encode_ack};
//!
//! let p = Packet::parse(br#"2456["message-with-ack",1,"2",{"3":[false]}]"#).unwrap();
//! assert_eq!(p.packet_type(), PacketType::Event);
//! assert!(p.event_name().unwrap().eq_str("message-with-ack"));
//! assert_eq!(p.args(), br#"1,"2",{"3":[false]}"#);
//!
//! let mut out = [0u8; 64];
//! let len = encode_ack(&mut out, p.namespace(), p.ack_id().unwrap(), p.args()).unwrap();
//! assert_eq!(&out[..len], br#"3456[1,"2",{"3":[false]}]"#);
//! ```

mod args;
mod binary;
#[cfg(feature = "msgpack-parser")]
pub mod msgpack;
// Without the feature the server's msgpack paths are dead code behind a constant `false`,
// but they must still compile.
#[cfg(not(feature = "msgpack-parser"))]
#[allow(dead_code, unreachable_pub)]
pub(crate) mod msgpack;
mod packet;

pub use args::{AckId, Args, ArgsError, Attachments, MAX_EMIT_ATTACHMENTS, check_args};
pub use binary::{
    ArgsWriter, Attachment, Placeholder, Placeholders, Progress, Reassembly, ReassemblyError,
};
pub use packet::{
    Config, DecodeError, EncodeError, EventName, MAX_ACK_ID, Packet, PacketType,
    RESERVED_EVENT_NAMES, Role, encode_ack, encode_binary_ack, encode_binary_event, encode_connect,
    encode_connect_error, encode_connect_sid, encode_disconnect, encode_event,
};
