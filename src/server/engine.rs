//! The Engine.IO layer's logic ([`EngineLayer`]): opening a session, plain Engine.IO
//! messages, the heartbeat, the upgrade, ending a session and telling the application.
//! It reaches the transport layer below through a `TransportLayer` argument; it never
//! reads a session's Socket.IO state.

use super::event::{Events, Payload, Record};
use super::ix::Link;
use super::pool::{Pool, stat};
use super::session::{Assembly, EngineLayer, SessionIx, SessionSlot, State, Transport};
use super::stream::{Fixed, State as StreamState, StreamIx, TransportLayer};
use super::{CloseReason, Protocol, Resource, ServerConfig, SessionId, WireId};
use crate::engine::{Base64Data, OpenPacket, PacketType, TextPacket};
use crate::http::{EngineQuery, Method};
use crate::rand::Rng;
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

/// Where an Engine.IO request goes, decided from its method, its query and the sessions
/// (see [`EngineLayer::route`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    /// Refused with this Engine.IO error code (PROTOCOL.md's table).
    Refuse(u8),
    /// A CORS preflight, answered `204`.
    Preflight,
    /// A long-polling GET of an open session.
    Get(SessionIx),
    /// A POST of packets for an open session.
    Post(SessionIx),
    /// A WebSocket upgrading a polling session.
    Upgrade(SessionIx),
    /// A handshake over long-polling.
    OpenPolling,
    /// A handshake on a new WebSocket.
    OpenWebSocket,
}

/// What a packet the Engine.IO layer received leaves for the Socket.IO layer.
#[derive(Debug, Clone, Copy)]
pub(super) enum Up<'x> {
    /// Nothing: the Engine.IO layer handled it.
    Nothing,
    /// A text message of a Socket.IO session.
    Text(&'x str),
    /// A binary message of a Socket.IO session.
    Binary(Bin<'x>),
    /// A v3 client's ping, to answer.
    Ping,
}

/// Room the handling of one received packet of `len` bytes may need: an event, its
/// payload, a small reply.
pub(super) const REPLY_ROOM: usize = 512;

impl EngineLayer<'_> {
    /// Where a request on endpoint `ep` goes: `method`, the query `q`, whether it asks
    /// for a WebSocket `upgrade`, against the configuration and the open sessions.
    pub(super) fn route(
        &self,
        ep: u8,
        method: Method<'_>,
        q: &EngineQuery<'_>,
        upgrade: bool,
        cfg: &ServerConfig<'_>,
    ) -> Route {
        let websocket = match q.transport {
            Some("polling") if cfg.polling => false,
            Some("websocket") if cfg.websocket => true,
            _ => return Route::Refuse(0),
        };
        if method == Method::Options {
            return if super::CORS && cfg.cors.is_some() {
                Route::Preflight
            } else {
                Route::Refuse(3)
            };
        }
        if let Some(sid) = q.sid {
            let Some(sess) = self.lookup_sid(sid, ep) else {
                return Route::Refuse(1);
            };
            return match (websocket, method) {
                (true, _) if !upgrade => Route::Refuse(3),
                (true, _) => Route::Upgrade(sess),
                // Polling after the upgrade.
                _ if self.sessions[sess].0.transport == Transport::WebSocket => Route::Refuse(3),
                (false, Method::Get) => Route::Get(sess),
                (false, Method::Post) => Route::Post(sess),
                _ => Route::Refuse(3),
            };
        }
        if method != Method::Get {
            return Route::Refuse(2);
        }
        if q.eio != Some("4") && !(super::EIO3 && cfg.allow_eio3 && q.eio == Some("3")) {
            return Route::Refuse(5);
        }
        match (websocket, upgrade) {
            (false, _) => Route::OpenPolling,
            (true, false) => Route::Refuse(3),
            (true, true) => Route::OpenWebSocket,
        }
    }

    /// Handles one packet received on the session's current transport: the heartbeat, the
    /// close, a plain Engine.IO session's messages; what a Socket.IO session received goes
    /// up. A packet not allowed here is a parse error.
    #[inline]
    pub(super) fn receive<'x>(
        &mut self,
        sess: SessionIx,
        pkt: Pkt<'x>,
        cfg: &ServerConfig<'_>,
        pool: &mut Pool<'_>,
        events: &mut Events<'_>,
    ) -> Result<Up<'x>, CloseReason> {
        if self.sessions[sess].0.state != State::Open {
            return Ok(Up::Nothing);
        }
        let sio = self.protocol_of(sess, cfg) == Protocol::SocketIo;
        let p = match pkt {
            Pkt::Binary(bin) if sio => return Ok(Up::Binary(bin)),
            Pkt::Binary(bin) => {
                return self
                    .message(sess, None, Some(bin), pool, events)
                    .map(|()| Up::Nothing);
            }
            Pkt::Text(t) => t,
        };
        match p.packet_type() {
            PacketType::Message if sio => Ok(Up::Text(p.data())),
            PacketType::Message => self
                .message(sess, Some(p.data()), None, pool, events)
                .map(|()| Up::Nothing),
            PacketType::Pong
                if p.data().is_empty() && !(super::EIO3 && self.sessions[sess].0.eio3) =>
            {
                self.pong(sess, cfg);
                Ok(Up::Nothing)
            }
            // A v3 client's ping: answered, and it has another interval and timeout.
            PacketType::Ping if super::EIO3 && self.sessions[sess].0.eio3 => Ok(Up::Ping),
            PacketType::Close => Err(CloseReason::ClientClose),
            PacketType::Noop => Ok(Up::Nothing),
            // A client ping (v3 style), a probe outside an upgrade, open or upgrade here.
            _ => Err(CloseReason::ParseError),
        }
    }

    /// The protocol of the session's endpoint.
    pub(super) fn protocol_of(&self, sess: SessionIx, cfg: &ServerConfig<'_>) -> Protocol {
        let e = usize::from(self.sessions[sess].0.endpoint);
        cfg.endpoints
            .get(e)
            .map_or(Protocol::SocketIo, |e| e.protocol)
    }

    /// Whether the session may hand the application a packet of `len` bytes now: nothing
    /// of it is held, or it stays within `max_inbound_bytes` and `max_inbound_events`, or
    /// it is the attachment of a binary packet being assembled.
    pub(super) fn room_for_input(
        &self,
        sess: SessionIx,
        len: usize,
        cfg: &ServerConfig<'_>,
    ) -> bool {
        let s = &self.sessions[sess].0;
        s.inbound_events == 0
            || s.sio.bin != Assembly::Idle
            || (s.inbound_events < cfg.max_inbound_events
                && (s.inbound as usize).saturating_add(len) <= cfg.max_inbound_bytes as usize)
    }

    /// Counts `bytes` of the session's input, and `events` events, as held for the
    /// application.
    pub(super) fn hold_input(&mut self, sess: SessionIx, bytes: usize, events: u16) {
        let s = &mut self.sessions[sess].0;
        s.inbound = s.inbound.saturating_add(bytes as u32);
        s.inbound_events = s.inbound_events.saturating_add(events);
    }

    /// The handle of a live session index.
    pub(super) fn handle(&self, sess: SessionIx) -> SessionId {
        SessionId {
            index: sess.get(),
            era: self.sessions[sess].0.era,
        }
    }

    /// The open session whose wire id is `sid`, also when it is draining its close.
    pub(super) fn lookup_sid(&self, sid: &str, endpoint: u8) -> Option<SessionIx> {
        let raw = WireId::parse(sid.as_bytes())?;
        let i = self.sessions.ix(super::id_index(&raw))?;
        let s = &self.sessions[i].0;
        let live = s.state == State::Open || (s.state == State::Closing && s.draining);
        (live && s.sid == raw && s.endpoint == endpoint).then_some(i)
    }

    /// A pong came: the next ping is due a ping interval from now.
    pub(super) fn pong(&mut self, sess: SessionIx, cfg: &ServerConfig<'_>) {
        let s = &mut self.sessions[sess].0;
        if s.awaiting_pong {
            s.awaiting_pong = false;
            s.hb_at = self.now.saturating_add(u64::from(cfg.ping_interval));
            self.reschedule(sess);
        }
    }

    /// Makes the stream that carries the session's packets write them.
    pub(super) fn notify_output(&self, sess: SessionIx, tr: &mut TransportLayer<'_>) {
        let s = self.sessions[sess].0;
        let stream = match s.transport {
            Transport::WebSocket => s.ws,
            Transport::Polling => s.get,
            Transport::Upgrading if !s.probed => s.get,
            Transport::Upgrading => Link::NONE,
        };
        if let Some(stream) = stream.get() {
            tr.txq_push(stream);
        }
    }

    /// Queues the session's close event; `false` when the event queue is full.
    pub(super) fn report_close(&mut self, sess: SessionIx, events: &mut Events<'_>) -> bool {
        let s = self.sessions[sess].0;
        let r = Record::EngineClose {
            session: SessionId {
                index: sess.get(),
                era: s.era,
            },
            reason: CloseReason::from_u8(s.close_reason),
        };
        if !events.push(r) {
            return false;
        }
        self.sessions[sess].0.reaped = true;
        self.sessions[sess].0.reaping = false;
        true
    }

    /// Queues the close events of sessions that ended while the event queue was full.
    pub(super) fn reap_sessions(&mut self, events: &mut Events<'_>) {
        while let Some(sess) = self.reap_sessions.get()
            && events.has_room(1)
        {
            let next = self.sessions[sess].0.link;
            if !self.report_close(sess, events) {
                break;
            }
            self.reap_sessions = next;
            if next.is_none() {
                self.reap_sessions_tail = Link::NONE;
            }
            self.free_if_done(sess);
        }
    }

    /// Frees a closed session's slot once nothing refers to it any more.
    pub(super) fn free_if_done(&mut self, sess: SessionIx) {
        let s = &self.sessions[sess].0;
        if s.state == State::Closing
            && s.reaped
            && !s.draining
            && s.get.is_none()
            && s.ws.is_none()
            && s.post.is_none()
        {
            self.sessions.release(sess);
        }
    }

    /// Closes the session's transports now and drops its queue; the slot goes once the
    /// app has been told.
    pub(super) fn end_transport(
        &mut self,
        sess: SessionIx,
        tr: &mut TransportLayer<'_>,
        pool: &mut Pool<'_>,
    ) {
        let reason = CloseReason::from_u8(self.sessions[sess].0.close_reason);
        self.sessions[sess].0.queue.clear(pool);
        self.unschedule(sess);
        let s = &mut self.sessions[sess].0;
        s.draining = false;
        s.aux_at = 0;
        let (get, post, ws) = (s.get.get(), s.post.get(), s.ws.get());
        s.get = Link::NONE;
        s.post = Link::NONE;
        s.ws = Link::NONE;
        if reason == CloseReason::SlowReader {
            // The client does not read: a transport whose driver could not write is cut
            // at once, rather than after bytes it would never read.
            for stream in [get, ws].into_iter().flatten() {
                if tr.streams[stream].0.paused {
                    tr.abort_stream(stream, pool);
                }
            }
        }
        if let Some(get) = get {
            let answer = if reason == CloseReason::ClientClose {
                Fixed::Noop
            } else {
                Fixed::Close
            };
            tr.finish_get(get, Some(answer));
        }
        if let Some(post) = post {
            // A POST paused for room: its packets will not be handled. The stream leaves the
            // session first, so that the rest of its body never reaches whatever session
            // takes the slot next.
            tr.set_state(post, StreamState::Http);
            tr.streams[post].0.session = Link::NONE;
            tr.respond_fixed(post, Fixed::EngineError(3), true);
        }
        if let Some(ws) = ws {
            tr.close_ws(ws, close_code(reason), pool);
        }
        self.free_if_done(sess);
    }

    /// The client finished the upgrade (`5` on the probing WebSocket): the WebSocket
    /// carries the session from now on, the long-poll ends.
    pub(super) fn complete_upgrade(
        &mut self,
        sess: SessionIx,
        stream: StreamIx,
        tr: &mut TransportLayer<'_>,
    ) {
        let s = &mut self.sessions[sess].0;
        s.transport = Transport::WebSocket;
        s.probed = false;
        s.aux_at = 0;
        let get = s.get.get();
        s.get = Link::NONE;
        tr.set_state(stream, StreamState::Ws);
        self.reschedule(sess);
        if let Some(get) = get {
            tr.finish_get(get, Some(Fixed::Close));
        }
        self.notify_output(sess, tr);
    }

    /// Gives up an upgrade: its WebSocket closes, the session stays on polling.
    pub(super) fn abort_upgrade(
        &mut self,
        sess: SessionIx,
        tr: &mut TransportLayer<'_>,
        pool: &mut Pool<'_>,
    ) {
        let s = &mut self.sessions[sess].0;
        if s.transport != Transport::Upgrading {
            return;
        }
        let ws = s.ws.get();
        s.ws = Link::NONE;
        s.transport = Transport::Polling;
        s.probed = false;
        s.aux_at = 0;
        if let Some(ws) = ws {
            tr.close_ws(ws, CloseCode::NORMAL, pool);
        }
        self.reschedule(sess);
        self.notify_output(sess, tr);
    }

    /// The session whose packets `stream`, in `state`, writes now: `sess` when the stream is
    /// its long-poll or its WebSocket (once upgraded).
    pub(super) fn writes_for(
        &self,
        sess: Link<SessionSlot>,
        stream: StreamIx,
        state: StreamState,
    ) -> Option<SessionIx> {
        let sess = sess.get()?;
        let s = &self.sessions[sess].0;
        let writes = match state {
            StreamState::Get => s.get.is(stream),
            StreamState::Ws => s.ws.is(stream) && s.transport == Transport::WebSocket,
            _ => false,
        };
        writes.then_some(sess)
    }
    /// Opens a session for a handshake (an Engine.IO v3 one with `eio3`); its first queued
    /// packet is the open packet.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn open(
        &mut self,
        endpoint: u8,
        ws: Option<StreamIx>,
        eio3: bool,
        cfg: &ServerConfig<'_>,
        pool: &mut Pool<'_>,
        events: &mut Events<'_>,
        rng: &mut Rng,
    ) -> Result<SessionIx, Resource> {
        if !events.has_room(1) || !pool.has_room(REPLY_ROOM) || !pool.nodes.can_take(2) {
            return Err(Resource::Pool);
        }
        let sess = self.sessions.alloc().ok_or(Resource::Sessions)?;
        let sid = super::fresh_id(rng, sess.get());
        let now = self.now;
        let sio = cfg
            .endpoints
            .get(usize::from(endpoint))
            .is_some_and(|e| e.protocol == Protocol::SocketIo);
        let wire = WireId::from_raw(&sid);
        let open = OpenPacket {
            sid: wire.as_str(),
            upgrade_websocket: ws.is_none() && cfg.websocket,
            ping_interval: cfg.ping_interval,
            ping_timeout: cfg.ping_timeout,
            max_payload: Some(cfg.max_payload),
        };
        let mut buf = [0u8; 256];
        let n = open.encode(&mut buf).unwrap_or(0);
        let Some(msg) = pool.msg_from(false, &[&buf[..n]]) else {
            self.sessions.release(sess);
            return Err(Resource::Pool);
        };
        let s = &mut self.sessions[sess].0;
        s.era = s.era.wrapping_add(1);
        s.state = State::Open;
        s.endpoint = endpoint;
        s.sid = sid;
        s.transport = if ws.is_some() {
            Transport::WebSocket
        } else {
            Transport::Polling
        };
        s.ws = ws.into();
        s.last_stream = ws.into();
        s.eio3 = super::EIO3 && eio3;
        if super::EIO3 && s.eio3 {
            // The client pings: without one in time, the session ends.
            s.awaiting_pong = true;
            s.hb_at = now
                .saturating_add(u64::from(cfg.ping_interval))
                .saturating_add(u64::from(cfg.ping_timeout));
        } else {
            s.awaiting_pong = false;
            s.hb_at = now.saturating_add(u64::from(cfg.ping_interval));
        }
        s.connect_at = if sio {
            now.saturating_add(u64::from(cfg.connect_timeout))
        } else {
            0
        };
        s.queue.push(pool, msg);
        self.reschedule(sess);
        if !sio {
            let session = self.handle(sess);
            events.push_or_release(Record::EngineOpen { session }, pool);
        }
        Ok(sess)
    }
    /// A message of a plain Engine.IO session, for the application.
    fn message(
        &mut self,
        sess: SessionIx,
        text: Option<&str>,
        bin: Option<Bin<'_>>,
        pool: &mut Pool<'_>,
        events: &mut Events<'_>,
    ) -> Result<(), CloseReason> {
        let len = text.map_or_else(|| bin.map_or(0, |b| b.len()), str::len);
        let msg = pool
            .new_msg_for(bin.is_some(), len)
            .ok_or(CloseReason::SlowReader)?;
        let ok = match (text, bin) {
            (Some(t), _) => pool.append(msg, t.as_bytes()),
            (None, Some(b)) => b.append_to(pool, msg),
            (None, None) => true,
        };
        if !ok {
            pool.release(msg);
            return Err(CloseReason::SlowReader);
        }
        let r = Record::EngineMessage {
            session: self.handle(sess),
            binary: text.is_none(),
            bytes: Payload::whole(msg, pool.len(msg)),
        };
        self.hold_input(sess, pool.len(msg), 1);
        events.push_or_release(r, pool);
        Ok(())
    }
    /// Ends a session. Graceful: the close packet is queued behind what is queued and the
    /// transport closes after it. Otherwise the transport closes now.
    /// Ends an open session (its sockets were ended first; [`report_end`](Self::report_end)
    /// follows). Graceful: the close packet is queued behind what is queued and the
    /// transport closes after it. Otherwise the transport closes now.
    pub(super) fn close(
        &mut self,
        sess: SessionIx,
        reason: CloseReason,
        graceful: bool,
        cfg: &ServerConfig<'_>,
        tr: &mut TransportLayer<'_>,
        pool: &mut Pool<'_>,
    ) {
        {
            let s = &mut self.sessions[sess].0;
            s.state = State::Closing;
            s.close_reason = reason.to_u8();
            s.hb_at = 0;
            s.connect_at = 0;
            s.aux_at = 0;
            s.ack_at = 0;
        }
        if self.sessions[sess].0.transport == Transport::Upgrading {
            self.abort_upgrade(sess, tr, pool);
        }
        if graceful {
            let s = &mut self.sessions[sess].0;
            if s.queue.push(pool, stat::CLOSE) {
                s.draining = true;
                s.aux_at = self.now.saturating_add(u64::from(cfg.close_timeout));
                self.reschedule(sess);
                self.notify_output(sess, tr);
            } else {
                self.end_transport(sess, tr, pool);
            }
        } else {
            self.end_transport(sess, tr, pool);
        }
    }

    /// Tells the application that a session closed (plain Engine.IO; Socket.IO sessions
    /// were reported per socket), now or, when the event queue is full, once it has room;
    /// frees the slot when nothing else holds it.
    pub(super) fn report_end(
        &mut self,
        sess: SessionIx,
        cfg: &ServerConfig<'_>,
        events: &mut Events<'_>,
    ) {
        if self.protocol_of(sess, cfg) == Protocol::SocketIo {
            self.sessions[sess].0.reaped = true;
        } else if self.reap_sessions.is_none() && events.has_room(1) {
            self.report_close(sess, events);
        } else {
            let s = &mut self.sessions[sess].0;
            s.reaping = true;
            s.link = Link::NONE;
            match self.reap_sessions_tail.get() {
                None => self.reap_sessions = sess.into(),
                Some(tail) => self.sessions[tail].0.link = sess.into(),
            }
            self.reap_sessions_tail = sess.into();
        }
        self.free_if_done(sess);
    }
    /// Handles a message on the probing WebSocket of an upgrade.
    pub(super) fn probe_message(
        &mut self,
        sess: SessionIx,
        stream: StreamIx,
        text: Option<&str>,
        tr: &mut TransportLayer<'_>,
        pool: &mut Pool<'_>,
    ) {
        match text {
            Some("2probe") if !self.sessions[sess].0.probed => {
                tr.push_raw(stream, stat::PROBE_FRAME, pool);
                tr.txq_push(stream);
                self.sessions[sess].0.probed = true;
                // Release the waiting GET so the client can pause polling.
                if let Some(get) = self.sessions[sess].0.get.get()
                    && !tr.get_in_flight(get)
                {
                    self.sessions[sess].0.get = Link::NONE;
                    tr.finish_get(get, Some(Fixed::Noop));
                }
            }
            Some("5") => self.complete_upgrade(sess, stream, tr),
            _ => self.abort_upgrade(sess, tr, pool),
        }
    }

    /// A WebSocket (`stream`) asks to upgrade the polling session `sess`: it starts
    /// probing, under the upgrade deadline (`timeout` ms). `false` when the session is not
    /// open on polling (already upgrading or upgraded).
    pub(super) fn start_upgrade(
        &mut self,
        sess: SessionIx,
        stream: StreamIx,
        timeout: u32,
        tr: &mut TransportLayer<'_>,
    ) -> bool {
        let s = &mut self.sessions[sess].0;
        if s.state != State::Open || s.transport != Transport::Polling {
            return false;
        }
        s.transport = Transport::Upgrading;
        s.ws = stream.into();
        s.probed = false;
        s.aux_at = self.now.saturating_add(u64::from(timeout));
        tr.set_state(stream, StreamState::Probe);
        tr.streams[stream].0.session = sess.into();
        tr.streams[stream].0.v3.set(s.eio3);
        self.reschedule(sess);
        true
    }

    /// `stream` is the session's long-poll now; it writes at once if packets wait.
    pub(super) fn attach_get(
        &mut self,
        sess: SessionIx,
        stream: StreamIx,
        tr: &mut TransportLayer<'_>,
    ) {
        tr.set_state(stream, StreamState::Get);
        tr.streams[stream].0.session = sess.into();
        let s = &mut self.sessions[sess].0;
        tr.streams[stream].0.v3.set(s.eio3);
        s.get = stream.into();
        s.last_stream = stream.into();
        if !s.queue.is_empty() {
            tr.txq_push(stream);
        }
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
