/**
 * The broker suite on the in-process broker, and what only it does: handlers without a
 * `broker` option keep their topics to themselves, and one `MemoryBroker` joins handlers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryBroker } from "../../src/index.js";
import { brokerSuite } from "./broker-suite.js";
import { SubscriberClient, startTopicServer } from "./fixtures.js";

brokerSuite("the in-process broker", {
  async brokers() {
    const broker = new MemoryBroker();
    return [broker, broker];
  },
  async settle() {},
});

test("handlers without a broker option do not share topics", { timeout: 30_000 }, async () => {
  const a = await startTopicServer();
  const b = await startTopicServer();
  const onA = await SubscriberClient.connect(a.urlFor("x", ["news"]));
  const onB = await SubscriberClient.connect(b.urlFor("y", ["news"]));
  try {
    assert.equal(b.handler.publish("news", "for b only"), 1);
    assert.equal(a.handler.publish("news", "for a only"), 1);
    await onA.waitFor(1);
    await onB.waitFor(1);
    assert.deepEqual(onA.texts, ["for a only"]);
    assert.deepEqual(onB.texts, ["for b only"]);
  } finally {
    await onA.close();
    await onB.close();
    await a.close();
    await b.close();
  }
});
