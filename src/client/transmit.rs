//! The uplink: which stream to connect or close, and the requests and frames to send.

use super::outbox::{self, Outbox, Rec};
use super::{AckSlot, Client, Closing, Io, Ns, NsState, Phase, SESSION_NS, Stream, Tcp, Upgrade};
use crate::base64;
use crate::engine::RECORD_SEPARATOR;
use crate::write::Writer;
use crate::ws::{self, CloseCode, CloseFrame, OpCode};

/// The method of a polling request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
}

impl<const NS: usize, const ACKS: usize, const POLLING: bool> Client<'_, NS, ACKS, POLLING> {
    /// The next thing for the driver to do; bytes to send are written into `out`.
    ///
    /// Call it until `None` after every other call. `out` should hold the largest packet
    /// with its framing: [`ClientConfig::out_len`](super::ClientConfig::out_len) bytes are
    /// always enough; a packet that cannot fit closes the session with
    /// [`CloseReason::TransmitBufferTooSmall`](super::CloseReason::TransmitBufferTooSmall).
    pub fn poll_io(&mut self, out: &mut [u8]) -> Option<Io> {
        if let Some(close) = self.poll_closes() {
            return Some(close);
        }
        if !matches!(self.phase, Phase::Opening | Phase::Open) {
            return None;
        }
        // Idle polling streams are renewed before the server's keep-alive can expire.
        for i in 0..2 {
            let s = self.slots[i];
            if s.tcp == Tcp::Up
                && !s.busy
                && self.now.millis_since(s.idle_since) > super::REUSE_MS
                && self.wants(i)
            {
                self.slots[i].tcp = Tcp::Down;
                return Some(Io::Close(Stream::from_index(i)));
            }
        }
        for i in 0..3 {
            if self.slots[i].tcp == Tcp::Down && self.wants(i) {
                self.slots[i].tcp = Tcp::Opening;
                self.slots[i].idle_since = self.now;
                return Some(Io::Connect(Stream::from_index(i)));
            }
        }
        if self.slots[2].tcp == Tcp::Up
            && let Some(n) = self.write_ws(out)
        {
            return Some(self.sent(Stream::WebSocket, n));
        }
        if self.slots[0].tcp == Tcp::Up && self.wants(0) {
            let n = self.head(Method::Get, None, false, out).unwrap_or(0);
            self.slots[0].busy = true;
            return Some(self.sent(Stream::Poll, n));
        }
        if self.slots[1].tcp == Tcp::Up
            && self.wants(1)
            && let Some(n) = self.write_post(out)
        {
            self.slots[1].busy = true;
            return Some(self.sent(Stream::Post, n));
        }
        None
    }

    /// `len` bytes went out on `stream`; a finished close packet ends the session.
    fn sent(&mut self, stream: Stream, len: usize) -> Io {
        if len == 0 {
            self.lose(super::CloseReason::TransmitBufferTooSmall);
            // `lose` asked to close every stream; the driver sees those next.
            return self.poll_closes().unwrap_or(Io::Close(stream));
        }
        if self.closing == Closing::Written {
            if stream == Stream::Post {
                // Over polling the streams close once the server answered the POST.
                self.closing = Closing::Sent;
                self.deadline = self.now.plus_millis(super::CLOSE_WAIT_MS);
            } else {
                self.finish_close();
            }
        }
        Io::Send { stream, len }
    }

    /// The next stream close that is due.
    fn poll_closes(&mut self) -> Option<Io> {
        for i in 0..3 {
            let s = &mut self.slots[i];
            if s.close {
                s.close = false;
                s.tcp = Tcp::Down;
                return Some(Io::Close(Stream::from_index(i)));
            }
        }
        None
    }

    /// Whether stream `i` has work: a request to make or a WebSocket to keep.
    fn wants(&self, i: usize) -> bool {
        let polling_ok =
            POLLING && !self.on_ws && !matches!(self.upgrade, Upgrade::Paused | Upgrade::Done);
        match i {
            0 => {
                self.cfg.transports.polling()
                    && polling_ok
                    && !self.slots[0].busy
                    && self.body.is_none()
                    && self.closing == Closing::No
                    && (self.phase == Phase::Open || self.sid_len == 0)
            }
            1 => {
                self.phase == Phase::Open
                    && polling_ok
                    && self.closing != Closing::Sent
                    && !self.slots[1].busy
                    && self.has_uplink()
            }
            _ => {
                if self.on_ws {
                    // WebSocket only: the handshake; once open, losing it ends the session.
                    self.phase == Phase::Opening
                } else {
                    matches!(
                        self.upgrade,
                        Upgrade::Probing | Upgrade::ProbeSent | Upgrade::Paused
                    )
                }
            }
        }
    }

    /// Whether packets wait to go out on the session's transport.
    fn has_uplink(&self) -> bool {
        self.pongs > 0
            || self.closing != Closing::No
            || self.nss.iter().any(|n| n.due)
            || self.outbox.any(|ns| ready(&self.nss, ns))
    }

    /// Writes a request head: `GET|POST <path>?EIO=4&transport=…[&sid=…][&query] HTTP/1.1`,
    /// `Host`, the extra headers, then the body headers (`content_length`), the WebSocket
    /// headers (`ws`) and the blank line. Returns the length (0 when it does not fit).
    fn head(
        &self,
        method: Method,
        content_length: Option<usize>,
        ws: bool,
        out: &mut [u8],
    ) -> Result<usize, crate::BufferTooSmall> {
        let mut w = Writer::new(out);
        w.put(if method == Method::Get {
            b"GET "
        } else {
            b"POST "
        });
        w.put(self.cfg.path.as_bytes());
        // v3: binary comes as base64 in length-prefixed text bodies (`b64=1`).
        w.put(match (self.v3(), ws) {
            (false, true) => b"?EIO=4&transport=websocket".as_slice(),
            (false, false) => b"?EIO=4&transport=polling",
            (true, true) => b"?EIO=3&transport=websocket",
            (true, false) => b"?EIO=3&transport=polling&b64=1",
        });
        if self.sid_len > 0 {
            w.put(b"&sid=");
            w.put(self.sid.get(..self.sid_len).unwrap_or_default());
        }
        if !self.cfg.query.is_empty() {
            w.byte(b'&');
            w.put(self.cfg.query.as_bytes());
        }
        w.put(b" HTTP/1.1\r\nHost: ");
        w.put(self.cfg.host.as_bytes());
        w.put(b"\r\n");
        for h in self.cfg.headers {
            w.put(h.name.as_bytes());
            w.put(b": ");
            w.put(h.value);
            w.put(b"\r\n");
        }
        if let Some(n) = content_length {
            w.put(b"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: ");
            w.decimal(n as u64);
            w.put(b"\r\n");
        }
        if ws {
            ws::put_client_headers(&self.key, &mut w);
        }
        w.put(b"\r\n");
        w.finish()
    }

    /// A POST carrying every packet that is ready, as many as fit; `None` when nothing is
    /// ready, `Some(0)` when the first packet cannot fit `out`.
    fn write_post(&mut self, out: &mut [u8]) -> Option<usize> {
        let (out, scratch) = self.split_scratch(out);
        let v3 = self.v3();
        #[cfg(feature = "msgpack-parser")]
        let msgpack = self.msgpack().then(|| self.cfg.resume_len());
        // The body goes after room for the longest possible head, then moves down.
        let Err(e) = self.head(Method::Post, Some(9_999_999), false, &mut []) else {
            return Some(0);
        };
        let reserve = e.required;
        let limit = (self.max_payload as usize).min(9_999_999);
        let Some(area) = out.get_mut(reserve..) else {
            return Some(0);
        };
        let cap = area.len().min(limit);
        let area = &mut area[..cap];
        let mut len = 0usize;
        let mut count = 0usize;
        let mut put = |bytes: &[u8], binary: bool, len: &mut usize, count: &mut usize| -> bool {
            // v4: records joined by 0x1E, binary as `b<base64>`; v3: each record after its
            // length in UTF-16 code units, binary as `b4<base64>`.
            let mut head = [0u8; 11];
            let (sep, prefix): (usize, &[u8]) = if v3 {
                let units = if binary {
                    2 + base64::encoded_len(bytes.len())
                } else {
                    crate::engine::v3::utf16_len(bytes)
                };
                let n = crate::engine::v3::write_length(units, &mut head);
                (0, &head[..n])
            } else {
                (usize::from(*count > 0), &[])
            };
            let typed = usize::from(v3 && binary);
            let need = if binary {
                1 + typed + base64::encoded_len(bytes.len())
            } else {
                bytes.len()
            };
            let end = *len + sep + prefix.len() + need;
            let Some(dst) = area.get_mut(*len..end) else {
                return false;
            };
            let mut w = Writer::new(dst);
            if sep == 1 {
                w.byte(RECORD_SEPARATOR);
            }
            w.put(prefix);
            if binary {
                w.byte(b'b');
                if typed == 1 {
                    w.byte(b'0' + crate::engine::v3::BINARY_MESSAGE_TYPE);
                }
                base64::encode_to(bytes, &mut w);
            } else {
                w.put(bytes);
            }
            *len = end;
            *count += 1;
            true
        };
        let (full, closed) = take_packets(
            &mut self.pongs,
            &mut self.nss,
            Connects {
                #[cfg(feature = "recovery")]
                resume: &self.resume,
                scratch,
                v3,
                #[cfg(feature = "msgpack-parser")]
                msgpack,
            },
            self.names,
            &mut self.outbox,
            &mut self.acks,
            self.closing != Closing::No,
            |bytes, binary| put(bytes, binary, &mut len, &mut count),
        );
        if closed {
            self.closing = Closing::Written;
        }
        if count == 0 {
            return full.then_some(0);
        }
        let Ok(h) = self.head(Method::Post, Some(len), false, out) else {
            return Some(0);
        };
        out.copy_within(reserve..reserve + len, h);
        Some(h + len)
    }

    /// The WebSocket's next bytes: the handshake request, then frames. `None` when there is
    /// nothing to send; `Some(0)` when a packet cannot fit `out`.
    fn write_ws(&mut self, out: &mut [u8]) -> Option<usize> {
        let (out, scratch) = self.split_scratch(out);
        let v3 = self.v3();
        #[cfg(feature = "msgpack-parser")]
        let msgpack = self.msgpack().then(|| self.cfg.resume_len());
        if self.ws_request {
            self.ws_request = false;
            return Some(self.head(Method::Get, None, true, out).unwrap_or(0));
        }
        if !matches!(self.ws, super::WsRx::Frames(_)) {
            return None;
        }
        let mut pos = 0usize;
        let mut stalled = false;
        let mut upgraded = false;
        let rng = &mut self.rng;
        let mut frame = |op: OpCode, payload: &[u8], pos: &mut usize| -> bool {
            let mut mask = [0u8; 4];
            rng.fill(&mut mask);
            let dst = out.get_mut(*pos..).unwrap_or_default();
            // A v3 binary frame starts with the message type, 4.
            let typed = v3 && op == OpCode::Binary;
            let written = if typed {
                v3_binary_frame(dst, payload, mask)
            } else {
                ws::encode_frame(dst, true, op, payload, Some(mask)).ok()
            };
            match written {
                Some(n) => {
                    *pos += n;
                    true
                }
                None => false,
            }
        };
        if let Some(n) = self.ws_ping_len {
            let n = usize::from(n);
            if frame(OpCode::Pong, &self.ws_ping[..n], &mut pos) {
                self.ws_ping_len = None;
            } else {
                stalled = true;
            }
        }
        if POLLING && !self.on_ws {
            match self.upgrade {
                Upgrade::Probing if !stalled && frame(OpCode::Text, b"2probe", &mut pos) => {
                    self.upgrade = Upgrade::ProbeSent;
                }
                Upgrade::Paused
                    if !stalled
                        && !self.slots[0].busy
                        && !self.slots[1].busy
                        && frame(OpCode::Text, b"5", &mut pos) =>
                {
                    self.upgrade = Upgrade::Done;
                    self.on_ws = true;
                    for i in 0..2 {
                        if self.slots[i].tcp != Tcp::Down {
                            self.slots[i].close = true;
                        }
                    }
                    upgraded = true;
                }
                _ => {}
            }
        }
        if self.on_ws && self.phase == Phase::Open && !stalled {
            let (refused, closed) = take_packets(
                &mut self.pongs,
                &mut self.nss,
                Connects {
                    #[cfg(feature = "recovery")]
                    resume: &self.resume,
                    scratch,
                    v3,
                    #[cfg(feature = "msgpack-parser")]
                    msgpack,
                },
                self.names,
                &mut self.outbox,
                &mut self.acks,
                self.closing != Closing::No,
                |bytes, binary| {
                    let op = if binary { OpCode::Binary } else { OpCode::Text };
                    frame(op, bytes, &mut pos)
                },
            );
            stalled |= refused;
            if closed {
                let close = CloseFrame {
                    code: CloseCode::NORMAL,
                    reason: "",
                };
                let dst = out.get_mut(pos..).unwrap_or_default();
                let mut mask = [0u8; 4];
                self.rng.fill(&mut mask);
                if let Ok(n) = ws::encode_close(dst, Some(close), Some(mask)) {
                    pos += n;
                }
                self.closing = Closing::Written;
            }
        }
        if upgraded {
            self.push_notice(super::Notice::Upgrade);
        }
        if pos > 0 {
            Some(pos)
        } else if stalled {
            Some(0)
        } else {
            None
        }
    }
}

impl<const NS: usize, const ACKS: usize, const POLLING: bool> Client<'_, NS, ACKS, POLLING> {
    /// Splits off the end of `out` as room to put together a CONNECT that offers a
    /// session to resume ([`ClientConfig::out_len`](super::ClientConfig::out_len) counts
    /// it).
    fn split_scratch<'o>(&self, out: &'o mut [u8]) -> (&'o mut [u8], &'o mut [u8]) {
        let room = self.cfg.scratch_len();
        out.split_at_mut(out.len().saturating_sub(room))
    }
}

/// Whether outbox records tagged `ns` may go out: session packets always, a namespace's
/// once it is joined.
/// A v3 client's binary WebSocket frame: the message type 4, then `payload`, masked with
/// `mask`, written into `out`; `None` when it does not fit.
fn v3_binary_frame(out: &mut [u8], payload: &[u8], mask: [u8; 4]) -> Option<usize> {
    let header = ws::FrameHeader {
        fin: true,
        opcode: OpCode::Binary,
        mask: Some(mask),
        payload_len: payload.len() as u64 + 1,
    };
    let h = header.encode(out).ok()?;
    let body = out.get_mut(h..h + 1 + payload.len())?;
    body[0] = crate::engine::v3::BINARY_MESSAGE_TYPE;
    body[1..].copy_from_slice(payload);
    ws::apply_mask(body, mask, 0);
    Some(h + body.len())
}

fn ready(nss: &[Ns], ns: u8) -> bool {
    ns == SESSION_NS
        || nss
            .get(usize::from(ns))
            .is_some_and(|n| n.state == NsState::Connected)
}

/// How the CONNECTs due are written: with a session to resume (feature `recovery`), in
/// protocol v4 (`v3`: no CONNECT for `/`, the auth as a query), or as `MessagePack`
/// (feature `msgpack-parser`), put together in `scratch`.
struct Connects<'c> {
    #[cfg(feature = "recovery")]
    resume: &'c [super::recovery::Resume],
    scratch: &'c mut [u8],
    v3: bool,
    /// With the msgpack parser, where the room for its `MessagePack` starts in `scratch`
    /// (before it: the room to offer a session to resume).
    #[cfg(feature = "msgpack-parser")]
    msgpack: Option<usize>,
}

impl Connects<'_> {
    /// Whether the CONNECTs are binary messages (the msgpack parser's).
    const fn binary(&self) -> bool {
        #[cfg(feature = "msgpack-parser")]
        let binary = self.msgpack.is_some();
        #[cfg(not(feature = "msgpack-parser"))]
        let binary = false;
        binary
    }

    /// Namespace `i`'s CONNECT as it goes out (`pkt` as stored); `None` when none is sent.
    fn packet<'p>(&'p mut self, i: usize, pkt: &'p [u8]) -> Option<&'p [u8]> {
        #[cfg(feature = "eio3")]
        if self.v3 {
            return super::v3::connect_packet(pkt, self.scratch);
        }
        #[cfg(feature = "msgpack-parser")]
        if let Some(at) = self.msgpack {
            let (json, room) = self.scratch.split_at_mut(at.min(self.scratch.len()));
            #[cfg(feature = "recovery")]
            let pkt = match self.resume.get(i) {
                Some(r) => r.connect_packet(pkt, json),
                None => pkt,
            };
            let _ = json;
            let sent = super::msgpack::connect_packet(pkt, room);
            // `Client::connect` checked that it fits.
            debug_assert!(sent.is_some(), "a CONNECT that does not fit its room");
            return sent;
        }
        #[cfg(feature = "recovery")]
        if let Some(r) = self.resume.get(i) {
            return Some(r.connect_packet(pkt, self.scratch));
        }
        let _ = (i, &self.scratch);
        Some(pkt)
    }
}

/// Hands the session's waiting packets to `put` (bytes, binary) in order: the heartbeats
/// owed (`3` answering the server's pings; `2`, the pings of a v3 client), the CONNECTs
/// due, the outbox records whose namespace is joined, then the close packet when
/// `closing`. Stops at the first packet `put` refuses, which stays for the next call.
/// Returns whether one was refused, and whether the close packet was taken.
#[allow(clippy::too_many_arguments)]
fn take_packets(
    pongs: &mut u8,
    nss: &mut [Ns],
    mut connects: Connects<'_>,
    names: &[u8],
    outbox: &mut Outbox<'_>,
    acks: &mut [AckSlot],
    closing: bool,
    mut put: impl FnMut(&[u8], bool) -> bool,
) -> (bool, bool) {
    let heartbeat: &[u8] = if connects.v3 { b"2" } else { b"3" };
    let binary = connects.binary();
    while *pongs > 0 {
        if !put(heartbeat, false) {
            return (true, false);
        }
        *pongs -= 1;
    }
    for (i, n) in nss.iter_mut().enumerate() {
        if !n.due {
            continue;
        }
        let pkt = super::packet_of(names, n);
        if let Some(pkt) = connects.packet(i, pkt)
            && !put(pkt, binary)
        {
            return (true, false);
        }
        n.due = false;
    }
    let mut refused = false;
    let nss: &[Ns] = nss;
    outbox.drain(
        |ns| ready(nss, ns),
        |r: Rec<'_>| {
            let ok = put(r.bytes, r.kind == outbox::BINARY);
            if ok && let Some(a) = acks.get_mut(usize::from(r.ack)) {
                a.sent = true;
            }
            refused |= !ok;
            ok
        },
    );
    if refused {
        return (true, false);
    }
    let closed = closing && put(b"1", false);
    (closing && !closed, closed)
}
