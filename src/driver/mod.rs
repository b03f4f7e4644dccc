//! The ready server loop: the sans-IO [`Server`] on a [`mio`] event loop, one thread.
//!
//! [`Driver`] accepts connections, reads each ready one and feeds the server, passes every
//! event to a [`Handler`], writes what the server hands back (registering for writability
//! only while bytes wait), closes the streams the server says to close, and arms the poll
//! timeout from [`Server::poll_timeout`]. After a large read (16 KiB or more) the events
//! and transmits pending at that point are handled at once, before the next connection is
//! read, while the bytes read are still in the cache; after small reads they are handled
//! together at the end of the loop turn. It knows nothing of the protocol: that all lives
//! in the server.
//!
//! Memory per connection is what the socket needs: the receive buffer holds only bytes the
//! server has not consumed yet (usually none, at most [`ServerConfig::max_input`]), the send
//! buffer only bytes the kernel did not take at once (at most one 256 KiB transmit: the
//! stream is then paused with [`Server::pause_transmit`] and what follows waits in the
//! server, bounded by [`ServerConfig::max_queued_bytes`]). Reads go through one shared
//! buffer. Transmits come from [`Server::poll_transmit_vectored`]: a large WebSocket
//! payload is written straight from the server's pool blocks with one vectored write,
//! frame headers and small packets from one shared buffer they are copied into; only what
//! the kernel does not take is copied to the connection. A connection whose input is not all consumed in a turn goes on in the next one,
//! after the others.
//!
//! Hostile peers and bad minutes: a connection the server closes gets 5 s to write what
//! the kernel has not taken; while `accept` fails (out of file descriptors, `EMFILE`), the
//! driver tries again every 100 ms, logging it once and once more when it recovers.
//!
//! With the feature `tls`, `Driver::set_tls` makes it an https and wss server: every
//! connection speaks TLS (rustls) with a `ServerTls` certificate, and the server sees the
//! plaintext only; `ClientDriver::tls` does the same for the client. `ServerTls` says how
//! TLS is bounded.
//!
//! Ids come from the operating system's random source (`/dev/urandom`). Diagnostics go to
//! the [`log`] facade.
//!
//! ```no_run
//! use siocore::driver::Driver;
//! use siocore::server::{Args, Capacity, Event, Server, ServerConfig, Storage};
//!
//! let storage = Storage::growable(Capacity::for_sessions(1000, 64 << 20));
//! let mut driver = Driver::bind("127.0.0.1:3000".parse()?, ServerConfig::DEFAULT, storage)?;
//! driver.run(&mut |server: &mut Server<'_>, event: &Event<'_>| match *event {
//!     Event::Connect(c) => drop(server.accept(c.socket)),
//!     Event::Message(m) => drop(server.emit(m.socket, m.name, Args::json(m.args))),
//!     Event::Http(r) => drop(server.respond(r.stream, 404, &[], b"not found")),
//!     _ => {}
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod limits;
mod redis;
mod sock;
#[cfg(feature = "tls")]
mod tls;

pub use client::{ClientDriver, ClientHandler, ServerUrl, Wake};
pub use limits::{
    FALLBACK_SESSIONS, MAX_DEFAULT_SESSIONS, RESERVED_DESCRIPTORS, default_max_sessions,
    descriptor_limit, sessions_for_descriptors,
};
pub use redis::RedisUrl;
/// The rustls this crate builds on (feature `tls`), for configurations of your own
/// ([`ServerTls::from_rustls`], [`ClientTls::from_rustls`]).
#[cfg(feature = "tls")]
pub use rustls;
#[cfg(feature = "tls")]
pub use tls::{ClientTls, ServerTls, TlsConfigError, TlsError, TlsErrorKind};

use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use std::vec::Vec;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::Instant;
use crate::adapter::{Cluster, ClusterConfig, ClusterEvent, Done};
use crate::server::{Event, Server, ServerConfig, Storage, StreamId};
use redis::RedisLink;
use sock::Sock;

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);
const REDIS_PUB: Token = Token(usize::MAX - 3);
const REDIS_SUB: Token = Token(usize::MAX - 4);
/// Requests of a cluster member waiting for answers at once.
const CLUSTER_PENDING: usize = 256;
/// Client acknowledgements owed to other servers at once.
const CLUSTER_ACKS: usize = 4096;
/// Bytes of cluster messages that may wait for Redis.
const CLUSTER_OUTBOX: usize = 8 << 20;
/// Tokens from here on are closed connections still writing (`LINGERING + k`); the stream
/// index they had may serve a new connection meanwhile.
const LINGERING: usize = usize::MAX / 2;
/// Bytes read per `read` call.
const READ_CHUNK: usize = 256 * 1024;
/// Bytes asked of `poll_transmit_vectored` at a time (headers and small packets copied).
const WRITE_CHUNK: usize = 256 * 1024;
/// A read of at least this many bytes is handled before the next connection is read.
const PUMP_AFTER: usize = 16 * 1024;
/// How long a shutdown waits for clients to receive their close packets.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// How long a connection the server closed may take to write what the kernel did not take
/// yet, before it is dropped with it (a peer that stopped reading).
const CLOSE_LINGER: Duration = Duration::from_secs(5);
/// How often accepting is tried again while the process is out of file descriptors (or
/// the kernel out of memory for sockets).
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// What the application does with the server's events.
pub trait Handler {
    /// Called for every event, in order; may issue any command on `server`.
    fn event(&mut self, server: &mut Server<'_>, event: &Event<'_>);

    /// Called for every event instead of [`event`](Self::event), with the cluster when the
    /// driver is in one ([`Driver::join_cluster`]); calls `event` unless implemented.
    fn event_in<'a>(
        &mut self,
        server: &mut Server<'a>,
        cluster: Option<&mut Cluster<'a>>,
        event: &Event<'_>,
    ) {
        let _ = cluster;
        self.event(server, event);
    }

    /// Another server's server-side emit, or an answer to a request of this one.
    fn cluster_event<'a>(
        &mut self,
        server: &mut Server<'a>,
        cluster: &mut Cluster<'a>,
        event: &ClusterEvent<'_>,
    ) {
        let _ = (server, cluster, event);
    }

    /// Called once per loop turn after [`Driver::waker`] woke the loop (another thread has
    /// work for it) or the time [`next_wake`](Self::next_wake) gave came: commands on the
    /// server from outside event handling (timers, a queue filled by other threads).
    fn woken<'a>(&mut self, server: &mut Server<'a>, cluster: Option<&mut Cluster<'a>>) {
        let _ = (server, cluster);
    }

    /// When the handler wants [`woken`](Self::woken) called at the latest (its next timer).
    fn next_wake(&self) -> Option<std::time::Instant> {
        None
    }

    /// The address of the peer whose connection carries the session of the
    /// [`Event::Connect`] that comes next (its WebSocket or a polling request; Node's
    /// `socket.handshake.address`), `None` when unknown. Does nothing unless implemented.
    fn connect_peer(&mut self, peer: Option<SocketAddr>) {
        let _ = peer;
    }

    /// A request of this server to the cluster is over.
    fn cluster_done<'a>(
        &mut self,
        server: &mut Server<'a>,
        cluster: &mut Cluster<'a>,
        done: &Done,
    ) {
        let _ = (server, cluster, done);
    }
}

impl<F: FnMut(&mut Server<'_>, &Event<'_>)> Handler for F {
    fn event(&mut self, server: &mut Server<'_>, event: &Event<'_>) {
        self(server, event);
    }
}

/// Stops a running [`Driver`] from another thread (or a signal handler's thread).
#[derive(Debug, Clone)]
pub struct Shutdown {
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl Shutdown {
    /// Asks the driver to close every session gracefully and return from
    /// [`run`](Driver::run).
    pub fn shutdown(&self) {
        self.flag.store(true, Ordering::SeqCst);
        if let Err(e) = self.waker.wake() {
            log::warn!("waking the driver: {e}");
        }
    }
}

/// One connection.
#[derive(Debug)]
struct Conn {
    sock: Sock,
    id: StreamId,
    /// Bytes read and not yet consumed by the server.
    rx: Vec<u8>,
    /// Bytes the kernel did not take yet.
    tx: Vec<u8>,
    /// Close once `tx` is written.
    close: bool,
    /// Registered for writability.
    writable: bool,
    /// The peer finished sending (or the read failed).
    read_done: bool,
    /// Reading stopped with bytes possibly left in the socket (the receive buffer was full).
    read_pending: bool,
    /// On the list of connections to read again next turn.
    read_again: bool,
    /// The drain in which its leftover input was last offered again.
    fed: u64,
    /// On `Driver::leftover`.
    listed: bool,
    /// The last pass of `Driver::refeed` that took it off `leftover`.
    pass: u64,
    /// `tx` holds output gathered for one write at the end of the drain (requests wait on
    /// the connection whose answers may follow in the same drain), not output the kernel
    /// refused.
    gathering: bool,
}

impl Conn {
    /// A connection just accepted, with nothing read or written yet.
    fn new(sock: Sock, id: StreamId) -> Self {
        Self {
            sock,
            id,
            rx: Vec::new(),
            tx: Vec::new(),
            close: false,
            writable: false,
            read_done: false,
            read_pending: false,
            read_again: false,
            fed: 0,
            listed: false,
            pass: 0,
            gathering: false,
        }
    }
}

/// The mio event loop around a [`Server`]; see the [module docs](self).
#[derive(Debug)]
pub struct Driver<'a> {
    server: Server<'a>,
    poll: Poll,
    listener: Option<TcpListener>,
    local: SocketAddr,
    conns: Vec<Option<Conn>>,
    read_buf: Vec<u8>,
    out_buf: Vec<u8>,
    event_buf: Vec<u8>,
    epoch: std::time::Instant,
    max_input: usize,
    shutdown: Shutdown,
    /// Closed connections still writing what the kernel did not take, and when each must
    /// be gone.
    lingering: Vec<Option<(std::time::Instant, Conn)>>,
    /// Accepting failed (out of descriptors): when to try again, and how many times it
    /// failed since it last worked.
    accept_retry: Option<std::time::Instant>,
    accept_failures: u64,
    /// Connections refused for a full stream table since one was last taken.
    refused: u64,
    /// Connections whose reading stopped on a full buffer and that have room again: read
    /// once each next turn, after the readiness events (so that one busy client cannot
    /// keep the loop from the others).
    read_again: Vec<usize>,
    /// Drains so far: each offers a connection's leftover input once.
    drains: u64,
    /// Connections gathering output for one write at the end of the drain.
    gathering: Vec<usize>,
    /// Connections with input the server did not consume, or whose reading stopped on a
    /// full buffer: what `refeed` looks at (not every connection, so that a turn costs the
    /// same with 100 idle clients as with 100 000).
    leftover: Vec<usize>,
    /// Passes of `refeed` so far.
    passes: u64,
    /// The cluster this server is part of, and its link to Redis.
    cluster: Option<std::boxed::Box<Clustered<'a>>>,
    /// What connections accepted from now on are served with.
    #[cfg(feature = "tls")]
    tls: Option<ServerTls>,
}

/// A cluster member and its Redis connections.
#[derive(Debug)]
struct Clustered<'a> {
    cluster: Cluster<'a>,
    link: RedisLink,
}

/// 32 bytes from the operating system's random source.
pub fn os_seed() -> io::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut seed)?;
    Ok(seed)
}

impl<'a> Driver<'a> {
    /// Binds `addr` (use port 0 for any free port) and makes a server with `config` on
    /// `storage`, seeded from the operating system.
    pub fn bind(
        addr: SocketAddr,
        config: ServerConfig<'a>,
        storage: Storage<'a>,
    ) -> io::Result<Self> {
        let seed = os_seed()?;
        let server = Server::new(config, storage, seed, Instant::ZERO)
            .map_err(|e| io::Error::new(ErrorKind::InvalidInput, e))?;
        Self::with_server(addr, server)
    }

    /// Binds `addr` and runs `server` (whose clock starts now).
    pub fn with_server(addr: SocketAddr, server: Server<'a>) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut listener = TcpListener::bind(addr)?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let local = listener.local_addr()?;
        let max_input = server.config().max_input();
        let event_buf = std::vec![0u8; server.config().max_event()];
        Ok(Self {
            server,
            poll,
            listener: Some(listener),
            local,
            conns: Vec::new(),
            read_buf: std::vec![0u8; READ_CHUNK],
            out_buf: std::vec![0u8; WRITE_CHUNK],
            event_buf,
            epoch: std::time::Instant::now(),
            max_input,
            shutdown: Shutdown {
                flag: Arc::new(AtomicBool::new(false)),
                waker,
            },
            lingering: Vec::new(),
            accept_retry: None,
            accept_failures: 0,
            refused: 0,
            read_again: Vec::new(),
            drains: 0,
            gathering: Vec::new(),
            leftover: Vec::new(),
            passes: 0,
            cluster: None,
            #[cfg(feature = "tls")]
            tls: None,
        })
    }

    /// Makes this server a member of the Redis cluster at `url`
    /// (`redis://[[user]:password@]host[:port]`), with `config`'s key prefix and request
    /// timeout: Node's `@socket.io/redis-adapter` 8.3.0 on the same Redis and prefix, and
    /// other siocore servers, share broadcasts and requests with it (see
    /// [`Cluster`]). Every namespace takes part, dynamic ones from when they are created.
    /// The driver
    /// connects when it runs, and again after Redis goes away (with a backoff up to 5 s);
    /// meanwhile local delivery goes on and up to 8 MiB of cluster messages wait, past that
    /// they are dropped and counted.
    ///
    /// The host is resolved here, once (resolving again on the loop would block it);
    /// reconnections try its addresses in turn.
    ///
    /// # Errors
    /// A URL that is not `redis://`, a host that does not resolve, or no random source.
    pub fn join_cluster(&mut self, url: &str, config: ClusterConfig<'a>) -> io::Result<()> {
        let url = RedisUrl::parse(url)?;
        let cluster = Cluster::owned(
            config,
            os_seed()?,
            CLUSTER_PENDING,
            CLUSTER_ACKS,
            CLUSTER_OUTBOX,
            self.server.config().max_event(),
            self.now(),
        );
        let link = RedisLink::new(url, &self.server, &cluster, REDIS_PUB, REDIS_SUB)?;
        self.cluster = Some(std::boxed::Box::new(Clustered { cluster, link }));
        Ok(())
    }

    /// Serves `https` and `wss` from now on: every connection accepted after this call
    /// speaks TLS with `tls`'s certificate, plain HTTP routes included (feature `tls`).
    /// A peer stalling in the handshake is closed after
    /// [`ServerConfig::headers_timeout`], as one that sends no request head is; a peer
    /// sending what is not TLS is closed at once.
    #[cfg(feature = "tls")]
    pub fn set_tls(&mut self, tls: ServerTls) {
        self.tls = Some(tls);
    }

    /// The cluster, after [`join_cluster`](Self::join_cluster).
    pub fn cluster(&mut self) -> Option<&mut Cluster<'a>> {
        self.cluster.as_deref_mut().map(|c| &mut c.cluster)
    }

    /// Whether the Redis connections of the cluster are up.
    pub fn cluster_connected(&self) -> bool {
        self.cluster.as_deref().is_some_and(|c| c.link.is_up())
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// A handle that stops [`run`](Self::run) from elsewhere.
    pub fn shutdown_handle(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Wakes the loop from another thread: the next turn calls [`Handler::woken`].
    pub fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.shutdown.waker)
    }

    /// The server, for commands outside event handling.
    pub fn server(&mut self) -> &mut Server<'a> {
        &mut self.server
    }

    /// How many connections are open (closed ones still writing included).
    pub fn connections(&self) -> usize {
        self.conns.iter().filter(|c| c.is_some()).count()
            + self.lingering.iter().filter(|c| c.is_some()).count()
    }

    fn now(&self) -> Instant {
        Instant::from_millis(self.epoch.elapsed().as_millis() as u64)
    }

    /// Runs until [`Shutdown::shutdown`] is called: then every session is closed
    /// gracefully, the connections get up to two seconds to drain, and it returns.
    pub fn run(&mut self, handler: &mut impl Handler) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut stopping: Option<std::time::Instant> = None;
        loop {
            if stopping.is_none() && self.shutdown.flag.load(Ordering::SeqCst) {
                log::info!(
                    "shutting down: closing {} sessions",
                    self.server.usage().sessions
                );
                if let Some(mut l) = self.listener.take() {
                    let _ = self.poll.registry().deregister(&mut l);
                }
                self.server.close_all();
                stopping = Some(std::time::Instant::now() + SHUTDOWN_GRACE);
            }
            if let Some(deadline) = stopping
                && (self.connections() == 0 || std::time::Instant::now() >= deadline)
            {
                return Ok(());
            }
            self.turn(&mut events, handler, stopping)?;
        }
    }

    /// One turn of the loop: wait, handle readiness, run timers, drain.
    fn turn(
        &mut self,
        events: &mut Events,
        handler: &mut impl Handler,
        stopping: Option<std::time::Instant>,
    ) -> io::Result<()> {
        let now = self.now();
        let mut timeout = self
            .server
            .poll_timeout()
            .map(|t| Duration::from_millis(t.millis_since(now)));
        let wall = std::time::Instant::now();
        let linger = self.lingering.iter().flatten().map(|(at, _)| *at).min();
        if let Some(c) = self.cluster.as_deref()
            && let Some(t) = c.cluster.poll_timeout()
        {
            let left = Duration::from_millis(t.millis_since(now));
            timeout = Some(timeout.map_or(left, |x| x.min(left)));
        }
        let redis = self.cluster.as_deref().and_then(|c| c.link.deadline());
        let wake = handler.next_wake();
        let own = [stopping, self.accept_retry, linger, redis, wake];
        for deadline in own.into_iter().flatten() {
            let left = deadline.saturating_duration_since(wall);
            timeout = Some(timeout.map_or(left, |t| t.min(left)));
        }
        if !self.read_again.is_empty() {
            timeout = Some(Duration::ZERO);
        }
        match self.poll.poll(events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }
        let mut woken = wake.is_some_and(|at| at <= std::time::Instant::now());
        for event in events.iter() {
            match event.token() {
                LISTENER => self.accept(),
                WAKER => woken = true,
                REDIS_PUB | REDIS_SUB => {
                    let now = self.now();
                    if let Some(c) = self.cluster.as_deref_mut() {
                        c.link.ready(
                            self.poll.registry(),
                            event.token(),
                            &mut self.server,
                            &mut c.cluster,
                            now,
                            &mut |server, cluster, e| handler.cluster_event(server, cluster, e),
                        );
                    }
                }
                Token(t) if t >= LINGERING => self.flush_lingering(t - LINGERING),
                Token(i) => {
                    if event.is_readable() || event.is_read_closed() || event.is_error() {
                        // A short read drains the socket, and new bytes raise a new edge;
                        // an end of stream does not, so then read until it shows.
                        let got = self.read(i, event.is_read_closed() || event.is_error());
                        if got >= PUMP_AFTER {
                            // A large message: the pending events and replies now,
                            // while its bytes are still in the cache (and the pool blocks
                            // it took are the ones the last large reply gave back). Small
                            // reads wait for the end of the turn, so that their writes go
                            // out together.
                            self.pump(handler);
                            self.write_gathered();
                        }
                    }
                    if event.is_writable() {
                        self.flush(i);
                    }
                }
            }
        }
        for i in core::mem::take(&mut self.read_again) {
            if let Some(Some(conn)) = self.conns.get_mut(i) {
                conn.read_again = false;
                self.read(i, true);
            }
        }
        let wall = std::time::Instant::now();
        if self.accept_retry.is_some_and(|at| at <= wall) {
            self.accept_retry = None;
            self.accept();
        }
        self.drop_lingering(wall);
        self.server.handle_timeout(self.now());
        if woken {
            let now = self.now();
            let cluster = self.cluster.as_deref_mut().map(|c| {
                // The requests timers and jobs send to the cluster count their deadlines
                // from now.
                c.cluster.handle_timeout(now);
                &mut c.cluster
            });
            handler.woken(&mut self.server, cluster);
        }
        let now = self.now();
        if let Some(c) = self.cluster.as_deref_mut() {
            c.link.tick(self.poll.registry());
            c.cluster.handle_timeout(now);
            while let Some(done) = c.cluster.poll_done() {
                handler.cluster_done(&mut self.server, &mut c.cluster, &done);
            }
        }
        self.drain(handler);
        if let Some(c) = self.cluster.as_deref_mut() {
            c.link
                .flush(self.poll.registry(), &self.server, &mut c.cluster);
        }
        Ok(())
    }

    /// Drops the closed connections that did not finish writing in time.
    fn drop_lingering(&mut self, wall: std::time::Instant) {
        for slot in &mut self.lingering {
            if let Some((at, conn)) = slot
                && *at <= wall
            {
                log::debug!(
                    "closed connection dropped with {} bytes unwritten",
                    conn.tx.len()
                );
                let _ = self.poll.registry().deregister(conn.sock.tcp());
                *slot = None;
            }
        }
    }

    /// Moves a closed connection with bytes still to write out of the stream table (whose
    /// index the server may give to a new connection at once): it gets `CLOSE_LINGER` to
    /// write them.
    fn linger(&mut self, i: usize) {
        let Some(mut conn) = self.conns.get_mut(i).and_then(Option::take) else {
            return;
        };
        let k = match self.lingering.iter().position(Option::is_none) {
            Some(k) => k,
            None => {
                self.lingering.push(None);
                self.lingering.len() - 1
            }
        };
        if self
            .poll
            .registry()
            .reregister(conn.sock.tcp(), Token(LINGERING + k), Interest::WRITABLE)
            .is_err()
        {
            return;
        }
        self.lingering[k] = Some((std::time::Instant::now() + CLOSE_LINGER, conn));
    }

    /// Writes what a closed connection still owes; closes it once done or failed.
    fn flush_lingering(&mut self, k: usize) {
        let Some(Some((_, conn))) = self.lingering.get_mut(k) else {
            return;
        };
        match conn.sock.write(&conn.tx) {
            Ok(n) => {
                conn.tx.drain(..n);
                if !conn.tx.is_empty() {
                    return;
                }
                conn.sock.close_notify();
                if conn.sock.wants_write() {
                    return;
                }
                let _ = conn.sock.tcp().shutdown(std::net::Shutdown::Write);
            }
            Err(e) => log::debug!("write on a closed connection: {e}"),
        }
        let _ = self.poll.registry().deregister(conn.sock.tcp());
        self.lingering[k] = None;
    }

    fn accept(&mut self) {
        let Some(listener) = &self.listener else {
            return;
        };
        loop {
            let (mut sock, peer) = match listener.accept() {
                Ok(x) => x,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::Interrupted | ErrorKind::ConnectionAborted
                    ) =>
                {
                    continue;
                }
                Err(e) => {
                    // Out of file descriptors and the like. The connections already
                    // queued raise no new readiness event, so try again on a timer.
                    if self.accept_failures == 0 {
                        log::warn!(
                            "accept: {e}; trying again every {} ms",
                            ACCEPT_RETRY.as_millis()
                        );
                    }
                    self.accept_failures += 1;
                    self.accept_retry = Some(std::time::Instant::now() + ACCEPT_RETRY);
                    return;
                }
            };
            if self.accept_failures > 0 {
                log::warn!(
                    "accepting again after {} failed attempts",
                    self.accept_failures
                );
                self.accept_failures = 0;
            }
            let _ = sock.set_nodelay(true);
            let id = match self.server.open_stream(self.now()) {
                Ok(id) => id,
                Err(e) => {
                    if self.refused == 0 {
                        log::warn!("refusing {peer}: {e}");
                    }
                    self.refused += 1;
                    continue;
                }
            };
            if self.refused > 0 {
                log::warn!("taking connections again after refusing {}", self.refused);
                self.refused = 0;
            }
            let i = id.index();
            if let Err(e) = self
                .poll
                .registry()
                .register(&mut sock, Token(i), Interest::READABLE)
            {
                log::warn!("register {peer}: {e}");
                let _ = self.server.reset(id, self.now());
                continue;
            }
            let sock = match self.wrap(sock) {
                Ok(s) => s,
                Err(mut sock) => {
                    let _ = self.poll.registry().deregister(&mut sock);
                    let _ = self.server.reset(id, self.now());
                    continue;
                }
            };
            if self.conns.len() <= i {
                self.conns.resize_with(i + 1, || None);
            }
            log::debug!("stream {i} from {peer}");
            self.conns[i] = Some(Conn::new(sock, id));
        }
    }

    /// A socket just accepted, as this server speaks on it: TLS when set, else TCP.
    #[cfg(feature = "tls")]
    fn wrap(&self, sock: TcpStream) -> Result<Sock, TcpStream> {
        let Some(tls) = &self.tls else {
            return Ok(Sock::Plain(sock));
        };
        // Fails only for a configuration rustls cannot serve with at all.
        tls.accept(sock).map_err(|(sock, e)| {
            log::warn!("TLS: {e}");
            sock
        })
    }

    /// A socket just accepted, as this server speaks on it.
    #[cfg(not(feature = "tls"))]
    #[allow(clippy::unnecessary_wraps, clippy::unused_self)]
    fn wrap(&self, sock: TcpStream) -> Result<Sock, TcpStream> {
        Ok(Sock::Plain(sock))
    }

    /// Reads until the socket would block (or the receive buffer is full), feeding the
    /// server; unless `to_block`, a short read ends it too (saving the read that would
    /// answer "would block"). Returns how many bytes it read. A TLS connection whose
    /// handshake left records the socket did not take is registered for writability.
    fn read(&mut self, i: usize, to_block: bool) -> usize {
        let total = self.read_in(i, to_block);
        if let Some(Some(conn)) = self.conns.get_mut(i)
            && (!conn.rx.is_empty() || conn.read_pending)
            && !conn.listed
        {
            conn.listed = true;
            self.leftover.push(i);
        }
        if let Some(Some(conn)) = self.conns.get(i)
            && conn.sock.wants_write()
            && !conn.writable
        {
            self.settle(i);
        }
        total
    }

    fn read_in(&mut self, i: usize, to_block: bool) -> usize {
        let now = self.now();
        let mut total = 0;
        let Some(Some(conn)) = self.conns.get_mut(i) else {
            return total;
        };
        if conn.read_done {
            return total;
        }
        conn.read_pending = false;
        loop {
            if conn.rx.len() >= self.max_input {
                // The server holds this much back; read more once it consumed some.
                conn.read_pending = true;
                return total;
            }
            let room = (self.max_input - conn.rx.len()).min(self.read_buf.len());
            match conn.sock.read(&mut self.read_buf[..room]) {
                Ok(0) => {
                    conn.read_done = true;
                    let id = conn.id;
                    if let Err(e) = self.server.feed_eof(id, now) {
                        log::debug!("eof on {i}: {e}");
                    }
                    return total;
                }
                Ok(n) => {
                    total += n;
                    if conn.rx.is_empty() {
                        // The usual case: feed straight from the shared buffer and keep
                        // only what is left.
                        let buf = &mut self.read_buf[..n];
                        let got = self.server.feed(conn.id, now, buf).unwrap_or(n);
                        conn.rx.extend_from_slice(&self.read_buf[got..n]);
                    } else {
                        conn.rx.extend_from_slice(&self.read_buf[..n]);
                        let got = self.server.feed(conn.id, now, &mut conn.rx);
                        conn.rx.drain(..got.unwrap_or(conn.rx.len()));
                    }
                    if conn.rx.is_empty() && conn.rx.capacity() > 16 * 1024 {
                        conn.rx = Vec::new();
                    }
                    if n < room && !to_block && !conn.sock.buffers_input() {
                        return total;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return total,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::debug!("read on {i}: {e}");
                    conn.read_done = true;
                    let id = conn.id;
                    self.conns[i] = None;
                    let _ = self.server.reset(id, now);
                    return total;
                }
            }
        }
    }

    /// Offers the unconsumed input of every connection again (after the application made
    /// room), once per drain: a connection that still has input after that, or whose
    /// reading stopped on a full buffer and that has room again, goes on in the next turn,
    /// after the others had theirs (the server takes a bounded number of each client's
    /// packets at a time, `max_inbound_events`).
    fn refeed(&mut self) -> bool {
        let now = self.now();
        let mut progress = false;
        self.passes += 1;
        for i in core::mem::take(&mut self.leftover) {
            let Some(Some(conn)) = self.conns.get_mut(i) else {
                continue;
            };
            // Once per pass (an index listed twice: its connection ended and a new one
            // took the slot).
            if conn.pass == self.passes {
                continue;
            }
            conn.pass = self.passes;
            conn.listed = false;
            let mut more = false;
            if !conn.rx.is_empty() && conn.fed != self.drains {
                let got = self
                    .server
                    .feed(conn.id, now, &mut conn.rx)
                    .unwrap_or(conn.rx.len());
                if got > 0 {
                    conn.rx.drain(..got);
                    conn.fed = self.drains;
                    progress = true;
                    more = !conn.rx.is_empty();
                }
            }
            if conn.read_pending && conn.rx.len() < self.max_input {
                more = true;
            }
            if more && !conn.read_again {
                conn.read_again = true;
                self.read_again.push(i);
            }
            if !conn.rx.is_empty() || conn.read_pending {
                conn.listed = true;
                self.leftover.push(i);
            }
        }
        progress
    }

    /// Transmits, events, re-feeds, until nothing moves.
    fn drain(&mut self, handler: &mut impl Handler) {
        self.drains += 1;
        loop {
            let mut progress = self.pump(handler);
            if self.refeed() {
                progress = true;
            }
            if !progress {
                self.write_gathered();
                return;
            }
        }
    }

    /// Hands out the server's events, then writes what it has to send; whether anything
    /// moved.
    fn pump(&mut self, handler: &mut impl Handler) -> bool {
        let mut progress = false;
        // The requests handlers send to the cluster count their deadlines from now.
        if let Some(c) = self.cluster.as_deref_mut() {
            c.cluster
                .handle_timeout(Instant::from_millis(self.epoch.elapsed().as_millis() as u64));
        }
        loop {
            let event = match self.server.poll_event(&mut self.event_buf) {
                Ok(Some(e)) => e,
                Ok(None) => break,
                Err(e) => {
                    // Cannot happen with a buffer of `max_event` bytes.
                    log::error!("event buffer: {e}");
                    self.event_buf.resize(e.required, 0);
                    continue;
                }
            };
            progress = true;
            // An acknowledgement owed to another server is the cluster's alone.
            if let Some(c) = self.cluster.as_deref_mut()
                && c.cluster.on_event(&self.server, &event)
            {
                continue;
            }
            if let Event::Connect(c) = &event {
                let stream = self.server.session_stream(c.session);
                let peer = stream
                    .and_then(|s| self.conns.get_mut(s.index())?.as_mut())
                    .filter(|conn| Some(conn.id) == stream)
                    .and_then(|conn| conn.sock.tcp().peer_addr().ok());
                handler.connect_peer(peer);
            }
            let cluster = self.cluster.as_deref_mut().map(|c| &mut c.cluster);
            handler.event_in(&mut self.server, cluster, &event);
        }
        loop {
            // Large payloads come as slices of the server's pool blocks, written from there;
            // the slices borrow the server until `put` is done with them.
            let mut parts: [&[u8]; PARTS] = [&[]; PARTS];
            let Some((t, n)) = self
                .server
                .poll_transmit_vectored(&mut self.out_buf, &mut parts)
            else {
                break;
            };
            progress = true;
            let i = t.stream.index();
            let put = match self.conns.get_mut(i) {
                Some(Some(conn)) if conn.id == t.stream => {
                    put(conn, &parts[..n], t.close, i, &mut self.gathering)
                }
                _ => continue,
            };
            self.after_put(i, t.stream, put);
        }
        progress
    }

    /// What is left to do after [`put`], the server free again.
    fn after_put(&mut self, i: usize, id: StreamId, put: Put) {
        match put {
            Put::Gathered => {}
            Put::Cut => {
                if let Some(Some(conn)) = self.conns.get_mut(i) {
                    log::debug!("stream {i}: cut with {} bytes unwritten", conn.tx.len());
                    let _ = self.poll.registry().deregister(conn.sock.tcp());
                }
                self.conns[i] = None;
            }
            Put::Failed(e, close) => self.write_failed(i, &e, close),
            Put::Linger => self.linger(i),
            Put::Paused => {
                // The socket is full: the server keeps the rest (and bounds it) until the
                // socket drains.
                let _ = self.server.pause_transmit(id);
                self.settle(i);
            }
            Put::Written => self.settle(i),
        }
    }

    /// Writes the output gathered in this drain, one write per connection; what the kernel
    /// does not take waits as after any write (the server's output paused).
    fn write_gathered(&mut self) {
        for i in core::mem::take(&mut self.gathering) {
            let Some(Some(conn)) = self.conns.get_mut(i) else {
                continue;
            };
            conn.gathering = false;
            match conn.sock.write(&conn.tx) {
                Ok(n) => {
                    conn.tx.drain(..n);
                }
                Err(e) => {
                    self.write_failed(i, &e, false);
                    continue;
                }
            }
            if !conn.tx.is_empty() {
                if conn.close {
                    self.linger(i);
                    continue;
                }
                let _ = self.server.pause_transmit(conn.id);
            }
            self.settle(i);
        }
    }

    /// A write failed: the connection is dropped, and the server learns it unless the
    /// connection was closing anyway (`closing`, or a close it was asked to make).
    fn write_failed(&mut self, i: usize, e: &io::Error, closing: bool) {
        log::debug!("write on {i}: {e}");
        let Some(conn) = self.conns.get_mut(i).and_then(Option::take) else {
            return;
        };
        if !closing && !conn.close {
            let _ = self.server.reset(conn.id, self.now());
        }
    }

    /// Writes what is pending on a connection that became writable.
    fn flush(&mut self, i: usize) {
        let Some(Some(conn)) = self.conns.get_mut(i) else {
            return;
        };
        // A TLS connection may be writable for its records alone, the server not paused.
        let paused = !conn.tx.is_empty();
        match conn.sock.write(&conn.tx) {
            Ok(n) => {
                conn.tx.drain(..n);
                if paused && conn.tx.is_empty() && !conn.close {
                    let _ = self.server.resume_transmit(conn.id);
                }
            }
            Err(e) => {
                self.write_failed(i, &e, false);
                return;
            }
        }
        self.settle(i);
    }

    /// After a write: close when done and asked to, register for writability while bytes
    /// wait.
    fn settle(&mut self, i: usize) {
        let Some(Some(conn)) = self.conns.get_mut(i) else {
            return;
        };
        if conn.tx.is_empty() {
            if conn.close {
                conn.sock.close_notify();
                if conn.sock.wants_write() {
                    // The last TLS records (`close_notify` among them) wait for the socket.
                    self.linger(i);
                    return;
                }
                let _ = conn.sock.tcp().shutdown(std::net::Shutdown::Write);
                let _ = self.poll.registry().deregister(conn.sock.tcp());
                self.conns[i] = None;
                return;
            }
            if conn.tx.capacity() > 16 * 1024 {
                conn.tx = Vec::new();
            }
        }
        let want = !conn.tx.is_empty() || conn.sock.wants_write();
        if want != conn.writable {
            let interest = if want {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if self
                .poll
                .registry()
                .reregister(conn.sock.tcp(), Token(i), interest)
                .is_ok()
            {
                conn.writable = want;
            }
        }
    }
}

/// The most pieces one transmit is asked in (`Server::poll_transmit_vectored`).
const PARTS: usize = 64;

/// What [`put`] did with a transmit, and what is left to do.
#[derive(Debug)]
enum Put {
    /// Kept for one write at the end of the drain.
    Gathered,
    /// A close for a paused stream: what is kept will not be written.
    Cut,
    /// The write failed (the connection was closing when `true`).
    Failed(io::Error, bool),
    /// Closing with bytes the kernel did not take.
    Linger,
    /// Bytes the kernel did not take are kept: the stream's output pauses.
    Paused,
    /// All written (or nothing to write).
    Written,
}

/// Writes the bytes of a transmit (`parts`, in order) on the stream's connection `i`, or
/// keeps them: for one write at the end of the drain when more requests wait on the
/// connection, or what the kernel did not take. The server is not called: the parts may
/// borrow it.
fn put(conn: &mut Conn, parts: &[&[u8]], close: bool, i: usize, gathering: &mut Vec<usize>) -> Put {
    if conn.gathering || (conn.tx.is_empty() && !close && !conn.rx.is_empty()) {
        // More requests wait on this connection (pipelined ones: a polling client's GET
        // behind its POST): their answers may come in this drain, so they and this one go
        // out in one write at its end. Nothing waits for more input.
        for p in parts {
            conn.tx.extend_from_slice(p);
        }
        conn.close |= close;
        if !conn.gathering {
            conn.gathering = true;
            gathering.push(i);
        }
        return Put::Gathered;
    }
    if close && !conn.tx.is_empty() {
        // A close for a stream this driver paused: the server gave up on it (a slow
        // reader, a deadline).
        return Put::Cut;
    }
    let mut written = 0;
    if conn.tx.is_empty() {
        match conn.sock.write_vectored(parts) {
            Ok(n) => written = n,
            Err(e) => return Put::Failed(e, close),
        }
    }
    // What the kernel did not take (rare: the socket is full) is copied.
    for p in parts {
        let skip = written.min(p.len());
        written -= skip;
        conn.tx.extend_from_slice(&p[skip..]);
    }
    conn.close |= close;
    match (conn.tx.is_empty(), close) {
        (true, _) => Put::Written,
        (false, true) => Put::Linger,
        (false, false) => Put::Paused,
    }
}

/// Writes as much of the bytes of `parts` (in order) as the socket takes now, with
/// vectored writes.
fn write_some_vectored(sock: &mut TcpStream, parts: &[&[u8]]) -> io::Result<usize> {
    if let [bytes] = parts {
        return write_some(sock, bytes);
    }
    let mut done = 0;
    // The first part not all written, and how much of it was.
    let (mut k, mut off) = (0, 0);
    loop {
        while parts.get(k).is_some_and(|p| off == p.len()) {
            k += 1;
            off = 0;
        }
        let Some(rest) = parts.get(k..).filter(|r| !r.is_empty()) else {
            return Ok(done);
        };
        let mut iov = [IoSlice::new(&[]); PARTS];
        let mut m = 0;
        for (slot, p) in iov.iter_mut().zip(rest) {
            *slot = IoSlice::new(if m == 0 { &p[off..] } else { p });
            m += 1;
        }
        match sock.write_vectored(&iov[..m]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(mut n) => {
                done += n;
                while n > 0 {
                    let left = parts[k].len() - off;
                    if n < left {
                        off += n;
                        break;
                    }
                    n -= left;
                    k += 1;
                    off = 0;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(done),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Writes as much as the socket takes now.
fn write_some(sock: &mut TcpStream, mut bytes: &[u8]) -> io::Result<usize> {
    let mut done = 0;
    while !bytes.is_empty() {
        match sock.write(bytes) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => {
                done += n;
                bytes = &bytes[n..];
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection whose peer does not read: vectored writes stop where the kernel's
    /// buffers are full, `put` keeps exactly the rest, and the peer gets every byte in
    /// order once it reads.
    #[test]
    fn put_keeps_what_a_full_socket_did_not_take() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let peer_addr = listener.local_addr().unwrap();
        let std_sock = std::net::TcpStream::connect(peer_addr).unwrap();
        std_sock.set_nonblocking(true).unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        let mut conn = Conn::new(
            Sock::Plain(TcpStream::from_std(std_sock)),
            StreamId { index: 0, era: 0 },
        );
        // Pieces as a transmit has them: a frame header, payload runs, a small frame.
        let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7 + i / 251) as u8).collect();
        let mut sent = Vec::new();
        let mut gathering = Vec::new();
        let mut k = 0;
        let paused = loop {
            let parts: Vec<&[u8]> = data.chunks(4092 + k % 7).take(40).collect();
            let mut parts = parts;
            parts.insert(0, b"head");
            parts.push(b"tail");
            for p in &parts {
                sent.extend_from_slice(p);
            }
            match put(&mut conn, &parts, false, 0, &mut gathering) {
                Put::Written => {}
                Put::Paused => break true,
                other => panic!("{other:?}"),
            }
            k += 1;
            if sent.len() > 512 << 20 {
                break false;
            }
        };
        assert!(paused, "the socket never filled");
        assert!(!conn.tx.is_empty() && gathering.is_empty());
        // The kernel's part, then the kept rest, make what was sent.
        let kept = conn.tx.clone();
        let mut got = Vec::new();
        let mut chunk = std::vec![0u8; 1 << 16];
        while got.len() + kept.len() < sent.len() {
            let n = peer.read(&mut chunk).unwrap();
            assert!(n > 0);
            got.extend_from_slice(&chunk[..n]);
        }
        got.extend_from_slice(&kept);
        assert_eq!(got.len(), sent.len());
        assert!(got == sent, "the same bytes in order");
    }
}
