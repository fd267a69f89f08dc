import { test } from "node:test";
import assert from "node:assert/strict";
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import { MessageDeflater, MessageInflater, ZlibLimiter } from "../../../src/adapters/node/zlib.js";
import type { InflateSink } from "../../../src/wire/compression.js";

/** A sink that hands out a small space, so output comes in several writes, each copied to `onData`. */
function sinkOf(onData: (chunk: Buffer) => boolean, size = 4096): InflateSink {
  const space = new Uint8Array(size);
  return {
    inflateSpace: () => space,
    inflatedInto: (written) => onData(Buffer.from(space.subarray(0, written))),
  };
}

test("the limiter runs at most `concurrency` jobs, the rest in order", () => {
  const limiter = new ZlibLimiter(2);
  const started: number[] = [];
  const releases: Array<() => void> = [];
  for (let i = 0; i < 5; i++) {
    limiter.run((done) => {
      started.push(i);
      releases.push(done);
    });
  }
  assert.deepEqual(started, [0, 1]);
  releases[0]!();
  releases[0]!(); // a second call is ignored
  assert.deepEqual(started, [0, 1, 2]);
  releases[1]!();
  releases[2]!();
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
});

test("limiters are per instance: one full limiter does not hold back another", () => {
  const a = new ZlibLimiter(1);
  const b = new ZlibLimiter(1);
  let ran = false;
  a.run(() => {});
  b.run(() => (ran = true));
  assert.ok(ran);
});

test("deflate strips the 00 00 ff ff trailer; inflate restores the message", async () => {
  const deflater = new MessageDeflater(15, 8, true);
  const message = Buffer.from("hello hello hello hello");
  const payload = await new Promise<Uint8Array>((resolve, reject) =>
    deflater.deflate(message, (error, out) => (error ? reject(error) : resolve(out))),
  );
  assert.notDeepEqual(Buffer.from(payload.subarray(-4)), Buffer.from([0, 0, 0xff, 0xff]));
  assert.deepEqual(
    inflateRawSync(Buffer.concat([payload, Buffer.from([0, 0, 0xff, 0xff])]), {
      finishFlush: constants.Z_SYNC_FLUSH,
    }),
    message,
  );

  const inflater = new MessageInflater(15, true);
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) =>
    inflater.inflate(
      payload,
      sinkOf((chunk) => chunks.push(chunk) > 0),
      (error) => (error ? reject(error) : resolve()),
    ),
  );
  assert.deepEqual(Buffer.concat(chunks), message);
  deflater.release();
  inflater.release();
});

test("inflation stops as soon as the consumer says so", async () => {
  const bomb = deflateRawSync(Buffer.alloc(64 * 1024 * 1024));
  const inflater = new MessageInflater(15, true);
  let seen = 0;
  await new Promise<void>((resolve) =>
    inflater.inflate(
      bomb,
      sinkOf((chunk) => (seen += chunk.length) < 100_000),
      () => resolve(),
    ),
  );
  assert.ok(seen < 1024 * 1024, `stopped early, after ${seen} bytes`);
});

test("output goes into the space the sink hands out, at zlib's speed, and the context is kept", async () => {
  // One space for the whole message: zlib writes straight into it, no chunk list.
  const message = Buffer.from("hello ".repeat(50_000));
  const deflater = new MessageDeflater(15, 8, true);
  const first = await new Promise<Uint8Array>((resolve, reject) =>
    deflater.deflate(message, (error, payload) => (error ? reject(error) : resolve(payload))),
  );
  const second = await new Promise<Uint8Array>((resolve, reject) =>
    deflater.deflate(message, (error, payload) => (error ? reject(error) : resolve(payload))),
  );
  assert.ok(second.length < first.length, "the second message refers to the first");
  const inflater = new MessageInflater(15, true);
  for (const payload of [first, second]) {
    const space = new Uint8Array(message.length + 1);
    const writes: number[] = [];
    let filled = 0;
    const sink: InflateSink = {
      inflateSpace: () => space.subarray(filled),
      inflatedInto: (written) => {
        writes.push(written);
        filled += written;
        return true;
      },
    };
    const error = await new Promise<Error | undefined>((resolve) => inflater.inflate(payload, sink, resolve));
    assert.equal(error, undefined);
    assert.equal(filled, message.length);
    assert.deepEqual(Buffer.from(space.subarray(0, filled)), message);
    assert.equal(writes.length, 1, "one write for the whole message");
  }
  deflater.release();
  inflater.release();
});

test("onEnd never runs before inflate returns", async () => {
  const inflater = new MessageInflater(15, true);
  let returned = false;
  const error = await new Promise<Error | undefined>((resolve) => {
    inflater.inflate(
      compressed("x"),
      sinkOf(() => true),
      (e) => {
        assert.ok(returned);
        resolve(e);
      },
    );
    returned = true;
  });
  assert.equal(error, undefined);
});

test("an empty space from the sink stops the inflation", async () => {
  const inflater = new MessageInflater(15, true);
  let writes = 0;
  const sink: InflateSink = { inflateSpace: () => new Uint8Array(0), inflatedInto: () => (writes++, true) };
  const error = await new Promise<Error | undefined>((resolve) =>
    inflater.inflate(compressed("x"), sink, resolve),
  );
  assert.equal(error, undefined);
  assert.equal(writes, 0);
});

test("invalid deflate data is reported as an error, not thrown", async () => {
  const inflater = new MessageInflater(15, true);
  const error = await new Promise<Error | undefined>((resolve) =>
    inflater.inflate(
      new Uint8Array([0xff, 0xff, 0xff, 0xff]),
      sinkOf(() => true),
      resolve,
    ),
  );
  assert.ok(error instanceof Error);
});

// Regression (issue 12): nothing unexpected on the zlib paths may escape into zlib's own
// callbacks, where it would be an uncaught exception that takes down the process.

function compressed(text: string): Buffer {
  const out = deflateRawSync(Buffer.from(text), { finishFlush: constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

function inflateOnce(
  inflater: MessageInflater,
  data: Uint8Array,
  onData: (chunk: Buffer) => boolean = () => true,
): Promise<Error | undefined> {
  return new Promise((resolve) => inflater.inflate(data, sinkOf(onData), resolve));
}

test("regression: onData that throws ends the inflation with an InternalError", async () => {
  const inflater = new MessageInflater(15, true);
  const bug = Object.create(null) as object;
  const ends: Array<Error | undefined> = [];
  const error = await new Promise<Error | undefined>((resolve) =>
    inflater.inflate(
      compressed("hello hello hello"),
      sinkOf(() => {
        throw bug;
      }),
      (e) => {
        ends.push(e);
        resolve(e);
      },
    ),
  );
  assert.equal((error as { code?: string } | undefined)?.code, "ERR_INTERNAL");
  assert.ok(error?.cause === bug);
  assert.equal(ends.length, 1);
  // The inflater still works for the next message.
  const chunks: Buffer[] = [];
  const inflater2 = new MessageInflater(15, true);
  assert.equal(await inflateOnce(inflater2, compressed("again"), (c) => chunks.push(c) > 0), undefined);
  assert.equal(Buffer.concat(chunks).toString(), "again");
});

test("regression: a zlib stream that throws on write ends the inflation with an InternalError", async () => {
  const inflater = new MessageInflater(15, true);
  assert.equal(await inflateOnce(inflater, compressed("first")), undefined);
  const stream = (inflater as unknown as { stream: { _handle: { writeSync: () => never } } }).stream;
  const bug = new TypeError("write failed");
  stream._handle.writeSync = () => {
    throw bug;
  };
  const error = await inflateOnce(inflater, compressed("second"));
  assert.equal((error as { code?: string } | undefined)?.code, "ERR_INTERNAL");
  assert.ok(error?.cause === bug);
});

test("regression: a zlib stream that throws on write fails the deflation, not the process", async () => {
  const deflater = new MessageDeflater(15, 8, true);
  const deflate = (): Promise<Error | undefined> =>
    new Promise((resolve) => deflater.deflate(Buffer.from("hello"), (error) => resolve(error)));
  assert.equal(await deflate(), undefined);
  const stream = (deflater as unknown as { stream: { write: () => never } }).stream;
  stream.write = () => {
    throw new TypeError("write failed");
  };
  assert.equal(((await deflate()) as { code?: string } | undefined)?.code, "ERR_INTERNAL");
});

test("regression: a late error on a deflate stream is not an unhandled 'error' event", async () => {
  const deflater = new MessageDeflater(15, 8, true);
  await new Promise<void>((resolve) => deflater.deflate(Buffer.from("hello"), () => resolve()));
  const stream = (deflater as unknown as { stream: NodeJS.EventEmitter }).stream;
  assert.doesNotThrow(() => stream.emit("error", new Error("late")));
});

test("the inflater's zlib stream keeps no output buffer of its own (output goes to the sink)", async () => {
  const inflater = new MessageInflater(15, true);
  assert.equal(await inflateOnce(inflater, compressed("hello ".repeat(10_000))), undefined);
  const stream = (inflater as unknown as { stream: { _outBuffer: Buffer } }).stream;
  // Node gives a zlib stream a 16 KiB output buffer by default, for the connection's whole life.
  assert.ok(stream._outBuffer.length <= constants.Z_MIN_CHUNK, `${stream._outBuffer.length} bytes`);
  inflater.release();
});

test("a large message inflates in steps, letting the event loop run between them", async () => {
  const message = Buffer.alloc(4 * 1024 * 1024, 7);
  const inflater = new MessageInflater(15, true);
  const space = new Uint8Array(message.length + 1);
  let filled = 0;
  const sink: InflateSink = {
    inflateSpace: () => space.subarray(filled),
    inflatedInto: (written) => ((filled += written), true),
  };
  let ended = false;
  let loopRanBeforeEnd = false;
  const done = new Promise<Error | undefined>((resolve) =>
    inflater.inflate(compressed(message.toString("latin1")), sink, (error) => {
      ended = true;
      resolve(error);
    }),
  );
  setImmediate(() => (loopRanBeforeEnd = !ended));
  assert.equal(await done, undefined);
  assert.ok(loopRanBeforeEnd, "an immediate ran while the message was inflating");
  assert.equal(filled, message.length);
  assert.ok(Buffer.from(space.subarray(0, filled)).equals(message));
  inflater.release();
});
