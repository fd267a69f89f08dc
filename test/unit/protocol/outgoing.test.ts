/**
 * The outgoing queue: small frames in a shared slab, large payloads by reference, and a frame
 * made now for a message that waited for its compression (the one framing path).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Outgoing, SlabPool } from "../../../src/protocol/outgoing.js";
import { Opcode } from "../../../src/protocol/opcodes.js";
import { decodeServerFrames } from "../../helpers/frames.js";

const join = (chunks: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(chunks));

test("frameNow frames one message and hands back only its chunks; what was queued stays queued", () => {
  const out = new Outgoing(new SlabPool());
  out.frame(Opcode.Pong, new Uint8Array([1]));
  const queued = out.size;
  const now = out.frameNow(Opcode.Text, new TextEncoder().encode("late"), true);
  assert.equal(out.size, queued, "the queue's size is unchanged");
  assert.deepEqual(
    decodeServerFrames(join(now)).map((f) => [f.opcode, f.rsv, new TextDecoder().decode(f.payload)]),
    [[Opcode.Text, 4, "late"]],
  );
  assert.deepEqual(
    decodeServerFrames(join(out.take())).map((f) => f.opcode),
    [Opcode.Pong],
  );
});

test("frameNow copies a small payload into the slab and passes a large one by reference", () => {
  const out = new Outgoing(new SlabPool());
  const large = new Uint8Array(100_000).fill(7);
  const chunks = out.frameNow(Opcode.Binary, large, false);
  assert.equal(chunks.length, 2);
  assert.equal(chunks[1], large, "the payload itself, not a copy");
  assert.equal(out.frameNow(Opcode.Binary, new Uint8Array(10), false).length, 1);
});
