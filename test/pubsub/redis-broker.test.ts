/**
 * The broker suite on `RedisBroker` against a real redis-server this test starts (two brokers,
 * so messages cross Redis as between two processes).
 */
import { after, before } from "node:test";
import assert from "node:assert/strict";
import { RedisBroker } from "../../src/brokers/redis.js";
import { startRedisServer, type RedisServer } from "../helpers/redis-server.js";
import { brokerSuite } from "./broker-suite.js";

let redis: RedisServer;
before(async () => {
  redis = await startRedisServer();
});
const errors: Error[] = [];
after(async () => {
  await redis?.stop();
  assert.deepEqual(errors, [], "no Redis errors while the server was up");
});

brokerSuite("Redis", {
  async brokers() {
    const prefix = `suite-${process.pid}:`;
    const fail = (error: Error): void => void errors.push(error);
    return [
      new RedisBroker({ url: redis.url, prefix, onError: fail }),
      new RedisBroker({ url: redis.url, prefix, onError: fail }),
    ];
  },
  async settle(brokers) {
    await Promise.all(brokers.map((broker) => (broker as RedisBroker).ready()));
  },
});
