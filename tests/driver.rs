//! The mio driver on real sockets: a std `TcpStream` client against `127.0.0.1:0`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use siocore::driver::{Driver, Shutdown};
use siocore::server::{Args, Capacity, Event, Server, ServerConfig, Storage};
use siocore::ws::{self, FrameHeader, OpCode, Role};

fn start() -> (std::net::SocketAddr, Shutdown, thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        let storage = Storage::growable(Capacity::for_sessions(64, 8 << 20));
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

fn connect(addr: std::net::SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads until `done` says the bytes so far are enough (10 s at most).
fn read_until(s: &mut TcpStream, buf: &mut Vec<u8>, done: impl Fn(&[u8]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut chunk = [0u8; 4096];
    while !done(buf) {
        assert!(
            Instant::now() < deadline,
            "timed out: {:?}",
            String::from_utf8_lossy(buf)
        );
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(buf));
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn frame(text: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; text.len() + 14];
    let n = ws::encode_frame(&mut out, true, OpCode::Text, text, Some([1, 2, 3, 4])).unwrap();
    out.truncate(n);
    out
}

/// Splits complete server frames off the front of `buf`.
fn frames(buf: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Ok(siocore::Status::Complete((h, hl))) = FrameHeader::decode(buf, Role::Client) {
        let end = hl + h.payload_len as usize;
        if buf.len() < end {
            break;
        }
        out.push(buf[hl..end].to_vec());
        buf.drain(..end);
    }
    out
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
