//! Fuzz check for the Engine.IO v3 polling bodies (`siocore::engine::v3`, feature `eio3`):
//! whatever a body decodes to, written again in the text framing, reads back as the same
//! packets; offsets stay within the body; lengths agree.

use siocore::engine::v3::{V3Payload, V3PayloadWriter, V3Record, utf16_len};
use siocore::engine::{Packet, TextPacket};

/// Decodes `data` as a v3 body and checks its invariants.
pub fn check(data: &[u8]) {
    let mut body = [0u8; 16384];
    let mut scratch = [0u8; 4096];
    let mut w = V3PayloadWriter::new(&mut body);
    let mut records = V3Payload::new(data);
    let mut packets: Vec<(bool, Vec<u8>)> = Vec::new();
    while let Some(item) = records.next() {
        assert!(records.offset() <= data.len());
        let Ok(rec) = item else { break };
        let packet = match rec {
            V3Record::Text(t) => {
                assert!(utf16_len(t.data().as_bytes()) <= t.data().len());
                Packet::Text(t)
            }
            V3Record::Base64(b) => {
                let Ok(n) = b.decode_into(&mut scratch) else {
                    break;
                };
                Packet::Binary(&scratch[..n])
            }
            V3Record::Binary(b) => Packet::Binary(b),
        };
        packets.push(match packet {
            Packet::Text(t) => (
                false,
                [&[t.packet_type().digit()][..], t.data().as_bytes()].concat(),
            ),
            Packet::Binary(b) => (true, b.to_vec()),
        });
        if w.push(packet).is_err() {
            packets.pop();
            break;
        }
    }
    let written = w.as_bytes().to_vec();
    let mut again = Vec::new();
    let mut scratch = [0u8; 4096];
    for item in V3Payload::new(&written) {
        let rec = item.unwrap_or_else(|e| panic!("rewritten body does not read back: {e}"));
        again.push(match rec {
            V3Record::Text(t) => (
                false,
                [&[t.packet_type().digit()][..], t.data().as_bytes()].concat(),
            ),
            V3Record::Base64(b) => {
                let n = b.decode_into(&mut scratch).expect("fits");
                (true, scratch[..n].to_vec())
            }
            V3Record::Binary(b) => (true, b.to_vec()),
        });
    }
    assert_eq!(again, packets);
    let _ = TextPacket::decode(data);
}
