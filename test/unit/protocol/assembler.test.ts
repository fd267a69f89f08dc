/**
 * Inflated output goes into one buffer per message (issue 16): the space handed out to the
 * inflater is the message's own buffer, grown toward its needs and never past `maxPayload` + 1
 * bytes; nothing is joined at the end; 1009 as soon as output passes the limit; text checked as
 * it is written.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { MessageAssembler } from "../../../src/protocol/assembler.js";
import { Opcode } from "../../../src/protocol/opcodes.js";
import { ProtocolError } from "../../../src/protocol/errors.js";

/** An assembler with a compressed message of `compressed` bytes waiting for its output. */
function compressedMessage(opcode: number, maxPayload: number, compressed = 10): MessageAssembler {
  const messages = new MessageAssembler(maxPayload, 10);
  messages.frame(opcode, true, compressed);
  const event = messages.piece(new Uint8Array(compressed), true);
  assert.equal(event?.type, "compressed");
  return messages;
}

/** Writes `bytes` the way an inflater does: into each space handed out, as much as fits. */
function write(messages: MessageAssembler, bytes: Uint8Array): Uint8Array[] {
  const spaces: Uint8Array[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const space = messages.inflateSpace();
    spaces.push(space);
    const n = Math.min(space.length, bytes.length - offset);
    space.set(bytes.subarray(offset, offset + n));
    offset += n;
    messages.inflatedInto(n);
  }
  return spaces;
}

function pattern(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + (i >> 8)) & 0xff;
  return bytes;
}

test("a small binary message is written into one buffer and delivered from it, not joined", () => {
  const messages = compressedMessage(Opcode.Binary, 1 << 20);
  const bytes = pattern(800);
  const spaces = write(messages, bytes);
  assert.equal(spaces.length, 1);
  const event = messages.inflatedEnd();
  assert.equal(event.type, "binary");
  assert.ok(event.type === "binary" && event.data.buffer === spaces[0]!.buffer, "the same buffer");
  assert.deepEqual(event.type === "binary" && Buffer.from(event.data), Buffer.from(bytes));
});

test("a large binary message grows one buffer in place, then is delivered at its exact size", () => {
  const messages = compressedMessage(Opcode.Binary, 8 << 20);
  const bytes = pattern(3 << 20);
  const spaces = write(messages, bytes);
  assert.ok(spaces.length > 2, "the first buffer was outgrown");
  // Past 256 KiB, every space is in the same (resizable) buffer: grown, never copied again.
  const large = spaces.filter((space) => space.byteOffset >= 256 * 1024);
  assert.ok(large.length > 2);
  assert.equal(new Set(large.map((space) => space.buffer)).size, 1);
  const event = messages.inflatedEnd();
  assert.ok(event.type === "binary");
  assert.equal(event.data.buffer, large[0]!.buffer);
  assert.equal(event.data.length, bytes.length);
  assert.equal(event.data.buffer.byteLength, bytes.length, "shrunk to the message");
  assert.deepEqual(Buffer.from(event.data), Buffer.from(bytes));
});

test("the space never reaches past maxPayload + 1 bytes, and passing maxPayload is 1009 at once", () => {
  const maxPayload = 100_000;
  const messages = compressedMessage(Opcode.Binary, maxPayload);
  let total = 0;
  for (;;) {
    const space = messages.inflateSpace();
    assert.ok(space.length > 0);
    assert.ok(total + space.length <= maxPayload + 1, "bounded by the limit");
    try {
      messages.inflatedInto(space.length);
    } catch (error) {
      assert.ok(error instanceof ProtocolError && error.closeCode === 1009);
      total += space.length;
      break;
    }
    total += space.length;
  }
  assert.equal(total, maxPayload + 1);
});

test("a message of exactly maxPayload bytes is delivered", () => {
  const messages = compressedMessage(Opcode.Binary, 70_000);
  write(messages, pattern(70_000));
  const event = messages.inflatedEnd();
  assert.equal(event.type === "binary" && event.data.length, 70_000);
});

test("inflated text is decoded from a reused scratch area and checked as it is written", () => {
  const messages = compressedMessage(Opcode.Text, 1 << 20);
  const text = "héllo wörld ".repeat(20_000);
  const spaces = write(messages, new TextEncoder().encode(text));
  assert.ok(spaces.length > 1);
  // The scratch area doubles while each write fills it, up to 64 KiB, then is reused.
  const full = spaces.filter((space) => space.length === 64 * 1024);
  assert.ok(full.length > 1);
  assert.equal(new Set(full.map((space) => space.buffer)).size, 1, "one scratch area, reused");
  assert.ok(spaces.length < 16, `${spaces.length} writes`);
  assert.deepEqual(messages.inflatedEnd(), { type: "text", text });

  const invalid = compressedMessage(Opcode.Text, 1 << 20);
  const space = invalid.inflateSpace();
  space.set([0x61, 0xc0]);
  assert.throws(
    () => invalid.inflatedInto(2),
    (error) => error instanceof ProtocolError && error.closeCode === 1007,
  );
});

test("a code point split between two writes is carried over", () => {
  const messages = compressedMessage(Opcode.Text, 1 << 20);
  const euro = new TextEncoder().encode("€");
  for (const byte of euro) {
    messages.inflateSpace()[0] = byte;
    messages.inflatedInto(1);
  }
  assert.deepEqual(messages.inflatedEnd(), { type: "text", text: "€" });
});

test("pieces from callers that hold them are copied into the space", () => {
  const messages = compressedMessage(Opcode.Binary, 1 << 20);
  messages.inflated(new Uint8Array([1, 2]));
  messages.inflated(new Uint8Array([3]));
  const event = messages.inflatedEnd();
  assert.deepEqual(event.type === "binary" && [...event.data], [1, 2, 3]);
});

test("the first buffer is sized from the compressed size: 8 times it, within 1 KiB..256 KiB", () => {
  for (const [compressed, first] of [
    [10, 1024],
    [1000, 8000],
    [1 << 20, 256 * 1024],
  ] as const) {
    const messages = compressedMessage(Opcode.Binary, 1 << 30, compressed);
    assert.equal(messages.inflateSpace().length, first);
  }
  // Never past the limit + 1.
  assert.equal(compressedMessage(Opcode.Binary, 100, 10).inflateSpace().length, 101);
});
