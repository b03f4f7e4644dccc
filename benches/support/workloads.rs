//! The codec paths that `benches/codecs.rs` times and `tests/no_alloc.rs` checks for heap
//! allocations. Inputs are built once (that may allocate); the paths themselves must not.

use siocore::engine::{
    self, Packet as EioPacket, PacketType, Payload, PayloadWriter, Record, TextPacket,
};
use siocore::sio::{self, Packet as SioPacket, Reassembly};
use siocore::ws::{self, FrameHeader, Incoming, MessageDecoder, OpCode, Role};

/// Mask key used by the "client" in these fixtures (RFC 6455's example key).
pub const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// The small chat event from the Socket.IO docs, as the Engine.IO message text.
pub const SMALL_EVENT: &[u8] = br#"42["chat message","hello"]"#;

/// Prepared wire bytes.
#[derive(Debug)]
pub struct Fixtures {
    /// `42["chat message","hello"]` in one masked text frame (client to server).
    pub small_frame: Vec<u8>,
    /// A 1 KiB JSON event in one masked text frame.
    pub json_frame: Vec<u8>,
    /// `451-["file",{placeholder 0}]` then a 64 KiB binary frame, both masked.
    pub binary_frames: Vec<u8>,
    /// A polling POST body of 50 chat events.
    pub payload50: Vec<u8>,
}

fn masked_frame(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; payload.len() + ws::MAX_HEADER_LEN];
    let n = ws::encode_frame(&mut out, true, opcode, payload, Some(MASK)).expect("frame fits");
    out.truncate(n);
    out
}

impl Fixtures {
    /// Builds every fixture.
    pub fn new() -> Self {
        let mut json = String::from(r#"42["update",{"items":["#);
        let mut i = 0;
        while json.len() < 1000 {
            json.push_str(&format!(
                r#"{{"id":{i},"name":"item {i}","ok":true,"score":{i}.5}},"#
            ));
            i += 1;
        }
        json.pop();
        json.push_str("]}]");
        let mut binary_frames = masked_frame(
            OpCode::Text,
            br#"451-["file",{"_placeholder":true,"num":0}]"#,
        );
        binary_frames.extend(masked_frame(OpCode::Binary, &vec![0xab; 64 * 1024]));
        let mut payload50 = Vec::new();
        for i in 0..50 {
            if i > 0 {
                payload50.push(engine::RECORD_SEPARATOR);
            }
            payload50.extend_from_slice(format!(r#"42["chat message","hello {i}"]"#).as_bytes());
        }
        Self {
            small_frame: masked_frame(OpCode::Text, SMALL_EVENT),
            json_frame: masked_frame(OpCode::Text, json.as_bytes()),
            binary_frames,
            payload50,
        }
    }
}

impl Default for Fixtures {
    fn default() -> Self {
        Self::new()
    }
}

/// Decodes one Socket.IO event carried by an Engine.IO text message.
fn sio_event(text: &str) -> (usize, usize) {
    let EioPacket::Text(eio) = EioPacket::decode_ws_str(text).expect("eio packet") else {
        panic!("text expected");
    };
    assert_eq!(eio.packet_type(), PacketType::Message);
    let packet = SioPacket::parse(eio.data().as_bytes()).expect("sio packet");
    let name = packet.event_name().expect("event name");
    (name.as_str().map_or(0, str::len), packet.args().len())
}

/// Masked frame in, event name and raw args out: (name length, args length).
pub fn decode_ws_event(frame: &[u8], rx: &mut [u8]) -> (usize, usize) {
    let mut decoder = MessageDecoder::new(rx, Role::Server, 1 << 20);
    decoder.feed(frame);
    match decoder.poll() {
        Ok(Some(Incoming::Text(text))) => sio_event(text),
        other => panic!("unexpected {other:?}"),
    }
}

/// Encodes `42["chat message","hello"]` into one unmasked server frame placed at the end
/// of a reserved header gap, so nothing is copied; returns the frame's range in `out`.
pub fn encode_ws_event(out: &mut [u8]) -> core::ops::Range<usize> {
    let gap = ws::MAX_HEADER_LEN;
    let (head, body) = out.split_at_mut(gap);
    body[0] = b'4';
    let n = 1 + sio::encode_event(&mut body[1..], "/", None, "chat message", br#""hello""#)
        .expect("event fits");
    let header = FrameHeader {
        fin: true,
        opcode: OpCode::Text,
        mask: None,
        payload_len: n as u64,
    };
    let h = header.encoded_len();
    header.encode(&mut head[gap - h..]).expect("header fits");
    gap - h..gap + n
}

/// Binary event with one attachment: header frame then blob frame; returns the blob size.
pub fn decode_binary_event(frames: &[u8], rx: &mut [u8]) -> usize {
    let mut decoder = MessageDecoder::new(rx, Role::Server, 1 << 20);
    decoder.feed(frames);
    let mut reassembly = Reassembly::new(10);
    match decoder.poll() {
        Ok(Some(Incoming::Text(text))) => {
            let EioPacket::Text(eio) = EioPacket::decode_ws_str(text).expect("eio") else {
                panic!("text expected");
            };
            let packet = SioPacket::parse(eio.data().as_bytes()).expect("sio packet");
            reassembly.packet(&packet).expect("header accepted");
            assert_eq!(packet.placeholders().count(), 1);
        }
        other => panic!("unexpected {other:?}"),
    }
    match decoder.poll() {
        Ok(Some(Incoming::Binary(blob))) => {
            let attachment = reassembly.binary().expect("blob expected");
            assert_eq!(attachment.progress, sio::Progress::Complete);
            blob.len()
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// A polling body of events: every record decoded down to event name and args.
pub fn decode_payload(body: &[u8]) -> usize {
    let mut count = 0;
    for record in Payload::new(body) {
        let Ok(Record::Text(packet)) = record else {
            panic!("text record expected");
        };
        let sio = SioPacket::parse(packet.data().as_bytes()).expect("sio packet");
        assert!(sio.event_name().is_some());
        count += 1;
    }
    count
}

/// 50 queued events batched into one polling response body; returns its length.
pub fn encode_payload(out: &mut [u8], scratch: &mut [u8]) -> usize {
    let mut body = PayloadWriter::new(out);
    for _ in 0..50 {
        let n = sio::encode_event(scratch, "/", None, "chat message", br#""hello""#)
            .expect("event fits");
        let text = core::str::from_utf8(&scratch[..n]).expect("utf-8");
        body.push(EioPacket::Text(TextPacket::new(PacketType::Message, text)))
            .expect("body fits");
    }
    body.finish()
}
