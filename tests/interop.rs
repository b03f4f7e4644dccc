//! The echo server (`examples/echo_server.rs`) against the official JavaScript clients
//! (npm `socket.io-client` 4.8.4 and `engine.io-client`, pinned in
//! `tests/interop/package-lock.json`): the suite `tests/interop/echo_suite.mjs` runs every
//! item of the echo contract over polling only, WebSocket only and the default upgrade,
//! plus the heartbeat, the ping timeout and a client sending garbage. And the chat demo
//! (`examples/chat.rs`) in two tabs of a headless Chromium (`tests/interop/chat_browser.mjs`).
//!
//! Needs `node`, `npm ci --prefix tests/interop` and Debian's `chromium` (the test command
//! installs them).

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

#[path = "../examples/echo_server.rs"]
#[allow(dead_code, unreachable_pub)]
mod echo_server;

#[path = "../examples/chat.rs"]
#[allow(dead_code, unreachable_pub)]
mod chat;

use siocore::driver::Shutdown;

/// How long one run of the suite may take.
const SUITE_TIMEOUT: Duration = Duration::from_secs(150);

struct Running {
    url: String,
    shutdown: Shutdown,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.shutdown();
        if let Some(t) = self.thread.take() {
            let start = Instant::now();
            while !t.is_finished() && start.elapsed() < Duration::from_secs(10) {
                thread::sleep(Duration::from_millis(20));
            }
            if t.is_finished() {
                t.join().expect("the echo server thread");
            }
        }
    }
}

/// Starts the echo server on a free port of 127.0.0.1.
fn start(options: echo_server::Options) -> Running {
    let (tx, rx) = mpsc::channel();
    let thread = thread::spawn(move || {
        let mut server =
            echo_server::bind(echo_server::Options { port: 0, ..options }).expect("bind");
        tx.send((server.local_addr(), server.shutdown_handle()))
            .expect("send");
        server.run().expect("run");
    });
    let (addr, shutdown) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the server starts");
    Running {
        url: format!("http://{addr}"),
        shutdown,
        thread: Some(thread),
    }
}

/// Runs the suite; panics with its output unless every check passed.
fn suite(url: &str, name: &str, mode: Option<&str>) {
    let label = format!("{name} {}", mode.unwrap_or_default());
    let mut args = std::vec![url, name];
    args.extend(mode);
    node("echo_suite.mjs", &args, &label);
}

/// Runs `node tests/interop/<script> <args>`; panics with its output unless it exits 0.
fn node(script: &str, args: &[&str], label: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    assert!(
        dir.join("node_modules/socket.io-client").is_dir(),
        "run `npm ci --prefix tests/interop` first"
    );
    let mut cmd = Command::new("node");
    cmd.arg(dir.join(script)).args(args);
    let mut child = cmd
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if start.elapsed() > SUITE_TIMEOUT {
            let _ = child.kill();
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read");
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read");
    match status {
        Some(s) if s.success() => {
            let checks = out.lines().filter(|l| l.starts_with("ok ")).count();
            assert!(checks > 0, "{label}: no check ran\n{out}\n{err}");
            println!("{label}: {checks} checks passed");
        }
        Some(s) => panic!("{label}: {s}\n--- stdout ---\n{out}\n--- stderr ---\n{err}"),
        None => panic!("{label}: timed out\n--- stdout ---\n{out}\n--- stderr ---\n{err}"),
    }
}

#[test]
fn socketio_over_polling() {
    let server = start(echo_server::Options::default());
    suite(&server.url, "socketio", Some("polling"));
}

#[test]
fn socketio_over_websocket() {
    let server = start(echo_server::Options::default());
    suite(&server.url, "socketio", Some("websocket"));
}

#[test]
fn socketio_with_upgrade() {
    let server = start(echo_server::Options::default());
    suite(&server.url, "socketio", Some("upgrade"));
}

#[test]
fn engineio_echo_on_every_transport() {
    let server = start(echo_server::Options::default());
    for mode in ["polling", "websocket", "upgrade"] {
        suite(&server.url, "engineio", Some(mode));
    }
}

#[test]
fn heartbeat_and_ping_timeout_with_short_intervals() {
    let server = start(echo_server::Options {
        ping_interval: 300,
        ping_timeout: 200,
        ..echo_server::Options::default()
    });
    suite(&server.url, "heartbeat", None);
}

#[test]
fn garbage_from_one_client_leaves_the_others_alone() {
    let server = start(echo_server::Options::default());
    suite(&server.url, "garbage", None);
}

/// Starts the chat demo on a free port of 127.0.0.1.
fn start_chat() -> Running {
    let (tx, rx) = mpsc::channel();
    let thread = thread::spawn(move || {
        let mut server = chat::bind("127.0.0.1:0".parse().expect("address")).expect("bind");
        tx.send((server.local_addr(), server.shutdown_handle()))
            .expect("send");
        server.run().expect("run");
    });
    let (addr, shutdown) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the chat starts");
    Running {
        url: format!("http://{addr}/"),
        shutdown,
        thread: Some(thread),
    }
}

#[test]
fn chat_demo_in_two_browser_tabs() {
    let chromium = "/usr/bin/chromium";
    assert!(
        Path::new(chromium).exists(),
        "the browser test needs Debian's chromium (apt-get install chromium)"
    );
    let server = start_chat();
    node(
        "chat_browser.mjs",
        &[&server.url, chromium],
        "chat in chromium",
    );
}

/// The mirror client example, built by `cargo test` next to this test's binary.
fn mirror_client() -> String {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let path = dir.join("examples/mirror_client");
    assert!(
        path.exists(),
        "{} is missing: run `cargo test --features mio` (it builds the examples)",
        path.display()
    );
    path.to_string_lossy().into_owned()
}

/// The Rust mirror client (`examples/mirror_client.rs`) under the official Node server
/// (`tests/interop/mirror_suite.mjs`), in one transport mode.
fn mirror(mode: &str) {
    let client = mirror_client();
    node(
        "mirror_suite.mjs",
        &[mode, &client],
        &format!("mirror client {mode}"),
    );
}

#[test]
fn mirror_client_over_websocket_against_node() {
    mirror("websocket");
}

#[test]
fn mirror_client_over_polling_against_node() {
    mirror("polling");
}

#[test]
fn mirror_client_with_upgrade_against_node() {
    mirror("upgrade");
}
