//! Links the sans-IO server (and the codecs it uses) into one bare-metal image, to measure
//! its `.text`, and records the size of each table entry on this 32-bit target in `SIZES`.
//!
//! The tables are arrays on the entry point's stack; every input comes through
//! `black_box`, every output goes back through it, so nothing is folded away.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::mem::size_of;
use siocore::Instant;
use siocore::server::*;

static INPUT: [u8; 512] = [0; 512];

/// Bytes per table entry on this target, in the order of `Storage`'s fields.
#[used]
#[unsafe(no_mangle)]
pub static SIZES: [u32; 10] = [
    size_of::<SessionSlot>() as u32,
    size_of::<StreamSlot>() as u32,
    size_of::<SocketSlot>() as u32,
    size_of::<NamespaceSlot>() as u32,
    size_of::<RoomSlot>() as u32,
    size_of::<MemberSlot>() as u32,
    size_of::<AckSlot>() as u32,
    size_of::<EventSlot>() as u32,
    size_of::<Block>() as u32,
    size_of::<Node>() as u32,
];

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
    let mut sessions = [SessionSlot::EMPTY; 4];
    let mut streams = [StreamSlot::EMPTY; 8];
    let mut sockets = [SocketSlot::EMPTY; 8];
    let mut namespaces = [NamespaceSlot::EMPTY; 2];
    let mut rooms = [RoomSlot::EMPTY; 4];
    let mut members = [MemberSlot::EMPTY; 8];
    let mut acks = [AckSlot::EMPTY; 8];
    let mut events = [EventSlot::EMPTY; 8];
    let mut blocks = [Block::EMPTY; 32];
    let mut nodes = [Node::EMPTY; 32];
    let storage = Storage {
        sessions: Slots::from(&mut sessions[..]),
        streams: Slots::from(&mut streams[..]),
        sockets: Slots::from(&mut sockets[..]),
        namespaces: Slots::from(&mut namespaces[..]),
        rooms: Slots::from(&mut rooms[..]),
        members: Slots::from(&mut members[..]),
        acks: Slots::from(&mut acks[..]),
        events: Slots::from(&mut events[..]),
        blocks: Slots::from(&mut blocks[..]),
        nodes: Slots::from(&mut nodes[..]),
    };
    let config = ServerConfig {
        endpoints: &[Endpoint::SOCKET_IO, Endpoint::ENGINE_IO],
        max_payload: 4096,
        ..ServerConfig::DEFAULT
    };
    let Ok(mut server) = Server::new(
        black_box(config),
        storage,
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
