/**
 * The server under test, on one transport: undercurrent must come out OK on every case
 * (INFORMATIONAL where Autobahn only reports), strictly: no FAILED and no NON-STRICT, fail-fast
 * UTF-8 included. It runs with `compression: true`: categories 12 and 13 negotiate
 * permessage-deflate (none may be UNIMPLEMENTED), and categories 1–10, which offer nothing, must
 * be unaffected. `undercurrent.test.ts` runs it over HTTP/1.1, `undercurrent-http2.test.ts` over
 * HTTP/2 (RFC 8441).
 * @module
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { allCases } from "./cases.js";
import { INFORMATIONAL_CASES } from "./expected.js";
import { formatReport } from "./report.js";
import { runConformance, type CaseResult } from "./runner.js";
import type { EchoTarget } from "./targets.js";
import { startUndercurrentEcho, type Transport } from "./undercurrent-target.js";

/** Runs every conformance case against undercurrent over `transport`, one test per category. */
export function undercurrentConformance(transport: Transport): void {
  let target: EchoTarget;
  let results: CaseResult[];
  const idsWith = (verdict: string): string[] =>
    results.filter((r) => r.verdict === verdict).map((r) => r.id);

  before(async () => {
    target = await startUndercurrentEcho(transport);
    results = await runConformance(target.url, allCases);
  });
  after(() => target.close());

  for (const category of [1, 2, 3, 4, 5, 6, 7, 9, 10, 12, 13]) {
    test(`undercurrent over ${transport}: category ${category}: no case FAILED, NON-STRICT or UNIMPLEMENTED`, () => {
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

  test(`undercurrent over ${transport}: every case OK except the INFORMATIONAL ones`, () => {
    assert.deepEqual(idsWith("INFORMATIONAL"), INFORMATIONAL_CASES);
    assert.equal(idsWith("OK").length, allCases.length - INFORMATIONAL_CASES.length);
  });
}
