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
    connected: bool,
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
    pub_token: Token,
    sub_token: Token,
    publisher: Option<Conn>,
    subscriber: Option<Conn>,
    /// The subscriber's first commands (AUTH, PSUBSCRIBE, SUBSCRIBE), sent on each connect.
    hello: Vec<u8>,
    /// The publisher's first command (AUTH), if any.
    auth: Vec<u8>,
    /// Replies the publisher owes, in order: `Some` for a request whose receivers count.
    awaiting: VecDeque<Option<RequestId>>,
    retry_at: Option<WallInstant>,
    backoff: Duration,
    /// Whether both connections worked since the last failure.
    up: bool,
    /// Messages dropped by the cluster when last logged.
    dropped_logged: u64,
}

impl RedisLink {
    /// A link to `url` for `cluster`'s namespaces on `server` (those of its configuration),
    /// its connections on `pub_token` and `sub_token`.
    pub(crate) fn new(
        url: RedisUrl,
        server: &Server<'_>,
        cluster: &Cluster<'_>,
        pub_token: Token,
        sub_token: Token,
    ) -> Self {
        let mut auth = Vec::new();
        if let Some(p) = &url.password {
            match &url.user {
                Some(u) => command(&mut auth, &[b"AUTH", u.as_bytes(), p.as_bytes()]),
                None => command(&mut auth, &[b"AUTH", p.as_bytes()]),
            }
        }
        let mut hello = auth.clone();
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut channels: Vec<Vec<u8>> = Vec::new();
        let prefix = cluster.prefix();
        let mut i = 0;
        while let Some(ns) = server.namespace_by_index(i) {
            i += 1;
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
            patterns.push(pattern);
            channels.push(name(Channel::Request));
            channels.push(name(Channel::Response));
            channels.push(name(Channel::ResponseTo(uid)));
        }
        let mut args: Vec<&[u8]> = std::vec![b"PSUBSCRIBE"];
        args.extend(patterns.iter().map(Vec::as_slice));
        command(&mut hello, &args);
        let mut args: Vec<&[u8]> = std::vec![b"SUBSCRIBE"];
        args.extend(channels.iter().map(Vec::as_slice));
        command(&mut hello, &args);
        Self {
            url,
            pub_token,
            sub_token,
            publisher: None,
            subscriber: None,
            hello,
            auth,
            awaiting: VecDeque::new(),
            retry_at: Some(WallInstant::now()),
            backoff: BACKOFF_MIN,
            up: false,
            dropped_logged: 0,
        }
    }

    /// When the link wants to run again (a reconnection), if it waits for one.
    pub(crate) fn deadline(&self) -> Option<WallInstant> {
        self.retry_at
    }

    /// Whether both connections are open and subscribed.
    pub(crate) fn is_up(&self) -> bool {
        self.publisher.as_ref().is_some_and(|c| c.connected)
            && self.subscriber.as_ref().is_some_and(|c| c.connected)
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
        let addr: SocketAddr = self
            .url
            .addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(ErrorKind::NotFound, "no address"))?;
        let open = |token, first: &[u8]| -> io::Result<Conn> {
            let mut sock = TcpStream::connect(addr)?;
            registry.register(&mut sock, token, Interest::READABLE | Interest::WRITABLE)?;
            let _ = sock.set_nodelay(true);
            Ok(Conn {
                sock,
                rx: Vec::new(),
                tx: first.to_vec(),
                connected: false,
            })
        };
        self.publisher = Some(open(self.pub_token, &self.auth)?);
        self.subscriber = Some(open(self.sub_token, &self.hello)?);
        self.awaiting.clear();
        // The publisher's AUTH reply comes first.
        if !self.auth.is_empty() {
            self.awaiting.push_back(None);
        }
        Ok(())
    }

    /// Drops both connections and tries again after the backoff.
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
            let mut sock = conn.sock;
            let _ = registry.deregister(&mut sock);
        }
        self.awaiting.clear();
        self.up = false;
        self.retry_at = Some(WallInstant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
    }

    /// Moves what the cluster has to publish to the publisher connection, and writes it.
    pub(crate) fn flush(&mut self, registry: &Registry, cluster: &mut Cluster<'_>) {
        let dropped = cluster.stats().dropped;
        if dropped != self.dropped_logged {
            log::warn!(
                "cluster: {} messages dropped so far (the outbox was full: redis slow or away)",
                dropped
            );
            self.dropped_logged = dropped;
        }
        let Some(conn) = self.publisher.as_mut().filter(|c| c.connected) else {
            return;
        };
        if !self.subscriber.as_ref().is_some_and(|c| c.connected) {
            return;
        }
        while conn.tx.len() < MAX_OUTPUT {
            let Some(p) = cluster.next_publish() else {
                break;
            };
            command(&mut conn.tx, &[b"PUBLISH", p.channel.as_bytes(), p.message]);
            self.awaiting.push_back(p.request);
            cluster.pop_publish();
        }
        if let Err(e) = write_out(conn) {
            self.fail(registry, &e);
        }
    }

    /// Readiness of one of the link's connections: finishes connecting, writes, reads and
    /// hands what arrived to the cluster (`on_message` with the cluster's answer for each
    /// pub/sub message).
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
        let result = (|| -> io::Result<()> {
            let conn = if is_pub {
                self.publisher.as_mut()
            } else {
                self.subscriber.as_mut()
            };
            let Some(conn) = conn else {
                return Ok(());
            };
            if !conn.connected {
                if let Some(e) = conn.sock.take_error()? {
                    return Err(e);
                }
                match conn.sock.peer_addr() {
                    Ok(_) => conn.connected = true,
                    Err(e) if e.kind() == ErrorKind::NotConnected => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
            write_out(conn)?;
            read_in(conn)?;
            let mut at = 0;
            loop {
                let frame = match decode_range(&conn.rx[at..]) {
                    Ok(Some((frame, n))) => {
                        let base = at;
                        at += n;
                        (frame, base)
                    }
                    Ok(None) => break,
                    Err(e) => return Err(io::Error::new(ErrorKind::InvalidData, e.to_string())),
                };
                let (frame, base) = frame;
                let bytes = |r: &(usize, usize)| &conn.rx[base + r.0..base + r.1];
                if is_pub {
                    match frame {
                        RangeFrame::Integer(n) => {
                            if let Some(Some(id)) = self.awaiting.pop_front() {
                                cluster.receivers(&id, usize::try_from(n).unwrap_or(0));
                            }
                        }
                        RangeFrame::Error(r) => {
                            self.awaiting.pop_front();
                            log::warn!("redis: {}", String::from_utf8_lossy(bytes(&r)));
                        }
                        _ => {
                            self.awaiting.pop_front();
                        }
                    }
                    continue;
                }
                let RangeFrame::Array(parts) = frame else {
                    if let RangeFrame::Error(r) = frame {
                        log::warn!("redis: {}", String::from_utf8_lossy(bytes(&r)));
                    }
                    continue;
                };
                let bulk = |i: usize| match parts.get(i) {
                    Some(RangeFrame::BulkString(r)) => Some(bytes(r)),
                    _ => None,
                };
                let (chan, msg) = match bulk(0) {
                    Some(b"message") => (bulk(1), bulk(2)),
                    Some(b"pmessage") => (bulk(2), bulk(3)),
                    _ => continue,
                };
                let (Some(chan), Some(msg)) = (chan, msg) else {
                    continue;
                };
                match cluster.receive(server, chan, msg, now) {
                    Ok(Some(event)) => on_event(server, cluster, &event),
                    Ok(None) => {}
                    Err(e) => {
                        log::debug!("cluster message on {}: {e}", String::from_utf8_lossy(chan));
                    }
                }
            }
            conn.rx.drain(..at);
            if conn.rx.len() > MAX_INPUT {
                return Err(io::Error::new(ErrorKind::InvalidData, "reply too large"));
            }
            Ok(())
        })();
        match result {
            Err(e) => self.fail(registry, &e),
            Ok(()) if !self.up && self.is_up() => {
                log::info!("redis {}: connected", self.url.addr);
                self.up = true;
                self.backoff = BACKOFF_MIN;
            }
            Ok(()) => {}
        }
    }
}

/// Writes what the connection holds until the socket is full.
fn write_out(conn: &mut Conn) -> io::Result<()> {
    if !conn.connected {
        return Ok(());
    }
    while !conn.tx.is_empty() {
        match conn.sock.write(&conn.tx) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => {
                conn.tx.drain(..n);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads until the socket is empty; an end of stream is an error (Redis went away).
fn read_in(conn: &mut Conn) -> io::Result<()> {
    let mut buf = [0u8; 64 * 1024];
    loop {
        match conn.sock.read(&mut buf) {
            Ok(0) => {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "connection closed",
                ));
            }
            Ok(n) => conn.rx.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
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
