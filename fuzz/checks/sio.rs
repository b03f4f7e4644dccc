//! Fuzz check for the Socket.IO packet codec and attachment reassembly (`siocore::sio`).
//!
//! Input: the first byte selects the role (bit 0: client) and, with bit 1, a lower
//! attachment limit of 2; the rest is a sequence of messages separated by `0x1E`, where a
//! message starting with `b` stands for a binary message and any other for a text packet.
//!
//! Invariants: decoded slices lie inside the input; a decoded packet re-encodes to bytes
//! that decode to the same fields; events and acks rebuilt from name + args decode to the
//! same name and args; placeholders are in range, counted once, and exactly the canonical
//! form; the reassembly tracker agrees with a simple model.

use siocore::sio::{
    Config, EventName, Packet, PacketType, Progress, Reassembly, ReassemblyError, Role, encode_ack,
    encode_binary_ack, encode_binary_event, encode_event,
};

fn inside(outer: &[u8], inner: &[u8]) -> bool {
    let start = outer.as_ptr() as usize;
    let p = inner.as_ptr() as usize;
    inner.is_empty() || (p >= start && p + inner.len() <= start + outer.len())
}

fn same(a: &Packet<'_>, b: &Packet<'_>) {
    assert_eq!(a.packet_type(), b.packet_type());
    assert_eq!(a.attachments(), b.attachments());
    assert_eq!(a.namespace(), b.namespace());
    assert_eq!(a.ack_id(), b.ack_id());
    assert_eq!(a.data(), b.data());
    assert_eq!(a.args(), b.args());
    assert_eq!(a.event_name(), b.event_name());
    assert_eq!(a.error_message(), b.error_message());
    assert_eq!(a.error_data(), b.error_data());
    assert_eq!(a.placeholder_count(), b.placeholder_count());
}

fn check_packet(msg: &[u8], config: &Config) -> Option<usize> {
    let p = Packet::parse_with(msg, config).ok()?;
    assert!(inside(msg, p.namespace().as_bytes()) || p.namespace() == "/");
    assert!(inside(msg, p.data().unwrap_or_default()));
    assert!(inside(msg, p.args()));
    assert!(p.data_offset() <= msg.len());
    assert_eq!(p.attachments().is_some(), p.packet_type().is_binary());
    if let Some(n) = p.attachments() {
        assert!(n <= config.max_attachments);
    }
    if config.role == Role::Server {
        assert_ne!(p.packet_type(), PacketType::ConnectError);
    }

    let mut out = [0u8; 8192];
    let len = p
        .encode(&mut out)
        .expect("a decoded packet fits twice its size");
    let q = Packet::parse_with(&out[..len], config).expect("re-encoded packet decodes");
    same(&p, &q);

    let data = p.data().unwrap_or_default();
    let mut count = 0;
    let mut last_end = 0;
    for ph in p.placeholders() {
        assert!(ph.start >= last_end && ph.end <= data.len());
        assert!(
            ph.num
                < p.attachments()
                    .expect("only binary packets have placeholders")
        );
        let text = &data[ph.range()];
        assert!(text.starts_with(b"{") && text.ends_with(b"}"));
        last_end = ph.end;
        count += 1;
    }
    assert_eq!(count, p.placeholder_count());

    let mut name_buf = [0u8; 4096];
    let ty = p.packet_type();
    if ty.is_event() {
        let name = match p.event_name().expect("events have a name") {
            EventName::Str(s) => {
                let n = s.unescape_into(&mut name_buf).ok()?;
                core::str::from_utf8(&name_buf[..n]).expect("names are UTF-8")
            }
            EventName::Number(_) => return p.attachments(),
        };
        let len = if ty == PacketType::Event {
            encode_event(&mut out, p.namespace(), p.ack_id(), name, p.args())
        } else {
            encode_binary_event(
                &mut out,
                p.namespace(),
                p.ack_id(),
                name,
                p.args(),
                p.attachments()?,
            )
        }
        .expect("rebuilt event fits");
        let q = Packet::parse_with(&out[..len], config).expect("rebuilt event decodes");
        assert!(q.event_name().expect("name").eq_str(name));
        assert_eq!(q.args(), p.args());
        assert_eq!(q.args_iter().count(), p.args_iter().count());
        assert_eq!(q.placeholder_count(), p.placeholder_count());
    } else if ty.is_ack() {
        let id = p.ack_id().expect("acks have an id");
        let len = if ty == PacketType::Ack {
            encode_ack(&mut out, p.namespace(), id, p.args())
        } else {
            encode_binary_ack(&mut out, p.namespace(), id, p.args(), p.attachments()?)
        }
        .expect("rebuilt ack fits");
        let q = Packet::parse_with(&out[..len], config).expect("rebuilt ack decodes");
        assert_eq!(q.args(), p.args());
        assert_eq!(q.args_iter().count(), p.args_iter().count());
    }
    Some(p.attachments().unwrap_or(0))
}

pub fn check(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut config = if mode & 1 == 1 {
        Config::CLIENT
    } else {
        Config::DEFAULT
    };
    if mode & 2 == 2 {
        config.max_attachments = 2;
    }
    let mut tracker = Reassembly::new(config.max_attachments);
    let mut pending = 0usize;
    let mut next = 0usize;
    for msg in rest.split(|&b| b == 0x1e) {
        if msg.first() == Some(&b'b') {
            let got = tracker.binary();
            if pending == 0 {
                assert_eq!(got, Err(ReassemblyError::UnexpectedBinary));
            } else {
                let a = got.expect("an attachment was pending");
                assert_eq!(a.num, next);
                pending -= 1;
                next += 1;
                let want = if pending == 0 {
                    Progress::Complete
                } else {
                    Progress::Pending { remaining: pending }
                };
                assert_eq!(a.progress, want);
            }
        } else if let Some(n) = check_packet(msg, &config) {
            let got = tracker.text(n);
            if pending > 0 {
                assert_eq!(
                    got,
                    Err(ReassemblyError::TextWhilePending { remaining: pending })
                );
                pending = 0;
            } else {
                assert!(got.is_ok());
                pending = n;
                next = 0;
            }
        }
        assert_eq!(tracker.remaining(), pending);
    }
}
