//! The scenarios, their figures and the closing table.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use crate::conn::{self, Conn, Kind, Unit};

#[derive(Clone, Copy, Debug)]
pub enum Which {
    Rss,
    Connect,
    Echo,
    Binary,
    Polling,
    Broadcast,
    /// `Broadcast` with at most 8 messages in flight instead of `Settings::window`.
    Broadcast8,
    /// Broadcasts across a cluster of two instances on one Redis (`--cluster`).
    ClusterBroadcast,
    /// `Rss`, `Connect` and `Echo` over TLS (`--tls`).
    TlsRss,
    TlsConnect,
    TlsEcho,
}

pub const ALL: [Which; 7] = [
    Which::Rss,
    Which::Connect,
    Which::Echo,
    Which::Binary,
    Which::Polling,
    Which::Broadcast8,
    Which::Broadcast,
];

/// The scenarios of a TLS run (`--tls`): every connection of them speaks wss.
pub const ALL_TLS: [Which; 3] = [Which::TlsRss, Which::TlsConnect, Which::TlsEcho];

impl Which {
    pub fn name(self) -> &'static str {
        match self {
            Which::Rss => "idle-rss",
            Which::Connect => "connect",
            Which::Echo => "echo",
            Which::Binary => "binary64k",
            Which::Polling => "polling",
            Which::Broadcast => "broadcast",
            Which::Broadcast8 => "broadcast8",
            Which::ClusterBroadcast => "cluster-broadcast",
            Which::TlsRss => "tls-idle-rss",
            Which::TlsConnect => "tls-connect",
            Which::TlsEcho => "tls-echo",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub threads: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub echo_clients: usize,
    pub binary_clients: usize,
    pub binary_size: usize,
    pub receivers: usize,
    /// Broadcast messages in flight (sent but not yet delivered to every receiver).
    pub window: u64,
    pub idle: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            threads: 2,
            duration: Duration::from_secs(5),
            warmup: Duration::from_millis(500),
            echo_clients: 50,
            binary_clients: 10,
            binary_size: 64 * 1024,
            receivers: 1000,
            window: 16,
            idle: 5000,
        }
    }
}

impl Settings {
    /// Small counts and short runs: checks that every scenario works against a server.
    pub fn quick(threads: usize) -> Self {
        Self {
            threads,
            duration: Duration::from_millis(500),
            warmup: Duration::from_millis(100),
            echo_clients: 8,
            binary_clients: 2,
            receivers: 50,
            idle: 200,
            ..Self::default()
        }
    }
}

pub struct Figure {
    pub which: Which,
    pub value: f64,
    pub unit: &'static str,
    pub extra: String,
    /// Server CPU microseconds per operation.
    pub server_us: f64,
    /// The part of `server_us` spent in the kernel (system time).
    pub server_sys_us: f64,
    /// Server CPU in cores over the measured time.
    pub server_cores: f64,
    /// The load generator's CPU in cores.
    pub client_cores: f64,
    pub threads: usize,
}

impl Figure {
    /// What probably limited the figure.
    pub fn limit(&self) -> &'static str {
        if self.client_cores >= 0.9 * self.threads as f64 {
            "client"
        } else if self.server_cores >= 0.9 {
            "server"
        } else if self.client_cores + self.server_cores >= 1.6 {
            "cores"
        } else {
            "-"
        }
    }

    pub fn line(&self) -> String {
        format!(
            "{:<10} {:>12.1} {:<12} server {:>8.2} µs/op (kernel {:.2}, {:.2} cores)  client {:.2} cores  limit {}  {}",
            self.which.name(),
            self.value,
            self.unit,
            self.server_us,
            self.server_sys_us,
            self.server_cores,
            self.client_cores,
            self.limit(),
            self.extra
        )
    }
}

/// CPU seconds of a process: (user, system).
pub(crate) fn cpu_seconds(pid: &str) -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return (0.0, 0.0);
    };
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| -> f64 { f.get(i).and_then(|v| v.parse().ok()).unwrap_or(0.0) };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) / hz, ticks(12) / hz)
}

/// What a [`Meter`] measured.
#[derive(Clone, Copy)]
struct Span {
    secs: f64,
    /// Server CPU seconds, user and system.
    server: f64,
    /// Of which system.
    server_sys: f64,
    /// The load generator's CPU seconds.
    client: f64,
}

pub(crate) fn rss_kib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0)
}

/// CPU of the server and of this process between two points.
struct Meter {
    pids: Vec<String>,
    at: Instant,
    server: (f64, f64),
    client: (f64, f64),
}

impl Meter {
    fn start(pid: u32) -> Self {
        Self::start_all(&[pid])
    }

    /// The CPU of several server processes, summed.
    fn start_all(pids: &[u32]) -> Self {
        let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
        Self {
            at: Instant::now(),
            server: cpu_sum(&pids),
            client: cpu_seconds("self"),
            pids,
        }
    }

    fn stop(&self) -> Span {
        let (su, ss) = cpu_sum(&self.pids);
        let (cu, cs) = cpu_seconds("self");
        Span {
            secs: self.at.elapsed().as_secs_f64(),
            server: su + ss - self.server.0 - self.server.1,
            server_sys: ss - self.server.1,
            client: cu + cs - self.client.0 - self.client.1,
        }
    }
}

/// User and system CPU seconds of the processes `pids`, summed.
fn cpu_sum(pids: &[String]) -> (f64, f64) {
    pids.iter()
        .map(|p| cpu_seconds(p))
        .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1))
}

fn figure(which: Which, s: &Settings, value: f64, unit: &'static str, ops: f64, m: Span) -> Figure {
    let per_op = |cpu: f64| if ops > 0.0 { cpu * 1e6 / ops } else { 0.0 };
    Figure {
        which,
        value,
        unit,
        extra: String::new(),
        server_us: per_op(m.server),
        server_sys_us: per_op(m.server_sys),
        server_cores: m.server / m.secs,
        client_cores: m.client / m.secs,
        threads: s.threads,
    }
}

pub fn run(which: Which, s: &Settings, addr: SocketAddr, pid: u32) -> Result<Figure, String> {
    match which {
        Which::Rss | Which::TlsRss => rss(s, addr, pid, which),
        Which::Connect | Which::TlsConnect => connect(s, addr, pid, which),
        Which::Echo | Which::TlsEcho => echo(s, addr, pid, Kind::Ws, false),
        Which::Binary => echo(s, addr, pid, Kind::Ws, true),
        Which::Polling => echo(s, addr, pid, Kind::Polling, false),
        Which::Broadcast => broadcast(s, &[addr], &[pid], which),
        Which::Broadcast8 => broadcast(
            &Settings {
                window: 8,
                ..s.clone()
            },
            &[addr],
            &[pid],
            which,
        ),
        Which::ClusterBroadcast => Err("cluster-broadcast needs two servers (--cluster)".into()),
    }
}

/// Broadcasts across two instances of a server on one Redis: half the receivers on each,
/// the sender on the first.
pub fn cluster_broadcast(
    s: &Settings,
    addrs: [SocketAddr; 2],
    pids: [u32; 2],
) -> Result<Figure, String> {
    broadcast(s, &addrs, &pids, Which::ClusterBroadcast)
}

/// Opens `n` connections, spread over the load threads.
fn open_many(
    addr: SocketAddr,
    kind: Kind,
    n: usize,
    threads: usize,
) -> Result<Vec<Vec<Conn>>, String> {
    let per = n.div_ceil(threads);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let count = per.min(n.saturating_sub(t * per));
            std::thread::spawn(move || {
                (0..count)
                    .map(|_| conn::open(addr, kind))
                    .collect::<std::io::Result<Vec<_>>>()
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| {
            h.join()
                .expect("setup thread")
                .map_err(|e| format!("setup: {e}"))
        })
        .collect()
}

/// "WebSocket" or "wss", as this run speaks.
fn ws_name() -> &'static str {
    if crate::tls::enabled() {
        "wss"
    } else {
        "WebSocket"
    }
}

fn rss(s: &Settings, addr: SocketAddr, pid: u32, which: Which) -> Result<Figure, String> {
    // One connection first, so that lazily set-up state is in the baseline.
    let first = open_many(addr, Kind::Ws, 1, 1)?;
    std::thread::sleep(Duration::from_millis(500));
    let before = rss_kib(pid);
    let m = Meter::start(pid);
    let conns = open_many(addr, Kind::Ws, s.idle, s.threads)?;
    std::thread::sleep(Duration::from_secs(2));
    let after = rss_kib(pid);
    let mut f = figure(
        which,
        s,
        (after - before) / s.idle as f64,
        "KiB/conn",
        s.idle as f64,
        m.stop(),
    );
    f.extra = format!(
        "{} idle {} clients, RSS {before:.0} → {after:.0} KiB",
        s.idle,
        ws_name()
    );
    drop((first, conns));
    Ok(f)
}

/// WebSocket setups in flight per load thread in the connections/s scenario.
const CONNECT_IN_FLIGHT: usize = 32;

fn connect(s: &Settings, addr: SocketAddr, pid: u32, which: Which) -> Result<Figure, String> {
    let until = Instant::now() + s.duration;
    let m = Meter::start(pid);
    let handles: Vec<_> = (0..s.threads)
        .map(|_| std::thread::spawn(move || connect_loop(addr, until)))
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.join().expect("connect thread")?;
    }
    let m = m.stop();
    let mut f = figure(which, s, total as f64 / m.secs, "conn/s", total as f64, m);
    f.extra = format!(
        "{} {} connections opened, joined `/` and reset, {} in flight per thread on {} threads",
        total,
        ws_name(),
        CONNECT_IN_FLIGHT,
        s.threads
    );
    Ok(f)
}

/// One load thread of the connections/s scenario: keeps `CONNECT_IN_FLIGHT` setups going
/// without blocking until `until`; returns how many completed.
fn connect_loop(addr: SocketAddr, until: Instant) -> Result<u64, String> {
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let mut slots: Vec<Option<conn::Opening>> = Vec::new();
    let open = |poll: &mut Poll, i: usize| -> Result<conn::Opening, String> {
        let mut o = conn::Opening::start(addr).map_err(|e| format!("connect: {e}"))?;
        poll.registry()
            .register(
                &mut o.stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|e| e.to_string())?;
        Ok(o)
    };
    for i in 0..CONNECT_IN_FLIGHT {
        slots.push(Some(open(&mut poll, i)?));
    }
    let mut events = Events::with_capacity(256);
    let mut done = 0u64;
    while Instant::now() < until {
        poll.poll(&mut events, Some(Duration::from_millis(10)))
            .map_err(|e| e.to_string())?;
        for ev in events.iter() {
            let i = ev.token().0;
            let Some(o) = slots[i].as_mut() else {
                continue;
            };
            if !o.advance(addr)? {
                continue;
            }
            done += 1;
            if let Some(o) = slots[i].take() {
                // Closing the socket takes it out of the poll: no deregistering call.
                o.reset();
            }
            if Instant::now() < until {
                slots[i] = Some(open(&mut poll, i)?);
            }
        }
    }
    for o in slots.into_iter().flatten() {
        o.reset();
    }
    Ok(done)
}

/// The event loop of one load thread: reads, hands every unit to `on_unit`, lets `tick`
/// queue more, writes. Ends when `tick` says so.
pub(crate) fn drive(
    conns: &mut [Conn],
    mut on_unit: impl FnMut(usize, &mut Conn, Unit<'_>) -> Result<(), String>,
    mut tick: impl FnMut(&mut [Conn]) -> Result<bool, String>,
) -> Result<(), String> {
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    for (i, c) in conns.iter_mut().enumerate() {
        poll.registry()
            .register(
                &mut c.stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|e| e.to_string())?;
    }
    let mut events = Events::with_capacity(1024);
    loop {
        if tick(conns)? {
            return Ok(());
        }
        for c in conns.iter_mut().filter(|c| c.pending()) {
            c.flush().map_err(|e| format!("write: {e}"))?;
        }
        poll.poll(&mut events, Some(Duration::from_millis(2)))
            .map_err(|e| e.to_string())?;
        for ev in events.iter() {
            let i = ev.token().0;
            let c = &mut conns[i];
            if ev.is_readable() {
                if !c.fill().map_err(|e| format!("read: {e}"))? {
                    return Err("server closed a connection".into());
                }
                c.drain(|c, u| on_unit(i, c, u))?;
            }
            c.flush().map_err(|e| format!("write: {e}"))?;
        }
    }
}

/// Echo round trips: text over WebSocket or polling, or a binary attachment.
fn echo(
    s: &Settings,
    addr: SocketAddr,
    pid: u32,
    kind: Kind,
    binary: bool,
) -> Result<Figure, String> {
    let clients = if binary {
        s.binary_clients
    } else {
        s.echo_clients
    };
    let groups = open_many(addr, kind, clients, s.threads)?;
    let start = Instant::now() + Duration::from_millis(50);
    let measure = start + s.warmup;
    let until = measure + s.duration;
    let size = s.binary_size;
    let handles: Vec<_> = groups
        .into_iter()
        .enumerate()
        .map(|(t, mut conns)| {
            std::thread::spawn(move || {
                let n = conns.len();
                let mut seq = vec![0u64; n];
                let mut sent_at = vec![start; n];
                let mut expect_ok = vec![0u32; n];
                let mut got_header = vec![false; n];
                let mut lat = Vec::new();
                let mut counted = 0u64;
                let mut blob = vec![0u8; size];
                for (i, b) in blob.iter_mut().enumerate() {
                    *b = (i * 7 + t) as u8;
                }
                let text =
                    |t: usize, i: usize, seq: u64| format!("42[\"echo\",\"c{t}-{i}-{seq}\"]");
                const HEADER: &[u8] = br#"451-["echo",{"_placeholder":true,"num":0}]"#;
                let send = |c: &mut Conn, i: usize, seq: u64, blob: &mut Vec<u8>| {
                    if binary {
                        blob[..8].copy_from_slice(&seq.to_le_bytes());
                        conn::frame(&mut c.wbuf, 1, HEADER);
                        conn::frame(&mut c.wbuf, 2, blob);
                    } else {
                        c.send_text(addr, text(t, i, seq).as_bytes());
                        if c.kind == Kind::Polling {
                            c.send_get(addr);
                        }
                    }
                };
                while Instant::now() < start {
                    std::thread::sleep(Duration::from_millis(1));
                }
                for (i, c) in conns.iter_mut().enumerate() {
                    send(c, i, 0, &mut blob);
                    expect_ok[i] += (kind == Kind::Polling) as u32;
                }
                let mut done = false;
                let blob_check = blob.clone();
                let mut blob_send = blob;
                drive(
                    &mut conns,
                    |i, c, u| {
                        let complete = match u {
                            Unit::Frame(1, b) if binary && !got_header[i] && b == HEADER => {
                                got_header[i] = true;
                                false
                            }
                            Unit::Frame(2, b) if binary && got_header[i] => {
                                if b.len() != size
                                    || b[..8] != seq[i].to_le_bytes()
                                    || b[8..] != blob_check[8..]
                                {
                                    return Err("binary echo differs from what was sent".into());
                                }
                                got_header[i] = false;
                                true
                            }
                            Unit::Frame(1, b) if !binary && b == text(t, i, seq[i]).as_bytes() => {
                                true
                            }
                            Unit::Body(b) if expect_ok[i] > 0 => {
                                if b != b"ok" {
                                    return Err(format!(
                                        "POST answered {}",
                                        String::from_utf8_lossy(b)
                                    ));
                                }
                                expect_ok[i] -= 1;
                                false
                            }
                            Unit::Body(b) => {
                                // A GET's payload: the echo, and perhaps a ping.
                                let want = text(t, i, seq[i]);
                                let mut complete = false;
                                for p in b.split(|&x| x == 0x1e) {
                                    if p == b"2" {
                                        c.send_text(addr, b"3");
                                        expect_ok[i] += 1;
                                    } else if p == want.as_bytes() && !complete {
                                        complete = true;
                                    } else if !p.starts_with(conn::AUTH) {
                                        return Err(format!(
                                            "unexpected packet: {}",
                                            String::from_utf8_lossy(&p[..p.len().min(80)])
                                        ));
                                    }
                                }
                                if !complete {
                                    c.send_get(addr);
                                }
                                complete
                            }
                            Unit::Frame(_, b) => {
                                return Err(format!(
                                    "unexpected reply: {}",
                                    String::from_utf8_lossy(&b[..b.len().min(80)])
                                ));
                            }
                        };
                        if complete {
                            let now = Instant::now();
                            if now >= measure && now < until {
                                counted += 1;
                                lat.push((now - sent_at[i]).as_micros() as u32);
                            }
                            if now < until {
                                seq[i] += 1;
                                sent_at[i] = now;
                                send(c, i, seq[i], &mut blob_send);
                                expect_ok[i] += (kind == Kind::Polling) as u32;
                            }
                        }
                        Ok(())
                    },
                    |_| {
                        done = done || Instant::now() >= until;
                        Ok(done)
                    },
                )?;
                Ok::<_, String>((counted, lat))
            })
        })
        .collect();
    while Instant::now() < measure {
        std::thread::sleep(Duration::from_millis(1));
    }
    let m = Meter::start(pid);
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(1));
    }
    let m = m.stop();
    let mut total = 0;
    let mut lat = Vec::new();
    for h in handles {
        let (n, l) = h.join().expect("echo thread")?;
        total += n;
        lat.extend(l);
    }
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    let which = match (kind, binary) {
        (Kind::Polling, _) => Which::Polling,
        (_, true) => Which::Binary,
        _ if crate::tls::enabled() => Which::TlsEcho,
        _ => Which::Echo,
    };
    let rate = total as f64 / m.secs;
    let mut f = if binary {
        figure(which, s, rate * size as f64 / 1e6, "MB/s", total as f64, m)
    } else {
        figure(which, s, rate, "rt/s", total as f64, m)
    };
    f.extra = format!(
        "{clients} clients, {total} round trips checked, p50 {:.2} ms, p99 {:.2} ms",
        pct(0.5),
        pct(0.99)
    );
    Ok(f)
}

/// Deliveries of `broadcast` to every receiver, the sender among them.
/// The sequence number of a `broadcast` message: `42["broadcast",N]`, or with more
/// arguments after N.
pub(crate) fn broadcast_seq(b: &[u8]) -> Result<u64, String> {
    b.strip_prefix(br#"42["broadcast","#)
        .and_then(|r| r.split(|&c| c == b',' || c == b']').next())
        .and_then(|r| std::str::from_utf8(r).ok())
        .and_then(|r| r.parse::<u64>().ok())
        .ok_or_else(|| format!("unexpected message: {}", String::from_utf8_lossy(b)))
}

/// `receivers` connections spread over the load threads, thread `t`'s on `addrs[t % n]`;
/// one of thread 0's sends every broadcast to `addrs[0]`.
fn broadcast(
    s: &Settings,
    addrs: &[SocketAddr],
    pids: &[u32],
    which: Which,
) -> Result<Figure, String> {
    let addr = addrs[0];
    let mut groups = Vec::new();
    for (i, &at) in addrs.iter().enumerate() {
        // The threads of this address: t % n == i.
        let threads = (i..s.threads.max(addrs.len())).step_by(addrs.len()).count();
        let share = s.receivers / addrs.len() + usize::from(i < s.receivers % addrs.len());
        groups.push(open_many(at, Kind::Ws, share, threads)?);
    }
    // Interleave so that thread t holds addrs[t % n]'s connections.
    let mut groups: Vec<Vec<Conn>> = {
        let mut out = Vec::new();
        let mut iters: Vec<_> = groups.into_iter().map(Vec::into_iter).collect();
        loop {
            let mut any = false;
            for it in &mut iters {
                if let Some(g) = it.next() {
                    out.push(g);
                    any = true;
                }
            }
            if !any {
                break out;
            }
        }
    };
    groups.retain(|g| !g.is_empty());
    let receivers = s.receivers as u64;
    let delivered = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let sending = Arc::new(AtomicBool::new(true));
    let barrier = Arc::new(Barrier::new(groups.len() + 1));
    let duration = s.duration;
    let window = s.window;
    let handles: Vec<_> = groups
        .into_iter()
        .enumerate()
        .map(|(t, mut conns)| {
            let (delivered, sent, sending, barrier) = (
                delivered.clone(),
                sent.clone(),
                sending.clone(),
                barrier.clone(),
            );
            std::thread::spawn(move || {
                let n = conns.len();
                let mut next = vec![0u64; n];
                let mut out_of_order = 0u64;
                let mut last_delivery = Instant::now();
                barrier.wait();
                let until = Instant::now() + duration;
                let deadline = until + Duration::from_secs(60);
                let mine = std::cell::Cell::new(0u64);
                let result = drive(
                    &mut conns,
                    |i, _c, u| {
                        let Unit::Frame(1, b) = u else {
                            return Err("unexpected frame".into());
                        };
                        let seq = broadcast_seq(b)?;
                        if seq >= sent.load(Ordering::Acquire) {
                            return Err(format!("message {seq} was never sent"));
                        }
                        if seq != next[i] {
                            out_of_order += 1;
                        }
                        next[i] = seq + 1;
                        mine.set(mine.get() + 1);
                        last_delivery = Instant::now();
                        Ok(())
                    },
                    |conns| {
                        if mine.get() > 0 {
                            delivered.fetch_add(mine.replace(0), Ordering::AcqRel);
                        }
                        let total = sent.load(Ordering::Acquire);
                        if t == 0 && sending.load(Ordering::Acquire) {
                            if Instant::now() >= until {
                                sending.store(false, Ordering::Release);
                            } else {
                                let d = delivered.load(Ordering::Acquire) / receivers;
                                let mut k = total;
                                while k < d + window {
                                    // Published before it is sent, so a receiver never sees
                                    // a number beyond `sent`.
                                    sent.store(k + 1, Ordering::Release);
                                    conns[0].send_text(
                                        addr,
                                        format!("42[\"broadcast\",{k}]").as_bytes(),
                                    );
                                    k += 1;
                                }
                            }
                        }
                        if !sending.load(Ordering::Acquire)
                            && delivered.load(Ordering::Acquire)
                                >= sent.load(Ordering::Acquire) * receivers
                        {
                            return Ok(true);
                        }
                        if Instant::now() > deadline {
                            return Err(format!(
                                "{} of {} deliveries after 60 s",
                                delivered.load(Ordering::Acquire),
                                sent.load(Ordering::Acquire) * receivers
                            ));
                        }
                        Ok(false)
                    },
                );
                if result.is_err() {
                    sending.store(false, Ordering::Release);
                }
                result?;
                let total = sent.load(Ordering::Acquire);
                if let Some(i) = next.iter().position(|&k| k != total) {
                    return Err(format!("receiver {i} ended at {} of {total}", next[i]));
                }
                Ok::<_, String>((out_of_order, last_delivery))
            })
        })
        .collect();
    let m = Meter::start_all(pids);
    barrier.wait();
    let t0 = Instant::now();
    let mut ooo = 0;
    let mut last = t0;
    for h in handles {
        let (o, l) = h.join().expect("broadcast thread")?;
        ooo += o;
        last = last.max(l);
    }
    let m = m.stop();
    let secs = (last - t0).as_secs_f64();
    let total = delivered.load(Ordering::Acquire);
    let mut f = figure(
        which,
        s,
        total as f64 / secs,
        "deliveries/s",
        total as f64,
        Span { secs, ..m },
    );
    f.extra = format!(
        "{} messages to {} receivers, {total} deliveries checked, {ooo} out of order",
        sent.load(Ordering::Acquire),
        s.receivers
    );
    Ok(f)
}

/// The figure of `which` in `figs` with the median value (the lower middle one when there
/// is an even number of rounds).
fn median(figs: &[Figure], which: Which) -> Option<&Figure> {
    let mut runs: Vec<&Figure> = figs
        .iter()
        .filter(|f| f.which.name() == which.name())
        .collect();
    runs.sort_by(|a, b| a.value.total_cmp(&b.value));
    runs.get(runs.len().saturating_sub(1) / 2).copied()
}

/// The closing table: each scenario, each server (its median round when there were
/// several), and ratios between servers: of the figure, and of the server CPU per
/// operation.
pub fn table(results: &[(String, Vec<Figure>)]) {
    let names: Vec<&str> = results.iter().map(|(n, _)| n.as_str()).collect();
    print!(
        "| scenario | server | figure | rounds | server CPU/op (kernel) | server cores | client cores | limit |"
    );
    for n in &names {
        print!(" vs {n} (CPU/op) |");
    }
    println!();
    println!("|{}", "---|".repeat(8 + names.len()));
    for which in ALL
        .into_iter()
        .chain([Which::ClusterBroadcast])
        .chain(ALL_TLS)
    {
        for (name, figs) in results {
            let Some(f) = median(figs, which) else {
                continue;
            };
            let rounds = figs
                .iter()
                .filter(|g| g.which.name() == which.name())
                .count();
            print!(
                "| {} | {name} | {:.1} {} | {rounds} | {:.2} µs ({:.2}) | {:.2} | {:.2} | {} |",
                which.name(),
                f.value,
                f.unit,
                f.server_us,
                f.server_sys_us,
                f.server_cores,
                f.client_cores,
                f.limit()
            );
            for (_, other) in results {
                match median(other, which) {
                    Some(o) if o.value > 0.0 && o.server_us > 0.0 => print!(
                        " {:.2}x ({:.2}x) |",
                        f.value / o.value,
                        f.server_us / o.server_us
                    ),
                    _ => print!(" - |"),
                }
            }
            println!();
        }
    }
}
