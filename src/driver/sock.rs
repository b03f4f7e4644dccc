//! A connection's socket for both drivers: plain TCP, or (feature `tls`) TLS over it.

#[cfg(feature = "tls")]
use std::boxed::Box;
use std::io::{self, Read};

use mio::net::TcpStream;

/// A connection's socket: plain TCP, or TLS over it. Reads and writes move plaintext;
/// neither blocks.
#[derive(Debug)]
pub(super) enum Sock {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<super::tls::Tls>),
}

impl Sock {
    /// The TCP stream (to register, shut down, query).
    pub(super) fn tcp(&mut self) -> &mut TcpStream {
        match self {
            Self::Plain(s) => s,
            #[cfg(feature = "tls")]
            Self::Tls(t) => t.tcp(),
        }
    }

    /// Whether a short read may leave bytes behind (in TLS records read but not yet
    /// decrypted): then reading goes on until the socket would block.
    pub(super) fn buffers_input(&self) -> bool {
        match self {
            Self::Plain(_) => false,
            #[cfg(feature = "tls")]
            Self::Tls(_) => true,
        }
    }

    /// Reads plaintext, as `TcpStream::read` does: `Ok(0)` at the end of the stream,
    /// `WouldBlock` when nothing is there.
    pub(super) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Self::Tls(t) => t.read(buf),
        }
    }

    /// Writes as much plaintext as the socket (and, for TLS, rustls' bounded buffer) takes
    /// now, after the TLS records queued before.
    pub(super) fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => super::write_some(s, bytes),
            #[cfg(feature = "tls")]
            Self::Tls(t) => t.write(bytes),
        }
    }

    /// [`write`](Self::write) of the bytes of `parts`, in order: on plain TCP one vectored
    /// write (`writev`) at a time.
    pub(super) fn write_vectored(&mut self, parts: &[&[u8]]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => super::write_some_vectored(s, parts),
            #[cfg(feature = "tls")]
            Self::Tls(t) => {
                let mut done = t.write(parts.first().copied().unwrap_or_default())?;
                let mut whole = parts.first().is_none_or(|p| done == p.len());
                for p in parts.iter().skip(1) {
                    if !whole {
                        break;
                    }
                    let n = t.write(p)?;
                    done += n;
                    whole = n == p.len();
                }
                Ok(done)
            }
        }
    }

    /// TLS records wait for the socket.
    pub(super) fn wants_write(&self) -> bool {
        match self {
            Self::Plain(_) => false,
            #[cfg(feature = "tls")]
            Self::Tls(t) => t.wants_write(),
        }
    }

    /// Queues a TLS `close_notify` (once) and pushes what the socket takes; nothing on
    /// plain TCP.
    pub(super) fn close_notify(&mut self) {
        match self {
            Self::Plain(_) => {}
            #[cfg(feature = "tls")]
            Self::Tls(t) => t.close_notify(),
        }
    }

    /// Moves a client's TLS handshake on; `Ok(true)` once it is done (at once on plain
    /// TCP).
    pub(super) fn handshake(&mut self) -> io::Result<bool> {
        match self {
            Self::Plain(_) => Ok(true),
            #[cfg(feature = "tls")]
            Self::Tls(t) => t.handshake(),
        }
    }
}
