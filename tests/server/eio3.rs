//! Engine.IO v3 clients (`EIO=3`, socket.io 2.x; `ServerConfig::allow_eio3`, feature
//! `eio3`): the handshake and the length-prefixed polling bodies (both framings), the
//! reversed heartbeat, binary frames with their type byte, the implicit `/`, namespaces
//! with a query, and the protocol v4 CONNECT and ERROR packets.

use crate::harness::*;
use siocore::server::*;
use siocore::ws::OpCode;

fn v3config() -> ServerConfig<'static> {
    ServerConfig {
        endpoints: &[Endpoint::SOCKET_IO, Endpoint::ENGINE_IO],
        namespaces: &["/", "/custom"],
        allow_eio3: true,
        ..ServerConfig::DEFAULT
    }
}

const V3_POLL: &str = "/socket.io/?EIO=3&transport=polling";

/// The v3 records of a polling body, as text (`<len>:` stripped; the length checked in
/// UTF-16 code units).
fn v3_records(body: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(body).unwrap();
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (len, after) = rest.split_once(':').unwrap();
        let units: usize = len.parse().unwrap();
        let mut end = 0;
        let mut counted = 0;
        for c in after.chars() {
            if counted == units {
                break;
            }
            counted += c.len_utf16();
            end += c.len_utf8();
        }
        assert_eq!(counted, units, "{text}");
        out.push(after[..end].to_string());
        rest = &after[end..];
    }
    out
}

/// A v3 polling session on `/socket.io/`: (sid, the records of its first responses).
fn v3_open(h: &mut Harness) -> (String, Vec<String>) {
    let s = h.get(V3_POLL);
    let r = h.response(s);
    assert_eq!(r.status, 200, "{r:?}");
    let records = v3_records(&r.body);
    assert!(records[0].starts_with("0{\"sid\":\""), "{records:?}");
    let sid = open_sid(records[0].as_bytes());
    (sid, records)
}

fn poll(h: &mut Harness, sid: &str) -> Vec<String> {
    let s = h.get(&format!("{V3_POLL}&sid={sid}"));
    let r = h.response(s);
    assert_eq!(r.status, 200, "{r:?}");
    v3_records(&r.body)
}

fn post_v3(h: &mut Harness, sid: &str, body: &[u8]) -> Resp {
    let s = h.post(&format!("{V3_POLL}&sid={sid}"), body);
    h.response(s)
}

#[test]
fn the_handshake_is_length_prefixed_and_joins_slash() {
    let mut h = Harness::new(v3config());
    let (sid, mut records) = v3_open(&mut h);
    if records.len() == 1 {
        records.extend(poll(&mut h, &sid));
    }
    // The open packet, then the CONNECT for `/` that nobody asked for (protocol v4).
    assert_eq!(records.len(), 2, "{records:?}");
    assert!(records[0].contains("\"pingInterval\":25000"), "{records:?}");
    assert_eq!(records[1], "40");
    let connect = h
        .events
        .iter()
        .find_map(|e| match e {
            Ev::Connect { name, auth, .. } => Some((name.clone(), auth.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(connect, ("/".to_string(), "{}".to_string()));
    // Without `allow_eio3`: code 5, as Node.
    let mut plain = Harness::new(ServerConfig {
        allow_eio3: false,
        ..v3config()
    });
    let s = plain.get(V3_POLL);
    let r = plain.response(s);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text(),
        r#"{"code":5,"message":"Unsupported protocol version"}"#
    );
}

#[test]
fn text_bodies_count_utf16_units_both_ways() {
    let mut h = Harness::new(v3config());
    let (sid, _) = v3_open(&mut h);
    poll(&mut h, &sid);
    let socket = h.last_socket();
    // `é` is 1 unit and 2 bytes, `😀` 2 units and 4 bytes.
    let event = r#"42["hi","é😀"]"#;
    let units: usize = event.chars().map(char::len_utf16).sum();
    let body = format!("{units}:{event}1:2");
    assert_eq!(post_v3(&mut h, &sid, body.as_bytes()).text(), "ok");
    assert!(matches!(
        h.events.last(),
        Some(Ev::Message { name, args, .. }) if name == "hi" && args == r#""é😀""#
    ));
    // The ping is answered with a pong; an emit comes in the same framing.
    h.server
        .emit(socket, "yo", Args::json("\"€\"".as_bytes()))
        .unwrap();
    h.drain();
    assert_eq!(poll(&mut h, &sid), vec!["3", r#"42["yo","€"]"#]);
    // A length that does not match the bytes ends the session.
    assert_eq!(post_v3(&mut h, &sid, b"5:42[]").status, 400);
    assert!(matches!(
        h.events.last(),
        Some(Ev::Disconnect(
            _,
            DisconnectReason::Session(CloseReason::ParseError)
        ))
    ));
}

#[test]
fn binary_events_in_both_framings_and_out_as_base64() {
    let mut h = Harness::new(v3config());
    let (sid, _) = v3_open(&mut h);
    poll(&mut h, &sid);
    let socket = h.last_socket();
    // The text framing: the attachment as `b4<base64>`.
    let event = r#"451-["bin",{"_placeholder":true,"num":0}]"#;
    let body = format!("{}:{event}6:b4AQID", event.len());
    assert_eq!(post_v3(&mut h, &sid, body.as_bytes()).text(), "ok");
    assert!(matches!(
        h.events.last(),
        Some(Ev::Message { name, attachments, .. }) if name == "bin" && attachments == &[vec![1u8, 2, 3]]
    ));
    // The binary framing (XHR2, `application/octet-stream`): `0`/`1`, the length's digits
    // as bytes, 0xFF, the packet (binary: the type byte 4 first).
    let mut xhr2 = vec![0u8];
    xhr2.extend(event.len().to_string().bytes().map(|d| d - b'0'));
    xhr2.push(0xff);
    xhr2.extend_from_slice(event.as_bytes());
    xhr2.extend_from_slice(&[1, 4, 0xff, 4, 9, 8, 7]);
    let req = format!(
        "POST {V3_POLL}&sid={sid} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        xhr2.len()
    );
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(&xhr2);
    let s = h.request(&bytes);
    assert_eq!(h.response(s).text(), "ok");
    assert!(matches!(
        h.events.last(),
        Some(Ev::Message { name, attachments, .. }) if name == "bin" && attachments == &[vec![9u8, 8, 7]]
    ));
    // Out: `b4` and base64, each record with its length.
    h.server
        .emit(
            socket,
            "b",
            Args::binary(br#"{"_placeholder":true,"num":0}"#, &[&[0xca, 0xfe]]),
        )
        .unwrap();
    h.drain();
    assert_eq!(
        poll(&mut h, &sid),
        vec![r#"451-["b",{"_placeholder":true,"num":0}]"#, "b4yv4="]
    );
}

#[test]
fn the_client_pings_and_a_silent_one_is_closed() {
    let mut h = Harness::new(ServerConfig {
        ping_interval: 300,
        ping_timeout: 200,
        ..v3config()
    });
    let (sid, _) = v3_open(&mut h);
    poll(&mut h, &sid);
    // The server never pings a v3 client; its pings keep it up.
    for _ in 0..5 {
        h.advance(400);
        assert_eq!(post_v3(&mut h, &sid, b"1:2").text(), "ok");
        assert_eq!(poll(&mut h, &sid), vec!["3"]);
    }
    // A pong from a v3 client is the wrong direction.
    let (sid2, _) = v3_open(&mut h);
    poll(&mut h, &sid2);
    assert_eq!(post_v3(&mut h, &sid2, b"1:3").status, 400);
    // Silent for ping interval + timeout: closed.
    h.advance(499);
    assert!(!h.events.iter().any(|e| matches!(
        e,
        Ev::Disconnect(_, DisconnectReason::Session(CloseReason::PingTimeout))
    )));
    h.advance(1);
    assert!(matches!(
        h.events.last(),
        Some(Ev::Disconnect(
            _,
            DisconnectReason::Session(CloseReason::PingTimeout)
        ))
    ));
}

#[test]
fn websocket_binary_frames_carry_the_type_byte() {
    let mut h = Harness::new(v3config());
    let s = h.ws("/socket.io/?EIO=3&transport=websocket");
    let texts = h.ws_texts(s);
    assert!(texts[0].starts_with("0{"), "{texts:?}");
    assert_eq!(texts[1], "40");
    let socket = h.last_socket();
    h.ws_send_text(s, r#"451-["bin",{"_placeholder":true,"num":0}]"#);
    h.ws_send_binary(s, &[4, 1, 2]);
    assert!(matches!(
        h.events.last(),
        Some(Ev::Message { attachments, .. }) if attachments == &[vec![1u8, 2]]
    ));
    h.server
        .emit(
            socket,
            "b",
            Args::binary(br#"{"_placeholder":true,"num":0}"#, &[&[7]]),
        )
        .unwrap();
    h.drain();
    let frames = h.ws_frames(s);
    assert_eq!(frames[1].opcode, OpCode::Binary);
    assert_eq!(frames[1].payload, vec![4, 7]);
    // Pings over WebSocket.
    h.ws_send_text(s, "2");
    assert_eq!(h.ws_texts(s), vec!["3"]);
    // A binary frame without its type byte is a parse error.
    h.ws_send_text(s, r#"451-["bin",{"_placeholder":true,"num":0}]"#);
    h.ws_send_binary(s, &[1, 2]);
    assert!(matches!(
        h.events.last(),
        Some(Ev::Disconnect(
            _,
            DisconnectReason::Session(CloseReason::ParseError)
        ))
    ));
}

#[test]
fn namespaces_take_their_query_as_auth_and_get_v4_answers() {
    let mut h = Harness::new(v3config());
    h.app = Box::new(|server, e| {
        if let Event::Connect(c) = e {
            if c.name == "/custom" && c.auth == br#"{"token":"a b","x":""}"# {
                server.accept(c.socket).unwrap();
            } else if c.name == "/custom" {
                server.refuse(c.socket, "nope", None).unwrap();
            } else {
                server.accept(c.socket).unwrap();
            }
        }
    });
    let s = h.ws("/socket.io/?EIO=3&transport=websocket");
    assert_eq!(h.ws_texts(s)[1], "40");
    h.ws_send_text(s, "40/custom?token=a+b&x,");
    assert_eq!(h.ws_texts(s), vec!["40/custom,"]);
    h.ws_send_text(s, "41/custom,");
    // Refused by the application: the message as a plain string.
    h.ws_send_text(s, "40/custom?token=bad,");
    assert_eq!(h.ws_texts(s), vec![r#"44/custom,"nope""#]);
    // An unknown namespace: the object, as Node sends it to v3 clients too.
    h.ws_send_text(s, "40/nope,");
    assert_eq!(
        h.ws_texts(s),
        vec![r#"44/nope,{"message":"Invalid namespace"}"#]
    );
}

#[test]
fn v3_and_v4_clients_share_a_broadcast() {
    let mut h = Harness::new(v3config());
    let s3 = h.ws("/socket.io/?EIO=3&transport=websocket");
    h.ws_texts(s3);
    let (s4, _) = h.sio_ws();
    let ns = h.server.namespace("/").unwrap();
    h.server
        .broadcast(
            ns,
            &Targets::ALL,
            "all",
            Args::binary(br#"{"_placeholder":true,"num":0}"#, &[&[5]]),
        )
        .unwrap();
    h.drain();
    let f3 = h.ws_frames(s3);
    let f4 = h.ws_frames(s4);
    assert_eq!(f3[0].payload, f4[0].payload);
    assert_eq!(f3[1].payload, vec![4, 5]);
    assert_eq!(f4[1].payload, vec![5]);
}

#[test]
fn the_upgrade_releases_the_long_poll_in_v3_framing() {
    let mut h = Harness::new(v3config());
    let (sid, _) = v3_open(&mut h);
    poll(&mut h, &sid);
    // A long-poll waits; the WebSocket probes.
    let get = h.get(&format!("{V3_POLL}&sid={sid}"));
    let ws = h.ws(&format!("/socket.io/?EIO=3&transport=websocket&sid={sid}"));
    h.ws_send_text(ws, "2probe");
    assert_eq!(h.ws_texts(ws), vec!["3probe"]);
    let r = h.response(get);
    assert_eq!(r.text(), "1:6");
    // A long-poll that comes once the probe is answered is released at once, likewise.
    let late = h.get(&format!("{V3_POLL}&sid={sid}"));
    assert_eq!(h.response(late).text(), "1:6");
    h.ws_send_text(ws, "5");
    let socket = h.last_socket();
    h.server.emit(socket, "on-ws", Args::json(b"1")).unwrap();
    h.drain();
    assert_eq!(h.ws_texts(ws), vec![r#"42["on-ws",1]"#]);
}
