/**
 * The architecture rules (.dependency-cruiser.cjs) catch what they are for: `npm run arch` runs
 * them on src/, and here they run on a small tree that breaks each rule once, so a rule that
 * silently matches nothing fails this test.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const CONFIG = join(ROOT, ".dependency-cruiser.cjs");
const DEPCRUISE = join(ROOT, "node_modules", "dependency-cruiser", "bin", "dependency-cruise.mjs");

interface Violation {
  readonly from: string;
  readonly to: string;
  readonly rule: { readonly name: string };
}

/** Runs the rules on a tree of `files` (path → source) and returns the violations. */
function cruise(files: Record<string, string>): Violation[] {
  const dir = mkdtempSync(join(tmpdir(), "undercurrent-arch-"));
  try {
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext" } }),
    );
    for (const [path, source] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), source);
    }
    const run = spawnSync(process.execPath, [DEPCRUISE, "src", "--config", CONFIG, "--output-type", "json"], {
      cwd: dir,
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.ok(run.stdout.startsWith("{"), `depcruise ran: ${run.stderr}`);
    return (JSON.parse(run.stdout) as { summary: { violations: Violation[] } }).summary.violations;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A well-layered tree: the entry imports an adapter, which imports everything below it. */
const CLEAN: Record<string, string> = {
  "src/index.ts": 'export * from "./adapters/node/a.js";\n',
  "src/adapters/node/a.ts":
    'import "node:net";\nexport * from "../../wire/w.js";\nexport * from "../../brokers/b.js";\n',
  "src/brokers/b.ts": 'import "node:crypto";\nexport * from "../pubsub/p.js";\n',
  "src/wire/w.ts": 'export * from "../core/c.js";\n',
  "src/core/c.ts": 'export * from "../pubsub/p.js";\n',
  "src/pubsub/p.ts": 'export * from "../common/m.js";\n',
  "src/common/m.ts": 'export * from "../protocol/r.js";\n',
  "src/protocol/r.ts": "export const r = 1;\n",
};

test("a well-layered tree passes", () => {
  assert.deepEqual(cruise(CLEAN), []);
});

test("each rule catches its violation", () => {
  // One tree that breaks every rule once, each in a file of its own.
  const broken: Record<string, string> = {
    ...CLEAN,
    // no-cycle (type-only imports count)
    "src/protocol/r.ts": 'import type { q } from "./q.js";\nexport const r = 1;\n',
    "src/protocol/q.ts": 'import type { r } from "./r.js";\nexport type q = typeof r;\n',
    // runtime-agnostic, core-points-down
    "src/core/c.ts":
      'import "node:net";\nimport type {} from "../wire/w.js";\nexport * from "../pubsub/p.js";\n',
    // protocol-points-down
    "src/protocol/up.ts": 'import "../common/m.js";\nexport const up = 1;\n',
    // pubsub-points-down
    "src/pubsub/p.ts":
      'import "../core/c.js";\nimport "../protocol/up.js";\nexport * from "../common/m.js";\n',
    // wire-points-down
    "src/wire/w.ts": 'import "../adapters/node/a.js";\nexport * from "../core/c.js";\n',
    // adapters-stay-apart
    "src/adapters/node/a.ts":
      'import "node:net";\nimport "../bun/x.js";\nexport * from "../../wire/w.js";\nexport * from "../../brokers/b.js";\n',
    "src/adapters/bun/x.ts": "export const x = 1;\n",
    // no-orphans
    "src/core/unused.ts": "export const unused = 1;\n",
  };
  const found = new Map<string, string[]>();
  for (const v of cruise(broken))
    found.set(v.rule.name, [...(found.get(v.rule.name) ?? []), `${v.from} → ${v.to}`]);
  for (const rule of [
    "no-cycle",
    "runtime-agnostic",
    "core-points-down",
    "protocol-points-down",
    "pubsub-points-down",
    "wire-points-down",
    "adapters-stay-apart",
    "no-orphans",
  ]) {
    assert.ok(found.has(rule), `${rule} was not reported: ${JSON.stringify([...found])}`);
  }
});
