//! The driver's link to Redis for a [`Cluster`]: a publisher and a subscriber connection,
//! as Node's adapter keeps them, on the driver's own event loop.
//!
//! RESP goes through `redis-protocol`'s sans-IO codec: replies are parsed from the
//! connection's buffer in place (a pub/sub message's channel and bytes are handed to the
//! cluster without a copy). The link never blocks the loop: connecting, writing and reading
//! are non-blocking; while Redis is away the cluster's messages wait in its outbox (bounded:
//! past it they are dropped and counted), and the link tries again with a backoff from
//! 100 ms to 5 s, subscribing again once connected.

use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::string::{String, ToString};
use std::time::{Duration, Instant as WallInstant};
use std::vec::Vec;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use redis_protocol::resp2::decode::decode_range;
use redis_protocol::resp2::encode::encode_borrowed;
use redis_protocol::resp2::types::{BorrowedFrame, RangeFrame};

use crate::adapter::{Channel, Cluster, ClusterEvent, RequestId, channel};
use crate::server::Server;

/// Bytes a connection may hold unparsed (the largest message Redis may hand over).
const MAX_INPUT: usize = 64 << 20;
/// Bytes of commands waiting for the publisher connection before the outbox is left alone.
const MAX_OUTPUT: usize = 1 << 20;
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Where Redis is: `redis://[[user]:password@]host[:port][/db]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisUrl {
    /// `host:port` (port 6379 unless given).
    pub addr: String,
    /// The user, for `AUTH user password`.
    pub user: Option<String>,
    /// The password, for `AUTH`.
    pub password: Option<String>,
}

impl RedisUrl {
    /// Reads a `redis://` URL (the database number, which pub/sub ignores, is allowed and
    /// unused).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] for anything else.
    pub fn parse(url: &str) -> io::Result<Self> {
        let bad = || io::Error::new(ErrorKind::InvalidInput, "expected redis://host[:port]");
        let rest = url.strip_prefix("redis://").ok_or_else(bad)?;
        let rest = rest.split('/').next().unwrap_or_default();
        let (auth, host) = match rest.rsplit_once('@') {
            Some((a, h)) => (Some(a), h),
            None => (None, rest),
        };
        if host.is_empty() {
            return Err(bad());
        }
        let addr = if host
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            host.to_string()
        } else {
            std::format!("{host}:6379")
        };
        let (user, password) = match auth.map(|a| a.split_once(':')) {
            None => (None, None),
            Some(None) => (None, auth.map(str::to_string)),
            Some(Some((u, p))) => ((!u.is_empty()).then(|| u.to_string()), Some(p.to_string())),
        };
        Ok(Self {
            addr,
            user,
            password,
        })
    }
}

/// One connection to Redis.
#[derive(Debug)]
struct Conn {
    sock: TcpStream,
    rx: Vec<u8>,
    tx: Vec<u8>,
    /// The commands in `tx`, oldest first: their length, and whether each is a PUBLISH
    /// (counted as lost when the connection fails before it is all written).
    cmds: VecDeque<(usize, bool)>,
    connected: bool,
}

impl Conn {
    fn push(&mut self, args: &[&[u8]], publish: bool) {
        let at = self.tx.len();
        command(&mut self.tx, args);
        self.cmds.push_back((self.tx.len() - at, publish));
    }

    /// Writes what it holds until the socket is full.
    fn write_out(&mut self) -> io::Result<()> {
        if !self.connected {
            return Ok(());
        }
        let mut written = 0;
        let result = loop {
            let Some(rest) = self.tx.get(written..).filter(|r| !r.is_empty()) else {
                break Ok(());
            };
            match self.sock.write(rest) {
                Ok(0) => break Err(ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        self.tx.drain(..written);
        while let Some(&(len, publish)) = self.cmds.front() {
            if len > written {
                self.cmds[0] = (len - written, publish);
                break;
            }
            written -= len;
            self.cmds.pop_front();
        }
        result
    }

    /// PUBLISH commands not yet all written.
    fn unsent(&self) -> u64 {
        self.cmds.iter().filter(|c| c.1).count() as u64
    }
}

/// Appends a command (an array of bulk strings) to `out`.
fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    let frames: Vec<BorrowedFrame<'_>> =
        args.iter().map(|a| BorrowedFrame::BulkString(a)).collect();
    let frame = BorrowedFrame::Array(&frames);
    let at = out.len();
    out.resize(at + frame.encode_len(false), 0);
    if encode_borrowed(&mut out[at..], &frame, false).is_err() {
        out.truncate(at);
    }
}

/// The publisher and subscriber connections; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct RedisLink {
    url: RedisUrl,
    /// Where Redis is, resolved once (resolving on the loop would block it); connections
    /// try them in turn.
    addrs: Vec<SocketAddr>,
    next_addr: usize,
    pub_token: Token,
    sub_token: Token,
    publisher: Option<Conn>,
    subscriber: Option<Conn>,
    /// The AUTH command, if any.
    auth: Vec<Vec<u8>>,
    /// The patterns and channels to subscribe.
    patterns: Vec<Vec<u8>>,
    channels: Vec<Vec<u8>>,
    /// The server's namespaces whose channels are in those.
    namespaces: usize,
    /// Replies the publisher owes, in order: `Some` for a request whose receivers count.
    awaiting: VecDeque<Option<RequestId>>,
    /// Whether the publisher's first reply is its AUTH's.
    pub_auth: bool,
    /// Replies to the subscriber's AUTH and subscriptions still to come: it is ready (and
    /// the link up) once none is left.
    sub_pending: usize,
    retry_at: Option<WallInstant>,
    backoff: Duration,
    /// Whether the link was up since the last failure.
    up: bool,
    /// Messages lost with a failed connection, not yet counted by the cluster.
    lost: u64,
    /// Messages dropped by the cluster when last logged.
    dropped_logged: u64,
}

impl RedisLink {
    /// A link to `url` for `cluster`'s namespaces on `server` (those of its configuration),
    /// its connections on `pub_token` and `sub_token`. Resolves the host now (blocking).
    ///
    /// # Errors
    /// A host that does not resolve.
    pub(crate) fn new(
        url: RedisUrl,
        server: &Server<'_>,
        cluster: &Cluster<'_>,
        pub_token: Token,
        sub_token: Token,
    ) -> io::Result<Self> {
        let addrs: Vec<SocketAddr> = url.addr.to_socket_addrs()?.collect();
        if addrs.is_empty() {
            return Err(io::Error::new(
                ErrorKind::NotFound,
                "redis host has no address",
            ));
        }
        let auth = match (&url.user, &url.password) {
            (Some(u), Some(p)) => std::vec![
                b"AUTH".to_vec(),
                u.clone().into_bytes(),
                p.clone().into_bytes()
            ],
            (None, Some(p)) => std::vec![b"AUTH".to_vec(), p.clone().into_bytes()],
            _ => Vec::new(),
        };
        Ok(Self {
            url,
            addrs,
            next_addr: 0,
            pub_token,
            sub_token,
            publisher: None,
            subscriber: None,
            auth,
            patterns: Vec::new(),
            channels: Vec::new(),
            namespaces: 0,
            awaiting: VecDeque::new(),
            pub_auth: false,
            sub_pending: 0,
            retry_at: Some(WallInstant::now()),
            backoff: BACKOFF_MIN,
            up: false,
            lost: 0,
            dropped_logged: 0,
        }
        .learning(server, cluster))
    }

    /// Adds the channels of the namespaces of `server` it does not know yet (a dynamic
    /// namespace is created as a client joins it), subscribing them at once when
    /// connected.
    fn learning(mut self, server: &Server<'_>, cluster: &Cluster<'_>) -> Self {
        self.learn(server, cluster);
        self
    }

    fn learn(&mut self, server: &Server<'_>, cluster: &Cluster<'_>) {
        let (patterns, channels) = (self.patterns.len(), self.channels.len());
        let prefix = cluster.prefix();
        while let Some(ns) = server.namespace_by_index(self.namespaces) {
            self.namespaces += 1;
            let Some(nsp) = server.namespace_name(ns) else {
                continue;
            };
            let uid = cluster.uid(nsp);
            let name = |chan| {
                let mut buf = std::vec![0u8; prefix.len() + nsp.len() + 32];
                let n = channel(&mut buf, prefix, nsp, chan).unwrap_or(0);
                buf.truncate(n);
                buf
            };
            let mut pattern = name(Channel::Broadcast(None));
            pattern.push(b'*');
            self.patterns.push(pattern);
            self.channels.push(name(Channel::Request));
            self.channels.push(name(Channel::Response));
            self.channels.push(name(Channel::ResponseTo(uid)));
        }
        let Some(conn) = self.subscriber.as_mut() else {
            return;
        };
        let (new_patterns, new_channels) = (&self.patterns[patterns..], &self.channels[channels..]);
        if new_patterns.is_empty() {
            return;
        }
        let mut args: Vec<&[u8]> = std::vec![b"PSUBSCRIBE"];
        args.extend(new_patterns.iter().map(Vec::as_slice));
        conn.push(&args, false);
        let mut args: Vec<&[u8]> = std::vec![b"SUBSCRIBE"];
        args.extend(new_channels.iter().map(Vec::as_slice));
        conn.push(&args, false);
        self.sub_pending += new_patterns.len() + new_channels.len();
    }

    /// When the link wants to run again (a reconnection), if it waits for one.
    pub(crate) fn deadline(&self) -> Option<WallInstant> {
        self.retry_at
    }

    /// Whether both connections are open, authenticated and subscribed.
    pub(crate) fn is_up(&self) -> bool {
        self.publisher.as_ref().is_some_and(|c| c.connected)
            && !self.pub_auth
            && self.subscriber.as_ref().is_some_and(|c| c.connected)
            && self.sub_pending == 0
    }

    /// Connects when it is time to.
    pub(crate) fn tick(&mut self, registry: &Registry) {
        if self.retry_at.is_some_and(|at| at <= WallInstant::now()) {
            self.retry_at = None;
            if let Err(e) = self.connect(registry) {
                self.fail(registry, &e);
            }
        }
    }

    fn connect(&mut self, registry: &Registry) -> io::Result<()> {
        let addr = self.addrs[self.next_addr % self.addrs.len()];
        let open = |token| -> io::Result<Conn> {
            let mut sock = TcpStream::connect(addr)?;
            registry.register(&mut sock, token, Interest::READABLE | Interest::WRITABLE)?;
            let _ = sock.set_nodelay(true);
            Ok(Conn {
                sock,
                rx: Vec::new(),
                tx: Vec::new(),
                cmds: VecDeque::new(),
                connected: false,
            })
        };
        let mut publisher = open(self.pub_token)?;
        let mut subscriber = open(self.sub_token)?;
        let auth: Vec<&[u8]> = self.auth.iter().map(Vec::as_slice).collect();
        self.awaiting.clear();
        self.pub_auth = !auth.is_empty();
        self.sub_pending = self.patterns.len() + self.channels.len();
        if !auth.is_empty() {
            publisher.push(&auth, false);
            subscriber.push(&auth, false);
            self.sub_pending += 1;
        }
        let mut args: Vec<&[u8]> = std::vec![b"PSUBSCRIBE"];
        args.extend(self.patterns.iter().map(Vec::as_slice));
        subscriber.push(&args, false);
        let mut args: Vec<&[u8]> = std::vec![b"SUBSCRIBE"];
        args.extend(self.channels.iter().map(Vec::as_slice));
        subscriber.push(&args, false);
        self.publisher = Some(publisher);
        self.subscriber = Some(subscriber);
        Ok(())
    }

    /// Drops both connections and tries again after the backoff (the next address, when
    /// the host has several).
    fn fail(&mut self, registry: &Registry, e: &dyn core::fmt::Display) {
        if self.up || self.backoff == BACKOFF_MIN {
            log::warn!(
                "redis {}: {e}; cluster messages wait (bounded) while it is away, trying again",
                self.url.addr
            );
        }
        for conn in [self.publisher.take(), self.subscriber.take()]
            .into_iter()
            .flatten()
        {
            self.lost += conn.unsent();
            let mut sock = conn.sock;
            let _ = registry.deregister(&mut sock);
        }
        self.awaiting.clear();
        self.up = false;
        self.next_addr = self.next_addr.wrapping_add(1);
        self.retry_at = Some(WallInstant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
    }

    /// Subscribes the channels of namespaces created since, moves what the cluster has to
    /// publish to the publisher connection, and writes both.
    pub(crate) fn flush(
        &mut self,
        registry: &Registry,
        server: &Server<'_>,
        cluster: &mut Cluster<'_>,
    ) {
        self.learn(server, cluster);
        if let Some(conn) = self.subscriber.as_mut()
            && let Err(e) = conn.write_out()
        {
            self.fail(registry, &e);
            return;
        }
        if self.lost > 0 {
            cluster.count_lost(core::mem::take(&mut self.lost));
        }
        let dropped = cluster.stats().dropped;
        if dropped != self.dropped_logged {
            log::warn!(
                "cluster: {dropped} messages dropped so far (the outbox was full, or redis went away with them)"
            );
            self.dropped_logged = dropped;
        }
        if !self.is_up() {
            return;
        }
        let Some(conn) = self.publisher.as_mut() else {
            return;
        };
        while conn.tx.len() < MAX_OUTPUT {
            let Some(p) = cluster.next_publish() else {
                break;
            };
            conn.push(&[b"PUBLISH", p.channel.as_bytes(), p.message], true);
            self.awaiting.push_back(p.request);
            cluster.pop_publish();
        }
        if let Err(e) = conn.write_out() {
            self.fail(registry, &e);
        }
    }

    /// Readiness of one of the link's connections: finishes connecting, writes, reads and
    /// hands what arrived to the cluster (`on_event` with the cluster's answer for each
    /// pub/sub message that has one).
    pub(crate) fn ready<'a>(
        &mut self,
        registry: &Registry,
        token: Token,
        server: &mut Server<'a>,
        cluster: &mut Cluster<'a>,
        now: crate::Instant,
        on_event: &mut dyn FnMut(&mut Server<'a>, &mut Cluster<'a>, &ClusterEvent<'_>),
    ) {
        let is_pub = token == self.pub_token;
        let result = if is_pub {
            self.ready_publisher(cluster)
        } else {
            self.ready_subscriber(server, cluster, now, on_event)
        };
        match result {
            Err(e) => self.fail(registry, &e),
            Ok(()) if !self.up && self.is_up() => {
                log::info!("redis {}: connected and subscribed", self.url.addr);
                self.up = true;
                self.backoff = BACKOFF_MIN;
            }
            Ok(()) => {}
        }
    }

    fn ready_publisher(&mut self, cluster: &mut Cluster<'_>) -> io::Result<()> {
        let Some(conn) = self.publisher.as_mut() else {
            return Ok(());
        };
        if !finish_connect(conn)? {
            return Ok(());
        }
        conn.write_out()?;
        let (awaiting, pub_auth) = (&mut self.awaiting, &mut self.pub_auth);
        read_frames(conn, |rx, frame| {
            if core::mem::take(pub_auth) {
                return match frame {
                    RangeFrame::Error(r) => Err(refused("AUTH", &rx[r.0..r.1])),
                    _ => Ok(()),
                };
            }
            match frame {
                RangeFrame::Integer(n) => {
                    if let Some(Some(id)) = awaiting.pop_front() {
                        cluster.receivers(&id, usize::try_from(n).unwrap_or(0));
                    }
                }
                RangeFrame::Error(r) => {
                    awaiting.pop_front();
                    log::warn!("redis: {}", String::from_utf8_lossy(&rx[r.0..r.1]));
                }
                _ => {
                    awaiting.pop_front();
                }
            }
            Ok(())
        })
    }

    fn ready_subscriber<'a>(
        &mut self,
        server: &mut Server<'a>,
        cluster: &mut Cluster<'a>,
        now: crate::Instant,
        on_event: &mut dyn FnMut(&mut Server<'a>, &mut Cluster<'a>, &ClusterEvent<'_>),
    ) -> io::Result<()> {
        let Some(conn) = self.subscriber.as_mut() else {
            return Ok(());
        };
        if !finish_connect(conn)? {
            return Ok(());
        }
        conn.write_out()?;
        let pending = &mut self.sub_pending;
        read_frames(conn, |rx, frame| {
            let bytes = |r: &(usize, usize)| &rx[r.0..r.1];
            let parts = match frame {
                RangeFrame::Array(parts) => parts,
                // Before it subscribed: the reply to AUTH, or a refusal.
                RangeFrame::Error(r) => return Err(refused("subscribe", bytes(&r))),
                _ => {
                    *pending = pending.saturating_sub(1);
                    return Ok(());
                }
            };
            let bulk = |i: usize| match parts.get(i) {
                Some(RangeFrame::BulkString(r)) => Some(bytes(r)),
                _ => None,
            };
            let (chan, msg) = match bulk(0) {
                Some(b"message") => (bulk(1), bulk(2)),
                Some(b"pmessage") => (bulk(2), bulk(3)),
                Some(b"subscribe" | b"psubscribe") => {
                    *pending = pending.saturating_sub(1);
                    return Ok(());
                }
                _ => return Ok(()),
            };
            let (Some(chan), Some(msg)) = (chan, msg) else {
                return Ok(());
            };
            match cluster.receive(server, chan, msg, now) {
                Ok(Some(event)) => on_event(server, cluster, &event),
                Ok(None) => {}
                Err(e) => log::debug!("cluster message on {}: {e}", String::from_utf8_lossy(chan)),
            }
            Ok(())
        })
    }
}

/// Whether the connection is established (checking it once writable).
fn finish_connect(conn: &mut Conn) -> io::Result<bool> {
    if conn.connected {
        return Ok(true);
    }
    if let Some(e) = conn.sock.take_error()? {
        return Err(e);
    }
    match conn.sock.peer_addr() {
        Ok(_) => {
            conn.connected = true;
            Ok(true)
        }
        Err(e) if e.kind() == ErrorKind::NotConnected => Ok(false),
        Err(e) => Err(e),
    }
}

/// Redis refused a command of the opening handshake.
fn refused(what: &str, reply: &[u8]) -> io::Error {
    io::Error::new(
        ErrorKind::PermissionDenied,
        std::format!("{what}: {}", String::from_utf8_lossy(reply)),
    )
}

/// Reads until the socket is empty, handing each whole reply to `each` (with the buffer
/// its ranges point into) as it comes, so that the buffer holds at most one partial reply
/// besides a read's worth. An end of stream is an error (Redis went away), as is a reply
/// larger than `MAX_INPUT`.
fn read_frames(
    conn: &mut Conn,
    mut each: impl FnMut(&[u8], RangeFrame) -> io::Result<()>,
) -> io::Result<()> {
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = match conn.sock.read(&mut buf) {
            Ok(0) => {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "connection closed",
                ));
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        conn.rx.extend_from_slice(&buf[..n]);
        let mut at = 0;
        while let Some((frame, len)) = decode_range(&conn.rx[at..])
            .map_err(|e| io::Error::new(ErrorKind::InvalidData, e.to_string()))?
        {
            let base = at;
            at += len;
            each(&conn.rx[base..at], frame)?;
        }
        conn.rx.drain(..at);
        if conn.rx.len() > MAX_INPUT {
            return Err(io::Error::new(ErrorKind::InvalidData, "reply too large"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = RedisUrl::parse("redis://127.0.0.1:7000").unwrap();
        assert_eq!(
            (u.addr.as_str(), u.user, u.password),
            ("127.0.0.1:7000", None, None)
        );
        let u = RedisUrl::parse("redis://:secret@host/2").unwrap();
        assert_eq!(u.addr, "host:6379");
        assert_eq!((u.user, u.password.as_deref()), (None, Some("secret")));
        let u = RedisUrl::parse("redis://me:pw@[::1]:6380").unwrap();
        assert_eq!(u.addr, "[::1]:6380");
        assert_eq!(
            (u.user.as_deref(), u.password.as_deref()),
            (Some("me"), Some("pw"))
        );
        assert!(RedisUrl::parse("http://x").is_err());
        assert!(RedisUrl::parse("redis://").is_err());
    }

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        command(&mut out, &[b"PUBLISH", b"ch", b"\x00\xff"]);
        assert_eq!(
            out,
            b"*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$2\r\n\x00\xff\r\n"
        );
    }
}
