/**
 * Decisions before the 101: origins, onUpgrade (sync and async, accept with data or refuse with
 * its own answer), subprotocol refusal and the connection limit. No WebSocket callback runs for
 * a refused request.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { handshake, serve, type Callbacks, type Options } from "../../src/index.js";
import { RawClient } from "../helpers/raw-client.js";

interface Refusal {
  status: number;
  headers: Record<string, string>;
  body: string;
}

async function attempt(url: string, headers: Record<string, string> = {}): Promise<RawClient | Refusal> {
  try {
    return await RawClient.connect(url, { headers });
  } catch (error) {
    if (error instanceof Error && "status" in error) return error as unknown as Refusal;
    throw error;
  }
}

async function withServer<T>(
  options: Options<T>,
  run: (url: string, seen: { connects: number; data: unknown[] }) => Promise<void>,
): Promise<void> {
  const seen = { connects: 0, data: [] as unknown[] };
  const callbacks: Callbacks<T> = {
    onConnect({ channel }) {
      seen.connects++;
      seen.data.push(channel.data);
    },
  };
  const server = await serve(handshake<T>(callbacks, options), { port: 0 });
  try {
    await run(server.url, seen);
  } finally {
    await server.close();
  }
}

test("origins as a list: others get 403; requests without Origin pass", () =>
  withServer({ origins: ["https://good.example"] }, async (url, seen) => {
    const refused = await attempt(url, { Origin: "https://evil.example" });
    assert.ok(!(refused instanceof RawClient));
    assert.equal(refused.status, 403);
    const good = await attempt(url, { Origin: "HTTPS://GOOD.example" });
    assert.ok(good instanceof RawClient);
    const none = await attempt(url);
    assert.ok(none instanceof RawClient);
    good.destroy();
    none.destroy();
    assert.equal(seen.connects, 2);
  }));

test("origins as a predicate", () =>
  withServer({ origins: (origin) => origin?.endsWith(".trusted.example") ?? false }, async (url) => {
    assert.equal(((await attempt(url, { Origin: "https://a.other.example" })) as Refusal).status, 403);
    const ok = await attempt(url, { Origin: "https://a.trusted.example" });
    assert.ok(ok instanceof RawClient);
    ok.destroy();
  }));

test("async onUpgrade refuses with its own status, headers and body; no callback runs", () =>
  withServer(
    {
      async onUpgrade({ request }) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        if (request.headers.authorization !== "Bearer yes") {
          return { status: 401, headers: { "WWW-Authenticate": "Bearer" }, body: "who are you?" };
        }
        return undefined;
      },
    },
    async (url, seen) => {
      const refused = (await attempt(url)) as Refusal;
      assert.equal(refused.status, 401);
      assert.equal(refused.headers["www-authenticate"], "Bearer");
      assert.equal(refused.body, "who are you?");
      assert.equal(seen.connects, 0);
    },
  ));

test("async onUpgrade accepts and attaches per-connection data", () =>
  withServer<{ user: string }>(
    {
      async onUpgrade({ url }) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return { data: { user: url.searchParams.get("user") ?? "anonymous" } };
      },
    },
    async (url, seen) => {
      const client = await attempt(`${url}/?user=ada`);
      assert.ok(client instanceof RawClient);
      client.destroy();
      assert.deepEqual(seen.data, [{ user: "ada" }]);
    },
  ));

test("onUpgrade returning false is 403; throwing is 500; the server carries on", () =>
  withServer(
    {
      onUpgrade({ url }) {
        if (url.pathname === "/boom") throw new Error("bug in the check");
        return url.pathname !== "/no";
      },
    },
    async (url, seen) => {
      assert.equal(((await attempt(`${url}/no`)) as Refusal).status, 403);
      assert.equal(((await attempt(`${url}/boom`)) as Refusal).status, 500);
      const ok = await attempt(`${url}/yes`);
      assert.ok(ok instanceof RawClient);
      ok.destroy();
      assert.equal(seen.connects, 1);
    },
  ));

test("an onUpgrade that never settles is refused after handshakeTimeout", () =>
  withServer({ handshakeTimeout: 200, onUpgrade: () => new Promise<void>(() => {}) }, async (url, seen) => {
    assert.equal(((await attempt(url)) as Refusal).status, 503);
    assert.equal(seen.connects, 0);
  }));

test("a subprotocol selector can refuse the upgrade (400)", () =>
  withServer({ protocols: (offered) => (offered.includes("v2") ? "v2" : false) }, async (url) => {
    assert.equal(((await attempt(url, { "Sec-WebSocket-Protocol": "v1" })) as Refusal).status, 400);
    const ok = await attempt(url, { "Sec-WebSocket-Protocol": "v1, v2" });
    assert.ok(ok instanceof RawClient);
    assert.equal(ok.response.headers["sec-websocket-protocol"], "v2");
    ok.destroy();
  }));

test("maxConnections: past the limit the upgrade gets 503", () =>
  withServer({ maxConnections: 2 }, async (url) => {
    const a = await attempt(url);
    const b = await attempt(url);
    assert.ok(a instanceof RawClient && b instanceof RawClient);
    assert.equal(((await attempt(url)) as Refusal).status, 503);
    a.destroy();
    await a.closed();
    // A slot frees when a connection closes.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const c = await attempt(url);
    assert.ok(c instanceof RawClient);
    b.destroy();
    c.destroy();
  }));
