use super::*;
use crate::json::tests::{gen_string, gen_value};
use crate::sio::{ArgsWriter, Placeholder};
use crate::testutil::Rng;

extern crate std;
use std::string::String;
use std::vec::Vec;

use DecodeError::*;

#[track_caller]
fn parse(input: &str) -> Packet<'_> {
    match Packet::parse_with(input.as_bytes(), &Config::CLIENT) {
        Ok(p) => p,
        Err(e) => panic!("{input:?}: {e:?}"),
    }
}

#[track_caller]
fn fails(input: &[u8], e: DecodeError) {
    assert_eq!(
        Packet::parse(input).map(|_| ()),
        Err(e),
        "{:?}",
        String::from_utf8_lossy(input)
    );
}

#[track_caller]
fn bytes(r: Result<usize, EncodeError>, buf: &[u8]) -> &str {
    let n = r.unwrap();
    core::str::from_utf8(&buf[..n]).unwrap()
}

// B.3 table, row by row: decode the fields, then encode them back to the same bytes.

#[test]
fn b3_connect_rows() {
    let mut buf = [0u8; 128];
    let p = parse("0");
    assert_eq!(p.packet_type(), PacketType::Connect);
    assert_eq!(
        (p.namespace(), p.ack_id(), p.data(), p.attachments()),
        ("/", None, None, None)
    );
    assert_eq!(bytes(encode_connect(&mut buf, "/", None), &buf), "0");

    let p = parse(r#"0{"token":"t1"}"#);
    assert_eq!(p.data(), Some(&br#"{"token":"t1"}"#[..]));
    assert_eq!(p.data_offset(), 1);
    assert_eq!(
        bytes(encode_connect(&mut buf, "/", p.data()), &buf),
        r#"0{"token":"t1"}"#
    );

    let p = parse(r#"0/chat,{"sid":"b7QwE2kVn0dR5mXyAAAC"}"#);
    assert_eq!(p.namespace(), "/chat");
    assert_eq!(p.data(), Some(&br#"{"sid":"b7QwE2kVn0dR5mXyAAAC"}"#[..]));
    assert_eq!(
        bytes(
            encode_connect_sid(&mut buf, "/chat", "b7QwE2kVn0dR5mXyAAAC"),
            &buf
        ),
        r#"0/chat,{"sid":"b7QwE2kVn0dR5mXyAAAC"}"#
    );
}

#[test]
fn b3_connect_error_row() {
    let mut buf = [0u8; 128];
    let input = r#"4/chat,{"message":"Invalid namespace"}"#;
    let p = parse(input);
    assert_eq!(p.packet_type(), PacketType::ConnectError);
    assert_eq!(p.namespace(), "/chat");
    assert!(p.error_message().unwrap().eq_str("Invalid namespace"));
    assert_eq!(p.error_data(), None);
    assert_eq!(
        bytes(
            encode_connect_error(&mut buf, "/chat", "Invalid namespace", None),
            &buf
        ),
        input
    );
    // A client may not send it.
    fails(input.as_bytes(), UnexpectedConnectError);
}

#[test]
fn b3_disconnect_row() {
    let mut buf = [0u8; 16];
    let p = parse("1/chat,");
    assert_eq!(p.packet_type(), PacketType::Disconnect);
    assert_eq!((p.namespace(), p.data()), ("/chat", None));
    assert_eq!(bytes(encode_disconnect(&mut buf, "/chat"), &buf), "1/chat,");
    assert_eq!(bytes(encode_disconnect(&mut buf, "/"), &buf), "1");
}

#[test]
fn b3_event_and_ack_rows() {
    let mut buf = [0u8; 128];
    let p = parse(r#"2["ping-me",{"n":1}]"#);
    assert_eq!(p.packet_type(), PacketType::Event);
    assert_eq!(p.event_name().unwrap().as_str(), Some("ping-me"));
    assert_eq!(p.args(), br#"{"n":1}"#);
    assert_eq!(
        bytes(encode_event(&mut buf, "/", None, "ping-me", p.args()), &buf),
        r#"2["ping-me",{"n":1}]"#
    );

    let p = parse(r#"2/chat,7["join","lobby"]"#);
    assert_eq!((p.namespace(), p.ack_id()), ("/chat", Some(7)));
    assert!(p.event_name().unwrap().eq_str("join"));
    assert_eq!(p.args(), br#""lobby""#);
    assert_eq!(
        bytes(
            encode_event(&mut buf, "/chat", Some(7), "join", br#""lobby""#),
            &buf
        ),
        r#"2/chat,7["join","lobby"]"#
    );

    let p = parse("3/chat,7[true]");
    assert_eq!(p.packet_type(), PacketType::Ack);
    assert_eq!(
        (p.namespace(), p.ack_id(), p.args()),
        ("/chat", Some(7), &b"true"[..])
    );
    assert_eq!(
        bytes(encode_ack(&mut buf, "/chat", 7, b"true"), &buf),
        "3/chat,7[true]"
    );
}

#[test]
fn b3_binary_rows() {
    let mut buf = [0u8; 128];
    let input = r#"51-["file",{"_placeholder":true,"num":0}]"#;
    let p = parse(input);
    assert_eq!(p.packet_type(), PacketType::BinaryEvent);
    assert_eq!(p.attachments(), Some(1));
    assert!(p.event_name().unwrap().eq_str("file"));
    assert_eq!(p.placeholder_count(), 1);
    let ph: Vec<Placeholder> = p.placeholders().collect();
    assert_eq!(
        ph,
        [Placeholder {
            start: 8,
            end: 37,
            num: 0
        }]
    );
    assert_eq!(
        &p.data().unwrap()[ph[0].range()],
        br#"{"_placeholder":true,"num":0}"#
    );
    assert_eq!(
        bytes(
            encode_binary_event(&mut buf, "/", None, "file", p.args(), 1),
            &buf
        ),
        input
    );
    let mut w = ArgsWriter::binary_event(&mut buf, "/", None, "file", 1).unwrap();
    assert_eq!(w.binary_arg(), 0);
    assert_eq!(bytes(w.finish(), &buf), input);

    let input = r#"62-/chat,9[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
    let p = parse(input);
    assert_eq!(p.packet_type(), PacketType::BinaryAck);
    assert_eq!(
        (p.attachments(), p.namespace(), p.ack_id()),
        (Some(2), "/chat", Some(9))
    );
    let nums: Vec<usize> = p.placeholders().map(|ph| ph.num).collect();
    assert_eq!(nums, [0, 1]);
    assert_eq!(
        bytes(encode_binary_ack(&mut buf, "/chat", 9, p.args(), 2), &buf),
        input
    );
    let mut w = ArgsWriter::binary_ack(&mut buf, "/chat", 9, 2).unwrap();
    w.binary_arg();
    w.binary_arg();
    assert_eq!(bytes(w.finish(), &buf), input);
}

#[test]
fn namespace_without_comma_and_sample_session() {
    // [suite] `40/custom` and `41/custom` come without the comma.
    let p = parse("0/custom");
    assert_eq!(
        (p.packet_type(), p.namespace(), p.data()),
        (PacketType::Connect, "/custom", None)
    );
    assert_eq!(parse("1/custom").namespace(), "/custom");
    assert_eq!(parse("0/").namespace(), "/");
    assert_eq!(parse("0/,").namespace(), "/");
    // The namespace is kept verbatim, query and all.
    assert_eq!(parse("0/x?y=1,").namespace(), "/x?y=1");

    let mut buf = [0u8; 128];
    assert_eq!(
        bytes(
            encode_connect_error(&mut buf, "/random", "Invalid namespace", None),
            &buf
        ),
        r#"4/random,{"message":"Invalid namespace"}"#
    );
    assert_eq!(
        bytes(
            encode_connect_error(&mut buf, "/x?y=1", "Invalid namespace", None),
            &buf
        ),
        r#"4/x?y=1,{"message":"Invalid namespace"}"#
    );
    assert_eq!(
        bytes(
            encode_connect_error(&mut buf, "/", "nope", Some(br#"{"code":7}"#)),
            &buf
        ),
        r#"4{"message":"nope","data":{"code":7}}"#
    );
    let p = parse(r#"4{"message":"nope","data":{"code":[7]}}"#);
    assert_eq!(p.error_data(), Some(&br#"{"code":[7]}"#[..]));

    // B.8, SIO layer.
    assert_eq!(
        bytes(
            encode_connect_sid(&mut buf, "/", "c2lvU29ja2V0MDAwMDAx"),
            &buf
        ),
        r#"0{"sid":"c2lvU29ja2V0MDAwMDAx"}"#
    );
    assert_eq!(
        bytes(
            encode_event(&mut buf, "/", None, "welcome", br#"{"token":"t1"}"#),
            &buf
        ),
        r#"2["welcome",{"token":"t1"}]"#
    );
    assert_eq!(parse("0/chat,").namespace(), "/chat");
    let p = parse(r#"2/chat,3["join","lobby"]"#);
    assert_eq!(
        bytes(
            encode_ack(&mut buf, p.namespace(), p.ack_id().unwrap(), br#""ok""#),
            &buf
        ),
        r#"3/chat,3["ok"]"#
    );
    assert_eq!(
        bytes(encode_connect(&mut buf, "/chat", None), &buf),
        "0/chat,"
    );
}

#[test]
fn b6_ack_and_suite_echo() {
    let mut buf = [0u8; 128];
    let p = Packet::parse(br#"2456["message-with-ack",1,"2",{"3":[false]}]"#).unwrap();
    assert_eq!(p.ack_id(), Some(456));
    assert_eq!(p.args(), br#"1,"2",{"3":[false]}"#);
    assert_eq!(
        bytes(encode_ack(&mut buf, p.namespace(), 456, p.args()), &buf),
        r#"3456[1,"2",{"3":[false]}]"#
    );

    let p = Packet::parse(br#"2["message",1,"2",{"3":[true]}]"#).unwrap();
    assert_eq!(
        bytes(
            encode_event(&mut buf, "/", None, "message-back", p.args()),
            &buf
        ),
        r#"2["message-back",1,"2",{"3":[true]}]"#
    );
    let args: Vec<&[u8]> = p.args_iter().collect();
    assert_eq!(args, [&b"1"[..], br#""2""#, br#"{"3":[true]}"#]);

    let p = Packet::parse(br#"2["chat message","hello",1]"#).unwrap();
    assert_eq!(p.args(), br#""hello",1"#);
    let p = Packet::parse(br#"2["name-only"]"#).unwrap();
    assert_eq!(p.args(), b"");
    assert_eq!(p.args_iter().count(), 0);
    assert_eq!(
        bytes(encode_event(&mut buf, "/", None, "name-only", b""), &buf),
        r#"2["name-only"]"#
    );
    // Whitespace around the args is not part of them.
    let p = Packet::parse(br#"2[ "a" , 1 , 2 ]"#).unwrap();
    assert_eq!(p.args(), b"1 , 2");
    assert_eq!(
        Packet::parse(b"3 1").map(|_| ()),
        Err(JunkInHeader { offset: 1 })
    );
    let p = Packet::parse(b"31[ ]").unwrap();
    assert_eq!(p.args(), b"");
}

#[test]
fn b7_wire_examples() {
    let mut buf = [0u8; 160];
    let input = r#"52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
    let p = Packet::parse(input.as_bytes()).unwrap();
    assert_eq!((p.attachments(), p.placeholder_count()), (Some(2), 2));
    let echo = r#"52-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
    assert_eq!(
        bytes(
            encode_binary_event(&mut buf, "/", None, "message-back", p.args(), 2),
            &buf
        ),
        echo
    );

    let input = r#"52-789["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
    let p = Packet::parse(input.as_bytes()).unwrap();
    assert_eq!(p.ack_id(), Some(789));
    let mut w = ArgsWriter::binary_ack(&mut buf, p.namespace(), 789, 2).unwrap();
    w.binary_arg();
    w.binary_arg();
    assert_eq!(
        bytes(w.finish(), &buf),
        r#"62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
}

#[test]
fn appendix_rows() {
    fails(
        br#"511-["message"]"#,
        TooManyAttachments {
            count: 11,
            limit: 10,
        },
    );
    let p = Packet::parse(b"3999[1]").unwrap();
    assert_eq!(
        (p.packet_type(), p.ack_id(), p.args()),
        (PacketType::Ack, Some(999), &b"1"[..])
    );
    // A higher limit lets it through.
    let cfg = Config {
        max_attachments: 11,
        ..Config::DEFAULT
    };
    assert_eq!(
        Packet::parse_with(br#"511-["message"]"#, &cfg)
            .unwrap()
            .attachments(),
        Some(11)
    );
    assert_eq!(
        Packet::parse(br#"50-["m"]"#).unwrap().attachments(),
        Some(0)
    );
}

#[test]
fn b4_invalid_forms() {
    fails(b"", Empty);
    fails(br#"7["x"]"#, UnknownType { byte: b'7' });
    fails(b"abc", UnknownType { byte: b'a' });
    fails(b"2{}", EventNotArray);
    fails(b"2[]", EmptyEvent);
    fails(br#"2"x""#, EventNotArray);
    fails(b"2", MissingPayload);
    fails(b"2/chat,", MissingPayload);
    fails(b"2[null]", InvalidEventName);
    fails(br#"2[["x"]]"#, InvalidEventName);
    fails(br#"2[{"a":1}]"#, InvalidEventName);
    fails(br#"2abc["x"]"#, JunkInHeader { offset: 1 });
    fails(br#"2 ["x"]"#, JunkInHeader { offset: 1 });
    fails(br#"2/chat,x["x"]"#, JunkInHeader { offset: 7 });
    fails(b"31{}", AckNotArray);
    fails(br#"31"a""#, AckNotArray);
    fails(b"3[1]", MissingAckId);
    fails(b"3", MissingAckId);
    fails(b"31", MissingPayload);
    fails(b"1{}", UnexpectedPayload);
    fails(b"1/chat,[]", UnexpectedPayload);
    fails(br#"0"t""#, ConnectNotObject);
    fails(b"0[]", ConnectNotObject);
    fails(b"05", UnexpectedAckId);
    fails(b"1/chat,5", UnexpectedAckId);
    fails(br#"2["x""#, Json(JsonError::UnexpectedEnd));
    fails(br#"2["x",]"#, Json(JsonError::UnexpectedByte { offset: 6 }));
    fails(
        br#"2/a,1["x" "y"]"#,
        Json(JsonError::UnexpectedByte { offset: 10 }),
    );
    fails(b"2[\"\xff\"]", Json(JsonError::InvalidUtf8 { offset: 3 }));
    fails(b"2/\xff,[\"x\"]", InvalidNamespace);
    fails(br#"29007199254740992["x"]"#, AckIdTooLarge);
    fails(br#"2999999999999999999999999999["x"]"#, AckIdTooLarge);
    assert_eq!(
        Packet::parse(br#"29007199254740991["x"]"#)
            .unwrap()
            .ack_id(),
        Some(MAX_ACK_ID)
    );
    // Leading zeros read like the reference's Number("007").
    assert_eq!(Packet::parse(br#"2007["x"]"#).unwrap().ack_id(), Some(7));
}

#[test]
fn reserved_event_names() {
    for name in RESERVED_EVENT_NAMES {
        let mut buf = [0u8; 64];
        let n = encode_event(&mut buf, "/", None, name, b"1").unwrap();
        fails(&buf[..n], ReservedEventName);
        buf[0] = b'5';
        let mut bin = Vec::from(&b"50-"[..]);
        bin.extend_from_slice(&buf[1..n]);
        fails(&bin, ReservedEventName);
    }
    fails(br#"2["conn\u0065ct"]"#, ReservedEventName);
    // Close relatives are fine, and so is a numeric name.
    assert!(Packet::parse(br#"2["connected"]"#).is_ok());
    assert!(Packet::parse(br#"2["Connect"]"#).is_ok());
    let p = Packet::parse(br#"2[42,"a"]"#).unwrap();
    assert_eq!(p.event_name(), Some(EventName::Number(b"42")));
    assert!(p.event_name().unwrap().eq_str("42"));
    assert_eq!(p.args(), br#""a""#);
}

#[test]
fn connect_error_forms() {
    let client = |s: &[u8]| Packet::parse_with(s, &Config::CLIENT).map(|_| ());
    assert_eq!(client(b"4"), Err(MissingPayload));
    assert_eq!(client(b"4{}"), Err(InvalidConnectError));
    assert_eq!(client(br#"4{"message":1}"#), Err(InvalidConnectError));
    assert_eq!(client(br#"4"Not authorized""#), Err(InvalidConnectError));
    assert_eq!(client(br#"4[{"message":"x"}]"#), Err(InvalidConnectError));
    assert_eq!(
        client(br#"4{"a":{"message":"x"}}"#),
        Err(InvalidConnectError)
    );
    assert_eq!(client(br#"45{"message":"x"}"#), Err(UnexpectedAckId));
    let p =
        Packet::parse_with(br#"4{"data":null,"mess\u0061ge":"a\"b"}"#, &Config::CLIENT).unwrap();
    let mut buf = [0u8; 8];
    let n = p.error_message().unwrap().unescape_into(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"a\"b");
    assert_eq!(p.error_data(), Some(&b"null"[..]));
}

#[test]
fn attachment_count_forms() {
    fails(br#"5["x"]"#, InvalidAttachmentCount);
    fails(br#"5-["x"]"#, InvalidAttachmentCount);
    fails(br#"5x-["x"]"#, InvalidAttachmentCount);
    fails(b"5", InvalidAttachmentCount);
    fails(br#"51["x"]"#, MissingAttachmentSeparator);
    fails(b"51", MissingAttachmentSeparator);
    fails(
        br#"599999999999999999999999-["x"]"#,
        TooManyAttachments {
            count: usize::MAX,
            limit: 10,
        },
    );
    fails(b"61-[]", MissingAckId);
    fails(b"61-1{}", AckNotArray);
    fails(b"51-", MissingPayload);
    // On text types a count is not a count: `21-` is ack id 1, then `-[` is a bad number.
    fails(br#"21-["x"]"#, Json(JsonError::InvalidNumber { offset: 3 }));
}

#[test]
fn placeholder_forms() {
    let ok = |s: &str| Packet::parse(s.as_bytes()).unwrap().placeholder_count();
    assert_eq!(ok(r#"51-["x",{"num":0,"_placeholder":true}]"#), 1);
    assert_eq!(
        ok(
            r#"52-["x",{"a":[{ "_placeholder" : true , "num" : 1 }]},{"_placeholder":true,"num":0}]"#
        ),
        2
    );
    assert_eq!(ok(r#"51-["x",{"_pl\u0061ceholder":true,"num":0}]"#), 1);
    // Not placeholders: `_placeholder` not true, strings that look like one.
    assert_eq!(
        ok(r#"51-["x",{"_placeholder":false,"num":5},"{\"_placeholder\":true,\"num\":9}"]"#),
        0
    );
    // The same objects in a text packet are plain data.
    assert_eq!(ok(r#"2["x",{"_placeholder":true,"num":7,"extra":1}]"#), 0);
    assert_eq!(
        Packet::parse(br#"2["x",{"_placeholder":true,"num":0}]"#)
            .unwrap()
            .placeholders()
            .count(),
        0
    );

    let bad = |s: &str| Packet::parse(s.as_bytes()).map(|_| ());
    // Offsets point at the object (or at the `true` in an object already known not to fit).
    assert_eq!(
        bad(r#"51-["x",{"_placeholder":true,"num":1}]"#),
        Err(PlaceholderOutOfRange { num: 1, offset: 8 })
    );
    assert_eq!(
        bad(r#"50-["x",{"_placeholder":true,"num":0}]"#),
        Err(PlaceholderOutOfRange { num: 0, offset: 8 })
    );
    assert_eq!(
        bad(r#"51-["x",{"_placeholder":true,"num":99999999999999999999}]"#),
        Err(InvalidPlaceholder { offset: 8 })
    );
    for form in [
        r#"{"_placeholder":true}"#,
        r#"{"_placeholder":true,"num":0,"x":1}"#,
        r#"{"_placeholder":true,"num":"0"}"#,
        r#"{"_placeholder":true,"num":0.0}"#,
        r#"{"_placeholder":true,"num":-1}"#,
        r#"{"_placeholder":true,"num":1e0}"#,
        r#"{"_placeholder":true,"_placeholder":true}"#,
        r#"{"_placeholder":true,"num":[0]}"#,
        r#"{"_placeholder":true,"x":{}}"#,
        r#"{"x":[],"_placeholder":true}"#,
    ] {
        let input = std::format!(r#"51-["x",{form}]"#);
        assert!(
            matches!(bad(&input), Err(InvalidPlaceholder { .. })),
            "{input}: {:?}",
            bad(&input)
        );
    }
    assert_eq!(
        bad(r#"51-["x",{"x":[],"_placeholder":true}]"#),
        Err(InvalidPlaceholder { offset: 31 })
    );
}

#[test]
fn json_limits_apply_to_payloads() {
    let cfg = Config {
        json: Limits {
            max_depth: 2,
            max_size: 32,
        },
        ..Config::DEFAULT
    };
    assert!(Packet::parse_with(br#"2["x",[1]]"#, &cfg).is_ok());
    assert_eq!(
        Packet::parse_with(br#"2/a,["x",[[1]]]"#, &cfg).map(|_| ()),
        Err(Json(JsonError::TooDeep { offset: 10 }))
    );
    assert!(matches!(
        Packet::parse_with(br#"2["a very long event name indeed!"]"#, &cfg),
        Err(Json(JsonError::TooLarge { .. }))
    ));
}

#[test]
fn encoder_errors() {
    let mut buf = [0u8; 64];
    assert_eq!(
        encode_disconnect(&mut buf, ""),
        Err(EncodeError::InvalidNamespace)
    );
    assert_eq!(
        encode_disconnect(&mut buf, "chat"),
        Err(EncodeError::InvalidNamespace)
    );
    assert_eq!(
        encode_disconnect(&mut buf, "/a,b"),
        Err(EncodeError::InvalidNamespace)
    );
    assert_eq!(
        encode_ack(&mut buf, "/", MAX_ACK_ID + 1, b""),
        Err(EncodeError::AckIdOutOfRange)
    );
    assert_eq!(
        encode_event(&mut buf[..5], "/", Some(12), "ab", b"1"),
        Err(EncodeError::BufferTooSmall(BufferTooSmall { required: 11 }))
    );
    assert_eq!(
        bytes(encode_event(&mut buf, "/", Some(12), "a\"b", b"1"), &buf),
        r#"212["a\"b",1]"#
    );
    assert_eq!(
        bytes(encode_connect_sid(&mut buf, "/", "a\"b"), &buf),
        r#"0{"sid":"a\"b"}"#
    );

    let mut w = ArgsWriter::event(&mut buf, "/", None, "x").unwrap();
    w.placeholder();
    assert_eq!(w.finish(), Err(EncodeError::PlaceholderInTextPacket));
    let mut w = ArgsWriter::binary_event(&mut buf, "/", None, "x", 2).unwrap();
    w.binary_arg();
    assert_eq!(
        w.finish(),
        Err(EncodeError::AttachmentMismatch {
            declared: 2,
            written: 1
        })
    );
    let mut w = ArgsWriter::binary_ack(&mut buf[..4], "/", 1, 1).unwrap();
    w.binary_arg();
    assert_eq!(
        w.finish(),
        Err(EncodeError::BufferTooSmall(BufferTooSmall { required: 35 }))
    );
    assert_eq!(
        ArgsWriter::ack(&mut buf, "nope", 1).map(|_| ()),
        Err(EncodeError::InvalidNamespace)
    );
}

#[test]
fn args_writer_text_and_nested() {
    let mut buf = [0u8; 160];
    let mut w = ArgsWriter::event(&mut buf, "/chat", Some(3), "msg").unwrap();
    w.arg(b"1").arg(br#""two""#);
    assert_eq!(bytes(w.finish(), &buf), r#"2/chat,3["msg",1,"two"]"#);

    let mut w = ArgsWriter::ack(&mut buf, "/", 4).unwrap();
    w.arg(b"true").arg(b"null");
    assert_eq!(bytes(w.finish(), &buf), "34[true,null]");
    let w = ArgsWriter::ack(&mut buf, "/", 4).unwrap();
    assert_eq!(bytes(w.finish(), &buf), "34[]");

    let mut w = ArgsWriter::binary_event(&mut buf, "/", None, "up", 2).unwrap();
    w.begin_arg().raw(br#"{"a":"#);
    assert_eq!(w.placeholder(), 0);
    w.raw(br#","b":["#);
    assert_eq!(w.placeholder(), 1);
    w.raw(b"]}");
    w.arg(b"7");
    assert_eq!(w.placeholders_written(), 2);
    let n = w.finish().unwrap();
    let text = &buf[..n];
    assert_eq!(
        text,
        br#"52-["up",{"a":{"_placeholder":true,"num":0},"b":[{"_placeholder":true,"num":1}]},7]"#
    );
    let p = Packet::parse(text).unwrap();
    let nums: Vec<usize> = p.placeholders().map(|ph| ph.num).collect();
    assert_eq!(nums, [0, 1]);
    assert_eq!(p.args_iter().count(), 2);
}

#[test]
fn packet_types() {
    for (i, t) in PacketType::ALL.into_iter().enumerate() {
        assert_eq!(t.digit(), b'0' + i as u8);
        assert_eq!(PacketType::from_digit(t.digit()), Some(t));
        assert_eq!(t.is_binary(), i >= 5);
    }
    assert_eq!(PacketType::from_digit(b'7'), None);
    assert!(PacketType::BinaryEvent.is_event() && PacketType::BinaryAck.is_ack());
    assert_eq!(
        std::format!(
            "{}",
            TooManyAttachments {
                count: 11,
                limit: 10
            }
        ),
        "11 attachments exceed the limit of 10"
    );
}

// ---------------------------------------------------------------------------------------
// Property tests.

fn gen_namespace(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 | 1 => String::from("/"),
        2 => String::from("/chat"),
        _ => {
            let mut s = String::from("/");
            for _ in 0..rng.below(8) {
                match rng.below(8) {
                    0 => s.push('é'),
                    _ => s.push(char::from(rng.pick(b"abz09/?=&-_[{\" "))),
                }
            }
            s
        }
    }
}

fn gen_args(rng: &mut Rng, out: &mut Vec<u8>) -> usize {
    let n = rng.below(4);
    for i in 0..n {
        if i > 0 {
            out.push(b',');
        }
        gen_value(rng, 3, out);
    }
    n
}

fn gen_name(rng: &mut Rng) -> String {
    loop {
        let mut token = Vec::new();
        let name = gen_string(rng, &mut token);
        if !RESERVED_EVENT_NAMES.contains(&name.as_str()) {
            return name;
        }
    }
}

#[test]
fn random_round_trip() {
    let mut rng = Rng::new(0x5EED_0101);
    let mut buf = [0u8; 2048];
    for _ in 0..4000 {
        let ty = PacketType::ALL[rng.below(7)];
        let nsp = gen_namespace(&mut rng);
        let ack = (rng.below(2) == 0).then(|| match rng.below(3) {
            0 => MAX_ACK_ID,
            _ => rng.next_u64() % 100_000,
        });
        let name = gen_name(&mut rng);
        let mut args = Vec::new();
        let nargs = gen_args(&mut rng, &mut args);
        let mut data = Vec::new();
        let has_data = rng.below(2) == 0;
        if has_data {
            data.push(b'{');
            data.extend_from_slice(br#""k":"#);
            gen_value(&mut rng, 2, &mut data);
            data.push(b'}');
        }
        let attachments = rng.below(4);
        let message = gen_name(&mut rng);

        let n = match ty {
            PacketType::Connect => encode_connect(&mut buf, &nsp, has_data.then_some(&data[..])),
            PacketType::Disconnect => encode_disconnect(&mut buf, &nsp),
            PacketType::Event => encode_event(&mut buf, &nsp, ack, &name, &args),
            PacketType::Ack => encode_ack(&mut buf, &nsp, ack.unwrap_or(0), &args),
            PacketType::ConnectError => {
                encode_connect_error(&mut buf, &nsp, &message, has_data.then_some(&data[..]))
            }
            PacketType::BinaryEvent | PacketType::BinaryAck => {
                let mut w = if ty == PacketType::BinaryEvent {
                    ArgsWriter::binary_event(&mut buf, &nsp, ack, &name, attachments)
                } else {
                    ArgsWriter::binary_ack(&mut buf, &nsp, ack.unwrap_or(0), attachments)
                }
                .unwrap();
                let mut pieces = Elements::new(&args);
                for _ in 0..attachments {
                    if let Some(a) = pieces.next() {
                        w.arg(a);
                    }
                    if rng.below(2) == 0 {
                        w.binary_arg();
                    } else {
                        w.begin_arg().raw(b"[").placeholder();
                        w.raw(b"]");
                    }
                }
                for a in pieces {
                    w.arg(a);
                }
                w.finish()
            }
        }
        .unwrap();
        let wire = &buf[..n];
        let ctx = String::from_utf8_lossy(wire);
        let p =
            Packet::parse_with(wire, &Config::CLIENT).unwrap_or_else(|e| panic!("{ctx}: {e:?}"));
        assert_eq!(p.packet_type(), ty, "{ctx}");
        assert_eq!(p.namespace(), nsp, "{ctx}");
        let mut again = [0u8; 2048];
        let m = p.encode(&mut again).unwrap();
        assert_eq!(&again[..m], wire, "canonical re-encode of {ctx}");
        match ty {
            PacketType::Connect => assert_eq!(p.data(), has_data.then_some(&data[..])),
            PacketType::Disconnect => assert_eq!(p.data(), None),
            PacketType::Event => {
                assert_eq!(p.ack_id(), ack);
                assert!(p.event_name().unwrap().eq_str(&name), "{ctx}");
                assert_eq!(p.args(), &args[..], "{ctx}");
                assert_eq!(p.args_iter().count(), nargs);
            }
            PacketType::Ack => {
                assert_eq!(p.ack_id(), Some(ack.unwrap_or(0)));
                assert_eq!(p.args(), &args[..], "{ctx}");
            }
            PacketType::ConnectError => {
                assert!(p.error_message().unwrap().eq_str(&message));
                assert_eq!(p.error_data().is_some(), has_data);
            }
            PacketType::BinaryEvent | PacketType::BinaryAck => {
                assert_eq!(p.attachments(), Some(attachments));
                assert_eq!(p.placeholder_count(), attachments);
                let d = p.data().unwrap();
                let mut k = 0;
                for ph in p.placeholders() {
                    assert_eq!(ph.num, k);
                    let want = std::format!(r#"{{"_placeholder":true,"num":{k}}}"#);
                    assert_eq!(&d[ph.range()], want.as_bytes());
                    k += 1;
                }
                assert_eq!(k, attachments);
                assert_eq!(p.args_iter().count(), nargs + attachments);
            }
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng::new(0x5EED_0102);
    let seeds: [&[u8]; 6] = [
        br#"2/chat,7["join","lobby"]"#,
        br#"52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
        br#"4{"message":"x","data":[1]}"#,
        br#"3456[1,"2",{"3":[false]}]"#,
        b"0/admin,{\"token\":\"\\u00e9\"}",
        b"1/chat,",
    ];
    for _ in 0..20_000 {
        let mut v = seeds[rng.below(seeds.len())].to_vec();
        if rng.below(4) == 0 {
            let mut junk = [0u8; 32];
            rng.fill(&mut junk);
            v = junk[..rng.below(32)].to_vec();
        }
        for _ in 0..rng.below(4) {
            if v.is_empty() {
                break;
            }
            let i = rng.below(v.len());
            match rng.below(3) {
                0 => v[i] = rng.pick(b"0123456789-/,[]{}\":_tn\\\xff "),
                1 => {
                    v.remove(i);
                }
                _ => v.insert(i, rng.pick(b"0123456789-/,[]{}\":_ ")),
            }
        }
        for cfg in [Config::DEFAULT, Config::CLIENT] {
            let Ok(p) = Packet::parse_with(&v, &cfg) else {
                continue;
            };
            let mut out = [0u8; 256];
            let n = p.encode(&mut out).unwrap();
            let q = Packet::parse_with(&out[..n], &cfg).unwrap();
            assert_eq!(
                (
                    q.packet_type(),
                    q.attachments(),
                    q.namespace(),
                    q.ack_id(),
                    q.data(),
                    q.args()
                ),
                (
                    p.packet_type(),
                    p.attachments(),
                    p.namespace(),
                    p.ack_id(),
                    p.data(),
                    p.args()
                )
            );
            assert_eq!(p.placeholders().count(), p.placeholder_count());
            for ph in p.placeholders() {
                assert!(ph.num < p.attachments().unwrap());
                assert!(ph.end <= p.data().unwrap().len());
            }
        }
    }
}
