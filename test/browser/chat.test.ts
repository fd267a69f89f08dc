/**
 * The demo chat in a real browser (headless Debian Chromium driven by `playwright-core`): two
 * pages in one room see each other's messages and the online count, a page in another room sees
 * none of it; binary messages and close codes reach the browser's own `WebSocket`; the page
 * reconnects by itself after the server restarts on the same port; screenshots of the page
 * (desktop and phone-sized) are saved to `test-artifacts/`; the live panel follows the server's
 * `handler.stats()` (its screenshot, `test-artifacts/panel.png`, is the README's
 * `docs/panel.png`); and `npm start` serves a chat that works end to end.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, readFile, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { handshake, serve, type Server } from "../../src/index.js";
import { chat, chatPage } from "../../examples/chat/server.js";
import { launchChromium, newPage } from "./browser.js";
import { selfSignedCertificate } from "../helpers/certificate.js";

const TEST = { timeout: 120_000 };
const ARTIFACTS = fileURLToPath(new URL("../../test-artifacts/", import.meta.url));
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

let browser: Browser;
/** Servers still running, closed in `after`. */
const servers = new Set<Server>();
let npmStart: ChildProcess | undefined;

before(async () => {
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  for (const server of servers) await server.close();
  if (npmStart?.pid !== undefined && npmStart.exitCode === null && npmStart.signalCode === null) {
    process.kill(-npmStart.pid, "SIGTERM");
  }
});

async function startChat(port = 0): Promise<Server> {
  const server = await serve(chat(chatPage()), { port, host: "127.0.0.1" });
  servers.add(server);
  return server;
}

async function stop(server: Server): Promise<void> {
  servers.delete(server);
  await server.close();
}

/** A port that was free a moment ago (listened on, then released). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => resolve());
  });
  const address = probe.address();
  assert.ok(address !== null && typeof address === "object");
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return address.port;
}

/** Waits for the page's socket, then joins `room` as `nick` through the form. */
async function join(page: Page, room: string, nick: string): Promise<void> {
  await page.locator("#status", { hasText: /^connected/ }).waitFor();
  await page.fill("#room", room);
  await page.fill("#nick", nick);
  await page.click("#join-button");
  await page.locator("#room-title", { hasText: `#${room}` }).waitFor();
}

/** Sends `text` through the page's form and waits until it comes back in the page's own log. */
async function say(page: Page, text: string): Promise<void> {
  await page.fill("#text", text);
  await page.click("#send");
  await seen(page, text);
}

/** Waits until a line containing `text` is in the page's log. */
async function seen(page: Page, text: string, timeout = 10_000): Promise<void> {
  await page.locator("#log li", { hasText: text }).first().waitFor({ timeout });
}

/** The nickname shown on the (first) log line containing `text`. */
async function nickOf(page: Page, text: string): Promise<string | null> {
  return page.locator("#log li", { hasText: text }).first().locator(".nick").textContent();
}

async function count(page: Page, n: number, timeout = 10_000): Promise<void> {
  await page.locator("#count", { hasText: new RegExp(`^${n} online$`) }).waitFor({ timeout });
}

test("two pages in one room see each other's messages; a page in another room does not", TEST, async () => {
  const server = await startChat();
  const url = `http://127.0.0.1:${server.port}/`;
  const [alice, bob, carol] = [await newPage(browser), await newPage(browser), await newPage(browser)];
  await Promise.all([alice.goto(url), bob.goto(url), carol.goto(url)]);

  await join(alice, "alpha", "alice");
  await join(bob, "alpha", "bob");
  await join(carol, "beta", "carol");
  // The page says how its socket came: an HTTP/1.1 upgrade here (HTTP/2 over HTTPS, below).
  assert.equal(await alice.locator("#status").textContent(), "connected · HTTP/1.1");
  await seen(alice, "bob joined");
  await count(alice, 2);
  await count(bob, 2);

  await say(alice, "hello from alice");
  await seen(bob, "hello from alice");
  assert.equal(await nickOf(bob, "hello from alice"), "alice");
  await say(bob, "hi alice, bob here");
  await seen(alice, "hi alice, bob here");
  assert.equal(await nickOf(alice, "hi alice, bob here"), "bob");
  // Own messages are marked as such, the others' are not.
  assert.equal(await alice.locator("#log li.mine", { hasText: "hello from alice" }).count(), 1);
  assert.equal(await bob.locator("#log li.mine", { hasText: "hello from alice" }).count(), 0);

  // Carol's own message comes back after everything alpha published, so by now she would have
  // seen alpha's traffic if it leaked into beta.
  await say(carol, "anyone in beta?");
  const carolLog = await carol.locator("#log li").allTextContents();
  for (const leaked of ["hello from alice", "hi alice, bob here", "bob joined", "alice joined"]) {
    assert.ok(
      !carolLog.some((line) => line.includes(leaked)),
      `carol saw "${leaked}": ${carolLog.join(" | ")}`,
    );
  }
  assert.equal(await carol.locator("#count").textContent(), "1 online");
  const aliceLog = await alice.locator("#log li").allTextContents();
  assert.ok(!aliceLog.some((line) => line.includes("anyone in beta?")), aliceLog.join(" | "));
  await count(alice, 2);

  await Promise.all([alice.context().close(), bob.context().close(), carol.context().close()]);
  await stop(server);
});

/** A page whose script drives its own `WebSocket` to `/ws` (the tsconfig has no DOM types). */
const WS_PAGE = `<!doctype html>
<meta charset="utf-8">
<title>undercurrent binary and close codes</title>
<script>
  function makeBytes(size, seed) {
    const out = new Uint8Array(size);
    let x = seed | 1;
    for (let i = 0; i < size; i++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      out[i] = x & 0xff;
    }
    return out;
  }
  window.connect = () => new Promise((resolve, reject) => {
    const ws = new WebSocket("ws://" + location.host + "/ws");
    ws.binaryType = "arraybuffer";
    window.received = [];
    window.waiters = [];
    window.closeEvent = new Promise((done) => {
      ws.onclose = (e) => done({ code: e.code, reason: e.reason, wasClean: e.wasClean });
    });
    ws.onmessage = (e) => {
      const w = window.waiters.shift();
      if (w) w(e.data); else window.received.push(e.data);
    };
    ws.onopen = () => { window.ws = ws; resolve(ws.protocol); };
    ws.onerror = () => reject(new Error("WebSocket error"));
  });
  const next = () => window.received.length > 0
    ? Promise.resolve(window.received.shift())
    : new Promise((resolve) => window.waiters.push(resolve));
  // Sends an ArrayBuffer and checks the echo; returns what differs, or "" if nothing.
  window.echo = async (size, seed) => {
    const sent = makeBytes(size, seed);
    window.ws.send(sent.buffer);
    const back = await next();
    if (!(back instanceof ArrayBuffer)) return "echo is not an ArrayBuffer: " + typeof back;
    const bytes = new Uint8Array(back);
    if (bytes.length !== size) return "echo of " + bytes.length + " bytes";
    for (let i = 0; i < size; i++) if (bytes[i] !== sent[i]) return "echo differs at byte " + i;
    return "";
  };
  // Asks the server to close the connection; resolves with what the page's close event says.
  window.closedByServer = (command) => {
    window.ws.send(command);
    return window.closeEvent;
  };
</script>`;

interface WsPageApi {
  connect(): Promise<string>;
  echo(size: number, seed: number): Promise<string>;
  closedByServer(command: string): Promise<{ code: number; reason: string; wasClean: boolean }>;
}

/** The page's generator, to check what the server received. */
function makeBytes(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed | 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

test(
  "over HTTPS the chat's sockets ride the page's HTTP/2 connection, and the page says so",
  TEST,
  async () => {
    const certificate = await selfSignedCertificate();
    const server = await serve(chat(chatPage()), {
      port: 0,
      host: "127.0.0.1",
      tls: { cert: certificate.cert, key: certificate.key },
    });
    try {
      const url = `https://127.0.0.1:${server.port}/`;
      const [alice, bob] = [
        await newPage(browser, { ignoreHTTPSErrors: true }),
        await newPage(browser, { ignoreHTTPSErrors: true }),
      ];
      await Promise.all([alice.goto(url), bob.goto(url)]);
      await join(alice, "h2room", "alice");
      await join(bob, "h2room", "bob");
      await alice.locator("#status", { hasText: "connected · HTTP/2" }).waitFor();
      await bob.locator("#status", { hasText: "connected · HTTP/2" }).waitFor();
      await say(alice, "hello over h2");
      await seen(bob, "hello over h2");
      await Promise.all([alice.context().close(), bob.context().close()]);
    } finally {
      await server.close();
      await certificate.remove();
    }
  },
);

test("binary messages and server close codes reach the browser's WebSocket", TEST, async () => {
  const received: Buffer[] = [];
  const closes: Array<{ code: number; reason: string }> = [];
  const handler = handshake(
    (request, response) => {
      if (new URL(request.url ?? "/", "http://x").pathname !== "/") {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(WS_PAGE);
    },
    {
      onMessage({ channel, text, data }) {
        if (text === "close 4001") void channel.close(4001, "bye");
        else if (text === "close 1000") void channel.close(1000);
        else if (data !== undefined) {
          received.push(Buffer.from(data));
          void channel.sendBinary(data);
        }
      },
      onClose({ code, reason }) {
        closes.push({ code, reason });
      },
    },
    { path: "/ws" },
  );
  const server = await serve(handler, { port: 0, host: "127.0.0.1" });
  servers.add(server);
  const page = await newPage(browser);
  await page.goto(`http://127.0.0.1:${server.port}/`);
  await page.evaluate(() => (globalThis as unknown as WsPageApi).connect());
  const sizes = [0, 1, 125, 126, 65535, 65536, 300_000];
  for (const size of sizes) {
    const problem = await page.evaluate(([s, seed]) => (globalThis as unknown as WsPageApi).echo(s, seed), [
      size,
      size + 7,
    ] as const);
    assert.equal(problem, "", `${size} B`);
  }
  assert.equal(received.length, sizes.length);
  for (const [i, size] of sizes.entries()) {
    assert.ok(received[i]!.equals(makeBytes(size, size + 7)), `the server received ${size} B intact`);
  }

  // The server closes with an application code and a reason.
  const bye = await page.evaluate(() => (globalThis as unknown as WsPageApi).closedByServer("close 4001"));
  assert.deepEqual(bye, { code: 4001, reason: "bye", wasClean: true });

  // A normal closure from the server, on a new connection.
  await page.evaluate(() => (globalThis as unknown as WsPageApi).connect());
  const normal = await page.evaluate(() => (globalThis as unknown as WsPageApi).closedByServer("close 1000"));
  assert.deepEqual(normal, { code: 1000, reason: "", wasClean: true });

  // The server saw the browser echo both close codes.
  await waitUntil(() => closes.length === 2, 5000, "both closes seen by the server");
  assert.deepEqual(closes, [
    { code: 4001, reason: "bye" },
    { code: 1000, reason: "" },
  ]);

  await page.context().close();
  servers.delete(server);
  await server.close();
});

async function waitUntil(check: () => boolean, timeout: number, what: string): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test("the page reconnects by itself after the server restarts on the same port", TEST, async () => {
  const port = await freePort();
  let server = await startChat(port);
  const url = `http://127.0.0.1:${port}/`;
  const [alice, bob] = [await newPage(browser), await newPage(browser)];
  await Promise.all([alice.goto(url), bob.goto(url)]);
  await join(alice, "restart", "alice");
  await join(bob, "restart", "bob");
  await say(alice, "before the restart");
  await seen(bob, "before the restart");

  await stop(server);
  await alice.locator("#status", { hasText: /^reconnecting in \d+ s$/ }).waitFor({ timeout: 10_000 });
  await bob.locator("#status", { hasText: /^reconnecting/ }).waitFor({ timeout: 10_000 });
  assert.equal(await alice.locator("#send").isDisabled(), true, "sending is off while offline");
  // Let a reconnection attempt or two fail against the closed port.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.match((await alice.locator("#status").textContent()) ?? "", /^reconnecting/);

  server = await startChat(port);
  const started = Date.now();
  await alice.locator("#status", { hasText: /^connected/ }).waitFor({ timeout: 20_000 });
  await bob.locator("#status", { hasText: /^connected/ }).waitFor({ timeout: 20_000 });
  const reconnectedIn = Date.now() - started;
  assert.ok(reconnectedIn < 20_000, `reconnected in ${reconnectedIn} ms`);

  // Each page re-joined by itself: its own message comes back through the room's topic.
  await say(alice, "alice is back");
  await say(bob, "bob is back");
  // Both are in the room on the new server now: messages flow both ways.
  await say(alice, "after the restart from alice");
  await seen(bob, "after the restart from alice");
  await say(bob, "after the restart from bob");
  await seen(alice, "after the restart from bob");
  await count(alice, 2);
  await count(bob, 2);

  await Promise.all([alice.context().close(), bob.context().close()]);
  await stop(server);
});

async function assertPng(path: string): Promise<void> {
  const info = await stat(path);
  assert.ok(info.size > 1000, `${path}: ${info.size} B`);
  const head = (await readFile(path)).subarray(0, 8);
  assert.ok(head.equals(PNG_SIGNATURE), `${path} is a PNG`);
}

test("screenshots of the chat page, desktop and phone-sized, saved to test-artifacts/", TEST, async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  const server = await startChat();
  const url = `http://127.0.0.1:${server.port}/`;
  const desktop = await newPage(browser, { viewport: { width: 960, height: 640 } });
  const phone = await newPage(browser, { viewport: { width: 390, height: 780 }, phone: true });
  await Promise.all([desktop.goto(url), phone.goto(url)]);
  await join(desktop, "lobby", "ada");
  await join(phone, "lobby", "grace");
  await count(desktop, 2);
  await count(phone, 2);
  await say(desktop, "Hi! Is the new build out yet?");
  await seen(phone, "Is the new build out yet?");
  await say(phone, "Yes, deployed a minute ago. Reconnects look fine on my phone.");
  await seen(desktop, "Reconnects look fine");
  await say(
    desktop,
    "Great. A longer message, to see how the bubbles wrap when a line is wider than the screen it is shown on.",
  );
  await seen(phone, "A longer message");
  // (No emoji here: this machine has no emoji font, Chromium would draw a box.)
  await say(phone, "Thanks, will try it on the train.");
  await seen(desktop, "on the train");

  const wide = `${ARTIFACTS}chat.png`;
  const narrow = `${ARTIFACTS}chat-phone.png`;
  await desktop.screenshot({ path: wide });
  await phone.screenshot({ path: narrow });
  await assertPng(wide);
  await assertPng(narrow);

  // Nothing overflows the phone's width.
  const scrollWidth = await phone.evaluate(
    () =>
      (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document
        .documentElement.scrollWidth,
  );
  assert.ok(scrollWidth <= 390, `page is ${scrollWidth}px wide on a 390px screen`);

  await Promise.all([desktop.context().close(), phone.context().close()]);
  await stop(server);
});

test(
  "the live panel follows the server's stats: a second page joining, messages per second",
  TEST,
  async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    const server = await startChat();
    const url = `http://127.0.0.1:${server.port}/`;
    const alice = await newPage(browser, { viewport: { width: 720, height: 420 } });
    await alice.goto(url);
    await join(alice, "lobby", "alice");
    await alice.locator("#stats-connections", { hasText: /^1$/ }).waitFor();

    const bob = await newPage(browser);
    await bob.goto(url);
    await join(bob, "lobby", "bob");
    await alice.locator("#stats-connections", { hasText: /^2$/ }).waitFor();

    // A few seconds of traffic of varying intensity, one burst per poll of the panel, so the
    // sparkline has a shape; each step waits for the panel's next sample (an event, not a timer).
    const samples = (): Promise<number> =>
      alice.evaluate(
        () =>
          (
            globalThis as unknown as {
              document: { getElementById(id: string): { getAttribute(name: string): string } };
            }
          ).document
            .getElementById("stats-line")
            .getAttribute("points")
            .split(" ")
            .filter(Boolean).length,
      );
    for (const burst of [2, 5, 9, 4, 7, 12, 6, 3]) {
      const before = await samples();
      for (let i = 0; i < burst; i++) await say(i % 2 === 0 ? alice : bob, `burst ${burst} #${i}`);
      await alice.waitForFunction(
        (n) =>
          (
            globalThis as unknown as {
              document: { getElementById(id: string): { getAttribute(name: string): string } };
            }
          ).document
            .getElementById("stats-line")
            .getAttribute("points")
            .split(" ")
            .filter(Boolean).length > n,
        before,
      );
    }
    const rate = Number(await alice.locator("#stats-rate").textContent());
    assert.ok(rate > 0, `messages per second shown: ${rate}`);
    assert.ok((await samples()) >= 8, "the sparkline has a point per sample");

    const shot = `${ARTIFACTS}panel.png`;
    await alice.screenshot({ path: shot });
    await assertPng(shot);

    await bob.context().close();
    await alice.locator("#stats-connections", { hasText: /^1$/ }).waitFor();
    await alice.context().close();
    await stop(server);
  },
);

// npm start runs a build of examples/demo.ts; test/integration/demo.test.ts runs npm start
// itself. Here the same entry point runs from source, so two builds never write dist/ at once.
test("the demo npm start runs serves a chat that works in the browser", TEST, async () => {
  const child = spawn(process.execPath, ["--import", "tsx", "examples/demo.ts"], {
    env: { ...process.env, PORT: "0" },
    stdio: ["ignore", "pipe", "inherit"],
    detached: true,
  });
  npmStart = child;
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let output = "";
      const timer = setTimeout(() => reject(new Error(`npm start printed no URL: ${output}`)), 90_000);
      child.stdout?.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const match = /chat at (http:\/\/\S+\/) /.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`npm start exited with ${code}: ${output}`));
      });
    });
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);

    const page = await newPage(browser);
    await page.goto(url);
    assert.equal(await page.title(), "undercurrent chat");
    await join(page, "demo", "tester");
    await count(page, 1);
    await say(page, "hello from npm start");
    assert.equal(await nickOf(page, "hello from npm start"), "tester");
    await page.context().close();
  } finally {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 10_000);
        child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
      });
      process.kill(-child.pid, "SIGTERM");
      await exited;
    }
  }
});
