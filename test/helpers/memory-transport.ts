/**
 * The core without a socket: an in-memory {@link ByteStream}, a fake {@link Clock}, and a
 * session wired to them the way a transport adapter wires one, so `Channel`, the send policy,
 * timers and admission are tested with byte literals and no sleeps.
 *
 * @example
 * ```ts
 * const t = connect({ onMessage: ({ channel, text }) => void channel.sendText(text!) });
 * t.stream.receive(clientFrame(Opcode.Text, "hi"));
 * await t.settled();
 * assert.deepEqual(t.stream.frames().map((f) => f.text), ["hi"]);
 * ```
 * @module
 */
import type { Callbacks } from "../../src/core/callbacks.js";
import { createContext, type HandlerContext } from "../../src/core/context.js";
import { resolveOptions, type Options, type Runtime } from "../../src/core/options.js";
import type { ByteSink, ByteStream, Clock, Done, Timer } from "../../src/core/ports.js";
import type { EventSink } from "../../src/core/events.js";
import { Session } from "../../src/core/session.js";
import { SlabPool } from "../../src/protocol/outgoing.js";
import { ByteLink, type LinkSettings } from "../../src/wire/link.js";
import { decodeServerFrames, type ServerFrame } from "./frames.js";

interface FakeTimer extends Timer {
  at: number;
  readonly every: number | undefined;
  readonly callback: () => void;
  cleared: boolean;
}

/**
 * A clock that moves only when told to. `defer`red work runs as a microtask (so an `await`
 * lets the batch of sends be written), timers when {@link FakeClock.advance} passes them.
 */
export class FakeClock implements Clock {
  /** The time, in ms: moved by {@link FakeClock.advance} only. */
  time = 0;
  private readonly timers = new Set<FakeTimer>();

  setTimeout(callback: () => void, ms: number): Timer {
    return this.add(callback, ms, undefined);
  }

  setInterval(callback: () => void, ms: number): Timer {
    return this.add(callback, ms, ms);
  }

  clearTimeout(timer: Timer): void {
    (timer as FakeTimer).cleared = true;
    this.timers.delete(timer as FakeTimer);
  }

  clearInterval(timer: Timer): void {
    this.clearTimeout(timer);
  }

  defer<A>(callback: (arg: A) => void, arg: A): void {
    queueMicrotask(() => callback(arg));
  }

  now(): number {
    return this.time;
  }

  /** Timers that are set and not cleared. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let next: FakeTimer | undefined;
      for (const timer of this.timers)
        if (timer.at <= end && (next === undefined || timer.at < next.at)) next = timer;
      if (next === undefined) break;
      this.time = next.at;
      if (next.every === undefined) this.timers.delete(next);
      else next.at += next.every;
      next.callback();
    }
    this.time = end;
  }

  private add(callback: () => void, ms: number, every: number | undefined): FakeTimer {
    const timer: FakeTimer = { at: this.time + ms, every, callback, cleared: false, unref() {} };
    this.timers.add(timer);
    return timer;
  }
}

/** A byte stream in memory: what the server wrote, and what the test makes the peer send. */
export class MemoryStream implements ByteStream {
  /** Everything written, in order. */
  readonly written: Uint8Array[] = [];
  bufferedAmount = 0;
  needsDrain = false;
  destroyed = false;
  paused = false;
  ended = false;
  aborted = false;
  readonly remoteAddress = "192.0.2.1";
  readonly remotePort = 4242;
  private sink: ByteSink | undefined;

  start(sink: ByteSink): void {
    this.sink = sink;
  }

  write(chunks: readonly Uint8Array[], done?: Done): void {
    for (const chunk of chunks) this.written.push(chunk.slice());
    if (done !== undefined) queueMicrotask(() => done());
  }

  end(): void {
    this.ended = true;
  }

  abort(): void {
    this.aborted = true;
    this.close();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  /** The peer sends `bytes`. */
  receive(bytes: Uint8Array): void {
    this.sink!.data(bytes);
  }

  /** The peer ends its half. */
  receiveEnd(): void {
    this.sink!.end();
  }

  /** The transport goes away. */
  close(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.sink!.closed();
  }

  /** The transport's buffer emptied. */
  drain(): void {
    this.needsDrain = false;
    this.sink!.drain();
  }

  /** The frames the server wrote, decoded. */
  frames(): ServerFrame[] {
    const total = this.written.reduce((n, c) => n + c.length, 0);
    const all = new Uint8Array(total);
    let at = 0;
    for (const chunk of this.written) {
      all.set(chunk, at);
      at += chunk.length;
    }
    return decodeServerFrames(all);
  }
}

/** A session over a {@link MemoryStream} on a {@link FakeClock}, started as an adapter would. */
export interface MemoryConnection<T> {
  readonly stream: MemoryStream;
  readonly clock: FakeClock;
  readonly context: HandlerContext<T>;
  readonly session: Session<T>;
  /** Lets deferred writes and promise callbacks run. */
  settled(): Promise<void>;
}

/** Builds a handler context on a fake clock, as `handshake()` does for a transport. */
export function memoryContext<T>(
  callbacks: Callbacks<T>,
  options: Options<T> = {},
  clock = new FakeClock(),
  events?: EventSink,
): HandlerContext<T> {
  return createContext<T, Runtime>(
    callbacks,
    resolveOptions(options),
    clock,
    (data) => data,
    options.broker,
    events,
  );
}

/** Opens one connection on `context` (or a new one), over memory. */
export function connect<T>(
  callbacks: Callbacks<T>,
  options: Options<T> = {},
  context: HandlerContext<T> = memoryContext(callbacks, options),
  settings: Partial<LinkSettings> = {},
): MemoryConnection<T> {
  const stream = new MemoryStream();
  const link = new ByteLink(stream, {
    maxPayload: context.options.maxPayload,
    maxFragments: context.options.maxFragments,
    fragmentSize: context.options.fragmentSize,
    slabs: new SlabPool(),
    clock: context.clock,
    compression: undefined,
    extensions: "",
    ...settings,
  });
  const session = new Session<T>(link, context, "");
  session.start({ request: undefined, url: new URL("http://localhost/") });
  return {
    stream,
    clock: context.clock as FakeClock,
    context,
    session,
    settled: async () => {
      for (let i = 0; i < 10; i++) await Promise.resolve();
    },
  };
}
