//! Stream input: HTTP requests (Engine.IO or the app's), POST bodies, WebSocket frames.

use super::engine::{Bin, Pkt};
use super::event::{Kind, Record};
use super::pool::stat;
use super::session::{State as SessState, Transport};
use super::storage::NONE;
use super::stream::{Fixed, State, Timer, Waiting};
use super::{CloseReason, CommandError, Resource, Server, StreamId};
use crate::engine::{Payload, Record as PollRecord, TextPacket};
use crate::http::{self, Connection, EMPTY_HEADER, Header, Limits, Method, Request, ResponseHead};
use crate::ws::{self, ClientHandshake, CloseCode, Incoming, Peeked};
use crate::{Instant, Status};

/// Where the end of an HTTP head (`\n\n` or `\n\r\n`) is in `input`, searching from
/// `from`.
fn head_end(input: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(i) = input.get(at..)?.iter().position(|&b| b == b'\n') {
        let nl = at + i;
        match (input.get(nl + 1), input.get(nl + 2)) {
            (Some(b'\n'), _) => return Some(nl + 2),
            (Some(b'\r'), Some(b'\n')) => return Some(nl + 3),
            _ => at = nl + 1,
        }
    }
    None
}

/// A byte that no request head holds anywhere: a control character other than tab, CR
/// and LF.
fn never_in_head(b: u8) -> bool {
    matches!(b, 0..=8 | 0x0B | 0x0C | 0x0E..=0x1F | 0x7F)
}

/// A request's whole length (head and `Content-Length` body), if it is all in `input`.
struct Framing {
    head: usize,
    end: usize,
    complete: bool,
}

impl Framing {
    fn of(req: &Request<'_, '_>, input: &[u8]) -> Self {
        let head = req.head_len();
        let len = req.content_length().unwrap_or(0);
        let end = usize::try_from(len)
            .ok()
            .and_then(|n| head.checked_add(n))
            .unwrap_or(usize::MAX);
        Self {
            head,
            end,
            complete: input.len() >= end,
        }
    }

    /// Bytes to consume when the request is answered without reading its body: all of
    /// it when it is here, else everything (the connection then closes).
    fn skip(&self, input: &[u8]) -> usize {
        if self.complete { self.end } else { input.len() }
    }
}

impl Server<'_> {
    /// Offers the bytes received on `stream` and not yet consumed (earlier leftovers
    /// first, new bytes after them); returns how many were consumed from the front. The
    /// rest must be offered again, with more bytes or after the outputs were drained.
    ///
    /// WebSocket payloads are unmasked in place, so the bytes not consumed may have
    /// changed; offer them as they are now.
    pub fn feed(
        &mut self,
        stream: StreamId,
        now: Instant,
        input: &mut [u8],
    ) -> Result<usize, CommandError> {
        let s = self.transport.index(stream)?;
        // Expire what is due before handling the input (PROTOCOL.md A.9).
        self.handle_timeout(now);
        let mut consumed = 0usize;
        while consumed < input.len() {
            let rest = input.get_mut(consumed..).unwrap_or_default();
            let n = match self.transport.streams[s].0.state {
                State::Http => self.http_step(s, rest),
                State::Post => self.post_step(s, rest),
                State::Ws | State::Probe => self.ws_step(s, rest),
                State::Done => rest.len(),
                State::App | State::Get | State::Free => 0,
            };
            if n == 0 {
                break;
            }
            consumed += n;
        }
        Ok(consumed)
    }

    /// The peer finished sending on `stream` (the read returned 0). What is owed is still
    /// written; the stream then closes (a [`Transmit`](super::Transmit) with `close`).
    pub fn feed_eof(&mut self, stream: StreamId, now: Instant) -> Result<(), CommandError> {
        let s = self.input_ended(stream, now)?;
        let st = &mut self.transport.streams[s].0;
        st.close_after = true;
        if st.state == State::Ws || st.state == State::Probe {
            self.transport.set_state(s, State::Done);
        }
        self.transport.txq_push(s);
        Ok(())
    }

    /// The connection of `stream` is gone (reset, write error): nothing more is written
    /// and the id is stale at once.
    pub fn reset(&mut self, stream: StreamId, now: Instant) -> Result<(), CommandError> {
        let s = self.input_ended(stream, now)?;
        self.transport.drop_output(s, &mut self.pool);
        self.transport.set_state(s, State::Done);
        let st = &mut self.transport.streams[s].0;
        if st.in_txq {
            // Freed when the transmit queue reaches it, without a report.
            st.silent = true;
        } else {
            self.transport.free_stream(s, &mut self.pool);
        }
        Ok(())
    }

    /// No more input on `stream`: a session waiting on it (long-poll, POST, WebSocket)
    /// learns its transport closed.
    fn input_ended(&mut self, stream: StreamId, now: Instant) -> Result<u32, CommandError> {
        let s = self.transport.index(stream)?;
        self.handle_timeout(now);
        self.transport.streams[s].0.eof = true;
        if matches!(
            self.transport.streams[s].0.state,
            State::Get | State::Post | State::Ws | State::Probe
        ) {
            self.stream_gone(s, CloseReason::TransportClose);
        }
        Ok(s)
    }

    /// Reads the next request on a stream that reads requests, and keeps its deadline: a
    /// request taken starts the next head's deadline, bytes that are not a whole request
    /// yet leave it running.
    fn http_step(&mut self, s: u32, input: &mut [u8]) -> usize {
        let n = self.http_request(s, input);
        let st = self.transport.streams[s].0;
        if n > 0 {
            self.transport.streams[s].0.waiting = Waiting::Nothing;
            if st.state == State::Http && !st.close_after {
                self.transport.arm(s, Timer::Head);
            }
        }
        n
    }

    /// A request's head is in but its body is still coming: the body deadline runs.
    fn await_body(&mut self, s: u32) {
        self.transport.streams[s].0.waiting = Waiting::Partial;
        if self.transport.streams[s].0.timer == Timer::Head {
            self.transport.arm(s, Timer::Body);
        }
    }

    fn http_request(&mut self, s: u32, input: &mut [u8]) -> usize {
        let st = self.transport.streams[s].0;
        if st.close_after {
            return input.len();
        }
        if st.tx_busy() {
            // One response at a time: pipelined requests wait.
            return 0;
        }
        let max_head = self.config.max_http_head as usize;
        let mut headers = [EMPTY_HEADER; 32];
        let limits = Limits {
            max_head,
            max_body: u64::MAX,
        };
        let scan = st.head_scan as usize;
        if head_end(input, scan).is_none() {
            if input.len() >= max_head {
                self.transport.respond_fixed(s, Fixed::Status(431), true);
                return input.len();
            }
            // Refuse a head as soon as it cannot become valid: a byte no head may hold, or
            // (once a line is complete) what the parser refuses, instead of waiting for a
            // blank line that random bytes may never bring.
            let fresh = input.get(scan..).unwrap_or_default();
            let refused = if fresh.iter().any(|&b| never_in_head(b)) {
                Some(400)
            } else if fresh.contains(&b'\n') {
                http::parse_request(input, &mut headers, &limits)
                    .err()
                    .map(|e| e.status_code())
            } else {
                None
            };
            if let Some(status) = refused {
                self.transport.respond_fixed(s, Fixed::Status(status), true);
                return input.len();
            }
            let st = &mut self.transport.streams[s].0;
            st.head_scan = input.len().saturating_sub(2) as u32;
            if !input.is_empty() {
                st.waiting = Waiting::Partial;
            }
            return 0;
        }
        self.transport.streams[s].0.head_scan = 0;
        let req = match http::parse_request(input, &mut headers, &limits) {
            Err(e) => {
                self.transport
                    .respond_fixed(s, Fixed::Status(e.status_code()), true);
                return input.len();
            }
            Ok(Status::Partial) => return 0,
            Ok(Status::Complete(req)) => req,
        };
        self.transport.streams[s].0.keep_alive = req.keep_alive();
        let path = req.path();
        match self.config.endpoints.iter().position(|e| e.path == path) {
            Some(ep) => self.engine_request(s, ep as u8, &req, input),
            None => self.app_request(s, &req, input),
        }
    }

    fn app_request(&mut self, s: u32, req: &Request<'_, '_>, input: &[u8]) -> usize {
        let f = Framing::of(req, input);
        if req.content_length().unwrap_or(0) > u64::from(self.config.max_http_body) {
            self.transport.respond_fixed(s, Fixed::Status(413), true);
            return f.skip(input);
        }
        if !f.complete {
            self.await_body(s);
            return 0;
        }
        if !self.events.has_room(1) || !self.pool.has_room(f.end) {
            self.transport.streams[s].0.waiting = Waiting::Held;
            return 0;
        }
        let (head, body) = input.split_at(f.head);
        let body = body.get(..f.end - f.head).unwrap_or_default();
        let Some(msg) = self.pool.msg_from(false, &[head, body]) else {
            return 0;
        };
        let mut r = Record::new(Kind::Http);
        r.id = s;
        r.era = self.transport.streams[s].0.era;
        r.msg = msg;
        r.len1 = head.len() as u32;
        r.len2 = body.len() as u32;
        self.push_event(r);
        self.transport.set_state(s, State::App);
        f.end
    }

    /// Answers an [`Event::Http`](super::Event::Http) request: `status`, the given headers,
    /// `Content-Length` and `Connection` (added by the server), and `body`.
    pub fn respond(
        &mut self,
        stream: StreamId,
        status: u16,
        headers: &[Header<'_>],
        body: &[u8],
    ) -> Result<(), CommandError> {
        let s = self.transport.index(stream)?;
        let st = self.transport.streams[s].0;
        if st.state != State::App {
            return Err(CommandError::WrongState);
        }
        let close = !st.keep_alive || st.eof;
        let mut head = [0u8; 4096];
        let n = ResponseHead::new(status)
            .headers(headers)
            .connection(if close {
                Connection::Close
            } else {
                Connection::KeepAlive
            })
            .write_head(Some(body.len() as u64), &mut head)
            .map_err(|_| CommandError::InvalidResponse)?;
        let msg = self
            .pool
            .msg_from(false, &[&head[..n], body])
            .ok_or(CommandError::Full(Resource::Pool))?;
        if !self.transport.push_raw(s, msg, &mut self.pool) {
            return Err(CommandError::Full(Resource::Nodes));
        }
        self.transport.streams[s].0.close_after |= close;
        self.transport
            .set_state(s, if close { State::Done } else { State::Http });
        self.transport.txq_push(s);
        Ok(())
    }

    /// An Engine.IO error answer; returns the bytes to consume.
    fn engine_error(
        &mut self,
        s: u32,
        code: u8,
        upgrade: bool,
        f: &Framing,
        input: &[u8],
    ) -> usize {
        if upgrade {
            // Like the reference: a bare 400 and the connection closed.
            self.transport
                .respond_fixed(s, Fixed::UpgradeRefused(code), true);
            return input.len();
        }
        self.transport
            .respond_fixed(s, Fixed::EngineError(code), !f.complete);
        f.skip(input)
    }

    fn engine_request(&mut self, s: u32, ep: u8, req: &Request<'_, '_>, input: &[u8]) -> usize {
        let f = Framing::of(req, input);
        let q = req.engine_query();
        let upgrade = req.wants_websocket_upgrade();
        let websocket = match q.transport {
            Some("polling") if self.config.polling => false,
            Some("websocket") if self.config.websocket => true,
            _ => return self.engine_error(s, 0, upgrade, &f, input),
        };
        let method = req.method();
        if method == Method::Options {
            if self.config.cors_origin.is_some() {
                self.transport
                    .respond_fixed(s, Fixed::Preflight, !f.complete);
                return f.skip(input);
            }
            return self.engine_error(s, 3, upgrade, &f, input);
        }
        if let Some(sid) = q.sid {
            let Some(sess) = self.engine.lookup_sid(sid, ep) else {
                return self.engine_error(s, 1, upgrade, &f, input);
            };
            if websocket {
                if !upgrade {
                    return self.engine_error(s, 3, false, &f, input);
                }
                return self.upgrade_request(s, sess, req, &f, input);
            }
            if self.engine.sessions[sess].0.transport == Transport::WebSocket {
                // Polling after the upgrade.
                return self.engine_error(s, 3, upgrade, &f, input);
            }
            return match method {
                Method::Get => {
                    self.poll_get(s, sess);
                    f.skip(input)
                }
                Method::Post => self.poll_post(s, sess, req, &f, input),
                _ => self.engine_error(s, 3, upgrade, &f, input),
            };
        }
        if method != Method::Get {
            return self.engine_error(s, 2, upgrade, &f, input);
        }
        if q.eio != Some("4") {
            return self.engine_error(s, 5, upgrade, &f, input);
        }
        if !websocket {
            return match self.engine.open(
                ep,
                None,
                &self.config,
                &mut self.pool,
                &mut self.events,
                &mut self.rng,
            ) {
                Ok(sess) => {
                    self.poll_get(s, sess);
                    f.skip(input)
                }
                Err(_) => self.engine_error(s, 4, upgrade, &f, input),
            };
        }
        if !upgrade {
            return self.engine_error(s, 3, false, &f, input);
        }
        let Some(accept) = Self::ws_accept(req) else {
            return self.engine_error(s, 3, true, &f, input);
        };
        if !self.queue_101(s, &accept) {
            return self.engine_error(s, 4, true, &f, input);
        }
        match self.engine.open(
            ep,
            Some(s),
            &self.config,
            &mut self.pool,
            &mut self.events,
            &mut self.rng,
        ) {
            Ok(sess) => {
                self.transport.set_state(s, State::Ws);
                self.transport.streams[s].0.session = sess;
                self.engine.notify_output(sess, &mut self.transport);
                f.head
            }
            Err(_) => {
                self.transport.drop_output(s, &mut self.pool);
                self.engine_error(s, 4, true, &f, input)
            }
        }
    }

    fn ws_accept(req: &Request<'_, '_>) -> Option<ws::AcceptKey> {
        ClientHandshake {
            method: req.method().as_str().as_bytes(),
            upgrade: req.header("upgrade"),
            connection: req.header("connection"),
            version: req.sec_websocket_version(),
            key: req.sec_websocket_key(),
        }
        .validate()
        .ok()
    }

    /// Queues the `101 Switching Protocols` head on the stream.
    fn queue_101(&mut self, s: u32, accept: &ws::AcceptKey) -> bool {
        let mut head = [0u8; 256];
        let Ok(n) = ws::write_server_response(accept, &mut head) else {
            return false;
        };
        let Some(msg) = self.pool.msg_from(false, &[&head[..n]]) else {
            return false;
        };
        if !self.transport.push_raw(s, msg, &mut self.pool) {
            return false;
        }
        self.transport.txq_push(s);
        true
    }

    fn upgrade_request(
        &mut self,
        s: u32,
        sess: u32,
        req: &Request<'_, '_>,
        f: &Framing,
        input: &[u8],
    ) -> usize {
        let session = self.engine.sessions[sess].0;
        let Some(accept) = Self::ws_accept(req) else {
            return self.engine_error(s, 3, true, f, input);
        };
        if !self.queue_101(s, &accept) {
            return self.engine_error(s, 4, true, f, input);
        }
        if session.state != SessState::Open || session.transport != Transport::Polling {
            // Already upgrading or upgraded: this WebSocket is accepted and closed at once,
            // as the reference does, and the session is left alone.
            self.transport
                .close_ws(s, CloseCode::NORMAL, &mut self.pool);
            return f.head;
        }
        self.transport.set_state(s, State::Probe);
        self.transport.streams[s].0.session = sess;
        let slot = &mut self.engine.sessions[sess].0;
        slot.transport = Transport::Upgrading;
        slot.ws = s;
        slot.probed = false;
        slot.aux_at = self
            .now
            .saturating_add(u64::from(self.config.upgrade_timeout));
        self.engine.reschedule(sess);
        f.head
    }

    fn poll_get(&mut self, s: u32, sess: u32) {
        let session = self.engine.sessions[sess].0;
        if session.get != NONE {
            // A second concurrent GET: refused, and the session ends (PROTOCOL.md A.7).
            self.transport
                .respond_fixed(s, Fixed::EngineError(3), false);
            self.close_session(sess, CloseReason::TransportError, false);
            return;
        }
        if session.transport == Transport::Upgrading && session.probed {
            self.transport.respond_fixed(s, Fixed::Noop, false);
            return;
        }
        self.transport.set_state(s, State::Get);
        self.transport.streams[s].0.session = sess;
        self.engine.sessions[sess].0.get = s;
        if !session.queue.is_empty() {
            self.transport.txq_push(s);
        }
    }

    fn poll_post(
        &mut self,
        s: u32,
        sess: u32,
        req: &Request<'_, '_>,
        f: &Framing,
        input: &[u8],
    ) -> usize {
        let session = self.engine.sessions[sess].0;
        if session.state != SessState::Open {
            return self.engine_error(s, 1, false, f, input);
        }
        if req.content_length().unwrap_or(0) > u64::from(self.config.max_payload) {
            // Too big: refused, the session stays (the connection closes, its body unread).
            self.transport.respond_fixed(s, Fixed::Status(413), true);
            return f.skip(input);
        }
        let binary_type = req
            .content_type()
            .is_some_and(|t| t.eq_ignore_ascii_case(b"application/octet-stream"));
        if binary_type || session.post != NONE {
            // A v3-style binary body, or a second concurrent POST: the session ends.
            let n = self.engine_error(s, 3, false, f, input);
            self.close_session(sess, CloseReason::TransportError, false);
            return n;
        }
        if !f.complete {
            self.await_body(s);
            return 0;
        }
        self.transport.set_state(s, State::Post);
        let st = &mut self.transport.streams[s].0;
        st.session = sess;
        st.post_at = f.head as u32;
        st.post_len = (f.end - f.head) as u32;
        st.post_done = 0;
        self.engine.sessions[sess].0.post = s;
        self.post_step(s, input)
    }

    /// Handles the packets of a POST body, as far as there is room; answers it when done.
    fn post_step(&mut self, s: u32, input: &[u8]) -> usize {
        let st = self.transport.streams[s].0;
        let sess = st.session;
        if self.engine.sessions.get(sess).map(|x| x.0.post) != Some(s) {
            // The session is no longer this POST's (it ended meanwhile).
            self.transport.set_state(s, State::Http);
            self.transport.respond_fixed(s, Fixed::EngineError(3), true);
            return input.len();
        }
        let start = st.post_at as usize;
        let end = start + st.post_len as usize;
        let Some(body) = input.get(start..end) else {
            // The caller offered less than it did before.
            self.transport.respond_fixed(s, Fixed::Status(400), true);
            return input.len();
        };
        let mut done = st.post_done as usize;
        let mut failure = None;
        if body.is_empty() {
            failure = Some(CloseReason::ParseError);
        }
        while failure.is_none() && done < body.len() {
            if self.engine.sessions[sess].0.state != SessState::Open {
                break;
            }
            let rest = body.get(done..).unwrap_or_default();
            let mut records = Payload::new(rest);
            let Some(Ok(record)) = records.next() else {
                failure = Some(CloseReason::ParseError);
                break;
            };
            let step = records.offset().max(1);
            if rest.get(step - 1) == Some(&crate::engine::RECORD_SEPARATOR) && step == rest.len() {
                // A separator at the very end: an empty last record.
                failure = Some(CloseReason::ParseError);
                break;
            }
            let len = match record {
                PollRecord::Text(t) => t.encoded_len(),
                PollRecord::Binary(b) => b.decoded_len(),
            };
            if !self.room_for_packet(len) || !self.engine.room_for_input(sess, len, &self.config) {
                self.transport.streams[s].0.post_done = done as u32;
                return 0;
            }
            if self.transport.streams[s].0.session != sess {
                // Making room shed this very session: its POST was answered as it ended.
                return end;
            }
            let pkt = match record {
                PollRecord::Text(t) => Pkt::Text(t),
                PollRecord::Binary(b) => Pkt::Binary(Bin::Base64(b)),
            };
            if let Err(reason) = self.on_packet(sess, pkt) {
                failure = Some(reason);
                break;
            }
            done += step;
        }
        self.engine.sessions[sess].0.post = NONE;
        self.transport.set_state(s, State::Http);
        match failure {
            None => self.transport.respond_fixed(s, Fixed::Ok, false),
            Some(reason) => {
                if reason == CloseReason::ClientClose {
                    self.transport.respond_fixed(s, Fixed::Ok, false);
                } else {
                    self.transport
                        .respond_fixed(s, Fixed::EngineError(3), false);
                }
                self.close_session(sess, reason, false);
            }
        }
        end
    }

    /// Reads WebSocket messages while there is room for what they make.
    fn ws_step(&mut self, s: u32, input: &mut [u8]) -> usize {
        let mut consumed = 0usize;
        loop {
            let st = self.transport.streams[s].0;
            if !matches!(st.state, State::Ws | State::Probe) {
                return input.len();
            }
            let rest = input.get_mut(consumed..).unwrap_or_default();
            let mut scanner = st.scanner;
            let peeked = scanner.peek(rest);
            self.transport.streams[s].0.scanner = scanner;
            let len = match peeked {
                Err(e) => {
                    self.ws_failed(s, e.close_code());
                    return input.len();
                }
                Ok(None) => return consumed,
                Ok(Some(Peeked::Text { len } | Peeked::Binary { len })) => len,
                Ok(Some(_)) => ws::MAX_CONTROL_PAYLOAD,
            };
            if !self.room_for_packet(len)
                || !self.engine.room_for_input(st.session, len, &self.config)
            {
                return consumed;
            }
            if self.transport.streams[s].0.state != st.state {
                // Making room shed this very session, and closed its WebSocket.
                return input.len();
            }
            let taken = scanner.take(rest);
            self.transport.streams[s].0.scanner = scanner;
            match taken {
                Err(e) => {
                    self.ws_failed(s, e.close_code());
                    return input.len();
                }
                Ok(None) => return consumed,
                Ok(Some((item, n))) => {
                    self.ws_item(s, item);
                    consumed += n;
                }
            }
        }
    }

    fn ws_item(&mut self, s: u32, item: Incoming<'_>) {
        let st = self.transport.streams[s].0;
        let sess = st.session;
        let probing = st.state == State::Probe;
        let result = match item {
            Incoming::Text(t) if probing => {
                self.engine
                    .probe_message(sess, s, Some(t), &mut self.transport, &mut self.pool);
                Ok(())
            }
            Incoming::Binary(_) if probing => {
                self.engine
                    .probe_message(sess, s, None, &mut self.transport, &mut self.pool);
                Ok(())
            }
            Incoming::Text(t) => match TextPacket::decode_str(t) {
                Ok(p) => self.on_packet(sess, Pkt::Text(p)),
                Err(_) => Err(CloseReason::ParseError),
            },
            Incoming::Binary(b) => self.on_packet(sess, Pkt::Binary(Bin::Raw(b))),
            Incoming::Ping(p) => {
                let header = ws::short_frame_head(ws::OpCode::Pong, p.len() as u8);
                if let Some(msg) = self.pool.msg_from(false, &[&header, p])
                    && self.transport.push_raw(s, msg, &mut self.pool)
                {
                    self.transport.txq_push(s);
                }
                Ok(())
            }
            Incoming::Pong(_) => Ok(()),
            Incoming::Close(frame) => {
                // Answer the close handshake, then the stream is gone.
                let code = frame.map_or(CloseCode::NORMAL, |f| f.code);
                self.peer_closed(s, code);
                Ok(())
            }
        };
        if let Err(reason) = result {
            let code = match reason {
                CloseReason::ClientClose => CloseCode::NORMAL,
                _ => CloseCode::PROTOCOL_ERROR,
            };
            if self.engine.sessions[sess].0.ws == s {
                self.engine.sessions[sess].0.ws = NONE;
            }
            self.transport.close_ws(s, code, &mut self.pool);
            self.close_session(sess, reason, false);
        }
    }

    /// The client sent a close frame: echo it, close the stream, end what used it.
    fn peer_closed(&mut self, s: u32, code: CloseCode) {
        let echo = if code.is_sendable() {
            code
        } else {
            CloseCode::NORMAL
        };
        let frame = if (1000..1016).contains(&echo.0) {
            Some(stat::close_frame(echo.0))
        } else {
            let bytes = echo.0.to_be_bytes();
            let head = ws::short_frame_head(ws::OpCode::Close, 2);
            self.pool.msg_from(false, &[&head, &bytes])
        };
        if let Some(frame) = frame {
            self.transport.push_raw(s, frame, &mut self.pool);
        }
        self.transport.streams[s].0.eof = true;
        self.stream_gone(s, CloseReason::TransportClose);
        self.transport.set_state(s, State::Done);
        self.transport.streams[s].0.close_after = true;
        self.transport.txq_push(s);
    }

    /// The WebSocket framing failed: close it with `code`, end what used it.
    fn ws_failed(&mut self, s: u32, code: CloseCode) {
        self.transport
            .push_raw(s, stat::close_frame(code.0), &mut self.pool);
        self.transport.streams[s].0.eof = true;
        self.stream_gone(s, CloseReason::TransportError);
        self.transport.set_state(s, State::Done);
        self.transport.streams[s].0.close_after = true;
        self.transport.txq_push(s);
    }
}
