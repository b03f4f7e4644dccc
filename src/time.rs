//! Time as the state machines see it: milliseconds on a monotonic clock the caller owns.
//!
//! siocore never reads a clock. Every call that can start or check a timer takes an
//! [`Instant`], and the machines report their next deadline as one, so a test can drive
//! them with a fake clock and a device can use whatever tick counter it has.

use core::fmt;

/// A point in time, in milliseconds since an origin the caller chooses (boot, process
/// start, or 0 in a test). Only differences between instants matter.
///
/// The caller must never go backwards: a `now` earlier than one already given is treated
/// as the later one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The origin, 0 ms.
    pub const ZERO: Self = Self(0);

    /// The end of time: a deadline that never comes.
    pub const MAX: Self = Self(u64::MAX);

    /// The instant `ms` milliseconds after the origin.
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// This instant plus `ms` milliseconds (saturating).
    #[must_use]
    pub const fn plus_millis(self, ms: u64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, or 0 when `earlier` is later.
    pub const fn millis_since(self, earlier: Self) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ms", self.0)
    }
}
