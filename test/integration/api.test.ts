/**
 * The channel and handler API as an application uses it, over real connections (`ws` and undici
 * clients, plain `node:http` requests): sends on closed channels, send callbacks and timeouts,
 * async `onConnect`, errors thrown by callbacks, `peers`, `protocol`, `data`, and composing
 * handlers by path, with `serve()` or as Express-style middleware.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer, request, type IncomingHttpHeaders, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { WebSocket, type RawData } from "ws";
import { WebSocket as UndiciWebSocket } from "undici";
import {
  ChannelClosedError,
  InvalidArgumentError,
  ReadyState,
  SendTimeoutError,
  handshake,
  serve,
  type Callbacks,
  type Channel,
  type Server,
} from "../../src/index.js";
import { startEchoServer, withTimeout } from "../helpers/echo-server.js";

const WAIT = 10_000;
const TEST = { timeout: 30_000 };

// ---------------------------------------------------------------------------------------------
// Small clients

/** One message as the client received it. */
type Received = { readonly text: string } | { readonly data: Buffer };

/** A `ws` client with a message queue and the close it saw. */
class Peer {
  readonly ws: WebSocket;
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #queue: Received[] = [];
  readonly #waiters: Array<(message: Received) => void> = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (raw: RawData, isBinary: boolean) => {
      const data = Buffer.isBuffer(raw) ? raw : Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw);
      const message: Received = isBinary ? { data } : { text: data.toString("utf8") };
      const waiter = this.#waiters.shift();
      if (waiter !== undefined) waiter(message);
      else this.#queue.push(message);
    });
    this.closed = new Promise((resolve) => {
      ws.on("close", (code: number, reason: Buffer) => resolve({ code, reason: reason.toString("utf8") }));
    });
    ws.on("error", () => {});
  }

  /** Starts connecting; `onOpen` runs synchronously in the client's `open` event. */
  static async open(url: string, protocols?: string[], onOpen?: (ws: WebSocket) => void): Promise<Peer> {
    const ws = new WebSocket(url, protocols);
    const peer = new Peer(ws);
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        ws.once("open", () => {
          onOpen?.(ws);
          resolve();
        });
        ws.once("error", reject);
      }),
      WAIT,
      `open ${url}`,
    );
    return peer;
  }

  next(): Promise<Received> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return withTimeout(new Promise<Received>((resolve) => this.#waiters.push(resolve)), WAIT, "next message");
  }

  async nextText(): Promise<string> {
    const message = await this.next();
    assert.ok("text" in message, "expected a text message, got binary");
    return message.text;
  }

  waitClosed(): Promise<{ code: number; reason: string }> {
    return withTimeout(this.closed, WAIT, "client close event");
  }

  async close(): Promise<void> {
    this.ws.close(1000);
    await this.waitClosed();
  }
}

/** A plain HTTP GET (no keep-alive): status, headers and body. */
function httpGet(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const req = request(url.replace(/^ws:/, "http:"), { agent: false, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end();
    }),
    WAIT,
    `GET ${url}`,
  );
}

/**
 * Sends an upgrade request by hand and returns the status and headers of the answer (101 or an
 * HTTP error). After a 101 the socket is destroyed at once (the server sees 1006).
 */
function rawUpgrade(
  url: string,
  extraHeaders: Record<string, string> = {},
): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const req = request(url.replace(/^ws:/, "http:"), {
        agent: false,
        headers: {
          Connection: "Upgrade",
          Upgrade: "websocket",
          "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
          "Sec-WebSocket-Version": "13",
          ...extraHeaders,
        },
      });
      req.on("upgrade", (res, socket) => {
        socket.destroy();
        resolve({ status: res.statusCode ?? 0, headers: res.headers });
      });
      req.on("response", (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, headers: res.headers });
      });
      req.on("error", reject);
      req.end();
    }),
    WAIT,
    `upgrade ${url}`,
  );
}

/** A promise with its resolve function, for values callbacks hand to the test. */
function deferred<V>(label: string): { promise: Promise<V>; resolve: (value: V) => void } {
  let resolve!: (value: V) => void;
  const promise = withTimeout(new Promise<V>((r) => (resolve = r)), WAIT, label);
  promise.catch(() => {});
  return { promise, resolve };
}

async function listen(server: HttpServer): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function stop(server: Server): Promise<void> {
  await withTimeout(server.close(), WAIT, "server.close()");
}

const isChannelClosed = (error: unknown): boolean =>
  error instanceof ChannelClosedError && error.code === "ERR_CHANNEL_CLOSED";

// ---------------------------------------------------------------------------------------------

describe("sends on a closed channel", () => {
  test("reject with ChannelClosedError and never throw synchronously", TEST, async () => {
    const echo = await startEchoServer();
    try {
      const peer = await Peer.open(echo.urlFor("a"));
      const channel = await echo.channel("a");
      await peer.close();
      await echo.closed("a");
      assert.equal(channel.readyState, ReadyState.Closed);
      const sends: Array<[string, () => Promise<unknown>]> = [
        ["sendText", () => channel.sendText("too late")],
        ["sendBinary", () => channel.sendBinary(Buffer.from("too late"))],
        ["ping", () => channel.ping()],
      ];
      for (const [name, send] of sends) {
        let promise: Promise<unknown> | undefined;
        assert.doesNotThrow(() => (promise = send()), `${name} threw synchronously`);
        assert.ok(promise instanceof Promise, `${name} returns a promise`);
        await assert.rejects(promise, isChannelClosed, `${name} rejects with ChannelClosedError`);
      }
    } finally {
      await echo.close();
    }
  });

  test("a send after close() started (channel closing) rejects with ChannelClosedError", TEST, async () => {
    const echo = await startEchoServer();
    try {
      const peer = await Peer.open(echo.urlFor("a"));
      const channel = await echo.channel("a");
      const closing = channel.close(1000, "done");
      assert.equal(channel.readyState, ReadyState.Closing);
      let promise: Promise<unknown> | undefined;
      assert.doesNotThrow(() => (promise = channel.sendText("after close")));
      await assert.rejects(promise!, isChannelClosed);
      await withTimeout(closing, WAIT, "close()");
      assert.deepEqual(await peer.waitClosed(), { code: 1000, reason: "done" });
    } finally {
      await echo.close();
    }
  });

  test("unawaited failing sends cause no unhandledRejection", TEST, async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const fromOnClose = deferred<void>("onClose");
      const handler = handshake({
        onClose({ channel }) {
          // A typical mistake: a send from onClose, neither awaited nor caught.
          void channel.sendText("from onClose");
          void channel.sendBinary(Buffer.from("from onClose"));
          fromOnClose.resolve();
        },
      });
      const server = await serve(handler, { port: 0 });
      try {
        let channel: Channel | undefined;
        const peer = await Peer.open(server.url);
        await withTimeout(
          (async () => {
            while (handler.connections.size === 0) await sleep(5);
          })(),
          WAIT,
          "connection registered",
        );
        for (const c of handler.connections) channel = c;
        await peer.close();
        await fromOnClose.promise;
        // And from the test, on the closed channel, not awaited either.
        void channel!.sendText("from the test");
        void channel!.ping(Buffer.from("x"));
        // unhandledRejection is emitted after the microtask queue drains: give it a few turns.
        for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
        await sleep(50);
        assert.deepEqual(unhandled, []);
      } finally {
        await stop(server);
      }
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});

describe("send options", () => {
  test("a send callback that throws or rejects goes to onError, never to the process", TEST, async () => {
    const echo = await startEchoServer();
    try {
      const peer = await Peer.open(echo.urlFor("a"));
      const channel = await echo.channel("a");
      const thrown = new Error("from the send callback");
      const rejected = Object.create(null) as object;
      // Both go out in one batch; onError (which here closes, the default policy) hears of each.
      const one = channel.sendText("one", {
        callback: () => {
          throw thrown;
        },
      });
      const two = channel.sendText("two", { callback: { onComplete: () => Promise.reject(rejected) } });
      assert.equal(await one, "sent");
      assert.equal(await two, "sent");
      await echo.waitFor(() => echo.errors.length === 2, "onError for both send callbacks");
      assert.equal(echo.errors[0]!.error, thrown);
      const wrapped = echo.errors[1]!.error as Error & { code?: string; cause?: unknown };
      assert.equal(wrapped.code, "ERR_CALLBACK");
      assert.ok(wrapped.cause === rejected);
      assert.equal(await peer.nextText(), "one");
    } finally {
      await echo.close();
    }
  });

  test(
    "options that are not an object, or a callback of the wrong kind, reject with InvalidArgumentError",
    TEST,
    async () => {
      const echo = await startEchoServer();
      try {
        const peer = await Peer.open(echo.urlFor("a"));
        const channel = await echo.channel("a");
        const odd: unknown[] = [
          null,
          5,
          "x",
          { callback: null },
          { callback: 1 },
          { callback: { onComplete: 1 } },
          { callback: { onError: "no" } },
          { compress: "yes" },
        ];
        for (const options of odd) {
          for (const send of [
            () => channel.sendText("x", options as never),
            () => channel.sendBinary(Buffer.from("x"), options as never),
            () => channel.ping(undefined, options as never),
          ]) {
            await assert.rejects(send(), (error: unknown) => error instanceof InvalidArgumentError);
          }
        }
        await channel.sendText("still open");
        assert.equal(await peer.nextText(), "still open");
        assert.equal(echo.errors.length, 0);
      } finally {
        await echo.close();
      }
    },
  );

  test(
    "callback as a function: called with no error on success, with the error on failure",
    TEST,
    async () => {
      const echo = await startEchoServer();
      try {
        const peer = await Peer.open(echo.urlFor("a"));
        const channel = await echo.channel("a");

        const ok = deferred<unknown[]>("callback after a successful send");
        const sent = channel.sendText("with callback", {
          callback: (...args: unknown[]) => ok.resolve(args),
        });
        const args = await ok.promise;
        assert.equal(args[0], undefined, "success callback gets no error");
        await sent;
        assert.equal(await peer.nextText(), "with callback");

        const okBinary = deferred<unknown[]>("callback after a successful binary send");
        await channel.sendBinary(Buffer.from([1, 2, 3]), {
          callback: (...a: unknown[]) => okBinary.resolve(a),
        });
        assert.equal((await okBinary.promise)[0], undefined);

        await peer.close();
        await echo.closed("a");
        const failed = deferred<unknown[]>("callback after a failed send");
        const late = channel.sendText("late", { callback: (...a: unknown[]) => failed.resolve(a) });
        const [error] = await failed.promise;
        assert.ok(isChannelClosed(error), "failure callback gets ChannelClosedError");
        await assert.rejects(late, isChannelClosed);
      } finally {
        await echo.close();
      }
    },
  );

  test("callback as { onComplete, onError }", TEST, async () => {
    const echo = await startEchoServer();
    try {
      const peer = await Peer.open(echo.urlFor("a"));
      const channel = await echo.channel("a");
      const calls: string[] = [];

      const completed = deferred<void>("onComplete");
      await channel.sendText("hello", {
        callback: {
          onComplete: () => {
            calls.push("onComplete");
            completed.resolve();
          },
          onError: () => calls.push("onError"),
        },
      });
      await completed.promise;
      assert.equal(await peer.nextText(), "hello");

      await peer.close();
      await echo.closed("a");
      const failed = deferred<unknown>("onError");
      const late = channel.sendBinary(Buffer.from("late"), {
        callback: {
          onComplete: () => calls.push("onComplete (wrong)"),
          onError: (error) => {
            calls.push("onError");
            failed.resolve(error);
          },
        },
      });
      assert.ok(isChannelClosed(await failed.promise));
      await assert.rejects(late, isChannelClosed);
      // An object without onError: the failure is still reported by the returned promise.
      await assert.rejects(channel.sendText("late", { callback: { onComplete: () => {} } }), isChannelClosed);
      assert.deepEqual(calls, ["onComplete", "onError"]);
    } finally {
      await echo.close();
    }
  });

  test("a send that completes within its timeout resolves", TEST, async () => {
    const echo = await startEchoServer();
    try {
      const peer = await Peer.open(echo.urlFor("a"));
      const channel = await echo.channel("a");
      await withTimeout(channel.sendText("in time", { timeout: 5000 }), WAIT, "sendText with timeout");
      await withTimeout(channel.sendBinary(Buffer.from("bytes"), { timeout: 5000 }), WAIT, "sendBinary");
      await withTimeout(channel.ping(Buffer.from("p"), { timeout: 5000 }), WAIT, "ping with timeout");
      assert.equal(await peer.nextText(), "in time");
      assert.deepEqual(await peer.next(), { data: Buffer.from("bytes") });
      await peer.close();
    } finally {
      await echo.close();
    }
  });
  test("ping takes the options of every send: callback, timeout, no unhandled rejection", TEST, async (t) => {
    const echo = await startEchoServer();
    try {
      await Peer.open(echo.urlFor("a"));
      const channel = await echo.channel("a");
      const sent = deferred<unknown[]>("ping callback");
      await withTimeout(
        channel.ping(Buffer.from("p"), { callback: (...args) => sent.resolve(args) }),
        WAIT,
        "ping",
      );
      assert.deepEqual(await withTimeout(sent.promise, WAIT, "ping callback"), [], "called with no error");

      t.mock.timers.enable({ apis: ["setTimeout"] });
      const late = channel.ping(undefined, { timeout: 10 });
      t.mock.timers.tick(10); // before the write completes
      await assert.rejects(late, SendTimeoutError);
      t.mock.timers.reset();

      // The socket is gone but its close event has not come yet: the ping fails, through the
      // callback and the promise, and a promise nobody awaits is no unhandled rejection.
      channel.terminate();
      const failed = deferred<unknown>("ping failure");
      void channel.ping(undefined, { callback: (error) => failed.resolve(error) });
      void channel.ping();
      assert.ok(isChannelClosed(await withTimeout(failed.promise, WAIT, "ping failure")));
      await echo.closed("a");
    } finally {
      await echo.close();
    }
  });
});

describe("async onConnect", () => {
  test("messages sent while onConnect awaits are delivered after it settles, in order", TEST, async () => {
    interface State {
      settled: boolean;
    }
    const delivered: Array<{ message: string; settled: boolean }> = [];
    const handler = handshake<State>({
      async onConnect({ channel }) {
        channel.data = { settled: false };
        await sleep(100);
        channel.data.settled = true;
        await channel.sendText("welcome");
      },
      onMessage({ channel, text, data }) {
        const message = text ?? `binary:${data.toString()}`;
        delivered.push({ message, settled: channel.data?.settled === true });
        void channel.sendText(message);
      },
    });
    const server = await serve(handler, { port: 0 });
    try {
      const expected: string[] = [];
      const peer = await Peer.open(server.url, undefined, (ws) => {
        // Sent synchronously in the open event: they reach the server while onConnect awaits.
        for (let i = 0; i < 20; i++) {
          if (i % 5 === 4) {
            ws.send(Buffer.from(`b${i}`));
            expected.push(`binary:b${i}`);
          } else {
            ws.send(`m${i}`);
            expected.push(`m${i}`);
          }
        }
      });
      assert.equal(await peer.nextText(), "welcome", "onConnect's message comes first");
      for (const message of expected) assert.equal(await peer.nextText(), message);
      assert.deepEqual(
        delivered.map((d) => d.message),
        expected,
      );
      assert.ok(
        delivered.every((d) => d.settled),
        "every message reached onMessage after onConnect settled",
      );
      await peer.close();
    } finally {
      await stop(server);
    }
  });
});

describe("errors in callbacks", () => {
  test(
    "a callback that throws or rejects goes to onError, and the connection stays usable",
    TEST,
    async () => {
      const errors: Array<{ message: string; same: boolean }> = [];
      let serverChannel: Channel | undefined;
      const onCloseError = deferred<void>("onError for onClose's throw");
      const handler = handshake({
        onConnect({ channel }) {
          serverChannel = channel;
        },
        onMessage({ channel, text }) {
          if (text === "throw") throw new Error("thrown by onMessage");
          if (text === "reject") return Promise.reject(new Error("rejected by onMessage"));
          void channel.sendText(`echo:${text ?? ""}`);
          return undefined;
        },
        onClose() {
          throw new Error("thrown by onClose");
        },
        onError({ channel, error }) {
          errors.push({ message: error.message, same: channel === serverChannel });
          if (error.message === "thrown by onClose") onCloseError.resolve();
        },
      });
      const server = await serve(handler, { port: 0 });
      try {
        const peer = await Peer.open(server.url);
        peer.ws.send("throw");
        peer.ws.send("reject");
        peer.ws.send("still here");
        assert.equal(await peer.nextText(), "echo:still here");
        await withTimeout(
          (async () => {
            while (errors.length < 2) await sleep(5);
          })(),
          WAIT,
          "two onError calls",
        );
        assert.deepEqual(errors, [
          { message: "thrown by onMessage", same: true },
          { message: "rejected by onMessage", same: true },
        ]);
        await peer.close();
        await onCloseError.promise;
        assert.equal(errors.length, 3);
      } finally {
        await stop(server);
      }
    },
  );

  for (const [what, callbacks] of [
    [
      "onMessage throws",
      {
        onMessage() {
          throw new Error("boom");
        },
      },
    ],
    [
      "onMessage rejects",
      {
        async onMessage() {
          throw new Error("boom");
        },
      },
    ],
    [
      "onError itself throws",
      {
        onMessage() {
          throw new Error("boom");
        },
        onError() {
          throw new Error("boom again");
        },
      },
    ],
  ] as Array<[string, Callbacks]>) {
    test(`${what} without a working onError: the connection closes with 1011`, TEST, async () => {
      const closes: number[] = [];
      const handler = handshake({
        ...callbacks,
        onClose({ code }) {
          closes.push(code);
        },
      });
      const server = await serve(handler, { port: 0 });
      try {
        const peer = await Peer.open(server.url);
        peer.ws.send("anything");
        const seen = await peer.waitClosed();
        assert.equal(seen.code, 1011);
        await withTimeout(
          (async () => {
            while (closes.length === 0) await sleep(5);
          })(),
          WAIT,
          "onClose",
        );
        await sleep(20);
        assert.deepEqual(closes, [1011], "onClose fires once; ws echoes 1011");
      } finally {
        await stop(server);
      }
    });
  }
});

describe("channel properties", () => {
  test("channel.peers holds the open channels of the handler", TEST, async () => {
    const echo = await startEchoServer();
    try {
      const peers = await Promise.all(["a", "b", "c"].map((name) => Peer.open(echo.urlFor(name))));
      const [a, b, c] = await Promise.all(["a", "b", "c"].map((name) => echo.channel(name)));
      assert.ok(a !== undefined && b !== undefined && c !== undefined);
      assert.equal(a.peers.size, 3);
      for (const channel of [a, b, c]) assert.ok(a.peers.has(channel));
      assert.deepEqual(new Set(b.peers), new Set(echo.handler.connections));

      await peers[1]!.close();
      await echo.closed("b");
      assert.equal(a.peers.size, 2);
      assert.ok(!a.peers.has(b), "a closed channel leaves the peer set");
      assert.ok(a.peers.has(a) && a.peers.has(c));
      await Promise.all([peers[0]!.close(), peers[2]!.close()]);
      await echo.waitFor(() => echo.closes.length === 3, "all closed");
      assert.equal(a.peers.size, 0);
    } finally {
      await echo.close();
    }
  });

  test("channel.protocol: the `protocols` option selects one the client offered", TEST, async () => {
    const seen: string[] = [];
    const handler = handshake(
      {
        onConnect({ channel }) {
          seen.push(channel.protocol);
        },
      },
      { protocols: ["chat.v2", "chat.v1"] },
    );
    const server = await serve(handler, { port: 0 });
    try {
      const peer = await Peer.open(server.url, ["chat.v1", "chat.v2"]);
      assert.equal(peer.ws.protocol, "chat.v1", "the client's first offer the server speaks");
      await peer.close();
      const only = await Peer.open(server.url, ["other", "chat.v2"]);
      assert.equal(only.ws.protocol, "chat.v2");
      await only.close();
      assert.deepEqual(seen, ["chat.v1", "chat.v2"]);

      const none = await rawUpgrade(server.url, { "Sec-WebSocket-Protocol": "other, unknown" });
      assert.equal(none.status, 101);
      assert.equal(none.headers["sec-websocket-protocol"], undefined, "nothing selected, no header");
    } finally {
      await stop(server);
    }
  });

  test("channel.protocol: a selector function", TEST, async () => {
    const handler = handshake({}, { protocols: (offered) => (offered.includes("b") ? "b" : undefined) });
    const server = await serve(handler, { port: 0 });
    try {
      const peer = await Peer.open(server.url, ["a", "b"]);
      assert.equal(peer.ws.protocol, "b");
      const [channel] = [...handler.connections];
      assert.equal(channel?.protocol, "b");
      await peer.close();
    } finally {
      await stop(server);
    }
  });

  test(
    'without the `protocols` option: protocol is "" and no header is sent, even when offered',
    TEST,
    async () => {
      const echo = await startEchoServer();
      try {
        const raw = await rawUpgrade(echo.urlFor("raw"), { "Sec-WebSocket-Protocol": "chat" });
        assert.equal(raw.status, 101);
        assert.equal(raw.headers["sec-websocket-protocol"], undefined);
        assert.equal((await echo.channel("raw")).protocol, "");

        // Clients that offered a subprotocol refuse a 101 without one (RFC 6455 §4.1, WHATWG): that
        // the server sent none is exactly what makes them give up.
        const offered = new UndiciWebSocket(echo.urlFor("undici"), ["chat"]);
        const outcome = await withTimeout(
          new Promise<string>((resolve) => {
            offered.addEventListener("open", () => resolve("open"));
            offered.addEventListener("error", () => resolve("error"));
          }),
          WAIT,
          "undici handshake outcome",
        );
        assert.equal(outcome, "error", "undici must not accept a subprotocol it was not sent");
        // undici 7 leaves the TCP connection of a failed HTTP/1.1 handshake open; drop it here so
        // that echo.close() need not wait closeTimeout for a peer that never answers.
        const refused = await echo.channel("undici");
        assert.equal(refused.protocol, "");
        refused.terminate();
        assert.equal((await echo.closed("undici")).code, 1006);

        // Without an offer, clients open and `protocol` is "" on both sides.
        const plain = await Peer.open(echo.urlFor("plain"));
        assert.equal(plain.ws.protocol, "");
        assert.equal((await echo.channel("plain")).protocol, "");
        await plain.close();
      } finally {
        await echo.close();
      }
    },
  );

  test("channel.data is per connection", TEST, async () => {
    interface Session {
      readonly name: string;
      count: number;
    }
    const handler = handshake<Session>({
      onConnect({ channel, exchange }) {
        channel.data = { name: exchange.url.searchParams.get("name") ?? "?", count: 0 };
      },
      onMessage({ channel, text }) {
        const session = channel.data!;
        session.count++;
        void channel.sendText(`${session.name}#${session.count}:${text ?? ""}`);
      },
    });
    const server = await serve(handler, { port: 0 });
    try {
      const alice = await Peer.open(`${server.url}/?name=alice`);
      const bob = await Peer.open(`${server.url}/?name=bob`);
      alice.ws.send("x");
      bob.ws.send("y");
      alice.ws.send("z");
      bob.ws.send("w");
      assert.equal(await alice.nextText(), "alice#1:x");
      assert.equal(await alice.nextText(), "alice#2:z");
      assert.equal(await bob.nextText(), "bob#1:y");
      assert.equal(await bob.nextText(), "bob#2:w");
      const names = [...handler.connections].map((channel) => channel.data?.name).sort();
      assert.deepEqual(names, ["alice", "bob"]);
      await Promise.all([alice.close(), bob.close()]);
    } finally {
      await stop(server);
    }
  });
});

describe("composition", () => {
  /** Callbacks that answer every text with `<tag>:<text>`. */
  const tagged = (tag: string): Callbacks => ({
    onMessage({ channel, text }) {
      void channel.sendText(`${tag}:${text ?? ""}`);
    },
  });

  test(
    "handshake(next, callbacks, { path }): plain requests reach next, upgrades only on the path",
    TEST,
    async () => {
      const handler = handshake((req, res) => res.end(`next saw ${req.url ?? ""}`), tagged("A"), {
        path: "/a",
      });
      const server = await serve(handler, { port: 0 });
      try {
        assert.deepEqual(
          { status: 200, body: "next saw /" },
          await httpGet(`${server.url}/`).then(({ status, body }) => ({ status, body })),
        );
        assert.equal((await httpGet(`${server.url}/a?x=1`)).body, "next saw /a?x=1");

        const peer = await Peer.open(`${server.url}/a?x=1`);
        peer.ws.send("hi");
        assert.equal(await peer.nextText(), "A:hi");
        await peer.close();

        assert.equal((await rawUpgrade(`${server.url}/elsewhere`)).status, 404);
      } finally {
        await stop(server);
      }
    },
  );

  test("two handlers on one server by path", TEST, async () => {
    const closes: string[] = [];
    const b = handshake(
      {
        ...tagged("B"),
        onClose: ({ code }) => void closes.push(`B ${code}`),
      },
      { path: "/b" },
    );
    const a = handshake(
      b,
      {
        ...tagged("A"),
        onClose: ({ code }) => void closes.push(`A ${code}`),
      },
      { path: "/a" },
    );
    const server = await serve(a, { port: 0 });
    let stopped = false;
    try {
      const peerA = await Peer.open(`${server.url}/a`);
      const peerB = await Peer.open(`${server.url}/b`);
      peerA.ws.send("1");
      peerB.ws.send("2");
      assert.equal(await peerA.nextText(), "A:1");
      assert.equal(await peerB.nextText(), "B:2");
      assert.equal(a.connections.size, 1);
      assert.equal(b.connections.size, 1);

      assert.equal((await rawUpgrade(`${server.url}/c`)).status, 404, "unknown path refused");
      const plain = await httpGet(`${server.url}/a`);
      assert.equal(plain.status, 426, "a plain request falls through to b, which has no next");
      assert.match(String(plain.headers.upgrade), /websocket/i);

      // Closing the outer handler closes the inner one too.
      await stop(server);
      stopped = true;
      assert.equal((await peerA.waitClosed()).code, 1001);
      assert.equal((await peerB.waitClosed()).code, 1001);
      assert.deepEqual(closes.sort(), ["A 1001", "B 1001"]);
    } finally {
      if (!stopped) await stop(server);
    }
  });

  test("as Express-style middleware: plain requests fall through to next()", TEST, async () => {
    const handler = handshake(tagged("M"));
    const calls: string[] = [];
    // A minimal Express-like chain: logger → websocket handler → final handler.
    const http = createServer((req, res) => {
      calls.push(`log ${req.url ?? ""}`);
      handler(req, res, (error?: unknown) => {
        calls.push(`next ${error === undefined ? "" : "with error"}`.trim());
        res.end("fell through");
      });
    });
    http.on("upgrade", handler.upgrade);
    const url = await listen(http);
    try {
      const plain = await httpGet(`${url}/page`);
      assert.deepEqual([plain.status, plain.body], [200, "fell through"]);
      assert.deepEqual(calls, ["log /page", "next"]);

      const peer = await Peer.open(`${url}/ws`);
      peer.ws.send("via middleware");
      assert.equal(await peer.nextText(), "M:via middleware");
      await peer.close();
    } finally {
      await withTimeout(handler.close(), WAIT, "handler.close()");
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });

  test("handshake(next, …) as middleware passes next() on to its next handler", TEST, async () => {
    const handler = handshake(
      (_req, res, next) => (next !== undefined ? next() : res.end("no next")),
      tagged("N"),
      {
        path: "/ws",
      },
    );
    const http = createServer((req, res) => handler(req, res, () => res.end("final")));
    http.on("upgrade", handler.upgrade);
    const url = await listen(http);
    try {
      assert.equal((await httpGet(`${url}/x`)).body, "final");
      const peer = await Peer.open(`${url}/ws`);
      peer.ws.send("ok");
      assert.equal(await peer.nextText(), "N:ok");
      await peer.close();
    } finally {
      await withTimeout(handler.close(), WAIT, "handler.close()");
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });
});
