/**
 * The error table: every code an undercurrent error carries, with the class that carries it,
 * the close code the connection ends with where the error ends one, and when it happens. The
 * README's Errors table is checked against it (`test/unit/errors.test.ts`), as are the sources
 * (every code is constructed somewhere) and the exports (every error class has its rows).
 *
 * A new error is one row here (a {@link ProtocolError} code goes in `PROTOCOL_ERROR_CODES`,
 * which the protocol core can import) and one line in the README.
 * @module
 */

import { CloseCode, type KnownCloseCode } from "../protocol/close-codes.js";
import { PROTOCOL_ERROR_CODES, type ProtocolErrorCode } from "../protocol/errors.js";

/** One row of {@link ERROR_CODES}. */
export interface ErrorCodeInfo {
  /** The class whose instances carry the code; every one extends `UndercurrentError`. */
  readonly class: string;
  /** The close code the connection is closed or failed with, where the error ends one. */
  readonly closeCode?: KnownCloseCode;
  /** When the error happens, in one line. */
  readonly meaning: string;
}

type ProtocolRows = {
  readonly [C in ProtocolErrorCode]: { readonly class: "ProtocolError" } & (typeof PROTOCOL_ERROR_CODES)[C];
};

const protocolRows = Object.fromEntries(
  Object.entries(PROTOCOL_ERROR_CODES).map(([code, row]) => [code, { class: "ProtocolError", ...row }]),
) as ProtocolRows;

/**
 * Every error code, in the order the README lists them.
 *
 * @example
 * ```ts
 * onError({ error }) {
 *   if (error instanceof UndercurrentError) log.warn(error.code, ERROR_CODES[error.code as ErrorCode]?.meaning);
 * }
 * ```
 */
export const ERROR_CODES = Object.freeze({
  ...protocolRows,
  ERR_INVALID_UPGRADE_RESPONSE: {
    class: "UpgradeResponseError",
    meaning:
      "the application's upgrade decision or refusal could not be written as HTTP: the client got a plain 500, the error went to `onUpgradeError`",
  },
  ERR_UPGRADE_CALLBACK: {
    class: "UpgradeCallbackError",
    meaning:
      "`onUpgrade`, the `origins` predicate or the `protocols` selector threw or rejected (`error.callback`): the client got a plain 500",
  },
  ERR_CHANNEL_CLOSED: {
    class: "ChannelClosedError",
    meaning:
      "a send or ping on a channel that is closing or closed, or that closed before the bytes were written",
  },
  ERR_SEND_TIMEOUT: {
    class: "SendTimeoutError",
    meaning: "a send not handed to the operating system within its `timeout` (`error.timeout`)",
  },
  ERR_BACKPRESSURE: {
    class: "BackpressureError",
    closeCode: CloseCode.PolicyViolation,
    meaning: 'a send past `maxBackpressure` under the `"close"` policy (`error.limit`)',
  },
  ERR_INVALID_ARGUMENT: {
    class: "InvalidArgumentError",
    meaning: "a bad option or argument (caller misuse)",
  },
  ERR_CALLBACK: {
    class: "CallbackError",
    meaning:
      "a callback threw or rejected with a value that is not an `Error` (`error.callback`, `cause`): `onError` gets this",
  },
  ERR_INTERNAL: {
    class: "InternalError",
    closeCode: CloseCode.InternalError,
    meaning:
      "a bug inside undercurrent: the connection is failed with 1011 and no reason on the wire, `onError` gets this (`cause`), other connections go on",
  },
  ERR_REDIS_BROKER: {
    class: "RedisBrokerError",
    meaning: "`undercurrent/redis`: Redis unreachable or lost, `ioredis` missing, `ready()` gave up",
  },
} as const satisfies Record<string, ErrorCodeInfo>);

/** Every code in {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;
