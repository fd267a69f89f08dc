/**
 * The session core without a socket: Channel, callbacks, the close state machine, the input
 * hold, timers and the send policy, driven through an in-memory byte stream and a fake clock.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Opcode } from "../../../src/protocol/opcodes.js";
import { ReadyState } from "../../../src/protocol/ready-state.js";
import {
  BackpressureError,
  ChannelClosedError,
  InvalidArgumentError,
  SendTimeoutError,
} from "../../../src/common/errors.js";
import type { Callbacks, CloseEvent } from "../../../src/core/callbacks.js";
import type { Channel } from "../../../src/core/channel.js";
import { clientFrame, closePayload } from "../../helpers/frames.js";
import { connect } from "../../helpers/memory-transport.js";
import { JobLimiter } from "../../../src/wire/compression.js";

const text = (payload: Uint8Array): string => new TextDecoder().decode(payload);

/** Records what the callbacks saw. */
function recorder<T = unknown>(extra: Callbacks<T> = {}) {
  const seen = { messages: [] as string[], closes: [] as Array<[number, string]>, errors: [] as Error[] };
  const callbacks: Callbacks<T> = {
    onMessage: ({ text: t, data }) => void seen.messages.push(t ?? `bytes:${data!.length}`),
    onClose: ({ code, reason }: CloseEvent<T>) => void seen.closes.push([code, reason]),
    onError: ({ error }) => void seen.errors.push(error),
    ...extra,
  };
  return { seen, callbacks };
}

describe("messages and the batch", () => {
  test("the replies to one read go out in one write", async () => {
    const echo: Callbacks = { onMessage: ({ channel, text: t }) => void channel.sendText(t!) };
    const t = connect(echo);
    t.stream.receive(new Uint8Array([...clientFrame(Opcode.Text, "a"), ...clientFrame(Opcode.Text, "b")]));
    await t.settled();
    assert.equal(t.stream.written.length, 1, "one write");
    assert.deepEqual(
      t.stream.frames().map((f) => text(f.payload)),
      ["a", "b"],
    );
  });

  test("a send resolves 'sent' once written; sends outside a read are batched until the task ends", async () => {
    const t = connect({});
    const channel = t.session.channel;
    const first = channel.sendText("x");
    const second = channel.sendBinary(new Uint8Array([1, 2]));
    assert.equal(t.stream.written.length, 0, "nothing written yet");
    assert.equal(await first, "sent");
    assert.equal(await second, "sent");
    assert.equal(t.stream.written.length, 1);
    assert.deepEqual(
      t.stream.frames().map((f) => f.opcode),
      [Opcode.Text, Opcode.Binary],
    );
  });
});

describe("the close state machine", () => {
  test("the peer's close frame: answered with its code after the replies before it; onClose once", async () => {
    const { seen, callbacks } = recorder({ onMessage: ({ channel, text: t }) => void channel.sendText(t!) });
    const t = connect(callbacks);
    t.stream.receive(
      new Uint8Array([
        ...clientFrame(Opcode.Text, "last"),
        ...clientFrame(Opcode.Close, closePayload(4000, "bye")),
      ]),
    );
    await t.settled();
    assert.deepEqual(
      t.stream
        .frames()
        .map((f) => [
          f.opcode,
          f.opcode === Opcode.Close ? (f.payload[0]! << 8) | f.payload[1]! : text(f.payload),
        ]),
      [
        [Opcode.Text, "last"],
        [Opcode.Close, 4000],
      ],
    );
    assert.equal(t.session.channel.readyState, ReadyState.Closing);
    assert.equal(t.stream.ended, true, "our half is ended after the handshake");
    t.stream.close();
    t.stream.close();
    await t.settled();
    assert.deepEqual(seen.closes, [[4000, "bye"]]);
    assert.equal(t.session.channel.readyState, ReadyState.Closed);
  });

  test("a close frame without a code is reported as 1005; a transport gone without one as 1006", async () => {
    const a = recorder();
    const t = connect(a.callbacks);
    t.stream.receive(clientFrame(Opcode.Close));
    t.stream.close();
    await t.settled();
    assert.deepEqual(a.seen.closes, [[1005, ""]]);

    const b = recorder();
    const u = connect(b.callbacks);
    u.stream.close();
    await u.settled();
    assert.deepEqual(b.seen.closes, [[1006, ""]]);
  });

  test("input that ends without a close frame (receiveEof): our half ends, onClose reports 1006", async () => {
    const { seen, callbacks } = recorder();
    const t = connect(callbacks);
    t.stream.receiveEnd();
    assert.equal(t.stream.ended, true);
    assert.equal(t.session.channel.readyState, ReadyState.Closing);
    t.stream.close();
    await t.settled();
    assert.deepEqual(seen.closes, [[1006, ""]]);
  });

  test("a protocol error fails the connection with its code; onError hears of it", async () => {
    const { seen, callbacks } = recorder();
    const t = connect(callbacks);
    t.stream.receive(new Uint8Array([0x81, 0x01, 0x61])); // unmasked
    await t.settled();
    assert.equal(seen.errors[0]?.name, "ProtocolError");
    const close = t.stream.frames().find((f) => f.opcode === Opcode.Close)!;
    assert.equal((close.payload[0]! << 8) | close.payload[1]!, 1002);
    t.stream.close();
    await t.settled();
    assert.equal(seen.closes[0]![0], 1002);
  });

  test("sends on a closing or closed channel reject with ChannelClosedError", async () => {
    const t = connect({});
    const channel = t.session.channel;
    void channel.close(1000);
    await assert.rejects(channel.sendText("late"), ChannelClosedError);
    t.stream.close();
    await assert.rejects(channel.ping(), ChannelClosedError);
  });
});

describe("timers on the fake clock", () => {
  test("closeTimeout: a peer that never answers our close frame is cut after it, not before", async () => {
    const { seen, callbacks } = recorder();
    const t = connect(callbacks, { closeTimeout: 1000 });
    const closed = t.session.channel.close(1000, "done");
    await t.settled();
    t.clock.advance(999);
    assert.equal(t.stream.aborted, false);
    t.clock.advance(1);
    assert.equal(t.stream.aborted, true);
    await closed;
    assert.deepEqual(seen.closes, [[1006, ""]]);
  });

  test("closeTimeout Infinity sets no timer at all", async () => {
    const t = connect({}, { closeTimeout: Infinity, idleTimeout: 0 });
    void t.session.channel.close(1000);
    await t.settled();
    assert.equal(t.clock.pending, 0);
    t.clock.advance(2 ** 32);
    assert.equal(t.stream.aborted, false);
  });

  test("idleTimeout: a ping after half of it in silence, the connection dropped after all of it", async () => {
    const t = connect({}, { idleTimeout: 4000 });
    t.clock.advance(2000);
    await t.settled();
    assert.deepEqual(
      t.stream.frames().map((f) => f.opcode),
      [Opcode.Ping],
    );
    t.stream.receive(clientFrame(Opcode.Pong));
    t.clock.advance(3000);
    assert.equal(t.stream.aborted, false, "input restarted the count");
    t.clock.advance(1000);
    assert.equal(t.stream.aborted, true);
  });

  test("a send's timeout rejects with SendTimeoutError on the clock; Infinity is no timeout", async () => {
    const t = connect({});
    t.stream.write = () => {}; // the transport never completes a write
    const slow = t.session.channel.sendText("x", { timeout: 50 });
    const never = t.session.channel.sendText("y", { timeout: Infinity });
    await t.settled();
    t.clock.advance(50);
    await assert.rejects(slow, SendTimeoutError);
    let settled = false;
    never.then(
      () => (settled = true),
      () => (settled = true),
    );
    t.clock.advance(2 ** 31);
    await t.settled();
    assert.equal(settled, false);
  });
});

describe("the onConnect hold", () => {
  test("input is held, and reading paused, until onConnect settles; then delivered in order", async () => {
    let open!: () => void;
    const { seen, callbacks } = recorder({
      onConnect: () => new Promise<void>((resolve) => (open = resolve)),
    });
    const t = connect(callbacks);
    t.stream.receive(new Uint8Array([...clientFrame(Opcode.Text, "1"), ...clientFrame(Opcode.Text, "2")]));
    await t.settled();
    assert.deepEqual(seen.messages, []);
    assert.equal(t.stream.paused, true);
    open();
    await t.settled();
    assert.deepEqual(seen.messages, ["1", "2"]);
    assert.equal(t.stream.paused, false);
  });

  test("onClose waits for onConnect; close() resolves when the transport is gone", async () => {
    let open!: () => void;
    const { seen, callbacks } = recorder({
      onConnect: () => new Promise<void>((resolve) => (open = resolve)),
    });
    const t = connect(callbacks);
    const closed = t.session.channel.close(1000);
    t.stream.close();
    await closed;
    assert.deepEqual(seen.closes, []);
    open();
    await t.settled();
    assert.equal(seen.closes.length, 1);
  });
});

describe("the send policy", () => {
  const full = (policy: "close" | "drop" | "buffer") => {
    const t = connect({}, { maxBackpressure: 10, backpressure: policy });
    t.stream.bufferedAmount = 8;
    return t;
  };

  test('"close": the send rejects with BackpressureError and the connection closes with 1008', async () => {
    const t = full("close");
    await assert.rejects(t.session.channel.sendText("too much"), BackpressureError);
    await t.settled();
    const close = t.stream.frames().find((f) => f.opcode === Opcode.Close)!;
    assert.equal((close.payload[0]! << 8) | close.payload[1]!, 1008);
  });

  test('"drop": the send resolves "dropped" and nothing is written', async () => {
    const t = full("drop");
    assert.equal(await t.session.channel.sendText("too much"), "dropped");
    assert.equal(await t.session.channel.sendText("ok"), "sent");
    assert.deepEqual(
      t.stream.frames().map((f) => text(f.payload)),
      ["ok"],
    );
  });

  test('"buffer": everything is queued', async () => {
    const t = full("buffer");
    assert.equal(await t.session.channel.sendText("too much"), "sent");
  });

  test("sendPrepared says at once what became of the frames (what pub/sub counts)", () => {
    assert.equal(full("drop").session.sendPrepared(new Uint8Array(5)), "dropped");
    assert.equal(full("close").session.sendPrepared(new Uint8Array(5)), "backpressure");
    assert.equal(full("buffer").session.sendPrepared(new Uint8Array(5)), "sent");
    assert.equal(full("drop").session.sendPrepared(new Uint8Array(1)), "sent");
  });

  test("a peer that does not read is not fed: reading pauses while the transport needs a drain", async () => {
    const drains: Channel[] = [];
    const t = connect({
      onMessage: ({ channel, text: x }) => void channel.sendText(x!),
      onDrain: ({ channel }) => void drains.push(channel),
    });
    t.stream.needsDrain = true;
    t.stream.receive(clientFrame(Opcode.Text, "x"));
    assert.equal(t.stream.paused, true);
    t.stream.drain();
    assert.equal(t.stream.paused, false);
    await t.settled();
    assert.equal(drains.length, 1);
  });
});

describe("Channel arguments", () => {
  test("bad arguments reject with InvalidArgumentError, never throw", async () => {
    const channel = connect({}).session.channel;
    await assert.rejects(channel.sendText(5 as unknown as string), InvalidArgumentError);
    await assert.rejects(channel.sendBinary("x" as unknown as Uint8Array), InvalidArgumentError);
    await assert.rejects(channel.ping(new Uint8Array(126)), InvalidArgumentError);
    await assert.rejects(channel.close(1005), InvalidArgumentError);
    await assert.rejects(channel.close(1000, "x".repeat(124)), InvalidArgumentError);
    await assert.rejects(channel.sendText("x", { timeout: -1 }), InvalidArgumentError);
  });

  test("the channel reports the transport's address and the state of the link", () => {
    const channel = connect({}).session.channel;
    assert.equal(channel.remoteAddress, "192.0.2.1");
    assert.equal(channel.remotePort, 4242);
    assert.equal(channel.readyState, ReadyState.Open);
    assert.equal(channel.protocol, "");
    assert.equal(channel.extensions, "");
  });
});

describe("regressions of the split", () => {
  test("messages held during onConnect are delivered even if the transport closed meanwhile", async () => {
    let open!: () => void;
    const { seen, callbacks } = recorder({
      onConnect: () => new Promise<void>((resolve) => (open = resolve)),
    });
    const t = connect(callbacks);
    t.stream.receive(clientFrame(Opcode.Text, "before the end"));
    t.stream.close();
    open();
    await t.settled();
    assert.deepEqual(seen.messages, ["before the end"]);
    assert.deepEqual(seen.closes, [[1006, ""]]);
  });

  test("behind a compression, each send's promise waits for its own bytes", async () => {
    const pending: Array<() => void> = [];
    const compression = {
      threshold: 0,
      shared: undefined,
      limiter: new JobLimiter(4),
      inflater: { inflate: () => {}, release: () => {} },
      deflater: {
        deflate: (data: Uint8Array, done: (error: Error | undefined, payload: Uint8Array) => void) =>
          void pending.push(() => done(undefined, data)),
        release: () => {},
      },
    };
    const t = connect({}, {}, undefined, { compression });
    const states = ["pending", "pending"];
    const first = t.session.channel.sendText("first");
    const second = t.session.channel.sendText("second");
    void first.then(() => (states[0] = "sent"));
    void second.then(() => (states[1] = "sent"));
    pending.shift()!();
    await t.settled();
    assert.deepEqual(states, ["sent", "pending"], "the second is not written yet");
    pending.shift()!();
    await t.settled();
    assert.deepEqual(states, ["sent", "sent"]);
  });
});
