//! The downlink: stream reports from the driver, HTTP responses, WebSocket frames, and the
//! packets they carry turned into events.

use super::head;
use super::{
    AckId, Attachments, Client, CloseReason, Closing, ConnectFailure, DisconnectReason, Event,
    Message, NamespaceId, Notice, NsState, Phase, Rx, Stream, Tcp, Upgrade, WsRx,
};
use crate::BufferTooSmall;
use crate::Instant;
use crate::engine::{ErrorBody, OpenPacket, Packet, PacketType, RECORD_SEPARATOR, Record};
use crate::json;
use crate::sio;
use crate::ws::{Incoming, MessageDecoder, Role};

/// A parsed HTTP response: status, where the body lies, and whether the connection stays.
#[derive(Debug, Clone, Copy)]
struct Head {
    status: u16,
    body: (usize, usize),
    keep_alive: bool,
}

/// Parses a whole response at the front of `rx`: `Ok(None)` while incomplete. A chunked
/// body (Node sends its error bodies so) is joined in place; bytes after it are dropped.
fn parse_head(rx: &mut Rx<'_>) -> Result<Option<Head>, CloseReason> {
    let cap = rx.buf.len();
    let Some(h) = head::parse(&rx.buf[..rx.len])? else {
        return Ok(None);
    };
    let (status, keep_alive, start) = (h.status, h.keep_alive, h.len);
    if matches!(status, 100..=199 | 204 | 304) {
        return Ok(Some(Head {
            status,
            body: (start, start),
            keep_alive,
        }));
    }
    if h.chunked {
        return Ok(dechunk(rx.buf, start, rx.len)?.map(|end| {
            rx.len = end;
            Head {
                status,
                body: (start, end),
                keep_alive,
            }
        }));
    }
    let len = h.content_length.ok_or(CloseReason::ParseError)?;
    let end = start.saturating_add(len);
    if end > cap {
        return Err(CloseReason::TooLarge);
    }
    Ok((end <= rx.len).then_some(Head {
        status,
        body: (start, end),
        keep_alive,
    }))
}

/// The end of the line starting at `from` in `buf[..len]` (the index of its CR).
fn line_end(buf: &[u8], from: usize, len: usize) -> Option<usize> {
    let line = buf.get(from..len)?;
    line.windows(2).position(|w| w == b"\r\n").map(|i| from + i)
}

/// The size in a chunk-size line `buf[from..eol]` (extensions after `;` ignored).
fn chunk_size(buf: &[u8], from: usize, eol: usize) -> Option<usize> {
    let digits = buf.get(from..eol)?.split(|&b| b == b';').next()?;
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &d| {
        let v = char::from(d).to_digit(16)?;
        Some(n * 16 + v as usize)
    })
}

/// Joins a complete chunked body at `buf[start..len]` in place: `Some(end)` with the body
/// at `buf[start..end]`, `None` while a chunk or the last one is missing.
fn dechunk(buf: &mut [u8], start: usize, len: usize) -> Result<Option<usize>, CloseReason> {
    // Check first (nothing moves until the whole body is there), then compact.
    let mut chunks = 0usize;
    let mut pos = start;
    loop {
        let Some(eol) = line_end(buf, pos, len) else {
            return Ok(None);
        };
        let size = chunk_size(buf, pos, eol).ok_or(CloseReason::ParseError)?;
        if size > buf.len() {
            return Err(CloseReason::TooLarge);
        }
        pos = eol + 2;
        if size == 0 {
            // Trailer lines until the empty one.
            loop {
                let Some(eol) = line_end(buf, pos, len) else {
                    return Ok(None);
                };
                let empty = eol == pos;
                pos = eol + 2;
                if empty {
                    break;
                }
            }
            break;
        }
        if pos + size + 2 > len {
            return Ok(None);
        }
        if buf.get(pos + size..pos + size + 2) != Some(b"\r\n".as_slice()) {
            return Err(CloseReason::ParseError);
        }
        pos += size + 2;
        chunks += 1;
    }
    let (mut r, mut w) = (start, start);
    for _ in 0..chunks {
        let eol = line_end(buf, r, len).unwrap_or(r);
        let size = chunk_size(buf, r, eol).unwrap_or(0);
        r = eol + 2;
        buf.copy_within(r..r + size, w);
        w += size;
        r += size + 2;
    }
    Ok(Some(w))
}

/// The Engine.IO error code of a JSON error body (`{"code":1,"message":"…"}`).
fn error_code(body: &[u8]) -> Option<u8> {
    // Room to unescape a message with escapes; the reference's messages have none.
    let mut scratch = [0u8; 64];
    ErrorBody::decode(body, &mut scratch)
        .ok()
        .map(|e| e.code.as_u8())
}

/// What one packet produced.
enum Step {
    /// Consumed; look further.
    Next,
    /// An event for the application, its bytes at the front of the event buffer.
    Ready(Ready),
}

/// An event whose bytes were written to the front of the event buffer, by lengths.
#[derive(Debug, Clone, Copy)]
enum Ready {
    Connect {
        ns: NamespaceId,
        sid: usize,
        recovered: bool,
    },
    ConnectError {
        ns: NamespaceId,
        message: usize,
        data: Option<usize>,
    },
    Message {
        ns: NamespaceId,
        name: usize,
        args: usize,
        atts: usize,
        count: usize,
        ack: Option<AckId>,
    },
    Ack {
        ns: NamespaceId,
        id: AckId,
        args: usize,
        atts: usize,
        count: usize,
    },
}

impl Ready {
    fn build(self, buf: &[u8]) -> Event<'_> {
        #[inline(never)]
        fn text(b: &[u8]) -> &str {
            core::str::from_utf8(b).unwrap_or("")
        }
        match self {
            Self::Connect { ns, sid, recovered } => Event::Connect {
                namespace: ns,
                sid: text(&buf[..sid]),
                recovered,
            },
            Self::ConnectError { ns, message, data } => Event::ConnectError {
                namespace: ns,
                message: text(&buf[..message]),
                data: data.map(|d| &buf[message..message + d]),
            },
            Self::Message {
                ns,
                name,
                args,
                atts,
                count,
                ack,
            } => Event::Message(Message {
                namespace: ns,
                name: text(&buf[..name]),
                args: &buf[name..name + args],
                attachments: Attachments::from_raw(&buf[name + args..name + args + atts], count),
                ack,
            }),
            Self::Ack {
                ns,
                id,
                args,
                atts,
                count,
            } => Event::Ack {
                namespace: ns,
                id,
                args: &buf[..args],
                attachments: Attachments::from_raw(&buf[args..args + atts], count),
            },
        }
    }
}

impl<'a, const NS: usize, const ACKS: usize, const POLLING: bool> Client<'a, NS, ACKS, POLLING> {
    /// The driver connected `stream` (after [`Io::Connect`](super::Io::Connect)).
    pub fn connected(&mut self, stream: Stream, now: Instant) {
        self.tick(now);
        let s = &mut self.slots[stream.index()];
        if s.tcp != Tcp::Opening {
            return;
        }
        s.tcp = Tcp::Up;
        s.idle_since = self.now;
        if stream == Stream::WebSocket {
            self.reset_ws();
            self.ws_request = true;
        }
    }

    /// The driver could not connect `stream`.
    pub fn connect_failed(&mut self, stream: Stream, now: Instant) {
        self.connect_failed_for(stream, ConnectFailure::Other, now);
    }

    /// [`connect_failed`](Self::connect_failed), saying why: the attempt ends with the
    /// matching [`CloseReason`] (`ConnectRefused`, `Unreachable`, `Tls`, or
    /// `TransportError`).
    pub fn connect_failed_for(&mut self, stream: Stream, why: ConnectFailure, now: Instant) {
        self.tick(now);
        if self.slots[stream.index()].tcp != Tcp::Opening {
            return;
        }
        self.slots[stream.index()].tcp = Tcp::Down;
        let reason = match why {
            ConnectFailure::Refused => CloseReason::ConnectRefused,
            ConnectFailure::Unreachable => CloseReason::Unreachable,
            ConnectFailure::Tls => CloseReason::Tls,
            ConnectFailure::Other => CloseReason::TransportError,
        };
        self.stream_lost(stream, reason);
    }

    /// The server closed `stream`, or reading from it failed. Bytes already given stay
    /// valid: what they carry is still delivered.
    pub fn closed(&mut self, stream: Stream, now: Instant) {
        self.tick(now);
        let i = stream.index();
        if self.slots[i].tcp == Tcp::Down {
            return;
        }
        self.slots[i].tcp = Tcp::Down;
        match stream {
            Stream::Poll if self.body.is_some() => {}
            Stream::Poll | Stream::Post if !self.slots[i].busy => {}
            Stream::WebSocket if matches!(self.ws, WsRx::Frames(_)) && self.on_ws => {
                // Frames still buffered are delivered first; see `poll_event`.
                self.slots[i].eof = true;
            }
            _ => self.stream_lost(stream, CloseReason::TransportClose),
        }
    }

    /// A stream the session needed is gone.
    fn stream_lost(&mut self, stream: Stream, reason: CloseReason) {
        if stream == Stream::WebSocket && !self.on_ws {
            // A failed probe: the session stays on polling.
            self.upgrade_failed();
            return;
        }
        self.lose(reason);
    }

    /// The probing WebSocket broke: the upgrade is off and the WebSocket closed, whatever
    /// state the upgrade was in.
    fn probe_lost(&mut self) -> Step {
        self.upgrade_failed();
        self.drop_stream(Stream::WebSocket.index());
        Step::Next
    }

    fn upgrade_failed(&mut self) {
        if matches!(
            self.upgrade,
            Upgrade::Probing | Upgrade::ProbeSent | Upgrade::Paused
        ) {
            self.upgrade = Upgrade::Failed;
            self.drop_stream(Stream::WebSocket.index());
        }
    }

    /// Free space to read `stream`'s bytes into; report them with
    /// [`Client::rx_commit`]. Empty while the buffer is full of data the application has
    /// not taken yet ([`Client::poll_event`] frees it): stop reading that stream until then.
    pub fn rx_buf(&mut self, stream: Stream) -> &mut [u8] {
        if !POLLING && stream != Stream::WebSocket {
            return &mut [];
        }
        match stream {
            Stream::Poll if self.body.is_none() => self.get.spare(),
            Stream::Poll => &mut [],
            Stream::Post => self.post.spare(),
            Stream::WebSocket => match &mut self.ws {
                WsRx::Head(rx) => rx.spare(),
                WsRx::Frames(d) => d.spare(),
            },
        }
    }

    /// `n` bytes were read into [`Client::rx_buf`] of `stream`.
    pub fn rx_commit(&mut self, stream: Stream, n: usize, now: Instant) {
        self.tick(now);
        if n == 0
            || self.slots[stream.index()].tcp != Tcp::Up
            || (!POLLING && stream != Stream::WebSocket)
        {
            return;
        }
        match stream {
            Stream::Poll => {
                self.get.len = (self.get.len + n).min(self.get.buf.len());
                self.on_get_bytes();
            }
            Stream::Post => {
                self.post.len = (self.post.len + n).min(self.post.buf.len());
                self.on_post_bytes();
            }
            Stream::WebSocket => match &mut self.ws {
                WsRx::Head(rx) => {
                    rx.len = (rx.len + n).min(rx.buf.len());
                    self.on_ws_head();
                }
                WsRx::Frames(d) => d.commit(n),
            },
        }
    }

    /// Copies bytes read from `stream` in; returns how many were taken (fewer when the
    /// buffer is full: keep the rest and offer it again after [`Client::poll_event`]).
    pub fn recv(&mut self, stream: Stream, bytes: &[u8], now: Instant) -> usize {
        let spare = self.rx_buf(stream);
        let n = spare.len().min(bytes.len());
        spare[..n].copy_from_slice(&bytes[..n]);
        self.rx_commit(stream, n, now);
        n
    }

    /// A GET response may be complete.
    fn on_get_bytes(&mut self) {
        if self.body.is_some() {
            return;
        }
        match parse_head(&mut self.get) {
            Ok(Some(h)) if h.status == 200 => {
                self.body = Some(h.body);
                if !h.keep_alive {
                    self.slots[0].close = self.slots[0].tcp != Tcp::Down;
                }
            }
            Ok(Some(h)) => {
                let code = error_code(self.get.buf.get(h.body.0..h.body.1).unwrap_or_default());
                self.lose(CloseReason::Http {
                    status: h.status,
                    code,
                });
            }
            Ok(None) if self.get.len == self.get.buf.len() => self.lose(CloseReason::TooLarge),
            Ok(None) => {}
            Err(reason) => self.lose(reason),
        }
    }

    /// A POST response may be complete.
    fn on_post_bytes(&mut self) {
        match parse_head(&mut self.post) {
            Ok(Some(h)) if h.status == 200 => {
                let s = &mut self.slots[1];
                s.busy = false;
                s.idle_since = self.now;
                if !h.keep_alive {
                    s.close = s.tcp != Tcp::Down;
                }
                let rest = self.post.len - h.body.1;
                self.post.buf.copy_within(h.body.1..self.post.len, 0);
                self.post.len = rest;
                if self.closing == Closing::Sent {
                    self.finish_close();
                }
            }
            Ok(Some(h)) => {
                let code = error_code(self.post.buf.get(h.body.0..h.body.1).unwrap_or_default());
                self.lose(CloseReason::Http {
                    status: h.status,
                    code,
                });
            }
            Ok(None) if self.post.len == self.post.buf.len() => {
                self.lose(CloseReason::TooLarge);
            }
            Ok(None) => {}
            Err(reason) => self.lose(reason),
        }
    }

    /// The WebSocket handshake response may be complete.
    fn on_ws_head(&mut self) {
        let WsRx::Head(rx) = &self.ws else {
            return;
        };
        let h = match head::parse(&rx.buf[..rx.len]) {
            Ok(Some(h)) => h,
            Ok(None) if rx.len < rx.buf.len() => return,
            Ok(None) => return self.ws_failed(CloseReason::TooLarge),
            Err(reason) => return self.ws_failed(reason),
        };
        if h.status != 101 {
            let body = h
                .content_length
                .and_then(|n| rx.buf.get(h.len..h.len + n).filter(|_| h.len + n <= rx.len));
            let code = body.and_then(error_code);
            let status = h.status;
            return self.ws_failed(CloseReason::Http { status, code });
        }
        let accepted = h.accept.is_some_and(|a| a == self.key.accept().as_bytes());
        if !(h.upgrade && h.connection_upgrade && accepted) {
            return self.ws_failed(CloseReason::ParseError);
        }
        let (head, len) = (h.len, rx.len);
        let buf = self.ws.take().into_buf();
        buf.copy_within(head..len, 0);
        let max = buf.len();
        let mut dec = MessageDecoder::new(buf, Role::Client, max);
        dec.commit(len - head);
        // Over an upgrade, `2probe` is written by the next `poll_io`.
        self.ws = WsRx::Frames(dec);
    }

    fn ws_failed(&mut self, reason: CloseReason) {
        if self.on_ws {
            self.lose(reason);
        } else {
            self.upgrade_failed();
        }
    }

    /// The size of buffer [`Client::poll_event`] needs: any event fits in it.
    pub fn event_buf_len(&self) -> usize {
        self.cfg.rx_capacity.max(self.cfg.binary_capacity)
    }

    /// The next event, its bytes copied into `buf`; `Ok(None)` when there is none.
    ///
    /// # Errors
    /// [`BufferTooSmall`] when `buf` is shorter than [`Client::event_buf_len`]; nothing
    /// is taken then.
    pub fn poll_event<'b>(
        &mut self,
        buf: &'b mut [u8],
    ) -> Result<Option<Event<'b>>, BufferTooSmall> {
        let required = self.event_buf_len();
        if buf.len() < required {
            return Err(BufferTooSmall { required });
        }
        loop {
            if let Some(e) = self.poll_notice() {
                return Ok(Some(e));
            }
            if self.asm.ready {
                self.asm.ready = false;
                let asm = core::mem::take(&mut self.asm.buf);
                let (text, len, count) = (self.asm.text, self.asm.len, self.asm.count);
                // Validated when it arrived (`on_sio`); parsed again for its views.
                let step = match sio::Packet::parse_with(&asm[..text], self.sio_config()) {
                    Ok(p) => self.deliver(&p, &asm[text..len], count, buf),
                    Err(_) => self.fail(CloseReason::ParseError),
                };
                self.asm.buf = asm;
                self.asm.len = 0;
                match step {
                    Step::Ready(r) => return Ok(Some(r.build(buf))),
                    Step::Next => continue,
                }
            }
            let epoch = self.epoch;
            let step = match self.next_ws(buf) {
                Some(s) => s,
                None => match self.next_polling(buf) {
                    Some(s) => s,
                    None => {
                        if self.slots[2].eof && self.epoch == epoch {
                            self.slots[2].eof = false;
                            self.lose(CloseReason::TransportClose);
                            continue;
                        }
                        return Ok(None);
                    }
                },
            };
            if let Step::Ready(r) = step {
                return Ok(Some(r.build(buf)));
            }
        }
    }

    /// Reports a pending notice: namespace disconnects, failed acks, then the rest.
    fn poll_notice<'b>(&mut self) -> Option<Event<'b>> {
        for i in 0..NS {
            if let Some(reason) = self.nss[i].notice.take() {
                self.release_if_done(i);
                return Some(Event::Disconnect {
                    namespace: NamespaceId(i as u8),
                    reason,
                });
            }
        }
        for k in 0..ACKS {
            let a = self.acks[k];
            if a.id != 0
                && let Some(reason) = a.failed
            {
                self.acks[k] = super::AckSlot::FREE;
                self.outbox.clear_ack(k as u8);
                self.release_if_done(usize::from(a.ns));
                return Some(Event::AckFailed {
                    namespace: NamespaceId(a.ns),
                    id: AckId(a.id - 1),
                    reason,
                });
            }
        }
        let first = self.notices[0].take()?;
        self.notices.rotate_left(1);
        Some(match first {
            Notice::Upgrade => Event::Upgrade,
            Notice::Closed(reason) => Event::Closed { reason },
            Notice::Reconnecting(attempt, delay_ms) => Event::Reconnecting { attempt, delay_ms },
            Notice::ReconnectFailed(attempts) => Event::ReconnectFailed { attempts },
        })
    }

    /// One WebSocket message, if one is buffered.
    fn next_ws(&mut self, out: &mut [u8]) -> Option<Step> {
        if !matches!(self.ws, WsRx::Frames(_)) {
            return None;
        }
        let WsRx::Frames(mut dec) = self.ws.take() else {
            return None;
        };
        let (epoch, ws_epoch) = (self.epoch, self.ws_epoch);
        let step = match dec.poll() {
            Ok(None) => None,
            Ok(Some(item)) => Some(match item {
                Incoming::Text(t) => match Packet::decode_ws_str(t) {
                    Ok(p) => self.on_packet(p, out),
                    Err(_) => self.fail(CloseReason::ParseError),
                },
                // A v3 binary frame starts with the message type, 4.
                Incoming::Binary(b) if self.v3() => match b.split_first() {
                    Some((&crate::engine::v3::BINARY_MESSAGE_TYPE, data)) => {
                        self.on_packet(Packet::Binary(data), out)
                    }
                    _ => self.fail(CloseReason::ParseError),
                },
                // With the msgpack parser, a whole packet.
                #[cfg(feature = "msgpack-parser")]
                Incoming::Binary(b) if self.msgpack() => self.on_msgpack_message(b),
                Incoming::Binary(b) => self.on_packet(Packet::Binary(b), out),
                Incoming::Ping(p) => {
                    let n = p.len().min(self.ws_ping.len());
                    self.ws_ping[..n].copy_from_slice(&p[..n]);
                    self.ws_ping_len = Some(n as u8);
                    Step::Next
                }
                Incoming::Pong(_) => Step::Next,
                Incoming::Close(_) => {
                    if self.on_ws {
                        self.fail(CloseReason::ServerClose)
                    } else {
                        self.probe_lost()
                    }
                }
            }),
            Err(e) => {
                let reason = if matches!(e, crate::ws::MessageError::TooBig) {
                    CloseReason::TooLarge
                } else {
                    CloseReason::ParseError
                };
                Some(if self.on_ws {
                    self.fail(reason)
                } else {
                    self.probe_lost()
                })
            }
        };
        if self.epoch == epoch && self.ws_epoch == ws_epoch {
            self.ws = WsRx::Frames(dec);
        } else {
            // The session or the WebSocket was reset meanwhile: keep the buffer, not the
            // decoder.
            self.ws = WsRx::Head(Rx {
                buf: dec.into_inner(),
                len: 0,
            });
        }
        step
    }

    /// One record of the GET body being processed, if any.
    fn next_polling(&mut self, out: &mut [u8]) -> Option<Step> {
        if !POLLING {
            return None;
        }
        let (pos, end) = self.body?;
        if pos >= end {
            // The body is done: keep what followed it and poll again.
            let rest = self.get.len.saturating_sub(end);
            self.get.buf.copy_within(end..self.get.len, 0);
            self.get.len = rest;
            self.body = None;
            let s = &mut self.slots[0];
            s.busy = false;
            s.idle_since = self.now;
            if s.tcp == Tcp::Up && rest > 0 {
                self.on_get_bytes();
            }
            return Some(Step::Next);
        }
        let buf = core::mem::take(&mut self.get.buf);
        let body = &buf[pos..end];
        let epoch = self.epoch;
        #[cfg(feature = "eio3")]
        if self.v3() {
            // Length-prefixed records; binary as `b4<base64>`, or raw in the binary framing.
            let mut records = crate::engine::v3::V3Payload::new(body);
            let record = records.next();
            self.body = Some((pos + records.offset(), end));
            let step = match record {
                None => {
                    // Only empty records were left.
                    self.body = Some((end, end));
                    Step::Next
                }
                Some(Ok(crate::engine::v3::V3Record::Text(t))) => {
                    self.on_packet(Packet::Text(t), out)
                }
                Some(Ok(crate::engine::v3::V3Record::Base64(b))) => self.on_base64(b),
                Some(Ok(crate::engine::v3::V3Record::Binary(b))) => {
                    self.on_packet(Packet::Binary(b), out)
                }
                Some(Err(_)) => self.fail(CloseReason::ParseError),
            };
            self.get.buf = buf;
            if self.epoch != epoch {
                self.get.len = 0;
                self.body = None;
            }
            return Some(step);
        }
        let (record, next) = match body.iter().position(|&b| b == RECORD_SEPARATOR) {
            Some(i) => (&body[..i], pos + i + 1),
            None => (body, end),
        };
        self.body = Some((next, end));
        #[cfg_attr(not(feature = "msgpack-parser"), allow(unused_labels))]
        let step = 'step: {
            // With the msgpack parser a binary record is a whole packet, its base64 decoded
            // in place.
            #[cfg(feature = "msgpack-parser")]
            if self.msgpack() && record.first() == Some(&b'b') {
                let n = record.len();
                let base64 = buf.get_mut(pos + 1..pos + n).unwrap_or_default();
                let step = match crate::base64::decode_in_place(base64) {
                    Some(m) => self.on_msgpack_message(base64.get(..m).unwrap_or_default()),
                    None => self.fail(CloseReason::ParseError),
                };
                break 'step step;
            }
            match Record::decode(record) {
                Ok(Record::Text(t)) => self.on_packet(Packet::Text(t), out),
                Ok(Record::Binary(b)) => {
                    // Decoded straight into the reassembly buffer.
                    self.on_base64(b)
                }
                Err(_) => self.fail(CloseReason::ParseError),
            }
        };
        self.get.buf = buf;
        if self.epoch != epoch {
            self.get.len = 0;
            self.body = None;
        }
        Some(step)
    }

    fn fail(&mut self, reason: CloseReason) -> Step {
        self.lose(reason);
        Step::Next
    }

    /// A binary message of the msgpack parser: one whole packet.
    #[cfg(feature = "msgpack-parser")]
    fn on_msgpack_message(&mut self, msg: &[u8]) -> Step {
        match self.on_msgpack(msg) {
            Ok(()) => Step::Next,
            Err(reason) => self.fail(reason),
        }
    }

    /// A base64 attachment from a polling body.
    fn on_base64(&mut self, b: crate::engine::Base64Data<'_>) -> Step {
        if self.asm.left == 0 {
            return self.fail(CloseReason::ParseError);
        }
        let at = self.asm.len;
        let n = b.decoded_len();
        let Some(dst) = self.asm.buf.get_mut(at + 4..at + 4 + n) else {
            return self.fail(CloseReason::TooLarge);
        };
        if b.decode_into(dst).is_err() {
            return self.fail(CloseReason::ParseError);
        }
        self.asm.buf[at..at + 4].copy_from_slice(&(n as u32).to_le_bytes());
        self.attached(at + 4 + n)
    }

    fn attached(&mut self, len: usize) -> Step {
        self.asm.len = len;
        self.asm.left -= 1;
        if self.asm.left == 0 {
            self.asm.ready = true;
        }
        Step::Next
    }

    /// One Engine.IO packet.
    fn on_packet(&mut self, p: Packet<'_>, out: &mut [u8]) -> Step {
        let t = match p {
            Packet::Binary(b) => {
                if self.asm.left == 0 {
                    return self.fail(CloseReason::ParseError);
                }
                let at = self.asm.len;
                let Some(dst) = self.asm.buf.get_mut(at..at + 4 + b.len()) else {
                    return self.fail(CloseReason::TooLarge);
                };
                dst[..4].copy_from_slice(&(b.len() as u32).to_le_bytes());
                dst[4..].copy_from_slice(b);
                return self.attached(at + 4 + b.len());
            }
            Packet::Text(t) => t,
        };
        let data = t.data().as_bytes();
        #[cfg(feature = "eio3")]
        if self.v3() && self.phase == Phase::Open {
            // A v3 client hears from the server within a ping interval and timeout, or
            // the session is gone; a pong (not the probe's) schedules the next ping.
            self.deadline = self
                .now
                .plus_millis(u64::from(self.ping_interval) + u64::from(self.ping_timeout));
            match t.packet_type() {
                PacketType::Pong if data != b"probe" => {
                    self.ping_at = self.now.plus_millis(u64::from(self.ping_interval));
                    return Step::Next;
                }
                PacketType::Ping => return self.fail(CloseReason::ParseError),
                _ => {}
            }
        }
        match t.packet_type() {
            PacketType::Open => self.on_open(data),
            PacketType::Close => self.fail(CloseReason::ServerClose),
            PacketType::Ping if self.phase == Phase::Open => {
                self.pongs = self.pongs.saturating_add(1);
                self.deadline = self
                    .now
                    .plus_millis(u64::from(self.ping_interval) + u64::from(self.ping_timeout));
                Step::Next
            }
            PacketType::Pong if data == b"probe" && self.upgrade == Upgrade::ProbeSent => {
                self.upgrade = Upgrade::Paused;
                Step::Next
            }
            PacketType::Message if self.phase == Phase::Open => self.on_sio(data, out),
            PacketType::Noop | PacketType::Pong | PacketType::Upgrade => Step::Next,
            _ => self.fail(CloseReason::ParseError),
        }
    }

    fn on_open(&mut self, data: &[u8]) -> Step {
        if self.phase != Phase::Opening {
            return self.fail(CloseReason::ParseError);
        }
        let Ok(open) = OpenPacket::decode_json(data) else {
            return self.fail(CloseReason::ParseError);
        };
        let sid = open.sid.as_bytes();
        if sid.is_empty() || sid.len() > self.sid.len() {
            return self.fail(CloseReason::ParseError);
        }
        self.sid[..sid.len()].copy_from_slice(sid);
        self.sid_len = sid.len();
        self.ping_interval = open.ping_interval;
        self.ping_timeout = open.ping_timeout;
        self.max_payload = open.max_payload.unwrap_or(1_000_000);
        self.phase = Phase::Open;
        self.deadline = self
            .now
            .plus_millis(u64::from(open.ping_interval) + u64::from(open.ping_timeout));
        #[cfg(feature = "eio3")]
        {
            self.ping_at = self.now.plus_millis(u64::from(open.ping_interval));
        }
        if POLLING
            && !self.on_ws
            && open.upgrade_websocket
            && self.cfg.transports == super::Transports::PollingThenWebSocket
        {
            self.upgrade = Upgrade::Probing;
        }
        Step::Next
    }

    /// A Socket.IO packet (the Engine.IO message's data).
    fn on_sio(&mut self, data: &[u8], out: &mut [u8]) -> Step {
        // The msgpack parser's packets are binary.
        if self.asm.left > 0 || self.msgpack() {
            return self.fail(CloseReason::ParseError);
        }
        let Ok(p) = sio::Packet::parse_with(data, self.sio_config()) else {
            return self.fail(CloseReason::ParseError);
        };
        if let Some(n) = p.attachments().filter(|&n| n > 0) {
            let Some(dst) = self.asm.buf.get_mut(..data.len()) else {
                return self.fail(CloseReason::TooLarge);
            };
            dst.copy_from_slice(data);
            self.asm.text = data.len();
            self.asm.len = data.len();
            self.asm.left = n;
            self.asm.count = n;
            return Step::Next;
        }
        self.deliver(&p, &[], 0, out)
    }

    /// How Socket.IO packets are read: protocol v4 for a v3 client.
    const fn sio_config(&self) -> &'static sio::Config {
        if self.v3() {
            &sio::Config::CLIENT_V4
        } else {
            &sio::Config::CLIENT
        }
    }

    /// Whether events are taken for namespace `i` before it is joined: the missed events
    /// a server replays before it answers a CONNECT that offered a session.
    fn replaying_events(&self, i: usize) -> bool {
        #[cfg(feature = "recovery")]
        return self.replaying(i);
        #[cfg(not(feature = "recovery"))]
        {
            let _ = i;
            false
        }
    }

    /// Turns a whole Socket.IO packet and its attachments into an event.
    fn deliver(&mut self, p: &sio::Packet<'_>, atts: &[u8], count: usize, out: &mut [u8]) -> Step {
        let Some(i) = self.find_ns(p.namespace()) else {
            // Not a namespace the application asked for: ignored, like the reference.
            return Step::Next;
        };
        let ns = NamespaceId(i as u8);
        let state = self.nss[i].state;
        match p.packet_type() {
            #[cfg(feature = "eio3")]
            sio::PacketType::Connect if state == NsState::Joining && self.v3() => {
                // No payload: the id is the one socket.io 2.x gives.
                let sid = self.sid.get(..self.sid_len).unwrap_or_default();
                let n = super::v3::socket_id(p.namespace(), sid, out);
                self.nss[i].state = NsState::Connected;
                self.nss[i].due = false;
                Step::Ready(Ready::Connect {
                    ns,
                    sid: n,
                    recovered: false,
                })
            }
            sio::PacketType::Connect if state == NsState::Joining => {
                let sid = member(p.data(), "sid").and_then(|v| json::JsonStr::parse(v).ok());
                let Some(sid) = sid else {
                    return self.fail(CloseReason::ParseError);
                };
                let n = sid.unescape_into(out).unwrap_or(0);
                #[cfg(feature = "recovery")]
                let recovered = self.on_connect_answer(i, member(p.data(), "pid"));
                #[cfg(not(feature = "recovery"))]
                let recovered = false;
                self.nss[i].state = NsState::Connected;
                self.nss[i].due = false;
                Step::Ready(Ready::Connect {
                    ns,
                    sid: n,
                    recovered,
                })
            }
            sio::PacketType::ConnectError if state == NsState::Joining => {
                self.nss[i].state = NsState::Parked;
                self.nss[i].due = false;
                let message = p.error_message();
                let data = p.error_data().unwrap_or_default();
                let m = message.map_or(0, |m| m.unescape_into(&mut *out).unwrap_or(0));
                let (_, d, _) = copy_rest(out, m, data, &[]);
                Step::Ready(Ready::ConnectError {
                    ns,
                    message: m,
                    data: p.error_data().map(|_| d),
                })
            }
            sio::PacketType::Disconnect if state == NsState::Connected => {
                self.outbox.remove_ns(i as u8);
                self.leave(i, DisconnectReason::ServerDisconnect, false);
                Step::Next
            }
            sio::PacketType::Event | sio::PacketType::BinaryEvent
                if state == NsState::Connected || self.replaying_events(i) =>
            {
                let Some(name) = p.event_name() else {
                    return self.fail(CloseReason::ParseError);
                };
                #[cfg_attr(not(feature = "recovery"), expect(unused_mut))]
                let mut args = p.args();
                // With a session to resume, an event stored for a replay ends with its
                // offset (a short string): kept, and not handed to the application.
                // Events that ask for an ack are never stored, so never carry one.
                #[cfg(feature = "recovery")]
                if p.ack_id().is_none()
                    && self.resume[i].is_some()
                    && let Some((keep, offset)) = super::recovery::split_offset(args)
                {
                    args = args.get(..keep).unwrap_or_default();
                    self.resume[i].set_offset(offset);
                }
                let (nlen, args, atts) = match name {
                    sio::EventName::Str(s) => {
                        let n = s.unescape_into(&mut *out).unwrap_or(0);
                        copy_rest(out, n, args, atts)
                    }
                    sio::EventName::Number(raw) => {
                        out[..raw.len()].copy_from_slice(raw);
                        copy_rest(out, raw.len(), args, atts)
                    }
                };
                Step::Ready(Ready::Message {
                    ns,
                    name: nlen,
                    args,
                    atts,
                    count,
                    ack: p.ack_id().map(AckId),
                })
            }
            sio::PacketType::Ack | sio::PacketType::BinaryAck => {
                let Some(id) = p.ack_id() else {
                    return Step::Next;
                };
                let Some(slot) = self
                    .acks
                    .iter()
                    .position(|a| a.id == id + 1 && usize::from(a.ns) == i)
                else {
                    return Step::Next;
                };
                if self.acks[slot].failed.is_some() {
                    return Step::Next;
                }
                self.acks[slot] = super::AckSlot::FREE;
                let (_, args, atts) = copy_rest(out, 0, p.args(), atts);
                Step::Ready(Ready::Ack {
                    ns,
                    id: AckId(id),
                    args,
                    atts,
                    count,
                })
            }
            _ => Step::Next,
        }
    }
}

/// The raw value of member `key` of a JSON object the packet parser validated (the first
/// one so named).
fn member<'d>(object: Option<&'d [u8]>, key: &str) -> Option<&'d [u8]> {
    let o = json::Object::from_validated(object?);
    o.members().find(|(k, _)| k.eq_str(key)).map(|(_, v)| v)
}

/// Copies `args` then `atts` into `out` after `at` bytes; returns `(at, args, atts)` lengths.
/// `out` holds at least the received packet, so both fit.
fn copy_rest(out: &mut [u8], at: usize, args: &[u8], atts: &[u8]) -> (usize, usize, usize) {
    let a = args.len().min(out.len().saturating_sub(at));
    out[at..at + a].copy_from_slice(&args[..a]);
    let b = atts.len().min(out.len().saturating_sub(at + a));
    out[at + a..at + a + b].copy_from_slice(&atts[..b]);
    (at, a, b)
}
