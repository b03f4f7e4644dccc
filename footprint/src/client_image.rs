//! The client images' shared body (`client.rs`, `client_ws.rs`): every client API on a
//! stack arena, inputs through `black_box`, outputs back through it, so nothing is folded
//! away.

use core::hint::black_box;
use siocore::Instant;
use siocore::client::*;

static INPUT: [u8; 512] = [0; 512];

#[inline(never)]
fn app<const P: bool>(client: &mut Client<'_, 2, 4, P>, buf: &mut [u8], now: Instant) {
    while let Ok(Some(event)) = client.poll_event(buf) {
        match event {
            Event::Connect { namespace: ns, .. } => {
                #[cfg(feature = "recovery")]
                black_box(matches!(event, Event::Connect { recovered: true, .. }));
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
                    Some(id) => black_box(client.ack(m.namespace, id, args).is_ok()),
                    None => black_box(client.emit_volatile(m.namespace, "echo", args).is_ok()),
                };
            }
            Event::Disconnect { namespace: ns, .. } => {
                // Keep the session to resume (a device would write it to flash).
                #[cfg(feature = "recovery")]
                black_box(client.recovery_state(ns));
                black_box(client.disconnect(ns).is_ok());
            }
            other => {
                black_box(matches!(other, Event::Closed { .. }));
            }
        }
    }
}

/// Runs a client over a stack arena, fed whatever the input buffer holds, on the streams
/// `streams` (all three, or just the WebSocket).
pub fn run<const P: bool>(transports: Transports, streams: &[Stream]) -> ! {
    let mut config = ClientConfig::new("device.local:3000");
    config.transports = transports;
    config.rx_capacity = 1024;
    config.outbox_capacity = 1024;
    config.binary_capacity = 512;
    config.namespace_capacity = 128;
    let mut arena = [0u8; 8192];
    let Ok(mut client) =
        Client::<'_, 2, 4, P>::new(black_box(config), &mut arena, black_box([1; 32]))
    else {
        loop {}
    };
    black_box(client.connect("/", None).is_ok());
    black_box(client.connect("/admin", Some(br#"{"token":"t"}"#)).is_ok());
    // A session kept in flash across a reboot.
    #[cfg(feature = "recovery")]
    if let Some(state) = black_box(INPUT.first_chunk::<RECOVERY_STATE_LEN>()) {
        black_box(client.restore_recovery(NamespaceId::from_index(0), state).is_ok());
    }
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
        let s = streams[black_box(now as usize) % streams.len()];
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
