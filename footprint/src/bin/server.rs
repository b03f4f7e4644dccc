//! Links the sans-IO server (and the codecs it uses) into one bare-metal image, to measure
//! its `.text`, and records the size of each table entry on this 32-bit target in `SIZES`.
//!
//! The tables are a `ServerArena` on the entry point's stack; every input comes through
//! `black_box`, every output goes back through it, so nothing is folded away.
#![no_std]
#![no_main]

use core::hint::black_box;
use siocore::Instant;
use siocore::server::*;

static INPUT: [u8; 512] = [0; 512];

/// Bytes per table entry on this target, in the order of `Capacity`'s fields.
#[used]
#[unsafe(no_mangle)]
pub static SIZES: [u32; 10] = {
    let e = Capacity::ENTRY_BYTES;
    [
        e.sessions as u32,
        e.streams as u32,
        e.sockets as u32,
        e.namespaces as u32,
        e.rooms as u32,
        e.members as u32,
        e.acks as u32,
        e.events as u32,
        e.blocks as u32,
        e.nodes as u32,
    ]
};

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}

#[inline(never)]
fn app(server: &mut Server<'_>, buf: &mut [u8]) {
    while let Ok(Some(event)) = server.poll_event(buf) {
        match event {
            Event::Connect(c) => {
                black_box(server.accept(c.socket).is_ok());
                black_box(server.join(c.socket, "room").is_ok())
            }
            Event::Message(m) => {
                let (blobs, n) = m.attachments.to_array::<4>().unwrap_or_default();
                let args = Args::binary(m.args, &blobs[..n]);
                match m.ack {
                    Some(id) => black_box(server.ack(m.socket, id, args).is_ok()),
                    None => black_box(server.emit(m.socket, "echo", args).is_ok()),
                };
                if let Some(ns) = server.namespace_of(m.socket) {
                    let except = [m.socket];
                    let to = Targets::all_except(&except);
                    black_box(server.broadcast(ns, &to, "news", Args::json(b"1")).is_ok());
                }
                black_box(
                    server
                        .emit_with_ack(m.socket, "ask", Args::NONE, Some(5000))
                        .is_ok(),
                )
            }
            Event::EngineMessage { session, data } => black_box(server.send(session, data).is_ok()),
            Event::Http(r) => black_box(server.respond(r.stream, 404, &[], b"").is_ok()),
            other => black_box(matches!(other, Event::Disconnect { .. })),
        };
    }
}

/// Entry point: a server on stack tables, fed whatever the input buffer holds.
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let mut arena = ServerArena::<4, 8, 8, 2, 4, 8, 8, 8, 32, 32>::new();
    let config = ServerConfig {
        endpoints: &[Endpoint::SOCKET_IO, Endpoint::ENGINE_IO],
        max_payload: 4096,
        // With the feature `cors`: a list of origins with credentials.
        #[cfg(feature = "cors")]
        cors: Some(siocore::server::Cors {
            origin: siocore::server::AllowOrigin::List(&["https://a.example", "https://b.example"]),
            credentials: true,
            ..siocore::server::Cors::DEFAULT
        }),
        ..ServerConfig::DEFAULT
    };
    let Ok(mut server) = Server::new(
        black_box(config),
        arena.storage(),
        black_box([1; 32]),
        Instant::ZERO,
    ) else {
        loop {}
    };
    let mut rx = [0u8; 1024];
    let mut out = [0u8; 1024];
    let mut buf = [0u8; 1024];
    let mut now = 0u64;
    loop {
        now += 1;
        let t = Instant::from_millis(black_box(now));
        if let Ok(s) = server.open_stream(t) {
            let n = black_box(INPUT.len()).min(rx.len());
            rx[..n].copy_from_slice(&INPUT[..n]);
            black_box(server.feed(s, t, &mut rx[..n]).ok());
            if black_box(now) & 1 == 0 {
                black_box(server.feed_eof(s, t).is_ok());
            } else {
                black_box(server.reset(s, t).is_ok());
            }
        }
        app(&mut server, &mut buf);
        while let Some(tx) = server.poll_transmit(&mut out) {
            black_box((tx.len, tx.close));
        }
        server.handle_timeout(t);
        black_box(server.poll_timeout());
    }
}
