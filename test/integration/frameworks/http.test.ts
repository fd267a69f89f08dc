/**
 * examples/http.ts: undercurrent on a plain node:http server. The plain route answers, the
 * echo endpoint round-trips text and binary and close codes, other paths are refused, and
 * stopping the server closes clients with 1001.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { start } from "../../../examples/http.js";
import { TEST, checkEcho, checkRefused, checkShutdown, get, runExample, type Running } from "./kit.js";

describe("node:http (examples/http.ts)", () => {
  let app: Running;
  let base: string;
  before(async () => {
    app = await start(0);
    base = `127.0.0.1:${app.port}`;
  });
  after(() => app.close());

  test("a plain request goes to the next listener", TEST, async () => {
    const answer = await get(`http://${base}/`);
    assert.equal(answer.status, 200);
    assert.equal(answer.body, "hello from node:http\n");
  });

  test("a plain request to the WebSocket path goes there too", TEST, async () => {
    const answer = await get(`http://${base}/echo`);
    assert.equal(answer.status, 200);
  });

  test("echoes text and binary, and answers the client's close code", TEST, async () => {
    await checkEcho(`ws://${base}/echo`);
  });

  test("a WebSocket request for another path is refused with 404", TEST, async () => {
    await checkRefused(`ws://${base}/elsewhere`, 404);
  });

  test("closing the application closes clients with 1001", TEST, async () => {
    const other = await start(0);
    await checkShutdown(`ws://127.0.0.1:${other.port}/echo`, () => other.close());
  });

  test("runs on its own with PORT", TEST, async () => {
    await runExample("examples/http.ts", { PORT: "0" }, (url) => checkEcho(url));
  });
});
