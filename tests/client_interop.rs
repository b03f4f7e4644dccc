//! The Rust client (`ClientDriver` on mio) against the official Node server (npm
//! `socket.io` 4.8.4, `tests/interop/client_server.mjs`) over the three transport modes:
//! several namespaces with their own auth, a middleware refusal (`CONNECT_ERROR` with message
//! and data), query parameters and extra headers, events and acks both ways with binary,
//! and an HTTP refusal of the handshake.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant as StdInstant};

use siocore::client::{Args, Client, ClientConfig, CloseReason, Event, Transports};
use siocore::driver::{ClientDriver, Wake};
use siocore::http::Header;

struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn node_server() -> (Node, SocketAddr) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    assert!(
        dir.join("node_modules/socket.io").is_dir(),
        "run `npm ci --prefix tests/interop` first"
    );
    let mut child = Command::new("node")
        .arg("client_server.mjs")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    let out = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).expect("read");
    let port: u16 = line
        .trim()
        .strip_prefix("listening ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected: {line:?}"));
    (Node(child), SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Everything the client saw, as text.
fn session(addr: SocketAddr, t: Transports, query: &str) -> Vec<String> {
    let host = addr.to_string();
    let headers = [Header {
        name: "X-Device",
        value: b"board-1",
    }];
    let mut config = ClientConfig::new(&host);
    config.transports = t;
    config.query = query;
    config.headers = &headers;
    config.reconnection.attempts = 0;
    let mut arena = vec![0u8; config.arena_len()];
    let mut client: Client<'_> = Client::new(config, &mut arena, [4; 32]).unwrap();
    client.connect("/", None).unwrap();
    client
        .connect("/admin", Some(br#"{"token":"secret"}"#))
        .unwrap();
    client
        .connect("/locked", Some(br#"{"token":"secret"}"#))
        .unwrap();
    let mut driver = ClientDriver::new(client, addr).unwrap();
    let mut seen = Vec::new();
    let start = StdInstant::now();
    let mut acked = false;
    driver
        .run(&mut |client: &mut Client<'_>, wake: Wake<'_, '_>, now| {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "timed out: {seen:?}"
            );
            let Wake::Event(e) = wake else {
                return true;
            };
            let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            let ns = |id| client.namespace_name(id).unwrap_or("?").to_string();
            match *e {
                Event::Connect { namespace: id, .. } => {
                    seen.push(format!("connect {}", ns(id)));
                    if ns(id) == "/admin" {
                        let blob: &[u8] = &[7, 8, 9];
                        client
                            .emit_with_ack(
                                id,
                                "echo-ack",
                                Args::binary(br#"{"_placeholder":true,"num":0},"x""#, &[blob]),
                                5000,
                                now,
                            )
                            .unwrap();
                        client.emit(id, "ask", Args::NONE).unwrap();
                    }
                }
                Event::ConnectError {
                    namespace: id,
                    message,
                    data,
                } => seen.push(format!(
                    "connect_error {} {message} {}",
                    ns(id),
                    s(data.unwrap_or_default())
                )),
                Event::Message(m) => {
                    let atts: Vec<Vec<u8>> = m.attachments.iter().map(<[u8]>::to_vec).collect();
                    seen.push(format!(
                        "{} {} {} {atts:?}",
                        ns(m.namespace),
                        m.name,
                        s(m.args)
                    ));
                    if let Some(id) = m.ack {
                        client
                            .ack(m.namespace, id, Args::json(b"42,\"yes\""))
                            .unwrap();
                    }
                    if m.name == "answer" {
                        // Everything was seen: leave.
                        client.close(now);
                    }
                }
                Event::Ack {
                    namespace: id,
                    args,
                    attachments,
                    ..
                } => {
                    acked = true;
                    let atts: Vec<Vec<u8>> = attachments.iter().map(<[u8]>::to_vec).collect();
                    seen.push(format!("{} ack {} {atts:?}", ns(id), s(args)));
                }
                Event::Closed { reason } => {
                    seen.push(format!("closed {reason:?}"));
                }
                Event::ReconnectFailed { .. } => seen.push("gave up".into()),
                _ => {}
            }
            true
        })
        .unwrap();
    assert!(acked || query.contains("deny"), "{seen:?}");
    seen
}

fn check_mode(t: Transports, mode: &str) {
    let (_node, addr) = node_server();
    let query = format!("mode={mode}");
    let seen = session(addr, t, &query);
    let has = |line: &str| seen.iter().any(|s| s == line);
    for line in [
        "connect /".to_string(),
        "connect /admin".to_string(),
        r#"connect_error /locked unauthorized {"code":42}"#.to_string(),
        format!(r#"/ welcome "/",{{}},"{mode}","board-1" []"#),
        format!(r#"/admin welcome "/admin",{{"token":"secret"}},"{mode}","board-1" []"#),
        r#"/admin ack {"_placeholder":true,"num":0},"x" [[7, 8, 9]]"#.to_string(),
        r#"/admin question 1,"two" []"#.to_string(),
        r#"/admin answer 42,"yes" []"#.to_string(),
        "closed ClientClose".to_string(),
    ] {
        assert!(has(&line), "{mode}: missing {line:?} in {seen:#?}");
    }
}

#[test]
fn namespaces_auth_acks_and_binary_over_websocket() {
    check_mode(Transports::WebSocket, "websocket");
}

#[test]
fn namespaces_auth_acks_and_binary_over_polling() {
    check_mode(Transports::Polling, "polling");
}

#[test]
fn namespaces_auth_acks_and_binary_with_upgrade() {
    check_mode(Transports::PollingThenWebSocket, "upgrade");
}

#[test]
fn a_refused_handshake_is_an_http_error() {
    let (_node, addr) = node_server();
    // Over polling the reference answers 403 with `{"code":4,…}`; a refused WebSocket
    // upgrade gets its raw 400 (PROTOCOL.md A.6).
    for (t, reason) in [
        (
            Transports::Polling,
            CloseReason::Http {
                status: 403,
                code: Some(4),
            },
        ),
        (
            Transports::WebSocket,
            CloseReason::Http {
                status: 400,
                code: None,
            },
        ),
    ] {
        let seen = session(addr, t, "deny=1");
        assert_eq!(
            seen,
            vec![format!("closed {reason:?}"), "gave up".to_string()],
            "{t:?}"
        );
    }
}
