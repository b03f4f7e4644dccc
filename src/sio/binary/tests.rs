use super::*;
use crate::sio::Config;
use crate::testutil::Rng;

use Progress::*;
use ReassemblyError::*;

/// B.7 over WebSocket: the text header, then `01 02 03`, then `04 05 06`.
#[test]
fn b7_reassembly_sequence() {
    let text = br#"52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
    let packet = Packet::parse(text).unwrap();
    let mut r = Reassembly::default();
    assert_eq!(r.packet(&packet), Ok(Pending { remaining: 2 }));
    assert_eq!(r.remaining(), 2);
    let blobs: [&[u8]; 2] = [&[1, 2, 3], &[4, 5, 6]];
    let mut slots: [&[u8]; 2] = [&[], &[]];
    for (i, blob) in blobs.into_iter().enumerate() {
        let a = r.binary().unwrap();
        assert_eq!(a.num, i);
        slots[a.num] = blob;
        let want = if i == 0 {
            Pending { remaining: 1 }
        } else {
            Complete
        };
        assert_eq!(a.progress, want);
    }
    // Every placeholder has its blob.
    for ph in packet.placeholders() {
        assert_eq!(slots[ph.num], blobs[ph.num]);
    }
    assert_eq!(r.remaining(), 0);
    // Then text flows again.
    assert_eq!(
        r.packet(&Packet::parse(br#"2["x"]"#).unwrap()),
        Ok(Complete)
    );
}

#[test]
fn reassembly_errors() {
    let mut r = Reassembly::new(10);
    assert_eq!(r.binary(), Err(UnexpectedBinary));
    assert_eq!(r.text(0), Ok(Complete));
    assert_eq!(r.binary(), Err(UnexpectedBinary));
    // N = 0 completes at once.
    assert_eq!(
        r.packet(&Packet::parse(br#"50-["m"]"#).unwrap()),
        Ok(Complete)
    );
    assert_eq!(
        r.text(11),
        Err(TooManyAttachments {
            count: 11,
            limit: 10
        })
    );
    assert_eq!(r.text(10), Ok(Pending { remaining: 10 }));
    assert!(r.binary().is_ok());
    assert_eq!(r.text(0), Err(TextWhilePending { remaining: 9 }));
    // The error resets the tracker.
    assert_eq!(r.remaining(), 0);
    assert_eq!(r.text(1), Ok(Pending { remaining: 1 }));
    r.reset();
    assert_eq!(r.binary(), Err(UnexpectedBinary));
}

#[test]
fn placeholders_skip_strings_and_lookalikes() {
    let cfg = Config::DEFAULT;
    let text = br#"53-["x","{\"_placeholder\":true,\"num\":0}",{"k":"}{","v":{ "num" : 2 , "_placeholder" : true }},[{"_placeholder":true,"num":0}],{"_placeholder":true,"num":1}]"#;
    let p = Packet::parse_with(text, &cfg).unwrap();
    let data = p.data().unwrap();
    let found: [(usize, &[u8]); 3] = [
        (2, br#"{ "num" : 2 , "_placeholder" : true }"#),
        (0, br#"{"_placeholder":true,"num":0}"#),
        (1, br#"{"_placeholder":true,"num":1}"#),
    ];
    let mut n = 0;
    for (ph, (num, bytes)) in p.placeholders().zip(found) {
        assert_eq!(ph.num, num);
        assert_eq!(&data[ph.range()], bytes);
        n += 1;
    }
    assert_eq!(n, 3);
    assert_eq!(p.placeholder_count(), 3);
}

#[test]
fn random_sequences_follow_the_model() {
    let mut rng = Rng::new(0x5EED_0201);
    for _ in 0..200 {
        let limit = rng.below(5);
        let mut r = Reassembly::new(limit);
        let mut pending = 0usize;
        let mut next_num = 0usize;
        for _ in 0..50 {
            if rng.below(2) == 0 {
                let n = rng.below(7);
                let got = r.text(n);
                if pending > 0 {
                    assert_eq!(got, Err(TextWhilePending { remaining: pending }));
                    pending = 0;
                } else if n > limit {
                    assert_eq!(got, Err(TooManyAttachments { count: n, limit }));
                } else {
                    pending = n;
                    next_num = 0;
                    let want = if n == 0 {
                        Complete
                    } else {
                        Pending { remaining: n }
                    };
                    assert_eq!(got, Ok(want));
                }
            } else {
                let got = r.binary();
                if pending == 0 {
                    assert_eq!(got, Err(UnexpectedBinary));
                } else {
                    pending -= 1;
                    let want = if pending == 0 {
                        Complete
                    } else {
                        Pending { remaining: pending }
                    };
                    assert_eq!(
                        got,
                        Ok(Attachment {
                            num: next_num,
                            progress: want
                        })
                    );
                    next_num += 1;
                }
            }
            assert_eq!(r.remaining(), pending);
        }
    }
}
