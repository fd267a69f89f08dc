/**
 * Messages sent in fragments with real clients (issue 17): a streamed 64 MiB message reaches
 * `ws` and undici intact, and a ping answered while a 64 MiB whole message goes out is answered
 * before its last fragment.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import WebSocket from "ws";
import { WebSocket as UndiciSocket } from "undici";
import { handshake, serve, type Callbacks, type Options } from "../../src/index.js";

const MiB = 1024 * 1024;
const CHUNKS = 64;
const TAIL = 3;
const SIZE = CHUNKS * MiB + TAIL;

/** 64 MiB and 3 bytes in 1 MiB chunks, chunk i filled with i; made as it is pulled. */
async function* payload(): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < CHUNKS; i++) yield new Uint8Array(MiB).fill(i & 0xff);
  yield new Uint8Array(TAIL).fill(0xab);
}

function check(data: Uint8Array): void {
  assert.equal(data.length, SIZE);
  for (let i = 0; i < CHUNKS; i++) {
    assert.equal(data[i * MiB], i & 0xff, `chunk ${i} starts right`);
    assert.equal(data[(i + 1) * MiB - 1], i & 0xff, `chunk ${i} ends right`);
  }
  assert.deepEqual([...data.subarray(CHUNKS * MiB)], [0xab, 0xab, 0xab]);
}

async function withServer(
  callbacks: Callbacks,
  options: Options,
  run: (url: string) => Promise<void>,
): Promise<void> {
  const server = await serve(handshake(callbacks, options), { host: "127.0.0.1", port: 0 });
  try {
    await run(server.url);
  } finally {
    await server.close();
  }
}

const streamOnConnect = (sent: Array<Promise<unknown>>): Callbacks => ({
  onConnect({ channel }) {
    sent.push(channel.sendBinary(payload()));
  },
});

test("ws receives a streamed 64 MiB message intact", async () => {
  const sent: Array<Promise<unknown>> = [];
  await withServer(streamOnConnect(sent), {}, async (url) => {
    const ws = new WebSocket(url, { maxPayload: 128 * MiB });
    const [data] = (await once(ws, "message")) as [Buffer, boolean];
    check(data);
    assert.equal(await sent[0], "sent");
    ws.close();
    await once(ws, "close");
  });
});

test("undici receives a streamed 64 MiB message intact", async () => {
  const sent: Array<Promise<unknown>> = [];
  await withServer(streamOnConnect(sent), {}, async (url) => {
    const ws = new UndiciSocket(url);
    ws.binaryType = "arraybuffer";
    const data = await new Promise<ArrayBuffer>((resolve, reject) => {
      ws.addEventListener("message", (event) => resolve(event.data as ArrayBuffer));
      ws.addEventListener("error", () => reject(new Error("undici socket error")));
    });
    check(new Uint8Array(data));
    assert.equal(await sent[0], "sent");
    ws.close();
  });
});

test("a ping sent while a 64 MiB whole message goes out is answered before its last fragment", async () => {
  const big = new Uint8Array(64 * MiB).fill(7);
  const callbacks: Callbacks = {
    onMessage({ channel, text }) {
      if (text !== "go") return;
      // "started" goes first: the client pings once it reads it, while the big message goes out.
      void channel.sendText("started");
      void channel.sendBinary(big);
    },
  };
  await withServer(callbacks, { maxBackpressure: 128 * MiB }, async (url) => {
    const ws = new WebSocket(url, { maxPayload: 128 * MiB });
    await once(ws, "open");
    const order: string[] = [];
    const done = new Promise<void>((resolve) => {
      ws.on("pong", () => order.push("pong"));
      ws.on("message", (data: Buffer, isBinary: boolean) => {
        if (!isBinary) {
          order.push(data.toString());
          ws.ping();
          return;
        }
        order.push(`binary ${data.length}`);
        resolve();
      });
    });
    ws.send("go");
    await done;
    assert.deepEqual(order, ["started", "pong", `binary ${64 * MiB}`]);
    ws.close();
    await once(ws, "close");
  });
});
