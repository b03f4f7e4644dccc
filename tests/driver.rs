//! The mio driver on real sockets: a std `TcpStream` client against `127.0.0.1:0`.

use std::io::{Read, Write};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use siocore::driver::{Driver, Shutdown};
use siocore::server::{Args, Capacity, Event, Server, ServerConfig, Storage};

mod common;
use common::{connect, contains, frames, read_until, text as frame};

fn start() -> (std::net::SocketAddr, Shutdown, thread::JoinHandle<()>) {
    start_with(8 << 20)
}

/// The echo server of [`start`] with `pool` bytes of pool; it answers `usage` with the big
/// pool blocks in use.
fn start_with(pool: usize) -> (std::net::SocketAddr, Shutdown, thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        let storage = Storage::growable(Capacity::for_sessions(64, pool));
        let mut driver = Driver::bind(
            "127.0.0.1:0".parse().unwrap(),
            ServerConfig::DEFAULT,
            storage,
        )
        .unwrap();
        tx.send((driver.local_addr(), driver.shutdown_handle()))
            .unwrap();
        driver
            .run(
                &mut |server: &mut Server<'_>, event: &Event<'_>| match *event {
                    Event::Connect(c) => {
                        server.accept(c.socket).unwrap();
                    }
                    Event::Message(m) if m.name == "usage" => {
                        let args = format!("[{}]", server.usage().big_blocks);
                        server
                            .emit(m.socket, "usage", Args::json(args.as_bytes()))
                            .unwrap();
                    }
                    Event::Message(m) => {
                        let (blobs, n) = m.attachments.to_array::<16>().unwrap();
                        server
                            .emit(m.socket, m.name, Args::binary(m.args, &blobs[..n]))
                            .unwrap();
                    }
                    Event::Http(r) => server.respond(r.stream, 200, &[], b"hello page").unwrap(),
                    _ => {}
                },
            )
            .unwrap();
    });
    let (addr, shutdown) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    (addr, shutdown, handle)
}

#[test]
fn polling_websocket_and_http_on_one_port() {
    let (addr, shutdown, handle) = start();

    // A plain page.
    let mut s = connect(addr);
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    read_until(&mut s, &mut buf, |b| b.ends_with(b"hello page"));
    assert!(buf.starts_with(b"HTTP/1.1 200 OK\r\n"));

    // A polling handshake on the same connection.
    s.write_all(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    buf.clear();
    read_until(&mut s, &mut buf, |b| b.ends_with(b"}"));
    assert!(contains(&buf, b"0{\"sid\":\""));

    // A WebSocket client: connect, emit, get the echo; a big message too.
    let mut w = connect(addr);
    w.write_all(
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let mut buf = Vec::new();
    read_until(&mut w, &mut buf, |b| {
        contains(b, b"\r\n\r\n") && b.len() > 130
    });
    let head_end = buf.windows(4).position(|x| x == b"\r\n\r\n").unwrap() + 4;
    assert!(buf.starts_with(b"HTTP/1.1 101 "));
    buf.drain(..head_end);
    w.write_all(&frame(b"40")).unwrap();
    w.write_all(&frame(br#"42["hi",1]"#)).unwrap();
    let big = format!(r#"42["big","{}"]"#, "x".repeat(300_000));
    w.write_all(&frame(big.as_bytes())).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < 4 {
        assert!(Instant::now() < deadline);
        let mut chunk = vec![0u8; 65536];
        let n = w.read(&mut chunk).unwrap();
        assert!(n > 0);
        buf.extend_from_slice(&chunk[..n]);
        got.extend(frames(&mut buf));
    }
    assert!(got[0].starts_with(b"0{\"sid\""));
    assert!(got[1].starts_with(b"40{\"sid\""));
    assert_eq!(got[2], br#"42["hi",1]"#);
    assert_eq!(got[3], big.as_bytes());

    shutdown.shutdown();
    // The session gets its close packet, then the connection closes.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline);
        let mut chunk = [0u8; 256];
        match w.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("{e}"),
        }
    }
    assert!(frames(&mut buf).iter().any(|f| f == b"1"));
    let start = Instant::now();
    while !handle.is_finished() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "driver did not stop"
        );
        thread::sleep(Duration::from_millis(10));
    }
    handle.join().unwrap();
}

/// A polling client that sends its POST and its next GET at once (as the load generators
/// and some clients do on one kept-alive connection): the POST's `ok`, then the GET's
/// answer with the echo the POST caused, in order. The driver gathers both answers of the
/// drain for one write; rounds in a row keep them in order.
#[test]
fn pipelined_post_and_get_are_answered_in_order() {
    let (addr, shutdown, handle) = start();
    let mut s = connect(addr);
    s.write_all(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    read_until(&mut s, &mut buf, |b| b.ends_with(b"}"));
    let at = buf.windows(7).position(|w| w == b"\"sid\":\"").unwrap() + 7;
    let sid = String::from_utf8(buf[at..at + 20].to_vec()).unwrap();
    let post = |body: &str| {
        format!(
            "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\
             Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let get =
        format!("GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n");
    // Join `/` and read its answer.
    s.write_all(format!("{}{get}", post("40")).as_bytes())
        .unwrap();
    buf.clear();
    read_until(&mut s, &mut buf, |b| {
        contains(b, b"40{\"sid\":\"") && b.ends_with(b"}")
    });
    assert!(
        buf.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{}",
        String::from_utf8_lossy(&buf)
    );
    for round in 0..20 {
        let event = format!("42[\"r\",{round}]");
        s.write_all(format!("{}{get}", post(&event)).as_bytes())
            .unwrap();
        buf.clear();
        read_until(&mut s, &mut buf, |b| b.ends_with(event.as_bytes()));
        let text = String::from_utf8_lossy(&buf);
        let ok = text.find("\r\n\r\nok").expect("the POST's ok");
        let echo = text.find(event.as_str()).unwrap();
        assert!(ok < echo, "round {round}: {text}");
        assert_eq!(
            text.matches("HTTP/1.1 200 OK").count(),
            2,
            "round {round}: {text}"
        );
    }
    shutdown.shutdown();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !handle.is_finished() {
        assert!(Instant::now() < deadline, "driver did not stop");
        thread::sleep(Duration::from_millis(10));
    }
    handle.join().unwrap();
}

/// A client that reads slowly gets large binary echoes byte for byte: the driver writes
/// their payloads straight from the pool's big blocks (vectored writes), keeps what a full
/// socket did not take, and every big block comes back once they are out.
#[test]
fn large_binary_echoes_reach_a_slow_reader_and_the_blocks_come_back() {
    let (addr, shutdown, handle) = start_with(16 << 20);
    let mut w = connect(addr);
    w.write_all(common::WS_REQUEST).unwrap();
    let mut buf = Vec::new();
    read_until(&mut w, &mut buf, |b| contains(b, b"\r\n\r\n"));
    let head_end = buf.windows(4).position(|x| x == b"\r\n\r\n").unwrap() + 4;
    buf.drain(..head_end);
    w.write_all(&frame(b"40")).unwrap();
    // Sixteen 480 KiB attachments echoed (7.5 MiB), not read for a while: more than the
    // kernel takes at once, so writes stop part way and go on as the client reads.
    let blobs: Vec<Vec<u8>> = (0..16)
        .map(|k| {
            (0..480 * 1024)
                .map(|i: usize| (i * 7 + i / 251 + k) as u8)
                .collect()
        })
        .collect();
    for blob in &blobs {
        w.write_all(&frame(br#"451-["blob",{"_placeholder":true,"num":0}]"#))
            .unwrap();
        w.write_all(&common::frame(siocore::ws::OpCode::Binary, blob))
            .unwrap();
    }
    thread::sleep(Duration::from_millis(300));
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    // The open packet, the CONNECT reply, then a packet and an attachment per blob.
    while got.len() < 2 + 2 * blobs.len() {
        assert!(Instant::now() < deadline, "{} frames", got.len());
        let mut chunk = vec![0u8; 65536];
        let n = w.read(&mut chunk).unwrap();
        assert!(n > 0);
        buf.extend_from_slice(&chunk[..n]);
        got.extend(frames(&mut buf));
    }
    assert!(got[1].starts_with(b"40{\"sid\""));
    for (k, blob) in blobs.iter().enumerate() {
        assert_eq!(
            got[2 + 2 * k],
            br#"451-["blob",{"_placeholder":true,"num":0}]"#
        );
        assert!(got[3 + 2 * k] == *blob, "attachment {k} byte for byte");
    }
    w.write_all(&frame(br#"42["usage"]"#)).unwrap();
    let mut usage = Vec::new();
    while usage.is_empty() {
        assert!(Instant::now() < deadline);
        let mut chunk = vec![0u8; 65536];
        let n = w.read(&mut chunk).unwrap();
        assert!(n > 0);
        buf.extend_from_slice(&chunk[..n]);
        usage.extend(frames(&mut buf));
    }
    assert_eq!(usage[0], br#"42["usage",[0]]"#, "no big block in use");
    shutdown.shutdown();
    handle.join().unwrap();
}
