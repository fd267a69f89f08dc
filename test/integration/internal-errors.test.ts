/**
 * Regression tests for issue 12: an error other than `ProtocolError` raised inside the protocol
 * core (a bug of ours, injected here into `MessageAssembler`) took down the process, and with it
 * every connection. It must fail only the connection whose frame hit it: a close frame with 1011
 * and no reason on the wire, `onError` with an `InternalError` whose `cause` is the bug, `onClose`
 * once with 1011, and every other connection still served. Over raw sockets, since the wire
 * matters; an uncaught exception fails the run, so the process surviving is checked too.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { handshake, serve, type Callbacks, type Server } from "../../src/index.js";
import { MessageAssembler } from "../../src/protocol/assembler.js";
import { Opcode, RawClient } from "../helpers/raw-client.js";
import { withTimeout } from "../helpers/echo-server.js";

const WAIT = 10_000;
type Method = "piece" | "inflatedInto" | "inflatedEnd";

/** Makes `MessageAssembler.prototype[method]` throw `bug` (`piece`: for payloads holding "boom"). */
function injectBug(method: Method, bug: unknown): () => void {
  const proto = MessageAssembler.prototype as unknown as Record<Method, (...args: unknown[]) => unknown>;
  const original = proto[method];
  proto[method] = function (this: MessageAssembler, ...args: unknown[]) {
    const piece = args[0];
    if (method !== "piece" || (piece instanceof Uint8Array && Buffer.from(piece).includes("boom"))) {
      throw bug;
    }
    return original.apply(this, args);
  };
  return () => {
    proto[method] = original;
  };
}

interface Seen {
  errors: Error[];
  closes: Array<{ code: number; reason: string }>;
}

class Target {
  readonly seen = new Map<string, Seen>();
  readonly changes = new EventEmitter();
  server!: Server;

  static async start(withOnError: boolean): Promise<Target> {
    const target = new Target();
    const of = (id: string | undefined): Seen => {
      let seen = target.seen.get(id ?? "");
      if (seen === undefined) target.seen.set(id ?? "", (seen = { errors: [], closes: [] }));
      return seen;
    };
    const callbacks: Callbacks<string> = {
      onConnect({ channel, exchange }) {
        channel.data = exchange.url.searchParams.get("id") ?? "";
      },
      onMessage({ channel, text, data }) {
        if (text !== undefined) void channel.sendText(text);
        else void channel.sendBinary(data);
      },
      onClose({ channel, code, reason }) {
        of(channel.data).closes.push({ code, reason });
        target.changes.emit("change");
      },
    };
    if (withOnError) {
      callbacks.onError = ({ channel, error }) => {
        of(channel.data).errors.push(error);
        target.changes.emit("change");
      };
    }
    target.server = await serve(handshake(callbacks, { compression: true }), { port: 0 });
    return target;
  }

  waitFor(predicate: () => boolean, label: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    let listener = (): void => {};
    const met = new Promise<void>((resolve) => {
      listener = () => predicate() && resolve();
      this.changes.on("change", listener);
    });
    return withTimeout(met, WAIT, label).finally(() => this.changes.off("change", listener));
  }

  connect(id: string, compressed = false): Promise<RawClient> {
    return RawClient.connect(`${this.server.url}/?id=${id}`, {
      ...(compressed ? { extensions: "permessage-deflate" } : {}),
    });
  }
}

async function assertEchoes(client: RawClient, text: string): Promise<void> {
  await client.sendMessage(Opcode.Text, text);
  const message = await client.nextMessage();
  assert.equal(message.payload.toString(), text);
}

let withErrors: Target;
let withoutErrors: Target;
before(async () => {
  withErrors = await Target.start(true);
  withoutErrors = await Target.start(false);
});
after(async () => {
  await withErrors.server.close();
  await withoutErrors.server.close();
});

let ids = 0;

describe("regression (issue 12): a bug in the protocol core fails one connection with 1011", () => {
  for (const [method, compressed] of [
    ["piece", false],
    ["piece", true],
    ["inflatedInto", true],
    ["inflatedEnd", true],
  ] as Array<[Method, boolean]>) {
    for (const [what, bug] of [
      ["a TypeError", new TypeError("injected bug")],
      ["Object.create(null)", Object.create(null) as unknown],
    ] as Array<[string, unknown]>) {
      const title = `${what} from MessageAssembler.${method}${compressed ? " (compressed message)" : ""}`;

      test(`${title}: 1011 without details, InternalError to onError, others served`, async () => {
        const id = `victim${++ids}`;
        const bystander = await withErrors.connect(`bystander${ids}`, compressed);
        const victim = await withErrors.connect(id, compressed);
        assert.equal(victim.deflate !== undefined, compressed, "permessage-deflate as asked");
        await assertEchoes(victim, "before the bug");
        const restore = injectBug(method, bug);
        try {
          await victim.sendMessage(Opcode.Text, "boom", { compress: compressed && method !== "piece" });
          await victim.closed();
        } finally {
          restore();
        }
        assert.equal(victim.serverClose?.code, 1011);
        assert.equal(victim.serverClose?.payload.length, 2, "no reason on the wire");
        assert.deepEqual(victim.violations, []);
        await withErrors.waitFor(() => (withErrors.seen.get(id)?.closes.length ?? 0) > 0, "onClose");
        const seen = withErrors.seen.get(id)!;
        assert.deepEqual(seen.closes, [{ code: 1011, reason: "" }], "onClose once, 1011");
        assert.equal(seen.errors.length, 1);
        const error = seen.errors[0] as Error & { code?: string; closeCode?: number };
        assert.equal(error.code, "ERR_INTERNAL");
        assert.equal(error.name, "InternalError");
        assert.equal(error.closeCode, 1011);
        assert.ok(error.cause === bug, "the bug is the cause");
        await assertEchoes(bystander, "still served");
        await bystander.sendClose({ code: 1000 });
        await bystander.closed();
      });

      test(`${title}, without onError: 1011, onClose once, others served`, async () => {
        const id = `victim${++ids}`;
        const bystander = await withoutErrors.connect(`bystander${ids}`, compressed);
        const victim = await withoutErrors.connect(id, compressed);
        const restore = injectBug(method, bug);
        try {
          await victim.sendMessage(Opcode.Text, "boom", { compress: compressed && method !== "piece" });
          await victim.closed();
        } finally {
          restore();
        }
        assert.equal(victim.serverClose?.code, 1011);
        assert.equal(victim.serverClose?.payload.length, 2, "no reason on the wire");
        await withoutErrors.waitFor(() => (withoutErrors.seen.get(id)?.closes.length ?? 0) > 0, "onClose");
        assert.deepEqual(withoutErrors.seen.get(id)!.closes, [{ code: 1011, reason: "" }]);
        await assertEchoes(bystander, "still served");
        await bystander.sendClose({ code: 1000 });
        await bystander.closed();
      });
    }
  }
});
