//! The transport layer's HTTP side: reading request heads (and refusing those that cannot
//! become valid), the application's requests and its answers, Engine.IO's error answers,
//! the `101` of a WebSocket, and WebSocket pongs and closes.

use super::config::{AllowOrigin, Cors};
use super::event::{Events, Payload, Record};
use super::pool::{Pool, stat};
use super::storage::NONE;
use super::stream::{CorsPick, Fixed, State, StreamIx, Timer, TransportLayer, Waiting};
use super::{CommandError, Resource};
use crate::Status;
use crate::http::{self, Connection, Header, Limits, Method, Request, ResponseHead};
use crate::ws::{self, ClientHandshake, CloseCode};
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
pub(super) struct Framing {
    /// The head's length.
    pub(super) head: usize,
    /// Where the body ends.
    pub(super) end: usize,
    /// Whether all of it is in.
    pub(super) complete: bool,
}

impl Framing {
    pub(super) fn of(req: &Request<'_, '_>, input: &[u8]) -> Self {
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
    pub(super) fn skip(&self, input: &[u8]) -> usize {
        if self.complete { self.end } else { input.len() }
    }
}

/// What reading a stream's next request head gave.
// Only ever returned, never stored: no point in boxing the request.
#[allow(clippy::large_enum_variant)]
pub(super) enum Head<'h, 'b> {
    /// Bytes consumed without a request for anyone (refused, or discarded).
    Consumed(usize),
    /// Not a whole head yet, or a response still going out: wait.
    Wait,
    /// A request, its head in `input` (its body may still be coming).
    Request(Request<'h, 'b>),
}

/// The accept key of a valid WebSocket upgrade request.
pub(super) fn ws_accept(req: &Request<'_, '_>) -> Option<ws::AcceptKey> {
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

impl TransportLayer<'_> {
    /// Reads the next request head on a stream that reads requests (at most `max_head`
    /// bytes). A head that cannot become valid is refused at once (`400`, `431`, what
    /// the parser says), not when a blank line comes.
    pub(super) fn read_head<'h, 'b>(
        &mut self,
        s: StreamIx,
        input: &'b [u8],
        headers: &'h mut [Header<'b>],
        max_head: usize,
    ) -> Head<'h, 'b> {
        let st = self.streams[s].0;
        if st.close_after {
            return Head::Consumed(input.len());
        }
        if st.tx_busy() {
            // One response at a time: pipelined requests wait.
            return Head::Wait;
        }
        let limits = Limits {
            max_head,
            max_body: u64::MAX,
        };
        let scan = st.head_scan as usize;
        if head_end(input, scan).is_none() {
            if input.len() >= max_head {
                self.respond_fixed(s, Fixed::Status(431), true);
                return Head::Consumed(input.len());
            }
            // Refuse a head as soon as it cannot become valid: a byte no head may hold, or
            // (once a line is complete) what the parser refuses, instead of waiting for a
            // blank line that random bytes may never bring.
            let fresh = input.get(scan..).unwrap_or_default();
            let refused = if fresh.iter().any(|&b| never_in_head(b)) {
                Some(400)
            } else if fresh.contains(&b'\n') {
                http::parse_request(input, headers, &limits)
                    .err()
                    .map(|e| e.status_code())
            } else {
                None
            };
            if let Some(status) = refused {
                self.respond_fixed(s, Fixed::Status(status), true);
                return Head::Consumed(input.len());
            }
            let st = &mut self.streams[s].0;
            st.head_scan = input.len().saturating_sub(2) as u32;
            if !input.is_empty() {
                st.waiting = Waiting::Partial;
            }
            return Head::Wait;
        }
        self.streams[s].0.head_scan = 0;
        match http::parse_request(input, headers, &limits) {
            Err(e) => {
                self.respond_fixed(s, Fixed::Status(e.status_code()), true);
                Head::Consumed(input.len())
            }
            Ok(Status::Partial) => Head::Wait,
            Ok(Status::Complete(req)) => {
                self.streams[s].0.keep_alive = req.keep_alive();
                Head::Request(req)
            }
        }
    }

    /// Decides the CORS headers of the response to `req`, an Engine.IO request on `s`
    /// (with [`ServerConfig::cors`](super::ServerConfig::cors)), keeping in the pool the
    /// bytes it will echo; `false` when the pool has no room for them (the request waits,
    /// as [`Waiting::Held`]).
    pub(super) fn pick_cors(
        &mut self,
        s: StreamIx,
        req: &Request<'_, '_>,
        pool: &mut Pool<'_>,
    ) -> bool {
        let Some(cors) = self.cors else {
            return true;
        };
        let st = &mut self.streams[s].0;
        pool.release(st.cors.msg());
        st.cors = CorsPick::NONE;
        let origin = req
            .origin()
            .and_then(|o| core::str::from_utf8(o).ok())
            .filter(|o| o.len() <= Cors::MAX_VALUE);
        let pick = match cors.origin {
            AllowOrigin::Any | AllowOrigin::Exactly(_) => 1,
            AllowOrigin::List(list) => origin
                .and_then(|o| list.iter().position(|&allowed| allowed == o))
                .and_then(|i| u16::try_from(i + 2).ok())
                .filter(|&i| i != CorsPick::ECHO)
                .unwrap_or(0),
            AllowOrigin::Reflect if origin.is_some() => CorsPick::ECHO,
            AllowOrigin::Check(allowed) if origin.is_some_and(allowed) => CorsPick::ECHO,
            AllowOrigin::Reflect | AllowOrigin::Check(_) => 0,
        };
        let echo = if pick == CorsPick::ECHO {
            origin.unwrap_or_default().as_bytes()
        } else {
            &[]
        };
        let requested = if req.method() == Method::Options && cors.allowed_headers.is_none() {
            req.header("access-control-request-headers")
                .filter(|h| h.len() <= Cors::MAX_VALUE)
                .unwrap_or_default()
        } else {
            &[]
        };
        let mut msg = NONE;
        if !echo.is_empty() || !requested.is_empty() {
            match pool.msg_from(false, &[&[echo.len() as u8], echo, requested]) {
                Some(m) => msg = m,
                None => {
                    st.waiting = Waiting::Held;
                    return false;
                }
            }
        }
        st.cors = CorsPick::new(pick, msg);
        true
    }

    /// `n` bytes of the stream's input were taken: a request taken starts the next
    /// head's deadline, bytes that are not a whole request yet leave it running.
    pub(super) fn request_taken(&mut self, s: StreamIx, n: usize) {
        let st = self.streams[s].0;
        if n > 0 {
            self.streams[s].0.waiting = Waiting::Nothing;
            if st.state == State::Http && !st.close_after {
                self.arm(s, Timer::Head);
            }
        }
    }

    /// A request's head is in but its body is still coming: the body deadline runs.
    pub(super) fn await_body(&mut self, s: StreamIx) {
        self.streams[s].0.waiting = Waiting::Partial;
        if self.streams[s].0.timer == Timer::Head {
            self.arm(s, Timer::Body);
        }
    }

    /// A request for the application ([`Event::Http`](super::Event::Http)), once its body
    /// (at most `max_body` bytes) is in and there is room for it; returns the bytes taken.
    pub(super) fn app_request(
        &mut self,
        s: StreamIx,
        req: &Request<'_, '_>,
        input: &[u8],
        max_body: u32,
        pool: &mut Pool<'_>,
        events: &mut Events<'_>,
    ) -> usize {
        let f = Framing::of(req, input);
        if req.content_length().unwrap_or(0) > u64::from(max_body) {
            self.respond_fixed(s, Fixed::Status(413), true);
            return f.skip(input);
        }
        if !f.complete {
            self.await_body(s);
            return 0;
        }
        if !events.has_room(1) || !pool.has_room(f.end) {
            self.streams[s].0.waiting = Waiting::Held;
            return 0;
        }
        let (head, body) = input.split_at(f.head);
        let body = body.get(..f.end - f.head).unwrap_or_default();
        let Some(msg) = pool.msg_from(false, &[head, body]) else {
            return 0;
        };
        let r = Record::Http {
            stream: self.handle(s),
            bytes: Payload::parts(msg, head.len(), body.len()),
        };
        events.push_or_release(r, pool);
        self.set_state(s, State::App);
        // A HEAD request's answer has a GET's length and no body.
        self.streams[s].0.head_only = req.method() == Method::Head;
        f.end
    }

    /// Answers the application's request on `s` (see [`Server::respond`](super::Server::respond)).
    pub(super) fn respond_app(
        &mut self,
        s: StreamIx,
        status: u16,
        headers: &[Header<'_>],
        body: &[u8],
        pool: &mut Pool<'_>,
    ) -> Result<(), CommandError> {
        let st = self.streams[s].0;
        if st.state != State::App {
            return Err(CommandError::WrongState);
        }
        let close = !st.keep_alive || st.eof;
        // A HEAD request: the length of the body it would get, and no body.
        let body_out = if st.head_only { &[][..] } else { body };
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
        let msg = pool
            .msg_from(false, &[&head[..n], body_out])
            .ok_or(CommandError::Full(Resource::Pool))?;
        if !self.push_raw(s, msg, pool) {
            return Err(CommandError::Full(Resource::Nodes));
        }
        self.streams[s].0.close_after |= close;
        self.set_state(s, if close { State::Done } else { State::Http });
        self.txq_push(s);
        Ok(())
    }

    /// An Engine.IO error answer; returns the bytes to consume.
    pub(super) fn engine_error(
        &mut self,
        s: StreamIx,
        code: u8,
        upgrade: bool,
        f: &Framing,
        input: &[u8],
    ) -> usize {
        if upgrade {
            // Like the reference: a bare 400 and the connection closed.
            self.respond_fixed(s, Fixed::UpgradeRefused(code), true);
            return input.len();
        }
        self.respond_fixed(s, Fixed::EngineError(code), !f.complete);
        f.skip(input)
    }

    /// Queues the `101 Switching Protocols` head on the stream.
    pub(super) fn queue_101(
        &mut self,
        s: StreamIx,
        accept: &ws::AcceptKey,
        pool: &mut Pool<'_>,
    ) -> bool {
        let mut head = [0u8; 256];
        let Ok(n) = ws::write_server_response(accept, &mut head) else {
            return false;
        };
        let Some(msg) = pool.msg_from(false, &[&head[..n]]) else {
            return false;
        };
        if !self.push_raw(s, msg, pool) {
            return false;
        }
        self.txq_push(s);
        true
    }

    /// Answers a WebSocket ping with its pong.
    pub(super) fn pong(&mut self, s: StreamIx, payload: &[u8], pool: &mut Pool<'_>) {
        let header = ws::short_frame_head(ws::OpCode::Pong, payload.len() as u8);
        if let Some(msg) = pool.msg_from(false, &[&header, payload])
            && self.push_raw(s, msg, pool)
        {
            self.txq_push(s);
        }
    }

    /// The client sent a close frame with `code`: the echo is queued, and no more input
    /// is read.
    pub(super) fn echo_close(&mut self, s: StreamIx, code: CloseCode, pool: &mut Pool<'_>) {
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
            pool.msg_from(false, &[&head, &bytes])
        };
        if let Some(frame) = frame {
            self.push_raw(s, frame, pool);
        }
        self.streams[s].0.eof = true;
    }

    /// The WebSocket framing failed: a close frame with `code` is queued, and no more
    /// input is read.
    pub(super) fn fail_ws(&mut self, s: StreamIx, code: CloseCode, pool: &mut Pool<'_>) {
        self.push_raw(s, stat::close_frame(code.0), pool);
        self.streams[s].0.eof = true;
    }

    /// The stream closes once its output is written.
    pub(super) fn close_after_output(&mut self, s: StreamIx) {
        self.set_state(s, State::Done);
        self.streams[s].0.close_after = true;
        self.txq_push(s);
    }
}
