/**
 * Large messages in fragments (issue 17), measured on 127.0.0.1:
 *
 * 1. A ping sent while a 64 MiB whole message goes out: the time from the ping to its pong,
 *    with `fragmentSize: Infinity` (one 64 MiB frame: the pong waits behind it) and with the
 *    default `fragmentSize`, and the time the whole message takes in each case. A `ws` client.
 * 2. A 256 MiB message streamed from an async generator of 1 MiB chunks to a client that reads
 *    and discards the bytes (a raw TCP client in a child process, so its memory is not counted): the growth of
 *    this process's RSS over the send, and the largest `bufferedAmount` of the connection (what
 *    the server holds), sampled every 5 ms.
 *
 *    With `--reuse` the generator yields four 1 MiB buffers in turn instead of fresh ones, which
 *    separates the server's own growth from the garbage of a source that allocates per chunk
 *    (that garbage waits for V8's external-memory GC trigger, some 32 MiB). `CHUNKS=n` streams
 *    n MiB instead of 256.
 *
 * Run: `node --expose-gc --import tsx bench/fragments.ts [--rounds 5] [--reuse] [--fragment-size bytes]`
 * @module
 */
import { once } from "node:events";
import net from "node:net";
import { createHash, randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { DEFAULTS, handshake, serve, type Options } from "../src/index.js";

const MiB = 1024 * 1024;
const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    reuse: { type: "boolean", default: false },
    "fragment-size": { type: "string" },
    // Internal: run as the discarding client, in a process of its own.
    client: { type: "string" },
    expected: { type: "string" },
  },
});
const rounds = Number(values.rounds);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function pingDuringLarge(options: Options): Promise<{ pong: number[]; message: number[] }> {
  const big = new Uint8Array(64 * MiB).fill(7);
  const server = await serve(
    handshake(
      {
        onMessage({ channel, text }) {
          if (text !== "go") return;
          // The client pings when it reads "started": while the big message is going out.
          void channel.sendText("started");
          void channel.sendBinary(big);
        },
      },
      { ...options, maxBackpressure: 128 * MiB },
    ),
    { host: "127.0.0.1", port: 0 },
  );
  const pong: number[] = [];
  const message: number[] = [];
  try {
    const ws = new WebSocket(server.url, { maxPayload: 128 * MiB });
    await once(ws, "open");
    for (let i = 0; i < rounds; i++) {
      let start = 0;
      const ponged = once(ws, "pong").then(() => pong.push(performance.now() - start));
      const received = new Promise<void>((resolve) => {
        const onMessage = (_data: Buffer, isBinary: boolean): void => {
          if (!isBinary) {
            start = performance.now();
            ws.ping();
            return;
          }
          message.push(performance.now() - start);
          ws.off("message", onMessage);
          resolve();
        };
        ws.on("message", onMessage);
      });
      ws.send("go");
      await Promise.all([ponged, received]);
    }
    ws.close();
    await once(ws, "close");
  } finally {
    await server.close();
  }
  return { pong, message };
}

/** Opens a WebSocket with a raw socket that counts what it reads and keeps nothing. */
async function discardingClient(url: string, expected: number): Promise<{ done: Promise<void> }> {
  const { port, hostname } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  await once(socket, "connect");
  const key = randomBytes(16).toString("base64");
  socket.write(
    `GET / HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let seen = 0;
  let headerDone = false;
  const accept = createHash("sha1")
    .update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
    .digest("base64");
  return new Promise<{ done: Promise<void> }>((opened) => {
    const done = new Promise<void>((resolve) => {
      socket.on("data", (chunk: Buffer) => {
        if (!headerDone) {
          const end = chunk.indexOf("\r\n\r\n");
          if (end === -1) return;
          if (!chunk.subarray(0, end).toString().includes(accept)) throw new Error("bad handshake");
          headerDone = true;
          chunk = chunk.subarray(end + 4);
          opened({ done });
        }
        seen += chunk.length;
        if (seen >= expected) {
          socket.destroy();
          resolve();
        }
      });
    });
  });
}

async function streamed256(): Promise<{
  before: number;
  peak: number;
  ms: number;
  maxBuffered: number;
  chunks: number;
}> {
  const chunks = Number(process.env["CHUNKS"] ?? 256);
  async function* source(): AsyncGenerator<Uint8Array> {
    // With --reuse, four buffers in turn (safe here: a chunk is pulled only once the one before
    // it is nearly all handed to the kernel, and four back): no garbage for the GC to find.
    const pool = values.reuse === true ? [0, 1, 2, 3].map(() => new Uint8Array(MiB)) : undefined;
    for (let i = 0; i < chunks; i++) yield (pool?.[i % 4] ?? new Uint8Array(MiB)).fill(i & 0xff);
  }
  let sent: Promise<unknown> = Promise.resolve();
  let target: { readonly bufferedAmount: number } | undefined;
  let maxBuffered = 0;
  let started!: () => void;
  const ready = new Promise<void>((resolve) => (started = resolve));
  const server = await serve(
    handshake({
      onMessage({ channel, text }) {
        if (text !== undefined) return;
        // The message goes to the discarding client: every peer but the one that asked.
        for (const peer of channel.peers) {
          if (peer === channel) continue;
          sent = peer.sendBinary(source());
          target = peer;
        }
        started();
      },
    }),
    { host: "127.0.0.1", port: 0 },
  );
  try {
    // 256 fragments of 1 MiB (10-byte headers) and an empty final one.
    const expected = chunks * (MiB + 10) + 2;
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        fileURLToPath(import.meta.url),
        "--client",
        server.url,
        "--expected",
        String(expected),
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    assert((await lines.next()).value === "open");
    const finished = { done: lines.next().then(() => undefined) };
    (globalThis as { gc?: () => void }).gc?.();
    const before = process.memoryUsage.rss();
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
      maxBuffered = Math.max(maxBuffered, target?.bufferedAmount ?? 0);
    }, 5);
    const start = performance.now();
    await triggerFromServer(server.url, ready);
    await finished.done;
    await sent;
    clearInterval(sampler);
    return { before, peak, ms: performance.now() - start, maxBuffered, chunks };
  } finally {
    await server.close();
  }
}

/** Starts the send: the server's onMessage runs for a message from a second client. */
async function triggerFromServer(url: string, ready: Promise<void>): Promise<void> {
  const ws = new WebSocket(url);
  await once(ws, "open");
  ws.send(new Uint8Array(0));
  await ready;
  ws.terminate();
}

function assert(condition: boolean): asserts condition {
  if (!condition) throw new Error("the discarding client did not open");
}

if (values.client !== undefined) {
  const { done } = await discardingClient(values.client, Number(values.expected));
  console.log("open");
  await done;
  console.log("done");
  process.exit(0);
}

const fmt = (xs: number[]): string =>
  `median ${median(xs).toFixed(2)} ms (${xs.map((x) => x.toFixed(1)).join(", ")})`;

// The streamed send first, in a fresh process: its RSS is not the 64 MiB messages' below.
const rss = await streamed256();
console.log(
  `${rss.chunks} MiB streamed (async generator of ${values.reuse === true ? "4 reused" : "fresh"} 1 MiB chunks) to a discarding client: ${rss.ms.toFixed(0)} ms, ` +
    `RSS ${(rss.before / MiB).toFixed(1)} → peak ${(rss.peak / MiB).toFixed(1)} MiB (growth ${((rss.peak - rss.before) / MiB).toFixed(1)} MiB); ` +
    `largest bufferedAmount seen ${(rss.maxBuffered / MiB).toFixed(2)} MiB`,
);
const whole = await pingDuringLarge({ fragmentSize: Infinity });
const fragmentSize = Number(values["fragment-size"] ?? DEFAULTS.fragmentSize);
const fragmented = await pingDuringLarge({ fragmentSize });
console.log(`ping during a 64 MiB message, ${rounds} rounds, ws client on 127.0.0.1`);
console.log(`  fragmentSize Infinity: pong ${fmt(whole.pong)}; message ${fmt(whole.message)}`);
console.log(
  `  fragmentSize ${fragmentSize / 1024} KiB:     pong ${fmt(fragmented.pong)}; message ${fmt(fragmented.message)}`,
);
console.log(
  `  pong time ratio (Infinity / this): ${(median(whole.pong) / median(fragmented.pong)).toFixed(1)}×; ` +
    `message time ratio: ${(median(fragmented.message) / median(whole.message)).toFixed(2)}`,
);
