/**
 * Redis goes away during traffic and comes back: local subscribers keep receiving every
 * message, `onError` reports the outage once per broker, and once Redis is back (and the
 * brokers have subscribed again) messages cross between servers again, still in order and
 * never twice.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { RedisBroker } from "../../src/brokers/redis.js";
import { startRedisServer } from "../helpers/redis-server.js";
import { SubscriberClient, eventually, startTopicServer } from "./fixtures.js";

test("Redis restart during traffic", { timeout: 60_000 }, async (t) => {
  const redis = await startRedisServer();
  t.after(() => redis.stop());
  const errorsA: Error[] = [];
  const errorsB: Error[] = [];
  const options = { url: redis.url, prefix: "restart:", minRetryDelay: 20, maxRetryDelay: 200 };
  const brokerA = new RedisBroker({ ...options, onError: (error) => void errorsA.push(error) });
  const brokerB = new RedisBroker({ ...options, onError: (error) => void errorsB.push(error) });
  const a = await startTopicServer(brokerA);
  const b = await startTopicServer(brokerB);
  t.after(async () => {
    await Promise.all([a.close(), b.close()]);
    await Promise.all([brokerA.close(), brokerB.close()]);
  });
  const local = await SubscriberClient.connect(a.urlFor("local", ["live"]));
  const remote = await SubscriberClient.connect(b.urlFor("remote", ["live"]));
  let sent = 0;
  const timer = setInterval(() => a.handler.publish("live", `m:${sent++}`), 2);
  const index = (message: string | Buffer): number => Number(String(message).slice(2));
  try {
    await Promise.all([brokerA.ready(), brokerB.ready()]);
    await remote.waitFor(20, "remote traffic before the outage");

    await redis.stop();
    await eventually(() => errorsA.length > 0 && errorsB.length > 0, "onError reports the outage");
    const atOutage = local.messages.length;
    await local.waitFor(atOutage + 50, "local traffic during the outage");
    assert.equal(brokerA.connected, false);
    assert.ok(brokerA.dropped > 0, "messages published during the outage are counted as dropped");

    await redis.start();
    await Promise.all([brokerA.ready(), brokerB.ready()]);
    const resumed = sent;
    await remote.waitUntil(
      () => remote.messages.some((m) => index(m) >= resumed),
      "remote traffic after the restart",
    );
  } finally {
    clearInterval(timer);
  }
  await local.waitFor(sent, "every local message");

  // Locally nothing is lost: every message, in order.
  assert.deepEqual(
    local.messages.map(index),
    Array.from({ length: sent }, (_, i) => i),
  );
  // Remotely: some were lost during the outage, none twice, none out of order.
  const seen = remote.messages.map(index);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, `remote order at ${i}`);
  assert.ok(seen.length < sent, "the outage lost messages across processes");
  // One report per outage, not one per reconnection attempt.
  assert.equal(errorsA.length, 1, errorsA.map((e) => e.message).join("; "));
  assert.equal(errorsB.length, 1, errorsB.map((e) => e.message).join("; "));
  assert.equal((errorsA[0] as { code?: string }).code, "ERR_REDIS_BROKER");
});
