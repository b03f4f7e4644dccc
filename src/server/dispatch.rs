//! What passes between the layers (see "Inside" in the [module docs](super)). The
//! server's own methods here carry the work from one layer to the next:
//!
//! * input, upwards: a stream's bytes become a request (transport), a request for an
//!   endpoint opens or finds a session and hands it packets (Engine.IO), a session's
//!   messages become Socket.IO packets (Socket.IO), with the room checks that keep a
//!   client's input waiting in the driver's buffer;
//! * output, downwards: a command's packets go to the session's queue, the queue to the
//!   stream that writes it, and what a written item means for the session comes back;
//! * what one layer's change means for another: a session that closes ends its sockets
//!   first, a stream that goes away ends what its session had on it;
//! * the timers of the transport and of the sessions.

use super::engine::{Bin, Pkt, REPLY_ROOM, Route, Up};
use super::event::Event;
use super::http::{Framing, Head, ws_accept};
use super::ix::Link;
use super::pool::{VIEWS, stat};
use super::rooms::Walk;
use super::session::{SessionIx, State as SessState, Transport as SessTransport};
use super::socketio::{
    Handled, Held, Input, MAX_EMIT_ATTACHMENTS, MAX_NAME, PacketMsgs, SockState, SocketIoLayer,
    SocketIx, encode_packet,
};
use super::storage::NONE;
use super::stream::{Fixed, Item, State, StreamIx, Timer};
use super::transmit::Finished;
#[cfg(feature = "alloc")]
use super::transmit::Pieces;
use super::{
    Args, CloseReason, CommandError, DisconnectReason, EIO3, MSGPACK, NamespaceId, Protocol,
    Resource, Server, SocketId, StreamId, Targets, Transmit,
};
use crate::engine::v3::{V3Payload, V3Record};
use crate::engine::{Payload, Record as PollRecord, TextPacket};
use crate::http::{EMPTY_HEADER, Request};
use crate::ws::{self, CloseCode, Incoming, Peeked};
use crate::{BufferTooSmall, Instant, sio};

/// What `post_step` reads a POST body from: with the msgpack parser compiled in, writable
/// (a binary record is decoded in place, see [`decoded_in_place`]).
#[cfg(feature = "msgpack-parser")]
type PostInput<'x> = &'x mut [u8];
#[cfg(not(feature = "msgpack-parser"))]
type PostInput<'x> = &'x [u8];

/// The base64 of `n` bytes at `at` in `input`, decoded in place: the packet of the msgpack
/// parser that a polling body's binary record carries.
#[cfg(feature = "msgpack-parser")]
fn decoded_in_place(input: &mut [u8], at: usize, n: usize) -> Option<&[u8]> {
    let text = input.get_mut(at..at.checked_add(n)?)?;
    let m = crate::base64::decode_in_place(text)?;
    text.get(..m)
}

#[cfg(not(feature = "msgpack-parser"))]
fn decoded_in_place(_: &[u8], _: usize, _: usize) -> Option<&[u8]> {
    None
}

impl Server<'_> {
    /// Whether the stream has bytes it could write now.
    fn has_output(&self, s: StreamIx) -> bool {
        let st = &self.transport.streams[s].0;
        st.tx_busy()
            || self
                .engine
                .writes_for(st.session, s, st.state)
                .is_some_and(|sess| !self.engine.sessions[sess].0.queue.is_empty())
    }

    fn write_stream(&mut self, s: StreamIx, out: &mut [u8]) -> usize {
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
            self.item_written(s);
        }
        pos
    }

    /// [`write_stream`](Self::write_stream) for a vectored transmit: up to `out.len()`
    /// bytes in `pieces`, large WebSocket messages lent rather than copied.
    #[cfg(feature = "alloc")]
    fn write_stream_vectored(&mut self, s: StreamIx, out: &mut [u8], pieces: &mut Pieces) -> usize {
        while pieces.total < out.len() {
            if self.transport.streams[s].0.item == Item::Idle && !self.next_item(s) {
                break;
            }
            let (_, done) =
                self.transport
                    .write_item_vectored(s, out, out.len(), pieces, &mut self.pool);
            if !done {
                break;
            }
            self.item_written(s);
        }
        pieces.total
    }

    /// The stream's current item is all written: it ends, and the session learns what
    /// that means.
    #[inline(always)]
    fn item_written(&mut self, s: StreamIx) {
        let sess = self.transport.streams[s].0.session.get();
        match (self.transport.finish_item(s, &mut self.pool), sess) {
            (Finished::Poll, Some(sess)) => self.poll_answered(sess, s),
            (Finished::Packet, Some(sess)) => self.packet_sent(sess, s),
            _ => {}
        }
    }

    /// Starts the stream's next item, its own or its session's; `false` when there is
    /// none.
    fn next_item(&mut self, s: StreamIx) -> bool {
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

    /// The long-poll response on `stream` is complete: the session waits for the next
    /// GET, or its transport ends if that response carried its close.
    pub(super) fn poll_answered(&mut self, sess: SessionIx, stream: StreamIx) {
        if self.engine.sessions[sess].0.get.is(stream) {
            self.engine.sessions[sess].0.get = Link::NONE;
            if self.engine.sessions[sess].0.draining
                && self.engine.sessions[sess].0.queue.is_empty()
            {
                self.engine
                    .end_transport(sess, &mut self.transport, &mut self.pool);
            }
        }
    }

    /// A packet went out on the WebSocket `stream`: if it was the session's close packet,
    /// the WebSocket closes after it.
    pub(super) fn packet_sent(&mut self, sess: SessionIx, stream: StreamIx) {
        if self.engine.sessions[sess].0.draining
            && self.engine.sessions[sess].0.queue.is_empty()
            && self.engine.sessions[sess].0.ws.is(stream)
        {
            self.engine
                .end_transport(sess, &mut self.transport, &mut self.pool);
        }
    }

    /// Runs the session's due timers.
    pub(super) fn run_timers(&mut self, sess: SessionIx, now: u64) {
        let s = self.engine.sessions[sess].0;
        if s.state == SessState::Closing {
            if s.draining && s.aux_at != 0 && s.aux_at <= now {
                self.engine
                    .end_transport(sess, &mut self.transport, &mut self.pool);
            }
            return;
        }
        if s.hb_at != 0 && s.hb_at <= now {
            if s.awaiting_pong {
                self.close_session(sess, CloseReason::PingTimeout, false);
                return;
            }
            // Shedding may close this very session (it holds more than its share).
            if !self.nodes_for(1) || self.engine.sessions[sess].0.state != SessState::Open {
                // No queue entry for the ping: the client cannot be kept alive.
                self.close_session(sess, CloseReason::SlowReader, false);
                return;
            }
            let slot = &mut self.engine.sessions[sess].0;
            if !slot.queue.push(&mut self.pool, stat::PING) {
                self.close_session(sess, CloseReason::SlowReader, false);
                return;
            }
            slot.awaiting_pong = true;
            // From the scheduled ping time, however late this call came.
            slot.hb_at = s.hb_at.saturating_add(u64::from(self.config.ping_timeout));
            self.engine.notify_output(sess, &mut self.transport);
        }
        if s.connect_at != 0 && s.connect_at <= now {
            if !self
                .socketio
                .has_connected(&self.engine.sessions[sess].0.sio)
            {
                self.close_session(sess, CloseReason::ConnectTimeout, false);
                return;
            }
            self.engine.sessions[sess].0.connect_at = 0;
        }
        if s.aux_at != 0 && s.aux_at <= now {
            if s.probed {
                self.close_session(sess, CloseReason::UpgradeAbandoned, false);
                return;
            }
            self.engine
                .abort_upgrade(sess, &mut self.transport, &mut self.pool);
        }
        if s.ack_at != 0 && s.ack_at <= now {
            self.expire_acks(sess, now);
        }
        self.engine.reschedule(sess);
    }

    /// Writes the next bytes to send, for one stream, into `out`.
    ///
    /// Streams take turns: one call serves one stream, as much as fits. `None` when no
    /// stream has anything to write (or to close).
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Option<Transmit> {
        self.pool.return_lent();
        self.next_transmit(|server, s| server.write_stream(s, out))
    }

    /// [`poll_transmit`](Self::poll_transmit) without copying large payloads: the next
    /// bytes to send, for one stream, as up to `parts.len()` (at most 64) slices in order,
    /// written with one vectored write (`writev`). Frame headers and small packets are
    /// copied into `out`, as `poll_transmit` does; the payload of a WebSocket frame whose
    /// message was stored in big pool blocks ([`Capacity::big_blocks`]) is lent straight
    /// from them, in runs of 1 KiB or more.
    ///
    /// Returns the transmit ([`Transmit::len`] is the bytes of all its parts, at most
    /// `out.len()`) and how many of `parts` it filled. The slices borrow the server:
    /// write them, keep what the stream did not take, then call the server again. The
    /// blocks lent stay in use until the next `poll_transmit` or `poll_transmit_vectored`
    /// (at most 16 messages at a time; bytes past that are copied), so poll until `None`,
    /// as with `poll_transmit`. `parts` must not be empty.
    ///
    /// [`Capacity::big_blocks`]: super::Capacity::big_blocks
    #[cfg(feature = "alloc")]
    #[must_use]
    pub fn poll_transmit_vectored<'s>(
        &'s mut self,
        out: &'s mut [u8],
        parts: &mut [&'s [u8]],
    ) -> Option<(Transmit, usize)> {
        self.pool.return_lent();
        if parts.is_empty() {
            return None;
        }
        let mut pieces = Pieces::new(parts.len());
        let t =
            self.next_transmit(|server, s| server.write_stream_vectored(s, out, &mut pieces))?;
        let server: &'s Self = self;
        let out: &'s [u8] = out;
        Some((t, pieces.fill(out, &server.pool, parts)))
    }

    /// The next transmit, the stream's bytes written by `write`.
    fn next_transmit(
        &mut self,
        mut write: impl FnMut(&mut Self, StreamIx) -> usize,
    ) -> Option<Transmit> {
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
            let n = write(self, s);
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

    /// The next event for the application, its bytes copied into `buf`; `Ok(None)` when
    /// there is none.
    ///
    /// When `buf` is too small the event stays queued and the error says how big it must
    /// be. Events without bytes need no room at all.
    ///
    /// The stored packet of an event or ack with attachments stays in the pool until the
    /// next call (with `alloc`): an emit, ack or broadcast given its attachments back
    /// ([`Args::attached`](crate::sio::Args::attached)) meanwhile shares it instead of
    /// copying them.
    pub fn poll_event<'b>(
        &mut self,
        buf: &'b mut [u8],
    ) -> Result<Option<Event<'b>>, BufferTooSmall> {
        // The event handed out before is the application's no more.
        let held = core::mem::replace(&mut self.socketio.held, Held::NONE);
        self.pool.release(held.msg);
        self.socketio.reap_sockets(&mut self.events);
        self.engine.reap_sessions(&mut self.events);
        let Some(r) = self.events.front().copied() else {
            return Ok(None);
        };
        let mut len = 0;
        if let Some(p) = r.payload() {
            let total = self.pool.len(p.msg).saturating_sub(usize::from(p.skip));
            if total > buf.len() {
                return Err(BufferTooSmall { required: total });
            }
            let mut reader = self.pool.reader(p.msg);
            self.pool.skip(&mut reader, usize::from(p.skip));
            len = self.pool.read(&mut reader, buf);
            if let Some(count) = r.attachments().filter(|&n| VIEWS && n > 0) {
                // Kept until the next call: its attachments may be sent on by reference.
                let before = (p.first + p.second) as usize;
                self.pool.retain(p.msg);
                self.socketio.held = Held {
                    msg: p.msg,
                    at: u32::from(p.skip) + before as u32,
                    copy: buf.as_ptr() as usize + before,
                    len: len.saturating_sub(before),
                    count,
                };
            }
            if let Some(from) = r.session()
                && let Some(sess) = self.engine.sessions.ix(from.index)
                && self.engine.sessions[sess].0.era == from.era
            {
                // The application has it: the client may send more.
                let held = self.pool.len(p.msg) as u32;
                let s = &mut self.engine.sessions[sess].0;
                s.inbound = s.inbound.saturating_sub(held);
                s.inbound_events = s.inbound_events.saturating_sub(1);
            }
            self.pool.release(p.msg);
        }
        self.events.pop();
        let buf: &'b [u8] = buf;
        Ok(r.event(buf.get(..len).unwrap_or_default()))
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called, or `None` when
    /// no timer runs. A deadline in the past means now (the previous call could not finish
    /// because the event queue was full).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let t = match (
            self.engine.next_deadline(),
            self.transport.next_stream_deadline(),
        ) {
            (Some((a, _)), Some((b, _))) => Some(a.min(b)),
            (Some((a, _)), None) | (None, Some((a, _))) => Some(a),
            (None, None) => None,
        };
        let r = match self.config.recovery {
            keep if super::recovery::ENABLED && keep != 0 => {
                self.socketio.recovery_deadline(keep, &self.pool)
            }
            _ => None,
        };
        let t = match (t, r) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(Instant::from_millis(t))
    }

    /// Runs every timer due at `now`: pings, ping timeouts, connect, upgrade and close
    /// timeouts, acknowledgement timeouts, and the HTTP deadlines of connections
    /// ([`ServerConfig::headers_timeout`](super::ServerConfig::headers_timeout),
    /// [`ServerConfig::request_timeout`](super::ServerConfig::request_timeout)). Safe to
    /// call at any time.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        let now = self.now;
        if self.recovery_on() {
            self.socketio
                .expire_recovery(now, self.config.recovery, &mut self.pool);
        }
        while let Some((at, s)) = self.transport.next_stream_deadline() {
            if at > now {
                break;
            }
            self.transport.expire(s, &mut self.pool);
        }
        // Each round either moves the session's deadline or stops: a round that could not
        // act (no room for its events) leaves the deadline where it was.
        while let Some((at, sess)) = self.engine.next_deadline() {
            if at > now {
                break;
            }
            self.run_timers(sess, now);
            if self.engine.next_deadline() == Some((at, sess)) {
                break;
            }
        }
    }

    /// Queues the broadcast's messages for one socket unless it is marked; marks it.
    fn deliver(
        &mut self,
        sock: SocketIx,
        stamp: u32,
        msgs: &[u32],
        total: usize,
        sent: &mut usize,
    ) {
        let Some(sess) = self.socketio.take_target(sock, stamp) else {
            return;
        };
        if self.engine.sessions[sess].0.state != SessState::Open {
            return;
        }
        if self.engine.sessions[sess].0.queue.bytes as usize + total
            > self.config.max_queued_bytes as usize
        {
            self.close_session(sess, CloseReason::SlowReader, false);
            return;
        }
        for &m in msgs {
            self.pool.retain(m);
            // Room for every entry was checked before the first delivery.
            if !self.engine.sessions[sess].0.queue.push(&mut self.pool, m) {
                self.pool.release(m);
            }
        }
        self.engine.notify_output(sess, &mut self.transport);
        *sent += 1;
    }

    /// Emits `event` to the sockets of `namespace` that `to` selects; returns how many got
    /// it. The packet is encoded once and shared by every recipient's queue. A recipient
    /// whose queue would pass `max_queued_bytes` is disconnected
    /// ([`CloseReason::SlowReader`]) instead, and not counted.
    /// When the queue entries ([`Capacity::nodes`](super::Capacity::nodes)) cannot take one
    /// per recipient, the sessions holding more than their share of them (the table's
    /// capacity over the session table's) are closed as slow readers first; only if that is
    /// not enough does the broadcast fail with [`CommandError::Full`].
    pub fn broadcast(
        &mut self,
        namespace: NamespaceId,
        to: &Targets<'_>,
        event: &str,
        args: Args<'_>,
    ) -> Result<usize, CommandError> {
        let ns = namespace.0;
        if ns >= self.socketio.namespace_count {
            return Err(CommandError::WrongState);
        }
        if sio::RESERVED_EVENT_NAMES.contains(&event) {
            return Err(CommandError::InvalidName);
        }
        // An upper bound of the recipients, to check the queue entries up front.
        let bound = self.socketio.target_bound(ns, to);
        let per = 1 + args.blob_count();
        let need = bound.saturating_mul(per);
        if !self.nodes_for(need) {
            return Err(CommandError::Full(Resource::Nodes));
        }
        let mut name = [0u8; MAX_NAME];
        let ns_name = self.socketio.ns_name(ns);
        name[..ns_name.len()].copy_from_slice(ns_name.as_bytes());
        let ns_name = core::str::from_utf8(&name[..ns_name.len()]).unwrap_or("/");
        let mut msgs: PacketMsgs = [NONE; 1 + MAX_EMIT_ATTACHMENTS];
        let offset = self
            .recovery_on()
            .then(|| self.socketio.recovery.take_offset());
        let msgpack = self.msgpack_on();
        let mut encoded = encode_packet(
            &mut self.pool,
            ns_name,
            None,
            Some(event),
            &args,
            offset,
            msgpack,
            &self.socketio.held,
            &mut msgs,
        );
        // The recovery log gives its blocks back before a broadcast fails for them.
        if encoded == Err(CommandError::Full(Resource::Pool))
            && self.socketio.drop_log(&mut self.pool)
        {
            encoded = encode_packet(
                &mut self.pool,
                ns_name,
                None,
                Some(event),
                &args,
                offset,
                msgpack,
                &self.socketio.held,
                &mut msgs,
            );
        }
        let n = encoded?;
        let msgs = &msgs[..n];
        let total: usize = msgs.iter().map(|&m| self.pool.len(m)).sum();
        let stamp = self.socketio.start_broadcast(ns, to);
        let mut sent = 0;
        let mut walk = Walk::START;
        while let Some(s) = self.socketio.next_target(&mut walk, ns, to) {
            self.deliver(s, stamp, msgs, total, &mut sent);
        }
        // Logged after the delivery, so that the log never takes the queue entries the
        // recipients were promised.
        if let Some(offset) = offset {
            self.log_packet(offset, ns, msgs, to, None);
        }
        for &m in msgs {
            self.pool.release(m);
        }
        Ok(sent)
    }

    /// Calls `f` once with each connected socket of `namespace` that `to` selects (the
    /// same sockets a [`broadcast`](Self::broadcast) to `to` reaches); returns how many.
    /// `f` sees the server as it is, to read a socket's id and rooms.
    pub fn select(
        &mut self,
        namespace: NamespaceId,
        to: &Targets<'_>,
        mut f: impl FnMut(&Self, SocketId),
    ) -> usize {
        if namespace.0 >= self.socketio.namespace_count {
            return 0;
        }
        self.each_target(namespace.0, to, |server, s| {
            f(server, server.socketio.handle(s));
        })
    }

    /// Puts every socket of `namespace` that `to` selects in each of `rooms` (Node's
    /// `io.in(...).socketsJoin(rooms)` on this server); returns how many sockets were
    /// selected. A socket that cannot take a room (see [`join`](Self::join)) does not stop
    /// the others: the first such error is returned once they are done.
    pub fn sockets_join(
        &mut self,
        namespace: NamespaceId,
        to: &Targets<'_>,
        rooms: &[&str],
    ) -> Result<usize, CommandError> {
        if namespace.0 >= self.socketio.namespace_count {
            return Err(CommandError::WrongState);
        }
        let max = self.config.max_rooms_per_socket;
        let mut first = None;
        let n = self.each_target(namespace.0, to, |server, s| {
            for room in rooms {
                if let Err(e) = server.socketio.join(s, room, max) {
                    first.get_or_insert(e);
                }
            }
        });
        first.map_or(Ok(n), Err)
    }

    /// Takes every socket of `namespace` that `to` selects out of each of `rooms` (Node's
    /// `socketsLeave`); returns how many sockets were selected.
    pub fn sockets_leave(
        &mut self,
        namespace: NamespaceId,
        to: &Targets<'_>,
        rooms: &[&str],
    ) -> usize {
        if namespace.0 >= self.socketio.namespace_count {
            return 0;
        }
        self.each_target(namespace.0, to, |server, s| {
            for room in rooms {
                server.socketio.leave(s, room);
            }
        })
    }

    /// Disconnects every socket of `namespace` that `to` selects (Node's
    /// `disconnectSockets(close)`): as [`disconnect`](Self::disconnect) does, or, with
    /// `close`, by closing each one's whole session as [`close`](Self::close) does (its
    /// other namespaces too). Returns how many sockets were selected.
    pub fn disconnect_sockets(
        &mut self,
        namespace: NamespaceId,
        to: &Targets<'_>,
        close: bool,
    ) -> usize {
        if namespace.0 >= self.socketio.namespace_count {
            return 0;
        }
        self.each_target(namespace.0, to, |server, s| {
            if close {
                if let Ok(sess) = server.socket_session(s) {
                    server.close_session(sess, CloseReason::ServerClose, true);
                }
            } else {
                // The queue may be full: the socket ends all the same.
                let _ = server.disconnect_ix(s);
            }
        })
    }

    /// Walks the connected sockets of namespace `ns` that `to` selects, each once, calling
    /// `f` with each (which may change its rooms or end it: the walk reads ahead).
    fn each_target(
        &mut self,
        ns: u16,
        to: &Targets<'_>,
        mut f: impl FnMut(&mut Self, SocketIx),
    ) -> usize {
        let stamp = self.socketio.start_broadcast(ns, to);
        let mut walk = Walk::START;
        let mut n = 0;
        while let Some(s) = self.socketio.next_target(&mut walk, ns, to) {
            if self.socketio.take_target(s, stamp).is_some() {
                n += 1;
                f(self, s);
            }
        }
        n
    }

    /// Ends connected socket `sock` with a DISCONNECT to its client (see
    /// [`disconnect`](Self::disconnect)).
    pub(super) fn disconnect_ix(&mut self, sock: SocketIx) -> Result<(), CommandError> {
        let sess = self.socket_session(sock)?;
        let msgpack = self.msgpack_on();
        let msg = self
            .socketio
            .disconnect_packet(sock, msgpack, &mut self.pool)?;
        let result = self.queue_packets(sess, &[msg]);
        if self.socketio.sockets[sock].0.state == SockState::Connected {
            self.close_socket(sock, DisconnectReason::ServerDisconnect);
        }
        result
    }

    /// Ends a socket (see [`SocketIoLayer::close_socket`]).
    pub(super) fn close_socket(&mut self, sock: SocketIx, reason: DisconnectReason) {
        let Some(sess) = self.socketio.sockets[sock].0.session.get() else {
            return;
        };
        self.socketio.close_socket(
            sock,
            reason,
            None,
            &mut self.engine.sessions[sess].0.sio,
            &mut self.pool,
            &mut self.events,
        );
    }

    /// Recomputes the session's earliest ack deadline.
    pub(super) fn refresh_ack_deadline(&mut self, sess: SessionIx) {
        self.engine.sessions[sess].0.ack_at = self
            .socketio
            .ack_deadline(&self.engine.sessions[sess].0.sio);
    }

    /// Reports the acks of the session that timed out by `now`, as far as the event queue
    /// has room.
    pub(super) fn expire_acks(&mut self, sess: SessionIx, now: u64) {
        let session = &mut self.engine.sessions[sess].0;
        session.ack_at = self
            .socketio
            .expire_acks(&session.sio, now, &mut self.events);
    }

    /// Handles a text Engine.IO message of a Socket.IO session.
    pub(super) fn sio_text(&mut self, sess: SessionIx, text: &str) -> Result<(), CloseReason> {
        if self.msgpack_on() {
            // The msgpack parser's packets are binary.
            return Err(CloseReason::ParseError);
        }
        self.sio_input(sess, |sio, cx| sio.on_text(cx, text))
    }

    /// Handles a binary Engine.IO message of a Socket.IO session.
    pub(super) fn sio_binary(&mut self, sess: SessionIx, data: Bin<'_>) -> Result<(), CloseReason> {
        if self.msgpack_on() {
            // A whole packet (a polling record was decoded in place by `post_step`).
            let Bin::Raw(msg) = data else {
                return Err(CloseReason::ParseError);
            };
            return self.sio_input(sess, |sio, cx| sio.on_msgpack(cx, msg));
        }
        self.sio_input(sess, |_, cx| SocketIoLayer::on_binary(cx, data))
    }

    /// Hands the Socket.IO layer a packet of session `sess` (`handle` does it, with the
    /// session's [`Input`]), then does what it left for the session.
    fn sio_input(
        &mut self,
        sess: SessionIx,
        handle: impl FnOnce(&mut SocketIoLayer<'_>, &mut Input<'_, '_>) -> Result<Handled, CloseReason>,
    ) -> Result<(), CloseReason> {
        let session = &mut self.engine.sessions[sess].0;
        let mut cx = Input {
            sess,
            era: session.era,
            eio3: EIO3 && session.eio3,
            ss: &mut session.sio,
            config: &self.config,
            pool: &mut self.pool,
            events: &mut self.events,
            rng: &mut self.rng,
            now: self.now,
        };
        let handled = handle(&mut self.socketio, &mut cx)?;
        self.apply(sess, handled);
        Ok(())
    }

    /// Does what a Socket.IO packet left to do for the Engine.IO session.
    fn apply(&mut self, sess: SessionIx, handled: Handled) {
        if handled.held > 0 || handled.held_events > 0 {
            self.engine
                .hold_input(sess, handled.held, handled.held_events);
        }
        if handled.acks_changed {
            self.refresh_ack_deadline(sess);
            self.engine.reschedule(sess);
        }
        if let Some(reply) = handled.reply {
            // A failure closed the session already.
            let _ = self.queue_packets(sess, &[reply]);
        }
    }

    /// Whether handling a packet of `len` bytes is sure to find room for what it makes
    /// (shedding the sessions that hold more than their share of queue entries when those
    /// run short). The events of what ended while the queue was full go first: a packet
    /// waits behind them, so a CONNECT finds its lost socket parked, and the application
    /// sees a Disconnect before what came after it.
    /// A binary packet being assembled whose message went past its first block in small
    /// blocks takes its next attachment in small ones.
    pub(super) fn room_for_packet(&mut self, sess: SessionIx, len: usize) -> bool {
        self.socketio.reap_sockets(&mut self.events);
        self.engine.reap_sessions(&mut self.events);
        let into = if super::BIG_BLOCKS {
            self.engine.sessions[sess].0.sio.bin_msg
        } else {
            NONE
        };
        self.events.has_room(1)
            && self
                .pool
                .has_room_into(into, len.saturating_add(REPLY_ROOM))
            && self.nodes_for(4)
    }

    /// Handles one packet from the session's current transport: the Engine.IO layer's,
    /// then the Socket.IO layer's if it goes up.
    pub(super) fn on_packet(&mut self, sess: SessionIx, pkt: Pkt<'_>) -> Result<(), CloseReason> {
        let up = self
            .engine
            .receive(sess, pkt, &self.config, &mut self.pool, &mut self.events)?;
        match up {
            Up::Nothing => Ok(()),
            Up::Text(text) => self.sio_text(sess, text),
            Up::Binary(data) => self.sio_binary(sess, data),
            Up::Ping => {
                // A v3 client's ping: the pong, and another interval and timeout for it.
                if !self.nodes_for(1) || self.engine.sessions[sess].0.state != SessState::Open {
                    return Err(CloseReason::SlowReader);
                }
                let at = self
                    .now
                    .saturating_add(u64::from(self.config.ping_interval))
                    .saturating_add(u64::from(self.config.ping_timeout));
                let slot = &mut self.engine.sessions[sess].0;
                if !slot.queue.push(&mut self.pool, stat::PONG) {
                    return Err(CloseReason::SlowReader);
                }
                slot.hb_at = at;
                self.engine.reschedule(sess);
                self.engine.notify_output(sess, &mut self.transport);
                Ok(())
            }
        }
    }

    /// Queues packets for a session, checking its queue limit.
    pub(super) fn queue_packets(
        &mut self,
        sess: SessionIx,
        msgs: &[u32],
    ) -> Result<(), CommandError> {
        let release = |server: &mut Self| {
            for &m in msgs {
                server.pool.release(m);
            }
        };
        let s = self.engine.sessions[sess].0;
        if s.state != SessState::Open {
            release(self);
            return Err(CommandError::UnknownSession);
        }
        let total: usize = msgs.iter().map(|&m| self.pool.len(m)).sum();
        if s.queue.bytes as usize + total > self.config.max_queued_bytes as usize {
            release(self);
            self.close_session(sess, CloseReason::SlowReader, false);
            return Err(CommandError::SlowReader);
        }
        if !self.nodes_for(msgs.len()) {
            release(self);
            return Err(CommandError::Full(Resource::Nodes));
        }
        if self.engine.sessions[sess].0.state != SessState::Open {
            // It was one of those holding more than their share.
            release(self);
            return Err(CommandError::SlowReader);
        }
        let queue = &mut self.engine.sessions[sess].0.queue;
        for &m in msgs {
            queue.push(&mut self.pool, m);
        }
        self.engine.notify_output(sess, &mut self.transport);
        Ok(())
    }

    /// Whether `n` queue entries can be had, shedding the sessions that hold more than
    /// their share when they cannot.
    pub(super) fn nodes_for(&mut self, n: usize) -> bool {
        if self.pool.nodes.can_take(n) {
            return true;
        }
        // The recovery log gives its entries back before any client is shed.
        if super::recovery::ENABLED
            && self.socketio.drop_log(&mut self.pool)
            && self.pool.nodes.can_take(n)
        {
            return true;
        }
        self.shed_queue_hogs() && self.pool.nodes.can_take(n)
    }

    /// The table of queue entries is short: closes, as slow readers, the sessions whose
    /// queues hold more than their share of it (its capacity over the session table's), so
    /// that clients that read go on being served while those that do not (a polling client
    /// gone between two requests, waiting for its ping timeout) give their entries back.
    /// Whether any was closed.
    pub(super) fn shed_queue_hogs(&mut self) -> bool {
        let share = (self.pool.nodes.capacity() / self.engine.sessions.capacity().max(1)).max(1);
        let mut shed = false;
        for sess in self.engine.sessions.indices() {
            let s = &self.engine.sessions[sess].0;
            if s.state == SessState::Open && s.queue.count as usize > share {
                self.close_session(sess, CloseReason::SlowReader, false);
                shed = true;
            }
        }
        shed
    }

    /// The stream that carried session `sess` (its long-poll or its WebSocket) is gone: the
    /// session ends, or, when it was closing already, its transport does.
    fn carrier_gone(&mut self, sess: SessionIx, stream: StreamIx, reason: CloseReason) {
        self.transport.set_state(stream, State::Done);
        if self.engine.sessions[sess].0.state == SessState::Open {
            self.close_session(sess, reason, false);
        } else {
            self.engine
                .end_transport(sess, &mut self.transport, &mut self.pool);
        }
    }

    /// A stream a session uses ended (EOF or reset): what that means for the session.
    pub(super) fn stream_gone(&mut self, stream: StreamIx, reason: CloseReason) {
        let st = self.transport.streams[stream].0;
        let Some(sess) = st.session.get() else {
            return;
        };
        let s = self.engine.sessions[sess].0;
        match st.state {
            State::Get if s.get.is(stream) => {
                // An abandoned long-poll ends the session (PROTOCOL.md A.7).
                self.engine.sessions[sess].0.get = Link::NONE;
                self.carrier_gone(sess, stream, reason);
            }
            State::Post if s.post.is(stream) => {
                self.engine.sessions[sess].0.post = Link::NONE;
                self.transport.set_state(stream, State::Done);
                self.close_session(sess, reason, false);
            }
            State::Ws if s.ws.is(stream) => {
                self.engine.sessions[sess].0.ws = Link::NONE;
                self.carrier_gone(sess, stream, reason);
            }
            State::Probe if s.ws.is(stream) => {
                self.engine.sessions[sess].0.ws = Link::NONE;
                self.transport.set_state(stream, State::Done);
                if s.probed {
                    self.close_session(sess, CloseReason::UpgradeAbandoned, false);
                } else {
                    let slot = &mut self.engine.sessions[sess].0;
                    slot.transport = SessTransport::Polling;
                    slot.aux_at = 0;
                    self.engine.reschedule(sess);
                    self.engine.notify_output(sess, &mut self.transport);
                }
            }
            _ => {}
        }
        self.engine.free_if_done(sess);
    }

    /// Ends a session: its sockets first, then the session itself (see
    /// [`EngineLayer::close`](super::session::EngineLayer::close)).
    pub(super) fn close_session(&mut self, sess: SessionIx, reason: CloseReason, graceful: bool) {
        if self.engine.sessions[sess].0.state != SessState::Open {
            return;
        }
        let kept = core::mem::replace(&mut self.engine.sessions[sess].0.handshake, NONE);
        if kept != NONE {
            self.pool.release(kept);
        }
        // Node's recoverable reasons: the client may come back into its sockets. An
        // Engine.IO close packet is one (Node's "transport close"): socket.io-client sends
        // it over polling when its engine closes, and an explicit disconnect has ended its
        // sockets with a DISCONNECT before. A session the server closes is one too (Node's
        // "forced close", "forced server close" and "server shutting down"): an explicit
        // `disconnect` has sent DISCONNECT and ended the socket first.
        // A v3 client was given no pid: it cannot come back.
        let park_at = (self.recovery_on()
            && !(EIO3 && self.engine.sessions[sess].0.eio3)
            && matches!(
                reason,
                CloseReason::TransportClose
                    | CloseReason::TransportError
                    | CloseReason::PingTimeout
                    | CloseReason::ClientClose
                    | CloseReason::ServerClose
            ))
        .then_some(self.now);
        self.socketio.close_session(
            &mut self.engine.sessions[sess].0.sio,
            reason,
            park_at,
            &mut self.pool,
            &mut self.events,
        );
        self.engine.close(
            sess,
            reason,
            graceful,
            &self.config,
            &mut self.transport,
            &mut self.pool,
        );
        self.engine.report_end(sess, &self.config, &mut self.events);
    }

    /// Offers the bytes received on `stream` and not yet consumed (earlier leftovers
    /// first, new bytes after them); returns how many were consumed from the front. The
    /// rest must be offered again, with more bytes or after the outputs were drained.
    ///
    /// WebSocket payloads are unmasked in place (and, with the msgpack parser, the binary
    /// records of a polling body are decoded in place), so the bytes not consumed may have
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
    /// written; the stream then closes (a [`Transmit`] with `close`).
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
    fn input_ended(&mut self, stream: StreamId, now: Instant) -> Result<StreamIx, CommandError> {
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
    fn http_step(&mut self, s: StreamIx, input: &mut [u8]) -> usize {
        let mut n = self.http_request(s, input);
        if MSGPACK && n == 0 && self.transport.streams[s].0.state == State::Post {
            // A POST whose head was just read (`poll_post`): its body.
            n = self.post_step(s, input);
        }
        self.transport.request_taken(s, n);
        n
    }

    fn http_request(&mut self, s: StreamIx, input: &[u8]) -> usize {
        let mut headers = [EMPTY_HEADER; 32];
        let max_head = self.config.max_http_head as usize;
        let req = match self.transport.read_head(s, input, &mut headers, max_head) {
            Head::Consumed(n) => return n,
            Head::Wait => return 0,
            Head::Request(req) => req,
        };
        let path = req.path();
        match self.config.endpoints.iter().position(|e| e.path == path) {
            Some(ep) => self.engine_request(s, ep as u8, &req, input),
            None => self.transport.app_request(
                s,
                &req,
                input,
                self.config.max_http_body,
                &mut self.pool,
                &mut self.events,
            ),
        }
    }

    fn engine_request(
        &mut self,
        s: StreamIx,
        ep: u8,
        req: &Request<'_, '_>,
        input: &[u8],
    ) -> usize {
        let f = Framing::of(req, input);
        let upgrade = req.wants_websocket_upgrade();
        if super::CORS && !upgrade && !self.transport.pick_cors(s, req, &mut self.pool) {
            return 0;
        }
        let query = req.engine_query();
        // `route` lets `EIO=3` through only when it is allowed.
        let eio3 = EIO3 && query.eio == Some("3");
        let route = self
            .engine
            .route(ep, req.method(), &query, upgrade, &self.config);
        match route {
            Route::Refuse(code) => self.transport.engine_error(s, code, upgrade, &f, input),
            Route::Preflight => {
                self.transport
                    .respond_fixed(s, Fixed::Preflight, !f.complete);
                f.skip(input)
            }
            Route::Get(sess) => {
                self.poll_get(s, sess);
                f.skip(input)
            }
            Route::Post(sess) => self.poll_post(s, sess, req, &f, input),
            Route::Upgrade(sess) => self.upgrade_request(s, sess, req, &f, input),
            Route::OpenPolling => match self.engine.open(
                ep,
                None,
                eio3,
                &self.config,
                &mut self.pool,
                &mut self.events,
                &mut self.rng,
            ) {
                Ok(sess) => {
                    self.keep_handshake(sess, input.get(..f.head).unwrap_or_default());
                    self.poll_get(s, sess);
                    self.opened(sess);
                    f.skip(input)
                }
                Err(_) => self.transport.engine_error(s, 4, upgrade, &f, input),
            },
            Route::OpenWebSocket => self.open_websocket(s, ep, eio3, req, &f, input),
        }
    }

    /// A handshake on a new WebSocket: the `101`, then the session on it.
    fn open_websocket(
        &mut self,
        s: StreamIx,
        ep: u8,
        eio3: bool,
        req: &Request<'_, '_>,
        f: &Framing,
        input: &[u8],
    ) -> usize {
        let Some(accept) = ws_accept(req) else {
            return self.transport.engine_error(s, 3, true, f, input);
        };
        if !self.transport.queue_101(s, &accept, &mut self.pool) {
            return self.transport.engine_error(s, 4, true, f, input);
        }
        match self.engine.open(
            ep,
            Some(s),
            eio3,
            &self.config,
            &mut self.pool,
            &mut self.events,
            &mut self.rng,
        ) {
            Ok(sess) => {
                self.keep_handshake(sess, input.get(..f.head).unwrap_or_default());
                self.transport.set_state(s, State::Ws);
                self.transport.streams[s].0.session = sess.into();
                self.transport.streams[s]
                    .0
                    .v3
                    .set(self.engine.sessions[sess].0.eio3);
                self.engine.notify_output(sess, &mut self.transport);
                self.opened(sess);
                f.head
            }
            Err(_) => {
                self.transport.drop_output(s, &mut self.pool);
                self.transport.engine_error(s, 4, true, f, input)
            }
        }
    }

    /// Keeps the opening request's `head` for the application (`handshake_head` bytes at
    /// most, cut after its last whole line that fits), with the time: nothing when the
    /// setting is 0 or the pool has no room (the session goes on without it).
    fn keep_handshake(&mut self, sess: SessionIx, head: &[u8]) {
        let cap = self.config.handshake_head as usize;
        if cap == 0 {
            return;
        }
        let head = if head.len() <= cap {
            head
        } else {
            let cut = head[..cap]
                .windows(2)
                .rposition(|w| w == b"\r\n")
                .map_or(0, |i| i + 2);
            &head[..cut]
        };
        let now = self.now.to_le_bytes();
        if let Some(msg) = self.pool.msg_from(false, &[&now, head]) {
            self.engine.sessions[sess].0.handshake = msg;
        }
    }

    /// A session just opened: a v3 client of a Socket.IO endpoint is joined to `/` at once,
    /// as Node does (socket.io 2.x never asks for `/`). `open` made sure of the room.
    fn opened(&mut self, sess: SessionIx) {
        if EIO3
            && self.engine.sessions[sess].0.eio3
            && self.engine.protocol_of(sess, &self.config) == Protocol::SocketIo
            && let Err(reason) = self.sio_text(sess, "0")
        {
            self.close_session(sess, reason, false);
        }
    }

    fn upgrade_request(
        &mut self,
        s: StreamIx,
        sess: SessionIx,
        req: &Request<'_, '_>,
        f: &Framing,
        input: &[u8],
    ) -> usize {
        let Some(accept) = ws_accept(req) else {
            return self.transport.engine_error(s, 3, true, f, input);
        };
        if !self.transport.queue_101(s, &accept, &mut self.pool) {
            return self.transport.engine_error(s, 4, true, f, input);
        }
        if !self
            .engine
            .start_upgrade(sess, s, self.config.upgrade_timeout, &mut self.transport)
        {
            // Already upgrading or upgraded: this WebSocket is accepted and closed at once,
            // as the reference does, and the session is left alone.
            self.transport
                .close_ws(s, CloseCode::NORMAL, &mut self.pool);
        }
        f.head
    }

    fn poll_get(&mut self, s: StreamIx, sess: SessionIx) {
        let session = self.engine.sessions[sess].0;
        // Whatever answers it is in the session's framing.
        self.transport.streams[s].0.v3.set(EIO3 && session.eio3);
        if session.get.is_some() {
            // A second concurrent GET: refused, and the session ends (PROTOCOL.md A.7).
            self.transport
                .respond_fixed(s, Fixed::EngineError(3), false);
            self.close_session(sess, CloseReason::TransportError, false);
            return;
        }
        if session.transport == SessTransport::Upgrading && session.probed {
            self.transport.respond_fixed(s, Fixed::Noop, false);
            return;
        }
        self.engine.attach_get(sess, s, &mut self.transport);
    }

    fn poll_post(
        &mut self,
        s: StreamIx,
        sess: SessionIx,
        req: &Request<'_, '_>,
        f: &Framing,
        input: &[u8],
    ) -> usize {
        let session = self.engine.sessions[sess].0;
        if session.state != SessState::Open {
            return self.transport.engine_error(s, 1, false, f, input);
        }
        if req.content_length().unwrap_or(0) > u64::from(self.config.max_payload) {
            // Too big: refused, the session stays (the connection closes, its body unread).
            self.transport.respond_fixed(s, Fixed::Status(413), true);
            return f.skip(input);
        }
        let binary_type = req
            .content_type()
            .is_some_and(|t| t.eq_ignore_ascii_case(b"application/octet-stream"));
        if (binary_type && !(EIO3 && session.eio3)) || session.post.is_some() {
            // A v3-style binary body on v4, or a second concurrent POST: the session ends.
            let n = self.transport.engine_error(s, 3, false, f, input);
            self.close_session(sess, CloseReason::TransportError, false);
            return n;
        }
        if !f.complete {
            self.transport.await_body(s);
            return 0;
        }
        self.transport.set_state(s, State::Post);
        let st = &mut self.transport.streams[s].0;
        st.session = sess.into();
        st.post_at = f.head as u32;
        st.post_len = (f.end - f.head) as u32;
        st.post_done = 0;
        self.engine.sessions[sess].0.post = s.into();
        self.engine.sessions[sess].0.last_stream = s.into();
        // With the msgpack parser compiled in, `http_step` goes on with the body, which it
        // may write (see `post_step`).
        #[cfg(not(feature = "msgpack-parser"))]
        return self.post_step(s, input);
        #[cfg(feature = "msgpack-parser")]
        0
    }

    /// Handles the packets of a POST body, as far as there is room; answers it when done.
    /// With the msgpack parser, the base64 of a binary record is decoded in place once
    /// there is room for its packet (the packet must be whole, and the record is consumed
    /// then).
    fn post_step(&mut self, s: StreamIx, input: PostInput<'_>) -> usize {
        let st = self.transport.streams[s].0;
        let Some(sess) = st
            .session
            .get()
            .filter(|&x| self.engine.sessions[x].0.post.is(s))
        else {
            // The session is no longer this POST's (it ended meanwhile).
            self.transport.set_state(s, State::Http);
            self.transport.respond_fixed(s, Fixed::EngineError(3), true);
            return input.len();
        };
        let start = st.post_at as usize;
        let end = start + st.post_len as usize;
        if input.len() < end {
            // The caller offered less than it did before.
            self.transport.respond_fixed(s, Fixed::Status(400), true);
            return input.len();
        }
        let body_len = end - start;
        let mut done = st.post_done as usize;
        let mut failure = None;
        if body_len == 0 {
            failure = Some(CloseReason::ParseError);
        }
        while failure.is_none() && done < body_len {
            if self.engine.sessions[sess].0.state != SessState::Open {
                break;
            }
            let rest = input.get(start + done..end).unwrap_or_default();
            let (pkt, len, step) = if EIO3 && self.engine.sessions[sess].0.eio3 {
                let mut records = V3Payload::new(rest);
                match records.next() {
                    Some(Ok(record)) => {
                        let pkt = match record {
                            V3Record::Text(t) => Pkt::Text(t),
                            V3Record::Base64(b) => Pkt::Binary(Bin::Base64(b)),
                            V3Record::Binary(b) => Pkt::Binary(Bin::Raw(b)),
                        };
                        (pkt, record.len(), records.offset())
                    }
                    // Only empty records (`0:`) were left.
                    None => break,
                    Some(Err(_)) => {
                        failure = Some(CloseReason::ParseError);
                        break;
                    }
                }
            } else {
                let mut records = Payload::new(rest);
                let Some(Ok(record)) = records.next() else {
                    failure = Some(CloseReason::ParseError);
                    break;
                };
                let step = records.offset().max(1);
                if rest.get(step - 1) == Some(&crate::engine::RECORD_SEPARATOR)
                    && step == rest.len()
                {
                    // A separator at the very end: an empty last record.
                    failure = Some(CloseReason::ParseError);
                    break;
                }
                let (pkt, len) = match record {
                    PollRecord::Text(t) => (Pkt::Text(t), t.encoded_len()),
                    PollRecord::Binary(b) => (Pkt::Binary(Bin::Base64(b)), b.decoded_len()),
                };
                (pkt, len, step)
            };
            // A packet of the msgpack parser: its base64, which is decoded in place.
            let base64 = match pkt {
                Pkt::Binary(Bin::Base64(b)) if self.msgpack_on() => Some(b.encoded().len()),
                _ => None,
            };
            let len = match base64 {
                Some(_) => self.config.msgpack_room(len),
                None => len,
            };
            if !self.room_for_packet(sess, len)
                || !self.engine.room_for_input(sess, len, &self.config)
            {
                self.transport.streams[s].0.post_done = done as u32;
                return 0;
            }
            if !self.transport.streams[s].0.session.is(sess) {
                // Making room shed this very session: its POST was answered as it ended.
                return end;
            }
            let handled = match base64 {
                // After the record's `b`.
                Some(n) => match decoded_in_place(input, start + done + 1, n) {
                    Some(msg) => self.on_packet(sess, Pkt::Binary(Bin::Raw(msg))),
                    None => Err(CloseReason::ParseError),
                },
                None => self.on_packet(sess, pkt),
            };
            if let Err(reason) = handled {
                failure = Some(reason);
                break;
            }
            done += step;
        }
        self.engine.sessions[sess].0.post = Link::NONE;
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
    fn ws_step(&mut self, s: StreamIx, input: &mut [u8]) -> usize {
        let mut consumed = 0usize;
        loop {
            let st = self.transport.streams[s].0;
            let Some(sess) = st.session.get() else {
                return input.len();
            };
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
                // A packet of the msgpack parser may make more for the application than
                // its own bytes.
                Ok(Some(Peeked::Binary { len })) if self.msgpack_on() => {
                    self.config.msgpack_room(len)
                }
                Ok(Some(Peeked::Text { len } | Peeked::Binary { len })) => len,
                Ok(Some(_)) => ws::MAX_CONTROL_PAYLOAD,
            };
            if !self.room_for_packet(sess, len)
                || !self.engine.room_for_input(sess, len, &self.config)
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

    fn ws_item(&mut self, s: StreamIx, item: Incoming<'_>) {
        let st = self.transport.streams[s].0;
        let Some(sess) = st.session.get() else {
            return;
        };
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
            // A v3 binary frame starts with the message type, 4.
            Incoming::Binary(b) if st.v3.on() => match b.split_first() {
                Some((&crate::engine::v3::BINARY_MESSAGE_TYPE, data)) => {
                    self.on_packet(sess, Pkt::Binary(Bin::Raw(data)))
                }
                _ => Err(CloseReason::ParseError),
            },
            Incoming::Binary(b) => self.on_packet(sess, Pkt::Binary(Bin::Raw(b))),
            Incoming::Ping(p) => {
                self.transport.pong(s, p, &mut self.pool);
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
            if self.engine.sessions[sess].0.ws.is(s) {
                self.engine.sessions[sess].0.ws = Link::NONE;
            }
            self.transport.close_ws(s, code, &mut self.pool);
            self.close_session(sess, reason, false);
        }
    }

    /// The client sent a close frame: echo it, close the stream, end what used it.
    fn peer_closed(&mut self, s: StreamIx, code: CloseCode) {
        self.transport.echo_close(s, code, &mut self.pool);
        self.stream_gone(s, CloseReason::TransportClose);
        self.transport.close_after_output(s);
    }

    /// The WebSocket framing failed: close it with `code`, end what used it.
    fn ws_failed(&mut self, s: StreamIx, code: CloseCode) {
        self.transport.fail_ws(s, code, &mut self.pool);
        self.stream_gone(s, CloseReason::TransportError);
        self.transport.close_after_output(s);
    }
}
