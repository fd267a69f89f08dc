/**
 * The send side of one connection: backpressure policy, compression, order, and completion.
 *
 * Sends are framed into the protocol's outgoing slab and written together: at the end of the
 * read being processed (replies to one read go out in one write), or on the next tick for sends
 * made elsewhere. Once a message needs compressing
 * (zlib is asynchronous), it and everything sent after it, the protocol's own frames (pongs,
 * the close reply) included, wait in a queue and go out in order, so a close frame never
 * overtakes a message sent before it.
 * @module
 */

import type { Socket } from "node:net";
import type { ProtocolConnection } from "../protocol/connection.js";
import { frameChunks } from "../protocol/frame-codec.js";
import { Opcode } from "../protocol/opcodes.js";
import type { SendOptions, SendStatus } from "../core/channel.js";
import type { ResolvedOptions } from "../core/options.js";
import { BackpressureError, ChannelClosedError, SendTimeoutError } from "../common/errors.js";
import type { MessageDeflater, ZlibLimiter } from "../adapters/node/zlib.js";
import { followThenable, isThenable } from "../common/thenable.js";

/** Compression for one connection's sends. */
export interface SendCompression {
  readonly deflater: MessageDeflater;
  readonly limiter: ZlibLimiter;
  readonly threshold: number;
}

type Done = (error?: Error | null) => void;

/** Told when a send callback threw or rejected. */
export interface CallbackOwner {
  sendCallbackFailed(error: unknown): void;
}

/** Told when a send did not fit under the `"close"` policy, or a send callback failed. */
export interface OutboxOwner extends CallbackOwner {
  overflowed(): void;
}

/** A send waiting behind a compression. */
interface Waiting {
  /** Text or Binary for messages; 0 for frames the protocol already built; END to end TCP. */
  opcode: number;
  data: string | Uint8Array | Uint8Array[];
  compress: boolean;
  rsv1: boolean;
  size: number;
  done: Done | undefined;
}

const noop = (): void => {};
/** A queue item that ends the TCP connection. */
const END = -1;

/** Queues, compresses and writes one connection's frames. */
export class Outbox {
  private readonly socket: Socket;
  private readonly core: ProtocolConnection;
  private readonly options: ResolvedOptions<unknown>;
  private readonly compression: SendCompression | undefined;
  private readonly owner: OutboxOwner;
  private queue: Waiting[] | null = null;
  private queuedBytes = 0;
  private compressing = false;
  /** Completions of sends framed into the protocol's outgoing bytes and not yet written. */
  private completions: Done[] = [];
  /** A read is being processed: its end writes the batch. */
  private holding = false;
  private scheduled = false;

  constructor(
    socket: Socket,
    core: ProtocolConnection,
    options: ResolvedOptions<unknown>,
    compression: SendCompression | undefined,
    owner: OutboxOwner,
  ) {
    this.socket = socket;
    this.core = core;
    this.options = options;
    this.compression = compression;
    this.owner = owner;
  }

  /** Bytes accepted and not yet handed to the operating system. */
  get bufferedAmount(): number {
    return this.socket.writableLength + this.queuedBytes + this.core.outgoingSize;
  }

  /** Holds writes until {@link release}: the sends made while a read is processed. */
  hold(): void {
    this.holding = true;
  }

  /** Writes everything held, in one write where it can. */
  release(): void {
    this.holding = false;
    this.flush();
  }

  /** Sends a text message (the caller checked the channel is open). */
  text(text: string, options: SendOptions | undefined): Promise<SendStatus> {
    if (this.overLimit(text.length)) return this.overflow(options);
    if (this.queue !== null || this.compresses(text.length, options)) {
      return this.enqueue(Opcode.Text, text, text.length, options);
    }
    this.core.sendText(text);
    return this.batched(options);
  }

  /** Sends a binary message. */
  binary(bytes: Uint8Array, options: SendOptions | undefined): Promise<SendStatus> {
    if (this.overLimit(bytes.length)) return this.overflow(options);
    if (this.queue !== null || this.compresses(bytes.length, options)) {
      return this.enqueue(Opcode.Binary, bytes, bytes.length, options);
    }
    this.core.sendBinary(bytes);
    return this.batched(options);
  }

  /** Sends bytes that are already complete frames (framed once for many connections). */
  prepared(frames: Uint8Array, options: SendOptions | undefined): Promise<SendStatus> {
    if (this.overLimit(frames.length)) return this.overflow(options);
    if (this.queue !== null) return this.enqueue(0, [frames], frames.length, options);
    this.core.sendPrepared(frames);
    return this.batched(options);
  }

  /**
   * Writes a control frame the protocol just queued (a ping) now, completing like any send:
   * its callback is told, its timeout applies, and its promise is never an unhandled rejection.
   */
  control(options: SendOptions | undefined): Promise<SendStatus> {
    return this.track(options, (done) => this.flush(done));
  }

  /**
   * Writes what the protocol queued (messages, pings, pongs, a close frame), after anything
   * waiting for compression; `done` is told when it has been written.
   */
  flush(done?: Done): void {
    this.scheduled = false;
    this.shared = null;
    if (done !== undefined) this.completions.push(done);
    const chunks = this.core.takeOutgoing();
    const completions = this.completions;
    if (completions.length !== 0) this.completions = [];
    const callback =
      completions.length === 0 ? undefined : completions.length === 1 ? completions[0] : all(completions);
    if (this.queue !== null) {
      if (chunks.length !== 0 || callback !== undefined) this.push(0, chunks, 0, false, callback);
      return;
    }
    this.writeChunks(chunks, callback);
  }

  /** Ends the TCP connection once everything accepted so far has been written. */
  end(): void {
    this.flush();
    if (this.queue === null) this.socket.end();
    else this.push(END, [], 0, false, undefined);
  }

  /** The connection is gone: everything still waiting fails. */
  abort(): void {
    this.shared = null;
    const completions = this.completions;
    this.completions = [];
    for (const done of completions) done(new ChannelClosedError());
    const queue = this.queue;
    this.queue = null;
    this.queuedBytes = 0;
    for (const item of queue ?? []) item.done?.(new ChannelClosedError());
  }

  private compresses(size: number, options: SendOptions | undefined): boolean {
    if (this.compression === undefined) return false;
    return options?.compress ?? size >= this.compression.threshold;
  }

  /** Whether `size` more bytes would take the buffer past `maxBackpressure`. */
  private overLimit(size: number): boolean {
    const { maxBackpressure, backpressure } = this.options;
    return backpressure !== "buffer" && this.bufferedAmount + size > maxBackpressure;
  }

  /** Applies the backpressure policy to a send that does not fit. */
  private overflow(options: SendOptions | undefined): Promise<SendStatus> {
    if (this.options.backpressure === "drop") return observe(Promise.resolve("dropped"), options, this.owner);
    this.owner.overflowed();
    return settle(new BackpressureError(this.options.maxBackpressure), this.owner, options);
  }

  private enqueue(
    opcode: number,
    data: string | Uint8Array | Uint8Array[],
    size: number,
    options: SendOptions | undefined,
  ): Promise<SendStatus> {
    const compress = opcode !== 0 && this.compresses(size, options);
    // Whatever is batched goes first, so the queue cannot overtake it.
    if (this.queue === null) this.flush();
    return this.track(options, (done) => this.push(opcode, data, size, compress, done));
  }

  private push(
    opcode: number,
    data: string | Uint8Array | Uint8Array[],
    size: number,
    compress: boolean,
    done: Done | undefined,
  ): void {
    (this.queue ??= []).push({ opcode, data, compress, rsv1: false, size, done });
    this.queuedBytes += size;
    this.pump();
  }

  /** Writes waiting items in order, compressing the next one when it needs it. */
  private pump(): void {
    const queue = this.queue;
    if (queue === null || this.compressing) return;
    this.socket.cork();
    while (queue.length !== 0) {
      const item = queue[0]!;
      if (item.compress) {
        this.compress(item);
        break;
      }
      queue.shift();
      this.queuedBytes -= item.size;
      if (item.opcode === END) this.socket.end();
      else if (item.opcode === 0) this.writeChunks(item.data as Uint8Array[], item.done);
      else {
        const payload = typeof item.data === "string" ? Buffer.from(item.data) : (item.data as Uint8Array);
        this.writeChunks(frameChunks(item.opcode, payload, true, item.rsv1), item.done);
      }
    }
    if (queue.length === 0 && this.queue === queue) this.queue = null;
    this.socket.uncork();
  }

  private compress(item: Waiting): void {
    const { deflater, limiter } = this.compression!;
    this.compressing = true;
    const input = typeof item.data === "string" ? Buffer.from(item.data) : (item.data as Uint8Array);
    limiter.run((release) =>
      deflater.deflate(input, (error, payload) => {
        release();
        this.compressing = false;
        if (this.queue === null) return; // aborted meanwhile
        if (error !== undefined) {
          // Should zlib fail, the message goes out uncompressed rather than not at all.
          item.compress = false;
        } else {
          item.data = payload;
          item.compress = false;
          item.rsv1 = true;
        }
        this.pump();
      }),
    );
  }

  /** A send framed into the protocol's bytes: written with the batch, completed with it. */
  private batched(options: SendOptions | undefined): Promise<SendStatus> {
    if (!this.holding && !this.scheduled) {
      this.scheduled = true;
      process.nextTick(flushLater, this);
    }
    // Sends without a callback or timeout share one promise per batch: they complete together.
    if (options?.callback === undefined && timed(options) === undefined) return this.batchPromise();
    return this.track(options, (done) => this.completions.push(done));
  }

  private shared: Promise<SendStatus> | null = null;

  private batchPromise(): Promise<SendStatus> {
    if (this.shared !== null) return this.shared;
    const promise = new Promise<SendStatus>((resolve, reject) =>
      this.completions.push((error) => {
        if (error) reject(new ChannelClosedError("the connection closed before the send was written", error));
        else resolve("sent");
      }),
    );
    promise.catch(noop);
    return (this.shared = promise);
  }

  /** A promise for one send: settled by `done`, or by its timeout. */
  private track(options: SendOptions | undefined, start: (done: Done) => void): Promise<SendStatus> {
    let timer: NodeJS.Timeout | undefined;
    const promise = new Promise<SendStatus>((resolve, reject) => {
      start((error) => {
        if (timer !== undefined) clearTimeout(timer);
        if (error) reject(new ChannelClosedError("the connection closed before the send was written", error));
        else resolve("sent");
      });
      const timeout = timed(options);
      if (timeout !== undefined) {
        timer = setTimeout(() => reject(new SendTimeoutError(timeout)), timeout);
        timer.unref();
      }
    });
    return observe(promise, options, this.owner);
  }

  private writeChunks(chunks: readonly Uint8Array[], done: Done | undefined): void {
    const last = chunks.length - 1;
    const socket = this.socket;
    if (socket.destroyed) {
      if (done !== undefined) process.nextTick(done, new ChannelClosedError());
      return;
    }
    if (last < 0) {
      if (done !== undefined) process.nextTick(done);
      return;
    }
    if (last > 0) socket.cork();
    for (let i = 0; i < last; i++) socket.write(chunks[i]!);
    socket.write(chunks[last]!, done);
    if (last > 0) socket.uncork();
  }
}

function flushLater(outbox: Outbox): void {
  outbox.flush();
}

/** The delay to time a send with, if any: Channel checked it, and Infinity means none. */
function timed(options: SendOptions | undefined): number | undefined {
  const timeout = options?.timeout;
  return timeout === Infinity ? undefined : timeout;
}

/** One completion for a batch: reports to every send in it. */
function all(completions: readonly Done[]): Done {
  return (error) => {
    for (const done of completions) done(error);
  };
}

/**
 * Reports a promise's outcome to the send callback; marks it handled so no rejection goes
 * unhandled. A callback that throws or rejects is handed to `owner` (the channel's `onError`).
 */
function observe<V>(promise: Promise<V>, options: SendOptions | undefined, owner: CallbackOwner): Promise<V> {
  const callback = options?.callback;
  if (callback === undefined) {
    promise.catch(noop);
    return promise;
  }
  const report = (error: unknown): void => owner.sendCallbackFailed(error);
  const call = (run: () => unknown): void => {
    try {
      const result = run();
      if (isThenable(result)) followThenable(result).then(undefined, report);
    } catch (error) {
      report(error);
    }
  };
  if (typeof callback === "function") {
    promise.then(
      () => call(() => callback()),
      (error: Error) => call(() => callback(error)),
    );
  } else {
    promise.then(
      () => call(() => callback.onComplete?.()),
      (error: Error) => call(() => callback.onError?.(error)),
    );
  }
  return promise;
}

/**
 * A send that failed before it started. `owner` is told what a send callback throws; `options`
 * were checked (Channel's `checkSendOptions`), or are left out.
 */
export function settle(error: Error, owner: CallbackOwner, options?: SendOptions): Promise<never> {
  return observe(Promise.reject(error), options, owner);
}
