//! The ready client loop: the sans-IO [`Client`] on a [`mio`] event loop, one thread.
//!
//! [`ClientDriver`] opens the TCP streams the client asks for, reads each one into the
//! client's own receive buffer (and stops reading a stream while that buffer is full of
//! events the application has not taken yet), writes what the client hands back, closes
//! what it says to close, arms the poll timeout from [`Client::poll_timeout`], and passes
//! every event to a [`ClientHandler`]. It knows nothing of the protocol.
//!
//! With the feature `tls`, [`ClientDriver::tls`] makes every stream TLS (`https` and `wss`):
//! the server's certificate is checked against the roots of a [`ClientTls`] (Mozilla's, or
//! a CA of your own) for the URL's host, which is sent as SNI too. The client is told a
//! stream is up once its handshake is done; a TLS failure reaches the handler as
//! [`Wake::Tls`] (an untrusted or mismatched certificate says so), and then the client as
//! a failed or lost stream, which it retries as it retries any.
//!
//! ```no_run
//! use siocore::client::{Args, Client, ClientConfig, Event};
//! use siocore::driver::{ClientDriver, Wake, os_seed};
//!
//! let config = ClientConfig::new("127.0.0.1:3000");
//! let mut arena = vec![0u8; config.arena_len()];
//! let mut client: Client<'_> = Client::new(config, &mut arena, os_seed()?)?;
//! client.connect("/", None)?;
//! let mut driver = ClientDriver::new(client, "127.0.0.1:3000".parse()?)?;
//! driver.run(&mut |client: &mut Client<'_>, wake: Wake<'_, '_>, _now| {
//!     if let Wake::Event(Event::Connect { namespace, .. }) = wake {
//!         client.emit(*namespace, "hello", Args::json(b"\"world\"")).ok();
//!     }
//!     true
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use std::vec;
use std::vec::Vec;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};

use super::sock::Sock;
#[cfg(feature = "tls")]
use super::tls::{ClientTls, Tls, TlsConfigError, TlsError};
use crate::Instant;
use crate::client::{Client, ConnectFailure, Event, Io, Stream};

const WAKER: Token = Token(3);

/// Why the handler is called.
#[derive(Debug, Clone, Copy)]
pub enum Wake<'e, 'b> {
    /// An event from the client.
    Event(&'e Event<'b>),
    /// [`ClientDriver::waker`] was woken (another thread has work for the client).
    Woken,
    /// A stream's TLS failed (feature `tls`): an untrusted or mismatched certificate, a
    /// refused handshake, bytes that are not TLS. The client is told the stream failed
    /// right after, and retries as it retries any lost connection; a handler that gives
    /// up on certificate errors ([`TlsError::is_certificate`]) returns `false`.
    #[cfg(feature = "tls")]
    Tls(&'e TlsError),
}

/// What the application does with the client's events.
pub trait ClientHandler<const NS: usize, const ACKS: usize> {
    /// Called for every event and every wake-up; may issue any command on `client`.
    /// Returning `false` ends [`ClientDriver::run`].
    fn call(&mut self, client: &mut Client<'_, NS, ACKS>, wake: Wake<'_, '_>, now: Instant)
    -> bool;
}

impl<const NS: usize, const ACKS: usize, F> ClientHandler<NS, ACKS> for F
where
    F: FnMut(&mut Client<'_, NS, ACKS>, Wake<'_, '_>, Instant) -> bool,
{
    fn call(
        &mut self,
        client: &mut Client<'_, NS, ACKS>,
        wake: Wake<'_, '_>,
        now: Instant,
    ) -> bool {
        self(client, wake, now)
    }
}

#[derive(Debug, Default)]
struct Conn {
    sock: Option<Sock>,
    /// TCP connected (the first writable event came without an error).
    tcp_up: bool,
    /// Connected, the TLS handshake done: the client was told.
    up: bool,
    /// Bytes the kernel did not take yet.
    out: Vec<u8>,
    /// Close once `out` is written.
    close: bool,
    /// The last read stopped because the client's buffer was full.
    stalled: bool,
}

/// A [`Client`] on a mio loop: it opens the streams the client asks for, reads each into
/// the client's buffer (pausing a stream while that buffer is full), writes what the client
/// hands out, and runs its timers.
pub struct ClientDriver<'a, const NS: usize = 4, const ACKS: usize = 16> {
    client: Client<'a, NS, ACKS>,
    addr: SocketAddr,
    poll: Poll,
    waker: Arc<Waker>,
    conns: [Conn; 3],
    out: Vec<u8>,
    ev: Vec<u8>,
    epoch: std::time::Instant,
    #[cfg(feature = "tls")]
    tls: Option<TlsTo>,
    /// TLS failures the handler has not seen yet.
    #[cfg(feature = "tls")]
    tls_errors: Vec<TlsError>,
}

/// Whom a client's TLS streams talk to.
#[cfg(feature = "tls")]
#[derive(Debug)]
struct TlsTo {
    config: ClientTls,
    name: rustls::pki_types::ServerName<'static>,
    host: std::string::String,
}

impl Conn {
    /// Bytes wait: the client's, or TLS records.
    fn pending(&self) -> bool {
        !self.out.is_empty() || self.sock.as_ref().is_some_and(Sock::wants_write)
    }
}

impl<const NS: usize, const ACKS: usize> core::fmt::Debug for ClientDriver<'_, NS, ACKS> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientDriver")
            .field("addr", &self.addr)
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl<'a, const NS: usize, const ACKS: usize> ClientDriver<'a, NS, ACKS> {
    /// A loop for `client`, whose streams connect to `addr`; it starts the client.
    ///
    /// # Errors
    /// When the poll instance cannot be created.
    pub fn new(client: Client<'a, NS, ACKS>, addr: SocketAddr) -> io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let out = vec![0u8; client.config().out_len()];
        let ev = vec![0u8; client.event_buf_len()];
        let mut d = Self {
            client,
            addr,
            poll,
            waker,
            conns: Default::default(),
            out,
            ev,
            epoch: std::time::Instant::now(),
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            tls_errors: Vec::new(),
        };
        let now = d.now();
        d.client.start(now);
        Ok(d)
    }

    /// Makes every stream TLS (feature `tls`), for `https://` and `wss://` servers: the
    /// server's certificate must chain to a root of `tls` and be valid for `server_name`
    /// (a host name, sent as SNI, or an IP address; [`ServerUrl::name`]).
    ///
    /// # Errors
    /// A `server_name` that is neither a DNS name nor an IP address.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: ClientTls, server_name: &str) -> Result<Self, TlsConfigError> {
        self.set_tls(tls, server_name)?;
        Ok(self)
    }

    /// [`tls`](Self::tls) on a driver already made: streams opened from now on speak TLS.
    ///
    /// # Errors
    /// A `server_name` that is neither a DNS name nor an IP address.
    #[cfg(feature = "tls")]
    pub fn set_tls(&mut self, tls: ClientTls, server_name: &str) -> Result<(), TlsConfigError> {
        self.tls = Some(TlsTo {
            config: tls,
            name: super::tls::server_name(server_name)?,
            host: server_name.into(),
        });
        Ok(())
    }

    /// The client, for commands between runs.
    pub fn client(&mut self) -> &mut Client<'a, NS, ACKS> {
        &mut self.client
    }

    /// Wakes the loop from another thread: the handler is called with [`Wake::Woken`].
    pub fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.waker)
    }

    /// Milliseconds since the driver was made, as the client's clock.
    pub fn now(&self) -> Instant {
        Instant::from_millis(self.epoch.elapsed().as_millis() as u64)
    }

    /// Runs until the handler returns `false`, or the client is closed for good (after
    /// [`Client::close`], or when reconnection gave up) and every stream is done.
    ///
    /// # Errors
    /// Only when polling itself fails; socket errors are reported to the client.
    pub fn run(&mut self, handler: &mut impl ClientHandler<NS, ACKS>) -> io::Result<()> {
        let mut events = Events::with_capacity(16);
        loop {
            if !self.pump(handler) {
                return Ok(());
            }
            if self.client.poll_timeout().is_none()
                && !self.client.is_open()
                && self.conns.iter().all(|c| c.sock.is_none())
            {
                return Ok(());
            }
            let timeout = self.client.poll_timeout().map(|t| {
                Duration::from_millis(t.as_millis().saturating_sub(self.now().as_millis()))
            });
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let mut woken = false;
            for e in &events {
                let i = e.token().0;
                if e.token() == WAKER {
                    woken = true;
                    continue;
                }
                if i >= 3 {
                    continue;
                }
                if e.is_writable() || e.is_error() {
                    self.on_writable(i);
                }
                if e.is_readable() || e.is_read_closed() || e.is_error() {
                    self.read(i);
                }
            }
            if woken {
                let now = self.now();
                if !handler.call(&mut self.client, Wake::Woken, now) {
                    return Ok(());
                }
            }
            let now = self.now();
            self.client.handle_timeout(now);
        }
    }

    /// Moves bytes and events until nothing is left to do; `false` when the handler
    /// asked to stop.
    fn pump(&mut self, handler: &mut impl ClientHandler<NS, ACKS>) -> bool {
        loop {
            let mut progress = false;
            let now = self.now();
            // TLS failures before the events they lead to.
            #[cfg(feature = "tls")]
            for e in core::mem::take(&mut self.tls_errors) {
                progress = true;
                if !handler.call(&mut self.client, Wake::Tls(&e), now) {
                    return false;
                }
            }
            // Events first: taking them can queue packets (pongs, acks) for `poll_io`.
            loop {
                match self.client.poll_event(&mut self.ev) {
                    Ok(Some(e)) => {
                        progress = true;
                        if !handler.call(&mut self.client, Wake::Event(&e), now) {
                            return false;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        // The buffer was sized by `event_buf_len`; this cannot happen.
                        log::error!("client event buffer: {e}");
                        return false;
                    }
                }
            }
            while let Some(io) = self.client.poll_io(&mut self.out) {
                progress = true;
                match io {
                    Io::Connect(s) => self.connect(s),
                    Io::Send { stream, len } => self.send(stream.index(), len),
                    Io::Close(s) => {
                        let c = &mut self.conns[s.index()];
                        c.close = true;
                        c.stalled = false;
                        if c.up
                            && let Some(sock) = c.sock.as_mut()
                        {
                            sock.close_notify();
                        }
                        if !c.pending() || !c.up {
                            self.drop_conn(s.index());
                        }
                    }
                }
            }
            for i in 0..3 {
                if self.conns[i].stalled && !self.client.rx_buf(Stream::ALL[i]).is_empty() {
                    self.conns[i].stalled = false;
                    self.read(i);
                    progress = true;
                }
            }
            if !progress {
                return true;
            }
        }
    }

    fn connect(&mut self, s: Stream) {
        let i = s.index();
        self.drop_conn(i);
        let now = self.now();
        match TcpStream::connect(self.addr) {
            Ok(mut sock) => {
                let interest = Interest::READABLE | Interest::WRITABLE;
                if let Err(e) = self.poll.registry().register(&mut sock, Token(i), interest) {
                    log::warn!("register: {e}");
                    self.client.connect_failed(s, now);
                    return;
                }
                let Some(sock) = self.wrap(sock) else {
                    self.client.connect_failed(s, now);
                    return;
                };
                self.conns[i] = Conn {
                    sock: Some(sock),
                    ..Conn::default()
                };
            }
            Err(e) => {
                log::debug!("connect {}: {e}", self.addr);
                self.client.connect_failed_for(s, failure(&e), now);
            }
        }
    }

    /// A stream just connected, as the client speaks on it: TLS when set, else TCP.
    #[cfg(feature = "tls")]
    fn wrap(&mut self, mut sock: TcpStream) -> Option<Sock> {
        let Some(tls) = &self.tls else {
            return Some(Sock::Plain(sock));
        };
        let conn = rustls::ClientConnection::new(Arc::clone(tls.config.rustls()), tls.name.clone());
        match conn {
            Ok(conn) => Some(Tls::sock(sock, conn.into())),
            Err(e) => {
                log::warn!("TLS: {e}");
                self.tls_errors.push(TlsError::new(&tls.host, e));
                let _ = self.poll.registry().deregister(&mut sock);
                None
            }
        }
    }

    /// A stream just connected, as the client speaks on it.
    #[cfg(not(feature = "tls"))]
    #[allow(clippy::unnecessary_wraps, clippy::unused_self)]
    fn wrap(&mut self, sock: TcpStream) -> Option<Sock> {
        Some(Sock::Plain(sock))
    }

    /// Keeps a TLS failure for the handler.
    #[cfg(feature = "tls")]
    fn tls_failed(&mut self, e: &io::Error) {
        if let Some(tls) = &self.tls
            && let Some(e) = TlsError::from_io(&tls.host, e)
        {
            log::debug!("{e}");
            self.tls_errors.push(e);
        }
    }

    #[cfg(not(feature = "tls"))]
    #[allow(clippy::unused_self)]
    fn tls_failed(&mut self, _: &io::Error) {}

    fn on_writable(&mut self, i: usize) {
        let now = self.now();
        let c = &mut self.conns[i];
        let Some(sock) = c.sock.as_mut() else {
            return;
        };
        if !c.tcp_up {
            let tcp = sock.tcp();
            let why = match tcp.take_error() {
                Ok(Some(e)) | Err(e) => Some(failure(&e)),
                Ok(None) => tcp.peer_addr().err().map(|e| failure(&e)),
            };
            if let Some(why) = why {
                log::debug!("connect {}: {why:?}", self.addr);
                self.drop_conn(i);
                self.client.connect_failed_for(Stream::ALL[i], why, now);
                return;
            }
            let _ = tcp.set_nodelay(true);
            c.tcp_up = true;
        }
        if !c.up {
            self.handshake(i);
            if !self.conns[i].up {
                return;
            }
        }
        self.flush(i);
    }

    /// Moves a connected stream's TLS handshake on (plain TCP is done at once); tells the
    /// client the stream is up once it is done, or that it failed.
    fn handshake(&mut self, i: usize) {
        let now = self.now();
        let Some(sock) = self.conns[i].sock.as_mut() else {
            return;
        };
        match sock.handshake() {
            Ok(true) => {
                self.conns[i].up = true;
                self.client.connected(Stream::ALL[i], now);
                if !self.conns[i].out.is_empty() {
                    self.flush(i);
                }
            }
            Ok(false) => {}
            Err(e) => {
                log::debug!("handshake: {e}");
                self.tls_failed(&e);
                self.drop_conn(i);
                self.client
                    .connect_failed_for(Stream::ALL[i], ConnectFailure::Tls, now);
            }
        }
    }

    /// Sends the first `len` bytes of the output buffer on connection `i`: straight to the
    /// socket when nothing waits before them, keeping what it does not take.
    fn send(&mut self, i: usize, len: usize) {
        let c = &mut self.conns[i];
        let bytes = &self.out[..len];
        if !c.up || !c.out.is_empty() {
            c.out.extend_from_slice(bytes);
            if c.up {
                self.flush(i);
            }
            return;
        }
        let Some(sock) = c.sock.as_mut() else {
            return;
        };
        match sock.write(bytes) {
            Ok(n) => c.out.extend_from_slice(&bytes[n..]),
            Err(e) => self.write_failed(i, &e),
        }
    }

    fn flush(&mut self, i: usize) {
        let c = &mut self.conns[i];
        let Some(sock) = c.sock.as_mut() else {
            c.out.clear();
            return;
        };
        match sock.write(&c.out) {
            Ok(n) => {
                c.out.drain(..n);
                if c.close && !c.pending() {
                    self.drop_conn(i);
                }
            }
            Err(e) => self.write_failed(i, &e),
        }
    }

    fn write_failed(&mut self, i: usize, e: &io::Error) {
        log::debug!("write: {e}");
        self.tls_failed(e);
        let now = self.now();
        self.drop_conn(i);
        self.client.closed(Stream::ALL[i], now);
    }

    /// Reads until the socket would block, the peer closed, or the client's buffer is
    /// full (then `stalled`, retried after events are taken).
    fn read(&mut self, i: usize) {
        let s = Stream::ALL[i];
        loop {
            if self.conns[i].tcp_up && !self.conns[i].up {
                self.handshake(i);
            }
            if !self.conns[i].up || self.conns[i].close {
                return;
            }
            let Some(sock) = self.conns[i].sock.as_mut() else {
                return;
            };
            let buf = self.client.rx_buf(s);
            if buf.is_empty() {
                self.conns[i].stalled = true;
                return;
            }
            match sock.read(buf) {
                Ok(0) => {
                    let now = self.now();
                    self.drop_conn(i);
                    self.client.closed(s, now);
                    return;
                }
                Ok(n) => {
                    let now = self.now();
                    self.client.rx_commit(s, n, now);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    log::debug!("read: {e}");
                    self.tls_failed(&e);
                    let now = self.now();
                    self.drop_conn(i);
                    self.client.closed(s, now);
                    return;
                }
            }
        }
    }

    fn drop_conn(&mut self, i: usize) {
        let c = &mut self.conns[i];
        if let Some(mut sock) = c.sock.take() {
            let _ = self.poll.registry().deregister(sock.tcp());
        }
        *c = Conn::default();
    }
}

/// A server address from a URL such as `http://localhost:3000`, `ws://10.0.0.2:8080/` or
/// (feature `tls`) `https://example.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    /// The `Host` header value (`localhost:3000`): the URL's authority as written.
    pub host: std::string::String,
    /// The first address the host name resolves to.
    pub addr: SocketAddr,
    /// `https://` or `wss://`: the streams speak TLS ([`ClientDriver::tls`]).
    pub tls: bool,
    /// The host without its port (nor the brackets of an IPv6 address): the name the
    /// server's certificate is checked against, and the SNI.
    pub name: std::string::String,
}

impl ServerUrl {
    /// Parses `http://` and `ws://` URLs (port 80 when absent), and with the feature `tls`
    /// `https://` and `wss://` ones (port 443 when absent); a path, query or fragment after
    /// the authority is ignored.
    ///
    /// # Errors
    /// `InvalidInput` for another scheme (`https://` and `wss://` without the feature
    /// `tls`), a malformed authority or port, or the resolver's error (another kind: the
    /// host does not resolve).
    pub fn parse(url: &str) -> io::Result<Self> {
        use std::net::ToSocketAddrs;
        let bad = |m: &str| io::Error::new(ErrorKind::InvalidInput, std::format!("{m}: {url}"));
        let (rest, tls) = if let Some(rest) = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("ws://"))
        {
            (rest, false)
        } else if let Some(rest) = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("wss://"))
        {
            if cfg!(not(feature = "tls")) {
                return Err(bad("https:// and wss:// URLs need the feature `tls`"));
            }
            (rest, true)
        } else {
            return Err(bad(
                "only http://, ws://, https:// and wss:// URLs are supported",
            ));
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.is_empty() || authority.contains('@') {
            return Err(bad("no host in URL"));
        }
        let port = authority.rsplit_once(':').filter(|(_, p)| !p.contains(']'));
        let name = port.map_or(authority, |(h, _)| h);
        let name = name
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(name);
        if name.is_empty() {
            return Err(bad("no host in URL"));
        }
        let with_port = if port.is_some() {
            std::string::String::from(authority)
        } else {
            std::format!("{authority}:{}", if tls { 443 } else { 80 })
        };
        let mut addrs = with_port.to_socket_addrs().map_err(|e| match e.kind() {
            ErrorKind::InvalidInput => bad("invalid port"),
            _ => e,
        })?;
        let addr = addrs.next().ok_or_else(|| {
            io::Error::new(
                ErrorKind::NotFound,
                std::format!("host did not resolve: {url}"),
            )
        })?;
        Ok(Self {
            host: authority.into(),
            addr,
            tls,
            name: name.into(),
        })
    }
}

/// What a failed TCP connection means for the client.
fn failure(e: &io::Error) -> ConnectFailure {
    match e.kind() {
        ErrorKind::ConnectionRefused => ConnectFailure::Refused,
        ErrorKind::HostUnreachable
        | ErrorKind::NetworkUnreachable
        | ErrorKind::NetworkDown
        | ErrorKind::TimedOut
        | ErrorKind::AddrNotAvailable => ConnectFailure::Unreachable,
        _ => ConnectFailure::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = ServerUrl::parse("http://127.0.0.1:3000/socket.io/?x=1").unwrap();
        assert_eq!(u.host, "127.0.0.1:3000");
        assert_eq!(u.addr, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(u.name, "127.0.0.1");
        assert!(!u.tls);
        let u = ServerUrl::parse("ws://127.0.0.1").unwrap();
        assert_eq!(u.addr.port(), 80);
        let u = ServerUrl::parse("http://[::1]:3000/").unwrap();
        assert_eq!((u.host.as_str(), u.name.as_str()), ("[::1]:3000", "::1"));
        assert_eq!(u.addr, "[::1]:3000".parse().unwrap());
        assert!(ServerUrl::parse("http://").is_err());
        assert!(ServerUrl::parse("http://:80").is_err());
        assert!(ServerUrl::parse("ftp://127.0.0.1").is_err());
        if cfg!(feature = "tls") {
            let u = ServerUrl::parse("https://localhost/x").unwrap();
            assert_eq!(
                (u.host.as_str(), u.name.as_str()),
                ("localhost", "localhost")
            );
            assert_eq!(u.addr.port(), 443);
            assert!(u.tls);
            let u = ServerUrl::parse("wss://127.0.0.1:8443").unwrap();
            assert_eq!((u.addr.port(), u.tls), (8443, true));
        } else {
            assert!(ServerUrl::parse("https://127.0.0.1").is_err());
        }
    }
}
