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

// ---- RFC 9112 strictness around the upgrade (issue 12) --------------------------------------

/** The status of the first response in `answer`, and the text after its head. */
function firstResponse(answer: Buffer): { status: number; head: string; rest: Buffer } {
  const end = answer.indexOf("\r\n\r\n");
  const head = answer.subarray(0, end === -1 ? answer.length : end).toString("latin1");
  return {
    status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1] ?? 0),
    head,
    rest: end === -1 ? Buffer.alloc(0) : answer.subarray(end + 4),
  };
}

test("two Host lines → 400 (RFC 9112 §3.2)", async () => {
  const raw = upgradeRequest({}).replace("Host: 127.0.0.1\r\n", "Host: 127.0.0.1\r\nHost: evil.example\r\n");
  const answer = firstResponse(await request(server.port, raw));
  assert.equal(answer.status, 400);
  assert.match(answer.rest.toString(), /Host/);
});

test("a Host that is not an authority → 400 (RFC 9112 §3.2)", async () => {
  for (const host of ["evil.example/ws", "user@127.0.0.1", "a b", ""]) {
    const answer = firstResponse(await request(server.port, upgradeRequest({ Host: host })));
    assert.equal(answer.status, 400, host);
    assert.match(answer.rest.toString(), /Host/, host);
  }
});

test("an upgrade request that declares a body → 400, and the body is not read as frames", async () => {
  const body = clientFrame(Opcode.Text, "pwn!");
  const withLength = Buffer.concat([
    Buffer.from(upgradeRequest({ "Content-Length": String(body.length) })),
    body,
  ]);
  const length = firstResponse(await request(server.port, withLength));
  assert.equal(length.status, 400);
  assert.match(length.rest.toString(), /upgrade request with a body/);
  assert.doesNotMatch(length.rest.toString("latin1"), /pwn/);

  const chunked = `${upgradeRequest({ "Transfer-Encoding": "chunked" })}4\r\npwn!\r\n0\r\n\r\n`;
  const te = firstResponse(await request(server.port, chunked));
  assert.equal(te.status, 400);
  assert.match(te.rest.toString(), /upgrade request with a body/);
});

test("Content-Length: 0 on an upgrade request is no body: 101", async () => {
  const raw = upgradeRequest({ "Content-Length": "0" });
  const answer = firstResponse(await request(server.port, raw, (b) => b.includes("\r\n\r\n")));
  assert.equal(answer.status, 101);
});

test("a pipelined request's pending response goes out before the 101, in request order", async () => {
  let release = (): void => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const handler = handshake(
    (_request, response) => void released.then(() => response.end("plain answer")),
    {
      onMessage({ channel, text }) {
        if (text !== undefined) void channel.sendText(text);
      },
    },
    { path: "/ws" },
  );
  const pipelined = await serve(handler, { port: 0 });
  // Answer the plain request only once the upgrade behind it has reached the handler.
  pipelined.http.prependListener("upgrade", () => setImmediate(release));
  try {
    // Two plain requests: the second's response waits in Node's queue behind the first.
    const plain = "GET /plain HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    const bytes = Buffer.concat([
      Buffer.from(plain + plain + upgradeRequest({})),
      clientFrame(Opcode.Text, "after both"),
    ]);
    const answer = await request(pipelined.port, bytes, (b) => b.includes("after both"));
    let rest = answer;
    for (let i = 0; i < 2; i++) {
      const ok = firstResponse(rest);
      assert.equal(ok.status, 200, ok.head);
      const end = ok.rest.indexOf("plain answer");
      assert.ok(end !== -1, "each 200's body comes before the 101");
      rest = ok.rest.subarray(end + "plain answer".length);
    }
    const switched = firstResponse(rest);
    assert.equal(switched.status, 101, switched.head);
    const frames = decodeServerFrames(switched.rest).map((f) => Buffer.from(f.payload).toString());
    assert.deepEqual(frames, ["after both"]);
  } finally {
    await pipelined.close();
  }
});

test("an upgrade behind a response that never finishes is cut after handshakeTimeout, with no 101", async () => {
  const handler = handshake(() => {}, {}, { path: "/ws", handshakeTimeout: 200 });
  const stuck = await serve(handler, { port: 0 });
  try {
    const bytes = "GET /plain HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + upgradeRequest({});
    const answer = await request(stuck.port, bytes);
    assert.equal(answer.length, 0, answer.toString("latin1"));
  } finally {
    await stuck.close();
  }
});

test("an absolute-form target is accepted, matched by its path, with the Host's authority (RFC 9112 §3.2.2)", async () => {
  const handler = handshake(
    {
      onConnect({ channel, exchange }) {
        void channel.sendText(exchange.url.href);
      },
    },
    { path: "/ws" },
  );
  const absolute = await serve(handler, { port: 0 });
  try {
    const port = absolute.port;
    for (const target of [`http://127.0.0.1:${port}/ws?x=1`, `HTTP://127.0.0.1:${port}/ws?x=1`]) {
      const raw = upgradeRequest({ Host: `127.0.0.1:${port}` }, "GET", "1.1", target);
      const answer = firstResponse(await request(port, raw, (b) => b.includes("x=1")));
      assert.equal(answer.status, 101, answer.head);
      const [frame] = decodeServerFrames(answer.rest);
      assert.equal(Buffer.from(frame!.payload).toString(), `http://127.0.0.1:${port}/ws?x=1`);
    }
    // The default port of the scheme is the same authority.
    const defaultPort = upgradeRequest({ Host: "good.example" }, "GET", "1.1", "http://GOOD.example:80/ws");
    assert.equal(firstResponse(await request(port, defaultPort, (b) => b.includes("/ws"))).status, 101);
  } finally {
    await absolute.close();
  }
});

test("an absolute-form target whose authority is not the Host → 400", async () => {
  for (const target of ["http://evil.example/ws", "http://user@127.0.0.1/ws", "ftp://127.0.0.1/ws"]) {
    const raw = upgradeRequest({ Host: "127.0.0.1" }, "GET", "1.1", target);
    const answer = firstResponse(await request(server.port, raw));
    assert.equal(answer.status, 400, target);
    assert.match(answer.rest.toString(), /target|Host/, target);
  }
});

test("an origin-form path that starts with // stays a path: exchange.url keeps the Host's authority", async () => {
  const handler = handshake({
    onConnect({ channel, exchange }) {
      void channel.sendText(exchange.url.href);
    },
  });
  const any = await serve(handler, { port: 0 });
  try {
    const raw = upgradeRequest({ Host: "good.example" }, "GET", "1.1", "//evil.example/ws");
    const answer = firstResponse(await request(any.port, raw, (b) => b.includes("/ws")));
    assert.equal(answer.status, 101, answer.head);
    const [frame] = decodeServerFrames(answer.rest);
    assert.equal(Buffer.from(frame!.payload).toString(), "http://good.example//evil.example/ws");
  } finally {
    await any.close();
  }
});
