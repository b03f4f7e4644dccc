//! The examples as programs a user runs: `--help` prints the usage and exits 0; a bad flag,
//! a bad value or a missing one ends the program with one line on stderr that names it and
//! exit status 2; an address it cannot listen on with one line that names the address and
//! status 1; never a panic. The chat demo prints a line per connect and disconnect, and
//! `RUST_LOG=debug` shows the library's `log` output.
//!
//! The Rust examples are the binaries `cargo test` builds next to this test. The C ones are
//! built by `scripts/c-tests.sh`, which runs the `c_` tests (ignored otherwise) with
//! `SIOCORE_C_EXAMPLES` naming the folder they are in.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// A Rust example, built by `cargo test` next to this test's binary.
fn rust(name: &str) -> PathBuf {
    common::example(name, "mio")
}

/// How long a program may take to refuse its flags or to print an awaited line.
const WAIT: Duration = Duration::from_secs(20);

/// A C example, built by `scripts/c-tests.sh` into `$SIOCORE_C_EXAMPLES`, with the suffix
/// `$SIOCORE_C_SUFFIX` (`-asan` for the sanitized build).
fn c(name: &str) -> PathBuf {
    let dir = std::env::var_os("SIOCORE_C_EXAMPLES")
        .expect("SIOCORE_C_EXAMPLES names the folder of the C examples (scripts/c-tests.sh)");
    let suffix = std::env::var("SIOCORE_C_SUFFIX").unwrap_or_default();
    let path = Path::new(&dir).join(format!("{name}{suffix}"));
    assert!(path.exists(), "{} is missing", path.display());
    path
}

/// Runs `program args` (from the repository's root, stdin empty) to its end.
fn run(program: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    let deadline = Instant::now() + WAIT;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} {args:?} did not exit", program.display());
        }
        thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("output")
}

/// `program args` must exit with `code` and the single stderr line `<name>: <line>`, and
/// print nothing on stdout.
fn refuses(program: &Path, name: &str, args: &[&str], code: i32, line: &str) {
    let out = run(program, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{name} {args:?}: {}\n{stderr}",
        out.status
    );
    assert_eq!(stderr, format!("{name}: {line}\n"), "{name} {args:?}");
    assert_eq!(stdout, "", "{name} {args:?}");
}

/// `--help` (and `-h`) print the usage on stdout and exit 0, with nothing on stderr.
fn helps(program: &Path, name: &str, flags: &[&str]) {
    for help in ["--help", "-h"] {
        let out = run(program, &[help]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{name} {help}: {}", out.status);
        assert!(
            stdout.starts_with(&format!("usage: {name} ")),
            "{name} {help}: {stdout}"
        );
        for flag in flags {
            assert!(
                stdout.contains(flag),
                "{name} {help} lacks {flag}: {stdout}"
            );
        }
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{name} {help}");
    }
}

/// A port some other socket holds, and that socket.
fn busy_port() -> (TcpListener, u16) {
    let held = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = held.local_addr().expect("addr").port();
    (held, port)
}

/// The flags a server example shares with the other language's, and its busy port.
fn server_flags(program: &Path, name: &str) {
    refuses(
        program,
        name,
        &["--port", "abc"],
        2,
        "--port: not a port number: abc",
    );
    refuses(
        program,
        name,
        &["--port", "70000"],
        2,
        "--port: not a port number: 70000",
    );
    refuses(
        program,
        name,
        &["--port", "-1"],
        2,
        "--port: not a port number: -1",
    );
    refuses(program, name, &["--port"], 2, "--port: needs a value");
    refuses(
        program,
        name,
        &["--port", "--help"],
        2,
        "--port: needs a value",
    );
    refuses(
        program,
        name,
        &["--bogus"],
        2,
        "unknown flag: --bogus (see --help)",
    );
    refuses(
        program,
        name,
        &["stray"],
        2,
        "unexpected argument: stray (see --help)",
    );
    let (_held, port) = busy_port();
    refuses(
        program,
        name,
        &["--port", &port.to_string()],
        1,
        &format!("cannot listen on 127.0.0.1:{port}: Address already in use"),
    );
}

fn chat(program: &Path, name: &str) {
    helps(
        program,
        name,
        &[
            "--port",
            "--bind",
            "--tls-cert",
            "--tls-key",
            "--max-connections",
        ],
    );
    server_flags(program, name);
    max_connections_flag(program, name);
    refuses(
        program,
        name,
        &["--bind", "nothost"],
        2,
        "--bind: not an IP address: nothost",
    );
    refuses(program, name, &["--bind"], 2, "--bind: needs a value");
    refuses(
        program,
        name,
        &["--tls-cert", "c.pem"],
        2,
        "--tls-cert: needs --tls-key too",
    );
    refuses(
        program,
        name,
        &["--tls-key", "k.pem"],
        2,
        "--tls-key: needs --tls-cert too",
    );
}

fn echo_server(program: &Path, name: &str) {
    helps(
        program,
        name,
        &[
            "--port",
            "--ping-interval",
            "--ping-timeout",
            "--max-payload",
            "--max-connections",
        ],
    );
    server_flags(program, name);
    max_connections_flag(program, name);
    let ms = "not a number of milliseconds above 0";
    refuses(
        program,
        name,
        &["--ping-interval", "0"],
        2,
        &format!("--ping-interval: {ms}: 0"),
    );
    refuses(
        program,
        name,
        &["--ping-timeout", "x"],
        2,
        &format!("--ping-timeout: {ms}: x"),
    );
    refuses(
        program,
        name,
        &["--max-payload", "1e6"],
        2,
        "--max-payload: not a number of bytes above 0: 1e6",
    );
}

fn mirror_client(program: &Path, name: &str) {
    helps(
        program,
        name,
        &["--transport", "--eio3", "--parser", "--ca"],
    );
    let url = "http://127.0.0.1:9";
    refuses(program, name, &[], 2, "no server URL (see --help)");
    refuses(program, name, &["--eio3"], 2, "no server URL (see --help)");
    refuses(
        program,
        name,
        &["--bogus", url],
        2,
        "unknown flag: --bogus (see --help)",
    );
    refuses(
        program,
        name,
        &[url, "x"],
        2,
        "unexpected argument: x (see --help)",
    );
    refuses(
        program,
        name,
        &["--transport"],
        2,
        "--transport: needs a value",
    );
    refuses(
        program,
        name,
        &["--transport", "carrier-pigeon", url],
        2,
        "--transport: websocket or polling, not carrier-pigeon",
    );
    refuses(
        program,
        name,
        &["--parser", "xml", url],
        2,
        "--parser: json or msgpack, not xml",
    );
    refuses(
        program,
        name,
        &["--ca", "ca.pem", url],
        2,
        &format!("--ca: only for https:// and wss:// URLs, not {url}"),
    );
}

/// `--max-connections`, as the server examples read it.
fn max_connections_flag(program: &Path, name: &str) {
    let most = "not a number of connections from 1 to 1048576";
    for bad in ["0", "abc", "-3", "1048577"] {
        refuses(
            program,
            name,
            &["--max-connections", bad],
            2,
            &format!("--max-connections: {most}: {bad}"),
        );
    }
    refuses(
        program,
        name,
        &["--max-connections"],
        2,
        "--max-connections: needs a value",
    );
}

#[test]
fn chat_flags() {
    chat(&rust("chat"), "chat");
}

#[test]
fn echo_server_flags() {
    let program = rust("echo_server");
    echo_server(&program, "echo_server");
    let name = "echo_server";
    refuses(
        &program,
        name,
        &["--parser", "xml"],
        2,
        "--parser: json or msgpack, not xml",
    );
    refuses(
        &program,
        name,
        &["--redis", "localhost"],
        2,
        "--redis: not a redis:// URL: localhost",
    );
    refuses(
        &program,
        name,
        &["--recovery", "soon"],
        2,
        "--recovery: not a number of milliseconds: soon",
    );
    refuses(
        &program,
        name,
        &["--cors-credentials"],
        2,
        "--cors-credentials: needs --cors too",
    );
    refuses(
        &program,
        name,
        &["--cors", "https://a.example", "--cors", "*"],
        2,
        "--cors: * and reflect stand alone",
    );
    refuses(&program, name, &["--cors"], 2, "--cors: needs a value");
}

#[test]
fn mirror_client_flags() {
    let program = rust("mirror_client");
    mirror_client(&program, "mirror_client");
    refuses(
        &program,
        "mirror_client",
        &["notaurl"],
        2,
        "only http://, ws://, https:// and wss:// URLs are supported: notaurl",
    );
    refuses(
        &program,
        "mirror_client",
        &["http://127.0.0.1:abc"],
        2,
        "invalid port: http://127.0.0.1:abc",
    );
    // `.invalid` never resolves (RFC 6761): a failure of the network, status 1.
    let out = run(&program, &["http://nohost.invalid:3000"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("mirror_client: http://nohost.invalid:3000: "),
        "{stderr}"
    );
}

#[test]
fn chat_client_flags() {
    let (program, name) = (rust("chat_client"), "chat_client");
    let url = "http://127.0.0.1:9";
    helps(&program, name, &["--ca"]);
    refuses(&program, name, &[], 2, "no server URL (see --help)");
    refuses(
        &program,
        name,
        &["--bogus", url],
        2,
        "unknown flag: --bogus (see --help)",
    );
    refuses(
        &program,
        name,
        &[url, "x"],
        2,
        "unexpected argument: x (see --help)",
    );
    refuses(&program, name, &["--ca"], 2, "--ca: needs a value");
    refuses(
        &program,
        name,
        &["--ca", "ca.pem", url],
        2,
        &format!("--ca: only for https:// and wss:// URLs, not {url}"),
    );
    refuses(
        &program,
        name,
        &["ftp://127.0.0.1"],
        2,
        "only http://, ws://, https:// and wss:// URLs are supported: ftp://127.0.0.1",
    );
}

#[test]
#[ignore = "scripts/c-tests.sh runs it on the C examples it builds"]
fn c_chat_server_flags() {
    let program = c("chat_server");
    chat(&program, "chat_server");
    refuses(
        &program,
        "chat_server",
        &["--page", "/nonexistent/index.html"],
        1,
        "--page: cannot read /nonexistent/index.html: No such file or directory",
    );
}

#[test]
#[ignore = "scripts/c-tests.sh runs it on the C examples it builds"]
fn c_echo_server_flags() {
    echo_server(&c("echo_server"), "echo_server");
}

#[test]
#[ignore = "scripts/c-tests.sh runs it on the C examples it builds"]
fn c_mirror_client_flags() {
    let program = c("mirror_client");
    mirror_client(&program, "mirror_client");
    refuses(
        &program,
        "mirror_client",
        &["notaurl"],
        2,
        "not an http://, ws://, https:// or wss:// URL: notaurl",
    );
    refuses(
        &program,
        "mirror_client",
        &["http://nohost.invalid:3000"],
        1,
        "http://nohost.invalid:3000: the host name does not resolve",
    );
}

/// A child's output lines, read on a thread.
fn lines(out: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The first line with `needle` (within [`WAIT`]).
fn expect_line(rx: &mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l.contains(needle) => return l,
            Ok(_) => {}
            Err(_) => panic!("no line with {needle:?}"),
        }
    }
}

/// A program killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a server example on a free port: the program, its stdout and stderr lines, and
/// the address it printed.
fn serve(
    program: &Path,
    args: &[&str],
    log: &str,
) -> (
    Killed,
    mpsc::Receiver<String>,
    mpsc::Receiver<String>,
    String,
) {
    let mut child = Command::new(program)
        .args(args)
        .args(["--port", "0"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", log)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server starts");
    let out = lines(child.stdout.take().expect("stdout"));
    let err = lines(child.stderr.take().expect("stderr"));
    let child = Killed(child);
    let line = expect_line(&out, "http://");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("an address")
        .to_string();
    (child, out, err, addr)
}

#[test]
fn rust_log_debug_shows_the_library_log() {
    let (_server, _out, err, addr) = serve(&rust("echo_server"), &[], "debug");
    let mut s = TcpStream::connect(&addr).expect("connect");
    s.write_all(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    // The driver's debug line for the new stream, through the example's logger.
    let line = expect_line(&err, "[DEBUG siocore::driver]");
    assert!(line.contains("from 127.0.0.1:"), "{line}");
}

/// A terminal client joins the chat server `program` and leaves: the server prints a line
/// for each, with the socket's id, as the server of Node's tutorial does.
fn prints_connects_and_disconnects(program: &Path) {
    let (_server, out, _err, addr) = serve(program, &[], "");
    let mut client = Killed(
        Command::new(rust("chat_client"))
            .arg(format!("http://{addr}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chat_client runs"),
    );
    let joined = expect_line(&out, "a user connected: ");
    let id = joined.trim_start_matches("a user connected: ");
    assert_eq!(id.len(), 20, "a socket id: {joined}");
    // The end of its input: the client leaves.
    drop(client.0.stdin.take());
    let left = expect_line(&out, "user disconnected: ");
    assert!(
        left.starts_with(&format!("user disconnected: {id} (")),
        "{left}"
    );
}

#[test]
fn the_chat_prints_a_line_per_connect_and_disconnect() {
    prints_connects_and_disconnects(&rust("chat"));
}

#[test]
#[ignore = "scripts/c-tests.sh runs it on the C examples it builds"]
fn c_chat_server_prints_a_line_per_connect_and_disconnect() {
    prints_connects_and_disconnects(&c("chat_server"));
}

/// The status line and body of a polling handshake at `addr` under `path` (`/engine.io/`,
/// `/socket.io/`).
fn handshake(addr: &str, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    s.set_write_timeout(Some(WAIT)).expect("timeout");
    write!(
        s,
        "GET {path}?EIO=4&transport=polling HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    s.read_to_string(&mut response).expect("response");
    let (head, body) = response.split_once("\r\n\r\n").expect("a whole response");
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, body.to_string())
}

/// The server `program` started with `--max-connections 2` holds two clients and refuses
/// a third.
fn caps_the_sessions(program: &Path, path: &str) {
    let (_server, _out, _err, addr) = serve(program, &["--max-connections", "2"], "");
    for _ in 0..2 {
        let (status, body) = handshake(&addr, path);
        assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
        assert!(body.starts_with("0{\"sid\":"), "{body}");
    }
    // The first two sessions stay open (polling, until their ping timeout).
    let (status, body) = handshake(&addr, path);
    assert_eq!(status, "HTTP/1.1 403 Forbidden", "{body}");
    assert_eq!(body, r#"{"code":4,"message":"Forbidden"}"#);
}

#[test]
fn max_connections_caps_the_sessions() {
    caps_the_sessions(&rust("echo_server"), "/engine.io/");
    caps_the_sessions(&rust("chat"), "/socket.io/");
}

#[test]
#[ignore = "scripts/c-tests.sh runs it on the C examples it builds"]
fn c_max_connections_caps_the_sessions() {
    caps_the_sessions(&c("echo_server"), "/engine.io/");
    caps_the_sessions(&c("chat_server"), "/socket.io/");
}
