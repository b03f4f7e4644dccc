//! Connection state recovery, the server's part (issue 16): pids and offsets on the wire,
//! sockets parked when their transport drops, and recovered with their rooms and the
//! packets they missed; everything else gives a new socket.

use crate::harness::*;
use siocore::server::*;
use siocore::ws::OpCode;

const KEEP: u32 = 60_000;

fn rconfig() -> ServerConfig<'static> {
    ServerConfig {
        recovery: KEEP,
        ..ServerConfig::DEFAULT
    }
}

/// A WebSocket client's CONNECT to `/` with `auth`: (stream, CONNECT reply, socket).
fn connect(h: &mut Harness, auth: &str) -> (StreamId, String, SocketId) {
    let (s, reply, socket, _) = connect_all(h, auth);
    (s, reply, socket)
}

/// [`connect`], and what came after the CONNECT reply.
fn connect_all(h: &mut Harness, auth: &str) -> (StreamId, String, SocketId, Vec<String>) {
    let (s, _) = h.ws_handshake("/socket.io/");
    h.ws_send_text(s, &format!("40{auth}"));
    let mut texts = h.ws_texts(s);
    assert!(texts[0].starts_with("40{\"sid\":\""), "{texts:?}");
    let reply = texts.remove(0);
    (s, reply, h.last_socket(), texts)
}

/// The value of `"key":"…"` in `text`.
fn member(text: &str, key: &str) -> String {
    let at = text.find(&format!("\"{key}\":\"")).unwrap() + key.len() + 4;
    text[at..at + text[at..].find('"').unwrap()].to_string()
}

/// The offset an event packet ends with.
fn offset_of(packet: &str) -> String {
    let body = packet.strip_suffix("\"]").unwrap();
    body[body.rfind('"').unwrap() + 1..].to_string()
}

fn last_recovered(h: &Harness) -> bool {
    h.events
        .iter()
        .rev()
        .find_map(|e| match e {
            Ev::Connect { recovered, .. } => Some(*recovered),
            _ => None,
        })
        .unwrap()
}

fn auth(pid: &str, offset: &str) -> String {
    format!(r#"{{"pid":"{pid}","offset":"{offset}"}}"#)
}

#[test]
fn pid_and_offsets_on_the_wire() {
    let mut h = Harness::new(rconfig());
    let (s, reply, a) = connect(&mut h, "");
    let pid = member(&reply, "pid");
    assert_eq!(pid.len(), 20);
    assert_eq!(
        member(&reply, "sid"),
        h.server.socket_sid(a).unwrap().as_str()
    );
    let ns = h.server.namespace("/").unwrap();
    h.server.emit(a, "one", Args::json(b"1")).unwrap();
    h.server.emit(a, "none", Args::json(b"")).unwrap();
    h.server
        .broadcast(ns, &Targets::ALL, "all", Args::json(b"{\"x\":2}"))
        .unwrap();
    h.server
        .emit_with_ack(a, "asks", Args::json(b"3"), None)
        .unwrap();
    h.drain();
    assert_eq!(
        h.ws_texts(s),
        vec![
            r#"42["one",1,"0"]"#,
            r#"42["none","1"]"#,
            r#"42["all",{"x":2},"2"]"#,
            r#"420["asks",3]"#,
        ]
    );
    // An ack carries no offset.
    h.ws_send_text(s, r#"421["q"]"#);
    let id = match h.events.last() {
        Some(Ev::Message { ack: Some(id), .. }) => *id,
        e => panic!("{e:?}"),
    };
    h.server.ack(a, id, Args::json(b"4")).unwrap();
    h.drain();
    assert_eq!(h.ws_texts(s), vec![r#"431[4]"#]);
    // Without recovery: no pid, no offset.
    let mut plain = Harness::new(config());
    let (s, _) = plain.ws_handshake("/socket.io/");
    plain.ws_send_text(s, "40");
    let reply = plain.ws_texts(s).remove(0);
    assert!(!reply.contains("pid"), "{reply}");
    let a = plain.last_socket();
    plain.server.emit(a, "one", Args::json(b"1")).unwrap();
    plain.drain();
    assert_eq!(plain.ws_texts(s), vec![r#"42["one",1]"#]);
}

/// A client in `room1` whose transport drops while others emit; returns the harness, its
/// socket, pid and last offset, and the other client's socket.
fn dropped() -> (Harness, SocketId, String, String, SocketId) {
    let mut h = Harness::new(rconfig());
    let (sa, reply, a) = connect(&mut h, "");
    let (_sb, _, b) = connect(&mut h, "");
    h.server.join(a, "room1").unwrap();
    h.server.emit(a, "hello", Args::json(b"0")).unwrap();
    h.drain();
    let texts = h.ws_texts(sa);
    let offset = offset_of(&texts[0]);
    h.reset(sa);
    assert!(matches!(
        h.events.last(),
        Some(Ev::Disconnect(s, DisconnectReason::Session(CloseReason::TransportClose))) if *s == a
    ));
    assert_eq!(h.server.usage().parked, 1);
    assert!(
        h.server.socket_sid(a).is_none(),
        "parked sockets take no commands"
    );
    let ns = h.server.namespace("/").unwrap();
    h.server
        .broadcast(ns, &Targets::to(&["room1"]), "r", Args::json(b"1"))
        .unwrap();
    h.server
        .broadcast(ns, &Targets::ALL, "all", Args::json(b"2"))
        .unwrap();
    h.server
        .broadcast(ns, &Targets::to(&["room2"]), "x", Args::json(b"3"))
        .unwrap();
    h.server
        .broadcast(
            ns,
            &Targets::to(&["room1"]),
            "bin",
            Args::binary(br#"{"_placeholder":true,"num":0}"#, &[b"\x01\x02"]),
        )
        .unwrap();
    h.server.emit(b, "b-only", Args::json(b"")).unwrap();
    h.server
        .broadcast(
            ns,
            &Targets {
                rooms: &[],
                except_rooms: &["room1"],
                except: &[],
            },
            "not-room1",
            Args::json(b""),
        )
        .unwrap();
    h.drain();
    (h, a, member(&reply, "pid"), offset, b)
}

const MISSED: [&str; 4] = [
    r#"42["r",1,"1"]"#,
    r#"42["all",2,"2"]"#,
    r#"451-["bin",{"_placeholder":true,"num":0},"4"]"#,
    "<0102>",
];

#[test]
fn a_dropped_transport_recovers_its_socket_rooms_and_missed_packets() {
    let (mut h, a, pid, offset, _) = dropped();
    let (s, reply, a2, missed) = connect_all(&mut h, &auth(&pid, &offset));
    assert!(last_recovered(&h));
    assert_eq!(a2, a, "the same socket");
    assert_eq!(member(&reply, "pid"), pid);
    assert_eq!(
        member(&reply, "sid"),
        h.server.socket_sid(a).unwrap().as_str()
    );
    assert_eq!(missed, MISSED, "once, in order, after the reply");
    assert!(h.server.in_room(a, "room1"));
    assert_eq!(h.server.usage().parked, 0);
    let ns = h.server.namespace("/").unwrap();
    assert_eq!(h.server.room_len(ns, "room1"), 1);
    // It is a live socket again, and gets the next packets once.
    h.server.emit(a, "next", Args::json(b"")).unwrap();
    h.drain();
    assert_eq!(h.ws_texts(s), vec![r#"42["next","7"]"#]);
}

#[test]
fn a_second_drop_during_replay_recovers_again() {
    let (mut h, a, pid, offset, _) = dropped();
    let (s, _, _) = connect(&mut h, &auth(&pid, &offset));
    assert!(last_recovered(&h));
    // Gone again before reading what was replayed.
    h.reset(s);
    assert_eq!(h.server.usage().parked, 1);
    let (_, _, a2, missed) = connect_all(&mut h, &auth(&pid, &offset));
    assert!(last_recovered(&h));
    assert_eq!(a2, a);
    assert_eq!(missed, MISSED);
}

#[test]
fn two_connects_racing_for_one_pid() {
    let (mut h, a, pid, offset, _) = dropped();
    let (s1, _) = h.ws_handshake("/socket.io/");
    let (s2, _) = h.ws_handshake("/socket.io/");
    h.ws_send_text(s1, &format!("40{}", auth(&pid, &offset)));
    h.ws_send_text(s2, &format!("40{}", auth(&pid, &offset)));
    let connects: Vec<(SocketId, bool)> = h
        .events
        .iter()
        .filter_map(|e| match e {
            Ev::Connect {
                socket, recovered, ..
            } => Some((*socket, *recovered)),
            _ => None,
        })
        .rev()
        .take(2)
        .collect();
    assert_eq!(connects[1], (a, true));
    assert!(!connects[0].1 && connects[0].0 != a);
    assert_eq!(h.server.usage().unrecovered, 1);
}

#[test]
fn what_cannot_recover_gets_a_new_socket() {
    // A forged pid.
    let (mut h, a, pid, offset, _) = dropped();
    let mut forged = pid.clone().into_bytes();
    forged[19] = if forged[19] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let (s, _, a2) = connect(&mut h, &auth(&forged, &offset));
    assert!(!last_recovered(&h) && a2 != a);
    assert!(h.ws_texts(s).is_empty());
    assert_eq!(h.server.usage().unrecovered, 1);
    // An offset the server never gave.
    let (_, _, a3) = connect(&mut h, &auth(&pid, "99"));
    assert!(!last_recovered(&h) && a3 != a);
    // That forgot the parked socket: the right offset is too late now.
    assert_eq!(h.server.usage().parked, 0);
    let (_, _, a4) = connect(&mut h, &auth(&pid, &offset));
    assert!(!last_recovered(&h) && a4 != a);

    // Expired.
    let (mut h, a, pid, offset, _) = dropped();
    h.advance(u64::from(KEEP));
    assert_eq!(h.server.usage().log_bytes, 0, "the log aged out too");
    let (_, _, a2) = connect(&mut h, &auth(&pid, &offset));
    assert!(!last_recovered(&h) && a2 != a);
    // The other client, silent, timed out (its timers ran late, at 60 s) and was parked;
    // it expires in turn.
    assert_eq!(h.server.usage().parked, 1);
    h.at(60_000 + u64::from(KEEP));
    assert_eq!(
        h.server.usage().parked,
        1,
        "only the new one, timed out at 105 s"
    );

    // Explicit disconnects do not park.
    let mut h = Harness::new(rconfig());
    let (s, reply, a) = connect(&mut h, "");
    h.server.emit(a, "e", Args::json(b"")).unwrap();
    h.drain();
    h.ws_texts(s);
    h.ws_send_text(s, "41");
    assert_eq!(h.server.usage().parked, 0);
    let (s2, _, a2) = connect(&mut h, &auth(&member(&reply, "pid"), "0"));
    assert!(!last_recovered(&h) && a2 != a);
    h.server.disconnect(a2).unwrap();
    h.drain();
    h.ws_texts(s2);
    assert_eq!(h.server.usage().parked, 0);
    // A session the server closes parks its sockets (Node's "forced close"), and they
    // recover.
    let (s3, reply3, a3) = connect(&mut h, "");
    h.server.emit(a3, "e", Args::json(b"")).unwrap();
    h.drain();
    let offset3 = offset_of(&h.ws_texts(s3)[0]);
    h.server.close(h.server.session_of(a3).unwrap()).unwrap();
    h.drain();
    assert_eq!(h.server.usage().parked, 1);
    let (_, _, a4) = connect(&mut h, &auth(&member(&reply3, "pid"), &offset3));
    assert!(last_recovered(&h) && a4 == a3);
}

#[test]
fn the_log_is_trimmed_by_bytes() {
    let mut h = Harness::new(ServerConfig {
        // Two small entries: each holds a header block, a packet block and their queue
        // entries.
        recovery_log_bytes: 1_500,
        ..rconfig()
    });
    let (sa, reply, a) = connect(&mut h, "");
    let ns = h.server.namespace("/").unwrap();
    h.server.emit(a, "e", Args::json(b"")).unwrap();
    h.drain();
    let offset = offset_of(&h.ws_texts(sa)[0]);
    h.reset(sa);
    let big = format!("\"{}\"", "x".repeat(100));
    for _ in 0..3 {
        h.server
            .broadcast(ns, &Targets::ALL, "big", Args::json(big.as_bytes()))
            .unwrap();
        assert!(h.server.usage().log_bytes <= 1_500);
        assert!(h.server.usage().log_bytes > 0);
    }
    // The first packet it missed left the log: it cannot recover.
    let (_, _, a2) = connect(&mut h, &auth(&member(&reply, "pid"), &offset));
    assert!(!last_recovered(&h) && a2 != a);
    // A packet larger than the log empties it.
    let huge = format!("\"{}\"", "x".repeat(2_000));
    h.server
        .broadcast(ns, &Targets::ALL, "huge", Args::json(huge.as_bytes()))
        .unwrap();
    assert_eq!(h.server.usage().log_bytes, 0);
}

#[test]
fn refusing_a_recovered_socket_forgets_it() {
    let (mut h, a, pid, offset, _) = dropped();
    h.app = Box::new(|server, e| {
        if let Event::Connect(c) = e {
            server.refuse(c.socket, "no", None).unwrap();
        }
    });
    let (s, _) = h.ws_handshake("/socket.io/");
    h.ws_send_text(s, &format!("40{}", auth(&pid, &offset)));
    assert!(last_recovered(&h));
    assert_eq!(h.ws_texts(s), vec![r#"44{"message":"no"}"#]);
    h.app = accept_all();
    let (_, _, a2) = connect(&mut h, &auth(&pid, &offset));
    assert!(!last_recovered(&h) && a2 != a);
}

#[test]
fn a_socket_left_out_after_it_was_parked_stays_left_out() {
    let mut h = Harness::new(rconfig());
    let (sa, reply, a) = connect(&mut h, "");
    let (sb, _, _) = connect(&mut h, "");
    h.server.emit(a, "hello", Args::json(b"")).unwrap();
    h.drain();
    let offset = offset_of(&h.ws_texts(sa)[0]);
    h.ws_texts(sb);
    h.reset(sa);
    // The application's Disconnect handler tells the others, leaving the socket out.
    let ns = h.server.namespace("/").unwrap();
    h.server
        .broadcast(ns, &Targets::all_except(&[a]), "user left", Args::json(b""))
        .unwrap();
    h.server
        .broadcast(ns, &Targets::ALL, "all", Args::json(b""))
        .unwrap();
    h.drain();
    assert_eq!(
        h.ws_texts(sb),
        vec![r#"42["user left","1"]"#, r#"42["all","2"]"#]
    );
    let (_, _, a2, missed) = connect_all(&mut h, &auth(&member(&reply, "pid"), &offset));
    assert_eq!(a2, a);
    assert!(last_recovered(&h));
    assert_eq!(
        missed,
        vec![r#"42["all","2"]"#],
        "not its own \"user left\""
    );
}

#[test]
fn an_engine_io_close_packet_parks_but_a_disconnect_first_does_not() {
    // socket.io-client sends the close packet when its engine closes (Node's "transport
    // close", recoverable).
    let mut h = Harness::new(rconfig());
    let (sa, _, a) = connect(&mut h, "");
    h.ws_send_text(sa, "1");
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Ev::Disconnect(s, _) if *s == a))
    );
    assert_eq!(h.server.usage().parked, 1);
    // An explicit disconnect (DISCONNECT, then the close) does not.
    let (sb, _, b) = connect(&mut h, "");
    h.ws_send_text(sb, "41");
    h.ws_send_text(sb, "1");
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Ev::Disconnect(s, _) if *s == b))
    );
    assert_eq!(h.server.usage().parked, 1);
}

#[test]
fn the_log_gives_way_before_emits_fail_or_clients_are_shed() {
    // A log allowed more than the whole pool: it still never starves live clients.
    let mut h = Harness::with_capacity(
        ServerConfig {
            recovery_log_bytes: 100 << 20,
            ..rconfig()
        },
        Capacity::for_sessions(4, 64 << 10),
    );
    let (sa, _, _) = connect(&mut h, "");
    let (sb, _, b) = connect(&mut h, "");
    h.reset(sa);
    let ns = h.server.namespace("/").unwrap();
    let payload = format!("\"{}\"", "x".repeat(2_000));
    for i in 0..200 {
        let sent = h
            .server
            .broadcast(ns, &Targets::ALL, "m", Args::json(payload.as_bytes()))
            .unwrap_or_else(|e| panic!("broadcast {i}: {e}"));
        assert_eq!(sent, 1);
        h.server.emit(b, "e", Args::json(b"1")).unwrap();
        h.drain();
        assert_eq!(h.ws_texts(sb).len(), 2, "round {i}");
    }
    assert!(h.server.is_open(h.server.session_of(b).unwrap()));
}

/// A socket whose Disconnect waits for room in the event queue is parked once the event is
/// queued; a CONNECT for it that comes meanwhile waits behind that event (it is not handed
/// a new socket).
#[test]
fn a_connect_waits_for_the_lost_sockets_disconnect_to_be_queued() {
    let cap = Capacity {
        events: 4,
        ..Capacity::for_sessions(64, 8 << 20)
    };
    let mut h = Harness::with_capacity(rconfig(), cap);
    let (sa, reply, a) = connect(&mut h, "");
    let (sb, _, _) = connect(&mut h, "");
    h.server.emit(a, "hello", Args::json(b"0")).unwrap();
    h.drain();
    let offset = offset_of(&h.ws_texts(sa)[0]);
    let pid = member(&reply, "pid");
    let (sc, _) = h.ws_handshake("/socket.io/");
    // The application falls behind: B's events fill the queue...
    let mut burst: Vec<u8> = (0..6)
        .flat_map(|_| frame(OpCode::Text, br#"42["x"]"#))
        .collect();
    let now = h.instant();
    let took = h.server.feed(sb, now, &mut burst).unwrap();
    assert!(took < burst.len(), "the queue is full");
    // ...A's transport drops (its Disconnect cannot be queued yet)...
    h.server.reset(sa, now).unwrap();
    assert_eq!(h.server.usage().parked, 0);
    // ...the application takes one event, and A comes back at once.
    let mut buf = vec![0u8; 1 << 16];
    assert!(h.server.poll_event(&mut buf).unwrap().is_some());
    let mut connect = frame(
        OpCode::Text,
        format!("40{}", auth(&pid, &offset)).as_bytes(),
    );
    let took_c = h.server.feed(sc, now, &mut connect).unwrap();
    assert_eq!(
        h.server.usage().parked,
        1,
        "parked once its Disconnect is queued"
    );
    h.send(sc, &connect[took_c..]);
    h.send(sb, &burst[took..]);
    assert!(last_recovered(&h));
    assert_eq!(h.last_socket(), a);
    assert_eq!(h.server.usage().unrecovered, 0);
    let texts = h.ws_texts(sc);
    assert!(texts[0].starts_with("40{\"sid\":\""), "{texts:?}");
}
