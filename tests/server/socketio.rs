//! Socket.IO v5 on the server (PROTOCOL.md part B).

use siocore::server::*;

use crate::harness::*;

const PH0: &str = r#"{"_placeholder":true,"num":0}"#;
const PH1: &str = r#"{"_placeholder":true,"num":1}"#;

fn sio_config() -> ServerConfig<'static> {
    ServerConfig {
        namespaces: &["/", "/custom"],
        ..ServerConfig::DEFAULT
    }
}

/// The echo contract's `/` part: `auth` on connect, `message` → `message-back`,
/// `message-with-ack` → ack with the same args.
fn echo_app() -> App {
    Box::new(|server, e| match *e {
        Event::Connect(c) => {
            server.accept(c.socket).unwrap();
            server.emit(c.socket, "auth", Args::json(c.auth)).unwrap();
        }
        Event::Message(m) => {
            let (blobs, n) = m.attachments.to_array::<16>().unwrap();
            let args = Args::binary(m.args, &blobs[..n]);
            match (m.name, m.ack) {
                ("message", _) => server.emit(m.socket, "message-back", args).unwrap(),
                ("message-with-ack", Some(id)) => server.ack(m.socket, id, args).unwrap(),
                ("join", _) => {
                    let room: String = serde_like_str(m.args);
                    server.join(m.socket, &room).unwrap();
                }
                _ => {}
            }
        }
        _ => {}
    })
}

/// The string of a one-string argument list (`"lobby"`).
fn serde_like_str(args: &[u8]) -> String {
    let s = std::str::from_utf8(args).unwrap();
    s.trim_matches('"').to_string()
}

fn connected_ws(h: &mut Harness) -> (StreamId, SocketId) {
    let (s, _) = h.ws_handshake("/socket.io/");
    h.ws_send_text(s, "40");
    let texts = h.ws_texts(s);
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[0].starts_with(r#"40{"sid":""#));
    assert_eq!(texts[1], r#"42["auth",{}]"#);
    (s, h.last_socket())
}

#[test]
fn connect_reply_then_events_from_the_connection_handler() {
    let mut h = Harness::new(sio_config());
    h.app = echo_app();
    let (s, _) = h.ws_handshake("/socket.io/");
    h.ws_send_text(s, r#"40{"token":"t1"}"#);
    let texts = h.ws_texts(s);
    let sid = texts[0]
        .strip_prefix(r#"40{"sid":""#)
        .unwrap()
        .strip_suffix(r#""}"#)
        .unwrap();
    assert_eq!(sid.len(), 20);
    assert_eq!(texts[1], r#"42["auth",{"token":"t1"}]"#);
    let socket = h.last_socket();
    assert_eq!(h.server.socket_sid(socket).unwrap().as_str(), sid);
    assert!(matches!(
        &h.take_events()[..],
        [Ev::Connect { name, auth, namespace: Some(_), .. }] if name == "/" && auth == r#"{"token":"t1"}"#
    ));
}

#[test]
fn unknown_namespace_is_refused_byte_for_byte() {
    let mut h = Harness::new(sio_config());
    h.app = echo_app();
    let (s, _) = h.ws_handshake("/socket.io/");
    h.ws_send_text(s, "40/random,");
    assert_eq!(
        h.ws_texts(s),
        vec![r#"44/random,{"message":"Invalid namespace"}"#]
    );
    h.ws_send_text(s, "40/x?y=1,");
    assert_eq!(
        h.ws_texts(s),
        vec![r#"44/x?y=1,{"message":"Invalid namespace"}"#]
    );
    assert!(!h.is_closed(s));
}

#[test]
fn namespaces_without_comma_and_disconnect_keeps_the_session() {
    let mut h = Harness::new(sio_config());
    h.app = echo_app();
    let (s, _) = connected_ws(&mut h);
    h.ws_send_text(s, "40/custom");
    let texts = h.ws_texts(s);
    assert!(texts[0].starts_with(r#"40/custom,{"sid":""#), "{texts:?}");
    assert_eq!(texts[1], r#"42/custom,["auth",{}]"#);
    let custom = h.last_socket();
    h.ws_send_text(s, "41/custom");
    assert!(h.ws_texts(s).is_empty(), "nothing sent back");
    assert!(
        h.events
            .contains(&Ev::Disconnect(custom, DisconnectReason::ClientDisconnect))
    );
    h.ws_send_text(s, r#"42["message",1]"#);
    assert_eq!(h.ws_texts(s), vec![r#"42["message-back",1]"#]);
    // Events for the namespace left are a protocol error.
    h.ws_send_text(s, r#"42/custom,["message"]"#);
    assert!(h.is_closed(s));
}

#[test]
fn connect_disconnect_connect_gives_fresh_socket_ids() {
    let mut h = Harness::new(sio_config());
    h.app = echo_app();
    let (s, _) = connected_ws(&mut h);
    h.ws_send_text(s, "41");
    h.ws_send_text(s, "40");
    let texts = h.ws_texts(s);
    assert_eq!(texts.len(), 2);
    let first = h
        .events
        .iter()
        .filter_map(|e| match e {
            Ev::Connect { socket, .. } => Some(*socket),
            _ => None,
        })
        .collect::<Vec<_>>();
    assert_eq!(first.len(), 2);
    assert_ne!(first[0], first[1]);
}

#[test]
fn first_packet_must_be_connect() {
    for first in [r#"42["message"]"#, "41", r#"43[1]"#] {
        let mut h = Harness::new(sio_config());
        h.app = echo_app();
        let (s, _) = h.ws_handshake("/socket.io/");
        h.ws_send_text(s, first);
        assert!(h.is_closed(s), "{first}");
    }
}

#[test]
fn events_and_acks_byte_for_byte() {
    let mut h = Harness::new(sio_config());
    h.app = echo_app();
    let (s, _) = connected_ws(&mut h);
    h.ws_send_text(s, r#"42["message",1,"2",{"3":[true]}]"#);
    assert_eq!(
        h.ws_texts(s),
        vec![r#"42["message-back",1,"2",{"3":[true]}]"#]
    );
    h.ws_send_text(s, r#"42456["message-with-ack",1,"2",{"3":[false]}]"#);
    assert_eq!(h.ws_texts(s), vec![r#"43456[1,"2",{"3":[false]}]"#]);
    // Escaped names arrive unescaped.
    h.ws_send_text(s, r#"42["mess\u0061ge",null]"#);
    assert_eq!(h.ws_texts(s), vec![r#"42["message-back",null]"#]);
}

#[test]
fn binary_event_and_binary_ack_over_websocket() {
    let mut h = Harness::new(sio_config());
    h.app = echo_app();
    let (s, _) = connected_ws(&mut h);
    h.ws_send_text(s, &format!(r#"452-["message",{PH0},{PH1}]"#));
    h.ws_send_binary(s, &[1, 2, 3]);
    assert!(h.ws_texts(s).is_empty(), "waits for the second attachment");
    h.ws_send_binary(s, &[4, 5, 6]);
    assert_eq!(
        h.ws_texts(s),
        vec![
            format!(r#"452-["message-back",{PH0},{PH1}]"#),
            "<010203>".to_string(),
            "<040506>".to_string()
        ]
    );
    h.ws_send_text(s, &format!(r#"452-789["message-with-ack",{PH0},{PH1}]"#));
    h.ws_send_binary(s, &[1, 2, 3]);
    h.ws_send_binary(s, &[4, 5, 6]);
    assert_eq!(
        h.ws_texts(s),
        vec![
            format!(r#"462-789[{PH0},{PH1}]"#),
            "<010203>".to_string(),
            "<040506>".to_string()
        ]
    );
    let last = h
        .events
        .iter()
        .rev()
        .find(|e| matches!(e, Ev::Message { .. }))
        .unwrap();
    assert!(
        matches!(last, Ev::Message { attachments, .. } if attachments == &[vec![1, 2, 3], vec![4, 5, 6]])
    );
}

#[test]
fn binary_event_over_polling() {
    let mut h = Harness::new(sio_config());
    h.app = echo_app();
    let sid = h.handshake("/socket.io/");
    let poll = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let p = h.post(&poll, b"40");
    assert_eq!(h.response(p).text(), "ok");
    let g = h.get(&poll);
    let body = h.response(g).body;
    let recs = records(&body);
    assert!(recs[0].starts_with(r#"40{"sid":""#));
    assert_eq!(recs[1], r#"42["auth",{}]"#);
    let p = h.post(
        &poll,
        format!("451-[\"message\",{PH0}]\x1ebAQID").as_bytes(),
    );
    assert_eq!(h.response(p).text(), "ok");
    let g = h.get(&poll);
    assert_eq!(
        h.response(g).text(),
        format!("451-[\"message-back\",{PH0}]\x1ebAQID")
    );
    // An attachment split into a later POST is kept until it comes.
    let p = h.post(
        &poll,
        format!("452-[\"message\",{PH0},{PH1}]\x1ebAQID").as_bytes(),
    );
    assert_eq!(h.response(p).text(), "ok");
    let p = h.post(&poll, b"bBAUG");
    assert_eq!(h.response(p).text(), "ok");
    let g = h.get(&poll);
    assert_eq!(
        h.response(g).text(),
        format!("452-[\"message-back\",{PH0},{PH1}]\x1ebAQID\x1ebBAUG")
    );
}

#[test]
fn invalid_socketio_packets_close_the_connection() {
    for bad in [
        "4abc",
        "47[1]",
        r#"42{}"#,
        "42[]",
        r#"42"x""#,
        r#"42abc["x"]"#,
        "41{}",
        r#"40"t""#,
        "40[]",
        r#"42["connect"]"#,
        r#"42["disconnecting"]"#,
        r#"4511-["message"]"#,
        r#"44{"message":"x"}"#,
        "42[1",
        "40",
    ] {
        let mut h = Harness::new(sio_config());
        h.app = echo_app();
        let (s, _) = connected_ws(&mut h);
        h.ws_send_text(s, bad);
        assert!(h.is_closed(s), "{bad}");
        assert!(
            h.events.iter().any(|e| matches!(
                e,
                Ev::Disconnect(_, DisconnectReason::Session(CloseReason::ParseError))
            )),
            "{bad}"
        );
    }
    // Binary framing errors.
    let mut h = Harness::new(sio_config());
    h.app = echo_app();
    let (s, _) = connected_ws(&mut h);
    h.ws_send_binary(s, &[1]);
    assert!(h.is_closed(s), "binary when none is expected");
    let mut h = Harness::new(sio_config());
    h.app = echo_app();
    let (s, _) = connected_ws(&mut h);
    h.ws_send_text(s, &format!(r#"451-["message",{PH0}]"#));
    h.ws_send_text(s, r#"42["message"]"#);
    assert!(h.is_closed(s), "text while an attachment is owed");
}

#[test]
fn unknown_ack_is_ignored_and_binary_ones_are_read_anyway() {
    let mut h = Harness::new(sio_config());
    h.app = echo_app();
    let (s, _) = connected_ws(&mut h);
    h.ws_send_text(s, "43999[1]");
    h.ws_send_text(s, &format!("461-998[{PH0}]"));
    h.ws_send_binary(s, &[9]);
    assert!(!h.is_closed(s));
    h.ws_send_text(s, r#"42["message","ok"]"#);
    assert_eq!(h.ws_texts(s), vec![r#"42["message-back","ok"]"#]);
}

#[test]
fn server_acks_and_their_timeouts() {
    let mut h = Harness::new(sio_config());
    h.app = echo_app();
    let (s, socket) = connected_ws(&mut h);
    // Deadlines count from the latest time the server was given.
    h.at(1000);
    let a = h
        .server
        .emit_with_ack(socket, "ack-request", Args::json(b"1"), Some(500))
        .unwrap();
    let b = h
        .server
        .emit_with_ack(socket, "ack-request", Args::json(b"2"), Some(500))
        .unwrap();
    let c = h
        .server
        .emit_with_ack(socket, "ack-request", Args::NONE, None)
        .unwrap();
    h.drain();
    assert_eq!((a, b, c), (AckId(0), AckId(1), AckId(2)));
    assert_eq!(
        h.ws_texts(s),
        vec![
            r#"420["ack-request",1]"#,
            r#"421["ack-request",2]"#,
            r#"422["ack-request"]"#
        ]
    );
    h.ws_send_text(s, r#"430["reply",{"x":1}]"#);
    assert!(h.events.iter().any(|e| *e
        == Ev::Ack {
            socket,
            id: AckId(0),
            args: r#""reply",{"x":1}"#.to_string(),
            attachments: vec![]
        }));
    assert_eq!(h.server.poll_timeout().map(|t| t.as_millis()), Some(1500));
    h.at(1500);
    assert!(h.events.contains(&Ev::AckTimeout(socket, AckId(1))));
    // A late answer is ignored; one without timeout still comes.
    h.ws_send_text(s, "431[]");
    h.ws_send_text(s, &format!("461-2[{PH0}]"));
    h.ws_send_binary(s, &[7, 7]);
    let acks: Vec<_> = h
        .events
        .iter()
        .filter(|e| matches!(e, Ev::Ack { .. }))
        .collect();
    assert_eq!(acks.len(), 2);
    assert!(
        matches!(acks[1], Ev::Ack { id: AckId(2), attachments, .. } if attachments == &[vec![7, 7]])
    );
}

#[test]
fn connect_timeout_closes_a_silent_client() {
    let mut h = Harness::new(ServerConfig {
        connect_timeout: 1000,
        ..sio_config()
    });
    let (s, _) = h.ws_handshake("/socket.io/");
    h.at(999);
    assert!(!h.is_closed(s));
    h.at(1000);
    assert!(h.is_closed(s));
    assert_eq!(h.server.usage().sessions, 0);
}

#[test]
fn dynamic_namespaces_and_refusals() {
    let mut h = Harness::new(ServerConfig {
        dynamic_namespaces: true,
        ..sio_config()
    });
    h.app = Box::new(|server, e| {
        if let Event::Connect(c) = *e {
            if c.name.starts_with("/ok") {
                let ns = server.accept(c.socket).unwrap();
                assert_eq!(server.namespace_name(ns), Some(c.name));
            } else {
                server
                    .refuse(c.socket, "Not authorized", Some(br#"{"reason":"token"}"#))
                    .unwrap();
            }
        }
    });
    let (s, _) = h.ws_handshake("/socket.io/");
    h.ws_send_text(s, "40/ok-1,");
    let texts = h.ws_texts(s);
    assert!(texts[0].starts_with(r#"40/ok-1,{"sid":""#), "{texts:?}");
    assert!(matches!(
        &h.events[..],
        [Ev::Connect {
            namespace: None,
            ..
        }]
    ));
    h.ws_send_text(s, "40/nope,");
    assert_eq!(
        h.ws_texts(s),
        vec![r#"44/nope,{"message":"Not authorized","data":{"reason":"token"}}"#]
    );
    // A second client finds the namespace made by the first.
    let (s2, _) = h.ws_handshake("/socket.io/");
    h.ws_send_text(s2, "40/ok-1,");
    assert!(matches!(
        h.events.last(),
        Some(Ev::Connect {
            namespace: Some(_),
            ..
        })
    ));
    assert!(h.server.namespace("/ok-1").is_some());
    // The refused one got no Disconnect.
    assert!(!h.events.iter().any(|e| matches!(e, Ev::Disconnect(..))));
}

#[test]
fn server_disconnect_sends_disconnect_and_reports_it() {
    let mut h = Harness::new(sio_config());
    h.app = echo_app();
    let (s, socket) = connected_ws(&mut h);
    h.server.disconnect(socket).unwrap();
    h.drain();
    assert_eq!(h.ws_texts(s), vec!["41"]);
    assert!(
        h.events
            .contains(&Ev::Disconnect(socket, DisconnectReason::ServerDisconnect))
    );
    assert_eq!(
        h.server.emit(socket, "x", Args::NONE),
        Err(CommandError::UnknownSocket)
    );
    assert!(!h.is_closed(s), "the session stays");
}

#[test]
fn many_namespaces_share_one_session() {
    let mut h = Harness::new(sio_config());
    h.app = echo_app();
    let (s, root) = connected_ws(&mut h);
    h.ws_send_text(s, "40/custom,");
    let _ = h.ws_texts(s);
    let custom = h.last_socket();
    assert_ne!(root, custom);
    assert_eq!(h.server.session_of(root), h.server.session_of(custom));
    h.server.emit(custom, "hi", Args::NONE).unwrap();
    h.server.emit(root, "hi", Args::NONE).unwrap();
    h.drain();
    assert_eq!(h.ws_texts(s), vec![r#"42/custom,["hi"]"#, r#"42["hi"]"#]);
    // The session's end reaches both sockets.
    h.reset(s);
    let gone: Vec<_> = h
        .events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Ev::Disconnect(_, DisconnectReason::Session(CloseReason::TransportClose))
            )
        })
        .collect();
    assert_eq!(gone.len(), 2);
    assert_eq!(h.server.usage().sockets, 0);
}

#[test]
fn emit_arguments_are_checked() {
    let mut h = Harness::new(sio_config());
    h.app = echo_app();
    let (_, socket) = connected_ws(&mut h);
    assert!(matches!(
        h.server.emit(socket, "x", Args::json(b"1,")),
        Err(CommandError::InvalidJson(_))
    ));
    assert_eq!(
        h.server
            .emit(socket, "x", Args::binary(PH0.as_bytes(), &[])),
        Err(CommandError::AttachmentMismatch {
            placeholders: 1,
            attachments: 0
        })
    );
    assert_eq!(
        h.server.emit(socket, "x", Args::binary(b"1", &[b"z"])),
        Err(CommandError::AttachmentMismatch {
            placeholders: 0,
            attachments: 1
        })
    );
    assert_eq!(
        h.server.emit(socket, "connect", Args::NONE),
        Err(CommandError::InvalidName)
    );
}

#[test]
fn events_sent_right_after_connect_wait_for_the_answer() {
    let mut h = Harness::new(sio_config());
    h.app = echo_app();
    let (s, _) = h.ws_handshake("/socket.io/");
    let mut wire = frame(siocore::ws::OpCode::Text, b"40");
    wire.extend_from_slice(&frame(
        siocore::ws::OpCode::Text,
        br#"42["message","early"]"#,
    ));
    h.send(s, &wire);
    let texts = h.ws_texts(s);
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert!(texts[0].starts_with(r#"40{"sid":""#));
    assert_eq!(texts[1], r#"42["auth",{}]"#);
    assert_eq!(texts[2], r#"42["message-back","early"]"#);
    assert!(!h.is_closed(s));
}

/// A socket handle displays as the id its client knows (Node's `socket.id`), in every
/// event that names it, the Disconnect included; compares by slot and era alone; and one
/// rebuilt from bits names the same socket without knowing its id.
#[test]
fn a_socket_displays_as_its_socketio_id() {
    let mut h = Harness::new(config());
    let (s, _) = h.ws_handshake("/socket.io/");
    h.ws_send_text(s, "40");
    let texts = h.ws_texts(s);
    let sid = texts[0]
        .strip_prefix("40{\"sid\":\"")
        .and_then(|t| t.split('"').next())
        .unwrap()
        .to_string();
    assert_eq!(sid.len(), 20);
    let socket = h.last_socket();
    assert_eq!(socket.to_string(), sid);
    assert_eq!(socket.sid().unwrap().as_str(), sid);
    assert_eq!(h.server.socket_sid(socket).unwrap().as_str(), sid);
    assert!(format!("{socket:?}").contains(&sid), "{socket:?}");

    let bare = SocketId::from_bits(socket.to_bits());
    assert_eq!(bare, socket);
    assert_eq!(bare.sid(), None);
    assert_eq!(
        bare.to_string(),
        format!("#{}.{}", socket.index(), socket.to_bits() >> 32)
    );
    h.server.emit(bare, "hi", Args::json(b"[]")).unwrap();

    // An event's socket, and the Disconnect's after the socket is gone.
    h.ws_send_text(s, "42[\"m\"]");
    h.ws_send_text(s, "451-[\"b\",{\"_placeholder\":true,\"num\":0}]");
    h.ws_send_binary(s, &[1, 2]);
    h.ws_send_text(s, "41");
    h.drain();
    let mut seen = 0;
    for e in &h.events {
        if let Ev::Message { socket, .. } | Ev::Disconnect(socket, _) = e {
            assert_eq!(socket.to_string(), sid);
            seen += 1;
        }
    }
    assert_eq!(
        seen, 3,
        "an event, a binary one, the Disconnect: {:?}",
        h.events
    );
}

/// Bytes that tell their offset apart.
fn pattern(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251 + seed) as u8).collect()
}

/// Sends a two-attachment `message` of `a` and `b`, and checks the echo: the attachments
/// come back byte for byte. Returns the pool's big blocks in use while the packet waited for
/// its second attachment.
fn echo_two_attachments(h: &mut Harness, s: StreamId, a: &[u8], b: &[u8]) -> usize {
    h.ws_send_text(s, &format!(r#"452-["message",{PH0},{PH1}]"#));
    h.ws_send_binary(s, a);
    assert!(h.ws_texts(s).is_empty(), "waits for the second attachment");
    let waiting = h.server.usage().big_blocks;
    h.ws_send_binary(s, b);
    let frames = h.ws_frames(s);
    assert_eq!(frames.len(), 3);
    assert_eq!(
        String::from_utf8(frames[0].payload.clone()).unwrap(),
        format!(r#"452-["message-back",{PH0},{PH1}]"#)
    );
    assert_eq!(frames[1].payload, a);
    assert_eq!(frames[2].payload, b);
    waiting
}

#[test]
fn large_attachments_take_big_blocks_and_give_them_back() {
    let mut h = Harness::new(sio_config());
    h.app = echo_app();
    let (s, _) = connected_ws(&mut h);
    let idle = h.server.usage();
    assert_eq!(idle.big_blocks, 0);
    let big = pattern(64 * 1024, 1);
    let small = pattern(300, 2);
    let mid = pattern(Capacity::BIG_BLOCK_DATA + 300, 3);
    // A 64 KiB attachment waits in big blocks: its first bytes fill the packet's first
    // block (after the packet's name and arguments), the rest takes 16 big blocks of 4092
    // bytes; the small attachment after it goes on in the last of them.
    let waiting = echo_two_attachments(&mut h, s, &big, &small);
    assert_eq!(waiting, 16);
    let after = h.server.usage();
    assert_eq!((after.blocks, after.big_blocks), (idle.blocks, 0));
    // A small first attachment keeps small blocks; a large second one then has to as well
    // (the packet went past its first block).
    assert_eq!(echo_two_attachments(&mut h, s, &small, &big), 0);
    // Just over one big block, then a large one.
    assert_eq!(echo_two_attachments(&mut h, s, &mid, &big), 2);
    let after = h.server.usage();
    assert_eq!((after.blocks, after.big_blocks), (idle.blocks, 0));
    assert!(!h.is_closed(s));
}

/// The same attachments through `poll_transmit_vectored`: they come back byte for byte,
/// lent from their big blocks, which come back once polling is done.
#[test]
fn large_attachments_go_out_vectored_and_their_blocks_come_back() {
    let mut h = Harness::new(sio_config());
    h.app = echo_app();
    h.parts = 16;
    let (s, _) = connected_ws(&mut h);
    let idle = h.server.usage();
    let big = pattern(64 * 1024, 1);
    let small = pattern(300, 2);
    assert_eq!(echo_two_attachments(&mut h, s, &big, &small), 16);
    assert!(h.lent > 60_000, "{}", h.lent);
    let after = h.server.usage();
    assert_eq!((after.blocks, after.big_blocks), (idle.blocks, 0));
    h.lent = 0;
    assert_eq!(echo_two_attachments(&mut h, s, &big, &big), 16);
    assert!(h.lent > 60_000, "{}", h.lent);
    let after = h.server.usage();
    assert_eq!((after.blocks, after.big_blocks), (idle.blocks, 0));
    assert!(!h.is_closed(s));
}

#[test]
fn without_big_blocks_large_attachments_take_small_ones() {
    let cap = Capacity {
        big_blocks: 0,
        ..Capacity::for_sessions(64, 8 << 20)
    };
    let mut h = Harness::with_capacity(sio_config(), cap);
    h.app = echo_app();
    let (s, _) = connected_ws(&mut h);
    let idle = h.server.usage();
    let big = pattern(64 * 1024, 4);
    assert_eq!(echo_two_attachments(&mut h, s, &big, &big[..10]), 0);
    let after = h.server.usage();
    assert_eq!((after.blocks, after.big_blocks), (idle.blocks, 0));
}

/// An app sending every event's attachments on with [`Args::attached`] (to the sender, as
/// `back`, and to everyone with a broadcast when the event is `all`), after polling once
/// more first when the event is `late`; it records the big blocks in use right after each
/// send.
fn forwarding_app(after: std::rc::Rc<std::cell::RefCell<Vec<usize>>>) -> App {
    Box::new(move |server, e| match *e {
        Event::Connect(c) => {
            server.accept(c.socket).unwrap();
        }
        Event::Message(m) => {
            if m.name == "late" {
                // The server moves on: the event is no longer held.
                let mut other = vec![0u8; 1024];
                assert!(server.poll_event(&mut other).unwrap().is_none());
            }
            let args = Args::attached(m.args, m.attachments);
            if m.name == "all" {
                let ns = server.namespace("/").unwrap();
                server.broadcast(ns, &Targets::ALL, "back", args).unwrap();
            } else {
                server.emit(m.socket, "back", args).unwrap();
            }
            after.borrow_mut().push(server.usage().big_blocks);
        }
        _ => {}
    })
}

#[test]
fn received_attachments_sent_on_share_the_stored_message() {
    let after = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let mut h = Harness::new(sio_config());
    h.app = forwarding_app(after.clone());
    let (a, _) = h.ws_handshake("/socket.io/");
    h.ws_send_text(a, "40");
    let (b, _) = h.ws_handshake("/socket.io/");
    h.ws_send_text(b, "40");
    h.ws_texts(a);
    h.ws_texts(b);
    let idle = h.server.usage();
    let big = pattern(64 * 1024, 7);
    let small = pattern(100, 8);
    let check = |h: &mut Harness, s: StreamId, first: &[u8], second: &[u8]| {
        let frames = h.ws_frames(s);
        assert_eq!(frames.len(), 3);
        assert_eq!(
            String::from_utf8(frames[0].payload.clone()).unwrap(),
            format!(r#"452-["back",{PH0},{PH1}]"#)
        );
        assert_eq!(frames[1].payload, first);
        assert_eq!(frames[2].payload, second);
    };

    // Sent back while the event is held: the queued attachments are views of the received
    // packet, whose 17 big blocks (the large one and the small one after it) are all the
    // big blocks in use (a copy would take 16 more).
    for name in ["again", "late"] {
        h.ws_send_text(a, &format!(r#"452-["{name}",{PH0},{PH1}]"#));
        h.ws_send_binary(a, &big);
        h.ws_send_binary(a, &small);
        check(&mut h, a, &big, &small);
        let used = h.server.usage();
        assert_eq!((used.blocks, used.big_blocks), (idle.blocks, 0));
    }
    // The second time the server had moved on (giving the packet back): the bytes were
    // copied, into 16 big blocks.
    assert_eq!(*after.borrow(), [17, 16]);

    // Written with vectored transmits, the views' bytes are lent from the received
    // packet's big blocks.
    h.parts = 16;
    h.lent = 0;
    h.ws_send_text(a, &format!(r#"452-["again",{PH0},{PH1}]"#));
    h.ws_send_binary(a, &big);
    h.ws_send_binary(a, &small);
    check(&mut h, a, &big, &small);
    assert!(h.lent > 60_000, "{}", h.lent);
    h.parts = 0;

    // A broadcast shares them with every recipient; the small attachment first this time.
    h.ws_send_text(a, &format!(r#"452-["all",{PH0},{PH1}]"#));
    h.ws_send_binary(a, &small);
    h.ws_send_binary(a, &big);
    check(&mut h, a, &small, &big);
    check(&mut h, b, &small, &big);
    let used = h.server.usage();
    assert_eq!((used.blocks, used.big_blocks), (idle.blocks, 0));
    // The received packet's 17 big blocks, shared by both queues.
    assert_eq!(after.borrow()[3], 17);
    assert!(!h.is_closed(a) && !h.is_closed(b));
}

#[test]
fn a_large_text_event_is_echoed_from_big_blocks() {
    use std::cell::Cell;
    use std::rc::Rc;
    let mut h = Harness::new(sio_config());
    // Echoes `message` as `message-back`, noting the big blocks in use as the echo is queued.
    let queued = Rc::new(Cell::new(0));
    let seen = Rc::clone(&queued);
    h.app = Box::new(move |server, e| match *e {
        Event::Connect(c) => {
            server.accept(c.socket).unwrap();
            server.emit(c.socket, "auth", Args::json(c.auth)).unwrap();
        }
        Event::Message(m) => {
            server
                .emit(m.socket, "message-back", Args::json(m.args))
                .unwrap();
            seen.set(server.usage().big_blocks);
        }
        _ => {}
    });
    let (s, _) = connected_ws(&mut h);
    let idle = h.server.usage();
    let body: String = (0..60_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    h.ws_send_text(s, &format!(r#"42["message","{body}"]"#));
    assert_eq!(
        h.ws_texts(s),
        vec![format!(r#"42["message-back","{body}"]"#)]
    );
    // `42["message-back","` and 60 000 letters and `"]`: 240 bytes in the first block, the
    // rest in 15 big blocks.
    assert_eq!(
        queued.get(),
        (60_000 + 22 - 240usize).div_ceil(Capacity::BIG_BLOCK_DATA)
    );
    let after = h.server.usage();
    assert_eq!((after.blocks, after.big_blocks), (idle.blocks, 0));
}

#[test]
fn an_attachment_after_a_long_head_waits_for_small_blocks() {
    // Few small blocks, many big ones. A packet whose name and arguments filled its first
    // block goes on in small blocks: its large attachment waits for room there (the
    // stream stays open, nothing is lost), while the same attachment after a short head
    // goes to big blocks at once.
    let cap = Capacity {
        blocks: 30,
        big_blocks: 64,
        ..Capacity::for_sessions(4, 1 << 20)
    };
    let mut h = Harness::with_capacity(sio_config(), cap);
    h.app = echo_app();
    let (s, _) = connected_ws(&mut h);
    let blob = pattern(8 * 1024, 5);
    assert_eq!(echo_two_attachments(&mut h, s, &blob, &blob[..3]), 2);

    let long = "x".repeat(400);
    h.ws_send_text(s, &format!(r#"451-["message",{PH0},"{long}"]"#));
    h.ws_send_binary(s, &blob);
    assert!(h.ws_texts(s).is_empty());
    assert!(!h.is_closed(s), "waits instead of failing");
    assert!(!h.events.iter().any(|e| matches!(e, Ev::Disconnect(..))));
}
