/**
 * Incremental frame parser (RFC 6455 §5.2). Input may be split at any byte; a header split
 * across reads is kept in a small spill buffer, and payloads are unmasked in place and handed on
 * as views of the input, piece by piece, so the layer above decides what to buffer.
 * @module
 */

import { isControl, isKnownOpcode } from "./opcodes.js";
import { ProtocolError } from "./errors.js";
import { unmask } from "./mask.js";

/** Receives what the parser finds. Either method may throw a {@link ProtocolError}. */
export interface FrameSink {
  /** A complete, frame-level-valid header. `length` is the payload length in bytes. */
  onFrameHeader(fin: boolean, rsv1: boolean, opcode: number, length: number): void;
  /**
   * The next unmasked piece of the current frame's payload (a view of the input, possibly
   * empty for a 0-byte frame). `frameEnd` is true on the frame's last piece.
   */
  onFramePayload(piece: Uint8Array, frameEnd: boolean): void;
}

const HEADER = 0;
const PAYLOAD = 1;

/** Parses client-to-server frames: masking is required. */
export class FrameParser {
  /** RSV bits an extension allows (0x4 = RSV1 for permessage-deflate); others fail with 1002. */
  allowedRsv = 0;

  private readonly sink: FrameSink;
  private state = HEADER;
  /** A header split across inputs (at most 2 + 8 + 4 bytes), allocated the first time one is. */
  private spill: Uint8Array | null = null;
  private spillLength = 0;
  private mask = 0;
  private remaining = 0;
  /** Bytes of the current payload already unmasked: the mask phase of the next piece. */
  private consumed = 0;
  private stopped = false;

  constructor(sink: FrameSink) {
    this.sink = sink;
  }

  /** Set by the sink to stop after the current frame piece, until {@link resume}. */
  paused = false;

  /**
   * Feeds bytes and returns how many were consumed: all of them, unless the sink paused the
   * parser (the rest must be fed again after {@link resume}). Payload bytes are unmasked in
   * place in `data`.
   */
  push(data: Uint8Array): number {
    let pos = 0;
    const end = data.length;
    while (pos < end && !this.stopped && !this.paused) {
      if (this.state === HEADER) {
        pos = this.readHeader(data, pos);
      } else {
        const n = Math.min(this.remaining, end - pos);
        unmask(data, pos, pos + n, this.mask, this.consumed);
        this.remaining -= n;
        this.consumed += n;
        if (this.remaining === 0) this.state = HEADER;
        this.sink.onFramePayload(data.subarray(pos, pos + n), this.remaining === 0);
        pos += n;
      }
    }
    return this.stopped ? end : pos;
  }

  /** Ignores all further input (after a close frame, §5.5.1). */
  stop(): void {
    this.stopped = true;
  }

  /** Reads as much of a header as `data` holds from `pos`; returns the new position. */
  private readHeader(data: Uint8Array, pos: number): number {
    let src: Uint8Array;
    let at: number;
    let next: number;
    if (this.spillLength === 0 && data.length - pos >= 2 && data.length - pos >= sizeOf(data, pos)) {
      src = data;
      at = pos;
      next = pos + sizeOf(data, pos);
    } else {
      // Gather the header in the spill buffer: first the two fixed bytes, then the rest.
      const spill = (this.spill ??= new Uint8Array(14));
      while (this.spillLength < 2 && pos < data.length) spill[this.spillLength++] = data[pos++]!;
      if (this.spillLength < 2) return pos;
      this.check(spill[0]!, spill[1]!);
      const size = sizeOf(spill, 0);
      while (this.spillLength < size && pos < data.length) spill[this.spillLength++] = data[pos++]!;
      if (this.spillLength < size) return pos;
      src = spill;
      at = 0;
      next = pos;
      this.spillLength = 0;
    }
    this.parse(src, at);
    return next;
  }

  /** Checks the rules that the first two bytes decide, before waiting for more. */
  private check(b0: number, b1: number): void {
    const opcode = b0 & 0x0f;
    const fin = (b0 & 0x80) !== 0;
    // §5.2: "MUST be 0 unless an extension is negotiated that defines meanings for non-zero
    // values. If a nonzero value is received and none of the negotiated extensions defines
    // the meaning of such a nonzero value, the receiving endpoint MUST _Fail the WebSocket
    // Connection_."
    if ((b0 & 0x70 & ~(this.allowedRsv << 4)) !== 0) {
      throw new ProtocolError("ERR_UNEXPECTED_RSV", "reserved bits must be clear");
    }
    // §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket
    // Connection_."
    if (!isKnownOpcode(opcode)) {
      throw new ProtocolError("ERR_RESERVED_OPCODE", `reserved opcode ${opcode}`);
    }
    if (isControl(opcode)) {
      // RFC 7692 §6.1: RSV1 marks a compressed message; control frames are never compressed.
      if ((b0 & 0x40) !== 0) {
        throw new ProtocolError("ERR_UNEXPECTED_RSV", "RSV1 set on a control frame");
      }
      // §5.5: "All control frames MUST have a payload length of 125 bytes or less and MUST
      // NOT be fragmented."
      if (!fin) {
        throw new ProtocolError("ERR_FRAGMENTED_CONTROL_FRAME", "control frames must not be fragmented");
      }
      if ((b1 & 0x7f) > 125) {
        throw new ProtocolError("ERR_CONTROL_FRAME_TOO_LONG", "control frame payload over 125 bytes");
      }
    }
    // §5.1: "The server MUST close the connection upon receiving a frame that is not masked."
    if ((b1 & 0x80) === 0) {
      throw new ProtocolError("ERR_UNMASKED_FRAME", "client frames must be masked");
    }
  }

  /** Decodes a complete header at `src[at]` and starts its payload. */
  private parse(src: Uint8Array, at: number): void {
    const b0 = src[at]!;
    const b1 = src[at + 1]!;
    if (src !== this.spill) this.check(b0, b1);
    let length = b1 & 0x7f;
    let i = at + 2;
    if (length === 126) {
      length = (src[i]! << 8) | src[i + 1]!;
      i += 2;
    } else if (length === 127) {
      const high = ((src[i]! << 24) | (src[i + 1]! << 16) | (src[i + 2]! << 8) | src[i + 3]!) >>> 0;
      const low = ((src[i + 4]! << 24) | (src[i + 5]! << 16) | (src[i + 6]! << 8) | src[i + 7]!) >>> 0;
      // §5.2: "the most significant bit MUST be 0".
      if (high >= 0x80000000) {
        throw new ProtocolError("ERR_INVALID_LENGTH", "64-bit length with top bit set");
      }
      // Lengths past 2^53 cannot be counted exactly; no limit lets them through anyway.
      length = high >= 0x200000 ? Number.MAX_SAFE_INTEGER : high * 0x100000000 + low;
      i += 8;
    }
    this.mask = ((src[i]! << 24) | (src[i + 1]! << 16) | (src[i + 2]! << 8) | src[i + 3]!) >>> 0;
    this.remaining = length;
    this.consumed = 0;
    this.sink.onFrameHeader((b0 & 0x80) !== 0, (b0 & 0x40) !== 0, b0 & 0x0f, length);
    if (length === 0) this.sink.onFramePayload(EMPTY, true);
    else this.state = PAYLOAD;
  }
}

const EMPTY = new Uint8Array(0);

/** Header size (masked) from its first two bytes at `buf[pos]`. */
function sizeOf(buf: Uint8Array, pos: number): number {
  const len7 = buf[pos + 1]! & 0x7f;
  const mask = (buf[pos + 1]! & 0x80) !== 0 ? 4 : 0;
  return 2 + mask + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0);
}
