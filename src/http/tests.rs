use super::*;
use crate::BufferTooSmall;
use crate::testutil::Rng;

const BIG: Limits = Limits {
    max_head: 1 << 20,
    max_body: 1 << 20,
};

fn req<'h, 'b>(buf: &'b [u8], slots: &'h mut [Header<'b>]) -> Request<'h, 'b> {
    match parse_request(buf, slots, &BIG) {
        Ok(Status::Complete(r)) => r,
        other => panic!("expected a complete request, got {other:?}"),
    }
}

fn req_err(buf: &[u8]) -> HeadError {
    let mut slots = [EMPTY_HEADER; 16];
    match parse_request(buf, &mut slots, &BIG) {
        Err(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn res<'h, 'b>(buf: &'b [u8], slots: &'h mut [Header<'b>]) -> Response<'h, 'b> {
    match parse_response(buf, slots, &BIG) {
        Ok(Status::Complete(r)) => r,
        other => panic!("expected a complete response, got {other:?}"),
    }
}

fn res_err(buf: &[u8]) -> HeadError {
    let mut slots = [EMPTY_HEADER; 16];
    match parse_response(buf, &mut slots, &BIG) {
        Err(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn body<'b>(r: &Request<'_, 'b>) -> Body<'b> {
    match r.body() {
        Ok(Status::Complete(b)) => b,
        other => panic!("expected a complete body, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Request heads

#[test]
fn handshake_get() {
    let buf = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost:3000\r\n\
                Accept: */*\r\n\r\n";
    let mut slots = [EMPTY_HEADER; 8];
    let r = req(buf, &mut slots);
    assert_eq!(r.method(), Method::Get);
    assert_eq!(r.target(), "/socket.io/?EIO=4&transport=polling");
    assert_eq!(r.path(), "/socket.io/");
    assert_eq!(r.query(), "EIO=4&transport=polling");
    assert_eq!(r.minor_version(), 1);
    assert_eq!(r.head_len(), buf.len());
    assert_eq!(r.host(), Some(&b"localhost:3000"[..]));
    assert_eq!(r.content_length(), None);
    assert!(r.keep_alive());
    assert!(!r.wants_websocket_upgrade());
    assert_eq!(r.headers().len(), 2);
    assert_eq!(r.headers()[1].name, "Accept");
    assert_eq!(r.header("accept"), Some(&b"*/*"[..]));
    assert_eq!(r.header("x-missing"), None);
    let q = r.engine_query();
    assert_eq!(
        (q.eio, q.transport, q.sid, q.t, q.repeated),
        (Some("4"), Some("polling"), None, None, false)
    );
    let b = body(&r);
    assert_eq!((b.bytes, b.consumed), (&b""[..], buf.len()));
}

#[test]
fn every_protocol_header() {
    let buf = b"GET /engine.io/?EIO=4&transport=websocket&sid=S1 HTTP/1.1\r\n\
                Host: example.com\r\n\
                Connection: keep-alive, Upgrade\r\n\
                Upgrade: websocket\r\n\
                Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                Sec-WebSocket-Version: 13\r\n\
                Origin: http://example.com\r\n\
                Content-Type: text/plain;charset=UTF-8\r\n\
                Cookie: io=abc; x=y\r\n\
                Content-Length: 0\r\n\
                X-App: 1\r\n\r\n";
    let mut slots = [EMPTY_HEADER; 16];
    let r = req(buf, &mut slots);
    assert!(r.wants_websocket_upgrade());
    assert!(r.upgrade_websocket());
    let c = r.connection();
    assert!(c.keep_alive && c.upgrade && !c.close);
    assert_eq!(
        r.sec_websocket_key(),
        Some(&b"dGhlIHNhbXBsZSBub25jZQ=="[..])
    );
    assert_eq!(r.sec_websocket_version(), Some(&b"13"[..]));
    assert_eq!(r.origin(), Some(&b"http://example.com"[..]));
    assert_eq!(r.content_type(), Some(&b"text/plain;charset=UTF-8"[..]));
    assert_eq!(r.cookie(), Some(&b"io=abc; x=y"[..]));
    assert_eq!(r.host(), Some(&b"example.com"[..]));
    assert_eq!(r.content_length(), Some(0));
    assert_eq!(r.header("X-APP"), Some(&b"1"[..]));
    assert_eq!(r.engine_query().sid, Some("S1"));
}

/// The requests of PROTOCOL.md (A.5, A.10, B.8 and the appendix) through the query view.
#[test]
fn protocol_md_requests() {
    struct V {
        head: &'static str,
        path: &'static str,
        eio: Option<&'static str>,
        transport: Option<&'static str>,
        sid: Option<&'static str>,
        upgrade: bool,
    }
    let vectors = [
        V {
            head: "GET /socket.io/?EIO=4&transport=polling",
            path: "/socket.io/",
            eio: Some("4"),
            transport: Some("polling"),
            sid: None,
            upgrade: false,
        },
        V {
            head: "POST /socket.io/?EIO=4&transport=polling&sid=Qm9vX2hhbmRzaGFrZTAx",
            path: "/socket.io/",
            eio: Some("4"),
            transport: Some("polling"),
            sid: Some("Qm9vX2hhbmRzaGFrZTAx"),
            upgrade: false,
        },
        V {
            head: "GET /socket.io/?EIO=4&transport=websocket&sid=Qm9vX2hhbmRzaGFrZTAx",
            path: "/socket.io/",
            eio: Some("4"),
            transport: Some("websocket"),
            sid: Some("Qm9vX2hhbmRzaGFrZTAx"),
            upgrade: true,
        },
        V {
            head: "GET /engine.io/?EIO=4&transport=polling",
            path: "/engine.io/",
            eio: Some("4"),
            transport: Some("polling"),
            sid: None,
            upgrade: false,
        },
        V {
            head: "GET /engine.io/?EIO=4&transport=websocket&sid=S1",
            path: "/engine.io/",
            eio: Some("4"),
            transport: Some("websocket"),
            sid: Some("S1"),
            upgrade: true,
        },
        // Appendix rows.
        V {
            head: "GET /engine.io/?transport=polling",
            path: "/engine.io/",
            eio: None,
            transport: Some("polling"),
            sid: None,
            upgrade: false,
        },
        V {
            head: "GET /engine.io/?EIO=4",
            path: "/engine.io/",
            eio: Some("4"),
            transport: None,
            sid: None,
            upgrade: false,
        },
        V {
            head: "GET /engine.io/?EIO=4&transport=polling&sid=nope",
            path: "/engine.io/",
            eio: Some("4"),
            transport: Some("polling"),
            sid: Some("nope"),
            upgrade: false,
        },
        V {
            head: "GET /engine.io/?EIO=4&transport=websocket",
            path: "/engine.io/",
            eio: Some("4"),
            transport: Some("websocket"),
            sid: None,
            upgrade: false,
        },
        V {
            head: "POST /engine.io/?EIO=4&transport=polling",
            path: "/engine.io/",
            eio: Some("4"),
            transport: Some("polling"),
            sid: None,
            upgrade: false,
        },
        V {
            head: "GET /engine.io/?EIO=abc&transport=abc",
            path: "/engine.io/",
            eio: Some("abc"),
            transport: Some("abc"),
            sid: None,
            upgrade: false,
        },
        V {
            head: "GET /socket.io?EIO=4&transport=polling&t=PAx3k9z&j=0",
            path: "/socket.io",
            eio: Some("4"),
            transport: Some("polling"),
            sid: None,
            upgrade: false,
        },
    ];
    for v in &vectors {
        let mut buf = [0u8; 512];
        let mut w = crate::write::Writer::new(&mut buf);
        w.put(v.head.as_bytes());
        w.put(b" HTTP/1.1\r\nHost: localhost\r\n");
        if v.upgrade {
            w.put(b"Connection: Upgrade\r\nUpgrade: websocket\r\n");
        }
        w.put(b"\r\n");
        let n = w.finish().unwrap();
        let mut slots = [EMPTY_HEADER; 8];
        let r = req(&buf[..n], &mut slots);
        let q = r.engine_query();
        assert_eq!(r.path(), v.path, "{}", v.head);
        assert_eq!(q.eio, v.eio, "{}", v.head);
        assert_eq!(q.transport, v.transport, "{}", v.head);
        assert_eq!(q.sid, v.sid, "{}", v.head);
        assert!(!q.repeated);
        assert_eq!(r.wants_websocket_upgrade(), v.upgrade, "{}", v.head);
    }
}

#[test]
fn post_bodies_from_protocol_md() {
    let buf = b"POST /socket.io/?EIO=4&transport=polling&sid=Qm9vX2hhbmRzaGFrZTAx HTTP/1.1\r\n\
                Host: h\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 16\r\n\r\n\
                40{\"token\":\"t1\"}";
    let mut slots = [EMPTY_HEADER; 8];
    let r = req(buf, &mut slots);
    assert_eq!(r.method(), Method::Post);
    let b = body(&r);
    assert_eq!(b.bytes, b"40{\"token\":\"t1\"}");
    assert_eq!(b.consumed, buf.len());

    // `4\x1e6\x1e4€`: Content-Length counts UTF-8 bytes.
    let buf = "POST /engine.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\n\
               Content-Length: 8\r\n\r\n4\x1e6\x1e4€";
    let mut slots = [EMPTY_HEADER; 8];
    let r = req(buf.as_bytes(), &mut slots);
    assert_eq!(body(&r).bytes, "4\x1e6\x1e4€".as_bytes());
}

#[test]
fn methods() {
    for (token, m) in [
        ("GET", Method::Get),
        ("POST", Method::Post),
        ("OPTIONS", Method::Options),
        ("HEAD", Method::Head),
        ("PUT", Method::Put),
        ("DELETE", Method::Delete),
        ("PATCH", Method::Other("PATCH")),
        ("get", Method::Other("get")),
    ] {
        let mut buf = [0u8; 64];
        let n = RequestHead::new(m, "/").write_head(None, &mut buf).unwrap();
        let mut slots = [EMPTY_HEADER; 2];
        let r = req(&buf[..n], &mut slots);
        assert_eq!(r.method(), m);
        assert_eq!(r.method().as_str(), token);
        assert_eq!(Method::from_token(token), m);
    }
}

#[test]
fn target_forms() {
    for (target, path, query) in [
        ("/", "/", ""),
        ("/a?", "/a", ""),
        ("/a?b", "/a", "b"),
        ("/a?b?c=d", "/a", "b?c=d"),
        ("*", "*", ""),
        ("http://h/x?y=1", "http://h/x", "y=1"),
    ] {
        let mut buf = [0u8; 64];
        let n = RequestHead::new(Method::Options, target)
            .write_head(None, &mut buf)
            .unwrap();
        let mut slots = [EMPTY_HEADER; 2];
        let r = req(&buf[..n], &mut slots);
        assert_eq!((r.target(), r.path(), r.query()), (target, path, query));
    }
}

#[test]
fn keep_alive_rules() {
    for (version, connection, expected) in [
        ("1.1", None, true),
        ("1.1", Some("close"), false),
        ("1.1", Some("Close"), false),
        ("1.1", Some("keep-alive"), true),
        ("1.1", Some("keep-alive, close"), false),
        ("1.0", None, false),
        ("1.0", Some("keep-alive"), true),
        ("1.0", Some("Keep-Alive"), true),
        ("1.0", Some("keep-alive, close"), false),
        ("1.0", Some("upgrade"), false),
    ] {
        let mut buf = [0u8; 128];
        let mut w = crate::write::Writer::new(&mut buf);
        w.put(b"GET / HTTP/");
        w.put(version.as_bytes());
        w.put(b"\r\n");
        if let Some(c) = connection {
            w.put(b"Connection: ");
            w.put(c.as_bytes());
            w.put(b"\r\n");
        }
        w.put(b"\r\n");
        let n = w.finish().unwrap();
        let mut slots = [EMPTY_HEADER; 2];
        let r = req(&buf[..n], &mut slots);
        assert_eq!(r.keep_alive(), expected, "{version} {connection:?}");
    }

    let mut slots = [EMPTY_HEADER; 2];
    let r = res(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", &mut slots);
    assert!(!r.keep_alive());
    let mut slots = [EMPTY_HEADER; 2];
    let r = res(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", &mut slots);
    assert!(!r.keep_alive());
    assert!(r.connection().close);
}

#[test]
fn connection_and_upgrade_tokens() {
    for (connection, upgrade, keep_alive, close, up, ws) in [
        ("Upgrade", "websocket", false, false, true, true),
        ("keep-alive, Upgrade", "WebSocket", true, false, true, true),
        ("  close ,\tfoo,,", "h2c", false, true, false, false),
        ("UPGRADE", "h2c, websocket", false, false, true, true),
        ("upgrades", "websockets", false, false, false, false),
        ("", "", false, false, false, false),
    ] {
        let mut buf = [0u8; 128];
        let mut w = crate::write::Writer::new(&mut buf);
        w.put(b"GET / HTTP/1.1\r\nConnection: ");
        w.put(connection.as_bytes());
        w.put(b"\r\nUpgrade: ");
        w.put(upgrade.as_bytes());
        w.put(b"\r\n\r\n");
        let n = w.finish().unwrap();
        let mut slots = [EMPTY_HEADER; 4];
        let r = req(&buf[..n], &mut slots);
        let c = r.connection();
        assert_eq!(
            (c.keep_alive, c.close, c.upgrade, r.upgrade_websocket()),
            (keep_alive, close, up, ws),
            "{connection:?} {upgrade:?}"
        );
        assert_eq!(r.wants_websocket_upgrade(), up && ws);
    }

    // Tokens accumulate over repeated headers.
    let buf = b"GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: upgrade\r\n\
                Upgrade: h2c\r\nUpgrade: websocket\r\n\r\n";
    let mut slots = [EMPTY_HEADER; 4];
    let r = req(buf, &mut slots);
    assert!(r.wants_websocket_upgrade() && r.connection().keep_alive);
}

#[test]
fn header_names_in_random_case() {
    let names: [&[u8]; 10] = [
        b"host",
        b"connection",
        b"upgrade",
        b"sec-websocket-key",
        b"sec-websocket-version",
        b"origin",
        b"content-type",
        b"cookie",
        b"content-length",
        b"x-other",
    ];
    let mut rng = Rng::new(7);
    for _ in 0..500 {
        let mut buf = [0u8; 512];
        let mut w = crate::write::Writer::new(&mut buf);
        w.put(b"POST /x HTTP/1.1\r\n");
        for name in names {
            for &b in name {
                w.byte(if rng.below(2) == 0 {
                    b.to_ascii_uppercase()
                } else {
                    b
                });
            }
            w.put(b": ");
            w.put(match name {
                b"connection" => b"Upgrade",
                b"upgrade" => b"websocket",
                b"content-length" => b"3",
                _ => b"v",
            });
            w.put(b"\r\n");
        }
        w.put(b"\r\nabc");
        let n = w.finish().unwrap();
        let mut slots = [EMPTY_HEADER; 16];
        let r = req(&buf[..n], &mut slots);
        assert!(r.wants_websocket_upgrade());
        for v in [
            r.host(),
            r.sec_websocket_key(),
            r.sec_websocket_version(),
            r.origin(),
            r.content_type(),
            r.cookie(),
        ] {
            assert_eq!(v, Some(&b"v"[..]));
        }
        assert_eq!(r.content_length(), Some(3));
        assert_eq!(body(&r).bytes, b"abc");
        assert_eq!(r.header("X-OTHER"), Some(&b"v"[..]));
    }
}

/// Valid requests used by the prefix and pipelining tests.
const REQUESTS: [&[u8]; 5] = [
    b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /socket.io/?EIO=4&transport=polling&sid=abc HTTP/1.1\r\nHost: a\r\n\
      Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 5\r\n\r\n4hi\x1e2",
    b"GET /socket.io/?EIO=4&transport=websocket&sid=abc HTTP/1.1\r\nHost: a\r\n\
      Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
      Sec-WebSocket-Version: 13\r\n\r\n",
    b"OPTIONS /socket.io/?EIO=4 HTTP/1.1\r\nOrigin: http://x\r\n\
      Access-Control-Request-Method: POST\r\n\r\n",
    b"POST /e HTTP/1.0\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok",
];

#[test]
fn every_strict_prefix_is_partial() {
    for full in REQUESTS {
        let mut slots = [EMPTY_HEADER; 8];
        let head_len = req(full, &mut slots).head_len();
        for cut in 0..full.len() {
            let prefix = &full[..cut];
            let mut slots = [EMPTY_HEADER; 8];
            let parsed = parse_request(prefix, &mut slots, &BIG);
            if cut < head_len {
                assert_eq!(parsed.unwrap(), Status::Partial, "cut {cut}");
            } else {
                let Ok(Status::Complete(r)) = parsed else {
                    panic!("head should be complete at {cut}")
                };
                assert_eq!(r.body(), Ok(Status::Partial), "cut {cut}");
            }
        }
        // Partial also with a head limit that the whole head fits exactly.
        let limits = Limits {
            max_head: head_len,
            max_body: 100,
        };
        for cut in 0..head_len {
            let mut slots = [EMPTY_HEADER; 8];
            assert!(
                parse_request(&full[..cut], &mut slots, &limits)
                    .unwrap()
                    .is_partial()
            );
        }
        let mut slots = [EMPTY_HEADER; 8];
        assert!(
            parse_request(full, &mut slots, &limits)
                .unwrap()
                .is_complete()
        );
    }
}

#[test]
fn pipelined_requests() {
    // Two and three requests back to back, with bodies, in one buffer.
    for combo in [[0usize, 1, 4], [1, 1, 1], [4, 2, 3], [3, 0, 1]] {
        let mut buf = [0u8; 1024];
        let mut w = crate::write::Writer::new(&mut buf);
        for &i in &combo {
            w.put(REQUESTS[i]);
        }
        let total = w.finish().unwrap();
        let all = &buf[..total];
        for count in [2, 3] {
            let wanted: usize = combo[..count].iter().map(|&i| REQUESTS[i].len()).sum();
            let all = &all[..wanted];
            let mut at = 0;
            for &i in &combo[..count] {
                let mut slots = [EMPTY_HEADER; 8];
                let r = req(&all[at..], &mut slots);
                let mut expected = [EMPTY_HEADER; 8];
                let want = req(REQUESTS[i], &mut expected);
                assert_eq!(r.target(), want.target());
                let b = body(&r);
                assert_eq!(b.bytes, body(&want).bytes);
                assert_eq!(b.consumed, REQUESTS[i].len());
                at += b.consumed;
            }
            assert_eq!(at, all.len());
            // After the last one, nothing is left: an empty buffer is Partial.
            let mut slots = [EMPTY_HEADER; 8];
            assert!(
                parse_request(&all[at..], &mut slots, &BIG)
                    .unwrap()
                    .is_partial()
            );
        }
    }
}

#[test]
fn head_size_limit() {
    let limits = Limits {
        max_head: 64,
        max_body: 10,
    };
    // An endless header: Partial up to the limit, then an error however long it grows.
    let mut buf = [b'a'; 300];
    let start = b"GET / HTTP/1.1\r\nX-Long: ";
    buf[..start.len()].copy_from_slice(start);
    for len in 0..buf.len() {
        let mut slots = [EMPTY_HEADER; 4];
        let parsed = parse_request(&buf[..len], &mut slots, &limits);
        if len < 64 {
            assert_eq!(parsed, Ok(Status::Partial), "len {len}");
        } else {
            assert_eq!(parsed.unwrap_err(), HeadError::HeadTooLarge, "len {len}");
        }
    }
    // A complete head one byte over the limit is refused too; at the limit it is fine.
    let mut head = [b'a'; 64];
    let line = b"GET / HTTP/1.1\r\nX: ";
    head[..line.len()].copy_from_slice(line);
    head[60..].copy_from_slice(b"\r\n\r\n");
    let mut slots = [EMPTY_HEADER; 4];
    assert!(
        parse_request(&head, &mut slots, &limits)
            .unwrap()
            .is_complete()
    );
    let mut longer = [b'a'; 65];
    longer[..line.len()].copy_from_slice(line);
    longer[61..].copy_from_slice(b"\r\n\r\n");
    let mut slots = [EMPTY_HEADER; 4];
    assert_eq!(
        parse_request(&longer, &mut slots, &limits).unwrap_err(),
        HeadError::HeadTooLarge
    );
    assert_eq!(HeadError::HeadTooLarge.status_code(), 431);
}

#[test]
fn too_many_headers() {
    let buf = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    let mut slots = [EMPTY_HEADER; 2];
    assert_eq!(
        parse_request(buf, &mut slots, &BIG).unwrap_err(),
        HeadError::TooManyHeaders
    );
    let mut slots = [EMPTY_HEADER; 3];
    assert!(parse_request(buf, &mut slots, &BIG).unwrap().is_complete());
    let mut slots = [EMPTY_HEADER; 2];
    assert_eq!(
        parse_response(
            b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
            &mut slots,
            &BIG
        )
        .unwrap_err(),
        HeadError::TooManyHeaders
    );
    assert_eq!(HeadError::TooManyHeaders.status_code(), 431);
}

#[test]
fn syntax_errors() {
    assert_eq!(req_err(b"G(T / HTTP/1.1\r\n\r\n"), HeadError::InvalidToken);
    assert_eq!(
        req_err(b"GET /a\x7fb HTTP/1.1\r\n\r\n"),
        HeadError::InvalidToken
    );
    assert_eq!(
        req_err(b"GET / HTTP/2.0\r\n\r\n"),
        HeadError::InvalidVersion
    );
    assert_eq!(
        req_err(b"GET / HTTX/1.1\r\n\r\n"),
        HeadError::InvalidVersion
    );
    assert_eq!(
        req_err(b"GET / HTTP/1.1\r\nA B: c\r\n\r\n"),
        HeadError::InvalidHeaderName
    );
    assert_eq!(
        req_err(b"GET / HTTP/1.1\r\nA: b\x01c\r\n\r\n"),
        HeadError::InvalidHeaderValue
    );
    assert_eq!(
        req_err(b"GET / HTTP/1.1\rX\n\r\n"),
        HeadError::InvalidNewLine
    );
    assert_eq!(
        res_err(b"HTTP/1.1 2x0 OK\r\n\r\n"),
        HeadError::InvalidStatus
    );
    assert_eq!(
        res_err(b"HTTP/3.0 200 OK\r\n\r\n"),
        HeadError::InvalidVersion
    );
    assert_eq!(HeadError::InvalidToken.status_code(), 400);
}

#[test]
fn content_length_errors() {
    for bad in [
        "abc",
        "-1",
        "+5",
        "5 5",
        "0x10",
        "1,1",
        "5;",
        "99999999999999999999999",
    ] {
        let mut buf = [0u8; 128];
        let mut w = crate::write::Writer::new(&mut buf);
        w.put(b"POST / HTTP/1.1\r\nContent-Length: ");
        w.put(bad.as_bytes());
        w.put(b"\r\n\r\n");
        let n = w.finish().unwrap();
        assert_eq!(
            req_err(&buf[..n]),
            HeadError::InvalidContentLength,
            "{bad:?}"
        );
    }
    assert_eq!(
        req_err(b"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n"),
        HeadError::InvalidContentLength
    );
    assert_eq!(
        req_err(b"POST / HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 4\r\n\r\nabcd"),
        HeadError::ConflictingContentLength
    );
    // The largest value still fits; equal duplicates (even written differently) are fine.
    let mut slots = [EMPTY_HEADER; 4];
    let r = req(
        b"POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n",
        &mut slots,
    );
    assert_eq!(r.content_length(), Some(u64::MAX));
    let mut slots = [EMPTY_HEADER; 4];
    let r = req(
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 003\r\n\r\nabc",
        &mut slots,
    );
    assert_eq!(body(&r).bytes, b"abc");
    // Surrounding whitespace is not part of the value.
    let mut slots = [EMPTY_HEADER; 4];
    let r = req(
        b"POST / HTTP/1.1\r\nContent-Length:   2  \r\n\r\nab",
        &mut slots,
    );
    assert_eq!(r.content_length(), Some(2));
    assert_eq!(
        res_err(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
        HeadError::ConflictingContentLength
    );
    assert_eq!(
        res_err(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"),
        HeadError::InvalidContentLength
    );
}

#[test]
fn transfer_encoding_errors() {
    for te in ["chunked", "Chunked", "gzip, chunked", "CHUNKED "] {
        let mut buf = [0u8; 128];
        let mut w = crate::write::Writer::new(&mut buf);
        w.put(b"POST / HTTP/1.1\r\nTransfer-Encoding: ");
        w.put(te.as_bytes());
        w.put(b"\r\n\r\n");
        let n = w.finish().unwrap();
        assert_eq!(req_err(&buf[..n]), HeadError::ChunkedNotSupported, "{te:?}");
    }
    assert_eq!(HeadError::ChunkedNotSupported.status_code(), 411);
    assert_eq!(
        req_err(b"POST / HTTP/1.1\r\nTRANSFER-ENCODING: gzip\r\n\r\n"),
        HeadError::UnsupportedTransferEncoding
    );
    // Content-Length together with Transfer-Encoding, in either order.
    assert_eq!(
        req_err(b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
        HeadError::ContentLengthWithTransferEncoding
    );
    assert_eq!(
        req_err(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"),
        HeadError::ContentLengthWithTransferEncoding
    );
    assert_eq!(
        res_err(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
        HeadError::ChunkedNotSupported
    );
    assert_eq!(
        res_err(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n"),
        HeadError::ContentLengthWithTransferEncoding
    );
}

#[test]
fn duplicate_single_headers() {
    for (name, field) in [
        ("Host", HeaderField::Host),
        ("origin", HeaderField::Origin),
        ("Content-Type", HeaderField::ContentType),
        ("Sec-WebSocket-Key", HeaderField::SecWebSocketKey),
        ("sec-websocket-version", HeaderField::SecWebSocketVersion),
        ("Sec-WebSocket-Accept", HeaderField::SecWebSocketAccept),
    ] {
        let mut buf = [0u8; 128];
        let mut w = crate::write::Writer::new(&mut buf);
        w.put(b"GET / HTTP/1.1\r\n");
        for _ in 0..2 {
            w.put(name.as_bytes());
            w.put(b": v\r\n");
        }
        w.put(b"\r\n");
        let n = w.finish().unwrap();
        assert_eq!(req_err(&buf[..n]), HeadError::DuplicateHeader(field));
        let mut rbuf = [0u8; 128];
        let mut w = crate::write::Writer::new(&mut rbuf);
        w.put(b"HTTP/1.1 101 Switching Protocols\r\n");
        w.put(&buf[16..n]);
        let n = w.finish().unwrap();
        assert_eq!(res_err(&rbuf[..n]), HeadError::DuplicateHeader(field));
    }
    // Cookie may repeat: the first is kept, all are in the raw list.
    let buf = b"GET / HTTP/1.1\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n";
    let mut slots = [EMPTY_HEADER; 4];
    let r = req(buf, &mut slots);
    assert_eq!(r.cookie(), Some(&b"a=1"[..]));
    assert_eq!(r.headers()[1].value, b"b=2");
}

#[test]
fn body_limit_is_checked_before_the_body_arrives() {
    let limits = Limits {
        max_head: 1024,
        max_body: 1_000_000,
    };
    let buf = b"POST /socket.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\nContent-Length: 1000001\r\n\r\n";
    let mut slots = [EMPTY_HEADER; 4];
    let Ok(Status::Complete(r)) = parse_request(buf, &mut slots, &limits) else {
        panic!()
    };
    assert_eq!(
        r.body(),
        Err(BodyError::TooLarge {
            length: 1_000_001,
            max: 1_000_000
        })
    );
    // The head is still there to answer from.
    assert_eq!(r.engine_query().sid, Some("x"));
    // Exactly at the limit: only more bytes are needed.
    let buf = b"POST / HTTP/1.1\r\nContent-Length: 1000000\r\n\r\nabc";
    let mut slots = [EMPTY_HEADER; 4];
    let Ok(Status::Complete(r)) = parse_request(buf, &mut slots, &limits) else {
        panic!()
    };
    assert_eq!(r.body(), Ok(Status::Partial));
    // Lengths beyond the address space with an unlimited maximum.
    assert_eq!(
        body_by_length(b"", u64::MAX, u64::MAX),
        if usize::BITS < 64 {
            Err(BodyError::TooLarge {
                length: u64::MAX,
                max: u64::MAX,
            })
        } else {
            Ok(Status::Partial)
        }
    );
}

#[test]
fn body_by_length_framing() {
    assert_eq!(
        body_by_length(b"abcdef", 4, 10),
        Ok(Status::Complete(Body {
            bytes: b"abcd",
            consumed: 4
        }))
    );
    assert_eq!(body_by_length(b"abc", 4, 10), Ok(Status::Partial));
    assert_eq!(
        body_by_length(b"", 0, 0),
        Ok(Status::Complete(Body {
            bytes: b"",
            consumed: 0
        }))
    );
    assert_eq!(
        body_by_length(b"abcdef", 11, 10),
        Err(BodyError::TooLarge {
            length: 11,
            max: 10
        })
    );
}

// ---------------------------------------------------------------------------------------
// Responses (client side)

const RESPONSES: [&[u8]; 4] = [
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: 4\r\n\
      Set-Cookie: io=abc; Path=/; HttpOnly\r\nCache-Control: no-store\r\n\r\n4hey",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
      Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 41\r\n\
      Connection: close\r\n\r\n{\"code\":1,\"message\":\"Session ID unknown\"}",
    b"HTTP/1.0 204 No Content\r\n\r\n",
];

#[test]
fn response_heads() {
    let mut slots = [EMPTY_HEADER; 8];
    let r = res(RESPONSES[0], &mut slots);
    assert_eq!((r.code(), r.reason(), r.minor_version()), (200, "OK", 1));
    assert_eq!(r.content_type(), Some(&b"text/plain; charset=UTF-8"[..]));
    assert_eq!(r.content_length(), Some(4));
    assert!(r.keep_alive());
    assert_eq!(
        r.header("set-cookie"),
        Some(&b"io=abc; Path=/; HttpOnly"[..])
    );
    let Ok(Status::Complete(b)) = r.body() else {
        panic!()
    };
    assert_eq!((b.bytes, b.consumed), (&b"4hey"[..], RESPONSES[0].len()));

    // 101 followed by WebSocket bytes: no body, the frames start at `consumed`.
    let mut buf = [0u8; 256];
    buf[..RESPONSES[1].len()].copy_from_slice(RESPONSES[1]);
    buf[RESPONSES[1].len()..RESPONSES[1].len() + 3].copy_from_slice(b"\x81\x01\x34");
    let buf = &buf[..RESPONSES[1].len() + 3];
    let mut slots = [EMPTY_HEADER; 8];
    let r = res(buf, &mut slots);
    assert_eq!(r.code(), 101);
    assert!(r.upgrade_websocket() && r.connection().upgrade);
    assert_eq!(
        r.sec_websocket_accept(),
        Some(&b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="[..])
    );
    let Ok(Status::Complete(b)) = r.body() else {
        panic!()
    };
    assert_eq!((b.bytes, b.consumed), (&b""[..], r.head_len()));
    assert_eq!(&buf[b.consumed..], b"\x81\x01\x34");

    let mut slots = [EMPTY_HEADER; 8];
    let r = res(RESPONSES[2], &mut slots);
    assert_eq!((r.code(), r.reason()), (400, "Bad Request"));
    assert!(!r.keep_alive());
    let Ok(Status::Complete(b)) = r.body() else {
        panic!()
    };
    assert_eq!(b.bytes, b"{\"code\":1,\"message\":\"Session ID unknown\"}");

    let mut slots = [EMPTY_HEADER; 8];
    let r = res(RESPONSES[3], &mut slots);
    assert_eq!((r.code(), r.minor_version()), (204, 0));
    assert!(r.status_has_no_body());
    assert_eq!(r.body().unwrap().complete().unwrap().bytes, b"");

    // A status line without a reason.
    let mut slots = [EMPTY_HEADER; 8];
    let r = res(b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", &mut slots);
    assert_eq!((r.code(), r.reason()), (200, ""));
}

#[test]
fn response_body_rules() {
    let mut slots = [EMPTY_HEADER; 4];
    let r = res(b"HTTP/1.1 200 OK\r\n\r\nuntil close", &mut slots);
    assert_eq!(r.body(), Err(BodyError::NoContentLength));
    let mut slots = [EMPTY_HEADER; 4];
    // 304 has no body even with a Content-Length.
    let r = res(
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
        &mut slots,
    );
    assert_eq!(r.body().unwrap().complete().unwrap().consumed, r.head_len());
    let limits = Limits {
        max_head: 100,
        max_body: 3,
    };
    let mut slots = [EMPTY_HEADER; 4];
    let Ok(Status::Complete(r)) = parse_response(
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n",
        &mut slots,
        &limits,
    ) else {
        panic!()
    };
    assert_eq!(r.body(), Err(BodyError::TooLarge { length: 4, max: 3 }));
}

#[test]
fn response_strict_prefixes_are_partial() {
    for full in RESPONSES {
        let mut slots = [EMPTY_HEADER; 8];
        let head_len = res(full, &mut slots).head_len();
        for cut in 0..full.len() {
            let mut slots = [EMPTY_HEADER; 8];
            let parsed = parse_response(&full[..cut], &mut slots, &BIG);
            if cut < head_len {
                assert_eq!(parsed.unwrap(), Status::Partial, "cut {cut}");
            } else {
                let Ok(Status::Complete(r)) = parsed else {
                    panic!()
                };
                assert_eq!(r.body(), Ok(Status::Partial), "cut {cut}");
            }
        }
    }
    // The response head limit.
    let limits = Limits {
        max_head: 20,
        max_body: 0,
    };
    let mut slots = [EMPTY_HEADER; 8];
    assert_eq!(
        parse_response(b"HTTP/1.1 200 OK\r\nX: aaaa", &mut slots, &limits).unwrap_err(),
        HeadError::HeadTooLarge
    );
}

// ---------------------------------------------------------------------------------------
// Query

#[test]
fn params_iteration() {
    let got: [Option<Param<'_>>; 6] = {
        let mut it = Params::new("a=1&&b=&c&d=x=y&=z");
        core::array::from_fn(|_| it.next())
    };
    let p = |key, value| Some(Param { key, value });
    assert_eq!(
        got,
        [
            p("a", "1"),
            p("b", ""),
            p("c", ""),
            p("d", "x=y"),
            p("", "z"),
            None
        ]
    );
    assert_eq!(Params::new("").next(), None);
    assert_eq!(Params::new("&&&").next(), None);
}

#[test]
fn engine_query_view() {
    let q = EngineQuery::parse("EIO=4&transport=polling&t=N8hyd6w&sid=Yk3cRq9vLm2Xw0PaAAAB&b64=1");
    assert_eq!(q.eio, Some("4"));
    assert_eq!(q.transport, Some("polling"));
    assert_eq!(q.sid, Some("Yk3cRq9vLm2Xw0PaAAAB"));
    assert_eq!(q.t, Some("N8hyd6w"));
    assert!(!q.repeated);
    let q = EngineQuery::parse("sid=a&eio=4&sid=b&EIO");
    assert_eq!((q.sid, q.eio, q.repeated), (Some("a"), Some(""), true));
    assert_eq!(EngineQuery::parse(""), EngineQuery::default());
}

#[test]
fn percent_decoding() {
    let mut out = [0u8; 32];
    for (input, expected) in [
        (&b"abc"[..], &b"abc"[..]),
        (b"", b""),
        (b"a%20b", b"a b"),
        (b"a+b", b"a b"),
        (b"%2B%2b", b"++"),
        (b"%e2%82%AC", "€".as_bytes()),
        (b"%00%ff", b"\x00\xff"),
        (b"100%25", b"100%"),
    ] {
        let n = percent_decode_into(input, &mut out).unwrap();
        assert_eq!(&out[..n], expected, "{input:?}");
    }
    for bad in [&b"%"[..], b"%2", b"a%g0", b"%0x", b"ok%"] {
        assert_eq!(
            percent_decode_into(bad, &mut out),
            Err(PercentDecodeError::InvalidEscape),
            "{bad:?}"
        );
    }
    // A short buffer reports the exact size needed; invalid escapes take precedence.
    let mut small = [0u8; 2];
    assert_eq!(
        percent_decode_into(b"a%20bc", &mut small),
        Err(PercentDecodeError::BufferTooSmall(BufferTooSmall {
            required: 4
        }))
    );
    assert_eq!(
        percent_decode_into(b"abcd%", &mut small),
        Err(PercentDecodeError::InvalidEscape)
    );
    let p = Params::new("sid=a%2Db").next().unwrap();
    let n = p.percent_decode_into(&mut out).unwrap();
    assert_eq!(&out[..n], b"a-b");
}

// ---------------------------------------------------------------------------------------
// Writers

fn write_res(head: &ResponseHead<'_>, body: &[u8]) -> ([u8; 1024], usize) {
    let mut out = [0u8; 1024];
    let n = head.write(body, &mut out).unwrap();
    // Every shorter buffer reports the same exact size.
    for short in [0, n / 2, n - 1] {
        let mut small = [0u8; 1024];
        assert_eq!(
            head.write(body, &mut small[..short]),
            Err(WriteError::BufferTooSmall(BufferTooSmall { required: n }))
        );
    }
    (out, n)
}

#[test]
fn polling_responses_byte_exact() {
    let open = b"0{\"sid\":\"Yk3cRq9vLm2Xw0PaAAAB\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}";
    let head = ResponseHead::new(200)
        .content_type(b"text/plain; charset=UTF-8")
        .no_store()
        .connection(Connection::KeepAlive)
        .cors(Cors::new(b"http://localhost:8080"));
    let (out, n) = write_res(&head, open);
    let mut expected = [0u8; 1024];
    let mut w = crate::write::Writer::new(&mut expected);
    w.put(
        b"HTTP/1.1 200 OK\r\n\
          Content-Type: text/plain; charset=UTF-8\r\n\
          Content-Length: 118\r\n\
          Cache-Control: no-store\r\n\
          Connection: keep-alive\r\n\
          Access-Control-Allow-Origin: http://localhost:8080\r\n\
          Access-Control-Allow-Credentials: true\r\n\r\n",
    );
    w.put(open);
    let m = w.finish().unwrap();
    assert_eq!(open.len(), 118);
    assert_eq!(&out[..n], &expected[..m]);

    // And it parses back on the client side.
    let mut slots = [EMPTY_HEADER; 8];
    let r = res(&out[..n], &mut slots);
    assert_eq!(r.body().unwrap().complete().unwrap().bytes, open);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some(&b"http://localhost:8080"[..])
    );

    // POST answer.
    let (out, n) = write_res(
        &ResponseHead::new(200)
            .content_type(b"text/html")
            .connection(Connection::KeepAlive)
            .no_store(),
        b"ok",
    );
    assert_eq!(
        &out[..n],
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\
          Cache-Control: no-store\r\nConnection: keep-alive\r\n\r\nok"
    );
}

#[test]
fn error_and_special_responses_byte_exact() {
    let (out, n) = write_res(
        &ResponseHead::new(400)
            .content_type(b"application/json")
            .connection(Connection::Close),
        b"{\"code\":5,\"message\":\"Unsupported protocol version\"}",
    );
    assert_eq!(
        &out[..n],
        &b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 51\r\n\
           Connection: close\r\n\r\n{\"code\":5,\"message\":\"Unsupported protocol version\"}"[..]
    );

    // Preflight: 204, no Content-Length.
    let mut out = [0u8; 512];
    let n = ResponseHead::new(204)
        .connection(Connection::KeepAlive)
        .cors(Cors::new(b"https://app.example").preflight(b"GET, POST", Some(b"content-type")))
        .write_head(None, &mut out)
        .unwrap();
    assert_eq!(
        &out[..n],
        &b"HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\
           Access-Control-Allow-Origin: https://app.example\r\n\
           Access-Control-Allow-Credentials: true\r\n\
           Access-Control-Allow-Methods: GET, POST\r\n\
           Access-Control-Allow-Headers: content-type\r\n\r\n"[..]
    );

    // 101 with the upgrade headers as extras.
    let n = ResponseHead::new(101)
        .connection(Connection::Upgrade)
        .headers(&[
            Header {
                name: "Upgrade",
                value: b"websocket",
            },
            Header {
                name: "Sec-WebSocket-Accept",
                value: b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
            },
        ])
        .write_head(None, &mut out)
        .unwrap();
    assert_eq!(
        &out[..n],
        &b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
           Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"[..]
    );

    // Head only with a length; an unknown code has an empty reason; a custom reason.
    let n = ResponseHead::new(413)
        .write_head(Some(0), &mut out)
        .unwrap();
    assert_eq!(
        &out[..n],
        b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n"
    );
    let n = ResponseHead::new(299).write_head(None, &mut out).unwrap();
    assert_eq!(&out[..n], b"HTTP/1.1 299 \r\n\r\n");
    let n = ResponseHead::new(403)
        .reason("Nope")
        .write(b"", &mut out)
        .unwrap();
    assert_eq!(&out[..n], b"HTTP/1.1 403 Nope\r\nContent-Length: 0\r\n\r\n");

    for (code, phrase) in [
        (200, "OK"),
        (101, "Switching Protocols"),
        (204, "No Content"),
        (400, "Bad Request"),
        (403, "Forbidden"),
        (404, "Not Found"),
        (405, "Method Not Allowed"),
        (411, "Length Required"),
        (413, "Payload Too Large"),
        (431, "Request Header Fields Too Large"),
        (500, "Internal Server Error"),
    ] {
        assert_eq!(reason_phrase(code), phrase);
    }
}

#[test]
fn writers_refuse_injection() {
    let mut out = [0u8; 256];
    let bad_values: [&[u8]; 5] = [b"a\r\nX-Evil: 1", b"a\nb", b"a\rb", b"a\0b", b"\x7f"];
    for v in bad_values {
        let hs = [Header {
            name: "X-App",
            value: v,
        }];
        assert_eq!(
            ResponseHead::new(200).headers(&hs).write(b"", &mut out),
            Err(WriteError::InvalidHeaderValue)
        );
        assert_eq!(
            ResponseHead::new(200).content_type(v).write(b"", &mut out),
            Err(WriteError::InvalidHeaderValue)
        );
        assert_eq!(
            ResponseHead::new(200)
                .cors(Cors::new(v))
                .write(b"", &mut out),
            Err(WriteError::InvalidHeaderValue)
        );
        assert_eq!(
            ResponseHead::new(204)
                .cors(Cors::new(b"o").preflight(b"GET", Some(v)))
                .write_head(None, &mut out),
            Err(WriteError::InvalidHeaderValue)
        );
        assert_eq!(
            RequestHead::new(Method::Get, "/")
                .host(v)
                .write_head(None, &mut out),
            Err(WriteError::InvalidHeaderValue)
        );
        assert_eq!(
            RequestHead::new(Method::Get, "/")
                .headers(&hs)
                .write_head(None, &mut out),
            Err(WriteError::InvalidHeaderValue)
        );
    }
    // Tabs and non-ASCII bytes are allowed in values.
    let hs = [Header {
        name: "X-App",
        value: b"a\tb\xc3\xa9",
    }];
    assert!(
        ResponseHead::new(200)
            .headers(&hs)
            .write(b"", &mut out)
            .is_ok()
    );
    for name in ["", "X App", "X:App", "X\r\nA", "X-\u{e9}"] {
        let hs = [Header { name, value: b"v" }];
        assert_eq!(
            ResponseHead::new(200).headers(&hs).write(b"", &mut out),
            Err(WriteError::InvalidHeaderName),
            "{name:?}"
        );
        assert_eq!(
            RequestHead::new(Method::Post, "/")
                .headers(&hs)
                .write(b"", &mut out),
            Err(WriteError::InvalidHeaderName)
        );
    }
    assert_eq!(
        ResponseHead::new(200)
            .reason("OK\r\nX: 1")
            .write(b"", &mut out),
        Err(WriteError::InvalidReason)
    );
    for status in [0, 99, 1000, u16::MAX] {
        assert_eq!(
            ResponseHead::new(status).write(b"", &mut out),
            Err(WriteError::InvalidStatus)
        );
    }
    for target in ["", "/a b", "/a\r\nX: 1", "/\x7f"] {
        assert_eq!(
            RequestHead::new(Method::Get, target).write_head(None, &mut out),
            Err(WriteError::InvalidTarget),
            "{target:?}"
        );
    }
    for method in ["", "G T", "GET\r\n", "(GET)"] {
        assert_eq!(
            RequestHead::new(Method::Other(method), "/").write_head(None, &mut out),
            Err(WriteError::InvalidMethod)
        );
    }
    // Validation comes before the size check.
    assert_eq!(
        ResponseHead::new(99).write(b"", &mut []),
        Err(WriteError::InvalidStatus)
    );
}

#[test]
fn client_requests_byte_exact() {
    let mut out = [0u8; 512];
    let n = RequestHead::new(
        Method::Post,
        "/socket.io/?EIO=4&transport=polling&sid=Qm9vX2hhbmRzaGFrZTAx",
    )
    .host(b"localhost:3000")
    .content_type(b"text/plain;charset=UTF-8")
    .connection(Connection::KeepAlive)
    .write(b"40{\"token\":\"t1\"}", &mut out)
    .unwrap();
    assert_eq!(
        &out[..n],
        &b"POST /socket.io/?EIO=4&transport=polling&sid=Qm9vX2hhbmRzaGFrZTAx HTTP/1.1\r\n\
           Host: localhost:3000\r\nContent-Type: text/plain;charset=UTF-8\r\n\
           Content-Length: 16\r\nConnection: keep-alive\r\n\r\n40{\"token\":\"t1\"}"[..]
    );
    let n = RequestHead::new(
        Method::Get,
        "/socket.io/?EIO=4&transport=websocket&sid=Qm9vX2hhbmRzaGFrZTAx",
    )
    .host(b"localhost:3000")
    .connection(Connection::Upgrade)
    .headers(&[
        Header {
            name: "Upgrade",
            value: b"websocket",
        },
        Header {
            name: "Sec-WebSocket-Key",
            value: b"dGhlIHNhbXBsZSBub25jZQ==",
        },
        Header {
            name: "Sec-WebSocket-Version",
            value: b"13",
        },
    ])
    .write_head(None, &mut out)
    .unwrap();
    let expected =
        b"GET /socket.io/?EIO=4&transport=websocket&sid=Qm9vX2hhbmRzaGFrZTAx HTTP/1.1\r\n\
           Host: localhost:3000\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
           Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    assert_eq!(&out[..n], &expected[..]);
    let mut slots = [EMPTY_HEADER; 8];
    let r = req(&out[..n], &mut slots);
    assert!(r.wants_websocket_upgrade());
    assert_eq!(
        r.sec_websocket_key(),
        Some(&b"dGhlIHNhbXBsZSBub25jZQ=="[..])
    );
    assert_eq!(
        RequestHead::new(Method::Get, "/").write_head(None, &mut out[..5]),
        Err(WriteError::BufferTooSmall(BufferTooSmall { required: 18 }))
    );
}

// ---------------------------------------------------------------------------------------
// Properties

const TOKEN: &[u8] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~";
const VALUE: &[u8] = b"abcXYZ019 \t!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
const TARGET: &[u8] = b"abcXYZ019-._~!$&'()*+,;=:@/%?";

fn fill<'a>(rng: &mut Rng, out: &'a mut [u8], alphabet: &[u8], min: usize) -> &'a str {
    let len = min + rng.below(out.len() - min + 1);
    for b in &mut out[..len] {
        *b = rng.pick(alphabet);
    }
    core::str::from_utf8(&out[..len]).unwrap()
}

/// A header value without the leading/trailing whitespace the parser trims.
fn fill_value<'a>(rng: &mut Rng, out: &'a mut [u8]) -> &'a [u8] {
    let s = fill(rng, out, VALUE, 0).trim_matches([' ', '\t']);
    s.as_bytes()
}

#[test]
fn client_writer_round_trips_through_the_request_parser() {
    let mut rng = Rng::new(0x4854_5450);
    for _ in 0..3000 {
        let mut method_buf = [0u8; 8];
        let method = match rng.below(7) {
            0 => Method::Get,
            1 => Method::Post,
            2 => Method::Options,
            3 => Method::Head,
            4 => Method::Put,
            5 => Method::Delete,
            _ => Method::from_token(fill(&mut rng, &mut method_buf, TOKEN, 1)),
        };
        let mut target_buf = [0u8; 40];
        target_buf[0] = b'/';
        let target_len = 1 + fill(&mut rng, &mut target_buf[1..], TARGET, 0).len();
        let target = core::str::from_utf8(&target_buf[..target_len]).unwrap();
        let mut host_buf = [0u8; 16];
        let host = fill_value(&mut rng, &mut host_buf);
        let mut ct_buf = [0u8; 24];
        let content_type = fill_value(&mut rng, &mut ct_buf);
        let connection = [
            None,
            Some(Connection::KeepAlive),
            Some(Connection::Close),
            Some(Connection::Upgrade),
        ][rng.below(4)];
        let mut names = [[0u8; 12]; 4];
        let mut values = [[0u8; 20]; 4];
        let extra_count = rng.below(5);
        let mut extra = [EMPTY_HEADER; 4];
        for ((slot, name), value) in extra.iter_mut().zip(&mut names).zip(&mut values) {
            // `x-` keeps the extras apart from the headers the parser interprets.
            name[..2].copy_from_slice(b"x-");
            let len = 2 + fill(&mut rng, &mut name[2..], TOKEN, 1).len();
            *slot = Header {
                name: core::str::from_utf8(&name[..len]).unwrap(),
                value: fill_value(&mut rng, value),
            };
        }
        let extra = &extra[..extra_count];
        let mut body_buf = [0u8; 64];
        let body_len = rng.below(65);
        rng.fill(&mut body_buf[..body_len]);
        let body_bytes = &body_buf[..body_len];
        let with_host = rng.below(2) == 0;
        let with_ct = rng.below(2) == 0;
        let with_body = rng.below(3) != 0;

        let mut head = RequestHead::new(method, target).headers(extra);
        if with_host {
            head = head.host(host);
        }
        if with_ct {
            head = head.content_type(content_type);
        }
        if let Some(c) = connection {
            head = head.connection(c);
        }
        let mut out = [0u8; 1024];
        let n = if with_body {
            head.write(body_bytes, &mut out).unwrap()
        } else {
            head.write_head(None, &mut out).unwrap()
        };

        let mut slots = [EMPTY_HEADER; 12];
        let r = req(&out[..n], &mut slots);
        assert_eq!(r.method(), method);
        assert_eq!(r.target(), target);
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        assert_eq!((r.path(), r.query()), (path, query));
        assert_eq!(r.minor_version(), 1);
        assert_eq!(r.host(), with_host.then_some(host));
        assert_eq!(r.content_type(), with_ct.then_some(content_type));
        assert_eq!(r.content_length(), with_body.then_some(body_len as u64));
        let c = r.connection();
        assert_eq!(c.keep_alive, connection == Some(Connection::KeepAlive));
        assert_eq!(c.close, connection == Some(Connection::Close));
        assert_eq!(c.upgrade, connection == Some(Connection::Upgrade));
        assert_eq!(r.keep_alive(), connection != Some(Connection::Close));
        let raw = r.headers();
        assert_eq!(&raw[raw.len() - extra.len()..], extra);
        let b = body(&r);
        assert_eq!(b.bytes, if with_body { body_bytes } else { b"" });
        assert_eq!(b.consumed, n);
    }
}

#[test]
fn response_writer_round_trips_through_the_response_parser() {
    let mut rng = Rng::new(0x5245_5350);
    let codes = [200u16, 101, 204, 400, 403, 404, 413, 500, 299, 999];
    for _ in 0..2000 {
        let code = codes[rng.below(codes.len())];
        let mut origin_buf = [0u8; 24];
        let origin = fill_value(&mut rng, &mut origin_buf);
        let mut ct_buf = [0u8; 24];
        let content_type = fill_value(&mut rng, &mut ct_buf);
        let mut body_buf = [0u8; 64];
        let body_len = rng.below(65);
        rng.fill(&mut body_buf[..body_len]);
        let mut head = ResponseHead::new(code).content_type(content_type);
        if rng.below(2) == 0 {
            head = head.no_store();
        }
        let with_cors = rng.below(2) == 0;
        if with_cors {
            head = head.cors(Cors::new(origin));
        }
        let close = rng.below(2) == 0;
        head = head.connection(if close {
            Connection::Close
        } else {
            Connection::KeepAlive
        });
        let mut out = [0u8; 1024];
        let n = head.write(&body_buf[..body_len], &mut out).unwrap();
        let mut slots = [EMPTY_HEADER; 8];
        let r = res(&out[..n], &mut slots);
        assert_eq!((r.code(), r.reason()), (code, reason_phrase(code)));
        assert_eq!(r.content_type(), Some(content_type));
        assert_eq!(r.keep_alive(), !close);
        assert_eq!(
            r.header("Access-Control-Allow-Origin"),
            with_cors.then_some(origin)
        );
        let Ok(Status::Complete(b)) = r.body() else {
            panic!()
        };
        if r.status_has_no_body() {
            assert_eq!(b.consumed, r.head_len());
        } else {
            assert_eq!((b.bytes, b.consumed), (&body_buf[..body_len], n));
        }
    }
}

fn exercise(data: &[u8]) {
    let limits = Limits {
        max_head: 256,
        max_body: 64,
    };
    let mut slots = [EMPTY_HEADER; 8];
    if let Ok(Status::Complete(r)) = parse_request(data, &mut slots, &limits) {
        assert!(r.head_len() <= data.len() && r.head_len() <= 256);
        assert!(r.target().starts_with(r.path()));
        if let Ok(Status::Complete(b)) = r.body() {
            assert!(b.consumed <= data.len());
            assert_eq!(b.consumed, r.head_len() + b.bytes.len());
        }
        for p in r.params() {
            let mut out = [0u8; 64];
            if let Ok(n) = p.percent_decode_into(&mut out) {
                assert!(n <= p.value.len());
            }
        }
        let _ = r.engine_query();
    }
    let mut slots = [EMPTY_HEADER; 8];
    if let Ok(Status::Complete(r)) = parse_response(data, &mut slots, &limits) {
        assert!(r.head_len() <= data.len());
        if let Ok(Status::Complete(b)) = r.body() {
            assert!(b.consumed <= data.len());
        }
    }
    let mut out = [0u8; 16];
    let _ = percent_decode_into(data, &mut out);
    if let Ok(s) = core::str::from_utf8(data) {
        let _ = EngineQuery::parse(s);
        for p in Params::new(s) {
            assert!(!p.key.contains('&') && !p.value.contains('&'));
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng::new(99);
    let mut buf = [0u8; 300];
    for _ in 0..5000 {
        let len = rng.below(buf.len() + 1);
        rng.fill(&mut buf[..len]);
        exercise(&buf[..len]);
    }
    // Mutations of valid messages reach deeper into the parsers.
    for _ in 0..5000 {
        let src = if rng.below(2) == 0 {
            REQUESTS[rng.below(REQUESTS.len())]
        } else {
            RESPONSES[rng.below(RESPONSES.len())]
        };
        let len = src.len().min(buf.len());
        buf[..len].copy_from_slice(&src[..len]);
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(len);
            buf[at] = rng.pick(b"\r\n :,\x00\x7f\xffaZ09-%+?&=");
        }
        let cut = rng.below(len + 1);
        exercise(&buf[..cut]);
        exercise(&buf[..len]);
    }
}

#[test]
fn errors_display() {
    use core::fmt::{self, Write};
    struct Sink(usize);
    impl Write for Sink {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }
    let mut s = Sink(0);
    write!(s, "{}", HeadError::DuplicateHeader(HeaderField::Host)).unwrap();
    assert_eq!(s.0, "duplicate Host header".len());
    let mut s = Sink(0);
    write!(s, "{}", BodyError::TooLarge { length: 5, max: 4 }).unwrap();
    assert!(s.0 > 0);
}
