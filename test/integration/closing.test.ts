/**
 * The end of a connection: a peer that never answers our close is cut after closeTimeout, a TCP
 * reset is reported as 1006, and onClose fires exactly once either way.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { handshake, serve, type CloseEvent } from "../../src/index.js";
import { UPGRADE } from "../helpers/frames.js";

async function rawUpgrade(port: number): Promise<{ socket: Socket; received: Buffer[] }> {
  const socket = connect(port, "127.0.0.1");
  const received: Buffer[] = [];
  socket.on("data", (chunk) => received.push(chunk));
  socket.on("error", () => {});
  socket.write(UPGRADE);
  await new Promise<void>((resolve) => socket.once("data", () => resolve()));
  return { socket, received };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

test("a peer that never answers our close frame is cut after closeTimeout; onClose says 1006", async () => {
  const closed = deferred<CloseEvent>();
  let closes = 0;
  const handler = handshake(
    {
      onConnect({ channel }) {
        void channel.close(4000, "go");
      },
      onClose(event) {
        closes++;
        closed.resolve(event);
      },
    },
    { closeTimeout: 200 },
  );
  const server = await serve(handler, { port: 0 });
  try {
    const { socket, received } = await rawUpgrade(server.port);
    const socketClosed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    // The client reads the close frame but never answers and never closes.
    const event = await closed.promise;
    assert.equal(event.code, 1006);
    await socketClosed;
    const bytes = Buffer.concat(received);
    const frame = bytes.subarray(bytes.indexOf("\r\n\r\n") + 4);
    assert.deepEqual([...frame.subarray(0, 4)], [0x88, 0x04, 0x0f, 0xa0]);
    assert.equal(closes, 1);
  } finally {
    await server.close();
  }
});

test("channel.close() resolves once the peer answered and TCP closed", async () => {
  const { WebSocket } = await import("ws");
  let serverClose: Promise<void> | undefined;
  const closed = deferred<CloseEvent>();
  const handler = handshake({
    onConnect({ channel }) {
      serverClose = channel.close(4001, "done");
    },
    onClose: (event) => closed.resolve(event),
  });
  const server = await serve(handler, { port: 0 });
  try {
    const client = new WebSocket(server.url);
    const clientSaw = await new Promise<[number, string]>((resolve) =>
      client.once("close", (code, reason) => resolve([code, reason.toString()])),
    );
    assert.deepEqual(clientSaw, [4001, "done"]);
    await serverClose;
    assert.equal((await closed.promise).code, 4001);
  } finally {
    await server.close();
  }
});

test("a TCP connection dropped without a close frame is reported once as 1006", async () => {
  const closed = deferred<CloseEvent>();
  let closes = 0;
  const handler = handshake({
    onClose(event) {
      closes++;
      closed.resolve(event);
    },
  });
  const server = await serve(handler, { port: 0 });
  try {
    const { socket } = await rawUpgrade(server.port);
    socket.resetAndDestroy();
    const event = await closed.promise;
    assert.deepEqual([event.code, event.reason], [1006, ""]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(closes, 1);
  } finally {
    await server.close();
  }
});

test("server.close() sends 1001 to every client and waits for them", async () => {
  const { WebSocket } = await import("ws");
  const codes: number[] = [];
  const handler = handshake({ onClose: ({ code }) => void codes.push(code) });
  const server = await serve(handler, { port: 0 });
  const clients = Array.from({ length: 5 }, () => new WebSocket(server.url));
  await Promise.all(clients.map((c) => new Promise((resolve) => c.once("open", resolve))));
  const seen = clients.map((c) => new Promise<number>((resolve) => c.once("close", (code) => resolve(code))));
  await server.close();
  assert.deepEqual(await Promise.all(seen), [1001, 1001, 1001, 1001, 1001]);
  assert.deepEqual(codes, [1001, 1001, 1001, 1001, 1001]);
  assert.equal(handler.connections.size, 0);
});

test("handler.close() with an invalid code or reason rejects and changes nothing", async () => {
  const { WebSocket } = await import("ws");
  const { InvalidArgumentError } = await import("../../src/index.js");
  let nextClosed = 0;
  const next = Object.assign((_request: unknown, response: { end(): void }) => response.end(), {
    close: async () => void nextClosed++,
  });
  const handler = handshake(next, { onConnect: ({ channel }) => void channel.subscribe("room") });
  const server = await serve(handler, { port: 0 });
  const open = async () => {
    const client = new WebSocket(server.url);
    const closed = new Promise<number>((resolve) => client.once("close", (code) => resolve(code)));
    await new Promise((resolve, reject) => client.once("open", resolve).once("error", reject));
    return { client, closed };
  };
  try {
    const first = await open();
    const invalid: Array<[unknown, unknown]> = [
      [1005, "reserved"],
      [1006, undefined],
      [999, undefined],
      [5000, undefined],
      [1000.5, undefined],
      [NaN, undefined],
      ["1000", undefined],
      [1000, "x".repeat(124)],
      [1000, 42],
    ];
    for (const [code, reason] of invalid) {
      await assert.rejects(
        handler.close(code as number, reason as string),
        InvalidArgumentError,
        `close(${String(code)}, ${String(reason)})`,
      );
    }
    assert.equal(first.client.readyState, WebSocket.OPEN, "the open connection was not touched");
    assert.equal(handler.subscriberCount("room"), 1, "topics still work");
    const second = await open(); // not 503: the handler is not shutting down
    assert.equal(handler.subscriberCount("room"), 2);
    assert.equal(nextClosed, 0, "the next handler was not closed");

    await handler.close(4000, "bye");
    assert.deepEqual(await Promise.all([first.closed, second.closed]), [4000, 4000]);
    assert.equal(nextClosed, 1);
  } finally {
    await server.close();
  }
});
