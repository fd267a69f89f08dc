/**
 * A byte stream and the protocol core make a {@link Link}: the runtime-agnostic byte driver.
 *
 * Input: each chunk goes into the {@link ProtocolConnection}; its events become
 * {@link LinkEvents}; compressed messages are inflated (input waits meanwhile, so messages stay
 * in order); reading pauses while the core holds input or while our outgoing buffer is over its
 * high-water mark (a peer that does not read what we send is not fed more input to answer,
 * DESIGN §3).
 *
 * Output: sends are framed into the protocol's outgoing slab and written together, at the end of
 * the read being processed (the replies to one read go out in one write) or once the current
 * task is done for sends made elsewhere. Once a message needs compressing (zlib is
 * asynchronous), it and everything sent after it, the protocol's own frames (pongs, the close
 * reply) included, wait in order in a {@link SendQueue} (`send-queue.ts`).
 * @module
 */

import { ProtocolConnection } from "../protocol/connection.js";
import { Opcode } from "../protocol/opcodes.js";
import type { ReadyState } from "../protocol/ready-state.js";
import type { SlabPool } from "../protocol/outgoing.js";
import type { CompressedEvent } from "../protocol/events.js";
import { ChannelClosedError, InternalError } from "../common/errors.js";
import type { ByteSink, ByteStream, Clock, Done, Link, LinkEvents, MessageSource } from "../core/ports.js";
import { WholeMessage } from "../core/message-source.js";
import { CloseCode } from "../protocol/close-codes.js";
import type { SharedDeflate } from "../pubsub/broker.js";
import type { LinkCompression } from "./compression.js";
import { END, FRAMES, SendQueue, writeChunks } from "./send-queue.js";

/** How a {@link ByteLink} is set up: the limits, shared memory and compression of its handler. */
export interface LinkSettings {
  readonly maxPayload: number;
  readonly maxFragments: number;
  /** Uncompressed messages larger than this go out in fragments of this size (`fragmentSize`). */
  readonly fragmentSize: number;
  /** Slab memory for small outgoing frames, shared by the handler's connections. */
  readonly slabs: SlabPool;
  readonly clock: Clock;
  /** permessage-deflate as agreed, or undefined. */
  readonly compression: LinkCompression | undefined;
  /** The `Sec-WebSocket-Extensions` answer sent, "" for none. */
  readonly extensions: string;
}

const noop = (): void => {};
const EMPTY = new Uint8Array(0);

const NO_EVENTS: LinkEvents = {
  input: noop,
  text: noop,
  binary: noop,
  failed: noop,
  drained: noop,
  ending: noop,
  closed: noop,
  sourceFailed: noop,
};

/**
 * A {@link Link} over a {@link ByteStream}, framed by the protocol core.
 *
 * @example
 * ```ts
 * const link = new ByteLink(stream, { maxPayload, maxFragments, slabs, clock, compression: undefined, extensions: "" });
 * link.start(session, false);
 * ```
 */
export class ByteLink implements Link, ByteSink {
  readonly extensions: string;
  private readonly stream: ByteStream;
  private readonly core: ProtocolConnection;
  private readonly clock: Clock;
  private readonly compression: LinkCompression | undefined;
  private readonly fragmentSize: number;
  /** Our own close frame waits in the queue, behind a message going out in fragments. */
  private closeDeferred = false;
  private events: LinkEvents = NO_EVENTS;
  /** Sends behind a compression, in order; made the first time one is needed. */
  private queue: SendQueue | null = null;
  /** Completions of sends framed into the protocol's outgoing bytes and not yet written. */
  private completions: Done[] = [];
  /** A read is being processed: its end writes the batch. */
  private holding = false;
  private scheduled = false;
  private shared: Promise<"sent"> | null = null;
  private streamClosed = false;
  /** The stream was ended after the closing handshake. */
  private ended = false;
  /** Reading is paused because our outgoing buffer is over its high-water mark. */
  private throttled = false;
  /** Whether the stream is currently paused (by us). */
  private readingPaused = false;
  /** Bytes received from the stream. */
  bytesIn = 0;
  /** Bytes written directly (not through the queue). */
  private directBytesOut = 0;

  constructor(stream: ByteStream, settings: LinkSettings) {
    this.stream = stream;
    this.clock = settings.clock;
    this.compression = settings.compression;
    this.extensions = settings.extensions;
    this.fragmentSize = settings.fragmentSize;
    this.core = new ProtocolConnection({
      maxPayload: settings.maxPayload,
      maxFragments: settings.maxFragments,
      compression: settings.compression !== undefined,
      pool: settings.slabs,
    });
  }

  get readyState(): ReadyState {
    return this.core.readyState;
  }

  get closeCode(): number {
    return this.core.closeCode;
  }

  get closeReason(): string {
    return this.core.closeReason;
  }

  get bufferedAmount(): number {
    return this.stream.bufferedAmount + (this.queue?.size ?? 0) + this.core.outgoingSize;
  }

  get bytesOut(): number {
    return this.directBytesOut + (this.queue?.written ?? 0);
  }

  get sharedDeflate(): SharedDeflate | undefined {
    return this.compression?.shared;
  }

  get remoteAddress(): string | undefined {
    return this.stream.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.stream.remotePort;
  }

  start(events: LinkEvents, hold: boolean): void {
    this.events = events;
    if (hold) this.core.holdInput();
    this.stream.start(this);
    this.updateReading();
  }

  release(): void {
    this.core.releaseInput();
    this.process();
  }

  // ByteSink: what the stream reports.

  /** @internal Bytes from the peer. */
  data(chunk: Uint8Array): void {
    this.bytesIn += chunk.length;
    this.events.input();
    this.core.receive(chunk);
    this.process();
  }

  /** @internal The peer ended its half. */
  end(): void {
    if (this.streamClosed) return;
    this.core.receiveEof();
    this.process();
  }

  /** @internal The stream is gone. */
  closed(): void {
    if (this.streamClosed) return;
    this.streamClosed = true;
    this.core.closed();
    this.abort();
    this.compression?.inflater.release();
    this.events.closed();
  }

  /** @internal Our outgoing buffer emptied: read again, and tell the session. */
  drain(): void {
    if (this.throttled) {
      this.throttled = false;
      this.updateReading();
    }
    this.queue?.drained();
    if (!this.streamClosed) this.events.drained();
  }

  /** Turns the protocol's events into link events and writes what it queued. */
  private process(): void {
    this.holding = true;
    const events = this.events;
    for (let event = this.core.nextEvent(); event !== undefined; event = this.core.nextEvent()) {
      switch (event.type) {
        case "text":
          events.text(event.text);
          break;
        case "binary":
          events.binary(event.data);
          break;
        case "fail":
          events.failed(event.error);
          break;
        case "compressed":
          this.inflate(event);
          break;
        default:
          break;
      }
    }
    this.holding = false;
    this.flush();
    if (this.core.closeExpected()) {
      // Both close frames have crossed, or input ended: end the stream once our bytes are out
      // (§7.1.1), after any message still being compressed and the close frame behind it.
      if (!this.streamClosed && !this.ended) {
        this.ended = true;
        this.endStream();
        this.events.ending();
      }
    } else if (this.stream.needsDrain) this.throttled = true;
    this.updateReading();
  }

  /** Reads while nothing holds input back: the core's hold, an inflation, a full outgoing buffer. */
  private updateReading(): void {
    const pause = this.core.inputPaused || this.throttled;
    if (pause === this.readingPaused || this.streamClosed) return;
    this.readingPaused = pause;
    if (pause) this.stream.pause();
    else this.stream.resume();
  }

  /** Inflates a compressed message (input waits meanwhile), then carries on. */
  private inflate(event: CompressedEvent): void {
    const { inflater, limiter } = this.compression!;
    limiter.run((release) =>
      inflater.inflate(event.data, this.core, (error) => {
        release();
        if (this.streamClosed) return;
        // zlib's own errors mean invalid data (1007); an InternalError is ours (1011).
        if (error !== undefined) this.core.inflateFailed(error instanceof InternalError ? error : undefined);
        else this.core.inflatedEnd();
        this.process();
      }),
    );
  }

  // The sends: the session checked the state and applied its policy.

  sendText(text: string, compress?: boolean): boolean {
    return this.sendMessage(Opcode.Text, text, text.length, compress);
  }

  sendBinary(data: Uint8Array, compress?: boolean): boolean {
    return this.sendMessage(Opcode.Binary, data, data.length, compress);
  }

  /**
   * A whole message: above `fragmentSize` and not compressed, in fragments that control frames
   * may go between (for text, `size` counts UTF-16 units, fewer than its bytes); behind what is
   * queued, or to compress, through the queue; else framed at once into the batch.
   */
  private sendMessage(opcode: number, data: string | Uint8Array, size: number, compress?: boolean): boolean {
    if (this.core.closeSent) return false;
    const compressed = this.compresses(size, compress);
    if (size > this.fragmentSize && !compressed) {
      this.enqueueSource(opcode, new WholeMessage(data, this.fragmentSize), size);
    } else if (this.queued || compressed) this.enqueue(opcode, data, size, compress);
    else {
      if (typeof data === "string") this.core.sendText(data);
      else this.core.sendBinary(data);
      this.schedule();
    }
    return true;
  }

  sendStream(opcode: number, source: MessageSource): boolean {
    if (this.core.closeSent) return false;
    this.enqueueSource(opcode, source, 0);
    return true;
  }

  sendPrepared(frames: Uint8Array): boolean {
    if (this.core.closeSent) return false;
    if (this.queued) this.enqueue(FRAMES, [frames], frames.length, false);
    else {
      this.core.sendPrepared(frames);
      this.schedule();
    }
    return true;
  }

  ping(data: Uint8Array = EMPTY): boolean {
    if (!this.core.ping(data)) return false;
    this.schedule();
    return true;
  }

  close(code: number, reason: string): boolean {
    if (this.queue?.streaming === true) {
      // Our close frame goes after the message going out in fragments (and what waits behind
      // it), as after any message sent before it; what the core queued before it goes now.
      this.flush();
      if (!this.core.close(code, reason)) return false;
      this.closeDeferred = true;
      this.queue.push(FRAMES, this.core.takeOutgoing(), 0, false, undefined);
      return true;
    }
    if (!this.core.close(code, reason)) return false;
    this.schedule();
    return true;
  }

  written(): Promise<"sent"> {
    if (this.shared !== null) return this.shared;
    const promise = new Promise<"sent">((resolve, reject) =>
      this.whenWritten((error) => {
        if (error) reject(new ChannelClosedError("the connection closed before the send was written", error));
        else resolve("sent");
      }),
    );
    promise.catch(noop);
    return (this.shared = promise);
  }

  whenWritten(done: Done): void {
    // The last send waits in the queue: it completes with that item.
    if (this.core.outgoingSize === 0 && this.queue?.completeWithLast(done) === true) return;
    this.completions.push(done);
    this.schedule();
  }

  terminate(): void {
    this.stream.abort();
  }

  /** Writes the batch once the current task is done, unless a read's end writes it first. */
  private schedule(): void {
    if (this.holding || this.scheduled) return;
    this.scheduled = true;
    this.clock.defer(flushLater, this);
  }

  /**
   * Writes what the protocol queued (messages, pings, pongs, a close frame), after anything
   * waiting for compression, together with the completions of the sends in it.
   */
  flush(): void {
    this.scheduled = false;
    this.shared = null;
    const chunks = this.core.takeOutgoing();
    const completions = this.completions;
    if (completions.length !== 0) this.completions = [];
    const done =
      completions.length === 0 ? undefined : completions.length === 1 ? completions[0] : all(completions);
    if (this.queued) {
      const queue = this.queue!;
      if (queue.streaming) {
        // Between two fragments: pings, pongs, a close reply (control frames, RFC 6455 §5.4).
        // What else is sent meanwhile waits in the queue; so do the completions.
        this.directBytesOut += writeChunks(this.stream, this.clock, chunks, undefined);
        if (done !== undefined) queue.push(FRAMES, [], 0, false, done);
        // A close frame that is not ours to defer (a reply, a failure): nothing may follow it.
        if (this.core.closeSent && !this.closeDeferred) {
          queue.cancelMessages(new ChannelClosedError("the connection closed during a message in fragments"));
        }
        return;
      }
      if (chunks.length !== 0 || done !== undefined) queue.push(FRAMES, chunks, 0, false, done);
      return;
    }
    this.directBytesOut += writeChunks(this.stream, this.clock, chunks, done);
  }

  /** Whether sends wait behind a compression. */
  private get queued(): boolean {
    return this.queue !== null && this.queue.waiting;
  }

  /** Ends the stream once everything accepted so far has been written. */
  private endStream(): void {
    this.flush();
    if (this.queued) this.queue!.push(END, [], 0, false, undefined);
    else this.stream.end();
  }

  /** The stream is gone: everything still waiting fails. */
  private abort(): void {
    this.shared = null;
    const completions = this.completions;
    this.completions = [];
    for (const done of completions) done(new ChannelClosedError());
    this.queue?.abort();
  }

  private compresses(size: number, compress: boolean | undefined): boolean {
    if (this.compression === undefined) return false;
    return compress ?? size >= this.compression.threshold;
  }

  /** Queues a message that goes out in fragments, after whatever is batched. */
  private enqueueSource(opcode: number, source: MessageSource, size: number): void {
    if (!this.queued) this.flush();
    this.shared = null;
    this.queue ??= this.makeQueue();
    this.queue.pushStream(opcode, source, size);
  }

  private makeQueue(): SendQueue {
    return new SendQueue(this.stream, this.core, this.clock, this.compression, (cause) =>
      this.sourceFailed(cause),
    );
  }

  /**
   * A streamed message's source failed: the peer holds half a message, so the connection is
   * closed with 1011 at once (the close frame goes between fragments, what waits is cancelled);
   * if our close frame already waits behind the message, the transport is cut instead.
   */
  private sourceFailed(cause: unknown): void {
    if (this.core.close(CloseCode.InternalError, "message source failed")) this.flush();
    else {
      this.queue!.cancelMessages(new ChannelClosedError("the message source failed", cause));
      this.stream.abort();
    }
    this.events.sourceFailed(cause);
  }

  private enqueue(
    opcode: number,
    data: string | Uint8Array | readonly Uint8Array[],
    size: number,
    compress: boolean | undefined,
  ): void {
    const compressed = opcode !== FRAMES && this.compresses(size, compress);
    // Whatever is batched goes first, so the queue cannot overtake it.
    if (!this.queued) this.flush();
    // A queued send completes with its own item: it shares no promise with the sends before it.
    this.shared = null;
    this.queue ??= this.makeQueue();
    this.queue.push(opcode, data, size, compressed, undefined);
  }
}

function flushLater(link: ByteLink): void {
  link.flush();
}

/** One completion for a batch: reports to every send in it. */
function all(completions: readonly Done[]): Done {
  return (error) => {
    for (const done of completions) done(error);
  };
}
