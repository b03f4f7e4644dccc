//! The same scenarios fed whole and one byte at a time give the same bytes and events.

use siocore::server::*;
use siocore::ws::OpCode;

use crate::harness::*;

const PH0: &str = r#"{"_placeholder":true,"num":0}"#;

fn app() -> App {
    Box::new(|server, e| match *e {
        Event::Connect(c) => {
            server.accept(c.socket).unwrap();
            server.emit(c.socket, "auth", Args::json(c.auth)).unwrap();
        }
        Event::Message(m) => {
            let (blobs, n) = m.attachments.to_array::<16>().unwrap();
            let args = Args::binary(m.args, &blobs[..n]);
            match m.ack {
                Some(id) => server.ack(m.socket, id, args).unwrap(),
                None => server.emit(m.socket, "echo", args).unwrap(),
            }
        }
        Event::EngineMessage { session, data } => server.send(session, data).unwrap(),
        Event::Http(r) => server.respond(r.stream, 200, &[], r.body()).unwrap(),
        _ => {}
    })
}

fn config() -> ServerConfig<'static> {
    ServerConfig {
        endpoints: &[Endpoint::SOCKET_IO, Endpoint::ENGINE_IO],
        namespaces: &["/", "/custom"],
        ..ServerConfig::DEFAULT
    }
}

/// Bytes written per stream, the events, and which streams closed.
type Transcript = (Vec<(StreamId, Vec<u8>)>, Vec<Ev>, Vec<bool>);

/// A long scenario over every path; returns the transcript.
fn scenario(chunk: Option<usize>) -> Transcript {
    let mut h = Harness::new(config());
    h.app = app();
    h.chunk = chunk;
    // Polling Socket.IO with binary, then the upgrade.
    let sid = h.handshake("/socket.io/");
    let poll = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    h.post(&poll, br#"40{"token":"abc"}"#);
    h.get(&poll);
    h.post(
        &poll,
        format!("42[\"a\",1]\x1e4212[\"b\",{{\"c\":[1,2]}}]\x1e451-[\"bin\",{PH0}]\x1ebAQID")
            .as_bytes(),
    );
    h.get(&poll);
    let g = h.get(&poll);
    let ws = h.connect();
    h.send(
        ws,
        ws_request(&format!("/socket.io/?EIO=4&transport=websocket&sid={sid}")).as_bytes(),
    );
    h.send(ws, &frame(OpCode::Text, b"2probe"));
    h.send(ws, &frame(OpCode::Text, b"5"));
    h.send(ws, &frame(OpCode::Text, b"40/custom,"));
    h.send(
        ws,
        &frame(
            OpCode::Text,
            format!("451-/custom,[\"bin\",{PH0}]").as_bytes(),
        ),
    );
    h.send(ws, &frame(OpCode::Binary, &[9; 300]));
    // A fragmented message with a ping in the middle.
    let mut wire = Vec::new();
    let mut out = [0u8; 64];
    let n = siocore::ws::encode_frame(
        &mut out,
        false,
        OpCode::Text,
        b"42[\"fr",
        Some([1, 2, 3, 4]),
    )
    .unwrap();
    wire.extend_from_slice(&out[..n]);
    wire.extend_from_slice(&frame(OpCode::Ping, b"p"));
    let n = siocore::ws::encode_frame(
        &mut out,
        true,
        OpCode::Continuation,
        b"ag\"]",
        Some([5, 6, 7, 8]),
    )
    .unwrap();
    wire.extend_from_slice(&out[..n]);
    h.send(ws, &wire);
    h.send(ws, &frame(OpCode::Text, b"41/custom,"));
    // Plain Engine.IO and HTTP, pipelined.
    let e = h.connect();
    let mut bytes = get("/engine.io/?EIO=4&transport=polling").into_bytes();
    bytes.extend_from_slice(&post("/page", b"hello"));
    bytes.extend_from_slice(b"GET /x HTTP/1.1\r\nHost: y\r\nConnection: close\r\n\r\n");
    h.send(e, &bytes);
    let (ews, _) = h.ws_handshake("/engine.io/");
    h.send(ews, &frame(OpCode::Binary, &[1, 2, 3]));
    h.send(ews, &frame(OpCode::Text, b"4text"));
    h.send(ews, &frame(OpCode::Close, &[0x03, 0xe8]));
    h.send(ws, &frame(OpCode::Text, b"1"));
    let _ = g;
    let closed = h.all_out.keys().map(|s| h.is_closed(*s)).collect();
    (
        h.all_out.clone().into_iter().collect(),
        h.events.clone(),
        closed,
    )
}

#[test]
fn one_byte_chunks_change_nothing() {
    let whole = scenario(None);
    assert!(whole.0.len() >= 8, "streams: {}", whole.0.len());
    assert!(whole.1.len() >= 12, "events: {:?}", whole.1);
    for chunk in [1, 2, 5, 13] {
        assert_eq!(scenario(Some(chunk)), whole, "chunk {chunk}");
    }
}
