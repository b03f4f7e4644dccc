// Broadcasts that collect acknowledgements across a mixed cluster (tests/cluster.rs starts
// it): siocore servers and Node socket.io 4.8.4 servers on @socket.io/redis-adapter 8.3.0,
// one Redis. Official clients (socket.io-client 4.8.4, WebSocket and polling) on every
// server answer `question` with their label; from every server, `ask` (room or null,
// timeout ms, except the sender) broadcasts `question` with `timeout(ms)` and acks back
// {complete, answers}. Checked from every origin: every client of the cluster answers once
// and the result comes as soon as the last one did; rooms and the sender left out; a
// client that stays silent (on a siocore server, on a Node server) makes the result
// incomplete, after the timeout, with every other answer.
//
//   node cluster_ack_suite.mjs SERVER_URL...   (the first ones siocore, the last Node)
//
// Prints one line per check; exits 1 when one failed.

import { io as connect } from "socket.io-client";
import assert from "node:assert/strict";
import { within, checker, overallTimeout } from "./suite.mjs";

const servers = process.argv.slice(2);
overallTimeout(100_000);

const checks = checker();
const silent = new Set();
const clients = [];
for (const [i, url] of servers.entries()) {
  for (const transport of ["websocket", "polling"]) {
    const label = `s${i}-${transport === "websocket" ? "ws" : "poll"}`;
    const sock = connect(url, { transports: [transport], reconnection: false, forceNew: true });
    sock.on("question", (cb) => {
      if (!silent.has(label)) cb(label);
    });
    await within(5000, `${label} connects`, new Promise((r, e) => (sock.once("connect", r), sock.once("connect_error", e))));
    clients.push({ sock, label, server: i });
  }
}
const labels = (cs) => cs.map((c) => c.label).sort();

/** `from` asks; resolves with {complete, answers (sorted), ms}. */
async function ask(from, room, timeout, exceptMe = false) {
  const start = Date.now();
  const r = await within(timeout + 5000, `the answers to ${from.label}`, new Promise((res) => from.sock.emit("ask", room, timeout, exceptMe, res)));
  return { complete: r.complete, answers: [...r.answers].sort(), ms: Date.now() - start };
}

// The first client of each server asks for all.
const origins = servers.map((_, i) => clients.find((c) => c.server === i));
const name = (c) => `${c.label} (${c.server < servers.length - 1 ? "siocore" : "Node"})`;

await checks.check("every client of the cluster answers once, from every origin, without waiting for the timeout", async () => {
  for (const from of origins) {
    const r = await ask(from, null, 4000);
    assert.deepEqual([r.complete, r.answers], [true, labels(clients)], `from ${name(from)}`);
    assert.ok(r.ms < 2500, `from ${name(from)}: ${r.ms} ms`);
  }
});

await checks.check("to a room with members on every server, from every origin", async () => {
  const members = clients.filter((c) => c.label.endsWith("-poll"));
  await Promise.all(members.map((c) => within(5000, "join", new Promise((r) => c.sock.emit("join", "r", r)))));
  for (const from of origins) {
    const r = await ask(from, "r", 4000);
    assert.deepEqual([r.complete, r.answers], [true, labels(members)], `from ${name(from)}`);
  }
});

await checks.check("everyone but the sender, from every origin", async () => {
  for (const from of origins) {
    const r = await ask(from, null, 4000, true);
    assert.deepEqual([r.complete, r.answers], [true, labels(clients.filter((c) => c !== from))], `from ${name(from)}`);
  }
});

for (const quiet of [clients.find((c) => c.server === 1), clients.find((c) => c.server === servers.length - 1 && c.label.endsWith("-poll"))]) {
  await checks.check(`a silent client (${name(quiet)}): incomplete after the timeout, with every other answer, from every origin`, async () => {
    silent.add(quiet.label);
    try {
      for (const from of origins) {
        const r = await ask(from, null, 1000);
        assert.deepEqual([r.complete, r.answers], [false, labels(clients.filter((c) => c !== quiet))], `from ${name(from)}: ${JSON.stringify(r)}`);
        assert.ok(r.ms >= 900, `from ${name(from)}: only ${r.ms} ms`);
      }
    } finally {
      silent.delete(quiet.label);
    }
  });
}

await checks.check("answered again once the client speaks again", async () => {
  const r = await ask(origins[0], null, 4000);
  assert.deepEqual([r.complete, r.answers], [true, labels(clients)]);
});

for (const c of clients) c.sock.close();
process.exit(checks.failed ? 1 : 0);
