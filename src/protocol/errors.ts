/**
 * Errors raised by the protocol core, and the protocol part of the error table: every
 * {@link ProtocolError} code with the close code the connection is failed with. The public
 * hierarchy lives in `src/common/errors.ts`, and the table of every code in `src/common/error-codes.ts`,
 * which takes these rows as they are.
 * @module
 */

import { CloseCode, type KnownCloseCode } from "./close-codes.js";

/** Base class of every error undercurrent creates. Match on `code`, which is stable. */
export class UndercurrentError extends Error {
  /** A stable, documented identifier such as `"ERR_INVALID_UTF8"` (see `ERROR_CODES`). */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/**
 * Every {@link ProtocolError} code: the close code the connection is failed with, and when. A
 * new rule of the core is one row here (and one line in the README's Errors table).
 */
export const PROTOCOL_ERROR_CODES = Object.freeze({
  ERR_UNMASKED_FRAME: { closeCode: CloseCode.ProtocolError, meaning: "a client frame was not masked" },
  ERR_UNEXPECTED_RSV: {
    closeCode: CloseCode.ProtocolError,
    meaning: "an RSV bit no agreed extension defines (RSV1 only on the first frame of a compressed message)",
  },
  ERR_RESERVED_OPCODE: { closeCode: CloseCode.ProtocolError, meaning: "a reserved opcode (3–7, 11–15)" },
  ERR_CONTROL_FRAME_TOO_LONG: {
    closeCode: CloseCode.ProtocolError,
    meaning: "a control frame with more than 125 bytes",
  },
  ERR_FRAGMENTED_CONTROL_FRAME: {
    closeCode: CloseCode.ProtocolError,
    meaning: "a control frame without FIN",
  },
  ERR_UNEXPECTED_CONTINUATION: {
    closeCode: CloseCode.ProtocolError,
    meaning: "a continuation frame with no message to continue",
  },
  ERR_EXPECTED_CONTINUATION: {
    closeCode: CloseCode.ProtocolError,
    meaning: "a new data frame inside a fragmented message",
  },
  ERR_INVALID_LENGTH: { closeCode: CloseCode.ProtocolError, meaning: "a 64-bit length with its top bit set" },
  ERR_INVALID_CLOSE_PAYLOAD: {
    closeCode: CloseCode.ProtocolError,
    meaning: "a close frame with a 1-byte payload",
  },
  ERR_INVALID_CLOSE_CODE: {
    closeCode: CloseCode.ProtocolError,
    meaning: "a close code outside 1000–1003, 1007–1014 and 3000–4999",
  },
  ERR_INVALID_UTF8: {
    closeCode: CloseCode.InvalidPayload,
    meaning: "text or a close reason that is not UTF-8",
  },
  ERR_INVALID_COMPRESSED_DATA: {
    closeCode: CloseCode.InvalidPayload,
    meaning: "a compressed message that does not inflate",
  },
  ERR_MESSAGE_TOO_BIG: {
    closeCode: CloseCode.MessageTooBig,
    meaning: "a message past `maxPayload` (counted after inflation)",
  },
  ERR_TOO_MANY_FRAGMENTS: {
    closeCode: CloseCode.MessageTooBig,
    meaning: "a message in more frames than `maxFragments`",
  },
} as const satisfies Record<string, { readonly closeCode: KnownCloseCode; readonly meaning: string }>);

/**
 * Something failed inside undercurrent itself (a bug of ours, never the peer's fault): the
 * connection is failed with 1011 and a close frame that carries no reason, since the details
 * may be sensitive (RFC 6455 §7.4.1: 1011 "indicates that a server is terminating the
 * connection because it encountered an unexpected condition"). The original error is `cause`.
 * Other connections are not affected.
 *
 * @example
 * ```ts
 * onError({ error }) {
 *   if (error instanceof InternalError) reportBug(error.cause); // please file an issue
 * }
 * ```
 */
export class InternalError extends UndercurrentError {
  /** The close code the connection is failed with: always 1011. */
  readonly closeCode = 1011;

  constructor(cause: unknown) {
    super("ERR_INTERNAL", "internal error", { cause });
  }
}

/** Every {@link ProtocolError} code. */
export type ProtocolErrorCode = keyof typeof PROTOCOL_ERROR_CODES;

/** The close codes a {@link ProtocolError} fails a connection with. */
export type ProtocolErrorCloseCode = (typeof PROTOCOL_ERROR_CODES)[ProtocolErrorCode]["closeCode"];

/**
 * The peer broke RFC 6455 (or sent more than the limits allow). The connection is failed with
 * {@link ProtocolError.closeCode}, which the code decides (see {@link PROTOCOL_ERROR_CODES}),
 * and the message becomes the close reason.
 */
export class ProtocolError extends UndercurrentError {
  declare readonly code: ProtocolErrorCode;
  /** The close code the connection is failed with: 1002, 1007 or 1009. */
  readonly closeCode: ProtocolErrorCloseCode;

  constructor(code: ProtocolErrorCode, message: string) {
    super(code, message);
    this.closeCode = PROTOCOL_ERROR_CODES[code].closeCode;
  }
}
