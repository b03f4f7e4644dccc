// The chat demo (examples/chat.rs) in two tabs of a real headless Chromium (Debian's
// chromium, driven by playwright-core): a message typed in one tab appears in the other,
// with the "user connected" notice and the "typing…" hint.
//
//   node chat_browser.mjs <url> [chromium path] [server certificate PEM]
//
// For an https URL, the browser trusts the server's certificate (the first of the PEM file)
// by its public key (`--ignore-certificate-errors-spki-list`), and that one only.
//
// Prints "ok …" lines; exits 1 on the first failure. Every wait has a timeout.

import { chromium } from "playwright-core";
import { X509Certificate, createHash } from "node:crypto";
import { readFileSync } from "node:fs";

const [url, executablePath = "/usr/bin/chromium", certFile] = process.argv.slice(2);
const trust = [];
if (certFile) {
  const spki = new X509Certificate(readFileSync(certFile)).publicKey.export({ type: "spki", format: "der" });
  trust.push(`--ignore-certificate-errors-spki-list=${createHash("sha256").update(spki).digest("base64")}`);
}
const STEP = 10_000;

setTimeout(() => {
  console.log("FAIL chat: overall timeout");
  process.exit(1);
}, 90_000).unref();

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    ...trust,
  ],
});
try {
  const context = await browser.newContext();
  const a = await context.newPage();
  const b = await context.newPage();
  const errors = [];
  for (const page of [a, b]) {
    page.on("pageerror", (e) => errors.push(String(e)));
  }
  await a.goto(url, { timeout: STEP });
  await a.waitForFunction(() => typeof socket !== "undefined" && socket.connected, null, { timeout: STEP });
  console.log("ok first tab connected");
  if (url.startsWith("https:")) {
    // The page and its Socket.IO session, both over TLS.
    const secure = await a.evaluate(() => location.protocol === "https:" && socket.io.engine.secure === true);
    if (!secure) throw new Error("the page or its session is not on TLS");
    console.log("ok page and session over https");
  }
  await b.goto(url, { timeout: STEP });
  await b.waitForFunction(() => typeof socket !== "undefined" && socket.connected, null, { timeout: STEP });
  console.log("ok second tab connected");
  // Served the bundle itself (no CDN here): the client script came from the server.
  const bundle = await a.evaluate(() =>
    [...document.scripts].some((s) => s.src.endsWith("/socket.io/socket.io.js")) && typeof io === "function");
  if (!bundle) throw new Error("the page did not load /socket.io/socket.io.js");
  await a.locator("#messages li.notice", { hasText: "a user connected" }).waitFor({ timeout: STEP });
  console.log("ok first tab saw the second connect");

  await a.locator("#input").pressSequentially("hello from A", { delay: 5 });
  await b.locator("#typing", { hasText: "typing" }).waitFor({ timeout: STEP });
  console.log("ok second tab saw the typing hint");
  const typingInA = await a.locator("#typing").textContent();
  if (typingInA) throw new Error(`the typist saw its own hint: ${typingInA}`);
  await a.locator("#input").press("Enter");
  await b.locator("#messages li:not(.notice)", { hasText: "hello from A" }).waitFor({ timeout: STEP });
  await a.locator("#messages li:not(.notice)", { hasText: "hello from A" }).waitFor({ timeout: STEP });
  console.log("ok the message appeared in both tabs");

  await b.close();
  await a.locator("#messages li.notice", { hasText: "a user disconnected" }).waitFor({ timeout: STEP });
  console.log("ok first tab saw the second leave");
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
} catch (e) {
  console.log(`FAIL chat: ${e && e.message ? e.message.split("\n")[0] : e}`);
  await browser.close();
  process.exit(1);
}
await browser.close();
process.exit(0);
