//! The transport layer's output: the transmit queue, and the bytes of each stream (fixed
//! responses, its own messages, a session's packets as polling records or WebSocket
//! frames) written into the caller's buffer as they are asked for.

use super::config::{AllowOrigin, Cors};
use super::ix::Link;
use super::pool::{Pool, Queue, Reader, stat};
use super::storage::NONE;
use super::stream::CorsPick;
#[cfg(feature = "alloc")]
use super::stream::Stream;
use super::stream::{Fixed, Item, State, StreamIx, Timer, TransportLayer};
use super::{CommandError, StreamId};
use crate::engine::{ErrorBody, ErrorCode, RECORD_SEPARATOR};
use crate::http::{self, Connection, ResponseHead, reason_phrase};
use crate::ws::{CloseCode, FrameHeader, OpCode};

/// Room for the longest fixed response.
/// Room for a fixed response: its CORS headers (each value up to `Cors::MAX_VALUE`) need
/// the larger size.
const FIXED_MAX: usize = if super::CORS { 1024 } else { 512 };

impl TransportLayer<'_> {
    /// The stream's handle, for a live stream index.
    pub(super) fn handle(&self, s: StreamIx) -> StreamId {
        StreamId {
            index: s.get(),
            era: self.streams[s].0.era,
        }
    }

    /// The index of a live stream.
    pub(super) fn index(&self, id: StreamId) -> Result<StreamIx, CommandError> {
        match self.streams.ix(id.index) {
            Some(s)
                if self.streams[s].0.era == id.era && self.streams[s].0.state != State::Free =>
            {
                Ok(s)
            }
            _ => Err(CommandError::UnknownStream),
        }
    }

    /// Puts the stream on the queue of streams with something to write (unless it is on
    /// it, or paused).
    pub(super) fn txq_push(&mut self, s: StreamIx) {
        let st = &mut self.streams[s].0;
        if st.in_txq || st.paused {
            return;
        }
        st.in_txq = true;
        st.txq_next = Link::NONE;
        match self.txq_tail.get() {
            None => self.txq_head = s.into(),
            Some(t) => self.streams[t].0.txq_next = s.into(),
        }
        self.txq_tail = s.into();
    }

    pub(super) fn txq_pop(&mut self) -> Option<StreamIx> {
        let s = self.txq_head.get()?;
        let st = &mut self.streams[s].0;
        self.txq_head = st.txq_next;
        st.txq_next = Link::NONE;
        st.in_txq = false;
        if self.txq_head.is_none() {
            self.txq_tail = Link::NONE;
        }
        Some(s)
    }

    /// Drops everything the stream still had to write.
    pub(super) fn drop_output(&mut self, s: StreamIx, pool: &mut Pool<'_>) {
        let slot = &mut self.streams[s].0;
        if matches!(slot.item, Item::Raw | Item::PacketWs | Item::PacketPoll) {
            pool.release(slot.msg);
        }
        slot.raw.clear(pool);
        slot.item = Item::Idle;
        slot.msg = NONE;
        slot.fixed = None;
        slot.poll_left = 0;
    }

    pub(super) fn free_stream(&mut self, s: StreamIx, pool: &mut Pool<'_>) {
        self.drop_output(s, pool);
        if super::CORS {
            pool.release(self.streams[s].0.cors.msg());
        }
        self.arm(s, Timer::Off);
        self.streams.release(s);
    }

    /// Gives up writing to a stream: what it still had to write is dropped, and its close
    /// is handed out next, also when it is paused (a driver that gets a [`Transmit`] for a
    /// stream it paused drops what it kept).
    pub(super) fn abort_stream(&mut self, s: StreamIx, pool: &mut Pool<'_>) {
        self.drop_output(s, pool);
        self.set_state(s, State::Done);
        self.arm(s, Timer::Off);
        let slot = &mut self.streams[s].0;
        slot.paused = false;
        slot.aborted = true;
        slot.close_after = true;
        self.txq_push(s);
    }

    /// See [`Server::pause_transmit`].
    pub(super) fn pause(&mut self, s: StreamIx) {
        let st = &mut self.streams[s].0;
        // A stream the server gave up on stays unpaused: its close must come out.
        st.paused = !st.aborted;
    }

    /// See [`Server::resume_transmit`].
    pub(super) fn resume(&mut self, s: StreamIx) {
        if self.streams[s].0.paused {
            self.streams[s].0.paused = false;
            if self.streams[s].0.timer == Timer::Head {
                self.arm(s, Timer::Head);
            }
            self.txq_push(s);
        }
    }

    /// Answers with a fixed response; `close` closes the connection after it.
    pub(super) fn respond_fixed(&mut self, s: StreamIx, fixed: Fixed, close: bool) {
        let st = &mut self.streams[s].0;
        if close || !st.keep_alive || st.eof {
            st.close_after = true;
        }
        st.fixed = Some(fixed);
        st.fixed_close = st.close_after;
        if st.close_after && st.state == State::Http {
            self.set_state(s, State::Done);
        }
        self.txq_push(s);
    }

    /// Ends the long-poll on `stream`: answered with `answer` if it has not started its
    /// response, cut short (and the connection closed) if it has.
    pub(super) fn finish_get(&mut self, stream: StreamIx, answer: Option<Fixed>) {
        if self.streams[stream].0.state != State::Get {
            return;
        }
        self.set_state(stream, State::Http);
        if self.get_in_flight(stream) {
            let st = &mut self.streams[stream].0;
            st.poll_left = 0;
            st.close_after = true;
            self.txq_push(stream);
        } else {
            let st = &mut self.streams[stream].0;
            st.fixed = None;
            st.poll_left = 0;
            if let Some(fixed) = answer {
                self.respond_fixed(stream, fixed, false);
            }
        }
    }

    /// Whether a polling response has begun on the stream (bytes of it are out).
    pub(super) fn get_in_flight(&self, stream: StreamIx) -> bool {
        let st = &self.streams[stream].0;
        st.item != Item::Idle || (st.fixed.is_none() && st.poll_left > 0)
    }

    /// Sends a close frame on a WebSocket stream and closes it after.
    pub(super) fn close_ws(&mut self, stream: StreamIx, code: CloseCode, pool: &mut Pool<'_>) {
        if matches!(self.streams[stream].0.state, State::Done | State::Free) {
            return;
        }
        self.set_state(stream, State::Done);
        let st = &mut self.streams[stream].0;
        st.close_after = true;
        if !st.eof {
            st.raw.push(pool, stat::close_frame(code.0));
        }
        self.txq_push(stream);
    }

    /// Queues `msg` (taking over its reference) on the stream's own output, written before
    /// any session packet; when the queue entries run out it is released, and `false`.
    pub(super) fn push_raw(&mut self, s: StreamIx, msg: u32, pool: &mut Pool<'_>) -> bool {
        if self.streams[s].0.raw.push(pool, msg) {
            return true;
        }
        pool.release(msg);
        false
    }

    /// Starts the stream's own next item (a fixed response, a message of its own queue);
    /// `false` when it has none.
    pub(super) fn next_own_item(&mut self, s: StreamIx, pool: &mut Pool<'_>) -> bool {
        let st = &mut self.streams[s].0;
        if st.fixed.is_some() {
            self.start(s, Item::Fixed, NONE, pool);
            return true;
        }
        if let Some(msg) = st.raw.pop(pool) {
            self.start(s, Item::Raw, msg, pool);
            return true;
        }
        false
    }

    /// Starts the next record of the long-poll response on `s`, from `queue`, the
    /// session's: first the response head, sized for everything queued now.
    pub(super) fn next_poll_item(
        &mut self,
        s: StreamIx,
        queue: &mut Queue,
        pool: &mut Pool<'_>,
    ) -> bool {
        if self.streams[s].0.poll_left == 0 {
            // The long-poll is answered now, with everything queued.
            if queue.is_empty() {
                return false;
            }
            let mut len = 0usize;
            let eio3 = self.streams[s].0.v3.on();
            for (k, msg) in queue.iter(pool).enumerate() {
                len += if eio3 {
                    v3_record_len(pool, msg)
                } else {
                    usize::from(k > 0) + polling_len(pool, msg)
                };
            }
            let slot = &mut self.streams[s].0;
            slot.poll_left = queue.count;
            slot.poll_first = true;
            slot.fixed = Some(Fixed::PollHead(len as u32));
            slot.fixed_close = !slot.keep_alive || slot.eof;
            self.start(s, Item::Fixed, NONE, pool);
            return true;
        }
        match queue.pop(pool) {
            Some(msg) => {
                if self.streams[s].0.v3.on() {
                    self.streams[s].0.v3.set_units(v3_units(pool, msg));
                }
                self.start(s, Item::PacketPoll, msg, pool);
                true
            }
            None => {
                // The session went away under the response: cut it short.
                let slot = &mut self.streams[s].0;
                slot.poll_left = 0;
                slot.close_after = true;
                false
            }
        }
    }

    /// Starts the next packet of the WebSocket `s`, from `queue`, the session's.
    pub(super) fn next_ws_item(
        &mut self,
        s: StreamIx,
        queue: &mut Queue,
        pool: &mut Pool<'_>,
    ) -> bool {
        match queue.pop(pool) {
            Some(msg) => {
                self.start(s, Item::PacketWs, msg, pool);
                true
            }
            None => false,
        }
    }

    fn start(&mut self, s: StreamIx, item: Item, msg: u32, pool: &Pool<'_>) {
        let reader = if msg == NONE {
            Reader::DONE
        } else {
            pool.reader(msg)
        };
        let st = &mut self.streams[s].0;
        st.item = item;
        st.msg = msg;
        st.pos = 0;
        st.reader = reader;
    }

    /// Writes what fits of the current item; `true` when it is complete.
    pub(super) fn write_item(
        &mut self,
        s: StreamIx,
        out: &mut [u8],
        pool: &Pool<'_>,
    ) -> (usize, bool) {
        let st = self.streams[s].0;
        match st.item {
            Item::Idle => (0, true),
            Item::Fixed => {
                let mut buf = [0u8; FIXED_MAX];
                let total = self.render_fixed(s, &mut buf, pool);
                let from = (st.pos as usize).min(total);
                let n = (total - from).min(out.len());
                out[..n].copy_from_slice(&buf[from..from + n]);
                self.streams[s].0.pos += n as u32;
                (n, from + n == total)
            }
            Item::Raw => {
                let mut r = st.reader;
                let n = pool.read(&mut r, out);
                self.streams[s].0.reader = r;
                (n, r.left() == 0)
            }
            Item::PacketWs => {
                // As `ws_prefix` (written out here: calling it costs the bare-metal image
                // some 30 bytes).
                let binary = pool.is_binary(st.msg);
                // A v3 binary frame starts with the message type, 4.
                let typed = st.v3.on() && binary;
                let len = pool.len(st.msg) + usize::from(typed);
                let header = FrameHeader {
                    fin: true,
                    opcode: if binary { OpCode::Binary } else { OpCode::Text },
                    mask: None,
                    payload_len: len as u64,
                };
                let mut prefix = [0u8; 15];
                let mut hlen = header.encode(&mut prefix).unwrap_or(0);
                if typed {
                    prefix[hlen] = crate::engine::v3::BINARY_MESSAGE_TYPE;
                    hlen += 1;
                }
                self.write_packet(s, out, &prefix[..hlen], false, pool)
            }
            Item::PacketPoll if st.v3.on() => {
                // `<length>:<packet>`, binary as `b4<base64>`.
                let binary = pool.is_binary(st.msg);
                let mut prefix = [0u8; 13];
                let mut head = [0u8; 11];
                let n = crate::engine::v3::write_length(st.v3.units(), &mut head);
                prefix[..n].copy_from_slice(&head[..n]);
                let mut plen = n;
                if binary {
                    prefix[plen] = b'b';
                    prefix[plen + 1] = b'0' + crate::engine::v3::BINARY_MESSAGE_TYPE;
                    plen += 2;
                }
                self.write_packet(s, out, &prefix[..plen], binary, pool)
            }
            Item::PacketPoll => {
                let binary = pool.is_binary(st.msg);
                let mut prefix = [0u8; 2];
                let mut plen = 0;
                if !st.poll_first {
                    prefix[plen] = RECORD_SEPARATOR;
                    plen += 1;
                }
                if binary {
                    prefix[plen] = b'b';
                    plen += 1;
                }
                self.write_packet(s, out, &prefix[..plen], binary, pool)
            }
        }
    }

    /// What comes before a WebSocket item's message, written into `prefix`: the frame
    /// header, and for a v3 binary frame the message type, 4. Returns its length.
    #[cfg(feature = "alloc")]
    fn ws_prefix(st: &Stream, pool: &Pool<'_>, prefix: &mut [u8; 15]) -> usize {
        let binary = pool.is_binary(st.msg);
        let typed = st.v3.on() && binary;
        let len = pool.len(st.msg) + usize::from(typed);
        let header = FrameHeader {
            fin: true,
            opcode: if binary { OpCode::Binary } else { OpCode::Text },
            mask: None,
            payload_len: len as u64,
        };
        let mut hlen = header.encode(prefix).unwrap_or(0);
        if typed {
            prefix[hlen] = crate::engine::v3::BINARY_MESSAGE_TYPE;
            hlen += 1;
        }
        hlen
    }

    /// [`write_item`](Self::write_item) for a vectored transmit: the current item's bytes,
    /// from its position on, go to `pieces` until it holds `budget` bytes. A WebSocket
    /// frame's message with bytes in big blocks (continued in them, or a view of one that
    /// is) is lent in runs of at least [`LEND_MIN`]
    /// bytes; everything else is copied into `out`, after the bytes copied before.
    #[cfg(feature = "alloc")]
    pub(super) fn write_item_vectored(
        &mut self,
        s: StreamIx,
        out: &mut [u8],
        budget: usize,
        pieces: &mut Pieces,
        pool: &mut Pool<'_>,
    ) -> (usize, bool) {
        let st = self.streams[s].0;
        let room = budget.saturating_sub(pieces.total);
        if !pieces.can_copy() {
            return (0, false);
        }
        if st.item != Item::PacketWs || !pool.reads_big(st.msg) {
            let at = pieces.copied;
            let (n, done) =
                self.write_item(s, out.get_mut(at..at + room).unwrap_or_default(), pool);
            pieces.copy(n);
            return (n, done);
        }
        let mut prefix = [0u8; 15];
        let hlen = Self::ws_prefix(&st, pool, &mut prefix);
        let before = pieces.total;
        let mut pos = st.pos as usize;
        if pos < hlen {
            let k = (hlen - pos).min(room);
            let at = pieces.copied;
            if let Some(o) = out.get_mut(at..at + k) {
                o.copy_from_slice(&prefix[pos..pos + k]);
                pieces.copy(k);
            }
            pos += k;
        }
        let mut r = st.reader;
        while pos >= hlen && pieces.total < budget {
            let mut next = r;
            let Some(run) = pool.next_run(&mut next, budget - pieces.total) else {
                break;
            };
            let n = run.2 as usize;
            if Pool::is_big(run.0) && n >= LEND_MIN && pieces.has_room() && pool.lend(st.msg) {
                pieces.lend(run);
            } else if pieces.can_copy() {
                let at = pieces.copied;
                match out.get_mut(at..at + n) {
                    Some(o) => o.copy_from_slice(pool.run(run)),
                    None => break,
                }
                pieces.copy(n);
            } else {
                break;
            }
            r = next;
        }
        let n = pieces.total - before;
        let slot = &mut self.streams[s].0;
        slot.reader = r;
        slot.pos = (st.pos as usize + n) as u32;
        (n, pos >= hlen && r.left() == 0)
    }

    /// Writes a prefix, then the message (as base64 when `base64`), from the item's
    /// position on.
    fn write_packet(
        &mut self,
        s: StreamIx,
        out: &mut [u8],
        prefix: &[u8],
        base64: bool,
        pool: &Pool<'_>,
    ) -> (usize, bool) {
        let st = self.streams[s].0;
        let mut pos = st.pos as usize;
        let mut n = 0;
        if pos < prefix.len() {
            let k = (prefix.len() - pos).min(out.len());
            out[..k].copy_from_slice(&prefix[pos..pos + k]);
            n += k;
            pos += k;
        }
        let mut r = st.reader;
        if pos >= prefix.len() {
            if base64 {
                let into = (pos - prefix.len()) % 4;
                n += write_base64(pool, &mut r, out.get_mut(n..).unwrap_or_default(), into);
            } else {
                n += pool.read(&mut r, out.get_mut(n..).unwrap_or_default());
            }
        }
        let slot = &mut self.streams[s].0;
        slot.reader = r;
        slot.pos = (st.pos as usize + n) as u32;
        let done = pos >= prefix.len()
            && r.left() == 0
            && (!base64 || (slot.pos as usize - prefix.len()).is_multiple_of(4));
        (n, done)
    }

    /// Ends the stream's current item; says what the session may need to know.
    pub(super) fn finish_item(&mut self, s: StreamIx, pool: &mut Pool<'_>) -> Finished {
        let slot = &mut self.streams[s].0;
        let item = slot.item;
        let msg = slot.msg;
        slot.item = Item::Idle;
        slot.msg = NONE;
        slot.pos = 0;
        slot.reader = Reader::DONE;
        match item {
            Item::Idle => Finished::Other,
            Item::Fixed => {
                slot.fixed = None;
                Finished::Other
            }
            Item::Raw => {
                pool.release(msg);
                Finished::Other
            }
            Item::PacketPoll => {
                pool.release(msg);
                slot.poll_first = false;
                slot.poll_left = slot.poll_left.saturating_sub(1);
                if slot.poll_left == 0 && slot.state == State::Get {
                    // The long-poll response is complete.
                    let next = if slot.close_after {
                        State::Done
                    } else {
                        State::Http
                    };
                    if !slot.keep_alive {
                        slot.close_after = true;
                    }
                    self.set_state(s, next);
                    return Finished::Poll;
                }
                Finished::Other
            }
            Item::PacketWs => {
                pool.release(msg);
                Finished::Packet
            }
        }
    }

    fn render_fixed(&self, s: StreamIx, buf: &mut [u8; FIXED_MAX], pool: &Pool<'_>) -> usize {
        let st = &self.streams[s].0;
        let Some(fixed) = st.fixed else {
            return 0;
        };
        let conn = if st.fixed_close {
            Connection::Close
        } else {
            Connection::KeepAlive
        };
        let mut echo = [0u8; 1 + 2 * Cors::MAX_VALUE];
        let cors = self
            .cors
            .filter(|_| super::CORS)
            .map(|c| cors_headers(&c, st.cors, fixed == Fixed::Preflight, pool, &mut echo));
        let with_cors = |h: ResponseHead<'static>| -> ResponseHead<'_> {
            match cors {
                Some(c) => h.cors(c),
                None => h,
            }
        };
        let result = match fixed {
            Fixed::EngineError(code) => {
                let body =
                    ErrorBody::new(ErrorCode::from_u8(code).unwrap_or(ErrorCode::BadRequest));
                let mut json = [0u8; 64];
                let n = body.encode(&mut json).unwrap_or(0);
                with_cors(ResponseHead::new(body.http_status()))
                    .content_type(b"application/json")
                    .connection(conn)
                    .write(&json[..n], buf)
            }
            Fixed::Status(code) => ResponseHead::new(code)
                .content_type(b"text/plain; charset=UTF-8")
                .connection(conn)
                .write(reason_phrase(code).as_bytes(), buf),
            Fixed::UpgradeRefused(code) => {
                let message = ErrorCode::from_u8(code).map_or("Bad request", ErrorCode::message);
                ResponseHead::new(400)
                    .content_type(b"text/html")
                    .connection(Connection::Close)
                    .write(message.as_bytes(), buf)
            }
            Fixed::Ok => with_cors(ResponseHead::new(200))
                .content_type(b"text/html")
                .no_store()
                .connection(conn)
                .write(b"ok", buf),
            Fixed::PollHead(len) => with_cors(ResponseHead::new(200))
                .content_type(b"text/plain; charset=UTF-8")
                .no_store()
                .connection(conn)
                .write_head(Some(u64::from(len)), buf),
            Fixed::Noop | Fixed::Close => {
                let body: &[u8] = match (st.v3.on(), fixed == Fixed::Noop) {
                    (false, true) => b"6",
                    (false, false) => b"1",
                    (true, true) => b"1:6",
                    (true, false) => b"1:1",
                };
                with_cors(ResponseHead::new(200))
                    .content_type(b"text/plain; charset=UTF-8")
                    .no_store()
                    .connection(conn)
                    .write(body, buf)
            }
            Fixed::Preflight => with_cors(ResponseHead::new(204))
                .connection(conn)
                .write_head(None, buf),
        };
        result.unwrap_or(0)
    }
}

/// The CORS headers `pick` (decided with the request) stands for under `cors`; a
/// preflight's also. `echo` receives the bytes kept in the pool.
fn cors_headers<'c>(
    cors: &Cors<'c>,
    pick: CorsPick,
    preflight: bool,
    pool: &Pool<'_>,
    echo: &'c mut [u8; 1 + 2 * Cors::MAX_VALUE],
) -> http::Cors<'c> {
    let kept = if pick.msg() == NONE {
        0
    } else {
        pool.copy_all(pick.msg(), echo)
    };
    let echo = &echo[..kept];
    let (origin_len, rest) = echo
        .split_first()
        .map_or((0, &[][..]), |(n, r)| (usize::from(*n), r));
    let (echoed, requested) = rest.split_at(origin_len.min(rest.len()));
    let origin = match (cors.origin, pick.origin()) {
        (_, 0) => None,
        (AllowOrigin::Any, _) => Some(&b"*"[..]),
        (AllowOrigin::Exactly(o), _) => Some(o.as_bytes()),
        (_, CorsPick::ECHO) => Some(echoed),
        (AllowOrigin::List(l), i) => l.get(usize::from(i) - 2).map(|o| o.as_bytes()),
        _ => None,
    };
    let by_origin = !matches!(cors.origin, AllowOrigin::Any);
    let reflect_headers = preflight && cors.allowed_headers.is_none();
    let vary: Option<&[u8]> = match (by_origin, reflect_headers) {
        (true, true) => Some(b"Origin, Access-Control-Request-Headers"),
        (true, false) => Some(b"Origin"),
        (false, true) => Some(b"Access-Control-Request-Headers"),
        (false, false) => None,
    };
    let c = http::Cors::origin(origin)
        .credentials(cors.credentials)
        .vary(vary);
    if !preflight {
        return c;
    }
    let headers = match cors.allowed_headers {
        Some(h) => Some(h.as_bytes()),
        None => (!requested.is_empty()).then_some(requested),
    };
    c.preflight(cors.methods.as_bytes(), headers)
        .max_age(cors.max_age)
}

/// The least run of a message's bytes in one big block that a vectored transmit lends
/// rather than copies: gathering shorter pieces into one buffer costs less than writing
/// them from many places.
#[cfg(feature = "alloc")]
pub(super) const LEND_MIN: usize = 1024;

/// The most pieces one vectored transmit is made of.
#[cfg(feature = "alloc")]
pub(super) const MAX_PIECES: usize = 64;

/// One vectored transmit as it is made: its pieces in order, each either bytes copied into
/// the output buffer (after those of the pieces before) or a run of a pool block.
#[cfg(feature = "alloc")]
#[derive(Debug)]
pub(super) struct Pieces {
    /// Block, offset, length; the block `NONE` for bytes of the output buffer.
    list: [(u32, u32, u32); MAX_PIECES],
    len: usize,
    /// How many pieces the caller has room for.
    cap: usize,
    /// Bytes copied into the output buffer.
    pub(super) copied: usize,
    /// Bytes in all pieces.
    pub(super) total: usize,
}

#[cfg(feature = "alloc")]
impl Pieces {
    pub(super) const fn new(cap: usize) -> Self {
        Self {
            list: [(NONE, 0, 0); MAX_PIECES],
            len: 0,
            cap: if cap < MAX_PIECES { cap } else { MAX_PIECES },
            copied: 0,
            total: 0,
        }
    }

    /// Whether one more piece fits.
    pub(super) const fn has_room(&self) -> bool {
        self.len < self.cap
    }

    /// Whether bytes copied now have a piece: the last one, or a new one.
    pub(super) fn can_copy(&self) -> bool {
        self.has_room() || self.len > 0 && self.list[self.len - 1].0 == NONE
    }

    /// `n` more bytes were copied into the output buffer (the caller checked
    /// [`can_copy`](Self::can_copy)).
    pub(super) fn copy(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        match self.len.checked_sub(1) {
            Some(k) if self.list[k].0 == NONE => self.list[k].2 += n as u32,
            _ if self.has_room() => {
                self.list[self.len] = (NONE, 0, n as u32);
                self.len += 1;
            }
            _ => return,
        }
        self.copied += n;
        self.total += n;
    }

    /// A run of a pool block goes out as it is (the caller checked
    /// [`has_room`](Self::has_room)).
    pub(super) fn lend(&mut self, run: (u32, u32, u32)) {
        if let Some(p) = self.list.get_mut(self.len) {
            *p = run;
            self.len += 1;
            self.total += run.2 as usize;
        }
    }

    /// Fills `parts` with the pieces' bytes, from `out` and from `pool`; returns how many.
    pub(super) fn fill<'s>(
        &self,
        out: &'s [u8],
        pool: &'s Pool<'_>,
        parts: &mut [&'s [u8]],
    ) -> usize {
        let mut at = 0;
        for (p, part) in self.list[..self.len].iter().zip(parts.iter_mut()) {
            *part = if p.0 == NONE {
                let n = p.2 as usize;
                at += n;
                out.get(at - n..at).unwrap_or_default()
            } else {
                pool.run(*p)
            };
        }
        self.len
    }
}

/// What the end of a stream's item means for the session it writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Finished {
    /// A long-poll response is complete.
    Poll,
    /// A session packet went out on a WebSocket.
    Packet,
    /// Nothing for the session.
    Other,
}

/// Length of a packet as a polling record (without separator).
fn polling_len(pool: &Pool<'_>, msg: u32) -> usize {
    let len = pool.len(msg);
    if pool.is_binary(msg) {
        1 + crate::base64::encoded_len(len)
    } else {
        len
    }
}

/// The length prefix of a message as a v3 polling record, in UTF-16 code units: the text
/// packet's, or `b4` and the base64's.
fn v3_units(pool: &Pool<'_>, msg: u32) -> usize {
    let len = pool.len(msg);
    if pool.is_binary(msg) {
        return 2 + crate::base64::encoded_len(len);
    }
    let mut r = pool.reader(msg);
    let mut chunk = [0u8; 256];
    let mut units = 0;
    loop {
        let n = pool.read(&mut r, &mut chunk);
        if n == 0 {
            return units;
        }
        units += crate::engine::v3::utf16_len(&chunk[..n]);
    }
}

/// Bytes of a message as a v3 polling record: `<length>:` and the record.
fn v3_record_len(pool: &Pool<'_>, msg: u32) -> usize {
    let mut head = [0u8; 11];
    let n = crate::engine::v3::write_length(v3_units(pool, msg), &mut head);
    let body = if pool.is_binary(msg) {
        2 + crate::base64::encoded_len(pool.len(msg))
    } else {
        pool.len(msg)
    };
    n + body
}

/// Base64 of the reader's bytes into `out`, resuming `into` characters into the current
/// 4-character group. The reader moves past a group only once all of it is written.
fn write_base64(pool: &Pool<'_>, r: &mut Reader, out: &mut [u8], mut into: usize) -> usize {
    let mut n = 0;
    while n < out.len() && r.left() > 0 {
        let mut peek = *r;
        let mut group = [0u8; 3];
        let got = pool.read(&mut peek, &mut group);
        let mut chars = [0u8; 4];
        let _ = crate::base64::encode(&group[..got], &mut chars);
        let k = (4 - into).min(out.len() - n);
        out[n..n + k].copy_from_slice(&chars[into..into + k]);
        n += k;
        if into + k == 4 {
            *r = peek;
            into = 0;
        } else {
            break;
        }
    }
    n
}
