//! The client speaking Engine.IO v3 / Socket.IO protocol v4 (`ClientConfig::eio3`, feature
//! `eio3`) to the sans-IO server serving v3 clients (`allow_eio3`): the implicit `/`, the
//! socket ids socket.io 2.x gives, a namespace's auth as its query, refusals, the client's
//! pings and its ping timeout, binary both ways, over each transport mode.

use crate::ALL;
use crate::pair::{CEv, Pair, client_config};
use siocore::client::{Args, CloseReason, CommandError, NamespaceId, Stream, Transports};
use siocore::server::ServerConfig;

fn v3_pair(t: Transports) -> Pair {
    let mut c = client_config(t);
    c.eio3 = true;
    Pair::with_server(
        c,
        ServerConfig {
            namespaces: &["/", "/private", "/admin"],
            allow_eio3: true,
            ping_interval: 1000,
            ping_timeout: 500,
            ..ServerConfig::DEFAULT
        },
    )
}

#[test]
fn joins_slash_without_asking_and_takes_the_session_id() {
    for t in ALL {
        let mut p = v3_pair(t);
        p.client.connect("/", None).unwrap();
        p.client.start(p.instant());
        p.drive();
        let ev = p.take_events();
        let sid = match ev.iter().find(|e| matches!(e, CEv::Connect(0, _))) {
            Some(CEv::Connect(_, sid)) => sid.clone(),
            _ => panic!("{t:?}: {ev:?}"),
        };
        let first = if t == Transports::WebSocket {
            Stream::WebSocket
        } else {
            Stream::Poll
        };
        let sent = p.sent_text(first);
        assert!(sent.contains("EIO=3"), "{sent}");
        // The session id is the socket id of `/`, and no CONNECT went up for it.
        assert!(
            sent.contains(&format!("sid={sid}")) || t == Transports::WebSocket,
            "{sent}"
        );
        for s in [Stream::Poll, Stream::Post, Stream::WebSocket] {
            assert!(!p.sent_text(s).contains("40"), "{t:?} {s:?}");
        }
        if t == Transports::PollingThenWebSocket {
            assert!(ev.contains(&CEv::Upgrade), "{ev:?}");
        }
        // Events and acks both ways, binary included.
        let ns = NamespaceId::from_index(0);
        p.client
            .emit(
                ns,
                "echo",
                Args::binary(
                    r#""é😀",{"_placeholder":true,"num":0}"#.as_bytes(),
                    &[&[1, 2, 255]],
                ),
            )
            .unwrap();
        let id = p
            .client
            .emit_with_ack(ns, "q", Args::json(b"7"), 5000, p.instant())
            .unwrap();
        p.drive();
        let ev = p.take_events();
        assert!(
            ev.iter()
                .any(|e| matches!(e, CEv::Message { name, args, attachments, .. }
                if name == "echo" && args == r#""é😀",{"_placeholder":true,"num":0}"#
                    && attachments == &[vec![1u8, 2, 255]])),
            "{t:?}: {ev:?}"
        );
        assert!(
            ev.contains(&CEv::Ack(0, id.0, "7".into(), vec![])),
            "{ev:?}"
        );
    }
}

#[test]
fn namespaces_send_their_auth_as_a_query() {
    for t in ALL {
        let mut p = v3_pair(t);
        p.client.connect("/", None).unwrap();
        let admin = p
            .client
            .connect("/admin", Some(br#"{"token":"a b&c","n":1,"ok":true}"#))
            .unwrap();
        // Refused by the server's application: its data comes as the error's data.
        p.client.connect("/private", None).unwrap();
        // Nested values cannot be a query.
        assert_eq!(
            p.client.connect("/x", Some(br#"{"a":{"b":1}}"#)),
            Err(CommandError::InvalidAuth)
        );
        p.client.start(p.instant());
        p.drive();
        let ev = p.take_events();
        let sid = match ev.iter().find(|e| matches!(e, CEv::Connect(0, _))) {
            Some(CEv::Connect(_, sid)) => sid.clone(),
            _ => panic!("{ev:?}"),
        };
        assert!(
            ev.contains(&CEv::Connect(admin.index(), format!("/admin#{sid}"))),
            "{t:?}: {ev:?}"
        );
        assert!(
            ev.contains(&CEv::ConnectError(
                2,
                String::new(),
                Some(r#"{"why":1}"#.into())
            )),
            "{t:?}: {ev:?}"
        );
        // The server read the query back as the object (every value a string).
        let want = format!(
            "{:?}",
            br#"{"token":"a b&c","n":"1","ok":"true"}"#.as_slice()
        );
        assert!(
            p.sev
                .iter()
                .any(|e| e.contains("/admin") && e.contains(&want)),
            "{:?}",
            p.sev
        );
    }
}

#[test]
fn the_client_pings_and_times_out_without_pongs() {
    for t in ALL {
        let mut p = v3_pair(t);
        p.client.connect("/", None).unwrap();
        p.client.start(p.instant());
        p.drive();
        p.take_events();
        // The server answers every ping: ten intervals pass.
        p.run_until(p.now + 10_000);
        assert!(p.client.is_open(), "{t:?}: {:?}", p.take_events());
        assert!(!p.take_events().iter().any(|e| matches!(e, CEv::Closed(_))));
        // Its pings held back, no pong comes: the client gives up a ping timeout after
        // the ping (before the server's own deadline, interval and timeout after the last).
        p.hold = [true; 3];
        p.run_until(p.now + 1600);
        let ev = p.take_events();
        assert_eq!(
            ev.iter().find(|e| matches!(e, CEv::Closed(_))),
            Some(&CEv::Closed(CloseReason::PingTimeout)),
            "{t:?}: {ev:?}"
        );
    }
}
