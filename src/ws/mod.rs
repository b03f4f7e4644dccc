//! RFC 6455 WebSocket codec, for both server and client roles, without an allocator.
//!
//! * Opening handshake: [`ClientHandshake::validate`] checks a client's upgrade request
//!   and yields the [`AcceptKey`]; [`write_server_response`] writes the `101` head.
//!   A client makes a [`ClientKey`] from 16 random bytes, writes its headers with
//!   [`write_client_headers`] and checks the answer with [`ServerHandshake::validate`].
//!   SHA-1 for the accept value is built in.
//! * Frames: [`FrameHeader::decode`] (streaming, role-aware checks) and
//!   [`FrameHeader::encode`]; [`encode_frame`] and [`encode_close`] write whole frames;
//!   [`apply_mask`] masks and unmasks payloads.
//! * Messages: [`MessageDecoder`] reassembles fragmented messages in place in a buffer the
//!   caller lends and yields [`Incoming`] items: text, binary, ping, pong, close.
//!   [`FrameScanner`] does the same for a caller that keeps its receive buffer itself and
//!   discards what the scanner reports consumed (a few words of state, no buffer).
//! * Close codes: [`CloseCode`], [`CloseFrame`]. Every decoding error has a `close_code()`
//!   giving the code to close the connection with.
//!
//! Extensions (such as `permessage-deflate`) and subprotocols are not negotiated, so the
//! reserved header bits must be zero.
//!
//! # Example
//!
//! ```
//! use siocore::ws::{Incoming, MessageDecoder, Role, encode_frame, OpCode};
//!
//! // A client sends a masked text frame...
//! let mut wire = [0u8; 64];
//! let n = encode_frame(&mut wire, true, OpCode::Text, b"4hello", Some([1, 2, 3, 4])).unwrap();
//!
//! // ...which the server decodes from its receive buffer.
//! let mut rx = [0u8; 1024];
//! let mut decoder = MessageDecoder::new(&mut rx[..], Role::Server, 1000);
//! assert_eq!(decoder.feed(&wire[..n]), n);
//! assert_eq!(decoder.poll(), Ok(Some(Incoming::Text("4hello"))));
//! assert_eq!(decoder.poll(), Ok(None));
//! ```

mod close;
mod frame;
mod handshake;
pub(crate) use handshake::put_client_headers;
mod mask;
mod message;
mod scan;
mod sha1;

pub use close::{CloseCode, CloseError, CloseFrame, MAX_CLOSE_REASON};
pub use frame::{
    EncodeError, FrameError, FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, OpCode, Role,
    encode_close, encode_frame, short_frame_head,
};
pub use handshake::{
    ACCEPT_GUID, AcceptKey, ClientHandshake, ClientKey, HandshakeError, ServerHandshake,
    write_client_headers, write_server_headers, write_server_response,
};
pub use mask::apply_mask;
pub use message::{CONTROL_RESERVE, Incoming, MessageDecoder, MessageError};
pub use scan::{FRAGMENT_OVERHEAD, FrameScanner, Peeked};
