//! Hostile and stuck peers: HTTP deadlines (`headers_timeout`, `request_timeout`), heads
//! refused as soon as they cannot be valid, output held back for a driver that cannot
//! write (`pause_transmit`), and the per-socket room cap.

use siocore::Instant;
use siocore::server::*;

use crate::harness::*;

/// Timeouts short enough to read in a test: a head within 1 s, a body within 3 s.
fn short() -> ServerConfig<'static> {
    ServerConfig {
        headers_timeout: 1_000,
        request_timeout: 3_000,
        ..config()
    }
}

#[test]
fn a_head_sent_slowly_gets_408_at_the_head_deadline() {
    let mut h = Harness::new(short());
    let s = h.connect();
    h.send(s, b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHo");
    h.at(500);
    // More bytes, still no whole head: the deadline runs from the start, not from them.
    h.send(s, b"st: x\r\nX-A: ");
    h.at(999);
    assert!(!h.is_closed(s) && !h.has_response(s));
    h.at(1_000);
    assert_eq!(h.response(s).status, 408);
    assert!(h.is_closed(s));
}

#[test]
fn a_connection_that_sends_nothing_is_closed_without_a_word() {
    let mut h = Harness::new(short());
    let s = h.connect();
    h.at(999);
    assert!(!h.is_closed(s));
    h.at(1_000);
    assert!(h.is_closed(s));
    assert!(h.take_out(s).is_empty());
}

#[test]
fn a_kept_alive_connection_gets_the_head_deadline_after_each_response() {
    let mut h = Harness::new(short());
    let s = h.connect();
    h.at(900);
    h.send(s, b"GET /page HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(h.response(s).status, 404);
    // A second request 900 ms after the first response: in time.
    h.at(1_800);
    h.send(s, b"GET /page HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(h.response(s).status, 404);
    h.at(2_799);
    assert!(!h.is_closed(s));
    h.at(2_800);
    assert!(
        h.is_closed(s),
        "idle for the head deadline after its last response"
    );
    assert!(h.take_out(s).is_empty());
}

#[test]
fn a_body_gets_the_request_deadline_once_its_head_is_in() {
    let mut h = Harness::new(short());
    let sid = h.handshake("/socket.io/");
    let s = h.connect();
    let head = format!(
        "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n\
         Host: x\r\nContent-Length: 100\r\n\r\n40"
    );
    h.send(s, head.as_bytes());
    h.at(2_999);
    assert!(!h.is_closed(s), "past the head deadline, within the body's");
    h.at(3_000);
    assert_eq!(h.response(s).status, 408);
    assert!(h.is_closed(s));
}

#[test]
fn long_polls_and_websockets_are_not_under_the_http_deadlines() {
    let mut h = Harness::new(ServerConfig {
        ping_interval: 60_000,
        ping_timeout: 60_000,
        connect_timeout: 120_000,
        ..short()
    });
    let sid = h.handshake("/socket.io/");
    let get = h.get(&format!("/socket.io/?EIO=4&transport=polling&sid={sid}"));
    let (ws, _) = h.ws_handshake("/socket.io/");
    h.run_until(30_000);
    assert!(!h.is_closed(get) && !h.has_response(get));
    assert!(!h.is_closed(ws));
    // The long-poll is answered by the first ping; its connection then waits for a
    // head again.
    h.run_until(60_000);
    assert_eq!(h.response(get).body, b"2");
    h.at(60_999);
    assert!(!h.is_closed(get));
    h.at(61_000);
    assert!(h.is_closed(get));
}

#[test]
fn a_head_that_cannot_become_valid_is_refused_at_once() {
    let mut h = Harness::new(short());
    // A TLS ClientHello on the plain port.
    let s = h.request(&[
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ]);
    assert_eq!(h.response(s).status, 400);
    assert!(h.is_closed(s));
    // A good request line, then a control byte in a header.
    let s = h.request(b"GET / HTTP/1.1\r\nHost: a\x01b");
    assert_eq!(h.response(s).status, 400);
    assert!(h.is_closed(s));
    // A whole line the parser refuses, long before the head limit.
    let s = h.request(b"GE(T / HTTP/1.1\r\n");
    assert_eq!(h.response(s).status, 400);
    assert!(h.is_closed(s));
    let s = h.request(b"GET / HTTP/1.1\r\nBad Name: x\r\n");
    assert_eq!(h.response(s).status, 400);
    assert!(h.is_closed(s));
    // Byte by byte, a valid head is still fine.
    h.chunk = Some(1);
    let s = h.request(b"GET /page HTTP/1.1\r\nHost: x\r\nX-Tab:\ta\r\n\r\n");
    assert_eq!(h.response(s).status, 404);
    assert!(!h.is_closed(s));
}

#[test]
fn a_paused_stream_gets_nothing_until_it_resumes_and_its_session_queue_is_capped() {
    let mut h = Harness::new(ServerConfig {
        max_queued_bytes: 2_000,
        ..short()
    });
    let (ws, socket) = h.sio_ws();
    h.take_out(ws);
    h.server.pause_transmit(ws).unwrap();
    for i in 0..3 {
        h.server
            .emit(socket, "n", Args::json(format!("{i}").as_bytes()))
            .unwrap();
    }
    h.drain();
    assert!(h.take_out(ws).is_empty(), "nothing for a paused stream");
    // Resuming twice is harmless; the packets come in order.
    h.server.resume_transmit(ws).unwrap();
    h.server.resume_transmit(ws).unwrap();
    h.drain();
    assert_eq!(
        h.ws_texts(ws),
        vec![r#"42["n",0]"#, r#"42["n",1]"#, r#"42["n",2]"#]
    );
    // Paused again, the queue fills up to the cap: the session is closed as a slow reader
    // and its queue released.
    h.server.pause_transmit(ws).unwrap();
    let big = format!("\"{}\"", "x".repeat(900));
    h.server
        .emit(socket, "b", Args::json(big.as_bytes()))
        .unwrap();
    h.server
        .emit(socket, "b", Args::json(big.as_bytes()))
        .unwrap();
    assert_eq!(
        h.server.emit(socket, "b", Args::json(big.as_bytes())),
        Err(CommandError::SlowReader)
    );
    h.drain();
    assert!(h.events.contains(&Ev::Disconnect(
        socket,
        DisconnectReason::Session(CloseReason::SlowReader)
    )));
    assert_eq!(h.server.usage().blocks, 0, "the queue was released");
    // Its connection is cut at once: the close comes although the stream is paused (the
    // driver drops what it kept), without a close frame the client would not read.
    assert!(h.is_closed(ws));
    assert!(h.take_out(ws).is_empty());
    assert_eq!(h.server.usage().streams, 0);
}

#[test]
fn a_paused_response_that_is_never_read_is_closed_at_the_head_deadline() {
    let mut h = Harness::new(short());
    h.app = Box::new(|server, e| {
        if let Event::Http(r) = e {
            server.respond(r.stream, 200, &[], &[b'x'; 10_000]).unwrap();
        }
    });
    h.out_buf = 1_000;
    let s = h.connect();
    // The driver takes the first 1 000 bytes, then its socket is full.
    h.server.pause_transmit(s).unwrap();
    h.send(s, b"GET /file HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(h.take_out(s).is_empty());
    h.server.resume_transmit(s).unwrap();
    let mut buf = [0u8; 1_000];
    let t = h.server.poll_transmit(&mut buf).unwrap();
    assert_eq!((t.stream, t.len, t.close), (s, 1_000, false));
    h.server.pause_transmit(s).unwrap();
    assert!(h.server.poll_transmit(&mut buf).is_none());
    h.at(999);
    assert!(!h.is_closed(s));
    h.at(1_000);
    assert!(
        h.is_closed(s),
        "the response did not move for the head deadline"
    );
    assert_eq!(h.server.usage().blocks, 0);
}

#[test]
fn a_socket_joins_at_most_max_rooms_per_socket() {
    let mut h = Harness::new(ServerConfig {
        max_rooms_per_socket: 2,
        ..config()
    });
    let (_, a) = h.sio_ws();
    let (_, b) = h.sio_ws();
    h.server.join(a, "r1").unwrap();
    h.server.join(a, "r2").unwrap();
    h.server.join(a, "r2").unwrap();
    assert_eq!(
        h.server.join(a, "r3"),
        Err(CommandError::SocketLimit(Resource::Members))
    );
    // Another socket is not affected, and leaving makes room.
    h.server.join(b, "r3").unwrap();
    h.server.join(b, "r1").unwrap();
    h.server.leave(a, "r1").unwrap();
    h.server.join(a, "r3").unwrap();
    assert_eq!(h.server.usage().members, 4);
}

#[test]
fn a_post_that_waited_for_room_leaves_an_idle_connection_not_a_partial_one() {
    // One event per client at a time: the POST's second packet waits for the first to be
    // polled, then the POST is answered; afterwards the connection is merely idle.
    let mut h = Harness::new(ServerConfig {
        max_inbound_events: 1,
        ..short()
    });
    let sid = h.handshake("/socket.io/");
    let s = h.post(
        &format!("/socket.io/?EIO=4&transport=polling&sid={sid}"),
        b"40",
    );
    assert_eq!(h.response(s).body, b"ok");
    let body = b"42[\"a\",1]\x1e42[\"b\",2]";
    let head = format!(
        "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    h.send(s, &[head.as_bytes(), body].concat());
    assert_eq!(h.response(s).body, b"ok");
    let names: Vec<String> = h
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            Ev::Message { name, .. } => Some(name),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["a", "b"]);
    h.advance(1_000);
    assert!(h.is_closed(s));
    assert!(h.take_out(s).is_empty(), "closed without a 408");
}

#[test]
fn when_queue_entries_run_short_the_clients_holding_more_than_their_share_are_shed() {
    // 16 queue entries for 4 sessions: a share of 4 each.
    let cap = Capacity {
        sessions: 4,
        nodes: 16,
        ..Capacity::for_sessions(4, 1 << 20)
    };
    let mut h = Harness::with_capacity(config(), cap);
    // A polling client joins and then never polls again (gone between two requests).
    let sid = h.handshake("/socket.io/");
    let post = h.post(
        &format!("/socket.io/?EIO=4&transport=polling&sid={sid}"),
        b"40",
    );
    assert_eq!(h.response(post).body, b"ok");
    let gone = h.last_socket();
    // A WebSocket client that reads everything.
    let (ws, _) = h.sio_ws();
    let ns = h.server.namespace("/").unwrap();
    for i in 0..40 {
        let n = h
            .server
            .broadcast(
                ns,
                &Targets::ALL,
                "n",
                Args::json(format!("{i}").as_bytes()),
            )
            .unwrap_or_else(|e| panic!("broadcast {i}: {e}"));
        assert!(n >= 1);
        h.drain();
    }
    let texts = h.ws_texts(ws);
    assert_eq!(texts.len(), 40, "the reading client got every broadcast");
    assert_eq!(texts[39], r#"42["n",39]"#);
    assert!(h.events.contains(&Ev::Disconnect(
        gone,
        DisconnectReason::Session(CloseReason::SlowReader)
    )));
}

#[test]
fn an_unanswered_request_gets_503_at_the_request_deadline() {
    let mut h = Harness::new(short());
    // The application takes the request and never answers it.
    h.app = Box::new(|_, _| {});
    let s = h.request(b"GET /page HTTP/1.1\r\nHost: x\r\n\r\n");
    h.at(2_999);
    assert!(!h.has_response(s));
    h.at(3_000);
    assert_eq!(h.response(s).status, 503);
    assert!(h.is_closed(s));
}

#[test]
fn a_whole_request_the_server_has_no_room_for_gets_503_not_408() {
    // One event slot, and nobody polls: the second request is whole but held.
    let cap = Capacity {
        events: 1,
        ..Capacity::for_sessions(4, 1 << 16)
    };
    let config = short();
    let mut server = Server::new(config, Storage::growable(cap), SEED, Instant::ZERO).unwrap();
    let t0 = Instant::ZERO;
    let (a, b) = (
        server.open_stream(t0).unwrap(),
        server.open_stream(t0).unwrap(),
    );
    let mut req = b"GET /page HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    assert_eq!(server.feed(a, t0, &mut req.clone()).unwrap(), req.len());
    assert_eq!(server.feed(b, t0, &mut req).unwrap(), 0, "no room: held");
    server.handle_timeout(Instant::from_millis(1_000));
    let mut out = [0u8; 1024];
    let t = server.poll_transmit(&mut out).unwrap();
    assert_eq!(t.stream, b);
    assert!(
        out[..t.len].starts_with(b"HTTP/1.1 503 "),
        "{:?}",
        &out[..t.len]
    );
}

#[test]
fn a_stalled_post_never_reaches_the_session_that_takes_its_slot() {
    // One event per client at a time, and nobody polls: a POST of three packets stalls
    // after the first. A second POST ends the session; a new one takes its slot.
    let config = ServerConfig {
        max_inbound_events: 1,
        ..short()
    };
    let cap = Capacity::for_sessions(1, 1 << 16);
    let mut server = Server::new(config, Storage::growable(cap), SEED, Instant::ZERO).unwrap();
    let now = Instant::from_millis(1);
    let mut out = [0u8; 4096];
    let handshake = |server: &mut Server<'_>, out: &mut [u8]| -> String {
        let s = server.open_stream(now).unwrap();
        let mut get = get("/socket.io/?EIO=4&transport=polling").into_bytes();
        assert_eq!(server.feed(s, now, &mut get).unwrap(), get.len());
        let t = server.poll_transmit(out).unwrap();
        let text = String::from_utf8_lossy(&out[..t.len]).to_string();
        let at = text.find("\"sid\":\"").unwrap() + 7;
        text[at..at + 20].to_string()
    };
    let sid = handshake(&mut server, &mut out);
    let target = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let p1 = server.open_stream(now).unwrap();
    let mut body = post(&target, b"40\x1e42[\"a\"]\x1e42[\"b\"]");
    let taken = server.feed(p1, now, &mut body).unwrap();
    assert_eq!(taken, 0, "the POST waits for room, unconsumed");
    let p2 = server.open_stream(now).unwrap();
    let mut second = post(&target, b"3");
    server.feed(p2, now, &mut second).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    while let Ok(Some(_)) = server.poll_event(&mut buf) {}
    while server.poll_transmit(&mut out).is_some() {}
    assert_eq!(server.usage().sessions, 0, "the session ended");
    // A new client takes the slot; the first POST's body is offered again: its stream was
    // answered and closed with the session.
    let _ = handshake(&mut server, &mut out);
    let _ = server.feed(p1, now, &mut body);
    let mut events = Vec::new();
    while let Ok(Some(e)) = server.poll_event(&mut buf) {
        events.push(format!("{e:?}"));
    }
    assert!(
        events.is_empty(),
        "nothing reached the new session: {events:?}"
    );
    while server.poll_transmit(&mut out).is_some() {}
    assert_eq!(server.usage().sessions, 1, "the new session lives on");
}

#[test]
fn a_stream_the_server_gave_up_on_cannot_be_paused_again() {
    let mut h = Harness::new(short());
    h.app = Box::new(|server, e| {
        if let Event::Http(r) = e {
            server.respond(r.stream, 200, &[], &[b'x'; 10_000]).unwrap();
        }
    });
    let s = h.connect();
    h.server.pause_transmit(s).unwrap();
    h.send(s, b"GET /file HTTP/1.1\r\nHost: x\r\n\r\n");
    // The deadline passes and the server gives up; a driver that pauses again (its socket
    // still full) must not hold the close back.
    h.now = 1_000;
    h.server.handle_timeout(h.instant());
    h.server.pause_transmit(s).unwrap();
    h.drain();
    assert!(h.is_closed(s));
    assert_eq!(h.server.usage().streams, 0);
}

#[test]
fn a_driver_that_drains_a_paused_stream_moves_its_deadline() {
    let mut h = Harness::new(short());
    h.app = Box::new(|server, e| {
        if let Event::Http(r) = e {
            server.respond(r.stream, 200, &[], &[b'x'; 10_000]).unwrap();
        }
    });
    h.out_buf = 1_000;
    let s = h.connect();
    h.server.pause_transmit(s).unwrap();
    h.send(s, b"GET /file HTTP/1.1\r\nHost: x\r\n\r\n");
    // A slow reader: every 900 ms the driver's buffer drains and the next chunk goes.
    for k in 1..=10 {
        h.at(900 * k);
        assert!(!h.is_closed(s), "cut at {} ms", 900 * k);
        h.server.resume_transmit(s).unwrap();
        let mut buf = [0u8; 1_000];
        if let Some(t) = h.server.poll_transmit(&mut buf) {
            assert_eq!(t.stream, s);
        }
        h.server.pause_transmit(s).unwrap();
    }
}
