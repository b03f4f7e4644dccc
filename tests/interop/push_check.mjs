// Pushes that come from outside a handler (tests/app.rs): a timer on the loop and another
// thread, checked with the official client (socket.io-client 4.8.4) over WebSocket.
//
//   node push_check.mjs <url>
//
// Connects to `/`, then expects two `tick` events (a 100 ms timer's broadcasts, counting
// up), a `pushed` event with "from a thread" (an emit to this socket from another thread)
// and a `news` broadcast with 42 (from that thread too). Prints one line per check; exits 1
// when one failed.

import { io } from "socket.io-client";
import assert from "node:assert/strict";
import { within, checker, overallTimeout } from "./suite.mjs";

const [url] = process.argv.slice(2);
overallTimeout(60_000);

const checks = checker();
const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
const next = (event) =>
  within(5000, event, new Promise((resolve) => socket.once(event, (...a) => resolve(a))));
const ticks = [];
socket.on("tick", (n) => ticks.push(n));
const pushed = next("pushed");
const news = next("news");

await checks.check("a timer on the loop broadcasts every 100 ms", async () => {
  await within(
    5000,
    "two ticks",
    new Promise((resolve) => {
      const t = setInterval(() => ticks.length >= 2 && (clearInterval(t), resolve()), 20);
    }),
  );
  assert.ok(ticks[1] > ticks[0], JSON.stringify(ticks));
});
await checks.check("another thread emits to this socket", async () => {
  assert.deepEqual(await pushed, ["from a thread"]);
});
await checks.check("another thread broadcasts", async () => {
  assert.deepEqual(await news, [42]);
});
socket.close();
process.exit(checks.failed ? 1 : 0);
