/**
 * The control: `ws` must come out clean. It checks UTF-8 only once a message is complete
 * (its receiver validates in `dataMessage()`), so Autobahn rates it NON-STRICT on the
 * fail-fast cases, and only on those; everything else is OK or INFORMATIONAL. It runs with
 * `perMessageDeflate` on, so categories 12 and 13 are judged too (none UNIMPLEMENTED).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { allCases } from "./cases.js";
import { FAIL_FAST_CASES, INFORMATIONAL_CASES } from "./expected.js";
import { formatReport } from "./report.js";
import { runConformance, type CaseResult } from "./runner.js";
import { startWsEcho, type EchoTarget } from "./targets.js";

let target: EchoTarget;
let results: CaseResult[];
const idsWith = (verdict: string): string[] => results.filter((r) => r.verdict === verdict).map((r) => r.id);
const report = (): string => formatReport(results, { allRows: false });

before(async () => {
  target = await startWsEcho();
  results = await runConformance(target.url, allCases);
});
after(() => target.close());

test("ws: no case FAILED", () => {
  assert.deepEqual(idsWith("FAILED"), [], report());
});

test("ws: NON-STRICT exactly on the fail-fast UTF-8 cases", () => {
  assert.deepEqual(idsWith("NON-STRICT"), FAIL_FAST_CASES, report());
});

test("ws: permessage-deflate agreed in every case of categories 12 and 13", () => {
  assert.deepEqual(idsWith("UNIMPLEMENTED"), [], report());
  assert.ok(results.filter((r) => r.category === 12 || r.category === 13).length > 0);
});

test("ws: INFORMATIONAL exactly where Autobahn reports it, everything else OK", () => {
  assert.deepEqual(idsWith("INFORMATIONAL"), INFORMATIONAL_CASES, report());
  assert.equal(idsWith("OK").length, allCases.length - FAIL_FAST_CASES.length - INFORMATIONAL_CASES.length);
});
