/**
 * The raw client and frame builders, checked against byte literals (RFC 6455 §5.7 examples)
 * and against the strict raw echo server.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  applyMask,
  buildClose,
  buildFrame,
  chop,
  HandshakeError,
  Opcode,
  RawClient,
} from "../helpers/raw-client.js";
import { startBrokenEcho, type EchoTarget } from "./targets.js";

let target: EchoTarget;
before(async () => {
  target = await startBrokenEcho();
});
after(() => target.close());

test("buildFrame: RFC 6455 §5.7 examples", () => {
  // A single-frame unmasked text message "Hello".
  assert.equal(
    buildFrame({ opcode: Opcode.Text, payload: "Hello", mask: false }).toString("hex"),
    "810548656c6c6f",
  );
  // A single-frame masked text message "Hello" with key 37 fa 21 3d.
  const key = Buffer.from("37fa213d", "hex");
  assert.equal(
    buildFrame({ opcode: Opcode.Text, payload: "Hello", mask: key }).toString("hex"),
    "818537fa213d7f9f4d5158",
  );
  // A fragmented unmasked text message: "Hel", then "lo".
  assert.equal(
    buildFrame({ opcode: Opcode.Text, payload: "Hel", fin: false, mask: false }).toString("hex"),
    "010348656c",
  );
  assert.equal(
    buildFrame({ opcode: Opcode.Continuation, payload: "lo", mask: false }).toString("hex"),
    "80026c6f",
  );
  // 256 bytes of binary data in a single unmasked message; 64 KiB in the 64-bit form.
  assert.equal(
    buildFrame({ opcode: Opcode.Binary, payload: Buffer.alloc(256), mask: false })
      .subarray(0, 4)
      .toString("hex"),
    "827e0100",
  );
  assert.equal(
    buildFrame({ opcode: Opcode.Binary, payload: Buffer.alloc(65536), mask: false })
      .subarray(0, 10)
      .toString("hex"),
    "827f0000000000010000",
  );
});

test("buildFrame: RSV bits, forced length forms, declared lengths; masking is random and non-zero", () => {
  assert.equal(buildFrame({ opcode: 1, rsv: 5, mask: false }).toString("hex"), "d100");
  assert.equal(
    buildFrame({ opcode: 2, payload: "x", lengthForm: 64, mask: false }).toString("hex"),
    "827f000000000000000178",
  );
  assert.equal(
    buildFrame({ opcode: 2, lengthForm: 16, mask: false, declaredLength: 5 }).toString("hex"),
    "827e0005",
  );
  const masked = buildFrame({ opcode: 1, payload: "abc" });
  assert.equal(masked[1], 0x83);
  assert.notEqual(masked.readUInt32BE(2), 0);
  const payload = Buffer.from(masked.subarray(6));
  applyMask(payload, masked.subarray(2, 6));
  assert.equal(payload.toString(), "abc");
  assert.equal(buildClose(1000, "ok", { mask: false }).toString("hex"), "880403e86f6b");
  assert.deepEqual(
    chop(Buffer.from("abcde"), 2).map((b) => b.toString()),
    ["ab", "cd", "e"],
  );
});

test("RawClient: handshake, chopped send, echo, close handshake closed by the server", async () => {
  const c = await RawClient.connect(target.url);
  assert.equal(c.response.status, 101);
  await c.send(buildFrame({ opcode: Opcode.Text, payload: "héllo" }), { chop: 1, delayMs: 1 });
  const echo = await c.nextMessage(2000);
  assert.deepEqual({ binary: echo.binary, text: echo.payload.toString() }, { binary: false, text: "héllo" });
  await c.sendFrame({ opcode: Opcode.Ping, payload: "p" });
  const pong = await c.nextFrame(2000);
  assert.equal(pong.opcode, Opcode.Pong);
  await c.sendClose({ code: 1000, reason: "bye" });
  const end = await c.closed(2000);
  assert.equal(end.by, "server");
  assert.equal(c.serverClose?.code, 1000);
  assert.equal(c.closeInitiator, "client");
  assert.deepEqual(c.violations, []);
});

test("RawClient: a server that fails the connection is recorded as closing first", async () => {
  const c = await RawClient.connect(target.url);
  await c.sendFrame({ opcode: Opcode.Text, payload: Buffer.from([0xff]) });
  await c.closed(2000);
  assert.equal(c.serverClose?.code, 1007);
  assert.equal(c.closeInitiator, "server");
  assert.equal(c.tcpEnd?.by, "server");
  assert.ok(c.clientClose?.reply, "the client answered the close");
  assert.equal(await c.send(Buffer.from("late")), false);
});

test("RawClient: a refused handshake rejects with HandshakeError and the status", async () => {
  await assert.rejects(
    RawClient.connect(target.url, { headers: { "Sec-WebSocket-Version": "8" } }),
    (e: unknown) => e instanceof HandshakeError && e.status === 400,
  );
});
