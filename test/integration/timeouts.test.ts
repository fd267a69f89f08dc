/**
 * Time limits: idle peers are pinged then dropped, live peers are kept, and a client that
 * trickles its upgrade request (slowloris) or sends oversized headers is cut. Infinity means
 * "never" for every timeout (issue 12): those tests run the server's timers on node:test's fake
 * clock, which fires a delay Node cannot honour after 1 ms as Node does, and advance it past
 * 2³¹ ms; what they wait for are events, never sleeps.
 */
import { describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { once } from "node:events";
import { WebSocket } from "ws";
import {
  handshake,
  serve,
  InvalidArgumentError,
  SendTimeoutError,
  type Channel,
  type CloseEvent,
  type SendOptions,
} from "../../src/index.js";
import { RawClient, Opcode } from "../helpers/raw-client.js";
import { UPGRADE } from "../helpers/frames.js";

const BEYOND_ANY_TIMER = 2 ** 31 + 1000;

/**
 * Puts the server's timers (and the client helpers' deadlines) on the fake clock. `tick(ms)`
 * first steps 1 ms at a time, where a delay Node clamped fires, then jumps the rest; a test
 * whose clamped timer would be an interval checks its connection between the two (`steps()`,
 * then `jump(ms)`), or the jump would run that interval 2³¹ times.
 */
function fakeClock(t: TestContext): { steps(): void; jump(ms: number): void; tick(ms: number): void } {
  t.mock.timers.enable({ apis: ["setTimeout", "setInterval"] });
  const steps = (): void => {
    for (let i = 0; i < 8; i++) t.mock.timers.tick(1);
  };
  const jump = (ms: number): void => t.mock.timers.tick(ms);
  return { steps, jump, tick: (ms) => (steps(), jump(ms)) };
}

/** Resolves with the first value given to `settle`. */
function deferred<V = void>(): { promise: Promise<V>; settle(value: V): void } {
  let settle!: (value: V) => void;
  const promise = new Promise<V>((resolve) => (settle = resolve));
  return { promise, settle };
}

/** Writes an upgrade request over plain TCP; resolves with the status of the answer. */
function rawUpgrade(port: number): { socket: Socket; status: Promise<number> } {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => {});
  socket.write(UPGRADE);
  const status = new Promise<number>((resolve, reject) => {
    let head = "";
    socket.on("data", (chunk: Buffer) => {
      head += chunk.toString("latin1");
      const line = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (line !== null) resolve(Number(line[1]));
    });
    socket.on("close", () => reject(new Error(`closed without an answer: ${JSON.stringify(head)}`)));
  });
  return { socket, status };
}

test("a dead peer is pinged at half the idle timeout, then dropped; onClose reports 1006", async () => {
  const closes: CloseEvent[] = [];
  const server = await serve(handshake({ onClose: (e) => void closes.push(e) }, { idleTimeout: 400 }), {
    port: 0,
  });
  try {
    const client = await RawClient.connect(server.url, { autoPong: false, replyToClose: false });
    const ping = await client.nextFrame(3000);
    assert.equal(ping.opcode, Opcode.Ping, "the server asks for a sign of life");
    const end = await client.closed(3000);
    assert.equal(end.by, "server");
    await waitFor(() => closes.length === 1);
    assert.equal(closes[0]!.code, 1006);
  } finally {
    await server.close();
  }
});

test("a peer that answers pings stays connected past the idle timeout", async () => {
  let closed = 0;
  const server = await serve(handshake({ onClose: () => void closed++ }, { idleTimeout: 300 }), { port: 0 });
  try {
    const client = new WebSocket(server.url); // ws answers pings with pongs by itself
    await once(client, "open");
    let pings = 0;
    client.on("ping", () => pings++);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    assert.equal(client.readyState, WebSocket.OPEN);
    assert.ok(pings >= 1, "the silent but live client was pinged");
    assert.equal(closed, 0);
    client.close();
    await once(client, "close");
  } finally {
    await server.close();
  }
});

test("slowloris: a client trickling its upgrade request is cut after handshakeTimeout", async () => {
  const server = await serve(handshake({}, { handshakeTimeout: 500 }), { port: 0 });
  const socket = connect(server.port, "127.0.0.1");
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  let trickle: NodeJS.Timeout | undefined;
  try {
    await once(socket, "connect");
    socket.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    trickle = setInterval(() => socket.writable && socket.write("X-Slow: a\r\n"), 100);
    const cut = await Promise.race([
      closed.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 8000)),
    ]);
    assert.ok(cut, "the server closed the connection");
  } finally {
    clearInterval(trickle);
    socket.destroy();
    await server.close();
  }
});

test("an upgrade request with oversized headers is refused with 431", async () => {
  const server = await serve(handshake({}), { port: 0 });
  try {
    const error = await RawClient.connect(server.url, { headers: { "X-Big": "a".repeat(20_000) } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof Error && "status" in error);
    assert.equal(error.status, 431);
  } finally {
    await server.close();
  }
});

describe("Infinity means never", () => {
  test("idleTimeout: Infinity neither pings nor drops a silent peer", async (t) => {
    const clock = fakeClock(t);
    const closes: number[] = [];
    const server = await serve(
      handshake(
        {
          onMessage: ({ channel, text }) => void channel.sendText(text ?? ""),
          onClose: ({ code }) => void closes.push(code),
        },
        { idleTimeout: Infinity },
      ),
    );
    try {
      const client = await RawClient.connect(server.url, { autoPong: false });
      clock.steps();
      await client.sendMessage(Opcode.Text, "still here");
      const echo = await client.nextFrame();
      assert.equal(echo.opcode, Opcode.Text, "the first frame is the echo, not a ping or a close");
      assert.equal(echo.payload.toString(), "still here");
      clock.jump(BEYOND_ANY_TIMER);
      await client.sendMessage(Opcode.Text, "and now");
      assert.equal((await client.nextFrame()).payload.toString(), "and now");
      assert.deepEqual(closes, []);
      await client.sendClose({ code: 1000 });
      await client.closed();
    } finally {
      t.mock.timers.reset();
      await server.close();
    }
  });

  test("closeTimeout: Infinity waits for a peer that answers our close late", async (t) => {
    const clock = fakeClock(t);
    const closed = deferred<CloseEvent>();
    const server = await serve(
      handshake(
        { onConnect: ({ channel }) => void channel.close(4000, "bye"), onClose: (e) => closed.settle(e) },
        { closeTimeout: Infinity, idleTimeout: 0 }, // the idle sweeper would rightly drop it
      ),
    );
    try {
      const client = await RawClient.connect(server.url, { replyToClose: false });
      const frame = await client.nextFrame();
      assert.equal(frame.opcode, Opcode.Close);
      clock.tick(BEYOND_ANY_TIMER);
      await client.sendClose({ code: 4001, reason: "late" });
      const event = await closed.promise;
      assert.deepEqual([event.code, event.reason], [4001, "late"], "a clean close, not a cut (1006)");
      await client.closed();
    } finally {
      t.mock.timers.reset();
      await server.close();
    }
  });

  test("handshakeTimeout: Infinity lets an async onUpgrade take as long as it takes", async (t) => {
    const clock = fakeClock(t);
    const asked = deferred();
    const decision = deferred();
    const server = await serve(
      handshake(
        {},
        {
          handshakeTimeout: Infinity,
          onUpgrade: () => {
            asked.settle();
            return decision.promise;
          },
        },
      ),
    );
    const { socket, status } = rawUpgrade(server.port);
    try {
      await asked.promise;
      clock.tick(BEYOND_ANY_TIMER);
      decision.settle();
      assert.equal(await status, 101, 'accepted, not 503 "upgrade check timed out"');
    } finally {
      socket.destroy();
      t.mock.timers.reset();
      await server.close();
    }
  });

  test("serve() with handshakeTimeout: Infinity sets no HTTP header or request timeout", async () => {
    const server = await serve(handshake({}, { handshakeTimeout: Infinity }));
    try {
      assert.equal(server.http.headersTimeout, 0, "Node's 0: no limit");
      assert.equal(server.http.requestTimeout, 0);
    } finally {
      await server.close();
    }
  });

  test("a send's timeout: Infinity sets no timer", async (t) => {
    const connected = deferred<Channel>();
    const server = await serve(
      handshake({ onConnect: ({ channel }) => connected.settle(channel) }, { idleTimeout: Infinity }),
    );
    try {
      const client = await RawClient.connect(server.url);
      const channel = await connected.promise;
      const clock = fakeClock(t);
      const sends = [
        channel.sendText("text", { timeout: Infinity }),
        channel.sendBinary(Buffer.from("bytes"), { timeout: Infinity }),
        channel.sendBinary(Buffer.alloc(64 * 1024), { timeout: Infinity, callback: () => {} }),
        channel.ping(Buffer.from("p"), { timeout: Infinity }),
      ];
      clock.tick(BEYOND_ANY_TIMER); // before any write completes: a clamped timer fires here
      for (const send of sends) assert.equal(await send, "sent");
      assert.equal((await client.nextFrame()).payload.toString(), "text");
    } finally {
      t.mock.timers.reset();
      await server.close();
    }
  });
});

describe("a send's timeout no timer can honour", () => {
  const invalid: readonly unknown[] = [NaN, -1, 0, 1.5, 2 ** 31, Number.MAX_SAFE_INTEGER, -Infinity, "100"];

  test("rejects with InvalidArgumentError (never throws), tells the callback, sends nothing", async () => {
    const connected = deferred<Channel>();
    const server = await serve(handshake({ onConnect: ({ channel }) => connected.settle(channel) }));
    try {
      const client = await RawClient.connect(server.url);
      const channel = await connected.promise;
      for (const timeout of invalid) {
        const label = `timeout ${String(timeout)}`;
        const told: unknown[] = [];
        const options = { timeout, callback: (error?: Error) => told.push(error) } as SendOptions;
        for (const send of [
          () => channel.sendText("no", options),
          () => channel.sendBinary(Buffer.from("no"), options),
          () => channel.ping(undefined, options),
        ]) {
          await assert.rejects(send(), InvalidArgumentError, label);
        }
        assert.equal(told.length, 3, label);
        assert.ok(
          told.every((e) => e instanceof InvalidArgumentError),
          label,
        );
      }
      await channel.sendText("the only message", { timeout: 2 ** 31 - 1 });
      const frame = await client.nextFrame();
      assert.equal(frame.payload.toString(), "the only message", "nothing of the refused sends went out");
    } finally {
      await server.close();
    }
  });

  test("a valid timeout still fires: SendTimeoutError on the fake clock", async (t) => {
    const connected = deferred<Channel>();
    const server = await serve(handshake({ onConnect: ({ channel }) => connected.settle(channel) }));
    try {
      await RawClient.connect(server.url);
      const channel = await connected.promise;
      t.mock.timers.enable({ apis: ["setTimeout"] });
      const send = channel.sendText("late", { timeout: 10 });
      t.mock.timers.tick(10);
      await assert.rejects(send, SendTimeoutError);
    } finally {
      t.mock.timers.reset();
      await server.close();
    }
  });
});

async function waitFor(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
