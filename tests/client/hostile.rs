//! Hostile server responses: garbage, oversized, wrong statuses, bad frames. Each ends the
//! attempt with a reason (and a reconnection); none panics.

use siocore::Instant;
use siocore::client::{Client, ClientConfig, CloseReason, Event, Io, Stream, Transports};
use siocore::ws::{self, OpCode};

pub(crate) type Cl = Client<'static, 2, 2>;

/// The configuration of the clients here: small buffers, binary packets up to 256 bytes.
pub(crate) fn config(t: Transports) -> ClientConfig<'static> {
    let mut c = ClientConfig::new("localhost");
    c.transports = t;
    c.rx_capacity = 2048;
    c.binary_capacity = 256;
    c.outbox_capacity = 1024;
    c
}

fn client(t: Transports) -> Cl {
    client_with(config(t))
}

/// A started client for `c` that asked for `/`.
pub(crate) fn client_with(c: ClientConfig<'static>) -> Cl {
    let arena: &'static mut [u8] = Box::leak(vec![0u8; c.arena_len()].into_boxed_slice());
    let mut cl = Client::new(c, arena, [3; 32]).unwrap();
    cl.connect("/", None).unwrap();
    cl.start(Instant::ZERO);
    cl
}

/// Runs `poll_io`, connecting every stream asked for; returns what was sent per stream.
pub(crate) fn pump(c: &mut Cl) -> [Vec<u8>; 3] {
    let mut out = vec![0u8; 8192];
    let mut sent: [Vec<u8>; 3] = Default::default();
    while let Some(io) = c.poll_io(&mut out) {
        match io {
            Io::Connect(s) => c.connected(s, Instant::ZERO),
            Io::Send { stream, len } => sent[stream.index()].extend_from_slice(&out[..len]),
            Io::Close(_) => {}
        }
    }
    sent
}

pub(crate) fn closes(c: &mut Cl) -> Vec<CloseReason> {
    let mut buf = vec![0u8; c.event_buf_len()];
    let mut out = Vec::new();
    while let Some(e) = c.poll_event(&mut buf).unwrap() {
        if let Event::Closed { reason } = e {
            out.push(reason);
        }
    }
    out
}

/// The accept key for the key in the client's WebSocket request.
fn accept_for(request: &[u8]) -> String {
    let text = String::from_utf8_lossy(request);
    let key = text
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .unwrap();
    ws::AcceptKey::for_key(key.trim().as_bytes())
        .as_str()
        .to_string()
}

pub(crate) fn ws_open(c: &mut Cl) {
    let sent = pump(c);
    let accept = accept_for(&sent[Stream::WebSocket.index()]);
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    c.recv(Stream::WebSocket, head.as_bytes(), Instant::ZERO);
    let open = br#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
    c.recv(
        Stream::WebSocket,
        &server_frame(OpCode::Text, open),
        Instant::ZERO,
    );
    assert!(closes(c).is_empty());
    assert!(c.is_open());
}

pub(crate) fn server_frame(op: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; payload.len() + 14];
    let n = ws::encode_frame(&mut out, true, op, payload, None).unwrap();
    out.truncate(n);
    out
}

#[test]
fn bad_handshake_answers_end_the_attempt() {
    let cases: &[(&[u8], CloseReason)] = &[
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            CloseReason::Http { status: 200, code: None },
        ),
        (
            b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 46\r\n\r\n{\"code\":5,\"message\":\"Unsupported protocol ve\"}",
            CloseReason::Http { status: 400, code: Some(5) },
        ),
        (b"\x00\xff garbage\r\n\r\n", CloseReason::ParseError),
        (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bm90IHRoZSBrZXk=\r\n\r\n",
            CloseReason::ParseError,
        ),
    ];
    for (bytes, reason) in cases {
        let mut c = client(Transports::WebSocket);
        pump(&mut c);
        c.recv(Stream::WebSocket, bytes, Instant::ZERO);
        assert_eq!(
            closes(&mut c),
            vec![*reason],
            "{}",
            String::from_utf8_lossy(bytes)
        );
        assert!(!c.is_open());
        assert!(c.poll_timeout().is_some(), "a reconnection is scheduled");
    }
}

#[test]
fn chunked_error_bodies_are_read() {
    // What Node writes for a refused request: no Content-Length, a chunked JSON body.
    let response: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n\
        Transfer-Encoding: chunked\r\n\r\n9\r\n{\"code\":1\r\n20;x=y\r\n,\"message\":\"Session ID unknown\"}\r\n0\r\n\r\n";
    for chunk in [1, 5, response.len()] {
        let mut c = client(Transports::Polling);
        pump(&mut c);
        for piece in response.chunks(chunk) {
            c.recv(Stream::Poll, piece, Instant::ZERO);
        }
        assert_eq!(
            closes(&mut c),
            vec![CloseReason::Http {
                status: 400,
                code: Some(1)
            }],
            "chunks of {chunk}"
        );
    }
    let mut c = client(Transports::Polling);
    pump(&mut c);
    c.recv(
        Stream::Poll,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        Instant::ZERO,
    );
    assert_eq!(closes(&mut c), vec![CloseReason::ParseError]);
}

#[test]
fn oversized_responses_end_the_attempt() {
    // A head that never ends.
    let mut c = client(Transports::WebSocket);
    pump(&mut c);
    let mut junk = b"HTTP/1.1 101 OK\r\n".to_vec();
    junk.resize(4096, b'a');
    let n = c.recv(Stream::WebSocket, &junk, Instant::ZERO);
    assert!(n <= 2048);
    assert_eq!(closes(&mut c), vec![CloseReason::TooLarge]);
    // A polling body larger than the receive buffer.
    let mut c = client(Transports::Polling);
    pump(&mut c);
    c.recv(
        Stream::Poll,
        b"HTTP/1.1 200 OK\r\nContent-Length: 999999\r\n\r\n0{",
        Instant::ZERO,
    );
    assert_eq!(closes(&mut c), vec![CloseReason::TooLarge]);
    // A WebSocket message larger than the buffer.
    let mut c = client(Transports::WebSocket);
    ws_open(&mut c);
    let big = server_frame(OpCode::Text, &vec![b'4'; 4000]);
    c.recv(Stream::WebSocket, &big[..64], Instant::ZERO);
    assert_eq!(closes(&mut c), vec![CloseReason::TooLarge]);
}

#[test]
fn bad_packets_on_an_open_session_close_it() {
    let binary_too_big = br#"451-["x",{"_placeholder":true,"num":0}]"#.to_vec();
    let cases: Vec<(Vec<Vec<u8>>, CloseReason)> = vec![
        (
            vec![server_frame(OpCode::Text, b"zzz")],
            CloseReason::ParseError,
        ),
        (
            vec![server_frame(OpCode::Text, b"")],
            CloseReason::ParseError,
        ),
        (
            vec![server_frame(OpCode::Binary, b"\x01\x02")],
            CloseReason::ParseError,
        ),
        (
            vec![server_frame(OpCode::Text, b"4{not sio")],
            CloseReason::ParseError,
        ),
        (
            vec![server_frame(OpCode::Text, b"0{}")],
            CloseReason::ParseError,
        ),
        (
            vec![server_frame(OpCode::Text, b"1")],
            CloseReason::ServerClose,
        ),
        (
            vec![
                server_frame(OpCode::Text, &binary_too_big),
                server_frame(OpCode::Binary, &[0u8; 1000]),
            ],
            CloseReason::TooLarge,
        ),
        (
            vec![
                server_frame(OpCode::Text, &binary_too_big),
                server_frame(OpCode::Text, b"42[\"x\"]"),
            ],
            CloseReason::ParseError,
        ),
        (vec![vec![0x8f, 0x00]], CloseReason::ParseError),
        (
            vec![server_frame(OpCode::Close, b"")],
            CloseReason::ServerClose,
        ),
    ];
    for (frames, reason) in cases {
        let mut c = client(Transports::WebSocket);
        ws_open(&mut c);
        for f in &frames {
            c.recv(Stream::WebSocket, f, Instant::ZERO);
        }
        assert_eq!(closes(&mut c), vec![reason], "{frames:?}");
        assert!(!c.is_open());
    }
}

#[test]
fn random_bytes_never_panic() {
    // A small deterministic generator: every byte pattern class shows up.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..300 {
        let t = [
            Transports::WebSocket,
            Transports::Polling,
            Transports::PollingThenWebSocket,
        ][round % 3];
        let mut c = client(t);
        if t == Transports::WebSocket && round % 2 == 0 {
            ws_open(&mut c);
        } else {
            pump(&mut c);
        }
        for _ in 0..20 {
            let len = (next() % 300) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if next() % 4 == 0 {
                // Plausible-looking starts reach deeper states.
                let prefix: &[u8] = match next() % 3 {
                    0 => b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                    1 => b"\x81\x05",
                    _ => b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
                };
                bytes.splice(0..0, prefix.iter().copied());
            }
            let s = Stream::ALL[(next() % 3) as usize];
            c.recv(s, &bytes, Instant::from_millis(round as u64));
            let _ = closes(&mut c);
            pump(&mut c);
            if next() % 5 == 0 {
                c.closed(s, Instant::from_millis(round as u64));
            }
            c.handle_timeout(Instant::from_millis(round as u64 * 100));
        }
    }
}
