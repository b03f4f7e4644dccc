//! One client connection: WebSocket or HTTP long-polling, plain or over TLS (`--tls`), set
//! up blocking, then driven non-blocking by [`crate::run`].

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use rustls::ClientConnection;

use crate::tls;

/// What the transport of a connection is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Ws,
    /// Long-polling; the session id is kept in the connection.
    Polling,
}

/// What one parsed unit from the server is.
pub enum Unit<'a> {
    /// A WebSocket message: opcode and payload.
    Frame(u8, &'a [u8]),
    /// An HTTP response body (polling).
    Body(&'a [u8]),
}

pub struct Conn {
    pub stream: mio::net::TcpStream,
    /// The TLS state, when the run speaks TLS.
    pub tls: Option<Box<ClientConnection>>,
    pub kind: Kind,
    pub sid: String,
    /// Received bytes are `rbuf[..rlen]`; the rest of `rbuf` is room already zeroed.
    pub rbuf: Vec<u8>,
    pub rlen: usize,
    pub wbuf: Vec<u8>,
    /// Bytes of `wbuf` already written.
    pub wpos: usize,
}

/// The greeting of `examples/echo_server`, not part of the benchmark contract.
pub const AUTH: &[u8] = br#"42["auth","#;

const MASK: [u8; 4] = [0x12, 0x34, 0x56, 0x78];
const TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes asked of each `read`.
const READ: usize = 64 * 1024;

fn err(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
}

/// Appends a masked client frame.
pub fn frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    out.push(0x80 | opcode);
    let n = payload.len();
    if n < 126 {
        out.push(0x80 | n as u8);
    } else if n <= 0xffff {
        out.push(0x80 | 126);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
    out.extend_from_slice(&MASK);
    let start = out.len();
    out.extend_from_slice(payload);
    // Eight bytes at a time (the key repeats every four), so that masking a 64 KiB
    // attachment does not make this tool the bottleneck.
    let word = u64::from_ne_bytes([
        MASK[0], MASK[1], MASK[2], MASK[3], MASK[0], MASK[1], MASK[2], MASK[3],
    ]);
    let mut chunks = out[start..].chunks_exact_mut(8);
    for c in &mut chunks {
        let v = u64::from_ne_bytes(c.try_into().expect("8 bytes")) ^ word;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= MASK[i & 3];
    }
}

/// Parses one server frame at the start of `buf`: (opcode, payload range, frame length).
fn parse_frame(buf: &[u8]) -> Result<Option<(u16, usize, usize, usize)>, String> {
    if buf.len() < 2 {
        return Ok(None);
    }
    if buf[0] & 0x80 == 0 {
        return Err("fragmented frame".into());
    }
    if buf[1] & 0x80 != 0 {
        return Err("masked server frame".into());
    }
    let (len, head) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
        127 if buf.len() >= 10 => (
            u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize,
            10,
        ),
        126 | 127 => return Ok(None),
        n => (n as usize, 2),
    };
    if buf.len() < head + len {
        return Ok(None);
    }
    Ok(Some(((buf[0] & 0x0f) as u16, head, head + len, head + len)))
}

/// Parses one HTTP response at the start of `buf`: (status, body range, length).
fn parse_response(buf: &[u8]) -> Result<Option<(u16, usize, usize, usize)>, String> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| "response head not UTF-8")?;
    let status: u16 = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line: {head:.40}"))?;
    let mut len = None;
    for line in head.split("\r\n").skip(1) {
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        if name.eq_ignore_ascii_case("content-length") {
            len = value.trim().parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err("chunked responses are not read by this tool".into());
        }
    }
    let len = len.ok_or("response without Content-Length")?;
    let body = end + 4;
    if buf.len() < body + len {
        return Ok(None);
    }
    Ok(Some((status, body, body + len, body + len)))
}

impl Conn {
    /// Parses every complete unit in `rbuf`, calling `f` on each; keeps the rest.
    pub fn drain(
        &mut self,
        mut f: impl FnMut(&mut Conn, Unit<'_>) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut buf = std::mem::take(&mut self.rbuf);
        let end = self.rlen;
        let mut at = 0;
        let result = loop {
            let parsed = match self.kind {
                Kind::Ws => parse_frame(&buf[at..end]),
                Kind::Polling => parse_response(&buf[at..end]),
            };
            match parsed {
                Err(e) => break Err(e),
                Ok(None) => break Ok(()),
                Ok(Some((code, a, b, len))) => {
                    let body = &buf[at + a..at + b];
                    let r = match self.kind {
                        Kind::Ws if code == 1 && body == b"2" => {
                            frame(&mut self.wbuf, 1, b"3");
                            Ok(())
                        }
                        Kind::Ws if code == 9 => {
                            frame(&mut self.wbuf, 10, body);
                            Ok(())
                        }
                        Kind::Ws if code == 8 => Err("server closed the WebSocket".into()),
                        // siocore's echo server greets every socket with `auth`.
                        Kind::Ws if body.starts_with(AUTH) => Ok(()),
                        Kind::Ws => f(self, Unit::Frame(code as u8, body)),
                        Kind::Polling if code != 200 => Err(format!("HTTP {code}")),
                        Kind::Polling => f(self, Unit::Body(body)),
                    };
                    at += len;
                    if let Err(e) = r {
                        break Err(e);
                    }
                }
            }
        };
        buf.copy_within(at..end, 0);
        self.rlen = end - at;
        // Whatever `f` queued stays in wbuf; rbuf got nothing meanwhile.
        self.rbuf = buf;
        result
    }

    /// Reads what the socket has through `scratch` (plain connections only), keeping in
    /// `rbuf` only what arrived: for many connections that rarely receive, where
    /// [`fill`](Self::fill)'s 64 KiB of room per connection would add up.
    pub fn fill_via(&mut self, scratch: &mut [u8]) -> io::Result<bool> {
        loop {
            match self.stream.read(scratch) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.rbuf.truncate(self.rlen);
                    self.rbuf.extend_from_slice(&scratch[..n]);
                    self.rlen = self.rbuf.len();
                    // A short read took all there was (edge-triggered: more bytes raise a
                    // new event), so skip the read that would say "would block".
                    if n < scratch.len() {
                        return Ok(true);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Ends the connection with a reset (linger 0) when it is dropped: no `TIME_WAIT`
    /// left holding a port of the run's source addresses.
    pub fn reset_on_drop(&self) {
        set_linger0(&self.stream);
    }

    /// Reads what the socket has; `Ok(false)` on end of stream.
    pub fn fill(&mut self) -> io::Result<bool> {
        if let Some(t) = self.tls.as_mut() {
            return tls::fill(t, &mut self.stream, &mut self.rbuf, &mut self.rlen, READ);
        }
        loop {
            // Straight into `rbuf`, which is zeroed only when it grows.
            if self.rbuf.len() < self.rlen + READ {
                self.rbuf.resize(self.rlen + READ, 0);
            }
            match self.stream.read(&mut self.rbuf[self.rlen..]) {
                Ok(0) => return Ok(false),
                Ok(n) => self.rlen += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether bytes wait to be written.
    pub fn pending(&self) -> bool {
        !self.wbuf.is_empty() || self.tls.as_ref().is_some_and(|t| t.wants_write())
    }

    /// Writes what it can of `wbuf`.
    pub fn flush(&mut self) -> io::Result<()> {
        if let Some(t) = self.tls.as_mut() {
            // Encrypted whole into the TLS state, which writes what the socket takes.
            tls::flush(t, &mut self.stream, &self.wbuf[self.wpos..])?;
            self.wbuf.clear();
            self.wpos = 0;
            return Ok(());
        }
        while self.wpos < self.wbuf.len() {
            match self.stream.write(&self.wbuf[self.wpos..]) {
                Ok(n) => self.wpos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.wbuf.clear();
        self.wpos = 0;
        Ok(())
    }

    /// Queues a Socket.IO packet as text (a frame, or a polling POST).
    pub fn send_text(&mut self, addr: SocketAddr, text: &[u8]) {
        match self.kind {
            Kind::Ws => frame(&mut self.wbuf, 1, text),
            Kind::Polling => post(&mut self.wbuf, addr, &self.sid, text),
        }
    }

    /// Queues a long-poll GET (polling only).
    pub fn send_get(&mut self, addr: SocketAddr) {
        get(&mut self.wbuf, addr, &self.sid);
    }
}

/// Appends a polling POST carrying `text`.
fn post(out: &mut Vec<u8>, addr: SocketAddr, sid: &str, text: &[u8]) {
    let head = format!(
        "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n",
        text.len()
    );
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(text);
}

/// Appends a long-poll GET.
fn get(out: &mut Vec<u8>, addr: SocketAddr, sid: &str) {
    let head = format!(
        "GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: {addr}\r\n\r\n"
    );
    out.extend_from_slice(head.as_bytes());
}

/// A blocking connection during setup.
struct Setup {
    s: tls::Blocking,
    rbuf: Vec<u8>,
    kind: Kind,
}

impl Setup {
    fn next(&mut self) -> io::Result<(u16, u8, Vec<u8>)> {
        loop {
            let parsed = match self.kind {
                Kind::Ws => parse_frame(&self.rbuf),
                Kind::Polling => parse_response(&self.rbuf),
            }
            .map_err(err)?;
            if let Some((code, a, b, len)) = parsed {
                let body = self.rbuf[a..b].to_vec();
                self.rbuf.drain(..len);
                if self.kind == Kind::Ws && body == b"2" {
                    // socketioxide pings at once.
                    let mut out = Vec::new();
                    frame(&mut out, 1, b"3");
                    self.s.write_all(&out)?;
                    continue;
                }
                return Ok((code, code as u8, body));
            }
            let mut chunk = [0u8; 4096];
            let n = self.s.read(&mut chunk)?;
            if n == 0 {
                return Err(err("server closed during setup"));
            }
            self.rbuf.extend_from_slice(&chunk[..n]);
        }
    }

    fn body(&mut self) -> io::Result<Vec<u8>> {
        let (status, _, body) = self.next()?;
        if status != 200 {
            return Err(err(format!("HTTP {status} during setup")));
        }
        Ok(body)
    }
}

/// The WebSocket handshake request.
fn ws_request(addr: SocketAddr) -> String {
    format!(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// Takes the handshake response head off the front of `rbuf`: `Ok(false)` while it is
/// incomplete, an error unless it is a 101.
fn take_upgrade_head(rbuf: &mut Vec<u8>) -> Result<bool, String> {
    let Some(end) = rbuf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(false);
    };
    if !rbuf.starts_with(b"HTTP/1.1 101") {
        return Err("WebSocket upgrade refused".into());
    }
    rbuf.drain(..end + 4);
    Ok(true)
}

/// A TCP socket to `addr`, from the loopback address `source` when given (any port of
/// it), connected (blocking, within `TIMEOUT`) or, when `nonblocking`, with its connect
/// under way.
fn tcp_from(addr: SocketAddr, source: Option<IpAddr>, nonblocking: bool) -> io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    if let Some(ip) = source {
        s.bind(&SocketAddr::new(ip, 0).into())?;
    }
    if nonblocking {
        s.set_nonblocking(true)?;
        match s.connect(&addr.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
    } else {
        s.connect_timeout(&addr.into(), TIMEOUT)?;
    }
    Ok(s.into())
}

/// Opens a Socket.IO connection to namespace `/` and waits for its CONNECT answer.
pub fn open(addr: SocketAddr, kind: Kind) -> io::Result<Conn> {
    open_from(addr, kind, None)
}

/// [`open`] from the loopback address `source` (when given).
pub fn open_from(addr: SocketAddr, kind: Kind, source: Option<IpAddr>) -> io::Result<Conn> {
    let s = tcp_from(addr, source, false)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(TIMEOUT))?;
    let mut c = Setup {
        s: tls::Blocking::new(s)?,
        rbuf: Vec::new(),
        kind: Kind::Polling,
    };
    let mut sid = String::new();
    match kind {
        Kind::Ws => {
            c.s.write_all(ws_request(addr).as_bytes())?;
            loop {
                if take_upgrade_head(&mut c.rbuf).map_err(err)? {
                    break;
                }
                let mut chunk = [0u8; 4096];
                let n = c.s.read(&mut chunk)?;
                if n == 0 {
                    return Err(err("server closed during upgrade"));
                }
                c.rbuf.extend_from_slice(&chunk[..n]);
            }
            c.kind = Kind::Ws;
            let (_, _, open) = c.next()?;
            if !open.starts_with(b"0{") {
                return Err(err("no Engine.IO open packet"));
            }
            let mut out = Vec::new();
            frame(&mut out, 1, b"40");
            c.s.write_all(&out)?;
            let (_, _, ok) = c.next()?;
            if !ok.starts_with(b"40{") {
                return Err(err(format!(
                    "namespace refused: {}",
                    String::from_utf8_lossy(&ok)
                )));
            }
        }
        Kind::Polling => {
            write!(
                c.s,
                "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: {addr}\r\n\r\n"
            )?;
            let open = c.body()?;
            let text = String::from_utf8_lossy(&open);
            sid = text
                .split("\"sid\":\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .ok_or_else(|| err("no sid in the handshake"))?
                .to_string();
            let mut out = Vec::new();
            post(&mut out, addr, &sid, b"40");
            get(&mut out, addr, &sid);
            c.s.write_all(&out)?;
            if c.body()? != b"ok" {
                return Err(err("POST not answered ok"));
            }
            let mut first = true;
            loop {
                if !first {
                    let mut out = Vec::new();
                    get(&mut out, addr, &sid);
                    c.s.write_all(&out)?;
                }
                first = false;
                let body = c.body()?;
                let packets: Vec<&[u8]> = body.split(|&b| b == 0x1e).collect();
                if packets.iter().any(|p| *p == b"2") {
                    // socketioxide pings at once: answer it.
                    let mut out = Vec::new();
                    post(&mut out, addr, &sid, b"3");
                    c.s.write_all(&out)?;
                    if c.body()? != b"ok" {
                        return Err(err("pong POST not answered ok"));
                    }
                }
                if packets.iter().any(|p| p.starts_with(b"40{")) {
                    break;
                }
                if let Some(p) = packets.iter().find(|p| p.starts_with(b"44")) {
                    return Err(err(format!(
                        "namespace refused: {}",
                        String::from_utf8_lossy(p)
                    )));
                }
            }
        }
    }
    c.s.tcp().set_read_timeout(None)?;
    let (s, tls) = c.s.into_parts(&mut c.rbuf)?;
    Ok(Conn {
        stream: mio::net::TcpStream::from_std(s),
        tls,
        kind,
        sid,
        rlen: c.rbuf.len(),
        rbuf: c.rbuf,
        wbuf: Vec::new(),
        wpos: 0,
    })
}

fn set_linger0(s: &impl std::os::fd::AsRawFd) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// A WebSocket connection being opened without blocking, for the connections/s scenario: TCP
/// connect, upgrade, open packet, CONNECT to `/`; then the caller resets it. Many of these
/// in flight on one thread keep a server busy where blocking setups would wait on round
/// trips.
pub struct Opening {
    pub stream: mio::net::TcpStream,
    tls: Option<Box<ClientConnection>>,
    stage: Stage,
    rbuf: Vec<u8>,
    /// Answer a ping that comes before the CONNECT answer (the connection is kept).
    pong: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stage {
    Connecting,
    Upgrade,
    Open,
    Join,
}

impl Opening {
    /// Starts a TCP connect to `addr`.
    pub fn start(addr: SocketAddr) -> io::Result<Self> {
        Ok(Self {
            stream: mio::net::TcpStream::connect(addr)?,
            tls: tls::client()?,
            stage: Stage::Connecting,
            rbuf: Vec::new(),
            pong: false,
        })
    }

    /// Starts a plain connection to be kept (see [`into_conn`](Self::into_conn)), from the
    /// loopback address `source` when given.
    pub fn start_kept(addr: SocketAddr, source: Option<IpAddr>) -> io::Result<Self> {
        Ok(Self {
            stream: mio::net::TcpStream::from_std(tcp_from(addr, source, true)?),
            tls: None,
            stage: Stage::Connecting,
            rbuf: Vec::new(),
            pong: true,
        })
    }

    /// The connection, once [`advance`](Self::advance) said it joined `/`: the CONNECT
    /// answer taken off, what followed it kept. Its socket keeps its registration.
    pub fn into_conn(mut self) -> Result<Conn, String> {
        if let Some((_, _, _, len)) = parse_frame(&self.rbuf)? {
            self.rbuf.drain(..len);
        }
        Ok(Conn {
            stream: self.stream,
            tls: None,
            kind: Kind::Ws,
            sid: String::new(),
            rlen: self.rbuf.len(),
            rbuf: self.rbuf,
            wbuf: Vec::new(),
            wpos: 0,
        })
    }

    /// Moves on after a readiness event: `Ok(true)` once the CONNECT to `/` was answered.
    pub fn advance(&mut self, addr: SocketAddr) -> Result<bool, String> {
        if self.stage == Stage::Connecting {
            if let Ok(Some(e)) | Err(e) = self.stream.take_error() {
                return Err(format!("connect: {e}"));
            }
            match self.stream.peer_addr() {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(false),
                Err(e) => return Err(format!("connect: {e}")),
            }
            let _ = self.stream.set_nodelay(true);
            self.send(ws_request(addr).as_bytes())?;
            self.stage = Stage::Upgrade;
        }
        if let Some(t) = self.tls.as_mut() {
            // Records in (the handshake, then plaintext into rbuf), records out.
            let mut len = self.rbuf.len();
            let open = tls::fill(t, &mut self.stream, &mut self.rbuf, &mut len, 4096)
                .map_err(|e| format!("TLS read: {e}"))?;
            self.rbuf.truncate(len);
            tls::flush(t, &mut self.stream, &[]).map_err(|e| format!("TLS write: {e}"))?;
            if !open {
                return Err("server closed during the setup".into());
            }
        }
        let mut chunk = [0u8; 4096];
        while self.tls.is_none() {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err("server closed during the setup".into()),
                Ok(n) => {
                    self.rbuf.extend_from_slice(&chunk[..n]);
                    // A short read took all there was (edge-triggered: more bytes raise
                    // a new event), so skip the read that would say "would block".
                    if n < chunk.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read: {e}")),
            }
        }
        loop {
            match self.stage {
                Stage::Connecting => return Ok(false),
                Stage::Upgrade => {
                    if !take_upgrade_head(&mut self.rbuf)? {
                        return Ok(false);
                    }
                    self.stage = Stage::Open;
                }
                Stage::Open | Stage::Join => {
                    let Some((_, start, end, len)) = parse_frame(&self.rbuf)? else {
                        return Ok(false);
                    };
                    let payload = &self.rbuf[start..end];
                    if self.stage == Stage::Open {
                        if !payload.starts_with(b"0{") {
                            return Err("no Engine.IO open packet".into());
                        }
                        let mut out = Vec::new();
                        frame(&mut out, 1, b"40");
                        self.rbuf.drain(..len);
                        self.send(&out)?;
                        self.stage = Stage::Join;
                    } else if payload.starts_with(b"40{") {
                        return Ok(true);
                    } else if self.pong && payload == b"2" {
                        let mut out = Vec::new();
                        frame(&mut out, 1, b"3");
                        self.rbuf.drain(..len);
                        self.send(&out)?;
                    } else {
                        // A greeting emitted on connect, or a ping.
                        self.rbuf.drain(..len);
                    }
                }
            }
        }
    }

    /// Writes a small request whole (a fresh socket's send buffer holds it; over TLS, the
    /// connection keeps it until its handshake is done).
    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        if let Some(t) = self.tls.as_mut() {
            return tls::flush(t, &mut self.stream, bytes).map_err(|e| format!("write: {e}"));
        }
        match self.stream.write(bytes) {
            Ok(n) if n == bytes.len() => Ok(()),
            Ok(_) => Err("short write on a fresh socket".into()),
            Err(e) => Err(format!("write: {e}")),
        }
    }

    /// Ends the connection with a reset (linger 0), as the blocking setup does.
    pub fn reset(self) {
        set_linger0(&self.stream);
    }
}
