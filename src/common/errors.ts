/**
 * Every error class undercurrent creates; each carries a stable `code`, listed with its meaning
 * in `ERROR_CODES` (`src/common/error-codes.ts`). Peer faults ({@link ProtocolError}) are kept apart
 * from caller misuse ({@link InvalidArgumentError}) and from the state of a connection
 * ({@link ChannelClosedError}, {@link SendTimeoutError}, {@link BackpressureError}), from values
 * a callback threw ({@link CallbackError}) and from our own bugs ({@link InternalError}).
 * @module
 */

export {
  UndercurrentError,
  ProtocolError,
  InternalError,
  type ProtocolErrorCode,
  type ProtocolErrorCloseCode,
} from "../protocol/errors.js";
import { UndercurrentError } from "../protocol/errors.js";

/**
 * What the application decided before the 101 cannot be written as HTTP: a decision value that
 * is none of the documented shapes, a refusal status outside 400–599, a header name that is not
 * an RFC 9110 token, a header value with characters a field value cannot hold (CR, LF, NUL…),
 * or a body that is not a string. The client got the library's own plain 500 instead, and the
 * error went to `onUpgradeError`. `cause` is Node's own validation error, where there is one.
 *
 * @example
 * ```ts
 * handshake(callbacks, {
 *   onUpgradeError({ error }) {
 *     if (error.code === "ERR_INVALID_UPGRADE_RESPONSE") log.error("bad onUpgrade answer", error);
 *   },
 * });
 * ```
 */
export class UpgradeResponseError extends UndercurrentError {
  constructor(message: string, cause?: unknown) {
    super("ERR_INVALID_UPGRADE_RESPONSE", message, cause === undefined ? undefined : { cause });
  }
}

/** Which application callback of the upgrade failed. */
export type UpgradeCallbackName = "onUpgrade" | "origins" | "protocols";

/**
 * `onUpgrade`, the `origins` predicate or the `protocols` selector threw or rejected: the client
 * got a plain 500 and this error went to `onUpgradeError`. `cause` is exactly what was thrown
 * (which may be any value, even one that cannot be turned into a string).
 *
 * @example
 * ```ts
 * handshake(callbacks, {
 *   onUpgradeError({ error, exchange }) {
 *     if (error instanceof UpgradeCallbackError) log.error(error.callback, exchange.url.pathname, error.cause);
 *   },
 * });
 * ```
 */
export class UpgradeCallbackError extends UndercurrentError {
  /** The callback that threw or rejected. */
  readonly callback: UpgradeCallbackName;

  constructor(callback: UpgradeCallbackName, cause: unknown) {
    super("ERR_UPGRADE_CALLBACK", `${callback} threw or rejected`, { cause });
    this.callback = callback;
  }
}

/** A send, ping or close on a channel that is already closing or closed. */
export class ChannelClosedError extends UndercurrentError {
  constructor(message = "the channel is closed", cause?: unknown) {
    super("ERR_CHANNEL_CLOSED", message, cause === undefined ? undefined : { cause });
  }
}

/** A send whose bytes were not flushed to the operating system within its `timeout`. */
export class SendTimeoutError extends UndercurrentError {
  /** The timeout that passed, in milliseconds. */
  readonly timeout: number;

  constructor(timeout: number) {
    super("ERR_SEND_TIMEOUT", `send not completed within ${timeout} ms`);
    this.timeout = timeout;
  }
}

/** The caller passed an invalid option or argument (a bug in the calling code). */
export class InvalidArgumentError extends UndercurrentError {
  constructor(message: string) {
    super("ERR_INVALID_ARGUMENT", message);
  }
}

/**
 * A send would have taken the connection's buffered bytes past `maxBackpressure` under the
 * `"close"` policy: the message was not sent and the connection is being closed with 1008.
 */
export class BackpressureError extends UndercurrentError {
  /** The limit that was reached, in bytes. */
  readonly limit: number;

  constructor(limit: number) {
    super("ERR_BACKPRESSURE", `more than ${limit} bytes waiting to be sent`);
    this.limit = limit;
  }
}

/**
 * A callback threw or rejected with a value that is not an `Error` (`null`, a string, a symbol,
 * `Object.create(null)`, a proxy, an error from another realm…): `onError` receives this instead,
 * with the value as `cause`, untouched. Building it never reads the value's properties, so no
 * getter or proxy trap of it runs.
 *
 * @example
 * ```ts
 * onError({ error }) {
 *   if (error instanceof CallbackError) log(`${error.callback} threw`, error.cause);
 * }
 * ```
 */
export class CallbackError extends UndercurrentError {
  /** The callback that threw or rejected: `"onConnect"`, `"onMessage"`, …. */
  readonly callback: string;

  constructor(callback: string, value: unknown) {
    super("ERR_CALLBACK", `${callback} threw or rejected with ${describeValue(value)}, not an Error`, {
      cause: value,
    });
    this.callback = callback;
  }
}

/**
 * @internal A short description of any value for a message, that never throws and never runs
 * user code: primitives are shown (strings quoted and cut to 60 characters), objects only by kind.
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
    case "number":
    case "bigint":
    case "boolean":
    case "undefined":
      // ToString of a primitive runs no user code (a symbol's description is its own data).
      return typeof value === "bigint" ? `${value}n` : String(value);
    case "symbol":
      return "a symbol";
    case "function":
      return "a function";
    default:
      return value === null ? "null" : "an object";
  }
}

/**
 * @internal The error to report for a value a callback threw or rejected with: the value itself
 * when it is an `Error` of this realm, else a {@link CallbackError} wrapping it. Never throws
 * (`instanceof` runs a proxy's `getPrototypeOf` trap, so it is guarded).
 */
export function toCallbackError(value: unknown, callback: string): Error {
  try {
    if (value instanceof Error) return value;
  } catch {
    // a proxy whose getPrototypeOf trap throws: not an Error
  }
  return new CallbackError(callback, value);
}
