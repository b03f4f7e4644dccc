// CORS in a real headless Chromium (Debian's chromium, driven by playwright-core): a page of
// one origin (served here, by Node, on 127.0.0.1:<A>) talks to siocore echo servers on other
// ports with the official client over long-polling, which browsers subject to CORS:
//
// - a server whose --cors list holds the page's origin, with --cors-credentials: the page
//   connects with `withCredentials` and `extraHeaders` (so every poll is preflighted and
//   the requested header must be allowed), emits and gets its ack;
// - a server with `--cors reflect` (each page its own origin): the same without credentials;
// - a server whose list does not hold the page's origin: the browser keeps every response
//   from the page, which gets `connect_error` and never connects.
//
//   node cors_browser.mjs <echo_server binary> [chromium path]
//
// Prints "ok …" lines; exits 1 on the first failure. Every wait has a timeout.

import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { within } from "./suite.mjs";

const [binary, executablePath = "/usr/bin/chromium"] = process.argv.slice(2);
if (!binary) {
  console.log("usage: node cors_browser.mjs <echo_server binary> [chromium path]");
  process.exit(2);
}
const STEP = 10_000;
const children = [];
let browser;

function fail(why) {
  console.log(`FAIL cors: ${why}`);
  for (const c of children) c.kill("SIGKILL");
  process.exit(1);
}
setTimeout(() => fail("overall timeout"), 90_000).unref();

// The page's origin: a plain Node server for the page and the client bundle.
const bundle = readFileSync(new URL("./node_modules/socket.io-client/dist/socket.io.min.js", import.meta.url));
const pages = createServer((req, res) => {
  if (req.url === "/socket.io.min.js") {
    res.writeHead(200, { "Content-Type": "application/javascript" }).end(bundle);
  } else {
    res
      .writeHead(200, { "Content-Type": "text/html; charset=utf-8" })
      .end('<!doctype html><title>cors</title><script src="/socket.io.min.js"></script>');
  }
});
await new Promise((resolve) => pages.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${pages.address().port}`;

/** Starts the echo server with `flags`; resolves to its URL. */
async function echoServer(flags) {
  const child = spawn(binary, ["--port", "0", ...flags], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  const lines = createInterface({ input: child.stdout });
  const line = await within(
    STEP,
    "the echo server's address",
    new Promise((resolve, reject) => {
      lines.on("line", (l) => l.includes("listening on") && resolve(l));
      child.on("exit", (code) => reject(new Error(`echo_server exited with ${code}`)));
    }),
  );
  return line.slice(line.indexOf("http://")).trim();
}

/** In the page: connects to `url` over polling with `options`, emits `echo-ack` and
 *  resolves to what happened. */
async function tryFrom(page, url, options) {
  return page.evaluate(
    ({ url, options }) =>
      new Promise((resolve) => {
        const socket = io(url, { transports: ["polling"], reconnection: false, ...options });
        const done = (result) => {
          socket.disconnect();
          resolve(result);
        };
        socket.on("connect_error", (e) => done({ error: String(e && e.message) }));
        socket.on("connect", () => {
          socket.timeout(5000).emit("echo-ack", { from: location.origin }, (err, answer) =>
            done(err ? { error: `no ack: ${err}` } : { answer, transport: socket.io.engine.transport.name }),
          );
        });
      }),
    { url, options },
  );
}

try {
  const listed = await echoServer(["--cors", "https://elsewhere.example", "--cors", origin, "--cors-credentials"]);
  const reflect = await echoServer(["--cors", "reflect"]);
  const refused = await echoServer(["--cors", "https://elsewhere.example"]);
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
  const page = await browser.newPage();
  await within(STEP, "the page", page.goto(`${origin}/`));
  await within(STEP, "the client bundle", page.waitForFunction(() => typeof io === "function"));

  const credentialed = await within(
    STEP,
    "the listed origin's round trip",
    tryFrom(page, listed, { withCredentials: true, extraHeaders: { "x-token": "t1" } }),
  );
  if (credentialed.error || credentialed.answer?.from !== origin || credentialed.transport !== "polling") {
    fail(`a listed origin with credentials and a custom header: ${JSON.stringify(credentialed)}`);
  }
  console.log("ok a listed origin polls with credentials and a preflighted header");

  const reflected = await within(STEP, "the reflected origin's round trip", tryFrom(page, reflect, {}));
  if (reflected.error || reflected.answer?.from !== origin) {
    fail(`the request's own origin reflected: ${JSON.stringify(reflected)}`);
  }
  console.log("ok reflect lets any page poll");

  // The browser refuses the handshake's response for the page: the client reports it.
  const blocked = await within(STEP, "the refused origin's error", tryFrom(page, refused, {}));
  if (!blocked.error || blocked.answer) {
    fail(`an origin not listed: ${JSON.stringify(blocked)}`);
  }
  console.log(`ok an origin not listed never connects (${blocked.error})`);
} catch (e) {
  fail(e && e.stack ? e.stack.split("\n").slice(0, 3).join(" | ") : String(e));
} finally {
  await browser?.close();
  for (const c of children) c.kill("SIGKILL");
  pages.close();
}
