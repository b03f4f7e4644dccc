//! Deadlines. The Engine.IO layer's: a binary min-heap over sessions, keyed by each
//! session's earliest deadline, kept inside the session slots (slot `i` stores heap position
//! `i`). The transport layer's: two lists of streams, one per HTTP timeout, each in
//! deadline order.

use super::ix::{Ix, Link};
use super::pool::Pool;
use super::session::{EngineLayer, SessionIx};
use super::stream::{Fixed, State as StreamState, Timer, Waiting};
use super::stream::{StreamIx, StreamSlot, TransportLayer};

impl EngineLayer<'_> {
    /// The earliest of a session's deadlines, or `None`.
    fn deadline_of(&self, sess: SessionIx) -> Option<u64> {
        let s = &self.sessions[sess].0;
        [s.hb_at, s.connect_at, s.aux_at, s.ack_at]
            .into_iter()
            .filter(|&t| t != 0)
            .min()
    }

    /// The session at heap position `pos` (below `heap_len`).
    fn heap_item(&self, pos: u32) -> SessionIx {
        let item = self.sessions[Ix::new(pos)].0.heap_item.get();
        debug_assert!(item.is_some(), "heap position {pos} holds no session");
        item.unwrap_or_else(|| Ix::new(pos))
    }

    fn heap_key(&self, pos: u32) -> u64 {
        self.deadline_of(self.heap_item(pos)).unwrap_or(u64::MAX)
    }

    fn heap_set(&mut self, pos: u32, sess: SessionIx) {
        self.sessions[Ix::new(pos)].0.heap_item = sess.into();
        self.sessions[sess].0.heap_pos = Ix::new(pos).into();
    }

    fn sift_up(&mut self, mut pos: u32) {
        let sess = self.heap_item(pos);
        let key = self.deadline_of(sess).unwrap_or(u64::MAX);
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if self.heap_key(parent) <= key {
                break;
            }
            let p = self.heap_item(parent);
            self.heap_set(pos, p);
            pos = parent;
        }
        self.heap_set(pos, sess);
    }

    fn sift_down(&mut self, mut pos: u32) {
        let sess = self.heap_item(pos);
        let key = self.deadline_of(sess).unwrap_or(u64::MAX);
        loop {
            let left = pos * 2 + 1;
            if left >= self.heap_len {
                break;
            }
            let right = left + 1;
            let child = if right < self.heap_len && self.heap_key(right) < self.heap_key(left) {
                right
            } else {
                left
            };
            if self.heap_key(child) >= key {
                break;
            }
            let c = self.heap_item(child);
            self.heap_set(pos, c);
            pos = child;
        }
        self.heap_set(pos, sess);
    }

    /// The session's position in the heap, if it is in it.
    fn heap_pos(&self, sess: SessionIx) -> Option<u32> {
        self.sessions[sess].0.heap_pos.get().map(Ix::get)
    }

    /// Puts the session where its current deadlines say (in, moved, or out of the heap).
    pub(super) fn reschedule(&mut self, sess: SessionIx) {
        let has = self.deadline_of(sess).is_some();
        match (self.heap_pos(sess), has) {
            (None, false) => {}
            (None, true) => {
                let at = self.heap_len;
                self.heap_len += 1;
                self.heap_set(at, sess);
                self.sift_up(at);
            }
            (Some(pos), true) => {
                self.sift_up(pos);
                if let Some(pos) = self.heap_pos(sess) {
                    self.sift_down(pos);
                }
            }
            (Some(_), false) => self.unschedule(sess),
        }
    }

    /// Takes the session out of the heap.
    pub(super) fn unschedule(&mut self, sess: SessionIx) {
        let Some(pos) = self.heap_pos(sess) else {
            return;
        };
        self.heap_len -= 1;
        let last = self.heap_len;
        self.sessions[sess].0.heap_pos = Link::NONE;
        if pos != last {
            let moved = self.heap_item(last);
            self.heap_set(pos, moved);
            self.sift_up(pos);
            if let Some(p) = self.heap_pos(moved) {
                self.sift_down(p);
            }
        }
        self.sessions[Ix::new(last)].0.heap_item = Link::NONE;
    }

    /// The session with the earliest deadline, and that deadline.
    pub(super) fn next_deadline(&self) -> Option<(u64, SessionIx)> {
        if self.heap_len == 0 {
            return None;
        }
        let sess = self.heap_item(0);
        Some((self.deadline_of(sess)?, sess))
    }
}

/// The ends of one deadline list of streams. Every stream on a list got the same timeout,
/// so appending keeps the list in deadline order: the first one is due first.
#[derive(Debug, Clone, Copy)]
pub(super) struct TimerList {
    first: Link<StreamSlot>,
    last: Link<StreamSlot>,
}

impl TimerList {
    pub(super) const EMPTY: Self = Self {
        first: Link::NONE,
        last: Link::NONE,
    };
}

impl TransportLayer<'_> {
    /// Sets a stream's state. A stream that comes to read requests or to close (`Http`,
    /// `Done`) gets the head deadline unless it runs already; one whose request
    /// goes to the application gets the request deadline for its answer; one that carries a
    /// session has none. Bytes of a request seen before are forgotten: they made up the
    /// request that moved it.
    pub(super) fn set_state(&mut self, s: StreamIx, state: StreamState) {
        let slot = &mut self.streams[s].0;
        slot.state = state;
        slot.waiting = Waiting::Nothing;
        match state {
            StreamState::Http | StreamState::Done => {
                if self.streams[s].0.timer != Timer::Head {
                    self.arm(s, Timer::Head);
                }
            }
            StreamState::App => self.arm(s, Timer::Body),
            _ => self.arm(s, Timer::Off),
        }
    }

    /// Takes the stream off its deadline list.
    fn unlink_timer(&mut self, s: StreamIx) {
        let st = self.streams[s].0;
        if st.timer == Timer::Off {
            return;
        }
        let list = st.timer as usize - 1;
        match st.timer_prev.get() {
            None => self.stream_timers[list].first = st.timer_next,
            Some(p) => self.streams[p].0.timer_next = st.timer_next,
        }
        match st.timer_next.get() {
            None => self.stream_timers[list].last = st.timer_prev,
            Some(n) => self.streams[n].0.timer_prev = st.timer_prev,
        }
        let slot = &mut self.streams[s].0;
        slot.timer = Timer::Off;
        slot.timer_prev = Link::NONE;
        slot.timer_next = Link::NONE;
    }

    /// (Re)starts the stream's deadline `timer` from now; `Timer::Off` stops it.
    pub(super) fn arm(&mut self, s: StreamIx, timer: Timer) {
        self.unlink_timer(s);
        let ms = match timer {
            Timer::Off => return,
            Timer::Head => self.headers_timeout,
            Timer::Body => self.request_timeout,
        };
        let list = timer as usize - 1;
        let last = self.stream_timers[list].last;
        let slot = &mut self.streams[s].0;
        slot.timer = timer;
        slot.timer_at = self.now.saturating_add(u64::from(ms));
        slot.timer_prev = last;
        slot.timer_next = Link::NONE;
        match last.get() {
            None => self.stream_timers[list].first = s.into(),
            Some(l) => self.streams[l].0.timer_next = s.into(),
        }
        self.stream_timers[list].last = s.into();
    }

    /// The stream with the earliest deadline, and that deadline.
    pub(super) fn next_stream_deadline(&self) -> Option<(u64, StreamIx)> {
        let mut next: Option<(u64, StreamIx)> = None;
        for l in &self.stream_timers {
            if let Some(first) = l.first.get() {
                let at = self.streams[first].0.timer_at;
                if next.is_none_or(|(t, _)| at < t) {
                    next = Some((at, first));
                }
            }
        }
        next
    }
}

impl TransportLayer<'_> {
    /// A stream's deadline passed: a partial request gets `408`, a whole one the server had
    /// no room for, or one the application did not answer, `503`; anything else (an idle
    /// kept-alive connection, output the peer does not read, a close that does not finish)
    /// is closed at once, what it still had to write dropped.
    pub(super) fn expire(&mut self, s: StreamIx, pool: &mut Pool<'_>) {
        let st = self.streams[s].0;
        self.arm(s, Timer::Off);
        match st.state {
            StreamState::Http if !st.tx_busy() && st.waiting == Waiting::Held => {
                self.respond_fixed(s, Fixed::Status(503), true);
            }
            StreamState::Http
                if !st.tx_busy() && (st.waiting == Waiting::Partial || st.timer == Timer::Body) =>
            {
                self.respond_fixed(s, Fixed::Status(408), true);
            }
            StreamState::App => {
                // The application never answered: it gets `WrongState` if it does now.
                self.set_state(s, StreamState::Http);
                self.respond_fixed(s, Fixed::Status(503), true);
            }
            StreamState::Http | StreamState::Done => self.abort_stream(s, pool),
            // Carrying a session or with the application: its deadline no longer applies.
            _ => {}
        }
    }
}
