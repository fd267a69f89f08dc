/**
 * What the wire needs to compress and inflate permessage-deflate messages (RFC 7692), declared
 * here and implemented by each runtime's adapter (Node: `node:zlib`), and the limiter that
 * bounds how many such jobs one handler runs at once.
 * @module
 */

import type { SharedDeflate } from "../pubsub/broker.js";

/**
 * Where an inflater writes a message's output: the protocol core hands out space in the
 * message's one buffer and counts, checks and limits what is written into it.
 */
export interface InflateSink {
  /**
   * A free area to write the next output into, at the start of the returned view. Empty means
   * stop: the message is no longer wanted (the connection failed).
   */
  inflateSpace(): Uint8Array;
  /**
   * `written` bytes were written at the start of the last {@link inflateSpace}; false means stop
   * (a limit was hit or the text is invalid: the connection failed).
   */
  inflatedInto(written: number): boolean;
}

/** Inflates one connection's compressed messages. */
export interface MessageInflater {
  /**
   * Inflates one message (without its trailer) straight into the space `sink` hands out; stops
   * when the sink says so. `onEnd` is called once, never before `inflate` returns: with an error
   * if the data was not valid deflate data (an `InternalError` if the job itself broke).
   */
  inflate(data: Uint8Array, sink: InflateSink, onEnd: (error?: Error) => void): void;
  /** Frees the inflater's window. */
  release(): void;
}

/** Compresses one connection's messages. */
export interface MessageDeflater {
  /** Compresses one message; `done` gets the payload to send, its trailer removed (§7.2.1). */
  deflate(data: Uint8Array, done: (error: Error | undefined, payload: Uint8Array) => void): void;
  /** Frees the deflater's window. */
  release(): void;
}

/** The permessage-deflate of one connection, as agreed in its handshake. */
export interface LinkCompression {
  readonly inflater: MessageInflater;
  readonly deflater: MessageDeflater;
  readonly limiter: JobLimiter;
  /** Messages smaller than this are sent uncompressed, unless a send says otherwise. */
  readonly threshold: number;
  /** Set when published messages may share compressed bytes with like connections. */
  readonly shared: SharedDeflate | undefined;
}

/** Runs at most `concurrency` jobs at once for one handler; the rest wait in order. */
export class JobLimiter {
  private running = 0;
  private readonly waiting: Array<(done: () => void) => void> = [];
  private readonly concurrency: number;

  constructor(concurrency: number) {
    this.concurrency = concurrency;
  }

  /** How many jobs wait for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `job` when a slot is free; the job calls `done` exactly once when it finishes. */
  run(job: (done: () => void) => void): void {
    if (this.running < this.concurrency) this.start(job);
    else this.waiting.push(job);
  }

  private start(job: (done: () => void) => void): void {
    this.running++;
    let finished = false;
    job(() => {
      if (finished) return;
      finished = true;
      this.running--;
      const next = this.waiting.shift();
      if (next !== undefined) this.start(next);
    });
  }
}
