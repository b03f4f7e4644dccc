//! How many sessions a ready server takes by default: as many as the process may open
//! descriptors for, less a reserve.
//!
//! A WebSocket session holds one descriptor for as long as it lasts, so the process's
//! descriptor limit (`RLIMIT_NOFILE`, its soft value: what `ulimit -n` shows) is what
//! really bounds the sessions of a ready loop. A fixed cap below it refuses clients the
//! process could hold; one above it only means `accept` fails first (the driver then
//! retries every 100 ms). The tables the cap sizes ([`Capacity::for_sessions`]) are
//! growable: their entries are allocated as sessions arrive, so a higher cap costs nothing
//! while it is not reached.
//!
//! [`Capacity::for_sessions`]: crate::server::Capacity::for_sessions

/// Descriptors kept out of the default session cap: the listener, the poll and its waker,
/// standard input and output, a cluster's two Redis links, files served from a folder,
/// connections of plain HTTP requests, whatever the application opens itself.
pub const RESERVED_DESCRIPTORS: u64 = 64;

/// The highest default session cap, whatever the descriptor limit (an unlimited one
/// included): 1 048 576, Linux's default ceiling for the limit itself (`fs.nr_open`).
pub const MAX_DEFAULT_SESSIONS: usize = 1 << 20;

/// The default session cap where the descriptor limit cannot be read (a system other than
/// Linux): 16 384.
pub const FALLBACK_SESSIONS: usize = 16_384;

/// The default session cap for a process whose soft descriptor limit is `limit` (`None`:
/// not known, [`FALLBACK_SESSIONS`]): the limit less [`RESERVED_DESCRIPTORS`] (less a
/// quarter of it when the limit is under 256, so that a small limit keeps most of its
/// descriptors for clients), at least 1 and at most [`MAX_DEFAULT_SESSIONS`].
///
/// ```
/// use siocore::driver::sessions_for_descriptors;
///
/// assert_eq!(sessions_for_descriptors(Some(20_000)), 19_936);
/// assert_eq!(sessions_for_descriptors(Some(1024)), 960);
/// assert_eq!(sessions_for_descriptors(Some(100)), 75);
/// assert_eq!(sessions_for_descriptors(Some(u64::MAX)), 1 << 20);
/// assert_eq!(sessions_for_descriptors(None), 16_384);
/// ```
pub const fn sessions_for_descriptors(limit: Option<u64>) -> usize {
    let Some(limit) = limit else {
        return FALLBACK_SESSIONS;
    };
    let reserve = if limit / 4 < RESERVED_DESCRIPTORS {
        limit / 4
    } else {
        RESERVED_DESCRIPTORS
    };
    let sessions = limit - reserve;
    if sessions == 0 {
        1
    } else if sessions >= MAX_DEFAULT_SESSIONS as u64 {
        MAX_DEFAULT_SESSIONS
    } else {
        // Below MAX_DEFAULT_SESSIONS, so it fits any usize of 32 bits or more.
        sessions as usize
    }
}

/// The soft limit on this process's open descriptors (`RLIMIT_NOFILE`), as Linux reports it
/// in `/proc/self/limits` (`u64::MAX` for "unlimited"); `None` where that cannot be read
/// (another system, no `/proc`). The crate forbids `unsafe` code, so it reads the number
/// there rather than calling `getrlimit`; both give the same value.
pub fn descriptor_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    soft_open_files(&text)
}

/// The session cap of a ready server that was not given one: [`sessions_for_descriptors`]
/// of this process's [`descriptor_limit`] when it is called (20 000 descriptors: 19 936
/// sessions; 1024: 960).
pub fn default_max_sessions() -> usize {
    sessions_for_descriptors(descriptor_limit())
}

/// The soft value of the "Max open files" line of a `/proc/PID/limits` text.
fn soft_open_files(limits: &str) -> Option<u64> {
    let rest = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?;
    let soft = rest.split_whitespace().next()?;
    if soft == "unlimited" {
        Some(u64::MAX)
    } else {
        soft.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_is_the_limit_less_the_reserve() {
        assert_eq!(sessions_for_descriptors(Some(20_000)), 19_936);
        assert_eq!(sessions_for_descriptors(Some(65_536)), 65_472);
        assert_eq!(sessions_for_descriptors(Some(1024)), 960);
        // At 256 the two reserves meet.
        assert_eq!(sessions_for_descriptors(Some(256)), 192);
    }

    #[test]
    fn a_small_limit_keeps_three_quarters() {
        assert_eq!(sessions_for_descriptors(Some(255)), 192);
        assert_eq!(sessions_for_descriptors(Some(100)), 75);
        assert_eq!(sessions_for_descriptors(Some(4)), 3);
        assert_eq!(sessions_for_descriptors(Some(1)), 1);
        assert_eq!(sessions_for_descriptors(Some(0)), 1);
    }

    #[test]
    fn the_cap_is_bounded() {
        assert_eq!(
            sessions_for_descriptors(Some(MAX_DEFAULT_SESSIONS as u64 + 64)),
            MAX_DEFAULT_SESSIONS
        );
        assert_eq!(
            sessions_for_descriptors(Some(MAX_DEFAULT_SESSIONS as u64 + 63)),
            MAX_DEFAULT_SESSIONS - 1
        );
        assert_eq!(
            sessions_for_descriptors(Some(1 << 40)),
            MAX_DEFAULT_SESSIONS
        );
        assert_eq!(
            sessions_for_descriptors(Some(u64::MAX)),
            MAX_DEFAULT_SESSIONS
        );
    }

    #[test]
    fn an_unknown_limit_gives_the_old_fixed_cap() {
        assert_eq!(sessions_for_descriptors(None), 16_384);
    }

    #[test]
    fn the_soft_limit_is_read_from_proc() {
        let text = "\
Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            20000                1048576              files
Max locked memory         8388608              8388608              bytes
";
        assert_eq!(soft_open_files(text), Some(20_000));
        let unlimited = text.replace("20000    ", "unlimited");
        assert_eq!(soft_open_files(&unlimited), Some(u64::MAX));
        assert_eq!(
            soft_open_files("Max cpu time  unlimited  unlimited  seconds"),
            None
        );
        assert_eq!(soft_open_files("Max open files  lots  lots  files"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_a_limit() {
        let limit = descriptor_limit().expect("/proc/self/limits");
        assert!(limit >= 3, "{limit}");
        assert_eq!(
            default_max_sessions(),
            sessions_for_descriptors(Some(limit))
        );
    }
}
