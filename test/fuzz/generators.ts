/**
 * fast-check generators of client byte streams: valid frame sequences, the same mutated (bytes
 * flipped, cut, duplicated), and plain noise; plus the split points to deliver them at.
 */
import fc from "fast-check";
import { Opcode } from "../../src/protocol/opcodes.js";
import { clientFrame, concatBytes } from "../helpers/frames.js";

const opcode = fc.constantFrom(
  Opcode.Continuation,
  Opcode.Text,
  Opcode.Binary,
  Opcode.Close,
  Opcode.Ping,
  Opcode.Pong,
  3,
  11,
);

/** One frame, plausible but not necessarily valid (wrong fin, reserved opcodes, RSV bits…). */
const frame = fc
  .record({
    opcode,
    fin: fc.boolean(),
    rsv1: fc.boolean(),
    payload: fc.oneof(
      fc.uint8Array({ maxLength: 140 }),
      fc.string({ maxLength: 60 }).map((s) => new TextEncoder().encode(s)),
      fc.uint8Array({ minLength: 126, maxLength: 3000 }),
    ),
    mask: fc.integer({ min: 1, max: 0xffffffff }),
  })
  .map(({ opcode, fin, rsv1, payload, mask }) => clientFrame(opcode, payload, { fin, rsv1, mask }));

const mostlyValidFrame = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 80 }).map((s) => clientFrame(Opcode.Text, s)) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => clientFrame(Opcode.Binary, b)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 125 }).map((b) => clientFrame(Opcode.Ping, b)) },
  { weight: 2, arbitrary: frame },
);

/** A mutation applied to a byte stream. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("dup" as const), at: fc.nat(), length: fc.nat(20) }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 16 }) }),
);

function mutate(bytes: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let out = bytes;
  for (const m of mutations) {
    if (out.length === 0) break;
    const at = m.at % out.length;
    if (m.kind === "flip") {
      out = out.slice();
      out[at] = out[at]! ^ (1 << m.bit);
    } else if (m.kind === "cut") out = out.subarray(0, at);
    else if (m.kind === "dup")
      out = concatBytes(out.subarray(0, at), out.subarray(at, at + m.length), out.subarray(at));
    else out = concatBytes(out.subarray(0, at), m.bytes, out.subarray(at));
  }
  return out;
}

type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "cut"; at: number }
  | { kind: "dup"; at: number; length: number }
  | { kind: "insert"; at: number; bytes: Uint8Array };

/** A client byte stream: valid frames, mutated frames, or noise. */
export const clientStream: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.array(mostlyValidFrame, { maxLength: 12 }).map((frames) => concatBytes(...frames)),
  fc
    .tuple(
      fc.array(mostlyValidFrame, { minLength: 1, maxLength: 8 }),
      fc.array(mutation, { minLength: 1, maxLength: 4 }),
    )
    .map(([frames, mutations]) => mutate(concatBytes(...frames), mutations)),
  fc.uint8Array({ maxLength: 2000 }),
);

/** Chunk sizes to cut a stream into (cycled). */
export const splits: fc.Arbitrary<number[]> = fc.array(fc.integer({ min: 1, max: 700 }), {
  minLength: 1,
  maxLength: 16,
});

/** Cuts `bytes` into pieces of the given sizes, cycling through them. */
export function split(bytes: Uint8Array, sizes: readonly number[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  for (let i = 0, k = 0; i < bytes.length; k++) {
    const n = sizes[k % sizes.length]!;
    pieces.push(bytes.slice(i, i + n));
    i += n;
  }
  return pieces;
}
