// A broadcast that collects acknowledgements (Node's io.timeout(ms).emit(..., cb)) from a
// siocore server (tests/app.rs), answered by three official clients (socket.io-client 4.8.4).
//
//   node broadcast_ack_check.mjs <url>
//
// Three clients (polling, WebSocket, upgrade) join `/` and answer `question` with their
// name. Client a asks `ask-all` (with an ack): the server broadcasts `question` with a
// 1 s timeout and acks back (complete, the answers sorted). Then client c stops answering:
// the same request comes back incomplete, with the two others' answers.
// Prints one line per check; exits 1 when one failed.

import { io } from "socket.io-client";
import assert from "node:assert/strict";
import { within, checker, overallTimeout } from "./suite.mjs";

const [url] = process.argv.slice(2);
overallTimeout(60_000);

const checks = checker();
const modes = { a: ["polling"], b: ["websocket"], c: ["polling", "websocket"] };
const clients = {};
let silent = null;
for (const [name, transports] of Object.entries(modes)) {
  const s = io(url, { transports, forceNew: true, reconnection: false });
  s.on("question", (q, ack) => {
    if (name !== silent) ack(`${name}:${q}`);
  });
  await within(5000, `${name} connects`, new Promise((r) => s.once("connect", r)));
  clients[name] = s;
}
const askAll = (q) =>
  within(5000, "the collected answers", new Promise((r) => clients.a.emit("ask-all", q, (...x) => r(x))));

await checks.check("every client's answer, complete", async () => {
  assert.deepEqual(await askAll("q1"), [true, ["a:q1", "b:q1", "c:q1"]]);
});
await checks.check("a client that does not answer makes it incomplete", async () => {
  silent = "c";
  assert.deepEqual(await askAll("q2"), [false, ["a:q2", "b:q2"]]);
});
for (const s of Object.values(clients)) s.close();
process.exit(checks.failed ? 1 : 0);
