/**
 * Observability on Node, with real clients: every handler channel reaches a
 * `node:diagnostics_channel` subscriber, refusals the transport makes itself are told too, a
 * subscriber that throws breaks no connection, and `handler.stats()` counts what happened
 * (zlib operations queued included).
 */
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { request } from "node:http";
import http2, { createServer as createH2Server } from "node:http2";
import type { AddressInfo } from "node:net";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import WebSocket from "ws";
import { h2Exchange, until } from "../helpers/h2-client.js";
import {
  HANDLER_EVENTS,
  attach,
  handshake,
  serve,
  type Callbacks,
  type Options,
  type Server,
  type WebSocketHandler,
} from "../../src/index.js";

type Listener = (message: unknown, name: string | symbol) => void;
const subscriptions: Array<[string, Listener]> = [];
const servers: Server[] = [];

/** Every message of every handler channel, in order, as [name, message]. */
function listen(): Array<[string, Record<string, unknown>]> {
  const seen: Array<[string, Record<string, unknown>]> = [];
  for (const name of HANDLER_EVENTS) {
    const listener: Listener = (message) => void seen.push([name, message as Record<string, unknown>]);
    subscribe(name, listener);
    subscriptions.push([name, listener]);
  }
  return seen;
}

afterEach(async () => {
  for (const [name, listener] of subscriptions.splice(0)) unsubscribe(name, listener);
  for (const server of servers.splice(0)) await server.close();
});

async function start<T>(
  callbacks: Callbacks<T>,
  options: Options<T> = {},
): Promise<{ handler: WebSocketHandler<T>; url: string }> {
  const handler = handshake(callbacks, options);
  const server = await serve(handler, { port: 0, host: "127.0.0.1" });
  servers.push(server);
  return { handler, url: `ws://127.0.0.1:${server.port}` };
}

async function open(url: string, options?: WebSocket.ClientOptions): Promise<WebSocket> {
  const ws = new WebSocket(url, options);
  await once(ws, "open");
  return ws;
}

const echo: Callbacks = {
  onMessage: ({ channel, text }) => void channel.sendText(text ?? ""),
};

test("a connection's life on the channels: accepted, open, close; stats count it", async () => {
  const seen = listen();
  const closed = new Promise<void>((resolve) => (echo.onClose = () => resolve()));
  const { handler, url } = await start(echo);
  const ws = await open(`${url}/room?x=1`, { perMessageDeflate: false });
  ws.send("ping");
  await once(ws, "message");
  ws.close(4001, "leaving");
  await closed;
  delete echo.onClose;

  assert.deepEqual(
    seen.map(([name]) => name),
    ["undercurrent:upgrade:accepted", "undercurrent:connection:open", "undercurrent:connection:close"],
  );
  const accepted = seen[0]![1] as { exchange: { url: URL } };
  assert.equal(accepted.exchange.url.pathname, "/room");
  const open_ = seen[1]![1];
  assert.equal(open_["remoteAddress"], "127.0.0.1");
  const close = seen[2]![1];
  assert.equal(close["code"], 4001);
  assert.equal(close["reason"], "leaving");
  assert.equal(close["closedBy"], "client");
  assert.equal(close["messagesIn"], 1);
  assert.equal(close["messagesOut"], 1);
  assert.equal(typeof close["duration"], "number");
  assert.ok((close["duration"] as number) >= 0);
  // "ping" masked (6 + 4) + the close frame (6 + 2 + 7); "ping" echoed (6) + the close reply (4).
  assert.equal(close["bytesIn"], 10 + 15);
  assert.equal(close["bytesOut"], 6 + 4);

  const stats = handler.stats();
  assert.equal(stats.connections, 0);
  assert.deepEqual(stats.upgrades, { accepted: 1, refused: {} });
  assert.deepEqual(stats.messages, { in: 1, out: 1 });
  assert.deepEqual(stats.bytes, { in: 25, out: 10 });
  assert.deepEqual(stats.closes, { 4001: 1 });
});

/** Sends a raw HTTP upgrade request; resolves with the status. */
function rawUpgrade(port: number, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: "127.0.0.1",
      port,
      path,
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
        ...headers,
      },
    });
    req.on("response", (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    req.on("upgrade", (_response, socket) => {
      socket.destroy();
      resolve(101);
    });
    req.on("error", reject);
    req.end();
  });
}

test("upgrade:refused names the check, for the transport's refusals and the core's", async () => {
  const seen = listen();
  const { handler, url } = await start({}, { path: "/ws", origins: ["https://ok.example"] });
  const port = Number(new URL(url).port);
  assert.equal(await rawUpgrade(port, "/ws", { "Sec-WebSocket-Version": "8" }), 426);
  assert.equal(await rawUpgrade(port, "/elsewhere", {}), 404);
  assert.equal(await rawUpgrade(port, "/ws", { Origin: "https://evil.example" }), 403);
  assert.equal(await rawUpgrade(port, "/ws", { Origin: "https://ok.example" }), 101);
  // Asks for websocket without `Connection: Upgrade`: Node hands it to the request listener.
  assert.equal(await rawUpgrade(port, "/ws", { Connection: "keep-alive" }), 400);
  const refused = seen
    .filter(([name]) => name === "undercurrent:upgrade:refused")
    .map(([, m]) => [m["check"], m["status"]]);
  assert.deepEqual(refused, [
    ["handshake", 426],
    ["path", 404],
    ["origins", 403],
    ["handshake", 400],
  ]);
  const withUrl = seen.find(([name]) => name === "undercurrent:upgrade:refused")![1] as {
    exchange: { url: URL };
    reason: string;
  };
  assert.equal(withUrl.exchange.url.pathname, "/ws");
  assert.match(withUrl.reason, /version/i);
  assert.deepEqual(handler.stats().upgrades.refused, { 400: 1, 403: 1, 404: 1, 426: 1 });
});

test("connection:error and backpressure reach their channels; stats count the drop", async () => {
  const seen = listen();
  const { handler, url } = await start(
    {
      onMessage({ channel, text }) {
        if (text === "throw") throw new Error("callback bug");
        void channel.sendBinary(new Uint8Array(4096));
      },
      onError() {},
    },
    { maxBackpressure: 1024, backpressure: "drop" },
  );
  const ws = await open(url);
  ws.send("throw");
  ws.send("big");
  ws.send("throw");
  await new Promise<void>((resolve) => {
    const check = (): void => {
      if (seen.filter(([name]) => name === "undercurrent:connection:error").length === 2) resolve();
      else setImmediate(check);
    };
    check();
  });
  const error = seen.find(([name]) => name === "undercurrent:connection:error")![1];
  assert.equal((error["error"] as Error).message, "callback bug");
  const pressure = seen.find(([name]) => name === "undercurrent:backpressure")![1];
  assert.equal(pressure["action"], "drop");
  assert.equal(pressure["size"], 4096);
  assert.equal(pressure["limit"], 1024);
  assert.deepEqual(handler.stats().backpressure, { closes: 0, drops: 1 });
  ws.close();
  await once(ws, "close");
});

test("a diagnostics_channel subscriber that throws breaks no connection", async () => {
  // Node reports a subscriber's throw as an uncaught exception on the next tick (its rule for
  // diagnostics_channel); here it is caught to show the connection went on regardless.
  const uncaught: unknown[] = [];
  const previous = process.rawListeners("uncaughtException") as Array<(error: Error) => void>;
  process.removeAllListeners("uncaughtException");
  const catcher = (error: unknown): void => void uncaught.push(error);
  process.on("uncaughtException", catcher);
  const thrower: Listener = () => {
    throw new Error("subscriber bug");
  };
  for (const name of HANDLER_EVENTS) {
    subscribe(name, thrower);
    subscriptions.push([name, thrower]);
  }
  try {
    const { url } = await start(echo);
    const ws = await open(url);
    for (const word of ["one", "two"]) {
      ws.send(word);
      const [reply] = (await once(ws, "message")) as [Buffer];
      assert.equal(reply.toString(), word);
    }
    ws.close(1000);
    const [code] = (await once(ws, "close")) as [number];
    assert.equal(code, 1000);
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(uncaught.length >= 2, `subscriber errors surfaced: ${uncaught.length}`);
    assert.ok(uncaught.every((error) => (error as Error).message === "subscriber bug"));
  } finally {
    process.off("uncaughtException", catcher);
    for (const listener of previous) process.on("uncaughtException", listener);
  }
});

test("stats(): open connections, bytes waiting, zlib operations queued, topics on request", async () => {
  const big = "x".repeat(256 * 1024);
  const { handler, url } = await start<undefined>(
    {
      onConnect: ({ channel }) => void channel.subscribe("all"),
    },
    { compression: { concurrency: 1 } },
  );
  const clients = [await open(url), await open(url), await open(url)];
  assert.equal(handler.stats().connections, 3);
  assert.deepEqual({ ...handler.stats({ topics: true }).topics }, { all: 3 });
  assert.equal(handler.stats().topics, undefined);
  // Each connection compresses its own copy; with one zlib slot, the others wait.
  for (const channel of handler.connections) void channel.sendText(big);
  const stats = handler.stats();
  assert.equal(stats.zlibQueued, 2);
  assert.ok(stats.bufferedBytes >= 3 * big.length, `bufferedBytes ${stats.bufferedBytes}`);
  assert.equal(stats.messages.out, 3);
  await Promise.all(clients.map((ws) => once(ws, "message")));
  assert.equal(handler.stats().zlibQueued, 0);
  for (const ws of clients) ws.close();
  await Promise.all(clients.map((ws) => once(ws, "close")));
});

test("over HTTP/2: refusals before admission and an accepted stream reach the same channels", async () => {
  const seen = listen();
  const handler = handshake(echo, { path: "/ws" });
  const server = createH2Server();
  attach(server, handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const session = http2.connect(origin);
  session.on("error", () => {});
  try {
    await once(session, "remoteSettings");
    const connect = (path: string, version: string) =>
      h2Exchange(session, {
        ":method": "CONNECT",
        ":protocol": "websocket",
        ":scheme": "http",
        ":authority": origin.slice("http://".length),
        ":path": path,
        "sec-websocket-version": version,
      });
    assert.equal((await connect("/ws", "8")).status, 400);
    assert.equal((await connect("/elsewhere", "13")).status, 404);
    const refused = seen
      .filter(([name]) => name === "undercurrent:upgrade:refused")
      .map(([, m]) => [m["check"], m["status"], (m["exchange"] as { url: URL }).url.pathname]);
    assert.deepEqual(refused, [
      ["handshake", 400, "/ws"],
      ["path", 404, "/elsewhere"],
    ]);
    assert.deepEqual(handler.stats().upgrades.refused, { 400: 1, 404: 1 });

    const stream = session.request(
      {
        ":method": "CONNECT",
        ":protocol": "websocket",
        ":scheme": "http",
        ":authority": origin.slice("http://".length),
        ":path": "/ws",
        "sec-websocket-version": "13",
      },
      { endStream: false },
    );
    stream.on("error", () => {});
    const [answer] = (await once(stream, "response")) as [http2.IncomingHttpHeaders];
    assert.equal(answer[":status"], 200);
    await until(() => seen.some(([name]) => name === "undercurrent:connection:open"), "connection:open");
    assert.ok(seen.some(([name]) => name === "undercurrent:upgrade:accepted"));
    assert.equal(handler.stats().connections, 1);
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await until(() => seen.some(([name]) => name === "undercurrent:connection:close"), "connection:close");
  } finally {
    // Not in the tick a reset stream closes in: Node's client can spin there.
    await new Promise((resolve) => setImmediate(resolve));
    session.destroy();
    await handler.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
