//! The soak: churn and broadcast at once for many minutes, the server's resident memory and
//! open file descriptors sampled every minute. It passes when both stay flat: no sample of
//! the second half above the highest of the first half by more than a margin (10 % and
//! 2 MiB for memory, 64 descriptors for the connections the churn holds at any moment).
//!
//! * Broadcast: `RECEIVERS` WebSocket clients stay connected; one of them sends `broadcast`
//!   with a sequence number and 1 KiB of padding, `RATE` a second, at most 16 in flight;
//!   every receiver checks that it gets every message, in order.
//! * Churn: another thread opens `BATCH` connections (three WebSocket for each polling one),
//!   each joined to `/`, then closes them all, ten batches a second. A polling client leaves
//!   as a browser tab does, with its long-poll GET pending, so the server sees it go.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::conn::{self, Kind, Unit};
use crate::scenario::{broadcast_seq, drive, rss_kib};

const RECEIVERS: usize = 100;
const RATE: u64 = 200;
const WINDOW: u64 = 16;
const BATCH: usize = 40;

/// Open file descriptors of a process.
fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// One sample.
struct Sample {
    minute: f64,
    rss_kib: f64,
    fds: usize,
}

/// Runs the soak for `minutes` against the server at `addr` (process `pid`).
pub fn run(addr: SocketAddr, pid: u32, minutes: u64, sample: Duration) -> Result<(), String> {
    let total = sample * minutes as u32;
    let stop = Arc::new(AtomicBool::new(false));
    let delivered = Arc::new(AtomicU64::new(0));
    let churned = Arc::new(AtomicU64::new(0));

    let mut conns = (0..RECEIVERS)
        .map(|_| conn::open(addr, Kind::Ws))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| format!("setup: {e}"))?;
    let caster = {
        let (stop, delivered) = (stop.clone(), delivered.clone());
        let count = delivered.clone();
        std::thread::spawn(move || {
            let mut next = vec![0u64; RECEIVERS];
            let mut sent = 0u64;
            let start = Instant::now();
            let pad = "p".repeat(1024);
            drive(
                &mut conns,
                |i, _c, u| {
                    let Unit::Frame(1, b) = u else {
                        return Err("unexpected frame".into());
                    };
                    let seq = broadcast_seq(b)?;
                    if seq != next[i] {
                        return Err(format!("receiver {i} got {seq}, expected {}", next[i]));
                    }
                    next[i] += 1;
                    delivered.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                },
                |conns| {
                    if stop.load(Ordering::Relaxed) {
                        return Ok(true);
                    }
                    // Messages every receiver got (within the window).
                    let done = count.load(Ordering::Relaxed) / RECEIVERS as u64;
                    let due = start.elapsed().as_millis() as u64 * RATE / 1000;
                    while sent < due && sent < done + WINDOW {
                        conns[0].send_text(
                            addr,
                            format!(r#"42["broadcast",{sent},"{pad}"]"#).as_bytes(),
                        );
                        sent += 1;
                    }
                    Ok(false)
                },
            )
        })
    };
    let churn = {
        let (stop, churned) = (stop.clone(), churned.clone());
        std::thread::spawn(move || -> Result<(), String> {
            while !stop.load(Ordering::Relaxed) {
                let mut batch = (0..BATCH)
                    .map(|k| conn::open(addr, if k % 4 == 3 { Kind::Polling } else { Kind::Ws }))
                    .collect::<std::io::Result<Vec<_>>>()
                    .map_err(|e| format!("churn: {e}"))?;
                for c in batch.iter_mut().filter(|c| c.kind == Kind::Polling) {
                    c.send_get(addr);
                    c.flush().map_err(|e| format!("churn: {e}"))?;
                }
                churned.fetch_add(batch.len() as u64, Ordering::Relaxed);
                drop(batch);
                std::thread::sleep(Duration::from_millis(100));
            }
            Ok(())
        })
    };

    println!(
        "soak: {RECEIVERS} receivers of {RATE} broadcasts/s, {BATCH} connections opened and closed at a time"
    );
    println!(
        "{:>7} {:>10} {:>5} {:>12} {:>12}",
        "minute", "RSS KiB", "fds", "churned", "deliveries"
    );
    let start = Instant::now();
    let mut samples = Vec::new();
    while start.elapsed() < total {
        std::thread::sleep(sample.min(total - start.elapsed()));
        if caster.is_finished() || churn.is_finished() {
            break;
        }
        let s = Sample {
            minute: start.elapsed().as_secs_f64() / 60.0,
            rss_kib: rss_kib(pid),
            fds: fds(pid),
        };
        println!(
            "{:>7.1} {:>10.0} {:>5} {:>12} {:>12}",
            s.minute,
            s.rss_kib,
            s.fds,
            churned.load(Ordering::Relaxed),
            delivered.load(Ordering::Relaxed)
        );
        samples.push(s);
    }
    stop.store(true, Ordering::Relaxed);
    caster.join().expect("broadcast thread")?;
    churn.join().expect("churn thread")?;
    if samples.len() < 2 {
        return Err("fewer than two samples".into());
    }
    let (first, second) = samples.split_at(samples.len() / 2);
    let peak = |s: &[Sample]| s.iter().map(|x| x.rss_kib).fold(0.0, f64::max);
    let peak_fds = |s: &[Sample]| s.iter().map(|x| x.fds).max().unwrap_or(0);
    let (rss1, rss2) = (peak(first), peak(second));
    let (fds1, fds2) = (peak_fds(first), peak_fds(second));
    println!(
        "soak: peak RSS {rss1:.0} then {rss2:.0} KiB, peak fds {fds1} then {fds2}, {} connections churned, {} deliveries checked",
        churned.load(Ordering::Relaxed),
        delivered.load(Ordering::Relaxed)
    );
    if rss2 > rss1 * 1.1 + 2048.0 {
        return Err(format!("RSS grew from {rss1:.0} to {rss2:.0} KiB"));
    }
    if fds2 > fds1 + 64 {
        return Err(format!("file descriptors grew from {fds1} to {fds2}"));
    }
    Ok(())
}
