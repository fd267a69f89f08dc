/**
 * Observability in the core, without a socket: every event a handler publishes (through
 * `onEvent` and through a runtime's {@link EventSink}), each message's fields, and every field
 * of `handler.stats()`'s snapshot, on the in-memory transport and the fake clock.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Opcode } from "../../../src/protocol/opcodes.js";
import { admit, type AdmissionRequest } from "../../../src/core/admission.js";
import type { Callbacks } from "../../../src/core/callbacks.js";
import type { HandlerContext } from "../../../src/core/context.js";
import {
  HANDLER_EVENTS,
  type EventChannel,
  type EventName,
  type EventSink,
  type UndercurrentEvent,
} from "../../../src/core/events.js";
import type { Options } from "../../../src/core/options.js";
import { snapshot } from "../../../src/core/stats.js";
import { clientFrame, closePayload } from "../../helpers/frames.js";
import { FakeClock, connect, memoryContext } from "../../helpers/memory-transport.js";

/** A context whose `onEvent` records every event. */
function observed<T = unknown>(
  callbacks: Callbacks<T> = {},
  options: Options<T> = {},
  clock = new FakeClock(),
) {
  const events: UndercurrentEvent<T>[] = [];
  const context = memoryContext<T>(
    callbacks,
    { ...options, onEvent: (event) => void events.push(event) },
    clock,
  );
  const named = <N extends UndercurrentEvent<T>["name"]>(name: N) =>
    events.filter((event) => event.name === name).map((event) => event.message) as Extract<
      UndercurrentEvent<T>,
      { name: N }
    >["message"][];
  return { context, events, named };
}

const echo: Callbacks = { onMessage: ({ channel, text }) => void channel.sendText(text!) };

const stats = (context: HandlerContext<unknown>, topics = false) =>
  snapshot(context.counters, context.topics, 0, { topics });

const REQUEST: AdmissionRequest = {
  exchange: { request: undefined, url: new URL("http://localhost/chat") },
  origin: "https://app.example",
  protocols: ["v1"],
  extensions: undefined,
};

function decide(context: HandlerContext<unknown>, request = REQUEST): Promise<void> {
  return new Promise((resolve) => admit(context, request, () => resolve()));
}

describe("connection events", () => {
  test("connection:open carries the channel, exchange, protocol, extensions and peer", () => {
    const o = observed();
    const t = connect({}, {}, o.context);
    const [open] = o.named("undercurrent:connection:open");
    assert.ok(open);
    assert.equal(open.channel, t.session.channel);
    assert.equal(open.exchange.url.href, "http://localhost/");
    assert.equal(open.protocol, "");
    assert.equal(open.extensions, "");
    assert.equal(open.remoteAddress, "192.0.2.1");
    assert.equal(open.remotePort, 4242);
  });

  test("connection:close: the peer closed first; code, reason, duration, messages and bytes", async () => {
    const o = observed(echo);
    const t = connect(echo, {}, o.context);
    const hello = clientFrame(Opcode.Text, "hello");
    t.stream.receive(hello);
    await t.settled();
    t.clock.advance(1500);
    const close = clientFrame(Opcode.Close, closePayload(4000, "bye"));
    t.stream.receive(close);
    await t.settled();
    t.stream.close();
    const [message] = o.named("undercurrent:connection:close");
    assert.ok(message);
    const written = t.stream.written.reduce((n, chunk) => n + chunk.length, 0);
    assert.deepEqual(
      { ...message, channel: undefined },
      {
        channel: undefined,
        code: 4000,
        reason: "bye",
        closedBy: "client",
        duration: 1500,
        messagesIn: 1,
        messagesOut: 1,
        bytesIn: hello.length + close.length,
        bytesOut: written,
      },
    );
    // "hello" echoed (7 bytes) and the close reply with the peer's code (2 + 2).
    assert.equal(written, 7 + 4);
    assert.equal(message.channel, t.session.channel);
  });

  test("connection:close: the server closed first (channel.close), or a protocol failure", async () => {
    const o = observed();
    const t = connect({}, {}, o.context);
    void t.session.channel.close(1000, "done");
    await t.settled();
    t.stream.receive(clientFrame(Opcode.Close, closePayload(1000, "")));
    t.stream.close();
    const failing = connect({}, {}, o.context);
    // A reserved opcode: the server fails the connection with 1002.
    failing.stream.receive(clientFrame(3, "x"));
    await failing.settled();
    failing.stream.close();
    assert.deepEqual(
      o.named("undercurrent:connection:close").map((m) => [m.closedBy, m.code]),
      [
        ["server", 1000],
        ["server", 1002],
      ],
    );
  });

  test("connection:close: a transport that ends without any close frame", () => {
    const o = observed();
    const t = connect({}, {}, o.context);
    t.stream.close();
    const [message] = o.named("undercurrent:connection:close");
    assert.equal(message?.closedBy, "transport");
    assert.equal(message?.code, 1006);
  });

  test("connection:error: a callback that throws, and a protocol failure", async () => {
    const boom = new Error("boom");
    const callbacks: Callbacks = {
      onMessage: () => {
        throw boom;
      },
      onError: () => {},
    };
    const o = observed(callbacks);
    const t = connect(callbacks, {}, o.context);
    t.stream.receive(clientFrame(Opcode.Text, "x"));
    t.stream.receive(clientFrame(3, "x"));
    await t.settled();
    const errors = o.named("undercurrent:connection:error");
    assert.equal(errors.length, 2);
    assert.equal(errors[0]!.error, boom);
    assert.equal(errors[0]!.channel, t.session.channel);
    assert.equal((errors[1]!.error as { code?: string }).code, "ERR_RESERVED_OPCODE");
  });

  for (const action of ["close", "drop", "buffer"] as const) {
    test(`backpressure: the "${action}" policy is told with the buffered bytes and counted`, async () => {
      const o = observed({}, { maxBackpressure: 10, backpressure: action });
      const t = connect({}, { maxBackpressure: 10, backpressure: action }, o.context);
      t.stream.bufferedAmount = 8;
      void t.session.channel.sendText("12345").catch(() => {});
      await t.settled();
      const [message] = o.named("undercurrent:backpressure");
      assert.ok(message, "told");
      assert.equal(message.action, action);
      assert.equal(message.bufferedAmount, 8);
      assert.equal(message.size, 5);
      assert.equal(message.limit, 10);
      assert.equal(message.channel, t.session.channel);
      const { backpressure } = stats(o.context);
      assert.deepEqual(backpressure, {
        closes: action === "close" ? 1 : 0,
        drops: action === "drop" ? 1 : 0,
      });
    });
  }

  test("a send within the limit tells nothing", async () => {
    const o = observed({}, { maxBackpressure: 10, backpressure: "buffer" });
    const t = connect({}, { maxBackpressure: 10, backpressure: "buffer" }, o.context);
    await t.session.channel.sendText("12345");
    assert.equal(o.named("undercurrent:backpressure").length, 0);
  });
});

describe("upgrade events", () => {
  test("upgrade:accepted carries the exchange, protocol and extensions", async () => {
    const o = observed({}, { protocols: ["v1"] });
    await decide(o.context);
    assert.deepEqual(o.named("undercurrent:upgrade:accepted"), [
      { exchange: REQUEST.exchange, protocol: "v1", extensions: "" },
    ]);
  });

  const refusals: Array<[string, Options<unknown>, number, (c: HandlerContext<unknown>) => void]> = [
    ["origins", { origins: ["https://other.example"] }, 403, () => {}],
    ["protocols", { protocols: () => false }, 400, () => {}],
    ["onUpgrade", { onUpgrade: () => false }, 403, () => {}],
    ["onUpgrade", { onUpgrade: () => ({ status: 401, body: "log in" }) }, 401, () => {}],
    ["maxConnections", { maxConnections: 1 }, 503, (c) => void connect({}, {}, c)],
    ["shutdown", {}, 503, (c) => void (c.closing = true)],
    ["error", { onUpgrade: () => null as never, onUpgradeError: () => {} }, 500, () => {}],
  ];
  for (const [check, options, status, setup] of refusals) {
    test(`upgrade:refused names the check: ${check} (${status})`, async () => {
      const o = observed({}, options);
      setup(o.context);
      await decide(o.context);
      const [message] = o.named("undercurrent:upgrade:refused");
      assert.equal(message?.check, check);
      assert.equal(message.status, status);
      assert.equal(message.exchange, REQUEST.exchange);
      assert.equal(typeof message.reason, "string");
      assert.deepEqual(stats(o.context).upgrades.refused, { [status]: 1 });
    });
  }

  test("upgrade:refused: invalid extensions, and an onUpgrade that outlives handshakeTimeout", async () => {
    const o = observed({}, { compression: true });
    await decide(o.context, { ...REQUEST, extensions: "permessage-deflate; =" });
    const clock = new FakeClock();
    const slow = observed(
      {},
      { onUpgrade: () => new Promise<undefined>(() => {}), handshakeTimeout: 100 },
      clock,
    );
    const done = decide(slow.context);
    clock.advance(100);
    await done;
    assert.deepEqual(
      [...o.named("undercurrent:upgrade:refused"), ...slow.named("undercurrent:upgrade:refused")].map((m) => [
        m.check,
        m.status,
      ]),
      [
        ["extensions", 400],
        ["timeout", 503],
      ],
    );
  });
});

describe("the port and its listeners", () => {
  /** A sink whose channels count what reached them, with subscribers or not. */
  function countingSink(listening: boolean) {
    const published = new Map<EventName, unknown[]>();
    const reads = { count: 0 };
    const sink: EventSink = {
      channel: (name): EventChannel<unknown> => ({
        get hasSubscribers() {
          reads.count++;
          return listening;
        },
        publish: (message) => void published.set(name, [...(published.get(name) ?? []), message]),
      }),
    };
    return { sink, published, reads };
  }

  /** One connection through every event: accepted, open, error, backpressure, close. */
  async function everything(context: HandlerContext<unknown>): Promise<void> {
    await decide(context);
    const t = connect({}, {}, context);
    t.session.error(new Error("x"));
    t.stream.bufferedAmount = context.options.maxBackpressure;
    void t.session.channel.sendText("over").catch(() => {});
    await t.settled();
    t.stream.close();
  }

  test("a runtime channel with subscribers gets every handler event", async () => {
    const { sink, published } = countingSink(true);
    const context = memoryContext({ onError: () => {} }, { backpressure: "drop" }, new FakeClock(), sink);
    await everything(context);
    context.closing = true;
    await decide(context);
    assert.deepEqual([...published.keys()].sort(), [...HANDLER_EVENTS].sort());
  });

  test("with no subscriber and no onEvent, no message is built: only hasSubscribers is read", async () => {
    const { sink, published, reads } = countingSink(false);
    const context = memoryContext({ onError: () => {} }, { backpressure: "drop" }, new FakeClock(), sink);
    await everything(context);
    assert.equal(published.size, 0);
    assert.ok(reads.count >= 5, `hasSubscribers read ${reads.count} times`);
  });

  test("onEvent hears events a runtime channel has no subscriber for; both hear them when it has", async () => {
    const quiet = countingSink(false);
    const heard: string[] = [];
    const context = memoryContext(
      {},
      { onEvent: (event) => void heard.push(event.name) },
      new FakeClock(),
      quiet.sink,
    );
    connect({}, {}, context).stream.close();
    assert.deepEqual(heard, ["undercurrent:connection:open", "undercurrent:connection:close"]);
    assert.equal(quiet.published.size, 0);
    const loud = countingSink(true);
    const both = memoryContext({}, { onEvent: () => {} }, new FakeClock(), loud.sink);
    connect({}, {}, both).stream.close();
    assert.equal(loud.published.get("undercurrent:connection:close")?.length, 1);
  });

  test("an onEvent that throws breaks nothing: the connection goes on, the error is written once", async () => {
    const logged: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void logged.push(args);
    try {
      const context = memoryContext(echo, {
        onEvent: () => {
          throw new Error("listener bug");
        },
      });
      const t = connect(echo, {}, context);
      t.stream.receive(clientFrame(Opcode.Text, "still here"));
      await t.settled();
      assert.equal(new TextDecoder().decode(t.stream.frames()[0]!.payload), "still here");
      t.stream.close();
      assert.equal(logged.length, 2, "open and close, each written once");
    } finally {
      console.error = original;
    }
  });

  test("onEvent must be a function", () => {
    assert.throws(() => memoryContext({}, { onEvent: 1 as never }), { code: "ERR_INVALID_ARGUMENT" });
  });
});

describe("stats()", () => {
  test("every field: connections, upgrades, messages, bytes, closes, buffered bytes, topics", async () => {
    const o = observed(echo, { origins: ["https://app.example"] });
    await decide(o.context);
    await decide(o.context, { ...REQUEST, origin: "https://evil.example" });
    const a = connect(echo, {}, o.context);
    const b = connect(echo, {}, o.context);
    a.session.subscribe("news");
    b.session.subscribe("news");
    a.session.subscribe("sport");
    // (Each frame its own bytes: they are unmasked in place.)
    const hi = clientFrame(Opcode.Text, "hi");
    a.stream.receive(hi);
    b.stream.receive(clientFrame(Opcode.Text, "hi"));
    await a.settled();
    b.stream.bufferedAmount = 123;
    let s = stats(o.context, true);
    assert.equal(s.connections, 2);
    assert.deepEqual(s.upgrades, { accepted: 1, refused: { 403: 1 } });
    assert.deepEqual(s.messages, { in: 2, out: 2 });
    assert.deepEqual(s.bytes, { in: 2 * hi.length, out: 2 * 4 });
    assert.equal(s.bufferedBytes, 123);
    assert.deepEqual({ ...s.topics }, { news: 2, sport: 1 });
    assert.deepEqual(s.closes, {});
    assert.equal(s.zlibQueued, 0);
    assert.equal(stats(o.context).topics, undefined, "topics only on request");

    // A closed connection's counts stay in the totals.
    a.stream.receive(clientFrame(Opcode.Close, closePayload(1000, "")));
    await a.settled();
    a.stream.close();
    b.stream.close();
    s = stats(o.context, true);
    assert.equal(s.connections, 0);
    assert.deepEqual(s.closes, { 1000: 1, 1006: 1 });
    assert.deepEqual(s.messages, { in: 2, out: 2 });
    assert.equal(s.bytes.in, 2 * hi.length + clientFrame(Opcode.Close, closePayload(1000, "")).length);
    assert.equal(s.bytes.out, 2 * 4 + 4);
    assert.equal(s.bufferedBytes, 0);
    assert.deepEqual({ ...s.topics }, {});
  });

  test("published messages count as messages out; zlibQueued is what the snapshot is given", async () => {
    const context = memoryContext({});
    const t = connect({}, {}, context);
    t.session.subscribe("t");
    context.topics.publish("t", "x");
    await t.settled();
    assert.equal(snapshot(context.counters, context.topics, 3, undefined).messages.out, 1);
    assert.equal(snapshot(context.counters, context.topics, 3, undefined).zlibQueued, 3);
  });
});
