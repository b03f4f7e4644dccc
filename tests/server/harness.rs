//! A test driver for the sans-IO server: byte streams in memory, a fake clock, owned
//! copies of the events, and client-side helpers that build and read the wire bytes.
//! Everything goes through siocore's public API.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use siocore::Instant;
use siocore::http::{self, EMPTY_HEADER, Limits};
use siocore::server::*;
use siocore::ws::{self, FrameHeader, OpCode, Role};

/// An event with owned data, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    Http {
        stream: StreamId,
        method: String,
        target: String,
        body: Vec<u8>,
    },
    EngineOpen(SessionId),
    EngineText(SessionId, String),
    EngineBinary(SessionId, Vec<u8>),
    EngineClose(SessionId, CloseReason),
    Connect {
        socket: SocketId,
        session: SessionId,
        namespace: Option<NamespaceId>,
        name: String,
        auth: String,
        recovered: bool,
    },
    Message {
        socket: SocketId,
        name: String,
        args: String,
        attachments: Vec<Vec<u8>>,
        ack: Option<AckId>,
    },
    Ack {
        socket: SocketId,
        id: AckId,
        args: String,
        attachments: Vec<Vec<u8>>,
    },
    AckTimeout(SocketId, AckId),
    Disconnect(SocketId, DisconnectReason),
}

impl Ev {
    fn from(e: &Event<'_>) -> Self {
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        match *e {
            Event::Http(r) => Self::Http {
                stream: r.stream,
                method: r.method().as_str().to_string(),
                target: r.target().to_string(),
                body: r.body().to_vec(),
            },
            Event::EngineOpen { session } => Self::EngineOpen(session),
            Event::EngineMessage {
                session,
                data: Data::Text(t),
            } => Self::EngineText(session, t.to_string()),
            Event::EngineMessage {
                session,
                data: Data::Binary(b),
            } => Self::EngineBinary(session, b.to_vec()),
            Event::EngineClose { session, reason } => Self::EngineClose(session, reason),
            Event::Connect(c) => Self::Connect {
                socket: c.socket,
                session: c.session,
                namespace: c.namespace,
                name: c.name.to_string(),
                auth: text(c.auth),
                recovered: c.recovered,
            },
            Event::Message(m) => Self::Message {
                socket: m.socket,
                name: m.name.to_string(),
                args: text(m.args),
                attachments: m.attachments.iter().map(<[u8]>::to_vec).collect(),
                ack: m.ack,
            },
            Event::Ack(a) => Self::Ack {
                socket: a.socket,
                id: a.id,
                args: text(a.args),
                attachments: a.attachments.iter().map(<[u8]>::to_vec).collect(),
            },
            Event::AckTimeout { socket, id } => Self::AckTimeout(socket, id),
            Event::Disconnect { socket, reason, .. } => Self::Disconnect(socket, reason),
            _ => panic!("unexpected event kind {e:?}"),
        }
    }
}

/// What the application does with each event as it is polled.
pub type App = Box<dyn FnMut(&mut Server<'static>, &Event<'_>)>;

/// The default application: accepts every CONNECT, answers HTTP with 404.
pub fn accept_all() -> App {
    Box::new(|server, e| match e {
        Event::Connect(c) => {
            server.accept(c.socket).unwrap();
        }
        Event::Http(r) => {
            server.respond(r.stream, 404, &[], b"not found").unwrap();
        }
        _ => {}
    })
}

pub struct Harness {
    pub server: Server<'static>,
    pub now: u64,
    /// Every event polled so far, in order.
    pub events: Vec<Ev>,
    /// Bytes written to each stream and not yet taken by the test.
    pub out: BTreeMap<StreamId, Vec<u8>>,
    /// Everything ever written to each stream.
    pub all_out: BTreeMap<StreamId, Vec<u8>>,
    /// Streams the server closed.
    pub closed: BTreeSet<StreamId>,
    /// Unconsumed input of each stream.
    input: BTreeMap<StreamId, Vec<u8>>,
    /// Feed input this many bytes at a time (None: all at once).
    pub chunk: Option<usize>,
    /// Output buffer size for `poll_transmit`.
    pub out_buf: usize,
    /// Transmits come from `poll_transmit_vectored` in up to this many parts (0: from
    /// `poll_transmit`).
    pub parts: usize,
    /// Bytes of the vectored transmits that were lent from the pool (not in the output
    /// buffer), and the most parts one transmit had.
    pub lent: usize,
    pub most_parts: usize,
    pub app: App,
}

pub fn config() -> ServerConfig<'static> {
    ServerConfig::DEFAULT
}

pub const SEED: [u8; 32] = [42; 32];

impl Harness {
    pub fn new(config: ServerConfig<'static>) -> Self {
        Self::with_capacity(config, Capacity::for_sessions(64, 8 << 20))
    }

    pub fn with_capacity(config: ServerConfig<'static>, cap: Capacity) -> Self {
        let server = Server::new(config, Storage::growable(cap), SEED, Instant::ZERO).unwrap();
        Self::with_server(server)
    }

    pub fn with_server(server: Server<'static>) -> Self {
        Self {
            server,
            now: 0,
            events: Vec::new(),
            out: BTreeMap::new(),
            all_out: BTreeMap::new(),
            closed: BTreeSet::new(),
            input: BTreeMap::new(),
            chunk: None,
            out_buf: 64 * 1024,
            parts: 0,
            lent: 0,
            most_parts: 0,
            app: accept_all(),
        }
    }

    pub fn instant(&self) -> Instant {
        Instant::from_millis(self.now)
    }

    pub fn connect(&mut self) -> StreamId {
        let s = self.server.open_stream(self.instant()).unwrap();
        self.input.insert(s, Vec::new());
        s
    }

    /// Sends bytes on a stream (in chunks when `chunk` is set), draining after each feed.
    pub fn send(&mut self, s: StreamId, bytes: &[u8]) {
        let chunk = self.chunk.unwrap_or_else(|| bytes.len().max(1));
        for piece in bytes.chunks(chunk) {
            self.input
                .get_mut(&s)
                .expect("stream open")
                .extend_from_slice(piece);
            self.feed(s);
            self.drain();
        }
        if bytes.is_empty() {
            self.feed(s);
            self.drain();
        }
    }

    fn feed(&mut self, s: StreamId) {
        let Some(buf) = self.input.get_mut(&s) else {
            return;
        };
        if buf.is_empty() || self.closed.contains(&s) {
            return;
        }
        let now = Instant::from_millis(self.now);
        match self.server.feed(s, now, buf) {
            Ok(n) => {
                buf.drain(..n);
            }
            Err(CommandError::UnknownStream) => buf.clear(),
            Err(e) => panic!("feed: {e}"),
        }
    }

    pub fn eof(&mut self, s: StreamId) {
        self.server.feed_eof(s, self.instant()).unwrap();
        self.drain();
    }

    pub fn reset(&mut self, s: StreamId) {
        self.server.reset(s, self.instant()).unwrap();
        self.input.remove(&s);
        self.closed.insert(s);
        self.drain();
    }

    /// Moves the clock to `ms` and runs the timers.
    pub fn at(&mut self, ms: u64) {
        assert!(ms >= self.now);
        self.now = ms;
        self.server.handle_timeout(self.instant());
        self.drain();
    }

    pub fn advance(&mut self, ms: u64) {
        self.at(self.now + ms);
    }

    /// Runs the clock through every deadline up to `ms`.
    pub fn run_until(&mut self, ms: u64) {
        while let Some(t) = self.server.poll_timeout() {
            let t = t.as_millis();
            if t > ms {
                break;
            }
            self.at(t.max(self.now));
        }
        self.at(ms);
    }

    /// Drains transmits and events until both are empty, re-feeding leftovers.
    pub fn drain(&mut self) {
        let mut buf = vec![0u8; self.out_buf];
        let mut ev_buf = vec![0u8; 4 << 20];
        for _ in 0..100_000 {
            let mut progress = false;
            let (lo, hi) = (buf.as_ptr() as usize, buf.as_ptr() as usize + buf.len());
            loop {
                let (t, bytes) = if self.parts == 0 {
                    let Some(t) = self.server.poll_transmit(&mut buf) else {
                        break;
                    };
                    (t, buf[..t.len].to_vec())
                } else {
                    let mut parts: Vec<&[u8]> = vec![&[]; self.parts];
                    let Some((t, n)) = self.server.poll_transmit_vectored(&mut buf, &mut parts)
                    else {
                        break;
                    };
                    assert!(n <= self.parts.min(64));
                    self.most_parts = self.most_parts.max(n);
                    let mut bytes = Vec::new();
                    for p in &parts[..n] {
                        assert!(!p.is_empty(), "an empty part");
                        let at = p.as_ptr() as usize;
                        if !(lo..hi).contains(&at) {
                            self.lent += p.len();
                        }
                        bytes.extend_from_slice(p);
                    }
                    assert!(bytes.len() <= buf.len());
                    (t, bytes)
                };
                assert_eq!(bytes.len(), t.len);
                progress = true;
                self.out
                    .entry(t.stream)
                    .or_default()
                    .extend_from_slice(&bytes);
                self.all_out
                    .entry(t.stream)
                    .or_default()
                    .extend_from_slice(&bytes);
                if t.close {
                    assert!(self.closed.insert(t.stream), "closed twice");
                    self.input.remove(&t.stream);
                }
            }
            loop {
                let e = match self.server.poll_event(&mut ev_buf) {
                    Ok(Some(e)) => e,
                    Ok(None) => break,
                    Err(e) => panic!("event buffer: {e}"),
                };
                progress = true;
                self.events.push(Ev::from(&e));
                let mut app = std::mem::replace(&mut self.app, Box::new(|_, _| {}));
                app(&mut self.server, &e);
                self.app = app;
            }
            let streams: Vec<StreamId> = self.input.keys().copied().collect();
            for s in streams {
                let before = self.input.get(&s).map_or(0, Vec::len);
                self.feed(s);
                if self.input.get(&s).map_or(0, Vec::len) != before {
                    progress = true;
                }
            }
            if !progress {
                return;
            }
        }
        panic!("drain did not settle");
    }

    pub fn take_out(&mut self, s: StreamId) -> Vec<u8> {
        self.out.remove(&s).unwrap_or_default()
    }

    pub fn take_events(&mut self) -> Vec<Ev> {
        std::mem::take(&mut self.events)
    }

    pub fn is_closed(&self, s: StreamId) -> bool {
        self.closed.contains(&s)
    }

    // ------------------------------------------------------------------ polling client

    /// One request on a fresh connection; returns the stream.
    pub fn request(&mut self, bytes: &[u8]) -> StreamId {
        let s = self.connect();
        self.send(s, bytes);
        s
    }

    pub fn get(&mut self, target: &str) -> StreamId {
        self.request(get(target).as_bytes())
    }

    pub fn post(&mut self, target: &str, body: &[u8]) -> StreamId {
        self.request(&post(target, body))
    }

    /// Takes one complete response from the stream's output.
    pub fn response(&mut self, s: StreamId) -> Resp {
        let out = self
            .out
            .get_mut(&s)
            .unwrap_or_else(|| panic!("no output on {s:?}"));
        let (resp, n) = parse_resp(out)
            .unwrap_or_else(|| panic!("incomplete response: {:?}", String::from_utf8_lossy(out)));
        out.drain(..n);
        resp
    }

    pub fn has_response(&self, s: StreamId) -> bool {
        self.out.get(&s).is_some_and(|o| parse_resp(o).is_some())
    }

    /// Polling handshake on `path`; returns the sid.
    pub fn handshake(&mut self, path: &str) -> String {
        let s = self.get(&format!("{path}?EIO=4&transport=polling"));
        let r = self.response(s);
        assert_eq!(r.status, 200, "{r:?}");
        open_sid(&r.body)
    }

    // ------------------------------------------------------------------ websocket client

    /// Opens a WebSocket at `target`; asserts the 101 and returns the stream.
    pub fn ws(&mut self, target: &str) -> StreamId {
        let s = self.request(ws_request(target).as_bytes());
        let r = self.response(s);
        assert_eq!(r.status, 101, "{r:?}");
        assert_eq!(
            r.header("sec-websocket-accept").unwrap(),
            b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        s
    }

    pub fn ws_send_text(&mut self, s: StreamId, text: &str) {
        self.send(s, &frame(OpCode::Text, text.as_bytes()));
    }

    pub fn ws_send_binary(&mut self, s: StreamId, bytes: &[u8]) {
        self.send(s, &frame(OpCode::Binary, bytes));
    }

    /// Takes every complete frame the server wrote on the stream.
    pub fn ws_frames(&mut self, s: StreamId) -> Vec<Frame> {
        let out = self.out.entry(s).or_default();
        let mut frames = Vec::new();
        loop {
            match FrameHeader::decode(out, Role::Client) {
                Ok(siocore::Status::Complete((h, hl))) => {
                    let end = hl + h.payload_len as usize;
                    if out.len() < end {
                        break;
                    }
                    frames.push(Frame {
                        opcode: h.opcode,
                        payload: out[hl..end].to_vec(),
                    });
                    out.drain(..end);
                }
                Ok(siocore::Status::Partial) => break,
                Err(e) => panic!("bad server frame: {e:?}"),
            }
        }
        frames
    }

    /// The text payloads of the frames written on the stream (binary ones as `<hex>`).
    pub fn ws_texts(&mut self, s: StreamId) -> Vec<String> {
        self.ws_frames(s)
            .into_iter()
            .map(|f| match f.opcode {
                OpCode::Text => String::from_utf8(f.payload).unwrap(),
                OpCode::Binary => format!("<{}>", hex(&f.payload)),
                OpCode::Close => format!("close {:?}", close_code(&f.payload)),
                other => format!("{other:?}"),
            })
            .collect()
    }

    /// WebSocket handshake on `path` (websocket only); returns (stream, sid).
    pub fn ws_handshake(&mut self, path: &str) -> (StreamId, String) {
        let s = self.ws(&format!("{path}?EIO=4&transport=websocket"));
        let texts = self.ws_texts(s);
        assert!(texts[0].starts_with("0{"), "{texts:?}");
        (s, open_sid(texts[0].as_bytes()))
    }

    /// Connects a Socket.IO client over WebSocket to `/` and returns (stream, socket).
    pub fn sio_ws(&mut self) -> (StreamId, SocketId) {
        let (s, _) = self.ws_handshake("/socket.io/");
        self.ws_send_text(s, "40");
        let texts = self.ws_texts(s);
        assert!(texts[0].starts_with("40{\"sid\":\""), "{texts:?}");
        let socket = self.last_socket();
        (s, socket)
    }

    /// The socket of the last Connect event.
    pub fn last_socket(&self) -> SocketId {
        self.events
            .iter()
            .rev()
            .find_map(|e| match e {
                Ev::Connect { socket, .. } => Some(*socket),
                _ => None,
            })
            .expect("a Connect event")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub opcode: OpCode,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

/// Parses one response at the front of `bytes`; returns it and its length.
pub fn parse_resp(bytes: &[u8]) -> Option<(Resp, usize)> {
    let mut slots = [EMPTY_HEADER; 32];
    let limits = Limits {
        max_head: 64 * 1024,
        max_body: u64::MAX,
    };
    let r = match http::parse_response(bytes, &mut slots, &limits).unwrap() {
        siocore::Status::Complete(r) => r,
        siocore::Status::Partial => return None,
    };
    let headers = r
        .headers()
        .iter()
        .map(|h| (h.name.to_string(), h.value.to_vec()))
        .collect();
    if r.code() == 101 {
        return Some((
            Resp {
                status: 101,
                headers,
                body: Vec::new(),
            },
            r.head_len(),
        ));
    }
    let body = match r.body().unwrap() {
        siocore::Status::Complete(b) => b,
        siocore::Status::Partial => return None,
    };
    Some((
        Resp {
            status: r.code(),
            headers,
            body: body.bytes.to_vec(),
        },
        body.consumed,
    ))
}

pub fn get(target: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n")
}

pub fn post(target: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "POST {target} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

pub fn ws_request(target: &str) -> String {
    format!(
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// A masked client frame.
pub fn frame(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; payload.len() + 14];
    let n = ws::encode_frame(
        &mut out,
        true,
        opcode,
        payload,
        Some([0x12, 0x34, 0x56, 0x78]),
    )
    .unwrap();
    out.truncate(n);
    out
}

pub fn close_code(payload: &[u8]) -> Option<u16> {
    (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]))
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The sid of an open packet `0{"sid":"…",…}`.
pub fn open_sid(packet: &[u8]) -> String {
    let open = siocore::engine::OpenPacket::decode(packet).unwrap();
    open.sid.to_string()
}

/// Splits a polling body into its records.
pub fn records(body: &[u8]) -> Vec<String> {
    body.split(|&b| b == 0x1e)
        .map(|r| String::from_utf8(r.to_vec()).unwrap())
        .collect()
}
