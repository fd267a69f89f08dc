/**
 * Frame builders for tests: client frames (masked) as bytes, and a decoder for server frames.
 */
import { encodeFrame } from "../../src/protocol/frame-codec.js";

/** A valid upgrade request for "/" (the key of RFC 6455 §1.3), for raw-socket tests. */
export const UPGRADE =
  "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/** A fixed, non-zero masking key, so tests are repeatable. */
export const MASK = 0x37fa213d;

/** Bytes from a hex string such as "81 05 48656c6c6f" (spaces ignored). */
export function hex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.replace(/\s+/g, ""), "hex"));
}

/** A masked client frame. */
export function clientFrame(
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
  options: { fin?: boolean; rsv1?: boolean; mask?: number } = {},
): Uint8Array {
  const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  return encodeFrame(opcode, bytes, { mask: MASK, ...options });
}

/** A close frame payload: code then reason. */
export function closePayload(code: number, reason: Uint8Array | string = ""): Uint8Array {
  const text = typeof reason === "string" ? new TextEncoder().encode(reason) : reason;
  const out = new Uint8Array(2 + text.length);
  out[0] = code >> 8;
  out[1] = code & 0xff;
  out.set(text, 2);
  return out;
}

/** Joins byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** A server (unmasked) frame, decoded. */
export interface ServerFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  payload: Uint8Array;
}

/** Decodes consecutive unmasked server frames; throws if the bytes end mid-frame. */
export function decodeServerFrames(bytes: Uint8Array): ServerFrame[] {
  const frames: ServerFrame[] = [];
  let i = 0;
  while (i < bytes.length) {
    const b0 = bytes[i]!;
    const b1 = bytes[i + 1]!;
    if (b1 & 0x80) throw new Error("server frames must not be masked");
    let length = b1 & 0x7f;
    i += 2;
    if (length === 126) {
      length = (bytes[i]! << 8) | bytes[i + 1]!;
      i += 2;
    } else if (length === 127) {
      length = Number(new DataView(bytes.buffer, bytes.byteOffset + i, 8).getBigUint64(0));
      i += 8;
    }
    if (i + length > bytes.length) throw new Error("truncated frame");
    frames.push({
      fin: (b0 & 0x80) !== 0,
      rsv: (b0 >> 4) & 7,
      opcode: b0 & 0xf,
      payload: bytes.slice(i, i + length),
    });
    i += length;
  }
  return frames;
}
