//! Connection state recovery, the client's part (feature `recovery`), against a scripted
//! WebSocket server that speaks as socket.io 4.8 does with `connectionStateRecovery` on:
//! the pid in the CONNECT answer, an offset at the end of each stored event, the missed
//! events replayed before the answer to a CONNECT that offered the session.

use siocore::Instant;
use siocore::client::{
    Args, Client, ClientConfig, CommandError, DisconnectReason, Event, Io, NamespaceId,
    RECOVERY_OFFSET_MAX, RECOVERY_PID_MAX, RECOVERY_STATE_LEN, Stream, Transports,
};
use siocore::ws::{self, Incoming, MessageDecoder, OpCode, Role};

type Cl = Client<'static, 2, 4>;

/// A client event with owned data.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Connect(usize, String, bool),
    Message(usize, String, String, Vec<Vec<u8>>),
    Disconnect(usize, DisconnectReason),
    Other(String),
}

/// The client and the server's side of its WebSocket.
struct Script {
    c: Cl,
    now: u64,
    /// The WebSocket's handshake request, until it is answered.
    request: Option<Vec<u8>>,
    /// The client's frames, once the handshake is done.
    frames: Option<MessageDecoder<Vec<u8>>>,
    /// Text messages the client sent, in order.
    sent: Vec<String>,
    /// Events taken from the client, not yet looked at.
    ev: Vec<Ev>,
}

const ROOT: NamespaceId = NamespaceId::from_index(0);
const CHAT: NamespaceId = NamespaceId::from_index(1);

fn config() -> ClientConfig<'static> {
    let mut c = ClientConfig::new("localhost");
    c.transports = Transports::WebSocket;
    c.rx_capacity = 4096;
    c.binary_capacity = 1024;
    c.outbox_capacity = 1024;
    c.reconnection.delay_ms = 10;
    c.reconnection.randomization_permille = 0;
    c
}

fn server_frame(op: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; payload.len() + 14];
    let n = ws::encode_frame(&mut out, true, op, payload, None).unwrap();
    out.truncate(n);
    out
}

impl Script {
    /// A client that asks for `/` and `/chat` (with auth), not started.
    fn new() -> Self {
        let config = config();
        let arena: &'static mut [u8] = Box::leak(vec![0u8; config.arena_len()].into_boxed_slice());
        let mut c = Client::new(config, arena, [5; 32]).unwrap();
        c.connect("/", None).unwrap();
        c.connect("/chat", Some(br#" {"token":"t"} "#)).unwrap();
        Self {
            c,
            now: 0,
            request: None,
            frames: None,
            sent: Vec::new(),
            ev: Vec::new(),
        }
    }

    fn instant(&self) -> Instant {
        Instant::from_millis(self.now)
    }

    /// Runs `poll_io`, connecting what is asked and reading what the client writes.
    fn pump(&mut self) {
        let mut out = vec![0u8; self.c.config().out_len()];
        let now = self.instant();
        while let Some(io) = self.c.poll_io(&mut out) {
            match io {
                Io::Connect(s) => {
                    assert_eq!(s, Stream::WebSocket);
                    self.request = Some(Vec::new());
                    self.frames = None;
                    self.c.connected(s, now);
                }
                Io::Send { len, .. } => match (&mut self.request, &mut self.frames) {
                    (Some(r), _) => r.extend_from_slice(&out[..len]),
                    (None, Some(d)) => {
                        assert_eq!(d.feed(&out[..len]), len);
                        while let Some(m) = d.poll().unwrap() {
                            if let Incoming::Text(t) = m {
                                self.sent.push(t.to_string());
                            }
                        }
                    }
                    (None, None) => panic!("bytes on a closed WebSocket"),
                },
                Io::Close(_) => {
                    self.request = None;
                    self.frames = None;
                }
            }
        }
    }

    /// Answers the WebSocket handshake and opens the Engine.IO session; the client's
    /// CONNECT packets are in `sent` after it.
    fn open(&mut self) {
        self.pump();
        let request = self.request.take().expect("a handshake request");
        let text = String::from_utf8(request).unwrap();
        let key = text
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap();
        let accept = ws::AcceptKey::for_key(key.trim().as_bytes());
        let head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            accept.as_str()
        );
        self.frames = Some(MessageDecoder::new(vec![0u8; 4096], Role::Server, 4096));
        let now = self.instant();
        self.c.recv(Stream::WebSocket, head.as_bytes(), now);
        self.text(r#"0{"sid":"eio","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#);
        assert!(self.c.is_open());
    }

    fn text(&mut self, packet: &str) {
        let now = self.instant();
        let f = server_frame(OpCode::Text, packet.as_bytes());
        assert_eq!(self.c.recv(Stream::WebSocket, &f, now), f.len());
        self.drain();
    }

    fn binary(&mut self, blob: &[u8]) {
        let now = self.instant();
        let f = server_frame(OpCode::Binary, blob);
        assert_eq!(self.c.recv(Stream::WebSocket, &f, now), f.len());
        self.drain();
    }

    /// The events so far.
    fn events(&mut self) -> Vec<Ev> {
        self.drain();
        std::mem::take(&mut self.ev)
    }

    /// Takes the client's events (which processes what it received), then runs `pump`.
    fn drain(&mut self) {
        let mut buf = vec![0u8; self.c.event_buf_len()];
        let out = &mut self.ev;
        while let Some(e) = self.c.poll_event(&mut buf).unwrap() {
            let s = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
            out.push(match e {
                Event::Connect {
                    namespace,
                    sid,
                    recovered,
                    ..
                } => Ev::Connect(namespace.index(), sid.to_string(), recovered),
                Event::Message(m) => Ev::Message(
                    m.namespace.index(),
                    m.name.to_string(),
                    s(m.args),
                    m.attachments.iter().map(<[u8]>::to_vec).collect(),
                ),
                Event::Disconnect { namespace, reason } => {
                    Ev::Disconnect(namespace.index(), reason)
                }
                other => Ev::Other(format!("{other:?}")),
            });
        }
        self.pump();
    }

    /// The WebSocket breaks; the client reconnects after its backoff and opens a new
    /// session (the CONNECT packets it sends are in `sent`).
    fn reconnect(&mut self) {
        let now = self.instant();
        self.c.closed(Stream::WebSocket, now);
        self.events();
        self.sent.clear();
        let t = self.c.poll_timeout().expect("a reconnection");
        self.now = t.as_millis();
        self.c.handle_timeout(t);
        self.open();
    }

    /// A client joined to both namespaces of a server with recovery on: `/` as socket `S0`
    /// with pid `P0`, `/chat` as `S1` with pid `P1`.
    fn joined() -> Self {
        let mut s = Self::new();
        s.c.start(Instant::ZERO);
        s.open();
        assert_eq!(s.sent, ["40", r#"40/chat,{"token":"t"}"#]);
        s.text(r#"40{"sid":"S0","pid":"P0"}"#);
        s.text(r#"40/chat,{"sid":"S1","pid":"P1"}"#);
        assert_eq!(
            s.events(),
            [
                Ev::Connect(0, "S0".into(), false),
                Ev::Connect(1, "S1".into(), false)
            ]
        );
        s
    }

    /// The namespace's saved state as (pid, offset).
    fn state(&self, ns: NamespaceId) -> Option<(String, String)> {
        let st = self.c.recovery_state(ns)?;
        assert_eq!(st[0], 1);
        let pid = &st[2..2 + usize::from(st[1])];
        let o = 2 + RECOVERY_PID_MAX;
        let offset = &st[o + 1..o + 1 + usize::from(st[o])];
        let s = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        Some((s(pid), s(offset)))
    }
}

fn msg(ns: usize, name: &str, args: &str) -> Ev {
    Ev::Message(ns, name.into(), args.into(), vec![])
}

fn state(pid: &str, offset: &str) -> Option<(String, String)> {
    Some((pid.into(), offset.into()))
}

#[test]
fn events_lose_their_offset_and_the_client_keeps_it() {
    let mut s = Script::joined();
    assert_eq!(s.state(ROOT), state("P0", ""));
    s.text(r#"42["news","a",{"b":1},"o1"]"#);
    s.text(r#"42["tick","o2"]"#);
    s.text(r#"42/chat,["hi","c1"]"#);
    assert_eq!(
        s.events(),
        [
            msg(0, "news", r#""a",{"b":1}"#),
            msg(0, "tick", ""),
            msg(1, "hi", "")
        ]
    );
    assert_eq!(s.state(ROOT), state("P0", "o2"));
    assert_eq!(s.state(CHAT), state("P1", "c1"));
    // A binary event: the offset after the placeholder, the attachment kept.
    s.text(r#"451-["file",{"_placeholder":true,"num":0},"o3"]"#);
    s.binary(&[1, 2, 3]);
    assert_eq!(
        s.events(),
        [Ev::Message(
            0,
            "file".into(),
            r#"{"_placeholder":true,"num":0}"#.into(),
            vec![vec![1, 2, 3]]
        )]
    );
    assert_eq!(s.state(ROOT), state("P0", "o3"));
    // No offset: events that ask for an ack (never stored for a replay), a last argument
    // that is not a string, or not a plain one, or longer than an offset can be.
    let long = "x".repeat(RECOVERY_OFFSET_MAX + 1);
    s.text(r#"427["ask","q"]"#);
    s.text(r#"42["n",1]"#);
    s.text(r#"42["esc","a\"b"]"#);
    s.text(&format!(r#"42["long","{long}"]"#));
    s.text(r#"42["spaced",1, "o9"]"#);
    assert_eq!(
        s.events(),
        [
            msg(0, "ask", r#""q""#),
            msg(0, "n", "1"),
            msg(0, "esc", r#""a\"b""#),
            msg(0, "long", &format!(r#""{long}""#)),
            msg(0, "spaced", r#"1, "o9""#),
        ]
    );
    assert_eq!(s.state(ROOT), state("P0", "o3"));
}

#[test]
fn without_a_pid_nothing_is_taken_off() {
    let mut s = Script::new();
    s.c.start(Instant::ZERO);
    s.open();
    s.text(r#"40{"sid":"S0"}"#);
    s.text(r#"42["news","a","o1"]"#);
    assert_eq!(
        s.events(),
        [
            Ev::Connect(0, "S0".into(), false),
            msg(0, "news", r#""a","o1""#)
        ]
    );
    assert_eq!(s.c.recovery_state(ROOT), None);
}

#[test]
fn a_reconnection_offers_the_session_and_takes_the_replay() {
    let mut s = Script::joined();
    s.text(r#"42["news","o1"]"#);
    s.events();
    s.reconnect();
    // pid and offset merged into the auth object (no offset before the first event).
    assert_eq!(
        s.sent,
        [
            r#"40{"pid":"P0","offset":"o1"}"#,
            r#"40/chat,{"token":"t","pid":"P1"}"#
        ]
    );
    // The missed events come before the answer, as socket.io sends them; the same pid
    // back means recovered.
    s.text(r#"42["missed","m","o2"]"#);
    s.text(r#"451-["bin",{"_placeholder":true,"num":0},"o3"]"#);
    s.binary(&[9]);
    s.text(r#"40{"sid":"S0","pid":"P0"}"#);
    // `/chat` gets a new session: another pid is not a recovery.
    s.text(r#"40/chat,{"sid":"S2","pid":"P2"}"#);
    assert_eq!(
        s.events(),
        [
            msg(0, "missed", r#""m""#),
            Ev::Message(
                0,
                "bin".into(),
                r#"{"_placeholder":true,"num":0}"#.into(),
                vec![vec![9]]
            ),
            Ev::Connect(0, "S0".into(), true),
            Ev::Connect(1, "S2".into(), false),
        ]
    );
    assert_eq!(s.state(ROOT), state("P0", "o3"));
    assert_eq!(s.state(CHAT), state("P2", ""));
    // A server that lost the session answers with a new pid: the old offset goes.
    s.reconnect();
    assert_eq!(s.sent[0], r#"40{"pid":"P0","offset":"o3"}"#);
    s.text(r#"40{"sid":"S9","pid":"P9"}"#);
    assert_eq!(s.events()[0], Ev::Connect(0, "S9".into(), false));
    assert_eq!(s.state(ROOT), state("P9", ""));
    // One without a pid (recovery turned off) leaves none.
    s.reconnect();
    s.text(r#"40{"sid":"S10"}"#);
    assert_eq!(s.events()[0], Ev::Connect(0, "S10".into(), false));
    assert_eq!(s.state(ROOT), None);
    s.reconnect();
    assert_eq!(s.sent[0], "40");
}

#[test]
fn emits_made_while_away_follow_the_replay() {
    let mut s = Script::joined();
    s.text(r#"42["news","o1"]"#);
    s.events();
    let now = s.instant();
    s.c.closed(Stream::WebSocket, now);
    s.events();
    s.c.emit(ROOT, "later", Args::json(b"1")).unwrap();
    s.sent.clear();
    let t = s.c.poll_timeout().unwrap();
    s.now = t.as_millis();
    s.c.handle_timeout(t);
    s.open();
    s.text(r#"42["missed","o2"]"#);
    s.text(r#"40{"sid":"S0","pid":"P0"}"#);
    assert_eq!(
        s.events(),
        [msg(0, "missed", ""), Ev::Connect(0, "S0".into(), true)]
    );
    assert!(
        s.sent.contains(&r#"42["later",1]"#.to_string()),
        "{:?}",
        s.sent
    );
}

#[test]
fn leaving_on_purpose_forgets_the_session() {
    // The server's DISCONNECT.
    let mut s = Script::joined();
    s.text("41/chat,");
    assert_eq!(
        s.events(),
        [Ev::Disconnect(1, DisconnectReason::ServerDisconnect)]
    );
    assert_eq!(s.state(CHAT), None);
    assert_eq!(s.state(ROOT), state("P0", ""));
    // The application's disconnect and close.
    s.c.disconnect(ROOT).unwrap();
    assert_eq!(s.c.recovery_state(ROOT), None);
    let mut s = Script::joined();
    s.c.close(s.instant());
    assert_eq!(s.state(ROOT), None);
    assert_eq!(s.state(CHAT), None);
    // A lost session keeps it.
    let mut s = Script::joined();
    let now = s.instant();
    s.c.closed(Stream::WebSocket, now);
    assert_eq!(s.state(ROOT), state("P0", ""));
}

#[test]
fn a_refusal_keeps_the_session_to_offer_again() {
    let mut s = Script::joined();
    s.text(r#"42["news","o1"]"#);
    s.events();
    s.reconnect();
    s.text(r#"44{"message":"later","data":null}"#);
    s.events();
    assert_eq!(s.state(ROOT), state("P0", "o1"));
    s.sent.clear();
    s.c.connect("/", None).unwrap();
    s.pump();
    assert_eq!(s.sent, [r#"40{"pid":"P0","offset":"o1"}"#]);
}

#[test]
fn a_saved_state_resumes_the_session_in_a_new_client() {
    let mut s = Script::joined();
    s.text(r#"42["news","o1"]"#);
    s.events();
    let saved = *s.c.recovery_state(ROOT).unwrap();
    assert_eq!(saved.len(), RECOVERY_STATE_LEN);
    let mut want = [0u8; RECOVERY_STATE_LEN];
    want[..4].copy_from_slice(b"\x01\x02P0");
    want[2 + RECOVERY_PID_MAX..2 + RECOVERY_PID_MAX + 3].copy_from_slice(b"\x02o1");
    assert_eq!(saved, want);
    // While joined it cannot be replaced.
    assert_eq!(
        s.c.restore_recovery(ROOT, &saved),
        Err(CommandError::NamespaceInUse)
    );

    // After a reboot: a new client, the state given back before it starts.
    let mut b = Script::new();
    b.c.restore_recovery(ROOT, &saved).unwrap();
    assert_eq!(b.c.recovery_state(ROOT), Some(&saved));
    b.c.start(Instant::ZERO);
    b.open();
    assert_eq!(
        b.sent,
        [
            r#"40{"pid":"P0","offset":"o1"}"#,
            r#"40/chat,{"token":"t"}"#
        ]
    );
    b.text(r#"42["missed","o2"]"#);
    b.text(r#"40{"sid":"S0","pid":"P0"}"#);
    assert_eq!(
        b.events(),
        [msg(0, "missed", ""), Ev::Connect(0, "S0".into(), true)]
    );
    assert_eq!(b.state(ROOT), state("P0", "o2"));

    // Bytes that are not a state are refused, and nothing changes.
    let mut c = Script::new();
    let mut bad = Vec::new();
    for (at, byte) in [
        (0, 2),                            // another format
        (1, 0),                            // no pid
        (1, RECOVERY_PID_MAX as u8 + 1),   // pid too long
        (2, b'"'),                         // a byte JSON would need escaped
        (2 + RECOVERY_PID_MAX, 33),        // offset too long
        (2 + RECOVERY_PID_MAX + 2, b'\\'), // escaped offset
    ] {
        let mut st = saved;
        st[at] = byte;
        bad.push(st);
    }
    for st in &bad {
        assert_eq!(
            c.c.restore_recovery(ROOT, st),
            Err(CommandError::InvalidRecoveryState),
            "{st:?}"
        );
        assert_eq!(c.c.recovery_state(ROOT), None);
    }
    // All zeros forgets.
    c.c.restore_recovery(ROOT, &saved).unwrap();
    c.c.restore_recovery(ROOT, &[0; RECOVERY_STATE_LEN])
        .unwrap();
    assert_eq!(c.c.recovery_state(ROOT), None);
    assert_eq!(
        c.c.restore_recovery(NamespaceId::from_index(3), &saved),
        Err(CommandError::UnknownNamespace)
    );
}

#[test]
fn pids_that_cannot_be_kept_mean_no_recovery() {
    for pid in [
        "p".repeat(RECOVERY_PID_MAX + 1),
        r#"a\"b"#.to_string(),
        r#"a\u0041"#.to_string(),
        String::new(),
    ] {
        let mut s = Script::new();
        s.c.start(Instant::ZERO);
        s.open();
        s.text(&format!(r#"40{{"sid":"S0","pid":"{pid}"}}"#));
        s.text(r#"42["news","o1"]"#);
        assert_eq!(
            s.events(),
            [
                Ev::Connect(0, "S0".into(), false),
                msg(0, "news", r#""o1""#)
            ],
            "{pid}"
        );
        assert_eq!(s.c.recovery_state(ROOT), None, "{pid}");
        s.reconnect();
        assert_eq!(s.sent[0], "40", "{pid}");
    }
    // A pid that is not a string.
    let mut s = Script::new();
    s.c.start(Instant::ZERO);
    s.open();
    s.text(r#"40{"sid":"S0","pid":7}"#);
    assert_eq!(s.events(), [Ev::Connect(0, "S0".into(), false)]);
    assert_eq!(s.c.recovery_state(ROOT), None);
    // The longest pid and offset are kept.
    let mut s = Script::new();
    s.c.start(Instant::ZERO);
    s.open();
    let (pid, offset) = (
        "p".repeat(RECOVERY_PID_MAX),
        "o".repeat(RECOVERY_OFFSET_MAX),
    );
    s.text(&format!(r#"40{{"sid":"S0","pid":"{pid}"}}"#));
    s.text(&format!(r#"42["news","{offset}"]"#));
    s.events();
    assert_eq!(s.state(ROOT), state(&pid, &offset));
    s.reconnect();
    assert_eq!(
        s.sent[0],
        format!(r#"40{{"pid":"{pid}","offset":"{offset}"}}"#)
    );
}

#[test]
fn events_before_the_answer_only_when_a_session_was_offered() {
    // Without a session offered, an event before the CONNECT answer is not for the
    // application (the namespace is not joined yet).
    let mut s = Script::new();
    s.c.start(Instant::ZERO);
    s.open();
    s.text(r#"42["early","o1"]"#);
    s.text(r#"40{"sid":"S0","pid":"P0"}"#);
    assert_eq!(s.events(), [Ev::Connect(0, "S0".into(), false)]);
}

#[test]
fn whatever_the_server_sends_the_offered_connect_is_valid_json() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let alphabet: &[u8] = b"aZ09-_.,:{}[] \"\\/~";
    for round in 0..300 {
        let mut s = Script::joined();
        let mut text = || -> String {
            let len = (next() % 40) as usize;
            let raw: String = (0..len)
                .map(|_| char::from(alphabet[(next() % alphabet.len() as u64) as usize]))
                .collect();
            // As a JSON string, escaped where it must be.
            raw.replace('\\', "\\\\").replace('"', "\\\"")
        };
        let (pid, offset, arg) = (text(), text(), text());
        s.text(&format!(r#"42["a","{arg}","{offset}"]"#));
        s.reconnect();
        s.text(&format!(r#"40{{"sid":"S","pid":"{pid}"}}"#));
        s.text(&format!(r#"42["b","{offset}"]"#));
        s.events();
        s.reconnect();
        for packet in &s.sent {
            let payload = packet
                .trim_start_matches("40/chat,")
                .trim_start_matches("40");
            if !payload.is_empty() {
                assert_eq!(
                    siocore::json::validate(payload.as_bytes()),
                    Ok(siocore::json::Kind::Object),
                    "round {round}: {packet}"
                );
            }
        }
    }
}
