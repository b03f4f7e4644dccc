//! Fuzz check for the WebSocket codec (`siocore::ws`).
//!
//! The first byte picks the mode: bit 0 the receiving role, bits 1-2 the receive buffer
//! size, bits 3-4 the maximum message size, bits 5-7 the feeding chunk size. The rest is
//! wire bytes, fed to the frame header decoder, the message decoder, the close payload
//! parser, the handshake checks and the masking routine.

use siocore::Status;
use siocore::http::has_token;
use siocore::ws::{
    AcceptKey, ClientHandshake, CloseFrame, FrameHeader, FrameScanner, Incoming, MAX_HEADER_LEN,
    MessageDecoder, OpCode, Role, apply_mask, encode_close, encode_frame,
};

const RX: usize = 700;

/// Drives the decoders with `data`; panics if an invariant breaks.
pub fn check(data: &[u8]) {
    let Some((&mode, wire)) = data.split_first() else {
        return;
    };
    let role = if mode & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    check_header(wire, role);
    check_messages(mode, wire, role);
    check_scanner(mode, wire, role);
    check_close_payload(wire);
    check_handshake(wire);
    check_mask(wire, mode);
}

fn check_header(wire: &[u8], role: Role) {
    let Ok(Status::Complete((header, n))) = FrameHeader::decode(wire, role) else {
        return;
    };
    assert!(n <= wire.len() && n <= MAX_HEADER_LEN);
    assert_eq!(header.encoded_len(), n);
    // Lengths are minimal, so the header re-encodes to the same bytes.
    let mut out = [0u8; MAX_HEADER_LEN];
    assert_eq!(header.encode(&mut out), Ok(n));
    assert_eq!(out.get(..n), wire.get(..n));
    for cut in 0..n {
        let prefix = wire.get(..cut).unwrap_or_default();
        assert_eq!(FrameHeader::decode(prefix, role), Ok(Status::Partial));
    }
}

fn check_messages(mode: u8, wire: &[u8], role: Role) {
    let mut rx = [0u8; RX];
    let cap = [RX, 300, 140, 40][usize::from(mode >> 1 & 3)];
    let max = [500, 200, 20, 0][usize::from(mode >> 3 & 3)];
    let chunk = [1, 2, 3, 7, 16, 64, 200, 1000][usize::from(mode >> 5)];
    let mut dec = MessageDecoder::new(rx.get_mut(..cap).unwrap_or_default(), role, max);
    assert!(dec.max_message() <= max);
    let limit = dec.max_message();
    let mut sent = 0;
    loop {
        match dec.poll() {
            Ok(Some(item)) => check_item(item, role, limit),
            Ok(None) => {
                let end = wire.len().min(sent + chunk);
                let n = dec.feed(wire.get(sent..end).unwrap_or_default());
                assert!(n <= end - sent);
                if n == 0 {
                    break;
                }
                sent += n;
            }
            Err(e) => {
                assert!(matches!(e.close_code().0, 1002 | 1007 | 1009));
                assert_eq!(dec.poll(), Err(e));
                break;
            }
        }
    }
    assert!(dec.buffered() <= cap);
}

/// One decoded item, owned: (kind, bytes).
type Item = (u8, Vec<u8>);

fn owned(item: Incoming<'_>) -> Item {
    match item {
        Incoming::Text(t) => (b't', t.as_bytes().to_vec()),
        Incoming::Binary(b) => (b'b', b.to_vec()),
        Incoming::Ping(p) => (b'i', p.to_vec()),
        Incoming::Pong(p) => (b'o', p.to_vec()),
        Incoming::Close(None) => (b'c', Vec::new()),
        Incoming::Close(Some(c)) => {
            let mut v = c.code.0.to_be_bytes().to_vec();
            v.extend_from_slice(c.reason.as_bytes());
            (b'c', v)
        }
    }
}

/// The in-place scanner against the message decoder on the same bytes: the same items,
/// however the bytes are chunked. Where one of them stops on an error (the decoder checks
/// UTF-8 fragment by fragment, the scanner once the message is whole), the items before
/// it still agree.
fn check_scanner(mode: u8, wire: &[u8], role: Role) {
    let max = [500, 200, 20, 0][usize::from(mode >> 3 & 3)];
    let chunk = [1, 2, 3, 7, 16, 64, 200, 1000][usize::from(mode >> 5)];
    let mut rx = vec![0u8; 4096];
    let mut dec = MessageDecoder::new(&mut rx[..], role, max);
    let mut expected = Vec::new();
    let mut sent = 0;
    let dec_failed = loop {
        match dec.poll() {
            Ok(Some(item)) => expected.push(owned(item)),
            Ok(None) if sent < wire.len() => sent += dec.feed(&wire[sent..]),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    let mut scanner = FrameScanner::new(role, max);
    let mut buf: Vec<u8> = Vec::new();
    let mut got = Vec::new();
    let mut fed = 0;
    let scan_failed = 'feed: loop {
        loop {
            match scanner.peek(&buf) {
                Err(_) => break 'feed true,
                Ok(None) => break,
                Ok(Some(_)) => {}
            }
            // The input is untouched by `peek`.
            let before = buf.clone();
            assert!(scanner.peek(&buf).is_ok_and(|p| p.is_some()));
            assert_eq!(buf, before);
            match scanner.take(&mut buf) {
                Err(_) => break 'feed true,
                Ok(None) => unreachable!("peek found an item"),
                Ok(Some((item, consumed))) => {
                    got.push(owned(item));
                    assert!(consumed <= buf.len());
                    buf.drain(..consumed);
                }
            }
        }
        if fed == wire.len() {
            break false;
        }
        let end = wire.len().min(fed + chunk);
        buf.extend_from_slice(&wire[fed..end]);
        fed = end;
    };
    if !dec_failed && !scan_failed {
        assert_eq!(got, expected);
    } else {
        let n = got.len().min(expected.len());
        assert_eq!(got[..n], expected[..n]);
    }
}

/// Re-encodes `item` as the peer would send it and decodes it again.
fn check_item(item: Incoming<'_>, role: Role, limit: usize) {
    let (opcode, payload): (OpCode, &[u8]) = match item {
        Incoming::Text(t) => (OpCode::Text, t.as_bytes()),
        Incoming::Binary(b) => (OpCode::Binary, b),
        Incoming::Ping(p) => (OpCode::Ping, p),
        Incoming::Pong(p) => (OpCode::Pong, p),
        Incoming::Close(c) => {
            if let Some(c) = c {
                assert!(c.code.is_sendable());
            }
            let mut out = [0u8; 140];
            let n = encode_close(&mut out, c, peer_mask(role)).unwrap_or(0);
            assert_redecodes(out.get(..n).unwrap_or_default(), role, item);
            return;
        }
    };
    if opcode.is_control() {
        assert!(payload.len() <= 125);
    } else {
        assert!(payload.len() <= limit);
    }
    let mut out = [0u8; RX];
    let n = encode_frame(&mut out, true, opcode, payload, peer_mask(role)).unwrap_or(0);
    assert_redecodes(out.get(..n).unwrap_or_default(), role, item);
}

/// Decodes one frame with a fresh decoder and asserts it yields `want`.
fn assert_redecodes(frame: &[u8], role: Role, want: Incoming<'_>) {
    let mut rx = [0u8; RX];
    let mut dec = MessageDecoder::new(&mut rx[..], role, RX);
    assert_eq!(dec.feed(frame), frame.len());
    assert_eq!(dec.poll(), Ok(Some(want)));
}

fn peer_mask(role: Role) -> Option<[u8; 4]> {
    match role {
        Role::Server => Some([0xa5, 0x01, 0x7e, 0x80]),
        Role::Client => None,
    }
}

fn check_close_payload(wire: &[u8]) {
    if let Ok(Some(close)) = CloseFrame::parse(wire) {
        assert!(close.code.is_sendable());
        let mut out = [0u8; 128];
        let n = close.write_payload(&mut out).unwrap_or(0);
        assert_eq!(out.get(..n), Some(wire));
    }
}

fn check_handshake(wire: &[u8]) {
    // `Connection` value, newline, `Sec-WebSocket-Key` value.
    let split = wire.iter().position(|&b| b == b'\n').unwrap_or(wire.len());
    let (connection, key) = wire.split_at(split);
    let key = key.get(1..).unwrap_or_default();
    let hs = ClientHandshake {
        method: b"GET",
        upgrade: Some(b"websocket"),
        connection: Some(connection),
        version: Some(b"13"),
        key: Some(key),
    };
    if let Ok(accept) = hs.validate() {
        assert!(has_token(connection, b"upgrade"));
        assert_eq!(accept.as_bytes().len(), 28);
        assert!(accept.as_bytes().iter().all(u8::is_ascii_graphic));
    }
    let _ = AcceptKey::for_key(wire);
}

fn check_mask(wire: &[u8], mode: u8) {
    let mut buf = [0u8; 512];
    let n = wire.len().min(buf.len());
    let (Some(dst), Some(src)) = (buf.get_mut(..n), wire.get(..n)) else {
        return;
    };
    dst.copy_from_slice(src);
    let key = [mode, 0x5a, mode ^ 0xff, 3];
    let offset = usize::from(mode);
    apply_mask(dst, key, offset);
    // Two halves masked separately equal the whole masked at once.
    let mid = n / 2;
    let mut again = [0u8; 512];
    if let Some(a) = again.get_mut(..n) {
        a.copy_from_slice(src);
        let (x, y) = a.split_at_mut(mid);
        apply_mask(x, key, offset);
        apply_mask(y, key, offset + mid);
    }
    assert_eq!(buf.get(..n), again.get(..n));
    apply_mask(buf.get_mut(..n).unwrap_or_default(), key, offset);
    assert_eq!(buf.get(..n), Some(src));
}
