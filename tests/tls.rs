//! https and wss (feature `tls`), with a CA and certificates made when the test runs:
//!
//! * the official clients (npm `socket.io-client` 4.8.4, `engine.io-client`) run the echo
//!   suite (`tests/interop/echo_suite.mjs`) against the echo server serving TLS, over
//!   polling, WebSocket and the upgrade, trusting the test CA; one that does not trust it is
//!   refused;
//! * the Rust mirror client (`examples/mirror_client.rs`, `--ca`) under Node's `socket.io`
//!   on `https.createServer` (`tests/interop/mirror_suite.mjs --tls`), in the three modes;
//! * the Rust client (`ClientDriver::tls`) against the Rust server in the three modes, with
//!   payloads larger than rustls' buffers both ways;
//! * an untrusted certificate, and one for another name, refused on the client with an
//!   error that says so (`Wake::Tls`, and the example's message and exit status);
//! * the plain HTTP routes on the TLS port (the chat demo's page), and the chat demo over
//!   https in two tabs of a headless Chromium (`tests/interop/chat_browser.mjs`).

mod common;

#[path = "../examples/echo_server.rs"]
#[allow(dead_code, unreachable_pub)]
mod echo_server;

#[path = "../examples/chat.rs"]
#[allow(dead_code, unreachable_pub)]
mod chat;

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant as StdInstant};

use common::Running;
use common::tls::{Pki, path};
use siocore::client::{Args, Client, ClientConfig, Event, Transports};
use siocore::driver::{ClientDriver, ClientTls, TlsErrorKind, Wake};

/// How long one run of a suite may take.
const SUITE_TIMEOUT: Duration = Duration::from_secs(150);

/// The names the test certificates are for.
const NAMES: &[&str] = &["localhost", "127.0.0.1"];

/// The echo server serving TLS with `pki`'s certificate, on a free port of 127.0.0.1.
fn start(pki: &Pki) -> Running {
    let options = echo_server::Options {
        port: 0,
        tls_cert: Some(path(&pki.cert()).to_string()),
        tls_key: Some(path(&pki.key()).to_string()),
        ..echo_server::Options::default()
    };
    Running::spawn(move || echo_server::bind(options).expect("bind"))
}

fn https(server: &Running) -> String {
    format!("https://{}", server.addr)
}

/// Runs the echo suite against an https echo server, the clients trusting the test CA.
fn echo_suite(suite: &str, mode: Option<&str>) {
    let pki = Pki::new(NAMES);
    let server = start(&pki);
    let url = https(&server);
    let mut args = vec![url.as_str(), suite];
    args.extend(mode);
    let ca = pki.ca();
    common::node_suite_env(
        "echo_suite.mjs",
        &args,
        &[("SIOCORE_TEST_CA", path(&ca))],
        &format!("{suite} over TLS {}", mode.unwrap_or_default()),
        SUITE_TIMEOUT,
    );
}

#[test]
fn official_client_over_https_polling() {
    echo_suite("socketio", Some("polling"));
}

#[test]
fn official_client_over_wss() {
    echo_suite("socketio", Some("websocket"));
}

#[test]
fn official_client_with_upgrade_to_wss() {
    echo_suite("socketio", Some("upgrade"));
}

#[test]
fn engineio_client_over_tls_on_every_transport() {
    for mode in ["polling", "websocket", "upgrade"] {
        echo_suite("engineio", Some(mode));
    }
}

#[test]
fn official_client_refuses_an_untrusted_server() {
    echo_suite("untrusted", None);
}

/// The mirror client under Node's https server, in one transport mode.
fn mirror(mode: &str) {
    let pki = Pki::new(NAMES);
    let client = common::example("mirror_client", "tls");
    let (cert, key, ca) = (pki.cert(), pki.key(), pki.ca());
    common::node_suite(
        "mirror_suite.mjs",
        &[
            "--tls",
            path(&cert),
            path(&key),
            path(&ca),
            mode,
            &client.to_string_lossy(),
        ],
        &format!("mirror client over TLS {mode}"),
        SUITE_TIMEOUT,
    );
}

#[test]
fn mirror_client_over_wss_against_node() {
    mirror("websocket");
}

#[test]
fn mirror_client_over_https_polling_against_node() {
    mirror("polling");
}

#[test]
fn mirror_client_with_upgrade_against_node_over_tls() {
    mirror("upgrade");
}

/// What a Rust client saw of a session with the TLS echo server at `addr`: it sends
/// `message` with a text and a binary payload of `size` bytes each and waits for both to
/// come back, then closes. TLS failures are collected as `tls <kind> <message>`.
fn rust_session(
    addr: SocketAddr,
    tls: ClientTls,
    name: &str,
    transports: Transports,
    size: usize,
) -> Vec<String> {
    let host = addr.to_string();
    let mut config = ClientConfig::new(&host);
    config.transports = transports;
    config.reconnection.attempts = 0;
    config.rx_capacity = 4 << 20;
    config.binary_capacity = 2 << 20;
    config.outbox_capacity = 4 << 20;
    let mut arena = vec![0u8; config.arena_len()];
    let mut client: Client<'_> = Client::new(config, &mut arena, [9; 32]).unwrap();
    let root = client.connect("/", None).unwrap();
    let text = format!("\"{}\"", "t".repeat(size));
    let blob = vec![0xA5u8; size];
    let placeholder = br#"{"_placeholder":true,"num":0}"#;
    let mut seen = Vec::new();
    let start = StdInstant::now();
    let mut backs = 0;
    ClientDriver::new(client, addr)
        .unwrap()
        .tls(tls, name)
        .unwrap()
        .run(&mut |client: &mut Client<'_>, wake: Wake<'_, '_>, now| {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "timed out: {seen:?}"
            );
            match wake {
                Wake::Tls(e) => seen.push(format!("tls {:?} {e}", e.kind())),
                Wake::Event(Event::Connect { .. }) => {
                    seen.push("connect".into());
                    client
                        .emit(root, "message", Args::json(text.as_bytes()))
                        .unwrap();
                    client
                        .emit(root, "message", Args::binary(placeholder, &[&blob]))
                        .unwrap();
                }
                Wake::Event(Event::Upgrade) => seen.push("upgrade".into()),
                Wake::Event(Event::Message(m)) if m.name == "message-back" => {
                    backs += 1;
                    if m.attachments.is_empty() {
                        assert!(m.args == text.as_bytes(), "the text came back changed");
                        seen.push(format!("text back {}", m.args.len()));
                    } else {
                        let got = m.attachments.iter().next().unwrap();
                        assert!(got == blob.as_slice(), "the binary came back changed");
                        seen.push(format!("binary back {}", got.len()));
                    }
                    if backs == 2 {
                        client.close(now);
                    }
                }
                Wake::Event(Event::Closed { reason }) => seen.push(format!("closed {reason}")),
                Wake::Event(Event::ReconnectFailed { .. }) => seen.push("gave up".into()),
                _ => {}
            }
            true
        })
        .unwrap();
    seen
}

#[test]
fn rust_client_and_server_over_tls_in_every_mode() {
    let pki = Pki::new(NAMES);
    let server = start(&pki);
    // Larger than rustls' 64 KiB of records and 16 KiB of plaintext: both sides pause and
    // go on as the socket drains.
    let size = 600_000;
    for (t, name) in [
        (Transports::WebSocket, "127.0.0.1"),
        (Transports::Polling, "localhost"),
        (Transports::PollingThenWebSocket, "127.0.0.1"),
    ] {
        let seen = rust_session(server.addr, pki.client_tls(), name, t, size);
        let has = |line: &str| seen.iter().any(|s| s == line);
        for line in [
            "connect",
            &format!("text back {}", size + 2),
            &format!("binary back {size}"),
            "closed client close",
        ] {
            assert!(has(line), "{t:?}: missing {line:?} in {seen:#?}");
        }
        assert_eq!(
            has("upgrade"),
            t == Transports::PollingThenWebSocket,
            "{seen:?}"
        );
        assert!(!seen.iter().any(|s| s.starts_with("tls")), "{seen:?}");
    }
}

#[test]
fn an_untrusted_certificate_is_refused_with_an_error_that_says_so() {
    let pki = Pki::new(NAMES);
    let server = start(&pki);
    // Mozilla's roots, and another CA: neither issued the server's certificate.
    let other = Pki::new(NAMES);
    for tls in [ClientTls::webpki_roots(), other.client_tls()] {
        let seen = rust_session(server.addr, tls, "127.0.0.1", Transports::WebSocket, 1);
        let tls_line = seen.first().expect("a TLS error");
        assert!(
            tls_line.starts_with(
                "tls UntrustedCertificate TLS: the certificate of 127.0.0.1 is not trusted"
            ),
            "{seen:#?}"
        );
        assert!(
            seen.contains(&"closed TLS handshake failed".to_string()),
            "{seen:#?}"
        );
        assert!(!seen.contains(&"connect".to_string()), "{seen:#?}");
    }
}

#[test]
fn a_certificate_for_another_name_is_refused_with_an_error_that_says_so() {
    // The certificate names `localhost` only; the client goes to 127.0.0.1.
    let pki = Pki::new(&["localhost"]);
    let server = start(&pki);
    let seen = rust_session(
        server.addr,
        pki.client_tls(),
        "127.0.0.1",
        Transports::Polling,
        1,
    );
    let tls_line = seen.first().expect("a TLS error");
    assert!(
        tls_line.starts_with(&format!("tls {:?} ", TlsErrorKind::NameMismatch))
            && tls_line.contains("is not valid for the name 127.0.0.1"),
        "{seen:#?}"
    );
    // By its name it is trusted.
    let seen = rust_session(
        server.addr,
        pki.client_tls(),
        "localhost",
        Transports::Polling,
        1,
    );
    assert!(seen.contains(&"connect".to_string()), "{seen:#?}");
}

#[test]
fn the_mirror_client_exits_on_an_untrusted_certificate() {
    let pki = Pki::new(NAMES);
    let server = start(&pki);
    let other = Pki::new(NAMES);
    let url = https(&server);
    for args in [
        vec![url.as_str()],
        vec!["--ca", path(&other.dir.join("ca.pem")), url.as_str()],
    ] {
        let mut child = Command::new(common::example("mirror_client", "tls"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mirror_client runs");
        let start = StdInstant::now();
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            if start.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                panic!("{args:?}: mirror_client did not exit");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("the certificate of 127.0.0.1 is not trusted"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn chat_demo_over_https_in_two_browser_tabs() {
    let chromium = "/usr/bin/chromium";
    assert!(
        Path::new(chromium).exists(),
        "the browser test needs Debian's chromium (apt-get install chromium)"
    );
    let pki = Pki::new(NAMES);
    let (cert, key) = (pki.cert(), pki.key());
    let (cert_s, key_s) = (path(&cert).to_string(), path(&key).to_string());
    let server = Running::spawn(move || {
        chat::bind_with("127.0.0.1:0".parse().unwrap(), Some((&cert_s, &key_s))).expect("bind")
    });
    // Chromium trusts the server's certificate by its key (the chain's first certificate).
    common::node_suite(
        "chat_browser.mjs",
        &[&format!("{}/", https(&server)), chromium, path(&cert)],
        "chat over https in chromium",
        SUITE_TIMEOUT,
    );
}

#[test]
fn the_client_offers_x25519_first() {
    // The ring provider lists P-384 first; the client's configuration puts X25519 there,
    // and a server following the client's order (rustls, OpenSSL) takes it.
    let pki = Pki::new(NAMES);
    let server = start(&pki);
    let s = common::tls::connect(server.addr, &pki.rustls_client(), "localhost");
    let group = s
        .conn
        .negotiated_key_exchange_group()
        .expect("a key exchange");
    assert_eq!(group.name(), rustls::NamedGroup::X25519);
}

#[test]
fn plain_http_routes_share_the_tls_port() {
    let pki = Pki::new(NAMES);
    let (cert, key) = (pki.cert(), pki.key());
    let (cert, key) = (path(&cert).to_string(), path(&key).to_string());
    let server = Running::spawn(move || {
        chat::bind_with("127.0.0.1:0".parse().unwrap(), Some((&cert, &key))).expect("bind")
    });
    let config = pki.rustls_client();
    // The page, on a kept-alive connection, then the polling handshake on the same one.
    let mut s = common::tls::connect(server.addr, &config, "localhost");
    s.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let (status, _, body) = common::response(&mut s);
    assert_eq!(status, 200);
    assert!(
        String::from_utf8_lossy(&body).contains("socket.io"),
        "the chat page"
    );
    s.write_all(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let (status, _, body) = common::response(&mut s);
    assert_eq!(status, 200);
    assert!(body.starts_with(b"0{\"sid\":"), "{body:?}");
    // And a WebSocket session on another connection.
    let s = common::tls::connect(server.addr, &config, "127.0.0.1");
    let mut ws = common::Ws::open_on(s);
    ws.send(b"40");
    assert!(ws.next_text().starts_with("40{\"sid\":"));
    // Plain HTTP on the TLS port is not served.
    let mut plain = common::connect(server.addr);
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let got = std::io::Read::read_to_end(&mut plain, &mut buf);
    assert!(
        !String::from_utf8_lossy(&buf).contains("200 OK"),
        "{got:?} {buf:?}"
    );
}
