/**
 * Chromium speaks WebSocket over HTTP/2 (RFC 8441) to undercurrent: the page comes from the same
 * HTTPS server (Chromium opens h2 WebSockets only on an h2 connection it already has to that
 * origin), and the server side proves that each socket was an extended-CONNECT stream on the
 * page's own HTTP/2 session, not an HTTP/1.1 upgrade on a second connection.
 */
import assert from "node:assert/strict";
import type { Http2Session } from "node:http2";
import { Http2ServerRequest } from "node:http2";
import type { IncomingMessage } from "node:http";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { handshake, serve, type Channel, type SecureServer } from "../../src/index.js";
import { selfSignedCertificate, type Certificate } from "../helpers/certificate.js";
import { launchChromium, newPage } from "./browser.js";

/** The page: the helpers the test calls (see {@link PageApi}). */
const PAGE = `<!doctype html><meta charset="utf-8"><title>undercurrent over HTTP/2</title>
<script>
  const open = (id) => new Promise((resolve, reject) => {
    const ws = new WebSocket(location.origin.replace(/^https/, "wss") + "/ws?id=" + id);
    ws.binaryType = "arraybuffer";
    ws.received = [];
    ws.closed = new Promise((done) => (ws.onclose = (e) => done({ code: e.code, reason: e.reason })));
    ws.onmessage = (e) => ws.received.push(typeof e.data === "string" ? e.data : Array.from(new Uint8Array(e.data)));
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error("WebSocket error"));
  });
  const next = (ws, count) => new Promise((resolve) => {
    const check = () => (ws.received.length >= count ? resolve(ws.received.slice(0, count)) : setTimeout(check, 5));
    check();
  });
  window.api = {
    protocol: () => performance.getEntriesByType("navigation")[0].nextHopProtocol,
    async echo(id) {
      const ws = await open(id);
      ws.send("héllo over h2 ✓");
      ws.send(new Uint8Array([0, 1, 127, 128, 255]));
      ws.send("x".repeat(200000));
      const [text, bytes, long] = await next(ws, 3);
      return { extensions: ws.extensions, received: [text, bytes, long.length] };
    },
    async closedByServer(id) {
      const ws = await open(id);
      return ws.closed;
    },
    async closeWith(id, code, reason) {
      const ws = await open(id);
      ws.close(code, reason);
      return ws.closed;
    },
  };
</script>`;

interface CloseInfo {
  code: number;
  reason: string;
}

/** What the page offers the test, as `globalThis.api`. */
interface PageApi {
  protocol(): string;
  echo(id: string): Promise<{ extensions: string; received: unknown[] }>;
  closedByServer(id: string): Promise<CloseInfo>;
  closeWith(id: string, code: number, reason: string): Promise<CloseInfo>;
}

interface Seen {
  method: string | undefined;
  httpVersion: string;
  protocol: unknown;
  session: Http2Session | undefined;
  close?: CloseInfo;
}

let certificate: Certificate | undefined;
let server: SecureServer | undefined;
let browser: Browser | undefined;
let page: Page;
/** The HTTP/2 session the page itself came over. */
let pageSession: Http2Session | undefined;
const seen = new Map<string, Seen>();
const channels = new Map<string, Channel<unknown>>();
const closeWaiters = new Map<string, () => void>();
const connectWaiters = new Map<string, () => void>();

/** The HTTP/2 session a request came over (Node hands HTTP/2 requests over as `Http2ServerRequest`s). */
function sessionOf(request: IncomingMessage | Http2ServerRequest): Http2Session | undefined {
  return request instanceof Http2ServerRequest ? request.stream.session : undefined;
}

/** Resolves with the channel of `id` once onConnect has seen it. */
function channelOf(id: string): Promise<Channel<unknown>> {
  const channel = channels.get(id);
  if (channel !== undefined) return Promise.resolve(channel);
  return new Promise((resolve) => connectWaiters.set(id, () => resolve(channels.get(id)!)));
}

function closeOf(id: string): Promise<CloseInfo | undefined> {
  const entry = seen.get(id);
  if (entry?.close !== undefined) return Promise.resolve(entry.close);
  return new Promise((resolve) => closeWaiters.set(id, () => resolve(seen.get(id)?.close)));
}

before(async () => {
  certificate = await selfSignedCertificate();
  const handler = handshake(
    (request, response) => {
      pageSession = sessionOf(request);
      response.setHeader("content-type", "text/html; charset=utf-8");
      response.end(PAGE);
    },
    {
      onConnect({ channel, exchange }) {
        const id = exchange.url.searchParams.get("id") ?? "?";
        channels.set(id, channel);
        const request = exchange.request;
        seen.set(id, {
          method: request.method,
          httpVersion: request.httpVersion,
          protocol: request.headers[":protocol"],
          session: sessionOf(request),
        });
        connectWaiters.get(id)?.();
      },
      onMessage({ channel, text, data }) {
        if (text !== undefined) void channel.sendText(text);
        else void channel.sendBinary(data);
      },
      onClose({ channel, code, reason }) {
        for (const [id, c] of channels) {
          if (c !== channel) continue;
          const entry = seen.get(id);
          if (entry !== undefined) entry.close = { code, reason };
          closeWaiters.get(id)?.();
        }
      },
    },
    { path: "/ws", compression: true },
  );
  server = await serve(handler, { port: 0, tls: { cert: certificate.cert, key: certificate.key } });
  browser = await launchChromium();
  page = await newPage(browser, { ignoreHTTPSErrors: true });
  await page.goto(`https://127.0.0.1:${server.port}/`);
});

after(async () => {
  await browser?.close();
  await server?.close();
  await certificate?.remove();
});

test("the page itself came over HTTP/2", async () => {
  const protocol = await page.evaluate(() => (globalThis as unknown as { api: PageApi }).api.protocol());
  assert.equal(protocol, "h2");
  assert.ok(pageSession !== undefined, "the page's request was an HTTP/2 request");
});

test("text and binary over an extended-CONNECT stream on the page's own session, compressed", async () => {
  const result = await page.evaluate(
    (id) => (globalThis as unknown as { api: PageApi }).api.echo(id),
    "first",
  );
  assert.match(result.extensions, /^permessage-deflate/);
  assert.deepEqual(result.received, ["héllo over h2 ✓", [0, 1, 127, 128, 255], 200_000]);
  const first = seen.get("first");
  assert.ok(first !== undefined);
  assert.equal(first.method, "CONNECT");
  assert.equal(first.httpVersion, "2.0");
  assert.equal(first.protocol, "websocket");
  assert.equal(first.session, pageSession, "the WebSocket rode the page's HTTP/2 connection");
});

test("a second WebSocket shares the session; close codes go both ways", async () => {
  const fromServer = page.evaluate(
    (id) => (globalThis as unknown as { api: PageApi }).api.closedByServer(id),
    "second",
  );
  // The server closes the second one with an application code and a reason.
  const second = await channelOf("second");
  assert.equal(seen.get("second")?.session, pageSession);
  await second.close(4001, "server says bye");
  assert.deepEqual(await fromServer, { code: 4001, reason: "server says bye" });
  assert.deepEqual(await closeOf("second"), { code: 4001, reason: "server says bye" });

  // The page closes the first one with its own code and reason.
  const fromClient = await page.evaluate(
    ([id, code, reason]) => (globalThis as unknown as { api: PageApi }).api.closeWith(id, code, reason),
    ["third", 4002, "page says bye"] as const,
  );
  // The server's answer echoes the page's code, without the reason (README, Decisions).
  assert.deepEqual(fromClient, { code: 4002, reason: "" });
  assert.deepEqual(await closeOf("third"), { code: 4002, reason: "page says bye" });
  assert.equal(seen.get("third")?.session, pageSession);
});
