//! Fuzz check for `siocore::http`: request/response heads, bodies, the writers, queries.
//!
//! The first byte picks the mode; the rest is the input.

use siocore::Status;
use siocore::http::{
    self, EMPTY_HEADER, EngineQuery, Limits, Params, RequestHead, ResponseHead, WriteError,
};

const LIMITS: Limits = Limits {
    max_head: 2048,
    max_body: 4096,
};

/// Room for a re-written head (CRLF line ends and `": "` can make it longer).
const REWRITE: Limits = Limits {
    max_head: 8192,
    max_body: 4096,
};

pub fn check(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => requests(rest),
        1 => response(rest),
        2 => query(rest),
        _ => body(rest),
    }
}

/// Pipelined requests: parse, take the body, go on after it; re-write each head and parse
/// it back to the same fields.
fn requests(data: &[u8]) {
    let mut at = 0;
    for _ in 0..4 {
        let Some(buf) = data.get(at..) else {
            panic!("consumed past the end")
        };
        let mut slots = [EMPTY_HEADER; 16];
        let Ok(Status::Complete(r)) = http::parse_request(buf, &mut slots, &LIMITS) else {
            return;
        };
        assert!(r.head_len() <= buf.len() && r.head_len() <= LIMITS.max_head);
        assert!(r.target().starts_with(r.path()));
        assert!(r.target().ends_with(r.query()));
        if r.wants_websocket_upgrade() {
            assert!(r.connection().upgrade && r.upgrade_websocket());
        }
        if r.connection().close {
            assert!(!r.keep_alive());
        }
        let q = r.engine_query();
        if let Some(sid) = q.sid {
            assert!(r.query().contains(sid));
        }

        // Re-write with every raw header as an extra header, then parse again.
        let mut out = [0u8; 8192];
        match RequestHead::new(r.method(), r.target())
            .headers(r.headers())
            .write_head(None, &mut out)
        {
            Ok(n) => {
                let written = out.get(..n).unwrap_or(&[]);
                let mut slots2 = [EMPTY_HEADER; 16];
                let again = http::parse_request(written, &mut slots2, &REWRITE);
                let Ok(Status::Complete(r2)) = again else {
                    panic!("re-written request did not parse: {again:?}")
                };
                assert_eq!(r2.head_len(), n);
                assert_eq!(r2.method(), r.method());
                assert_eq!(r2.target(), r.target());
                assert_eq!(r2.headers(), r.headers());
                assert_eq!(r2.content_length(), r.content_length());
                assert_eq!(r2.connection(), r.connection());
                assert_eq!(r2.host(), r.host());
                assert_eq!(r2.origin(), r.origin());
                assert_eq!(r2.sec_websocket_key(), r.sec_websocket_key());
                assert_eq!(r2.engine_query(), q);
            }
            Err(WriteError::BufferTooSmall(_)) => {}
            Err(e) => panic!("parsed request refused by the writer: {e:?}"),
        }

        let Ok(Status::Complete(b)) = r.body() else {
            return;
        };
        assert!(b.consumed <= buf.len());
        assert_eq!(b.consumed, r.head_len() + b.bytes.len());
        assert_eq!(Some(b.bytes.len() as u64), r.content_length().or(Some(0)));
        if b.consumed == 0 {
            return;
        }
        at += b.consumed;
    }
}

fn response(data: &[u8]) {
    let mut slots = [EMPTY_HEADER; 16];
    let Ok(Status::Complete(r)) = http::parse_response(data, &mut slots, &LIMITS) else {
        return;
    };
    assert!(r.head_len() <= data.len() && r.head_len() <= LIMITS.max_head);
    if let Ok(Status::Complete(b)) = r.body() {
        assert!(b.consumed <= data.len());
        assert_eq!(b.consumed, r.head_len() + b.bytes.len());
    }
    let mut out = [0u8; 8192];
    match ResponseHead::new(r.code())
        .reason(r.reason())
        .headers(r.headers())
        .write_head(None, &mut out)
    {
        Ok(n) => {
            let written = out.get(..n).unwrap_or(&[]);
            let mut slots2 = [EMPTY_HEADER; 16];
            let again = http::parse_response(written, &mut slots2, &REWRITE);
            let Ok(Status::Complete(r2)) = again else {
                panic!("re-written response did not parse: {again:?}")
            };
            assert_eq!(r2.head_len(), n);
            assert_eq!((r2.code(), r2.reason()), (r.code(), r.reason()));
            assert_eq!(r2.headers(), r.headers());
            assert_eq!(r2.content_length(), r.content_length());
            assert_eq!(r2.sec_websocket_accept(), r.sec_websocket_accept());
        }
        // Status codes below 100 parse but are not written.
        Err(WriteError::InvalidStatus) => assert!(r.code() < 100),
        Err(WriteError::BufferTooSmall(_)) => {}
        Err(e) => panic!("parsed response refused by the writer: {e:?}"),
    }
}

fn query(data: &[u8]) {
    let mut out = [0u8; 512];
    let full = http::percent_decode_into(data, &mut out);
    if let Ok(n) = full {
        assert!(n <= data.len());
        // A buffer one byte short reports exactly the size needed.
        if let Some(short) = n.checked_sub(1) {
            let mut small = [0u8; 512];
            let got = http::percent_decode_into(data, small.get_mut(..short).unwrap_or(&mut []));
            assert_eq!(
                got,
                Err(http::PercentDecodeError::BufferTooSmall(
                    siocore::BufferTooSmall { required: n }
                ))
            );
        }
    }
    let Ok(s) = core::str::from_utf8(data) else {
        return;
    };
    let q = EngineQuery::parse(s);
    let mut first_eio = None;
    let mut count = 0usize;
    for p in Params::new(s) {
        assert!(!p.key.contains('&') && !p.value.contains('&'));
        assert!(!p.key.contains('='));
        if p.key == "EIO" && first_eio.is_none() {
            first_eio = Some(p.value);
        }
        let mut dec = [0u8; 512];
        if let Ok(n) = p.percent_decode_into(&mut dec) {
            assert!(n <= p.value.len());
        }
        count += 1;
    }
    assert!(count <= s.len());
    assert_eq!(q.eio, first_eio);
}

/// `[len_hi, len_lo, max_hi, max_lo, bytes...]`.
fn body(data: &[u8]) {
    let [a, b, c, d, bytes @ ..] = data else {
        return;
    };
    let len = u64::from(u16::from_be_bytes([*a, *b]));
    let max = u64::from(u16::from_be_bytes([*c, *d]));
    match http::body_by_length(bytes, len, max) {
        Ok(Status::Complete(body)) => {
            assert_eq!(body.bytes.len() as u64, len);
            assert_eq!(body.consumed, body.bytes.len());
            assert!(len <= max);
        }
        Ok(Status::Partial) => assert!((bytes.len() as u64) < len && len <= max),
        Err(http::BodyError::TooLarge { length, max: m }) => {
            assert!(length > m && length == len && m == max);
        }
        Err(e) => panic!("unexpected body error {e:?}"),
    }
}
