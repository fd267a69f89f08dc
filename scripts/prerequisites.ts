/**
 * `npm run prerequisites`, the first step of `npm test`: are the programs outside npm that the
 * tests drive (test/helpers/programs.ts) on this machine?
 *
 * - All there: prints nothing and exits 0.
 * - Some missing, as root on Debian or Ubuntu: says which packages it installs, runs
 *   `apt-get update` and `apt-get install` for those only, checks again, and exits 0 if they work.
 * - Some missing otherwise (not root, another OS, or UNDERCURRENT_NO_INSTALL=1): prints one
 *   message naming each missing program and the one command that installs them, and exits 1
 *   before any test has run.
 *
 *   npm run prerequisites              check, and install as root on Debian/Ubuntu
 *   npm run prerequisites -- --check   check only
 */
import { spawnSync } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { PROGRAMS, locate, type Program } from "../test/helpers/programs.js";

const { values } = parseArgs({ options: { check: { type: "boolean", default: false } } });

const missing = (): Program[] => PROGRAMS.filter((program) => locate(program) === undefined);

function isDebianLike(): boolean {
  try {
    const release = readFileSync("/etc/os-release", "utf8");
    const field = (name: string): string => new RegExp(`^${name}="?([^"\\n]*)`, "m").exec(release)?.[1] ?? "";
    return /\b(debian|ubuntu)\b/.test(`${field("ID")} ${field("ID_LIKE")}`);
  } catch {
    return false;
  }
}

function hasCommand(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0;
}

/** The one Homebrew command line for `programs` (formulae, casks, then what Homebrew lacks). */
function brewCommand(programs: readonly Program[]): string {
  const formulae = programs.flatMap((p) => ("formula" in p.brew ? [p.brew.formula] : []));
  const casks = programs.flatMap((p) => ("cask" in p.brew ? [p.brew.cask] : []));
  const others = programs.flatMap((p) => ("command" in p.brew ? [p.brew.command] : []));
  return [
    ...(formulae.length > 0 ? [`brew install ${formulae.join(" ")}`] : []),
    ...(casks.length > 0 ? [`brew install --cask ${casks.join(" ")}`] : []),
    ...others,
  ].join(" && ");
}

/** The Debian packages that provide `programs`, each once (a program may need several). */
function aptPackages(programs: readonly Program[]): string[] {
  return [...new Set(programs.flatMap((p) => p.apt.split(" ")))];
}

function instructions(programs: readonly Program[]): string {
  const apt = aptPackages(programs).join(" ");
  return [
    `npm test stopped before running any test: ${programs.length === 1 ? "a program" : "programs"} it needs ${programs.length === 1 ? "is" : "are"} missing.`,
    ...programs.map((p) => `  - ${p.name}, for ${p.usedBy} (or set ${p.env} to its path)`),
    "Debian or Ubuntu (as root, npm test runs this itself):",
    `  sudo apt-get update && sudo apt-get install -y ${apt}`,
    "macOS:",
    `  ${brewCommand(programs)}`,
    "`npm run test:quick` (typecheck, lint, unit and protocol tests) needs none of them.",
  ].join("\n");
}

function install(programs: readonly Program[]): boolean {
  const packages = aptPackages(programs);
  const log = join(tmpdir(), `undercurrent-apt-${process.pid}.log`);
  console.log(`npm test: installing the system packages its tests need: ${packages.join(" ")} (log: ${log})`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const output = openSync(log, "a");
  const run = (args: string[]): boolean =>
    spawnSync("apt-get", args, { stdio: ["ignore", output, output], env }).status === 0;
  const ok = run(["update", "-qq"]) && run(["install", "-y", "-qq", ...packages]);
  closeSync(output);
  if (!ok)
    console.error(
      `apt-get failed; the end of ${log}:\n${readFileSync(log, "utf8").split("\n").slice(-15).join("\n")}`,
    );
  return ok;
}

const absent = missing();
if (absent.length === 0) process.exit(0);

const canInstall =
  !values.check &&
  process.env["UNDERCURRENT_NO_INSTALL"] !== "1" &&
  process.platform === "linux" &&
  process.getuid?.() === 0 &&
  isDebianLike() &&
  hasCommand("apt-get");

if (canInstall && install(absent)) {
  const still = missing();
  if (still.length === 0) process.exit(0);
  console.error(`apt-get finished, but these still do not work:\n${instructions(still)}`);
  process.exit(1);
}
console.error(instructions(absent));
process.exit(1);
