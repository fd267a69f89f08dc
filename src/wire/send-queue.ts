/**
 * The sends of one connection that wait behind a compression, in order. Once a message needs
 * compressing (zlib is asynchronous), it and everything sent after it, the protocol's own frames
 * (pongs, the close reply) included, wait here and go out in order, so a close frame never
 * overtakes a message sent before it. Made by a link the first time it needs one.
 * @module
 */

import type { ProtocolConnection } from "../protocol/connection.js";
import { ChannelClosedError } from "../common/errors.js";
import type { ByteStream, Clock, Done, MessageSource } from "../core/ports.js";
import { Opcode } from "../protocol/opcodes.js";
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
  /** A message sent in fragments: its payload comes from here (`data` is unused). */
  source?: MessageSource;
  /** Its first fragment went out: the next ones are continuations. */
  started?: boolean;
}

/** An item of bytes that already are frames. */
export const FRAMES = 0;
/** An item that ends the stream. */
export const END = -1;

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** The ordered queue of one link. */
export class SendQueue {
  private readonly stream: ByteStream;
  private readonly core: ProtocolConnection;
  private readonly clock: Clock;
  private readonly compression: LinkCompression | undefined;
  private items: Waiting[] = [];
  private compressing = false;
  private aborted = false;
  /** The message going out in fragments, at the head of the queue. */
  private active: Waiting | null = null;
  /** The active message waits for the stream to drain before its next piece. */
  private draining = false;
  /** Told when a source fails: the link closes the connection. */
  private readonly failed: (cause: unknown) => void;
  /** Bytes waiting in the queue. */
  size = 0;
  /** Bytes the queue has handed to the stream. */
  written = 0;

  constructor(
    stream: ByteStream,
    core: ProtocolConnection,
    clock: Clock,
    compression: LinkCompression | undefined,
    failed: (cause: unknown) => void,
  ) {
    this.failed = failed;
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

  /** Whether a message is going out in fragments: pings and pongs may go between them. */
  get streaming(): boolean {
    return this.active !== null;
  }

  /** Adds a message sent in fragments from `source`; `size` bytes of it count as buffered. */
  pushStream(opcode: number, source: MessageSource, size: number): void {
    this.items.push({ opcode, data: "", compress: false, rsv1: false, size, done: undefined, source });
    this.size += size;
    this.pump();
  }

  /** The stream drained: the message in fragments pulls its next piece. */
  drained(): void {
    if (!this.draining) return;
    this.draining = false;
    this.next(this.active!);
  }

  /**
   * A close frame went out between fragments: the message in fragments and every data message
   * behind it fail with `error` (nothing may follow a close frame); ending the stream still does.
   */
  cancelMessages(error: Error): void {
    const active = this.active;
    if (active === null) return;
    this.active = null;
    this.draining = false;
    active.source!.cancel();
    const items = this.items;
    this.items = [];
    this.size = 0;
    for (const item of items) {
      if (item.opcode === END) this.items.push(item);
      else {
        if (item !== active) item.source?.cancel();
        item.done?.(error);
      }
    }
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
    this.active = null;
    this.draining = false;
    for (const item of items) {
      item.source?.cancel();
      item.done?.(new ChannelClosedError());
    }
  }

  /** Writes waiting items in order, compressing the next one when it needs it. */
  private pump(): void {
    if (this.compressing || this.active !== null) return;
    const { items, stream } = this;
    stream.cork?.();
    while (items.length !== 0) {
      const item = items[0]!;
      if (item.source !== undefined) {
        this.active = item;
        this.next(item);
        break;
      }
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

  /**
   * Pulls and writes the pieces of the active message while the stream takes them: the first
   * with the message's opcode, the others as continuations, FIN on the last (an empty final
   * frame when the source learns it ended only after its last piece).
   */
  private next(item: Waiting): void {
    const source = item.source!;
    while (this.active === item) {
      if (this.stream.needsDrain) {
        this.draining = true;
        return;
      }
      let piece: Uint8Array | null | Promise<Uint8Array | null>;
      try {
        piece = source.pull();
      } catch (error) {
        this.fail(item, error);
        return;
      }
      if (piece instanceof Promise) {
        piece.then(
          (got) => {
            if (this.active === item && this.write(item, got)) this.next(item);
          },
          (error: unknown) => {
            if (this.active === item) this.fail(item, error);
          },
        );
        return;
      }
      if (!this.write(item, piece)) return;
    }
  }

  /** Writes one piece of the active message; false once it is finished. */
  private write(item: Waiting, piece: Uint8Array | null): boolean {
    const fin = piece === null || item.source!.done;
    if (piece === null) piece = EMPTY;
    else if (piece.length === 0 && !fin) return true;
    const opcode = item.started === true ? Opcode.Continuation : item.opcode;
    item.started = true;
    const counted = Math.min(item.size, piece.length);
    item.size -= counted;
    this.size -= counted;
    const frames = this.core.frameLater(opcode, piece, false, fin);
    if (!fin) {
      this.written += writeChunks(this.stream, this.clock, frames, undefined);
      return true;
    }
    this.items.shift();
    this.size -= item.size;
    this.active = null;
    this.written += writeChunks(this.stream, this.clock, frames, item.done);
    this.pump();
    return false;
  }

  /**
   * The source of the active message failed: the message fails with the cause, and the link
   * closes the connection (1011), which cancels what waits behind it (the peer holds half a
   * message: no other data message may follow).
   */
  private fail(item: Waiting, cause: unknown): void {
    const done = item.done;
    item.done = undefined;
    done?.(cause instanceof Error ? cause : new ChannelClosedError("the message source failed", cause));
    this.failed(cause);
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
