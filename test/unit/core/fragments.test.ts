/**
 * Messages sent in fragments (issue 17): streamed sends and whole messages over `fragmentSize`,
 * on the in-memory transport and a fake clock.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Opcode } from "../../../src/protocol/opcodes.js";
import { ChannelClosedError, InvalidArgumentError, SendTimeoutError } from "../../../src/common/errors.js";
import type { Callbacks } from "../../../src/core/callbacks.js";
import type { Options } from "../../../src/core/options.js";
import { clientFrame, closePayload } from "../../helpers/frames.js";
import { connect, type MemoryConnection } from "../../helpers/memory-transport.js";
import { JobLimiter } from "../../../src/wire/compression.js";

const decode = (payload: Uint8Array): string => new TextDecoder().decode(payload);
const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);

/** A source the test feeds one chunk at a time, and which records how often it was pulled. */
function controlled<C>() {
  const waiting: Array<(result: IteratorResult<C>) => void> = [];
  let failWith: ((error: unknown) => void) | undefined;
  const state = { pulls: 0, returned: false };
  const iterable: AsyncIterable<C> = {
    [Symbol.asyncIterator]: () => ({
      next: () => {
        state.pulls++;
        return new Promise<IteratorResult<C>>((resolve, reject) => {
          waiting.push(resolve);
          failWith = reject;
        });
      },
      return: () => {
        state.returned = true;
        return Promise.resolve({ done: true, value: undefined });
      },
    }),
  };
  return {
    iterable,
    state,
    push(value: C): void {
      waiting.shift()!({ done: false, value });
    },
    end(): void {
      waiting.shift()!({ done: true, value: undefined });
    },
    fail(error: unknown): void {
      waiting.shift();
      failWith!(error);
    },
  };
}

async function* chunks<C>(...values: C[]): AsyncGenerator<C> {
  for (const value of values) yield value;
}

function open(callbacks: Callbacks = {}, options: Options = {}): MemoryConnection<unknown> {
  return connect(callbacks, options);
}

describe("streamed sends", () => {
  test("an async iterable of bytes goes out as one message: opcode first, continuations, FIN last", async () => {
    const t = open();
    const status = await t.session.channel.sendBinary(chunks(bytes(1, 2), bytes(3), bytes(4, 5, 6)));
    assert.equal(status, "sent");
    const frames = t.stream.frames();
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.fin, [...f.payload]]),
      [
        [Opcode.Binary, false, [1, 2]],
        [Opcode.Continuation, false, [3]],
        [Opcode.Continuation, false, [4, 5, 6]],
        [Opcode.Continuation, true, []],
      ],
    );
  });

  test("a web ReadableStream of strings goes out as one text message", async () => {
    const t = open();
    const stream = new ReadableStream<string>({
      start(controller) {
        controller.enqueue("héllo ");
        controller.enqueue("wörld");
        controller.close();
      },
    });
    assert.equal(await t.session.channel.sendText(stream), "sent");
    const frames = t.stream.frames();
    assert.equal(frames[0]!.opcode, Opcode.Text);
    assert.ok(frames.slice(1).every((f) => f.opcode === Opcode.Continuation));
    assert.equal(frames.at(-1)!.fin, true);
    assert.equal(decode(Buffer.concat(frames.map((f) => f.payload))), "héllo wörld");
  });

  test("a surrogate pair split between text chunks is encoded whole; a lone one at the end is U+FFFD", async () => {
    const t = open();
    const pair = "😀";
    await t.session.channel.sendText(chunks("a" + pair[0]!, pair[1]! + "b", "c\ud83d"));
    const frames = t.stream.frames();
    assert.deepEqual(
      frames.map((f) => decode(f.payload)),
      ["a", pair + "b", "c", "\ufffd"],
    );
    assert.equal(frames.at(-1)!.fin, true);
  });

  test("an empty stream is an empty message", async () => {
    const t = open();
    await t.session.channel.sendBinary(chunks<Uint8Array>());
    assert.deepEqual(
      t.stream.frames().map((f) => [f.opcode, f.fin, f.payload.length]),
      [[Opcode.Binary, true, 0]],
    );
  });

  test("messages sent meanwhile wait behind it; pings go between its fragments", async () => {
    const t = open();
    const source = controlled<Uint8Array>();
    const channel = t.session.channel;
    const streamed = channel.sendBinary(source.iterable);
    const after = channel.sendText("after");
    await t.settled();
    source.push(bytes(1));
    await t.settled();
    void channel.ping(bytes(9));
    await t.settled();
    source.push(bytes(2));
    await t.settled();
    source.end();
    assert.equal(await streamed, "sent");
    assert.equal(await after, "sent");
    assert.deepEqual(
      t.stream.frames().map((f) => [f.opcode, f.fin, [...f.payload]]),
      [
        [Opcode.Binary, false, [1]],
        [Opcode.Ping, true, [9]],
        [Opcode.Continuation, false, [2]],
        [Opcode.Continuation, true, []],
        [Opcode.Text, true, [...new TextEncoder().encode("after")]],
      ],
    );
  });

  test("the next chunk is not pulled while the transport is over its high-water mark", async () => {
    const t = open();
    const source = controlled<Uint8Array>();
    const streamed = t.session.channel.sendBinary(source.iterable);
    await t.settled();
    assert.equal(source.state.pulls, 1);
    t.stream.needsDrain = true;
    source.push(bytes(1));
    await t.settled();
    assert.equal(source.state.pulls, 1, "not pulled before the drain");
    t.stream.drain();
    await t.settled();
    assert.equal(source.state.pulls, 2, "pulled after the drain");
    source.end();
    assert.equal(await streamed, "sent");
  });

  test("a source that throws: the send rejects with its error as cause, 1011, onError hears it", async () => {
    const errors: Error[] = [];
    const t = open({ onError: ({ error }) => void errors.push(error) });
    const source = controlled<Uint8Array>();
    const channel = t.session.channel;
    const streamed = channel.sendBinary(source.iterable);
    const after = channel.sendText("after");
    await t.settled();
    source.push(bytes(1));
    await t.settled();
    const boom = new Error("boom");
    source.fail(boom);
    await assert.rejects(
      streamed,
      (error: Error) => error instanceof ChannelClosedError && error.cause === boom,
    );
    await assert.rejects(after, ChannelClosedError);
    assert.deepEqual(errors, [boom]);
    const frames = t.stream.frames();
    assert.deepEqual(
      frames.map((f) => f.opcode),
      [Opcode.Binary, Opcode.Close],
    );
    assert.equal((frames[1]!.payload[0]! << 8) | frames[1]!.payload[1]!, 1011);
  });

  test("a chunk of the wrong kind fails the message like a throw", async () => {
    const errors: Error[] = [];
    const t = open({ onError: ({ error }) => void errors.push(error) });
    const sent = t.session.channel.sendText(chunks<unknown>("a", 42) as AsyncIterable<string>);
    await assert.rejects(sent, ChannelClosedError);
    assert.ok(errors[0] instanceof InvalidArgumentError);
  });

  test("the peer's close stops the message: the reply goes between fragments, the send rejects", async () => {
    const t = open();
    const source = controlled<Uint8Array>();
    const streamed = t.session.channel.sendBinary(source.iterable);
    await t.settled();
    source.push(bytes(1));
    await t.settled();
    t.stream.receive(clientFrame(Opcode.Close, closePayload(1000)));
    await assert.rejects(streamed, ChannelClosedError);
    assert.equal(source.state.returned, true, "the iterator was told to stop");
    assert.deepEqual(
      t.stream.frames().map((f) => f.opcode),
      [Opcode.Binary, Opcode.Close],
    );
  });

  test("channel.close() waits for the message in fragments, then closes", async () => {
    const t = open();
    const source = controlled<Uint8Array>();
    const channel = t.session.channel;
    const streamed = channel.sendBinary(source.iterable);
    await t.settled();
    void channel.close(1000, "done");
    source.push(bytes(1));
    await t.settled();
    source.end();
    assert.equal(await streamed, "sent");
    await t.settled();
    assert.deepEqual(
      t.stream.frames().map((f) => [f.opcode, f.fin]),
      [
        [Opcode.Binary, false],
        [Opcode.Continuation, true],
        [Opcode.Close, true],
      ],
    );
  });

  test("the transport going away rejects the send and stops the source", async () => {
    const t = open();
    const source = controlled<Uint8Array>();
    const streamed = t.session.channel.sendBinary(source.iterable);
    await t.settled();
    t.stream.close();
    await assert.rejects(streamed, ChannelClosedError);
    assert.equal(source.state.returned, true);
  });

  test("on a closed channel it rejects and cancels the stream", async () => {
    const t = open();
    t.stream.close();
    const source = controlled<Uint8Array>();
    await assert.rejects(t.session.channel.sendBinary(source.iterable), ChannelClosedError);
    assert.equal(source.state.returned, true);
  });

  test("neither bytes nor a stream: InvalidArgumentError", async () => {
    const t = open();
    await assert.rejects(t.session.channel.sendBinary({} as Uint8Array), InvalidArgumentError);
    await assert.rejects(t.session.channel.sendText(5 as unknown as string), InvalidArgumentError);
  });

  test("with permessage-deflate, it waits behind a message being compressed and goes uncompressed", async () => {
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
    const channel = t.session.channel;
    void channel.sendText("first");
    const streamed = channel.sendBinary(chunks(bytes(1), bytes(2)));
    await t.settled();
    assert.equal(t.stream.written.length, 0, "nothing overtakes the compression");
    pending.shift()!();
    assert.equal(await streamed, "sent");
    assert.deepEqual(
      t.stream.frames().map((f) => [f.opcode, f.rsv, f.fin]),
      [
        [Opcode.Text, 4, true],
        [Opcode.Binary, 0, false],
        [Opcode.Continuation, 0, false],
        [Opcode.Continuation, 0, true],
      ],
    );
  });

  test("a publication to the channel waits behind it", async () => {
    const t = open();
    const source = controlled<Uint8Array>();
    const channel = t.session.channel;
    channel.subscribe("room");
    const streamed = channel.sendBinary(source.iterable);
    await t.settled();
    assert.equal(t.session.sendPrepared(new Uint8Array([0x81, 0x01, 0x78])), "sent");
    await t.settled();
    source.push(bytes(1));
    await t.settled();
    source.end();
    await streamed;
    await t.settled();
    assert.deepEqual(
      t.stream.frames().map((f) => [f.opcode, f.fin]),
      [
        [Opcode.Binary, false],
        [Opcode.Continuation, true],
        [Opcode.Text, true],
      ],
    );
  });

  test("after channel.close() waits for it, the peer's close gets no second close frame", async () => {
    const t = open();
    const source = controlled<Uint8Array>();
    const channel = t.session.channel;
    const streamed = channel.sendBinary(source.iterable);
    await t.settled();
    void channel.close(1000, "");
    t.stream.receive(clientFrame(Opcode.Close, closePayload(1000)));
    await t.settled();
    source.push(bytes(1));
    await t.settled();
    source.end();
    assert.equal(await streamed, "sent");
    await t.settled();
    assert.deepEqual(
      t.stream.frames().map((f) => f.opcode),
      [Opcode.Binary, Opcode.Continuation, Opcode.Close],
    );
    assert.equal(t.stream.ended, true, "the stream ends after the close frame");
  });

  test("the timeout option: a message not finished in time rejects with SendTimeoutError", async () => {
    const t = open();
    const source = controlled<Uint8Array>();
    const streamed = t.session.channel.sendBinary(source.iterable, { timeout: 100 });
    await t.settled();
    t.clock.advance(100);
    await assert.rejects(streamed, SendTimeoutError);
  });

  test("the callback option hears of the completion", async () => {
    const t = open();
    const heard: unknown[] = [];
    await t.session.channel.sendBinary(chunks(bytes(1)), { callback: (error) => heard.push(error) });
    await t.settled();
    assert.deepEqual(heard, [undefined]);
  });
});

describe("whole messages over fragmentSize", () => {
  test("go out in fragments of fragmentSize; smaller ones in one frame", async () => {
    const t = open({}, { fragmentSize: 4 });
    const channel = t.session.channel;
    void channel.sendBinary(bytes(1, 2, 3, 4));
    const big = channel.sendBinary(bytes(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
    void channel.sendText("héllo");
    assert.equal(await big, "sent");
    await t.settled();
    assert.deepEqual(
      t.stream.frames().map((f) => [f.opcode, f.fin, f.payload.length]),
      [
        [Opcode.Binary, true, 4],
        [Opcode.Binary, false, 4],
        [Opcode.Continuation, false, 4],
        [Opcode.Continuation, true, 2],
        [Opcode.Text, false, 4],
        [Opcode.Continuation, true, 2],
      ],
    );
  });

  test("a pong goes out between fragments while the transport drains", async () => {
    const t = open({}, { fragmentSize: 4 });
    // Every write fills the transport's buffer: a drain must come before the next fragment.
    const write = t.stream.write.bind(t.stream);
    t.stream.write = (written, done) => {
      write(written, done);
      t.stream.needsDrain = true;
    };
    const big = t.session.channel.sendBinary(new Uint8Array(12));
    await t.settled();
    assert.equal(t.stream.frames().length, 1, "one fragment, then waits for the drain");
    t.stream.receive(clientFrame(Opcode.Ping, bytes(7)));
    await t.settled();
    t.stream.drain();
    t.stream.drain();
    assert.equal(await big, "sent");
    assert.deepEqual(
      t.stream.frames().map((f) => [f.opcode, f.fin]),
      [
        [Opcode.Binary, false],
        [Opcode.Pong, true],
        [Opcode.Continuation, false],
        [Opcode.Continuation, true],
      ],
    );
  });

  test("count as buffered until written, for the backpressure policy", async () => {
    const t = open({}, { fragmentSize: 4, maxBackpressure: 20, backpressure: "drop" });
    t.stream.needsDrain = true;
    const channel = t.session.channel;
    void channel.sendBinary(new Uint8Array(16));
    assert.equal(channel.bufferedAmount >= 12, true);
    assert.equal(await channel.sendBinary(new Uint8Array(16)), "dropped");
  });
});
