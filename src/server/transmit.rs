//! Outputs: the bytes for each stream, written into the caller's buffer as they are
//! asked for, and the events, copied into the caller's buffer.

use super::event::Event;
use super::pool::Reader;
use super::session::Transport;
use super::storage::NONE;
use super::stream::{Fixed, Item, State, Timer};
use super::{CommandError, Server, StreamId, Transmit};
use crate::BufferTooSmall;
use crate::engine::{ErrorBody, ErrorCode, RECORD_SEPARATOR};
use crate::http::{Connection, Cors, ResponseHead, reason_phrase};
use crate::ws::{FrameHeader, OpCode};

/// Room for the longest fixed response.
const FIXED_MAX: usize = 512;

impl Server<'_> {
    pub(super) fn txq_push(&mut self, s: u32) {
        let st = &mut self.transport.streams[s].0;
        if st.in_txq || st.paused {
            return;
        }
        st.in_txq = true;
        st.txq_next = NONE;
        if self.transport.txq_tail == NONE {
            self.transport.txq_head = s;
        } else {
            self.transport.streams[self.transport.txq_tail].0.txq_next = s;
        }
        self.transport.txq_tail = s;
    }

    fn txq_pop(&mut self) -> Option<u32> {
        let s = self.transport.txq_head;
        if s == NONE {
            return None;
        }
        let st = &mut self.transport.streams[s].0;
        self.transport.txq_head = st.txq_next;
        st.txq_next = NONE;
        st.in_txq = false;
        if self.transport.txq_head == NONE {
            self.transport.txq_tail = NONE;
        }
        Some(s)
    }

    /// Drops everything the stream still had to write.
    pub(super) fn drop_output(&mut self, s: u32) {
        let st = self.transport.streams[s].0;
        if matches!(st.item, Item::Raw | Item::PacketWs | Item::PacketPoll) {
            self.pool.release(st.msg);
        }
        let mut raw = st.raw;
        raw.clear(&mut self.pool);
        let slot = &mut self.transport.streams[s].0;
        slot.raw = raw;
        slot.item = Item::Idle;
        slot.msg = NONE;
        slot.fixed = None;
        slot.poll_left = 0;
    }

    pub(super) fn free_stream(&mut self, s: u32) {
        self.drop_output(s);
        self.transport.arm(s, Timer::Off, self.now);
        self.transport.streams.release(s);
    }

    /// Gives up writing to a stream: what it still had to write is dropped, and its close
    /// is handed out next, also when it is paused (a driver that gets a [`Transmit`] for a
    /// stream it paused drops what it kept).
    pub(super) fn abort_stream(&mut self, s: u32) {
        self.drop_output(s);
        self.transport.set_state(s, State::Done, self.now);
        self.transport.arm(s, Timer::Off, self.now);
        let slot = &mut self.transport.streams[s].0;
        slot.paused = false;
        slot.aborted = true;
        slot.close_after = true;
        self.txq_push(s);
    }

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
        let s = self.stream_index(stream)?;
        let st = &mut self.transport.streams[s].0;
        // A stream the server gave up on stays unpaused: its close must come out.
        st.paused = !st.aborted;
        Ok(())
    }

    /// The driver wrote everything it kept for `stream`: the stream may be handed out
    /// again by [`poll_transmit`](Self::poll_transmit). This counts as the stream's output
    /// moving: the deadline of a connection writing a response starts again.
    pub fn resume_transmit(&mut self, stream: StreamId) -> Result<(), CommandError> {
        let s = self.stream_index(stream)?;
        if self.transport.streams[s].0.paused {
            self.transport.streams[s].0.paused = false;
            if self.transport.streams[s].0.timer == Timer::Head {
                self.transport.arm(s, Timer::Head, self.now);
            }
            self.txq_push(s);
        }
        Ok(())
    }

    /// Whether the stream has bytes it could write now.
    fn has_output(&self, s: u32) -> bool {
        let st = &self.transport.streams[s].0;
        if st.tx_busy() {
            return true;
        }
        let Some(session) = self.engine.sessions.get(st.session).map(|x| &x.0) else {
            return false;
        };
        match st.state {
            State::Get => session.get == s && !session.queue.is_empty(),
            State::Ws => {
                session.ws == s
                    && session.transport == Transport::WebSocket
                    && !session.queue.is_empty()
            }
            _ => false,
        }
    }

    /// Writes the next bytes to send, for one stream, into `out`.
    ///
    /// Streams take turns: one call serves one stream, as much as fits. `None` when no
    /// stream has anything to write (or to close).
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Option<Transmit> {
        while let Some(s) = self.txq_pop() {
            let st = self.transport.streams[s].0;
            if st.state == State::Free || (st.paused && !st.silent) {
                // A paused stream goes back on the queue when it resumes.
                continue;
            }
            if st.silent {
                self.free_stream(s);
                continue;
            }
            let n = self.write_stream(s, out);
            let more = self.has_output(s);
            let st = self.transport.streams[s].0;
            if n > 0 && st.timer != Timer::Off {
                // Output moves: the deadline of a connection writing a response (or what
                // it owes before closing) starts again.
                self.transport.arm(s, Timer::Head, self.now);
            }
            let finished = !more
                && st.close_after
                && !matches!(st.state, State::App | State::Get | State::Post);
            if more {
                self.txq_push(s);
            }
            if n == 0 && !finished {
                continue;
            }
            let stream = self.stream_handle(s);
            if finished {
                self.free_stream(s);
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
            let (n, done) = self.write_item(s, out.get_mut(pos..).unwrap_or_default());
            pos += n;
            if !done {
                break;
            }
            self.finish_item(s);
        }
        pos
    }

    /// Starts the stream's next item; `false` when there is none.
    fn next_item(&mut self, s: u32) -> bool {
        let st = self.transport.streams[s].0;
        if st.fixed.is_some() {
            self.start(s, Item::Fixed, NONE);
            return true;
        }
        let mut raw = st.raw;
        if let Some(msg) = raw.pop(&mut self.pool) {
            self.transport.streams[s].0.raw = raw;
            self.start(s, Item::Raw, msg);
            return true;
        }
        let sess = st.session;
        match st.state {
            State::Get if sess != NONE && self.engine.sessions[sess].0.get == s => {
                if st.poll_left == 0 {
                    // The long-poll is answered now, with everything queued.
                    let queue = self.engine.sessions[sess].0.queue;
                    if queue.is_empty() {
                        return false;
                    }
                    let mut len = 0usize;
                    for (k, msg) in queue.iter(&self.pool).enumerate() {
                        len += usize::from(k > 0) + self.polling_len(msg);
                    }
                    let slot = &mut self.transport.streams[s].0;
                    slot.poll_left = queue.count;
                    slot.poll_first = true;
                    slot.fixed = Some(Fixed::PollHead(len as u32));
                    slot.fixed_close = !slot.keep_alive || slot.eof;
                    self.start(s, Item::Fixed, NONE);
                    return true;
                }
                let mut q = self.engine.sessions[sess].0.queue;
                match q.pop(&mut self.pool) {
                    Some(msg) => {
                        self.engine.sessions[sess].0.queue = q;
                        self.start(s, Item::PacketPoll, msg);
                        true
                    }
                    None => {
                        // The session went away under the response: cut it short.
                        let slot = &mut self.transport.streams[s].0;
                        slot.poll_left = 0;
                        slot.close_after = true;
                        false
                    }
                }
            }
            State::Ws
                if sess != NONE
                    && self.engine.sessions[sess].0.ws == s
                    && self.engine.sessions[sess].0.transport == Transport::WebSocket =>
            {
                let mut q = self.engine.sessions[sess].0.queue;
                match q.pop(&mut self.pool) {
                    Some(msg) => {
                        self.engine.sessions[sess].0.queue = q;
                        self.start(s, Item::PacketWs, msg);
                        true
                    }
                    None => false,
                }
            }
            _ => false,
        }
    }

    fn start(&mut self, s: u32, item: Item, msg: u32) {
        let reader = if msg == NONE {
            Reader::DONE
        } else {
            self.pool.reader(msg)
        };
        let st = &mut self.transport.streams[s].0;
        st.item = item;
        st.msg = msg;
        st.pos = 0;
        st.reader = reader;
    }

    /// Length of a packet as a polling record (without separator).
    fn polling_len(&self, msg: u32) -> usize {
        let len = self.pool.len(msg);
        if self.pool.is_binary(msg) {
            1 + crate::base64::encoded_len(len)
        } else {
            len
        }
    }

    /// Writes what fits of the current item; `true` when it is complete.
    fn write_item(&mut self, s: u32, out: &mut [u8]) -> (usize, bool) {
        let st = self.transport.streams[s].0;
        match st.item {
            Item::Idle => (0, true),
            Item::Fixed => {
                let mut buf = [0u8; FIXED_MAX];
                let total = self.render_fixed(s, &mut buf);
                let from = (st.pos as usize).min(total);
                let n = (total - from).min(out.len());
                out[..n].copy_from_slice(&buf[from..from + n]);
                self.transport.streams[s].0.pos += n as u32;
                (n, from + n == total)
            }
            Item::Raw => {
                let mut r = st.reader;
                let n = self.pool.read(&mut r, out);
                self.transport.streams[s].0.reader = r;
                (n, r.left() == 0)
            }
            Item::PacketWs => {
                let len = self.pool.len(st.msg);
                let header = FrameHeader {
                    fin: true,
                    opcode: if self.pool.is_binary(st.msg) {
                        OpCode::Binary
                    } else {
                        OpCode::Text
                    },
                    mask: None,
                    payload_len: len as u64,
                };
                let mut prefix = [0u8; 14];
                let hlen = header.encode(&mut prefix).unwrap_or(0);
                self.write_packet(s, out, &prefix[..hlen], false)
            }
            Item::PacketPoll => {
                let binary = self.pool.is_binary(st.msg);
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
                self.write_packet(s, out, &prefix[..plen], binary)
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
    ) -> (usize, bool) {
        let st = self.transport.streams[s].0;
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
                n += self.write_base64(&mut r, out.get_mut(n..).unwrap_or_default(), into);
            } else {
                n += self.pool.read(&mut r, out.get_mut(n..).unwrap_or_default());
            }
        }
        let slot = &mut self.transport.streams[s].0;
        slot.reader = r;
        slot.pos = (st.pos as usize + n) as u32;
        let done = pos >= prefix.len()
            && r.left() == 0
            && (!base64 || (slot.pos as usize - prefix.len()).is_multiple_of(4));
        (n, done)
    }

    /// Base64 of the reader's bytes into `out`, resuming `into` characters into the
    /// current 4-character group. The reader moves past a group only once all of it is
    /// written.
    fn write_base64(&self, r: &mut Reader, out: &mut [u8], mut into: usize) -> usize {
        let mut n = 0;
        while n < out.len() && r.left() > 0 {
            let mut peek = *r;
            let mut group = [0u8; 3];
            let got = self.pool.read(&mut peek, &mut group);
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

    fn finish_item(&mut self, s: u32) {
        let st = self.transport.streams[s].0;
        let sess = st.session;
        {
            let slot = &mut self.transport.streams[s].0;
            slot.item = Item::Idle;
            slot.msg = NONE;
            slot.pos = 0;
            slot.reader = Reader::DONE;
        }
        match st.item {
            Item::Idle => {}
            Item::Fixed => {
                self.transport.streams[s].0.fixed = None;
            }
            Item::Raw => self.pool.release(st.msg),
            Item::PacketPoll => {
                self.pool.release(st.msg);
                let slot = &mut self.transport.streams[s].0;
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
                    self.transport.set_state(s, next, self.now);
                    if sess != NONE && self.engine.sessions[sess].0.get == s {
                        self.engine.sessions[sess].0.get = NONE;
                        if self.engine.sessions[sess].0.draining
                            && self.engine.sessions[sess].0.queue.is_empty()
                        {
                            self.end_transport(sess);
                        }
                    }
                }
            }
            Item::PacketWs => {
                self.pool.release(st.msg);
                if sess != NONE
                    && self.engine.sessions[sess].0.draining
                    && self.engine.sessions[sess].0.queue.is_empty()
                    && self.engine.sessions[sess].0.ws == s
                {
                    // The close packet is out: close the WebSocket after it.
                    self.end_transport(sess);
                }
            }
        }
    }

    fn render_fixed(&self, s: u32, buf: &mut [u8; FIXED_MAX]) -> usize {
        let st = &self.transport.streams[s].0;
        let Some(fixed) = st.fixed else {
            return 0;
        };
        let conn = if st.fixed_close {
            Connection::Close
        } else {
            Connection::KeepAlive
        };
        let cors = self.config.cors_origin.map(|o| Cors::new(o.as_bytes()));
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

    /// The next event for the application, its bytes copied into `buf`; `Ok(None)` when
    /// there is none.
    ///
    /// When `buf` is too small the event stays queued and the error says how big it must
    /// be. Events without bytes need no room at all.
    pub fn poll_event<'b>(
        &mut self,
        buf: &'b mut [u8],
    ) -> Result<Option<Event<'b>>, BufferTooSmall> {
        self.reap_sockets();
        self.reap_sessions();
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
