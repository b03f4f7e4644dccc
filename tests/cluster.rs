//! siocore servers in one cluster through a real Redis (Debian's `redis-server`, started
//! here on a free port without persistence): broadcasts cross servers, and the cluster
//! outlives a Redis restart; and a mixed cluster of two siocore echo servers
//! (`examples/echo_server.rs --redis`) and a Node `socket.io` 4.8.4 server on
//! `@socket.io/redis-adapter` 8.3.0 (`tests/interop/cluster_node.mjs`), checked by
//! `tests/interop/cluster_suite.mjs` with the official client and the Redis emitter.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use siocore::adapter::ClusterError;
use siocore::app::{EmitError, Io, Json};
use siocore::server::ServerConfig;

#[path = "../examples/echo_server.rs"]
#[allow(dead_code, unreachable_pub)]
mod echo_server;

mod common;
use common::{Running, Ws};

/// A `redis-server` on `port`, killed when dropped.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start(port: u16) -> Self {
        Self::start_with(port, &[])
    }

    /// With more `redis-server` arguments.
    fn start_with(port: u16, extra: &[&str]) -> Self {
        let child = Command::new("redis-server")
            .args(extra)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server; scripts/test.sh installs it)");
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(10), "redis starts");
            thread::sleep(Duration::from_millis(20));
        }
        Self { child, port }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free port (bound and let go).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server on `redis` whose `/` relays `broadcast` to every socket of the cluster, and
/// `local` to its own.
fn server(redis: &str) -> Running {
    let url = redis.to_string();
    Running::spawn(move || {
        let mut io = Io::new(ServerConfig::DEFAULT).redis(&url);
        io.on("/", "broadcast", |cx, msg| {
            let _ = cx.broadcast("/").emit("broadcast", msg.args);
        });
        io.on("/", "to-room", |cx, msg| {
            let room: String = msg.arg(0).unwrap_or_default();
            let _ = cx.broadcast("/").to(&room).emit("room-msg", msg.args);
        });
        io.on("/", "join", |cx, msg| {
            let room: String = msg.arg(0).unwrap_or_default();
            let _ = cx.join(msg.socket, &room);
            msg.ack(cx, "\"ok\"".as_bytes());
        });
        io.on("/", "local", |cx, msg| {
            let _ = cx.broadcast("/").local().emit("local", msg.args);
        });
        io.listen("127.0.0.1:0".parse().unwrap()).unwrap()
    })
}

/// A server on `redis` for `tests/interop/cluster_ack_suite.mjs`: `ask` (room or null,
/// timeout in ms, except the sender) broadcasts `question` to the cluster collecting every
/// client's acknowledgement, and acks `{"complete":…,"answers":[…]}`; `join` (room) acks
/// `"ok"`; `broadcast` as [`server`]'s.
fn ack_server(redis: &str) -> Running {
    let url = redis.to_string();
    Running::spawn(move || {
        let mut io = Io::new(ServerConfig::DEFAULT).redis(&url);
        io.on("/", "broadcast", |cx, msg| {
            let _ = cx.broadcast("/").emit("broadcast", msg.args);
        });
        io.on("/", "join", |cx, msg| {
            let room: String = msg.arg(0).unwrap_or_default();
            let _ = cx.join(msg.socket, &room);
            msg.ack(cx, "\"ok\"");
        });
        io.on("/", "ask", |cx, msg| {
            let (Some(id), asker) = (msg.ack_id, msg.socket) else {
                return;
            };
            let room: Option<String> = msg.arg(0).unwrap_or_default();
            let timeout: u32 = msg.arg(1).unwrap_or(1000);
            let except_me: bool = msg.arg(2).unwrap_or(false);
            let mut to = if except_me {
                cx.broadcast_from(asker)
            } else {
                cx.broadcast("/")
            };
            if let Some(room) = &room {
                to = to.to(room);
            }
            let sent = to.emit_with_ack("question", (), timeout, move |cx, answers| {
                let reply = format!(
                    r#"{{"complete":{},"answers":[{}]}}"#,
                    answers.complete,
                    answers.answers.join(",")
                );
                cx.ack(asker, id, reply.as_str());
            });
            if let Err(e) = sent {
                cx.ack(asker, id, format!(r#"{{"error":"{e}"}}"#).as_str());
            }
        });
        io.listen("127.0.0.1:0".parse().unwrap()).unwrap()
    })
}

/// A Socket.IO client on `/` over WebSocket.
fn client(server: &Running) -> Ws {
    client_at(server.addr)
}

/// A Socket.IO client on `/` of the server at `addr` over WebSocket.
fn client_at(addr: std::net::SocketAddr) -> Ws {
    let mut ws = Ws::open(addr);
    ws.send(b"40");
    assert!(ws.next().starts_with(b"40{\"sid\":"));
    ws.sock
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    ws
}

/// The next packet within `within`, if any.
fn next_within(ws: &mut Ws, within: Duration) -> Option<String> {
    let start = Instant::now();
    while start.elapsed() < within {
        if let Some(p) = ws.try_next() {
            return Some(String::from_utf8(p).unwrap());
        }
    }
    None
}

/// Sends `packet` from `from` every 200 ms until `to` receives `want` (the subscriptions
/// may not be in place yet); then drains both.
/// Until the servers' subscriptions are in place, what is published is lost: a broadcast
/// from each of the two clients, repeated until it reached the other.
fn warm_up(a: &mut Ws, b: &mut Ws) {
    let (packet, want) = (br#"42["broadcast","warm"]"#, r#"42["broadcast","warm"]"#);
    until_crosses(a, b, packet, want);
    until_crosses(b, a, packet, want);
}

fn until_crosses(from: &mut Ws, to: &mut Ws, packet: &[u8], want: &str) {
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the cluster carries {want}"
        );
        from.send(packet);
        if next_within(to, Duration::from_millis(200)).is_some_and(|p| p == want) {
            break;
        }
    }
    thread::sleep(Duration::from_millis(300));
    while next_within(from, Duration::from_millis(50)).is_some() {}
    while next_within(to, Duration::from_millis(50)).is_some() {}
}

#[test]
fn broadcasts_cross_servers_and_survive_a_redis_restart() {
    let port = free_port();
    let redis = Redis::start(port);
    let (a, b) = (server(&redis.url()), server(&redis.url()));
    let (mut ca, mut cb) = (client(&a), client(&b));
    until_crosses(
        &mut ca,
        &mut cb,
        br#"42["broadcast","warm"]"#,
        r#"42["broadcast","warm"]"#,
    );

    // Exactly once on each side, in order, from either side.
    for i in 0..20 {
        let from = if i % 2 == 0 { &mut ca } else { &mut cb };
        from.send(format!(r#"42["broadcast",{i}]"#).as_bytes());
    }
    for ws in [&mut ca, &mut cb] {
        let mut got = Vec::new();
        while let Some(p) = next_within(ws, Duration::from_secs(2)) {
            got.push(p);
            if got.len() == 20 {
                break;
            }
        }
        let mut want: Vec<String> = (0..20).map(|i| format!(r#"42["broadcast",{i}]"#)).collect();
        // Each side sees its own in its order and the other's in theirs.
        got.sort();
        want.sort();
        assert_eq!(got, want);
        assert_eq!(
            next_within(ws, Duration::from_millis(300)),
            None,
            "no duplicate"
        );
    }

    // Rooms: only the members, on whichever server.
    cb.send(br#"420["join","r"]"#);
    assert_eq!(
        next_within(&mut cb, Duration::from_secs(5)).unwrap(),
        r#"430["ok"]"#
    );
    ca.send(br#"42["to-room","r",1]"#);
    assert_eq!(
        next_within(&mut cb, Duration::from_secs(5)).unwrap(),
        r#"42["room-msg","r",1]"#
    );
    assert_eq!(next_within(&mut ca, Duration::from_millis(300)), None);

    // Redis goes away: each server still serves its own clients.
    drop(redis);
    ca.send(br#"42["local","alone"]"#);
    assert_eq!(
        next_within(&mut ca, Duration::from_secs(5)).unwrap(),
        r#"42["local","alone"]"#
    );
    ca.send(br#"42["broadcast","while away"]"#);
    assert_eq!(
        next_within(&mut ca, Duration::from_secs(5)).unwrap(),
        r#"42["broadcast","while away"]"#
    );

    // It comes back on the same port: the servers reconnect and subscribe again.
    let redis = Redis::start(port);
    until_crosses(
        &mut ca,
        &mut cb,
        br#"42["broadcast","back"]"#,
        r#"42["broadcast","back"]"#,
    );
    cb.send(br#"42["broadcast","and back"]"#);
    assert_eq!(
        next_within(&mut ca, Duration::from_secs(5)).unwrap(),
        r#"42["broadcast","and back"]"#
    );
    drop((a, b, redis));
}

/// The Node cluster server of `tests/interop/cluster_node.mjs`, killed when dropped.
struct NodeServer {
    child: Child,
    port: u16,
}

impl NodeServer {
    fn start(redis: &str) -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
        assert!(
            dir.join("node_modules/@socket.io/redis-adapter").is_dir(),
            "run `npm ci --prefix tests/interop` first"
        );
        let mut child = Command::new("node")
            .arg("cluster_node.mjs")
            .arg(redis)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(out).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the Node server starts");
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected: {line:?}"));
        Self { child, port }
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn dynamic_namespaces_join_the_cluster_when_created() {
    let redis = Redis::start(free_port());
    let dynamic = |url: String| {
        Running::spawn(move || {
            let config = ServerConfig {
                dynamic_namespaces: true,
                ..ServerConfig::DEFAULT
            };
            let mut io = Io::new(config).redis(&url);
            io.on("/dyn", "broadcast", |cx, msg| {
                let _ = cx.broadcast("/dyn").emit("broadcast", msg.args);
            });
            io.listen("127.0.0.1:0".parse().unwrap()).unwrap()
        })
    };
    let (a, b) = (dynamic(redis.url()), dynamic(redis.url()));
    let join = |server: &Running| {
        let mut ws = Ws::open(server.addr);
        ws.send(b"40/dyn,");
        assert!(ws.next().starts_with(b"40/dyn,{\"sid\":"));
        ws.sock
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        ws
    };
    let (mut ca, mut cb) = (join(&a), join(&b));
    until_crosses(
        &mut ca,
        &mut cb,
        br#"42/dyn,["broadcast","d"]"#,
        r#"42/dyn,["broadcast","d"]"#,
    );
    drop((a, b, redis));
}

#[test]
fn a_redis_with_a_password() {
    let port = free_port();
    let redis = Redis::start_with(port, &["--requirepass", "s3cret"]);
    let url = format!("redis://:s3cret@127.0.0.1:{port}");
    let (a, b) = (server(&url), server(&url));
    let (mut ca, mut cb) = (client(&a), client(&b));
    until_crosses(
        &mut ca,
        &mut cb,
        br#"42["broadcast","auth"]"#,
        r#"42["broadcast","auth"]"#,
    );
    // A wrong password: the server serves its own clients and never joins.
    let wrong = server(&format!("redis://:nope@127.0.0.1:{port}"));
    let mut cw = client(&wrong);
    cw.send(br#"42["broadcast","alone"]"#);
    assert_eq!(
        next_within(&mut cw, Duration::from_secs(5)).unwrap(),
        r#"42["broadcast","alone"]"#
    );
    assert_eq!(next_within(&mut ca, Duration::from_millis(500)), None);
    drop((a, b, wrong, redis));
}

#[test]
fn a_mixed_cluster_with_node_servers_and_the_emitter() {
    let redis = Redis::start(free_port());
    let echo = |url: String| {
        Running::spawn(move || {
            echo_server::bind(echo_server::Options {
                port: 0,
                redis: Some(url),
                ..echo_server::Options::default()
            })
            .expect("bind")
        })
    };
    let (a, b) = (echo(redis.url()), echo(redis.url()));
    let node = NodeServer::start(&redis.url());
    // Until the siocore servers' subscriptions are in place, what is published is lost:
    // wait for a broadcast to cross before the suite.
    let (mut ca, mut cb) = (client(&a), client(&b));
    for ws in [&mut ca, &mut cb] {
        assert!(
            next_within(ws, Duration::from_secs(5))
                .unwrap()
                .starts_with("42[\"auth\"")
        );
    }
    until_crosses(
        &mut ca,
        &mut cb,
        br#"42["broadcast","warm"]"#,
        r#"42["broadcast","warm"]"#,
    );
    drop((ca, cb));
    let urls = [
        redis.url(),
        a.url(),
        b.url(),
        format!("http://127.0.0.1:{}", node.port),
    ];
    let args: Vec<&str> = urls.iter().map(String::as_str).collect();
    common::node_suite(
        "cluster_suite.mjs",
        &args,
        "mixed cluster",
        Duration::from_secs(120),
    );

    // Redis restarts mid-run. Meanwhile a siocore server goes on serving its own clients
    // and keeps at most its outbox (8 MiB) of what it publishes: 300 broadcasts of 64 KiB
    // (19 MiB) cannot all wait.
    let port = redis.port;
    let (mut ca, mut cb) = (client(&a), client(&b));
    let mut cn = client_at(([127, 0, 0, 1], node.port).into());
    for ws in [&mut ca, &mut cb, &mut cn] {
        while next_within(ws, Duration::from_millis(300)).is_some() {}
    }
    drop(redis);
    let big = "x".repeat(64 * 1024);
    for i in 0..300 {
        ca.send(format!(r#"42["broadcast",{i},"{big}"]"#).as_bytes());
        let p = next_within(&mut ca, Duration::from_secs(10)).expect("local delivery goes on");
        assert!(
            p.starts_with(&format!(r#"42["broadcast",{i},"#)),
            "{}",
            &p[..40]
        );
    }
    // What waited goes out when Redis is back: fresh clients elsewhere, so that none is a
    // slow reader of it.
    drop((cb, cn));
    let redis = Redis::start(port);
    thread::sleep(Duration::from_secs(1));
    let mut cb = client(&b);
    let mut cn = client_at(([127, 0, 0, 1], node.port).into());
    while next_within(&mut cb, Duration::from_millis(300)).is_some() {}
    while next_within(&mut ca, Duration::from_millis(300)).is_some() {}
    // Traffic resumes every way: siocore to Node, Node to siocore.
    until_crosses(
        &mut ca,
        &mut cn,
        br#"42["broadcast","back"]"#,
        r#"42["broadcast","back"]"#,
    );
    until_crosses(
        &mut cn,
        &mut cb,
        br#"42["broadcast","node"]"#,
        r#"42["broadcast","node"]"#,
    );
    drop((a, b, node, redis));
}

/// Broadcasts that collect acknowledgements across a mixed cluster: two siocore servers
/// and a Node one (socket.io 4.8.4, `@socket.io/redis-adapter` 8.3.0) on a real Redis,
/// each the origin in turn, with official clients on every server answering (or one
/// staying silent): `tests/interop/cluster_ack_suite.mjs`.
#[test]
fn broadcasts_with_acknowledgements_across_a_mixed_cluster() {
    let redis = Redis::start(free_port());
    let (a, b) = (ack_server(&redis.url()), ack_server(&redis.url()));
    let node = NodeServer::start(&redis.url());
    // Until the siocore servers' subscriptions are in place, what is published is lost.
    let (mut ca, mut cb) = (client(&a), client(&b));
    warm_up(&mut ca, &mut cb);
    drop((ca, cb));
    let urls = [a.url(), b.url(), format!("http://127.0.0.1:{}", node.port)];
    let args: Vec<&str> = urls.iter().map(String::as_str).collect();
    common::node_suite(
        "cluster_ack_suite.mjs",
        &args,
        "broadcasts with acknowledgements across a mixed cluster",
        Duration::from_secs(120),
    );
    drop((a, b, node, redis));
}

/// A broadcast collecting acknowledgements started by a timer on a server that had been
/// idle for longer than its timeout: the other server's client's answer still counts
/// (the request's deadline runs from when it was made).
#[test]
fn a_timer_on_an_idle_server_collects_the_clusters_answers() {
    let redis = Redis::start(free_port());
    let url = redis.url();
    let a = Running::spawn(move || {
        let mut io = Io::new(ServerConfig::DEFAULT).redis(&url);
        io.on("/", "broadcast", |cx, msg| {
            let _ = cx.broadcast("/").emit("broadcast", msg.args);
        });
        // In 2 s (the server idle meanwhile), ask everyone but the asker, for 1 s.
        io.on("/", "ask-later", |cx, msg| {
            let asker = msg.socket;
            cx.after(Duration::from_secs(2), move |cx| {
                let sent = cx.broadcast_from(asker).emit_with_ack(
                    "question",
                    (),
                    1000,
                    move |cx, answers| {
                        let reply =
                            format!(r#"{},[{}]"#, answers.complete, answers.answers.join(","));
                        let _ = cx.emit(asker, "answers", reply.as_str());
                    },
                );
                assert_eq!(sent, Ok(0));
            });
        });
        io.listen("127.0.0.1:0".parse().unwrap()).unwrap()
    });
    let b = server(&redis.url());
    let (mut ca, mut cb) = (client(&a), client(&b));
    warm_up(&mut ca, &mut cb);
    ca.send(br#"42["ask-later"]"#);
    let question = next_within(&mut cb, Duration::from_secs(10)).expect("the question");
    let id = question
        .strip_prefix("42")
        .and_then(|q| q.strip_suffix(r#"["question"]"#))
        .unwrap_or_else(|| panic!("{question}"));
    cb.send(format!(r#"43{id}["from b"]"#).as_bytes());
    assert_eq!(
        next_within(&mut ca, Duration::from_secs(5)).as_deref(),
        Some(r#"42["answers",true,["from b"]]"#)
    );
    drop((a, b, redis));
}

/// The table of pending cluster requests (256 in the mio driver) caps the broadcasts
/// collecting acknowledgements in flight: past it `emit_with_ack` says so and asks nobody
/// (`done` is not called); once they are over, their entries serve again.
#[test]
fn a_full_table_of_pending_requests_is_an_error() {
    let redis = Redis::start(free_port());
    let url = redis.url();
    let a = Running::spawn(move || {
        let mut io = Io::new(ServerConfig::DEFAULT).redis(&url);
        let dones = std::rc::Rc::new(std::cell::Cell::new(0u32));
        let counted = std::rc::Rc::clone(&dones);
        io.on("/", "flood", move |cx, msg| {
            let n: u32 = msg.arg(0).unwrap_or(0);
            let (mut ok, mut full, mut other) = (0, 0, 0);
            for _ in 0..n {
                let counted = std::rc::Rc::clone(&counted);
                // Everyone but the asker: nobody here, and no other server.
                match cx.broadcast_from(msg.socket).emit_with_ack(
                    "question",
                    (),
                    10_000,
                    move |_, answers| {
                        assert!(answers.complete && answers.answers.is_empty());
                        counted.set(counted.get() + 1);
                    },
                ) {
                    Ok(_) => ok += 1,
                    Err(EmitError::Cluster(ClusterError::PendingFull)) => full += 1,
                    Err(_) => other += 1,
                }
            }
            msg.ack(cx, Json(&(ok, full, other)));
        });
        io.on("/", "dones", move |cx, msg| msg.ack(cx, Json(&dones.get())));
        io.listen("127.0.0.1:0".parse().unwrap()).unwrap()
    });
    let mut ca = client(&a);
    ca.send(br#"420["flood",300]"#);
    assert_eq!(
        next_within(&mut ca, Duration::from_secs(5)).as_deref(),
        Some("430[[256,44,0]]")
    );
    // Redis says each request reached no other server: it is over as soon as it says so.
    let start = Instant::now();
    loop {
        ca.send(br#"421["dones"]"#);
        if next_within(&mut ca, Duration::from_secs(5)).as_deref() == Some("431[256]") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "the requests end");
        thread::sleep(Duration::from_millis(50));
    }
    ca.send(br#"422["flood",1]"#);
    assert_eq!(
        next_within(&mut ca, Duration::from_secs(5)).as_deref(),
        Some("432[[1,0,0]]")
    );
    drop((a, redis));
}
