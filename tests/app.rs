//! The Socket.IO-style API (`siocore::app`) on real sockets: handlers, serde arguments,
//! acks with callbacks and timeouts, authorization, static files.

use std::io::Write;

use siocore::app::{AckError, Io, Json, JsonArgs, Refusal, Response};
use siocore::server::ServerConfig;

mod common;
use common::{Running, Ws, connect, response};

fn start(build: fn(&mut Io<'static>)) -> Running {
    Running::spawn(move || {
        let mut io = Io::new(ServerConfig {
            namespaces: &["/", "/admin"],
            ..ServerConfig::DEFAULT
        });
        build(&mut io);
        io.listen("127.0.0.1:0".parse().unwrap()).unwrap()
    })
}

#[test]
fn handlers_serde_arguments_and_acks() {
    let server = start(|io| {
        io.on_connection("/", |cx, socket, hs| {
            #[derive(serde::Deserialize)]
            struct Auth {
                name: String,
            }
            let name = hs
                .auth_as::<Auth>()
                .ok()
                .map_or_else(|| "anonymous".to_string(), |a| a.name);
            let _ = cx.emit(socket, "hello", Json(&name.as_str()));
        });
        io.on("/", "sum", |cx, msg| {
            let (a, b) = (
                msg.arg::<i64>(0).ok().unwrap_or(0),
                msg.arg::<i64>(1).ok().unwrap_or(0),
            );
            msg.ack(cx, Json(&(a + b)));
        });
        io.on("/", "ask-me", |cx, msg| {
            let socket = msg.socket;
            let _ = cx.emit_with_ack(
                socket,
                "question",
                JsonArgs(&("why", 42)),
                200,
                move |cx, reply| {
                    let answer = match reply {
                        Ok(r) => r.arg::<String>(0).ok().unwrap_or_default(),
                        Err(AckError::Timeout) => "timeout".to_string(),
                        Err(_) => "gone".to_string(),
                    };
                    let _ = cx.emit(socket, "answer", Json(&answer.as_str()));
                },
            );
        });
        io.on_any("/", |cx, msg| {
            let _ = cx.emit(msg.socket, "unhandled", Json(&msg.event));
        });
    });
    let mut ws = Ws::open(server.addr);
    ws.send(br#"40{"name":"ada \"the first\""}"#);
    assert!(ws.next_text().starts_with("40{\"sid\""));
    assert_eq!(ws.next_text(), r#"42["hello","ada \"the first\""]"#);
    ws.send(br#"427["sum",40,2]"#);
    assert_eq!(ws.next_text(), "437[42]");
    ws.send(br#"42["whatever",1]"#);
    assert_eq!(ws.next_text(), r#"42["unhandled","whatever"]"#);
    // The server asks; the client answers.
    ws.send(br#"42["ask-me"]"#);
    assert_eq!(ws.next_text(), r#"420["question","why",42]"#);
    ws.send(br#"430["because"]"#);
    assert_eq!(ws.next_text(), r#"42["answer","because"]"#);
    // The server asks; the client says nothing: the callback hears of the timeout.
    ws.send(br#"42["ask-me"]"#);
    assert_eq!(ws.next_text(), r#"421["question","why",42]"#);
    assert_eq!(ws.next_text(), r#"42["answer","timeout"]"#);
}

#[test]
fn authorization_refuses_with_data() {
    let server = start(|io| {
        io.authorize("/admin", |_, hs| {
            if hs.auth == br#"{"token":"secret"}"# {
                Ok(())
            } else {
                Err(Refusal {
                    message: "not authorized".to_string(),
                    data: Some(br#"{"code":401}"#.to_vec()),
                })
            }
        });
    });
    let mut ws = Ws::open(server.addr);
    ws.send(br#"40/admin,{"token":"guess"}"#);
    assert_eq!(
        ws.next_text(),
        r#"44/admin,{"message":"not authorized","data":{"code":401}}"#
    );
    ws.send(br#"40/admin,{"token":"secret"}"#);
    assert!(ws.next_text().starts_with(r#"40/admin,{"sid":""#));
}

#[test]
fn static_files_and_http_handler() {
    let dir = std::env::temp_dir().join(format!("siocore-static-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>home</h1>").unwrap();
    std::fs::write(dir.join("sub/app.js"), "console.log(1)").unwrap();
    std::fs::write(std::env::temp_dir().join("siocore-secret.txt"), "secret").unwrap();
    let root = dir.clone();
    let server = Running::spawn(move || {
        let mut io = Io::new(ServerConfig::DEFAULT);
        io.serve_dir("/", root);
        io.on_http(|_, r| {
            (r.path() == "/api").then(|| Response::new(200, "application/json", "{}"))
        });
        io.listen("127.0.0.1:0".parse().unwrap()).unwrap()
    });
    let mut s = connect(server.addr);
    for (path, status, body) in [
        ("/", 200, &b"<h1>home</h1>"[..]),
        ("/sub/app.js", 200, b"console.log(1)"),
        ("/api", 200, b"{}"),
        ("/missing", 404, b"Not Found"),
        ("/../siocore-secret.txt", 404, b"Not Found"),
        ("/sub/../../siocore-secret.txt", 404, b"Not Found"),
    ] {
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        let (got, head, got_body) = response(&mut s);
        assert_eq!((got, got_body.as_slice()), (status, body), "{path}");
        if path == "/sub/app.js" {
            assert!(String::from_utf8_lossy(&head).contains("application/javascript"));
        }
    }
    // HEAD: a GET's head (the file's length) and no body; the next request on the same
    // connection is answered right after it.
    s.write_all(
        b"HEAD /sub/app.js HTTP/1.1\r\nHost: x\r\n\r\nGET /api HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    let mut buf = Vec::new();
    common::read_until(&mut s, &mut buf, |b| b.ends_with(b"\r\n\r\n{}"));
    let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let (first, second) = text.split_once("\r\n\r\n").unwrap();
    assert!(first.starts_with("http/1.1 200"), "{text}");
    assert!(first.contains("content-length: 14"), "{text}");
    assert!(second.starts_with("http/1.1 200"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_recovered_socket_skips_authorize_and_says_so() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static AUTHORIZED: AtomicUsize = AtomicUsize::new(0);
    let server = Running::spawn(|| {
        let mut io = Io::new(ServerConfig::DEFAULT).recovery(std::time::Duration::from_secs(60));
        // Only the first CONNECT may pass: a recovered one must not be asked again.
        io.authorize("/", |_cx, _hs| {
            if AUTHORIZED.fetch_add(1, Ordering::SeqCst) == 0 {
                Ok(())
            } else {
                Err(Refusal::new("asked twice"))
            }
        });
        io.on_connection("/", |cx, socket, hs| {
            let _ = cx.emit(socket, "recovered", Json(&hs.recovered));
        });
        io.listen("127.0.0.1:0".parse().unwrap()).unwrap()
    });
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    let member = |t: &str, key: &str| {
        let at = t.find(&format!("\"{key}\":\"")).unwrap() + key.len() + 4;
        t[at..at + t[at..].find('"').unwrap()].to_string()
    };
    let mut ws = Ws::open(server.addr);
    ws.send(b"40");
    let reply = text(ws.next());
    let (sid, pid) = (member(&reply, "sid"), member(&reply, "pid"));
    // `42["recovered",false,"<offset>"]`: the offset is the last argument.
    let first = text(ws.next());
    assert!(first.starts_with(r#"42["recovered",false,""#), "{first}");
    let offset = first.rsplit('"').nth(1).unwrap().to_string();
    // The transport drops; the client comes back with its pid and last offset.
    drop(ws);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut ws = Ws::open(server.addr);
    ws.send(format!(r#"40{{"pid":"{pid}","offset":"{offset}"}}"#).as_bytes());
    let reply = text(ws.next());
    assert_eq!(
        (member(&reply, "sid"), member(&reply, "pid")),
        (sid, pid),
        "{reply}"
    );
    assert!(text(ws.next()).starts_with(r#"42["recovered",true,""#));
    assert_eq!(AUTHORIZED.load(Ordering::SeqCst), 1);
}

/// A namespace exists because a handler names it, as Node's `io.of(name).on(...)`; one
/// that nothing names is refused as Node refuses it.
#[test]
fn a_handler_declares_its_namespace() {
    let server = Running::spawn(|| {
        let mut io = Io::new(ServerConfig::DEFAULT);
        io.on_connection("/orders", |cx, socket, _| {
            let _ = cx.emit(socket, "welcome", Json(&"orders"));
        });
        io.on("/orders", "ping", |cx, msg| msg.ack(cx, Json(&"pong")));
        io.listen("127.0.0.1:0".parse().unwrap()).unwrap()
    });
    let mut ws = Ws::open(server.addr);
    ws.send(b"40/orders,");
    assert!(ws.next_text().starts_with("40/orders,{\"sid\""));
    assert_eq!(ws.next_text(), r#"42/orders,["welcome","orders"]"#);
    ws.send(br#"42/orders,1["ping"]"#);
    assert_eq!(ws.next_text(), r#"43/orders,1["pong"]"#);
    ws.send(b"40/nobody,");
    assert_eq!(
        ws.next_text(),
        r#"44/nobody,{"message":"Invalid namespace"}"#
    );
    // `/` is still the configuration's.
    ws.send(b"40");
    assert!(ws.next_text().starts_with("40{\"sid\""));
}

/// Broadcasts and arguments say why they failed instead of looking like "no clients" or
/// "no value".
#[test]
fn failures_say_why() {
    let server = start(|io| {
        io.on("/", "check", |cx, msg| {
            let missing = msg.arg::<i64>(5).unwrap_err().to_string();
            let wrong = msg.arg::<i64>(0).unwrap_err().to_string();
            let bad_json = cx.broadcast("/").emit("x", "1,").unwrap_err().to_string();
            let no_ns = cx
                .broadcast("/nowhere")
                .emit("x", ())
                .unwrap_err()
                .to_string();
            let sent = cx.broadcast("/").emit("x", "1").unwrap();
            let report = format!("{missing}|{wrong}|{bad_json}|{no_ns}|{sent}");
            let _ = cx.emit(msg.socket, "report", Json(&report.as_str()));
        });
    });
    let mut ws = Ws::open(server.addr);
    ws.send(b"40");
    assert!(ws.next_text().starts_with("40{\"sid\""));
    ws.send(br#"42["check","text"]"#);
    assert_eq!(ws.next_text(), r#"42["x",1]"#);
    let report = ws.next_text();
    assert!(
        report.starts_with(r#"42["report","no argument 5: there are 1|argument 0: "#),
        "{report}"
    );
    assert!(
        report.contains("|the namespace does not exist|1\"]"),
        "{report}"
    );
    assert!(report.contains("JSON"), "{report}");
}

/// Node's `socket.handshake` beside `auth`: the headers, the query, the URL, the address
/// and the time of the session's opening request, checked with the official client over
/// each transport (`tests/interop/handshake_check.mjs`).
#[test]
fn the_handshake_has_headers_query_url_address_and_time() {
    let server = Running::spawn(|| {
        let mut io = Io::new(ServerConfig::DEFAULT).keep_handshake(4096);
        io.on_connection("/", |cx, socket, hs| {
            #[derive(serde::Serialize)]
            struct Seen<'a> {
                device: &'a str,
                query: &'a str,
                url: &'a str,
                address: String,
                issued: bool,
            }
            let device = hs.header("x-device").unwrap_or_default();
            let seen = Seen {
                device: std::str::from_utf8(device).unwrap_or_default(),
                query: hs.query().unwrap_or_default(),
                url: hs.url().unwrap_or_default(),
                address: hs.address.map(|a| a.to_string()).unwrap_or_default(),
                issued: hs.issued.is_some(),
            };
            let _ = cx.emit(socket, "handshake", Json(&seen));
        });
        io.listen("127.0.0.1:0".parse().unwrap()).unwrap()
    });
    common::node_suite(
        "handshake_check.mjs",
        &[&format!("http://{}", server.addr)],
        "the handshake with the official client",
        std::time::Duration::from_secs(90),
    );
}

/// Node's `setInterval(() => io.emit(...))` and a push from another thread: a timer on the
/// loop (`Io::every`) and an `IoHandle` used from the test's thread, received by the
/// official client (`tests/interop/push_check.mjs`).
#[test]
fn a_timer_and_another_thread_push_to_the_clients() {
    let (sockets_tx, sockets) = std::sync::mpsc::channel();
    let (handle_tx, handle) = std::sync::mpsc::channel();
    let server = Running::spawn(move || {
        let mut io = Io::new(ServerConfig::DEFAULT);
        let mut n = 0u32;
        io.every(std::time::Duration::from_millis(100), move |cx| {
            n += 1;
            let _ = cx.broadcast("/").emit("tick", Json(&n));
        });
        io.on_connection("/", move |_, socket, _| {
            let _ = sockets_tx.send(socket);
        });
        let listening = io.listen("127.0.0.1:0".parse().unwrap()).unwrap();
        handle_tx.send(listening.handle()).unwrap();
        listening
    });
    let handle = handle
        .recv_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let url = server.url();
    let pusher = std::thread::spawn(move || {
        let socket = sockets
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("a client connects");
        handle.emit(socket, "pushed", r#""from a thread""#).unwrap();
        handle.broadcast("/", None, "news", "42").unwrap();
    });
    common::node_suite(
        "push_check.mjs",
        &[&url],
        "pushes from a timer and a thread",
        std::time::Duration::from_secs(90),
    );
    pusher.join().unwrap();
}

/// Node's `io.timeout(ms).emit(event, ..., (err, responses))`: a broadcast that collects
/// every client's acknowledgement, from three official clients
/// (`tests/interop/broadcast_ack_check.mjs`).
#[test]
fn a_broadcast_collects_acknowledgements() {
    let server = Running::spawn(|| {
        let mut io = Io::new(ServerConfig::DEFAULT);
        io.on("/", "ask-all", |cx, msg| {
            let Some(id) = msg.ack_id else {
                return;
            };
            let asker = msg.socket;
            let q = msg.arg::<String>(0).unwrap_or_default();
            let sent = cx.broadcast("/").emit_with_ack(
                "question",
                Json(&q.as_str()),
                1000,
                move |cx, answers| {
                    let mut got: Vec<String> = (0..answers.answers.len())
                        .filter_map(|i| answers.value::<String>(i).ok())
                        .collect();
                    got.sort();
                    cx.ack(asker, id, JsonArgs(&(answers.complete, got)));
                },
            );
            assert_eq!(sent.unwrap(), 3);
        });
        io.listen("127.0.0.1:0".parse().unwrap()).unwrap()
    });
    common::node_suite(
        "broadcast_ack_check.mjs",
        &[&server.url()],
        "a broadcast with acknowledgements",
        std::time::Duration::from_secs(90),
    );
}

/// Node's `socket.use`: per-packet middleware that may drop a packet before any handler,
/// and is told why.
#[test]
fn packet_middleware_drops_what_it_refuses() {
    let server = start(|io| {
        io.use_packet("/", |_, msg| {
            if msg.event == "admin-only" {
                Err(Refusal::new("not an admin"))
            } else {
                Ok(())
            }
        });
        io.use_packet("/", |_, msg| {
            if msg.arg::<i64>(0).is_ok_and(|n| n < 0) {
                Err(Refusal::new("negative"))
            } else {
                Ok(())
            }
        });
        io.on_packet_error("/", |cx, msg, why| {
            let _ = cx.emit(
                msg.socket,
                "refused",
                JsonArgs(&(msg.event, why.message.as_str())),
            );
        });
        io.on_any("/", |cx, msg| msg.ack(cx, Json(&msg.event)));
    });
    let mut ws = Ws::open(server.addr);
    ws.send(b"40");
    assert!(ws.next_text().starts_with("40{\"sid\""));
    ws.send(br#"421["admin-only"]"#);
    assert_eq!(
        ws.next_text(),
        r#"42["refused","admin-only","not an admin"]"#
    );
    ws.send(br#"422["count",-1]"#);
    assert_eq!(ws.next_text(), r#"42["refused","count","negative"]"#);
    // Passed by both: the handler runs and acks.
    ws.send(br#"423["count",1]"#);
    assert_eq!(ws.next_text(), r#"433["count"]"#);
}
