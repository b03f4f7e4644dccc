//! Engine.IO over WebSocket, direct and as an upgrade (PROTOCOL.md A.8, A.10).

use siocore::server::*;
use siocore::ws::OpCode;

use crate::harness::*;

fn engine_config() -> ServerConfig<'static> {
    ServerConfig {
        endpoints: &[Endpoint::ENGINE_IO],
        ..ServerConfig::DEFAULT
    }
}

fn echo_app() -> App {
    Box::new(|server, e| {
        if let Event::EngineMessage { session, data } = *e {
            server.send(session, data).unwrap();
        }
    })
}

#[test]
fn direct_websocket_handshake_and_echo_keeps_binary_binary() {
    let mut h = Harness::new(engine_config());
    h.app = echo_app();
    let s = h.ws("/engine.io/?EIO=4&transport=websocket");
    let frames = h.ws_frames(s);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].opcode, OpCode::Text);
    let sid = open_sid(&frames[0].payload);
    assert_eq!(
        String::from_utf8(frames[0].payload.clone()).unwrap(),
        format!(
            r#"0{{"sid":"{sid}","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}}"#
        )
    );
    h.ws_send_text(s, "4hello");
    h.ws_send_binary(s, &[1, 2, 3]);
    h.ws_send_text(s, "4");
    let frames = h.ws_frames(s);
    assert_eq!(
        frames,
        vec![
            Frame {
                opcode: OpCode::Text,
                payload: b"4hello".to_vec()
            },
            Frame {
                opcode: OpCode::Binary,
                payload: vec![1, 2, 3]
            },
            Frame {
                opcode: OpCode::Text,
                payload: b"4".to_vec()
            },
        ]
    );
}

#[test]
fn invalid_packets_close_the_websocket() {
    for text in ["abc", "2", "0", "5", "3probe", "2probe"] {
        let mut h = Harness::new(engine_config());
        let (s, _) = h.ws_handshake("/engine.io/");
        h.ws_send_text(s, text);
        assert!(h.is_closed(s), "{text}");
        assert_eq!(h.ws_texts(s), vec!["close Some(1002)"], "{text}");
        assert!(matches!(
            h.take_events()[..],
            [
                Ev::EngineOpen(_),
                Ev::EngineClose(_, CloseReason::ParseError)
            ]
        ));
    }
}

#[test]
fn client_close_packet_ends_the_session_at_once() {
    let mut h = Harness::new(engine_config());
    let (s, _) = h.ws_handshake("/engine.io/");
    h.ws_send_text(s, "1");
    assert!(h.is_closed(s));
    assert!(matches!(
        h.take_events()[..],
        [
            Ev::EngineOpen(_),
            Ev::EngineClose(_, CloseReason::ClientClose)
        ]
    ));
}

#[test]
fn message_over_max_payload_closes_with_1009() {
    let mut h = Harness::new(ServerConfig {
        max_payload: 10,
        ..engine_config()
    });
    let (s, _) = h.ws_handshake("/engine.io/");
    h.ws_send_text(s, "4abcdefghij");
    assert!(h.is_closed(s));
    assert_eq!(h.ws_texts(s), vec!["close Some(1009)"]);
}

#[test]
fn close_frame_is_answered_and_ends_the_session() {
    let mut h = Harness::new(engine_config());
    let (s, _) = h.ws_handshake("/engine.io/");
    h.send(s, &frame(OpCode::Close, &[0x03, 0xe9]));
    assert_eq!(h.ws_texts(s), vec!["close Some(1001)"]);
    assert!(h.is_closed(s));
    assert!(matches!(
        h.take_events()[..],
        [
            Ev::EngineOpen(_),
            Ev::EngineClose(_, CloseReason::TransportClose)
        ]
    ));
    assert_eq!(h.server.usage().sessions, 0);
    assert_eq!(h.server.usage().streams, 0);
}

#[test]
fn ws_ping_is_ponged() {
    let mut h = Harness::new(engine_config());
    let (s, _) = h.ws_handshake("/engine.io/");
    h.send(s, &frame(OpCode::Ping, b"hi"));
    assert_eq!(
        h.ws_frames(s),
        vec![Frame {
            opcode: OpCode::Pong,
            payload: b"hi".to_vec()
        }]
    );
}

#[test]
fn upgrade_probe_noop_and_flush() {
    let mut h = Harness::new(engine_config());
    h.app = echo_app();
    let sid = h.handshake("/engine.io/");
    let session = match h.take_events()[..] {
        [Ev::EngineOpen(s)] => s,
        ref e => panic!("{e:?}"),
    };
    let poll = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
    let g = h.get(&poll);
    let ws = h.ws(&format!("/engine.io/?EIO=4&transport=websocket&sid={sid}"));
    h.ws_send_text(ws, "2probe");
    assert_eq!(h.ws_texts(ws), vec!["3probe"]);
    let r = h.response(g);
    assert_eq!((r.status, r.text()), (200, "6"));
    // A GET after the probe is released at once too.
    let g2 = h.get(&poll);
    assert_eq!(h.response(g2).text(), "6");
    // Packets queued during the upgrade wait for the WebSocket.
    h.server.send(session, Data::Text("queued")).unwrap();
    h.drain();
    assert!(h.ws_texts(ws).is_empty());
    h.ws_send_text(ws, "5");
    assert_eq!(h.ws_texts(ws), vec!["4queued"]);
    // Polling after the upgrade is refused.
    let g3 = h.get(&poll);
    let r = h.response(g3);
    assert_eq!(
        (r.status, r.text()),
        (400, r#"{"code":3,"message":"Bad request"}"#)
    );
    let p = h.post(&poll, b"4x");
    assert_eq!(h.response(p).status, 400);
    // The session lives on the WebSocket.
    h.ws_send_text(ws, "4after");
    assert_eq!(h.ws_texts(ws), vec!["4after"]);
}

#[test]
fn second_websocket_for_a_sid_is_closed_without_harm() {
    // PROTOCOL.md A.8: accepted (101), then closed at once; the session is not disturbed.
    let mut h = Harness::new(engine_config());
    h.app = echo_app();
    let sid = h.handshake("/engine.io/");
    let target = format!("/engine.io/?EIO=4&transport=websocket&sid={sid}");
    let ws = h.ws(&target);
    let other = h.ws(&target);
    assert_eq!(h.ws_texts(other), vec!["close Some(1000)"]);
    assert!(h.is_closed(other));
    h.ws_send_text(ws, "2probe");
    h.ws_send_text(ws, "5");
    assert_eq!(h.ws_texts(ws), vec!["3probe"]);
    // Upgraded: a third one is closed the same way.
    let third = h.ws(&target);
    assert_eq!(h.ws_texts(third), vec!["close Some(1000)"]);
    assert!(h.is_closed(third));
    h.ws_send_text(ws, "4still");
    assert_eq!(h.ws_texts(ws), vec!["4still"]);
    assert!(!h.is_closed(ws));
}

#[test]
fn unknown_sid_on_upgrade_is_400_and_closed() {
    let mut h = Harness::new(engine_config());
    let s = h.request(ws_request("/engine.io/?EIO=4&transport=websocket&sid=nope").as_bytes());
    let r = h.response(s);
    assert_eq!((r.status, r.text()), (400, "Session ID unknown"));
    assert!(h.is_closed(s));
    let s = h.request(ws_request("/engine.io/?EIO=3&transport=websocket").as_bytes());
    assert_eq!(h.response(s).status, 400);
    let s = h.request(ws_request("/engine.io/?transport=websocket").as_bytes());
    assert_eq!(h.response(s).status, 400);
}

#[test]
fn other_packet_during_probe_aborts_the_upgrade_only() {
    let mut h = Harness::new(engine_config());
    h.app = echo_app();
    let sid = h.handshake("/engine.io/");
    let poll = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
    let ws = h.ws(&format!("/engine.io/?EIO=4&transport=websocket&sid={sid}"));
    h.ws_send_text(ws, "4nope");
    assert!(h.is_closed(ws));
    let p = h.post(&poll, b"4still-polling");
    assert_eq!(h.response(p).text(), "ok");
    let g = h.get(&poll);
    assert_eq!(h.response(g).text(), "4still-polling");
}

#[test]
fn an_upgrade_that_never_finishes_does_not_leak() {
    // No probe: the WebSocket is closed after the upgrade timeout, polling goes on.
    let mut h = Harness::new(ServerConfig {
        upgrade_timeout: 1000,
        ..engine_config()
    });
    let sid = h.handshake("/engine.io/");
    let ws = h.ws(&format!("/engine.io/?EIO=4&transport=websocket&sid={sid}"));
    h.at(999);
    assert!(!h.is_closed(ws));
    h.at(1000);
    assert!(h.is_closed(ws));
    assert_eq!(
        h.server.usage().streams,
        1,
        "only the handshake's kept-alive connection"
    );
    let g = h.get(&format!("/engine.io/?EIO=4&transport=polling&sid={sid}"));
    assert!(!h.has_response(g), "a normal long-poll");

    // Probed, then silent: the client paused polling for it, so the session ends.
    let mut h = Harness::new(ServerConfig {
        upgrade_timeout: 1000,
        ..engine_config()
    });
    let sid = h.handshake("/engine.io/");
    let ws = h.ws(&format!("/engine.io/?EIO=4&transport=websocket&sid={sid}"));
    h.ws_send_text(ws, "2probe");
    h.at(1000);
    assert!(h.is_closed(ws));
    assert!(
        h.take_events()
            .iter()
            .any(|e| matches!(e, Ev::EngineClose(_, CloseReason::UpgradeAbandoned)))
    );
    assert_eq!(h.server.usage().sessions, 0);
}

/// `poll_transmit_vectored`: a 64 KiB binary echo goes out byte for byte, its payload
/// lent from the big blocks (all of it past its first 240 bytes, in the parts of a
/// transmit, whatever the output buffer and the number of parts; one part copies
/// everything), and every block comes back once polling is done.
#[test]
fn a_large_binary_message_goes_out_vectored_from_its_blocks() {
    let data: Vec<u8> = (0..64 * 1024).map(|i| (i * 7 + i / 251) as u8).collect();
    // Output buffer, parts, the least bytes lent.
    for (out_buf, parts, least) in [
        (256 * 1024, 64, 65_296),
        (64 * 1024, 64, 65_000),
        (5000, 3, 50_000),
        (1500, 2, 40_000),
        (64 * 1024, 1, 0),
    ] {
        let mut h = Harness::new(engine_config());
        h.app = echo_app();
        h.out_buf = out_buf;
        h.parts = parts;
        let s = h.ws("/engine.io/?EIO=4&transport=websocket");
        h.ws_frames(s);
        let idle = h.server.usage();
        for round in 0..3 {
            h.lent = 0;
            h.ws_send_binary(s, &data);
            let frames = h.ws_frames(s);
            assert_eq!(frames.len(), 1, "{out_buf} {parts}");
            assert_eq!(frames[0].opcode, OpCode::Binary);
            assert!(frames[0].payload == data, "the same bytes back");
            assert!(
                h.lent >= least,
                "{out_buf} {parts} {round}: {} lent",
                h.lent
            );
            if parts == 1 {
                assert_eq!(h.lent, 0);
            }
            let after = h.server.usage();
            assert_eq!((after.blocks, after.big_blocks), (idle.blocks, 0));
        }
        assert!(!h.is_closed(s));
    }
}

/// Vectored and copied transmits write the same bytes: text and binary messages, small
/// and large, queued together.
#[test]
fn vectored_transmits_write_what_copied_ones_do() {
    let run = |parts: usize| {
        let mut h = Harness::new(engine_config());
        h.app = echo_app();
        h.out_buf = 20_000;
        h.parts = parts;
        let s = h.ws("/engine.io/?EIO=4&transport=websocket");
        let sizes = [10usize, 5000, 70_000, 1, 200_000, 3000, 8184];
        let mut batch = Vec::new();
        for (k, n) in sizes.iter().enumerate() {
            let bytes: Vec<u8> = (0..*n).map(|i| (i * 13 + k) as u8).collect();
            if k % 3 == 1 {
                let mut text = vec![b'a' + k as u8; *n];
                text[0] = b'4';
                batch.extend(frame(OpCode::Text, &text));
            }
            batch.extend(frame(OpCode::Binary, &bytes));
        }
        h.send(s, &batch);
        assert_eq!(h.server.usage().big_blocks, 0);
        (h.all_out[&s].clone(), h.lent)
    };
    let (copied, none) = run(0);
    let (vectored, lent) = run(64);
    assert_eq!(none, 0);
    assert!(lent > 250_000, "{lent}");
    assert!(copied == vectored, "the same bytes");
}

#[test]
fn a_large_binary_message_is_echoed_from_big_blocks() {
    use std::cell::Cell;
    use std::rc::Rc;
    let mut h = Harness::new(engine_config());
    // Echoes, and notes the big blocks in use once the echo is queued.
    let queued = Rc::new(Cell::new(0));
    let seen = Rc::clone(&queued);
    h.app = Box::new(move |server, e| {
        if let Event::EngineMessage { session, data } = *e {
            server.send(session, data).unwrap();
            seen.set(server.usage().big_blocks);
        }
    });
    let s = h.ws("/engine.io/?EIO=4&transport=websocket");
    h.ws_frames(s);
    let idle = h.server.usage();
    let data: Vec<u8> = (0..64 * 1024).map(|i| (i * 7 + i / 251) as u8).collect();
    h.ws_send_binary(s, &data);
    let frames = h.ws_frames(s);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].opcode, OpCode::Binary);
    assert!(frames[0].payload == data, "the same bytes back");
    // The echo's first 240 bytes in its small block, the rest in 16 big ones.
    assert_eq!(
        queued.get(),
        (data.len() - 240).div_ceil(Capacity::BIG_BLOCK_DATA)
    );
    let after = h.server.usage();
    assert_eq!((after.blocks, after.big_blocks), (idle.blocks, 0));
}
