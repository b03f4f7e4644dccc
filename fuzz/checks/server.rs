//! Fuzz check for the sans-IO server (`siocore::server`): arbitrary bytes on arbitrary
//! streams of one server, with time passing and an application answering.
//!
//! The server runs on borrowed, fixed-size tables (no allocator, the `no_std` path), so
//! its memory is bounded by construction; the check adds that nothing leaks: once every
//! stream is reset and the timers have run out, every table and the pool are empty again.
//!
//! Input: the first byte picks the settings; then each byte is an operation on one of 4
//! streams (bits 3-4) chosen by bits 0-2: open, feed raw bytes (count in the next byte),
//! feed a piece of valid traffic (index in the next byte), EOF, reset, let time pass,
//! an application command, or pause / resume the stream's output (a driver whose socket
//! is full). Pieces that need a session id use the last one the server handed out. The
//! only transmit a paused stream may get is its close, with no bytes. With `alloc`, drains
//! take turns asking for transmits with `poll_transmit` and `poll_transmit_vectored` (whose
//! lent blocks must come back too).

use siocore::Instant;
use siocore::server::*;
use siocore::ws::{OpCode, encode_frame};

const STREAMS: usize = 4;

/// Valid traffic: `{sid}` is replaced by the last sid seen.
/// `N` bytes: `head`, then `fill`, then `tail`.
const fn framed<const N: usize>(head: &[u8], fill: u8, tail: &[u8]) -> [u8; N] {
    let mut out = [fill; N];
    let mut i = 0;
    while i < head.len() {
        out[i] = head[i];
        i += 1;
    }
    let mut j = 0;
    while j < tail.len() {
        out[N - tail.len() + j] = tail[j];
        j += 1;
    }
    out
}

/// A binary WebSocket message of 5 000 bytes (a message, or an attachment): past a small
/// block and one big one, so with `alloc` it continues in big blocks.
const BIG_BINARY: [u8; 5001] = framed(b"\x02", 0x5a, b"");
/// A text event of about 5 000 bytes.
const BIG_EVENT: [u8; 5001] = framed(b"\x0142[\"m\",\"", b'y', b"\"]");

const PIECES: &[&[u8]] = &[
    b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    b"GET /socket.io/?EIO=4&transport=websocket&sid={sid} HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    b"GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nContent-Length: 2\r\n\r\n40",
    b"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nContent-Length: 21\r\n\r\n42[\"m\",1]\x1e4212[\"m\",2]",
    b"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nContent-Length: 45\r\n\r\n451-[\"m\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID",
    b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /page HTTP/1.1\r\nHost: x\r\n\r\n",
    // WebSocket frames, masked below; the first byte says which: 1 text, 2 binary,
    // 3 ping, 4 close.
    b"\x0140",
    b"\x0140/chat,",
    b"\x0142[\"m\",{\"a\":[1,2]}]",
    b"\x014233[\"m\",\"ack me\"]",
    b"\x01451-[\"m\",{\"_placeholder\":true,\"num\":0}]",
    b"\x02\x01\x02\x03",
    b"\x013",
    b"\x012probe",
    b"\x015",
    b"\x0141",
    b"\x01430[\"reply\"]",
    b"\x014hello",
    b"\x03",
    b"\x04",
    // Engine.IO v3 clients (when the library has the feature `eio3`).
    b"GET /socket.io/?EIO=3&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /socket.io/?EIO=3&transport=websocket HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    b"POST /socket.io/?EIO=3&transport=polling&sid={sid} HTTP/1.1\r\nContent-Length: 34\r\n\r\n1:29:42[\"m\",1]18:40/chat?token=a+b,",
    b"POST /socket.io/?EIO=3&transport=polling&sid={sid} HTTP/1.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 50\r\n\r\n\x00\x03\x09\xff451-[\"m\",{\"_placeholder\":true,\"num\":0}]\x01\x04\xff\x04\x01\x02\x03",
    b"\x02\x04\x01\x02",
    b"\x012",
    b"\x0140/chat?x=%41,",
    // CORS (when the library has the feature `cors`): origins the check accepts (even
    // lengths) or not, kept with their streams, and a preflight's requested headers.
    b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nOrigin: https://ab.example\r\n\r\n",
    b"GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nOrigin: https://a.example\r\n\r\n",
    b"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nOrigin: https://ab.example\r\nContent-Length: 1\r\n\r\n3",
    b"OPTIONS /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nOrigin: https://ab.example\r\nAccess-Control-Request-Headers: x-token\r\n\r\n",
    // Large messages (big pool blocks with `alloc`).
    &BIG_BINARY,
    &BIG_EVENT,
];

struct Run<'s> {
    server: Server<'s>,
    now: u64,
    streams: [Option<StreamId>; STREAMS],
    paused: [bool; STREAMS],
    input: [Vec<u8>; STREAMS],
    sid: Vec<u8>,
    out: Vec<u8>,
    events: Vec<u8>,
    sockets: Vec<SocketId>,
    /// Drains so far: with `alloc`, they take turns asking for transmits with
    /// `poll_transmit` and with `poll_transmit_vectored` in 1, 3 or 64 parts.
    drains: usize,
}

impl Run<'_> {
    fn slot(&self, s: StreamId) -> Option<usize> {
        self.streams.iter().position(|x| *x == Some(s))
    }

    fn feed(&mut self, k: usize) {
        let Some(s) = self.streams[k] else { return };
        if self.input[k].is_empty() {
            return;
        }
        let now = Instant::from_millis(self.now);
        match self.server.feed(s, now, &mut self.input[k]) {
            Ok(n) => {
                assert!(n <= self.input[k].len());
                self.input[k].drain(..n);
            }
            Err(CommandError::UnknownStream) => unreachable!("a live stream is known"),
            Err(_) => {}
        }
    }

    /// The next transmit and its bytes.
    fn transmit(&mut self) -> Option<(Transmit, Vec<u8>)> {
        #[cfg(feature = "alloc")]
        {
            let parts = [0, 1, 3, 64][self.drains % 4];
            if parts > 0 {
                let mut parts = vec![&[][..]; parts];
                let (t, n) = self
                    .server
                    .poll_transmit_vectored(&mut self.out, &mut parts)?;
                assert!(n <= parts.len());
                let mut bytes = Vec::new();
                for p in &parts[..n] {
                    assert!(!p.is_empty(), "an empty part");
                    bytes.extend_from_slice(p);
                }
                assert_eq!(bytes.len(), t.len);
                return Some((t, bytes));
            }
        }
        let t = self.server.poll_transmit(&mut self.out)?;
        Some((t, self.out.get(..t.len).unwrap_or_default().to_vec()))
    }

    fn drain(&mut self) {
        self.drains += 1;
        for _ in 0..64 {
            let mut progress = false;
            while let Some((t, bytes)) = self.transmit() {
                progress = true;
                assert!(t.len <= self.out.len());
                // An open packet (`0{"sid":…`), not a CONNECT reply (`40{"sid":…`).
                let open = bytes
                    .windows(10)
                    .position(|w| w[0] != b'4' && &w[1..] == b"0{\"sid\":\"");
                if let Some(sid) = open.and_then(|i| bytes.get(i + 10..i + 30)) {
                    self.sid = sid.to_vec();
                }
                if let Some(k) = self.slot(t.stream) {
                    assert!(
                        !self.paused[k] || (t.close && t.len == 0),
                        "a paused stream got {t:?}"
                    );
                }
                if let Some(k) = self.slot(t.stream).filter(|_| t.close) {
                    self.streams[k] = None;
                    self.paused[k] = false;
                    self.input[k].clear();
                }
            }
            loop {
                let e = match self.server.poll_event(&mut self.events) {
                    Ok(Some(e)) => e,
                    Ok(None) => break,
                    Err(e) => panic!("event larger than max_payload + head: {e}"),
                };
                progress = true;
                match e {
                    Event::Connect(c) => {
                        if c.name == "/chat" {
                            let _ = self.server.refuse(c.socket, "no", Some(b"[1]"));
                        } else if self.server.accept(c.socket).is_ok() {
                            self.sockets.push(c.socket);
                            let _ = self.server.join(c.socket, "room");
                        }
                    }
                    Event::Message(m) => {
                        // An ack copies the attachments; an echo shares the held packet.
                        let (blobs, n) = m.attachments.to_array::<16>().unwrap_or_default();
                        let _ = match m.ack {
                            Some(id) => {
                                let args = Args::binary(m.args, &blobs[..n]);
                                self.server.ack(m.socket, id, args)
                            }
                            None => {
                                let args = Args::attached(m.args, m.attachments);
                                self.server.emit(m.socket, "echo", args)
                            }
                        };
                    }
                    Event::EngineMessage { session, data } => {
                        let _ = self.server.send(session, data);
                    }
                    Event::Http(r) => {
                        let _ = self.server.respond(r.stream, 200, &[], b"page");
                    }
                    Event::Disconnect { socket, .. } => self.sockets.retain(|s| *s != socket),
                    _ => {}
                }
            }
            for k in 0..STREAMS {
                let before = self.input[k].len();
                self.feed(k);
                progress |= self.input[k].len() != before;
            }
            if !progress {
                return;
            }
        }
    }

    fn piece(&self, index: usize) -> Vec<u8> {
        let piece = PIECES[index % PIECES.len()];
        let mut bytes = Vec::new();
        let mut rest = piece;
        while let Some(i) = rest.windows(5).position(|w| w == b"{sid}") {
            bytes.extend_from_slice(&rest[..i]);
            bytes.extend_from_slice(&self.sid);
            rest = &rest[i + 5..];
        }
        bytes.extend_from_slice(rest);
        let (opcode, payload) = match bytes.first() {
            Some(1) => (OpCode::Text, &bytes[1..]),
            Some(2) => (OpCode::Binary, &bytes[1..]),
            Some(3) => (OpCode::Ping, &b"p"[..]),
            Some(4) => (OpCode::Close, &b"\x03\xe8"[..]),
            _ => return bytes,
        };
        let mut frame = vec![0u8; payload.len() + 14];
        let n = encode_frame(&mut frame, true, opcode, payload, Some([9, 8, 7, 6])).unwrap_or(0);
        frame.truncate(n);
        frame
    }

    fn command(&mut self, which: u8) {
        let Some(&socket) = self
            .sockets
            .get(usize::from(which >> 3) % self.sockets.len().max(1))
        else {
            return;
        };
        let _ = match which & 7 {
            0 => self
                .server
                .emit(socket, "news", Args::json(b"1,\"two\""))
                .map(|_| ()),
            1 => self
                .server
                .emit_with_ack(socket, "ask", Args::NONE, Some(50))
                .map(|_| ()),
            2 => {
                let ns = self.server.namespace("/").unwrap_or_else(|| unreachable!());
                self.server
                    .broadcast(
                        ns,
                        &Targets::to(&["room"]),
                        "all",
                        Args::binary(b"{\"_placeholder\":true,\"num\":0}", &[b"blob"]),
                    )
                    .map(|_| ())
            }
            3 => self.server.disconnect(socket),
            4 => match self.server.session_of(socket) {
                Some(session) => self.server.close(session),
                None => Ok(()),
            },
            5 => self.server.leave(socket, "room"),
            _ => self.server.join(socket, "other"),
        };
    }
}

/// Drives one server with `data`; panics if an invariant breaks.
pub fn check(data: &[u8]) {
    let Some((&mode, mut ops)) = data.split_first() else {
        return;
    };
    let mut arena = ServerArena::<4, 6, 6, 3, 4, 8, 4, 8, 48, 48, 8>::new();
    let config = ServerConfig {
        endpoints: &[Endpoint::SOCKET_IO, Endpoint::ENGINE_IO],
        namespaces: &["/"],
        dynamic_namespaces: mode & 1 != 0,
        ping_interval: if mode & 2 != 0 { 50 } else { 25_000 },
        ping_timeout: 40,
        upgrade_timeout: 100,
        connect_timeout: 200,
        close_timeout: 300,
        // Room for messages that continue in big blocks (with `alloc`).
        max_payload: if mode & 4 != 0 { 64 } else { 12_000 },
        max_queued_bytes: 2048,
        max_http_head: 1024,
        max_http_body: 256,
        headers_timeout: if mode & 32 != 0 { 150 } else { 10_000 },
        request_timeout: if mode & 32 != 0 { 400 } else { 30_000 },
        max_inbound_bytes: if mode & 64 != 0 { 100 } else { 1_000_000 },
        max_inbound_events: if mode & 64 != 0 { 2 } else { 64 },
        max_rooms_per_socket: if mode & 128 != 0 { 1 } else { 256 },
        ..ServerConfig::DEFAULT
    };
    let out_len = [1, 7, 64, 4096][usize::from(mode >> 3 & 3)];
    // With v3 clients allowed and CORS (the request's origin kept for its response, with
    // the preflight's requested headers) when the library has them (features `eio3`,
    // `cors`).
    let cors = Cors {
        origin: if mode & 1 != 0 {
            AllowOrigin::Reflect
        } else {
            AllowOrigin::Check(&|o: &str| o.len().is_multiple_of(2))
        },
        credentials: true,
        ..Cors::DEFAULT
    };
    let missing = |e| match e {
        ConfigError::Eio3NotCompiled | ConfigError::CorsNotCompiled => {}
        e => unreachable!("a valid configuration: {e}"),
    };
    let seed = [mode; 32];
    let all = ServerConfig {
        allow_eio3: true,
        cors: Some(cors),
        ..config
    };
    let server = match Server::new(all, arena.storage(), seed, Instant::ZERO) {
        Ok(server) => server,
        Err(e) => {
            missing(e);
            let v3 = ServerConfig { cors: None, ..all };
            match Server::new(v3, arena.storage(), seed, Instant::ZERO) {
                Ok(server) => server,
                Err(e) => {
                    missing(e);
                    let cors_only = ServerConfig {
                        allow_eio3: false,
                        ..all
                    };
                    match Server::new(cors_only, arena.storage(), seed, Instant::ZERO) {
                        Ok(server) => server,
                        Err(e) => {
                            missing(e);
                            let Ok(server) =
                                Server::new(config, arena.storage(), seed, Instant::ZERO)
                            else {
                                unreachable!("a valid configuration")
                            };
                            server
                        }
                    }
                }
            }
        }
    };
    let mut run = Run {
        server,
        now: 0,
        streams: [None; STREAMS],
        paused: [false; STREAMS],
        input: Default::default(),
        sid: b"AAAAAAAAAAAAAAAAAAAA".to_vec(),
        out: vec![0u8; out_len],
        events: vec![0u8; config.max_event()],
        sockets: Vec::new(),
        drains: 0,
    };
    while let Some((&op, rest)) = ops.split_first() {
        ops = rest;
        let k = usize::from(op >> 3) % STREAMS;
        let mut arg = || {
            let (&a, rest) = ops.split_first().unwrap_or((&0, &[]));
            ops = rest;
            a
        };
        match op & 7 {
            0 if run.streams[k].is_none() => {
                run.streams[k] = run.server.open_stream(Instant::from_millis(run.now)).ok();
            }
            1 => {
                let n = usize::from(arg()).min(ops.len());
                let (bytes, rest) = ops.split_at(n);
                ops = rest;
                if run.streams[k].is_some() {
                    run.input[k].extend_from_slice(bytes);
                    run.feed(k);
                }
            }
            2 => {
                let index = usize::from(arg());
                if run.streams[k].is_some() {
                    let bytes = run.piece(index);
                    run.input[k].extend_from_slice(&bytes);
                    run.feed(k);
                }
            }
            3 => {
                if let Some(s) = run.streams[k] {
                    let _ = run.server.feed_eof(s, Instant::from_millis(run.now));
                }
            }
            4 => {
                if let Some(s) = run.streams[k].take() {
                    run.input[k].clear();
                    run.paused[k] = false;
                    assert!(run.server.reset(s, Instant::from_millis(run.now)).is_ok());
                }
            }
            5 => {
                run.now += u64::from(arg()) * 4;
                run.server.handle_timeout(Instant::from_millis(run.now));
            }
            6 => {
                let which = arg();
                run.command(which);
            }
            _ => {
                if let Some(s) = run.streams[k] {
                    let r = if run.paused[k] {
                        run.server.resume_transmit(s)
                    } else {
                        run.server.pause_transmit(s)
                    };
                    assert!(r.is_ok(), "a live stream is known");
                    run.paused[k] = !run.paused[k];
                }
            }
        }
        run.drain();
    }
    // Everything goes away: no leak.
    for k in 0..STREAMS {
        if let Some(s) = run.streams[k].take() {
            assert!(run.server.reset(s, Instant::from_millis(run.now)).is_ok());
        }
    }
    run.drain();
    for _ in 0..1000 {
        let Some(t) = run.server.poll_timeout() else {
            break;
        };
        run.now = run.now.max(t.as_millis());
        run.server.handle_timeout(Instant::from_millis(run.now));
        run.drain();
    }
    assert_eq!(run.server.poll_timeout(), None);
    let u = run.server.usage();
    assert_eq!(
        (
            u.sessions,
            u.streams,
            u.sockets,
            u.rooms,
            u.members,
            u.acks,
            u.blocks,
            u.big_blocks,
            u.nodes
        ),
        (0, 0, 0, 0, 0, 0, 0, 0, 0),
        "{u:?}"
    );
}
