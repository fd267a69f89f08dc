/**
 * The payload of a message sent in fragments, as a {@link MessageSource}: a whole message cut in
 * pieces of the handler's `fragmentSize`, or the chunks of an application's async iterable or
 * web `ReadableStream`.
 * @module
 */

import { InvalidArgumentError, describeValue } from "../common/errors.js";
import type { MessageSource } from "./ports.js";

/** The reader of a web `ReadableStream`, as much of it as a streamed send uses. */
export interface ReadableStreamReaderLike<C> {
  read(): PromiseLike<{ readonly done: boolean; readonly value?: C }>;
  cancel(reason?: unknown): PromiseLike<void>;
}

/**
 * A web `ReadableStream` (the WHATWG one: Node's `stream/web`, `Response.body`, a browser's),
 * as much of it as a streamed send uses: it is read with a reader of its own.
 */
export interface ReadableStreamLike<C> {
  getReader(): ReadableStreamReaderLike<C>;
}

/**
 * What `sendText`/`sendBinary` take to send one message in fragments: an async iterable (an
 * async generator, a Node `Readable`) or a web `ReadableStream` of chunks.
 */
export type MessageStream<C> = AsyncIterable<C> | ReadableStreamLike<C>;

const encoder = new TextEncoder();
const noop = (): void => {};

/** A whole message in pieces of at most `size` bytes (text is encoded when first pulled). */
export class WholeMessage implements MessageSource {
  done = false;
  private data: string | Uint8Array;
  private at = 0;
  private readonly size: number;

  constructor(data: string | Uint8Array, size: number) {
    this.data = data;
    this.size = size;
  }

  pull(): Uint8Array | null {
    if (this.done) return null;
    if (typeof this.data === "string") this.data = encoder.encode(this.data);
    const bytes = this.data;
    const end = Math.min(this.at + this.size, bytes.length);
    const piece = bytes.subarray(this.at, end);
    this.at = end;
    this.done = end === bytes.length;
    return piece;
  }

  cancel(): void {
    this.data = "";
    this.done = true;
  }
}

/** Whether `value` is something a streamed send takes (checked before it is read). */
export function isMessageStream(value: unknown): value is MessageStream<unknown> {
  if (typeof value !== "object" || value === null) return false;
  try {
    const candidate = value as Record<PropertyKey, unknown>;
    return (
      typeof candidate["getReader"] === "function" || typeof candidate[Symbol.asyncIterator] === "function"
    );
  } catch {
    return false;
  }
}

type Step = { readonly done?: boolean; readonly value?: unknown };

/**
 * The chunks of an application's stream, each turned into bytes: strings for text (a high
 * surrogate that ends a chunk waits for the low one that starts the next, so a pair split
 * between chunks is encoded whole), `Uint8Array`s or other `ArrayBuffer` views for binary, each
 * written by reference. A chunk of another kind fails the message with `InvalidArgumentError`.
 * A web `ReadableStream` is read with its own reader; an async iterable through its iterator.
 */
export class StreamSource implements MessageSource {
  done = false;
  private readonly read: () => PromiseLike<Step>;
  private readonly stop: () => unknown;
  private readonly text: boolean;
  /** A high surrogate that ended the last text chunk. */
  private pending = "";

  /** @throws whatever getting the reader or the iterator throws (the send fails with it). */
  constructor(stream: MessageStream<unknown>, text: boolean) {
    this.text = text;
    const candidate = stream as Partial<ReadableStreamLike<unknown>> & Partial<AsyncIterable<unknown>>;
    if (typeof candidate.getReader === "function") {
      const reader = candidate.getReader();
      this.read = () => reader.read();
      this.stop = () => reader.cancel();
    } else {
      const iterator = (stream as AsyncIterable<unknown>)[Symbol.asyncIterator]();
      this.read = () => iterator.next();
      this.stop = () => iterator.return?.();
    }
  }

  pull(): Promise<Uint8Array | null> {
    // Through a native promise: a thenable of any make settles it, a synchronous throw rejects it.
    return Promise.resolve()
      .then(this.read)
      .then((step) => this.piece(step));
  }

  cancel(): void {
    this.done = true;
    try {
      const stopped = this.stop();
      if (stopped instanceof Promise) stopped.catch(noop);
    } catch {
      // The source is abandoned either way.
    }
  }

  private piece(step: Step): Uint8Array | null {
    if (step.done === true) {
      this.done = true;
      if (this.pending === "") return null;
      // A high surrogate with no low one: encoded as U+FFFD, as sendText does.
      const rest = encoder.encode(this.pending);
      this.pending = "";
      return rest;
    }
    const value = step.value;
    if (this.text) {
      if (typeof value !== "string") {
        throw new InvalidArgumentError(`a text stream yields strings, not ${describeValue(value)}`);
      }
      let chunk = this.pending === "" ? value : this.pending + value;
      this.pending = "";
      const last = chunk.charCodeAt(chunk.length - 1);
      if (last >= 0xd800 && last <= 0xdbff) {
        this.pending = chunk.slice(-1);
        chunk = chunk.slice(0, -1);
      }
      return encoder.encode(chunk);
    }
    if (value instanceof Uint8Array) return value;
    if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    if (value instanceof ArrayBuffer) return new Uint8Array(value);
    throw new InvalidArgumentError(`a binary stream yields bytes, not ${describeValue(value)}`);
  }
}
