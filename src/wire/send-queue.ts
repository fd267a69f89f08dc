/**
 * The sends of one connection that wait behind a compression, in order. Once a message needs
 * compressing (zlib is asynchronous), it and everything sent after it, the protocol's own frames
 * (pongs, the close reply) included, wait here and go out in order, so a close frame never
 * overtakes a message sent before it. Made by a link the first time it needs one.
 * @module
 */

import type { ProtocolConnection } from "../protocol/connection.js";
import { ChannelClosedError } from "../common/errors.js";
import type { ByteStream, Clock, Done } from "../core/ports.js";
import type { LinkCompression } from "./compression.js";

/** A send waiting in the queue. */
interface Waiting {
  /** Text or Binary for messages; {@link FRAMES} for frames already built; {@link END}. */
  opcode: number;
  data: string | Uint8Array | readonly Uint8Array[];
  compress: boolean;
  rsv1: boolean;
  size: number;
  done: Done | undefined;
}

/** An item of bytes that already are frames. */
export const FRAMES = 0;
/** An item that ends the stream. */
export const END = -1;

const encoder = new TextEncoder();

/** The ordered queue of one link. */
export class SendQueue {
  private readonly stream: ByteStream;
  private readonly core: ProtocolConnection;
  private readonly clock: Clock;
  private readonly compression: LinkCompression | undefined;
  private items: Waiting[] = [];
  private compressing = false;
  private aborted = false;
  /** Bytes waiting in the queue. */
  size = 0;
  /** Bytes the queue has handed to the stream. */
  written = 0;

  constructor(
    stream: ByteStream,
    core: ProtocolConnection,
    clock: Clock,
    compression: LinkCompression | undefined,
  ) {
    this.stream = stream;
    this.core = core;
    this.clock = clock;
    this.compression = compression;
  }

  /** Whether anything waits: while it does, every send goes behind it. */
  get waiting(): boolean {
    return this.items.length !== 0;
  }

  /** Adds an item at the end and writes what can be written. */
  push(
    opcode: number,
    data: string | Uint8Array | readonly Uint8Array[],
    size: number,
    compress: boolean,
    done: Done | undefined,
  ): void {
    this.items.push({ opcode, data, compress, rsv1: false, size, done });
    this.size += size;
    this.pump();
  }

  /** `done` completes with the last item waiting; false when nothing waits. */
  completeWithLast(done: Done): boolean {
    const last = this.items.at(-1);
    if (last === undefined) return false;
    const previous = last.done;
    last.done = previous === undefined ? done : both(previous, done);
    return true;
  }

  /** The stream is gone: everything still waiting fails. */
  abort(): void {
    this.aborted = true;
    const items = this.items;
    this.items = [];
    this.size = 0;
    for (const item of items) item.done?.(new ChannelClosedError());
  }

  /** Writes waiting items in order, compressing the next one when it needs it. */
  private pump(): void {
    if (this.compressing) return;
    const { items, stream } = this;
    stream.cork?.();
    while (items.length !== 0) {
      const item = items[0]!;
      if (item.compress) {
        this.compress(item);
        break;
      }
      items.shift();
      this.size -= item.size;
      if (item.opcode === END) stream.end();
      else if (item.opcode === FRAMES)
        this.written += writeChunks(stream, this.clock, item.data as readonly Uint8Array[], item.done);
      else {
        const payload = typeof item.data === "string" ? encoder.encode(item.data) : (item.data as Uint8Array);
        const frames = this.core.frameLater(item.opcode, payload, item.rsv1);
        this.written += writeChunks(stream, this.clock, frames, item.done);
      }
    }
    stream.uncork?.();
  }

  private compress(item: Waiting): void {
    const { deflater, limiter } = this.compression!;
    this.compressing = true;
    const input = typeof item.data === "string" ? encoder.encode(item.data) : (item.data as Uint8Array);
    limiter.run((release) =>
      deflater.deflate(input, (error, payload) => {
        release();
        this.compressing = false;
        if (this.aborted) return;
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
}

/**
 * Writes chunks on `stream`; `done` (if any) is told, after the current task when nothing is
 * written. Returns how many bytes were handed to the stream.
 */
export function writeChunks(
  stream: ByteStream,
  clock: Clock,
  chunks: readonly Uint8Array[],
  done: Done | undefined,
): number {
  if (stream.destroyed) {
    if (done !== undefined) clock.defer(done, new ChannelClosedError());
    return 0;
  }
  if (chunks.length === 0) {
    if (done !== undefined) clock.defer(done, undefined);
    return 0;
  }
  stream.write(chunks, done);
  let size = 0;
  for (let i = 0; i < chunks.length; i++) size += chunks[i]!.length;
  return size;
}

function both(first: Done, second: Done): Done {
  return (error) => {
    first(error);
    second(error);
  };
}
