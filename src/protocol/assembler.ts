/**
 * Data messages as they arrive in frames and pieces of frames: the continuation rules (RFC 6455
 * §5.4), the `maxPayload` and `maxFragments` limits (counted before anything is buffered, and
 * again on inflated output), UTF-8 checked piece by piece (§8.1, fail-fast), and reassembly.
 * Inflated output is written straight into the space this class hands out: one buffer per binary
 * message that grows toward what the message needs (never past `maxPayload` + 1 bytes, in place
 * once it is large), and for text a small scratch area decoded as it fills. Nothing is joined.
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
  /** Inflated output of the binary message in progress (or the text scratch area), or null. */
  private output: Uint8Array | null = null;

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
      this.output = null;
      this.firstSpace = Math.min(Math.max(MIN_SPACE, data.length * 8), MAX_FIRST_SPACE, this.maxPayload + 1);
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

  /**
   * Where the inflater writes the next output: a non-empty free area, at most `maxPayload` + 1
   * bytes past the start of the message's output (so passing the limit shows without writing
   * more). For a binary message it is the free tail of the message's one buffer, grown when full;
   * for text, a scratch area decoded by {@link inflatedInto} and then reused.
   */
  inflateSpace(): Uint8Array {
    const room = this.maxPayload + 1 - this.inflatedLength;
    if (this.opcode === Opcode.Text) {
      const scratch = (this.output ??= new Uint8Array(Math.min(TEXT_SCRATCH, this.firstSpace)));
      return scratch.subarray(0, Math.min(scratch.length, room));
    }
    let output = this.output;
    if (output === null) output = this.output = new Uint8Array(this.firstSpace);
    else if (output.length === this.inflatedLength) output = this.output = this.grow(output);
    return output.subarray(this.inflatedLength, this.inflatedLength + room);
  }

  /**
   * The inflater wrote `written` bytes at the start of the last {@link inflateSpace}: counted
   * against `maxPayload` (1009 as soon as output passes it) and, for text, checked (fail-fast).
   */
  inflatedInto(written: number): void {
    const start = this.inflatedLength;
    this.inflatedLength += written;
    if (this.inflatedLength > this.maxPayload) {
      throw new ProtocolError("ERR_MESSAGE_TOO_BIG", "message too big");
    }
    if (this.opcode === Opcode.Text) {
      (this.utf8 ??= new StreamingUtf8Decoder()).push(this.output!.subarray(0, written));
      // A scratch area filled in one write is doubled (up to TEXT_SCRATCH): fewer, larger writes.
      const scratch = this.output!;
      if (written === scratch.length && scratch.length < TEXT_SCRATCH) {
        this.output = new Uint8Array(Math.min(TEXT_SCRATCH, scratch.length * 2));
      }
    } else if (this.output === null || start + written > this.output.length) {
      throw new RangeError("inflated output past the space handed out");
    }
  }

  /** The next piece of an inflated message, copied into {@link inflateSpace} (for callers with pieces). */
  inflated(piece: Uint8Array): void {
    let offset = 0;
    do {
      const space = this.inflateSpace();
      const n = Math.min(space.length, piece.length - offset);
      space.set(piece.subarray(offset, offset + n));
      this.inflatedInto(n);
      offset += n;
    } while (offset < piece.length);
  }

  /** The inflated message is complete. */
  inflatedEnd(): TextEvent | BinaryEvent {
    if (this.opcode === Opcode.Text) return this.finishText();
    const output = this.output;
    const length = this.inflatedLength;
    this.reset();
    return { type: "binary", data: output === null ? new Uint8Array(0) : fit(output, length) };
  }

  /** Forgets the message in progress. */
  reset(): void {
    this.opcode = 0;
    this.compressed = false;
    this.pieces = null;
    this.utf8 = null;
    this.output = null;
  }

  /** Size of the first output buffer: a guess from the compressed size, within {@link MIN_SPACE}..{@link MAX_FIRST_SPACE}. */
  private firstSpace = MIN_SPACE;

  /**
   * A fuller buffer for the binary message's output (twice the size), holding what is written so
   * far. Up to {@link MAX_FIRST_SPACE} it is a plain buffer (copying that little costs less than
   * reserving); past it, one resizable buffer reserved up to `maxPayload` + 1 and grown in place,
   * so a large message is never copied again and memory follows the bytes actually written.
   */
  private grow(output: Uint8Array): Uint8Array {
    const limit = this.maxPayload + 1;
    const size = Math.min(limit, output.length * 2);
    const buffer = output.buffer as ResizableBuffer;
    if (buffer.resizable === true) {
      buffer.resize(size);
      return new Uint8Array(buffer, 0, size);
    }
    if (size <= MAX_FIRST_SPACE) {
      const grown = new Uint8Array(size);
      grown.set(output.subarray(0, this.inflatedLength));
      return grown;
    }
    const grown = new (ArrayBuffer as unknown as ResizableBufferConstructor)(size, { maxByteLength: limit });
    const view = new Uint8Array(grown, 0, size);
    view.set(output.subarray(0, this.inflatedLength));
    return view;
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

/**
 * The first output buffer of a compressed message is eight times its compressed size, at least
 * this big (or `maxPayload` + 1) ...
 */
const MIN_SPACE = 1024;
/**
 * ... and at most this big; a buffer doubles up to this size by copying, and a message that
 * outgrows it moves to a resizable buffer (one copy of at most this much), so a zip bomb never
 * holds a large buffer beside the growing one.
 */
const MAX_FIRST_SPACE = 256 * 1024;
/** Inflated text is decoded from a scratch area (reused; doubled while filled) up to this big. */
const TEXT_SCRATCH = 64 * 1024;

/** An `ArrayBuffer` that may be resizable (ES2024; the project's library types are ES2023). */
interface ResizableBuffer extends ArrayBuffer {
  readonly resizable?: boolean;
  resize(size: number): void;
}
type ResizableBufferConstructor = new (size: number, options: { maxByteLength: number }) => ResizableBuffer;

/**
 * The first `length` bytes of a message's output. A resizable buffer is shrunk to them first, so
 * the pages past them go back; the view returned has a fixed length either way.
 */
function fit(output: Uint8Array, length: number): Uint8Array {
  const buffer = output.buffer as ResizableBuffer;
  if (buffer.resizable === true) {
    buffer.resize(length);
    return new Uint8Array(buffer, 0, length);
  }
  return output.subarray(0, length);
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
