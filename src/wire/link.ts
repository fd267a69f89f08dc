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
 * reply) included, wait in a queue and go out in order, so a close frame never overtakes a
 * message sent before it.
 * @module
 */

import { ProtocolConnection } from "../protocol/connection.js";
import { Opcode } from "../protocol/opcodes.js";
import type { ReadyState } from "../protocol/ready-state.js";
import type { SlabPool } from "../protocol/outgoing.js";
import type { CompressedEvent } from "../protocol/events.js";
import { ChannelClosedError, InternalError } from "../common/errors.js";
import type { ByteSink, ByteStream, Clock, Done, Link, LinkEvents } from "../core/ports.js";
import type { SharedDeflate } from "../pubsub/broker.js";
import type { LinkCompression } from "./compression.js";

/** How a {@link ByteLink} is set up: the limits, shared memory and compression of its handler. */
export interface LinkSettings {
  readonly maxPayload: number;
  readonly maxFragments: number;
  /** Slab memory for small outgoing frames, shared by the handler's connections. */
  readonly slabs: SlabPool;
  readonly clock: Clock;
  /** permessage-deflate as agreed, or undefined. */
  readonly compression: LinkCompression | undefined;
  /** The `Sec-WebSocket-Extensions` answer sent, "" for none. */
  readonly extensions: string;
}

/** A send waiting behind a compression. */
interface Waiting {
  /** Text or Binary for messages; 0 for frames the protocol already built; END to end the stream. */
  opcode: number;
  data: string | Uint8Array | readonly Uint8Array[];
  compress: boolean;
  rsv1: boolean;
  size: number;
  done: Done | undefined;
}

const noop = (): void => {};
/** A queue item that ends the stream. */
const END = -1;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

const NO_EVENTS: LinkEvents = {
  input: noop,
  text: noop,
  binary: noop,
  failed: noop,
  drained: noop,
  ending: noop,
  closed: noop,
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
  private events: LinkEvents = NO_EVENTS;
  private queue: Waiting[] | null = null;
  private queuedBytes = 0;
  private compressing = false;
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

  constructor(stream: ByteStream, settings: LinkSettings) {
    this.stream = stream;
    this.clock = settings.clock;
    this.compression = settings.compression;
    this.extensions = settings.extensions;
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
    return this.stream.bufferedAmount + this.queuedBytes + this.core.outgoingSize;
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
      inflater.inflate(
        event.data,
        (chunk) => this.core.inflated(chunk),
        (error) => {
          release();
          if (this.streamClosed) return;
          // zlib's own errors mean invalid data (1007); an InternalError is ours (1011).
          if (error !== undefined)
            this.core.inflateFailed(error instanceof InternalError ? error : undefined);
          else this.core.inflatedEnd();
          this.process();
        },
      ),
    );
  }

  // The sends: the session checked the state and applied its policy.

  sendText(text: string, compress?: boolean): boolean {
    if (this.core.closeSent) return false;
    if (this.queue !== null || this.compresses(text.length, compress)) {
      this.enqueue(Opcode.Text, text, text.length, compress);
    } else {
      this.core.sendText(text);
      this.schedule();
    }
    return true;
  }

  sendBinary(data: Uint8Array, compress?: boolean): boolean {
    if (this.core.closeSent) return false;
    if (this.queue !== null || this.compresses(data.length, compress)) {
      this.enqueue(Opcode.Binary, data, data.length, compress);
    } else {
      this.core.sendBinary(data);
      this.schedule();
    }
    return true;
  }

  sendPrepared(frames: Uint8Array): boolean {
    if (this.core.closeSent) return false;
    if (this.queue !== null) this.enqueue(0, [frames], frames.length, false);
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
    const queue = this.queue;
    if (queue !== null && queue.length !== 0 && this.core.outgoingSize === 0) {
      // The last send waits in the queue: it completes with that item.
      const last = queue[queue.length - 1]!;
      const previous = last.done;
      last.done = previous === undefined ? done : both(previous, done);
      return;
    }
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
    if (this.queue !== null) {
      if (chunks.length !== 0 || done !== undefined) this.push(0, chunks, 0, false, done);
      return;
    }
    this.write(chunks, done);
  }

  /** Ends the stream once everything accepted so far has been written. */
  private endStream(): void {
    this.flush();
    if (this.queue === null) this.stream.end();
    else this.push(END, [], 0, false, undefined);
  }

  /** The stream is gone: everything still waiting fails. */
  private abort(): void {
    this.shared = null;
    const completions = this.completions;
    this.completions = [];
    for (const done of completions) done(new ChannelClosedError());
    const queue = this.queue;
    this.queue = null;
    this.queuedBytes = 0;
    for (const item of queue ?? []) item.done?.(new ChannelClosedError());
  }

  private compresses(size: number, compress: boolean | undefined): boolean {
    if (this.compression === undefined) return false;
    return compress ?? size >= this.compression.threshold;
  }

  private enqueue(
    opcode: number,
    data: string | Uint8Array | readonly Uint8Array[],
    size: number,
    compress: boolean | undefined,
  ): void {
    const compressed = opcode !== 0 && this.compresses(size, compress);
    // Whatever is batched goes first, so the queue cannot overtake it.
    if (this.queue === null) this.flush();
    // A queued send completes with its own item: it shares no promise with the sends before it.
    this.shared = null;
    this.push(opcode, data, size, compressed, undefined);
  }

  private push(
    opcode: number,
    data: string | Uint8Array | readonly Uint8Array[],
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
    const stream = this.stream;
    stream.cork?.();
    while (queue.length !== 0) {
      const item = queue[0]!;
      if (item.compress) {
        this.compress(item);
        break;
      }
      queue.shift();
      this.queuedBytes -= item.size;
      if (item.opcode === END) stream.end();
      else if (item.opcode === 0) this.write(item.data as readonly Uint8Array[], item.done);
      else {
        const payload = typeof item.data === "string" ? encoder.encode(item.data) : (item.data as Uint8Array);
        this.write(this.core.frameLater(item.opcode, payload, item.rsv1), item.done);
      }
    }
    if (queue.length === 0 && this.queue === queue) this.queue = null;
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

  private write(chunks: readonly Uint8Array[], done: Done | undefined): void {
    if (this.stream.destroyed) {
      if (done !== undefined) this.clock.defer(done, new ChannelClosedError());
      return;
    }
    if (chunks.length === 0) {
      if (done !== undefined) this.clock.defer(done, undefined);
      return;
    }
    this.stream.write(chunks, done);
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

function both(first: Done, second: Done): Done {
  return (error) => {
    first(error);
    second(error);
  };
}
