//! Fuzz check for the Engine.IO codec: the first byte picks a decoder, the rest is its input.

use siocore::engine::{
    ErrorBody, OpenPacket, Packet, Payload, PayloadWriteError, PayloadWriter, Record, TextPacket,
};

/// Drives one engine decoder with `data` and checks its invariants.
pub fn check(data: &[u8]) {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => ws_message(input),
        1 => payload(input),
        2 => open(input),
        _ => error_body(input),
    }
}

/// WebSocket messages: a decoded text packet re-encodes to the same bytes.
fn ws_message(input: &[u8]) {
    let mut out = [0u8; 4096];
    if let Ok(p) = Packet::decode_ws_text(input) {
        assert!(!p.is_binary());
        assert_eq!(p.ws_len(), input.len());
        if let Ok(n) = p.encode_ws(&mut out) {
            assert_eq!(out.get(..n), Some(input));
        }
        if let Packet::Text(t) = p {
            assert_eq!(TextPacket::decode(input), Ok(t));
        }
    }
    let b = Packet::decode_ws_binary(input);
    assert_eq!(b.ws_len(), input.len());
    if let Ok(n) = b.encode_ws(&mut out) {
        assert_eq!(out.get(..n), Some(input));
    }
}

/// Polling bodies: records rewritten by the payload writer read back as the same packets.
fn payload(input: &[u8]) {
    let mut body = [0u8; 8192];
    let mut scratch = [0u8; 4096];
    let mut w = PayloadWriter::new(&mut body);
    let mut records = Payload::new(input);
    for item in records.by_ref() {
        let Ok(rec) = item else { break };
        if let Record::Binary(b) = rec {
            assert!(b.decoded_len() <= b.encoded().len());
        }
        let Ok(packet) = rec.to_packet(&mut scratch) else {
            break;
        };
        let before = w.len();
        match w.push(packet) {
            Ok(()) => assert_eq!(
                w.len(),
                before + usize::from(before > 0) + packet.polling_len()
            ),
            Err(PayloadWriteError::BufferTooSmall(e)) => {
                assert!(e.required > w.capacity());
                assert_eq!(w.len(), before);
                break;
            }
            // Records never contain the separator.
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert!(records.offset() <= input.len());
    let count = w.packet_count();
    let written = w.finish();
    if count == 0 {
        // No packet, no body (an empty body is not a valid payload).
        assert_eq!(written, 0);
        return;
    }
    let Some(rewritten) = body.get(..written) else {
        panic!("writer length beyond its buffer");
    };
    let mut again = Payload::new(rewritten);
    let mut original = Payload::new(input);
    let mut scratch2 = [0u8; 4096];
    for _ in 0..count {
        let (Some(Ok(a)), Some(Ok(b))) = (original.next(), again.next()) else {
            panic!("rewritten body lost a record");
        };
        let pa = a.to_packet(&mut scratch);
        let pb = b.to_packet(&mut scratch2);
        assert_eq!(pa, pb);
    }
    assert!(again.next().is_none());
}

/// Open packets: a decoded packet re-encodes and decodes to the same value.
fn open(input: &[u8]) {
    let Ok(p) = OpenPacket::decode(input) else {
        return;
    };
    let mut out = [0u8; 8192];
    let Ok(n) = p.encode(&mut out) else {
        return;
    };
    assert_eq!(n, p.encoded_len());
    assert_eq!(out.get(..n).map(OpenPacket::decode), Some(Ok(p)));
}

/// Error bodies: a decoded body re-encodes and decodes to the same value.
fn error_body(input: &[u8]) {
    let mut scratch = [0u8; 4096];
    let Ok(b) = ErrorBody::decode(input, &mut scratch) else {
        return;
    };
    let mut out = [0u8; 8192];
    let Ok(n) = b.encode(&mut out) else {
        return;
    };
    assert_eq!(n, b.encoded_len());
    let mut scratch2 = [0u8; 8192];
    assert_eq!(
        out.get(..n).map(|o| ErrorBody::decode(o, &mut scratch2)),
        Some(Ok(b))
    );
}
