/**
 * The callbacks of a handler and the single object argument each receives. Every callback is
 * optional and may return a promise (any thenable, of any realm); a throw or a rejection goes to
 * `onError`, whatever was thrown: a value that is not an `Error` arrives wrapped in a
 * `CallbackError` whose `cause` is the value.
 * @module
 */

import type { Channel } from "./channel.js";
import { InvalidArgumentError, describeValue } from "../common/errors.js";
import type { Exchange, Runtime } from "./options.js";

/** Argument of `onConnect`: the handshake succeeded and the channel is open. */
export interface ConnectEvent<T = unknown, R extends Runtime = Runtime> {
  readonly callback: "onConnect";
  readonly channel: Channel<T>;
  readonly exchange: Exchange<R>;
}

/**
 * Argument of `onMessage`: `text` for a text message, `data` for a binary one (a `Uint8Array`;
 * a `Buffer` on Node).
 */
export type MessageEvent<T = unknown, R extends Runtime = Runtime> =
  | {
      readonly callback: "onMessage";
      readonly channel: Channel<T>;
      readonly text: string;
      readonly data?: undefined;
    }
  | {
      readonly callback: "onMessage";
      readonly channel: Channel<T>;
      readonly data: R["binary"];
      readonly text?: undefined;
    };

/**
 * Argument of `onClose`. `code` is the peer's close code (1005 if its close frame had none),
 * the code we failed the connection with after a protocol error, or 1006 when the connection
 * ended without a close frame.
 */
export interface CloseEvent<T = unknown> {
  readonly callback: "onClose";
  readonly channel: Channel<T>;
  readonly code: number;
  readonly reason: string;
}

/**
 * Argument of `onError`: a callback threw or rejected (an `Error` as it was thrown, anything else
 * wrapped in a `CallbackError`), the peer broke the protocol (`ProtocolError`), or undercurrent
 * failed the connection on a bug of its own (`InternalError`, 1011).
 */
export interface ErrorEvent<T = unknown> {
  readonly callback: "onError";
  readonly channel: Channel<T>;
  readonly error: Error;
}

/** Argument of `onDrain`: the channel's outgoing buffer emptied after it had filled up. */
export interface DrainEvent<T = unknown> {
  readonly callback: "onDrain";
  readonly channel: Channel<T>;
}

/**
 * The callbacks of a WebSocket handler, as a plain object or a class instance (methods are
 * called with `this` bound to it). `T` is the type of `channel.data`; `R` is what the runtime's
 * entry point narrows (on Node: `exchange.request` is an `IncomingMessage`, `data` a `Buffer`).
 *
 * @example
 * ```ts
 * const callbacks: Callbacks<{ name: string }> = {
 *   onConnect({ channel }) { channel.data = { name: "guest" }; },
 *   onMessage({ channel, text }) { if (text) void channel.sendText(`${channel.data?.name}: ${text}`); },
 * };
 * ```
 */
export interface Callbacks<T = unknown, R extends Runtime = Runtime> {
  /**
   * The handshake succeeded. Frames that arrive before a returned promise (or thenable) settles
   * are held, however long that takes; `onClose` comes after it settles too. A thenable that
   * never calls back holds the connection's input until the connection ends (`channel.close()`
   * and `handler.close()` still resolve when TCP is gone, after `closeTimeout` at most).
   */
  onConnect?(event: ConnectEvent<T, R>): void | Promise<void>;
  /** A complete message arrived. */
  onMessage?(event: MessageEvent<T, R>): void | Promise<void>;
  /** The connection closed, whatever ended it; called exactly once per connection. */
  onClose?(event: CloseEvent<T>): void | Promise<void>;
  /** Something went wrong. Without this callback the connection is closed with 1011. */
  onError?(event: ErrorEvent<T>): void | Promise<void>;
  /**
   * The outgoing buffer emptied after it had passed its high-water mark (while it was over it,
   * the server stopped reading from this peer): a good moment to send more.
   */
  onDrain?(event: DrainEvent<T>): void | Promise<void>;
}

const CALLBACK_NAMES = ["onConnect", "onMessage", "onClose", "onError", "onDrain"] as const;

/**
 * Checks a callbacks object when the handler is built: an object (a plain one or a class
 * instance) whose callbacks, where present, are functions. A bad one throws
 * `InvalidArgumentError` there, rather than failing on the first connection.
 */
export function checkCallbacks<T, R extends Runtime>(
  callbacks: Callbacks<T, R> | undefined,
): asserts callbacks is Callbacks<T, R> {
  if (callbacks === null || typeof callbacks !== "object") {
    throw new InvalidArgumentError("handshake() needs a callbacks object");
  }
  for (const name of CALLBACK_NAMES) {
    const callback = (callbacks as Record<string, unknown>)[name];
    if (callback !== undefined && typeof callback !== "function") {
      throw new InvalidArgumentError(`${name} is a function, not ${describeValue(callback)}`);
    }
  }
}
