// The chat demo (examples/chat.rs, examples/c/chat_server.c) in two tabs of a real headless
// Chromium (Debian's chromium, driven by playwright-core): the page loads the official client
// from the chat server itself (/socket.io/socket.io.js), and a message typed in one tab
// appears in the other, with the "user connected" notice and the "typing…" hint.
//
//   node chat_browser.mjs [--no-client] <url> [chromium path] [server certificate PEM]
//
// The browser is offline: every host name but the server's address fails to resolve, so the
// public CDN cannot stand in for a missing /socket.io/socket.io.js. With --no-client the
// server is one that lacks the client bundle: the page must say so in plain words, and
// pressing Enter must neither reload the page nor lose what was typed.
//
// For an https URL, the browser trusts the server's certificate (the first of the PEM file)
// by its public key (`--ignore-certificate-errors-spki-list`), and that one only.
//
// Prints "ok …" lines; exits 1 on the first failure. Every wait has a timeout.

import { chromium } from "playwright-core";
import { X509Certificate, createHash } from "node:crypto";
import { readFileSync } from "node:fs";

const argv = process.argv.slice(2);
const noClient = argv[0] === "--no-client";
if (noClient) argv.shift();
const [url, executablePath = "/usr/bin/chromium", certFile] = argv;
const trust = [];
if (certFile) {
  const spki = new X509Certificate(readFileSync(certFile)).publicKey.export({ type: "spki", format: "der" });
  trust.push(`--ignore-certificate-errors-spki-list=${createHash("sha256").update(spki).digest("base64")}`);
}
const server = new URL(url);
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
    // Offline but for the server.
    `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE ${server.hostname}`,
    ...trust,
  ],
});
const connected = () => typeof socket !== "undefined" && socket !== null && socket.connected;
const bundleUrl = new URL("/socket.io/socket.io.js", url).href;

try {
  const context = await browser.newContext();
  const a = await context.newPage();
  const errors = [];
  // What the first tab asked for, and what came back: the client must come from the server.
  const answers = new Map();
  a.on("response", (r) => answers.set(r.url(), r.status()));
  a.on("requestfailed", (r) => answers.set(r.url(), r.failure()?.errorText ?? "failed"));
  a.on("pageerror", (e) => errors.push(String(e)));
  if (noClient) {
    await withoutClient(a);
  } else {
    await chat(context, a, answers, errors);
  }
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
} catch (e) {
  console.log(`FAIL chat: ${e && e.message ? e.message.split("\n")[0] : e}`);
  await browser.close();
  process.exit(1);
}
await browser.close();
process.exit(0);

// Two tabs chat through the server.
async function chat(context, a, answers, errors) {
  await a.goto(url, { timeout: STEP });
  await a.waitForFunction(connected, null, { timeout: STEP });
  console.log("ok first tab connected");
  // The client came from the chat server itself, and nothing from anywhere else.
  if (answers.get(bundleUrl) !== 200) {
    throw new Error(`${bundleUrl}: ${answers.get(bundleUrl) ?? "not asked for"}`);
  }
  const elsewhere = [...answers.keys()].filter((u) => new URL(u).host !== server.host);
  if (elsewhere.length) throw new Error(`the page fetched from elsewhere: ${elsewhere.join(", ")}`);
  console.log("ok the client bundle came from the server");
  if (url.startsWith("https:")) {
    // The page and its Socket.IO session, both over TLS.
    const secure = await a.evaluate(() => location.protocol === "https:" && socket.io.engine.secure === true);
    if (!secure) throw new Error("the page or its session is not on TLS");
    console.log("ok page and session over https");
  }
  const b = await context.newPage();
  b.on("pageerror", (e) => errors.push(String(e)));
  await b.goto(url, { timeout: STEP });
  await b.waitForFunction(connected, null, { timeout: STEP });
  console.log("ok second tab connected");
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
  const status = await a.locator("#status").textContent();
  if (status) throw new Error(`the page shows a problem: ${status}`);

  await b.close();
  await a.locator("#messages li.notice", { hasText: "a user disconnected" }).waitFor({ timeout: STEP });
  console.log("ok first tab saw the second leave");
}

// No client bundle on the server and no network: the page says why in plain words, and the
// form keeps the message instead of reloading the page.
async function withoutClient(a) {
  await a.goto(url, { timeout: STEP });
  const status = a.locator("#status", { hasText: "The chat cannot start" });
  await status.waitFor({ timeout: STEP });
  const text = await status.textContent();
  for (const words of ["Socket.IO client did not load", "/socket.io/socket.io.js", "bash scripts/chat.sh"]) {
    if (!text.includes(words)) throw new Error(`the message does not say "${words}": ${text}`);
  }
  if (!(await status.isVisible())) throw new Error("the message is not visible");
  console.log(`ok the page says: ${text}`);
  // The page's own submit handler runs first; a listener on window sees whether it
  // prevented the default action (a reload of the page).
  await a.evaluate(() => {
    window.stillThisPage = true;
    window.addEventListener("submit", (e) => (window.submitPrevented = e.defaultPrevented));
  });
  await a.locator("#input").pressSequentially("hello offline", { delay: 5 });
  const outcome = Promise.race([
    a.waitForFunction(() => window.submitPrevented !== undefined, null, { timeout: STEP }).then(() => "seen"),
    a.waitForEvent("framenavigated", { timeout: STEP }).then(() => "navigated"),
  ]);
  outcome.catch(() => {});
  await a.locator("#input").press("Enter");
  if ((await outcome) === "navigated") throw new Error("Enter reloaded the page");
  const after = await a.evaluate(() => ({
    prevented: window.submitPrevented,
    same: window.stillThisPage === true,
    typed: document.getElementById("input").value,
  }));
  if (!after.prevented || !after.same) throw new Error("Enter reloaded the page");
  if (after.typed !== "hello offline") throw new Error(`the message was lost: ${JSON.stringify(after.typed)}`);
  console.log("ok Enter keeps the page and the message");
}
