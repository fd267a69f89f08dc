/**
 * Frame serialization (RFC 6455 §5.2). The server never masks what it sends (§5.1).
 * @module
 */

import { unmask } from "./mask.js";
import { CloseCode, isValidReceivedCloseCode } from "./close-codes.js";
import { ProtocolError } from "./errors.js";
import { decodeUtf8 } from "./utf8.js";

/** Size of the header for a payload of `length` bytes (unmasked): 2, 4 or 10. */
export function headerSize(length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10;
}

/**
 * Writes an unmasked frame header into `target` at `offset` and returns the number of bytes
 * written. The payload length uses the shortest of the three forms, as §5.2 requires.
 */
export function writeHeader(
  target: Uint8Array,
  offset: number,
  opcode: number,
  length: number,
  fin = true,
  rsv1 = false,
): number {
  target[offset] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  if (length < 126) {
    target[offset + 1] = length;
    return 2;
  }
  if (length < 0x10000) {
    target[offset + 1] = 126;
    target[offset + 2] = length >>> 8;
    target[offset + 3] = length & 0xff;
    return 4;
  }
  target[offset + 1] = 127;
  const high = Math.floor(length / 0x100000000);
  const low = length >>> 0;
  target[offset + 2] = high >>> 24;
  target[offset + 3] = (high >>> 16) & 0xff;
  target[offset + 4] = (high >>> 8) & 0xff;
  target[offset + 5] = high & 0xff;
  target[offset + 6] = low >>> 24;
  target[offset + 7] = (low >>> 16) & 0xff;
  target[offset + 8] = (low >>> 8) & 0xff;
  target[offset + 9] = low & 0xff;
  return 10;
}

/** Options of {@link encodeFrame}. */
export interface EncodeFrameOptions {
  /** Final fragment of the message (default true). */
  fin?: boolean;
  /** Sets RSV1, the permessage-deflate "compressed" bit (default false). */
  rsv1?: boolean;
  /** A masking key (big-endian 32-bit). Servers never mask; clients (and tests) do. */
  mask?: number;
}

/** Encodes one whole frame, header and payload, into a new array. */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  options: EncodeFrameOptions = {},
): Uint8Array {
  const { fin = true, rsv1 = false, mask } = options;
  const length = payload.length;
  const size = headerSize(length) + (mask === undefined ? 0 : 4);
  const frame = new Uint8Array(size + length);
  writeHeader(frame, 0, opcode, length, fin, rsv1);
  if (mask !== undefined) {
    frame[1] = frame[1]! | 0x80;
    frame[size - 4] = mask >>> 24;
    frame[size - 3] = (mask >>> 16) & 0xff;
    frame[size - 2] = (mask >>> 8) & 0xff;
    frame[size - 1] = mask & 0xff;
  }
  frame.set(payload, size);
  if (mask !== undefined) unmask(frame, size, size + length, mask, 0);
  return frame;
}

const encoder = new TextEncoder();

/** The payload of a close frame: the code as two bytes, then the UTF-8 reason (§5.5.1). */
export function encodeClosePayload(code: number | undefined, reason = ""): Uint8Array {
  if (code === undefined) return new Uint8Array(0);
  const reasonBytes = encoder.encode(reason);
  const payload = new Uint8Array(2 + reasonBytes.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(reasonBytes, 2);
  return payload;
}

/**
 * Reads a received close frame's payload (§5.5.1): none means 1005 (§7.1.5); otherwise a
 * 2-byte code that may be received, then a UTF-8 reason.
 * @throws ProtocolError for a 1-byte payload, a code that may not be received, a reason that is
 * not UTF-8.
 */
export function decodeClosePayload(payload: Uint8Array): { code: number; reason: string } {
  if (payload.length === 0) return { code: CloseCode.NoStatusReceived, reason: "" };
  if (payload.length === 1) throw new ProtocolError("ERR_INVALID_CLOSE_PAYLOAD", "close payload of 1 byte");
  const code = (payload[0]! << 8) | payload[1]!;
  if (!isValidReceivedCloseCode(code)) {
    throw new ProtocolError("ERR_INVALID_CLOSE_CODE", `invalid close code ${code}`);
  }
  return { code, reason: decodeUtf8(payload.subarray(2)) };
}

/**
 * Cuts `reason` so its UTF-8 encoding fits in `maxBytes` (a close frame's reason may hold 123
 * bytes) without splitting a code point.
 */
export function truncateReason(reason: string, maxBytes = 123): string {
  if (reason.length * 3 <= maxBytes || encoder.encode(reason).length <= maxBytes) return reason;
  let out = "";
  let size = 0;
  for (const ch of reason) {
    const cp = ch.codePointAt(0)!;
    const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (size + n > maxBytes) break;
    out += ch;
    size += n;
  }
  return out;
}
