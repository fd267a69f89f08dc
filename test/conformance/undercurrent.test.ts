/**
 * The server under test: undercurrent must come out OK on every case (INFORMATIONAL where
 * Autobahn only reports), strictly: no FAILED and no NON-STRICT, fail-fast UTF-8 included.
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

for (const category of [1, 2, 3, 4, 5, 6, 7, 9, 10]) {
  test(`undercurrent: category ${category}: no case FAILED or NON-STRICT`, () => {
    const bad = results.filter(
      (r) => r.category === category && (r.verdict === "FAILED" || r.verdict === "NON-STRICT"),
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
