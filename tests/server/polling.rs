//! Engine.IO over HTTP long-polling (PROTOCOL.md A.5 to A.7, A.11).

use siocore::server::*;

use crate::harness::*;

fn engine_config() -> ServerConfig<'static> {
    ServerConfig {
        endpoints: &[Endpoint::ENGINE_IO],
        ..ServerConfig::DEFAULT
    }
}

#[test]
fn handshake_is_the_open_packet_alone() {
    let mut h = Harness::new(engine_config());
    let s = h.get("/engine.io/?EIO=4&transport=polling");
    let r = h.response(s);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type").unwrap(),
        b"text/plain; charset=UTF-8"
    );
    assert_eq!(r.header("cache-control").unwrap(), b"no-store");
    let sid = open_sid(&r.body);
    assert_eq!(sid.len(), 20);
    assert_eq!(
        r.text(),
        format!(
            r#"0{{"sid":"{sid}","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}}"#
        )
    );
    assert!(!h.is_closed(s), "keep-alive");
    assert!(matches!(h.take_events()[..], [Ev::EngineOpen(_)]));
}

/// An Engine.IO echo: every message goes back as it came.
fn echo_app() -> App {
    Box::new(|server, e| {
        if let Event::EngineMessage { session, data } = *e {
            server.send(session, data).unwrap();
        }
    })
}

#[test]
fn error_codes_and_statuses() {
    let mut h = Harness::new(engine_config());
    for (target, code) in [
        ("/engine.io/?transport=polling", 5),
        ("/engine.io/?EIO=4", 0),
        ("/engine.io/?EIO=abc&transport=abc", 0),
        ("/engine.io/?EIO=3&transport=polling", 5),
        ("/engine.io/?EIO=4&transport=polling&sid=nope", 1),
        ("/engine.io/?EIO=4&transport=websocket", 3),
    ] {
        let s = h.get(target);
        let r = h.response(s);
        assert_eq!(r.status, 400, "{target}");
        assert_eq!(r.header("content-type").unwrap(), b"application/json");
        let message = siocore::engine::ErrorCode::from_u8(code).unwrap().message();
        assert_eq!(
            r.text(),
            format!(r#"{{"code":{code},"message":"{message}"}}"#),
            "{target}"
        );
    }
    let s = h.post("/engine.io/?EIO=4&transport=polling", b"4x");
    let r = h.response(s);
    assert_eq!(
        (r.status, r.text()),
        (400, r#"{"code":2,"message":"Bad handshake method"}"#)
    );
}

#[test]
fn post_then_get_echo_batches_and_drops_noop() {
    let mut h = Harness::new(engine_config());
    h.app = echo_app();
    let sid = h.handshake("/engine.io/");
    let p = h.post(
        &format!("/engine.io/?EIO=4&transport=polling&sid={sid}"),
        "4\x1e6\x1e4€".as_bytes(),
    );
    let r = h.response(p);
    assert_eq!((r.status, r.text()), (200, "ok"));
    let g = h.get(&format!("/engine.io/?EIO=4&transport=polling&sid={sid}"));
    let r = h.response(g);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "4\x1e4€".as_bytes());
    // Lengths count bytes: `€` is three.
    assert_eq!(r.header("content-length").unwrap(), b"6");
}

#[test]
fn long_poll_waits_then_answers_with_everything_queued() {
    let mut h = Harness::new(engine_config());
    let sid = h.handshake("/engine.io/");
    let session = match h.take_events()[..] {
        [Ev::EngineOpen(s)] => s,
        ref e => panic!("{e:?}"),
    };
    let g = h.get(&format!("/engine.io/?EIO=4&transport=polling&sid={sid}"));
    assert!(!h.has_response(g), "waits");
    h.server.send(session, Data::Text("one")).unwrap();
    h.server.send(session, Data::Binary(&[1, 2, 3])).unwrap();
    h.server.send(session, Data::Text("")).unwrap();
    h.drain();
    let r = h.response(g);
    assert_eq!(r.body, b"4one\x1ebAQID\x1e4");
}

#[test]
fn second_concurrent_get_closes_the_session() {
    let mut h = Harness::new(engine_config());
    let sid = h.handshake("/engine.io/");
    let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
    let first = h.get(&target);
    let second = h.get(&target);
    let r = h.response(second);
    assert_eq!(r.status, 400);
    let r = h.response(first);
    assert_eq!((r.status, r.text()), (200, "1"));
    let later = h.get(&target);
    let r = h.response(later);
    assert_eq!(
        (r.status, r.text()),
        (400, r#"{"code":1,"message":"Session ID unknown"}"#)
    );
    assert!(
        h.take_events()
            .iter()
            .any(|e| matches!(e, Ev::EngineClose(_, CloseReason::TransportError)))
    );
}

#[test]
fn abandoned_get_closes_the_session() {
    let mut h = Harness::new(engine_config());
    let sid = h.handshake("/engine.io/");
    let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
    let g = h.get(&target);
    h.eof(g);
    assert!(h.is_closed(g));
    let r = {
        let s = h.get(&target);
        h.response(s)
    };
    assert_eq!(r.status, 400);
    assert!(
        h.take_events()
            .iter()
            .any(|e| matches!(e, Ev::EngineClose(_, CloseReason::TransportClose)))
    );
}

#[test]
fn post_over_max_payload_is_413_and_the_session_lives() {
    let mut h = Harness::new(ServerConfig {
        max_payload: 100,
        ..engine_config()
    });
    h.app = echo_app();
    let sid = h.handshake("/engine.io/");
    let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
    let big = vec![b'4'; 101];
    let p = h.post(&target, &big);
    assert_eq!(h.response(p).status, 413);
    let p = h.post(&target, b"4small");
    assert_eq!(h.response(p).status, 200);
    let g = h.get(&target);
    assert_eq!(h.response(g).body, b"4small");
}

#[test]
fn invalid_packet_in_post_closes_the_session() {
    for body in [
        &b"abc"[..],
        b"",
        b"4x\x1e",
        b"2",
        b"0",
        b"5",
        b"3probe",
        b"bAQ=x",
    ] {
        let mut h = Harness::new(engine_config());
        let sid = h.handshake("/engine.io/");
        let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        let p = h.post(&target, body);
        let _ = h.response(p);
        let g = h.get(&target);
        assert_eq!(
            h.response(g).status,
            400,
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn client_close_releases_the_get_with_noop() {
    let mut h = Harness::new(engine_config());
    let sid = h.handshake("/engine.io/");
    let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
    let g = h.get(&target);
    let p = h.post(&target, b"1");
    assert_eq!(h.response(p).status, 200);
    let r = h.response(g);
    assert_eq!((r.status, r.text()), (200, "6"));
    let later = h.get(&target);
    assert_eq!(h.response(later).status, 400);
    assert!(
        h.take_events()
            .iter()
            .any(|e| matches!(e, Ev::EngineClose(_, CloseReason::ClientClose)))
    );
}

#[test]
fn server_close_delivers_the_close_packet_on_the_next_get() {
    let mut h = Harness::new(engine_config());
    let sid = h.handshake("/engine.io/");
    let session = match h.take_events()[..] {
        [Ev::EngineOpen(s)] => s,
        ref e => panic!("{e:?}"),
    };
    h.server.send(session, Data::Text("bye")).unwrap();
    h.server.close(session).unwrap();
    h.drain();
    assert_eq!(
        h.take_events(),
        vec![Ev::EngineClose(session, CloseReason::ServerClose)]
    );
    let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
    let g = h.get(&target);
    assert_eq!(h.response(g).body, b"4bye\x1e1");
    let g = h.get(&target);
    assert_eq!(h.response(g).status, 400);
    assert_eq!(h.server.usage().sessions, 0);
}

#[test]
fn octet_stream_post_is_refused_and_closes() {
    let mut h = Harness::new(engine_config());
    let sid = h.handshake("/engine.io/");
    let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
    let req = format!(
        "POST {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 2\r\n\r\n4x"
    );
    let p = h.request(req.as_bytes());
    assert_eq!(h.response(p).status, 400);
    let g = h.get(&target);
    assert_eq!(h.response(g).status, 400);
}

#[test]
fn keep_alive_and_pipelined_requests_answer_in_order() {
    let mut h = Harness::new(engine_config());
    let sid = h.handshake("/engine.io/");
    let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
    let mut bytes = post(&target, b"4a");
    bytes.extend_from_slice(get("/engine.io/?EIO=4").as_bytes());
    bytes.extend_from_slice(&post(&target, b"4b"));
    let s = h.request(&bytes);
    assert_eq!(h.response(s).text(), "ok");
    assert_eq!(h.response(s).status, 400);
    assert_eq!(h.response(s).text(), "ok");
    assert!(!h.is_closed(s));
    let close = "GET /engine.io/?EIO=4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    h.send(s, close.as_bytes());
    let r = h.response(s);
    assert_eq!(r.header("connection").unwrap(), b"close");
    assert!(h.is_closed(s));
}
