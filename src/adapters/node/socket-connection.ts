/**
 * Drives a {@link ProtocolConnection} over a `net.Socket`: reads go in, events become callbacks,
 * outgoing frames go through the {@link Outbox} (the replies to one read are written together),
 * and the TCP connection is closed when the protocol says so. Socket listeners are module-level
 * functions, so a connection costs no closures.
 * @module
 */

import type { Socket } from "node:net";
import { ProtocolConnection } from "../../protocol/connection.js";
import { CloseCode } from "../../protocol/close-codes.js";
import type { DeflateAgreement } from "../../protocol/permessage-deflate.js";
import type { CompressedEvent } from "../../protocol/events.js";
import { Channel, ReadyState, type SendOptions, type SendStatus } from "../../core/channel.js";
import type { Exchange, ResolvedOptions } from "../../core/options.js";
import { ChannelClosedError, InternalError, toCallbackError } from "../../common/errors.js";
import { followThenable, isThenable } from "../../common/thenable.js";
import type { Callbacks } from "../../core/callbacks.js";
import { startTimer, type IdleTarget } from "../../core/timers.js";
import { connectionZlib, type MessageInflater } from "./zlib.js";
import { Outbox, settle } from "../../wire/outbox.js";
import type { SharedDeflate } from "../../pubsub/broker.js";
import type { HandlerContext } from "../../core/context.js";

const kConnection = Symbol("undercurrent.connection");
type OwnedSocket = Socket & { [kConnection]?: SocketConnection<unknown> };

const noop = (): void => {};

type CallbackName = keyof Callbacks;

/** One upgraded socket and its protocol state. */
export class SocketConnection<T> implements IdleTarget {
  readonly socket: Socket;
  readonly protocol: string;
  readonly channel: Channel<T>;
  readonly context: HandlerContext<T>;
  readyState: ReadyState = ReadyState.Open;
  /** @internal Sweeps since the last input (see IdleSweeper). */
  idleTicks = 0;

  /** The permessage-deflate agreement ("" extensions when none). */
  readonly extensions: string;
  /** Set when published messages may be compressed once for this and like connections. */
  readonly sharedDeflate: SharedDeflate | undefined;
  private readonly core: ProtocolConnection;
  private readonly outbox: Outbox;
  private readonly inflater: MessageInflater | undefined;
  /** Input held while `onConnect` runs; null once it has settled. */
  private held: Buffer[] | null = [];
  private socketClosed = false;
  private reported = false;
  private closeCode: number = CloseCode.AbnormalClosure;
  private closeReason = "";
  private closeTimer: NodeJS.Timeout | null = null;
  private closedPromise: Promise<void> | null = null;
  private resolveClosed: (() => void) | null = null;
  /** Reading is paused because our outgoing buffer is over its high-water mark. */
  private throttled = false;
  /** Whether the socket is currently paused (by us). */
  private readingPaused = false;

  constructor(socket: Socket, context: HandlerContext<T>, protocol: string, deflate?: DeflateAgreement) {
    this.socket = socket;
    this.context = context;
    this.protocol = protocol;
    const { options } = context;
    this.core = new ProtocolConnection({
      maxPayload: options.maxPayload,
      maxFragments: options.maxFragments,
      compression: deflate !== undefined,
      pool: context.slabs,
    });
    const zlib =
      deflate === undefined ? undefined : connectionZlib(deflate, options.compression!, context.zlib!);
    this.extensions = deflate?.response ?? "";
    this.sharedDeflate = zlib?.shared;
    this.inflater = zlib?.inflater;
    this.outbox = new Outbox(socket, this.core, options as ResolvedOptions<unknown>, zlib?.send, this);
    this.channel = new Channel<T>(this);
  }

  /** Bytes accepted for sending and not yet handed to the operating system. */
  get bufferedAmount(): number {
    return this.outbox.bufferedAmount;
  }

  /** Every open channel of the handler. */
  get peers(): ReadonlySet<Channel<T>> {
    return this.context.connections;
  }

  /**
   * Takes over the socket after the 101 was written: `head` holds bytes that came with the
   * request. Calls `onConnect`, and feeds input only once it has settled.
   */
  start(head: Buffer, exchange: Exchange): void {
    const socket = this.socket as OwnedSocket;
    socket[kConnection] = this as unknown as SocketConnection<unknown>;
    socket.setNoDelay(true);
    socket.setTimeout(0);
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("close", onClose);
    socket.on("drain", onDrain);
    socket.on("error", noop);
    if (head.length > 0) this.held!.push(head);
    this.context.connections.add(this.channel);
    this.context.idle.add(this);
    if (this.context.callbacks.onConnect === undefined) return this.ready();
    this.updateReading();
    const settled = this.call(this.context.callbacks.onConnect, {
      callback: "onConnect",
      channel: this.channel,
      exchange,
    });
    if (settled === undefined) this.ready();
    else void settled.then(() => this.ready());
  }

  /** `onConnect` settled: deliver what was held, then read on. */
  private ready(): void {
    const held = this.held!;
    this.held = null;
    for (const chunk of held) this.receive(chunk);
    if (this.socketClosed) this.report();
    else this.updateReading();
  }

  /** Reads while nothing holds input back: `onConnect`, a full outgoing buffer, an inflation. */
  private updateReading(): void {
    const pause = this.held !== null || this.throttled || this.core.awaitingInflation;
    if (pause === this.readingPaused || this.socketClosed) return;
    this.readingPaused = pause;
    if (pause) this.socket.pause();
    else this.socket.resume();
  }

  /** @internal Bytes from the socket. */
  receive(chunk: Buffer): void {
    if (this.held !== null) {
      this.held.push(chunk);
      return;
    }
    this.idleTicks = 0;
    this.core.receive(chunk);
    this.process();
  }

  /** Turns the protocol's events into callbacks and writes what it queued. */
  private process(): void {
    const socket = this.socket;
    this.outbox.hold();
    for (let event = this.core.nextEvent(); event !== undefined; event = this.core.nextEvent()) {
      switch (event.type) {
        case "text":
          this.call(this.context.callbacks.onMessage, {
            callback: "onMessage",
            channel: this.channel,
            text: event.text,
          });
          break;
        case "binary":
          this.call(this.context.callbacks.onMessage, {
            callback: "onMessage",
            channel: this.channel,
            data: toBuffer(event.data),
          });
          break;
        case "close":
          this.closeCode = event.code;
          this.closeReason = event.reason;
          this.readyState = ReadyState.Closing;
          break;
        case "fail":
          this.closeCode = event.error.closeCode;
          this.closeReason = event.reason;
          this.readyState = ReadyState.Closing;
          this.error(event.error);
          break;
        case "compressed":
          this.inflate(event);
          break;
        default:
          break;
      }
    }
    this.outbox.release();
    if (this.core.closeExpected()) this.endTransport();
    // A peer that does not read what we send is not fed more input to answer (DESIGN §3).
    else if (socket.writableNeedDrain) this.throttled = true;
    this.updateReading();
  }

  /** Inflates a compressed message (input waits meanwhile), then carries on. */
  private inflate(event: CompressedEvent): void {
    const inflater = this.inflater!;
    this.context.zlib!.run((release) =>
      inflater.inflate(
        event.data,
        (chunk) => this.core.inflated(chunk),
        (error) => {
          release();
          if (this.socketClosed) return;
          // zlib's own errors mean invalid data (1007); an InternalError is ours (1011).
          if (error !== undefined)
            this.core.inflateFailed(error instanceof InternalError ? error : undefined);
          else this.core.inflatedEnd();
          this.process();
        },
      ),
    );
  }

  /** @internal Our outgoing buffer emptied: read again, and tell the application. */
  drained(): void {
    if (this.throttled) {
      this.throttled = false;
      this.updateReading();
    }
    if (!this.reported)
      this.call(this.context.callbacks.onDrain, { callback: "onDrain", channel: this.channel });
  }

  /** @internal Half the idle timeout passed without input: ask the peer for a sign of life. */
  idlePing(): void {
    if (this.readyState !== ReadyState.Open || !this.core.ping()) return;
    this.outbox.flush();
  }

  /** @internal The idle timeout passed without input: drop the connection (1006). */
  idleExpired(): void {
    this.socket.destroy();
  }

  /**
   * Calls one of the application's callbacks with `this` bound to the callbacks object; a throw
   * or a rejection goes to `onError`. For a callback that returned a thenable (of any realm or
   * make: see thenable.ts), returns a native promise that settles (never rejects) after it and
   * its error handling; it stays pending as long as the thenable does.
   */
  private call<E extends { readonly callback: CallbackName }>(
    callback: ((event: E) => void | Promise<void>) | undefined,
    event: E,
  ): Promise<void> | undefined {
    if (callback === undefined) return undefined;
    try {
      const result: unknown = callback.call(this.context.callbacks, event);
      if (isThenable(result)) {
        return followThenable(result).then(noop, (error: unknown) => this.error(error, event.callback));
      }
    } catch (error) {
      this.error(error, event.callback);
    }
    return undefined;
  }

  /**
   * A callback failed (or the connection was failed): `onError`, or close with 1011. `cause` may
   * be anything a callback threw; it is never stringified or inspected (see toCallbackError).
   */
  error(cause: unknown, callback: CallbackName | "send callback" = "onError"): void {
    const error = toCallbackError(cause, callback);
    const onError = this.context.callbacks.onError;
    if (onError === undefined) {
      void this.close(CloseCode.InternalError, "internal error").catch(noop);
      return;
    }
    const internal = (): void => void this.close(CloseCode.InternalError, "internal error").catch(noop);
    try {
      const result: unknown = onError.call(this.context.callbacks, {
        callback: "onError",
        channel: this.channel,
        error,
      });
      if (isThenable(result)) followThenable(result).then(undefined, internal);
    } catch {
      internal();
    }
  }

  /** @internal The peer half-closed TCP. */
  endOfInput(): void {
    if (!this.socketClosed) this.outbox.end();
  }

  /** @internal TCP is gone. */
  closed(): void {
    if (this.socketClosed) return;
    this.socketClosed = true;
    this.readyState = ReadyState.Closed;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    this.context.connections.delete(this.channel);
    this.context.idle.delete(this);
    this.context.topics.unsubscribeAll(this);
    this.outbox.abort();
    this.inflater?.release();
    if (this.held === null) this.report();
    // onClose waits for onConnect to settle (it may never); close() means "TCP is gone" and
    // resolves now, so handler.close() cannot hang on a connection whose onConnect never settles.
    else this.resolveClosed?.();
  }

  /** Calls `onClose` once and settles `close()`. */
  private report(): void {
    if (this.reported) return;
    this.reported = true;
    this.resolveClosed?.();
    this.call(this.context.callbacks.onClose, {
      callback: "onClose",
      channel: this.channel,
      code: this.closeCode,
      reason: this.closeReason,
    });
  }

  // The sends: arguments were checked by Channel.

  sendText(text: string, options?: SendOptions): Promise<SendStatus> {
    if (this.readyState !== ReadyState.Open) return this.refuse(options);
    return this.outbox.text(text, options);
  }

  sendBinary(bytes: Uint8Array, options?: SendOptions): Promise<SendStatus> {
    if (this.readyState !== ReadyState.Open) return this.refuse(options);
    return this.outbox.binary(bytes, options);
  }

  /**
   * Sends bytes that already form complete, unmasked data frames (framed once by the caller for
   * many connections). The same bytes may be passed to many connections.
   */
  sendPrepared(frames: Uint8Array, options?: SendOptions): Promise<SendStatus> {
    if (this.readyState !== ReadyState.Open) return this.refuse(options);
    return this.outbox.prepared(frames, options);
  }

  ping(bytes: Uint8Array, options?: SendOptions): Promise<SendStatus> {
    if (this.readyState !== ReadyState.Open || !this.core.ping(bytes)) return this.refuse(options);
    return this.outbox.control(options);
  }

  private refuse(options: SendOptions | undefined): Promise<never> {
    return settle(new ChannelClosedError(), this, options);
  }

  /** @internal A send's callback threw or rejected: the error policy, as for any callback. */
  sendCallbackFailed(error: unknown): void {
    this.error(error, "send callback");
  }

  /** @internal The `"close"` backpressure policy: a send did not fit. */
  overflowed(): void {
    void this.close(CloseCode.PolicyViolation, "backpressure limit exceeded").catch(noop);
  }

  close(code: number, reason: string): Promise<void> {
    this.closedPromise ??= this.reported
      ? Promise.resolve()
      : new Promise<void>((resolve) => (this.resolveClosed = resolve));
    if (this.core.close(code, reason)) {
      if (this.readyState === ReadyState.Open) this.readyState = ReadyState.Closing;
      this.outbox.flush();
      this.armCloseTimer();
    }
    return this.closedPromise;
  }

  terminate(): void {
    this.socket.destroy();
  }

  /** Both close frames have crossed: close TCP once our bytes are out (§7.1.1). */
  private endTransport(): void {
    if (this.socketClosed) return;
    // After any message still being compressed, and the close frame queued behind it.
    this.outbox.end();
    this.armCloseTimer();
  }

  private armCloseTimer(): void {
    if (this.closeTimer !== null || this.socketClosed) return;
    // Not unref'd: `await server.close()` must settle even when nothing else keeps the process up.
    // closeTimeout Infinity: no timer, the peer is waited for however long it takes.
    this.closeTimer = startTimer(this.context.options.closeTimeout, closeTimedOut, this) ?? null;
  }
}

/** The peer did not finish the closing handshake in time. */
function closeTimedOut(connection: SocketConnection<unknown>): void {
  connection.terminate();
}

function onData(this: OwnedSocket, chunk: Buffer): void {
  this[kConnection]!.receive(chunk);
}

function onEnd(this: OwnedSocket): void {
  this[kConnection]!.endOfInput();
}

function onClose(this: OwnedSocket): void {
  this[kConnection]!.closed();
}

function onDrain(this: OwnedSocket): void {
  this[kConnection]!.drained();
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
