//! Fuzz check for a cluster member (`siocore::adapter::Cluster`): arbitrary messages on its
//! channels, from a pub/sub it cannot trust, beside a server with connected sockets.
//!
//! Invariants: nothing panics; the outbox never holds more than its buffer; what the
//! cluster publishes reads back (broadcasts, requests and answers decode, channels carry the
//! prefix); the tables stay bounded (pending requests and owed acknowledgements end by
//! their deadlines: after the clock passes them, none is left).
//!
//! Input: records of `[op, len, bytes...]`: op picks the channel a message arrives on (the
//! broadcast pattern, a room's, the request and response channels, another namespace's,
//! another prefix), or a command of this server (a broadcast, a fetch, a server-side emit
//! with an answer, a join), or time passing.

use siocore::Instant;
use siocore::adapter::{
    AckRoute, Broadcast, Cluster, ClusterConfig, ClusterEvent, PendingSlot, Recipients, Request,
    Response,
};
use siocore::server::*;

const CHANNELS: [&[u8]; 7] = [
    b"socket.io#/#",
    b"socket.io#/#r#",
    b"socket.io-request#/#",
    b"socket.io-response#/#",
    b"socket.io-response#/#abcdef#",
    b"socket.io-request#/o#",
    b"other#/#",
];

/// Connects a polling client to `/` and returns its socket.
fn connect(server: &mut Server<'_>, now: Instant) -> Option<SocketId> {
    let mut out = [0u8; 2048];
    let stream = server.open_stream(now).ok()?;
    let mut req = *b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n";
    server.feed(stream, now, &mut req).ok()?;
    let tx = server.poll_transmit(&mut out)?;
    let body = out[..tx.len].split(|&b| b == b'\n').next_back()?;
    let open = siocore::engine::OpenPacket::decode(body).ok()?;
    let sid = open.sid.to_string();
    let mut post = std::format!(
        "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n40"
    )
    .into_bytes();
    server.feed(stream, now, &mut post).ok()?;
    while server.poll_transmit(&mut out).is_some() {}
    let mut buf = [0u8; 256];
    loop {
        match server.poll_event(&mut buf) {
            Ok(Some(Event::Connect(c))) => {
                let socket = c.socket;
                server.accept(socket).ok()?;
                return Some(socket);
            }
            Ok(Some(_)) => {}
            _ => return None,
        }
    }
}

/// Drains the server (its events offered to the cluster first) and the outbox, checking
/// what is published.
fn drain(server: &mut Server<'_>, cluster: &mut Cluster<'_>) {
    let mut out = [0u8; 8192];
    let mut buf = [0u8; 8192];
    for _ in 0..64 {
        while server.poll_transmit(&mut out).is_some() {}
        let Ok(Some(e)) = server.poll_event(&mut buf) else {
            break;
        };
        if !cluster.on_event(server, &e)
            && let Event::Connect(c) = e
        {
            let _ = server.accept(c.socket);
        }
    }
    while let Some(p) = cluster.next_publish() {
        assert!(p.channel.starts_with("socket.io"), "{}", p.channel);
        if p.channel.starts_with("socket.io-response#") {
            assert!(Response::decode(p.message).is_ok(), "{:?}", p.message);
        } else if p.channel.starts_with("socket.io-request#") {
            assert!(Request::decode(p.message).is_ok(), "{:?}", p.message);
        } else {
            assert!(Broadcast::decode(p.message).is_ok(), "{:?}", p.message);
        }
        cluster.pop_publish();
    }
    assert_eq!(cluster.outbox_len(), 0);
}

pub fn check(data: &[u8]) {
    let mut arena = ServerArena::<4, 4, 8, 2, 8, 16, 8, 8, 64, 64>::new();
    let config = ServerConfig {
        namespaces: &["/", "/o"],
        ..ServerConfig::DEFAULT
    };
    let Ok(mut server) = Server::new(config, arena.storage(), [3; 32], Instant::ZERO) else {
        unreachable!("a valid configuration")
    };
    let (mut pending, mut acks) = ([PendingSlot::FREE; 3], [AckRoute::FREE; 2]);
    let (mut outbox, mut scratch) = ([0u8; 4096], [0u8; 4096]);
    let mut cluster = Cluster::new(
        ClusterConfig {
            request_timeout: 100,
            ..ClusterConfig::DEFAULT
        },
        [9; 32],
        &mut pending,
        &mut acks,
        &mut outbox,
        &mut scratch,
        Instant::ZERO,
    );
    let mut now = 0u64;
    let sockets: [Option<SocketId>; 3] =
        core::array::from_fn(|_| connect(&mut server, Instant::ZERO));
    for (i, s) in sockets.iter().flatten().enumerate() {
        let _ = server.join(*s, if i % 2 == 0 { "r" } else { "s" });
    }
    let ns = server
        .namespace("/")
        .unwrap_or_else(|| unreachable!("configured"));
    let mut rest = data;
    while let [op, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (msg, after) = tail.split_at(n);
        rest = after;
        let at = Instant::from_millis(now);
        match op % 12 {
            k @ 0..7 => {
                if let Ok(Some(ClusterEvent::ServerSideEmit {
                    reply: Some(reply), ..
                })) = cluster.receive(&mut server, CHANNELS[usize::from(k)], msg, at)
                {
                    let _ = cluster.answer(&server, &reply, b"\"pong\"");
                }
            }
            7 => {
                let to = Recipients {
                    rooms: &["r"],
                    ..Recipients::ALL
                };
                let json = if json_ok(msg) { msg } else { b"1" };
                let _ = cluster.broadcast(&mut server, ns, &to, "m", Args::json(json));
            }
            8 => {
                let _ = cluster.fetch_sockets(&server, ns, &Recipients::ALL);
            }
            9 => {
                if let Ok(Some(id)) =
                    cluster.server_side_emit(&server, ns, "ping", Args::json(b"1"), true)
                {
                    cluster.receivers(&id, usize::from(*len % 4));
                }
            }
            10 => {
                let _ = cluster.sockets_join(&mut server, ns, &Recipients::ALL, &["j"]);
            }
            _ => {
                now += u64::from(*len) * 4;
                server.handle_timeout(Instant::from_millis(now));
                cluster.handle_timeout(Instant::from_millis(now));
                while cluster.poll_done().is_some() {}
            }
        }
        drain(&mut server, &mut cluster);
    }
    // Past every deadline, nothing is pending any more.
    now += 120_000;
    server.handle_timeout(Instant::from_millis(now));
    cluster.handle_timeout(Instant::from_millis(now));
    while cluster.poll_done().is_some() {}
    drain(&mut server, &mut cluster);
    assert!(cluster.poll_timeout().is_none());
}

/// Whether `msg` is a valid JSON argument list.
fn json_ok(msg: &[u8]) -> bool {
    siocore::json::Limits::DEFAULT.validate_list(msg).is_ok()
}
