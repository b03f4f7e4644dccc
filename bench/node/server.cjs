// The benchmark contract of examples/echo_server on Node's socket.io (the version pinned in
// tests/interop/package-lock.json): on "/", `echo` (args) -> `echo` (the same args) to the
// sender; `broadcast` (args) -> `broadcast` to every socket of "/", the sender included.
// Usage: node server.cjs [PORT] [REDIS_URL] (0 picks one); prints `listening on http://ADDR`.
// With REDIS_URL the server joins the cluster there (@socket.io/redis-adapter, redis clients).
"use strict";
const path = require("path");
const http = require("http");
const { Server } = require(path.join(__dirname, "../../tests/interop/node_modules/socket.io"));

const port = Number(process.argv[2] || 3000);
const redisUrl = process.argv[3];
const httpServer = http.createServer({ noDelay: true });
const io = new Server(httpServer, { maxHttpBufferSize: 1e6 });
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
    console.log(`listening on http://${a.address}:${a.port}`);
  });
}
main();
