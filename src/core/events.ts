/**
 * Observability events, for every transport: what happened to upgrades and connections, told
 * as named messages. The core decides what to tell and when; a runtime decides where it goes
 * through the {@link EventSink} port (Node: `node:diagnostics_channel`), and the `onEvent`
 * option hears the same messages on any runtime. A message is built only when its channel
 * has a listener ({@link EventChannel.hasSubscribers}): with none, an event costs one property
 * read.
 * @module
 */

import type { UndercurrentError } from "../common/errors.js";
import type { BrokerStateMessage } from "../pubsub/broker.js";
import type { Channel } from "./channel.js";
import type { Exchange, Runtime } from "./exchange.js";

/**
 * Which check refused an upgrade: `handshake` (the request is not a valid WebSocket upgrade:
 * 400, 426), `path` (no endpoint at this path: 404), `shutdown` (503), `maxConnections` (503),
 * `origins` (403), `protocols` (400), `extensions` (400), `onUpgrade` (the application's
 * refusal), `timeout` (an `onUpgrade` that outlived `handshakeTimeout`: 503), `error` (a
 * callback threw or answered something invalid: 500).
 */
export type RefusalCheck =
  | "handshake"
  | "path"
  | "shutdown"
  | "maxConnections"
  | "origins"
  | "protocols"
  | "extensions"
  | "onUpgrade"
  | "timeout"
  | "error";

/** `undercurrent:upgrade:accepted`: an upgrade was admitted; the 101 follows. */
export interface UpgradeAcceptedMessage<R extends Runtime = Runtime> {
  readonly exchange: Exchange<R>;
  /** The subprotocol selected, "" for none. */
  readonly protocol: string;
  /** The `Sec-WebSocket-Extensions` answer, "" for none. */
  readonly extensions: string;
}

/** `undercurrent:upgrade:refused`: an upgrade request was answered with an HTTP error. */
export interface UpgradeRefusedMessage<R extends Runtime = Runtime> {
  readonly exchange: Exchange<R>;
  /** The HTTP status sent. */
  readonly status: number;
  /** The body (or a one-line reason) sent with it. */
  readonly reason: string;
  readonly check: RefusalCheck;
}

/** `undercurrent:connection:open`: the 101 was sent; `onConnect` is about to run. */
export interface ConnectionOpenMessage<T = unknown, R extends Runtime = Runtime> {
  readonly channel: Channel<T>;
  readonly exchange: Exchange<R>;
  readonly protocol: string;
  readonly extensions: string;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
}

/**
 * Who closed a connection first: `server` sent the first close frame (`channel.close`,
 * `handler.close`, the backpressure policy, or a protocol failure); `client` did; `transport`:
 * neither, the transport ended without one (a reset, a peer that just went away, or the idle
 * timeout cutting a silent peer).
 */
export type ClosedBy = "server" | "client" | "transport";

/** `undercurrent:connection:close`: the transport is gone (once per connection). */
export interface ConnectionCloseMessage<T = unknown> {
  readonly channel: Channel<T>;
  /** As `onClose` reports it (RFC 6455 §7.1.5: 1005 for none, 1006 for no close frame). */
  readonly code: number;
  readonly reason: string;
  readonly closedBy: ClosedBy;
  /** Milliseconds from the 101 to the end of the transport. */
  readonly duration: number;
  /** Messages received and sent (published ones included). */
  readonly messagesIn: number;
  readonly messagesOut: number;
  /** Bytes received and written on the wire, WebSocket framing included. */
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** `undercurrent:connection:error`: a callback failed, or the connection was failed. */
export interface ConnectionErrorMessage<T = unknown> {
  readonly channel: Channel<T>;
  /** What `onError` receives: a `ProtocolError`, a `CallbackError`, or what a callback threw. */
  readonly error: Error | UndercurrentError;
}

/**
 * `undercurrent:backpressure`: a send found the connection's buffer past `maxBackpressure`,
 * and the policy acted: `close` (1008), `drop` (the message was not sent) or `buffer` (it was
 * queued anyway).
 */
export interface BackpressureMessage<T = unknown> {
  readonly channel: Channel<T>;
  readonly action: "close" | "drop" | "buffer";
  /** Bytes waiting to be written before this send. */
  readonly bufferedAmount: number;
  /** Bytes of the send. */
  readonly size: number;
  /** The handler's `maxBackpressure`. */
  readonly limit: number;
}

/** Every channel's name and its message. */
export interface EventMessages<T = unknown, R extends Runtime = Runtime> {
  "undercurrent:upgrade:accepted": UpgradeAcceptedMessage<R>;
  "undercurrent:upgrade:refused": UpgradeRefusedMessage<R>;
  "undercurrent:connection:open": ConnectionOpenMessage<T, R>;
  "undercurrent:connection:close": ConnectionCloseMessage<T>;
  "undercurrent:connection:error": ConnectionErrorMessage<T>;
  "undercurrent:backpressure": BackpressureMessage<T>;
  "undercurrent:broker:state": BrokerStateMessage;
}

/** The name of an observability channel. */
export type EventName = keyof EventMessages;

/** The channels a handler publishes on (`undercurrent:broker:state` is a broker's). */
export const HANDLER_EVENTS = Object.freeze([
  "undercurrent:upgrade:accepted",
  "undercurrent:upgrade:refused",
  "undercurrent:connection:open",
  "undercurrent:connection:close",
  "undercurrent:connection:error",
  "undercurrent:backpressure",
] as const);

/** The name of a channel a handler publishes on. */
export type HandlerEventName = (typeof HANDLER_EVENTS)[number];

/**
 * What `onEvent` receives: a channel's name and its message, told apart by `name`.
 *
 * @example
 * ```ts
 * handshake(callbacks, {
 *   onEvent(event) {
 *     if (event.name === "undercurrent:connection:close") log.info(event.message.code, event.message.duration);
 *   },
 * });
 * ```
 */
export type UndercurrentEvent<T = unknown, R extends Runtime = Runtime> = {
  readonly [N in HandlerEventName]: { readonly name: N; readonly message: EventMessages<T, R>[N] };
}[HandlerEventName];

/**
 * The `onEvent` option: hears every event of the handler, on any runtime, whether or not a
 * `diagnostics_channel` subscriber does. A throw is written with `console.error` and goes no
 * further. (`undercurrent:broker:state` is a broker's, not a handler's: see `RedisBroker`.)
 */
export type EventListener<T = unknown, R extends Runtime = Runtime> = (
  event: UndercurrentEvent<T, R>,
) => void;

/**
 * One named channel, as a runtime offers it: Node's `diagnostics_channel` `Channel` has this
 * shape. `hasSubscribers` is read before a message is built, so it must be cheap.
 */
export interface EventChannel<M> {
  readonly hasSubscribers: boolean;
  publish(message: M): void;
}

/** The port a runtime implements to carry events (Node: `diagnostics_channel.channel`). */
export interface EventSink {
  channel(name: EventName): EventChannel<unknown>;
}

/** A handler's channels, looked up once. */
export interface HandlerEvents<T, R extends Runtime> {
  readonly upgradeAccepted: EventChannel<UpgradeAcceptedMessage<R>>;
  readonly upgradeRefused: EventChannel<UpgradeRefusedMessage<R>>;
  readonly connectionOpen: EventChannel<ConnectionOpenMessage<T, R>>;
  readonly connectionClose: EventChannel<ConnectionCloseMessage<T>>;
  readonly connectionError: EventChannel<ConnectionErrorMessage<T>>;
  readonly backpressure: EventChannel<BackpressureMessage<T>>;
}

const SILENT: EventChannel<unknown> = Object.freeze({ hasSubscribers: false, publish: () => {} });

/** A runtime channel and `onEvent` together: `onEvent` always listens. */
class ListenedChannel<M> implements EventChannel<M> {
  readonly hasSubscribers = true;
  readonly #name: EventName;
  readonly #base: EventChannel<unknown>;
  readonly #listener: (event: { name: EventName; message: M }) => void;

  constructor(
    name: EventName,
    base: EventChannel<unknown>,
    listener: (event: { name: EventName; message: M }) => void,
  ) {
    this.#name = name;
    this.#base = base;
    this.#listener = listener;
  }

  publish(message: M): void {
    if (this.#base.hasSubscribers) this.#base.publish(message);
    try {
      this.#listener({ name: this.#name, message });
    } catch (error) {
      // A listener's bug must not break the connection that is being reported on.
      try {
        console.error("undercurrent: onEvent threw:", error);
      } catch {
        // stderr itself failed: nothing left to tell.
      }
    }
  }
}

/**
 * A handler's channels: the runtime's (from `sink`, when it has one) and `onEvent` (when set);
 * channels nobody can listen to are silent.
 */
export function handlerEvents<T, R extends Runtime>(
  sink: EventSink | undefined,
  onEvent: EventListener<T, R> | undefined,
): HandlerEvents<T, R> {
  const make = <M>(name: EventName): EventChannel<M> => {
    const base = sink?.channel(name) ?? SILENT;
    if (onEvent === undefined) return base;
    return new ListenedChannel<M>(name, base, onEvent as (event: { name: EventName; message: M }) => void);
  };
  return {
    upgradeAccepted: make("undercurrent:upgrade:accepted"),
    upgradeRefused: make("undercurrent:upgrade:refused"),
    connectionOpen: make("undercurrent:connection:open"),
    connectionClose: make("undercurrent:connection:close"),
    connectionError: make("undercurrent:connection:error"),
    backpressure: make("undercurrent:backpressure"),
  };
}
