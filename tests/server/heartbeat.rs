//! The heartbeat (PROTOCOL.md A.9): exact to the millisecond under the fake clock.

use siocore::server::*;

use crate::harness::*;

fn short() -> ServerConfig<'static> {
    ServerConfig {
        endpoints: &[Endpoint::ENGINE_IO],
        ping_interval: 300,
        ping_timeout: 200,
        ..ServerConfig::DEFAULT
    }
}

#[test]
fn silent_polling_session_is_dead_500_ms_after_its_handshake() {
    let mut h = Harness::new(short());
    let sid = h.handshake("/engine.io/");
    assert_eq!(h.server.poll_timeout().map(|t| t.as_millis()), Some(300));
    let poll = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
    h.now = 499;
    let g = h.get(&poll);
    assert_eq!(h.response(g).text(), "2", "the ping, due at 300");
    // Exactly at 500 the GET finds no session: the deadline counts from the scheduled
    // ping, not from when it went out.
    h.now = 500;
    let g = h.get(&poll);
    assert_eq!(h.response(g).status, 400);
    assert!(
        h.take_events()
            .iter()
            .any(|e| matches!(e, Ev::EngineClose(_, CloseReason::PingTimeout)))
    );
}

#[test]
fn pongs_keep_it_alive_and_reschedule_from_the_pong() {
    let mut h = Harness::new(short());
    let (s, _) = h.ws_handshake("/engine.io/");
    h.at(300);
    assert_eq!(h.ws_texts(s), vec!["2"]);
    h.at(450);
    h.ws_send_text(s, "3");
    assert_eq!(h.server.poll_timeout().map(|t| t.as_millis()), Some(750));
    h.at(749);
    assert!(h.ws_texts(s).is_empty());
    h.at(750);
    assert_eq!(h.ws_texts(s), vec!["2"]);
    h.at(949);
    assert!(!h.is_closed(s));
    h.at(950);
    assert!(h.is_closed(s));
    assert!(
        h.take_events()
            .iter()
            .any(|e| matches!(e, Ev::EngineClose(_, CloseReason::PingTimeout)))
    );
}

#[test]
fn a_late_timer_still_expires_on_the_scheduled_deadline() {
    let mut h = Harness::new(short());
    let (s, _) = h.ws_handshake("/engine.io/");
    // Nothing ran the timers at 300; the first call comes at 500.
    h.at(500);
    assert!(h.is_closed(s));
}
