//! The sans-IO client against the sans-IO server, in memory, on a virtual clock.

#[cfg(feature = "eio3")]
mod eio3;
mod hostile;
#[cfg(feature = "msgpack-parser")]
mod msgpack;
mod pair;
#[cfg(feature = "recovery")]
mod recovery;

use pair::{CEv, Pair, client_config};
use siocore::client::{
    AckFailure, Args, CloseReason, ConfigError, DisconnectReason, Reconnection, Stream, Transports,
};
use siocore::server::ServerConfig;

const ALL: [Transports; 3] = [
    Transports::WebSocket,
    Transports::Polling,
    Transports::PollingThenWebSocket,
];

fn started(t: Transports) -> Pair {
    started_chunked(t, None)
}

fn started_chunked(t: Transports, chunk: Option<usize>) -> Pair {
    let mut p = Pair::new(client_config(t));
    p.chunk = chunk;
    let ns = p.client.connect("/", None).unwrap();
    assert_eq!(ns.index(), 0);
    p.client.start(p.instant());
    p.drive();
    p
}

fn connects(ev: &[CEv]) -> usize {
    ev.iter().filter(|e| matches!(e, CEv::Connect(..))).count()
}

#[test]
fn joins_the_root_namespace_on_every_transport_mode() {
    for t in ALL {
        let mut p = started(t);
        let ev = p.take_events();
        assert!(
            ev.iter()
                .any(|e| matches!(e, CEv::Connect(0, sid) if sid.len() == 20)),
            "{t:?}: {ev:?}"
        );
        assert!(p.client.is_open());
        assert_eq!(
            p.client.is_websocket(),
            t != Transports::Polling,
            "{t:?}: {ev:?}"
        );
        if t == Transports::PollingThenWebSocket {
            assert!(ev.contains(&CEv::Upgrade), "{ev:?}");
            let ws = p.sent_text(Stream::WebSocket);
            assert!(
                ws.starts_with("GET /socket.io/?EIO=4&transport=websocket&sid="),
                "{ws}"
            );
        }
        if t == Transports::WebSocket {
            assert!(p.sent[Stream::Poll.index()].is_empty());
        }
    }
}

#[test]
fn events_and_acks_both_ways_with_binary() {
    for (t, chunk) in ALL
        .into_iter()
        .flat_map(|t| [None, Some(1), Some(7), Some(300)].map(|c| (t, c)))
    {
        let mut p = started_chunked(t, chunk);
        p.take_events();
        let ns = siocore::client::NamespaceId::from_index(0);
        p.client
            .emit(ns, "echo", Args::json(br#"1,"two",{"3":[true]}"#))
            .unwrap();
        let blob: &[u8] = &[0, 1, 2, 255];
        p.client
            .emit(
                ns,
                "bin",
                Args::binary(br#"{"_placeholder":true,"num":0},"x""#, &[blob]),
            )
            .unwrap();
        let id = p
            .client
            .emit_with_ack(ns, "q", Args::json(b"42"), 5000, p.instant())
            .unwrap();
        p.drive();
        let ev = p.take_events();
        assert!(
            ev.contains(&CEv::Message {
                ns: 0,
                name: "echo".into(),
                args: r#"1,"two",{"3":[true]}"#.into(),
                attachments: vec![],
                ack: None
            }),
            "{t:?} {ev:?}"
        );
        assert!(
            ev.contains(&CEv::Message {
                ns: 0,
                name: "bin".into(),
                args: r#"{"_placeholder":true,"num":0},"x""#.into(),
                attachments: vec![blob.to_vec()],
                ack: None
            }),
            "{t:?} {ev:?}"
        );
        assert!(
            ev.contains(&CEv::Ack(0, id.0, "42".into(), vec![])),
            "{t:?} {ev:?}"
        );
    }
}

#[test]
fn answers_the_servers_acks_and_pings() {
    for t in ALL {
        let mut p = started(t);
        p.take_events();
        // The server asks; the client app answers with the same args.
        let sock = {
            let srv = p.server.as_mut().unwrap();
            let _ = srv;
            p.sev
                .iter()
                .find(|e| e.starts_with("Connect("))
                .cloned()
                .unwrap()
        };
        assert!(sock.contains("name: \"/\""), "{sock}");
        p.client_app = Box::new(|c, e, _| {
            if let siocore::client::Event::Message(m) = e
                && let Some(id) = m.ack
            {
                c.ack(m.namespace, id, Args::json(m.args)).unwrap();
            }
        });
        // Ping/pong for a minute of virtual time: the session stays.
        p.advance(60_000);
        assert!(p.client.is_open(), "{t:?} {:?}", p.cev);
        assert_eq!(connects(&p.cev), 0, "{:?}", p.cev);
        assert!(
            p.sev.iter().all(|e| !e.starts_with("Disconnect")),
            "{:?}",
            p.sev
        );
    }
}

#[test]
fn a_silent_server_is_declared_dead_after_interval_plus_timeout() {
    for t in ALL {
        let mut sc = ServerConfig::DEFAULT;
        sc.ping_interval = 300;
        sc.ping_timeout = 200;
        let mut cc = client_config(t);
        cc.reconnection = Reconnection::OFF;
        let mut p = Pair::with_server(cc, sc);
        p.client.connect("/", None).unwrap();
        p.client.start(p.instant());
        p.drive();
        p.take_events();
        let opened = p.now;
        // The server goes silent: its streams stay but nothing more is delivered.
        let srv = p.server.take();
        p.advance(499);
        assert!(p.client.is_open(), "{t:?}");
        p.advance(2);
        assert!(!p.client.is_open(), "{t:?}");
        let ev = p.take_events();
        assert_eq!(
            ev,
            vec![
                CEv::Disconnect(0, DisconnectReason::Session(CloseReason::PingTimeout)),
                CEv::Closed(CloseReason::PingTimeout)
            ],
            "{t:?} at {} (opened {opened})",
            p.now
        );
        drop(srv);
    }
}

#[test]
fn reconnects_with_backoff_and_rejoins_after_a_server_restart() {
    for t in ALL {
        let mut cc = client_config(t);
        cc.reconnection.delay_ms = 100;
        cc.reconnection.delay_max_ms = 400;
        let mut p = Pair::new(cc);
        let root = p.client.connect("/", None).unwrap();
        let chat = p
            .client
            .connect("/chat", Some(br#"{"token":"t1"}"#))
            .unwrap();
        p.server_config.namespaces = &["/", "/chat"];
        p.server = Some(pair::new_server(p.server_config));
        p.client.start(p.instant());
        p.drive();
        assert_eq!(connects(&p.take_events()), 2, "{t:?}");
        p.kill_server();
        // Emits while disconnected wait in the outbox; volatile ones are dropped.
        p.client
            .emit(chat, "echo", Args::json(b"\"queued\""))
            .unwrap();
        assert!(
            !p.client
                .emit_volatile(root, "echo", Args::json(b"0"))
                .unwrap()
        );
        p.advance(1500);
        let ev = p.take_events();
        assert!(
            ev.contains(&CEv::Disconnect(
                0,
                DisconnectReason::Session(CloseReason::TransportClose)
            )),
            "{t:?} {ev:?}"
        );
        let delays: Vec<u64> = ev
            .iter()
            .filter_map(|e| match e {
                CEv::Reconnecting(_, d) => Some(*d),
                _ => None,
            })
            .collect();
        assert!(delays.len() >= 3, "{t:?} {ev:?}");
        assert!((50..=150).contains(&delays[0]), "{delays:?}");
        assert!((100..=300).contains(&delays[1]), "{delays:?}");
        assert!(delays.iter().all(|&d| d <= 400), "{delays:?}");
        p.start_server();
        p.advance(1000);
        let ev = p.take_events();
        assert_eq!(connects(&ev), 2, "{t:?} {ev:?}");
        assert!(
            ev.iter().any(|e| matches!(e, CEv::Message { ns: 1, name, args, .. } if name == "echo" && args == "\"queued\"")),
            "{t:?} {ev:?}"
        );
        // `/chat` was joined twice, each time with its auth (`{"token":"t1"}` as bytes).
        let auth = "auth: [123, 34, 116, 111, 107, 101, 110, 34, 58, 34, 116, 49, 34, 125]";
        let chat = p
            .sev
            .iter()
            .filter(|e| e.contains("\"/chat\"") && e.contains(auth));
        assert_eq!(chat.count(), 2, "{:?}", p.sev);
        assert!(p.client.is_open());
    }
}

#[test]
fn gives_up_after_the_configured_attempts() {
    let mut cc = client_config(Transports::WebSocket);
    cc.reconnection.attempts = 2;
    cc.reconnection.delay_ms = 10;
    let mut p = Pair::new(cc);
    p.server = None;
    p.client.connect("/", None).unwrap();
    p.client.start(p.instant());
    p.advance(10_000);
    let ev = p.take_events();
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, CEv::Closed(CloseReason::TransportError)))
            .count(),
        3,
        "{ev:?}"
    );
    assert_eq!(ev.last(), Some(&CEv::ReconnectFailed(2)), "{ev:?}");
    assert_eq!(p.client.poll_timeout(), None);
    assert_eq!(p.refused, 3);
}

#[test]
fn connect_error_and_server_disconnect_are_reported() {
    for t in ALL {
        let mut p = Pair::new(client_config(t));
        p.server_config.namespaces = &["/", "/private"];
        p.server = Some(pair::new_server(p.server_config));
        let root = p.client.connect("/", None).unwrap();
        let private = p
            .client
            .connect("/private", Some(br#"{"key":"no"}"#))
            .unwrap();
        p.client.start(p.instant());
        p.drive();
        let ev = p.take_events();
        assert!(
            ev.contains(&CEv::ConnectError(
                private.index(),
                "not allowed".into(),
                Some(r#"{"why":1}"#.into())
            )),
            "{t:?} {ev:?}"
        );
        // Asking again with the right auth works.
        p.client
            .connect("/private", Some(br#"{"key":"ok"}"#))
            .unwrap();
        p.drive();
        assert_eq!(connects(&p.take_events()), 1);
        // A kick is a server disconnect; no automatic re-join.
        p.client.emit(root, "kick", Args::NONE).unwrap();
        p.drive();
        p.advance(5000);
        let ev = p.take_events();
        assert_eq!(
            ev,
            vec![CEv::Disconnect(
                root.index(),
                DisconnectReason::ServerDisconnect
            )],
            "{t:?}"
        );
        assert!(p.client.is_open());
    }
}

#[test]
fn ack_timeouts_and_disconnects_fail_acks() {
    let mut p = started(Transports::WebSocket);
    p.take_events();
    let root = siocore::client::NamespaceId::from_index(0);
    // The server never acks an event named `kick`... it kicks instead.
    p.server_app = Box::new(|_, _| {});
    let id = p
        .client
        .emit_with_ack(root, "silent", Args::NONE, 1000, p.instant())
        .unwrap();
    p.advance(999);
    assert!(p.take_events().is_empty());
    p.advance(1);
    assert_eq!(
        p.take_events(),
        vec![CEv::AckFailed(0, id.0, AckFailure::Timeout)]
    );
    let id2 = p
        .client
        .emit_with_ack(root, "silent", Args::NONE, 60_000, p.instant())
        .unwrap();
    p.drive();
    p.client.disconnect(root).unwrap();
    p.drive();
    let ev = p.take_events();
    assert_eq!(
        ev,
        vec![
            CEv::Disconnect(0, DisconnectReason::ClientDisconnect),
            CEv::AckFailed(0, id2.0, AckFailure::Disconnected)
        ]
    );
}

#[test]
fn close_sends_the_close_packet_and_does_not_reconnect() {
    for t in ALL {
        let mut p = started(t);
        p.take_events();
        p.client.close(p.instant());
        p.drive();
        p.advance(30_000);
        let ev = p.take_events();
        assert_eq!(
            ev,
            vec![
                CEv::Disconnect(0, DisconnectReason::ClientDisconnect),
                CEv::Closed(CloseReason::ClientClose)
            ],
            "{t:?}"
        );
        assert!(!p.client.is_open());
        assert!(
            p.sev.iter().any(|e| e.contains("ClientClose")),
            "{t:?} {:?}",
            p.sev
        );
    }
}

#[test]
fn a_delayed_polling_post_does_not_break_the_session() {
    let mut p = started(Transports::Polling);
    p.take_events();
    let root = siocore::client::NamespaceId::from_index(0);
    p.hold[Stream::Post.index()] = true;
    let posts = p.sent_text(Stream::Post).matches("POST ").count();
    p.client.emit(root, "echo", Args::json(b"1")).unwrap();
    p.drive();
    // A second emit waits for the held POST: one request in flight at a time.
    p.client.emit(root, "echo", Args::json(b"2")).unwrap();
    p.drive();
    assert_eq!(
        p.sent_text(Stream::Post).matches("POST ").count(),
        posts + 1
    );
    p.advance(3000);
    p.hold[Stream::Post.index()] = false;
    p.drive();
    p.advance(100);
    let ev = p.take_events();
    let args: Vec<&str> = ev
        .iter()
        .filter_map(|e| match e {
            CEv::Message { args, .. } => Some(args.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(args, ["1", "2"], "{ev:?}");
}

#[test]
fn a_dropped_long_poll_loses_the_session_and_reconnects() {
    let mut cc = client_config(Transports::Polling);
    cc.reconnection.delay_ms = 100;
    let mut p = Pair::new(cc);
    let root = p.client.connect("/", None).unwrap();
    p.client.start(p.instant());
    p.drive();
    assert_eq!(connects(&p.take_events()), 1);
    // The pending GET's connection dies.
    p.reset_link(Stream::Poll);
    p.client
        .emit(root, "echo", Args::json(b"\"after\""))
        .unwrap();
    p.advance(1000);
    let ev = p.take_events();
    assert_eq!(
        ev[..2],
        [
            CEv::Disconnect(0, DisconnectReason::Session(CloseReason::TransportClose)),
            CEv::Closed(CloseReason::TransportClose),
        ],
        "{ev:?}"
    );
    assert!(matches!(ev[2], CEv::Reconnecting(1, 50..=150)), "{ev:?}");
    assert_eq!(connects(&ev), 1, "{ev:?}");
    assert!(
        ev.iter()
            .any(|e| matches!(e, CEv::Message { args, .. } if args == "\"after\"")),
        "{ev:?}"
    );
}

#[test]
fn a_delayed_long_poll_lets_posts_overtake_it() {
    let mut p = started(Transports::Polling);
    p.take_events();
    let root = siocore::client::NamespaceId::from_index(0);
    let args = |ev: Vec<CEv>| -> Vec<String> {
        ev.into_iter()
            .filter_map(|e| match e {
                CEv::Message { args, .. } => Some(args),
                _ => None,
            })
            .collect()
    };
    // The pending GET answers the first echo; the GET after it is held on the way to the
    // server, and the POSTs overtake it.
    p.hold[Stream::Poll.index()] = true;
    for i in 0..3 {
        p.client
            .emit(root, "echo", Args::json(format!("{i}").as_bytes()))
            .unwrap();
        p.drive();
    }
    assert_eq!(args(p.take_events()), ["0"]);
    p.advance(1000);
    assert_eq!(args(p.take_events()), Vec::<String>::new());
    p.hold[Stream::Poll.index()] = false;
    p.drive();
    assert_eq!(args(p.take_events()), ["1", "2"]);
    assert!(p.client.is_open());
}

#[test]
fn the_msgpack_parser_needs_its_feature_and_engine_io_v4() {
    let mut c = client_config(Transports::WebSocket);
    c.parser = siocore::client::Parser::MsgPack;
    let new = |c: siocore::client::ClientConfig<'static>| {
        let mut arena = vec![0u8; c.arena_len()];
        siocore::client::Client::<'_, 2, 2>::new(c, &mut arena, [1; 32]).map(|_| ())
    };
    if !cfg!(feature = "msgpack-parser") {
        assert_eq!(new(c), Err(ConfigError::MsgPackNotCompiled));
        return;
    }
    assert_eq!(new(c), Ok(()));
    c.eio3 = true;
    let want = if cfg!(feature = "eio3") {
        ConfigError::MsgPackWithEio3
    } else {
        ConfigError::Eio3NotCompiled
    };
    assert_eq!(new(c), Err(want));
}
