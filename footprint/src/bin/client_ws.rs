//! Links the WebSocket-only sans-IO client (`WsClient`: no polling compiled in) and the
//! codecs it uses into one bare-metal image, to measure its `.text` — the client a
//! microcontroller builds — and records its RAM on this 32-bit target in `SIZES`: the
//! `WsClient` value itself (2 namespaces, 4 acks), everything besides the payload buffers.
//!
//! Every input comes through `black_box`, every output goes back through it, so nothing is
//! folded away.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::mem::size_of;
use siocore::Instant;
use siocore::client::*;

type Cl = WsClient<'static, 2, 4>;

static INPUT: [u8; 512] = [0; 512];

/// `[size_of::<WsClient<2, 4>>(), size_of::<Event>()]` on this target.
#[used]
#[unsafe(no_mangle)]
pub static SIZES: [u32; 2] = [size_of::<Cl>() as u32, size_of::<Event<'static>>() as u32];

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}

#[inline(never)]
fn app(client: &mut WsClient<'_, 2, 4>, buf: &mut [u8], now: Instant) {
    while let Ok(Some(event)) = client.poll_event(buf) {
        match event {
            Event::Connect { ns, .. } => {
                black_box(client.emit(ns, "hello", Args::json(b"1")).is_ok());
                black_box(
                    client
                        .emit_with_ack(ns, "ask", Args::NONE, 5000, now)
                        .is_ok(),
                );
            }
            Event::Message(m) => {
                let (blobs, n) = m.attachments.to_array::<4>().unwrap_or_default();
                let args = Args::binary(m.args, &blobs[..n]);
                match m.ack {
                    Some(id) => black_box(client.ack(m.ns, id, args).is_ok()),
                    None => black_box(client.emit_volatile(m.ns, "echo", args).is_ok()),
                };
            }
            Event::Disconnect { ns, .. } => {
                black_box(client.disconnect(ns).is_ok());
            }
            other => {
                black_box(matches!(other, Event::Closed { .. }));
            }
        }
    }
}

/// Entry point: a client over a stack arena, fed whatever the input buffer holds.
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let mut config = ClientConfig::new("device.local:3000");
    config.transports = Transports::WebSocket;
    config.rx_capacity = 1024;
    config.outbox_capacity = 1024;
    config.binary_capacity = 512;
    config.namespace_capacity = 128;
    let mut arena = [0u8; 8192];
    let Ok(mut client) =
        WsClient::<'_, 2, 4>::new(black_box(config), &mut arena, black_box([1; 32]))
    else {
        loop {}
    };
    black_box(client.connect("/", None).is_ok());
    black_box(client.connect("/admin", Some(br#"{"token":"t"}"#)).is_ok());
    let mut out = [0u8; 1536];
    let mut buf = [0u8; 1024];
    let mut now = 0u64;
    client.start(Instant::ZERO);
    loop {
        now += 1;
        let t = Instant::from_millis(black_box(now));
        while let Some(io) = client.poll_io(&mut out) {
            match io {
                Io::Connect(s) => {
                    if black_box(now) & 3 == 0 {
                        client.connect_failed(s, t);
                    } else {
                        client.connected(s, t);
                    }
                }
                Io::Send { len, .. } => {
                    black_box(&out[..len]);
                }
                Io::Close(s) => {
                    black_box(s);
                }
            }
        }
        let s = Stream::WebSocket;
        let n = client.recv(s, black_box(&INPUT[..]), t);
        black_box(n);
        app(&mut client, &mut buf, t);
        if black_box(now) & 7 == 0 {
            client.closed(s, t);
        }
        if black_box(now) % 1000 == 0 {
            client.close(t);
            client.start(t);
        }
        black_box(client.poll_timeout());
        client.handle_timeout(t);
    }
}
