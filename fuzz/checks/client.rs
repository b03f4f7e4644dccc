//! Fuzz check for the sans-IO client (`siocore::client`): arbitrary server bytes on its
//! three streams, pieces of valid server traffic, stream failures, time passing and the
//! application's commands, on a client with a small arena (the `no_std` path).
//!
//! Besides "never panics", it checks: every `Send` fits the buffer given, every event fits
//! `event_buf_len`, and after `close` and enough time the client is quiet: no deadline, no
//! stream asked for, and every ack awaited was reported once (answered or failed), none
//! that was not awaited.
//!
//! Input: the first byte picks the transports, the arena sizes and the parser (bit 6: the
//! msgpack parser, whose server packets join the pieces; a build without the feature
//! `msgpack-parser` refuses the client and the input ends there); then each byte is an
//! operation on one of the 3 streams (bits 3-4) chosen by bits 0-2: drain the I/O, feed raw
//! bytes (count in the next byte), feed a piece of valid traffic (index in the next byte),
//! close the stream, let time pass, an application command (which in the next byte), drain
//! the events, or fail a connection.

use siocore::Instant;
use siocore::client::*;
use siocore::ws::{AcceptKey, OpCode, encode_frame};

/// Server traffic. `{accept}` is the key answering the client's last WebSocket request.
/// Lines starting with a frame marker byte (1 text, 2 binary, 3 ping, 4 close) become one
/// unmasked server frame.
const PIECES: &[&[u8]] = &[
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 94\r\n\r\n0{\"sid\":\"abc\",\"upgrades\":[\"websocket\"],\"pingInterval\":300,\"pingTimeout\":200,\"maxPayload\":1000}",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n6",
    b"HTTP/1.1 200 OK\r\nContent-Length: 25\r\n\r\n40{\"sid\":\"x\"}\x1e42[\"m\",1]\x1e2",
    b"HTTP/1.1 200 OK\r\nContent-Length: 48\r\n\r\n451-[\"m\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID\x1e41",
    b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{\"code\":1\r\n1\r\n}\r\n0\r\n\r\n",
    b"\x010{\"sid\":\"w\",\"upgrades\":[],\"pingInterval\":300,\"pingTimeout\":200}",
    b"\x0140{\"sid\":\"s\"}",
    b"\x0140/chat,{\"sid\":\"t\"}",
    b"\x0144/chat,{\"message\":\"no\",\"data\":[1]}",
    b"\x0142[\"m\",{\"a\":[1,2]}]",
    b"\x014233[\"m\",\"ack me\"]",
    b"\x01430[\"reply\"]",
    b"\x01451-[\"m\",{\"_placeholder\":true,\"num\":0}]",
    b"\x01461-0[{\"_placeholder\":true,\"num\":0}]",
    b"\x02\x01\x02\x03",
    b"\x012",
    b"\x013probe",
    b"\x016",
    b"\x0141",
    b"\x011",
    b"\x03ping",
    b"\x04",
];

/// The msgpack parser's server traffic (socket.io-msgpack-parser 3.0.2 with notepack.io
/// 2.2): binary frames and a polling body of `b` records.
const MSGPACK_PIECES: &[&[u8]] = &[
    b"\x02\x83\xa4type\x00\xa4data\x81\xa3sid\xa1s\xa3nsp\xa1/",
    b"\x02\x83\xa4type\x00\xa4data\x82\xa3sid\xa1t\xa3pid\xa2p1\xa3nsp\xa5/chat",
    b"\x02\x83\xa4type\x04\xa4data\x82\xa7message\xa2no\xa4data\x91\x01\xa3nsp\xa5/chat",
    b"\x02\x83\xa4type\x02\xa4data\x93\xa1m\xc4\x03\x01\x02\x03\x81\xa1a\x92\x01\xcb?\xf8\x00\x00\x00\x00\x00\x00\xa3nsp\xa1/",
    b"\x02\x84\xa4type\x02\xa4data\x92\xa1m\xa6ack me\xa2id!\xa3nsp\xa1/",
    b"\x02\x83\xa4type\x02\xa4data\x93\xa1m\x02\xa4off1\xa3nsp\xa5/chat",
    b"\x02\x84\xa4type\x03\xa4data\x92\xa5reply\xc4\x01\x07\xa2id\x00\xa3nsp\xa1/",
    b"\x02\x82\xa4type\x01\xa3nsp\xa1/",
    b"HTTP/1.1 200 OK\r\nContent-Length: 141\r\n\r\nbg6R0eXBlAKRkYXRhgaNzaWShc6Nuc3ChLw==\x1ebg6R0eXBlAqRkYXRhk6FtxAMBAgOBoWGSAcs/+AAAAAAAAKNuc3ChLw==\x1ebhKR0eXBlA6RkYXRhkqVyZXBsecQBB6JpZACjbnNwoS8=",
];

type Cl<'a> = Client<'a, 2, 3>;

struct Run<'a> {
    client: Cl<'a>,
    now: u64,
    out: Vec<u8>,
    events: Vec<u8>,
    /// The last WebSocket request the client sent, for the accept key.
    ws_request: Vec<u8>,
    root: Option<NamespaceId>,
    chat: Option<NamespaceId>,
    /// The client speaks the msgpack parser: its pieces are offered too.
    msgpack: bool,
    /// An ack the server asked for, to answer.
    asked: Option<(NamespaceId, AckId)>,
    /// The acks awaited (`emit_with_ack` succeeded) and not yet reported.
    awaited: Vec<(NamespaceId, AckId)>,
}

impl Run<'_> {
    fn instant(&self) -> Instant {
        Instant::from_millis(self.now)
    }

    fn io(&mut self) {
        let now = self.instant();
        for _ in 0..64 {
            let Some(io) = self.client.poll_io(&mut self.out) else {
                return;
            };
            match io {
                Io::Connect(s) => self.client.connected(s, now),
                Io::Send { stream, len } => {
                    assert!(len <= self.out.len());
                    if stream == Stream::WebSocket && self.out.starts_with(b"GET ") {
                        self.ws_request = self.out[..len].to_vec();
                    }
                }
                Io::Close(_) => {}
            }
        }
    }

    fn events(&mut self) {
        for _ in 0..256 {
            let e = match self.client.poll_event(&mut self.events) {
                Ok(Some(e)) => e,
                Ok(None) => return,
                Err(e) => panic!("an event larger than event_buf_len: {e}"),
            };
            match e {
                Event::Message(m) => {
                    if let Some(id) = m.ack {
                        self.asked = Some((m.namespace, id));
                    }
                    let (blobs, n) = m.attachments.to_array::<8>().unwrap_or_default();
                    let _ =
                        self.client
                            .emit(m.namespace, "echo", Args::binary(m.args, &blobs[..n]));
                }
                Event::Ack {
                    namespace: ns,
                    id,
                    attachments,
                    ..
                } => {
                    let _ = attachments.iter().count();
                    self.reported(ns, id);
                }
                Event::AckFailed {
                    namespace: ns, id, ..
                } => self.reported(ns, id),
                _ => {}
            }
        }
    }

    fn piece(&mut self, s: Stream, i: usize) {
        let extra = if self.msgpack { MSGPACK_PIECES } else { &[] };
        let k = i % (PIECES.len() + extra.len());
        let p = PIECES.get(k).unwrap_or_else(|| &extra[k - PIECES.len()]);
        let bytes = match p.first() {
            Some(&k @ 1..=4) => {
                let op = match k {
                    1 => OpCode::Text,
                    2 => OpCode::Binary,
                    3 => OpCode::Ping,
                    _ => OpCode::Close,
                };
                let mut f = vec![0u8; p.len() + 14];
                let n = encode_frame(&mut f, true, op, &p[1..], None).expect("frame");
                f.truncate(n);
                f
            }
            _ => {
                let key = String::from_utf8_lossy(&self.ws_request)
                    .lines()
                    .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: ").map(str::to_owned))
                    .unwrap_or_default();
                let accept = AcceptKey::for_key(key.trim().as_bytes());
                let text = String::from_utf8_lossy(p).replace("{accept}", accept.as_str());
                text.into_bytes()
            }
        };
        self.feed(s, &bytes);
    }

    fn feed(&mut self, s: Stream, bytes: &[u8]) {
        let now = self.instant();
        let n = self.client.recv(s, bytes, now);
        assert!(n <= bytes.len());
    }

    /// An awaited ack was answered or failed: reported once, and only if awaited.
    fn reported(&mut self, ns: NamespaceId, id: AckId) {
        let at = self.awaited.iter().position(|&a| a == (ns, id));
        let at = at.unwrap_or_else(|| panic!("ack {id:?} on {ns:?} reported but not awaited"));
        self.awaited.swap_remove(at);
    }

    fn command(&mut self, which: u8) {
        let now = self.instant();
        let c = &mut self.client;
        let ns = if which & 0x10 != 0 {
            self.chat
        } else {
            self.root
        };
        match which & 0x0f {
            0 => self.root = c.connect("/", None).ok().or(self.root),
            1 => self.chat = c.connect("/chat", Some(b"{\"k\":1}")).ok().or(self.chat),
            2 => {
                if let Some(ns) = ns {
                    let _ = c.emit(ns, "e", Args::json(b"1,\"x\""));
                }
            }
            3 => {
                if let Some(ns) = ns {
                    let blobs: [&[u8]; 1] = [&[9; 40]];
                    let args = Args::binary(b"{\"_placeholder\":true,\"num\":0}", &blobs);
                    if let Ok(id) = c.emit_with_ack(ns, "q", args, 500, now) {
                        assert!(
                            !self.awaited.contains(&(ns, id)),
                            "ack id {id:?} handed out twice"
                        );
                        self.awaited.push((ns, id));
                    }
                }
            }
            4 => {
                if let Some(ns) = ns {
                    let _ = c.emit_volatile(ns, "v", Args::NONE);
                }
            }
            5 => {
                if let Some((ns, id)) = self.asked.take() {
                    let _ = c.ack(ns, id, Args::json(b"true"));
                }
            }
            6 => {
                if let Some(ns) = ns {
                    let _ = c.disconnect(ns);
                }
            }
            7 => c.close(now),
            8 => c.start(now),
            _ => {
                if let Some(ns) = ns {
                    // Malformed arguments are refused, never queued.
                    assert!(c.emit(ns, "e", Args::json(b"1,")).is_err());
                }
            }
        }
    }
}

/// Runs one input.
pub fn check(data: &[u8]) {
    let Some((&mode, mut ops)) = data.split_first() else {
        return;
    };
    let mut config = ClientConfig::new("fuzz.local:3000");
    config.transports = match mode % 3 {
        0 => Transports::WebSocket,
        1 => Transports::Polling,
        _ => Transports::PollingThenWebSocket,
    };
    config.rx_capacity = if mode & 4 != 0 { 512 } else { 2048 };
    config.outbox_capacity = if mode & 8 != 0 { 64 } else { 1024 };
    config.binary_capacity = if mode & 16 != 0 { 0 } else { 512 };
    config.namespace_capacity = 64;
    config.reconnection.attempts = if mode & 32 != 0 { 2 } else { u32::MAX };
    config.reconnection.delay_ms = 100;
    if mode & 64 != 0 {
        config.parser = Parser::MsgPack;
    }
    let mut arena = vec![0u8; config.arena_len()];
    let Ok(mut client) = Cl::new(config, &mut arena, [mode; 32]) else {
        return;
    };
    let root = client.connect("/", None).ok();
    client.start(Instant::ZERO);
    let events = vec![0u8; client.event_buf_len()];
    let mut run = Run {
        client,
        now: 0,
        out: vec![0u8; config.out_len()],
        events,
        ws_request: Vec::new(),
        root,
        chat: None,
        msgpack: config.parser == Parser::MsgPack,
        asked: None,
        awaited: Vec::new(),
    };
    run.io();
    while let Some((&op, rest)) = ops.split_first() {
        ops = rest;
        let s = Stream::ALL[usize::from(op >> 3 & 3) % 3];
        let mut arg = || {
            let (&a, rest) = ops.split_first().unwrap_or((&0, &[]));
            ops = rest;
            a
        };
        match op & 7 {
            0 => run.io(),
            1 => {
                let n = usize::from(arg());
                let take = n.min(ops.len());
                let (bytes, rest) = ops.split_at(take);
                ops = rest;
                run.feed(s, bytes);
            }
            2 => {
                let i = usize::from(arg());
                run.piece(s, i);
            }
            3 => {
                let now = run.instant();
                run.client.closed(s, now);
            }
            4 => {
                run.now += u64::from(arg()) * 10;
                let now = run.instant();
                run.client.handle_timeout(now);
            }
            5 => {
                let which = arg();
                run.command(which);
            }
            6 => run.events(),
            _ => {
                let now = run.instant();
                run.client.connect_failed(s, now);
            }
        }
    }
    // Quiet after close: the close packet goes out, the streams close, every notice and
    // ack is reported, and no timer is left.
    let now = run.instant();
    run.client.close(now);
    for _ in 0..4 {
        run.io();
        run.events();
        run.now += 100_000;
        let now = run.instant();
        run.client.handle_timeout(now);
    }
    run.io();
    run.events();
    assert!(!run.client.is_open());
    assert_eq!(run.awaited, [], "acks awaited and never reported");
    assert_eq!(run.client.poll_timeout(), None, "a timer after close");
    assert!(
        run.client.poll_io(&mut run.out).is_none(),
        "I/O after close"
    );
}
