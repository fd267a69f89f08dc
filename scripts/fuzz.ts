/**
 * `npm run fuzz -- --seconds N`: runs the fuzz properties of test/fuzz for N seconds (default
 * 60): a quarter of the time on the protocol core, a quarter on a live server fed random frame
 * streams, a quarter on callbacks and decisions handing back odd values (odd-values.ts), and a
 * quarter on the compressed path (compressed.ts: the core with the Node inflater, then a live
 * server with permessage-deflate), with fresh seeds each batch. Prints the counts and exits 1 with the counterexample and its seed on
 * a failure.
 */
import { parseArgs } from "node:util";
import fc from "fast-check";
import { clientStream, split, splits } from "../test/fuzz/generators.js";
import { checkProtocolStream } from "../test/fuzz/properties.js";
import { LiveTarget } from "../test/fuzz/live-server.js";
import { CallbackTarget, DecisionTarget, callbackPlan, decisionPlan } from "../test/fuzz/odd-values.js";
import {
  CompressedLiveTarget,
  checkCompressedCore,
  compressedPlan,
  planBytes,
} from "../test/fuzz/compressed.js";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "60" } } });
const seconds = Number(values.seconds);
if (!(seconds > 0)) throw new Error("--seconds must be a positive number");

const share = (seconds * 1000) / 4;
const coreDeadline = Date.now() + share;
let coreRuns = 0;
while (Date.now() < coreDeadline) {
  const seed = Date.now() ^ (Math.random() * 0x7fffffff);
  fc.assert(
    fc.property(clientStream, splits, (bytes, sizes) => void checkProtocolStream(split(bytes, sizes))),
    { numRuns: 500, seed },
  );
  coreRuns += 500;
}
console.log(`protocol core: ${coreRuns} streams OK`);

const target = await LiveTarget.start();
const serverDeadline = Date.now() + share;
let serverRuns = 0;
try {
  while (Date.now() < serverDeadline) {
    const seed = Date.now() ^ (Math.random() * 0x7fffffff);
    await fc.assert(
      fc.asyncProperty(clientStream, splits, (bytes, sizes) => target.check(split(bytes, sizes))),
      { numRuns: 20, seed },
    );
    serverRuns += 20;
  }
} finally {
  await target.stop();
}
console.log(`live server: ${serverRuns} streams OK`);

const callbacks = await CallbackTarget.start();
const decisions = await DecisionTarget.start();
const oddDeadline = Date.now() + share;
let callbackRuns = 0;
let decisionRuns = 0;
try {
  while (Date.now() < oddDeadline) {
    const seed = Date.now() ^ (Math.random() * 0x7fffffff);
    await fc.assert(
      fc.asyncProperty(callbackPlan, (plan) => callbacks.check(plan)),
      { numRuns: 50, seed },
    );
    callbackRuns += 50;
    await fc.assert(
      fc.asyncProperty(decisionPlan, (plan) => decisions.check(plan)),
      { numRuns: 50, seed },
    );
    decisionRuns += 50;
  }
} finally {
  await callbacks.stop();
  await decisions.stop();
}
console.log(`odd values: ${callbackRuns} callback plans, ${decisionRuns} decision plans OK`);

const compressedTarget = await CompressedLiveTarget.start();
const compressedDeadline = Date.now() + share;
let compressedCoreRuns = 0;
let compressedServerRuns = 0;
try {
  while (Date.now() < compressedDeadline) {
    const seed = Date.now() ^ (Math.random() * 0x7fffffff);
    await fc.assert(
      fc.asyncProperty(compressedPlan, splits, fc.boolean(), async (plan, sizes, eager) => {
        const expected = await planBytes(plan);
        await checkCompressedCore(split(expected.bytes, sizes), expected, eager);
      }),
      { numRuns: 100, seed },
    );
    compressedCoreRuns += 100;
    await fc.assert(
      fc.asyncProperty(compressedPlan, splits, async (plan, sizes) => {
        const expected = await planBytes(plan);
        await compressedTarget.check(split(expected.bytes, sizes), expected);
      }),
      { numRuns: 20, seed },
    );
    compressedServerRuns += 20;
  }
} finally {
  await compressedTarget.stop();
}
console.log(
  `compressed: ${compressedCoreRuns} streams on the core, ${compressedServerRuns} on a live server OK`,
);
