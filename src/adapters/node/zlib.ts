/**
 * permessage-deflate on `node:zlib`: a per-message inflater and deflater for one connection,
 * and a limiter that bounds how many zlib operations one handler runs at once (deflation runs
 * on libuv's small thread pool; unbounded, a burst of compressed traffic queues behind it and
 * holds memory meanwhile). Inflation runs on zlib's synchronous calls, in bounded steps, straight
 * into the message's buffer.
 * @module
 */

import {
  constants,
  createDeflateRaw,
  createInflateRaw,
  deflateRawSync,
  type DeflateRaw,
  type InflateRaw,
} from "node:zlib";
import { DEFLATE_TRAILER, type DeflateAgreement } from "../../protocol/permessage-deflate.js";
import { InternalError } from "../../protocol/errors.js";
import type { ResolvedCompression } from "../../core/options.js";
import type {
  InflateSink,
  JobLimiter,
  LinkCompression,
  MessageDeflater as Deflater,
  MessageInflater as Inflater,
} from "../../wire/compression.js";
import type { SharedDeflate } from "../../pubsub/broker.js";

/** Kept on every zlib stream, so an error after a job gave up on it never goes unhandled. */
function noop(): void {}

/** The per-handler zlib limiter (see `wire/compression.ts`). */
export { JobLimiter as ZlibLimiter } from "../../wire/compression.js";

/** What the inflater uses of a zlib stream's native handle (Node's own sync path uses the same). */
interface ZlibHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOffset: number,
    inLength: number,
    output: Uint8Array,
    outOffset: number,
    outLength: number,
  ): void;
}

/** The native handle of a zlib stream and the state array its writes report into. */
function handleOf(stream: InflateRaw): { handle: ZlibHandle; state: Uint32Array } {
  const internals = stream as unknown as { _handle: ZlibHandle | null; _writeState: Uint32Array };
  if (internals._handle === null) throw new Error("zlib stream is closed");
  return { handle: internals._handle, state: internals._writeState };
}

/**
 * How much output one inflation writes before it lets the event loop run (a large message, or a
 * bomb up to `maxPayload`, is inflated in steps of this size; anything smaller in one).
 */
const STEP = 1024 * 1024;

/**
 * Inflates one connection's compressed messages, at zlib's speed, straight into the buffer the
 * protocol core hands out (no chunk list, no join): zlib's synchronous calls on the connection's
 * stream, {@link STEP} bytes of output per turn of the event loop. With context takeover the
 * zlib stream lives as long as the connection; without it, it is released after each message.
 */
export class MessageInflater implements Inflater {
  private stream: InflateRaw | null = null;
  private readonly windowBits: number;
  private readonly keepContext: boolean;

  constructor(windowBits: number, keepContext: boolean) {
    // An inflater with a larger window reads any smaller one; zlib's raw mode wants at least 9.
    this.windowBits = Math.max(windowBits, 9);
    this.keepContext = keepContext;
  }

  /**
   * Inflates one message (without its trailer) into the space `sink` hands out; stops as soon as
   * the sink says so (a limit was hit). `onEnd` is called once, on a later tick: with zlib's
   * error if the data was not valid deflate data, or with an {@link InternalError} if something
   * unexpected failed on our side (zlib threw, or the sink did).
   */
  inflate(data: Uint8Array, sink: InflateSink, onEnd: (error?: Error) => void): void {
    let stream: InflateRaw;
    try {
      // Output never goes to the stream's own buffer, so it gets the smallest zlib allows.
      stream = this.stream ??= createInflateRaw({
        windowBits: this.windowBits,
        chunkSize: constants.Z_MIN_CHUNK,
      }).on("error", noop);
    } catch (error) {
      // Reported later, as zlib's outcomes are: the caller is not re-entered.
      return void process.nextTick(onEnd, new InternalError(error));
    }
    const inputs = [data, DEFLATE_TRAILER];
    let index = 0;
    let offset = 0;
    const finish = (error?: Error): void => {
      if (error !== undefined || !this.keepContext) this.release();
      onEnd(error);
    };
    const step = (): void => {
      let produced = 0;
      try {
        const { handle, state } = handleOf(stream);
        while (index < inputs.length) {
          const input = inputs[index]!;
          const space = sink.inflateSpace();
          if (space.length === 0) return finish();
          handle.writeSync(
            constants.Z_SYNC_FLUSH,
            input,
            offset,
            input.length - offset,
            space,
            0,
            space.length,
          );
          // zlib's error (invalid data) destroys the stream with it, synchronously.
          if (stream.destroyed) return finish(stream.errored ?? new Error("invalid deflate data"));
          const spaceLeft = state[0]!;
          const inputLeft = state[1]!;
          const written = space.length - spaceLeft;
          offset = input.length - inputLeft;
          if (written !== 0 && !sink.inflatedInto(written)) return finish();
          produced += written;
          if (spaceLeft !== 0) {
            if (inputLeft === 0) {
              index++;
              offset = 0;
            } else {
              // zlib took no more input with room to write: the data ended in a final block.
              // The message ends there; the next one starts a fresh stream.
              this.release();
              return finish();
            }
          }
          if (produced >= STEP && index < inputs.length) return void setImmediate(step);
        }
      } catch (error) {
        return finish(new InternalError(error));
      }
      finish();
    };
    process.nextTick(step);
  }

  /** Frees the zlib stream (and its window). */
  release(): void {
    if (this.stream === null) return;
    this.stream.close();
    this.stream = null;
  }
}

/** Compresses one connection's messages. */
export class MessageDeflater implements Deflater {
  private stream: DeflateRaw | null = null;
  private readonly windowBits: number;
  private readonly memLevel: number;
  private readonly keepContext: boolean;

  constructor(windowBits: number, memLevel: number, keepContext: boolean) {
    this.windowBits = windowBits;
    this.memLevel = memLevel;
    this.keepContext = keepContext;
  }

  /**
   * Compresses one message; `done` gets the payload to send, its trailer removed (§7.2.1), or
   * zlib's error, or an {@link InternalError} if zlib threw (never left to escape).
   */
  deflate(data: Uint8Array, done: (error: Error | undefined, payload: Uint8Array) => void): void {
    let stream: DeflateRaw;
    try {
      // Like the inflater's, the stream keeps a listener for errors after a job gave up on it.
      stream = this.stream ??= createDeflateRaw({
        windowBits: this.windowBits,
        memLevel: this.memLevel,
      }).on("error", noop);
    } catch (error) {
      return void process.nextTick(done, new InternalError(error), new Uint8Array(0));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const data_ = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
    };
    const error_ = (error: Error): void => {
      stream.off("data", data_);
      this.release();
      done(error, new Uint8Array(0));
    };
    stream.on("data", data_);
    stream.once("error", error_);
    try {
      stream.write(data);
      stream.flush(constants.Z_SYNC_FLUSH, () => {
        stream.off("data", data_);
        stream.off("error", error_);
        if (!this.keepContext) this.release();
        const out = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
        done(undefined, out.subarray(0, Math.max(0, out.length - DEFLATE_TRAILER.length)));
      });
    } catch (error) {
      stream.off("error", error_);
      process.nextTick(error_, new InternalError(error));
    }
  }

  /** Frees the zlib stream. */
  release(): void {
    if (this.stream === null) return;
    this.stream.close();
    this.stream = null;
  }
}

const interned = new Map<string, SharedDeflate>();

/**
 * One shared-compression setting per distinct agreement, made once and shared by all the
 * connections that made it: compresses a publication synchronously, on its own (RFC 7692
 * §7.2.1: a sync flush, without the trailing 00 00 ff ff).
 */
export function sharedDeflate(windowBits: number, memLevel: number, threshold: number): SharedDeflate {
  // Compressed bytes depend on the window and memLevel only; the threshold decides whether to use them.
  const key = `${windowBits}/${memLevel}`;
  let settings = interned.get(`${key}/${threshold}`);
  if (settings === undefined) {
    const options = { windowBits, memLevel, finishFlush: constants.Z_SYNC_FLUSH };
    settings = {
      key,
      threshold,
      compress(payload) {
        const out = deflateRawSync(payload, options);
        return out.subarray(0, out.length - DEFLATE_TRAILER.length);
      },
    };
    interned.set(`${key}/${threshold}`, settings);
  }
  return settings;
}

/**
 * The permessage-deflate of one connection, as agreed in its handshake, on `node:zlib`: its
 * inflater and deflater, and whether its published messages may share compressed bytes with
 * like connections.
 */
export function connectionZlib(
  agreed: DeflateAgreement,
  config: ResolvedCompression,
  limiter: JobLimiter,
): LinkCompression {
  const inflater = new MessageInflater(agreed.clientMaxWindowBits, !agreed.clientNoContextTakeover);
  const deflater = new MessageDeflater(
    agreed.serverMaxWindowBits,
    config.memLevel,
    !agreed.serverNoContextTakeover,
  );
  const shared = agreed.serverNoContextTakeover
    ? sharedDeflate(agreed.serverMaxWindowBits, config.memLevel, config.threshold)
    : undefined;
  return { inflater, deflater, limiter, threshold: config.threshold, shared };
}
