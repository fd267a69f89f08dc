/**
 * RedisBroker's delays, without a Redis server: a retry delay or a `ready()` timeout that no
 * timer can honour is refused (Node fires a delay over 2³¹−1 ms after 1 ms), and
 * `ready(Infinity)` waits without a timer.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidArgumentError } from "../../src/index.js";
import { RedisBroker } from "../../src/brokers/redis.js";

/** A port nothing listens on: every connection attempt is refused at once. */
const NOWHERE = "redis://127.0.0.1:1";
const TEST = { timeout: 10_000 };

test("retry delays a timer cannot honour are refused", () => {
  for (const options of [
    { maxRetryDelay: Infinity },
    { maxRetryDelay: 2 ** 31 },
    { minRetryDelay: 2 ** 31, maxRetryDelay: 2 ** 31 },
    { minRetryDelay: NaN },
    { minRetryDelay: Infinity },
  ]) {
    assert.throws(
      () => new RedisBroker({ url: NOWHERE, ...options }),
      InvalidArgumentError,
      JSON.stringify(options),
    );
  }
});

test("ready() refuses a timeout a timer cannot honour, as a rejection", TEST, async () => {
  const broker = new RedisBroker({ url: NOWHERE, onError: () => {} });
  try {
    for (const timeout of [NaN, -1, 1.5, 2 ** 31, "100"]) {
      await assert.rejects(broker.ready(timeout as number), InvalidArgumentError, String(timeout));
    }
  } finally {
    await broker.close();
  }
});

test("ready(Infinity) waits with no timer (none Node would fire after 1 ms)", TEST, async (t) => {
  const delays: unknown[] = [];
  const original = globalThis.setTimeout;
  t.mock.method(globalThis, "setTimeout", (...args: Parameters<typeof setTimeout>) => {
    delays.push(args[1]);
    return original(...args);
  });
  let failed!: () => void;
  const outage = new Promise<void>((resolve) => (failed = resolve));
  const broker = new RedisBroker({ url: NOWHERE, onError: () => failed() });
  const ready = broker.ready(Infinity);
  await outage; // the first attempt was refused: ready() has been waiting since before it
  await broker.close();
  await assert.rejects(ready, /closed/);
  assert.deepEqual(
    delays.filter((ms) => !(typeof ms === "number" && ms <= 2 ** 31 - 1)),
    [],
    "no delay over 2³¹−1 ms",
  );
});
