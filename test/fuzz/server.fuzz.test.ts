/**
 * Fuzzing a live server with random and mutated streams (see live-server.ts for the checks).
 */
import { after, before, test } from "node:test";
import fc from "fast-check";
import { clientStream, split, splits } from "./generators.js";
import { LiveTarget } from "./live-server.js";

const runs = Number(process.env["FUZZ_RUNS"] ?? 60);
let target: LiveTarget;

before(async () => {
  target = await LiveTarget.start();
});
after(() => target.stop());

test(`the server answers ${runs} random streams with valid closes and keeps serving others`, async () => {
  await fc.assert(
    fc.asyncProperty(clientStream, splits, (bytes, sizes) => target.check(split(bytes, sizes))),
    { numRuns: runs },
  );
});
