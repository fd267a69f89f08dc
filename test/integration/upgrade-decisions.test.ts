/**
 * Issue 12, the upgrade path: what the library writes for an `onUpgrade` refusal (no response
 * splitting, no duplicated framing headers, an invalid answer becomes the library's own 500),
 * decision values that must never fail open or crash the process (null, foreign thenables,
 * other realms, odd shapes), strict `origins` / `protocols` results, and the `onUpgradeError`
 * hook that hears about all of it. Raw sockets throughout: the bytes on the wire are the point.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { runInNewContext } from "node:vm";
import { handshake, serve, type Exchange, type Options } from "../../src/index.js";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/** What the server answered, split at the end of the head. */
interface Answer {
  status: number;
  head: string;
  /** Header lines after the status line, as written (name and value unchanged). */
  lines: string[];
  body: string;
}

/** Sends one upgrade request and reads the answer up to the end of the head (101) or the close. */
function upgrade(port: number, path = "/", extra: Record<string, string> = {}): Promise<Answer> {
  let text = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`;
  text += `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n`;
  for (const [name, value] of Object.entries(extra)) text += `${name}: ${value}\r\n`;
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const finish = (): void => {
      socket.destroy();
      const all = Buffer.concat(chunks).toString("latin1");
      const end = all.indexOf("\r\n\r\n");
      const head = end === -1 ? all : all.slice(0, end);
      const [statusLine = "", ...lines] = head.split("\r\n");
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine)?.[1] ?? 0),
        head,
        lines,
        body: end === -1 ? "" : all.slice(end + 4),
      });
    };
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      // A 101 leaves the connection open: its head is the whole answer.
      if (Buffer.concat(chunks).toString("latin1").startsWith("HTTP/1.1 101 ")) {
        if (Buffer.concat(chunks).includes("\r\n\r\n")) finish();
      }
    });
    socket.on("close", finish);
    socket.on("error", reject);
    socket.write(text + "\r\n");
  });
}

interface Seen {
  connects: number;
  errors: Array<{ error: Error & { code?: string; cause?: unknown }; exchange: Exchange }>;
}

/** A server whose `onUpgradeError` records what it hears (unless `options` brings its own). */
async function withServer<T>(
  options: Options<T>,
  run: (port: number, seen: Seen) => Promise<void>,
): Promise<void> {
  const seen: Seen = { connects: 0, errors: [] };
  const handler = handshake<T>(
    {
      onConnect() {
        seen.connects++;
      },
    },
    {
      onUpgradeError: (event) => void seen.errors.push(event as Seen["errors"][number]),
      ...options,
    },
  );
  const server = await serve(handler, { port: 0 });
  try {
    await run(server.port, seen);
  } finally {
    await server.close();
  }
}

const headerNames = (answer: Answer): string[] =>
  answer.lines.map((line) => line.slice(0, line.indexOf(":")).toLowerCase());

/** The library's own 500: no header or byte of the application's answer. */
function assertPlain500(answer: Answer): void {
  assert.equal(answer.status, 500, answer.head);
  assert.deepEqual(headerNames(answer).sort(), ["connection", "content-length", "content-type"]);
  assert.doesNotMatch(answer.head + answer.body, /pwn|evil|secret/i);
}

// ---- response splitting ---------------------------------------------------------------------

const INJECTED = "a\r\nSet-Cookie: pwn=1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil";

test("a refusal header value with CR LF is never written: a plain 500, reported", () =>
  withServer(
    { onUpgrade: () => ({ status: 401, headers: { "X-Reason": INJECTED }, body: "secret" }) },
    async (port, seen) => {
      const answer = await upgrade(port);
      assertPlain500(answer);
      assert.equal(seen.errors.length, 1);
      assert.equal(seen.errors[0]?.error.code, "ERR_INVALID_UPGRADE_RESPONSE");
      assert.equal(seen.errors[0]?.error.name, "UpgradeResponseError");
      assert.equal(seen.errors[0]?.exchange.url.pathname, "/");
    },
  ));

for (const [label, headers] of [
  ["a name with CR LF", { "X-A\r\nSet-Cookie: pwn=1\r\nX-B": "v" }],
  ["a name with a space", { "X A": "v" }],
  ["an empty name", { "": "v" }],
  ["a value with a bare LF", { "X-A": "v\nSet-Cookie: pwn=1" }],
  ["a value with NUL", { "X-A": "v\u0000pwn" }],
  ["a value beyond Latin-1", { "X-A": "pwn\u010a" }],
  ["a value that is not a string", { "X-A": { toString: () => "pwn\r\nX: y" } }],
] as const) {
  test(`a refusal header with ${label} becomes a plain 500`, () =>
    withServer(
      {
        onUpgrade: () => ({
          status: 401,
          headers: headers as unknown as Record<string, string>,
          body: "secret",
        }),
      },
      async (port, seen) => {
        assertPlain500(await upgrade(port));
        assert.deepEqual(
          seen.errors.map((e) => e.error.code),
          ["ERR_INVALID_UPGRADE_RESPONSE"],
        );
      },
    ));
}

for (const status of [200, 101, 399, 600, 401.5, Number.NaN, "401", undefined, null]) {
  test(`a refusal with status ${String(status)} becomes a plain 500 without the app's bytes`, () =>
    withServer(
      { onUpgrade: () => ({ status: status as number, headers: { "X-Evil": "1" }, body: "secret" }) },
      async (port, seen) => {
        assertPlain500(await upgrade(port));
        assert.deepEqual(
          seen.errors.map((e) => e.error.code),
          ["ERR_INVALID_UPGRADE_RESPONSE"],
        );
      },
    ));
}

test("a refusal body that is not a string becomes a plain 500", () =>
  withServer({ onUpgrade: () => ({ status: 401, body: 42 as unknown as string }) }, async (port, seen) => {
    assertPlain500(await upgrade(port));
    assert.equal(seen.errors.length, 1);
  }));

test("framing headers are the library's: Content-Length and Connection once, the app's Content-Type wins", () =>
  withServer(
    {
      onUpgrade: () => ({
        status: 401,
        headers: {
          "content-length": "1",
          Connection: "keep-alive",
          "Transfer-Encoding": "chunked",
          "Content-Type": "application/json",
          "content-type": "application/problem+json",
          "WWW-Authenticate": "Bearer",
        },
        body: '{"error":"log in"}',
      }),
    },
    async (port, seen) => {
      const answer = await upgrade(port);
      assert.equal(answer.status, 401);
      const names = headerNames(answer);
      assert.equal(names.filter((n) => n === "content-length").length, 1);
      assert.equal(names.filter((n) => n === "connection").length, 1);
      assert.equal(names.filter((n) => n === "content-type").length, 1);
      assert.ok(!names.includes("transfer-encoding"));
      assert.ok(answer.lines.includes("Connection: close"));
      assert.ok(answer.lines.includes(`Content-Length: ${Buffer.byteLength('{"error":"log in"}')}`));
      assert.ok(answer.lines.includes("content-type: application/problem+json"));
      assert.ok(answer.lines.includes("WWW-Authenticate: Bearer"));
      assert.equal(answer.body, '{"error":"log in"}');
      assert.equal(seen.errors.length, 0);
    },
  ));

test("a header value with tabs and Latin-1 text is written as Latin-1, like Node's", () =>
  withServer(
    { onUpgrade: () => ({ status: 403, headers: { "X-Why": "caf\u00e9\tclosed" } }) },
    async (port) => {
      const answer = await upgrade(port);
      assert.equal(answer.status, 403);
      assert.ok(answer.lines.includes("X-Why: caf\u00e9\tclosed"), answer.head);
    },
  ));

test("without onUpgradeError, each error is written once with console.error", async (t: TestContext) => {
  const logged: unknown[][] = [];
  t.mock.method(console, "error", (...args: unknown[]) => void logged.push(args));
  const handler = handshake({}, { onUpgrade: () => ({ status: 401, headers: { "X-A": INJECTED } }) });
  const server = await serve(handler, { port: 0 });
  try {
    assertPlain500(await upgrade(server.port));
    assert.equal(logged.length, 1);
    assert.equal((logged[0]?.at(-1) as { code?: string }).code, "ERR_INVALID_UPGRADE_RESPONSE");
  } finally {
    await server.close();
  }
});

test("an onUpgradeError that throws (even a null-prototype object) crashes nothing", async (t: TestContext) => {
  t.mock.method(console, "error", () => {});
  let calls = 0;
  const handler = handshake(
    {},
    {
      onUpgrade: ({ url }) => (url.pathname === "/bad" ? null : undefined) as undefined,
      onUpgradeError: () => {
        calls++;
        throw Object.create(null);
      },
    },
  );
  const server = await serve(handler, { port: 0 });
  try {
    assertPlain500(await upgrade(server.port, "/bad"));
    assert.equal(calls, 1);
    assert.equal((await upgrade(server.port, "/good")).status, 101);
  } finally {
    await server.close();
  }
});

test("an async onUpgradeError that rejects is not an unhandled rejection", async (t: TestContext) => {
  t.mock.method(console, "error", () => {});
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  t.after(() => process.off("unhandledRejection", onUnhandled));
  let calls = 0;
  const handler = handshake(
    {},
    {
      onUpgrade: () => null as unknown as undefined,
      onUpgradeError: (() => {
        calls++;
        return Promise.reject(new Error("hook failed"));
      }) as () => void,
    },
  );
  const server = await serve(handler, { port: 0 });
  try {
    assertPlain500(await upgrade(server.port));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls, 1);
    assert.deepEqual(unhandled, []);
  } finally {
    await server.close();
  }
});

test("errors that used to be silent 500s reach onUpgradeError with their cause", async () => {
  const boom = new Error("bug in the check");
  await withServer(
    {
      onUpgrade({ url }) {
        if (url.pathname === "/throw") throw boom;
        if (url.pathname === "/reject") return Promise.reject(boom);
        return undefined;
      },
    },
    async (port, seen) => {
      assert.equal((await upgrade(port, "/throw")).status, 500);
      assert.equal((await upgrade(port, "/reject")).status, 500);
      assert.deepEqual(
        seen.errors.map((e) => [e.error.code, e.error.cause, e.exchange.url.pathname]),
        [
          ["ERR_UPGRADE_CALLBACK", boom, "/throw"],
          ["ERR_UPGRADE_CALLBACK", boom, "/reject"],
        ],
      );
    },
  );
  await withServer(
    {
      origins: () => {
        throw boom;
      },
    },
    async (port, seen) => {
      assert.equal((await upgrade(port, "/", { Origin: "https://a.example" })).status, 500);
      assert.deepEqual(
        seen.errors.map((e) => [e.error.code, e.error.cause]),
        [["ERR_UPGRADE_CALLBACK", boom]],
      );
    },
  );
  await withServer(
    {
      protocols: () => {
        throw boom;
      },
    },
    async (port, seen) => {
      assert.equal((await upgrade(port, "/", { "Sec-WebSocket-Protocol": "a" })).status, 500);
      assert.deepEqual(
        seen.errors.map((e) => [e.error.code, e.error.cause]),
        [["ERR_UPGRADE_CALLBACK", boom]],
      );
    },
  );
});

// ---- decision values ------------------------------------------------------------------------

/** A thenable that is not a native Promise. */
const thenable = (value: unknown) => ({
  then(resolve: (v: unknown) => void) {
    resolve(value);
  },
});

const decisions: Array<[string, () => unknown, number]> = [
  ["null", () => null, 500],
  ["a Promise of null", () => Promise.resolve(null), 500],
  ["a foreign thenable of false", () => thenable(false), 403],
  ["a foreign thenable of a refusal", () => thenable({ status: 401 }), 401],
  ["a foreign thenable of null", () => thenable(null), 500],
  ["a foreign thenable that never calls back", () => ({ then() {} }), 503],
  ["a Promise from another realm of false", () => runInNewContext("Promise.resolve(false)"), 403],
  [
    "a Promise from another realm of a refusal",
    () => runInNewContext("Promise.resolve({ status: 429 })"),
    429,
  ],
  [
    "a thenable whose then throws",
    () => ({
      then() {
        throw new Error("then");
      },
    }),
    500,
  ],
  [
    "an object whose then getter throws",
    () => ({
      get then() {
        throw new Error("getter");
      },
    }),
    500,
  ],
  [
    "a Proxy that throws on every trap",
    () =>
      new Proxy(
        {},
        {
          get() {
            throw new Error("get");
          },
          ownKeys() {
            throw new Error("ownKeys");
          },
          has() {
            throw new Error("has");
          },
          getOwnPropertyDescriptor() {
            throw new Error("gopd");
          },
        },
      ),
    500,
  ],
  ["0", () => 0, 500],
  ["a string", () => "yes", 500],
  ["a symbol", () => Symbol("accept"), 500],
  ["a function", () => () => undefined, 500],
  ["an empty object", () => ({}), 500],
  ["an array", () => [], 500],
  ["an object with other keys", () => ({ accept: true }), 500],
  ["data with extra keys", () => ({ data: 1, extra: 2 }), 500],
  ["a refusal with an unknown key", () => ({ status: 401, reason: "x" }), 500],
  ["a null-prototype refusal", () => Object.assign(Object.create(null), { status: 418 }), 418],
  ["true", () => true, 101],
  ["undefined", () => undefined, 101],
  ["data", () => ({ data: { user: "ada" } }), 101],
  ["data: undefined", () => ({ data: undefined }), 101],
  ["a foreign thenable of data", () => thenable({ data: 1 }), 101],
];

for (const [label, decide, status] of decisions) {
  test(`onUpgrade deciding ${label} → ${status}`, () =>
    withServer({ handshakeTimeout: 200, onUpgrade: decide as Options["onUpgrade"] }, async (port, seen) => {
      const answer = await upgrade(port);
      assert.equal(answer.status, status, answer.head);
      assert.equal(seen.connects, status === 101 ? 1 : 0);
      if (status === 500) {
        assertPlain500(answer);
        assert.equal(seen.errors.length, 1);
      }
      if (status !== 500) assert.equal(seen.errors.length, 0);
    }));
}

// ---- origins and protocols ------------------------------------------------------------------

for (const [label, result, status] of [
  ["true", true, 101],
  ["false", false, 403],
  ["1", 1, 500],
  ["a string", "yes", 500],
  ["undefined", undefined, 500],
  ["a Promise of true", Promise.resolve(true), 500],
] as const) {
  test(`an origins predicate returning ${label} → ${status}`, () =>
    withServer({ origins: () => result as boolean }, async (port, seen) => {
      const answer = await upgrade(port, "/", { Origin: "https://a.example" });
      assert.equal(answer.status, status, answer.head);
      assert.equal(seen.errors.length, status === 500 ? 1 : 0);
      if (status === 500) assert.equal(seen.errors[0]?.error.code, "ERR_INVALID_UPGRADE_RESPONSE");
    }));
}

for (const [label, result, status] of [
  ["an offered protocol", "b", 101],
  ["undefined", undefined, 101],
  ["false", false, 400],
  ["null", null, 500],
  ["a number", 7, 500],
  ["a protocol nobody offered", "c", 500],
  ["a header injection", "b\r\nSet-Cookie: pwn=1", 500],
  ["a Promise", Promise.resolve("b"), 500],
] as const) {
  test(`a protocols selector returning ${label} → ${status}`, () =>
    withServer({ protocols: () => result as string }, async (port, seen) => {
      const answer = await upgrade(port, "/", { "Sec-WebSocket-Protocol": "a, b" });
      assert.equal(answer.status, status, answer.head);
      assert.doesNotMatch(answer.head, /pwn/);
      if (status === 101) {
        const line = answer.lines.find((l) => l.toLowerCase().startsWith("sec-websocket-protocol:"));
        assert.equal(line, result === undefined ? undefined : `Sec-WebSocket-Protocol: ${String(result)}`);
      }
      assert.equal(seen.errors.length, status === 500 ? 1 : 0);
    }));
}
