/**
 * Regression: without the optional ioredis package, making a RedisBroker reported the problem
 * and then crashed the process with an unhandled rejection.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

test("a RedisBroker without ioredis reports it through onError and the process carries on", async () => {
  const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));
  const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    execFile(
      process.execPath,
      ["--import", "tsx", "--import", `${fixtures}no-ioredis.mjs`, `${fixtures}broker-without-ioredis.ts`],
      { timeout: 30_000 },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : (error.code as number | null), stdout, stderr }),
    ),
  );
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /reported: RedisBroker needs the ioredis package/);
});
