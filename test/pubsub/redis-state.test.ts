/**
 * `undercurrent:broker:state`: a `RedisBroker` tells its subscribers when it connects, when
 * Redis goes away, and when it is back with every topic subscribed again, with how many
 * messages published here did not reach Redis meanwhile.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { RedisBroker } from "../../src/brokers/redis.js";
import type { BrokerStateMessage } from "../../src/pubsub/broker.js";
import { startRedisServer } from "../helpers/redis-server.js";
import { eventually, startTopicServer } from "./fixtures.js";

test(
  "broker:state: connected, lost, resubscribed with the messages dropped",
  { timeout: 60_000 },
  async (t) => {
    const redis = await startRedisServer();
    t.after(() => redis.stop());
    const states: BrokerStateMessage[] = [];
    const listener = (message: unknown): void => void states.push(message as BrokerStateMessage);
    subscribe("undercurrent:broker:state", listener);
    t.after(() => unsubscribe("undercurrent:broker:state", listener));

    const broker = new RedisBroker({
      url: redis.url,
      prefix: "state:",
      minRetryDelay: 20,
      maxRetryDelay: 200,
      onError: () => {},
    });
    const server = await startTopicServer(broker);
    t.after(async () => {
      await server.close();
      await broker.close();
    });
    await broker.ready();
    const mine = (): BrokerStateMessage[] => states.filter((s) => s.broker === broker);
    assert.deepEqual(
      mine().map((s) => [s.state, s.dropped]),
      [["connected", 0]],
    );

    await redis.stop();
    await eventually(() => mine().some((s) => s.state === "lost"), "the outage is told");
    for (let i = 0; i < 3; i++) server.handler.publish("news", `during ${i}`);
    await redis.start();
    await broker.ready();
    await eventually(() => mine().some((s) => s.state === "resubscribed"), "the recovery is told");
    assert.deepEqual(
      mine().map((s) => [s.state, s.dropped]),
      [
        ["connected", 0],
        ["lost", 0],
        ["resubscribed", 3],
      ],
    );
  },
);
