//! The msgpack parser (`ServerConfig::parser` = `Parser::MsgPack`, feature
//! `msgpack-parser`): each packet one `MessagePack` map in one binary message, as
//! socket.io-msgpack-parser 3.0.2 (notepack.io 2.2) writes them; exact bytes both ways,
//! over WebSocket and polling, the application's events the same as with the default
//! parser, every width of every value read, and hostile input ending only its session.

use crate::harness::*;
use siocore::Instant;
use siocore::msgpack::{Sink, Writer};
use siocore::server::*;
use siocore::ws::OpCode;

fn config() -> ServerConfig<'static> {
    ServerConfig {
        endpoints: &[Endpoint::SOCKET_IO],
        namespaces: &["/", "/custom"],
        parser: Parser::MsgPack,
        ..ServerConfig::DEFAULT
    }
}

/// `MessagePack` written by `f`.
fn mp(f: impl FnOnce(&mut Writer<'_>)) -> Vec<u8> {
    let mut buf = vec![0u8; 1 << 20];
    let mut w = Writer::new(&mut buf);
    f(&mut w);
    w.written().to_vec()
}

/// A fixstr key.
fn key(w: &mut Writer<'_>, k: &str) {
    w.str(k).unwrap();
}

/// The CONNECT socket.io-client sends without auth: notepack 2 writes its `undefined`
/// data as fixext 1 of type 0.
const CONNECT_ROOT: &[u8] = b"\x83\xa4type\x00\xa4data\xd4\x00\x00\xa3nsp\xa1/";

/// The binary frames of a stream, as bytes (text frames fail the test).
fn binaries(h: &mut Harness, s: StreamId) -> Vec<Vec<u8>> {
    h.ws_frames(s)
        .into_iter()
        .map(|f| {
            assert_eq!(f.opcode, OpCode::Binary, "{f:?}");
            f.payload
        })
        .collect()
}

/// The CONNECT answer `{type: 0, data: {sid}, nsp}` for socket `sid` of `nsp`.
fn connect_reply(sid: &str, nsp: &str) -> Vec<u8> {
    mp(|w| {
        w.map(3).unwrap();
        key(w, "type");
        w.uint(0).unwrap();
        key(w, "data");
        w.map(1).unwrap();
        key(w, "sid");
        w.str(sid).unwrap();
        key(w, "nsp");
        w.str(nsp).unwrap();
    })
}

/// A WebSocket session joined to `/`: (stream, socket).
fn ws_client(h: &mut Harness) -> (StreamId, SocketId) {
    let (s, _) = h.ws_handshake("/socket.io/");
    h.ws_send_binary(s, CONNECT_ROOT);
    let socket = h.last_socket();
    let sid = h.server.socket_sid(socket).unwrap().to_string();
    assert_eq!(binaries(h, s), [connect_reply(&sid, "/")]);
    (s, socket)
}

#[test]
fn websocket_connect_events_and_acks_have_the_parsers_bytes() {
    let mut h = Harness::new(config());
    let (s, socket) = ws_client(&mut h);
    let connect = h.events.iter().find_map(|e| match e {
        Ev::Connect { name, auth, .. } => Some((name.clone(), auth.clone())),
        _ => None,
    });
    assert_eq!(connect, Some(("/".to_string(), "{}".to_string())));

    // An event as socket.io-client writes it: its `options` map, an ack id, a `bin` and a
    // float in place.
    let event = mp(|w| {
        w.map(5).unwrap();
        key(w, "type");
        w.uint(2).unwrap();
        key(w, "data");
        w.array(4).unwrap();
        w.str("hi").unwrap();
        w.uint(1).unwrap();
        w.bin(&[1, 2]).unwrap();
        w.map(1).unwrap();
        key(w, "k");
        w.f64(1.5).unwrap();
        key(w, "options");
        w.map(1).unwrap();
        key(w, "compress");
        w.bool(true).unwrap();
        key(w, "id");
        w.uint(3).unwrap();
        key(w, "nsp");
        w.str("/").unwrap();
    });
    h.ws_send_binary(s, &event);
    let got = h.events.last().unwrap().clone();
    assert_eq!(
        got,
        Ev::Message {
            socket,
            name: "hi".into(),
            args: r#"1,{"_placeholder":true,"num":0},{"k":1.5}"#.into(),
            attachments: vec![vec![1, 2]],
            ack: Some(AckId(3)),
        }
    );

    // The answer, with a blob: `{id, type: 3, data, nsp}`, as Node orders it.
    h.server
        .ack(
            socket,
            AckId(3),
            Args::binary(br#""ok",{"_placeholder":true,"num":0}"#, &[&[9]]),
        )
        .unwrap();
    h.drain();
    assert_eq!(
        binaries(&mut h, s),
        [b"\x84\xa2id\x03\xa4type\x03\xa4data\x92\xa2ok\xc4\x01\x09\xa3nsp\xa1/".to_vec()]
    );

    // Emits: `{type: 2, data, id?, nsp}`.
    h.server.emit(socket, "e", Args::json(b"1,-1")).unwrap();
    let id = h
        .server
        .emit_with_ack(socket, "q", Args::NONE, None)
        .unwrap();
    h.drain();
    assert_eq!(
        binaries(&mut h, s),
        [
            b"\x83\xa4type\x02\xa4data\x93\xa1e\x01\xff\xa3nsp\xa1/".to_vec(),
            b"\x84\xa4type\x02\xa4data\x91\xa1q\xa2id\x00\xa3nsp\xa1/".to_vec(),
        ]
    );
    // The client's answer comes as an Ack event.
    let ack = mp(|w| {
        w.map(4).unwrap();
        key(w, "type");
        w.uint(3).unwrap();
        key(w, "id");
        w.uint(id.0).unwrap();
        key(w, "data");
        w.array(1).unwrap();
        w.str("r").unwrap();
        key(w, "nsp");
        w.str("/").unwrap();
    });
    h.ws_send_binary(s, &ack);
    assert_eq!(
        h.events.last().unwrap(),
        &Ev::Ack {
            socket,
            id,
            args: r#""r""#.into(),
            attachments: vec![],
        }
    );
}

#[test]
fn polling_carries_each_packet_as_a_base64_record() {
    let mut h = Harness::new(config());
    let sid = h.handshake("/socket.io/");
    let target = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let b64 = |bytes: &[u8]| {
        let mut out = vec![0u8; bytes.len() * 2 + 4];
        let n = siocore::base64::encode(bytes, &mut out).unwrap();
        format!("b{}", std::str::from_utf8(&out[..n]).unwrap())
    };
    // A CONNECT to /custom with auth, and an event after it, in one body.
    let connect = mp(|w| {
        w.map(3).unwrap();
        key(w, "type");
        w.uint(0).unwrap();
        key(w, "data");
        w.map(1).unwrap();
        key(w, "token");
        w.str("a\"b").unwrap();
        key(w, "nsp");
        w.str("/custom").unwrap();
    });
    let event = mp(|w| {
        w.map(3).unwrap();
        key(w, "type");
        w.uint(2).unwrap();
        key(w, "data");
        w.array(2).unwrap();
        w.str("m").unwrap();
        w.bin(&[0; 300]).unwrap();
        key(w, "nsp");
        w.str("/custom").unwrap();
    });
    let body = format!("{}\x1e{}", b64(&connect), b64(&event));
    let s = h.post(&target, body.as_bytes());
    assert_eq!(h.response(s).text(), "ok");
    let socket = h.last_socket();
    let evs: Vec<_> = h
        .events
        .iter()
        .filter(|e| matches!(e, Ev::Connect { .. } | Ev::Message { .. }))
        .cloned()
        .collect();
    assert!(
        matches!(&evs[0], Ev::Connect { name, auth, .. } if name == "/custom" && auth == r#"{"token":"a\"b"}"#),
        "{evs:?}"
    );
    assert_eq!(
        evs[1],
        Ev::Message {
            socket,
            name: "m".into(),
            args: r#"{"_placeholder":true,"num":0}"#.into(),
            attachments: vec![vec![0; 300]],
            ack: None,
        }
    );
    // The answer comes as a `b` record, as any binary message over polling.
    let sock_sid = h.server.socket_sid(socket).unwrap().to_string();
    let g = h.get(&target);
    assert_eq!(
        records(&h.response(g).body),
        [b64(&connect_reply(&sock_sid, "/custom"))]
    );
}

#[test]
fn refusals_and_disconnects_are_maps_too() {
    let mut h = Harness::new(config());
    let (s, socket) = ws_client(&mut h);
    // A namespace that does not exist.
    h.ws_send_binary(s, b"\x82\xa4type\x00\xa3nsp\xa5/nope");
    assert_eq!(
        binaries(&mut h, s),
        [
            b"\x83\xa4type\x04\xa4data\x81\xa7message\xb1Invalid namespace\xa3nsp\xa5/nope"
                .to_vec()
        ]
    );
    // The application refuses one, with data.
    h.app = Box::new(|server, e| {
        if let Event::Connect(c) = e {
            server
                .refuse(c.socket, "no", Some(br#"{"x":[1]}"#))
                .unwrap();
        }
    });
    h.ws_send_binary(s, b"\x82\xa4type\x00\xa3nsp\xa7/custom");
    assert_eq!(
        binaries(&mut h, s),
        [
            b"\x83\xa4type\x04\xa4data\x82\xa7message\xa2no\xa4data\x81\xa1x\x91\x01\xa3nsp\xa7/custom"
                .to_vec()
        ]
    );
    // The server disconnects the socket of `/`: `{type: 1, nsp}`.
    h.server.disconnect(socket).unwrap();
    h.drain();
    assert_eq!(
        binaries(&mut h, s),
        [b"\x82\xa4type\x01\xa3nsp\xa1/".to_vec()]
    );
    // The client joins again and leaves by itself.
    h.app = accept_all();
    h.ws_send_binary(s, CONNECT_ROOT);
    let again = h.last_socket();
    let _ = binaries(&mut h, s);
    h.ws_send_binary(s, b"\x82\xa4type\x01\xa3nsp\xa1/");
    assert_eq!(
        h.events.last().unwrap(),
        &Ev::Disconnect(again, DisconnectReason::ClientDisconnect)
    );
    assert!(!h.is_closed(s));
}

#[test]
fn every_width_of_every_value_reads() {
    let mut h = Harness::new(config());
    let (s, socket) = ws_client(&mut h);
    let big = "x".repeat(70_000);
    let event = mp(|w| {
        w.map(3).unwrap();
        key(w, "nsp");
        w.str("/").unwrap();
        key(w, "data");
        // array 16 (every form by hand where notepack's writer would pick a smaller one).
        w.raw(b"\xdc\x00\x17").unwrap();
        w.str("widths").unwrap();
        w.raw(b"\xd0\x80").unwrap(); // int 8
        w.raw(b"\xd1\x80\x00").unwrap(); // int 16
        w.raw(b"\xd2\x80\x00\x00\x00").unwrap(); // int 32
        w.raw(b"\xd3\xff\xff\xff\xff\xff\xff\xff\xfe").unwrap(); // int 64
        w.raw(b"\xcc\x05").unwrap(); // uint 8
        w.raw(b"\xcd\x00\x05").unwrap(); // uint 16
        w.raw(b"\xce\x00\x00\x00\x05").unwrap(); // uint 32
        w.raw(b"\xcf\xff\xff\xff\xff\xff\xff\xff\xff").unwrap(); // uint 64
        w.raw(b"\xca\x3f\xc0\x00\x00").unwrap(); // float 32
        w.raw(b"\xcb\x3f\xb9\x99\x99\x99\x99\x99\x9a").unwrap(); // float 64
        w.raw(b"\xd9\x01a").unwrap(); // str 8
        w.raw(b"\xda\x00\x01b").unwrap(); // str 16
        w.raw(b"\xdb\x00\x00\x00\x01c").unwrap(); // str 32
        w.raw(b"\xc5\x00\x01\x07").unwrap(); // bin 16
        w.raw(b"\xc6\x00\x00\x00\x01\x08").unwrap(); // bin 32
        w.raw(b"\xdd\x00\x00\x00\x01\xc0").unwrap(); // array 32
        w.raw(b"\xde\x00\x01\xa1k\xc3").unwrap(); // map 16
        w.raw(b"\xdf\x00\x00\x00\x01\x01\xc2").unwrap(); // map 32, an integer key
        // notepack 2: an ArrayBuffer (ext 8 of type 0), `undefined`, a date.
        w.raw(b"\xc7\x02\x00\x0a\x0b").unwrap();
        w.raw(b"\xd4\x00\x00").unwrap();
        w.raw(b"\xd7\x00\x00\x00\x01\x00\x00\x00\x00\x00").unwrap();
        w.str(&big).unwrap();
        key(w, "type");
        w.raw(b"\xd0\x02").unwrap(); // the type as int 8
    });
    h.ws_send_binary(s, &event);
    let Some(Ev::Message {
        name,
        args,
        attachments,
        ..
    }) = h.events.last().cloned()
    else {
        panic!("{:?}", h.events.last());
    };
    assert_eq!(name, "widths");
    let want = format!(
        "-128,-32768,-2147483648,-2,5,5,5,18446744073709552000,1.5,0.1,\"a\",\"b\",\"c\",\
         {{\"_placeholder\":true,\"num\":0}},{{\"_placeholder\":true,\"num\":1}},[null],\
         {{\"k\":true}},{{\"1\":false}},{{\"_placeholder\":true,\"num\":2}},null,null,\"{big}\""
    );
    assert_eq!(args, want);
    assert_eq!(attachments, [vec![7], vec![8], vec![10, 11]]);
    // Still connected.
    h.server.emit(socket, "ok", Args::NONE).unwrap();
    h.drain();
    assert_eq!(binaries(&mut h, s).len(), 1);
}

#[test]
fn a_broadcast_is_one_map_for_every_recipient() {
    let mut h = Harness::new(config());
    let (a, _) = ws_client(&mut h);
    let (b, _) = ws_client(&mut h);
    let ns = h.server.namespace("/").unwrap();
    let n = h
        .server
        .broadcast(
            ns,
            &Targets::ALL,
            "news",
            Args::binary(br#"{"_placeholder":true,"num":0},"x""#, &[&[1, 2, 3]]),
        )
        .unwrap();
    assert_eq!(n, 2);
    h.drain();
    let want = b"\x83\xa4type\x02\xa4data\x93\xa4news\xc4\x03\x01\x02\x03\xa1x\xa3nsp\xa1/";
    assert_eq!(binaries(&mut h, a), [want.to_vec()]);
    assert_eq!(binaries(&mut h, b), [want.to_vec()]);
}

#[test]
fn hostile_input_ends_only_its_session() {
    let bad: &[(&str, &[u8])] = &[
        ("not MessagePack", b"\xc1"),
        ("not a map", b"\x91\x00"),
        ("trailing bytes", b"\x82\xa4type\x00\xa3nsp\xa1/\x00"),
        ("a binary type", b"\x82\xa4type\x05\xa3nsp\xa1/"),
        ("no namespace", b"\x81\xa4type\x00"),
        ("a number as namespace", b"\x82\xa4type\x00\xa3nsp\x01"),
        (
            "an array as auth",
            b"\x83\xa4type\x00\xa4data\x90\xa3nsp\xa1/",
        ),
        (
            "an event first",
            b"\x83\xa4type\x02\xa4data\x91\xa1e\xa3nsp\xa1/",
        ),
        ("a truncated string", b"\x82\xa4type\x00\xa3nsp\xa5/"),
        (
            "binary in the auth",
            b"\x83\xa4type\x00\xa4data\x81\xa1k\xc4\x00\xa3nsp\xa1/",
        ),
    ];
    for (what, packet) in bad {
        let mut h = Harness::new(config());
        let (good, _) = ws_client(&mut h);
        let (s, _) = h.ws_handshake("/socket.io/");
        h.ws_send_binary(s, packet);
        assert!(h.is_closed(s), "{what}: still open");
        assert!(!h.is_closed(good), "{what}: the other client closed");
        h.ws_send_binary(good, b"\x83\xa4type\x02\xa4data\x91\xa1e\xa3nsp\xa1/");
        assert!(
            matches!(h.events.last(), Some(Ev::Message { name, .. }) if name == "e"),
            "{what}: {:?}",
            h.events.last()
        );
    }
    // Once connected: a text packet (the default parser's), an event with a number as
    // its name, an ack id that is not an integer, more binary values than max_attachments.
    let many = mp(|w| {
        w.map(3).unwrap();
        key(w, "type");
        w.uint(2).unwrap();
        key(w, "data");
        w.array(12).unwrap();
        w.str("e").unwrap();
        for _ in 0..11 {
            w.bin(&[1]).unwrap();
        }
        key(w, "nsp");
        w.str("/").unwrap();
    });
    let after: &[(&str, &[u8])] = &[
        ("a number as event name", b"\x83\xa4type\x02\xa4data\x91\x01\xa3nsp\xa1/"),
        ("a float ack id", b"\x84\xa4type\x02\xa4data\x91\xa1e\xa2id\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00\xa3nsp\xa1/"),
        ("an unjoined namespace", b"\x83\xa4type\x02\xa4data\x91\xa1e\xa3nsp\xa7/custom"),
        ("too many binary values", &many),
    ];
    for (what, packet) in after {
        let mut h = Harness::new(config());
        let (s, socket) = ws_client(&mut h);
        h.ws_send_binary(s, packet);
        assert!(h.is_closed(s), "{what}: still open");
        assert_eq!(
            h.events.last().unwrap(),
            &Ev::Disconnect(socket, DisconnectReason::Session(CloseReason::ParseError)),
            "{what}"
        );
    }
    let mut h = Harness::new(config());
    let (s, _) = ws_client(&mut h);
    h.ws_send_text(s, "42[\"e\"]");
    assert!(h.is_closed(s), "a text packet");
}

#[test]
fn the_parser_needs_its_feature_and_no_eio3() {
    let new = |allow_eio3| {
        let config = ServerConfig {
            allow_eio3,
            ..config()
        };
        let cap = Capacity::for_sessions(4, 1 << 20);
        Server::new(config, Storage::growable(cap), SEED, Instant::ZERO).map(|_| ())
    };
    assert_eq!(new(false), Ok(()));
    assert_eq!(new(true), Err(ConfigError::MsgPackWithEio3));
    // The application's event buffer holds what one message of `max_payload` makes.
    let c = config();
    assert!(c.max_event() >= c.msgpack_room(c.max_payload as usize));
}

/// Connection state recovery with the msgpack parser: the pid in the CONNECT answer, the
/// offset as the last element of an event's `data`, and a client coming back with both in
/// its auth map.
#[cfg(feature = "recovery")]
#[test]
fn recovery_offsets_ride_in_the_data() {
    let mut h = Harness::new(ServerConfig {
        recovery: 60_000,
        ..config()
    });
    let (s, _) = h.ws_handshake("/socket.io/");
    h.ws_send_binary(s, CONNECT_ROOT);
    let socket = h.last_socket();
    let reply = binaries(&mut h, s).remove(0);
    let mut r = siocore::msgpack::Reader::new(&reply);
    use siocore::msgpack::Value;
    let mut pid = String::new();
    while !r.is_empty() {
        if r.read() == Ok(Value::Str("pid")) {
            let Ok(Value::Str(p)) = r.read() else {
                panic!("{reply:x?}")
            };
            pid = p.to_string();
        }
    }
    assert_eq!(pid.len(), 20, "{reply:x?}");
    h.server.emit(socket, "e", Args::json(b"1")).unwrap();
    h.drain();
    let event = binaries(&mut h, s).remove(0);
    assert_eq!(
        event,
        b"\x83\xa4type\x02\xa4data\x93\xa1e\x01\xa10\xa3nsp\xa1/".to_vec()
    );
    // The transport drops; a packet is missed; the client comes back with pid and offset.
    h.reset(s);
    h.server
        .emit(socket, "missed", Args::json(b"2"))
        .unwrap_err();
    let ns = h.server.namespace("/").unwrap();
    h.server
        .broadcast(ns, &Targets::ALL, "missed", Args::json(b"2"))
        .unwrap();
    let (s2, _) = h.ws_handshake("/socket.io/");
    let connect = mp(|w| {
        w.map(3).unwrap();
        key(w, "type");
        w.uint(0).unwrap();
        key(w, "data");
        w.map(2).unwrap();
        key(w, "pid");
        w.str(&pid).unwrap();
        key(w, "offset");
        w.str("0").unwrap();
        key(w, "nsp");
        w.str("/").unwrap();
    });
    h.ws_send_binary(s2, &connect);
    assert!(
        h.events.iter().any(
            |e| matches!(e, Ev::Connect { socket: back, recovered: true, .. } if *back == socket)
        ),
        "{:?}",
        h.events
    );
    let frames = binaries(&mut h, s2);
    assert_eq!(frames.len(), 2, "{frames:x?}");
    assert_eq!(
        frames[1],
        b"\x83\xa4type\x02\xa4data\x93\xa6missed\x02\xa11\xa3nsp\xa1/".to_vec()
    );
}
