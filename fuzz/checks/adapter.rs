//! Fuzz check for the cluster messages (`siocore::msgpack`, `siocore::adapter`).
//!
//! Invariants: the reader never panics, an error leaves it where the bad value started and
//! `raw` gives back exactly the bytes a value took; a broadcast that decodes gives
//! arguments that are a valid JSON list with no more attachments than were found, and
//! encoding those again and decoding the result gives the same arguments; requests and
//! responses decode without panicking.

use siocore::adapter::{self, Broadcast, Recipients, Uid};
use siocore::json::Limits;
use siocore::msgpack::Reader;
use siocore::server::Args;

pub fn check(data: &[u8]) {
    let mut r = Reader::new(data);
    while !r.is_empty() {
        let at = r.position();
        match r.raw() {
            Ok(raw) => {
                assert_eq!(raw, &data[at..r.position()]);
                assert!(!raw.is_empty());
                let mut again = Reader::new(raw);
                assert_eq!(again.raw(), Ok(raw));
            }
            Err(_) => break,
        }
    }
    let mut r = Reader::new(data);
    if r.read().is_err() {
        assert_eq!(r.position(), 0);
    }

    requests(data);

    let Ok(b) = Broadcast::decode(data) else {
        return;
    };
    let _ = (b.uid(), b.namespace(), b.flags());
    let mut rooms = [""; 8];
    let mut n_rooms = 0;
    let mut string_rooms = true;
    for room in b.rooms() {
        match room {
            Ok(s) if n_rooms < rooms.len() => {
                rooms[n_rooms] = s;
                n_rooms += 1;
            }
            _ => string_rooms = false,
        }
    }
    for room in b.except() {
        let _ = room;
    }
    let mut json = [0u8; 8192];
    let mut blobs = [&[][..]; 16];
    let Ok((len, count)) = b.write_args(&mut json, &mut blobs) else {
        return;
    };
    assert!(count <= blobs.len());
    let args = &json[..len];
    Limits::DEFAULT
        .validate_list(args)
        .unwrap_or_else(|e| panic!("{e:?}: {:?}", String::from_utf8_lossy(args)));
    if !string_rooms {
        return;
    }
    // Round trip through siocore's own encoding: the same arguments come back.
    let mut msg = [0u8; 16384];
    let to = Recipients {
        rooms: &rooms[..n_rooms],
        except: &[],
        flags: b.flags(),
    };
    let args_in = Args::binary(args, &blobs[..count]);
    let Ok(n) = adapter::encode_broadcast(
        &mut msg,
        &Uid::from_random([0; 6]),
        b.namespace(),
        b.event(),
        &args_in,
        &to,
    ) else {
        return;
    };
    let b2 = Broadcast::decode(&msg[..n]).expect("own encoding decodes");
    assert_eq!((b2.namespace(), b2.event()), (b.namespace(), b.event()));
    assert_eq!(b2.flags(), b.flags());
    let mut json2 = [0u8; 8192];
    let mut blobs2 = [&[][..]; 16];
    let (len2, count2) = b2.write_args(&mut json2, &mut blobs2).expect("same room");
    assert_eq!(
        String::from_utf8_lossy(&json2[..len2]),
        String::from_utf8_lossy(args)
    );
    assert_eq!(&blobs2[..count2], &blobs[..count]);
}

/// Requests and responses (JSON or `MessagePack`): whatever decodes gives names that are
/// strings or numbers, and ids that fit.
fn requests(data: &[u8]) {
    if let Ok(r) = adapter::Request::decode(data) {
        let _ = (
            r.kind(),
            r.uid(),
            r.request_id(),
            r.room(),
            r.sid(),
            r.close(),
        );
        if let Some((rooms, except)) = r.selection() {
            rooms.chain(except).for_each(drop);
        }
        r.rooms().for_each(drop);
        if r.kind() == adapter::RequestKind::ServerSideEmit {
            assert_eq!(r.data().first(), Some(&b'['));
        }
        if let Some(id) = r.request_id() {
            assert!(id.as_str().len() <= 16);
        }
    }
    if let Ok(r) = adapter::Response::decode(data) {
        let _ = (r.request_id(), r.kind(), r.data());
        for list in [r.sockets(), r.rooms()].into_iter().flatten() {
            assert_eq!(list.first(), Some(&b'['));
        }
    }
}
