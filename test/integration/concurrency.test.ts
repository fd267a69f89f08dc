/**
 * 200 concurrent `ws` clients on one undercurrent echo server, each echoing 100 messages (text
 * and binary interleaved): every client gets its own messages back, complete and in order, and
 * every connection's `onClose` fires exactly once.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket, type RawData } from "ws";
import { startEchoServer, withTimeout } from "../helpers/echo-server.js";

const CLIENTS = 200;
const MESSAGES = 100;
const WAIT = 30_000;

function toBuffer(raw: RawData): Buffer {
  if (Buffer.isBuffer(raw)) return raw;
  if (Array.isArray(raw)) return Buffer.concat(raw);
  return Buffer.from(raw);
}

/** The i-th message of client c: text on even i, binary on odd i, of varying length. */
function messageOf(c: number, i: number): { text: string } | { data: Buffer } {
  const body = `client ${c} message ${i} ` + "x".repeat((c * 31 + i * 17) % 300);
  return i % 2 === 0 ? { text: body } : { data: Buffer.from(body) };
}

/** Opens one client, sends its messages at once, checks the echoes, closes with 1000. */
async function runClient(url: string, c: number): Promise<{ code: number }> {
  const ws = new WebSocket(url);
  const received: Array<{ text: string } | { data: Buffer }> = [];
  let error: Error | undefined;
  const closed = new Promise<{ code: number }>((resolve) =>
    ws.on("close", (code: number) => resolve({ code })),
  );
  const allBack = new Promise<void>((resolve) => {
    ws.on("message", (raw: RawData, isBinary: boolean) => {
      const data = toBuffer(raw);
      received.push(isBinary ? { data } : { text: data.toString("utf8") });
      if (received.length === MESSAGES) resolve();
    });
  });
  ws.on("error", (e) => (error = e));

  await withTimeout(
    new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    }),
    WAIT,
    `client ${c} open`,
  );
  for (let i = 0; i < MESSAGES; i++) {
    const message = messageOf(c, i);
    ws.send("text" in message ? message.text : message.data);
  }
  await withTimeout(allBack, WAIT, `client ${c}: ${received.length}/${MESSAGES} echoes`);
  for (let i = 0; i < MESSAGES; i++) {
    assert.deepEqual(received[i], messageOf(c, i), `client ${c}, message ${i}`);
  }
  ws.close(1000);
  const close = await withTimeout(closed, WAIT, `client ${c} close`);
  assert.equal(error, undefined, `client ${c} saw an error`);
  return close;
}

test(
  `${CLIENTS} concurrent clients each echo ${MESSAGES} messages in order`,
  { timeout: 120_000 },
  async () => {
    const echo = await startEchoServer({ waitTimeout: WAIT });
    try {
      const closes = await Promise.all(
        Array.from({ length: CLIENTS }, (_, c) => runClient(echo.urlFor(`c${c}`), c)),
      );
      for (const close of closes) assert.equal(close.code, 1000);

      await echo.waitFor(() => echo.closes.length >= CLIENTS, "every onClose");
      assert.equal(echo.connects, CLIENTS);
      assert.equal(echo.closes.length, CLIENTS);
      const ids = new Set(echo.closes.map((record) => record.id));
      assert.equal(ids.size, CLIENTS, "each connection's onClose fires exactly once");
      for (const record of echo.closes) assert.equal(record.code, 1000, `onClose of ${record.id}`);
      assert.deepEqual(echo.errors, []);
      assert.equal(echo.handler.connections.size, 0);
    } finally {
      await echo.close();
    }
  },
);
