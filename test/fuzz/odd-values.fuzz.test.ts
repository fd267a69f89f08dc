/**
 * Fuzzing callbacks and decisions with odd values (see odd-values.ts for the documented outcomes
 * checked). Bounded: FUZZ_RUNS cases of each (default 60), over real connections.
 */
import { after, before, test } from "node:test";
import fc from "fast-check";
import { CallbackTarget, DecisionTarget, callbackPlan, decisionPlan } from "./odd-values.js";

const runs = Number(process.env["FUZZ_RUNS"] ?? 60);
let callbacks: CallbackTarget;
let decisions: DecisionTarget;

before(async () => {
  callbacks = await CallbackTarget.start();
  decisions = await DecisionTarget.start();
});
after(async () => {
  await callbacks.stop();
  await decisions.stop();
});

test(`${runs} callbacks throwing, rejecting or returning odd values: the documented outcome`, async () => {
  await fc.assert(
    fc.asyncProperty(callbackPlan, (plan) => callbacks.check(plan)),
    { numRuns: runs },
  );
});

test(`${runs} decisions handing back odd values: never a 101 unless documented`, async () => {
  await fc.assert(
    fc.asyncProperty(decisionPlan, (plan) => decisions.check(plan)),
    { numRuns: runs },
  );
});
