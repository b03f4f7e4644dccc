// The handshake a siocore server shows its handlers (tests/app.rs), checked with the
// official client (socket.io-client 4.8.4) in each transport mode.
//
//   node handshake_check.mjs <url>
//
// For polling, WebSocket and the upgrade: connects to `/` with an extra header
// `X-Device: board-7` (the Node client sends `extraHeaders` on every request) and the query
// `token=t1`, and expects the server's `handshake` event to say: that header, the query
// (with `EIO=4` and the transport), a URL under `/socket.io/`, a loopback address and an
// issued time. Prints one line per check; exits 1 when one failed.

import { io } from "socket.io-client";
import assert from "node:assert/strict";
import { within, checker, overallTimeout } from "./suite.mjs";

const [url] = process.argv.slice(2);
overallTimeout(60_000);

const checks = checker();
for (const [mode, transports] of [
  ["polling", ["polling"]],
  ["websocket", ["websocket"]],
  ["upgrade", ["polling", "websocket"]],
]) {
  await checks.check(`handshake over ${mode}`, async () => {
    const socket = io(url, {
      transports,
      forceNew: true,
      reconnection: false,
      extraHeaders: { "X-Device": "board-7" },
      query: { token: "t1" },
    });
    try {
      const [hs] = await within(
        5000,
        "the handshake event",
        new Promise((resolve) => socket.once("handshake", (...a) => resolve(a))),
      );
      assert.equal(hs.device, "board-7");
      assert.match(hs.query, /(^|&)token=t1(&|$)/);
      assert.match(hs.query, /(^|&)EIO=4(&|$)/);
      assert.match(hs.query, new RegExp(`transport=${transports[0]}`));
      assert.ok(hs.url.startsWith("/socket.io/?"), hs.url);
      assert.ok(hs.address.startsWith("127.0.0.1:"), hs.address);
      assert.equal(hs.issued, true);
    } finally {
      socket.close();
    }
  });
}
process.exit(checks.failed ? 1 : 0);
