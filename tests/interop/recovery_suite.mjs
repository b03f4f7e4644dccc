// Connection state recovery (examples/echo_server.rs started with --recovery), checked with
// the official client (socket.io-client 4.8.4).
//
//   node recovery_suite.mjs <url> <polling|websocket|upgrade>
//
// A client in a room whose transport drops (`socket.io.engine.close()`) while another one
// emits to its room and to everyone (binary included) comes back with `recovered`, the same
// id, every missed packet once and in order, and still in its room; an explicit disconnect
// then connect gives a new socket. socket.io-client leaves the offset as an extra, last
// argument of every event the server sent without an ack request: the checks strip it.
// Prints one line per check ("ok NAME" or "FAIL NAME: why") and exits 1 when one failed.

import { io } from "socket.io-client";
import assert from "node:assert/strict";
import { within, checker, overallTimeout } from "./suite.mjs";

const [url, mode] = process.argv.slice(2);
const transports = {
  polling: ["polling"],
  websocket: ["websocket"],
  upgrade: ["polling", "websocket"],
}[mode];
const STEP = 5000;

overallTimeout(120_000);

const open = new Set();
const checks = checker(() => {
  for (const s of open) s.disconnect();
  open.clear();
});
const check = checks.check;

/** Waits for `event` on `socket`; resolves with its arguments. */
const next = (socket, event) =>
  within(STEP, event, new Promise((resolve) => socket.once(event, (...args) => resolve(args))));

/** The arguments without the offset socket.io-client leaves at the end. */
function strip(args) {
  const last = args[args.length - 1];
  assert.ok(typeof last === "string" && /^[0-9]+$/.test(last), `no offset last in ${JSON.stringify(args)}`);
  return args.slice(0, -1);
}

/** A connected client of `/` (reconnecting 1.5 s after a drop); resolves once connected. */
async function client() {
  const socket = io(url, {
    transports,
    forceNew: true,
    reconnectionDelay: 1500,
    reconnectionDelayMax: 1500,
    randomizationFactor: 0,
  });
  open.add(socket);
  await within(STEP, "connect", new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  }));
  if (mode === "upgrade") {
    await within(STEP, "the upgrade", new Promise((resolve) => {
      if (socket.io.engine.transport.name === "websocket") resolve();
      else socket.io.engine.once("upgrade", resolve);
    }));
  }
  return socket;
}

/** Joins `room` and waits until a to-room message of its own came back. */
async function join(socket, room) {
  socket.emit("join", room);
  socket.emit("to-room", room, "joined " + room);
  assert.deepEqual(strip(await next(socket, "room-msg")), ["joined " + room]);
}

/** A round trip of `socket` (the server handled what it sent before). */
async function roundTrip(socket) {
  socket.emit("message", "sync");
  assert.deepEqual(strip(await next(socket, "message-back")), ["sync"]);
}

await check(`a dropped transport recovers (${mode})`, async () => {
  const a = await client();
  const b = await client();
  assert.equal(a.recovered, false);
  await join(a, "r");
  const got = [];
  a.on("room-msg", (...args) => got.push(["room-msg", ...strip(args)]));
  a.on("broadcast", (...args) => got.push(["broadcast", ...strip(args)]));
  b.on("broadcast", () => {});
  // Before the drop: received live.
  b.emit("to-room", "r", "before");
  await within(STEP, "the live room message", new Promise((r) => {
    const t = setInterval(() => got.length && (clearInterval(t), r()), 10);
  }));
  const id = a.id;
  const dropped = next(a, "disconnect");
  a.io.engine.close();
  // The client calls it "forced close"; the server sees its transport close.
  await dropped;
  // While it is away: to its room, to everyone, binary too, and to a room it is not in.
  const bin = Buffer.from([1, 2, 3, 250]);
  b.emit("to-room", "r", "m1", { n: 1 });
  b.emit("broadcast", "m2");
  b.emit("to-room", "r", "m3", bin);
  b.emit("to-room", "elsewhere", "not for a");
  b.emit("broadcast", { bin, n: 4 });
  b.emit("to-room", "r", "m5");
  await roundTrip(b);
  // The client reconnects by itself.
  await within(STEP, "the reconnection", new Promise((r) => a.once("connect", r)));
  assert.equal(a.recovered, true, "recovered");
  assert.equal(a.id, id, "the same id");
  // Still in its room.
  b.emit("to-room", "r", "after");
  await within(STEP, "the room message after recovery", new Promise((r) => {
    const t = setInterval(() => got.some((g) => g[1] === "after") && (clearInterval(t), r()), 10);
  }));
  await roundTrip(a);
  assert.deepEqual(got, [
    ["room-msg", "before"],
    ["room-msg", "m1", { n: 1 }],
    ["broadcast", "m2"],
    ["room-msg", "m3", bin],
    ["broadcast", { bin, n: 4 }],
    ["room-msg", "m5"],
    ["room-msg", "after"],
  ]);
});

await check(`an explicit disconnect gets a new socket (${mode})`, async () => {
  const a = await client();
  await join(a, "r2");
  const id = a.id;
  a.disconnect();
  a.connect();
  await within(STEP, "the new connect", new Promise((r) => a.once("connect", r)));
  assert.equal(a.recovered, false, "not recovered");
  assert.notEqual(a.id, id, "a new id");
  // Not in its old room: its own to-room does not come back.
  const b = await client();
  await join(b, "r2");
  let stray = false;
  a.on("room-msg", () => (stray = true));
  b.emit("to-room", "r2", "only b");
  await roundTrip(b);
  await roundTrip(a);
  assert.equal(stray, false, "the new socket is not in the old room");
});

process.exit(checks.failed ? 1 : 0);
