//! Hostile input closes only the offending session, and the server never leaks.

use siocore::server::*;
use siocore::ws::OpCode;

use crate::harness::*;

/// xorshift64*: deterministic pseudo-random input.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn echo() -> App {
    Box::new(|server, e| match *e {
        Event::Connect(c) => {
            if let Err(e) = server.accept(c.socket) {
                // The client may have gone between its CONNECT and this.
                assert!(server.session_of(c.socket).is_none(), "{e}");
            }
        }
        Event::Message(m) => {
            let (blobs, n) = m.attachments.to_array::<16>().unwrap();
            let _ = server.emit(m.socket, "echo", Args::binary(m.args, &blobs[..n]));
        }
        Event::Http(r) => {
            let _ = server.respond(r.stream, 404, &[], b"");
        }
        _ => {}
    })
}

#[test]
fn garbage_on_one_connection_leaves_the_others_alone() {
    let mut h = Harness::new(ServerConfig::DEFAULT);
    h.app = echo();
    let (good, _) = h.sio_ws();
    let junk: [&[u8]; 6] = [
        b"\x00\x01\x02\x03\r\n\r\n",
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n",
        b"POST /socket.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nContent-Length: 2\r\n\r\n40",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\xff\xfe",
        &[0x81; 64],
        b"",
    ];
    for bytes in junk {
        let s = h.request(bytes);
        let _ = s;
    }
    // A WebSocket session that sends junk frames and a truncated frame.
    let (bad, _) = h.sio_ws();
    h.send(bad, &[0x82, 0x05]); // unmasked
    assert!(h.is_closed(bad));
    let (bad2, _) = h.sio_ws();
    h.send(bad2, &frame(OpCode::Text, b"42[")[..5]);
    h.eof(bad2);
    assert!(h.is_closed(bad2));
    h.ws_send_text(good, r#"42["still",true]"#);
    assert_eq!(h.ws_texts(good), vec![r#"42["echo",true]"#]);
}

#[test]
fn a_flood_of_messages_is_handled_in_bounded_memory() {
    let cap = Capacity {
        events: 64,
        ..Capacity::for_sessions(4, 64 * 1024)
    };
    let mut h = Harness::with_capacity(ServerConfig::DEFAULT, cap);
    h.app = echo();
    let (s, _) = h.sio_ws();
    let mut wire = Vec::new();
    for k in 0..2000 {
        wire.extend_from_slice(&frame(OpCode::Text, format!(r#"42["m",{k}]"#).as_bytes()));
    }
    h.send(s, &wire);
    let texts = h.ws_texts(s);
    assert_eq!(texts.len(), 2000);
    assert_eq!(texts[1999], r#"42["echo",1999]"#);
    assert!(h.server.usage().blocks < 16, "{:?}", h.server.usage());
}

/// The sids the server handed out so far (from the open packets it wrote).
fn sids(h: &Harness) -> Vec<String> {
    let mut out = Vec::new();
    for bytes in h.all_out.values() {
        let mut rest = &bytes[..];
        // Open packets (`0{"sid":…`), not CONNECT replies (`40{"sid":…`).
        while let Some(i) = rest
            .windows(10)
            .position(|w| w[0] != b'4' && &w[1..] == b"0{\"sid\":\"")
        {
            if let Some(sid) = rest.get(i + 10..i + 30) {
                out.push(String::from_utf8_lossy(sid).into_owned());
            }
            rest = &rest[i + 10..];
        }
    }
    out
}

/// Random pieces of valid traffic, corrupted now and then, on random streams at random
/// times: never a panic, memory within bounds, and once every stream is gone and the
/// timers ran out, nothing is left.
#[test]
fn random_traffic_never_panics_and_never_leaks() {
    let frames: Vec<Vec<u8>> = vec![
        frame(OpCode::Text, b"40"),
        frame(OpCode::Text, b"40/nope,"),
        frame(OpCode::Text, br#"42["m",1,{"a":[2]}]"#),
        frame(OpCode::Text, br#"4212["m"]"#),
        frame(OpCode::Text, br#"451-["m",{"_placeholder":true,"num":0}]"#),
        frame(OpCode::Binary, &[1, 2, 3]),
        frame(OpCode::Text, b"3"),
        frame(OpCode::Text, b"2probe"),
        frame(OpCode::Text, b"5"),
        frame(OpCode::Text, b"41"),
        frame(OpCode::Ping, b""),
        frame(OpCode::Close, b""),
    ];
    let bodies: [&[u8]; 7] = [
        b"40",
        br#"42["m","x"]"#,
        b"451-[\"m\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID",
        b"3",
        b"41",
        b"1",
        b"x",
    ];
    let mut total_events = 0;
    let mut kinds = std::collections::BTreeSet::new();
    for seed in 1..=40u64 {
        let cap = Capacity::for_sessions(8, 256 * 1024);
        let config = ServerConfig {
            ping_interval: 100,
            ping_timeout: 50,
            ..ServerConfig::DEFAULT
        };
        let mut h = Harness::with_capacity(config, cap);
        h.app = echo();
        let mut rng = Rng(seed * 0x9E37_79B9);
        let mut streams: Vec<StreamId> = Vec::new();
        let mut upgraded: Vec<StreamId> = Vec::new();
        for _ in 0..400 {
            let known = sids(&h);
            let sid = if known.is_empty() {
                "AAAAAAAAAAAAAAAAAAAA".to_string()
            } else {
                known[rng.below(known.len())].clone()
            };
            let poll = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
            match rng.below(12) {
                0 if streams.len() < 12 => streams.push(h.connect()),
                1 if !streams.is_empty() => {
                    let s = streams.swap_remove(rng.below(streams.len()));
                    if !h.is_closed(s) {
                        if rng.below(2) == 0 {
                            h.reset(s);
                        } else {
                            h.eof(s);
                        }
                    }
                }
                2 => h.advance(rng.below(80) as u64),
                _ if !streams.is_empty() => {
                    let s = streams[rng.below(streams.len())];
                    if h.is_closed(s) {
                        continue;
                    }
                    // Mostly what fits the stream (frames once it asked for a
                    // WebSocket), sometimes anything.
                    let ws = upgraded.contains(&s);
                    let pick = if rng.below(10) == 0 {
                        rng.below(8)
                    } else if ws {
                        7
                    } else {
                        rng.below(6)
                    };
                    let mut bytes = match pick {
                        0 => get("/socket.io/?EIO=4&transport=polling").into_bytes(),
                        1 => ws_request("/socket.io/?EIO=4&transport=websocket").into_bytes(),
                        2 => {
                            ws_request(&format!("/socket.io/?EIO=4&transport=websocket&sid={sid}"))
                                .into_bytes()
                        }
                        3 => get(&poll).into_bytes(),
                        4 => post(&poll, bodies[rng.below(bodies.len())]),
                        5 => get("/index.html").into_bytes(),
                        _ => frames[rng.below(frames.len())].clone(),
                    };
                    if pick == 1 || pick == 2 {
                        upgraded.push(s);
                    }
                    if rng.below(6) == 0 {
                        for _ in 0..1 + rng.below(3) {
                            let i = rng.below(bytes.len());
                            bytes[i] = rng.next() as u8;
                        }
                    }
                    if rng.below(8) == 0 {
                        bytes.truncate(rng.below(bytes.len() + 1));
                    }
                    h.send(s, &bytes);
                }
                _ => {}
            }
            let u = h.server.usage();
            assert!(u.blocks <= 1100 && u.nodes <= 2000, "{u:?}");
        }
        total_events += h.events.len();
        for e in &h.events {
            let kind = format!("{e:?}");
            kinds.insert(
                kind.split([' ', '(', '{'])
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        for s in streams {
            if !h.is_closed(s) {
                h.reset(s);
            }
        }
        let later = h.now + 1_000_000;
        h.run_until(later);
        let u = h.server.usage();
        assert_eq!(
            (
                u.sessions, u.streams, u.sockets, u.rooms, u.members, u.acks, u.blocks, u.nodes
            ),
            (0, 0, 0, 0, 0, 0, 0, 0),
            "seed {seed}: {u:?}"
        );
        assert_eq!(h.server.poll_timeout(), None);
    }
    assert!(
        total_events > 200,
        "the traffic reached the application: {total_events} events"
    );
    for kind in ["Http", "Connect", "Message", "Disconnect"] {
        assert!(kinds.contains(kind), "{kind} in {kinds:?}");
    }
}
