/**
 * `npm run fuzz -- --seconds N`: runs the fuzz properties of test/fuzz for N seconds (default
 * 60), half the time on the protocol core and half on a live server, with fresh seeds each
 * batch. Prints the counts and exits 1 with the counterexample and its seed on a failure.
 */
import { parseArgs } from "node:util";
import fc from "fast-check";
import { clientStream, split, splits } from "../test/fuzz/generators.js";
import { checkProtocolStream } from "../test/fuzz/properties.js";
import { LiveTarget } from "../test/fuzz/live-server.js";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "60" } } });
const seconds = Number(values.seconds);
if (!(seconds > 0)) throw new Error("--seconds must be a positive number");

const coreDeadline = Date.now() + (seconds * 1000) / 2;
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
const serverDeadline = Date.now() + (seconds * 1000) / 2;
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
