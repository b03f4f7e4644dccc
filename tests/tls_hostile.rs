//! Hostile peers against the echo server serving TLS (feature `tls`), in the manner of
//! `tests/hostile.rs`: each case starts a fresh server process (this program with
//! `--serve`, certificates made when the test runs), keeps a well-behaved TLS WebSocket
//! client (the canary) echoing every 50 ms while the attack runs, then checks that a new
//! client (its handshake included) is served within a second, that no echo of the canary
//! took a second or more, and that the server's resident memory stayed under
//! [`RSS_BOUND_KIB`].
//!
//! The cases: bytes that are not TLS (random bytes, a handshake record turning into noise,
//! a record header announcing more than a record may hold, plain HTTP on the TLS port);
//! 500 connections stalled in the handshake (half a `ClientHello`, a whole one and then
//! silence, nothing at all), each closed by the server's head deadline; a flood of
//! handshakes, completed and abandoned, from six threads for three seconds; and 400 idle
//! TLS sessions, whose memory is measured. Arguments that do not start with `--` select the
//! cases whose names contain them.

mod common;

#[path = "../examples/echo_server.rs"]
#[allow(dead_code, unreachable_pub)]
mod echo_server;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use common::Ws;
use common::tls::{Pki, TlsStream, path};
use siocore::driver::rustls::pki_types::ServerName;
use siocore::driver::rustls::{ClientConfig, ClientConnection};

/// The most resident memory the server may reach in any case, in KiB (as in
/// `tests/hostile.rs`).
const RSS_BOUND_KIB: u64 = 64 * 1024;
/// How long a well-behaved client may wait for its echo (or a new one for its handshake,
/// session and first echo), during an attack and after it.
const SERVED_WITHIN: Duration = Duration::from_secs(1);
/// The echo server's head deadline (`ServerConfig::DEFAULT.headers_timeout`), which bounds
/// a stalled handshake.
const HEADERS_TIMEOUT: Duration = Duration::from_secs(10);

struct Case {
    name: &'static str,
    attack: fn(&mut Server, &Attacker),
}

const CASES: &[Case] = &[
    Case {
        name: "not_tls",
        attack: not_tls,
    },
    Case {
        name: "stalled_handshakes",
        attack: stalled_handshakes,
    },
    Case {
        name: "handshake_flood",
        attack: handshake_flood,
    },
    Case {
        name: "idle_tls_sessions",
        attack: idle_tls_sessions,
    },
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        let options =
            echo_server::Options::from_args(args.into_iter().skip(1)).expect("echo server flags");
        let mut server = echo_server::bind(options).expect("bind");
        println!("echo server listening on https://{}", server.local_addr());
        server.run().expect("run");
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let pki = Pki::new(&["localhost", "127.0.0.1"]);
    let mut failed = Vec::new();
    for case in CASES {
        let name = case.name;
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        println!("case {name}");
        let start = Instant::now();
        match std::panic::catch_unwind(|| run(case, &pki)) {
            Ok(()) => println!("ok {name} ({} ms)", start.elapsed().as_millis()),
            Err(_) => {
                println!("FAILED {name}");
                failed.push(name);
            }
        }
    }
    if !failed.is_empty() {
        println!("{} case(s) failed: {failed:?}", failed.len());
        std::process::exit(1);
    }
}

/// What the clients of a case trust and where they go.
struct Attacker {
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    name: &'static str,
}

impl Attacker {
    fn tls(&self) -> TlsStream {
        common::tls::connect(self.addr, &self.config, "127.0.0.1")
    }

    /// The first flight of a handshake: a `ClientHello` in its record.
    fn client_hello(&self) -> Vec<u8> {
        let name = ServerName::try_from(self.name).expect("a name");
        let mut conn = ClientConnection::new(Arc::clone(&self.config), name).expect("client");
        let mut hello = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut hello).expect("write to a vector");
        }
        hello
    }
}

fn run(case: &Case, pki: &Pki) {
    let mut server = Server::start(pki);
    let attacker = Attacker {
        addr: server.addr,
        config: pki.rustls_client(),
        name: "localhost",
    };
    let canary = Canary::start(&attacker);
    (case.attack)(&mut server, &attacker);
    server.check_memory(case.name);
    served(&attacker, case.name);
    canary.finish(case.name);
    server.check_memory(case.name);
}

/// A running echo server process serving TLS, killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(pki: &Pki) -> Self {
        let (cert, key) = (pki.cert(), pki.key());
        let mut child = Command::new(std::env::current_exe().expect("this program"))
            .args(["--serve", "--port", "0", "--tls-cert", path(&cert)])
            .args(["--tls-key", path(&key)])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the echo server starts");
        let mut out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut seen = Vec::new();
            let mut byte = [0u8; 1];
            while let Ok(1) = out.read(&mut byte) {
                seen.push(byte[0]);
                if byte[0] == b'\n' {
                    let line = String::from_utf8_lossy(&seen).to_string();
                    if let Some(at) = line.find("https://") {
                        let _ = tx.send(line[at + 8..].trim().to_string());
                    }
                    seen.clear();
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the echo server prints its address");
        Self {
            child,
            addr: addr.parse().expect("an address"),
        }
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server is running");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    fn check_memory(&mut self, case: &str) -> u64 {
        assert!(
            self.child.try_wait().expect("wait").is_none(),
            "{case}: the server exited"
        );
        let rss = self.rss_kib();
        println!("{case}: server RSS {rss} KiB");
        assert!(
            rss < RSS_BOUND_KIB,
            "{case}: RSS {rss} KiB, bound {RSS_BOUND_KIB}"
        );
        rss
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Socket.IO client on `/` over a TLS WebSocket, its CONNECT answered and `auth` read.
fn join(attacker: &Attacker) -> Ws<TlsStream> {
    let mut ws = Ws::open_on(attacker.tls());
    ws.send(b"40");
    assert!(ws.next_text().starts_with("40{\"sid\":"));
    assert_eq!(ws.next_text(), r#"42["auth",{}]"#);
    ws
}

/// One echo round trip.
fn echo(ws: &mut Ws<TlsStream>, n: u64) {
    let packet = format!(r#"42["echo",{n}]"#);
    ws.send(packet.as_bytes());
    while ws.next_text() != packet {}
}

/// A new client connects (TLS, WebSocket, namespace) and echoes within [`SERVED_WITHIN`].
fn served(attacker: &Attacker, case: &str) {
    let start = Instant::now();
    let mut ws = join(attacker);
    echo(&mut ws, 1);
    let took = start.elapsed();
    println!("{case}: a new client served in {} ms", took.as_millis());
    assert!(
        took < SERVED_WITHIN,
        "{case}: a new client took {took:?} to connect and echo"
    );
}

/// The well-behaved client: echoes every 50 ms until stopped, on its own thread.
struct Canary {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<(u64, Duration)>>,
}

impl Drop for Canary {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Canary {
    fn start(attacker: &Attacker) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let mut ws = join(attacker);
        let thread = thread::spawn(move || {
            let (mut n, mut worst) = (0u64, Duration::ZERO);
            loop {
                let last = flag.load(Ordering::SeqCst);
                n += 1;
                let start = Instant::now();
                echo(&mut ws, n);
                worst = worst.max(start.elapsed());
                if last {
                    return (n, worst);
                }
                thread::sleep(Duration::from_millis(50));
            }
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self, case: &str) {
        self.stop.store(true, Ordering::SeqCst);
        let (n, worst) = self
            .thread
            .take()
            .expect("running")
            .join()
            .expect("the canary echoed throughout");
        println!(
            "{case}: canary echoed {n} times, slowest {} ms",
            worst.as_millis()
        );
        assert!(
            worst < SERVED_WITHIN,
            "{case}: an echo took {worst:?} during the attack"
        );
    }
}

/// Whether the server closed `sock` within `wait` (EOF or a reset).
fn closed_by_server(sock: &mut TcpStream, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match sock.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// A cheap pseudo-random byte stream (xorshift).
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

fn not_tls(_: &mut Server, attacker: &Attacker) {
    let mut hello_then_noise = attacker.client_hello();
    hello_then_noise.extend(noise(4096, 3));
    // A handshake record announcing 65 535 bytes (more than a record may hold), and them.
    let mut huge = vec![0x16, 0x03, 0x01, 0xff, 0xff];
    huge.extend(noise(70_000, 4));
    let plain = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    for (i, bytes) in [noise(4096, 1), hello_then_noise, huge, plain]
        .iter()
        .enumerate()
    {
        let mut s = common::connect(attacker.addr);
        let _ = s.write_all(bytes);
        assert!(
            closed_by_server(&mut s, SERVED_WITHIN),
            "not TLS {i}: still open"
        );
    }
}

fn stalled_handshakes(server: &mut Server, attacker: &Attacker) {
    let hello = attacker.client_hello();
    let start = Instant::now();
    let mut stalled: Vec<TcpStream> = Vec::new();
    for i in 0..500 {
        let mut s = common::connect(attacker.addr);
        match i % 5 {
            // Half a ClientHello.
            0..=2 => s.write_all(&hello[..hello.len() / 2]).unwrap(),
            // A whole one, then silence: the server answers and waits for the rest.
            3 => s.write_all(&hello).unwrap(),
            // Nothing.
            _ => {}
        }
        stalled.push(s);
    }
    println!(
        "stalled_handshakes: 500 connections stalled in {} ms",
        start.elapsed().as_millis()
    );
    server.check_memory("stalled_handshakes");
    served(attacker, "stalled_handshakes (during)");
    let deadline = start + HEADERS_TIMEOUT + Duration::from_secs(3);
    for (i, s) in stalled.iter_mut().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            closed_by_server(s, left),
            "stalled handshake {i} still open after {:?}",
            start.elapsed()
        );
    }
    println!(
        "stalled_handshakes: all closed after {} ms",
        start.elapsed().as_millis()
    );
}

fn handshake_flood(_: &mut Server, attacker: &Attacker) {
    const FOR: Duration = Duration::from_secs(3);
    let done = Arc::new(AtomicU64::new(0));
    let abandoned = Arc::new(AtomicU64::new(0));
    let hello = attacker.client_hello();
    thread::scope(|scope| {
        for _ in 0..4 {
            let done = Arc::clone(&done);
            scope.spawn(move || {
                let start = Instant::now();
                while start.elapsed() < FOR {
                    // A whole handshake, a WebSocket session opened, and gone.
                    drop(Ws::open_on(attacker.tls()));
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        for _ in 0..2 {
            let abandoned = Arc::clone(&abandoned);
            let hello = hello.clone();
            scope.spawn(move || {
                let start = Instant::now();
                while start.elapsed() < FOR {
                    // A ClientHello, and away before the answer.
                    let mut s = common::connect(attacker.addr);
                    let _ = s.write_all(&hello);
                    abandoned.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let (done, abandoned) = (
        done.load(Ordering::SeqCst),
        abandoned.load(Ordering::SeqCst),
    );
    println!(
        "handshake_flood: {done} handshakes with a WebSocket session ({:.0}/s), {abandoned} abandoned, in {} s",
        done as f64 / FOR.as_secs_f64(),
        FOR.as_secs()
    );
    assert!(done > 0 && abandoned > 0);
}

fn idle_tls_sessions(server: &mut Server, attacker: &Attacker) {
    const SESSIONS: u64 = 400;
    let before = server.check_memory("idle_tls_sessions (before)");
    let mut idle: Vec<Ws<TlsStream>> = (0..SESSIONS).map(|_| join(attacker)).collect();
    // Every session answered a round trip: the server holds them all.
    for (i, ws) in idle.iter_mut().enumerate() {
        echo(ws, i as u64);
    }
    let after = server.check_memory("idle_tls_sessions (open)");
    let per = after.saturating_sub(before) * 1024 / SESSIONS;
    println!(
        "idle_tls_sessions: {SESSIONS} idle TLS WebSocket sessions, {} KiB more resident memory: {:.1} KiB each",
        after.saturating_sub(before),
        per as f64 / 1024.0
    );
    drop(idle);
}
