// The benchmark contract of examples/echo_server on Node's socket.io (the version pinned in
// tests/interop/package-lock.json): on "/", `echo` (args) -> `echo` (the same args) to the
// sender; `broadcast` (args) -> `broadcast` to every socket of "/", the sender included.
// Usage: node server.cjs [--tls CERT KEY] [--ping-interval MS] [--ping-timeout MS] [PORT]
// [REDIS_URL] (0 picks one); prints `listening on http://ADDR` (`https://` with --tls).
// The ping flags set socket.io's pingInterval and pingTimeout (its defaults otherwise: 25000
// and 20000), as the other two servers' flags of the same names do.
// With REDIS_URL the server joins the cluster there (@socket.io/redis-adapter, redis clients).
// With --tls it is an `https.createServer` with the PEM certificate chain CERT and key KEY.
"use strict";
const path = require("path");
const fs = require("fs");
const http = require("http");
const https = require("https");
const { Server } = require(path.join(__dirname, "../../tests/interop/node_modules/socket.io"));

const argv = process.argv.slice(2);
let tls = null;
if (argv[0] === "--tls") {
  tls = { cert: fs.readFileSync(argv[1]), key: fs.readFileSync(argv[2]) };
  argv.splice(0, 3);
}
const ping = {};
for (const [flag, key] of [["--ping-interval", "pingInterval"], ["--ping-timeout", "pingTimeout"]]) {
  const at = argv.indexOf(flag);
  if (at >= 0) {
    ping[key] = Number(argv[at + 1]);
    argv.splice(at, 2);
  }
}
const port = Number(argv[0] || 3000);
const redisUrl = argv[1];
const httpServer = tls
  ? https.createServer({ ...tls, noDelay: true })
  : http.createServer({ noDelay: true });
const io = new Server(httpServer, { maxHttpBufferSize: 1e6, ...ping });
const modules = path.join(__dirname, "../../tests/interop/node_modules");
io.on("connection", (socket) => {
  socket.on("echo", (...args) => socket.emit("echo", ...args));
  socket.on("broadcast", (...args) => io.emit("broadcast", ...args));
});
async function main() {
  if (redisUrl) {
    const { createClient } = require(path.join(modules, "redis"));
    const { createAdapter } = require(path.join(modules, "@socket.io/redis-adapter"));
    const pub = createClient({ url: redisUrl });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub));
  }
  httpServer.listen(port, "127.0.0.1", () => {
    const a = httpServer.address();
    console.log(`listening on ${tls ? "https" : "http"}://${a.address}:${a.port}`);
  });
}
main();
