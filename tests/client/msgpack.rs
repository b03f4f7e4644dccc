//! The client speaking the msgpack parser (`ClientConfig::parser`, feature
//! `msgpack-parser`) to the sans-IO server speaking it too (`ServerConfig::parser`): the
//! exact maps the client sends, binary and acks both ways, CONNECT with auth, a refusal,
//! connection state recovery, the limits of its buffers, over each transport mode.

use std::cell::RefCell;
use std::rc::Rc;

use crate::ALL;
use crate::hostile;
use crate::pair::{CEv, Pair, client_config};
use siocore::Instant;
use siocore::client::{Args, CommandError, Event, NamespaceId, Parser, Stream, Transports};
use siocore::msgpack::{Sink, Writer};
use siocore::server::{self, ServerConfig};
use siocore::ws::OpCode;

fn mp_server() -> ServerConfig<'static> {
    ServerConfig {
        namespaces: &["/", "/private", "/admin"],
        parser: Parser::MsgPack,
        ..ServerConfig::DEFAULT
    }
}

fn mp_pair(t: Transports) -> Pair {
    let mut c = client_config(t);
    c.parser = Parser::MsgPack;
    Pair::with_server(c, mp_server())
}

/// The binary messages in the POST bodies the client sent (`b<base64>` records), decoded,
/// and whether any record was a text Socket.IO packet (`4…`).
fn posted(p: &Pair) -> (Vec<Vec<u8>>, bool) {
    let sent = &p.sent[Stream::Post.index()];
    let (mut messages, mut text) = (Vec::new(), false);
    let mut rest = &sent[..];
    while let Some(h) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&rest[..h]).into_owned();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let body = &rest[h + 4..h + 4 + len];
        for record in body.split(|&b| b == 0x1e) {
            match record.split_first() {
                Some((b'b', b64)) => {
                    let mut out = vec![0u8; b64.len()];
                    let n = siocore::base64::decode(b64, &mut out).unwrap();
                    out.truncate(n);
                    messages.push(out);
                }
                Some((b'4', _)) => text = true,
                _ => {}
            }
        }
        rest = &rest[h + 4 + len..];
    }
    (messages, text)
}

#[test]
fn sends_each_packet_as_the_js_client_does() {
    let mut p = mp_pair(Transports::Polling);
    p.client.connect("/", None).unwrap();
    let admin = p
        .client
        .connect("/admin", Some(br#" {"token":"t"} "#))
        .unwrap();
    p.client.start(p.instant());
    p.drive();
    let ev = p.take_events();
    assert!(
        ev.iter()
            .any(|e| matches!(e, CEv::Connect(0, sid) if sid.len() == 20)),
        "{ev:?}"
    );
    assert!(
        ev.iter()
            .any(|e| matches!(e, CEv::Connect(1, sid) if sid.len() == 20)),
        "{ev:?}"
    );
    let root = NamespaceId::from_index(0);
    let blob: &[u8] = &[1, 2];
    p.client
        .emit(
            root,
            "e",
            Args::binary(br#"1, {"_placeholder":true,"num":0}"#, &[blob]),
        )
        .unwrap();
    p.client
        .emit_with_ack(admin, "q", Args::json(br#"-1.5,"x""#), 5000, p.instant())
        .unwrap();
    p.drive();
    p.client.disconnect(admin).unwrap();
    p.drive();
    let (messages, text) = posted(&p);
    assert!(!text, "a text packet went out");
    let want: [&[u8]; 5] = [
        // CONNECT without auth: `data` is notepack's undefined, as socket.io-client sends.
        b"\x83\xa4type\x00\xa4data\xd4\x00\x00\xa3nsp\xa1/",
        b"\x83\xa4type\x00\xa4data\x81\xa5token\xa1t\xa3nsp\xa6/admin",
        // Binary in place: no attachments.
        b"\x83\xa4type\x02\xa4data\x93\xa1e\x01\xc4\x02\x01\x02\xa3nsp\xa1/",
        b"\x84\xa4type\x02\xa4data\x93\xa1q\xcb\xbf\xf8\x00\x00\x00\x00\x00\x00\xa1x\xa2id\x00\xa3nsp\xa6/admin",
        b"\x82\xa4type\x01\xa3nsp\xa6/admin",
    ];
    assert_eq!(messages, want, "{messages:x?}");
    // The server read the auth object.
    let auth = format!("{:?}", br#"{"token":"t"}"#.as_slice());
    assert!(
        p.sev
            .iter()
            .any(|e| e.contains("/admin") && e.contains(&auth)),
        "{:?}",
        p.sev
    );
    assert!(
        p.sev.iter().any(|e| e.starts_with("Disconnect")),
        "{:?}",
        p.sev
    );
}

#[test]
fn events_and_acks_both_ways_with_binary() {
    for (t, chunk) in ALL
        .into_iter()
        .flat_map(|t| [None, Some(1), Some(7)].map(|c| (t, c)))
    {
        let mut p = mp_pair(t);
        p.chunk = chunk;
        // The server asks the client for an ack on `ask-me`; the client answers with the
        // arguments it got.
        let answered = Rc::new(RefCell::new(Vec::new()));
        let seen = answered.clone();
        let mut echo = crate::pair::echo_app();
        p.server_app = Box::new(move |srv, e| match e {
            server::Event::Message(m) if m.name == "ask-me" => {
                let (blobs, n) = m.attachments.to_array::<8>().unwrap();
                srv.emit_with_ack(
                    m.socket,
                    "question",
                    Args::binary(m.args, &blobs[..n]),
                    Some(5000),
                )
                .unwrap();
            }
            server::Event::Ack(a) => seen.borrow_mut().push((
                String::from_utf8(a.args.to_vec()).unwrap(),
                a.attachments.iter().map(<[u8]>::to_vec).collect::<Vec<_>>(),
            )),
            e => echo(srv, e),
        });
        p.client_app = Box::new(|c, e, _| {
            if let Event::Message(m) = e
                && let Some(id) = m.ack
            {
                let (blobs, n) = m.attachments.to_array::<8>().unwrap();
                c.ack(m.namespace, id, Args::binary(m.args, &blobs[..n]))
                    .unwrap();
            }
        });
        let ns = p.client.connect("/", None).unwrap();
        p.client.start(p.instant());
        p.drive();
        p.take_events();
        let json = r#"1,"two",{"3":[true,null,4.5]},"é😀\n""#;
        p.client
            .emit(ns, "echo", Args::json(json.as_bytes()))
            .unwrap();
        // A byte at a time, the pair settles within its turns for a smaller one.
        let big = vec![7u8; if chunk == Some(1) { 2000 } else { 20_000 }];
        let small: &[u8] = &[0, 255];
        let bin = r#"{"_placeholder":true,"num":0},{"deep":[{"_placeholder":true,"num":1}]},"x""#;
        p.client
            .emit(ns, "bin", Args::binary(bin.as_bytes(), &[&big, small]))
            .unwrap();
        let id = p
            .client
            .emit_with_ack(
                ns,
                "q",
                Args::binary(br#"42,{"_placeholder":true,"num":0}"#, &[small]),
                5000,
                p.instant(),
            )
            .unwrap();
        p.client
            .emit(
                ns,
                "ask-me",
                Args::binary(br#"{"_placeholder":true,"num":0},"y""#, &[small]),
            )
            .unwrap();
        p.drive();
        let ev = p.take_events();
        let message = |name: &str, args: &str, attachments: Vec<Vec<u8>>| CEv::Message {
            ns: 0,
            name: name.into(),
            args: args.into(),
            attachments,
            ack: None,
        };
        assert!(
            ev.contains(&message("echo", json, vec![])),
            "{t:?} {chunk:?}: {ev:?}"
        );
        assert!(
            ev.contains(&message("bin", bin, vec![big.clone(), small.to_vec()])),
            "{t:?} {chunk:?}: {ev:?}"
        );
        assert!(
            ev.contains(&CEv::Ack(
                0,
                id.0,
                r#"42,{"_placeholder":true,"num":0}"#.into(),
                vec![small.to_vec()]
            )),
            "{t:?} {chunk:?}: {ev:?}"
        );
        // The server's question came with an ack id, and the client's answer reached it.
        assert!(
            ev.iter().any(
                |e| matches!(e, CEv::Message { name, ack: Some(_), .. } if name == "question")
            ),
            "{ev:?}"
        );
        assert_eq!(
            *answered.borrow(),
            [(
                r#"{"_placeholder":true,"num":0},"y""#.to_string(),
                vec![small.to_vec()]
            )],
            "{t:?} {chunk:?}"
        );
    }
}

#[test]
fn auth_and_refusals() {
    for t in ALL {
        let mut p = mp_pair(t);
        let private = p.client.connect("/private", None).unwrap();
        let admin = p
            .client
            .connect("/admin", Some(br#"{"n":1,"list":[1.5,"a",null]}"#))
            .unwrap();
        p.client.start(p.instant());
        p.drive();
        let ev = p.take_events();
        assert!(
            ev.contains(&CEv::ConnectError(
                private.index(),
                "not allowed".into(),
                Some(r#"{"why":1}"#.into())
            )),
            "{t:?}: {ev:?}"
        );
        assert!(
            ev.iter()
                .any(|e| matches!(e, CEv::Connect(i, _) if *i == admin.index())),
            "{t:?}: {ev:?}"
        );
        let auth = format!("{:?}", br#"{"n":1,"list":[1.5,"a",null]}"#.as_slice());
        assert!(
            p.sev.iter().any(|e| e.contains(&auth)),
            "{t:?}: {:?}",
            p.sev
        );
        // Asked again with the right key, it is joined.
        p.client
            .connect("/private", Some(br#"{"key":"ok"}"#))
            .unwrap();
        p.drive();
        let ev = p.take_events();
        assert!(
            ev.iter()
                .any(|e| matches!(e, CEv::Connect(i, _) if *i == private.index())),
            "{t:?}: {ev:?}"
        );
        // The server kicks it: DISCONNECT comes as a map too.
        p.client.emit(private, "kick", Args::NONE).unwrap();
        p.drive();
        let ev = p.take_events();
        assert!(
            ev.contains(&CEv::Disconnect(
                private.index(),
                siocore::client::DisconnectReason::ServerDisconnect
            )),
            "{t:?}: {ev:?}"
        );
    }
}

#[test]
fn what_does_not_fit_is_refused_with_the_bytes_needed() {
    let mut c = client_config(Transports::WebSocket);
    c.parser = Parser::MsgPack;
    c.outbox_capacity = 64;
    c.namespace_capacity = 64;
    let mut p = Pair::with_server(c, mp_server());
    let ns = p.client.connect("/", None).unwrap();
    // 7 bytes of record head, then {type: 2, data: ["e", "a…"], nsp: "/"}: 21 bytes and
    // the string (2 + 100).
    let long = format!("\"{}\"", "a".repeat(100));
    assert_eq!(
        p.client.emit(ns, "e", Args::json(long.as_bytes())),
        Err(CommandError::OutboxFull {
            required: 7 + 21 + 102
        })
    );
    // Its JSON fits the namespace area (54 bytes stored), its MessagePack (86) does not:
    // every 1.5 is a float 64.
    let auth = br#"{"a":1.5,"b":2.5,"c":3.5,"d":4.5,"e":5.5,"f":6.5}"#;
    assert_eq!(
        p.client.connect("/x", Some(auth)),
        Err(CommandError::NamespaceSpace)
    );
    p.client.connect("/x", Some(br#"{"a":1.5}"#)).unwrap();
}

#[test]
fn a_received_packet_larger_than_the_binary_buffer_closes_the_session() {
    for t in ALL {
        let mut c = client_config(t);
        c.parser = Parser::MsgPack;
        c.binary_capacity = 1024;
        c.reconnection = siocore::client::Reconnection::OFF;
        let mut p = Pair::with_server(c, mp_server());
        let ns = p.client.connect("/", None).unwrap();
        p.client.start(p.instant());
        p.drive();
        p.take_events();
        // 300 `false`: 303 bytes of MessagePack, 1800 of JSON.
        let args = vec!["false"; 300].join(",");
        p.client
            .emit(ns, "echo", Args::json(args.as_bytes()))
            .unwrap();
        p.drive();
        let ev = p.take_events();
        assert!(
            ev.contains(&CEv::Closed(siocore::client::CloseReason::TooLarge)),
            "{t:?}: {ev:?}"
        );
    }
}

#[cfg(feature = "recovery")]
#[test]
fn recovers_its_session() {
    for t in [Transports::WebSocket, Transports::PollingThenWebSocket] {
        let mut c = client_config(t);
        c.parser = Parser::MsgPack;
        c.reconnection.delay_ms = 100;
        let mut p = Pair::with_server(
            c,
            ServerConfig {
                recovery: 60_000,
                ..mp_server()
            },
        );
        let root = Rc::new(RefCell::new(None));
        let keep = root.clone();
        let mut echo = crate::pair::echo_app();
        p.server_app = Box::new(move |srv, e| {
            if let server::Event::Connect(c) = e {
                *keep.borrow_mut() = c.namespace;
            }
            echo(srv, e);
        });
        let recovered = Rc::new(RefCell::new(Vec::new()));
        let seen = recovered.clone();
        p.client_app = Box::new(move |_, e, _| {
            if let Event::Connect { recovered, .. } = e {
                seen.borrow_mut().push(*recovered);
            }
        });
        let ns = p.client.connect("/", None).unwrap();
        p.client.start(p.instant());
        p.drive();
        // An event from the server gives the client its first offset.
        p.client.emit(ns, "echo", Args::json(b"1")).unwrap();
        p.drive();
        let ev = p.take_events();
        assert!(
            ev.iter().any(
                |e| matches!(e, CEv::Message { name, args, .. } if name == "echo" && args == "1")
            ),
            "{t:?}: {ev:?}"
        );
        let session = p.client.session_id().unwrap().to_string();
        let sid = match ev.iter().find(|e| matches!(e, CEv::Connect(0, _))) {
            Some(CEv::Connect(_, sid)) => sid.clone(),
            _ => panic!("{t:?}: {ev:?}"),
        };
        p.reset_link(Stream::WebSocket);
        // While it is away: a broadcast with a binary argument.
        let nsid = root.borrow().unwrap();
        let blob: &[u8] = &[4, 5, 6];
        p.server
            .as_mut()
            .unwrap()
            .broadcast(
                nsid,
                &server::Targets::ALL,
                "missed",
                Args::binary(br#"2,{"_placeholder":true,"num":0}"#, &[blob]),
            )
            .unwrap();
        p.advance(3000);
        assert!(p.client.is_open(), "{t:?}");
        assert_ne!(p.client.session_id(), Some(session.as_str()));
        // The same socket, and the event it missed (this server replays after its
        // answer; Node's before it, which tests/interop/mirror_suite.mjs checks).
        let ev = p.take_events();
        assert!(ev.contains(&CEv::Connect(0, sid.clone())), "{t:?}: {ev:?}");
        assert!(
            ev.contains(&CEv::Message {
                ns: 0,
                name: "missed".into(),
                args: r#"2,{"_placeholder":true,"num":0}"#.into(),
                attachments: vec![blob.to_vec()],
                ack: None,
            }),
            "{t:?}: {ev:?}"
        );
        assert_eq!(*recovered.borrow(), [false, true], "{t:?}");
    }
}

/// What writes a value into a `MessagePack` writer.
type Write<'f> = &'f dyn Fn(&mut Writer<'_>) -> Result<(), siocore::BufferTooSmall>;

/// `MessagePack` written by `f`.
fn mp(f: impl FnOnce(&mut Writer<'_>) -> Result<(), siocore::BufferTooSmall>) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let mut w = Writer::new(&mut buf);
    f(&mut w).unwrap();
    w.written().to_vec()
}

/// A packet map: `type`, `nsp`, then what `data` writes as its `data` (none when `None`).
fn packet(kind: u64, nsp: &str, data: Option<Write<'_>>) -> Vec<u8> {
    mp(|w| {
        w.map(2 + usize::from(data.is_some()))?;
        w.str("type")?;
        w.uint(kind)?;
        w.str("nsp")?;
        w.str(nsp)?;
        if let Some(d) = data {
            w.str("data")?;
            d(w)?;
        }
        Ok(())
    })
}

fn connect_answer(nsp: &str) -> Vec<u8> {
    packet(
        0,
        nsp,
        Some(&|w| {
            w.map(1)?;
            w.str("sid")?;
            w.str("abc")
        }),
    )
}

/// The events a hostile test's client has, by kind.
fn messages(c: &mut hostile::Cl) -> (Vec<String>, Vec<siocore::client::CloseReason>) {
    let mut buf = vec![0u8; c.event_buf_len()];
    let (mut names, mut closes) = (Vec::new(), Vec::new());
    while let Some(e) = c.poll_event(&mut buf).unwrap() {
        match e {
            Event::Message(m) => names.push(format!(
                "{}:{}:{}",
                m.name,
                String::from_utf8_lossy(m.args),
                m.attachments.len()
            )),
            Event::Closed { reason } => closes.push(reason),
            _ => {}
        }
    }
    (names, closes)
}

#[test]
fn hostile_packets_close_the_session() {
    use siocore::client::CloseReason::{ParseError, TooLarge};
    let event = |args: Write<'_>| packet(2, "/", Some(args));
    let deep = event(&|w| {
        w.array(2)?;
        w.str("x")?;
        for _ in 0..70 {
            w.array(1)?;
        }
        w.nil()
    });
    let mut trailing = connect_answer("/");
    trailing.push(0xc0);
    let cases: Vec<(Vec<Vec<u8>>, siocore::client::CloseReason)> = vec![
        // Before the answer: one without a socket id, one with trailing bytes.
        (vec![packet(0, "/", Some(&|w| w.map(0)))], ParseError),
        (vec![trailing], ParseError),
        (vec![connect_answer("/"), b"\xc1".to_vec()], ParseError),
        (vec![connect_answer("/"), packet(9, "/", None)], ParseError),
        // A refusal must be {message, data?} as with the default parser.
        (vec![packet(4, "/", Some(&|w| w.str("no")))], ParseError),
        // Eleven binary values: more than the default parser's ten attachments.
        (
            vec![
                connect_answer("/"),
                event(&|w| {
                    w.array(12)?;
                    w.str("x")?;
                    for _ in 0..11 {
                        w.bin(&[1])?;
                    }
                    Ok(())
                }),
            ],
            ParseError,
        ),
        // 103 bytes of MessagePack, 600 of JSON: past the 256 of the binary buffer.
        (
            vec![
                connect_answer("/"),
                event(&|w| {
                    w.array(101)?;
                    w.str("x")?;
                    for _ in 0..100 {
                        w.bool(false)?;
                    }
                    Ok(())
                }),
            ],
            TooLarge,
        ),
        (vec![connect_answer("/"), deep], ParseError),
    ];
    for (frames, reason) in cases {
        let mut c = hostile::client_with(mp_config(Transports::WebSocket));
        hostile::ws_open(&mut c);
        for f in &frames {
            c.recv(
                Stream::WebSocket,
                &hostile::server_frame(OpCode::Binary, f),
                Instant::ZERO,
            );
        }
        assert_eq!(messages(&mut c).1, vec![reason], "{frames:x?}");
        assert!(!c.is_open());
    }
    // A text packet.
    let mut c = hostile::client_with(mp_config(Transports::WebSocket));
    hostile::ws_open(&mut c);
    c.recv(
        Stream::WebSocket,
        &hostile::server_frame(OpCode::Text, br#"40{"sid":"abc"}"#),
        Instant::ZERO,
    );
    assert_eq!(messages(&mut c).1, vec![ParseError]);
}

fn mp_config(t: Transports) -> siocore::client::ClientConfig<'static> {
    let mut c = hostile::config(t);
    c.parser = Parser::MsgPack;
    c
}

#[test]
fn packets_arrive_in_polling_bodies_as_base64_records() {
    use siocore::client::CloseReason::ParseError;
    let b64 = |bytes: &[u8]| {
        let mut out = vec![0u8; bytes.len() * 2 + 4];
        let n = siocore::base64::encode(bytes, &mut out).unwrap();
        format!("b{}", String::from_utf8(out[..n].to_vec()).unwrap())
    };
    let response = |body: &str| {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let open = r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
    let event = packet(
        2,
        "/",
        Some(&|w| {
            w.array(3)?;
            w.str("m")?;
            w.bin(&[9, 8])?;
            w.f64(0.5)
        }),
    );
    let other = packet(
        2,
        "/nope",
        Some(&|w| {
            w.array(1)?;
            w.str("m")
        }),
    );
    for bad in [None, Some("b!!!!"), Some("b")] {
        let mut c = hostile::client_with(mp_config(Transports::Polling));
        hostile::pump(&mut c);
        c.recv(Stream::Poll, response(open).as_bytes(), Instant::ZERO);
        assert_eq!(messages(&mut c), (vec![], vec![]));
        let sent = hostile::pump(&mut c);
        // The CONNECT went up as a base64 record.
        let post = String::from_utf8_lossy(&sent[Stream::Post.index()]).into_owned();
        assert!(
            post.ends_with("\r\n\r\nbg6R0eXBlAKRkYXRh1AAAo25zcKEv"),
            "{post}"
        );
        // An event for a namespace it did not ask for is skipped, as a text one is.
        let mut body = [b64(&connect_answer("/")), b64(&other), b64(&event)].join("\x1e");
        if let Some(bad) = bad {
            body = format!("{body}\x1e{bad}");
        }
        c.recv(Stream::Poll, response(&body).as_bytes(), Instant::ZERO);
        let (names, closes) = messages(&mut c);
        assert_eq!(
            names,
            [r#"m:{"_placeholder":true,"num":0},0.5:1"#],
            "{bad:?}"
        );
        match bad {
            None => assert!(closes.is_empty() && c.is_open()),
            Some(_) => assert_eq!(closes, [ParseError], "{bad:?}"),
        }
    }
}
