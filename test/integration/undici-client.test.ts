/**
 * Integration with a real client: undici's `WebSocket` (the WHATWG client behind Node's global
 * `WebSocket`) talks to an undercurrent echo server (maxPayload 16 MiB). The browser API has no
 * ping method and no ping event: pings are sent with undici's `ping()` export and observed on
 * undici's diagnostics channels `undici:websocket:ping` / `undici:websocket:pong`.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import diagnosticsChannel from "node:diagnostics_channel";
import { WebSocket, ping } from "undici";
import { startEchoServer, withTimeout, type EchoServer } from "../helpers/echo-server.js";

const MiB = 1024 * 1024;
const WAIT = 10_000;
const TEST = { timeout: 30_000 };
const BIG_TEST = { timeout: 60_000 };

/** One message as the client received it. */
type Received = { readonly text: string } | { readonly data: Buffer };

/** An undici client with a message queue and the close it saw. */
class Peer {
  readonly ws: WebSocket;
  readonly closed: Promise<{ code: number; reason: string; wasClean: boolean }>;
  readonly #queue: Received[] = [];
  readonly #waiters: Array<(message: Received) => void> = [];
  readonly log: string[] = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.binaryType = "arraybuffer";
    ws.addEventListener("message", (event) => {
      const payload: unknown = event.data;
      let message: Received;
      if (typeof payload === "string") message = { text: payload };
      else if (payload instanceof ArrayBuffer) message = { data: Buffer.from(payload) };
      else throw new Error(`unexpected message data: ${String(payload)}`);
      this.log.push("text" in message ? "text" : "binary");
      const waiter = this.#waiters.shift();
      if (waiter !== undefined) waiter(message);
      else this.#queue.push(message);
    });
    this.closed = new Promise((resolve) => {
      ws.addEventListener("close", (event) => {
        this.log.push("close");
        resolve({ code: event.code, reason: event.reason, wasClean: event.wasClean });
      });
    });
    ws.addEventListener("error", (event) => this.log.push(`error: ${event.message}`));
  }

  static async open(url: string, protocols?: string[]): Promise<Peer> {
    const ws = new WebSocket(url, protocols);
    const peer = new Peer(ws);
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        ws.addEventListener("open", () => resolve(), { once: true });
        ws.addEventListener("error", (event) => reject(new Error(`open failed: ${event.message}`)), {
          once: true,
        });
      }),
      WAIT,
      `open ${url}`,
    );
    return peer;
  }

  next(label = "next message"): Promise<Received> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return withTimeout(
      new Promise<Received>((resolve) => this.#waiters.push(resolve)),
      WAIT,
      `${label} (client log: ${this.log.slice(-5).join(", ")})`,
    );
  }

  async nextText(): Promise<string> {
    const message = await this.next();
    assert.ok("text" in message, "expected a text message, got binary");
    return message.text;
  }

  async nextBinary(): Promise<Buffer> {
    const message = await this.next();
    assert.ok("data" in message, "expected a binary message, got text");
    return message.data;
  }

  waitClosed(): Promise<{ code: number; reason: string; wasClean: boolean }> {
    return withTimeout(this.closed, WAIT, `client close event (client log: ${this.log.join(", ")})`);
  }
}

/** Resolves with the payload of the next ping or pong that `ws` receives, seen on undici's diagnostics channel. */
function nextControl(kind: "ping" | "pong", ws: WebSocket): Promise<Buffer> {
  const name = `undici:websocket:${kind}`;
  let listener: ((message: unknown) => void) | undefined;
  const seen = new Promise<Buffer>((resolve) => {
    listener = (message: unknown) => {
      const { payload, websocket } = message as { payload: Uint8Array; websocket: unknown };
      if (websocket === ws) resolve(Buffer.from(payload));
    };
    diagnosticsChannel.subscribe(name, listener);
  });
  return withTimeout(seen, WAIT, `${kind} on the undici client`).finally(() => {
    if (listener !== undefined) diagnosticsChannel.unsubscribe(name, listener);
  });
}

/** ASCII text of exactly `length` bytes. */
function textOf(length: number): string {
  return "abcdefghijklmnopqrstuvwxyz0123456789".repeat(Math.ceil(length / 36)).slice(0, length);
}

let echo: EchoServer;
let nextId = 0;
const id = (name: string): string => `undici-${name}-${nextId++}`;

before(async () => {
  echo = await startEchoServer({ maxPayload: 16 * MiB });
});

after(async () => {
  await echo.close();
});

describe("undici client: messages", () => {
  test("text is echoed as text", TEST, async () => {
    const peer = await Peer.open(echo.urlFor(id("text")));
    peer.ws.send("hello");
    assert.equal(await peer.nextText(), "hello");
    const unicode = "héllo wörld 🌊 波";
    peer.ws.send(unicode);
    assert.equal(await peer.nextText(), unicode);
    peer.ws.close(1000);
    await peer.waitClosed();
  });

  test("binary is echoed as binary", TEST, async () => {
    const peer = await Peer.open(echo.urlFor(id("binary")));
    const bytes = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x80, 0x7f]);
    peer.ws.send(bytes);
    assert.deepEqual(await peer.nextBinary(), bytes);
    peer.ws.close(1000);
    await peer.waitClosed();
  });

  for (const size of [0, 125, 126, 65535, 65536, 16 * MiB]) {
    const options = size >= MiB ? BIG_TEST : TEST;
    test(`${size} B text message round-trips`, options, async () => {
      const peer = await Peer.open(echo.urlFor(id(`text${size}`)));
      const text = textOf(size);
      peer.ws.send(text);
      const back = await peer.nextText();
      assert.equal(back.length, size);
      assert.ok(back === text, "echoed text differs");
      peer.ws.close(1000);
      await peer.waitClosed();
    });

    test(`${size} B binary message round-trips`, options, async () => {
      const peer = await Peer.open(echo.urlFor(id(`binary${size}`)));
      const bytes = randomBytes(size);
      peer.ws.send(bytes);
      const back = await peer.nextBinary();
      assert.equal(back.length, size);
      assert.ok(back.equals(bytes), "echoed bytes differ");
      peer.ws.close(1000);
      await peer.waitClosed();
    });
  }

  test("1000 messages come back in order", TEST, async () => {
    const peer = await Peer.open(echo.urlFor(id("order")));
    for (let i = 0; i < 1000; i++) {
      if (i % 2 === 0) peer.ws.send(`message ${i}`);
      else peer.ws.send(Buffer.from(`message ${i}`));
    }
    for (let i = 0; i < 1000; i++) {
      const message = await peer.next(`message ${i}`);
      if (i % 2 === 0) assert.deepEqual(message, { text: `message ${i}` });
      else assert.deepEqual(message, { data: Buffer.from(`message ${i}`) });
    }
    peer.ws.close(1000);
    await peer.waitClosed();
  });
});

describe("undici client: pings", () => {
  test("a client ping is answered by a pong with the same payload", TEST, async () => {
    const peer = await Peer.open(echo.urlFor(id("ping")));
    for (const payload of [Buffer.alloc(0), Buffer.from("are you there?"), randomBytes(125)]) {
      const pong = nextControl("pong", peer.ws);
      ping(peer.ws, payload);
      assert.deepEqual(await pong, payload);
    }
    peer.ws.close(1000);
    await peer.waitClosed();
  });

  test("a server channel.ping() reaches the client", TEST, async () => {
    const name = id("server-ping");
    const peer = await Peer.open(echo.urlFor(name));
    const channel = await echo.channel(name);
    const seen = nextControl("ping", peer.ws);
    await channel.ping(Buffer.from("server ping"));
    assert.deepEqual(await seen, Buffer.from("server ping"));
    // The connection still works after the ping (the client's automatic pong was accepted).
    peer.ws.send("after ping");
    assert.equal(await peer.nextText(), "after ping");
    peer.ws.close(1000);
    await peer.waitClosed();
  });
});

describe("undici client: closing", () => {
  test("client closes with 1000: onClose sees 1000, the client sees it echoed", TEST, async () => {
    const name = id("close1000");
    const peer = await Peer.open(echo.urlFor(name));
    await echo.channel(name);
    peer.ws.close(1000);
    const seen = await peer.waitClosed();
    assert.equal(seen.code, 1000);
    assert.equal(seen.wasClean, true);
    const record = await echo.closed(name);
    assert.deepEqual(record, { id: name, code: 1000, reason: "" });
    assert.equal(echo.closesOf(name).length, 1);
  });

  test("client closes with 4001 and a reason: onClose sees both, the code is echoed", TEST, async () => {
    const name = id("close4001");
    const peer = await Peer.open(echo.urlFor(name));
    await echo.channel(name);
    peer.ws.close(4001, "client is done");
    const seen = await peer.waitClosed();
    assert.equal(seen.code, 4001);
    assert.equal(seen.wasClean, true);
    const record = await echo.closed(name);
    assert.deepEqual(record, { id: name, code: 4001, reason: "client is done" });
    assert.equal(echo.closesOf(name).length, 1);
  });

  test("server channel.close(4002, 'bye'): the client sees 4002 and 'bye'", TEST, async () => {
    const name = id("close4002");
    const peer = await Peer.open(echo.urlFor(name));
    const channel = await echo.channel(name);
    await withTimeout(channel.close(4002, "bye"), WAIT, "channel.close()");
    const seen = await peer.waitClosed();
    assert.deepEqual(seen, { code: 4002, reason: "bye", wasClean: true });
    await echo.closed(name);
    assert.equal(echo.closesOf(name).length, 1);
  });

  test("a message sent just before close reaches the client before the close", TEST, async () => {
    const name = id("send-then-close");
    const peer = await Peer.open(echo.urlFor(name));
    const channel = await echo.channel(name);
    const sent = channel.sendText("last words");
    const closing = channel.close(1000, "done");
    await withTimeout(Promise.all([sent, closing]), WAIT, "send and close");
    const seen = await peer.waitClosed();
    assert.deepEqual(seen, { code: 1000, reason: "done", wasClean: true });
    assert.deepEqual(peer.log, ["text", "close"]);
    assert.equal(await peer.nextText(), "last words");
  });

  test("a message over maxPayload closes with 1009", BIG_TEST, async () => {
    const name = id("too-big");
    const peer = await Peer.open(echo.urlFor(name));
    await echo.channel(name);
    peer.ws.send(Buffer.alloc(16 * MiB + 1));
    const seen = await peer.waitClosed();
    assert.equal(seen.code, 1009);
    const record = await echo.closed(name);
    assert.equal(record.code, 1009);
    assert.equal(echo.closesOf(name).length, 1);
    assert.ok(!peer.log.includes("binary"), "the oversized message must not be echoed");
  });

  test("server.close() with open clients: each sees 1001, each onClose fires once", TEST, async () => {
    const local = await startEchoServer();
    try {
      const names = ["a", "b", "c", "d", "e"];
      const peers = await Promise.all(names.map((name) => Peer.open(local.urlFor(name))));
      await Promise.all(names.map((name) => local.channel(name)));
      peers.forEach((peer, i) => peer.ws.send(`hi ${i}`));
      for (const [i, peer] of peers.entries()) assert.equal(await peer.nextText(), `hi ${i}`);

      await local.close();
      const seen = await Promise.all(peers.map((peer) => peer.waitClosed()));
      for (const close of seen) assert.equal(close.code, 1001);
      assert.equal(local.connects, names.length);
      assert.equal(local.closes.length, names.length);
      for (const name of names) assert.equal(local.closesOf(name).length, 1, `onClose of ${name}`);
    } finally {
      await local.close().catch(() => {});
    }
  });
});

describe("undici client: the echo server's bookkeeping", () => {
  test("no callback errors except the 1009 failure, and every onClose fired once", TEST, async () => {
    await echo.waitFor(() => echo.closes.length === echo.connects, "every onClose");
    const ids = echo.closes.map((record) => record.id);
    assert.equal(new Set(ids).size, ids.length, "an onClose fired twice");
    const unexpected = echo.errors.filter((record) => !record.id.startsWith("undici-too-big"));
    assert.deepEqual(unexpected, []);
  });
});
