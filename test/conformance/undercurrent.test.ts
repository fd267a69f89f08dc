/**
 * The server under test: undercurrent must come out OK on every case (INFORMATIONAL where
 * Autobahn only reports), strictly: no FAILED and no NON-STRICT, fail-fast UTF-8 included.
 * It runs with `compression: true`: categories 12 and 13 negotiate permessage-deflate (none
 * may be UNIMPLEMENTED), and categories 1–10, which offer nothing, must be unaffected.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { allCases } from "./cases.js";
import { INFORMATIONAL_CASES } from "./expected.js";
import { formatReport } from "./report.js";
import { runConformance, type CaseResult } from "./runner.js";
import type { EchoTarget } from "./targets.js";
import { startUndercurrentEcho } from "./undercurrent-target.js";

let target: EchoTarget;
let results: CaseResult[];
const idsWith = (verdict: string): string[] => results.filter((r) => r.verdict === verdict).map((r) => r.id);

before(async () => {
  target = await startUndercurrentEcho();
  results = await runConformance(target.url, allCases);
});
after(() => target.close());

for (const category of [1, 2, 3, 4, 5, 6, 7, 9, 10, 12, 13]) {
  test(`undercurrent: category ${category}: no case FAILED, NON-STRICT or UNIMPLEMENTED`, () => {
    const bad = results.filter(
      (r) =>
        r.category === category &&
        (r.verdict === "FAILED" || r.verdict === "NON-STRICT" || r.verdict === "UNIMPLEMENTED"),
    );
    assert.deepEqual(
      bad.map((r) => `${r.id} ${r.verdict}`),
      [],
      formatReport(
        results.filter((r) => r.category === category),
        { allRows: false },
      ),
    );
  });
}

test("undercurrent: every case OK except the INFORMATIONAL ones", () => {
  assert.deepEqual(idsWith("INFORMATIONAL"), INFORMATIONAL_CASES);
  assert.equal(idsWith("OK").length, allCases.length - INFORMATIONAL_CASES.length);
});
