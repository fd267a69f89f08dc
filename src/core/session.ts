/**
 * One connection's session, whatever transport carries it: the callbacks and their error
 * policy, `onClose` exactly once, the hold while `onConnect` runs, the close timer, the idle
 * sweep, the send policy (close / drop / buffer) with its synchronous outcome and its promise,
 * and the channel's topics. It talks to the transport through a {@link Link} only.
 * @module
 */

import { CloseCode } from "../protocol/close-codes.js";
import { ReadyState } from "../protocol/ready-state.js";
import {
  BackpressureError,
  ChannelClosedError,
  toCallbackError,
  type UndercurrentError,
} from "../common/errors.js";
import { followThenable, isThenable } from "../common/thenable.js";
import type { BinaryData, SendOutcome, SendStatus } from "../common/types.js";
import type { SharedDeflate } from "../pubsub/broker.js";
import type { Subscriber } from "../pubsub/topics.js";
import type { Callbacks } from "./callbacks.js";
import { Channel, type ChannelPort, type SendOptions } from "./channel.js";
import { observe, settle, track } from "./completion.js";
import type { HandlerContext } from "./context.js";
import type { Exchange, Runtime } from "./options.js";
import type { Link, LinkEvents, MessageSource, Timer } from "./ports.js";
import { startTimer, type IdleTarget } from "./timers.js";
import type { ClosedBy } from "./events.js";
import { backpressureActed, sessionClosed, sessionOpened, type ObservedSession } from "./session-events.js";

const noop = (): void => {};
const EMPTY = new Uint8Array(0);

type CallbackName = keyof Callbacks;

/** The session of one connection: a {@link ChannelPort} over a {@link Link}. */
export class Session<T, R extends Runtime = Runtime>
  implements ChannelPort<T>, LinkEvents, IdleTarget, Subscriber, ObservedSession<T, R>
{
  readonly protocol: string;
  readonly channel: Channel<T>;
  readonly context: HandlerContext<T, R>;
  /** @internal Sweeps since the last input (see IdleSweeper). */
  idleTicks = 0;
  private readonly link: Link;
  /** `onConnect` has not settled yet: input is held and `onClose` waits. */
  private connecting = false;
  private transportClosed = false;
  private reported = false;
  private closeTimer: Timer | undefined = undefined;
  private closedPromise: Promise<void> | null = null;
  private resolveClosed: (() => void) | null = null;
  /** Messages received and sent, for `handler.stats()` and `undercurrent:connection:close`. */
  messagesIn = 0;
  messagesOut = 0;
  /** When the session started, on the clock's `now()`. */
  private openedAt = 0;
  /** Who sent the first close frame, once one was sent by us (the peer's is told by its code). */
  private closedBy: ClosedBy | undefined = undefined;

  constructor(link: Link, context: HandlerContext<T, R>, protocol: string) {
    this.link = link;
    this.context = context;
    this.protocol = protocol;
    this.channel = new Channel<T>(this);
  }

  get readyState(): ReadyState {
    return this.link.readyState;
  }

  get bufferedAmount(): number {
    return this.link.bufferedAmount;
  }

  get extensions(): string {
    return this.link.extensions;
  }

  get sharedDeflate(): SharedDeflate | undefined {
    return this.link.sharedDeflate;
  }

  get remoteAddress(): string | undefined {
    return this.link.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.link.remotePort;
  }

  get bytesIn(): number {
    return this.link.bytesIn;
  }

  get bytesOut(): number {
    return this.link.bytesOut;
  }

  get peers(): ReadonlySet<Channel<T>> {
    return this.context.connections;
  }

  /**
   * The upgrade is complete: the channel is open. Calls `onConnect`; input (and `onClose`) wait
   * until what it returned settles.
   */
  start(exchange: Exchange<R>): void {
    const { callbacks } = this.context;
    this.context.connections.add(this.channel);
    this.context.idle.add(this);
    this.openedAt = sessionOpened(this, exchange);
    this.connecting = callbacks.onConnect !== undefined;
    this.link.start(this, this.connecting);
    if (!this.connecting) return;
    const settled = this.call(callbacks.onConnect, {
      callback: "onConnect",
      channel: this.channel,
      exchange,
    });
    if (settled === undefined) this.ready();
    else void settled.then(() => this.ready());
  }

  /** `onConnect` settled: deliver what was held, then `onClose` if the transport went meanwhile. */
  private ready(): void {
    this.connecting = false;
    this.link.release();
    if (this.transportClosed) this.report();
  }

  // LinkEvents: what the link reports.

  /** @internal */
  input(): void {
    this.idleTicks = 0;
  }

  /** @internal */
  text(text: string): void {
    this.messagesIn++;
    this.call(this.context.callbacks.onMessage, { callback: "onMessage", channel: this.channel, text });
  }

  /** @internal */
  binary(data: Uint8Array): void {
    this.messagesIn++;
    this.call(this.context.callbacks.onMessage, {
      callback: "onMessage",
      channel: this.channel,
      data: this.context.binary(data),
    });
  }

  /** @internal The connection failed; the link sends the close frame and ends the transport. */
  failed(error: UndercurrentError): void {
    this.closedBy ??= "server";
    this.error(error);
  }

  /** @internal The closing handshake is done: the peer has `closeTimeout` to close its side. */
  ending(): void {
    this.armCloseTimer();
  }

  /** @internal */
  drained(): void {
    if (!this.reported)
      this.call(this.context.callbacks.onDrain, { callback: "onDrain", channel: this.channel });
  }

  /** @internal The transport is gone. */
  closed(): void {
    if (this.transportClosed) return;
    this.transportClosed = true;
    if (this.closeTimer !== undefined) this.context.clock.clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
    this.context.connections.delete(this.channel);
    this.context.idle.delete(this);
    this.context.topics.unsubscribeAll(this);
    const { closeCode, closeReason } = this.link;
    sessionClosed(this, closeCode, closeReason, this.closedBy, this.openedAt);
    if (!this.connecting) this.report();
    // onClose waits for onConnect to settle (it may never); close() means "the transport is
    // gone" and resolves now, so handler.close() cannot hang on such a connection.
    else this.resolveClosed?.();
  }

  /** @internal A streamed send's source failed; the link closed the connection with 1011. */
  sourceFailed(cause: unknown): void {
    this.closedBy ??= "server";
    this.error(cause, "message source");
  }

  // IdleTarget.

  /** @internal Half the idle timeout passed without input: ask the peer for a sign of life. */
  idlePing(): void {
    if (this.readyState === ReadyState.Open) this.link.ping(EMPTY);
  }

  /** @internal The idle timeout passed without input: drop the connection (1006). */
  idleExpired(): void {
    this.link.terminate();
  }

  // Callbacks and the error policy.

  /**
   * Calls one of the application's callbacks with `this` bound to the callbacks object; a throw
   * or a rejection goes to `onError`. For a callback that returned a thenable (of any realm or
   * make: see common/thenable.ts), returns a native promise that settles (never rejects) after
   * it and its error handling; it stays pending as long as the thenable does.
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
  error(cause: unknown, callback: CallbackName | "send callback" | "message source" = "onError"): void {
    const error = toCallbackError(cause, callback);
    const errors = this.context.events.connectionError;
    if (errors.hasSubscribers) errors.publish({ channel: this.channel, error });
    const onError = this.context.callbacks.onError;
    const internal = (): void => void this.close(CloseCode.InternalError, "internal error").catch(noop);
    if (onError === undefined) return internal();
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

  /** @internal A send's callback threw or rejected: the error policy, as for any callback. */
  sendCallbackFailed(error: unknown): void {
    this.error(error, "send callback");
  }

  /** Calls `onClose` once, with the link's final code and reason, and settles `close()`. */
  private report(): void {
    if (this.reported) return;
    this.reported = true;
    this.resolveClosed?.();
    this.call(this.context.callbacks.onClose, {
      callback: "onClose",
      channel: this.channel,
      code: this.link.closeCode,
      reason: this.link.closeReason,
    });
  }

  // Sends: arguments were checked by Channel.

  sendText(text: string, options: SendOptions | undefined): Promise<SendStatus> {
    const refused = this.admit(text.length, options);
    if (refused !== undefined) return refused;
    this.link.sendText(text, options?.compress);
    this.messagesOut++;
    return this.completion(options);
  }

  sendBinary(data: Uint8Array, options: SendOptions | undefined): Promise<SendStatus> {
    const refused = this.admit(data.length, options);
    if (refused !== undefined) return refused;
    this.link.sendBinary(data, options?.compress);
    this.messagesOut++;
    return this.completion(options);
  }

  sendStream(opcode: number, source: MessageSource, options: SendOptions | undefined): Promise<SendStatus> {
    // The size is not known: the policy judges what is buffered already. The link then pulls
    // a piece only while the transport is under its high-water mark.
    const refused = this.admit(0, options);
    if (refused !== undefined) {
      source.cancel();
      return refused;
    }
    this.link.sendStream(opcode, source);
    this.messagesOut++;
    return this.completion(options);
  }

  ping(data: Uint8Array, options: SendOptions | undefined): Promise<SendStatus> {
    if (this.readyState !== ReadyState.Open || !this.link.ping(data)) return this.refuse(options);
    return this.completion(options);
  }

  /**
   * Sends bytes that already are complete frames (a publication framed once for many
   * subscribers), under the backpressure policy, and says at once what became of them.
   */
  sendPrepared(frames: Uint8Array): SendOutcome {
    if (this.readyState !== ReadyState.Open) return "dropped";
    const outcome = this.policy(frames.length);
    if (outcome === "sent") {
      this.link.sendPrepared(frames);
      this.messagesOut++;
    }
    return outcome;
  }

  /**
   * The send policy for `size` more bytes: `"sent"` when it fits (or the policy is `"buffer"`);
   * past `maxBackpressure`, `"dropped"` under `"drop"`, or `"backpressure"` under `"close"`,
   * which closes the connection with 1008.
   */
  private policy(size: number): SendOutcome {
    const { maxBackpressure, backpressure } = this.context.options;
    if (backpressure === "buffer") {
      // Past the limit, the buffer policy is only told (to whoever listens).
      if (this.context.events.backpressure.hasSubscribers) {
        const buffered = this.link.bufferedAmount;
        if (buffered + size > maxBackpressure) backpressureActed(this, "buffer", buffered, size);
      }
      return "sent";
    }
    const buffered = this.link.bufferedAmount;
    if (buffered + size <= maxBackpressure) return "sent";
    backpressureActed(this, backpressure, buffered, size);
    if (backpressure === "drop") return "dropped";
    void this.close(CloseCode.PolicyViolation, "backpressure limit exceeded").catch(noop);
    return "backpressure";
  }

  /** A message send that may not go: closed channel, or the policy said no. */
  private admit(size: number, options: SendOptions | undefined): Promise<SendStatus> | undefined {
    if (this.readyState !== ReadyState.Open) return this.refuse(options);
    const outcome = this.policy(size);
    if (outcome === "sent") return undefined;
    if (outcome === "dropped") return observe(Promise.resolve("dropped"), options, this);
    return settle(new BackpressureError(this.context.options.maxBackpressure), this, options);
  }

  /** The promise of a send just handed to the link. */
  private completion(options: SendOptions | undefined): Promise<SendStatus> {
    // Sends without a callback or timeout share one promise per batch: they complete together.
    if (options?.callback === undefined && options?.timeout === undefined) return this.link.written();
    return track(
      options,
      this.context.clock,
      this,
      (done) => this.link.whenWritten(done),
      closedBefore,
      "sent",
    );
  }

  private refuse(options: SendOptions | undefined): Promise<never> {
    return settle(new ChannelClosedError(), this, options);
  }

  close(code: number, reason: string): Promise<void> {
    this.closedPromise ??= this.reported
      ? Promise.resolve()
      : new Promise<void>((resolve) => (this.resolveClosed = resolve));
    if (this.link.close(code, reason)) {
      this.closedBy ??= "server";
      this.armCloseTimer();
    }
    return this.closedPromise;
  }

  terminate(): void {
    this.link.terminate();
  }

  /** The closing handshake started: the peer has `closeTimeout` to finish it, then it is cut. */
  private armCloseTimer(): void {
    if (this.closeTimer !== undefined || this.transportClosed) return;
    // Not unref'd: `await server.close()` must settle even when nothing else keeps the process up.
    // closeTimeout Infinity: no timer, the peer is waited for however long it takes.
    this.closeTimer = startTimer(this.context.clock, this.context.options.closeTimeout, () =>
      this.link.terminate(),
    );
  }

  // Topics.

  subscribe(topic: string): boolean {
    return this.context.topics.subscribe(this, topic);
  }

  unsubscribe(topic: string): boolean {
    return this.context.topics.unsubscribe(this, topic);
  }

  isSubscribed(topic: string): boolean {
    return this.context.topics.isSubscribed(this, topic);
  }

  get topics(): ReadonlySet<string> {
    return this.context.topics.topicsOf(this);
  }

  publish(topic: string, message: string | BinaryData): number {
    return this.context.topics.publish(topic, message, this);
  }
}

function closedBefore(error: Error): Error {
  return new ChannelClosedError("the connection closed before the send was written", error);
}
