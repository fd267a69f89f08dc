/**
 * Fuzzing what applications hand back (issue 12): every callback throws, rejects with or returns
 * odd values (`null`, `undefined`, `Object.create(null)`, symbols, numbers, thenables, proxies
 * with throwing traps, objects with throwing getters, promises from a `node:vm` realm, and
 * whatever `fc.anything()` builds), and every decision (`onUpgrade`, the `origins` predicate,
 * the `protocols` selector) returns, throws, resolves or rejects them. Shared by `npm test`
 * (a bounded count) and `npm run fuzz`.
 *
 * The documented outcomes checked:
 * - callbacks: the process survives; the connection ends with `onClose` exactly once (1011 when
 *   the error policy closes it: no `onError`, or `onError` itself failing), stays usable when an
 *   `onError` handled the failure, and a bystander connection keeps being served. The one
 *   exception is documented: an `onConnect` thenable that never settles holds input and
 *   `onClose` for good, and `channel.close()` still resolves.
 * - decisions: only the documented accepting shapes get a 101 (`onUpgrade`: `undefined`, `true`,
 *   `{ data }`; `origins`: `true`; `protocols`: `undefined` or an offered string); `false` gets 403
 *   (400 from `protocols`), `{ status: 400–599 }` that status, and anything else, a throw or a
 *   rejection 500 (a thenable that never settles: 503 after `handshakeTimeout`).
 * @module
 */
import assert from "node:assert/strict";
import { EventEmitter, once } from "node:events";
import { runInNewContext } from "node:vm";
import fc from "fast-check";
import { WebSocket } from "ws";
import { handshake, serve, type Callbacks, type Channel, type Server } from "../../src/index.js";
import {
  ODD_RETURNS,
  ODD_VALUES,
  TextClient,
  returnOutcome,
  type OddReturn,
  type OddValue,
} from "../helpers/odd-values.js";
import { HandshakeError, RawClient } from "../helpers/raw-client.js";
import { withTimeout } from "../helpers/echo-server.js";

const WAIT = 10_000;

// ---------------------------------------------------------------------------------------------
// Values

/** Arbitrary values plus the hand-made odd ones, as factories (hostile values are never printed). */
const oddValue: fc.Arbitrary<OddValue> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...ODD_VALUES) },
  {
    weight: 1,
    arbitrary: fc
      .anything()
      .map((value): OddValue => ({ name: `anything: ${fc.stringify(value)}`, make: () => value })),
  },
);

/** Returned values: thenables with known outcomes, and plain values (ignored, unless `then` throws). */
const oddReturn: fc.Arbitrary<OddReturn> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...ODD_RETURNS) },
  {
    weight: 1,
    arbitrary: oddValue.map((odd): OddReturn => ({ ...odd, outcome: returnOutcome(odd.make()) })),
  },
);

// ---------------------------------------------------------------------------------------------
// Callbacks

/** Which callback misbehaves, how, and whether the handler has an `onError`. */
export interface CallbackPlan {
  readonly where: "onConnect" | "onMessage" | "onClose" | "onDrain" | "onError";
  readonly withOnError: boolean;
  readonly how: "throw" | "reject" | "return";
  readonly value: OddValue | OddReturn;
}

/** Every callback, with or without `onError`, throwing, rejecting or returning an odd value. */
export const callbackPlan: fc.Arbitrary<CallbackPlan> = fc
  .record({
    where: fc.constantFrom("onConnect", "onMessage", "onClose", "onDrain", "onError" as const),
    withOnError: fc.boolean(),
    how: fc.constantFrom("throw", "reject", "return" as const),
    thrown: oddValue,
    returned: oddReturn,
  })
  .map(({ where, withOnError, how, thrown, returned }) => ({
    where,
    // onError misbehaving needs an onError.
    withOnError: withOnError || where === "onError",
    how,
    value: how === "return" ? returned : thrown,
  }));

interface Seen {
  closes: number[];
  errors: number;
  channel?: Channel<number>;
}

/** Two servers (with and without `onError`) whose callbacks follow the plan of each connection. */
export class CallbackTarget {
  private readonly plans = new Map<number, CallbackPlan>();
  private readonly seen = new Map<number, Seen>();
  private readonly changes = new EventEmitter();
  private readonly servers: Server[] = [];
  private bystander!: WebSocket;
  private next = 0;

  private constructor() {
    this.changes.setMaxListeners(0);
  }

  static async start(): Promise<CallbackTarget> {
    const target = new CallbackTarget();
    for (const withOnError of [false, true]) {
      target.servers.push(
        await serve(handshake(target.callbacks(withOnError), { closeTimeout: 300 }), { port: 0 }),
      );
    }
    target.bystander = new WebSocket(`${target.servers[1]!.url}/?id=-1`);
    await withTimeout(once(target.bystander, "open"), WAIT, "bystander open");
    return target;
  }

  private of(id: number | undefined): Seen {
    let seen = this.seen.get(id ?? -1);
    if (seen === undefined) this.seen.set(id ?? -1, (seen = { closes: [], errors: 0 }));
    return seen;
  }

  private changed(): void {
    this.changes.emit("change");
  }

  private waitFor(predicate: () => boolean, label: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    let listener = (): void => {};
    return withTimeout(
      new Promise<void>((resolve) => {
        listener = () => predicate() && resolve();
        this.changes.on("change", listener);
      }),
      WAIT,
      label,
    ).finally(() => this.changes.off("change", listener));
  }

  /** Misbehaves as the connection's plan says when `where` is its callback. */
  private act(id: number | undefined, where: CallbackPlan["where"]): unknown {
    const plan = this.plans.get(id ?? -1);
    if (plan === undefined || plan.where !== where) return undefined;
    const value = plan.value.make();
    if (plan.how === "throw") throw value;
    if (plan.how === "reject") return Promise.reject(value as Error);
    return value;
  }

  private callbacks(withOnError: boolean): Callbacks<number> {
    const callbacks: Callbacks<number> = {
      onConnect: ({ channel, exchange }) => {
        const id = Number(exchange.url.searchParams.get("id"));
        channel.data = id;
        this.of(id).channel = channel;
        this.changed();
        // Past the socket's high-water mark: the socket drains once the client has read it.
        if (this.plans.get(id)?.where === "onDrain") void channel.sendBinary(Buffer.alloc(256 * 1024));
        return this.act(id, "onConnect") as void;
      },
      onMessage: ({ channel, text }) => {
        if (text === "act") {
          if (this.plans.get(channel.data ?? -1)?.where === "onError") throw new Error("trigger onError");
          return this.act(channel.data, "onMessage") as void;
        }
        void channel.sendText(text ?? "");
        return undefined;
      },
      onDrain: ({ channel }) => this.act(channel.data, "onDrain") as void,
      onClose: ({ channel, code }) => {
        this.of(channel.data).closes.push(code);
        this.changed();
        return this.act(channel.data, "onClose") as void;
      },
    };
    if (withOnError) {
      callbacks.onError = ({ channel, error }) => {
        // (An Error is passed on as thrown, getters and all: only a wrapper's message is ours.)
        assert.ok(error instanceof Error, "onError always receives an Error");
        this.of(channel.data).errors++;
        this.changed();
        return this.act(channel.data, "onError") as void;
      };
    }
    return callbacks;
  }

  /** Runs one plan over a real connection and checks its documented outcome. */
  async check(plan: CallbackPlan): Promise<void> {
    const id = this.next++;
    this.plans.set(id, plan);
    const seen = this.of(id);
    const server = this.servers[plan.withOnError ? 1 : 0]!;
    const client = await TextClient.open(`${server.url}/?id=${id}`);
    await this.waitFor(() => seen.channel !== undefined, "onConnect");
    const outcome = plan.how === "return" ? (plan.value as OddReturn).outcome : "rejected";
    const fails = outcome === "rejected";

    if (plan.where === "onConnect" && outcome === "never") {
      // Documented: input (and onClose) wait for onConnect; close() resolves once TCP is gone.
      await withTimeout(seen.channel!.close(1000), WAIT, "channel.close()");
      await withTimeout(client.closed, WAIT, "client close");
      assert.deepEqual(seen.closes, [], "onClose waits for onConnect");
    } else if (plan.where === "onClose") {
      assert.equal(await client.close(), 1000);
      await this.waitFor(() => seen.closes.length > 0, "onClose");
      if (fails && plan.withOnError) await this.waitFor(() => seen.errors > 0, "onError after onClose");
      assert.deepEqual(seen.closes, [1000]);
    } else {
      if (plan.where === "onMessage" || plan.where === "onError") client.ws.send("act");
      const closedByPolicy = fails && (!plan.withOnError || plan.where === "onError");
      if (closedByPolicy) {
        assert.equal(await withTimeout(client.closed, WAIT, "close by the error policy"), 1011);
        await this.waitFor(() => seen.closes.length > 0, "onClose");
        assert.deepEqual(seen.closes, [1011], "onClose once, 1011");
      } else {
        if (fails || plan.where === "onError") await this.waitFor(() => seen.errors > 0, "onError");
        await client.echoes("still served");
        assert.equal(await client.close(), 1000);
        await this.waitFor(() => seen.closes.length > 0, "onClose");
        assert.deepEqual(seen.closes, [1000], "onClose once");
      }
    }
    await this.bystanderEchoes();
    for (const [other, record] of this.seen)
      assert.ok(record.closes.length <= 1, `onClose twice for ${other}`);
  }

  private async bystanderEchoes(): Promise<void> {
    const token = `alive ${this.next}`;
    const echoed = new Promise<string>((resolve) =>
      this.bystander.once("message", (d) => resolve(String(d))),
    );
    this.bystander.send(token);
    assert.equal(await withTimeout(echoed, WAIT, "bystander echo"), token, "the bystander is still served");
  }

  async stop(): Promise<void> {
    this.bystander.close();
    await Promise.all(this.servers.map((server) => server.close()));
  }
}

// ---------------------------------------------------------------------------------------------
// Decisions

/** A value a decision hands back, and how. */
export interface DecisionPlan {
  readonly decision: "onUpgrade" | "origins" | "protocols";
  /**
   * `return` the value, `throw` it, or (onUpgrade only) return a native promise that resolves or
   * rejects with it, a thenable that resolves with it, or another realm's promise resolving it.
   */
  readonly how: "return" | "throw" | "resolve" | "reject" | "thenable" | "vm";
  readonly value: OddValue;
}

/** The documented decision shapes, near misses of them, and thenables of them. */
export const DECISION_VALUES: readonly OddValue[] = [
  ...[
    undefined,
    true,
    false,
    0,
    1,
    "",
    "yes",
    [],
    {},
    { data: 1 },
    { data: undefined },
    { status: 401 },
    { status: 599, body: "no" },
    { status: 200 },
    { status: 101 },
    { status: "401" },
    { status: 401.5 },
    { status: 600 },
    { status: NaN },
    { status: 401, data: 1 },
    "chat",
    "other",
  ].map((value) => ({ name: fc.stringify(value), make: () => value })),
  { name: "{ then() {} }", make: () => ({ then() {} }) },
  { name: "{ then(r) { r(false) } }", make: () => ({ then: (r: (v: unknown) => void) => r(false) }) },
  {
    name: "another realm's promise of false",
    make: () => runInNewContext("Promise.resolve(false)") as unknown,
  },
  {
    name: "a proxy of { status: 401 }",
    make: () => new Proxy({ status: 401 }, { has: () => true }),
  },
];

/** Decision values: the documented shapes, near misses, and the odd values. */
const decisionValue: fc.Arbitrary<OddValue> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...DECISION_VALUES) },
  { weight: 2, arbitrary: oddValue },
  {
    weight: 1,
    arbitrary: fc
      .record(
        { status: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.anything()), data: fc.anything() },
        { requiredKeys: [] },
      )
      .map((value) => ({ name: fc.stringify(value), make: () => value })),
  },
);

/** Every decision, handing back every kind of value in every way it can. */
export const decisionPlan: fc.Arbitrary<DecisionPlan> = fc.oneof(
  fc.record({
    decision: fc.constant("onUpgrade" as const),
    how: fc.constantFrom("return", "throw", "resolve", "reject", "thenable", "vm" as const),
    value: decisionValue,
  }),
  fc.record({
    decision: fc.constantFrom("origins", "protocols" as const),
    how: fc.constantFrom("return", "throw" as const),
    value: decisionValue,
  }),
);

const OFFERED = ["chat", "superchat"];

function isThenableLike(value: unknown): boolean {
  try {
    return (
      (typeof value === "object" || typeof value === "function") &&
      value !== null &&
      typeof (value as { then?: unknown }).then === "function"
    );
  } catch {
    return false;
  }
}

/**
 * The documented answer to a decision value: 101, a status, or "error" (any 4xx/5xx). Reads the
 * value defensively (a proxy or a getter may throw): whatever cannot be read is invalid.
 */
export function expectedAnswer(plan: DecisionPlan, value: unknown): number | "error" | "101 or error" {
  if (plan.how === "throw" || plan.how === "reject") return 500;
  try {
    if (plan.decision === "origins") return value === true ? 101 : value === false ? 403 : "error";
    if (plan.decision === "protocols") {
      if (value === undefined || (typeof value === "string" && OFFERED.includes(value))) return 101;
      if (value === false) return 400;
      // A string nobody offered: no subprotocol, or a refusal.
      return typeof value === "string" ? "101 or error" : "error";
    }
    if (isThenableLike(value)) {
      // A decision is never a thenable of a thenable: resolving one adopts it.
      return plan.how === "return" || plan.how === "resolve" || plan.how === "thenable" || plan.how === "vm"
        ? "error"
        : 500;
    }
    if (value === undefined || value === true) return 101;
    if (value === false) return 403;
    if (typeof value !== "object" || value === null || Array.isArray(value)) return 500;
    // The strict reading of the README: an object whose only own key is `data` accepts; one with
    // an own `status` and no keys but `status`, `headers` and `body` is a refusal; nothing else.
    const keys = Reflect.ownKeys(value);
    if (keys.length === 1 && keys[0] === "data") return 101;
    if (
      !keys.includes("status") ||
      !keys.every((key) => ["status", "headers", "body"].includes(key as string))
    )
      return 500;
    const { status, headers, body } = value as Record<string, unknown>;
    if (typeof status !== "number" || !Number.isInteger(status) || status < 400 || status > 599) return 500;
    if (body !== undefined && typeof body !== "string") return 500;
    // Headers are checked as Node's res.setHeader checks them: the status, or the plain 500.
    return headers === undefined ? status : "error";
  } catch {
    return 500;
  }
}

/** One server whose decisions follow the plan of each request (`?id=`); others accept. */
export class DecisionTarget {
  private readonly plans = new Map<number, DecisionPlan>();
  private readonly values = new Map<number, unknown>();
  private server!: Server;
  private next = 0;

  static async start(): Promise<DecisionTarget> {
    const target = new DecisionTarget();
    const planOf = (url: URL): [number, DecisionPlan | undefined] => {
      const id = Number(url.searchParams.get("id"));
      return [id, target.plans.get(id)];
    };
    const hand = (id: number, plan: DecisionPlan): unknown => {
      const value = plan.value.make();
      target.values.set(id, value);
      switch (plan.how) {
        case "throw":
          throw value;
        case "resolve":
          return Promise.resolve(value);
        case "reject":
          return Promise.reject(value as Error);
        case "thenable":
          return { then: (resolve: (v: unknown) => void) => resolve(value) };
        case "vm":
          return (runInNewContext("(v) => Promise.resolve().then(() => v)") as (v: unknown) => unknown)(
            value,
          );
        default:
          return value;
      }
    };
    const handler = handshake<number>(
      {
        onMessage({ channel, text }) {
          void channel.sendText(text ?? "");
        },
      },
      {
        handshakeTimeout: 300,
        onUpgrade: (exchange) => {
          const [id, plan] = planOf(exchange.url);
          return (plan?.decision === "onUpgrade" ? hand(id, plan) : undefined) as undefined;
        },
        origins: (_origin, exchange) => {
          const [id, plan] = planOf(exchange.url);
          return (plan?.decision === "origins" ? hand(id, plan) : true) as boolean;
        },
        protocols: (_offered, exchange) => {
          const [id, plan] = planOf(exchange.url);
          return (plan?.decision === "protocols" ? hand(id, plan) : undefined) as string | undefined;
        },
      },
    );
    target.server = await serve(handler, { port: 0 });
    return target;
  }

  /** Sends one upgrade request and checks the answer; then an ordinary upgrade must still work. */
  async check(plan: DecisionPlan): Promise<void> {
    const id = this.next++;
    this.plans.set(id, plan);
    const status = await this.upgrade(id);
    const expected = expectedAnswer(plan, this.values.get(id));
    const label = `${plan.decision} ${plan.how} ${plan.value.name}: got ${status}`;
    if (expected === "error") assert.ok(status >= 400 && status <= 599, `${label}, wanted a 4xx/5xx`);
    else if (expected === "101 or error")
      assert.ok(status === 101 || (status >= 400 && status <= 599), label);
    else assert.equal(status, expected, label);
    assert.equal(await this.upgrade(-1), 101, "an ordinary upgrade is still accepted");
  }

  /** The status of an upgrade request with `?id=` (101 when accepted; the connection is closed). */
  private async upgrade(id: number): Promise<number> {
    try {
      const client = await RawClient.connect(`${this.server.url}/?id=${id}`, {
        headers: { "Sec-WebSocket-Protocol": OFFERED.join(", ") },
      });
      await client.sendClose({ code: 1000 });
      await client.closed();
      return client.response.status;
    } catch (error) {
      if (error instanceof HandshakeError && error.status !== 0) return error.status;
      throw error;
    }
  }

  async stop(): Promise<void> {
    await this.server.close();
  }
}
