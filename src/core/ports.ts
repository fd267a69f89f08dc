/**
 * What the runtime-agnostic core needs from the world, declared here and implemented below it
 * (DESIGN.md §2): a {@link Clock} for every timer, and a {@link Link} per connection, which
 * carries messages in both directions. A transport where undercurrent frames the bytes itself
 * (an HTTP/1.1 upgrade on a socket, an HTTP/2 stream) implements only {@link ByteStream}: the
 * wire layer (`src/wire/`) turns a byte stream and the protocol core into a `Link`. A runtime
 * that frames messages itself may implement `Link` directly.
 *
 * Nothing here names a runtime type: bytes are `Uint8Array`, timers are opaque handles.
 * @module
 */

import type { ReadyState } from "../protocol/ready-state.js";
import type { SharedDeflate } from "../pubsub/broker.js";
import type { UndercurrentError } from "../common/errors.js";

/** An opaque timer handle of a {@link Clock}. */
export interface Timer {
  /** Lets the process exit while only this timer is pending, where the runtime supports it. */
  unref?(): void;
}

/**
 * Every timer of the core runs on a clock: the runtime's own in production (`setTimeout`,
 * `setInterval`, and a way to run work after the current task), a fake one in tests. Delays
 * are integers from 1 to 2³¹−1 ms; "never" sets no timer at all (see `common/validate.ts`).
 */
export interface Clock {
  setTimeout(callback: () => void, ms: number): Timer;
  clearTimeout(timer: Timer): void;
  setInterval(callback: () => void, ms: number): Timer;
  clearInterval(timer: Timer): void;
  /** Runs `callback(arg)` once the current task is done, before any I/O (Node: `process.nextTick`). */
  defer<A>(callback: (arg: A) => void, arg: A): void;
  /**
   * Optional: the time in ms, monotonic where the runtime can (Node: `performance.now()`), for
   * the durations events report. Without it, `Date.now()`.
   */
  now?(): number;
}

/** Told when bytes (or a send) have been handed to the operating system, or failed. */
export type Done = (error?: Error | null) => void;

/**
 * A byte transport that undercurrent frames itself: what a socket after an HTTP/1.1 upgrade, or
 * an HTTP/2 stream after an extended CONNECT, must offer. Events go to the {@link ByteSink}
 * given to {@link ByteStream.start}.
 */
export interface ByteStream {
  /** Writes a batch of chunks in order, as one write where it can; `done` once all are written. */
  write(chunks: readonly Uint8Array[], done?: Done): void;
  /** Optional: gathers the writes until {@link uncork} into as few as the transport can. */
  cork?(): void;
  uncork?(): void;
  /** Ends our half once everything written so far is out (TCP FIN, END_STREAM). */
  end(): void;
  /** Cuts the transport now (TCP reset or destroy, RST_STREAM). */
  abort(): void;
  /** Stops delivering input until {@link resume}: the peer is throttled. */
  pause(): void;
  resume(): void;
  /** Bytes written and not yet handed to the operating system. */
  readonly bufferedAmount: number;
  /** Whether the transport's buffer is over its high-water mark (a `drain` will follow). */
  readonly needsDrain: boolean;
  /** Whether the transport is gone. */
  readonly destroyed: boolean;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** Starts delivering events to `sink`. */
  start(sink: ByteSink): void;
}

/** What a {@link ByteStream} reports. */
export interface ByteSink {
  /** Bytes from the peer. */
  data(chunk: Uint8Array): void;
  /** The peer ended its half. */
  end(): void;
  /** The transport is gone, whoever ended it. Called once. */
  closed(): void;
  /** The write buffer fell below its high-water mark. */
  drain(): void;
}

/** What a {@link Link} reports to the session that owns it. */
export interface LinkEvents {
  /** Input arrived (whatever it was): the peer is alive. */
  input(): void;
  /** A complete text message. */
  text(text: string): void;
  /** A complete binary message. */
  binary(data: Uint8Array): void;
  /** The connection failed: the peer broke the protocol, or a bug of ours (`InternalError`). */
  failed(error: UndercurrentError): void;
  /** The outgoing buffer emptied after passing its high-water mark. */
  drained(): void;
  /**
   * The closing handshake is done (or input ended): the link ends the transport once its bytes
   * are out. The session gives the peer `closeTimeout` to close its side too.
   */
  ending(): void;
  /** The transport is gone; `closeCode` and `closeReason` are final. Called once. */
  closed(): void;
  /**
   * The source of a streamed send threw or rejected (`cause`, untouched): the link has closed
   * the connection with 1011, since the peer holds half a message.
   */
  sourceFailed(cause: unknown): void;
}

/**
 * A message's payload in pieces, for a send that goes out as fragments (`core/message-source.ts`
 * makes them). The link pulls the next piece only when the previous one is written and the
 * transport is under its high-water mark.
 */
export interface MessageSource {
  /**
   * The next piece of the payload (may be empty), or null when there is no more; a promise for
   * either while it is produced. A throw or a rejection fails the message.
   */
  pull(): Uint8Array | null | Promise<Uint8Array | null>;
  /** True once the piece just pulled is known to be the last one (its frame carries FIN). */
  readonly done: boolean;
  /** The send was abandoned (the connection closed first): let go of what the source holds. */
  cancel(): void;
}

/**
 * One connection's messages, both ways: what a session needs from a transport. Sends return
 * false (and send nothing) once the connection is no longer open; their completion is asked
 * for with {@link Link.written} or {@link Link.whenWritten}, which cover everything sent
 * before.
 */
export interface Link {
  /** The one state machine of the connection. */
  readonly readyState: ReadyState;
  /** How the connection ended (final once `closed()` was reported): see RFC 6455 §7.1.5. */
  readonly closeCode: number;
  readonly closeReason: string;
  /** Bytes accepted for sending and not yet handed to the operating system. */
  readonly bufferedAmount: number;
  /** Bytes received, and bytes handed to the transport, WebSocket framing included. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** The agreed `Sec-WebSocket-Extensions` answer, "" for none. */
  readonly extensions: string;
  /** Set when published messages may share compressed bytes with like connections. */
  readonly sharedDeflate: SharedDeflate | undefined;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** Starts reporting to `events`; with `hold`, input waits until {@link release}. */
  start(events: LinkEvents, hold: boolean): void;
  /** Ends the hold of `start`: input held meanwhile is delivered now, in order. */
  release(): void;
  /** Sends a text message; `compress` overrides the compression threshold. */
  sendText(text: string, compress?: boolean): boolean;
  sendBinary(data: Uint8Array, compress?: boolean): boolean;
  /**
   * Sends one message whose payload comes in pieces from `source`, as fragments, after every
   * message sent before it and before every message sent after it; pings and pongs may go
   * between its fragments, and a close frame that is not ours (a reply, a failure) stops it.
   */
  sendStream(opcode: number, source: MessageSource): boolean;
  /** Sends bytes that already are complete data frames (framed once for many connections). */
  sendPrepared(frames: Uint8Array): boolean;
  /** Sends a ping now (payload at most 125 bytes). */
  ping(data: Uint8Array): boolean;
  /** Sends a close frame (§7.1.2); false when one was sent already. */
  close(code: number, reason: string): boolean;
  /**
   * A promise for everything sent so far: resolves `"sent"` once written, rejects with
   * `ChannelClosedError` if the connection goes first. Shared by the sends of one batch; never
   * an unhandled rejection.
   */
  written(): Promise<"sent">;
  /** `done` is told once everything sent so far is written, or with an error if it never is. */
  whenWritten(done: Done): void;
  /** Cuts the transport now; `closed()` follows with 1006. */
  terminate(): void;
}
