/**
 * The suite can tell right from wrong: our raw echo server comes out OK on every case when
 * strict (but for categories 12 and 13, UNIMPLEMENTED: it declines permessage-deflate), and
 * each deliberate defect turns exactly the cases that detect it to FAILED (or, for
 * the legal-but-lax `noFailFast`, to NON-STRICT).
 *
 * The defective servers run every case but category 9's large transfers, which no defect
 * touches (the strict server runs them).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { allCases } from "./cases.js";
import {
  COMPRESSION_CASES,
  FAIL_FAST_CASES,
  INFORMATIONAL_CASES,
  INVALID_CLOSE_CODE_CASES,
  INVALID_UTF8_CASES,
  RSV_CASES,
} from "./expected.js";
import { formatReport } from "./report.js";
import { runConformance, type CaseResult } from "./runner.js";
import { startBrokenEcho, type Defect } from "./targets.js";

const light = allCases.filter((c) => !c.heavy);
const idsWith = (results: CaseResult[], verdict: string): string[] =>
  results.filter((r) => r.verdict === verdict).map((r) => r.id);

async function runAgainst(defects: Defect[], all = false): Promise<CaseResult[]> {
  const target = await startBrokenEcho(...defects);
  try {
    // The defective servers never fail where they should: don't wait long for them to. The
    // client's close that follows flushes whatever they still send (replies come in order, before
    // their answer to that close), so a late echo on a loaded machine is still seen; that wait
    // ends when the server answers, and is only bounded generously.
    return await runConformance(target.url, all ? allCases : light, {
      failTimeoutMs: 800,
      closeTimeoutMs: 15_000,
      concurrency: 16,
    });
  } finally {
    await target.close();
  }
}

test("strict raw echo server: every case OK", async () => {
  const results = await runAgainst([], true);
  assert.deepEqual(idsWith(results, "FAILED"), [], formatReport(results, { allRows: false }));
  assert.deepEqual(idsWith(results, "NON-STRICT"), [], formatReport(results, { allRows: false }));
  assert.deepEqual(idsWith(results, "INFORMATIONAL"), INFORMATIONAL_CASES);
  assert.deepEqual(idsWith(results, "UNIMPLEMENTED"), COMPRESSION_CASES);
});

const BROKEN: { defect: Defect; failed: string[]; nonStrict: string[] }[] = [
  { defect: "echoInvalidUtf8", failed: INVALID_UTF8_CASES, nonStrict: [] },
  { defect: "ignoreRsv", failed: RSV_CASES, nonStrict: [] },
  { defect: "acceptAnyCloseCode", failed: INVALID_CLOSE_CODE_CASES, nonStrict: [] },
  { defect: "noFailFast", failed: [], nonStrict: FAIL_FAST_CASES },
];

for (const { defect, failed, nonStrict } of BROKEN) {
  test(`broken server "${defect}": FAILED on exactly ${failed.length} cases, NON-STRICT on ${nonStrict.length}`, async () => {
    const results = await runAgainst([defect]);
    const report = formatReport(results, { allRows: false, details: false });
    assert.deepEqual(idsWith(results, "FAILED"), failed, report);
    assert.deepEqual(idsWith(results, "NON-STRICT"), nonStrict, report);
  });
}
