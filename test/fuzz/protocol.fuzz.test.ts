/**
 * Fuzzing the protocol core: random and mutated frame streams, split at random points, never
 * make it throw, end input at most once with a valid code, and always produce well-formed
 * server frames.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { clientStream, split, splits } from "./generators.js";
import { checkProtocolStream } from "./properties.js";

const runs = Number(process.env["FUZZ_RUNS"] ?? 400);

test(`the protocol core survives ${runs} random streams`, () => {
  fc.assert(
    fc.property(clientStream, splits, (bytes, sizes) => void checkProtocolStream(split(bytes, sizes))),
    {
      numRuns: runs,
    },
  );
});

test("the same stream gives the same events however it is split", () => {
  fc.assert(
    fc.property(clientStream, splits, splits, (bytes, a, b) => {
      assert.deepEqual(checkProtocolStream(split(bytes, a)), checkProtocolStream(split(bytes, b)));
    }),
    { numRuns: Math.ceil(runs / 2) },
  );
});
