/**
 * examples/fastify.ts: undercurrent with Fastify. Fastify's routes keep answering, the upgrades
 * taken from `fastify.server` echo as they should, and `fastify.close()` closes the WebSockets
 * (1001) through the `preClose` hook instead of waiting on them forever.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { start } from "../../../examples/fastify.js";
import {
  Client,
  TEST,
  checkEcho,
  checkRefused,
  checkShutdown,
  get,
  runExample,
  type Running,
} from "./kit.js";

describe("Fastify (examples/fastify.ts)", () => {
  let app: Running;
  let base: string;
  before(async () => {
    app = await start(0);
    base = `127.0.0.1:${app.port}`;
  });
  after(() => app.close());

  test("Fastify's routes keep answering", TEST, async () => {
    const answer = await get(`http://${base}/`);
    assert.equal(answer.status, 200);
    assert.equal(answer.body, "hello from fastify\n");
    assert.equal((await get(`http://${base}/missing`)).status, 404); // Fastify's own 404
  });

  test("echoes text and binary, and answers the client's close code", TEST, async () => {
    await checkEcho(`ws://${base}/echo`);
  });

  test("a route sees the handler's open connections", TEST, async () => {
    const client = await Client.open(`ws://${base}/echo`);
    try {
      assert.deepEqual(JSON.parse((await get(`http://${base}/stats`)).body), { connections: 1 });
    } finally {
      client.ws.close(1000);
      await client.closing();
    }
  });

  test("a WebSocket request for another path is refused with 404", TEST, async () => {
    await checkRefused(`ws://${base}/elsewhere`, 404);
  });

  test("fastify.close() closes clients with 1001", TEST, async () => {
    const other = await start(0);
    await checkShutdown(`ws://127.0.0.1:${other.port}/echo`, () => other.close());
  });

  test("runs on its own with PORT", TEST, async () => {
    await runExample("examples/fastify.ts", { PORT: "0" }, (url) => checkEcho(url));
  });
});
