/**
 * Data messages as they arrive in frames and pieces of frames: the continuation rules (RFC 6455
 * §5.4), the `maxPayload` and `maxFragments` limits (counted before anything is buffered, and
 * again on inflated output), UTF-8 checked piece by piece (§8.1, fail-fast), and reassembly.
 * Throws {@link ProtocolError}; its caller fails the connection.
 * @module
 */

import { Opcode } from "./opcodes.js";
import { ProtocolError } from "./errors.js";
import { StreamingUtf8Decoder, decodeUtf8 } from "./utf8.js";
import type { BinaryEvent, CompressedEvent, TextEvent } from "./events.js";

/** Reassembles one connection's data messages. */
export class MessageAssembler {
  private readonly maxPayload: number;
  private readonly maxFragments: number;
  /** Opcode of the message in progress; 0 when none is. */
  private opcode = 0;
  private compressed = false;
  private length = 0;
  private fragments = 0;
  /** Pieces kept for joining, or null while the message is still a single piece. */
  private pieces: Uint8Array[] | null = null;
  private utf8: StreamingUtf8Decoder | null = null;
  private inflatedLength = 0;

  constructor(maxPayload: number, maxFragments: number) {
    this.maxPayload = maxPayload;
    this.maxFragments = maxFragments;
  }

  /** A data frame header (opcode Text, Binary or Continuation). */
  frame(opcode: number, rsv1: boolean, length: number): void {
    if (opcode === Opcode.Continuation) {
      // §5.4: continuation frames only follow a first fragment.
      if (this.opcode === 0) {
        throw new ProtocolError(
          "ERR_UNEXPECTED_CONTINUATION",
          "continuation frame without a message to continue",
        );
      }
      // RFC 7692 §6.1: RSV1 is set on the first frame of a compressed message only.
      if (rsv1) {
        throw new ProtocolError("ERR_UNEXPECTED_RSV", "RSV1 set on a continuation frame");
      }
    } else {
      // §5.4: "the fragments of one message MUST NOT be interleaved between the fragments of
      // another message".
      if (this.opcode !== 0) {
        throw new ProtocolError("ERR_EXPECTED_CONTINUATION", "new data frame inside a fragmented message");
      }
      this.opcode = opcode;
      this.length = 0;
      this.fragments = 0;
      this.compressed = rsv1;
    }
    // Refused from the header, before any of the payload is buffered.
    if (length > this.maxPayload - this.length) {
      throw new ProtocolError("ERR_MESSAGE_TOO_BIG", "message too big");
    }
    if (++this.fragments > this.maxFragments) {
      throw new ProtocolError("ERR_TOO_MANY_FRAGMENTS", "too many fragments");
    }
    this.length += length;
  }

  /**
   * The next piece of the message's payload. Returns the message once `messageEnd` completes
   * it: text, binary, or, for a compressed message, its compressed bytes to inflate.
   */
  piece(piece: Uint8Array, messageEnd: boolean): TextEvent | BinaryEvent | CompressedEvent | undefined {
    if (this.compressed) {
      this.keep(piece);
      if (!messageEnd) return undefined;
      const data = join(this.pieces, this.length);
      this.pieces = null;
      this.inflatedLength = 0;
      return { type: "compressed", binary: this.opcode === Opcode.Binary, data };
    }
    const single = messageEnd && this.pieces === null && this.utf8 === null;
    if (this.opcode === Opcode.Text) {
      if (single) {
        this.reset();
        return { type: "text", text: decodeUtf8(piece) };
      }
      // §8.1 and fail-fast: each piece is checked as it arrives.
      (this.utf8 ??= new StreamingUtf8Decoder()).push(piece);
      return messageEnd ? this.finishText() : undefined;
    }
    if (single) {
      this.reset();
      return { type: "binary", data: piece };
    }
    this.keep(piece);
    return messageEnd ? this.finishBinary(this.length) : undefined;
  }

  /** The next piece of an inflated message, counted against `maxPayload` and checked as it comes. */
  inflated(piece: Uint8Array): void {
    this.inflatedLength += piece.length;
    if (this.inflatedLength > this.maxPayload) {
      throw new ProtocolError("ERR_MESSAGE_TOO_BIG", "message too big");
    }
    if (this.opcode === Opcode.Text) (this.utf8 ??= new StreamingUtf8Decoder()).push(piece);
    else this.keep(piece);
  }

  /** The inflated message is complete. */
  inflatedEnd(): TextEvent | BinaryEvent {
    return this.opcode === Opcode.Text ? this.finishText() : this.finishBinary(this.inflatedLength);
  }

  /** Forgets the message in progress. */
  reset(): void {
    this.opcode = 0;
    this.compressed = false;
    this.pieces = null;
    this.utf8 = null;
  }

  private keep(piece: Uint8Array): void {
    if (piece.length !== 0) (this.pieces ??= []).push(piece);
  }

  private finishText(): TextEvent {
    const text = (this.utf8 ?? new StreamingUtf8Decoder()).end();
    this.reset();
    return { type: "text", text };
  }

  private finishBinary(length: number): BinaryEvent {
    const data = join(this.pieces, length);
    this.reset();
    return { type: "binary", data };
  }
}

function join(pieces: Uint8Array[] | null, length: number): Uint8Array {
  if (pieces === null) return new Uint8Array(0);
  if (pieces.length === 1) return pieces[0]!;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const piece of pieces) {
    out.set(piece, offset);
    offset += piece.length;
  }
  return out;
}
