/**
 * Each failure rule of RFC 6455, over a real socket: the server sends a close frame with the
 * right code, closes TCP, reports the same code to onClose, and other connections carry on.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { WebSocket } from "ws";
import { handshake, serve, type Server } from "../../src/index.js";
import { Opcode } from "../../src/protocol/opcodes.js";
import {
  clientFrame,
  closePayload,
  concatBytes,
  decodeServerFrames,
  hex,
  UPGRADE,
} from "../helpers/frames.js";

/** Opens a raw connection, upgrades, writes `bytes` and returns every byte after the 101 until TCP closes. */
async function exchange(
  port: number,
  bytes: Uint8Array,
): Promise<{ frames: ReturnType<typeof decodeServerFrames> }> {
  const socket: Socket = connect(port, "127.0.0.1");
  const chunks: Buffer[] = [];
  socket.on("data", (chunk) => chunks.push(chunk));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.write(UPGRADE);
  socket.write(bytes);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("server did not close TCP")), 5000);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.on("error", () => {});
    // Answer the server's close frame as a well-behaved peer would, by closing our side.
    socket.on("end", () => socket.end());
  });
  const all = Buffer.concat(chunks);
  const split = all.indexOf("\r\n\r\n");
  assert.match(all.subarray(0, split).toString(), /^HTTP\/1\.1 101 /);
  return { frames: decodeServerFrames(all.subarray(split + 4)) };
}

const closes: Array<{ code: number; reason: string }> = [];
let server: Server;

before(async () => {
  const handler = handshake(
    {
      onMessage({ channel, text, data }) {
        if (text !== undefined) void channel.sendText(text);
        else void channel.sendBinary(data);
      },
      onClose({ code, reason }) {
        closes.push({ code, reason });
      },
    },
    { maxPayload: 1000 },
  );
  server = await serve(handler, { port: 0 });
});

after(() => server.close());

const rules: Array<[string, Uint8Array, number]> = [
  ["unmasked frame", hex("8105 48656c6c6f"), 1002],
  [
    "RSV1 without an extension",
    (() => {
      const f = clientFrame(Opcode.Text, "x");
      f[0] = f[0]! | 0x40;
      return f;
    })(),
    1002,
  ],
  ["reserved opcode 3", clientFrame(3, "x"), 1002],
  ["reserved opcode 11", clientFrame(11, "x"), 1002],
  ["control frame of 126 bytes", clientFrame(Opcode.Ping, new Uint8Array(126)), 1002],
  ["fragmented ping", clientFrame(Opcode.Ping, "x", { fin: false }), 1002],
  ["continuation without a message", clientFrame(Opcode.Continuation, "x"), 1002],
  [
    "new text frame inside a fragmented message",
    concatBytes(clientFrame(Opcode.Text, "a", { fin: false }), clientFrame(Opcode.Text, "b")),
    1002,
  ],
  ["64-bit length with the top bit set", hex("82ff 8000000000000001 01020304"), 1002],
  ["message over maxPayload", clientFrame(Opcode.Binary, new Uint8Array(1001)), 1009],
  ["invalid UTF-8", clientFrame(Opcode.Text, hex("c0af")), 1007],
  ["close with a 1-byte payload", clientFrame(Opcode.Close, hex("03")), 1002],
  ["close code 1005", clientFrame(Opcode.Close, closePayload(1005)), 1002],
  ["close code 5000", clientFrame(Opcode.Close, closePayload(5000)), 1002],
  ["close reason not UTF-8", clientFrame(Opcode.Close, closePayload(1000, hex("ff"))), 1007],
];

describe("a rule broken over a real socket fails the connection with its code", () => {
  for (const [name, bytes, code] of rules) {
    test(`${name} → ${code}`, async () => {
      // A well-behaved client on another connection, open throughout.
      const bystander = new WebSocket(server.url);
      await new Promise((resolve) => bystander.once("open", resolve));
      const before = closes.length;
      const { frames } = await exchange(server.port, bytes);
      const last = frames.at(-1);
      assert.equal(last?.opcode, Opcode.Close, "the server sends a close frame");
      assert.equal((last.payload[0]! << 8) | last.payload[1]!, code);
      await waitFor(() => closes.length > before);
      assert.equal(closes.at(-1)!.code, code);
      // The bystander still gets its echo.
      const echoed = new Promise<string>((resolve) =>
        bystander.once("message", (data) => resolve(String(data))),
      );
      bystander.send("still here");
      assert.equal(await echoed, "still here");
      bystander.close();
      await new Promise((resolve) => bystander.once("close", resolve));
    });
  }
});

test("a peer's close code is echoed and reported; messages before it are answered first", async () => {
  const before = closes.length;
  const { frames } = await exchange(
    server.port,
    concatBytes(clientFrame(Opcode.Text, "last words"), clientFrame(Opcode.Close, closePayload(4321, "bye"))),
  );
  assert.deepEqual(
    frames.map((f) => f.opcode),
    [Opcode.Text, Opcode.Close],
  );
  assert.deepEqual([...frames[1]!.payload.subarray(0, 2)], [0x10, 0xe1]);
  await waitFor(() => closes.length > before);
  assert.deepEqual(closes.at(-1), { code: 4321, reason: "bye" });
});

async function waitFor(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
