/**
 * Fuzzing the compressed path (issue 16): plans of permessage-deflate messages (valid, truncated,
 * corrupted, bombs, invalid UTF-8, fragmented, pings between fragments) against the protocol core
 * driven with the Node inflater, and against a live server (see compressed.ts for the checks).
 * Bounded: FUZZ_RUNS plans on the core (default 200), a quarter of that on the live server.
 */
import { after, before, test } from "node:test";
import fc from "fast-check";
import { split, splits } from "./generators.js";
import { CompressedLiveTarget, checkCompressedCore, compressedPlan, planBytes } from "./compressed.js";

const runs = Number(process.env["FUZZ_RUNS"] ?? 200);
let target: CompressedLiveTarget;

before(async () => {
  target = await CompressedLiveTarget.start();
});
after(() => target.stop());

test(`the protocol core inflates ${runs} compressed streams correctly, refusing what it must`, async () => {
  await fc.assert(
    fc.asyncProperty(compressedPlan, splits, fc.boolean(), async (plan, sizes, eager) => {
      const expected = await planBytes(plan);
      await checkCompressedCore(split(expected.bytes, sizes), expected, eager);
    }),
    { numRuns: runs },
  );
});

test(`a live server answers ${Math.ceil(runs / 4)} compressed streams and keeps serving others`, async () => {
  await fc.assert(
    fc.asyncProperty(compressedPlan, splits, async (plan, sizes) => {
      const expected = await planBytes(plan);
      await target.check(split(expected.bytes, sizes), expected);
    }),
    { numRuns: Math.ceil(runs / 4) },
  );
});
