/**
 * permessage-deflate with a browser: headless Chromium (Debian's `chromium`, driven by
 * `playwright-core`) loads a page from an undercurrent server and, with its own `WebSocket`
 * (which offers `permessage-deflate; client_max_window_bits`), sends text and binary messages of
 * several sizes up to 1 MiB; the server echoes them. The server must have agreed to
 * permessage-deflate, must receive exactly what the page sent, and the page must get exactly
 * that back.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { handshake, serve, type Server } from "../../src/index.js";
import { program } from "../helpers/programs.js";
import { CHROMIUM_ARGS } from "./browser.js";

const TEST = { timeout: 120_000 };

/** The page: a WebSocket client the test drives through `window.roundTrip`. */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>undercurrent compression</title>
<script>
  // Deterministic content, rebuilt identically by the test: compressible and not.
  function makeText(size, seed) {
    const words = ["Größe", "straße", "naïve", "λόγος", "日本", "deflate", "window", "frame", "🙂"];
    let out = "";
    for (let i = seed; out.length < size; i++) out += words[(i * 7 + seed) % words.length] + (i % 89) + " ";
    return out.slice(0, size);
  }
  function makeBytes(size, seed) {
    const out = new Uint8Array(size);
    let x = seed | 1;
    for (let i = 0; i < size; i++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      out[i] = i % 2 === 0 ? (x & 0xff) : (i >> 8) & 0xff;
    }
    return out;
  }
  window.makeText = makeText;
  window.makeBytes = makeBytes;
  window.connect = () => new Promise((resolve, reject) => {
    const ws = new WebSocket("ws://" + location.host + "/ws");
    ws.binaryType = "arraybuffer";
    window.received = [];
    window.waiters = [];
    ws.onmessage = (e) => {
      const m = typeof e.data === "string" ? { text: e.data } : { bytes: new Uint8Array(e.data) };
      const w = window.waiters.shift();
      if (w) w(m); else window.received.push(m);
    };
    ws.onopen = () => { window.ws = ws; resolve(ws.extensions); };
    ws.onerror = () => reject(new Error("WebSocket error"));
  });
  const next = () => window.received.length > 0
    ? Promise.resolve(window.received.shift())
    : new Promise((resolve) => window.waiters.push(resolve));
  // Sends one message and checks its echo in the page; returns what differs, or "" if nothing.
  window.roundTrip = async (kind, size, seed) => {
    const sent =
      kind === "repetitive" ? "undercurrent ".repeat(size / 13 + 1).slice(0, size)
      : kind === "text" ? makeText(size, seed) : makeBytes(size, seed);
    window.ws.send(sent);
    const back = await next();
    if (kind !== "binary") {
      if (back.text === undefined) return "binary echo for a text message";
      return back.text === sent ? "" : "text echo differs (" + back.text.length + " chars)";
    }
    if (back.bytes === undefined) return "text echo for a binary message";
    if (back.bytes.length !== sent.length) return "binary echo of " + back.bytes.length + " bytes";
    for (let i = 0; i < sent.length; i++) if (back.bytes[i] !== sent[i]) return "binary echo differs at " + i;
    return "";
  };
  window.closeSocket = () => new Promise((resolve) => {
    window.ws.onclose = (e) => resolve(e.code);
    window.ws.close(1000);
  });
</script>`;

/** The same generators as the page's, to check what the server received. */
function makeText(size: number, seed: number): string {
  const words = ["Größe", "straße", "naïve", "λόγος", "日本", "deflate", "window", "frame", "🙂"];
  let out = "";
  for (let i = seed; out.length < size; i++) out += `${words[(i * 7 + seed) % words.length] ?? ""}${i % 89} `;
  return out.slice(0, size);
}
function makeBytes(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed | 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = i % 2 === 0 ? x & 0xff : (i >> 8) & 0xff;
  }
  return out;
}

/** What the page's script puts on `window` (the tsconfig has no DOM types). */
interface PageApi {
  connect(): Promise<string>;
  roundTrip(kind: string, size: number, seed: number): Promise<string>;
  closeSocket(): Promise<number>;
}

/** What the server saw. */
const connections: Array<{ extensions: string; messages: Array<string | Buffer>; port: number }> = [];
const sockets: Socket[] = [];

let server: Server;
let browser: BrowserContext;
let page: Page;
let profile: string;

before(async () => {
  const ws = handshake(
    (_req, res) => {
      if (new URL(_req.url ?? "/", "http://x").pathname !== "/") {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(PAGE);
    },
    {
      onConnect({ channel }) {
        connections.push({ extensions: channel.extensions, messages: [], port: channel.remotePort ?? 0 });
      },
      onMessage({ channel, text, data }) {
        connections.at(-1)?.messages.push(text ?? data ?? "");
        if (text !== undefined) void channel.sendText(text);
        else if (data !== undefined) void channel.sendBinary(data);
      },
    },
    { compression: true, path: "/ws", maxPayload: 4 * 1024 * 1024 },
  );
  server = await serve(ws, { port: 0, host: "127.0.0.1" });
  server.http.on("connection", (socket: Socket) => sockets.push(socket));
  profile = await mkdtemp(join(tmpdir(), "undercurrent-chromium-"));
  // A fresh profile (playwright passes it to Chromium as --user-data-dir).
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: program("chromium"),
    headless: true,
    timeout: 60_000,
    args: CHROMIUM_ARGS,
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(60_000);
});

after(async () => {
  await browser?.close();
  await server?.close();
  if (profile !== undefined) await rm(profile, { recursive: true, force: true });
});

const SIZES = [0, 1, 100, 1023, 1024, 4096, 65536, 256 * 1024, 1024 * 1024];

test("Chromium's WebSocket agrees to permessage-deflate and round-trips text and binary", TEST, async () => {
  await page.goto(`http://127.0.0.1:${server.port}/`);
  const extensions = await page.evaluate(() => (globalThis as unknown as PageApi).connect());
  assert.match(extensions, /^permessage-deflate/);
  assert.equal(connections.length, 1);
  const seen = connections[0]!;
  assert.match(seen.extensions, /^permessage-deflate/);
  assert.equal(seen.extensions, extensions);

  const expected: Array<string | Buffer> = [];
  for (const size of SIZES) {
    for (const kind of ["text", "binary"] as const) {
      const seed = size + (kind === "text" ? 1 : 2);
      const problem = await page.evaluate(
        ([k, s, n]) => (globalThis as unknown as PageApi).roundTrip(k, s, n),
        [kind, size, seed] as const,
      );
      assert.equal(problem, "", `${kind} ${size} B`);
      expected.push(kind === "text" ? makeText(size, seed) : makeBytes(size, seed));
    }
  }

  // The server received exactly what the page sent, in order.
  assert.equal(seen.messages.length, expected.length);

  for (const [i, want] of expected.entries()) {
    const got = seen.messages[i];
    if (typeof want === "string") assert.ok(got === want, `message ${i}: text differs`);
    else assert.ok(Buffer.isBuffer(got) && got.equals(want), `message ${i}: bytes differ`);
  }

  // A compressible 1 MiB text travels compressed both ways (RSV1 messages, counted on the socket).
  const socket = sockets.find((s) => s.remotePort === seen.port);
  assert.ok(socket !== undefined, "the WebSocket's server-side socket");
  const [read, written] = [socket.bytesRead, socket.bytesWritten];
  const size = 1024 * 1024;
  assert.equal(
    await page.evaluate(([s]) => (globalThis as unknown as PageApi).roundTrip("repetitive", s, 0), [
      size,
    ] as const),
    "",
  );
  assert.equal(seen.messages.at(-1), "undercurrent ".repeat(size / 13 + 1).slice(0, size));
  assert.ok(socket.bytesRead - read < size / 10, `page → server: ${socket.bytesRead - read} B for 1 MiB`);
  assert.ok(
    socket.bytesWritten - written < size / 10,
    `server → page: ${socket.bytesWritten - written} B for 1 MiB`,
  );

  const code = await page.evaluate(() => (globalThis as unknown as PageApi).closeSocket());
  assert.equal(code, 1000);
});
