//! Session deadlines: a binary min-heap over sessions, keyed by each session's earliest
//! deadline, kept inside the session slots (slot `i` stores heap position `i`).

use super::Server;
use super::storage::NONE;
use crate::Instant;

impl Server<'_> {
    /// The earliest of a session's deadlines, or `None`.
    fn deadline_of(&self, sess: u32) -> Option<u64> {
        let s = &self.sessions[sess].0;
        [s.hb_at, s.connect_at, s.aux_at, s.ack_at]
            .into_iter()
            .filter(|&t| t != 0)
            .min()
    }

    fn heap_key(&self, pos: u32) -> u64 {
        let sess = self.sessions[pos].0.heap_item;
        self.deadline_of(sess).unwrap_or(u64::MAX)
    }

    fn heap_set(&mut self, pos: u32, sess: u32) {
        self.sessions[pos].0.heap_item = sess;
        self.sessions[sess].0.heap_pos = pos;
    }

    fn sift_up(&mut self, mut pos: u32) {
        let sess = self.sessions[pos].0.heap_item;
        let key = self.deadline_of(sess).unwrap_or(u64::MAX);
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if self.heap_key(parent) <= key {
                break;
            }
            let p = self.sessions[parent].0.heap_item;
            self.heap_set(pos, p);
            pos = parent;
        }
        self.heap_set(pos, sess);
    }

    fn sift_down(&mut self, mut pos: u32) {
        let sess = self.sessions[pos].0.heap_item;
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
            let c = self.sessions[child].0.heap_item;
            self.heap_set(pos, c);
            pos = child;
        }
        self.heap_set(pos, sess);
    }

    /// Puts the session where its current deadlines say (in, moved, or out of the heap).
    pub(super) fn reschedule(&mut self, sess: u32) {
        let has = self.deadline_of(sess).is_some();
        let pos = self.sessions[sess].0.heap_pos;
        match (pos == NONE, has) {
            (true, false) => {}
            (true, true) => {
                let at = self.heap_len;
                self.heap_len += 1;
                self.heap_set(at, sess);
                self.sift_up(at);
            }
            (false, true) => {
                self.sift_up(pos);
                let pos = self.sessions[sess].0.heap_pos;
                self.sift_down(pos);
            }
            (false, false) => self.unschedule(sess),
        }
    }

    /// Takes the session out of the heap.
    pub(super) fn unschedule(&mut self, sess: u32) {
        let pos = self.sessions[sess].0.heap_pos;
        if pos == NONE {
            return;
        }
        self.heap_len -= 1;
        let last = self.heap_len;
        self.sessions[sess].0.heap_pos = NONE;
        if pos != last {
            let moved = self.sessions[last].0.heap_item;
            self.heap_set(pos, moved);
            self.sift_up(pos);
            let p = self.sessions[moved].0.heap_pos;
            self.sift_down(p);
        }
        self.sessions[last].0.heap_item = NONE;
    }

    /// The session with the earliest deadline, and that deadline.
    pub(super) fn next_deadline(&self) -> Option<(u64, u32)> {
        if self.heap_len == 0 {
            return None;
        }
        let sess = self.sessions[0].0.heap_item;
        Some((self.deadline_of(sess)?, sess))
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called, or `None` when
    /// no timer runs. A deadline in the past means now (the previous call could not finish
    /// because the event queue was full).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_deadline().map(|(t, _)| Instant::from_millis(t))
    }

    /// Runs every timer due at `now`: pings, ping timeouts, connect, upgrade and close
    /// timeouts, acknowledgement timeouts. Safe to call at any time.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        let now = self.now;
        // Each round either moves the session's deadline or stops: a round that could not
        // act (no room for its events) leaves the deadline where it was.
        while let Some((at, sess)) = self.next_deadline() {
            if at > now {
                break;
            }
            self.run_timers(sess, now);
            if self.next_deadline() == Some((at, sess)) {
                break;
            }
        }
    }
}
