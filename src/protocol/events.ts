/**
 * What {@link ProtocolConnection} reports after it receives bytes.
 * @module
 */

import type { InternalError, ProtocolError } from "./errors.js";

/** A complete text message. */
export interface TextEvent {
  readonly type: "text";
  readonly text: string;
}

/** A complete binary message (a view of received bytes where it arrived in one piece). */
export interface BinaryEvent {
  readonly type: "binary";
  readonly data: Uint8Array;
}

/**
 * A complete compressed (RSV1) message, its deflate trailer not yet added: the adapter
 * inflates it into the space `inflateSpace()` hands out (one buffer per message), reporting each
 * write with `inflatedInto()`, then `inflatedEnd()`. Input is held meanwhile, so messages stay in
 * order.
 */
export interface CompressedEvent {
  readonly type: "compressed";
  readonly binary: boolean;
  readonly data: Uint8Array;
}

/** A ping; the pong has already been queued. */
export interface PingEvent {
  readonly type: "ping";
  readonly data: Uint8Array;
}

/** A pong. */
export interface PongEvent {
  readonly type: "pong";
  readonly data: Uint8Array;
}

/** The peer's close frame: its code (1005 when it sent none) and reason. Taking it queues the reply. */
export interface CloseEvent {
  readonly type: "close";
  readonly code: number;
  readonly reason: string;
}

/**
 * The connection failed: the peer broke the protocol (`ProtocolError`: 1002, 1007, 1009), or a
 * bug of ours surfaced in the core (`InternalError`: 1011). Taking this event queues a close
 * frame with `error.closeCode` and `reason`.
 */
export interface FailEvent {
  readonly type: "fail";
  readonly error: ProtocolError | InternalError;
  /** The close reason sent: the `ProtocolError`'s message, "" for an `InternalError` (no details). */
  readonly reason: string;
}

/** Everything the protocol core reports. */
export type ProtocolEvent =
  TextEvent | BinaryEvent | CompressedEvent | PingEvent | PongEvent | CloseEvent | FailEvent;
