/**
 * Values a careless (or hostile) application may throw, reject with or return from a callback:
 * none of them may crash the server. Each entry builds a fresh value, since some (revoked
 * proxies, thenables) are single-use or stateful. Shared by the callback regression tests and
 * the callback fuzz target.
 *
 * @example
 * ```ts
 * for (const odd of ODD_VALUES) {
 *   handshake({ onMessage() { throw odd.make(); } });
 * }
 * ```
 * @module
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { runInNewContext } from "node:vm";
import { WebSocket } from "ws";
import { withTimeout } from "./echo-server.js";

/** One odd value: a name for test titles and a factory. */
export interface OddValue {
  readonly name: string;
  readonly make: () => unknown;
}

/** A proxy whose every trap throws: `instanceof`, property reads, `String()` all throw. */
export function throwingProxy(): object {
  const boom = (): never => {
    throw new Error("trap");
  };
  return new Proxy(
    {},
    {
      get: boom,
      has: boom,
      getPrototypeOf: boom,
      getOwnPropertyDescriptor: boom,
      ownKeys: boom,
      defineProperty: boom,
      set: boom,
      deleteProperty: boom,
      isExtensible: boom,
      preventExtensions: boom,
      setPrototypeOf: boom,
      apply: boom,
      construct: boom,
    },
  );
}

/** A proxy that was revoked: every operation on it throws a TypeError. */
export function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

function throwingGetter<T extends object>(target: T, key: PropertyKey): T {
  return Object.defineProperty(target, key, {
    get() {
      throw new Error(`${String(key)} getter`);
    },
  });
}

/** Thrown or rejected values that are not (same-realm, well-behaved) errors. */
export const ODD_VALUES: readonly OddValue[] = [
  { name: "null", make: () => null },
  { name: "undefined", make: () => undefined },
  { name: "Object.create(null)", make: () => Object.create(null) as object },
  { name: "a symbol", make: () => Symbol("odd") },
  { name: "a number", make: () => 42 },
  { name: "NaN", make: () => NaN },
  { name: "a bigint", make: () => 10n },
  { name: "a string", make: () => "plain string" },
  { name: "a proxy whose traps throw", make: throwingProxy },
  { name: "a revoked proxy", make: revokedProxy },
  {
    name: "an object whose toString throws",
    make: () => ({
      toString(): string {
        throw new Error("toString");
      },
    }),
  },
  {
    name: "an object whose Symbol.toPrimitive throws",
    make: () => ({
      [Symbol.toPrimitive](): never {
        throw new Error("toPrimitive");
      },
    }),
  },
  { name: "an object whose message getter throws", make: () => throwingGetter({}, "message") },
  { name: "an Error whose name getter throws", make: () => throwingGetter(new Error("named"), "name") },
  {
    name: "an Error whose message getter throws",
    make: () => throwingGetter(new Error("x"), "message"),
  },
  {
    name: "an Error whose stack getter throws",
    make: () => throwingGetter(new Error("x"), "stack"),
  },
  { name: "an Error from another realm", make: () => runInNewContext("new Error('vm')") as unknown },
  { name: "a function", make: () => () => {} },
];

/**
 * Values a callback may return that look like promises, or nearly: each with what it settles
 * to. `"never"` stays pending; `"fulfilled"` settles; `"rejected"` rejects (an error for
 * `onError`), as does a value whose `then` cannot be read (a throwing getter, a proxy trap), as
 * `await` treats it; `"ignored"` is not a thenable at all (its `then` is not a function), so the
 * callback counts as having returned synchronously.
 */
export interface OddReturn {
  readonly name: string;
  readonly make: () => unknown;
  readonly outcome: "never" | "fulfilled" | "rejected" | "ignored";
}

/** Thenables and near-thenables for returned values. */
export const ODD_RETURNS: readonly OddReturn[] = [
  { name: "{ then: () => 1 }", make: () => ({ then: () => 1 }), outcome: "never" },
  { name: "{ then() {} }", make: () => ({ then() {} }), outcome: "never" },
  {
    name: "{ then(resolve) { resolve(1) } }",
    make: () => ({ then: (resolve: (v: unknown) => void) => resolve(1) }),
    outcome: "fulfilled",
  },
  {
    name: "{ then() { throw Object.create(null) } }",
    make: () => ({
      then(): never {
        throw Object.create(null);
      },
    }),
    outcome: "rejected",
  },
  {
    name: "{ then(_, reject) { reject(Symbol()) } }",
    make: () => ({ then: (_: unknown, reject: (e: unknown) => void) => reject(Symbol("r")) }),
    outcome: "rejected",
  },
  {
    name: "a function with a then",
    make: () => Object.assign(() => {}, { then: (resolve: (v: unknown) => void) => resolve(undefined) }),
    outcome: "fulfilled",
  },
  {
    name: "a resolved promise from another realm",
    make: () => runInNewContext("Promise.resolve(1)") as unknown,
    outcome: "fulfilled",
  },
  {
    name: "a rejected promise from another realm",
    make: () => runInNewContext("Promise.reject(Object.create(null))") as unknown,
    outcome: "rejected",
  },
  {
    name: "a pending promise from another realm",
    make: () => runInNewContext("new Promise(() => {})") as unknown,
    outcome: "never",
  },
  {
    name: "a native promise rejected with null",
    make: () => Promise.reject(null as unknown as Error),
    outcome: "rejected",
  },
  { name: "{ then: 1 }", make: () => ({ then: 1 }), outcome: "ignored" },
  { name: "an object whose then getter throws", make: () => throwingGetter({}, "then"), outcome: "rejected" },
  { name: "a proxy whose traps throw", make: throwingProxy, outcome: "rejected" },
  { name: "Object.create(null)", make: () => Object.create(null) as object, outcome: "ignored" },
];

/** How a returned value that is not one of {@link ODD_RETURNS} settles: see {@link OddReturn}. */
export function returnOutcome(value: unknown): "rejected" | "ignored" {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return "ignored";
  try {
    void (value as { then?: unknown }).then;
    return "ignored";
  } catch {
    return "rejected";
  }
}

/** How long a {@link TextClient} waits for anything: a hang guard, not a timing check. */
const CLIENT_WAIT = 10_000;

/**
 * A `ws` client for the odd-values tests: a queue of the short text messages it received (long
 * ones, the `onDrain` filler, are skipped) and the close code it saw.
 */
export class TextClient {
  readonly closed: Promise<number>;
  private readonly queue: string[] = [];
  private readonly waiting: Array<(text: string) => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const text = String(data);
      if (text.length > 1000) return; // the onDrain filler
      const waiter = this.waiting.shift();
      if (waiter !== undefined) waiter(text);
      else this.queue.push(text);
    });
    ws.on("error", () => {});
    this.closed = new Promise((resolve) => ws.on("close", (code: number) => resolve(code)));
  }

  /** Connects and resolves once the connection is open. */
  static async open(url: string): Promise<TextClient> {
    const client = new TextClient(new WebSocket(url));
    await withTimeout(once(client.ws, "open"), CLIENT_WAIT, `open ${url}`);
    return client;
  }

  /** The next text message. */
  next(): Promise<string> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return withTimeout(new Promise<string>((resolve) => this.waiting.push(resolve)), CLIENT_WAIT, "echo");
  }

  /** Sends `text` and checks that it comes back. */
  async echoes(text: string): Promise<void> {
    this.ws.send(text);
    assert.equal(await this.next(), text);
  }

  /** Closes with 1000 and resolves with the close code the client saw. */
  close(): Promise<number> {
    this.ws.close(1000);
    return withTimeout(this.closed, CLIENT_WAIT, "close");
  }
}
