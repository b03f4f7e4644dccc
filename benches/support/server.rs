//! The server paths that `benches/server.rs` times and `tests/no_alloc.rs` checks for heap
//! allocations. Set-up may allocate (tables are leaked vectors lent to the server, as a
//! device would lend static arrays); the paths themselves must not.

use siocore::Instant;
use siocore::server::*;
use siocore::ws::{self, OpCode};

/// Leaks one vector per table: the tables are borrowed, as a device's static ones would be.
struct Leak;

impl Lend<'static> for Leak {
    fn lend<T: Entry>(&mut self, n: usize) -> Option<&'static mut [T]> {
        Some(Vec::from_iter((0..n).map(|_| T::empty())).leak())
    }
}

/// Tables for `sessions` WebSocket clients, borrowed (no allocator needed by the server).
pub fn storage(sessions: usize, blocks: usize) -> Storage<'static> {
    let cap = Capacity {
        sessions,
        streams: sessions + 4,
        sockets: sessions,
        namespaces: 2,
        rooms: 16,
        members: 16,
        acks: 16,
        events: 64,
        blocks,
        nodes: sessions * 4 + 64,
        big_blocks: 0,
    };
    Storage::lent(&cap, &mut Leak).expect("leaked tables")
}

fn masked(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; payload.len() + ws::MAX_HEADER_LEN];
    let n = ws::encode_frame(
        &mut out,
        true,
        opcode,
        payload,
        Some([0x37, 0xfa, 0x21, 0x3d]),
    )
    .expect("frame fits");
    out.truncate(n);
    out
}

const UPGRADE: &[u8] = b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: bench\r\n\
    Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

/// A server with `clients` Socket.IO clients connected to `/` over WebSocket; returns it
/// and their streams.
fn connected(clients: usize, blocks: usize) -> (Server<'static>, Vec<StreamId>) {
    let mut server = Server::new(
        ServerConfig::DEFAULT,
        storage(clients, blocks),
        [1; 32],
        Instant::ZERO,
    )
    .expect("valid config");
    let now = Instant::ZERO;
    let mut out = vec![0u8; 64 * 1024];
    let mut ev = vec![0u8; 4096];
    let mut streams = Vec::with_capacity(clients);
    for _ in 0..clients {
        let s = server.open_stream(now).expect("stream");
        let mut input = UPGRADE.to_vec();
        input.extend_from_slice(&masked(OpCode::Text, b"40"));
        let n = server.feed(s, now, &mut input).expect("feed");
        assert_eq!(n, input.len());
        while let Some(Event::Connect(c)) = server.poll_event(&mut ev).expect("event fits") {
            server.accept(c.socket).expect("accept");
        }
        while server.poll_transmit(&mut out).is_some() {}
        streams.push(s);
    }
    (server, streams)
}

/// One client's echo: `42["echo","hello"]` in, the same event back.
pub struct Echo {
    server: Server<'static>,
    stream: StreamId,
    frame: Vec<u8>,
    work: Vec<u8>,
    out: Vec<u8>,
    ev: Vec<u8>,
    /// The server frame the round trip must produce.
    pub expected: Vec<u8>,
}

impl Echo {
    /// The server with its one client connected.
    pub fn new() -> Self {
        let (server, streams) = connected(1, 64);
        let frame = masked(OpCode::Text, br#"42["echo","hello"]"#);
        let mut expected = vec![0x81, 18];
        expected.extend_from_slice(br#"42["echo","hello"]"#);
        Self {
            server,
            stream: streams[0],
            work: vec![0u8; frame.len()],
            frame,
            out: vec![0u8; 64 * 1024],
            ev: vec![0u8; 4096],
            expected,
        }
    }

    /// One round trip: the client's frame fed, its event polled, the same event emitted
    /// back, the reply frame polled. Returns the reply's bytes.
    pub fn round_trip(&mut self) -> &[u8] {
        let Self {
            server,
            stream,
            frame,
            work,
            out,
            ev,
            ..
        } = self;
        // Feeding unmasks in place: start from the masked bytes each time.
        work.copy_from_slice(frame);
        let n = server.feed(*stream, Instant::ZERO, work).expect("feed");
        assert_eq!(n, work.len());
        let Ok(Some(Event::Message(m))) = server.poll_event(ev) else {
            panic!("an event");
        };
        server
            .emit(m.socket, m.name, Args::json(m.args))
            .expect("emit");
        let t = server.poll_transmit(out).expect("the reply");
        assert!(server.poll_transmit(out).is_none());
        &out[..t.len]
    }
}

impl Default for Echo {
    fn default() -> Self {
        Self::new()
    }
}

/// One event broadcast to every client of `/`.
pub struct Broadcast {
    server: Server<'static>,
    ns: NamespaceId,
    out: Vec<u8>,
    /// How many clients are connected.
    pub clients: usize,
}

impl Broadcast {
    /// `clients` WebSocket clients connected to `/`.
    pub fn new(clients: usize) -> Self {
        let (server, _) = connected(clients, 64);
        let ns = server.namespace("/").expect("namespace /");
        Self {
            server,
            ns,
            out: vec![0u8; 64 * 1024],
            clients,
        }
    }

    /// Broadcasts `42["news","hello"]` and polls every recipient's frame; returns the
    /// bytes ready to write.
    pub fn once(&mut self) -> usize {
        let sent = self
            .server
            .broadcast(self.ns, &Targets::ALL, "news", Args::json(br#""hello""#))
            .expect("broadcast");
        assert_eq!(sent, self.clients);
        let mut bytes = 0;
        while let Some(t) = self.server.poll_transmit(&mut self.out) {
            bytes += t.len;
        }
        assert_eq!(bytes, self.clients * 20);
        bytes
    }
}
