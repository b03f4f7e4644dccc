//! What arrives from the pub/sub: other servers' broadcasts and requests, applied to the
//! local server and answered, and the answers to this server's requests.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Cluster<'_> {
    /// A message that arrived on `channel`: another server's broadcast or request is
    /// applied to `server` (and answered), an answer to a request of this server comes
    /// back as an event, as does a server-side emit. Messages of this server itself, of
    /// namespaces `server` does not have, and answers to other servers' requests are
    /// ignored (`Ok(None)`).
    ///
    /// # Errors
    /// [`ClusterError::Decode`] or [`ClusterError::TooMany`] for a message that cannot be
    /// read; [`ClusterError::Server`] when the local delivery failed;
    /// [`ClusterError::OutboxFull`] when an answer could not be queued.
    pub fn receive<'m>(
        &mut self,
        server: &mut Server<'_>,
        channel: &[u8],
        msg: &'m [u8],
        now: Instant,
    ) -> Result<Option<ClusterEvent<'m>>, ClusterError> {
        self.now = self.now.max(now.as_millis());
        let Some(rest) = channel.strip_prefix(self.outbox.prefix.as_bytes()) else {
            self.outbox.stats.ignored += 1;
            return Ok(None);
        };
        let ignored = self.outbox.stats.ignored;
        let result = if let Some(r) = rest.strip_prefix(b"-request#") {
            self.on_request(server, r, msg)
        } else if let Some(r) = rest.strip_prefix(b"-response#") {
            self.on_response(server, r, msg)
        } else if let Some(r) = rest.strip_prefix(b"#") {
            self.on_broadcast(server, r, msg)
        } else {
            self.ignore()
        };
        match result {
            Err(ClusterError::Decode(_) | ClusterError::TooMany) => {
                self.outbox.stats.malformed += 1;
            }
            _ if self.outbox.stats.ignored != ignored => {}
            _ => self.outbox.stats.received += 1,
        }
        result
    }

    /// A message not for this server.
    fn ignore<T>(&mut self) -> Result<Option<T>, ClusterError> {
        self.outbox.stats.ignored += 1;
        Ok(None)
    }

    fn on_broadcast<'m>(
        &mut self,
        server: &mut Server<'_>,
        rest: &[u8],
        msg: &'m [u8],
    ) -> Result<Option<ClusterEvent<'m>>, ClusterError> {
        let b = Broadcast::decode(msg)?;
        let nsp = b.namespace();
        let Some(ns) = server.namespace(nsp) else {
            return self.ignore();
        };
        let on_channel = rest
            .strip_prefix(nsp.as_bytes())
            .is_some_and(|r| r.starts_with(b"#"));
        if !on_channel || b.uid() == self.uid(nsp).as_str() || b.flags().local {
            return self.ignore();
        }
        let u = Unpacked::of(&b, &mut self.scratch)?;
        let (targets, args) = (u.targets(), u.args(&self.scratch));
        server.broadcast(ns, &targets, b.event(), args)?;
        Ok(None)
    }

    fn on_request<'m>(
        &mut self,
        server: &mut Server<'_>,
        rest: &[u8],
        msg: &'m [u8],
    ) -> Result<Option<ClusterEvent<'m>>, ClusterError> {
        let Some(ns) = rest
            .strip_suffix(b"#")
            .and_then(|n| core::str::from_utf8(n).ok())
            .and_then(|n| server.namespace(n))
        else {
            return self.ignore();
        };
        let req = Request::decode(msg)?;
        let nsp = Self::ns_name(server, ns)?;
        let own = req.uid().is_some_and(|u| u.eq_str(self.uid(nsp).as_str()));
        // What this server sent it applied itself already, and answers its own requests
        // from its own tables.
        if own {
            return self.ignore();
        }
        match req.kind() {
            RequestKind::Sockets => {
                let Some(id) = req.request_id() else {
                    return self.ignore();
                };
                let sel = names(&mut self.scratch, req.rooms());
                let to = sel
                    .as_ref()
                    .ok()
                    .map(|(_, rooms, n)| Targets::to(&rooms[..*n]));
                Self::respond_walk(
                    &mut self.outbox,
                    server,
                    ns,
                    &id,
                    to.as_ref(),
                    List::Sockets,
                    |w, server, s| {
                        put_id(w, server, s);
                    },
                )?;
                sel?;
            }
            RequestKind::AllRooms => {
                let Some(id) = req.request_id() else {
                    return self.ignore();
                };
                // The namespace's rooms and its sockets' own-id rooms.
                Self::respond_walk(
                    &mut self.outbox,
                    server,
                    ns,
                    &id,
                    Some(&Targets::ALL),
                    List::Rooms,
                    put_id,
                )?;
            }
            RequestKind::RemoteJoin | RequestKind::RemoteLeave => {
                let join = req.kind() == RequestKind::RemoteJoin;
                if let Some((rooms, except)) = req.selection() {
                    let (scratch, rooms, nr) = names(&mut self.scratch, rooms)?;
                    let (scratch, except, ne) = names(scratch, except)?;
                    let (_, which, nw) = names(scratch, req.rooms())?;
                    let to = Targets {
                        rooms: &rooms[..nr],
                        except_rooms: &except[..ne],
                        except: &[],
                    };
                    if join {
                        server.sockets_join(ns, &to, &which[..nw])?;
                    } else {
                        server.sockets_leave(ns, &to, &which[..nw]);
                    }
                    return Ok(None);
                }
                let (scratch, one, _) = names_of(&mut self.scratch, req.sid())?;
                let (_, room, _) = names_of(scratch, req.room())?;
                let Some(socket) = server.socket_by_sid(ns, one[0]) else {
                    return self.ignore();
                };
                if join {
                    server.join(socket, room[0])?;
                } else {
                    server.leave(socket, room[0])?;
                }
                self.respond_empty(server, ns, req.request_id())?;
            }
            RequestKind::RemoteDisconnect => {
                if let Some((rooms, except)) = req.selection() {
                    let (scratch, rooms, nr) = names(&mut self.scratch, rooms)?;
                    let (_, except, ne) = names(scratch, except)?;
                    let to = Targets {
                        rooms: &rooms[..nr],
                        except_rooms: &except[..ne],
                        except: &[],
                    };
                    server.disconnect_sockets(ns, &to, req.close());
                    return Ok(None);
                }
                let (_, one, _) = names_of(&mut self.scratch, req.sid())?;
                let Some(socket) = server.socket_by_sid(ns, one[0]) else {
                    return self.ignore();
                };
                match server.session_of(socket) {
                    Some(session) if req.close() => server.close(session)?,
                    // The queue may be full: the socket ends all the same.
                    _ => server.disconnect(socket).unwrap_or(()),
                }
                self.respond_empty(server, ns, req.request_id())?;
            }
            RequestKind::RemoteFetch => {
                let Some(id) = req.request_id() else {
                    return self.ignore();
                };
                // Without `opts`, Node's own code would fail: answer with none.
                let sel = req
                    .selection()
                    .ok_or(ClusterError::Decode(DecodeError::Shape))
                    .and_then(|(rooms, except)| {
                        let (scratch, rooms, nr) = names(&mut self.scratch, rooms)?;
                        let (_, except, ne) = names(scratch, except)?;
                        Ok((rooms, nr, except, ne))
                    });
                let to = sel.as_ref().ok().map(|(rooms, nr, except, ne)| Targets {
                    rooms: &rooms[..*nr],
                    except_rooms: &except[..*ne],
                    except: &[],
                });
                Self::respond_walk(
                    &mut self.outbox,
                    server,
                    ns,
                    &id,
                    to.as_ref(),
                    List::Sockets,
                    |w, server, s| {
                        w.put(b"{\"id\":");
                        put_id(w, server, s);
                        w.put(b",\"handshake\":{},\"rooms\":[");
                        put_id(w, server, s);
                        for room in server.socket_rooms(s) {
                            w.byte(b',');
                            json::put_str(w, room);
                        }
                        w.put(b"],\"data\":{}}");
                    },
                )?;
                sel?;
            }
            RequestKind::ServerSideEmit => {
                let data = req.data();
                if crate::adapter::LIMITS.validate(data).is_err() {
                    return Err(DecodeError::Shape.into());
                }
                let reply = match req.request_id() {
                    Some(request) => Some(ReplyTo {
                        namespace: ns,
                        request,
                    }),
                    None if req.has_request_id() => return Err(DecodeError::Shape.into()),
                    None => None,
                };
                return Ok(Some(ClusterEvent::ServerSideEmit {
                    namespace: ns,
                    data,
                    reply,
                }));
            }
            RequestKind::Broadcast => {
                self.broadcast_with_acks(server, ns, msg)?;
            }
        }
        Ok(None)
    }

    /// Another server's broadcast that collects its clients' acknowledgements: each
    /// selected socket here gets the packet with an ack request (a timeout of the flags'),
    /// the sender hears how many (`{"type":8,"clientCount":n}`), then each answer as it
    /// comes ([`on_event`](Self::on_event)).
    fn broadcast_with_acks(
        &mut self,
        server: &mut Server<'_>,
        ns: NamespaceId,
        msg: &[u8],
    ) -> Result<(), ClusterError> {
        let (id, b) = Broadcast::decode_with_acks(msg)?;
        let request = RequestId::new(id).ok_or(DecodeError::Shape)?;
        if Some(ns) != server.namespace(b.namespace()) {
            return Err(DecodeError::Shape.into());
        }
        // The clients' timeout counts from now: the server's clock may be as old as its
        // last input (an idle server's, by more than the timeout).
        server.handle_timeout(Instant::from_millis(self.now));
        let clients = self.deliver_with_acks(server, ns, &b, request);
        // The sender waits for exactly one count from every server, even when it is 0.
        let nsp = Self::ns_name(server, ns)?;
        self.publish(nsp, Channel::Response, None, |out| {
            let mut w = Writer::new(out);
            w.put(b"{\"type\":8,\"requestId\":");
            json::put_str(&mut w, request.as_str());
            w.put(b",\"clientCount\":");
            w.decimal(*clients.as_ref().unwrap_or(&0));
            w.byte(b'}');
            w.finish()
        })?;
        clients.map(|_| ())
    }

    /// Sends broadcast `b` to the selected sockets with an ack request each, remembering
    /// where their answers go; returns how many were asked.
    fn deliver_with_acks(
        &mut self,
        server: &mut Server<'_>,
        ns: NamespaceId,
        b: &Broadcast<'_>,
        request: RequestId,
    ) -> Result<u64, ClusterError> {
        let u = Unpacked::of(b, &mut self.scratch)?;
        let (targets, args) = (u.targets(), u.args(&self.scratch));
        let free = self.acks.len() - self.routes;
        let selected = server.select(ns, &targets, |_, _| {});
        let mut clients = 0;
        if selected > free {
            // No room to remember every answer: delivered without asking for them.
            self.outbox.stats.untracked += 1;
            server.broadcast(ns, &targets, b.event(), args)?;
        } else {
            let acks = &mut self.acks;
            let mut at = 0;
            server.select(ns, &targets, |_, socket| {
                while let Some(r) = acks.get_mut(at) {
                    at += 1;
                    if r.state == RouteState::Free {
                        *r = AckRoute {
                            state: RouteState::Chosen,
                            socket,
                            ack: AckId(0),
                            ns,
                            request,
                        };
                        break;
                    }
                }
            });
            let timeout = b
                .flags()
                .timeout
                .map_or(self.timeout, |t| u32::try_from(t).unwrap_or(u32::MAX));
            for r in self.acks.iter_mut() {
                if r.state != RouteState::Chosen {
                    continue;
                }
                match server.emit_with_ack(r.socket, b.event(), args, Some(timeout)) {
                    Ok(ack) => {
                        r.ack = ack;
                        r.state = RouteState::Waiting;
                        self.routes += 1;
                        clients += 1;
                    }
                    Err(_) => r.state = RouteState::Free,
                }
            }
        }
        Ok(clients)
    }

    /// Offers the cluster one of the server's events: a client's acknowledgement it owes
    /// another server is published, and `true` says the event was the cluster's (the
    /// application has nothing to do with it). An expired one and a disconnected socket's
    /// are forgotten. Pass it every [`Event::Ack`], [`Event::AckTimeout`] and
    /// [`Event::Disconnect`] (the mio driver does).
    pub fn on_event(&mut self, server: &Server<'_>, event: &Event<'_>) -> bool {
        if self.routes == 0 {
            return false;
        }
        let (socket, id) = match *event {
            Event::Ack(a) => (a.socket, Some(a.id)),
            Event::AckTimeout { socket, id } => (socket, Some(id)),
            Event::Disconnect { socket, .. } => (socket, None),
            _ => return false,
        };
        let mut mine = None;
        for r in self.acks.iter_mut() {
            if r.state == RouteState::Waiting
                && r.socket == socket
                && id.is_none_or(|id| r.ack == id)
            {
                r.state = RouteState::Free;
                self.routes -= 1;
                mine = Some((r.ns, r.request));
                if id.is_some() {
                    break;
                }
            }
        }
        let (Event::Ack(a), Some((ns, request))) = (event, mine) else {
            return mine.is_some() && id.is_some();
        };
        let Ok(nsp) = Self::ns_name(server, ns) else {
            return true;
        };
        let blobs = a.attachments.to_array::<MAX_BLOBS>();
        let (blobs, n) = blobs.unwrap_or(([&[]; MAX_BLOBS], 0));
        let args = Args::binary(a.args, &blobs[..n]);
        let r = self.publish(nsp, Channel::Response, None, |out| {
            encode_ack(out, request.as_str(), &args).map_err(|e| match e {
                EncodeError::BufferTooSmall(e) => e,
                // The client's answer was read as valid JSON: cannot happen.
                EncodeError::InvalidArgs => BufferTooSmall {
                    required: usize::MAX,
                },
            })
        });
        // A drop is counted in the stats; the sender's request times out.
        let _ = r;
        true
    }

    /// Answers request `id` with `{"requestId":…,"sockets":[…]}` (or `"rooms"`, the
    /// namespace's room names first), an element per socket `to` selects, written by
    /// `each` (none without `to`: the request could not be read, and the sender still
    /// waits for exactly one answer from every server).
    fn respond_walk(
        outbox: &mut Outbox<'_>,
        server: &mut Server<'_>,
        ns: NamespaceId,
        id: &RequestId,
        to: Option<&Targets<'_>>,
        list: List,
        mut each: impl FnMut(&mut Writer<'_>, &Server<'_>, SocketId),
    ) -> Result<(), ClusterError> {
        let nsp = Self::ns_name(server, ns)?;
        let mut name = [0u8; 256];
        let nsp = copy_str(&mut name, nsp);
        let prefix = outbox.prefix;
        let r = outbox.push(None, |out| {
            let c = channel(out, prefix, nsp, Channel::Response)?;
            let mut w = Writer::new(out.get_mut(c..).unwrap_or_default());
            w.put(b"{\"requestId\":");
            json::put_str(&mut w, id.as_str());
            w.put(match list {
                List::Sockets => b",\"sockets\":[",
                List::Rooms => b",\"rooms\":[",
            });
            let mut first = true;
            if list == List::Rooms {
                for room in server.rooms(ns) {
                    if !first {
                        w.byte(b',');
                    }
                    first = false;
                    json::put_str(&mut w, room);
                }
            }
            if let Some(to) = to {
                server.select(ns, to, |server, s| {
                    if !first {
                        w.byte(b',');
                    }
                    first = false;
                    each(&mut w, server, s);
                });
            }
            w.put(b"]}");
            let m = w.finish().map_err(|e| BufferTooSmall {
                required: c.saturating_add(e.required),
            })?;
            Ok((c, m))
        });
        count_publish(&mut outbox.stats, r)
    }

    /// Answers a one-socket request with `{"requestId":…}`, when it has an id.
    fn respond_empty(
        &mut self,
        server: &Server<'_>,
        ns: NamespaceId,
        id: Option<RequestId>,
    ) -> Result<(), ClusterError> {
        let Some(id) = id else {
            return Ok(());
        };
        let nsp = Self::ns_name(server, ns)?;
        self.publish(nsp, Channel::Response, None, |out| {
            let mut w = Writer::new(out);
            w.put(b"{\"requestId\":");
            json::put_str(&mut w, id.as_str());
            w.byte(b'}');
            w.finish()
        })
    }

    fn on_response<'m>(
        &mut self,
        server: &Server<'_>,
        rest: &[u8],
        msg: &'m [u8],
    ) -> Result<Option<ClusterEvent<'m>>, ClusterError> {
        // `NSP#` or `NSP#UID#`.
        let ns = rest
            .strip_suffix(b"#")
            .and_then(|n| core::str::from_utf8(n).ok())
            .and_then(|n| {
                server.namespace(n).or_else(|| {
                    let (nsp, uid) = n.rsplit_once('#')?;
                    let ns = server.namespace(nsp)?;
                    (uid == self.uid(nsp).as_str()).then_some(ns)
                })
            });
        let Some(ns) = ns else {
            return self.ignore();
        };
        let resp = Response::decode(msg)?;
        let Some(id) = resp.request_id() else {
            return self.ignore();
        };
        let Some(slot) = self.pending_mut(&id) else {
            return self.ignore();
        };
        if slot.ns != ns {
            return self.ignore();
        }
        let event = match slot.what {
            Awaited::Sockets => ClusterEvent::Sockets {
                request: id,
                sockets: resp.sockets().ok_or(DecodeError::Shape)?,
            },
            Awaited::Answers => {
                if resp.kind() != Some(6) {
                    return Err(DecodeError::Shape.into());
                }
                ClusterEvent::Answer {
                    request: id,
                    data: resp.data().unwrap_or(b"null"),
                }
            }
            Awaited::Acks => match resp.kind() {
                // A server's count of the clients it asked comes first, then each of
                // their answers.
                Some(8) => {
                    let count = resp.client_count().ok_or(DecodeError::Shape)?;
                    let count = u32::try_from(count).unwrap_or(u32::MAX);
                    slot.answers += 1;
                    slot.clients = slot.clients.saturating_add(count);
                    slot.check();
                    return Ok(None);
                }
                Some(9) => {
                    slot.acks = slot.acks.saturating_add(1);
                    slot.check();
                    // Without `packet` the client answered nothing (Node's `undefined`).
                    return Ok(Some(ClusterEvent::ClientAck {
                        request: id,
                        answer: AckAnswer::new(resp.packet().unwrap_or(&[0xc0])),
                    }));
                }
                _ => return Err(DecodeError::Shape.into()),
            },
        };
        slot.answers += 1;
        slot.check();
        Ok(Some(event))
    }
}

/// What an answer to another server's request lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    /// Sockets ([`RequestKind::Sockets`], [`RequestKind::RemoteFetch`]).
    Sockets,
    /// Rooms ([`RequestKind::AllRooms`]): the namespace's, then the sockets' own-id rooms.
    Rooms,
}

/// A received broadcast's recipients and arguments (its JSON in the scratch buffer).
struct Unpacked<'m> {
    rooms: [&'m str; MAX_ROOMS],
    nr: usize,
    except: [&'m str; MAX_ROOMS],
    ne: usize,
    blobs: [&'m [u8]; MAX_BLOBS],
    count: usize,
    len: usize,
}

impl<'m> Unpacked<'m> {
    /// Reads `b`'s rooms and writes its arguments into `scratch`.
    fn of(b: &Broadcast<'m>, scratch: &mut [u8]) -> Result<Self, ClusterError> {
        let mut u = Self {
            rooms: [""; MAX_ROOMS],
            nr: 0,
            except: [""; MAX_ROOMS],
            ne: 0,
            blobs: [&[]; MAX_BLOBS],
            count: 0,
            len: 0,
        };
        u.nr = fill(&mut u.rooms, b.rooms())?;
        u.ne = fill(&mut u.except, b.except())?;
        (u.len, u.count) = b.write_args(scratch, &mut u.blobs).map_err(|e| match e {
            DecodeError::BufferTooSmall(_) => ClusterError::TooMany,
            e => ClusterError::Decode(e),
        })?;
        Ok(u)
    }

    fn targets(&self) -> Targets<'_> {
        Targets {
            rooms: &self.rooms[..self.nr],
            except_rooms: &self.except[..self.ne],
            except: &[],
        }
    }

    /// The arguments, their JSON in `scratch` (the buffer [`of`](Self::of) wrote).
    fn args<'s>(&'s self, scratch: &'s [u8]) -> Args<'s> {
        Args::binary(&scratch[..self.len], &self.blobs[..self.count])
    }
}

/// Puts the rooms of a broadcast in `out`; returns how many.
fn fill<'a>(
    out: &mut [&'a str; MAX_ROOMS],
    rooms: impl Iterator<Item = Result<&'a str, DecodeError>>,
) -> Result<usize, ClusterError> {
    let mut n = 0;
    for room in rooms {
        *out.get_mut(n).ok_or(ClusterError::TooMany)? = room?;
        n += 1;
    }
    Ok(n)
}

/// Unescapes `list`'s names into `scratch`; returns the scratch left, the names and how
/// many.
fn names<'s>(
    scratch: &'s mut [u8],
    list: Names<'_>,
) -> Result<(&'s mut [u8], [&'s str; MAX_ROOMS], usize), ClusterError> {
    let mut out = [""; MAX_ROOMS];
    let mut rest = scratch;
    let mut n = 0;
    for name in list {
        let name = name.ok_or(DecodeError::Shape)?;
        let (s, tail) = unescape(rest, name)?;
        *out.get_mut(n).ok_or(ClusterError::TooMany)? = s;
        n += 1;
        rest = tail;
    }
    Ok((rest, out, n))
}

/// One name (`sid`, `room`), which must be there.
fn names_of<'s>(
    scratch: &'s mut [u8],
    name: Option<JsonStr<'_>>,
) -> Result<(&'s mut [u8], [&'s str; 1], usize), ClusterError> {
    let (s, rest) = unescape(scratch, name.ok_or(DecodeError::Shape)?)?;
    Ok((rest, [s], 1))
}

fn unescape<'s>(
    scratch: &'s mut [u8],
    name: JsonStr<'_>,
) -> Result<(&'s str, &'s mut [u8]), ClusterError> {
    let len = name
        .unescape_into(scratch)
        .map_err(|_| ClusterError::TooMany)?;
    let (head, tail) = scratch.split_at_mut(len);
    let head: &'s [u8] = head;
    let s = core::str::from_utf8(head).map_err(|_| DecodeError::Shape)?;
    Ok((s, tail))
}

/// A socket's id as a JSON string.
fn put_id(w: &mut Writer<'_>, server: &Server<'_>, s: SocketId) {
    let id = server.socket_sid(s);
    json::put_str(w, id.as_ref().map_or("", |id| id.as_str()));
}

/// Copies `s` into `buf` (a namespace name, at most 255 bytes), to hold it while the server
/// is borrowed mutably.
fn copy_str<'b>(buf: &'b mut [u8; 256], s: &str) -> &'b str {
    let n = s.len().min(buf.len());
    buf[..n].copy_from_slice(&s.as_bytes()[..n]);
    core::str::from_utf8(&buf[..n]).unwrap_or_default()
}
