//! The Rust client (`ClientDriver` on mio) against the official Node server (npm
//! `socket.io` 4.8.4, `tests/interop/client_server.mjs`) over the three transport modes:
//! several namespaces with their own auth, a middleware refusal (`CONNECT_ERROR` with message
//! and data), query parameters and extra headers, events and acks both ways with binary,
//! and an HTTP refusal of the handshake. With the feature `recovery`, connection state
//! recovery against a server that runs it (`tests/interop/client_recovery.mjs`).

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
    node_script("client_server.mjs")
}

/// Starts `tests/interop/<script>`, which prints `listening <port>`.
fn node_script(script: &str) -> (Node, SocketAddr) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    assert!(
        dir.join("node_modules/socket.io").is_dir(),
        "run `npm ci --prefix tests/interop` first"
    );
    let mut child = Command::new("node")
        .arg(script)
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

/// What the client saw of a session the server dropped and recovered.
#[cfg(feature = "recovery")]
fn recovery_session(addr: SocketAddr, t: Transports) -> Vec<String> {
    use siocore::client::DisconnectReason;

    let host = addr.to_string();
    let mut config = ClientConfig::new(&host);
    config.transports = t;
    config.reconnection.delay_ms = 100;
    config.reconnection.randomization_permille = 0;
    config.reconnection.attempts = 3;
    let mut arena = vec![0u8; config.arena_len()];
    let mut client: Client<'_> = Client::new(config, &mut arena, [6; 32]).unwrap();
    client.connect("/", Some(br#"{"token":"t"}"#)).unwrap();
    let mut driver = ClientDriver::new(client, addr).unwrap();
    let mut seen = Vec::new();
    let start = StdInstant::now();
    let (mut welcomed, mut upgraded, mut dropped) = (false, false, false);
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
            match *e {
                Event::Connect { sid, recovered, .. } => {
                    seen.push(format!("connect {sid} recovered={recovered}"));
                }
                Event::Message(m) => {
                    let atts: Vec<Vec<u8>> = m.attachments.iter().map(<[u8]>::to_vec).collect();
                    seen.push(format!("{} {} {atts:?}", m.name, s(m.args)));
                    welcomed |= m.name == "welcome";
                    if m.name == "after" {
                        client.close(now);
                    }
                }
                Event::Upgrade => upgraded = true,
                Event::Disconnect {
                    reason: DisconnectReason::Session(r),
                    ..
                } => seen.push(format!("lost {r:?}")),
                Event::Closed { reason } => seen.push(format!("closed {reason:?}")),
                Event::ReconnectFailed { .. } => seen.push("gave up".into()),
                _ => {}
            }
            // Over the upgrade mode, the transport drops once the session is on WebSocket.
            let ready = welcomed && (upgraded || t != Transports::PollingThenWebSocket);
            if ready && !dropped {
                dropped = true;
                client
                    .emit(
                        siocore::client::NamespaceId::from_index(0),
                        "drop",
                        Args::NONE,
                    )
                    .unwrap();
            }
            true
        })
        .unwrap();
    seen
}

#[cfg(feature = "recovery")]
fn check_recovery(t: Transports) {
    let (_node, addr) = node_script("client_recovery.mjs");
    let seen = recovery_session(addr, t);
    // The socket id: from the first connect.
    let sid = seen
        .first()
        .and_then(|l| l.strip_prefix("connect "))
        .and_then(|l| l.strip_suffix(" recovered=false"))
        .unwrap_or_else(|| panic!("{t:?}: {seen:#?}"))
        .to_string();
    let want = [
        format!("connect {sid} recovered=false"),
        r#"before "b" []"#.to_string(),
        format!(r#"welcome "{sid}",false []"#),
        "lost ServerClose".to_string(),
        "closed ServerClose".to_string(),
        // The missed events, each once, in order, before the answer; none of the others.
        "missed 1 []".to_string(),
        r#"missed 2,{"_placeholder":true,"num":0} [[1, 2, 3]]"#.to_string(),
        "missed 3 []".to_string(),
        r#"missed 4,{"k":"v"} []"#.to_string(),
        format!("connect {sid} recovered=true"),
        // The CONNECT carried the auth with the pid and the offset merged in.
        format!(r#"status "{sid}",true,["room1"],"t","string","string" []"#),
        r#"after "a" []"#.to_string(),
        "closed ClientClose".to_string(),
    ];
    assert_eq!(seen, want, "{t:?}");
}

#[cfg(feature = "recovery")]
#[test]
fn a_dropped_session_is_recovered_over_websocket() {
    check_recovery(Transports::WebSocket);
}

#[cfg(feature = "recovery")]
#[test]
fn a_dropped_session_is_recovered_over_polling() {
    check_recovery(Transports::Polling);
}

#[cfg(feature = "recovery")]
#[test]
fn a_dropped_session_is_recovered_with_upgrade() {
    check_recovery(Transports::PollingThenWebSocket);
}

/// A device's reboot: the first client keeps its session's state when the server drops it
/// and stops there; a second client, given that state, resumes the session.
#[cfg(feature = "recovery")]
#[test]
fn a_saved_state_resumes_the_session_in_a_new_client() {
    use siocore::client::{NamespaceId, RECOVERY_STATE_LEN};

    let (_node, addr) = node_script("client_recovery.mjs");
    let host = addr.to_string();
    let mut config = ClientConfig::new(&host);
    config.transports = Transports::WebSocket;
    config.reconnection.attempts = 0;
    let root = NamespaceId::from_index(0);
    let start = StdInstant::now();

    let mut arena = vec![0u8; config.arena_len()];
    let mut client: Client<'_> = Client::new(config, &mut arena, [7; 32]).unwrap();
    client.connect("/", Some(br#"{"token":"t"}"#)).unwrap();
    let mut sid = String::new();
    let mut saved: Option<[u8; RECOVERY_STATE_LEN]> = None;
    ClientDriver::new(client, addr)
        .unwrap()
        .run(&mut |client: &mut Client<'_>, wake: Wake<'_, '_>, _now| {
            assert!(start.elapsed() < Duration::from_secs(20), "timed out");
            match wake {
                Wake::Event(Event::Connect { sid: s, .. }) => sid = s.to_string(),
                Wake::Event(Event::Message(m)) if m.name == "welcome" => {
                    client.emit(root, "drop", Args::NONE).unwrap();
                }
                Wake::Event(Event::Disconnect { .. }) => {
                    // The power goes: what is in flash is all that is left.
                    saved = client.recovery_state(root).copied();
                    return false;
                }
                _ => {}
            }
            true
        })
        .unwrap();
    let saved = saved.expect("a session to resume");

    let mut arena = vec![0u8; config.arena_len()];
    let mut client: Client<'_> = Client::new(config, &mut arena, [8; 32]).unwrap();
    client.connect("/", Some(br#"{"token":"t"}"#)).unwrap();
    client.restore_recovery(root, &saved).unwrap();
    let mut seen = Vec::new();
    ClientDriver::new(client, addr)
        .unwrap()
        .run(&mut |client: &mut Client<'_>, wake: Wake<'_, '_>, now| {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "timed out: {seen:?}"
            );
            let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            match wake {
                Wake::Event(Event::Connect { sid, recovered, .. }) => {
                    seen.push(format!("connect {sid} recovered={recovered}"));
                }
                Wake::Event(Event::Message(m)) => {
                    seen.push(format!("{} {}", m.name, s(m.args)));
                    if m.name == "after" {
                        client.close(now);
                    }
                }
                _ => {}
            }
            true
        })
        .unwrap();
    assert_eq!(
        seen,
        [
            "missed 1".to_string(),
            r#"missed 2,{"_placeholder":true,"num":0}"#.to_string(),
            "missed 3".to_string(),
            r#"missed 4,{"k":"v"}"#.to_string(),
            format!("connect {sid} recovered=true"),
            format!(r#"status "{sid}",true,["room1"],"t","string","string""#),
            r#"after "a""#.to_string(),
        ]
    );
}

/// An attempt on a port where nothing listens ends with `ConnectRefused`, not a bare
/// transport error, in every transport mode.
#[test]
fn a_refused_connection_says_so() {
    // A port that was free a moment ago: nothing listens on it now.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    for t in [
        Transports::WebSocket,
        Transports::Polling,
        Transports::PollingThenWebSocket,
    ] {
        let host = addr.to_string();
        let mut config = ClientConfig::new(&host);
        config.transports = t;
        config.reconnection.attempts = 0;
        let mut arena = vec![0u8; config.arena_len()];
        let mut client: Client<'_> = Client::new(config, &mut arena, [4; 32]).unwrap();
        client.connect("/", None).unwrap();
        let mut driver = ClientDriver::new(client, addr).unwrap();
        let mut closed = Vec::new();
        let start = StdInstant::now();
        driver
            .run(&mut |_: &mut Client<'_>, wake: Wake<'_, '_>, _| {
                assert!(start.elapsed() < Duration::from_secs(20), "timed out");
                if let Wake::Event(Event::Closed { reason }) = wake {
                    closed.push(*reason);
                }
                true
            })
            .unwrap();
        assert_eq!(closed, vec![CloseReason::ConnectRefused], "{t:?}");
        assert_eq!(
            CloseReason::ConnectRefused.to_string(),
            "connection refused"
        );
    }
}
