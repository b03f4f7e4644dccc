//! Two servers in one cluster, driven by hand: each one's `Cluster` publishes into a bus
//! that hands every message to every member, as Redis hands a channel's messages to each
//! subscriber (the sender included).

use std::cell::RefCell;
use std::rc::Rc;

use siocore::Instant;
use siocore::adapter::*;
use siocore::msgpack::{Sink, Writer};
use siocore::server::*;

use crate::harness::*;

struct Node {
    h: Harness,
    cluster: Cluster<'static>,
}

fn node(seed: u8, pending: usize, outbox: usize) -> Node {
    let config = ServerConfig {
        namespaces: &["/", "/other"],
        ..ServerConfig::DEFAULT
    };
    let server = Server::new(
        config,
        Storage::growable(Capacity::for_sessions(64, 8 << 20)),
        [seed; 32],
        Instant::ZERO,
    )
    .unwrap();
    let cluster = Cluster::new(
        ClusterConfig::DEFAULT,
        [seed ^ 0x55; 32],
        Box::leak(vec![PendingSlot::FREE; pending].into_boxed_slice()),
        Box::leak(vec![AckRoute::FREE; 4].into_boxed_slice()),
        Box::leak(vec![0u8; outbox].into_boxed_slice()),
        Box::leak(vec![0u8; 64 * 1024].into_boxed_slice()),
        Instant::ZERO,
    );
    Node {
        h: Harness::with_server(server),
        cluster,
    }
}

/// An owned cluster event.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Got {
    ServerSideEmit(String, Option<ReplyTo>),
    Sockets(RequestId, String),
    Answer(RequestId, String),
    ClientAck(RequestId, String),
}

/// Moves every queued message to every node until none is left; returns each node's
/// events.
fn pump(nodes: &mut [&mut Node]) -> Vec<Vec<Got>> {
    let mut got = vec![Vec::new(); nodes.len()];
    loop {
        let mut msgs = Vec::new();
        for n in nodes.iter_mut() {
            while let Some(p) = n.cluster.next_publish() {
                msgs.push((p.channel.to_string(), p.message.to_vec(), p.request));
                n.cluster.pop_publish();
            }
        }
        if msgs.is_empty() {
            return got;
        }
        let count = nodes.len();
        for (channel, msg, request) in &msgs {
            if let Some(id) = request {
                // Every node subscribes the request channel, as Redis's PUBLISH says.
                for n in nodes.iter_mut() {
                    n.cluster.receivers(id, count);
                }
            }
            for (k, n) in nodes.iter_mut().enumerate() {
                let now = n.h.instant();
                let ev = n
                    .cluster
                    .receive(&mut n.h.server, channel.as_bytes(), msg, now)
                    .unwrap_or_else(|e| panic!("{channel}: {e}"));
                let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
                if let Some(e) = ev {
                    got[k].push(match e {
                        ClusterEvent::ServerSideEmit { data, reply, .. } => {
                            Got::ServerSideEmit(text(data), reply)
                        }
                        ClusterEvent::Sockets { request, sockets } => {
                            Got::Sockets(request, text(sockets))
                        }
                        ClusterEvent::Answer { request, data } => Got::Answer(request, text(data)),
                        ClusterEvent::ClientAck { request, answer } => {
                            Got::ClientAck(request, answer_text(&answer))
                        }
                    });
                }
                n.h.drain();
            }
        }
    }
}

/// A client's answer relayed by another server, as JSON text.
fn answer_text(answer: &AckAnswer<'_>) -> String {
    let mut json = vec![0u8; 4096];
    let n = answer.write_json(&mut json).unwrap();
    String::from_utf8(json[..n].to_vec()).unwrap()
}

fn pair() -> (Node, Node) {
    (node(1, 8, 64 * 1024), node(2, 8, 64 * 1024))
}

fn texts(n: &mut Node, s: StreamId) -> Vec<String> {
    n.h.drain();
    n.h.ws_texts(s)
}

#[test]
fn a_broadcast_reaches_the_other_servers_sockets_once() {
    let (mut a, mut b) = pair();
    let (sa, ka) = a.h.sio_ws();
    let (sb, kb) = b.h.sio_ws();
    let (sb2, _) = b.h.sio_ws();
    a.h.server.join(ka, "room").unwrap();
    b.h.server.join(kb, "room").unwrap();
    let ns = a.h.server.namespace("/").unwrap();

    let to = Recipients {
        rooms: &["room"],
        ..Recipients::ALL
    };
    let sent = a
        .cluster
        .broadcast(&mut a.h.server, ns, &to, "news", Args::json(b"1,\"x\""))
        .unwrap();
    assert_eq!(sent, 1);
    let p = a.cluster.next_publish().unwrap();
    assert_eq!(p.channel, "socket.io#/#room#");
    assert_eq!(p.request, None);
    pump(&mut [&mut a, &mut b]);
    assert_eq!(
        texts(&mut a, sa),
        [r#"42["news",1,"x"]"#],
        "once: its own is ignored"
    );
    assert_eq!(texts(&mut b, sb), [r#"42["news",1,"x"]"#]);
    assert!(texts(&mut b, sb2).is_empty());

    // Everyone but a room, with a binary argument.
    let kb_id = b.h.server.socket_sid(kb).unwrap().to_string();
    let except = [kb_id.as_str()];
    let to = Recipients {
        except: &except,
        ..Recipients::ALL
    };
    let args = Args::binary(br#"{"_placeholder":true,"num":0}"#, &[&[1, 2, 3]]);
    a.cluster
        .broadcast(&mut a.h.server, ns, &to, "bin", args)
        .unwrap();
    pump(&mut [&mut a, &mut b]);
    assert!(texts(&mut b, sb).is_empty(), "excepted by its id");
    let frames = {
        b.h.drain();
        b.h.ws_frames(sb2)
    };
    assert_eq!(frames.len(), 2);
    assert_eq!(
        frames[0].payload,
        br#"451-["bin",{"_placeholder":true,"num":0}]"#
    );
    assert_eq!(frames[1].payload, [1, 2, 3]);

    // A local broadcast stays here.
    let to = Recipients {
        flags: Flags {
            local: true,
            ..Flags::NONE
        },
        ..Recipients::ALL
    };
    a.cluster
        .broadcast(&mut a.h.server, ns, &to, "here", Args::NONE)
        .unwrap();
    assert!(a.cluster.next_publish().is_none());
    let stats = b.cluster.stats();
    assert_eq!((stats.received, stats.malformed), (2, 0));
}

#[test]
fn join_leave_and_disconnect_reach_every_server() {
    let (mut a, mut b) = pair();
    let (_, ka) = a.h.sio_ws();
    let (sb, kb) = b.h.sio_ws();
    let (_, kb2) = b.h.sio_ws();
    b.h.server.join(kb, "red").unwrap();
    let ns = a.h.server.namespace("/").unwrap();

    let red = Recipients {
        rooms: &["red"],
        ..Recipients::ALL
    };
    a.cluster
        .sockets_join(&mut a.h.server, ns, &red, &["blue", "green"])
        .unwrap();
    pump(&mut [&mut a, &mut b]);
    assert!(b.h.server.in_room(kb, "blue") && b.h.server.in_room(kb, "green"));
    assert!(!b.h.server.in_room(kb2, "blue") && !a.h.server.in_room(ka, "blue"));

    a.cluster
        .sockets_leave(&mut a.h.server, ns, &Recipients::ALL, &["green"])
        .unwrap();
    pump(&mut [&mut a, &mut b]);
    assert!(b.h.server.in_room(kb, "blue") && !b.h.server.in_room(kb, "green"));

    let blue = Recipients {
        rooms: &["blue"],
        ..Recipients::ALL
    };
    a.cluster
        .disconnect_sockets(&mut a.h.server, ns, &blue, false)
        .unwrap();
    pump(&mut [&mut a, &mut b]);
    assert_eq!(texts(&mut b, sb), ["41"]);
    assert!(b.h.server.socket_sid(kb).is_none());
    assert!(b.h.server.socket_sid(kb2).is_some());
    assert!(a.h.server.socket_sid(ka).is_some());
}

#[test]
fn requests_from_node_and_the_emitter_are_applied() {
    let (mut a, _) = pair();
    let (s, k) = a.h.sio_ws();
    let now = a.h.instant();
    // The emitter sends no uid; Node's one-socket form carries `sid` and `room`.
    let sid = a.h.server.socket_sid(k).unwrap().to_string();
    let msg = r#"{"type":2,"opts":{"rooms":[],"except":[]},"rooms":["x\"y"]}"#;
    let ev = a
        .cluster
        .receive(
            &mut a.h.server,
            b"socket.io-request#/#",
            msg.as_bytes(),
            now,
        )
        .unwrap();
    assert!(ev.is_none());
    assert!(a.h.server.in_room(k, "x\"y"));
    let msg =
        format!(r#"{{"uid":"other1","requestId":"r9","type":3,"sid":"{sid}","room":"x\"y"}}"#);
    a.cluster
        .receive(
            &mut a.h.server,
            b"socket.io-request#/#",
            msg.as_bytes(),
            now,
        )
        .unwrap();
    assert!(!a.h.server.in_room(k, "x\"y"));
    let p = a.cluster.next_publish().unwrap();
    assert_eq!(
        (p.channel, p.message),
        ("socket.io-response#/#", &br#"{"requestId":"r9"}"#[..])
    );
    a.cluster.pop_publish();

    // SOCKETS and ALL_ROOMS are answered.
    a.h.server.join(k, "r1").unwrap();
    a.cluster
        .receive(
            &mut a.h.server,
            b"socket.io-request#/#",
            br#"{"uid":"other1","requestId":"q","type":0,"rooms":["r1"]}"#,
            now,
        )
        .unwrap();
    let p = a.cluster.next_publish().unwrap();
    assert_eq!(
        String::from_utf8_lossy(p.message),
        format!(r#"{{"requestId":"q","sockets":["{sid}"]}}"#)
    );
    a.cluster.pop_publish();
    a.cluster
        .receive(
            &mut a.h.server,
            b"socket.io-request#/#",
            br#"{"uid":"other1","requestId":"q","type":1}"#,
            now,
        )
        .unwrap();
    let p = a.cluster.next_publish().unwrap();
    assert_eq!(
        String::from_utf8_lossy(p.message),
        format!(r#"{{"requestId":"q","rooms":["r1","{sid}"]}}"#)
    );
    a.cluster.pop_publish();

    // A broadcast from the emitter (no uid, keys in its own order).
    let mut msg = Vec::new();
    msg.extend_from_slice(b"\x93\xc0\x83\xa3nsp\xa1/\xa4type\x02\xa4data\x92\xa2hi\x01");
    msg.extend_from_slice(b"\x83\xa5rooms\x90\xa6except\x90\xa5flags\x80");
    a.cluster
        .receive(&mut a.h.server, b"socket.io#/#", &msg, now)
        .unwrap();
    assert_eq!(texts(&mut a, s), [r#"42["hi",1]"#]);

    // Disconnect by sid, closing the connection.
    let msg = format!(r#"{{"uid":"other1","requestId":"d","type":4,"sid":"{sid}","close":true}}"#);
    a.cluster
        .receive(
            &mut a.h.server,
            b"socket.io-request#/#",
            msg.as_bytes(),
            now,
        )
        .unwrap();
    a.h.drain();
    assert!(a.h.server.socket_sid(k).is_none());
    assert!(a.h.is_closed(s));
}

#[test]
fn fetch_sockets_collects_every_servers_answer() {
    let (mut a, mut b) = pair();
    let (_, kb) = b.h.sio_ws();
    let (_, kb2) = b.h.sio_ws();
    b.h.server.join(kb, "red").unwrap();
    b.h.server.join(kb2, "blue").unwrap();
    let ns = a.h.server.namespace("/").unwrap();
    let red = Recipients {
        rooms: &["red"],
        ..Recipients::ALL
    };
    let id = a.cluster.fetch_sockets(&a.h.server, ns, &red).unwrap();
    assert_eq!(a.cluster.next_publish().unwrap().request, Some(id));
    let got = pump(&mut [&mut a, &mut b]);
    let kb_id = b.h.server.socket_sid(kb).unwrap();
    assert_eq!(
        got[0],
        [Got::Sockets(
            id,
            format!(
                r#"[{{"id":"{kb_id}","handshake":{{}},"rooms":["{kb_id}","red"],"data":{{}}}}]"#
            )
        )]
    );
    assert!(got[1].is_empty(), "b ignores the answer to a's request");
    let done = a.cluster.poll_done().unwrap();
    assert_eq!(
        done,
        Done {
            request: id,
            awaited: Awaited::Sockets,
            answers: 1,
            expected: Some(1),
            timed_out: false,
        }
    );
    assert!(a.cluster.poll_done().is_none());
    assert!(a.cluster.poll_timeout().is_none());
}

#[test]
fn server_side_emit_with_and_without_answers() {
    let (mut a, mut b) = pair();
    let ns = a.h.server.namespace("/").unwrap();
    let none = a
        .cluster
        .server_side_emit(&a.h.server, ns, "hello", Args::json(b"1"), false)
        .unwrap();
    assert!(none.is_none());
    let got = pump(&mut [&mut a, &mut b]);
    assert!(got[0].is_empty(), "not to itself");
    assert_eq!(got[1], [Got::ServerSideEmit(r#"["hello",1]"#.into(), None)]);

    let id = a
        .cluster
        .server_side_emit(&a.h.server, ns, "ping", Args::json(br#"{"a":[1]}"#), true)
        .unwrap()
        .unwrap();
    let got = pump(&mut [&mut a, &mut b]);
    let Got::ServerSideEmit(data, Some(reply)) = &got[1][0] else {
        panic!("{got:?}")
    };
    assert_eq!(data, r#"["ping",{"a":[1]}]"#);
    assert_eq!(reply.request, id);
    assert!(a.cluster.poll_done().is_none(), "waits for b");
    b.cluster.answer(&b.h.server, reply, br#""pong""#).unwrap();
    let got = pump(&mut [&mut a, &mut b]);
    assert_eq!(got[0], [Got::Answer(id, r#""pong""#.into())]);
    let done = a.cluster.poll_done().unwrap();
    assert_eq!((done.answers, done.timed_out), (1, false));

    // Nobody answers: the request ends at its deadline with what it had.
    let id = a
        .cluster
        .server_side_emit(&a.h.server, ns, "ping", Args::NONE, true)
        .unwrap()
        .unwrap();
    pump(&mut [&mut a, &mut b]);
    let deadline = a.cluster.poll_timeout().unwrap();
    assert_eq!(deadline, Instant::from_millis(5_000));
    a.cluster.handle_timeout(Instant::from_millis(4_999));
    assert!(a.cluster.poll_done().is_none());
    a.cluster.handle_timeout(deadline);
    let done = a.cluster.poll_done().unwrap();
    assert_eq!((done.request, done.answers, done.timed_out), (id, 0, true));

    // Binary or invalid arguments are refused.
    let bin = Args::binary(br#"{"_placeholder":true,"num":0}"#, &[&[1]]);
    assert_eq!(
        a.cluster.server_side_emit(&a.h.server, ns, "x", bin, false),
        Err(ClusterError::Invalid)
    );
    assert_eq!(
        a.cluster
            .server_side_emit(&a.h.server, ns, "x", Args::json(b"[1"), false),
        Err(ClusterError::Invalid)
    );
}

#[test]
fn limits_drop_with_a_count_and_local_delivery_goes_on() {
    let mut a = node(1, 1, 200);
    let (s, _) = a.h.sio_ws();
    let ns = a.h.server.namespace("/").unwrap();
    let big = format!("\"{}\"", "x".repeat(300));
    let r = a.cluster.broadcast(
        &mut a.h.server,
        ns,
        &Recipients::ALL,
        "big",
        Args::json(big.as_bytes()),
    );
    assert_eq!(r, Err(ClusterError::OutboxFull));
    assert_eq!(texts(&mut a, s).len(), 1, "the local socket got it");
    assert_eq!(a.cluster.stats().dropped, 1);

    // Queued messages wait while the pub/sub is away, then new ones are dropped.
    let mut queued = 0;
    while a
        .cluster
        .broadcast(&mut a.h.server, ns, &Recipients::ALL, "m", Args::json(b"1"))
        .is_ok()
    {
        queued += 1;
    }
    assert!(queued >= 2, "{queued}");
    assert_eq!(a.cluster.stats().dropped, 2);
    // Sending one frees room at the front, which the next message reuses.
    a.cluster.pop_publish();
    a.cluster
        .broadcast(&mut a.h.server, ns, &Recipients::ALL, "m", Args::json(b"1"))
        .unwrap();
    let mut left = 0;
    while a.cluster.next_publish().is_some() {
        a.cluster.pop_publish();
        left += 1;
    }
    assert_eq!(left, queued);

    // One pending request at a time here.
    a.cluster
        .fetch_sockets(&a.h.server, ns, &Recipients::ALL)
        .unwrap();
    assert_eq!(
        a.cluster.fetch_sockets(&a.h.server, ns, &Recipients::ALL),
        Err(ClusterError::PendingFull)
    );
}

#[test]
fn malformed_and_foreign_messages() {
    let (mut a, _) = pair();
    let now = a.h.instant();
    let mut rx = |channel: &[u8], msg: &[u8]| {
        a.cluster
            .receive(&mut a.h.server, channel, msg, now)
            .map(|e| e.is_some())
    };
    // Not ours: another prefix, an unknown namespace, an unknown answer.
    assert_eq!(rx(b"other#/#", b"\x93"), Ok(false));
    assert_eq!(rx(b"socket.io-request#/nope#", b"{}"), Ok(false));
    assert_eq!(
        rx(
            b"socket.io-response#/#",
            br#"{"requestId":"zz","sockets":[]}"#
        ),
        Ok(false)
    );
    // Malformed.
    assert!(matches!(
        rx(b"socket.io#/#", b"\x93"),
        Err(ClusterError::Decode(_))
    ));
    assert!(matches!(
        rx(b"socket.io-request#/#", b"{\"type\":"),
        Err(ClusterError::Decode(_))
    ));
    let many: Vec<String> = (0..40).map(|i| format!("\"r{i}\"")).collect();
    let msg = format!(
        r#"{{"type":2,"opts":{{"rooms":[{}]}},"rooms":["x"]}}"#,
        many.join(",")
    );
    assert_eq!(
        rx(b"socket.io-request#/#", msg.as_bytes()),
        Err(ClusterError::TooMany)
    );
    let stats = a.cluster.stats();
    assert_eq!((stats.ignored, stats.malformed), (3, 3));
}

/// A broadcast that collects acknowledgements, as Node's adapter publishes it (type 7).
fn broadcast_with_acks(id: &str, timeout: u64) -> Vec<u8> {
    let mut buf = [0u8; 256];
    let mut w = Writer::new(&mut buf);
    w.map(5).unwrap();
    w.str("uid").unwrap();
    w.str("nodeA1").unwrap();
    w.str("requestId").unwrap();
    w.str(id).unwrap();
    w.str("type").unwrap();
    w.uint(7).unwrap();
    w.str("packet").unwrap();
    w.map(3).unwrap();
    w.str("type").unwrap();
    w.uint(2).unwrap();
    w.str("data").unwrap();
    w.array(2).unwrap();
    w.str("q").unwrap();
    w.uint(1).unwrap();
    w.str("nsp").unwrap();
    w.str("/").unwrap();
    w.str("opts").unwrap();
    w.map(3).unwrap();
    w.str("rooms").unwrap();
    w.array(0).unwrap();
    w.str("except").unwrap();
    w.array(0).unwrap();
    w.str("flags").unwrap();
    w.map(1).unwrap();
    w.str("timeout").unwrap();
    w.uint(timeout).unwrap();
    let n = w.len();
    buf[..n].to_vec()
}

#[test]
fn a_broadcast_collecting_acks_is_answered_with_a_count_then_each_ack() {
    let Node { mut h, cluster } = node(1, 4, 64 * 1024);
    let cluster = Rc::new(RefCell::new(cluster));
    let c2 = Rc::clone(&cluster);
    let app_acks = Rc::new(RefCell::new(0));
    let seen = Rc::clone(&app_acks);
    h.app = Box::new(move |server, e| {
        if c2.borrow_mut().on_event(server, e) {
            return;
        }
        if let Event::Ack(_) | Event::AckTimeout { .. } = e {
            *seen.borrow_mut() += 1;
        }
        if let Event::Connect(c) = e {
            server.accept(c.socket).unwrap();
        }
    });
    let clients: Vec<_> = (0..3).map(|_| h.sio_ws()).collect();
    let now = h.instant();
    let msg = broadcast_with_acks("r7", 1000);
    cluster
        .borrow_mut()
        .receive(&mut h.server, b"socket.io-request#/#", &msg, now)
        .unwrap();
    h.drain();
    let out = |cluster: &Rc<RefCell<Cluster<'static>>>| {
        let mut c = cluster.borrow_mut();
        let mut all = Vec::new();
        while let Some(p) = c.next_publish() {
            all.push((p.channel.to_string(), p.message.to_vec()));
            c.pop_publish();
        }
        all
    };
    assert_eq!(
        out(&cluster),
        [(
            "socket.io-response#/#".to_string(),
            br#"{"type":8,"requestId":"r7","clientCount":3}"#.to_vec()
        )]
    );
    // Each client answers (the first one with binary); the last never does.
    let ids: Vec<String> = clients
        .iter()
        .map(|(s, _)| h.ws_texts(*s).remove(0))
        .collect();
    for id in &ids {
        assert!(id.starts_with("42") && id.ends_with(r#"["q",1]"#), "{id}");
    }
    let ack_id = |t: &str| t[2..t.find('[').unwrap()].to_string();
    h.ws_send_text(
        clients[0].0,
        &format!(
            r#"461-{}[{{"_placeholder":true,"num":0}}]"#,
            ack_id(&ids[0])
        ),
    );
    h.ws_send_binary(clients[0].0, &[7, 8]);
    h.ws_send_text(clients[1].0, &format!(r#"43{}["yes",2]"#, ack_id(&ids[1])));
    let got = out(&cluster);
    assert_eq!(got.len(), 2, "{got:?}");
    // {type: 9, requestId: "r7", packet: <bin 7 8>} and {…, packet: "yes"}, as notepack.
    assert_eq!(
        got[0].1,
        b"\x83\xa4type\x09\xa9requestId\xa2r7\xa6packet\xc4\x02\x07\x08"
    );
    assert_eq!(
        got[1].1,
        b"\x83\xa4type\x09\xa9requestId\xa2r7\xa6packet\xa3yes"
    );
    // The app saw none of those acks.
    assert_eq!(*app_acks.borrow(), 0);
    // The third times out: forgotten, nothing published; the table is free again.
    h.run_until(2_000);
    assert!(out(&cluster).is_empty());
    assert_eq!(*app_acks.borrow(), 0, "the timeout was the cluster's too");
    let msg = broadcast_with_acks("r8", 1000);
    let now = h.instant();
    cluster
        .borrow_mut()
        .receive(&mut h.server, b"socket.io-request#/#", &msg, now)
        .unwrap();
    assert!(out(&cluster)[0].1.ends_with(br#""clientCount":3}"#));

    // More sockets than the table holds: delivered without acks, counted as none.
    for _ in 0..2 {
        h.sio_ws();
    }
    let msg = broadcast_with_acks("r9", 1000);
    cluster
        .borrow_mut()
        .receive(&mut h.server, b"socket.io-request#/#", &msg, now)
        .unwrap();
    assert!(out(&cluster)[0].1.ends_with(br#""clientCount":0}"#));
    assert_eq!(cluster.borrow().stats().untracked, 1);
}

#[test]
fn an_idle_servers_clients_get_the_whole_timeout_to_answer() {
    let Node { mut h, cluster } = node(1, 4, 64 * 1024);
    let cluster = Rc::new(RefCell::new(cluster));
    let c2 = Rc::clone(&cluster);
    h.app = Box::new(move |server, e| {
        if c2.borrow_mut().on_event(server, e) {
            return;
        }
        if let Event::Connect(c) = e {
            server.accept(c.socket).unwrap();
        }
    });
    let (s, _) = h.sio_ws();
    // Nothing reached the server for 5 s (its clock says so) when the request comes.
    let later = h.instant().as_millis() + 5_000;
    let msg = broadcast_with_acks("r1", 1000);
    cluster
        .borrow_mut()
        .receive(
            &mut h.server,
            b"socket.io-request#/#",
            &msg,
            Instant::from_millis(later),
        )
        .unwrap();
    h.at(later);
    let question = h.ws_texts(s).remove(0);
    let id = &question[2..question.find('[').unwrap()];
    // 900 ms later the client answers: within its second, relayed.
    h.at(later + 900);
    h.ws_send_text(s, &format!(r#"43{id}["late but in time"]"#));
    let mut c = cluster.borrow_mut();
    let mut sent = Vec::new();
    while let Some(p) = c.next_publish() {
        sent.push(p.message.to_vec());
        c.pop_publish();
    }
    assert_eq!(sent.len(), 2, "the count and the answer");
    assert!(sent[1].ends_with(b"late but in time"));
}

#[test]
fn requests_that_cannot_be_read_are_still_answered_once() {
    let (mut a, _) = pair();
    let now = a.h.instant();
    let many: Vec<String> = (0..40).map(|i| format!("\"r{i}\"")).collect();
    // Node waits for one answer per server: a fetch or a SOCKETS request naming too many
    // rooms gets an empty one, and the error.
    let fetch = format!(
        r#"{{"uid":"other1","requestId":"q","type":5,"opts":{{"rooms":[{}],"except":[]}}}}"#,
        many.join(",")
    );
    let r = a.cluster.receive(
        &mut a.h.server,
        b"socket.io-request#/#",
        fetch.as_bytes(),
        now,
    );
    assert_eq!(r, Err(ClusterError::TooMany));
    let p = a.cluster.next_publish().unwrap();
    assert_eq!(
        (p.channel, p.message),
        (
            "socket.io-response#/#",
            &br#"{"requestId":"q","sockets":[]}"#[..]
        )
    );
    a.cluster.pop_publish();
    let sockets = format!(
        r#"{{"uid":"other1","requestId":"s","type":0,"rooms":[{}]}}"#,
        many.join(",")
    );
    let r = a.cluster.receive(
        &mut a.h.server,
        b"socket.io-request#/#",
        sockets.as_bytes(),
        now,
    );
    assert_eq!(r, Err(ClusterError::TooMany));
    assert_eq!(
        a.cluster.next_publish().unwrap().message,
        br#"{"requestId":"s","sockets":[]}"#
    );
    a.cluster.pop_publish();
    // A broadcast collecting acks whose arguments do not fit the scratch buffer: a count of 0.
    let mut buf = vec![0u8; 80 * 1024];
    let n = {
        let mut w = Writer::new(&mut buf);
        w.map(4).unwrap();
        w.str("requestId").unwrap();
        w.str("big").unwrap();
        w.str("type").unwrap();
        w.uint(7).unwrap();
        w.str("packet").unwrap();
        w.map(2).unwrap();
        w.str("type").unwrap();
        w.uint(2).unwrap();
        w.str("data").unwrap();
        w.array(2).unwrap();
        w.str("q").unwrap();
        w.str(&"x".repeat(70 * 1024)).unwrap();
        w.str("opts").unwrap();
        w.map(0).unwrap();
        w.len()
    };
    let r = a
        .cluster
        .receive(&mut a.h.server, b"socket.io-request#/#", &buf[..n], now);
    assert_eq!(r, Err(ClusterError::TooMany));
    assert_eq!(
        a.cluster.next_publish().unwrap().message,
        br#"{"type":8,"requestId":"big","clientCount":0}"#
    );
}

/// The answer of a server to a broadcast collecting acknowledgements: its client count.
fn count(id: &RequestId, n: u32) -> Vec<u8> {
    format!(r#"{{"type":8,"requestId":"{id}","clientCount":{n}}}"#).into_bytes()
}

/// A client's answer `json` (one argument, or none), as the client's server relays it.
fn client_ack(id: &RequestId, json: &[u8], blobs: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![0u8; 1024];
    let args = Args::binary(json, blobs);
    let n = encode_ack(&mut out, id.as_str(), &args).unwrap();
    out.truncate(n);
    out
}

#[test]
fn a_broadcast_collecting_acks_from_the_other_servers() {
    let (mut a, mut b) = pair();
    let clients: Vec<_> = (0..2).map(|_| b.h.sio_ws()).collect();
    b.h.server.join(clients[1].1, "r").unwrap();
    let ns = a.h.server.namespace("/").unwrap();
    let id = a
        .cluster
        .broadcast_with_ack(
            &a.h.server,
            ns,
            &Recipients::ALL,
            "q",
            Args::json(b"1"),
            1000,
        )
        .unwrap();
    // On the request channel, as Node's adapter writes it (checked byte for byte against
    // notepack in the adapter's unit tests and tests/adapter_reference.rs).
    let p = a.cluster.next_publish().unwrap();
    assert_eq!((p.channel, p.request), ("socket.io-request#/#", Some(id)));
    let (rid, bc) = Broadcast::decode_with_acks(p.message).unwrap();
    assert_eq!(
        (rid, bc.uid(), bc.event()),
        (id.as_str(), a.cluster.uid("/").as_str(), "q")
    );
    assert_eq!(
        bc.flags().timeout,
        Some(1000),
        "the clients' timeout goes with it"
    );
    // Its deadline is the broadcast's timeout, not the request timeout.
    assert_eq!(a.cluster.poll_timeout(), Some(Instant::from_millis(1000)));

    // b asks its two clients and says so; the count is no event for a.
    let got = pump(&mut [&mut a, &mut b]);
    assert!(got[0].is_empty() && got[1].is_empty(), "{got:?}");
    for (s, _) in &clients {
        let texts = texts(&mut b, *s);
        assert!(
            texts[0].starts_with("42") && texts[0].ends_with(r#"["q",1]"#),
            "{texts:?}"
        );
    }
    assert!(a.cluster.poll_done().is_none(), "waits for the answers");

    // The answers, as b (or Node) relays them: one value, binary in place, or none.
    let now = a.h.instant();
    let rx = |a: &mut Node, msg: &[u8]| {
        let e = a
            .cluster
            .receive(&mut a.h.server, b"socket.io-response#/#", msg, now)
            .unwrap();
        e.map(|e| match e {
            ClusterEvent::ClientAck { request, answer } => {
                let mut json = [0u8; 128];
                let mut blobs = [&[][..]; 2];
                let (n, k) = answer.write_args(&mut json, &mut blobs).unwrap();
                let blobs: Vec<Vec<u8>> = blobs[..k].iter().map(|b| b.to_vec()).collect();
                (
                    request,
                    String::from_utf8(json[..n].to_vec()).unwrap(),
                    blobs,
                )
            }
            e => panic!("{e:?}"),
        })
    };
    let bin = client_ack(&id, br#"{"_placeholder":true,"num":0},"more""#, &[&[7, 8]]);
    assert_eq!(
        rx(&mut a, &bin),
        Some((
            id,
            r#"{"_placeholder":true,"num":0}"#.into(),
            vec![vec![7, 8]]
        ))
    );
    assert!(a.cluster.poll_done().is_none());
    assert_eq!(
        rx(&mut a, &client_ack(&id, b"", &[])),
        Some((id, "null".into(), vec![]))
    );
    let done = a.cluster.poll_done().unwrap();
    assert_eq!(
        done,
        Done {
            request: id,
            awaited: Awaited::Acks,
            answers: 1,
            expected: Some(1),
            timed_out: false,
        }
    );
    // A late one is for nobody.
    assert_eq!(rx(&mut a, &client_ack(&id, b"1", &[])), None);

    // A server that says it asked 3 clients of which 2 answer, and another that never
    // says anything: over at the deadline, with what came.
    let to = Recipients {
        rooms: &["r"],
        ..Recipients::ALL
    };
    let id = a
        .cluster
        .broadcast_with_ack(&a.h.server, ns, &to, "q", Args::NONE, 500)
        .unwrap();
    let p = a.cluster.next_publish().unwrap();
    assert_eq!(
        Broadcast::decode_with_acks(p.message)
            .unwrap()
            .1
            .rooms()
            .count(),
        1
    );
    a.cluster.pop_publish();
    a.cluster.receivers(&id, 3);
    assert_eq!(rx(&mut a, &count(&id, 3)), None);
    for v in [&b"1"[..], b"2"] {
        assert!(rx(&mut a, &client_ack(&id, v, &[])).is_some());
    }
    assert_eq!(a.cluster.poll_timeout(), Some(Instant::from_millis(500)));
    a.cluster.handle_timeout(Instant::from_millis(499));
    assert!(a.cluster.poll_done().is_none());
    a.cluster.handle_timeout(Instant::from_millis(500));
    let done = a.cluster.poll_done().unwrap();
    assert_eq!(
        (done.request, done.answers, done.expected, done.timed_out),
        (id, 1, Some(2), true)
    );

    // Answers and counts in any order: every count, then as many answers, end it.
    let id = a
        .cluster
        .broadcast_with_ack(&a.h.server, ns, &Recipients::ALL, "q", Args::NONE, 500)
        .unwrap();
    a.cluster.pop_publish();
    assert!(rx(&mut a, &client_ack(&id, b"1", &[])).is_some());
    assert_eq!(rx(&mut a, &count(&id, 0)), None);
    assert_eq!(rx(&mut a, &count(&id, 1)), None);
    assert!(
        a.cluster.poll_done().is_none(),
        "how many servers is not known yet"
    );
    a.cluster.receivers(&id, 3);
    let done = a.cluster.poll_done().unwrap();
    assert_eq!((done.answers, done.timed_out), (2, false));

    // A `local` broadcast has nobody to ask; invalid arguments are refused.
    let local = Recipients {
        flags: Flags {
            local: true,
            ..Flags::NONE
        },
        ..Recipients::ALL
    };
    assert_eq!(
        a.cluster
            .broadcast_with_ack(&a.h.server, ns, &local, "q", Args::NONE, 500),
        Err(ClusterError::Invalid)
    );
    assert_eq!(
        a.cluster.broadcast_with_ack(
            &a.h.server,
            ns,
            &Recipients::ALL,
            "q",
            Args::json(b"[1"),
            500
        ),
        Err(ClusterError::Invalid)
    );
    // A count that is not one, an answer of another type: errors.
    let id = a
        .cluster
        .broadcast_with_ack(&a.h.server, ns, &Recipients::ALL, "q", Args::NONE, 500)
        .unwrap();
    let bad = format!(r#"{{"type":8,"requestId":"{id}","clientCount":"x"}}"#);
    let r = a.cluster.receive(
        &mut a.h.server,
        b"socket.io-response#/#",
        bad.as_bytes(),
        now,
    );
    assert!(matches!(r, Err(ClusterError::Decode(_))), "{r:?}");
    let other = format!(r#"{{"type":6,"requestId":"{id}","data":1}}"#);
    let r = a.cluster.receive(
        &mut a.h.server,
        b"socket.io-response#/#",
        other.as_bytes(),
        now,
    );
    assert!(matches!(r, Err(ClusterError::Decode(_))), "{r:?}");
}

#[test]
fn broadcasts_collecting_acks_take_a_pending_entry_each() {
    let mut a = node(1, 2, 64 * 1024);
    let ns = a.h.server.namespace("/").unwrap();
    let ask = |a: &mut Node| {
        a.cluster
            .broadcast_with_ack(&a.h.server, ns, &Recipients::ALL, "q", Args::NONE, 100)
    };
    let first = ask(&mut a).unwrap();
    ask(&mut a).unwrap();
    assert_eq!(ask(&mut a), Err(ClusterError::PendingFull));
    // Once one is over, its entry serves the next.
    a.cluster.handle_timeout(Instant::from_millis(100));
    assert_eq!(a.cluster.poll_done().unwrap().request, first);
    ask(&mut a).unwrap();
}
