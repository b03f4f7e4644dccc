//! Every limit: a clear error, or the offender closed with a reason; nobody else hurt.

use siocore::Instant;
use siocore::server::*;

use crate::harness::*;

#[test]
fn session_table_full_is_403_and_frees_up() {
    let cap = Capacity {
        sessions: 2,
        ..Capacity::for_sessions(2, 1 << 20)
    };
    let mut h = Harness::with_capacity(ServerConfig::DEFAULT, cap);
    let a = h.get("/socket.io/?EIO=4&transport=polling");
    let b = h.get("/socket.io/?EIO=4&transport=polling");
    let c = h.get("/socket.io/?EIO=4&transport=polling");
    assert_eq!(h.response(a).status, 200);
    assert_eq!(h.response(b).status, 200);
    let r = h.response(c);
    assert_eq!(
        (r.status, r.text()),
        (403, r#"{"code":4,"message":"Forbidden"}"#)
    );
}

#[test]
fn stream_table_full() {
    let cap = Capacity {
        streams: 1,
        ..Capacity::for_sessions(2, 1 << 20)
    };
    let mut h = Harness::with_capacity(ServerConfig::DEFAULT, cap);
    let _s = h.connect();
    assert_eq!(
        h.server.open_stream(Instant::ZERO),
        Err(CommandError::Full(Resource::Streams))
    );
}

#[test]
fn slow_reader_is_disconnected_alone() {
    let mut h = Harness::new(ServerConfig {
        max_queued_bytes: 1000,
        ..ServerConfig::DEFAULT
    });
    // A polling client that never polls, and a WebSocket client that reads.
    let sid = h.handshake("/socket.io/");
    let p = h.post(
        &format!("/socket.io/?EIO=4&transport=polling&sid={sid}"),
        b"40",
    );
    assert_eq!(h.response(p).text(), "ok");
    let slow = h.last_socket();
    let (fast_stream, fast) = h.sio_ws();
    let ns = h.server.namespace("/").unwrap();
    let payload = format!("\"{}\"", "x".repeat(300));
    let mut sent = 0;
    for _ in 0..5 {
        sent += h
            .server
            .broadcast(ns, &Targets::ALL, "big", Args::json(payload.as_bytes()))
            .unwrap();
        h.drain();
    }
    // The slow one's queue took its CONNECT reply (about 30 bytes) and three of the
    // 313-byte packets, then it was cut off; the fast one got all five.
    assert_eq!(sent, 3 + 5);
    assert_eq!(h.ws_texts(fast_stream).len(), 5);
    assert!(h.events.contains(&Ev::Disconnect(
        slow,
        DisconnectReason::Session(CloseReason::SlowReader)
    )));
    assert_eq!(
        h.server.emit(slow, "x", Args::NONE),
        Err(CommandError::UnknownSocket)
    );
    assert!(h.server.emit(fast, "x", Args::NONE).is_ok());
    // A unicast past the cap says so.
    let (_, other) = h.sio_ws();
    let big = format!("\"{}\"", "y".repeat(2000));
    assert_eq!(
        h.server.emit(other, "big", Args::json(big.as_bytes())),
        Err(CommandError::SlowReader)
    );
}

#[test]
fn namespaces_per_session_attachments_and_acks() {
    let mut h = Harness::new(ServerConfig {
        namespaces: &["/", "/a"],
        max_namespaces_per_session: 1,
        max_attachments: 2,
        max_acks_per_socket: 2,
        ..ServerConfig::DEFAULT
    });
    let (s, socket) = h.sio_ws();
    h.ws_send_text(s, "40/a,");
    assert_eq!(
        h.ws_texts(s),
        vec![r#"44/a,{"message":"Too many namespaces"}"#]
    );
    h.server
        .emit_with_ack(socket, "q", Args::NONE, None)
        .unwrap();
    h.server
        .emit_with_ack(socket, "q", Args::NONE, None)
        .unwrap();
    assert_eq!(
        h.server.emit_with_ack(socket, "q", Args::NONE, None),
        Err(CommandError::SocketLimit(Resource::Acks))
    );
    h.ws_send_text(s, r#"453-["m",{"_placeholder":true,"num":0}]"#);
    assert!(h.is_closed(s), "3 attachments with a limit of 2");
}

#[test]
fn rooms_and_members_tables() {
    let cap = Capacity {
        rooms: 1,
        members: 2,
        ..Capacity::for_sessions(4, 1 << 20)
    };
    let mut h = Harness::with_capacity(ServerConfig::DEFAULT, cap);
    let (_, a) = h.sio_ws();
    let (_, b) = h.sio_ws();
    let (_, c) = h.sio_ws();
    h.server.join(a, "r").unwrap();
    assert_eq!(
        h.server.join(a, "s"),
        Err(CommandError::Full(Resource::Rooms))
    );
    h.server.join(b, "r").unwrap();
    assert_eq!(
        h.server.join(c, "r"),
        Err(CommandError::Full(Resource::Members))
    );
    assert_eq!(
        h.server.join(a, &"n".repeat(65)),
        Err(CommandError::InvalidName)
    );
}

#[test]
fn full_event_queue_holds_input_back_without_losing_any() {
    let cap = Capacity {
        events: 2,
        ..Capacity::for_sessions(4, 1 << 20)
    };
    let mut h = Harness::with_capacity(
        ServerConfig {
            endpoints: &[Endpoint::ENGINE_IO],
            ..ServerConfig::DEFAULT
        },
        cap,
    );
    let (s, _) = h.ws_handshake("/engine.io/");
    let _ = h.take_events();
    // Feed five messages by hand, without draining.
    let mut wire = Vec::new();
    for k in 0..5 {
        wire.extend_from_slice(&frame(
            siocore::ws::OpCode::Text,
            format!("4m{k}").as_bytes(),
        ));
    }
    let now = Instant::ZERO;
    let n = h.server.feed(s, now, &mut wire).unwrap();
    assert!(n < wire.len(), "held back");
    wire.drain(..n);
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        while let Ok(Some(e)) = h.server.poll_event(&mut buf) {
            if let Event::EngineMessage {
                data: Data::Text(t),
                ..
            } = e
            {
                got.push(t.to_string());
            }
        }
        if wire.is_empty() {
            break;
        }
        let n = h.server.feed(s, now, &mut wire[..]).unwrap();
        wire.drain(..n);
        if n == 0 && h.server.poll_event(&mut buf).unwrap().is_none() {
            panic!("stuck");
        }
    }
    assert_eq!(got, ["m0", "m1", "m2", "m3", "m4"]);
}

#[test]
fn event_buffer_too_small_keeps_the_event() {
    let mut h = Harness::new(ServerConfig {
        endpoints: &[Endpoint::ENGINE_IO],
        ..ServerConfig::DEFAULT
    });
    let (s, _) = h.ws_handshake("/engine.io/");
    let _ = h.take_events();
    let mut wire = frame(siocore::ws::OpCode::Text, b"4hello world");
    h.server.feed(s, Instant::ZERO, &mut wire).unwrap();
    let mut small = [0u8; 4];
    assert_eq!(
        h.server.poll_event(&mut small).unwrap_err(),
        siocore::BufferTooSmall { required: 11 }
    );
    let mut buf = [0u8; 11];
    assert!(matches!(
        h.server.poll_event(&mut buf),
        Ok(Some(Event::EngineMessage {
            data: Data::Text("hello world"),
            ..
        }))
    ));
}

#[test]
fn tiny_output_buffers_stream_everything() {
    // One byte at a time out of poll_transmit: the same bytes in the end.
    let run = |out_buf: usize| {
        let mut h = Harness::new(ServerConfig::DEFAULT);
        h.out_buf = out_buf;
        let sid = h.handshake("/socket.io/");
        let poll = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
        let p = h.post(&poll, b"40");
        let _ = h.response(p);
        let socket = h.last_socket();
        h.server
            .emit(
                socket,
                "bin",
                Args::binary(
                    br#"{"_placeholder":true,"num":0}"#,
                    &[&[1, 2, 3, 4, 5, 6, 7]],
                ),
            )
            .unwrap();
        let g = h.get(&poll);
        let body = h.response(g).body;
        let (ws, _) = h.sio_ws();
        let sock = h.last_socket();
        h.server
            .emit(sock, "x", Args::json(&vec![b'7'; 300]))
            .unwrap();
        h.drain();
        (body, h.ws_frames(ws))
    };
    assert_eq!(run(1), run(64 * 1024));
    assert_eq!(run(3), run(64 * 1024));
}

/// The memory an idle WebSocket client with one namespace costs: one session, one stream,
/// one socket; nothing in the pool (documented on `siocore::server` and in
/// BENCHMARKS.md).
#[test]
fn idle_websocket_client_fits_in_512_bytes() {
    let e = Capacity::ENTRY_BYTES;
    let idle = e.sessions + e.streams + e.sockets;
    assert!(idle <= 512, "{idle} bytes");
    let mut h = Harness::new(ServerConfig::DEFAULT);
    let _ = h.sio_ws();
    let u = h.server.usage();
    assert_eq!(
        (u.sessions, u.streams, u.sockets, u.blocks, u.nodes),
        (1, 1, 1, 0, 0)
    );
}

/// Without the feature `recovery`, a server asked for it is refused (none of its code is
/// compiled in); with it, the log cap may not be 0.
#[test]
fn recovery_needs_its_feature_and_a_log() {
    let new = |recovery, recovery_log_bytes| {
        let config = ServerConfig {
            recovery,
            recovery_log_bytes,
            ..ServerConfig::DEFAULT
        };
        let cap = Capacity::for_sessions(4, 1 << 20);
        Server::new(config, Storage::growable(cap), SEED, Instant::ZERO).map(|_| ())
    };
    assert_eq!(new(0, 0), Ok(()));
    if cfg!(feature = "recovery") {
        assert_eq!(new(1000, 1000), Ok(()));
        assert_eq!(new(1000, 0), Err(ConfigError::Limits("recovery_log_bytes")));
    } else {
        assert_eq!(new(1000, 1000), Err(ConfigError::RecoveryNotCompiled));
    }
}

/// Without the feature `msgpack-parser`, a server asked for the msgpack parser is refused
/// (none of its code is compiled in).
#[test]
fn the_msgpack_parser_needs_its_feature() {
    let config = ServerConfig {
        parser: Parser::MsgPack,
        ..ServerConfig::DEFAULT
    };
    let cap = Capacity::for_sessions(4, 1 << 20);
    let made = Server::new(config, Storage::growable(cap), SEED, Instant::ZERO).map(|_| ());
    if cfg!(feature = "msgpack-parser") {
        assert_eq!(made, Ok(()));
    } else {
        assert_eq!(made, Err(ConfigError::MsgPackNotCompiled));
    }
}

/// Without the feature `cors`, a server asked for CORS is refused (none of its code is
/// compiled in).
#[test]
fn cors_needs_its_feature() {
    let config = ServerConfig {
        cors: Some(Cors::DEFAULT),
        ..ServerConfig::DEFAULT
    };
    let cap = Capacity::for_sessions(4, 1 << 20);
    let made = Server::new(config, Storage::growable(cap), SEED, Instant::ZERO).map(|_| ());
    if cfg!(feature = "cors") {
        assert_eq!(made, Ok(()));
    } else {
        assert_eq!(made, Err(ConfigError::CorsNotCompiled));
    }
}

/// A limit of 0 is refused with the setting's name.
#[test]
fn a_zero_limit_is_refused_by_name() {
    let cap = Capacity::for_sessions(4, 1 << 20);
    let new = |config| Server::new(config, Storage::growable(cap), SEED, Instant::ZERO).err();
    let err = new(ServerConfig {
        ping_timeout: 0,
        ..ServerConfig::DEFAULT
    });
    assert_eq!(err, Some(ConfigError::Limits("ping_timeout")));
    assert_eq!(err.unwrap().to_string(), "ping_timeout must not be 0");
    let err = new(ServerConfig {
        request_timeout: 0,
        ..ServerConfig::DEFAULT
    });
    assert_eq!(err, Some(ConfigError::Limits("request_timeout")));
}
