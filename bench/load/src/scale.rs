//! The scale scenario (`--scale`): many idle WebSocket clients on one server, then one
//! broadcast to all of them.
//!
//! For each client count N (1 000, 5 000 and 18 000 by default) a fresh server is started
//! with the same short heartbeat (`--ping-interval`, 5 s unless told, and a 20 s ping
//! timeout, appended to every COMMAND: the three servers of `bench/run.sh` read both flags).
//! One client connects first and the server's RSS is read half a second later; then the
//! load threads open the other N - 1 without blocking (32 setups in flight on each), every
//! one joining `/`, and answer every ping from then on. Once all are in and the server had
//! two seconds to settle, it reports:
//!
//! * RSS per connection: the growth of the server's RSS since the first client, over N - 1;
//! * idle CPU: the server's CPU over a quiet window (15 s) in which only the heartbeats
//!   run, as cores and per heartbeat (a ping and its pong);
//! * broadcast: one client sends `broadcast` and the time until its last receiver (all N,
//!   the sender too) has it; ten of them one after the other, each once the previous
//!   reached everyone; the median, and the server's CPU per broadcast.
//!
//! CPU is read from `/proc/PID/task/*/schedstat` (nanoseconds, all threads), not the
//! 10 ms ticks the other scenarios read.
//!
//! Every delivery is checked: each receiver gets each broadcast once, in order, and a
//! connection the server closes (a missed heartbeat) fails the run.
//!
//! Clients come from several loopback source addresses (127.0.0.1, .2, ...; 8 000 on each),
//! so that no address runs short of ports. A count the descriptor limit of this process
//! (`ulimit -n`) cannot hold is skipped, with the reason.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use crate::conn::{self, Conn, Kind, Opening, Unit};
use crate::scenario::{broadcast_seq, cpu_seconds, rss_kib};

/// Clients per loopback source address.
const PER_SOURCE: usize = 8000;
/// Connection setups in flight per load thread.
const IN_FLIGHT: usize = 32;
/// Tokens of setups in flight start here; below are established connections.
const OPENING: usize = 1 << 30;
/// Descriptors this process keeps for itself beyond one per client.
const SPARE_FDS: u64 = 64;
/// How long opening all the clients may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(180);
/// How long one broadcast may take to reach everyone.
const BROADCAST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
pub struct ScaleSettings {
    pub sizes: Vec<usize>,
    pub threads: usize,
    /// The servers' ping interval in milliseconds (their ping timeout is 20 s).
    pub ping_interval: u32,
    /// The wait after the first client, before the baseline RSS.
    pub first_wait: Duration,
    /// The wait after the last client, before the RSS is read.
    pub settle: Duration,
    /// The window over which the idle CPU is measured.
    pub idle: Duration,
    pub broadcasts: usize,
}

impl Default for ScaleSettings {
    fn default() -> Self {
        Self {
            sizes: vec![1000, 5000, 18000],
            threads: 2,
            ping_interval: 5000,
            first_wait: Duration::from_millis(500),
            settle: Duration::from_secs(2),
            idle: Duration::from_secs(15),
            broadcasts: 10,
        }
    }
}

impl ScaleSettings {
    /// One small count and short waits: checks the scenario against every server.
    pub fn quick(threads: usize) -> Self {
        Self {
            sizes: vec![50],
            threads,
            first_wait: Duration::from_millis(200),
            settle: Duration::from_millis(300),
            idle: Duration::from_secs(1),
            broadcasts: 2,
            ..Self::default()
        }
    }

    /// The flags appended to each server's command.
    pub fn server_flags(&self) -> String {
        format!(
            " --ping-interval {} --ping-timeout 20000",
            self.ping_interval
        )
    }
}

/// What one run at one client count measured.
#[derive(Clone, Debug)]
pub struct ScaleFigure {
    pub clients: usize,
    pub rss_before: f64,
    pub rss_after: f64,
    /// KiB of server RSS per client.
    pub kib_per_conn: f64,
    /// Seconds to open every client.
    pub open_secs: f64,
    /// Server cores while only heartbeats ran.
    pub idle_cores: f64,
    /// Server CPU µs per heartbeat (a ping and its pong).
    pub us_per_heartbeat: f64,
    /// The load generator's cores meanwhile.
    pub idle_client_cores: f64,
    /// Milliseconds from each broadcast's send to its last delivery, sorted.
    pub broadcast_ms: Vec<f64>,
    /// Server CPU milliseconds per broadcast.
    pub broadcast_cpu_ms: f64,
    /// The kernel's part of it (from 10 ms ticks).
    pub broadcast_sys_ms: f64,
    /// The kernel's part of the idle CPU, as a fraction (from 10 ms ticks).
    pub idle_sys_share: f64,
}

impl ScaleFigure {
    pub fn broadcast_median(&self) -> f64 {
        self.broadcast_ms
            .get(self.broadcast_ms.len().saturating_sub(1) / 2)
            .copied()
            .unwrap_or(0.0)
    }

    pub fn line(&self) -> String {
        format!(
            "scale {:>6} clients: RSS {:.3} KiB/conn ({:.0} → {:.0} KiB), opened in {:.1} s, idle {:.3} cores ({:.2} µs per heartbeat, kernel {:.0} %, client {:.2} cores), broadcast to all {:.2} ms (median of {}: {}), {:.2} ms CPU each (kernel {:.0})",
            self.clients,
            self.kib_per_conn,
            self.rss_before,
            self.rss_after,
            self.open_secs,
            self.idle_cores,
            self.us_per_heartbeat,
            self.idle_sys_share * 100.0,
            self.idle_client_cores,
            self.broadcast_median(),
            self.broadcast_ms.len(),
            self.broadcast_ms
                .iter()
                .map(|m| format!("{m:.2}"))
                .collect::<Vec<_>>()
                .join(", "),
            self.broadcast_cpu_ms,
            self.broadcast_sys_ms,
        )
    }
}

/// The soft and hard limits on this process's descriptors.
pub fn descriptor_limits() -> (u64, u64) {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid resource and a valid out pointer.
    let r = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) };
    if r != 0 {
        return (0, 0);
    }
    (l.rlim_cur, l.rlim_max)
}

/// Why `n` clients cannot run here, if they cannot.
pub fn cannot_hold(n: usize) -> Option<String> {
    let (soft, hard) = descriptor_limits();
    let need = n as u64 + SPARE_FDS;
    (soft < need).then(|| {
        format!(
            "needs {need} descriptors in the load generator (and about {n} in the server), this process may open {soft} (ulimit -n; hard limit {hard})"
        )
    })
}

/// The loopback source address of client `i`.
fn source(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (i / PER_SOURCE) as u8))
}

/// Nanoseconds on a CPU of every thread of process `pid` (`self` for this one), from
/// `/proc/PID/task/*/schedstat`: finer than the 10 ms ticks of `/proc/PID/stat`, which a
/// broadcast to 1 000 clients takes less than.
fn cpu_ns(pid: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// CPU seconds of the server and of this process, and the wall time, between two points.
struct Clock {
    pid: String,
    at: Instant,
    server: u64,
    /// The server's system seconds by `/proc/PID/stat` (10 ms ticks).
    server_sys: f64,
    client: u64,
}

/// What a [`Clock`] measured.
struct Took {
    secs: f64,
    /// Server CPU seconds.
    server: f64,
    /// The part of them spent in the kernel: the ticks of `/proc/PID/stat`, so only a
    /// guide below a few hundred milliseconds.
    server_sys: f64,
    /// The load generator's CPU seconds.
    client: f64,
}

impl Clock {
    fn start(pid: u32) -> Self {
        let pid = pid.to_string();
        Self {
            at: Instant::now(),
            server: cpu_ns(&pid),
            server_sys: cpu_seconds(&pid).1,
            client: cpu_ns("self"),
            pid,
        }
    }

    fn stop(&self) -> Took {
        Took {
            secs: self.at.elapsed().as_secs_f64(),
            server: cpu_ns(&self.pid).saturating_sub(self.server) as f64 / 1e9,
            server_sys: (cpu_seconds(&self.pid).1 - self.server_sys).max(0.0),
            client: cpu_ns("self").saturating_sub(self.client) as f64 / 1e9,
        }
    }
}

/// The state the load threads and the main thread share.
struct Shared {
    epoch: Instant,
    opened: AtomicUsize,
    failed: Mutex<Option<String>>,
    stop: AtomicBool,
    /// Broadcasts asked for: thread 0 sends those it has not sent yet.
    send: AtomicU64,
    /// Deliveries of the broadcast under way.
    delivered: AtomicUsize,
    /// Nanoseconds after `epoch` of the latest delivery, and of the send.
    last_ns: AtomicU64,
    sent_ns: AtomicU64,
}

impl Shared {
    fn ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn fail(&self, why: String) {
        let mut f = self.failed.lock().expect("lock");
        f.get_or_insert(why);
    }

    fn failed(&self) -> Option<String> {
        self.failed.lock().expect("lock").clone()
    }
}

/// Runs the scenario with `n` clients against the server at `addr` (process `pid`).
pub fn run(n: usize, s: &ScaleSettings, addr: SocketAddr, pid: u32) -> Result<ScaleFigure, String> {
    if n < 2 {
        return Err("at least 2 clients".into());
    }
    let first = conn::open_from(addr, Kind::Ws, Some(source(0)))
        .map_err(|e| format!("first client: {e}"))?;
    std::thread::sleep(s.first_wait);
    let rss_before = rss_kib(pid);
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        opened: AtomicUsize::new(1),
        failed: Mutex::new(None),
        stop: AtomicBool::new(false),
        send: AtomicU64::new(0),
        delivered: AtomicUsize::new(0),
        last_ns: AtomicU64::new(0),
        sent_ns: AtomicU64::new(0),
    });
    let t0 = Instant::now();
    // Clients 1..n, in contiguous ranges; thread 0 also holds client 0, the sender.
    let rest = n - 1;
    let per = rest.div_ceil(s.threads);
    let mut first = Some(first);
    let handles: Vec<_> = (0..s.threads)
        .map(|t| {
            let start = 1 + t * per;
            let end = (start + per).min(n);
            let shared = shared.clone();
            let mine = if t == 0 { first.take() } else { None };
            std::thread::spawn(move || {
                let r = worker(t, start..end, mine, addr, &shared);
                if let Err(e) = &r {
                    shared.fail(e.clone());
                }
                r
            })
        })
        .collect();
    let finish = |shared: &Shared, handles: Vec<std::thread::JoinHandle<Result<(), String>>>| {
        shared.stop.store(true, Ordering::Release);
        let mut first_err = None;
        for h in handles {
            if let Err(e) = h.join().expect("scale thread") {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    };
    // Everyone in.
    loop {
        if let Some(e) = shared.failed() {
            let opened = shared.opened.load(Ordering::Acquire);
            let _ = finish(&shared, handles);
            return Err(format!("{opened} of {n} clients connected, then: {e}"));
        }
        let opened = shared.opened.load(Ordering::Acquire);
        if opened == n {
            break;
        }
        if t0.elapsed() > OPEN_TIMEOUT {
            let _ = finish(&shared, handles);
            return Err(format!(
                "{opened} of {n} clients connected after {} s",
                OPEN_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let open_secs = t0.elapsed().as_secs_f64();
    std::thread::sleep(s.settle);
    let rss_after = rss_kib(pid);
    // Heartbeats only.
    let m = Clock::start(pid);
    std::thread::sleep(s.idle);
    let idle = m.stop();
    let heartbeats = n as f64 * idle.secs / (f64::from(s.ping_interval) / 1000.0);
    // The broadcasts, one at a time.
    let mut times = Vec::new();
    let m = Clock::start(pid);
    for k in 0..s.broadcasts {
        shared.delivered.store(0, Ordering::Release);
        shared.last_ns.store(0, Ordering::Release);
        shared.send.store(k as u64 + 1, Ordering::Release);
        let began = Instant::now();
        loop {
            if let Some(e) = shared.failed() {
                let _ = finish(&shared, handles);
                return Err(format!("broadcast {k}: {e}"));
            }
            let got = shared.delivered.load(Ordering::Acquire);
            if got == n {
                break;
            }
            if began.elapsed() > BROADCAST_TIMEOUT {
                let _ = finish(&shared, handles);
                return Err(format!(
                    "broadcast {k}: {got} of {n} deliveries after {} s",
                    BROADCAST_TIMEOUT.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let (sent, last) = (
            shared.sent_ns.load(Ordering::Acquire),
            shared.last_ns.load(Ordering::Acquire),
        );
        times.push(last.saturating_sub(sent) as f64 / 1e6);
    }
    let cast = m.stop();
    finish(&shared, handles)?;
    times.sort_by(f64::total_cmp);
    Ok(ScaleFigure {
        clients: n,
        rss_before,
        rss_after,
        kib_per_conn: (rss_after - rss_before) / (n - 1) as f64,
        open_secs,
        idle_cores: idle.server / idle.secs,
        us_per_heartbeat: if heartbeats > 0.0 {
            idle.server * 1e6 / heartbeats
        } else {
            0.0
        },
        idle_client_cores: idle.client / idle.secs,
        broadcast_ms: times,
        broadcast_cpu_ms: cast.server * 1e3 / s.broadcasts.max(1) as f64,
        broadcast_sys_ms: cast.server_sys * 1e3 / s.broadcasts.max(1) as f64,
        idle_sys_share: if idle.server > 0.0 {
            (idle.server_sys / idle.server).min(1.0)
        } else {
            0.0
        },
    })
}

/// One load thread: opens the clients of `range` (and takes `first`, client 0, when
/// given), answers their pings, sends the broadcasts asked for (thread 0, from client 0)
/// and checks every delivery, until told to stop.
fn worker(
    t: usize,
    range: std::ops::Range<usize>,
    first: Option<Conn>,
    addr: SocketAddr,
    shared: &Shared,
) -> Result<(), String> {
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let both = Interest::READABLE | Interest::WRITABLE;
    let mut conns: Vec<Conn> = Vec::with_capacity(range.len() + 1);
    // The next broadcast each connection should get.
    let mut next: Vec<u64> = Vec::with_capacity(range.len() + 1);
    let mut scratch = vec![0u8; 64 * 1024];
    if let Some(mut c) = first {
        poll.registry()
            .register(&mut c.stream, Token(0), both)
            .map_err(|e| e.to_string())?;
        conns.push(c);
        next.push(0);
    }
    let mut slots: Vec<Option<Opening>> = (0..IN_FLIGHT).map(|_| None).collect();
    let mut todo = range.clone();
    let start = |poll: &Poll, k: usize, i: usize| -> Result<Opening, String> {
        let mut o = Opening::start_kept(addr, Some(source(i)))
            .map_err(|e| format!("connect from {}: {e}", source(i)))?;
        poll.registry()
            .register(&mut o.stream, Token(OPENING + k), both)
            .map_err(|e| e.to_string())?;
        Ok(o)
    };
    for (k, slot) in slots.iter_mut().enumerate() {
        if let Some(i) = todo.next() {
            *slot = Some(start(&poll, k, i)?);
        }
    }
    let mut sent = 0u64;
    let mut events = Events::with_capacity(1024);
    let result = loop {
        if shared.stop.load(Ordering::Acquire) || shared.failed().is_some() {
            break Ok(());
        }
        if t == 0 && !conns.is_empty() {
            let want = shared.send.load(Ordering::Acquire);
            while sent < want {
                conns[0].send_text(addr, format!("42[\"broadcast\",{sent}]").as_bytes());
                shared.sent_ns.store(shared.ns(), Ordering::Release);
                sent += 1;
            }
            if conns[0].pending() {
                conns[0].flush().map_err(|e| format!("write: {e}"))?;
            }
        }
        if let Err(e) = poll.poll(&mut events, Some(Duration::from_millis(20))) {
            break Err(e.to_string());
        }
        let mut step = || -> Result<(), String> {
            for ev in events.iter() {
                let tok = ev.token().0;
                if tok >= OPENING {
                    let k = tok - OPENING;
                    let Some(o) = slots[k].as_mut() else {
                        continue;
                    };
                    if !o.advance(addr)? {
                        continue;
                    }
                    let mut c = slots[k].take().expect("an opening").into_conn()?;
                    let i = conns.len();
                    poll.registry()
                        .reregister(&mut c.stream, Token(i), both)
                        .map_err(|e| e.to_string())?;
                    conns.push(c);
                    next.push(0);
                    shared.opened.fetch_add(1, Ordering::AcqRel);
                    // What came after the CONNECT answer (a ping, say).
                    serve(i, &mut conns[i], &mut next[i], shared)?;
                    if let Some(j) = todo.next() {
                        slots[k] = Some(start(&poll, k, j)?);
                    }
                    continue;
                }
                let c = &mut conns[tok];
                if !c.fill_via(&mut scratch).map_err(|e| format!("read: {e}"))? {
                    return Err(format!("the server closed client {tok} of thread {t}"));
                }
                serve(tok, c, &mut next[tok], shared)?;
            }
            Ok(())
        };
        if let Err(e) = step() {
            break Err(e);
        }
    };
    // Every receiver got every broadcast sent.
    let total = shared.send.load(Ordering::Acquire);
    let checked = result.and_then(|()| match next.iter().position(|&k| k != total) {
        Some(i) if shared.failed().is_none() => Err(format!(
            "client {i} of thread {t} got {} of {total} broadcasts",
            next[i]
        )),
        _ => Ok(()),
    });
    for c in &conns {
        c.reset_on_drop();
    }
    checked
}

/// Hands a connection's received frames over: pongs queued for pings (by `drain`), each
/// broadcast checked and counted; then writes what is queued.
fn serve(i: usize, c: &mut Conn, next: &mut u64, shared: &Shared) -> Result<(), String> {
    c.drain(|_, u| {
        let Unit::Frame(1, b) = u else {
            return Err("unexpected frame".into());
        };
        let seq = broadcast_seq(b)?;
        if seq != *next {
            return Err(format!("client {i}: broadcast {seq}, expected {next}"));
        }
        *next = seq + 1;
        shared.last_ns.fetch_max(shared.ns(), Ordering::AcqRel);
        shared.delivered.fetch_add(1, Ordering::AcqRel);
        Ok(())
    })?;
    c.flush().map_err(|e| format!("write: {e}"))
}

/// The closing table of a scale run: each count, each server (the median of its rounds,
/// figure by figure), and the ratios to the last server named.
pub fn table(results: &[(String, Vec<ScaleFigure>)], s: &ScaleSettings) {
    let names: Vec<&str> = results.iter().map(|(n, _)| n.as_str()).collect();
    let reference = names.last().copied().unwrap_or("-");
    println!(
        "| clients | server | RSS per connection | idle server CPU, ping every {} s | server CPU per heartbeat (kernel) | broadcast to all, last delivery | server CPU per broadcast (kernel) | RSS / {reference} | broadcast time / {reference} | broadcast CPU / {reference} |",
        f64::from(s.ping_interval) / 1000.0
    );
    println!("|{}", "---|".repeat(10));
    for &n in &s.sizes {
        let refm = results.last().and_then(|(_, f)| medians(f, n));
        for (name, figs) in results {
            let Some(m) = medians(figs, n) else {
                continue;
            };
            let ratio = |a: f64, b: Option<f64>| match b {
                Some(b) if b > 0.0 => format!("{:.3}x", a / b),
                _ => "-".into(),
            };
            println!(
                "| {n} | {name} | {:.2} KiB | {:.1} % of a core | {:.2} µs ({:.0} %) | {:.2} ms | {:.1} ms ({:.0}) | {} | {} | {} |",
                m.kib_per_conn,
                m.idle_cores * 100.0,
                m.us_per_heartbeat,
                m.idle_sys_share * 100.0,
                m.broadcast_ms,
                m.broadcast_cpu_ms,
                m.broadcast_sys_ms,
                ratio(m.kib_per_conn, refm.map(|r| r.kib_per_conn)),
                ratio(m.broadcast_ms, refm.map(|r| r.broadcast_ms)),
                ratio(m.broadcast_cpu_ms, refm.map(|r| r.broadcast_cpu_ms)),
            );
        }
    }
}

/// A server's figures at `n` clients, each the median of its rounds.
#[derive(Clone, Copy)]
struct Medians {
    kib_per_conn: f64,
    idle_cores: f64,
    us_per_heartbeat: f64,
    broadcast_ms: f64,
    broadcast_cpu_ms: f64,
    broadcast_sys_ms: f64,
    idle_sys_share: f64,
}

fn medians(figs: &[ScaleFigure], n: usize) -> Option<Medians> {
    let runs: Vec<&ScaleFigure> = figs.iter().filter(|f| f.clients == n).collect();
    if runs.is_empty() {
        return None;
    }
    let median = |f: &dyn Fn(&ScaleFigure) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(|r| f(r)).collect();
        v.sort_by(f64::total_cmp);
        v[(v.len() - 1) / 2]
    };
    Some(Medians {
        kib_per_conn: median(&|f| f.kib_per_conn),
        idle_cores: median(&|f| f.idle_cores),
        us_per_heartbeat: median(&|f| f.us_per_heartbeat),
        broadcast_ms: median(&|f| f.broadcast_median()),
        broadcast_cpu_ms: median(&|f| f.broadcast_cpu_ms),
        broadcast_sys_ms: median(&|f| f.broadcast_sys_ms),
        idle_sys_share: median(&|f| f.idle_sys_share),
    })
}

/// A panel of the plot: its label and the figure it shows.
type Panel = (&'static str, fn(&Medians) -> f64);

/// Series colours, one per server in the order named.
const COLOURS: [&str; 6] = [
    "#1b7837", "#2166ac", "#b2182b", "#762a83", "#e08214", "#4d4d4d",
];

/// The plot of a scale run as SVG: RSS per connection (left) and the time of a broadcast to
/// everyone (right) against the number of clients, one line per server, both on a log
/// scale. Plain SVG text, no plotting library.
pub fn svg(results: &[(String, Vec<ScaleFigure>)], s: &ScaleSettings, title: &str) -> String {
    let (w, h) = (960.0, 430.0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
        w / 2.0,
        escape(title)
    );
    let panels: [Panel; 2] = [
        ("RSS per connection (KiB, log scale)", |m| m.kib_per_conn),
        ("broadcast to all: last delivery (ms, log scale)", |m| {
            m.broadcast_ms
        }),
    ];
    let xmax = s.sizes.iter().copied().max().unwrap_or(1) as f64;
    for (p, (label, value)) in panels.iter().enumerate() {
        let (left, top, pw, ph) = (70.0 + p as f64 * 470.0, 50.0, 370.0, 290.0);
        // Every point of this panel, for the range of the log axis.
        let points: Vec<Vec<(f64, f64)>> = results
            .iter()
            .map(|(_, figs)| {
                s.sizes
                    .iter()
                    .filter_map(|&n| medians(figs, n).map(|m| (n as f64, value(&m))))
                    .filter(|&(_, v)| v > 0.0)
                    .collect()
            })
            .collect();
        let all: Vec<f64> = points.iter().flatten().map(|&(_, v)| v).collect();
        let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = all.iter().copied().fold(0.0, f64::max);
        let (lo, hi) = if all.is_empty() {
            (0.1, 10.0)
        } else {
            (
                10f64.powf(lo.log10().floor()),
                10f64.powf(hi.log10().ceil().max(lo.log10().floor() + 1.0)),
            )
        };
        let x = |n: f64| left + n / xmax * pw;
        let y = |v: f64| top + ph - (v.log10() - lo.log10()) / (hi.log10() - lo.log10()) * ph;
        let _ = writeln!(
            out,
            r##"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>"##
        );
        // Decades, labelled, with 2 and 5 between them.
        let mut d = lo;
        while d <= hi * 1.0001 {
            for (k, m) in [1.0, 2.0, 5.0].into_iter().enumerate() {
                let v = d * m;
                if v > hi * 1.0001 {
                    break;
                }
                let yy = y(v);
                let (stroke, dash) = if k == 0 {
                    ("#bbb", "")
                } else {
                    ("#e4e4e4", r#" stroke-dasharray="3,3""#)
                };
                let _ = writeln!(
                    out,
                    r#"<line x1="{left}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="{stroke}"{dash}/>"#,
                    left + pw
                );
                let _ = writeln!(
                    out,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                    left - 6.0,
                    yy + 4.0,
                    number(v)
                );
            }
            d *= 10.0;
        }
        for &n in &s.sizes {
            let xx = x(n as f64);
            let _ = writeln!(
                out,
                r##"<line x1="{xx:.1}" y1="{top}" x2="{xx:.1}" y2="{:.1}" stroke="#e4e4e4"/>"##,
                top + ph
            );
            let _ = writeln!(
                out,
                r#"<text x="{xx:.1}" y="{:.1}" text-anchor="middle">{n}</text>"#,
                top + ph + 16.0
            );
        }
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">clients (idle WebSocket connections)</text>"#,
            left + pw / 2.0,
            top + ph + 36.0
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="13">{}</text>"#,
            left + pw / 2.0,
            top - 8.0,
            escape(label)
        );
        for (i, pts) in points.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let path: Vec<String> = pts
                .iter()
                .map(|&(n, v)| format!("{:.1},{:.1}", x(n), y(v)))
                .collect();
            if path.len() > 1 {
                let _ = writeln!(
                    out,
                    r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
                    path.join(" ")
                );
            }
            for &(n, v) in pts {
                let _ = writeln!(
                    out,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{colour}"><title>{}: {} clients, {}</title></circle>"#,
                    x(n),
                    y(v),
                    escape(&results[i].0),
                    n,
                    number(v)
                );
            }
        }
    }
    // The legend, under the panels.
    for (i, (name, _)) in results.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let lx = 70.0 + i as f64 * 160.0;
        let _ = writeln!(
            out,
            r#"<line x1="{lx}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="3"/>"#,
            h - 22.0,
            lx + 24.0,
            h - 22.0
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 30.0,
            h - 18.0,
            escape(name)
        );
    }
    out.push_str("</svg>\n");
    out
}

/// A value as an axis label: no more digits than it needs.
fn number(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        let s = format!("{v:.1}");
        s.trim_end_matches(".0").to_string()
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').to_string()
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
