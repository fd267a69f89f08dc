/**
 * Every error undercurrent creates, with the stable `code` each carries. Peer faults
 * ({@link ProtocolError}, {@link HandshakeError}) are kept apart from caller misuse
 * ({@link InvalidArgumentError}), from the state of a connection ({@link ChannelClosedError},
 * {@link SendTimeoutError}), from values a callback threw ({@link CallbackError}) and from our
 * own bugs ({@link InternalError}).
 *
 * | class | code | when |
 * | --- | --- | --- |
 * | ProtocolError | ERR_UNMASKED_FRAME, ERR_UNEXPECTED_RSV, ERR_RESERVED_OPCODE, ERR_CONTROL_FRAME_TOO_LONG, ERR_FRAGMENTED_CONTROL_FRAME, ERR_UNEXPECTED_CONTINUATION, ERR_EXPECTED_CONTINUATION, ERR_INVALID_LENGTH, ERR_INVALID_CLOSE_PAYLOAD, ERR_INVALID_CLOSE_CODE (1002); ERR_INVALID_UTF8 (1007); ERR_MESSAGE_TOO_BIG, ERR_TOO_MANY_FRAGMENTS (1009) | the peer broke RFC 6455 or a limit |
 * | HandshakeError | ERR_HANDSHAKE | an upgrade request was refused (`status`) |
 * | ChannelClosedError | ERR_CHANNEL_CLOSED | a send on a channel that is closing or closed |
 * | SendTimeoutError | ERR_SEND_TIMEOUT | a send was not flushed within its `timeout` |
 * | BackpressureError | ERR_BACKPRESSURE | a send past `maxBackpressure` under the `"close"` policy |
 * | InvalidArgumentError | ERR_INVALID_ARGUMENT | a bad option or argument (caller misuse) |
 * | CallbackError | ERR_CALLBACK | a callback threw or rejected with a value that is not an Error (`cause`) |
 * | InternalError | ERR_INTERNAL | a bug inside undercurrent; the connection is failed with 1011, no reason sent (`cause`) |
 * @module
 */

export {
  UndercurrentError,
  ProtocolError,
  InternalError,
  type ProtocolErrorCode,
} from "./protocol/errors.js";
import { UndercurrentError } from "./protocol/errors.js";

/** An upgrade request was refused before the 101; `status` is the HTTP status sent. */
export class HandshakeError extends UndercurrentError {
  /** The HTTP status of the refusal. */
  readonly status: number;

  constructor(status: number, message: string) {
    super("ERR_HANDSHAKE", message);
    this.status = status;
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
