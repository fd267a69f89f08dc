/**
 * examples/express.ts: undercurrent with Express. `app.use(echo)` lets plain requests through
 * to the routes, the handler works as route middleware in front of a route handler, and the
 * upgrades taken from the server `app.listen()` returns echo as they should.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { start } from "../../../examples/express.js";
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

describe("Express (examples/express.ts)", () => {
  let app: Running;
  let base: string;
  before(async () => {
    app = await start(0);
    base = `127.0.0.1:${app.port}`;
  });
  after(() => app.close());

  test("plain requests pass the app-level middleware and reach the routes", TEST, async () => {
    const answer = await get(`http://${base}/`);
    assert.equal(answer.status, 200);
    assert.equal(answer.body, "hello from express\n");
    assert.equal((await get(`http://${base}/missing`)).status, 404); // Express's own 404
  });

  test("as route middleware, the handler passes a plain GET on to the route handler", TEST, async () => {
    const answer = await get(`http://${base}/echo`);
    assert.equal(answer.status, 426);
    assert.equal(answer.headers.upgrade, "websocket");
    assert.equal(answer.body, "connect a WebSocket client here\n");
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

  test("closing the application closes clients with 1001", TEST, async () => {
    const other = await start(0);
    await checkShutdown(`ws://127.0.0.1:${other.port}/echo`, () => other.close());
  });

  test("runs on its own with PORT", TEST, async () => {
    await runExample("examples/express.ts", { PORT: "0" }, (url) => checkEcho(url));
  });
});
