//! The cluster in the app API: what Node's `fetchSockets`, `socketsJoin`, `socketsLeave`,
//! `disconnectSockets` and `serverSideEmit` do, on a server that joined one with
//! [`Io::redis`](super::Io::redis) (or alone, on this server's sockets only), and the
//! other servers' part of a broadcast that collects acknowledgements
//! ([`Broadcast::emit_with_ack`]).

use std::boxed::Box;
use std::collections::HashMap;
use std::string::{String, ToString};
use std::vec::Vec;

use serde::Deserialize;

use super::{Broadcast, Collect, Cx, MAX_ACK_ANSWER_BYTES, ToArgs, arg};
use crate::adapter::{
    AckAnswer, ClusterEvent, DecodeError, Done, Flags, Recipients, ReplyTo, RequestId,
};
use crate::json::{self, JsonStr, Object};
use crate::server::{NamespaceId, Server, SocketId, Targets};

/// A socket of the cluster, from [`Broadcast::fetch_sockets`] (Node's `RemoteSocket`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSocket {
    /// Its id (`socket.id`).
    pub id: String,
    /// Its rooms, its own-id room first.
    pub rooms: Vec<String>,
    /// `socket.data` as its server sent it, raw JSON (`{}` from siocore servers).
    pub data: String,
    /// The socket, when it is on this server.
    pub local: Option<SocketId>,
}

/// The sockets [`Broadcast::fetch_sockets`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// This server's first, then each other server's as they answered.
    pub sockets: Vec<RemoteSocket>,
    /// Whether every other server answered before the request timeout.
    pub complete: bool,
}

/// The answers to [`Cx::server_side_emit_with_ack`] (one per server) or to
/// [`Broadcast::emit_with_ack`] (one per client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers {
    /// One JSON value per server, or per client, that answered, in the order they came.
    pub answers: Vec<String>,
    /// Whether every answer expected came in time: of a server-side emit, one from every
    /// other server before the request timeout; of a broadcast, one from every client
    /// asked (on every server of the cluster) before its timeout, and none dropped past
    /// the caps ([`MAX_ACK_ANSWERS`](super::MAX_ACK_ANSWERS),
    /// [`MAX_ACK_ANSWER_BYTES`]).
    pub complete: bool,
}

impl Answers {
    /// Answer `i`, deserialized.
    ///
    /// # Errors
    /// [`ArgError`](super::ArgError): there is no such answer, or it is not a `T`.
    pub fn value<'de, T: Deserialize<'de>>(&'de self, i: usize) -> Result<T, super::ArgError> {
        let Some(answer) = self.answers.get(i) else {
            return Err(super::ArgError::Missing {
                index: i,
                count: self.answers.len(),
            });
        };
        super::from_json(answer.as_bytes(), i)
    }
}

/// Another server's server-side emit (Node's `serverSideEmit`), for the handlers of
/// [`Io::on_server_side`](super::Io::on_server_side).
#[derive(Debug, Clone)]
pub struct ServerSide<'b> {
    /// The namespace.
    pub namespace: NamespaceId,
    /// The event name.
    pub event: &'b str,
    /// The arguments, raw JSON, comma separated.
    pub args: &'b [u8],
    reply: Option<ReplyTo>,
    /// Answered already: the sender takes one answer per server.
    answered: core::cell::Cell<bool>,
}

impl ServerSide<'_> {
    /// Argument `i`, deserialized.
    ///
    /// # Errors
    /// [`ArgError`](super::ArgError): there is no such argument, or it is not a `T`.
    pub fn arg<'de, T: Deserialize<'de>>(&'de self, i: usize) -> Result<T, super::ArgError> {
        arg(self.args, i)
    }

    /// Whether the sender waits for an answer.
    pub const fn wants_answer(&self) -> bool {
        self.reply.is_some()
    }

    /// Answers the sender (one value: the first of `args`, or `null`); a no-op when it
    /// waits for none or was answered already (it counts one answer per server).
    pub fn ack(&self, cx: &mut Cx<'_, '_>, args: impl ToArgs) {
        let Some(reply) = self.reply else {
            return;
        };
        if self.answered.replace(true) {
            return;
        }
        let Some((server, cluster)) = cx.cluster.as_deref_mut().map(|c| (&*cx.server, c)) else {
            return;
        };
        let mut buf = Vec::new();
        let Ok(a) = args.to_args(&mut buf) else {
            return;
        };
        let value = json::elements(a.json).next().unwrap_or(b"null");
        if let Err(e) = cluster.answer(server, &reply, value) {
            log::warn!("server-side answer: {e}");
        }
    }
}

type FetchFn = Box<dyn FnOnce(&mut Cx<'_, '_>, Fetched)>;
type AnswersFn = Box<dyn FnOnce(&mut Cx<'_, '_>, Answers)>;
pub(super) type ServerSideFn = Box<dyn FnMut(&mut Cx<'_, '_>, &ServerSide<'_>)>;

/// A request of this server that waits for the others.
pub(super) enum Wait {
    Fetch(Fetched, FetchFn),
    Answers(Answers, AnswersFn),
    /// A broadcast collecting acknowledgements, shared with its local sockets' callbacks.
    Acks(std::rc::Rc<core::cell::RefCell<Collect>>),
}

/// Requests waiting for answers, by id.
pub(super) type Waiting = HashMap<RequestId, Wait>;

impl Broadcast<'_, '_> {
    /// The rooms left out and the ids of the sockets left out (the rooms they name), as
    /// the adapter takes them.
    pub(super) fn except_with_ids(&self) -> Vec<String> {
        let mut except = self.except_rooms.clone();
        except.extend(
            self.except
                .iter()
                .filter_map(|&s| self.server.socket_sid(s))
                .map(|id| id.as_str().to_string()),
        );
        except
    }

    /// The rooms of the builder as the adapter takes them: `to`, and `except` with the ids
    /// of the sockets left out.
    fn selection(&self) -> (Vec<String>, Vec<String>) {
        (self.rooms.clone(), self.except_with_ids())
    }

    /// Runs `local` on this server, or `cluster` when in one and not [`local`](Self::local).
    fn apply(
        mut self,
        what: &str,
        local: impl FnOnce(&mut Server<'_>, NamespaceId, &Targets<'_>) -> usize,
        cluster: impl FnOnce(
            &mut crate::adapter::Cluster<'_>,
            &mut Server<'_>,
            NamespaceId,
            &Recipients<'_>,
        ) -> Result<usize, crate::adapter::ClusterError>,
    ) -> usize {
        let Some(ns) = self.ns else {
            return 0;
        };
        let (rooms, except) = self.selection();
        let rooms: Vec<&str> = rooms.iter().map(String::as_str).collect();
        let except: Vec<&str> = except.iter().map(String::as_str).collect();
        match self.cluster.as_deref_mut() {
            Some(c) if !self.local => {
                let to = Recipients {
                    rooms: &rooms,
                    except: &except,
                    flags: Flags::NONE,
                };
                cluster(c, self.server, ns, &to).unwrap_or_else(|e| {
                    log::warn!("{what}: {e}");
                    0
                })
            }
            _ => {
                let targets = Targets {
                    rooms: &rooms,
                    except_rooms: &except,
                    except: &[],
                };
                local(self.server, ns, &targets)
            }
        }
    }

    /// Puts every selected socket in `rooms`, on every server (Node's `socketsJoin`);
    /// returns how many of this server's sockets were selected.
    pub fn sockets_join(self, rooms: &[&str]) -> usize {
        self.apply(
            "socketsJoin",
            |s, ns, t| {
                s.sockets_join(ns, t, rooms).unwrap_or_else(|e| {
                    log::debug!("socketsJoin: {e}");
                    0
                })
            },
            |c, s, ns, to| c.sockets_join(s, ns, to, rooms),
        )
    }

    /// Takes every selected socket out of `rooms`, on every server (Node's
    /// `socketsLeave`); returns how many of this server's sockets were selected.
    pub fn sockets_leave(self, rooms: &[&str]) -> usize {
        self.apply(
            "socketsLeave",
            |s, ns, t| s.sockets_leave(ns, t, rooms),
            |c, s, ns, to| c.sockets_leave(s, ns, to, rooms),
        )
    }

    /// Disconnects every selected socket, on every server (Node's `disconnectSockets`);
    /// with `close`, their connections are closed too. Returns how many of this server's
    /// sockets were selected.
    pub fn disconnect_sockets(self, close: bool) -> usize {
        self.apply(
            "disconnectSockets",
            |s, ns, t| s.disconnect_sockets(ns, t, close),
            |c, s, ns, to| c.disconnect_sockets(s, ns, to, close),
        )
    }

    /// Finds the selected sockets of every server (Node's `fetchSockets`): `f` gets them
    /// once every other server answered or the request timeout passed (at once without a
    /// cluster, or when the broadcast is [`local`](Self::local)).
    pub fn fetch_sockets(mut self, f: impl FnOnce(&mut Cx<'_, '_>, Fetched) + 'static) {
        let Some(ns) = self.ns else {
            return;
        };
        let (rooms, except) = self.selection();
        let rooms: Vec<&str> = rooms.iter().map(String::as_str).collect();
        let except: Vec<&str> = except.iter().map(String::as_str).collect();
        let targets = Targets {
            rooms: &rooms,
            except_rooms: &except,
            except: &[],
        };
        let mut sockets = Vec::new();
        self.server.select(ns, &targets, |server, s| {
            let Some(id) = server.socket_sid(s) else {
                return;
            };
            let mut rooms = std::vec![id.as_str().to_string()];
            rooms.extend(server.socket_rooms(s).map(str::to_string));
            sockets.push(RemoteSocket {
                id: id.as_str().to_string(),
                rooms,
                data: "{}".to_string(),
                local: Some(s),
            });
        });
        let mut local = Fetched {
            sockets,
            complete: true,
        };
        let asked = match self.cluster.as_deref_mut() {
            Some(c) if !self.local => {
                let to = Recipients {
                    rooms: &rooms,
                    except: &except,
                    flags: Flags::NONE,
                };
                let asked = c.fetch_sockets(self.server, ns, &to);
                if let Err(e) = &asked {
                    // The others were not asked: what comes is this server's only.
                    log::warn!("fetchSockets: {e}");
                    local.complete = false;
                }
                asked.ok()
            }
            _ => None,
        };
        match asked {
            Some(id) => {
                self.waiting.insert(id, Wait::Fetch(local, Box::new(f)));
            }
            None => {
                let mut cx = self.cx();
                f(&mut cx, local);
            }
        }
    }
}

impl Cx<'_, '_> {
    /// Emits `event` with `args` (JSON, no binary) to the other servers of the cluster
    /// (Node's `serverSideEmit`), for their [`Io::on_server_side`](super::Io::on_server_side)
    /// handlers. Without a cluster, a no-op.
    pub fn server_side_emit(&mut self, namespace: &str, event: &str, args: impl ToArgs) {
        let (Some(ns), Some(cluster)) = (
            self.server.namespace(namespace),
            self.cluster.as_deref_mut(),
        ) else {
            return;
        };
        let mut buf = Vec::new();
        let result = args
            .to_args(&mut buf)
            .map_err(|e| std::format!("{e}"))
            .and_then(|a| {
                cluster
                    .server_side_emit(self.server, ns, event, a, false)
                    .map_err(|e| std::format!("{e}"))
            });
        if let Err(e) = result {
            log::warn!("serverSideEmit: {e}");
        }
    }

    /// [`server_side_emit`](Self::server_side_emit), and `f` gets the other servers'
    /// answers once all answered or the request timeout passed (at once, with none,
    /// without a cluster).
    pub fn server_side_emit_with_ack(
        &mut self,
        namespace: &str,
        event: &str,
        args: impl ToArgs,
        f: impl FnOnce(&mut Cx<'_, '_>, Answers) + 'static,
    ) {
        let mut complete = true;
        let asked = match (
            self.server.namespace(namespace),
            self.cluster.as_deref_mut(),
        ) {
            (Some(ns), Some(cluster)) => {
                let mut buf = Vec::new();
                args.to_args(&mut buf)
                    .map_err(|e| std::format!("{e}"))
                    .and_then(|a| {
                        cluster
                            .server_side_emit(self.server, ns, event, a, true)
                            .map_err(|e| std::format!("{e}"))
                    })
                    .map_err(|e| {
                        log::warn!("serverSideEmit: {e}");
                        complete = false;
                    })
                    .ok()
                    .flatten()
            }
            _ => None,
        };
        let answers = Answers {
            answers: Vec::new(),
            complete,
        };
        match asked {
            Some(id) => {
                self.waiting.insert(id, Wait::Answers(answers, Box::new(f)));
            }
            None => f(self, answers),
        }
    }
}

/// A client's answer as JSON text, when it takes at most `budget` bytes.
fn answer_text(answer: &AckAnswer<'_>, budget: usize) -> Result<Vec<u8>, DecodeError> {
    // The JSON of a value is rarely longer than twice its `MessagePack`; when it is, the
    // first pass says how long.
    let guess = answer.raw().len().saturating_mul(2).saturating_add(16);
    let mut buf = std::vec![0u8; guess.min(budget)];
    let n = match answer.write_json(&mut buf) {
        Err(DecodeError::BufferTooSmall(e)) if e.required <= budget => {
            buf.resize(e.required, 0);
            answer.write_json(&mut buf)?
        }
        r => r?,
    };
    buf.truncate(n);
    Ok(buf)
}

/// A JSON string value, unescaped.
fn text(value: &[u8]) -> Option<String> {
    let s = JsonStr::from_value(value)?;
    let mut buf = std::vec![0u8; s.unescaped_len()];
    let n = s.unescape_into(&mut buf).ok()?;
    buf.truncate(n);
    String::from_utf8(buf).ok()
}

/// The sockets of an answer to a fetch (a JSON array of objects).
fn remote_sockets(array: &[u8]) -> Vec<RemoteSocket> {
    let Ok(list) = json::Array::parse_with(array, &crate::adapter::LIMITS) else {
        return Vec::new();
    };
    list.elements()
        .filter_map(|e| {
            let obj = Object::parse_with(e, &crate::adapter::LIMITS).ok()?;
            let mut s = RemoteSocket {
                id: String::new(),
                rooms: Vec::new(),
                data: "null".to_string(),
                local: None,
            };
            for (key, v) in obj.members() {
                if key.eq_str("id") {
                    s.id = text(v)?;
                } else if key.eq_str("rooms") {
                    let rooms = json::Array::parse_with(v, &crate::adapter::LIMITS).ok()?;
                    s.rooms = rooms.elements().filter_map(text).collect();
                } else if key.eq_str("data") {
                    s.data = String::from_utf8_lossy(v).into_owned();
                }
            }
            Some(s)
        })
        .collect()
}

impl super::App {
    /// A cluster event: an answer to one of this server's requests, or another server's
    /// server-side emit.
    pub(super) fn on_cluster_event(&mut self, cx: &mut Cx<'_, '_>, event: &ClusterEvent<'_>) {
        match *event {
            ClusterEvent::Sockets { request, sockets } => {
                if let Some(Wait::Fetch(f, _)) = cx.waiting.get_mut(&request) {
                    f.sockets.extend(remote_sockets(sockets));
                }
            }
            ClusterEvent::Answer { request, data } => {
                if let Some(Wait::Answers(a, _)) = cx.waiting.get_mut(&request) {
                    a.answers.push(String::from_utf8_lossy(data).into_owned());
                }
            }
            ClusterEvent::ClientAck { request, answer } => {
                if let Some(Wait::Acks(c)) = cx.waiting.get(&request) {
                    let mut c = c.borrow_mut();
                    let budget = MAX_ACK_ANSWER_BYTES.saturating_sub(c.bytes);
                    match answer_text(&answer, budget) {
                        Ok(text) => c.keep(&text),
                        // Too long for what is left: dropped, and counted so.
                        Err(DecodeError::BufferTooSmall(e)) => {
                            c.room_for(e.required);
                        }
                        Err(e) => {
                            log::warn!("broadcast with acknowledgements: an answer: {e}");
                            c.answers.complete = false;
                        }
                    }
                }
            }
            ClusterEvent::ServerSideEmit {
                namespace,
                data,
                reply,
            } => {
                let Ok(list) = json::Array::parse_with(data, &crate::adapter::LIMITS) else {
                    return;
                };
                let Some(event) = list.elements().next().and_then(text) else {
                    return;
                };
                let args =
                    super::split_first_arg(list.interior()).map_or(&[][..], |(_, rest)| rest);
                let msg = ServerSide {
                    namespace,
                    event: &event,
                    args,
                    reply,
                    answered: core::cell::Cell::new(false),
                };
                let name = cx
                    .server
                    .namespace_name(namespace)
                    .unwrap_or("/")
                    .to_string();
                if let Some(f) = self
                    .routes
                    .namespaces
                    .get_mut(&name)
                    .and_then(|n| n.server_side.get_mut(event.as_str()))
                {
                    f(cx, &msg);
                }
            }
        }
    }

    /// One of this server's requests is over.
    pub(super) fn on_cluster_done(cx: &mut Cx<'_, '_>, done: &Done) {
        match cx.waiting.remove(&done.request) {
            Some(Wait::Fetch(mut f, callback)) => {
                f.complete = !done.timed_out;
                callback(cx, f);
            }
            Some(Wait::Answers(mut a, callback)) => {
                a.complete = !done.timed_out;
                callback(cx, a);
            }
            Some(Wait::Acks(c)) => Collect::remote_done(&c, cx, done.timed_out),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Collect, MAX_ACK_ANSWER_BYTES, MAX_ACK_ANSWERS};
    use super::{AckAnswer, Answers, DecodeError, answer_text};

    fn collect() -> Collect {
        Collect {
            left: 0,
            remote: true,
            answers: Answers {
                answers: std::vec::Vec::new(),
                complete: true,
            },
            bytes: 0,
            dropped: 0,
            done: None,
        }
    }

    #[test]
    fn answers_past_the_caps_are_dropped_and_make_it_incomplete() {
        let mut c = collect();
        for _ in 0..MAX_ACK_ANSWERS {
            c.keep(b"1");
        }
        assert!(c.answers.complete);
        c.keep(b"2");
        assert_eq!((c.answers.answers.len(), c.dropped), (MAX_ACK_ANSWERS, 1));
        assert!(!c.answers.complete);

        let mut c = collect();
        let big = std::vec![b'7'; MAX_ACK_ANSWER_BYTES - 1];
        c.keep(&big);
        c.keep(b"1");
        assert!(c.answers.complete && c.bytes == MAX_ACK_ANSWER_BYTES);
        c.keep(b"1");
        assert_eq!((c.answers.answers.len(), c.dropped), (2, 1));
        assert!(!c.answers.complete);
    }

    #[test]
    fn an_answer_longer_than_what_is_left_is_not_written() {
        // A string of 100 characters, 102 bytes of JSON.
        let mut raw = std::vec![0xd9, 100];
        raw.extend_from_slice(&[b'x'; 100]);
        let answer = AckAnswer::new(&raw);
        assert_eq!(answer_text(&answer, 102).map(|t| t.len()), Ok(102));
        assert!(matches!(
            answer_text(&answer, 101),
            Err(DecodeError::BufferTooSmall(e)) if e.required == 102
        ));
        // Escapes make JSON longer than the guess (twice the MessagePack): a second pass.
        let mut raw = std::vec![0xd9, 50];
        raw.extend_from_slice(&[1; 50]);
        let text = answer_text(&AckAnswer::new(&raw), 1000).unwrap();
        assert_eq!(text.len(), 2 + 50 * 6);
        assert!(text.starts_with(br#""\u0001"#));
    }
}
