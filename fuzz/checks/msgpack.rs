//! Fuzz check for the packets of the msgpack parser (`siocore::sio::msgpack`, feature
//! `msgpack-parser`).
//!
//! Invariants: decoding never panics; a packet that decodes has a namespace, no binary
//! type, an ack id within range, a name when it is an event; its arguments, when they fit,
//! are a valid JSON list whose placeholders number exactly the blobs found; written again
//! as a packet and decoded, they give the same packet and the same arguments; a CONNECT's
//! auth, when it converts, is a valid JSON object.

use siocore::json::Limits;
use siocore::msgpack::Writer;
use siocore::server::Args;
use siocore::sio::msgpack::{MsgPackPacket, encode_event};
use siocore::sio::{MAX_ACK_ID, PacketType, check_args};

const LIMITS: Limits = Limits {
    max_depth: 64,
    max_size: usize::MAX,
};

pub fn check(data: &[u8]) {
    let Ok(p) = MsgPackPacket::decode(data) else {
        return;
    };
    let kind = p.packet_type();
    assert!(!kind.is_binary());
    assert!(p.ack_id().is_none_or(|id| id <= MAX_ACK_ID));
    assert_eq!(kind == PacketType::Event, p.event_name().is_some());
    let _ = p.namespace();

    let mut auth = [0u8; 4096];
    if let Ok(n) = p.write_data(&mut auth)
        && n > 0
        && kind == PacketType::Connect
    {
        assert!(LIMITS.validate(&auth[..n]).is_ok(), "{:?}", &auth[..n]);
        assert_eq!(auth[0], b'{');
    }

    let mut json = [0u8; 16384];
    let mut blobs = [&[][..]; 16];
    let Ok((len, count)) = p.write_args(&mut json, &mut blobs) else {
        return;
    };
    if !matches!(kind, PacketType::Event | PacketType::Ack) {
        assert_eq!((len, count), (0, 0));
        return;
    }
    let args = &json[..len];
    LIMITS
        .validate_list(args)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(args)));
    // Its placeholders number exactly the blobs found.
    let blobs = &blobs[..count];
    let again_args = Args::binary(args, blobs);
    check_args(&again_args).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(args)));

    // Written again (as an event or an ack) and read back: the same packet.
    let mut out = vec![0u8; data.len() * 4 + 256];
    let mut w = Writer::new(&mut out);
    let name = p.event_name();
    encode_event(&mut w, p.namespace(), p.ack_id(), name, &again_args, None)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(args)));
    let q = MsgPackPacket::decode(w.written()).expect("what was written reads");
    assert_eq!(
        (q.packet_type(), q.namespace(), q.ack_id(), q.event_name()),
        (kind, p.namespace(), p.ack_id(), name)
    );
    let mut json2 = [0u8; 16384];
    let mut blobs2 = [&[][..]; 16];
    let (len2, count2) = q
        .write_args(&mut json2, &mut blobs2)
        .expect("fits as before");
    assert_eq!(
        &json2[..len2],
        args,
        "{}",
        String::from_utf8_lossy(&json2[..len2])
    );
    assert_eq!(&blobs2[..count2], blobs);
}
