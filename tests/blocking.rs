//! The blocking `embedded-io` driver against the Rust echo server on a real socket: a
//! std `TcpStream` stands in for the board's TCP stack.

use std::io::{ErrorKind as StdKind, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant as StdInstant};

use embedded_io::{ErrorKind, ErrorType, Read, ReadReady, Write};
use siocore::Instant;
use siocore::client::blocking::{BlockingClient, Connect, SetupError};
use siocore::client::{Args, ClientConfig, CloseReason, ConfigError, Event, Transports, WsClient};

mod common;
use common::Running;

#[path = "../examples/echo_server.rs"]
#[allow(dead_code, unreachable_pub)]
mod echo_server;

struct Sock(TcpStream);

impl ErrorType for Sock {
    type Error = ErrorKind;
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.0.read(buf).map_err(|_| ErrorKind::Other)
    }
}

impl ReadReady for Sock {
    fn read_ready(&mut self) -> Result<bool, ErrorKind> {
        self.0.set_nonblocking(true).map_err(|_| ErrorKind::Other)?;
        let r = self.0.peek(&mut [0u8; 1]);
        self.0
            .set_nonblocking(false)
            .map_err(|_| ErrorKind::Other)?;
        match r {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == StdKind::WouldBlock => Ok(false),
            Err(_) => Err(ErrorKind::Other),
        }
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.0.write(buf).map_err(|_| ErrorKind::Other)
    }
    fn flush(&mut self) -> Result<(), ErrorKind> {
        self.0.flush().map_err(|_| ErrorKind::Other)
    }
}

struct Tcp(SocketAddr);

impl Connect for Tcp {
    type Conn = Sock;
    fn connect(&mut self) -> Result<Sock, ErrorKind> {
        TcpStream::connect(self.0)
            .map(Sock)
            .map_err(|_| ErrorKind::Other)
    }
}

fn echo_server() -> Running {
    Running::spawn(|| {
        echo_server::bind(echo_server::Options {
            port: 0,
            ..echo_server::Options::default()
        })
        .expect("bind")
    })
}

fn config(host: &str) -> ClientConfig<'_> {
    let mut c = ClientConfig::new(host);
    c.transports = Transports::WebSocket;
    c.rx_capacity = 4096;
    c.outbox_capacity = 2048;
    c.binary_capacity = 1024;
    c.namespace_capacity = 128;
    c
}

#[test]
fn refuses_polling_and_short_event_buffers() {
    let mut c = config("x");
    c.transports = Transports::Polling;
    let mut arena = vec![0u8; c.arena_len()];
    let r = WsClient::<'_, 1, 1>::new(c, &mut arena, [1; 32]);
    assert_eq!(r.err(), Some(ConfigError::PollingNotCompiled));
    let c = config("x");
    let mut arena = vec![0u8; c.arena_len()];
    let client: WsClient<'_, 1, 1> = WsClient::new(c, &mut arena, [1; 32]).unwrap();
    let (mut out, mut ev) = ([0u8; 64], [0u8; 100]);
    let tcp = Tcp("127.0.0.1:1".parse().unwrap());
    let r = BlockingClient::new(client, tcp, &mut out, &mut ev);
    assert_eq!(r.err(), Some(SetupError::EventBufferTooSmall(4096)));
}

#[test]
fn events_acks_and_binary_over_a_blocking_stream() {
    let server = echo_server();
    let addr = server.addr;
    let host = addr.to_string();
    let cfg = config(&host);
    let mut arena = vec![0u8; cfg.arena_len()];
    let mut client: WsClient<'_, 2, 4> = WsClient::new(cfg, &mut arena, [5; 32]).unwrap();
    let root = client.connect("/", Some(br#"{"token":"abc"}"#)).unwrap();
    client.start(Instant::ZERO);
    let mut out = vec![0u8; 4096];
    let mut ev = vec![0u8; 4096];
    let mut board = BlockingClient::new(client, Tcp(addr), &mut out, &mut ev).unwrap();
    let epoch = StdInstant::now();
    let mut seen: Vec<String> = Vec::new();
    let mut ack_id = None;
    let deadline = epoch + Duration::from_secs(10);
    while !seen.iter().any(|s| s.starts_with("closed")) {
        assert!(StdInstant::now() < deadline, "timed out: {seen:?}");
        let now = Instant::from_millis(epoch.elapsed().as_millis() as u64);
        board.poll(now, |client, e| match *e {
            Event::Connect { namespace: ns, .. } => {
                seen.push("connect".into());
                client.emit(ns, "echo", Args::json(b"1,\"two\"")).unwrap();
                let blob: &[u8] = &[1, 2, 3];
                client
                    .emit(
                        ns,
                        "echo",
                        Args::binary(br#"{"_placeholder":true,"num":0}"#, &[blob]),
                    )
                    .unwrap();
                ack_id = Some(
                    client
                        .emit_with_ack(ns, "echo-ack", Args::json(b"[true]"), 5000, now)
                        .unwrap(),
                );
            }
            Event::Message(m) => {
                let atts: Vec<Vec<u8>> = m.attachments.iter().map(<[u8]>::to_vec).collect();
                seen.push(format!(
                    "{} {} {atts:?}",
                    m.name,
                    String::from_utf8_lossy(m.args)
                ));
            }
            Event::Ack { id, args, .. } => {
                assert_eq!(Some(id), ack_id);
                seen.push(format!("ack {}", String::from_utf8_lossy(args)));
                client.close(now);
            }
            Event::Closed { reason } => {
                assert_eq!(reason, CloseReason::ClientClose);
                seen.push("closed".into());
            }
            _ => {}
        });
        thread::sleep(Duration::from_millis(1));
    }
    let _ = root;
    assert!(
        seen.contains(&r#"auth {"token":"abc"} []"#.to_string()),
        "{seen:?}"
    );
    assert!(seen.contains(&r#"echo 1,"two" []"#.to_string()), "{seen:?}");
    assert!(
        seen.contains(&r#"echo {"_placeholder":true,"num":0} [[1, 2, 3]]"#.to_string()),
        "{seen:?}"
    );
    assert!(seen.contains(&"ack [true]".to_string()), "{seen:?}");
    assert!(!board.is_connected());
}
