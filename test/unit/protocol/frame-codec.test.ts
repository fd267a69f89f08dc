import { test } from "node:test";
import assert from "node:assert/strict";
import {
  encodeClosePayload,
  encodeFrame,
  headerSize,
  truncateReason,
  writeHeader,
} from "../../../src/protocol/frame-codec.js";
import { Opcode } from "../../../src/protocol/opcodes.js";
import { hex } from "../../helpers/frames.js";

test("a short text frame is FIN + opcode, then the 7-bit length", () => {
  assert.deepEqual(encodeFrame(Opcode.Text, new TextEncoder().encode("Hello")), hex("81 05 48656c6c6f"));
});

test("lengths take the shortest of the three forms (RFC 6455 §5.2)", () => {
  const header = (length: number) => {
    const out = new Uint8Array(10);
    return out.subarray(0, writeHeader(out, 0, Opcode.Binary, length));
  };
  assert.deepEqual(header(0), hex("8200"));
  assert.deepEqual(header(125), hex("827d"));
  assert.deepEqual(header(126), hex("827e007e"));
  assert.deepEqual(header(65535), hex("827effff"));
  assert.deepEqual(header(65536), hex("827f 0000000000010000"));
  assert.deepEqual(header(2 ** 32 + 5), hex("827f 0000000100000005"));
  assert.equal(headerSize(125), 2);
  assert.equal(headerSize(126), 4);
  assert.equal(headerSize(65536), 10);
});

test("RSV1 and a cleared FIN are encoded in the first byte", () => {
  const frame = encodeFrame(Opcode.Text, new Uint8Array(1), { fin: false, rsv1: true });
  assert.equal(frame[0], 0x41);
});

test("a masked frame carries the key and the XORed payload (RFC 6455 §5.7 example)", () => {
  // The RFC's example: a masked "Hello" with key 37 fa 21 3d.
  const frame = encodeFrame(Opcode.Text, new TextEncoder().encode("Hello"), { mask: 0x37fa213d });
  assert.deepEqual(frame, hex("8185 37fa213d 7f9f4d5158"));
});

test("close payloads: code big-endian, then the UTF-8 reason; none for no code", () => {
  assert.deepEqual(encodeClosePayload(1000, "ok"), hex("03e8 6f6b"));
  assert.deepEqual(encodeClosePayload(undefined), new Uint8Array(0));
});

test("a reason is cut to 123 bytes without splitting a code point", () => {
  const reason = "é".repeat(100); // 200 bytes
  const cut = truncateReason(reason);
  assert.equal(new TextEncoder().encode(cut).length, 122);
  assert.equal(truncateReason("short"), "short");
});
