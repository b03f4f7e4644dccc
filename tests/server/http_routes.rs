//! Plain HTTP on the same port: requests the app answers.

use siocore::http::Header;
use siocore::server::*;

use crate::harness::*;

fn page_app() -> App {
    Box::new(|server, e| {
        if let Event::Http(r) = *e {
            let body = format!("{} {} {}", r.method(), r.path(), r.query());
            let ua = r
                .header("user-agent")
                .map(|v| String::from_utf8_lossy(v).into_owned());
            let mut text = body;
            if let Some(ua) = ua {
                text.push_str(&format!(" ua={ua}"));
            }
            if !r.body().is_empty() {
                text.push_str(&format!(" body={}", String::from_utf8_lossy(r.body())));
            }
            let headers = [Header {
                name: "Content-Type",
                value: b"text/plain",
            }];
            server
                .respond(r.stream, 200, &headers, text.as_bytes())
                .unwrap();
        }
    })
}

#[test]
fn a_page_beside_socket_io() {
    let mut h = Harness::new(ServerConfig::DEFAULT);
    h.app = page_app();
    let s = h.request(b"GET /index.html?x=1 HTTP/1.1\r\nHost: x\r\nUser-Agent:  test/1 \r\n\r\n");
    let r = h.response(s);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "GET /index.html x=1 ua=test/1");
    assert_eq!(r.header("content-type").unwrap(), b"text/plain");
    assert_eq!(r.header("connection").unwrap(), b"keep-alive");
    // The client bundle path under /socket.io/ is the app's too.
    h.send(s, get("/socket.io/socket.io.js").as_bytes());
    assert_eq!(h.response(s).text(), "GET /socket.io/socket.io.js ");
    // And Socket.IO still answers on the same connection.
    h.send(s, get("/socket.io/?EIO=4&transport=polling").as_bytes());
    let r = h.response(s);
    assert!(r.text().starts_with("0{\"sid\""));
    let e = h.take_events();
    assert!(
        matches!(&e[0], Ev::Http { method, target, .. } if method == "GET" && target == "/index.html?x=1")
    );
}

#[test]
fn pipelined_requests_wait_for_their_turn() {
    let mut h = Harness::new(ServerConfig::DEFAULT);
    // An app that answers only when told.
    h.app = Box::new(|_, _| {});
    let mut bytes = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc".to_vec();
    bytes.extend_from_slice(get("/b").as_bytes());
    let s = h.request(&bytes);
    let first = match &h.take_events()[..] {
        [
            Ev::Http {
                stream,
                target,
                body,
                ..
            },
        ] => {
            assert_eq!((target.as_str(), body.as_slice()), ("/a", &b"abc"[..]));
            *stream
        }
        e => panic!("{e:?}"),
    };
    assert_eq!(first, s);
    h.server.respond(s, 201, &[], b"one").unwrap();
    h.drain();
    let events = h.take_events();
    assert!(
        matches!(&events[..], [Ev::Http { target, .. }] if target == "/b"),
        "{events:?}"
    );
    assert_eq!(h.server.respond(s, 200, &[], b"").map(|_| ()), Ok(()));
    assert_eq!(
        h.server.respond(s, 200, &[], b""),
        Err(CommandError::WrongState)
    );
    h.drain();
    let r = h.response(s);
    assert_eq!((r.status, r.text()), (201, "one"));
    assert_eq!(h.response(s).status, 200);
}

#[test]
fn connection_close_and_http_1_0() {
    let mut h = Harness::new(ServerConfig::DEFAULT);
    h.app = page_app();
    let s = h.request(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(h.response(s).header("connection").unwrap(), b"close");
    assert!(h.is_closed(s));
    let s = h.request(b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(h.response(s).status, 200);
    assert!(h.is_closed(s));
    let s = h.request(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(h.response(s).status, 200);
    assert!(!h.is_closed(s));
}

#[test]
fn half_closed_client_still_gets_its_answer() {
    let mut h = Harness::new(ServerConfig::DEFAULT);
    h.app = Box::new(|_, _| {});
    let s = h.request(get("/").as_bytes());
    h.eof(s);
    assert!(!h.is_closed(s), "the answer is owed");
    h.server.respond(s, 200, &[], b"late").unwrap();
    h.drain();
    let r = h.response(s);
    assert_eq!(
        (r.text(), r.header("connection").unwrap()),
        ("late", &b"close"[..])
    );
    assert!(h.is_closed(s));
}

#[test]
fn refused_requests() {
    let cases: [(&[u8], u16); 5] = [
        (b"GARBAGE\x01\r\n\r\n", 400),
        (
            b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            411,
        ),
        (
            b"POST /x HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n",
            413,
        ),
        (
            b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            400,
        ),
        (b"GET / HTTP/2.0\r\n\r\n", 400),
    ];
    for (bytes, status) in cases {
        let mut h = Harness::new(ServerConfig::DEFAULT);
        h.app = page_app();
        let s = h.request(bytes);
        assert_eq!(
            h.response(s).status,
            status,
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
        assert!(h.is_closed(s));
    }
    // A head that never ends.
    let mut h = Harness::new(ServerConfig {
        max_http_head: 1024,
        ..ServerConfig::DEFAULT
    });
    let s = h.request(&[b'a'; 2000]);
    assert_eq!(h.response(s).status, 431);
    assert!(h.is_closed(s));
}

#[test]
fn a_head_request_gets_the_length_and_no_body() {
    let mut h = Harness::new(ServerConfig::DEFAULT);
    h.app = page_app();
    let s = h.request(b"HEAD /page HTTP/1.1\r\nHost: x\r\n\r\n");
    // The application answers as for a GET; the server sends the head only.
    let out = String::from_utf8(h.take_out(s)).unwrap();
    let want = "HEAD /page ".len();
    assert!(
        out.contains(&format!("Content-Length: {want}\r\n")),
        "{out}"
    );
    assert!(out.ends_with("\r\n\r\n"), "{out}");
    // The same connection goes on with the next request.
    h.send(s, get("/next").as_bytes());
    assert_eq!(h.response(s).text(), "GET /next ");
}

/// `handshake_head`: the opening request of a session, kept for the application (Node's
/// `socket.handshake`), whole lines up to the cap, gone with the session.
#[test]
fn the_opening_request_is_kept_for_the_application() {
    let mut h = Harness::new(ServerConfig {
        handshake_head: 200,
        ..ServerConfig::DEFAULT
    });
    h.advance(1234);
    let s = h.request(
        b"GET /socket.io/?EIO=4&transport=websocket&token=t1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: a=1\r\nX-Long: 0123456789012345678901234567890123456789\r\n\r\n",
    );
    h.ws_send_text(s, "40");
    let (socket, session) = match h.events.last() {
        Some(Ev::Connect {
            socket, session, ..
        }) => (*socket, *session),
        e => panic!("{e:?}"),
    };
    let _ = socket;
    let mut buf = [0u8; 512];
    let (issued, head) = h.server.handshake(session, &mut buf).unwrap().unwrap();
    assert_eq!(issued.as_millis(), 1234);
    let head = std::str::from_utf8(head).unwrap();
    assert!(head.starts_with("GET /socket.io/?EIO=4&transport=websocket&token=t1 HTTP/1.1\r\n"));
    assert!(head.contains("Cookie: a=1\r\n"), "{head}");
    // 200 bytes end inside `X-Long`: the head is cut after the last whole line.
    assert!(!head.contains("X-Long"), "{head}");
    assert!(head.ends_with("\r\n") && head.len() <= 200, "{head}");
    let mut small = [0u8; 8];
    assert!(h.server.handshake(session, &mut small).is_err());
    assert_eq!(h.server.session_stream(session), Some(s));
    // Gone with the session; and none is kept by default.
    h.reset(s);
    assert_eq!(h.server.handshake(session, &mut buf), Ok(None));
    assert_eq!(h.server.usage().blocks, 0, "nothing left in the pool");
    let mut plain = Harness::new(ServerConfig::DEFAULT);
    let (s, _) = plain.sio_ws();
    let session = match plain.events.last() {
        Some(Ev::Connect { session, .. }) => *session,
        e => panic!("{e:?}"),
    };
    assert_eq!(plain.server.handshake(session, &mut buf), Ok(None));
    let _ = s;
}
