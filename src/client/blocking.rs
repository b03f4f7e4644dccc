//! A driver for boards whose TCP stack offers [`embedded_io`] `Read`/`Write` (feature
//! `embedded-io`, no allocator): the client over one WebSocket, turned by a super-loop.
//!
//! [`BlockingClient::poll`] does one turn without waiting for the network: it opens the
//! connection when the client asks (through the application's [`Connect`]), writes what the
//! client hands out (`write_all`, which blocks only as long as the stack's send buffer is
//! full), reads while [`ReadReady`] says bytes are there, runs the timers and passes every
//! event to the handler. Call it from the main loop with the board's millisecond clock;
//! sleep until [`WsClient::poll_timeout`] or the next network interrupt in between.
//!
//! Long-polling needs two requests in flight at once, which one blocking stream cannot
//! give, so this driver takes a [`WsClient`], the client built without polling (the
//! smallest image).
//!
//! ```
//! use embedded_io::{ErrorKind, ErrorType, Read, ReadReady, Write};
//! use siocore::Instant;
//! use siocore::client::blocking::{BlockingClient, Connect};
//! use siocore::client::{ClientConfig, Event, Transports, WsClient};
//!
//! /// A stand-in for the board's TCP socket.
//! struct Socket;
//! impl ErrorType for Socket {
//!     type Error = ErrorKind;
//! }
//! impl Read for Socket {
//!     fn read(&mut self, _: &mut [u8]) -> Result<usize, ErrorKind> { Ok(0) }
//! }
//! impl ReadReady for Socket {
//!     fn read_ready(&mut self) -> Result<bool, ErrorKind> { Ok(false) }
//! }
//! impl Write for Socket {
//!     fn write(&mut self, b: &[u8]) -> Result<usize, ErrorKind> { Ok(b.len()) }
//!     fn flush(&mut self) -> Result<(), ErrorKind> { Ok(()) }
//! }
//! struct Tcp;
//! impl Connect for Tcp {
//!     type Conn = Socket;
//!     fn connect(&mut self) -> Result<Socket, ErrorKind> { Ok(Socket) }
//! }
//!
//! let mut config = ClientConfig::new("192.168.1.10:3000");
//! config.transports = Transports::WebSocket;
//! config.rx_capacity = 2048;
//! config.outbox_capacity = 1024;
//! config.binary_capacity = 0;
//! config.namespace_capacity = 64;
//! let mut arena = [0u8; 4096];
//! let mut client: WsClient<'_, 1, 4> = WsClient::new(config, &mut arena, [7; 32]).unwrap();
//! client.connect("/", None).unwrap();
//! let (mut out, mut events) = ([0u8; 1536], [0u8; 2048]);
//! let mut board = BlockingClient::new(client, Tcp, &mut out, &mut events).unwrap();
//! board.client().start(Instant::ZERO);
//! board.poll(Instant::from_millis(1), |_client, event| {
//!     if let Event::Message(m) = event {
//!         let _ = m.name;
//!     }
//! });
//! ```
//!
//! # TLS
//!
//! The driver stays transport-agnostic: for `wss://`, the application's [`Connect`] opens
//! the TCP connection, makes the TLS handshake on it and returns the TLS stream, and the
//! driver writes the WebSocket handshake and frames through it as through a plain socket.
//! Of the three traits, [`ReadReady`] needs care: it must say `true` when the TLS layer
//! already holds decrypted bytes though the socket has nothing new, and `false` when the
//! socket holds only part of a record (the next [`Read::read`] would block).
//!
//! - On a board with `std` (Linux), rustls: `examples/blocking_tls.rs` wraps a rustls
//!   `StreamOwned<ClientConnection, TcpStream>` (the `tls` feature re-exports rustls as
//!   `siocore::driver::rustls`) in the `embedded-io` traits and runs this driver over
//!   `wss://` (`cargo run --features tls,embedded-io --example blocking_tls -- --ca ca.pem
//!   wss://127.0.0.1:3000`); `tests/blocking_tls.rs` runs it against the echo server
//!   serving TLS. `embedded-io-adapters`' `FromStd` gives `Read` and `Write` but not
//!   `ReadReady`, so the example writes the adapter itself. Its `ReadReady`, the part that
//!   is not a plain forward:
//!
#![cfg_attr(feature = "tls", doc = "```")]
#![cfg_attr(not(feature = "tls"), doc = "```ignore")]
//! # use std::io;
//! # use std::net::TcpStream;
//! # use embedded_io::{ErrorKind, ErrorType, ReadReady};
//! # use siocore::driver::rustls::{ClientConnection, StreamOwned};
//! # #[allow(dead_code)]
//! struct TlsStream(StreamOwned<ClientConnection, TcpStream>);
//! # impl ErrorType for TlsStream {
//! #     type Error = ErrorKind;
//! # }
//! impl ReadReady for TlsStream {
//!     fn read_ready(&mut self) -> Result<bool, ErrorKind> {
//!         let StreamOwned { conn, sock } = &mut self.0;
//!         loop {
//!             let state = conn.process_new_packets().map_err(|_| ErrorKind::InvalidData)?;
//!             if state.plaintext_bytes_to_read() > 0 || state.peer_has_closed() {
//!                 return Ok(true);
//!             }
//!             // No whole record decrypted yet: take what the socket has, without waiting.
//!             sock.set_nonblocking(true).map_err(|_| ErrorKind::Other)?;
//!             let got = conn.read_tls(sock);
//!             sock.set_nonblocking(false).map_err(|_| ErrorKind::Other)?;
//!             match got {
//!                 Ok(0) => return Ok(true), // the end of the stream: `read` reports it
//!                 Ok(_) => {}
//!                 Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
//!                 Err(_) => return Err(ErrorKind::Other),
//!             }
//!         }
//!     }
//! }
//! ```
//!
//! - On a `no_std` board, [`embedded-tls`](https://crates.io/crates/embedded-tls) (a TLS 1.3
//!   client without allocator) fits the same place: its blocking `TlsConnection`, opened
//!   over the stack's TCP socket in [`Connect::connect`], reads and writes through the
//!   `embedded-io` traits (mind that its `embedded-io` release is the one this crate uses,
//!   0.6, or bridge the two); the wrapper's `ReadReady` then answers from the decrypted
//!   bytes the connection still holds and the socket's own "bytes waiting" test, with the
//!   same care for a record that has arrived only in part. siocore does not depend on it:
//!   the [`Connect`] is the application's.

use embedded_io::{Read, ReadReady, Write};

use super::{Event, Io, Stream, WsClient};
use crate::Instant;

/// Opens the TCP (or TLS) connection to the server.
pub trait Connect {
    /// The connected stream.
    type Conn: Read + Write + ReadReady;

    /// Connects; an error is reported to the client as a failed attempt.
    ///
    /// # Errors
    /// Whatever the stack reports.
    fn connect(&mut self) -> Result<Self::Conn, <Self::Conn as embedded_io::ErrorType>::Error>;
}

/// Why [`BlockingClient::new`] refused its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetupError {
    /// The event buffer is shorter than [`WsClient::event_buf_len`] (the value).
    EventBufferTooSmall(usize),
}

impl core::fmt::Display for SetupError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::EventBufferTooSmall(n) => write!(f, "the event buffer needs {n} bytes"),
        }
    }
}

impl core::error::Error for SetupError {}

/// A [`WsClient`] on an `embedded-io` stream; see the [module docs](self).
pub struct BlockingClient<'a, C: Connect, const NS: usize = 4, const ACKS: usize = 16> {
    client: WsClient<'a, NS, ACKS>,
    connect: C,
    conn: Option<C::Conn>,
    out: &'a mut [u8],
    events: &'a mut [u8],
}

impl<C: Connect, const NS: usize, const ACKS: usize> core::fmt::Debug
    for BlockingClient<'_, C, NS, ACKS>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BlockingClient")
            .field("client", &self.client)
            .field("connected", &self.conn.is_some())
            .finish_non_exhaustive()
    }
}

impl<'a, C: Connect, const NS: usize, const ACKS: usize> BlockingClient<'a, C, NS, ACKS> {
    /// A driver for `client`, writing through `out` (size it
    /// [`ClientConfig::out_len`](super::ClientConfig::out_len)) and taking events into
    /// `events` (at least [`WsClient::event_buf_len`] bytes).
    ///
    /// # Errors
    /// [`SetupError::EventBufferTooSmall`].
    pub fn new(
        client: WsClient<'a, NS, ACKS>,
        connect: C,
        out: &'a mut [u8],
        events: &'a mut [u8],
    ) -> Result<Self, SetupError> {
        if events.len() < client.event_buf_len() {
            return Err(SetupError::EventBufferTooSmall(client.event_buf_len()));
        }
        Ok(Self {
            client,
            connect,
            conn: None,
            out,
            events,
        })
    }

    /// The client, for commands between turns.
    pub fn client(&mut self) -> &mut WsClient<'a, NS, ACKS> {
        &mut self.client
    }

    /// Whether the TCP connection is up.
    pub const fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// One turn at `now`: I/O, timers, and every event to `handler` (which may issue
    /// commands). Returns once nothing more can happen without waiting.
    pub fn poll(
        &mut self,
        now: Instant,
        mut handler: impl FnMut(&mut WsClient<'a, NS, ACKS>, &Event<'_>),
    ) {
        self.client.handle_timeout(now);
        loop {
            let mut progress = false;
            while let Some(io) = self.client.poll_io(self.out) {
                progress = true;
                match io {
                    Io::Connect(s) => match self.connect.connect() {
                        Ok(c) if s == Stream::WebSocket => {
                            self.conn = Some(c);
                            self.client.connected(s, now);
                        }
                        _ => self.client.connect_failed(s, now),
                    },
                    Io::Send { len, .. } => {
                        let sent = match self.conn.as_mut() {
                            Some(c) => c.write_all(&self.out[..len]).and_then(|()| c.flush()),
                            None => Ok(()),
                        };
                        if sent.is_err() {
                            self.conn = None;
                            self.client.closed(Stream::WebSocket, now);
                        }
                    }
                    Io::Close(_) => self.conn = None,
                }
            }
            if let Some(c) = self.conn.as_mut() {
                loop {
                    let buf = self.client.rx_buf(Stream::WebSocket);
                    if buf.is_empty() {
                        break;
                    }
                    match c.read_ready() {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(_) => {
                            self.conn = None;
                            self.client.closed(Stream::WebSocket, now);
                            break;
                        }
                    }
                    match c.read(buf) {
                        Ok(0) | Err(_) => {
                            self.conn = None;
                            self.client.closed(Stream::WebSocket, now);
                            progress = true;
                            break;
                        }
                        Ok(n) => {
                            progress = true;
                            self.client.rx_commit(Stream::WebSocket, n, now);
                        }
                    }
                }
            }
            while let Ok(Some(e)) = self.client.poll_event(self.events) {
                progress = true;
                handler(&mut self.client, &e);
            }
            if !progress {
                return;
            }
        }
    }
}
