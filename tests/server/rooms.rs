//! Rooms and broadcasts.

use siocore::server::*;

use crate::harness::*;

fn config() -> ServerConfig<'static> {
    ServerConfig {
        namespaces: &["/", "/other"],
        ..ServerConfig::DEFAULT
    }
}

/// `n` WebSocket clients connected to `/`.
fn clients(h: &mut Harness, n: usize) -> Vec<(StreamId, SocketId)> {
    (0..n).map(|_| h.sio_ws()).collect()
}

#[test]
fn broadcast_reaches_everyone_once_with_the_same_bytes() {
    let mut h = Harness::new(config());
    let c = clients(&mut h, 4);
    let ns = h.server.namespace("/").unwrap();
    let sent = h
        .server
        .broadcast(ns, &Targets::ALL, "news", Args::json(br#"{"a":1}"#))
        .unwrap();
    assert_eq!(sent, 4);
    h.drain();
    for (s, _) in &c {
        assert_eq!(h.ws_texts(*s), vec![r#"42["news",{"a":1}]"#]);
    }
}

#[test]
fn rooms_except_and_own_id_rooms() {
    let mut h = Harness::new(config());
    let c = clients(&mut h, 4);
    let ns = h.server.namespace("/").unwrap();
    let (a, b, x, y) = (c[0].1, c[1].1, c[2].1, c[3].1);
    h.server.join(a, "red").unwrap();
    h.server.join(b, "red").unwrap();
    h.server.join(b, "blue").unwrap();
    h.server.join(x, "blue").unwrap();
    h.server.join(a, "red").unwrap(); // twice is once
    assert_eq!(h.server.room_len(ns, "red"), 2);
    assert!(h.server.in_room(b, "blue"));
    let y_id = h.server.socket_sid(y).unwrap();
    assert!(h.server.in_room(y, y_id.as_str()));

    // red + blue: b is in both and gets it once.
    let n = h
        .server
        .broadcast(ns, &Targets::to(&["red", "blue"]), "m", Args::json(b"1"))
        .unwrap();
    assert_eq!(n, 3);
    // Everyone but the sender.
    let n = h
        .server
        .broadcast(ns, &Targets::all_except(&[a]), "m", Args::json(b"2"))
        .unwrap();
    assert_eq!(n, 3);
    // A room minus another room.
    let t = Targets {
        rooms: &["red"],
        except_rooms: &["blue"],
        except: &[],
    };
    assert_eq!(
        h.server.broadcast(ns, &t, "m", Args::json(b"3")).unwrap(),
        1
    );
    // A socket's own room, and a room that does not exist.
    let n = h
        .server
        .broadcast(
            ns,
            &Targets::to(&[y_id.as_str(), "nobody"]),
            "m",
            Args::json(b"4"),
        )
        .unwrap();
    assert_eq!(n, 1);
    h.drain();
    let got: Vec<Vec<String>> = c.iter().map(|(s, _)| h.ws_texts(*s)).collect();
    assert_eq!(got[0], vec![r#"42["m",1]"#, r#"42["m",3]"#]);
    assert_eq!(got[1], vec![r#"42["m",1]"#, r#"42["m",2]"#]);
    assert_eq!(got[2], vec![r#"42["m",1]"#, r#"42["m",2]"#]);
    assert_eq!(got[3], vec![r#"42["m",2]"#, r#"42["m",4]"#]);

    // Leaving, and rooms vanish when empty.
    h.server.leave(a, "red").unwrap();
    h.server.leave(b, "red").unwrap();
    assert_eq!(h.server.room_len(ns, "red"), 0);
    assert_eq!(h.server.usage().rooms, 1);
    h.server.leave(x, "never-joined").unwrap();
    // A disconnect leaves every room.
    h.reset(c[1].0);
    h.reset(c[2].0);
    assert_eq!(h.server.usage().rooms, 0);
    assert_eq!(h.server.usage().members, 0);
}

#[test]
fn broadcast_stays_in_its_namespace() {
    let mut h = Harness::new(config());
    let (s1, _) = h.sio_ws();
    let (s2, _) = h.ws_handshake("/socket.io/");
    h.ws_send_text(s2, "40/other,");
    let _ = h.ws_texts(s2);
    let other = h.server.namespace("/other").unwrap();
    assert_eq!(
        h.server
            .broadcast(other, &Targets::ALL, "o", Args::NONE)
            .unwrap(),
        1
    );
    h.drain();
    assert!(h.ws_texts(s1).is_empty());
    assert_eq!(h.ws_texts(s2), vec![r#"42/other,["o"]"#]);
}

#[test]
fn binary_broadcast_over_both_transports() {
    let mut h = Harness::new(config());
    let (ws, _) = h.sio_ws();
    let sid = h.handshake("/socket.io/");
    let poll = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let p = h.post(&poll, b"40");
    assert_eq!(h.response(p).text(), "ok");
    let g = h.get(&poll);
    let _ = h.response(g);
    let ns = h.server.namespace("/").unwrap();
    let json = br#""pic",{"_placeholder":true,"num":0}"#;
    assert_eq!(
        h.server
            .broadcast(
                ns,
                &Targets::ALL,
                "file",
                Args::binary(json, &[&[0xde, 0xad, 0xbe, 0xef]])
            )
            .unwrap(),
        2
    );
    h.drain();
    assert_eq!(
        h.ws_texts(ws),
        vec![
            r#"451-["file","pic",{"_placeholder":true,"num":0}]"#.to_string(),
            "<deadbeef>".to_string()
        ]
    );
    let g = h.get(&poll);
    assert_eq!(
        h.response(g).text(),
        "451-[\"file\",\"pic\",{\"_placeholder\":true,\"num\":0}]\x1eb3q2+7w=="
    );
}
