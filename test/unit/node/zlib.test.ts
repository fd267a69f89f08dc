import { test } from "node:test";
import assert from "node:assert/strict";
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import { MessageDeflater, MessageInflater, ZlibLimiter } from "../../../src/node/zlib.js";

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
      (chunk) => chunks.push(chunk) > 0,
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
      (chunk) => (seen += chunk.length) < 100_000,
      () => resolve(),
    ),
  );
  assert.ok(seen < 1024 * 1024, `stopped early, after ${seen} bytes`);
});

test("invalid deflate data is reported as an error, not thrown", async () => {
  const inflater = new MessageInflater(15, true);
  const error = await new Promise<Error | undefined>((resolve) =>
    inflater.inflate(new Uint8Array([0xff, 0xff, 0xff, 0xff]), () => true, resolve),
  );
  assert.ok(error instanceof Error);
});
