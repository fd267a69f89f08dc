/**
 * The opening handshake over real HTTP: statuses and reasons for bad requests, the 101's
 * headers, and bytes that arrive with the upgrade request.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { createHash } from "node:crypto";
import { handshake, serve, type Server } from "../../src/index.js";
import { Opcode } from "../../src/protocol/opcodes.js";
import { clientFrame, decodeServerFrames } from "../helpers/frames.js";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/** Sends raw bytes and returns everything the server sends until it closes or `until` matches. */
function request(
  port: number,
  bytes: string | Uint8Array,
  until?: (received: Buffer) => boolean,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("no complete answer within 5 s"));
    }, 5000);
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks));
    };
    socket.on("data", (chunk) => {
      chunks.push(chunk);
      if (until?.(Buffer.concat(chunks))) finish();
    });
    socket.on("close", finish);
    socket.on("error", () => {});
    socket.write(bytes);
  });
}

function upgradeRequest(
  headers: Record<string, string | undefined>,
  method = "GET",
  version = "1.1",
  path = "/ws",
) {
  const all: Record<string, string | undefined> = {
    Host: "127.0.0.1",
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": KEY,
    "Sec-WebSocket-Version": "13",
    ...headers,
  };
  let text = `${method} ${path} HTTP/${version}\r\n`;
  for (const [name, value] of Object.entries(all)) if (value !== undefined) text += `${name}: ${value}\r\n`;
  return text + "\r\n";
}

let server: Server;
before(async () => {
  const handler = handshake(
    {
      onMessage({ channel, text }) {
        if (text !== undefined) void channel.sendText(text);
      },
    },
    { path: "/ws", protocols: ["chat.v2", "chat.v1"] },
  );
  server = await serve(handler, { port: 0 });
});
after(() => server.close());

const refused: Array<[string, string, number, RegExp]> = [
  ["POST", upgradeRequest({}, "POST"), 400, /GET/],
  ["HTTP/1.0", upgradeRequest({}, "GET", "1.0"), 400, /HTTP\/1\.1/],
  ["no Connection: Upgrade", upgradeRequest({ Connection: "keep-alive" }), 400, /Connection/],
  ["a short key", upgradeRequest({ "Sec-WebSocket-Key": "AAAA" }), 400, /Sec-WebSocket-Key/],
  ["no key", upgradeRequest({ "Sec-WebSocket-Key": undefined }), 400, /Sec-WebSocket-Key/],
  ["version 8", upgradeRequest({ "Sec-WebSocket-Version": "8" }), 426, /Sec-WebSocket-Version/],
  ["an unknown path", upgradeRequest({}, "GET", "1.1", "/nope"), 404, /path/],
];

for (const [name, raw, status, reason] of refused) {
  test(`${name} → ${status} with a one-line reason`, async () => {
    const answer = (await request(server.port, raw)).toString();
    const [head = "", body = ""] = answer.split("\r\n\r\n");
    assert.match(head, new RegExp(`^HTTP/1\\.1 ${status} `));
    assert.match(body, reason);
    assert.doesNotMatch(body, /\n/);
    if (status === 426) assert.match(head, /\r\nSec-WebSocket-Version: 13/);
  });
}

test("a plain request without a next handler gets 426 with Upgrade: websocket", async () => {
  const answer = (
    await request(server.port, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
  ).toString();
  assert.match(answer, /^HTTP\/1\.1 426 /);
  assert.match(answer, /\r\nupgrade: websocket\r\n/i);
});

test("the 101 carries the accept key and the selected subprotocol (client order)", async () => {
  const raw = upgradeRequest({ "Sec-WebSocket-Protocol": "chat.v1, chat.v2" });
  const answer = (await request(server.port, raw, (b) => b.includes("\r\n\r\n"))).toString();
  const expected = createHash("sha1").update(`${KEY}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
  assert.match(answer, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(answer, new RegExp(`\r\nSec-WebSocket-Accept: ${expected.replace(/[+/=]/g, "\\$&")}\r\n`));
  assert.match(answer, /\r\nSec-WebSocket-Protocol: chat\.v1\r\n/);
});

test("no subprotocol header when the client offers none the server speaks", async () => {
  const raw = upgradeRequest({ "Sec-WebSocket-Protocol": "other" });
  const answer = (await request(server.port, raw, (b) => b.includes("\r\n\r\n"))).toString();
  assert.match(answer, /^HTTP\/1\.1 101 /);
  assert.doesNotMatch(answer, /Sec-WebSocket-Protocol/i);
});

test("frames sent in the same packet as the upgrade request are not lost (head)", async () => {
  const frames = Buffer.concat([clientFrame(Opcode.Text, "first"), clientFrame(Opcode.Text, "second")]);
  const bytes = Buffer.concat([Buffer.from(upgradeRequest({})), frames]);
  const answer = await request(server.port, bytes, (b) => {
    const at = b.indexOf("\r\n\r\n");
    return at !== -1 && b.subarray(at + 4).includes("second");
  });
  const body = answer.subarray(answer.indexOf("\r\n\r\n") + 4);
  const texts = decodeServerFrames(body).map((f) => [f.opcode, Buffer.from(f.payload).toString()]);
  assert.deepEqual(texts, [
    [Opcode.Text, "first"],
    [Opcode.Text, "second"],
  ]);
});
