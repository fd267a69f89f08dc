/**
 * Errors raised by the protocol core. The public hierarchy lives in `src/errors.ts`, which
 * re-exports these.
 * @module
 */

/** Base class of every error undercurrent creates. Match on `code`, which is stable. */
export class UndercurrentError extends Error {
  /** A stable, documented identifier such as `"ERR_INVALID_UTF8"`. */
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
 * The peer broke RFC 6455 (or sent more than the limits allow). The connection is failed with
 * {@link ProtocolError.closeCode}, and the message becomes the close reason.
 */
export class ProtocolError extends UndercurrentError {
  /** The close code the connection is failed with: 1002, 1007 or 1009. */
  readonly closeCode: number;

  constructor(code: ProtocolErrorCode, closeCode: number, message: string) {
    super(code, message);
    this.closeCode = closeCode;
  }
}

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
export type ProtocolErrorCode =
  | "ERR_UNMASKED_FRAME"
  | "ERR_UNEXPECTED_RSV"
  | "ERR_RESERVED_OPCODE"
  | "ERR_CONTROL_FRAME_TOO_LONG"
  | "ERR_FRAGMENTED_CONTROL_FRAME"
  | "ERR_UNEXPECTED_CONTINUATION"
  | "ERR_EXPECTED_CONTINUATION"
  | "ERR_INVALID_LENGTH"
  | "ERR_MESSAGE_TOO_BIG"
  | "ERR_TOO_MANY_FRAGMENTS"
  | "ERR_INVALID_UTF8"
  | "ERR_INVALID_COMPRESSED_DATA"
  | "ERR_INVALID_CLOSE_PAYLOAD"
  | "ERR_INVALID_CLOSE_CODE"
  | "ERR_DATA_AFTER_CLOSE";
