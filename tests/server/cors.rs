//! CORS on the Engine.IO paths (`ServerConfig::cors`, Node's `cors` option): which origin
//! each response allows, credentials, `Vary`, preflights, and the echoed bytes' storage.

use crate::harness::*;
use siocore::Instant;
use siocore::server::*;

fn with(cors: Cors<'static>) -> Harness {
    Harness::new(ServerConfig {
        cors: Some(cors),
        ..config()
    })
}

/// A polling handshake sent with `Origin: origin` (none for `None`); returns the response.
fn open_from(h: &mut Harness, origin: Option<&str>) -> Resp {
    let origin = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
    let s = h.request(
        format!(
            "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\n{origin}\r\n"
        )
        .as_bytes(),
    );
    let r = h.response(s);
    assert_eq!(r.status, 200, "{r:?}");
    r
}

fn preflight(h: &mut Harness, origin: &str, requested: Option<&str>) -> Resp {
    let requested = requested.map_or(String::new(), |v| {
        format!("Access-Control-Request-Headers: {v}\r\n")
    });
    let s = h.request(
        format!(
            "OPTIONS /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\n\
             Origin: {origin}\r\nAccess-Control-Request-Method: POST\r\n{requested}\r\n"
        )
        .as_bytes(),
    );
    h.response(s)
}

fn allowed(r: &Resp) -> Option<&str> {
    r.header("access-control-allow-origin")
        .map(|v| std::str::from_utf8(v).unwrap())
}

#[test]
fn without_cors_no_header_and_no_preflight() {
    let mut h = Harness::new(config());
    let r = open_from(&mut h, Some("https://other.example"));
    assert_eq!(allowed(&r), None);
    assert_eq!(r.header("vary"), None);
    let r = preflight(&mut h, "https://other.example", None);
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(allowed(&r), None);
}

#[test]
fn any_origin_is_a_star_without_vary_or_credentials() {
    let mut h = with(Cors::DEFAULT);
    for origin in [Some("https://a.example"), None] {
        let r = open_from(&mut h, origin);
        assert_eq!(allowed(&r), Some("*"));
        assert_eq!(r.header("vary"), None);
        assert_eq!(r.header("access-control-allow-credentials"), None);
    }
}

#[test]
fn one_origin_always_with_vary_and_credentials() {
    let mut h = with(Cors {
        origin: AllowOrigin::Exactly("https://app.example"),
        credentials: true,
        ..Cors::DEFAULT
    });
    for origin in [
        Some("https://app.example"),
        Some("https://evil.example"),
        None,
    ] {
        let r = open_from(&mut h, origin);
        assert_eq!(allowed(&r), Some("https://app.example"));
        assert_eq!(r.header("vary").unwrap(), b"Origin");
        assert_eq!(
            r.header("access-control-allow-credentials").unwrap(),
            b"true"
        );
    }
}

#[test]
fn a_list_allows_its_origins_only() {
    let mut h = with(Cors {
        origin: AllowOrigin::List(&["https://a.example", "http://localhost:8080"]),
        credentials: true,
        ..Cors::DEFAULT
    });
    let r = open_from(&mut h, Some("http://localhost:8080"));
    assert_eq!(allowed(&r), Some("http://localhost:8080"));
    assert_eq!(
        r.header("access-control-allow-credentials").unwrap(),
        b"true"
    );
    let r = open_from(&mut h, Some("https://a.example"));
    assert_eq!(allowed(&r), Some("https://a.example"));
    // Not listed (a prefix, a case change, another port), or no Origin: no origin allowed,
    // and still `Vary: Origin` (the answer depends on it).
    for origin in [
        Some("https://a.example.evil"),
        Some("HTTPS://A.EXAMPLE"),
        Some("http://localhost:8081"),
        None,
    ] {
        let r = open_from(&mut h, origin);
        assert_eq!(allowed(&r), None, "{origin:?}");
        assert_eq!(r.header("vary").unwrap(), b"Origin");
    }
    // The request is served all the same (the browser is what keeps the answer from the
    // page), as Node does.
    assert_eq!(h.server.usage().sessions, 6);
}

#[test]
fn reflect_echoes_any_origin_and_check_those_it_accepts() {
    let mut h = with(Cors {
        origin: AllowOrigin::Reflect,
        ..Cors::DEFAULT
    });
    let r = open_from(&mut h, Some("https://anything.example:8443"));
    assert_eq!(allowed(&r), Some("https://anything.example:8443"));
    assert_eq!(allowed(&open_from(&mut h, None)), None);

    let mut h = with(Cors {
        origin: AllowOrigin::Check(&|o| o.ends_with(".example.com") || o == "null"),
        ..Cors::DEFAULT
    });
    let r = open_from(&mut h, Some("https://shop.example.com"));
    assert_eq!(allowed(&r), Some("https://shop.example.com"));
    assert_eq!(r.header("vary").unwrap(), b"Origin");
    assert_eq!(allowed(&open_from(&mut h, Some("null"))), Some("null"));
    assert_eq!(
        allowed(&open_from(&mut h, Some("https://example.org"))),
        None
    );
}

#[test]
fn an_origin_longer_than_the_cap_is_not_echoed() {
    let mut h = with(Cors {
        origin: AllowOrigin::Reflect,
        ..Cors::DEFAULT
    });
    let long = format!("https://{}.example", "a".repeat(Cors::MAX_VALUE));
    assert_eq!(allowed(&open_from(&mut h, Some(&long))), None);
    let fits = format!("https://{}", "b".repeat(Cors::MAX_VALUE - 8));
    assert_eq!(
        allowed(&open_from(&mut h, Some(&fits))),
        Some(fits.as_str())
    );
}

#[test]
fn preflights_answer_methods_headers_and_max_age() {
    let mut h = with(Cors {
        origin: AllowOrigin::List(&["https://a.example"]),
        credentials: true,
        max_age: 600,
        ..Cors::DEFAULT
    });
    let r = preflight(&mut h, "https://a.example", Some("x-token,content-type"));
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    assert_eq!(allowed(&r), Some("https://a.example"));
    assert_eq!(
        r.header("access-control-allow-credentials").unwrap(),
        b"true"
    );
    assert_eq!(
        r.header("access-control-allow-methods").unwrap(),
        b"GET,HEAD,PUT,PATCH,POST,DELETE"
    );
    // The requested headers are echoed (Node's default), and the answer varies by them.
    assert_eq!(
        r.header("access-control-allow-headers").unwrap(),
        b"x-token,content-type"
    );
    assert_eq!(r.header("access-control-max-age").unwrap(), b"600");
    assert_eq!(
        r.header("vary").unwrap(),
        b"Origin, Access-Control-Request-Headers"
    );
    // Nothing requested: no Allow-Headers.
    let r = preflight(&mut h, "https://a.example", None);
    assert_eq!(r.header("access-control-allow-headers"), None);
    // Another origin: the preflight is answered without an allowed origin.
    let r = preflight(&mut h, "https://b.example", Some("x-token"));
    assert_eq!(r.status, 204);
    assert_eq!(allowed(&r), None);

    let mut h = with(Cors {
        methods: "GET,POST",
        allowed_headers: Some("x-token"),
        ..Cors::DEFAULT
    });
    let r = preflight(&mut h, "https://c.example", Some("x-other"));
    assert_eq!(allowed(&r), Some("*"));
    assert_eq!(
        r.header("access-control-allow-methods").unwrap(),
        b"GET,POST"
    );
    assert_eq!(
        r.header("access-control-allow-headers").unwrap(),
        b"x-token"
    );
    assert_eq!(r.header("access-control-max-age"), None);
    assert_eq!(r.header("vary"), None);
}

/// A long-poll answered later still carries the origin of its own request, each stream
/// its own, and the bytes kept for it go back to the pool with the stream.
#[test]
fn a_waiting_long_poll_keeps_its_request_origin() {
    let mut h = with(Cors {
        origin: AllowOrigin::Reflect,
        credentials: true,
        ..Cors::DEFAULT
    });
    let mut polls = Vec::new();
    for origin in ["https://one.example", "https://two.example"] {
        let sid = open_from(&mut h, Some(origin));
        let sid = open_sid(&sid.body);
        let s = h.request(
            format!(
                "GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n\
                 Host: localhost\r\nOrigin: {origin}\r\n\r\n"
            )
            .as_bytes(),
        );
        polls.push((s, origin));
    }
    h.drain();
    for (s, _) in &polls {
        assert!(!h.has_response(*s), "waits");
    }
    h.advance(25_000);
    for (s, origin) in &polls {
        let r = h.response(*s);
        assert_eq!(r.body, b"2", "the ping wakes the poll");
        assert_eq!(allowed(&r), Some(*origin));
        assert_eq!(
            r.header("access-control-allow-credentials").unwrap(),
            b"true"
        );
    }
    h.server.close_all();
    let streams: Vec<StreamId> = h.all_out.keys().copied().collect();
    for s in streams {
        if !h.is_closed(s) {
            h.reset(s);
        }
    }
    h.run_until(h.now + 60_000);
    assert_eq!(h.server.usage().streams, 0);
    assert_eq!(
        h.server.usage().blocks,
        0,
        "the kept origins went back to the pool"
    );
}

#[test]
fn values_too_long_or_with_control_characters_are_refused() {
    let long: &'static str = Box::leak("x".repeat(Cors::MAX_VALUE + 1).into_boxed_str());
    for cors in [
        Cors {
            origin: AllowOrigin::Exactly(long),
            ..Cors::DEFAULT
        },
        Cors {
            origin: AllowOrigin::List(&["https://ok.example", "https://bad\r\n.example"]),
            ..Cors::DEFAULT
        },
        Cors {
            allowed_headers: Some(long),
            ..Cors::DEFAULT
        },
        Cors {
            methods: "GET\nPOST",
            ..Cors::DEFAULT
        },
    ] {
        let config = ServerConfig {
            cors: Some(cors),
            ..config()
        };
        let cap = Capacity::for_sessions(4, 1 << 20);
        let err = Server::new(config, Storage::growable(cap), SEED, Instant::ZERO).err();
        assert_eq!(err, Some(ConfigError::Cors), "{cors:?}");
    }
}
