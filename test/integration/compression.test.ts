/**
 * permessage-deflate under attack: a zip bomb (1 GiB of zeros, about 1 MiB compressed) is
 * refused with 1009 while the server's memory stays bounded; messages are delivered in order.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter, once } from "node:events";
import { constants, createDeflateRaw, deflateRawSync } from "node:zlib";
import { handshake, serve, type CloseEvent } from "../../src/index.js";
import { Opcode } from "../../src/protocol/opcodes.js";
import { clientFrame } from "../helpers/frames.js";
import { RawClient } from "../helpers/raw-client.js";

/** 1 GiB of zeros, deflated with the trailer removed, as a client would send it. */
async function zipBomb(): Promise<Buffer> {
  const deflate = createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  deflate.on("data", (chunk: Buffer) => out.push(chunk));
  const zeros = Buffer.alloc(1 << 20);
  for (let i = 0; i < 1024; i++) {
    if (!deflate.write(zeros)) await new Promise((resolve) => deflate.once("drain", resolve));
  }
  await new Promise((resolve) => deflate.flush(constants.Z_SYNC_FLUSH, () => resolve(undefined)));
  deflate.close();
  const all = Buffer.concat(out);
  return all.subarray(0, all.length - 4);
}

test("a zip bomb is closed with 1009 and never inflated past maxPayload", { timeout: 60_000 }, async () => {
  const payload = await zipBomb();
  const closes: CloseEvent[] = [];
  const server = await serve(
    handshake(
      { onClose: (event) => void closes.push(event) },
      { compression: true, maxPayload: 2 * 1024 * 1024 },
    ),
    { port: 0 },
  );
  try {
    const client = await RawClient.connect(server.url, {
      headers: { "Sec-WebSocket-Extensions": "permessage-deflate" },
    });
    assert.equal(client.response.headers["sec-websocket-extensions"], "permessage-deflate");

    const before = process.memoryUsage.rss();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 2);
    await client.send(clientFrame(Opcode.Binary, payload, { rsv1: true }));
    const frame = await client.nextFrame(20_000);
    clearInterval(sampler);
    assert.equal(frame.opcode, Opcode.Close);
    assert.equal(frame.payload.readUInt16BE(0), 1009);
    await client.closed();
    const grown = (peak - before) / 1024 / 1024;
    // Inflating it all would take 1 GiB; the limit keeps the server within a few MiB of output.
    assert.ok(grown < 64, `RSS grew by ${grown.toFixed(1)} MiB`);
    for (let i = 0; i < 200 && closes.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(closes[0]?.code, 1009);
  } finally {
    await server.close();
  }
});

test("compressed and uncompressed messages from the client are delivered in order", async () => {
  const seen: string[] = [];
  const server = await serve(
    handshake({ onMessage: ({ text }) => void seen.push(text ?? "") }, { compression: true }),
    { port: 0 },
  );
  try {
    const client = await RawClient.connect(server.url, {
      headers: { "Sec-WebSocket-Extensions": "permessage-deflate; client_no_context_takeover" },
    });
    const deflate = (text: string) => {
      const z = createDeflateRaw();
      return new Promise<Buffer>((resolve) => {
        const out: Buffer[] = [];
        z.on("data", (c: Buffer) => out.push(c));
        z.write(text);
        z.flush(constants.Z_SYNC_FLUSH, () => {
          const all = Buffer.concat(out);
          z.close();
          resolve(all.subarray(0, all.length - 4));
        });
      });
    };
    const frames = [
      clientFrame(Opcode.Text, await deflate("one ".repeat(1000)), { rsv1: true }),
      clientFrame(Opcode.Text, "two"),
      clientFrame(Opcode.Text, await deflate("three"), { rsv1: true }),
      clientFrame(Opcode.Text, "four"),
    ];
    await client.send(Buffer.concat(frames));
    const deadline = Date.now() + 5000;
    while (seen.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(seen, ["one ".repeat(1000), "two", "three", "four"]);
    client.destroy();
  } finally {
    await server.close();
  }
});

test("compressed messages up to maxPayload are delivered whole, one byte more is 1009 (issue 16)", async () => {
  const maxPayload = 3 * 1024 * 1024 + 5;
  const received: Uint8Array[] = [];
  const closes: CloseEvent[] = [];
  const events = new EventEmitter();
  const server = await serve(
    handshake(
      {
        onMessage: ({ data }) => {
          received.push(data!);
          events.emit("change");
        },
        onClose: (event) => {
          closes.push(event);
          events.emit("change");
        },
      },
      { compression: true, maxPayload },
    ),
    { port: 0 },
  );
  const until = async (ready: () => boolean): Promise<void> => {
    while (!ready()) await once(events, "change");
  };
  try {
    const client = await RawClient.connect(server.url, {
      headers: { "Sec-WebSocket-Extensions": "permessage-deflate" },
    });
    // Past the first output buffer, so the message grows its buffer before it is delivered.
    const message = Buffer.alloc(maxPayload);
    for (let i = 0; i < message.length; i++) message[i] = (i * 7 + (i >> 10)) & 0xff;
    const compress = (bytes: Buffer): Buffer => {
      const out = deflateRawSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH });
      return out.subarray(0, out.length - 4);
    };
    await client.send(clientFrame(Opcode.Binary, compress(message), { rsv1: true }));
    await until(() => received.length === 1);
    assert.equal(received[0]!.length, maxPayload);
    assert.ok(Buffer.from(received[0]!).equals(message));

    await client.send(
      clientFrame(Opcode.Binary, compress(Buffer.concat([message, Buffer.from([1])])), { rsv1: true }),
    );
    const frame = await client.nextFrame(20_000);
    assert.equal(frame.opcode, Opcode.Close);
    assert.equal(frame.payload.readUInt16BE(0), 1009);
    await until(() => closes.length === 1);
    assert.equal(closes[0]?.code, 1009);
    assert.equal(received.length, 1);
    client.destroy();
  } finally {
    await server.close();
  }
});
