/**
 * The programs outside npm that the tests drive, in one table: where each test finds it, how to
 * tell whether it is there, and which package provides it. `scripts/prerequisites.ts` (the first
 * step of `npm test`) checks them all before any test runs; the tests take their paths from here,
 * so a machine that keeps a program elsewhere says so once, with an environment variable.
 *
 * @example
 * ```ts
 * import { program } from "./programs.js";
 * spawn(program("nginx"), ["-p", dir, "-c", conf]);
 * ```
 * @module
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** One program the tests need. */
export interface Program {
  /** What the tests call it. */
  readonly name: string;
  /** Environment variable that overrides where it is. */
  readonly env: string;
  /** Where to look when the variable is not set: absolute paths, or bare names searched on PATH. */
  readonly candidates: readonly string[];
  /** Which tests need it. */
  readonly usedBy: string;
  /** The Debian/Ubuntu packages that provide it, separated by spaces. */
  readonly apt: string;
  /** How to get it on macOS: a Homebrew formula or cask, or another command where Homebrew has none. */
  readonly brew: { readonly formula: string } | { readonly cask: string } | { readonly command: string };
  /** More than "the file is there": a check that it works for the tests (exit status 0). */
  readonly probe?: readonly string[];
}

/** Every program outside npm that some test runs. */
export const PROGRAMS = [
  {
    name: "redis-server",
    env: "REDIS_SERVER",
    candidates: ["redis-server", "/usr/bin/redis-server", "/usr/local/bin/redis-server"],
    usedBy: "the Redis broker, multi-process and demo-with-Redis tests",
    apt: "redis-server",
    brew: { formula: "redis" },
  },
  {
    name: "nginx",
    env: "NGINX",
    candidates: ["/usr/sbin/nginx", "nginx"],
    usedBy: "the reverse-proxy test (examples/nginx.conf)",
    apt: "nginx",
    brew: { formula: "nginx" },
  },
  {
    name: "chromium",
    env: "CHROMIUM",
    candidates: [
      "/usr/bin/chromium",
      "chromium",
      "chromium-browser",
      "/Applications/Chromium.app/Contents/MacOS/Chromium",
    ],
    usedBy: "the browser tests (test/browser)",
    apt: "chromium",
    brew: { cask: "chromium" },
  },
  {
    name: "python3 with websockets",
    env: "PYTHON_WEBSOCKETS",
    // Debian's python3-websockets installs for /usr/bin/python3, which need not be the python3
    // first on PATH (pyenv, Homebrew).
    candidates: ["/usr/bin/python3", "python3"],
    usedBy: "the Python websockets interop test",
    apt: "python3-websockets",
    brew: { command: "python3 -m pip install websockets" },
    probe: ["-c", "import websockets"],
  },
  {
    name: "python3 with h2 and wsproto",
    env: "PYTHON_H2",
    // Debian's python3-h2 and python3-wsproto, like python3-websockets, install for /usr/bin/python3.
    candidates: ["/usr/bin/python3", "python3"],
    usedBy: "the HTTP/2 (RFC 8441) interop test with Python's h2 and wsproto",
    apt: "python3-h2 python3-wsproto",
    brew: { command: "python3 -m pip install h2 wsproto" },
    probe: ["-c", "import h2, wsproto"],
  },
  {
    name: "openssl",
    env: "OPENSSL",
    candidates: ["openssl", "/usr/bin/openssl"],
    usedBy: "the https/wss and HTTP/2 tests (a self-signed certificate)",
    apt: "openssl",
    brew: { formula: "openssl" },
  },
  {
    name: "cc",
    env: "CC",
    candidates: ["cc", "gcc", "clang"],
    usedBy: "the benchmark smoke test (builds bench/loadgen.c)",
    apt: "gcc",
    brew: { command: "xcode-select --install" },
  },
] as const satisfies readonly Program[];

/** The name of a program in {@link PROGRAMS}. */
export type ProgramName = (typeof PROGRAMS)[number]["name"];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    if (dir !== "" && executable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function works(path: string, probe: readonly string[] | undefined): boolean {
  if (probe === undefined) return true;
  const result = spawnSync(path, probe, { stdio: "ignore", timeout: 20_000 });
  return result.status === 0;
}

/**
 * Where `program` is on this machine and works for the tests, or `undefined`. The environment
 * variable wins when set (and is then the only place looked at).
 */
export function locate(program: Program): string | undefined {
  const override = process.env[program.env];
  const candidates = override !== undefined && override !== "" ? [override] : program.candidates;
  for (const candidate of candidates) {
    const path = candidate.includes("/")
      ? executable(candidate)
        ? candidate
        : undefined
      : onPath(candidate);
    if (path !== undefined && works(path, program.probe)) return path;
  }
  return undefined;
}

const found = new Map<ProgramName, string>();

/**
 * The path of a program a test needs. `npm test` checked them all first
 * (scripts/prerequisites.ts); a test file run on its own gets one clear error instead of ENOENT.
 */
export function program(name: ProgramName): string {
  const cached = found.get(name);
  if (cached !== undefined) return cached;
  const entry: Program = PROGRAMS.find((p) => p.name === name)!;
  const path = locate(entry);
  if (path === undefined) {
    throw new Error(
      `${name} is needed by ${entry.usedBy} and is not on this machine: ` +
        `run \`npm run prerequisites\` to see how to install it, or set ${entry.env} to its path`,
    );
  }
  found.set(name, path);
  return path;
}
