// The mixed cluster: siocore echo servers and Node servers on one Redis
// (tests/cluster.rs starts them), checked through the official client (socket.io-client
// 4.8.4, WebSocket and polling on each server) and @socket.io/redis-emitter 5.1.0.
//
//   node cluster_suite.mjs REDIS_URL SERVER_URL...
//
// Prints "ok <check>" per passing check; exits 1 on the first failure.

import { io as connect } from "socket.io-client";
import { Emitter } from "@socket.io/redis-emitter";
import { createClient } from "redis";
import assert from "node:assert/strict";

const [redisUrl, ...servers] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, pred, ms = 5000) {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > ms) throw new Error(`timed out: ${what}`);
    await sleep(10);
  }
}

function check(name) {
  console.log(`ok ${name}`);
}

/** A client on `url` and namespace `nsp`, recording every event. */
async function client(url, nsp, transport, label) {
  const sock = connect(url + nsp, {
    transports: [transport],
    reconnection: false,
    forceNew: true,
  });
  const c = { sock, label, events: [] };
  sock.onAny((event, ...args) => c.events.push([event, ...args]));
  sock.on("disconnect", (reason) => c.events.push(["disconnect", reason]));
  sock.on("question", (cb) => cb(label));
  await new Promise((resolve, reject) => {
    sock.once("connect", resolve);
    sock.once("connect_error", reject);
  });
  return c;
}

const got = (c, event) => c.events.filter((e) => e[0] === event).map((e) => e.slice(1));
const clear = (cs) => cs.forEach((c) => (c.events.length = 0));
const ack = (c, event, ...args) => c.sock.timeout(5000).emitWithAck(event, ...args);

const main = [];
for (const [i, url] of servers.entries()) {
  main.push(await client(url, "/", "websocket", `s${i}-ws`));
  main.push(await client(url, "/", "polling", `s${i}-poll`));
}
const custom = [];
for (const [i, url] of servers.entries()) custom.push(await client(url, "/custom", "websocket", `s${i}-custom`));
const everyone = [...main, ...custom];
const ids = () => main.filter((c) => c.sock.connected).map((c) => c.sock.id).sort();
// What a broadcast of `event` delivered, per main client.
const counts = (event) => main.map((c) => got(c, event).length);
await sleep(300);
clear(everyone);

// Every server's broadcast reaches every socket of the cluster once, "/" only.
for (const from of main) {
  await ack(from, "fetch-sockets", null); // a round trip: the server is idle
  from.sock.emit("broadcast", from.label, 1);
  await until(`broadcast from ${from.label}`, () => main.every((c) => got(c, "broadcast").length === 1));
  await sleep(100);
  assert.deepEqual(counts("broadcast"), main.map(() => 1), `once each, from ${from.label}`);
  for (const c of main) assert.deepEqual(got(c, "broadcast")[0], [from.label, 1]);
  clear(everyone);
}
await sleep(200);
assert.deepEqual(custom.map((c) => c.events.length), custom.map(() => 0), "/custom hears nothing");
check("broadcast from every server reaches every socket once; other namespaces hear nothing");

// Binary arguments, inline in the adapter's messages.
for (const from of [main[0], main[main.length - 1]]) {
  from.sock.emit("broadcast", Buffer.from([1, 2, 3]), { nested: Buffer.from([255]) });
  await until("binary broadcast", () => main.every((c) => got(c, "broadcast").length === 1));
  for (const c of main) {
    const [b, o] = got(c, "broadcast")[0];
    assert.deepEqual([...new Uint8Array(b)], [1, 2, 3], c.label);
    assert.deepEqual([...new Uint8Array(o.nested)], [255], c.label);
  }
  clear(everyone);
}
check("binary arguments cross the cluster");

// Order: 200 broadcasts from one client arrive in order everywhere.
for (const from of [main[0], main[main.length - 2]]) {
  for (let i = 0; i < 200; i++) from.sock.emit("broadcast", i);
  await until("200 broadcasts", () => main.every((c) => got(c, "broadcast").length === 200), 15000);
  for (const c of main) assert.deepEqual(got(c, "broadcast").map((a) => a[0]), [...Array(200).keys()], c.label);
  clear(everyone);
}
check("200 broadcasts arrive in order on every socket");

// Rooms: one member per server, and an exception.
const members = main.filter((_, i) => i % 2 === 0);
for (const c of members) c.sock.emit("join", "r");
main[1].sock.emit("join", "ex");
members[0].sock.emit("join", "ex");
await sleep(300);
for (const from of main) {
  from.sock.emit("to-room", "r", from.label);
  await until("to-room", () => members.every((c) => got(c, "room-msg").length === 1));
  await sleep(100);
  for (const c of main) assert.equal(got(c, "room-msg").length, members.includes(c) ? 1 : 0, `${from.label} to ${c.label}`);
  clear(everyone);
}
check("to(room) reaches the room's members on every server, only them");
for (const from of main) {
  from.sock.emit("to-room-except", "r", "ex", "x", 2);
  await until(`to-room-except from ${from.label}`, () => members.slice(1).every((c) => got(c, "room-msg").length === 1));
  await sleep(100);
  assert.deepEqual(got(members[0], "room-msg"), [], `excepted, from ${from.label}`);
  for (const c of members.slice(1)) assert.deepEqual(got(c, "room-msg"), [["x", 2]], `${from.label} to ${c.label}`);
  clear(everyone);
}
check("to(room).except(room) from every server");

// fetchSockets from every server.
for (const from of main) {
  assert.deepEqual(await ack(from, "fetch-sockets", null), ids(), `all, from ${from.label}`);
  assert.deepEqual(await ack(from, "fetch-sockets", "r"), members.map((c) => c.sock.id).sort(), `room, from ${from.label}`);
}
check("fetchSockets from every server finds every server's sockets");

// leave, and socketsJoin / socketsLeave by another server.
members[1].sock.emit("leave", "r");
await sleep(200);
assert.deepEqual(await ack(main[0], "fetch-sockets", "r"), [members[0], ...members.slice(2)].map((c) => c.sock.id).sort());
for (const [from, target] of [[main[0], main[main.length - 1]], [main[main.length - 1], main[1]]]) {
  assert.equal(await ack(from, "remote-join", "joined", target.sock.id), "ok");
  await sleep(300);
  assert.deepEqual(await ack(main[2], "fetch-sockets", "joined"), [target.sock.id], `${from.label} joins ${target.label}`);
  assert.equal(await ack(from, "remote-leave", "joined", target.sock.id), "ok");
  await sleep(300);
  assert.deepEqual(await ack(main[2], "fetch-sockets", "joined"), [], `${from.label} takes ${target.label} out`);
}
check("leave, socketsJoin and socketsLeave reach the socket's server");

// serverSideEmit with answers: each other server answers and tells its own sockets.
clear(everyone);
const answers = await ack(main[0], "server-side-emit", { n: 1 });
assert.equal(answers.length, servers.length - 1, JSON.stringify(answers));
assert.ok(answers.every((a) => a.startsWith("pong:")), JSON.stringify(answers));
await until("server-side", () => main.slice(2).every((c) => got(c, "server-side").length === 1));
assert.deepEqual(got(main[0], "server-side"), [], "not to its own sockets");
assert.deepEqual(got(main[2], "server-side")[0], [{ n: 1 }]);
const fromNode = await ack(main[main.length - 1], "server-side-emit", "x");
assert.equal(fromNode.length, servers.length - 1, JSON.stringify(fromNode));
clear(everyone);
check("serverSideEmit with answers, from siocore and from Node");

// A Node server's broadcast collecting acknowledgements: every client of the cluster answers.
const node = main[main.length - 1];
assert.deepEqual(await node.sock.timeout(8000).emitWithAck("ask-all"), main.map((c) => c.label).sort());
clear(everyone);
check("a broadcast with acknowledgements from Node collects every server's clients' answers");

// The emitter (no uid, its own key order).
const redis = createClient({ url: redisUrl });
await redis.connect();
const emitter = new Emitter(redis);
emitter.emit("from-emitter", 1, Buffer.from([9]));
await until("emitter", () => main.every((c) => got(c, "from-emitter").length === 1));
for (const c of main) assert.deepEqual([got(c, "from-emitter")[0][0], [...new Uint8Array(got(c, "from-emitter")[0][1])]], [1, [9]]);
emitter.to("r").emit("emitter-room", "r");
emitter.of("/custom").emit("emitter-custom");
await until("emitter room", () => custom.every((c) => got(c, "emitter-custom").length === 1));
await sleep(200);
for (const c of main) assert.equal(got(c, "emitter-room").length, c === members[1] ? 0 : members.includes(c) ? 1 : 0, c.label);
emitter.in(main[1].sock.id).socketsJoin("by-emitter");
await sleep(300);
assert.deepEqual(await ack(main[0], "fetch-sockets", "by-emitter"), [main[1].sock.id]);
clear(everyone);
check("the Redis emitter reaches siocore's and Node's sockets");

// disconnectSockets(true) from each kind of server ends the room's sockets everywhere.
const doomed = [main[2], main[main.length - 1]];
for (const c of doomed) c.sock.emit("join", "doomed");
await sleep(300);
assert.equal(await ack(main[0], "remote-disconnect", "doomed"), "ok");
await until("disconnected", () => doomed.every((c) => !c.sock.connected));
assert.ok(main.filter((c) => !doomed.includes(c)).every((c) => c.sock.connected));
assert.deepEqual(await ack(main[1], "fetch-sockets", null), ids());
// And from a Node server, for sockets of both siocore servers.
const doomed2 = [await client(servers[0], "/", "polling", "s0-late"), await client(servers[1], "/", "websocket", "s1-late")];
for (const c of doomed2) c.sock.emit("join", "doomed2");
await sleep(300);
assert.equal(await ack(main[4], "remote-disconnect", "doomed2"), "ok");
await until("disconnected by Node", () => doomed2.every((c) => !c.sock.connected));
assert.deepEqual(await ack(main[4], "fetch-sockets", null), ids());
check("disconnectSockets(true) from siocore and from Node closes the room's sockets on every server");

await redis.quit();
for (const c of everyone) c.sock.close();
process.exit(0);
