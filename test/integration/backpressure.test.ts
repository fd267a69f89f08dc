/**
 * Slow readers never make the server hold unbounded memory: the backpressure policies (close,
 * drop), read throttling for a peer that floods without reading, and onDrain.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { once } from "node:events";
import { handshake, serve, type Channel, type Options, type SendStatus } from "../../src/index.js";
import { Opcode } from "../../src/protocol/opcodes.js";
import { clientFrame, decodeServerFrames, UPGRADE } from "../helpers/frames.js";

/** Upgrades, then stops reading: a peer that does not read what it is sent. */
async function nonReader(port: number): Promise<{ socket: Socket; received: Buffer[] }> {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => {});
  const received: Buffer[] = [];
  socket.write(UPGRADE);
  const [first] = (await once(socket, "data")) as [Buffer];
  received.push(first);
  socket.pause();
  socket.on("data", (chunk: Buffer) => received.push(chunk));
  return { socket, received };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const LIMIT = 1024 * 1024;
const MESSAGE = Buffer.alloc(64 * 1024, 1);

/**
 * Sends 64 KiB messages until the policy answers (at most 1000, 64 MiB) and records the peak
 * buffer. `statuses` settles only once the peer has read what was sent.
 */
async function fill(
  channel: Channel,
): Promise<{ statuses: Promise<Array<SendStatus | string>>; peak: number }> {
  const results: Array<Promise<SendStatus | string>> = [];
  let peak = 0;
  let dropped = false;
  for (let i = 0; i < 1000 && !dropped && channel.readyState === 1; i++) {
    const sent = channel.sendBinary(MESSAGE);
    results.push(sent.catch((error: { code?: string }) => error.code ?? "error"));
    void sent.then(
      (status) => (dropped ||= status === "dropped"),
      () => {},
    );
    peak = Math.max(peak, channel.bufferedAmount);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { statuses: Promise.all(results), peak };
}

async function withServer(
  options: Options,
  onConnect: (channel: Channel) => void,
  run: (port: number, closed: Promise<number>) => Promise<void>,
): Promise<void> {
  const closed = deferred<number>();
  const server = await serve(
    handshake(
      { onConnect: ({ channel }) => onConnect(channel), onClose: ({ code }) => closed.resolve(code) },
      options,
    ),
    { port: 0 },
  );
  try {
    await run(server.port, closed.promise);
  } finally {
    await server.close();
  }
}

test("policy close: a send past maxBackpressure is refused and the connection is closed", async () => {
  const outcome = deferred<{ statuses: Promise<Array<SendStatus | string>>; peak: number }>();
  await withServer(
    { maxBackpressure: LIMIT, backpressure: "close", closeTimeout: 200 },
    (channel) => void fill(channel).then(outcome.resolve),
    async (port, closed) => {
      const { socket } = await nonReader(port);
      const { statuses, peak } = await outcome.promise;
      assert.ok(peak <= LIMIT, `buffered at most the limit, saw ${peak}`);
      // The peer reads nothing, so the 1008 close frame never gets through: cut after closeTimeout.
      assert.equal(await closed, 1006);
      const all = await statuses;
      assert.ok(all.includes("ERR_BACKPRESSURE"), `a send was refused: ${all.slice(-3).join()}`);
      socket.destroy();
    },
  );
});

test("policy drop: sends past the limit resolve 'dropped'; every message not dropped arrives", async () => {
  const outcome = deferred<{ statuses: Promise<Array<SendStatus | string>>; peak: number }>();
  const drained = deferred<void>();
  const server = await serve(
    handshake(
      {
        onConnect: ({ channel }) => void fill(channel).then(outcome.resolve),
        onDrain: () => drained.resolve(),
      },
      { maxBackpressure: LIMIT, backpressure: "drop" },
    ),
    { port: 0 },
  );
  try {
    const { socket, received } = await nonReader(server.port);
    const { statuses, peak } = await outcome.promise;
    assert.ok(peak <= LIMIT, `buffered at most the limit, saw ${peak}`);
    // Now the peer reads: everything that was not dropped arrives, and onDrain fires.
    socket.resume();
    await drained.promise;
    const outcomes = await statuses;
    const sent = outcomes.filter((s) => s === "sent").length;
    assert.ok(outcomes.includes("dropped"));
    await waitFor(() => Buffer.concat(received).length >= sent * (MESSAGE.length + 10));
    const all = Buffer.concat(received);
    const frames = decodeServerFrames(all.subarray(all.indexOf("\r\n\r\n") + 4));
    assert.equal(frames.filter((f) => f.opcode === Opcode.Binary).length, sent);
    socket.destroy();
  } finally {
    await server.close();
  }
});

test("a peer flooding pings without reading is throttled: the server stops reading", async () => {
  let channel: Channel | undefined;
  await withServer(
    {},
    (c) => (channel = c),
    async (port) => {
      const { socket } = await nonReader(port);
      await waitFor(() => channel !== undefined);
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, channel!.bufferedAmount)), 2);
      const ping = Buffer.from(clientFrame(Opcode.Ping, new Uint8Array(125)));
      const burst = Buffer.concat(Array.from({ length: 1000 }, () => ping)); // 131 KB of pings
      let blocked = false;
      for (let i = 0; i < 200 && !blocked; i++) {
        // 26 MB of pings at most; stop once the kernel refuses more, i.e. the server stopped reading.
        blocked = !socket.write(burst);
        await new Promise((resolve) => setImmediate(resolve));
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      clearInterval(sampler);
      assert.ok(blocked, "the client's writes backed up because the server stopped reading");
      assert.ok(peak < LIMIT, `the server buffered ${peak} bytes of pongs`);
      socket.destroy();
    },
  );
});

async function waitFor(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
