/**
 * `npm run bench`: undercurrent next to `ws`, row by row, with our own C load generator
 * (bench/loadgen.c, built here with the system `cc`); and undercurrent over HTTP/2 next to
 * undercurrent over HTTP/1.1 (the `_h2` rows). Each row starts a fresh server process for each
 * side, pins it to CPU 0 and the generator to CPU 1 (when `taskset` exists), runs the generator
 * once per repetition, and prints one table of figures, ratios and CPU shares.
 *
 *   npm run bench                      every row, 2 s warm-up + 5 s measured, writes bench/RESULTS.md
 *   npm run bench -- --quick           about 1 s per row, fewer connections: a smoke test
 *   npm run bench -- --only echo64,lat64 --reps 3
 *
 * The exit code is 1 when any run had errors, failed to verify an echo, or gave no figure.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { connect, createServer } from "node:net";
import os from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BUILD = join(ROOT, "bench", ".build");
const LOADGEN_SRC = join(ROOT, "bench", "loadgen.c");
const LOADGEN = join(BUILD, "loadgen");

/** One line of loadgen's JSON output (the fields this runner reads). */
interface LoadgenResult {
  mode: string;
  rate: number;
  unit: string;
  count: number;
  mib_per_s: number;
  duration_s: number;
  lat_us: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number; samples: number };
  client_cpu_pct: number;
  server_cpu_pct: number;
  core_busy_pct: number[];
  errors: number;
  err: Record<string, number>;
  opened: number;
  closed_clean: number;
  aborted: boolean;
  bytes_per_conn?: number;
  alive_verified?: number;
  error?: string;
}

/** One side of a comparison: a server and how the generator talks to it. */
interface Side {
  /** The key of its runs in the JSON output, and its name in the "Every run" table. */
  name: "ws" | "undercurrent" | "http1" | "http2";
  /** In ratio labels: ours/ws, h2/h1. */
  short: string;
  /** In the baseline column. */
  label: string;
  script: string;
  serverArgs: readonly string[];
  loadgenArgs: readonly string[];
}

const WS: Side = {
  name: "ws",
  short: "ws",
  label: "ws",
  script: "bench/ws-server.ts",
  serverArgs: [],
  loadgenArgs: [],
};
const OURS: Side = {
  name: "undercurrent",
  short: "ours",
  label: "undercurrent",
  script: "bench/server.ts",
  serverArgs: [],
  loadgenArgs: [],
};
/** undercurrent over HTTP/1.1, the baseline of the `_h2` rows, measured beside them. */
const OURS_H1: Side = { ...OURS, name: "http1", short: "h1", label: "ours, HTTP/1.1" };
/** undercurrent over cleartext HTTP/2 (prior knowledge): `attach` on `http2.createServer()`. */
const OURS_H2: Side = {
  ...OURS,
  name: "http2",
  short: "h2",
  label: "ours, HTTP/2",
  serverArgs: ["--h2c"],
  loadgenArgs: ["-2"],
};

interface Settings {
  quick: boolean;
  warm: number;
  duration: number;
}

/** A row of the table: what the generator does and which figure is compared. */
interface Row {
  id: string;
  title: string;
  /** What is compared: `subject` against `baseline` (undercurrent against ws, unless given). */
  baseline?: Side;
  subject?: Side;
  /** The title when `--quick` changes what is measured. */
  quickTitle?: string;
  serverMode: "echo" | "broadcast";
  args: (s: Settings) => string[];
  /** The figure compared between the two servers. */
  figure: (r: LoadgenResult) => number;
  unit: string;
  /** "higher": ratio = ours / ws, target ≥. "lower-ws": ratio = ws / ours, target ≥ (ours ≤ ws). "lower": ratio = ours / ws, target ≤. */
  compare: "higher" | "lower-ws" | "lower";
  /** None for a row that measures without a target (HTTP/2 against HTTP/1.1). */
  target?: number;
  /** Connections the run must have opened and verified (idle), for the sanity check. */
  expectConns: (s: Settings) => number;
  /** Whether the row's figure comes from verified echoes. */
  echo: boolean;
  /** Seconds the generator may take, at most, before it is killed. */
  budget: (s: Settings) => number;
}

const timing = (s: Settings): string[] => ["-W", String(s.warm), "-d", String(s.duration)];

/**
 * An echo row once more, as undercurrent over HTTP/2 (h2c) against undercurrent over HTTP/1.1,
 * both measured in the row: the same generator binary and arguments, plus `-2` on the HTTP/2
 * side. The ratio is h2 / h1; issue 14 sets no target.
 */
function overHttp2(row: Row): Row {
  return {
    ...row,
    target: undefined,
    id: `${row.id}_h2`,
    title: row.title.replace(/^echo ([^,]+),/, "echo $1 over HTTP/2 vs HTTP/1.1,"),
    baseline: OURS_H1,
    subject: OURS_H2,
  };
}

/** Echo at three sizes: the ws rows, and the HTTP/2 rows' shapes. */
const ECHO_ROWS: readonly Row[] = [
  {
    id: "echo64",
    title: "echo 64 B, 100 conns × 16",
    serverMode: "echo",
    args: (s) => ["-m", "echo", "-c", "100", "-w", "16", "-s", "64", "-t", "binary", ...timing(s)],
    figure: (r) => r.rate,
    unit: "msgs/s",
    compare: "higher",
    target: 4,
    expectConns: () => 100,
    echo: true,
    budget: (s) => s.warm + s.duration + 40,
  },
  {
    id: "echo16k",
    title: "echo 16 KiB, 10 conns × 8",
    serverMode: "echo",
    args: (s) => ["-m", "echo", "-c", "10", "-w", "8", "-s", "16k", "-t", "binary", ...timing(s)],
    figure: (r) => r.mib_per_s,
    unit: "MiB/s",
    compare: "higher",
    target: 2,
    expectConns: () => 10,
    echo: true,
    budget: (s) => s.warm + s.duration + 40,
  },
  {
    id: "echo1m",
    title: "echo 1 MiB, 4 conns × 2",
    serverMode: "echo",
    args: (s) => ["-m", "echo", "-c", "4", "-w", "2", "-s", "1m", "-t", "binary", ...timing(s)],
    figure: (r) => r.mib_per_s,
    unit: "MiB/s",
    compare: "higher",
    target: 2,
    expectConns: () => 4,
    echo: true,
    budget: (s) => s.warm + s.duration + 40,
  },
];

const ROWS: readonly Row[] = [
  ...ECHO_ROWS,
  ...ECHO_ROWS.map(overHttp2),
  {
    id: "bcast1k",
    title: "broadcast 64 B to 1000 subscribers",
    serverMode: "broadcast",
    args: (s) => [
      "-m",
      "broadcast",
      "-c",
      "1000",
      "-w",
      "16",
      "-s",
      "64",
      "-t",
      "text",
      "-C",
      "128",
      "-a",
      "4",
      ...timing(s),
    ],
    figure: (r) => r.rate,
    unit: "deliveries/s",
    compare: "higher",
    target: 8,
    expectConns: () => 1000,
    echo: true,
    budget: (s) => s.warm + s.duration + 60,
  },
  {
    id: "lat64",
    title: "round-trip latency, 1 conn, p99",
    serverMode: "echo",
    args: (s) => ["-m", "echo", "-c", "1", "-w", "1", "-s", "64", "-t", "binary", ...timing(s)],
    figure: (r) => r.lat_us.p99,
    unit: "µs p99",
    compare: "lower-ws",
    target: 1,
    expectConns: () => 1,
    echo: true,
    budget: (s) => s.warm + s.duration + 40,
  },
  {
    id: "connect",
    title: "handshakes per second",
    serverMode: "echo",
    args: (s) => ["-m", "connect", "-C", "64", "-a", "8", "-n", "20000", ...timing(s)],
    figure: (r) => r.rate,
    unit: "handshakes/s",
    compare: "higher",
    target: 1,
    expectConns: () => 1,
    echo: false,
    budget: (s) => s.warm + s.duration + 40,
  },
  {
    id: "idle10k",
    title: "RSS per idle connection, 10,000 conns",
    quickTitle: "RSS per idle connection, 1,000 conns (quick)",
    serverMode: "echo",
    args: (s) => [
      "-m",
      "idle",
      "-c",
      String(s.quick ? 1000 : 10000),
      "-C",
      "256",
      "-a",
      "8",
      "-e",
      s.quick ? "0.5" : "2",
      "-d",
      s.quick ? "0.2" : "1",
      "-T",
      "60",
    ],
    figure: (r) => r.bytes_per_conn ?? 0,
    unit: "bytes/conn",
    compare: "lower",
    target: 0.5,
    expectConns: (s) => (s.quick ? 1000 : 10000),
    echo: true,
    budget: () => 120,
  },
];

// ------------------------------------------------------------------ processes

function buildLoadgen(): void {
  mkdirSync(BUILD, { recursive: true });
  if (existsSync(LOADGEN) && statSync(LOADGEN).mtimeMs >= statSync(LOADGEN_SRC).mtimeMs) return;
  const cc = process.env["CC"] ?? "cc";
  const built = spawnSync(cc, ["-O2", "-std=gnu11", "-Wall", "-o", LOADGEN, LOADGEN_SRC], {
    encoding: "utf8",
  });
  if (built.status !== 0) {
    throw new Error(`${cc} failed to build bench/loadgen.c:\n${built.stderr}${built.error?.message ?? ""}`);
  }
}

function hasTaskset(): boolean {
  return spawnSync("taskset", ["-c", "0", "true"]).status === 0;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      done(true);
    });
    socket.once("error", () => done(false));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Busy and total jiffies of all CPUs, from /proc/stat (zeros where it does not exist). */
function cpuTimes(): { busy: number; total: number } {
  if (!existsSync("/proc/stat")) return { busy: 0, total: 0 };
  const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "")
    .trim()
    .split(/\s+/)
    .slice(1, 9)
    .map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total };
}

/**
 * Waits, at most `seconds`, until the machine is quiet: under a quarter of its CPU time busy
 * over half a second. Returns the seconds waited. Other work on a shared machine halves figures.
 */
async function waitForQuiet(seconds: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < seconds * 1000) {
    const a = cpuTimes();
    await sleep(500);
    const b = cpuTimes();
    if (b.total === a.total || (b.busy - a.busy) / (b.total - a.total) < 0.25) break;
  }
  return (Date.now() - start) / 1000;
}

interface Server {
  child: ChildProcess;
  pid: number;
  output: () => string;
  stop: () => Promise<void>;
}

/** Starts a server (pinned when `cpu` is given) and waits until it accepts TCP connections. */
async function startServer(side: Side, mode: string, port: number, cpu: number | null): Promise<Server> {
  const name = side.name;
  const command = [process.execPath, "--import", "tsx", side.script, String(port), mode, ...side.serverArgs];
  if (cpu !== null) command.unshift("taskset", "-c", String(cpu));
  // `exec` keeps the pid: it is the server's own, which loadgen reads /proc with. The soft limit
  // of open files goes up to the hard limit, for the 10,000 idle connections.
  const child = spawn("sh", ["-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', "sh", ...command], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let exited = false;
  const exitedPromise = new Promise<void>((r) => child.once("exit", () => ((exited = true), r())));
  const stop = async (): Promise<void> => {
    if (exited) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    await exitedPromise;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 20_000;
  while (!(await canConnect(port))) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`${name} server did not start on port ${port}:\n${output}`);
    }
    await sleep(50);
  }
  if (child.pid === undefined) throw new Error(`${name} server has no pid`);
  return { child, pid: child.pid, output: () => output, stop };
}

/** Runs loadgen, killed after `budget` seconds; returns its JSON line. */
async function runLoadgen(args: string[], cpu: number | null, budget: number): Promise<LoadgenResult> {
  const command = cpu !== null ? ["taskset", "-c", String(cpu), LOADGEN, ...args] : [LOADGEN, ...args];
  const child = spawn(command[0]!, command.slice(1), { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const timer = setTimeout(() => child.kill("SIGKILL"), budget * 1000);
  const code = await new Promise<number | null>((r) => child.once("close", (c) => r(c)));
  clearTimeout(timer);
  const line = stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .pop();
  if (line === undefined) throw new Error(`loadgen gave no result (exit ${code}):\n${stderr}`);
  const parsed = JSON.parse(line) as LoadgenResult;
  if (parsed.error !== undefined) throw new Error(`loadgen: ${parsed.error}`);
  if (typeof parsed.rate !== "number" || typeof parsed.errors !== "number") {
    throw new Error(`loadgen gave an unexpected line: ${line}`);
  }
  return parsed;
}

// ------------------------------------------------------------------ figures

/** The two sides of a row: what is measured against what. */
type Role = "baseline" | "subject";
const ROLES: readonly Role[] = ["baseline", "subject"];
const sidesOf = (row: Row): Record<Role, Side> => ({
  baseline: row.baseline ?? WS,
  subject: row.subject ?? OURS,
});

interface Measured {
  row: Row;
  runs: Record<Role, LoadgenResult[]>;
  failures: string[];
}

function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Why a run is not sane, or undefined: errors, aborted runs, unverified echoes, no figure. */
function problems(row: Row, settings: Settings, r: LoadgenResult): string[] {
  const found: string[] = [];
  if (r.errors !== 0) {
    const kinds = Object.entries(r.err)
      .filter(([, n]) => n !== 0)
      .map(([k, n]) => `${k} ${n}`);
    found.push(`${r.errors} errors (${kinds.join(", ")})`);
  }
  if (r.aborted) found.push("aborted");
  if (!(row.figure(r) > 0)) found.push("no figure");
  if (row.id === "idle10k" && r.alive_verified !== row.expectConns(settings)) {
    found.push(`${r.alive_verified ?? 0} of ${row.expectConns(settings)} idle connections verified`);
  }
  if (row.echo && row.id !== "idle10k" && r.count === 0) found.push("no verified message");
  if (r.opened < row.expectConns(settings)) found.push(`only ${r.opened} connections opened`);
  return found;
}

/**
 * A closed loop on two dedicated cores saturates one of them. In a throughput row where neither
 * the server nor the generator had 90% of a core, something else had the machine: the run is
 * marked contended, and its row worth running again (`--only ROW --reps 3`).
 */
const SATURATING = new Set([
  "echo64",
  "echo16k",
  "echo1m",
  "echo64_h2",
  "echo16k_h2",
  "echo1m_h2",
  "bcast1k",
  "connect",
]);
function contended(row: Row, r: LoadgenResult): boolean {
  return SATURATING.has(row.id) && Math.max(r.server_cpu_pct, r.client_cpu_pct) < 90;
}

function ratioOf(row: Row, baseline: number, subject: number): number {
  return row.compare === "lower-ws" ? baseline / subject : subject / baseline;
}

function ratioLabel(row: Row): string {
  const { baseline, subject } = sidesOf(row);
  return row.compare === "lower-ws"
    ? `${baseline.short}/${subject.short}`
    : `${subject.short}/${baseline.short}`;
}

/** Whether the target is met; undefined for a row with no target or no ratio. */
function met(row: Row, ratio: number): boolean | undefined {
  if (row.target === undefined || !Number.isFinite(ratio)) return undefined;
  return row.compare === "lower" ? ratio <= row.target : ratio >= row.target;
}

function targetText(row: Row): string {
  if (row.target === undefined) return "none (measured)";
  if (row.compare === "lower-ws") return "≤ ws (ratio ws/ours ≥ 1)";
  if (row.compare === "lower") return `≤ ${row.target}× ws`;
  return `≥ ${row.target}× ws`;
}

/** The medians of a row's figure on each side, and their ratio. */
function figures(
  row: Row,
  runs: Record<Role, LoadgenResult[]>,
): { baseline: number; subject: number; ratio: number } {
  const baseline = median(runs.baseline.map(row.figure));
  const subject = median(runs.subject.map(row.figure));
  return { baseline, subject, ratio: ratioOf(row, baseline, subject) };
}

const fmt = (n: number): string => {
  if (!Number.isFinite(n)) return "–";
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString("en-US");
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
};
const pct = (n: number): string => (Number.isFinite(n) ? `${Math.round(n)}%` : "–");

function table(measured: Measured[], settings: Settings): string {
  // The baseline is ws, except in the `_h2` rows: undercurrent over HTTP/1.1, against which
  // undercurrent over HTTP/2 is measured (its cell says so).
  const lines = [
    "| row | baseline | undercurrent | ratio | target | met | gen CPU (baseline / ours) | server CPU (baseline / ours) | errors (baseline / ours) |",
    "| --- | ---: | ---: | ---: | --- | --- | --- | --- | --- |",
  ];
  for (const { row, runs } of measured) {
    const { baseline, subject, ratio } = figures(row, runs);
    const sides = sidesOf(row);
    const cpu = (role: Role, pick: (r: LoadgenResult) => number): string =>
      row.id === "idle10k" ? "–" : pct(median(runs[role].map(pick)));
    const errors = (role: Role): number => runs[role].reduce((n, r) => n + r.errors, 0);
    const isMet = met(row, ratio);
    lines.push(
      `| ${(settings.quick ? row.quickTitle : undefined) ?? row.title} | ${sides.baseline.label}: ${fmt(baseline)} ${row.unit} | ` +
        `${sides.subject === OURS ? "" : `${sides.subject.label}: `}${fmt(subject)} ${row.unit} | ${fmt(ratio)}× ${ratioLabel(row)} | ` +
        `${targetText(row)} | ${isMet === undefined ? "–" : isMet ? "yes" : "no"} | ` +
        `${cpu("baseline", (r) => r.client_cpu_pct)} / ${cpu("subject", (r) => r.client_cpu_pct)} | ` +
        `${cpu("baseline", (r) => r.server_cpu_pct)} / ${cpu("subject", (r) => r.server_cpu_pct)} | ` +
        `${errors("baseline")} / ${errors("subject")} |`,
    );
  }
  return lines.join("\n");
}

function details(measured: Measured[]): string {
  const lines = [
    "| row | server | rep | rate | MiB/s | p50 µs | p99 µs | gen CPU | server CPU | core busy (0, 1) | contended | errors |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |",
  ];
  for (const { row, runs } of measured) {
    for (const role of ROLES) {
      const name = sidesOf(row)[role].name;
      runs[role].forEach((r, i) => {
        const rate =
          row.id === "idle10k" ? `${fmt(r.bytes_per_conn ?? 0)} B/conn` : `${fmt(r.rate)} ${r.unit}`;
        lines.push(
          `| ${row.id} | ${name} | ${i + 1} | ${rate} | ${fmt(r.mib_per_s)} | ${fmt(r.lat_us.p50)} | ` +
            `${fmt(r.lat_us.p99)} | ${pct(r.client_cpu_pct)} | ${pct(r.server_cpu_pct)} | ` +
            `${r.core_busy_pct.map(pct).join(", ")} | ${contended(row, r) ? "yes" : ""} | ${r.errors} |`,
        );
      });
    }
  }
  return lines.join("\n");
}

function machine(pinned: boolean): string {
  const cpuinfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? "unknown";
  const require = createRequire(import.meta.url);
  const wsVersion = (require("ws/package.json") as { version: string }).version;
  const commit = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" });
  const dirty = spawnSync("git", ["status", "--porcelain", "--", "src"], { cwd: ROOT, encoding: "utf8" });
  const revision =
    commit.status === 0
      ? `${commit.stdout.trim()}${dirty.stdout.trim() !== "" ? " (with uncommitted changes in src/)" : ""}`
      : "unknown";
  return [
    `- CPU: ${model}, ${os.availableParallelism()} cores`,
    `- memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- kernel: ${os.type()} ${os.release()}`,
    `- node ${process.version}, ws ${wsVersion}, undercurrent at ${revision}`,
    `- pinning: ${pinned ? "server on CPU 0, loadgen on CPU 1 (taskset)" : "none (taskset missing or fewer than 2 cores)"}`,
  ].join("\n");
}

// ------------------------------------------------------------------ main

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      reps: { type: "string", default: "1" },
      warmup: { type: "string" },
      duration: { type: "string" },
      out: { type: "string" },
      json: { type: "string" },
      "no-pin": { type: "boolean", default: false },
      "quiet-wait": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(
      "npm run bench -- [--quick] [--only row,row] [--reps N] [--warmup S] [--duration S] [--quiet-wait S]\n" +
        "  [--out FILE] [--json FILE] [--no-pin]\n" +
        `rows: ${ROWS.map((r) => r.id).join(", ")}`,
    );
    return 0;
  }
  const quick = values.quick;
  const settings: Settings = {
    quick,
    warm: Number(values.warmup ?? (quick ? 0.2 : 2)),
    duration: Number(values.duration ?? (quick ? 0.7 : 5)),
  };
  const quietWait = Number(values["quiet-wait"] ?? (quick ? 0 : 15));
  if (!(quietWait >= 0 && quietWait <= 120)) throw new Error("--quiet-wait: 0..120 s");
  const reps = Number(values.reps);
  if (!Number.isInteger(reps) || reps < 1 || reps > 9) throw new Error("--reps: 1..9");
  if (!(settings.warm >= 0 && settings.warm <= 60)) throw new Error("--warmup: 0..60 s");
  if (!(settings.duration > 0 && settings.duration <= 60)) throw new Error("--duration: (0, 60] s");
  let rows = ROWS;
  if (values.only !== undefined) {
    const wanted = values.only.split(",").map((s) => s.trim());
    const unknown = wanted.filter((id) => !ROWS.some((r) => r.id === id));
    if (unknown.length !== 0)
      throw new Error(`unknown rows: ${unknown.join(", ")} (rows: ${ROWS.map((r) => r.id).join(", ")})`);
    rows = ROWS.filter((r) => wanted.includes(r.id));
  }
  // A full run of every row writes bench/RESULTS.md; a partial or quick one only if asked.
  const out =
    values.out ?? (!quick && values.only === undefined ? join(ROOT, "bench", "RESULTS.md") : undefined);

  buildLoadgen();
  const pinned = !values["no-pin"] && os.availableParallelism() >= 2 && hasTaskset();
  const serverCpu = pinned ? 0 : null;
  const clientCpu = pinned ? 1 : null;
  const started = Date.now();
  const measured: Measured[] = [];

  for (const row of rows) {
    const m: Measured = { row, runs: { baseline: [], subject: [] }, failures: [] };
    measured.push(m);
    for (let rep = 0; rep < reps; rep++) {
      for (const role of ROLES) {
        const side = sidesOf(row)[role];
        const name = side.name;
        const port = await freePort();
        let server: Server | undefined;
        if (quietWait > 0) {
          const waited = await waitForQuiet(quietWait);
          if (waited >= quietWait)
            process.stderr.write(`  (machine still busy after ${quietWait} s: running anyway)\n`);
        }
        try {
          server = await startServer(side, row.serverMode, port, serverCpu);
          const args = [
            ...row.args(settings),
            ...side.loadgenArgs,
            "-p",
            String(port),
            "-x",
            String(server.pid),
            "-l",
            `${name}/${row.id}`,
          ];
          const result = await runLoadgen(args, clientCpu, row.budget(settings));
          m.runs[role].push(result);
          for (const p of problems(row, settings, result)) m.failures.push(`${name}: ${p}`);
          const figure = row.figure(result);
          process.stderr.write(
            `  ${row.id.padEnd(10)} ${name.padEnd(12)} ${fmt(figure)} ${row.unit}` +
              `  gen ${pct(result.client_cpu_pct)} server ${pct(result.server_cpu_pct)} errors ${result.errors}\n`,
          );
        } catch (error) {
          m.failures.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
          process.stderr.write(`  ${row.id} ${name}: FAILED ${String(error)}\n`);
          if (server !== undefined) process.stderr.write(server.output());
        } finally {
          await server?.stop();
        }
      }
    }
  }

  const seconds = (Date.now() - started) / 1000;
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
  const summary = table(measured, settings);
  const failures = measured.flatMap((m) => m.failures.map((f) => `${m.row.id}: ${f}`));
  console.log(`\n${summary}\n`);
  const noisy = measured.flatMap(({ row, runs }) =>
    ROLES.flatMap((role) =>
      runs[role].filter((r) => contended(row, r)).map(() => `${row.id}/${sidesOf(row)[role].name}`),
    ),
  );
  const noisyNote =
    noisy.length === 0
      ? ""
      : `Contended (neither side had 90% of a core; compare with care, or rerun): ${noisy.join(", ")}`;
  console.log(`${rows.length} rows × ${ROLES.length} servers × ${reps} rep(s) in ${seconds.toFixed(1)} s`);
  if (noisyNote !== "") console.log(noisyNote);
  if (failures.length !== 0) console.log(`\nFAILED:\n${failures.map((f) => `- ${f}`).join("\n")}`);

  if (values.json !== undefined) {
    // Each row names its two sides (`baseline`, `subject`: ws and undercurrent, or http1 and
    // http2), gives the median figure of each under its name, and its runs under the same names.
    const data = measured.map(({ row, runs, failures: f }) => {
      const { baseline, subject } = sidesOf(row);
      const figure = figures(row, runs);
      return {
        row: row.id,
        title: row.title,
        unit: row.unit,
        baseline: baseline.name,
        subject: subject.name,
        [baseline.name]: figure.baseline,
        [subject.name]: figure.subject,
        ratio: figure.ratio,
        ratioLabel: ratioLabel(row),
        failures: f,
        runs: { [baseline.name]: runs.baseline, [subject.name]: runs.subject },
      };
    });
    writeFileSync(values.json, `${JSON.stringify({ quick, reps, seconds, rows: data }, null, 2)}\n`);
  }
  if (out !== undefined) {
    const date = new Date().toISOString().replace("T", " ").slice(0, 16) + " UTC";
    const text = [
      "# Benchmark results",
      "",
      `Run of ${date}, ${seconds.toFixed(0)} s in all. How to read and rerun it: [README.md](README.md).`,
      "",
      "## Machine",
      "",
      machine(pinned),
      "",
      "## Command",
      "",
      "```sh",
      command,
      "```",
      "",
      `Each figure is the median of ${reps} run(s) with a fresh server per run; ` +
        `${settings.warm} s warm-up, then ${settings.duration} s measured.`,
      "",
      "## Table",
      "",
      summary,
      "",
      noisyNote,
      "",
      "## Every run",
      "",
      details(measured),
      "",
      failures.length !== 0 ? `## Failures\n\n${failures.map((f) => `- ${f}`).join("\n")}\n` : "",
    ].join("\n");
    writeFileSync(out, text);
    console.log(`wrote ${relative(process.cwd(), out)}`);
  }
  return failures.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
