//! `sio-load`: the load benchmark. It starts each server under test in turn, speaks
//! Engine.IO v4 / Socket.IO v5 to it over WebSocket and long-polling, checks every reply
//! (content, count, order), and prints each scenario's figure with the server's CPU time per
//! operation, its own CPU, and the ratios between servers.
//!
//! ```text
//! sio-load [--threads N] [--seconds S] [--rounds R] [--quick] [--only SCENARIO,...] NAME=COMMAND...
//! (scenarios: idle-rss, connect, echo, binary64k, polling, broadcast)
//! sio-load --soak MINUTES [--sample SECONDS] NAME=COMMAND...
//! sio-load --cluster [--rounds R] [--seconds S] NAME=COMMAND...
//! sio-load --tls CA [--threads N] [--seconds S] [--rounds R] [--quick] [--only SCENARIO,...] NAME=COMMAND...
//! (TLS scenarios: tls-idle-rss, tls-connect, tls-echo)
//! sio-load --scale [--sizes N,...] [--ping-interval MS] [--rounds R] [--quick] [--svg FILE] NAME=COMMAND...
//! ```
//!
//! `--scale` runs the scale scenario instead (see `scale.rs`): 1 000, 5 000 and 18 000 idle
//! WebSocket clients (or the `--sizes` given; `--quick`: 50), the server's RSS per
//! connection, its idle CPU while heartbeats run (every COMMAND gets `--ping-interval MS
//! --ping-timeout 20000` appended; 5 000 ms unless told) and the time of a broadcast to
//! everyone; with `--svg FILE` it also writes the plot of RSS per connection and broadcast
//! time against clients there.
//!
//! `--tls CA` runs the TLS scenarios instead of the plain ones: the servers serve https and
//! wss (each COMMAND prints `https://ADDR`), and every connection checks the server's
//! certificate against the CAs of the PEM file CA for the name `localhost`. Every
//! connection makes a full handshake (no session resumption).
//!
//! `--cluster` runs the cluster broadcast instead: each COMMAND is started twice (two
//! instances that must share a cluster, e.g. on one Redis), half the receivers connect to
//! each, and one client of the first sends the broadcasts; deliveries/s and the CPU of both
//! instances are reported.
//!
//! `--soak` runs the soak instead (see `soak.rs`): churn and broadcast at once for MINUTES,
//! the server's RSS and file descriptors sampled every minute (or every SECONDS), and fails
//! unless both stay flat.
//!
//! Each COMMAND is run through `sh -c` and must print a line holding `http://ADDR` (or
//! `https://ADDR`) once it listens (the three servers of `bench/run.sh` do). The contract: on `/`, `echo` (args) →
//! `echo` (the same args) to the sender, `broadcast` (args) → `broadcast` to every socket of
//! `/`, the sender included.
//!
//! With `--rounds R` every server runs every scenario R times, the servers taking turns
//! (round 1 of each, then round 2 of each, ...), and the table shows each one's median
//! round: on a shared, noisy machine one run can be off by a quarter.

mod conn;
mod scale;
mod scenario;
mod soak;
mod tls;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use scenario::{Figure, Settings};

struct Server {
    name: String,
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(name: &str, command: &str) -> Result<Self, String> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("exec {command}"))
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("{name}: {e}"))?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let mut sent = false;
            while let Some(Ok(line)) = lines.next() {
                let at = line
                    .find("http://")
                    .map(|at| at + 7)
                    .or_else(|| line.find("https://").map(|at| at + 8));
                if let (false, Some(at)) = (sent, at) {
                    let addr = line[at..].trim_end_matches('/').to_string();
                    sent = tx.send(addr).is_ok();
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| format!("{name}: no `http://ADDR` line within 30 s"))?;
        let addr = addr
            .parse()
            .map_err(|_| format!("{name}: bad address {addr}"))?;
        Ok(Self {
            name: name.to_string(),
            child,
            addr,
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: sio-load [--tls CA] [--threads N] [--seconds S] [--rounds R] [--quick] [--only SCENARIO,...] NAME=COMMAND...\n       sio-load --soak MINUTES [--sample SECONDS] NAME=COMMAND...\n       sio-load --cluster [--rounds R] [--seconds S] NAME=COMMAND...\n       sio-load --scale [--sizes N,...] [--ping-interval MS] [--rounds R] [--quick] [--svg FILE] NAME=COMMAND..."
    );
    std::process::exit(2)
}

fn main() {
    let mut settings = Settings::default();
    let mut servers = Vec::new();
    let mut only: Option<String> = None;
    let mut rounds = 1usize;
    let mut soak: Option<u64> = None;
    let mut sample = Duration::from_secs(60);
    let mut cluster = false;
    let mut scale = false;
    let mut quick = false;
    let mut sizes: Option<Vec<usize>> = None;
    let mut ping_interval: Option<u32> = None;
    let mut svg: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threads" => {
                settings.threads = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--seconds" => {
                let s: f64 = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage());
                settings.duration = Duration::from_secs_f64(s);
            }
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&r| r > 0)
                    .unwrap_or_else(|| usage())
            }
            "--quick" => {
                settings = Settings::quick(settings.threads);
                quick = true;
            }
            "--scale" => scale = true,
            "--sizes" => {
                sizes = Some(
                    args.next()
                        .and_then(|v| v.split(',').map(|n| n.parse().ok()).collect())
                        .filter(|v: &Vec<usize>| v.iter().all(|&n| n >= 2))
                        .unwrap_or_else(|| usage()),
                )
            }
            "--ping-interval" => {
                ping_interval = Some(
                    args.next()
                        .and_then(|v| v.parse().ok())
                        .filter(|&m| m > 0)
                        .unwrap_or_else(|| usage()),
                )
            }
            "--svg" => svg = Some(args.next().unwrap_or_else(|| usage())),
            "--soak" => {
                soak = Some(
                    args.next()
                        .and_then(|v| v.parse().ok())
                        .filter(|&m| m > 0)
                        .unwrap_or_else(|| usage()),
                )
            }
            "--sample" => {
                sample = Duration::from_secs(
                    args.next()
                        .and_then(|v| v.parse().ok())
                        .filter(|&s| s > 0)
                        .unwrap_or_else(|| usage()),
                )
            }
            "--only" => only = Some(args.next().unwrap_or_else(|| usage())),
            "--cluster" => cluster = true,
            "--tls" => {
                let ca = args.next().unwrap_or_else(|| usage());
                if let Err(e) = tls::enable(&ca) {
                    eprintln!("sio-load: {e}");
                    std::process::exit(2);
                }
            }
            _ => match a.split_once('=') {
                Some((name, cmd)) => servers.push((name.to_string(), cmd.to_string())),
                None => usage(),
            },
        }
    }
    if servers.is_empty() {
        usage();
    }
    if scale {
        let mut s = if quick {
            scale::ScaleSettings::quick(settings.threads)
        } else {
            scale::ScaleSettings {
                threads: settings.threads,
                ..scale::ScaleSettings::default()
            }
        };
        if let Some(v) = sizes {
            s.sizes = v;
        }
        if let Some(ms) = ping_interval {
            s.ping_interval = ms;
        }
        run_scale(&servers, &s, rounds, svg.as_deref());
    }
    if let Some(minutes) = soak {
        let mut failed = 0;
        for (name, cmd) in &servers {
            let server = Server::start(name, cmd).unwrap_or_else(|e| {
                eprintln!("sio-load: {e}");
                std::process::exit(1)
            });
            println!(
                "{name}: soak of {minutes} samples, {} s apart",
                sample.as_secs()
            );
            if let Err(e) = soak::run(server.addr, server.child.id(), minutes, sample) {
                println!("{name}: soak FAILED: {e}");
                failed += 1;
            } else {
                println!("{name}: soak passed: memory and descriptors flat");
            }
        }
        std::process::exit(i32::from(failed > 0));
    }
    println!(
        "sio-load: {} load threads, {:.1} s per timed scenario, {} cores on this machine",
        settings.threads,
        settings.duration.as_secs_f64(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut results: Vec<(String, Vec<Figure>)> = servers
        .iter()
        .map(|(n, _)| (n.clone(), Vec::new()))
        .collect();
    let mut failed = 0;
    for round in 1..=rounds {
        if rounds > 1 {
            println!("round {round} of {rounds}");
        }
        for ((name, cmd), (_, figures)) in servers.iter().zip(results.iter_mut()) {
            if cluster {
                run_cluster(name, cmd, &settings, figures, &mut failed);
            } else {
                run_all(name, cmd, &settings, only.as_deref(), figures, &mut failed);
            }
        }
    }
    println!();
    scenario::table(&results);
    let passed: usize = results.iter().map(|(_, f)| f.len()).sum();
    // Each scenario run is a check of every reply: say it the way test runners do.
    println!("\nscenarios: {passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}

/// The cluster broadcast once against two instances of `cmd`.
fn run_cluster(
    name: &str,
    cmd: &str,
    settings: &Settings,
    figures: &mut Vec<Figure>,
    failed: &mut usize,
) {
    let start = || {
        Server::start(name, cmd).unwrap_or_else(|e| {
            eprintln!("sio-load: {e}");
            std::process::exit(1)
        })
    };
    let (a, b) = (start(), start());
    // Both subscribe to the cluster's channels once they run: let them settle.
    std::thread::sleep(Duration::from_millis(1500));
    let t0 = Instant::now();
    match scenario::cluster_broadcast(settings, [a.addr, b.addr], [a.child.id(), b.child.id()]) {
        Ok(f) => {
            println!("{:<12} {}", name, f.line());
            figures.push(f);
        }
        Err(e) => {
            println!(
                "{:<12} cluster-broadcast FAILED: {e} (after {:.1} s)",
                name,
                t0.elapsed().as_secs_f64()
            );
            *failed += 1;
        }
    }
}

/// Every scenario (or those of `only`) once against the server `cmd`.
fn run_all(
    name: &str,
    cmd: &str,
    settings: &Settings,
    only: Option<&str>,
    figures: &mut Vec<Figure>,
    failed: &mut usize,
) {
    let list: &[scenario::Which] = if tls::enabled() {
        &scenario::ALL_TLS
    } else {
        &scenario::ALL
    };
    for &which in list {
        if only.is_some_and(|o| !o.split(',').any(|n| n == which.name())) {
            continue;
        }
        // A fresh server for every scenario: memory and state of one do not leak into
        // the next.
        let server = match Server::start(name, cmd) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("sio-load: {e}");
                std::process::exit(1);
            }
        };
        let pid = server.child.id();
        let t0 = Instant::now();
        match scenario::run(which, settings, server.addr, pid) {
            Ok(f) => {
                println!("{:<12} {}", server.name, f.line());
                figures.push(f);
            }
            Err(e) => {
                println!(
                    "{:<12} {:<10} FAILED: {e} (after {:.1} s)",
                    server.name,
                    which.name(),
                    t0.elapsed().as_secs_f64()
                );
                *failed += 1;
            }
        }
    }
}

/// The scale scenario (`--scale`): every count against every server, servers taking turns
/// at each count, `rounds` times; then the table, and the plot in `svg` when given. Exits.
fn run_scale(
    servers: &[(String, String)],
    s: &scale::ScaleSettings,
    rounds: usize,
    svg: Option<&str>,
) -> ! {
    let (soft, hard) = scale::descriptor_limits();
    println!(
        "sio-load --scale: {} load threads, clients {:?}, ping every {} ms (timeout 20 s) on every server, {} cores on this machine, descriptors {soft} (hard {hard})",
        s.threads,
        s.sizes,
        s.ping_interval,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut results: Vec<(String, Vec<scale::ScaleFigure>)> = servers
        .iter()
        .map(|(n, _)| (n.clone(), Vec::new()))
        .collect();
    let mut failed = 0;
    let mut skipped = Vec::new();
    for round in 1..=rounds {
        if rounds > 1 {
            println!("round {round} of {rounds}");
        }
        for &n in &s.sizes {
            if let Some(why) = scale::cannot_hold(n) {
                println!("scale {n:>6} clients: skipped: {why}");
                if round == 1 {
                    skipped.push(n);
                }
                continue;
            }
            for ((name, cmd), (_, figures)) in servers.iter().zip(results.iter_mut()) {
                let cmd = format!("{cmd}{}", s.server_flags());
                let server = match Server::start(name, &cmd) {
                    Ok(server) => server,
                    Err(e) => {
                        eprintln!("sio-load: {e}");
                        std::process::exit(1);
                    }
                };
                let t0 = Instant::now();
                match scale::run(n, s, server.addr, server.child.id()) {
                    Ok(f) => {
                        println!("{name:<12} {}", f.line());
                        figures.push(f);
                    }
                    Err(e) => {
                        println!(
                            "{name:<12} scale {n:>6} clients FAILED: {e} (after {:.1} s)",
                            t0.elapsed().as_secs_f64()
                        );
                        failed += 1;
                    }
                }
            }
        }
    }
    println!();
    scale::table(&results, s);
    if let Some(path) = svg {
        let title = format!(
            "{} idle WebSocket clients, ping every {} s: median of {rounds} round{}",
            s.sizes
                .iter()
                .filter(|n| !skipped.contains(n))
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            f64::from(s.ping_interval) / 1000.0,
            if rounds == 1 { "" } else { "s" }
        );
        match std::fs::write(path, scale::svg(&results, s, &title)) {
            Ok(()) => println!("\nplot: {path}"),
            Err(e) => {
                eprintln!("sio-load: {path}: {e}");
                failed += 1;
            }
        }
    }
    let passed: usize = results.iter().map(|(_, f)| f.len()).sum();
    println!("\nscenarios: {passed} passed, {failed} failed");
    std::process::exit(i32::from(failed > 0))
}
