/**
 * The benchmark's smoke test: `npm run bench -- --quick` builds loadgen, runs every row against
 * `ws` and undercurrent, and exits 0. No timing is asserted (the machine is shared); what must
 * hold is that every row ran on both servers with zero errors, every echo verified, and every
 * figure is a positive number.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const ROW_IDS = ["echo64", "echo16k", "echo1m", "bcast1k", "lat64", "connect", "idle10k"];

interface Run {
  rate: number;
  count: number;
  errors: number;
  aborted: boolean;
  opened: number;
  alive_verified?: number;
  bytes_per_conn?: number;
}
interface Report {
  quick: boolean;
  rows: {
    row: string;
    ws: number;
    undercurrent: number;
    ratio: number;
    failures: string[];
    runs: Record<string, Run[]>;
  }[];
}

test(
  "npm run bench -- --quick runs every row with zero errors and verified echoes",
  { timeout: 150_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "undercurrent-bench-"));
    const json = join(dir, "quick.json");
    try {
      const child = spawn("npm", ["run", "bench", "--", "--quick", "--json", json], {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.on("data", (c: Buffer) => (output += c.toString()));
      child.stderr.on("data", (c: Buffer) => (output += c.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), 140_000);
      const code = await new Promise<number | null>((r) => child.once("close", (c) => r(c)));
      clearTimeout(timer);
      assert.equal(code, 0, `npm run bench -- --quick failed:\n${output}`);

      const report = JSON.parse(readFileSync(json, "utf8")) as Report;
      assert.equal(report.quick, true);
      assert.deepEqual(
        report.rows.map((r) => r.row),
        ROW_IDS,
      );
      for (const row of report.rows) {
        assert.deepEqual(row.failures, [], `${row.row}: ${row.failures.join("; ")}`);
        assert.ok(row.ws > 0 && row.undercurrent > 0 && Number.isFinite(row.ratio), `${row.row}: figures`);
        for (const server of ["ws", "undercurrent"]) {
          const runs = row.runs[server] ?? [];
          assert.equal(runs.length, 1, `${row.row}/${server}: one run`);
          for (const run of runs) {
            assert.equal(run.errors, 0, `${row.row}/${server}: errors`);
            assert.equal(run.aborted, false, `${row.row}/${server}: aborted`);
            if (row.row === "idle10k")
              assert.equal(run.alive_verified, run.opened, `${row.row}/${server}: alive`);
            else assert.ok(run.count > 0 && run.rate > 0, `${row.row}/${server}: verified messages`);
          }
        }
      }
      for (const title of [
        "echo 64 B",
        "echo 16 KiB",
        "echo 1 MiB",
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
