//! The echo server (`examples/echo_server.rs`) against the official JavaScript clients
//! (npm `socket.io-client` 4.8.4 and `engine.io-client`, pinned in
//! `tests/interop/package-lock.json`): the suite `tests/interop/echo_suite.mjs` runs every
//! item of the echo contract over polling only, WebSocket only and the default upgrade,
//! plus the heartbeat, the ping timeout and a client sending garbage; and
//! `tests/interop/recovery_suite.mjs`, connection state recovery, in the same three modes;
//! `tests/interop/eio3_suite.mjs`, socket.io-client 2.5.0 (Engine.IO v3) beside the current
//! client, in the three modes and the heartbeat; `tests/interop/msgpack_suite.mjs`, the
//! current client with the msgpack parser (`socket.io-msgpack-parser` 3.0.2), in the three
//! modes.
//! And the chat demo (`examples/chat.rs`) run by the README's command (`bash scripts/chat.sh
//! --port 0`) in a copy of the tree as a fresh clone has it: offline first (the client
//! cannot be installed; its page must say so in plain words and keep what is typed), then
//! online (the command installs the client, the server sends it, two tabs of a headless
//! Chromium chat: `tests/interop/chat_browser.mjs`); and two terminal chat clients
//! (`examples/chat_client.rs`) through it. CORS in Chromium: a page of another origin
//! polls echo servers that allow it or not (`tests/interop/cors_browser.mjs`). And the
//! client side:
//! the mirror client (`examples/mirror_client.rs`) under the official Node server (npm
//! `socket.io` 4.8.4, `tests/interop/mirror_suite.mjs`) in the three transport modes, with
//! the default parser and with the msgpack parser (`--msgpack`).
//!
//! Needs `node`, `npm ci --prefix tests/interop` and Debian's `chromium` (the test command
//! installs them).

use std::fs;
use std::path::{Path, PathBuf};
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

mod common;

use common::Running;

/// How long one run of the suite may take.
const SUITE_TIMEOUT: Duration = Duration::from_secs(150);

/// Starts the echo server on a free port of 127.0.0.1.
fn start(options: echo_server::Options) -> Running {
    Running::spawn(move || {
        echo_server::bind(echo_server::Options { port: 0, ..options }).expect("bind")
    })
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
    common::node_suite(script, args, label, SUITE_TIMEOUT);
}

#[test]
fn socketio_over_polling() {
    let server = start(echo_server::Options::default());
    suite(&server.url(), "socketio", Some("polling"));
}

#[test]
fn socketio_over_websocket() {
    let server = start(echo_server::Options::default());
    suite(&server.url(), "socketio", Some("websocket"));
}

#[test]
fn socketio_with_upgrade() {
    let server = start(echo_server::Options::default());
    suite(&server.url(), "socketio", Some("upgrade"));
}

#[test]
fn engineio_echo_on_every_transport() {
    let server = start(echo_server::Options::default());
    for mode in ["polling", "websocket", "upgrade"] {
        suite(&server.url(), "engineio", Some(mode));
    }
}

#[test]
fn heartbeat_and_ping_timeout_with_short_intervals() {
    let server = start(echo_server::Options {
        ping_interval: 300,
        ping_timeout: 200,
        ..echo_server::Options::default()
    });
    suite(&server.url(), "heartbeat", None);
}

#[test]
fn garbage_from_one_client_leaves_the_others_alone() {
    let server = start(echo_server::Options::default());
    suite(&server.url(), "garbage", None);
}

/// socket.io-client 2.5.0 (Engine.IO v3, `tests/interop/eio3_suite.mjs`) against the echo
/// server started with `--allow-eio3`, in one transport mode (or the heartbeat, at 300/200
/// ms).
fn eio3(mode: &str) {
    let heartbeat = mode == "heartbeat";
    let d = echo_server::Options::default();
    let server = start(echo_server::Options {
        allow_eio3: true,
        ping_interval: if heartbeat { 300 } else { d.ping_interval },
        ping_timeout: if heartbeat { 200 } else { d.ping_timeout },
        ..d
    });
    node(
        "eio3_suite.mjs",
        &[&server.url(), mode],
        &format!("socket.io-client 2.5.0, {mode}"),
    );
}

#[test]
fn eio3_client_over_polling() {
    eio3("polling");
}

#[test]
fn eio3_client_over_websocket() {
    eio3("websocket");
}

#[test]
fn eio3_client_with_upgrade() {
    eio3("upgrade");
}

#[test]
fn eio3_client_kept_up_by_its_pings() {
    eio3("heartbeat");
}

/// socket.io-client 4.8.4 with the msgpack parser (`tests/interop/msgpack_suite.mjs`)
/// against the echo server started with `--parser msgpack`, in one transport mode.
fn msgpack(mode: &str) {
    let server = start(echo_server::Options {
        parser: siocore::server::Parser::MsgPack,
        ..echo_server::Options::default()
    });
    node(
        "msgpack_suite.mjs",
        &[&server.url(), mode],
        &format!("msgpack parser, {mode}"),
    );
}

#[test]
fn msgpack_parser_over_polling() {
    msgpack("polling");
}

#[test]
fn msgpack_parser_over_websocket() {
    msgpack("websocket");
}

#[test]
fn msgpack_parser_with_upgrade() {
    msgpack("upgrade");
}

/// Connection state recovery (`tests/interop/recovery_suite.mjs`) against the echo server
/// started with `--recovery`, in one transport mode.
fn recovery(mode: &str) {
    let server = start(echo_server::Options {
        recovery: 30_000,
        ..echo_server::Options::default()
    });
    node(
        "recovery_suite.mjs",
        &[&server.url(), mode],
        &format!("recovery {mode}"),
    );
}

#[test]
fn recovery_over_polling() {
    recovery("polling");
}

#[test]
fn recovery_over_websocket() {
    recovery("websocket");
}

#[test]
fn recovery_with_upgrade() {
    recovery("upgrade");
}

/// Starts the chat demo on a free port of 127.0.0.1.
fn start_chat() -> Running {
    Running::spawn(|| chat::bind("127.0.0.1:0".parse().expect("address")).expect("bind"))
}

/// The repository as a fresh clone has it: the files git knows (tracked ones, and new ones
/// it does not ignore), copied with their modification times (so that cargo reuses what it
/// built of them before) into `<target>/tmp/readme-demo`: no `node_modules`, no build.
fn clean_tree() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tree = Path::new(env!("CARGO_TARGET_TMPDIR")).join("readme-demo");
    if tree.exists() {
        fs::remove_dir_all(&tree).expect("remove the previous tree");
    }
    let listed = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output()
        .expect("git ls-files");
    assert!(listed.status.success(), "git ls-files: {listed:?}");
    for name in listed.stdout.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = std::str::from_utf8(name).expect("a UTF-8 path");
        let (from, to) = (root.join(name), tree.join(name));
        if !from.is_file() {
            continue; // deleted in the working tree
        }
        fs::create_dir_all(to.parent().expect("a parent")).expect("mkdir");
        fs::copy(&from, &to).expect("copy");
        let modified = fs::metadata(&from)
            .and_then(|m| m.modified())
            .expect("mtime");
        fs::File::options()
            .write(true)
            .open(&to)
            .and_then(|f| f.set_modified(modified))
            .expect("set mtime");
    }
    assert!(!tree.join("tests/interop/node_modules").exists());
    tree
}

/// The README's chat command running in `tree`: `bash scripts/chat.sh --port 0`, in a
/// process group of its own (killed with it when dropped).
struct Demo {
    child: std::process::Child,
    out: mpsc::Receiver<String>,
    err: mpsc::Receiver<String>,
    url: String,
}

impl Demo {
    /// Starts it with the environment `env` and waits for the address it prints (the first
    /// run builds the demo: 20 minutes at most).
    fn start(tree: &Path, env: &[(&str, &std::ffi::OsStr)]) -> Self {
        use std::os::unix::process::CommandExt;
        let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("the target directory");
        let mut child = Command::new("bash")
            .args(["scripts/chat.sh", "--port", "0"])
            .current_dir(tree)
            .env("CARGO_TARGET_DIR", target)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("bash scripts/chat.sh runs");
        let out = lines(&mut child);
        let err = lines_of(child.stderr.take().expect("stderr"));
        let mut demo = Self {
            child,
            out,
            err,
            url: String::new(),
        };
        let started = wait_line(&demo.out, "chat: open http://", Duration::from_secs(1200));
        let Some(line) = started else {
            panic!("the demo did not start:\n{}", demo.stderr());
        };
        demo.url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("the URL")
            .to_string();
        demo
    }

    /// What it wrote on stderr so far.
    fn stderr(&self) -> String {
        self.err.try_iter().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        // The script execs cargo, which execs the demo; the group holds whatever is left.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

#[test]
fn the_readme_chat_command_from_a_clean_tree_offline_then_online() {
    let chromium = "/usr/bin/chromium";
    assert!(
        Path::new(chromium).exists(),
        "the browser test needs Debian's chromium (apt-get install chromium)"
    );
    let tree = clean_tree();

    // Offline (npm finds neither a network nor a cache): the demo starts without the
    // client, and its page says so in plain words and keeps what is typed.
    let cache = tree.join("target-npm-empty-cache");
    let offline = Demo::start(
        &tree,
        &[
            ("npm_config_offline", "true".as_ref()),
            ("npm_config_cache", cache.as_os_str()),
        ],
    );
    let said = wait_line(
        &offline.err,
        "chat.sh: could not install",
        Duration::from_secs(10),
    );
    assert!(said.is_some(), "{}", offline.stderr());
    assert!(
        !tree
            .join("tests/interop/node_modules/socket.io/client-dist/socket.io.js")
            .exists()
    );
    node(
        "chat_browser.mjs",
        &["--no-client", &format!("{}/", offline.url), chromium],
        "the chat page without its client",
    );
    drop(offline);

    // Online: the command installs the client, the server sends it, two tabs chat, and the
    // server prints a line per user as Node's tutorial does.
    let demo = Demo::start(&tree, &[]);
    assert!(
        tree.join("tests/interop/node_modules/socket.io/client-dist/socket.io.js")
            .is_file(),
        "{}",
        demo.stderr()
    );
    node(
        "chat_browser.mjs",
        &[&format!("{}/", demo.url), chromium],
        "the chat in chromium",
    );
    let timeout = Duration::from_secs(10);
    let joined = wait_line(&demo.out, "a user connected: ", timeout).expect("a connect line");
    let left = wait_line(&demo.out, "user disconnected: ", timeout).expect("a disconnect line");
    assert!(!joined.is_empty() && !left.is_empty());
}

/// CORS in Chromium (`tests/interop/cors_browser.mjs`): a page of another origin polls echo
/// servers whose `--cors` lists it (with credentials and a preflighted header), reflects it,
/// or leaves it out (the page never connects).
#[test]
fn cors_for_a_page_of_another_origin_in_chromium() {
    let chromium = "/usr/bin/chromium";
    assert!(
        Path::new(chromium).exists(),
        "the browser test needs Debian's chromium (apt-get install chromium)"
    );
    let server = common::example("echo_server", "mio");
    node(
        "cors_browser.mjs",
        &[&server.to_string_lossy(), chromium],
        "CORS in chromium",
    );
}

/// The Rust mirror client (`examples/mirror_client.rs`) under the official Node server
/// (`tests/interop/mirror_suite.mjs`), in one transport mode.
fn mirror(mode: &str) {
    let client = common::example("mirror_client", "mio");
    let client = client.to_string_lossy();
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

/// The Rust mirror client with `--eio3` under a socket.io 2.5.0 server
/// (`tests/interop/mirror_suite.mjs --v2`), in one transport mode.
fn mirror_v2(mode: &str) {
    let client = common::example("mirror_client", "mio");
    let client = client.to_string_lossy();
    node(
        "mirror_suite.mjs",
        &["--v2", mode, &client],
        &format!("mirror client --eio3 {mode}"),
    );
}

#[test]
fn mirror_client_eio3_over_websocket_against_socketio2() {
    mirror_v2("websocket");
}

#[test]
fn mirror_client_eio3_over_polling_against_socketio2() {
    mirror_v2("polling");
}

#[test]
fn mirror_client_eio3_with_upgrade_against_socketio2() {
    mirror_v2("upgrade");
}

/// The Rust mirror client with `--parser msgpack` under the Node server with the msgpack
/// parser (`tests/interop/mirror_suite.mjs --msgpack`), in one transport mode.
fn mirror_msgpack(mode: &str) {
    let client = common::example("mirror_client", "mio");
    let client = client.to_string_lossy();
    node(
        "mirror_suite.mjs",
        &["--msgpack", mode, &client],
        &format!("mirror client --parser msgpack {mode}"),
    );
}

#[test]
fn mirror_client_msgpack_over_websocket_against_node() {
    mirror_msgpack("websocket");
}

#[test]
fn mirror_client_msgpack_over_polling_against_node() {
    mirror_msgpack("polling");
}

#[test]
fn mirror_client_msgpack_with_upgrade_against_node() {
    mirror_msgpack("upgrade");
}

/// Reads a child's stdout lines on a thread.
fn lines(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    lines_of(child.stdout.take().expect("stdout"))
}

/// Reads lines on a thread.
fn lines_of(out: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line containing `needle` (10 s at most).
fn expect_line(rx: &mpsc::Receiver<String>, needle: &str) -> String {
    wait_line(rx, needle, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no line with {needle:?}"))
}

/// The first line containing `needle`, or `None` after `timeout` or at the end.
fn wait_line(rx: &mpsc::Receiver<String>, needle: &str, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l.contains(needle) => return Some(l),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

#[test]
fn two_terminal_chat_clients_talk_through_the_chat_demo() {
    use std::io::Write;
    let server = start_chat();
    let url = server.url();
    let spawn = || {
        Command::new(common::example("chat_client", "mio"))
            .arg(&url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chat_client runs")
    };
    let mut a = spawn();
    let a_out = lines(&mut a);
    // B starts once A is in, and A sees B arrive, so both are in before anyone speaks.
    expect_line(&a_out, "* joined");
    let mut b = spawn();
    let b_out = lines(&mut b);
    expect_line(&a_out, "* user connected");
    let mut a_in = a.stdin.take().expect("stdin");
    writeln!(a_in, "hello from \"a\" ✓").expect("write");
    assert_eq!(expect_line(&b_out, "hello from"), "hello from \"a\" ✓");
    assert_eq!(expect_line(&a_out, "hello from"), "hello from \"a\" ✓");
    // End of input: A leaves, B is told, A exits 0.
    drop(a_in);
    expect_line(&b_out, "* user disconnected");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = a.try_wait().expect("wait") {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "chat_client did not exit"
        );
        thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    let _ = b.kill();
    let _ = b.wait();
}
