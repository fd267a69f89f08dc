import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { unmask } from "../../../src/protocol/mask.js";

function reference(data: Uint8Array, mask: number, phase: number): Uint8Array {
  const key = [mask >>> 24, (mask >>> 16) & 0xff, (mask >>> 8) & 0xff, mask & 0xff];
  return data.map((byte, i) => byte ^ key[(i + phase) & 3]!);
}

test("unmasking matches a byte-by-byte XOR at any offset, phase and length", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 600 }),
      fc.nat(7),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.nat(3),
      (payload, offset, mask, phase) => {
        // Place the payload at an arbitrary offset so word alignment varies.
        const buffer = new Uint8Array(offset + payload.length);
        buffer.set(payload, offset);
        unmask(buffer, offset, offset + payload.length, mask, phase);
        assert.deepEqual(buffer.subarray(offset), reference(payload, mask, phase));
      },
    ),
  );
});

test("unmasking twice restores the payload", () => {
  const data = new Uint8Array(1000).map((_, i) => i * 7);
  const copy = data.slice();
  unmask(data, 0, data.length, 0xdeadbeef, 0);
  assert.notDeepEqual(data, copy);
  unmask(data, 0, data.length, 0xdeadbeef, 0);
  assert.deepEqual(data, copy);
});
