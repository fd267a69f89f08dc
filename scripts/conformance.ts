/**
 * `npm run conformance`: runs the RFC 6455 conformance suite (test/conformance) against an
 * in-process undercurrent echo server (over HTTP/1.1, or with `--http2` over HTTP/2, RFC 8441),
 * or with `--url ws://…` (or `h2c://…`) against any echo server, and prints a table per category
 * and the final line `conformance: X/Y OK`.
 *
 *   npm run conformance
 *   npm run conformance -- --http2
 *   npm run conformance -- --url ws://127.0.0.1:9001 --cases 6.4,7 --only-failures
 *
 * Exits 1 if any case is FAILED or NON-STRICT.
 */
import { parseArgs } from "node:util";
import { allCases, selectCases } from "../test/conformance/cases.js";
import { formatReport, tally } from "../test/conformance/report.js";
import { runConformance } from "../test/conformance/runner.js";
import type { EchoTarget } from "../test/conformance/targets.js";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    http2: { type: "boolean", default: false },
    cases: { type: "string" },
    "only-failures": { type: "boolean", default: false },
    concurrency: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  process.stdout.write(
    [
      "usage: npm run conformance -- [--http2] [--url ws://host:port/path] [--cases 1,6.4,7.9.1] [--only-failures] [--concurrency N]",
      "  --http2          undercurrent over cleartext HTTP/2 (extended CONNECT, RFC 8441) instead of HTTP/1.1",
      "  --url            run against this echo server (default: undercurrent, in process); h2c://host:port/path",
      "                   speaks HTTP/2 with prior knowledge",
      "  --cases          ids or id prefixes, comma-separated (default: all)",
      "  --only-failures  list only the cases that are not OK",
      "",
    ].join("\n"),
  );
  process.exit(0);
}

let target: EchoTarget | undefined;
let url = values.url;
if (url === undefined) {
  const { startUndercurrentEcho } = await import("../test/conformance/undercurrent-target.js");
  target = await startUndercurrentEcho(values.http2 ? "http2" : "http1");
  url = target.url;
}

const cases = selectCases(values.cases === undefined ? [] : values.cases.split(","), allCases);
process.stdout.write(`running ${cases.length} cases against ${values.url ?? `undercurrent (${url})`}\n`);
const started = Date.now();
try {
  const results = await runConformance(url, cases, {
    concurrency: values.concurrency === undefined ? undefined : Number(values.concurrency),
  });
  process.stderr.write(`(${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  process.stdout.write(`${formatReport(results, { allRows: !values["only-failures"] })}\n`);
  const t = tally(results);
  process.exitCode = t.FAILED + t["NON-STRICT"] > 0 ? 1 : 0;
} finally {
  await target?.close();
}
