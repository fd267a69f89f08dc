/**
 * 1000 `ws` clients subscribed to one topic: each receives every published message, in order.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { SubscriberClient, startTopicServer } from "./fixtures.js";

const SUBSCRIBERS = 1000;
const MESSAGES = 200;

test(
  `${SUBSCRIBERS} subscribers on one topic receive every message in order`,
  { timeout: 120_000 },
  async (t) => {
    const server = await startTopicServer();
    const clients: SubscriberClient[] = [];
    t.after(async () => {
      await Promise.all(clients.map((client) => client.close()));
      await server.close();
    });
    for (let i = 0; i < SUBSCRIBERS; i += 100) {
      const batch = Array.from({ length: 100 }, (_, j) =>
        SubscriberClient.connect(server.urlFor(`s${i + j}`, ["firehose"])),
      );
      clients.push(...(await Promise.all(batch)));
    }
    assert.equal(server.handler.subscriberCount("firehose"), SUBSCRIBERS);

    const expected = Array.from({ length: MESSAGES }, (_, i) => `message ${i} `.padEnd(64, "."));
    for (let i = 0; i < MESSAGES; i++) {
      assert.equal(server.handler.publish("firehose", expected[i]!), SUBSCRIBERS);
      // Yield now and then, as a real server would between events.
      if (i % 20 === 19) await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(clients.map((client) => client.waitFor(MESSAGES, "every message", 60_000)));
    for (const client of clients) assert.deepEqual(client.messages, expected);
  },
);
