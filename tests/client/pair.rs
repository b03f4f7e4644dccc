//! A client and a server in one process (quinn's `Pair` idea): the sans-IO `Client` and
//! the sans-IO `Server` joined by in-memory byte pipes, one fake clock for both, owned
//! copies of both sides' events. Through the public API only.

#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;

use siocore::Instant;
use siocore::client::{self, Client, ClientConfig, Io, Stream};
use siocore::server::{self, Capacity, Server, ServerConfig, Storage, StreamId};

/// A client event with owned data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CEv {
    Connect(usize, String),
    ConnectError(usize, String, Option<String>),
    Message {
        ns: usize,
        name: String,
        args: String,
        attachments: Vec<Vec<u8>>,
        ack: Option<u64>,
    },
    Ack(usize, u64, String, Vec<Vec<u8>>),
    AckFailed(usize, u64, client::AckFailure),
    Disconnect(usize, client::DisconnectReason),
    Upgrade,
    Closed(client::CloseReason),
    Reconnecting(u32, u64),
    ReconnectFailed(u32),
}

impl CEv {
    fn from(e: &client::Event<'_>) -> Self {
        let s = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        match *e {
            client::Event::Connect {
                namespace: ns, sid, ..
            } => Self::Connect(ns.index(), sid.to_string()),
            client::Event::ConnectError {
                namespace: ns,
                message,
                data,
            } => Self::ConnectError(ns.index(), message.to_string(), data.map(s)),
            client::Event::Message(m) => Self::Message {
                ns: m.namespace.index(),
                name: m.name.to_string(),
                args: s(m.args),
                attachments: m.attachments.iter().map(<[u8]>::to_vec).collect(),
                ack: m.ack.map(|a| a.0),
            },
            client::Event::Ack {
                namespace: ns,
                id,
                args,
                attachments,
            } => Self::Ack(
                ns.index(),
                id.0,
                s(args),
                attachments.iter().map(<[u8]>::to_vec).collect(),
            ),
            client::Event::AckFailed {
                namespace: ns,
                id,
                reason,
            } => Self::AckFailed(ns.index(), id.0, reason),
            client::Event::Disconnect {
                namespace: ns,
                reason,
            } => Self::Disconnect(ns.index(), reason),
            client::Event::Upgrade => Self::Upgrade,
            client::Event::Closed { reason } => Self::Closed(reason),
            client::Event::Reconnecting { attempt, delay_ms } => {
                Self::Reconnecting(attempt, delay_ms)
            }
            client::Event::ReconnectFailed { attempts } => Self::ReconnectFailed(attempts),
            _ => panic!("unknown client event {e:?}"),
        }
    }
}

pub type Cl = Client<'static, 4, 8>;
pub type ServerApp = Box<dyn FnMut(&mut Server<'static>, &server::Event<'_>)>;
pub type ClientApp = Box<dyn FnMut(&mut Cl, &client::Event<'_>, Instant)>;

/// The server side of the test: echoes `echo` as `echo`, acks `ack` with its args,
/// answers `kick` by disconnecting the socket, refuses `/private` without auth.
pub fn echo_app() -> ServerApp {
    Box::new(|srv, e| match e {
        server::Event::Connect(c) => {
            if c.name == "/private" && c.auth != br#"{"key":"ok"}"# {
                srv.refuse(c.socket, "not allowed", Some(br#"{"why":1}"#))
                    .unwrap();
            } else {
                srv.accept(c.socket).unwrap();
            }
        }
        server::Event::Message(m) => {
            let (blobs, n) = m.attachments.to_array::<8>().unwrap();
            let args = server::Args::binary(m.args, &blobs[..n]);
            match (m.name, m.ack) {
                (_, Some(id)) => srv.ack(m.socket, id, args).unwrap(),
                ("kick", None) => srv.disconnect(m.socket).unwrap(),
                (name, None) => srv.emit(m.socket, name, args).unwrap(),
            }
        }
        server::Event::Http(r) => srv.respond(r.stream, 404, &[], b"no").unwrap(),
        _ => {}
    })
}

pub struct Pair {
    pub client: Cl,
    pub server: Option<Server<'static>>,
    pub server_config: ServerConfig<'static>,
    pub now: u64,
    pub cev: Vec<CEv>,
    pub sev: Vec<String>,
    /// Server stream of each client stream.
    links: [Option<StreamId>; 3],
    c2s: [VecDeque<u8>; 3],
    s2c: [VecDeque<u8>; 3],
    /// The server closed the link after the bytes in `s2c`.
    s_closed: [bool; 3],
    pub server_app: ServerApp,
    pub client_app: ClientApp,
    /// Hold back what the client sends on this stream (a delayed request).
    pub hold: [bool; 3],
    /// Client→server bytes ever sent, per stream.
    pub sent: [Vec<u8>; 3],
    /// Connection attempts refused while the server is down.
    pub refused: usize,
    /// Deliver server bytes to the client at most this many at a time.
    pub chunk: Option<usize>,
}

pub fn new_server(config: ServerConfig<'static>) -> Server<'static> {
    Server::new(
        config,
        Storage::growable(Capacity::for_sessions(16, 4 << 20)),
        [7; 32],
        Instant::ZERO,
    )
    .unwrap()
}

pub fn client_config(t: client::Transports) -> ClientConfig<'static> {
    let mut c = ClientConfig::new("localhost");
    c.transports = t;
    c.rx_capacity = 64 * 1024;
    c.binary_capacity = 64 * 1024;
    c.outbox_capacity = 32 * 1024;
    c
}

impl Pair {
    pub fn new(config: ClientConfig<'static>) -> Self {
        Self::with_server(config, ServerConfig::DEFAULT)
    }

    pub fn with_server(config: ClientConfig<'static>, sc: ServerConfig<'static>) -> Self {
        let arena: &'static mut [u8] = Box::leak(vec![0u8; config.arena_len()].into_boxed_slice());
        let client = Client::new(config, arena, [9; 32]).unwrap();
        Self {
            client,
            server: Some(new_server(sc)),
            server_config: sc,
            now: 0,
            cev: Vec::new(),
            sev: Vec::new(),
            links: [None; 3],
            c2s: Default::default(),
            s2c: Default::default(),
            s_closed: [false; 3],
            server_app: echo_app(),
            client_app: Box::new(|_, _, _| {}),
            hold: [false; 3],
            sent: Default::default(),
            refused: 0,
            chunk: None,
        }
    }

    pub fn instant(&self) -> Instant {
        Instant::from_millis(self.now)
    }

    /// Moves bytes and events until nothing changes.
    pub fn drive(&mut self) {
        let mut out = vec![0u8; 128 * 1024];
        let mut ev = vec![0u8; self.client.event_buf_len()];
        let mut sbuf = vec![0u8; 128 * 1024];
        let mut sev_buf = vec![0u8; 1 << 20];
        for _ in 0..10_000 {
            let mut progress = false;
            let now = self.instant();
            while let Some(io) = self.client.poll_io(&mut out) {
                progress = true;
                match io {
                    Io::Connect(s) => match self.server.as_mut() {
                        Some(srv) => {
                            let id = srv.open_stream(now).unwrap();
                            self.links[s.index()] = Some(id);
                            self.c2s[s.index()].clear();
                            self.s2c[s.index()].clear();
                            self.s_closed[s.index()] = false;
                            self.client.connected(s, now);
                        }
                        None => {
                            self.refused += 1;
                            self.client.connect_failed(s, now);
                        }
                    },
                    Io::Send { stream, len } => {
                        self.c2s[stream.index()].extend(&out[..len]);
                        self.sent[stream.index()].extend_from_slice(&out[..len]);
                    }
                    Io::Close(s) => {
                        let i = s.index();
                        // Bytes already sent still reach the server first.
                        self.flush_c2s(i);
                        if let (Some(id), Some(srv)) = (self.links[i].take(), self.server.as_mut())
                        {
                            let _ = srv.feed_eof(id, now);
                        }
                        self.c2s[i].clear();
                        self.s2c[i].clear();
                    }
                }
            }
            for i in 0..3 {
                if !self.hold[i] && !self.c2s[i].is_empty() {
                    progress |= self.flush_c2s(i);
                }
            }
            if let Some(srv) = self.server.as_mut() {
                while let Some(t) = srv.poll_transmit(&mut sbuf) {
                    progress = true;
                    if let Some(i) = self.links.iter().position(|l| *l == Some(t.stream)) {
                        self.s2c[i].extend(&sbuf[..t.len]);
                        if t.close {
                            self.s_closed[i] = true;
                        }
                    }
                }
                loop {
                    match srv.poll_event(&mut sev_buf) {
                        Ok(Some(e)) => {
                            progress = true;
                            self.sev.push(format!("{e:?}"));
                            (self.server_app)(srv, &e);
                        }
                        Ok(None) => break,
                        Err(e) => panic!("server event: {e}"),
                    }
                }
            }
            for i in 0..3 {
                let s = Stream::ALL[i];
                if !self.s2c[i].is_empty() {
                    let take = self.chunk.unwrap_or(usize::MAX).min(self.s2c[i].len());
                    let bytes: Vec<u8> = self.s2c[i].iter().take(take).copied().collect();
                    let n = self.client.recv(s, &bytes, now);
                    if n > 0 {
                        progress = true;
                        self.s2c[i].drain(..n);
                    }
                }
                if self.s2c[i].is_empty() && self.s_closed[i] {
                    self.s_closed[i] = false;
                    self.links[i] = None;
                    self.client.closed(s, now);
                    progress = true;
                }
            }
            loop {
                match self.client.poll_event(&mut ev) {
                    Ok(Some(e)) => {
                        progress = true;
                        self.cev.push(CEv::from(&e));
                        (self.client_app)(&mut self.client, &e, now);
                    }
                    Ok(None) => break,
                    Err(e) => panic!("client event: {e}"),
                }
            }
            if !progress {
                return;
            }
        }
        panic!("the pair never settled");
    }

    fn flush_c2s(&mut self, i: usize) -> bool {
        let now = self.instant();
        let (Some(id), Some(srv)) = (self.links[i], self.server.as_mut()) else {
            return false;
        };
        let mut bytes: Vec<u8> = self.c2s[i].drain(..).collect();
        if bytes.is_empty() {
            return false;
        }
        // A stream the server already closed takes nothing more.
        if let Ok(n) = srv.feed(id, now, &mut bytes) {
            self.c2s[i].extend(bytes[n..].iter().copied());
        }
        true
    }

    /// Moves the clock to `ms`, running both sides' timers on the way.
    pub fn run_until(&mut self, ms: u64) {
        loop {
            self.drive();
            let c = self.client.poll_timeout().map(Instant::as_millis);
            let s = self
                .server
                .as_ref()
                .and_then(Server::poll_timeout)
                .map(Instant::as_millis);
            let next = [c, s].into_iter().flatten().min();
            match next {
                Some(t) if t <= ms => {
                    self.now = self.now.max(t);
                    let now = self.instant();
                    self.client.handle_timeout(now);
                    if let Some(srv) = self.server.as_mut() {
                        srv.handle_timeout(now);
                    }
                }
                _ => break,
            }
        }
        self.now = self.now.max(ms);
        let now = self.instant();
        self.client.handle_timeout(now);
        if let Some(srv) = self.server.as_mut() {
            srv.handle_timeout(now);
        }
        self.drive();
    }

    pub fn advance(&mut self, ms: u64) {
        self.run_until(self.now + ms);
    }

    /// Stops the server: every link is torn down.
    pub fn kill_server(&mut self) {
        self.server = None;
        for i in 0..3 {
            if self.links[i].take().is_some() {
                self.c2s[i].clear();
                self.s2c[i].clear();
                self.client.closed(Stream::ALL[i], self.instant());
            }
        }
        self.drive();
    }

    /// Tears down one link as a network failure would: the server sees a reset, the
    /// client a closed stream; bytes in flight are lost.
    pub fn reset_link(&mut self, s: Stream) {
        let i = s.index();
        if let (Some(id), Some(srv)) = (self.links[i].take(), self.server.as_mut()) {
            let _ = srv.reset(id, Instant::from_millis(self.now));
        }
        self.c2s[i].clear();
        self.s2c[i].clear();
        self.client.closed(s, self.instant());
        self.drive();
    }

    pub fn start_server(&mut self) {
        self.server = Some(new_server(self.server_config));
        self.drive();
    }

    pub fn take_events(&mut self) -> Vec<CEv> {
        std::mem::take(&mut self.cev)
    }

    pub fn sent_text(&self, s: Stream) -> String {
        String::from_utf8_lossy(&self.sent[s.index()]).into_owned()
    }
}
