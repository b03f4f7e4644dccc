//! Engine.IO sessions: creation, packets, heartbeat, the upgrade, closing.

use super::event::{Events, Kind, Record};
use super::pool::{Pool, stat};
use super::session::{EngineLayer, State, Transport};
use super::storage::NONE;
use super::stream::{Fixed, State as StreamState, TransportLayer};
use super::{
    CloseReason, CommandError, Data, Protocol, Resource, Server, ServerConfig, SessionId, WireId,
};
use crate::engine::{Base64Data, OpenPacket, PacketType, TextPacket};
use crate::ws::CloseCode;

/// Binary packet data: raw (WebSocket) or still in base64 (polling).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Bin<'x> {
    Raw(&'x [u8]),
    Base64(Base64Data<'x>),
}

impl Bin<'_> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Raw(b) => b.len(),
            Self::Base64(d) => d.decoded_len(),
        }
    }

    /// Appends the bytes to a pool message, decoding base64 on the way.
    pub(crate) fn append_to(&self, pool: &mut Pool<'_>, msg: u32) -> bool {
        match self {
            Self::Raw(b) => pool.append(msg, b),
            Self::Base64(d) => {
                // Whole 4-character groups per chunk, so each chunk decodes on its own.
                for chunk in d.encoded().chunks(256) {
                    let mut out = [0u8; 192];
                    let Ok(n) = crate::base64::decode(chunk, &mut out) else {
                        return false;
                    };
                    if !pool.append(msg, &out[..n]) {
                        return false;
                    }
                }
                true
            }
        }
    }
}

/// One Engine.IO packet received.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pkt<'x> {
    Text(TextPacket<'x>),
    Binary(Bin<'x>),
}

/// Room the handling of one received packet of `len` bytes may need: an event, its
/// payload, a small reply.
const REPLY_ROOM: usize = 512;

impl EngineLayer<'_> {
    /// The protocol of the session's endpoint.
    pub(super) fn protocol_of(&self, sess: u32, cfg: &ServerConfig<'_>) -> Protocol {
        let e = usize::from(self.sessions[sess].0.endpoint);
        cfg.endpoints
            .get(e)
            .map_or(Protocol::SocketIo, |e| e.protocol)
    }

    /// Whether the session may hand the application a packet of `len` bytes now: nothing
    /// of it is held, or it stays within `max_inbound_bytes` and `max_inbound_events`, or
    /// it is the attachment of a binary packet being assembled.
    pub(super) fn room_for_input(&self, sess: u32, len: usize, cfg: &ServerConfig<'_>) -> bool {
        let s = &self.sessions[sess].0;
        s.inbound_events == 0
            || s.sio.bin != NONE
            || (s.inbound_events < cfg.max_inbound_events
                && (s.inbound as usize).saturating_add(len) <= cfg.max_inbound_bytes as usize)
    }

    /// Counts `bytes` of the session's input, and `events` events, as held for the
    /// application.
    pub(super) fn hold_input(&mut self, sess: u32, bytes: usize, events: u16) {
        let s = &mut self.sessions[sess].0;
        s.inbound = s.inbound.saturating_add(bytes as u32);
        s.inbound_events = s.inbound_events.saturating_add(events);
    }

    /// The open session whose wire id is `sid`, also when it is draining its close.
    pub(super) fn lookup_sid(&self, sid: &str, endpoint: u8) -> Option<u32> {
        let raw = WireId::parse(sid.as_bytes())?;
        let i = super::id_index(&raw);
        let s = &self.sessions.get(i)?.0;
        let live = s.state == State::Open || (s.state == State::Closing && s.draining);
        (live && s.sid == raw && s.endpoint == endpoint).then_some(i)
    }

    /// A pong came: the next ping is due a ping interval from now.
    pub(super) fn pong(&mut self, sess: u32, now: u64, cfg: &ServerConfig<'_>) {
        let s = &mut self.sessions[sess].0;
        if s.awaiting_pong {
            s.awaiting_pong = false;
            s.hb_at = now.saturating_add(u64::from(cfg.ping_interval));
            self.reschedule(sess);
        }
    }

    /// Makes the stream that carries the session's packets write them.
    pub(super) fn notify_output(&self, sess: u32, tr: &mut TransportLayer<'_>) {
        let s = self.sessions[sess].0;
        let stream = match s.transport {
            Transport::WebSocket => s.ws,
            Transport::Polling => s.get,
            Transport::Upgrading if !s.probed => s.get,
            Transport::Upgrading => NONE,
        };
        if stream != NONE {
            tr.txq_push(stream);
        }
    }

    /// Queues the session's close event; `false` when the event queue is full.
    pub(super) fn report_close(&mut self, sess: u32, events: &mut Events<'_>) -> bool {
        let s = self.sessions[sess].0;
        let mut r = Record::new(Kind::EngineClose);
        r.id = sess;
        r.era = s.era;
        r.small = s.close_reason;
        if !events.push(r) {
            return false;
        }
        self.sessions[sess].0.reaped = true;
        self.sessions[sess].0.reaping = false;
        true
    }

    /// Queues the close events of sessions that ended while the event queue was full.
    pub(super) fn reap_sessions(&mut self, events: &mut Events<'_>) {
        while self.reap_sessions != NONE && events.has_room(1) {
            let sess = self.reap_sessions;
            let next = self.sessions[sess].0.link;
            if !self.report_close(sess, events) {
                break;
            }
            self.reap_sessions = next;
            if next == NONE {
                self.reap_sessions_tail = NONE;
            }
            self.free_if_done(sess);
        }
    }

    /// Frees a closed session's slot once nothing refers to it any more.
    pub(super) fn free_if_done(&mut self, sess: u32) {
        let s = &self.sessions[sess].0;
        if s.state == State::Closing
            && s.reaped
            && !s.draining
            && s.get == NONE
            && s.ws == NONE
            && s.post == NONE
        {
            self.sessions.release(sess);
        }
    }

    /// Closes the session's transports now and drops its queue; the slot goes once the
    /// app has been told.
    pub(super) fn end_transport(
        &mut self,
        sess: u32,
        tr: &mut TransportLayer<'_>,
        pool: &mut Pool<'_>,
    ) {
        let reason = CloseReason::from_u8(self.sessions[sess].0.close_reason);
        self.sessions[sess].0.queue.clear(pool);
        self.unschedule(sess);
        let s = &mut self.sessions[sess].0;
        s.draining = false;
        s.aux_at = 0;
        let (get, post, ws) = (s.get, s.post, s.ws);
        s.get = NONE;
        s.post = NONE;
        s.ws = NONE;
        if reason == CloseReason::SlowReader {
            // The client does not read: a transport whose driver could not write is cut
            // at once, rather than after bytes it would never read.
            for stream in [get, ws] {
                if stream != NONE && tr.streams[stream].0.paused {
                    tr.abort_stream(stream, pool);
                }
            }
        }
        if get != NONE {
            let answer = if reason == CloseReason::ClientClose {
                Fixed::Noop
            } else {
                Fixed::Close
            };
            tr.finish_get(get, Some(answer));
        }
        if post != NONE {
            // A POST paused for room: its packets will not be handled. The stream leaves the
            // session first, so that the rest of its body never reaches whatever session
            // takes the slot next.
            tr.set_state(post, StreamState::Http);
            tr.streams[post].0.session = NONE;
            tr.respond_fixed(post, Fixed::EngineError(3), true);
        }
        if ws != NONE {
            tr.close_ws(ws, close_code(reason), pool);
        }
        self.free_if_done(sess);
    }

    /// The client finished the upgrade (`5` on the probing WebSocket): the WebSocket
    /// carries the session from now on, the long-poll ends.
    pub(super) fn complete_upgrade(&mut self, sess: u32, stream: u32, tr: &mut TransportLayer<'_>) {
        let s = &mut self.sessions[sess].0;
        s.transport = Transport::WebSocket;
        s.probed = false;
        s.aux_at = 0;
        let get = s.get;
        s.get = NONE;
        tr.set_state(stream, StreamState::Ws);
        self.reschedule(sess);
        if get != NONE {
            tr.finish_get(get, Some(Fixed::Close));
        }
        self.notify_output(sess, tr);
    }

    /// Gives up an upgrade: its WebSocket closes, the session stays on polling.
    pub(super) fn abort_upgrade(
        &mut self,
        sess: u32,
        tr: &mut TransportLayer<'_>,
        pool: &mut Pool<'_>,
    ) {
        let s = &mut self.sessions[sess].0;
        if s.transport != Transport::Upgrading {
            return;
        }
        let ws = s.ws;
        s.ws = NONE;
        s.transport = Transport::Polling;
        s.probed = false;
        s.aux_at = 0;
        if ws != NONE {
            tr.close_ws(ws, CloseCode::NORMAL, pool);
        }
        self.reschedule(sess);
        self.notify_output(sess, tr);
    }

    /// The session whose packets `stream`, in `state`, writes now: `sess` when the stream is
    /// its long-poll or its WebSocket (once upgraded).
    pub(super) fn writes_for(&self, sess: u32, stream: u32, state: StreamState) -> Option<u32> {
        let s = &self.sessions.get(sess)?.0;
        let writes = match state {
            StreamState::Get => s.get == stream,
            StreamState::Ws => s.ws == stream && s.transport == Transport::WebSocket,
            _ => false,
        };
        writes.then_some(sess)
    }
}

/// The close code a session's WebSocket gets for `reason`.
fn close_code(reason: CloseReason) -> CloseCode {
    match reason {
        CloseReason::ParseError | CloseReason::TransportError => CloseCode::PROTOCOL_ERROR,
        CloseReason::SlowReader => CloseCode::POLICY_VIOLATION,
        _ => CloseCode::NORMAL,
    }
}

impl Server<'_> {
    /// Queues an event whose room the caller made sure of (`room_for_packet` and the
    /// like). Should that ever be wrong, the payload goes back to the pool rather than leak.
    pub(super) fn push_event(&mut self, r: Record) {
        self.events.push_or_release(r, &mut self.pool);
    }

    /// Whether handling a packet of `len` bytes is sure to find room for what it makes
    /// (shedding the sessions that hold more than their share of queue entries when those
    /// run short).
    pub(super) fn room_for_packet(&mut self, len: usize) -> bool {
        self.events.has_room(1)
            && self.pool.has_room(len.saturating_add(REPLY_ROOM))
            && self.nodes_for(4)
    }

    /// Opens a session for a handshake; its first queued packet is the open packet.
    pub(super) fn create_session(
        &mut self,
        endpoint: u8,
        ws: Option<u32>,
    ) -> Result<u32, Resource> {
        if !self.events.has_room(1)
            || !self.pool.has_room(REPLY_ROOM)
            || !self.pool.nodes.can_take(2)
        {
            return Err(Resource::Pool);
        }
        let sess = self.engine.sessions.alloc().ok_or(Resource::Sessions)?;
        let sid = super::fresh_id(&mut self.rng, sess);
        let now = self.now;
        let sio = self
            .config
            .endpoints
            .get(usize::from(endpoint))
            .is_some_and(|e| e.protocol == Protocol::SocketIo);
        let wire = WireId::from_raw(&sid);
        let open = OpenPacket {
            sid: wire.as_str(),
            upgrade_websocket: ws.is_none() && self.config.websocket,
            ping_interval: self.config.ping_interval,
            ping_timeout: self.config.ping_timeout,
            max_payload: Some(self.config.max_payload),
        };
        let mut buf = [0u8; 256];
        let n = open.encode(&mut buf).unwrap_or(0);
        let Some(msg) = self.pool.msg_from(false, &[&buf[..n]]) else {
            self.engine.sessions.release(sess);
            return Err(Resource::Pool);
        };
        let s = &mut self.engine.sessions[sess].0;
        s.era = s.era.wrapping_add(1);
        s.state = State::Open;
        s.endpoint = endpoint;
        s.sid = sid;
        s.transport = if ws.is_some() {
            Transport::WebSocket
        } else {
            Transport::Polling
        };
        s.ws = ws.unwrap_or(NONE);
        s.hb_at = now.saturating_add(u64::from(self.config.ping_interval));
        s.connect_at = if sio {
            now.saturating_add(u64::from(self.config.connect_timeout))
        } else {
            0
        };
        s.queue.push(&mut self.pool, msg);
        self.engine.reschedule(sess);
        if !sio {
            let mut r = Record::new(Kind::EngineOpen);
            r.id = sess;
            r.era = self.engine.sessions[sess].0.era;
            self.push_event(r);
        }
        Ok(sess)
    }

    /// Handles one packet from the session's current transport.
    pub(super) fn on_packet(&mut self, sess: u32, pkt: Pkt<'_>) -> Result<(), CloseReason> {
        if self.engine.sessions[sess].0.state != State::Open {
            return Ok(());
        }
        let sio = self.engine.protocol_of(sess, &self.config) == Protocol::SocketIo;
        let p = match pkt {
            Pkt::Binary(bin) if sio => return self.sio_binary(sess, bin),
            Pkt::Binary(bin) => return self.engine_message(sess, None, Some(bin)),
            Pkt::Text(t) => t,
        };
        match p.packet_type() {
            PacketType::Message if sio => self.sio_text(sess, p.data()),
            PacketType::Message => self.engine_message(sess, Some(p.data()), None),
            PacketType::Pong if p.data().is_empty() => {
                self.engine.pong(sess, self.now, &self.config);
                Ok(())
            }
            PacketType::Close => Err(CloseReason::ClientClose),
            PacketType::Noop => Ok(()),
            // A client ping (v3 style), a probe outside an upgrade, open or upgrade here.
            _ => Err(CloseReason::ParseError),
        }
    }

    fn engine_message(
        &mut self,
        sess: u32,
        text: Option<&str>,
        bin: Option<Bin<'_>>,
    ) -> Result<(), CloseReason> {
        let msg = self
            .pool
            .new_msg(bin.is_some())
            .ok_or(CloseReason::SlowReader)?;
        let ok = match (text, bin) {
            (Some(t), _) => self.pool.append(msg, t.as_bytes()),
            (None, Some(b)) => b.append_to(&mut self.pool, msg),
            (None, None) => true,
        };
        if !ok {
            self.pool.release(msg);
            return Err(CloseReason::SlowReader);
        }
        let mut r = Record::new(Kind::EngineMessage);
        r.id = sess;
        r.era = self.engine.sessions[sess].0.era;
        r.msg = msg;
        r.len1 = self.pool.len(msg) as u32;
        self.engine.hold_input(sess, self.pool.len(msg), 1);
        r.small = u8::from(text.is_none());
        self.push_event(r);
        Ok(())
    }

    /// Queues packets for a session, checking its queue limit.
    pub(super) fn queue_packets(&mut self, sess: u32, msgs: &[u32]) -> Result<(), CommandError> {
        let release = |server: &mut Self| {
            for &m in msgs {
                server.pool.release(m);
            }
        };
        let s = self.engine.sessions[sess].0;
        if s.state != State::Open {
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
        if self.engine.sessions[sess].0.state != State::Open {
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
        self.pool.nodes.can_take(n) || (self.shed_queue_hogs() && self.pool.nodes.can_take(n))
    }

    /// The table of queue entries is short: closes, as slow readers, the sessions whose
    /// queues hold more than their share of it (its capacity over the session table's), so
    /// that clients that read go on being served while those that do not (a polling client
    /// gone between two requests, waiting for its ping timeout) give their entries back.
    /// Whether any was closed.
    pub(super) fn shed_queue_hogs(&mut self) -> bool {
        let share = (self.pool.nodes.capacity() / self.engine.sessions.capacity().max(1)).max(1);
        let mut shed = false;
        for sess in 0..self.engine.sessions.len_slots() as u32 {
            let s = &self.engine.sessions[sess].0;
            if s.state == State::Open && s.queue.count as usize > share {
                self.close_session(sess, CloseReason::SlowReader, false);
                shed = true;
            }
        }
        shed
    }

    /// Sends a raw Engine.IO message on a plain Engine.IO session. Text may not contain
    /// the byte `0x1E` (polling bodies use it as separator).
    pub fn send(&mut self, session: SessionId, data: Data<'_>) -> Result<(), CommandError> {
        let sess = self.session_index(session)?;
        if self.engine.protocol_of(sess, &self.config) != Protocol::Engine {
            return Err(CommandError::WrongState);
        }
        let msg = match data {
            Data::Text(t) => {
                if t.as_bytes().contains(&crate::engine::RECORD_SEPARATOR) {
                    return Err(CommandError::InvalidName);
                }
                self.pool.msg_from(false, &[b"4", t.as_bytes()])
            }
            Data::Binary(b) => self.pool.msg_from(true, &[b]),
        }
        .ok_or(CommandError::Full(Resource::Pool))?;
        self.queue_packets(sess, &[msg])
    }

    /// Closes a session: the client gets the Engine.IO close packet after what is already
    /// queued for it, then its transport is closed. The application hears of it as
    /// Disconnect events (Socket.IO) or [`Event::EngineClose`](super::Event::EngineClose),
    /// with [`CloseReason::ServerClose`].
    pub fn close(&mut self, session: SessionId) -> Result<(), CommandError> {
        let sess = self.session_index(session)?;
        self.close_session(sess, CloseReason::ServerClose, true);
        Ok(())
    }

    /// Closes every open session as [`close`](Self::close) does (for a shutdown); returns
    /// how many.
    pub fn close_all(&mut self) -> usize {
        let mut n = 0;
        for sess in 0..self.engine.sessions.len_slots() as u32 {
            if self.engine.sessions[sess].0.state == State::Open {
                self.close_session(sess, CloseReason::ServerClose, true);
                n += 1;
            }
        }
        n
    }

    /// Ends a session. Graceful: the close packet is queued behind what is queued and the
    /// transport closes after it. Otherwise the transport closes now.
    pub(super) fn close_session(&mut self, sess: u32, reason: CloseReason, graceful: bool) {
        if self.engine.sessions[sess].0.state != State::Open {
            return;
        }
        {
            let s = &mut self.engine.sessions[sess].0;
            s.state = State::Closing;
            s.close_reason = reason.to_u8();
            s.hb_at = 0;
            s.connect_at = 0;
            s.aux_at = 0;
            s.ack_at = 0;
        }
        self.socketio.close_session(
            &mut self.engine.sessions[sess].0.sio,
            reason,
            &mut self.pool,
            &mut self.events,
        );
        if self.engine.sessions[sess].0.transport == Transport::Upgrading {
            self.engine
                .abort_upgrade(sess, &mut self.transport, &mut self.pool);
        }
        if graceful {
            let s = &mut self.engine.sessions[sess].0;
            if s.queue.push(&mut self.pool, stat::CLOSE) {
                s.draining = true;
                s.aux_at = self
                    .now
                    .saturating_add(u64::from(self.config.close_timeout));
                self.engine.reschedule(sess);
                self.engine.notify_output(sess, &mut self.transport);
            } else {
                self.engine
                    .end_transport(sess, &mut self.transport, &mut self.pool);
            }
        } else {
            self.engine
                .end_transport(sess, &mut self.transport, &mut self.pool);
        }
        // Tell the app (plain Engine.IO); Socket.IO sessions were reported per socket.
        if self.engine.protocol_of(sess, &self.config) == Protocol::SocketIo {
            self.engine.sessions[sess].0.reaped = true;
        } else if self.engine.reap_sessions == NONE && self.events.has_room(1) {
            self.engine.report_close(sess, &mut self.events);
        } else {
            let s = &mut self.engine.sessions[sess].0;
            s.reaping = true;
            s.link = NONE;
            if self.engine.reap_sessions_tail == NONE {
                self.engine.reap_sessions = sess;
            } else {
                self.engine.sessions[self.engine.reap_sessions_tail].0.link = sess;
            }
            self.engine.reap_sessions_tail = sess;
        }
        self.engine.free_if_done(sess);
    }

    // ------------------------------------------------------------------ upgrade

    /// Handles a message on the probing WebSocket of an upgrade.
    pub(super) fn probe_message(&mut self, sess: u32, stream: u32, text: Option<&str>) {
        match text {
            Some("2probe") if !self.engine.sessions[sess].0.probed => {
                self.transport
                    .push_raw(stream, stat::PROBE_FRAME, &mut self.pool);
                self.transport.txq_push(stream);
                self.engine.sessions[sess].0.probed = true;
                // Release the waiting GET so the client can pause polling.
                let get = self.engine.sessions[sess].0.get;
                if get != NONE && !self.transport.get_in_flight(get) {
                    self.engine.sessions[sess].0.get = NONE;
                    self.transport.finish_get(get, Some(Fixed::Noop));
                }
            }
            Some("5") => self
                .engine
                .complete_upgrade(sess, stream, &mut self.transport),
            _ => self
                .engine
                .abort_upgrade(sess, &mut self.transport, &mut self.pool),
        }
    }

    /// A stream a session uses ended (EOF or reset): what that means for the session.
    pub(super) fn stream_gone(&mut self, stream: u32, reason: CloseReason) {
        let st = self.transport.streams[stream].0;
        let sess = st.session;
        if sess == NONE || self.engine.sessions.get(sess).is_none() {
            return;
        }
        let s = self.engine.sessions[sess].0;
        match st.state {
            StreamState::Get if s.get == stream => {
                // An abandoned long-poll ends the session (PROTOCOL.md A.7).
                self.engine.sessions[sess].0.get = NONE;
                self.transport.set_state(stream, StreamState::Done);
                if s.state == State::Open {
                    self.close_session(sess, reason, false);
                } else {
                    self.engine
                        .end_transport(sess, &mut self.transport, &mut self.pool);
                }
            }
            StreamState::Post if s.post == stream => {
                self.engine.sessions[sess].0.post = NONE;
                self.transport.set_state(stream, StreamState::Done);
                self.close_session(sess, reason, false);
            }
            StreamState::Ws if s.ws == stream => {
                self.engine.sessions[sess].0.ws = NONE;
                self.transport.set_state(stream, StreamState::Done);
                if s.state == State::Open {
                    self.close_session(sess, reason, false);
                } else {
                    self.engine
                        .end_transport(sess, &mut self.transport, &mut self.pool);
                }
            }
            StreamState::Probe if s.ws == stream => {
                self.engine.sessions[sess].0.ws = NONE;
                self.transport.set_state(stream, StreamState::Done);
                if s.probed {
                    self.close_session(sess, CloseReason::UpgradeAbandoned, false);
                } else {
                    let slot = &mut self.engine.sessions[sess].0;
                    slot.transport = Transport::Polling;
                    slot.aux_at = 0;
                    self.engine.reschedule(sess);
                    self.engine.notify_output(sess, &mut self.transport);
                }
            }
            _ => {}
        }
        self.engine.free_if_done(sess);
    }
}
