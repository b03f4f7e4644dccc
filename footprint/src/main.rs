//! Links every siocore codec into one bare-metal image so its `.text` can be measured.
//!
//! Inputs come through `black_box` from a static buffer, so nothing is constant-folded
//! away; every result goes back through `black_box`, so nothing is dropped as dead code.
#![no_std]
#![no_main]

use core::hint::black_box;
use siocore::{Status, engine, http, sio, ws};

static INPUT: [u8; 256] = [0; 256];

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}

#[inline(never)]
fn http_codec(input: &[u8], out: &mut [u8]) {
    let mut slots = [http::EMPTY_HEADER; 16];
    if let Ok(Status::Complete(req)) =
        http::parse_request(input, &mut slots, &http::Limits::DEFAULT)
    {
        black_box(req.engine_query());
        black_box(req.body().is_ok());
        black_box(req.wants_websocket_upgrade());
        for p in req.params() {
            black_box(p.percent_decode_into(out).is_ok());
        }
    }
    let mut slots = [http::EMPTY_HEADER; 16];
    if let Ok(Status::Complete(res)) =
        http::parse_response(input, &mut slots, &http::Limits::DEFAULT)
    {
        black_box(res.body().is_ok());
        black_box(res.sec_websocket_accept());
    }
    let head = http::ResponseHead::new(200)
        .content_type(b"text/plain; charset=UTF-8")
        .no_store()
        .cors(http::Cors::new(b"http://localhost"));
    black_box(head.write(black_box(b"ok"), out).is_ok());
    let req = http::RequestHead::new(http::Method::Post, "/socket.io/?EIO=4&transport=polling")
        .host(b"localhost")
        .content_type(b"text/plain;charset=UTF-8");
    black_box(req.write(black_box(b"40"), out).is_ok());
}

#[inline(never)]
fn engine_codec(input: &[u8], out: &mut [u8], scratch: &mut [u8]) {
    for record in engine::Payload::new(input) {
        if let Ok(engine::Record::Binary(b)) = record {
            black_box(b.decode_into(scratch).is_ok());
        } else {
            black_box(record.is_ok());
        }
    }
    black_box(engine::Packet::decode_ws_text(input).is_ok());
    if let Ok(text) = core::str::from_utf8(input) {
        black_box(engine::Packet::decode_ws_str(text).is_ok());
    }
    let mut w = engine::PayloadWriter::new(out);
    black_box(
        w.push(engine::Packet::Text(engine::TextPacket::new(
            engine::PacketType::Message,
            "hi",
        )))
        .is_ok(),
    );
    black_box(w.push(engine::Packet::Binary(input)).is_ok());
    let open = engine::OpenPacket::new("Yk3cRq9vLm2Xw0PaAAAB", true);
    black_box(open.encode(out).is_ok());
    black_box(engine::OpenPacket::decode(input).is_ok());
    black_box(
        engine::ErrorBody::new(
            engine::ErrorCode::from_u8(input[0] % 6)
                .unwrap_or(engine::ErrorCode::from_u8(0).unwrap()),
        )
        .encode(out)
        .is_ok(),
    );
    black_box(engine::ErrorBody::decode(input, scratch).is_ok());
}

#[inline(never)]
fn ws_codec(input: &[u8], rx: &mut [u8], out: &mut [u8]) {
    let handshake = ws::ClientHandshake {
        method: b"GET",
        upgrade: Some(input),
        connection: Some(input),
        version: Some(input),
        key: Some(input),
    };
    if let Ok(accept) = handshake.validate() {
        black_box(ws::write_server_response(&accept, out).is_ok());
    }
    let key = ws::ClientKey::from_random([input[1]; 16]);
    black_box(ws::write_client_headers(&key, out).is_ok());
    black_box(
        ws::ServerHandshake {
            status: 101,
            upgrade: Some(input),
            connection: Some(input),
            accept: Some(input),
        }
        .validate(&key)
        .is_ok(),
    );
    let mut decoder = ws::MessageDecoder::new(rx, ws::Role::Server, 1000);
    decoder.feed(input);
    while let Ok(Some(item)) = decoder.poll() {
        black_box(&item);
    }
    black_box(ws::encode_frame(out, true, ws::OpCode::Text, input, None).is_ok());
    black_box(ws::encode_close(out, None, Some([1, 2, 3, 4])).is_ok());
}

#[inline(never)]
fn sio_codec(input: &[u8], out: &mut [u8], scratch: &mut [u8]) {
    for config in [sio::Config::DEFAULT, sio::Config::CLIENT] {
        if let Ok(packet) = sio::Packet::parse_with(input, &config) {
            black_box(packet.event_name().map(|n| n.eq_str("chat message")));
            for arg in packet.args_iter() {
                black_box(arg);
            }
            for placeholder in packet.placeholders() {
                black_box(placeholder);
            }
            black_box(packet.error_message());
            let mut reassembly = sio::Reassembly::new(10);
            black_box(reassembly.packet(&packet).is_ok());
            black_box(reassembly.binary().is_ok());
            black_box(packet.encode(out).is_ok());
        }
    }
    black_box(siocore::json::validate(input).is_ok());
    if let Ok(s) = siocore::json::JsonStr::parse(input) {
        black_box(s.unescape_into(scratch).is_ok());
    }
    black_box(sio::encode_connect_sid(out, "/chat", "b7QwE2kVn0dR5mXyAAAC").is_ok());
    black_box(sio::encode_event(out, "/", None, "chat message", input).is_ok());
    black_box(sio::encode_ack(out, "/", 7, input).is_ok());
    black_box(sio::encode_connect_error(out, "/", "Invalid namespace", None).is_ok());
    black_box(sio::encode_disconnect(out, "/chat").is_ok());
    if let Ok(mut w) = sio::ArgsWriter::binary_event(out, "/", Some(3), "file", 1) {
        w.arg(b"1");
        w.binary_arg();
        black_box(w.finish().is_ok());
    }
}

/// Entry point: runs every codec forever on whatever the input buffer holds.
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let mut rx = [0u8; 1024];
    let mut out = [0u8; 512];
    let mut scratch = [0u8; 256];
    loop {
        let input: &[u8] = black_box(&INPUT[..]);
        http_codec(input, &mut out);
        engine_codec(input, &mut out, &mut scratch);
        ws_codec(input, &mut rx, &mut out);
        sio_codec(input, &mut out, &mut scratch);
    }
}
