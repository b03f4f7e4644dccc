//! For the tests on real sockets: a server on its own thread ([`Running`]), and a raw
//! client over std `TcpStream`s (HTTP requests, the WebSocket handshake, masked frames out,
//! server frames in). Every wait has a timeout.

#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use siocore::app::Listening;
use siocore::driver::Shutdown;

use siocore::ws::{self, FrameHeader, OpCode, Role};

/// An example binary, built by `cargo test` next to the test's binary; `features` says
/// which ones build it (for the message when it is missing).
pub fn example(name: &str, features: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory")
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo test --features {features}` (it builds the examples)",
        path.display()
    );
    path
}

/// A server running on its own thread; dropping it shuts the server down and joins the
/// thread (10 s at most).
pub struct Running {
    pub addr: SocketAddr,
    shutdown: Shutdown,
    thread: Option<thread::JoinHandle<()>>,
}

impl Running {
    /// Runs the server `listen` makes (on the new thread) until dropped.
    pub fn spawn(listen: impl FnOnce() -> Listening<'static> + Send + 'static) -> Self {
        let (tx, rx) = mpsc::channel();
        let thread = thread::spawn(move || {
            let mut server = listen();
            tx.send((server.local_addr(), server.shutdown_handle()))
                .expect("send");
            server.run().expect("run");
        });
        let (addr, shutdown) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the server starts");
        Self {
            addr,
            shutdown,
            thread: Some(thread),
        }
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.shutdown();
        if let Some(t) = self.thread.take() {
            let start = Instant::now();
            while !t.is_finished() && start.elapsed() < Duration::from_secs(10) {
                thread::sleep(Duration::from_millis(10));
            }
            if t.is_finished() {
                t.join().expect("the server thread");
            }
        }
    }
}

pub const WS_REQUEST: &[u8] = b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n\
    Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Reads until `done` says the bytes so far are enough (10 s at most).
pub fn read_until(s: &mut impl Read, buf: &mut Vec<u8>, done: impl Fn(&[u8]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut chunk = [0u8; 65536];
    while !done(buf) {
        assert!(
            Instant::now() < deadline,
            "timed out: {:?}",
            String::from_utf8_lossy(buf)
        );
        let n = s.read(&mut chunk).expect("read");
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(buf));
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// One whole HTTP response: head and `Content-Length` body.
pub fn response(s: &mut impl Read) -> (u16, Vec<u8>, Vec<u8>) {
    let mut buf = Vec::new();
    read_until(s, &mut buf, |b| {
        let Some(end) = b.windows(4).position(|w| w == b"\r\n\r\n") else {
            return false;
        };
        let head = String::from_utf8_lossy(&b[..end]).to_ascii_lowercase();
        let len = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .map_or(0, |v| v.trim().parse::<usize>().unwrap_or(0));
        b.len() >= end + 4 + len
    });
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let status = std::str::from_utf8(&buf[9..12]).unwrap().parse().unwrap();
    let body = buf.split_off(end);
    (status, buf, body)
}

/// A masked client frame.
pub fn frame(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; payload.len() + 14];
    let n = ws::encode_frame(&mut out, true, opcode, payload, Some([1, 2, 3, 4])).unwrap();
    out.truncate(n);
    out
}

pub fn text(payload: &[u8]) -> Vec<u8> {
    frame(OpCode::Text, payload)
}

/// Splits complete server frames off the front of `buf`.
pub fn frames(buf: &mut Vec<u8>) -> Vec<Vec<u8>> {
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

/// A WebSocket Socket.IO client (over TCP, or any stream: TLS).
pub struct Ws<S = TcpStream> {
    pub sock: S,
    buf: Vec<u8>,
    pending: VecDeque<Vec<u8>>,
}

impl Ws {
    /// Opens a WebSocket session (101 and the open packet read).
    pub fn open(addr: SocketAddr) -> Self {
        Self::open_on(connect(addr))
    }
}

impl<S: Read + Write> Ws<S> {
    /// Opens a WebSocket session on `sock` (101 and the open packet read).
    pub fn open_on(mut sock: S) -> Self {
        sock.write_all(WS_REQUEST).unwrap();
        let mut buf = Vec::new();
        read_until(&mut sock, &mut buf, |b| contains(b, b"\r\n\r\n"));
        assert!(
            buf.starts_with(b"HTTP/1.1 101 "),
            "{:?}",
            String::from_utf8_lossy(&buf)
        );
        let end = buf.windows(4).position(|x| x == b"\r\n\r\n").unwrap() + 4;
        buf.drain(..end);
        let mut ws = Self {
            sock,
            buf,
            pending: VecDeque::new(),
        };
        let open = ws.next();
        assert!(open.starts_with(b"0{\"sid\""));
        ws
    }

    /// A client over a stream whose WebSocket is already open (a clone of another's, to
    /// read on one thread while writing on another).
    pub fn from_stream(sock: S) -> Self {
        Self {
            sock,
            buf: Vec::new(),
            pending: VecDeque::new(),
        }
    }

    pub fn send(&mut self, text_packet: &[u8]) {
        self.sock.write_all(&text(text_packet)).unwrap();
    }

    pub fn send_binary(&mut self, bytes: &[u8]) {
        self.sock.write_all(&frame(OpCode::Binary, bytes)).unwrap();
    }

    /// The next frame's payload (pings answered on the way).
    pub fn next(&mut self) -> Vec<u8> {
        self.try_next().expect("the next frame")
    }

    /// The next frame's payload, or `None` once the connection closed or failed.
    pub fn try_next(&mut self) -> Option<Vec<u8>> {
        loop {
            self.pending.extend(frames(&mut self.buf));
            if let Some(f) = self.pending.pop_front() {
                if f == b"2" {
                    self.sock.write_all(&text(b"3")).ok()?;
                    continue;
                }
                return Some(f);
            }
            let mut chunk = vec![0u8; 65536];
            match self.sock.read(&mut chunk) {
                Ok(n) if n > 0 => self.buf.extend_from_slice(&chunk[..n]),
                _ => return None,
            }
        }
    }

    /// The next frame, as text.
    pub fn next_text(&mut self) -> String {
        String::from_utf8(self.next()).unwrap()
    }
}

/// Runs `node tests/interop/<script> <args>` (a suite printing `ok <check>` lines); panics
/// with its output unless it exits 0 within `timeout` after at least one check.
pub fn node_suite(script: &str, args: &[&str], label: &str, timeout: Duration) {
    node_suite_env(script, args, &[], label, timeout);
}

/// [`node_suite`] with more environment variables.
pub fn node_suite_env(
    script: &str,
    args: &[&str],
    env: &[(&str, &str)],
    label: &str,
    timeout: Duration,
) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    assert!(
        dir.join("node_modules/socket.io-client").is_dir(),
        "run `npm ci --prefix tests/interop` first"
    );
    let mut cmd = Command::new("node");
    cmd.arg(dir.join(script)).args(args);
    cmd.envs(env.iter().copied());
    let mut child = cmd
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read");
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read");
    match status {
        Some(s) if s.success() => {
            let checks = out.lines().filter(|l| l.starts_with("ok ")).count();
            assert!(checks > 0, "{label}: no check ran\n{out}\n{err}");
            println!("{label}: {checks} checks passed");
        }
        Some(s) => panic!("{label}: {s}\n--- stdout ---\n{out}\n--- stderr ---\n{err}"),
        None => panic!("{label}: timed out\n--- stdout ---\n{out}\n--- stderr ---\n{err}"),
    }
}

#[cfg(feature = "tls")]
pub mod tls;
