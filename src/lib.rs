//! siocore: Engine.IO v4 / Socket.IO v5 without I/O.
//!
//! siocore is a *sans-IO* implementation of the Socket.IO stack: it consumes the bytes a
//! driver read from a socket and hands back the bytes to write plus the events for the
//! application. It owns no socket, no thread, no clock and no randomness, and it needs no
//! allocator: every buffer is lent by the caller.
//!
//! # Layers
//!
//! The wire codecs are the foundation; each one borrows from the caller's bytes instead of
//! copying, writes into caller buffers, and reports malformed input through its own typed
//! error. Streaming decoders (HTTP heads, WebSocket frames) answer [`Status::Partial`] when
//! they need more bytes: that is a value, not an error.
//!
//! | module | what it speaks |
//! |---|---|
//! | [`http`] | HTTP/1.1 request and response heads, bodies by `Content-Length`, the writers |
//! | [`ws`] | RFC 6455 WebSocket: handshake, frames, masking, fragments, close codes |
//! | [`engine`] | Engine.IO v4 packets, polling payloads, the open packet, error bodies |
//! | [`sio`] | Socket.IO v5 packets, the validating JSON scanner, binary attachments |
//! | [`base64`] | standard base64, as used by polling binary packets and the WebSocket accept key |
//! | [`msgpack`] | `MessagePack` as the Socket.IO Redis adapter and the msgpack parser write it (`notepack.io`), for cluster messages and the parser's packets |
//! | [`adapter`] | the Redis adapter's cluster messages: channel names, server ids, broadcasts |
//!
//! On top of them, [`server`] is the sans-IO server: TCP byte streams in, Socket.IO sessions,
//! events for the application and bytes to write out, with every table sized by the caller;
//! [`client`] is the sans-IO client (polling, WebSocket, upgrade, reconnection), its buffers
//! carved from one caller-lent arena.
//! [`time`] holds the [`Instant`] its timers take as an argument.
//!
//! # Output buffers
//!
//! Encoders write into a caller's `&mut [u8]` and return the number of bytes written. When
//! the buffer is too short they return [`BufferTooSmall`] with the exact size needed; the
//! buffer's content is then unspecified and nothing else changed, so the caller can grow it
//! and call again.
//!
//! # Features
//!
//! | feature | effect |
//! |---|---|
//! | *(none)* | `no_std`, no allocator: what a microcontroller builds |
//! | `alloc` | growable server tables ([`server::Storage::growable`]) |
//! | `std` | implies `alloc`; std integration |
//! | `mio` | implies `std`, `recovery`, `eio3` and `msgpack-parser`: the ready server and client loops (`driver`) and the `app` API |
//! | `tls` | implies `mio`: https and wss in the drivers and `app` (`driver::ServerTls`, `driver::ClientTls`), on rustls with the *ring* provider; the client trusts Mozilla's roots (`webpki-roots`) or the CAs it is given |
//! | `embedded-io` | the blocking client driver over `embedded-io` streams (`client::blocking`) |
//! | `recovery` | connection state recovery: in the client, sessions resumed after a reconnection, and kept across a reboot ([`client`] docs); in the server, [`ServerConfig::recovery`](server::ServerConfig::recovery) (without the feature none of its code is compiled and [`Server::new`](server::Server::new) refuses it) |
//! | `eio3` | Engine.IO v3 / Socket.IO protocol v4: its clients in the server ([`ServerConfig::allow_eio3`](server::ServerConfig::allow_eio3)), the client speaking it to a socket.io 2.x server ([`ClientConfig::eio3`](client::ClientConfig::eio3)), and the v3 polling codec |
//! | `msgpack-parser` | the msgpack parser in the server, [`ServerConfig::parser`](server::ServerConfig::parser), and in the client, [`ClientConfig::parser`](client::ClientConfig::parser), and its packet codec (`sio::msgpack`) |
//!
//! The minimum supported Rust version is 1.95, the toolchain CI builds with.
#![no_std]
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod adapter;
#[cfg(feature = "mio")]
pub mod app;
pub mod base64;
pub mod client;
#[cfg(feature = "mio")]
pub mod driver;
pub mod engine;
mod error;
pub mod http;
pub mod json;
pub mod msgpack;
mod rand;
pub mod server;
pub mod sio;
pub mod time;
pub mod ws;

mod write;

#[cfg(test)]
mod testutil;

pub use error::BufferTooSmall;
pub use time::Instant;

/// The result of a streaming decoder that may need more input.
///
/// `Partial` means the bytes seen so far are a valid prefix and nothing was consumed: call
/// again with more bytes appended. It is never returned for input that is already known to
/// be malformed; that is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Status<T> {
    /// A whole item was decoded.
    Complete(T),
    /// More bytes are needed.
    Partial,
}

impl<T> Status<T> {
    /// `true` for [`Status::Partial`].
    pub const fn is_partial(&self) -> bool {
        matches!(self, Self::Partial)
    }

    /// `true` for [`Status::Complete`].
    pub const fn is_complete(&self) -> bool {
        matches!(self, Self::Complete(_))
    }

    /// The decoded item, if complete.
    pub fn complete(self) -> Option<T> {
        match self {
            Self::Complete(t) => Some(t),
            Self::Partial => None,
        }
    }

    /// Maps the decoded item.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Status<U> {
        match self {
            Self::Complete(t) => Status::Complete(f(t)),
            Self::Partial => Status::Partial,
        }
    }
}

/// The README's Rust examples run as doc tests, so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
