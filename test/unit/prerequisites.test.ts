/**
 * scripts/prerequisites.ts, the first step of `npm test`, and the program lookup the tests use.
 * Every program is pointed at through its environment variable, so these tests depend on nothing
 * installed on the machine.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { PROGRAMS, locate } from "../helpers/programs.js";

const SCRIPT = "scripts/prerequisites.ts";

/** Every program's variable set to `/bin/true` (present, and its probe succeeds), then `overrides`. */
function env(overrides: Record<string, string>): NodeJS.ProcessEnv {
  const all: NodeJS.ProcessEnv = { ...process.env, UNDERCURRENT_NO_INSTALL: "1" };
  for (const program of PROGRAMS) all[program.env] = "/bin/true";
  return { ...all, ...overrides };
}

function run(overrides: Record<string, string>): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, ["--import", "tsx", SCRIPT], {
    env: env(overrides),
    encoding: "utf8",
    timeout: 30_000,
  });
  return { status: result.status, output: result.stdout + result.stderr };
}

test("with every program present the check passes silently", () => {
  const { status, output } = run({});
  assert.equal(status, 0, output);
  assert.equal(output, "");
});

test("a missing program stops npm test with one message: what is missing and the command that installs it", () => {
  const { status, output } = run({ REDIS_SERVER: "/nonexistent/redis-server", NGINX: "/nonexistent/nginx" });
  assert.equal(status, 1);
  assert.match(output, /stopped before running any test/);
  assert.match(output, /- redis-server, for .*REDIS_SERVER/);
  assert.match(output, /- nginx, for .*NGINX/);
  assert.doesNotMatch(output, /- chromium/);
  assert.match(output, /sudo apt-get update && sudo apt-get install -y redis-server nginx$/m);
  assert.match(output, /brew install redis nginx$/m);
  assert.doesNotMatch(output, /ENOENT|\n\s+at /, "no raw error or stack trace");
});

test("a python3 without the websockets module counts as missing", () => {
  const { status, output } = run({ PYTHON_WEBSOCKETS: "/bin/false" });
  assert.equal(status, 1);
  assert.match(output, /python3 with websockets/);
  assert.match(output, /install -y python3-websockets$/m);
  assert.match(output, /python3 -m pip install websockets/);
});

test("locate() honours the environment variable and nothing else when it is set", () => {
  const redis = PROGRAMS.find((p) => p.name === "redis-server")!;
  const saved = process.env[redis.env];
  try {
    process.env[redis.env] = "/bin/true";
    assert.equal(locate(redis), "/bin/true");
    process.env[redis.env] = "/nonexistent/redis-server";
    assert.equal(locate(redis), undefined);
  } finally {
    if (saved === undefined) delete process.env[redis.env];
    else process.env[redis.env] = saved;
  }
});

test("a program that needs two packages names both, and each package once", () => {
  const { status, output } = run({ PYTHON_H2: "/bin/false", PYTHON_WEBSOCKETS: "/bin/false" });
  assert.equal(status, 1);
  assert.match(output, /- python3 with h2 and wsproto, for .*PYTHON_H2/);
  assert.match(output, /sudo apt-get install -y python3-websockets python3-h2 python3-wsproto$/m);
  assert.match(output, /python3 -m pip install websockets && python3 -m pip install h2 wsproto$/m);
});
