//! Outputs: the bytes for each stream, written into the caller's buffer as they are
//! asked for, and the events, copied into the caller's buffer.

use super::event::Event;
use super::pool::{Pool, Queue, Reader, stat};
use super::storage::NONE;
use super::stream::{Fixed, Item, State, Timer, TransportLayer};
use super::{CommandError, Server, StreamId, Transmit};
use crate::BufferTooSmall;
use crate::engine::{ErrorBody, ErrorCode, RECORD_SEPARATOR};
use crate::http::{Connection, Cors, ResponseHead, reason_phrase};
use crate::ws::{CloseCode, FrameHeader, OpCode};

/// Room for the longest fixed response.
const FIXED_MAX: usize = 512;

impl TransportLayer<'_> {
    /// The stream's handle, for a live stream index.
    pub(super) fn handle(&self, s: u32) -> StreamId {
        StreamId {
            index: s,
            era: self.streams[s].0.era,
        }
    }

    /// The index of a live stream.
    pub(super) fn index(&self, id: StreamId) -> Result<u32, CommandError> {
        match self.streams.get(id.index) {
            Some(s) if s.0.era == id.era && s.0.state != State::Free => Ok(id.index),
            _ => Err(CommandError::UnknownStream),
        }
    }

    /// Puts the stream on the queue of streams with something to write (unless it is on
    /// it, or paused).
    pub(super) fn txq_push(&mut self, s: u32) {
        let st = &mut self.streams[s].0;
        if st.in_txq || st.paused {
            return;
        }
        st.in_txq = true;
        st.txq_next = NONE;
        if self.txq_tail == NONE {
            self.txq_head = s;
        } else {
            self.streams[self.txq_tail].0.txq_next = s;
        }
        self.txq_tail = s;
    }

    pub(super) fn txq_pop(&mut self) -> Option<u32> {
        let s = self.txq_head;
        if s == NONE {
            return None;
        }
        let st = &mut self.streams[s].0;
        self.txq_head = st.txq_next;
        st.txq_next = NONE;
        st.in_txq = false;
        if self.txq_head == NONE {
            self.txq_tail = NONE;
        }
        Some(s)
    }

    /// Drops everything the stream still had to write.
    pub(super) fn drop_output(&mut self, s: u32, pool: &mut Pool<'_>) {
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

    pub(super) fn free_stream(&mut self, s: u32, pool: &mut Pool<'_>) {
        self.drop_output(s, pool);
        self.arm(s, Timer::Off);
        self.streams.release(s);
    }

    /// Gives up writing to a stream: what it still had to write is dropped, and its close
    /// is handed out next, also when it is paused (a driver that gets a [`Transmit`] for a
    /// stream it paused drops what it kept).
    pub(super) fn abort_stream(&mut self, s: u32, pool: &mut Pool<'_>) {
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
    pub(super) fn pause(&mut self, s: u32) {
        let st = &mut self.streams[s].0;
        // A stream the server gave up on stays unpaused: its close must come out.
        st.paused = !st.aborted;
    }

    /// See [`Server::resume_transmit`].
    pub(super) fn resume(&mut self, s: u32) {
        if self.streams[s].0.paused {
            self.streams[s].0.paused = false;
            if self.streams[s].0.timer == Timer::Head {
                self.arm(s, Timer::Head);
            }
            self.txq_push(s);
        }
    }

    /// Answers with a fixed response; `close` closes the connection after it.
    pub(super) fn respond_fixed(&mut self, s: u32, fixed: Fixed, close: bool) {
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
    pub(super) fn finish_get(&mut self, stream: u32, answer: Option<Fixed>) {
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
    pub(super) fn get_in_flight(&self, stream: u32) -> bool {
        let st = &self.streams[stream].0;
        st.item != Item::Idle || (st.fixed.is_none() && st.poll_left > 0)
    }

    /// Sends a close frame on a WebSocket stream and closes it after.
    pub(super) fn close_ws(&mut self, stream: u32, code: CloseCode, pool: &mut Pool<'_>) {
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
    pub(super) fn push_raw(&mut self, s: u32, msg: u32, pool: &mut Pool<'_>) -> bool {
        if self.streams[s].0.raw.push(pool, msg) {
            return true;
        }
        pool.release(msg);
        false
    }

    /// Starts the stream's own next item (a fixed response, a message of its own queue);
    /// `false` when it has none.
    pub(super) fn next_own_item(&mut self, s: u32, pool: &mut Pool<'_>) -> bool {
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
        s: u32,
        queue: &mut Queue,
        pool: &mut Pool<'_>,
    ) -> bool {
        if self.streams[s].0.poll_left == 0 {
            // The long-poll is answered now, with everything queued.
            if queue.is_empty() {
                return false;
            }
            let mut len = 0usize;
            for (k, msg) in queue.iter(pool).enumerate() {
                len += usize::from(k > 0) + polling_len(pool, msg);
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
    pub(super) fn next_ws_item(&mut self, s: u32, queue: &mut Queue, pool: &mut Pool<'_>) -> bool {
        match queue.pop(pool) {
            Some(msg) => {
                self.start(s, Item::PacketWs, msg, pool);
                true
            }
            None => false,
        }
    }

    fn start(&mut self, s: u32, item: Item, msg: u32, pool: &Pool<'_>) {
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
    pub(super) fn write_item(&mut self, s: u32, out: &mut [u8], pool: &Pool<'_>) -> (usize, bool) {
        let st = self.streams[s].0;
        match st.item {
            Item::Idle => (0, true),
            Item::Fixed => {
                let mut buf = [0u8; FIXED_MAX];
                let total = self.render_fixed(s, &mut buf);
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
                let len = pool.len(st.msg);
                let header = FrameHeader {
                    fin: true,
                    opcode: if pool.is_binary(st.msg) {
                        OpCode::Binary
                    } else {
                        OpCode::Text
                    },
                    mask: None,
                    payload_len: len as u64,
                };
                let mut prefix = [0u8; 14];
                let hlen = header.encode(&mut prefix).unwrap_or(0);
                self.write_packet(s, out, &prefix[..hlen], false, pool)
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

    /// Writes a prefix, then the message (as base64 when `base64`), from the item's
    /// position on.
    fn write_packet(
        &mut self,
        s: u32,
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
    pub(super) fn finish_item(&mut self, s: u32, pool: &mut Pool<'_>) -> Finished {
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

    fn render_fixed(&self, s: u32, buf: &mut [u8; FIXED_MAX]) -> usize {
        let st = &self.streams[s].0;
        let Some(fixed) = st.fixed else {
            return 0;
        };
        let conn = if st.fixed_close {
            Connection::Close
        } else {
            Connection::KeepAlive
        };
        let cors = self.cors_origin.map(|o| Cors::new(o.as_bytes()));
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
            Fixed::Noop | Fixed::Close => with_cors(ResponseHead::new(200))
                .content_type(b"text/plain; charset=UTF-8")
                .no_store()
                .connection(conn)
                .write(if fixed == Fixed::Noop { b"6" } else { b"1" }, buf),
            Fixed::Preflight => {
                let cors = cors.map(|c| c.preflight(b"GET, POST", None));
                let head = ResponseHead::new(204).connection(conn);
                match cors {
                    Some(c) => head.cors(c),
                    None => head,
                }
                .write_head(None, buf)
            }
        };
        result.unwrap_or(0)
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

impl Server<'_> {
    /// The driver could not write all the bytes of `stream`'s last [`Transmit`]: it keeps
    /// the rest, and the server hands out nothing more for that stream until
    /// [`resume_transmit`](Self::resume_transmit). What the stream's session is sent
    /// meanwhile waits in the server, where [`ServerConfig::max_queued_bytes`] bounds it, so
    /// that a client that does not read holds a bounded amount of memory.
    ///
    /// One exception: when the server gives up on the stream (its deadline passed while
    /// paused, or its client was closed as a slow reader), it hands out the stream's close
    /// (`len == 0`, `close`) while paused. The driver then drops what it kept and closes
    /// the connection at once.
    ///
    /// [`ServerConfig::max_queued_bytes`]: super::ServerConfig::max_queued_bytes
    pub fn pause_transmit(&mut self, stream: StreamId) -> Result<(), CommandError> {
        let s = self.transport.index(stream)?;
        self.transport.pause(s);
        Ok(())
    }

    /// The driver wrote everything it kept for `stream`: the stream may be handed out
    /// again by [`poll_transmit`](Self::poll_transmit). This counts as the stream's output
    /// moving: the deadline of a connection writing a response starts again.
    pub fn resume_transmit(&mut self, stream: StreamId) -> Result<(), CommandError> {
        let s = self.transport.index(stream)?;
        self.transport.resume(s);
        Ok(())
    }

    /// Whether the stream has bytes it could write now.
    fn has_output(&self, s: u32) -> bool {
        let st = &self.transport.streams[s].0;
        st.tx_busy()
            || self
                .engine
                .writes_for(st.session, s, st.state)
                .is_some_and(|sess| !self.engine.sessions[sess].0.queue.is_empty())
    }

    /// Writes the next bytes to send, for one stream, into `out`.
    ///
    /// Streams take turns: one call serves one stream, as much as fits. `None` when no
    /// stream has anything to write (or to close).
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Option<Transmit> {
        while let Some(s) = self.transport.txq_pop() {
            let st = self.transport.streams[s].0;
            if st.state == State::Free || (st.paused && !st.silent) {
                // A paused stream goes back on the queue when it resumes.
                continue;
            }
            if st.silent {
                self.transport.free_stream(s, &mut self.pool);
                continue;
            }
            let n = self.write_stream(s, out);
            let more = self.has_output(s);
            let st = self.transport.streams[s].0;
            if n > 0 && st.timer != Timer::Off {
                // Output moves: the deadline of a connection writing a response (or what
                // it owes before closing) starts again.
                self.transport.arm(s, Timer::Head);
            }
            let finished = !more
                && st.close_after
                && !matches!(st.state, State::App | State::Get | State::Post);
            if more {
                self.transport.txq_push(s);
            }
            if n == 0 && !finished {
                continue;
            }
            let stream = self.transport.handle(s);
            if finished {
                self.transport.free_stream(s, &mut self.pool);
            }
            return Some(Transmit {
                stream,
                len: n,
                close: finished,
            });
        }
        None
    }

    fn write_stream(&mut self, s: u32, out: &mut [u8]) -> usize {
        let mut pos = 0;
        while pos < out.len() {
            if self.transport.streams[s].0.item == Item::Idle && !self.next_item(s) {
                break;
            }
            let (n, done) =
                self.transport
                    .write_item(s, out.get_mut(pos..).unwrap_or_default(), &self.pool);
            pos += n;
            if !done {
                break;
            }
            let sess = self.transport.streams[s].0.session;
            match self.transport.finish_item(s, &mut self.pool) {
                Finished::Poll => self.poll_answered(sess, s),
                Finished::Packet => self.packet_sent(sess, s),
                Finished::Other => {}
            }
        }
        pos
    }

    /// Starts the stream's next item, its own or its session's; `false` when there is
    /// none.
    fn next_item(&mut self, s: u32) -> bool {
        if self.transport.next_own_item(s, &mut self.pool) {
            return true;
        }
        let st = self.transport.streams[s].0;
        let Some(sess) = self.engine.writes_for(st.session, s, st.state) else {
            return false;
        };
        let queue = &mut self.engine.sessions[sess].0.queue;
        if st.state == State::Get {
            self.transport.next_poll_item(s, queue, &mut self.pool)
        } else {
            self.transport.next_ws_item(s, queue, &mut self.pool)
        }
    }

    /// The next event for the application, its bytes copied into `buf`; `Ok(None)` when
    /// there is none.
    ///
    /// When `buf` is too small the event stays queued and the error says how big it must
    /// be. Events without bytes need no room at all.
    pub fn poll_event<'b>(
        &mut self,
        buf: &'b mut [u8],
    ) -> Result<Option<Event<'b>>, BufferTooSmall> {
        self.socketio.reap_sockets(&mut self.events);
        self.engine.reap_sessions(&mut self.events);
        let Some(r) = self.events.front().copied() else {
            return Ok(None);
        };
        let mut len = 0;
        if r.msg != NONE {
            let total = self.pool.len(r.msg).saturating_sub(usize::from(r.skip));
            if total > buf.len() {
                return Err(BufferTooSmall { required: total });
            }
            let mut reader = self.pool.reader(r.msg);
            self.pool.skip(&mut reader, usize::from(r.skip));
            len = self.pool.read(&mut reader, buf);
            if let Some((sess, era)) = r.session()
                && let Some(s) = self.engine.sessions.get(sess)
                && s.0.era == era
            {
                // The application has it: the client may send more.
                let held = self.pool.len(r.msg) as u32;
                let s = &mut self.engine.sessions[sess].0;
                s.inbound = s.inbound.saturating_sub(held);
                s.inbound_events = s.inbound_events.saturating_sub(1);
            }
            self.pool.release(r.msg);
        }
        self.events.pop();
        let buf: &'b [u8] = buf;
        Ok(Some(r.event(buf.get(..len).unwrap_or_default())))
    }
}
