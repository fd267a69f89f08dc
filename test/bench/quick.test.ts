/**
 * The benchmark's smoke test: `npm run bench -- --quick` builds loadgen, runs every row against
 * `ws` and undercurrent (the `_h2` rows: undercurrent over HTTP/2 against undercurrent over
 * HTTP/1.1), and writes its report. Nothing about speed is asserted, not even that a
 * loaded machine answered in time: timeouts, resets and a short count are what a busy machine
 * gives, and the bench reports them (exit code 1) without this test failing. What must hold is
 * that the bench ran and reported every row on both servers, and that nothing a correct server
 * never does was seen: a refused or malformed handshake, a bad frame, a wrong echo.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { program } from "../helpers/programs.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const ROW_IDS = [
  "echo64",
  "echo16k",
  "echo1m",
  "echo64_h2",
  "echo16k_h2",
  "echo1m_h2",
  "bcast1k",
  "lat64",
  "connect",
  "idle10k",
];
/** The two sides each row compares: ws and undercurrent, or undercurrent on HTTP/1.1 and on HTTP/2. */
const sidesOf = (row: string): string[] =>
  row.endsWith("_h2") ? ["http1", "http2"] : ["ws", "undercurrent"];
/** loadgen's error kinds that no machine's speed explains. */
const CORRECTNESS_ERRORS = ["handshake", "protocol", "payload"];

interface Run {
  rate: number;
  errors: number;
  err: Record<string, number>;
}
interface Report {
  quick: boolean;
  rows: {
    row: string;
    baseline: string;
    subject: string;
    ratio: number;
    failures: string[];
    runs: Record<string, Run[]>;
  }[];
}

test(
  "npm run bench -- --quick runs and reports every row on both servers",
  { timeout: 150_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "undercurrent-bench-"));
    const json = join(dir, "quick.json");
    try {
      const child = spawn("npm", ["run", "bench", "--", "--quick", "--json", json], {
        cwd: ROOT,
        env: { ...process.env, CC: program("cc") },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.on("data", (c: Buffer) => (output += c.toString()));
      child.stderr.on("data", (c: Buffer) => (output += c.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), 140_000);
      const code = await new Promise<number | null>((r) => child.once("close", (c) => r(c)));
      clearTimeout(timer);
      // 0: every run clean; 1: some run had errors (judged below); anything else: the bench broke.
      assert.ok(code === 0 || code === 1, `npm run bench -- --quick failed (exit ${code}):\n${output}`);

      const report = JSON.parse(readFileSync(json, "utf8")) as Report;
      assert.equal(report.quick, true);
      assert.deepEqual(
        report.rows.map((r) => r.row),
        ROW_IDS,
      );
      for (const row of report.rows) {
        assert.deepEqual([row.baseline, row.subject], sidesOf(row.row), `${row.row}: the sides compared`);
        for (const server of sidesOf(row.row)) {
          const runs = row.runs[server] ?? [];
          assert.equal(runs.length, 1, `${row.row}/${server}: one run`);
          for (const run of runs) {
            assert.ok(Number.isFinite(run.rate) && run.rate >= 0, `${row.row}/${server}: a figure`);
            for (const kind of CORRECTNESS_ERRORS) {
              assert.equal(run.err[kind] ?? 0, 0, `${row.row}/${server}: ${kind} errors`);
            }
          }
        }
      }
      for (const title of [
        "echo 64 B",
        "echo 16 KiB",
        "echo 1 MiB",
        "echo 64 B over HTTP/2",
        "echo 16 KiB over HTTP/2",
        "echo 1 MiB over HTTP/2",
        "broadcast 64 B",
        "round-trip",
        "handshakes",
      ]) {
        assert.ok(output.includes(title), `the table has the row "${title}"`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
