/**
 * Every error class undercurrent creates; each carries a stable `code`, listed with its meaning
 * in `ERROR_CODES` (`src/error-codes.ts`). Peer faults ({@link ProtocolError}) are kept apart
 * from caller misuse ({@link InvalidArgumentError}) and from the state of a connection
 * ({@link ChannelClosedError}, {@link SendTimeoutError}, {@link BackpressureError}).
 * @module
 */

export {
  UndercurrentError,
  ProtocolError,
  type ProtocolErrorCode,
  type ProtocolErrorCloseCode,
} from "./protocol/errors.js";
import { UndercurrentError } from "./protocol/errors.js";

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
