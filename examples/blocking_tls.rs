//! The blocking `embedded-io` driver (`siocore::client::blocking`) over TLS: the driver
//! knows nothing of TLS, so a [`Connect`] that hands out a TLS stream is all it takes.
//!
//! ```sh
//! cargo run --features tls,embedded-io --example blocking_tls -- [--ca FILE] wss://127.0.0.1:3000 [TEXT]
//! ```
//!
//! It joins `/` of a server that keeps the echo server's contract (`echo` answered with
//! `echo` and the same arguments: `examples/echo_server.rs`, `--tls-cert`/`--tls-key`),
//! emits `echo` with TEXT (`hello`) as a JSON string, prints the answer and closes. The
//! server's certificate is checked against Mozilla's roots, or with `--ca FILE` against the
//! authorities of that PEM file only; a certificate the client refuses ends it with status 1
//! and the reason.
//!
//! Here the TLS stream is rustls' [`StreamOwned`] on a std [`TcpStream`], wrapped in
//! [`TlsStream`] to give the three `embedded-io` traits the driver needs. `ReadReady` is the
//! one that needs care: it must say `true` when rustls already holds decrypted bytes even if
//! the socket has nothing new, and `false` when the socket holds only part of a record, or
//! the driver's next `read` would block. `embedded_io_adapters::std::FromStd` gives `Read`
//! and `Write` but not `ReadReady`, so it is not used. On a `no_std` board the same shape
//! holds with `embedded-tls` (a `TlsConnection` over the stack's TCP socket) in place of
//! rustls, and the socket's own "bytes waiting" test under `ReadReady`.

use std::cell::RefCell;
use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use embedded_io::{ErrorKind, ErrorType, Read, ReadReady, Write};
use siocore::Instant;
use siocore::client::blocking::{BlockingClient, Connect};
use siocore::client::{Args, ClientConfig, Event, Transports, WsClient};
use siocore::driver::rustls::pki_types::ServerName;
use siocore::driver::rustls::{self, ClientConnection, StreamOwned};
use siocore::driver::{ClientTls, ServerUrl, os_seed};

/// How long the whole exchange may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A TLS client stream with the `embedded-io` traits of
/// [`Connect::Conn`]: rustls over a blocking std socket.
#[derive(Debug)]
pub struct TlsStream(StreamOwned<ClientConnection, TcpStream>);

fn kind(e: &io::Error) -> ErrorKind {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ErrorKind::TimedOut,
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => ErrorKind::ConnectionReset,
        io::ErrorKind::InvalidData => ErrorKind::InvalidData,
        _ => ErrorKind::Other,
    }
}

impl ErrorType for TlsStream {
    type Error = ErrorKind;
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        // Blocks until a whole record is in; the driver reads after `read_ready` only.
        self.0.read(buf).map_err(|e| kind(&e))
    }
}

impl ReadReady for TlsStream {
    fn read_ready(&mut self) -> Result<bool, ErrorKind> {
        let StreamOwned { conn, sock } = &mut self.0;
        loop {
            let state = conn
                .process_new_packets()
                .map_err(|_| ErrorKind::InvalidData)?;
            if state.plaintext_bytes_to_read() > 0 || state.peer_has_closed() {
                return Ok(true);
            }
            // No whole record decrypted yet: take what the socket has, without waiting.
            sock.set_nonblocking(true).map_err(|e| kind(&e))?;
            let got = conn.read_tls(sock);
            sock.set_nonblocking(false).map_err(|e| kind(&e))?;
            match got {
                // The end of the stream: the next `read` reports it.
                Ok(0) => return Ok(true),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(kind(&e)),
            }
        }
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.0.write(buf).map_err(|e| kind(&e))
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        self.0.flush().map_err(|e| kind(&e))
    }
}

/// Opens TCP connections to `addr` and makes the TLS handshake on each, the server's
/// certificate checked for `name`.
#[derive(Debug)]
pub struct TlsConnect {
    addr: SocketAddr,
    name: ServerName<'static>,
    config: Arc<rustls::ClientConfig>,
    /// Why the last attempt failed, for the application (the driver only learns that it did).
    pub failure: Rc<RefCell<Option<String>>>,
}

impl TlsConnect {
    /// Connects to `addr`, checking the certificate for `name` with `tls`.
    ///
    /// # Errors
    /// `name` is not a DNS name or an IP address.
    pub fn new(addr: SocketAddr, name: &str, tls: &ClientTls) -> Result<Self, String> {
        let name = ServerName::try_from(name.to_string()).map_err(|e| format!("{name}: {e}"))?;
        Ok(Self {
            addr,
            name,
            config: Arc::clone(tls.rustls()),
            failure: Rc::default(),
        })
    }

    fn open(&self) -> io::Result<TlsStream> {
        let sock = TcpStream::connect_timeout(&self.addr, TIMEOUT)?;
        sock.set_nodelay(true)?;
        // Bounds the handshake, and any read that would wait for a record's end.
        sock.set_read_timeout(Some(TIMEOUT))?;
        let conn = ClientConnection::new(Arc::clone(&self.config), self.name.clone())
            .map_err(io::Error::other)?;
        let mut stream = StreamOwned::new(conn, sock);
        // The handshake here, so that a refused certificate is a failed connection attempt.
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        Ok(TlsStream(stream))
    }
}

impl Connect for TlsConnect {
    type Conn = TlsStream;

    fn connect(&mut self) -> Result<TlsStream, ErrorKind> {
        self.open().map_err(|e| {
            *self.failure.borrow_mut() = Some(e.to_string());
            kind(&e)
        })
    }
}

/// Joins `/` at `url` (`wss://` or `https://`), emits `echo` with `text` and returns the
/// arguments of the `echo` that comes back, trusting the CAs of the PEM file `ca` (or
/// Mozilla's roots).
///
/// # Errors
/// A bad URL or CA file, a refused certificate or handshake, no answer within 10 s.
pub fn run(url: &str, ca: Option<&str>, text: &str) -> Result<String, String> {
    let server = ServerUrl::parse(url).map_err(|e| e.to_string())?;
    if !server.tls {
        return Err(format!("{url}: not an https:// or wss:// URL"));
    }
    let tls = match ca {
        Some(file) => ClientTls::from_ca_file(file).map_err(|e| e.to_string())?,
        None => ClientTls::webpki_roots(),
    };
    let connect = TlsConnect::new(server.addr, &server.name, &tls)?;
    let failure = Rc::clone(&connect.failure);

    let mut config = ClientConfig::new(&server.host);
    config.transports = Transports::WebSocket;
    config.rx_capacity = 4096;
    config.outbox_capacity = 2048;
    config.binary_capacity = 0;
    config.namespace_capacity = 64;
    let mut arena = vec![0u8; config.arena_len()];
    let seed = os_seed().map_err(|e| e.to_string())?;
    let mut client: WsClient<'_, 1, 4> =
        WsClient::new(config, &mut arena, seed).map_err(|e| format!("{e:?}"))?;
    client.connect("/", None).map_err(|e| format!("{e:?}"))?;
    client.start(Instant::ZERO);
    let json = format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""));
    let (mut out, mut events) = (vec![0u8; 4096], vec![0u8; 4096]);
    let mut board =
        BlockingClient::new(client, connect, &mut out, &mut events).map_err(|e| e.to_string())?;

    let epoch = StdInstant::now();
    let mut answer = None;
    while answer.is_none() {
        if epoch.elapsed() > TIMEOUT {
            return Err("no echo within 10 s".into());
        }
        if let Some(why) = failure.borrow_mut().take() {
            return Err(format!("connecting to {url}: {why}"));
        }
        let now = Instant::from_millis(epoch.elapsed().as_millis() as u64);
        board.poll(now, |client, event| match *event {
            Event::Connect { namespace, .. } => {
                let _ = client.emit(namespace, "echo", Args::json(json.as_bytes()));
            }
            Event::Message(m) if m.name == "echo" => {
                answer = Some(String::from_utf8_lossy(m.args).into_owned());
                client.close(now);
            }
            _ => {}
        });
        // A board would sleep until `poll_timeout` or the network interrupt.
        std::thread::sleep(Duration::from_millis(1));
    }
    // One more turn writes the close.
    let now = Instant::from_millis(epoch.elapsed().as_millis() as u64);
    board.poll(now, |_, _| {});
    Ok(answer.unwrap_or_default())
}

const USAGE: &str = "usage: blocking_tls [--ca FILE] URL [TEXT]";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut ca = None;
    if args.first().is_some_and(|a| a == "--ca") {
        if args.len() < 2 {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
        ca = Some(args.remove(1));
        args.remove(0);
    }
    let (Some(url), text) = (args.first(), args.get(1).map_or("hello", String::as_str)) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match run(url, ca.as_deref(), text) {
        Ok(answer) => {
            println!("echo {answer}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("blocking_tls: {e}");
            ExitCode::FAILURE
        }
    }
}
