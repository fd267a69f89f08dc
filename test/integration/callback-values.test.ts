/**
 * Regression tests for issue 12, "values that crash the process": callbacks that throw, reject
 * with or return odd values (`null`, `Object.create(null)`, symbols, proxies whose traps throw,
 * objects and errors whose getters throw, thenables, promises from another realm). Each case runs
 * over a real connection (a `ws` client) against a server in this process: an uncaught exception
 * fails the test run, so "the process survives" is checked by every case, and a bystander
 * connection must keep being served after each one.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { handshake, serve, type Callbacks, type Channel, type Server } from "../../src/index.js";
import { ODD_RETURNS, ODD_VALUES, TextClient as Client } from "../helpers/odd-values.js";
import { withTimeout } from "../helpers/echo-server.js";

const WAIT = 10_000;
type CallbackName = "onConnect" | "onMessage" | "onClose" | "onDrain" | "onError";
type How = "throw" | "reject" | "return";

/** What one connection's callbacks saw. */
interface Record {
  errors: unknown[];
  closes: number[];
}

/**
 * A server whose callbacks misbehave as the upgrade URL asks: `?id=…&in=<callback>&how=<throw |
 * reject | return>&i=<index>` (an index into ODD_VALUES, or ODD_RETURNS for `return`). A text
 * "act" makes `onMessage` (or, for `in=onError`, `onMessage` then `onError`) misbehave; any other
 * text is echoed.
 */
class Lab {
  readonly records = new Map<string, Record>();
  /** The value each connection threw or rejected with. */
  readonly thrown = new Map<string, unknown>();
  /** Each connection's channel, for server-side closes. */
  readonly channels = new Map<string, Channel>();
  private readonly changes = new EventEmitter();
  server!: Server;

  private constructor() {
    this.changes.setMaxListeners(0);
  }

  static async start(withOnError: boolean): Promise<Lab> {
    const lab = new Lab();
    const params = (url: URL) => ({
      id: url.searchParams.get("id") ?? "",
      in: url.searchParams.get("in") as CallbackName,
      how: url.searchParams.get("how") as How,
      i: Number(url.searchParams.get("i")),
    });
    type Data = ReturnType<typeof params>;
    const act = (data: Data | undefined, where: CallbackName): unknown => {
      if (data === undefined || data.in !== where) return undefined;
      if (data.how === "return") return ODD_RETURNS[data.i]!.make();
      const value = ODD_VALUES[data.i]!.make();
      lab.thrown.set(data.id, value);
      if (data.how === "throw") throw value;
      // A rejection with the value (a native promise: thenables are the `return` cases).
      return Promise.reject(value as Error);
    };
    const callbacks: Callbacks<Data> = {
      onConnect({ channel, exchange }) {
        channel.data = params(exchange.url);
        lab.records.set(channel.data.id, { errors: [], closes: [] });
        lab.channels.set(channel.data.id, channel as Channel);
        // Past the socket's high-water mark: the socket drains once the client has read it.
        if (channel.data.in === "onDrain") void channel.sendBinary(Buffer.alloc(512 * 1024));
        return act(channel.data, "onConnect") as void;
      },
      onMessage({ channel, text }) {
        if (text === "act") {
          if (channel.data?.in === "onError") throw new Error("trigger onError");
          return act(channel.data, "onMessage") as void;
        }
        void channel.sendText(text ?? "");
        return undefined;
      },
      onDrain({ channel }) {
        return act(channel.data, "onDrain") as void;
      },
      onClose({ channel, code }) {
        lab.record(channel.data?.id).closes.push(code);
        lab.changed();
        return act(channel.data, "onClose") as void;
      },
    };
    if (withOnError) {
      callbacks.onError = ({ channel, error }) => {
        lab.record(channel.data?.id).errors.push(error);
        lab.changed();
        if (channel.data?.in === "onError") return act(channel.data, "onError") as void;
        return undefined;
      };
    }
    const handler = handshake(callbacks, { closeTimeout: 500 });
    lab.server = await serve(handler, { port: 0 });
    return lab;
  }

  record(id: string | undefined): Record {
    let record = this.records.get(id ?? "");
    if (record === undefined) this.records.set(id ?? "", (record = { errors: [], closes: [] }));
    return record;
  }

  changed(): void {
    this.changes.emit("change");
  }

  /** Resolves once `predicate()` holds, re-checked after every callback. */
  waitFor(predicate: () => boolean, label: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    let listener = (): void => {};
    const met = new Promise<void>((resolve) => {
      listener = () => {
        if (predicate()) resolve();
      };
      this.changes.on("change", listener);
    });
    return withTimeout(met, WAIT, label).finally(() => this.changes.off("change", listener));
  }

  url(id: string, where: CallbackName, how: How, i: number): string {
    return `${this.server.url}/?id=${encodeURIComponent(id)}&in=${where}&how=${how}&i=${i}`;
  }
}

/** Stands for a rejection value the test cannot see (it is inside a thenable). */
const UNSEEN = Symbol("unseen");

/** The error `onError` got for a thrown or rejected `value`: the value itself, or a wrapper. */
function assertReported(error: unknown, value: unknown, callback: CallbackName): void {
  assert.ok(error instanceof Error, "onError receives an Error");
  let sameRealmError = false;
  try {
    sameRealmError = value instanceof Error;
  } catch {
    // a proxy whose getPrototypeOf trap throws is not an Error
  }
  if (sameRealmError) {
    assert.ok(error === value, "an Error is passed on as it is");
    return;
  }
  // A returned thenable's reason is not known here; one that is an Error is passed on as it is.
  if (value === UNSEEN && (error as { code?: unknown }).code !== "ERR_CALLBACK") return;
  const wrapped = error as Error & { code?: unknown; callback?: unknown };
  assert.equal(wrapped.code, "ERR_CALLBACK");
  assert.equal(wrapped.name, "CallbackError");
  assert.equal(wrapped.callback, callback);
  assert.equal(typeof wrapped.message, "string");
  assert.ok(wrapped.message.includes(callback), wrapped.message);
  // Identity only: node:assert would inspect (and trip over) a hostile value.
  if (value !== UNSEEN) assert.ok(Object.is(wrapped.cause, value), "the value is kept as `cause`");
}

let withErrors: Lab;
let withoutErrors: Lab;
let bystander: Client;
let ids = 0;

before(async () => {
  withErrors = await Lab.start(true);
  withoutErrors = await Lab.start(false);
  bystander = await Client.open(`${withErrors.server.url}/?id=bystander`);
});
after(async () => {
  await bystander.close();
  await withErrors.server.close();
  await withoutErrors.server.close();
});

/** Opens a connection that misbehaves in `where`, makes it act, and returns it with its id. */
async function misbehave(lab: Lab, where: CallbackName, how: How, i: number) {
  const id = `c${++ids}`;
  const client = await Client.open(lab.url(id, where, how, i));
  if (where === "onMessage" || where === "onError") client.ws.send("act");
  return { id, client, record: () => lab.records.get(id), thrown: () => lab.thrown.get(id) };
}

const TRIGGERED: readonly CallbackName[] = ["onConnect", "onMessage", "onDrain"];

describe("a callback that throws or rejects with an odd value", () => {
  for (const where of TRIGGERED) {
    for (const how of ["throw", "reject"] as const) {
      ODD_VALUES.forEach((odd, i) => {
        test(`${where} ${how}s ${odd.name}: onError gets an Error, the connection stays usable`, async () => {
          const { client, record, thrown } = await misbehave(withErrors, where, how, i);
          await withErrors.waitFor(() => (record()?.errors.length ?? 0) > 0, "onError");
          assertReported(record()!.errors[0], thrown(), where);
          await client.echoes("still here");
          assert.equal(await client.close(), 1000);
          await withErrors.waitFor(() => record()!.closes.length > 0, "onClose");
          assert.deepEqual(record()!.closes, [1000]);
          assert.equal(record()!.errors.length, 1);
          await bystander.echoes(`after ${where} ${how} ${odd.name}`);
        });

        test(`${where} ${how}s ${odd.name} without onError: closed with 1011, onClose once`, async () => {
          const { client, record } = await misbehave(withoutErrors, where, how, i);
          assert.equal(await withTimeout(client.closed, WAIT, "server close"), 1011);
          await withoutErrors.waitFor(() => (record()?.closes.length ?? 0) > 0, "onClose");
          assert.deepEqual(record()!.closes, [1011]);
          await bystander.echoes(`after ${where} ${how} ${odd.name} (no onError)`);
        });
      });
    }
  }

  for (const how of ["throw", "reject"] as const) {
    ODD_VALUES.forEach((odd, i) => {
      test(`onClose ${how}s ${odd.name}: reported to onError, the process survives`, async () => {
        const { client, record, thrown } = await misbehave(withErrors, "onClose", how, i);
        assert.equal(await client.close(), 1000);
        await withErrors.waitFor(() => (record()?.errors.length ?? 0) > 0, "onError after onClose");
        assert.deepEqual(record()!.closes, [1000]);
        assertReported(record()!.errors[0], thrown(), "onClose");
        await bystander.echoes(`after onClose ${how} ${odd.name}`);
      });

      test(`onClose ${how}s ${odd.name} without onError: the process survives`, async () => {
        const { client, record } = await misbehave(withoutErrors, "onClose", how, i);
        assert.equal(await client.close(), 1000);
        await withoutErrors.waitFor(() => (record()?.closes.length ?? 0) > 0, "onClose");
        assert.deepEqual(record()!.closes, [1000]);
        // The next connection is served.
        const next = await Client.open(`${withoutErrors.server.url}/?id=next${i}${how}`);
        await next.echoes("served");
        await next.close();
      });

      test(`onError ${how}s ${odd.name}: closed with 1011, onClose once`, async () => {
        const { client, record } = await misbehave(withErrors, "onError", how, i);
        assert.equal(await withTimeout(client.closed, WAIT, "server close"), 1011);
        await withErrors.waitFor(() => (record()?.closes.length ?? 0) > 0, "onClose");
        assert.deepEqual(record()!.closes, [1011]);
        await bystander.echoes(`after onError ${how} ${odd.name}`);
      });
    });
  }
});

describe("a callback that returns a thenable or near-thenable", () => {
  ODD_RETURNS.forEach((odd, i) => {
    if (odd.outcome === "never") {
      test(`onConnect returns ${odd.name}: input is held until it settles; close() still ends it`, async () => {
        const { id, client, record } = await misbehave(withErrors, "onConnect", "return", i);
        client.ws.send("held");
        // The server's close frame goes out; the peer's answer waits with the rest of the input,
        // so the connection is cut after closeTimeout, and close() resolves all the same.
        await withTimeout(withErrors.channels.get(id)!.close(1000), WAIT, "channel.close()");
        assert.equal(await withTimeout(client.closed, WAIT, "client close"), 1000);
        assert.equal(record()?.errors.length ?? 0, 0);
        await bystander.echoes(`after onConnect returns ${odd.name}`);
      });
    } else {
      test(`onConnect returns ${odd.name}: ${odd.outcome}`, async () => {
        const { client, record } = await misbehave(withErrors, "onConnect", "return", i);
        await client.echoes("delivered after onConnect settled");
        if (odd.outcome === "rejected") {
          await withErrors.waitFor(() => (record()?.errors.length ?? 0) > 0, "onError");
          assertReported(record()!.errors[0], UNSEEN, "onConnect");
        } else assert.equal(record()!.errors.length, 0);
        assert.equal(await client.close(), 1000);
        await withErrors.waitFor(() => record()!.closes.length > 0, "onClose");
        assert.deepEqual(record()!.closes, [1000]);
      });
    }

    test(`onConnect returns ${odd.name} without onError`, async () => {
      const { client, record } = await misbehave(withoutErrors, "onConnect", "return", i);
      if (odd.outcome === "rejected") {
        assert.equal(await withTimeout(client.closed, WAIT, "server close"), 1011);
        await withoutErrors.waitFor(() => (record()?.closes.length ?? 0) > 0, "onClose");
        assert.deepEqual(record()!.closes, [1011]);
      } else if (odd.outcome !== "never") {
        await client.echoes("delivered");
        assert.equal(await client.close(), 1000);
      } else {
        client.ws.terminate();
        await withTimeout(client.closed, WAIT, "terminated");
      }
      await bystander.echoes(`after onConnect returns ${odd.name} (no onError)`);
    });

    for (const where of ["onMessage", "onDrain", "onClose", "onError"] as const) {
      test(`${where} returns ${odd.name}`, async () => {
        const { client, record } = await misbehave(withErrors, where, "return", i);
        if (where === "onError") {
          // onError's own rejection closes the connection with 1011.
          if (odd.outcome === "rejected") {
            assert.equal(await withTimeout(client.closed, WAIT, "server close"), 1011);
            return;
          }
          await withErrors.waitFor(() => (record()?.errors.length ?? 0) > 0, "onError");
        }
        if (where === "onDrain") await withErrors.waitFor(() => record() !== undefined, "onConnect");
        await client.echoes("still served");
        if (where !== "onClose" && where !== "onError" && odd.outcome === "rejected") {
          await withErrors.waitFor(() => record()!.errors.length > 0, "onError");
          assertReported(record()!.errors[0], UNSEEN, where);
        }
        assert.equal(await client.close(), 1000);
        await withErrors.waitFor(() => record()!.closes.length > 0, "onClose");
        if (where === "onClose" && odd.outcome === "rejected") {
          await withErrors.waitFor(() => record()!.errors.length > 0, "onError after onClose");
          assertReported(record()!.errors[0], UNSEEN, "onClose");
        }
        assert.deepEqual(record()!.closes, [1000]);
        await bystander.echoes(`after ${where} returns ${odd.name}`);
      });
    }
  });
});

describe("odd arguments to the channel", () => {
  ODD_VALUES.forEach((odd, i) => {
    if (odd.name === "undefined") return; // the default code, 1000
    test(`channel.close(${odd.name}) rejects with InvalidArgumentError, never throws`, async () => {
      const id = `close-arg-${i}`;
      const client = await Client.open(`${withErrors.server.url}/?id=${id}`);
      const channel = withErrors.channels.get(id)!;
      let closing: Promise<void> | undefined;
      assert.doesNotThrow(() => (closing = channel.close(odd.make() as number)));
      await assert.rejects(closing!, { code: "ERR_INVALID_ARGUMENT" });
      await client.echoes("still open");
      assert.equal(await client.close(), 1000);
    });
  });
});
