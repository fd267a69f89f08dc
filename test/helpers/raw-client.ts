/**
 * A raw-socket WebSocket client for tests: no WebSocket library, only `node:net`.
 *
 * It performs the RFC 6455 opening handshake (checking the `101` and `Sec-WebSocket-Accept`),
 * then writes exactly the bytes it is given, optionally cut into chops with delays between
 * them, and records everything the server does: each frame it sends (parsed, in order), its
 * close frame, and how and by whom the TCP connection ended.
 *
 * @example
 * ```ts
 * const c = await RawClient.connect("ws://127.0.0.1:8080/");
 * await c.send(buildFrame({ opcode: Opcode.Text, payload: "hello" }), { chop: 1, delayMs: 1 });
 * const echo = await c.nextFrame();          // { opcode: 1, fin: true, payload: <Buffer 68 65 6c 6c 6f> }
 * await c.sendClose({ code: 1000 });
 * const end = await c.closed();              // { by: "server", reset: false, ... }
 * ```
 *
 * An `h2c://host:port/path` URL (a notation of these tests) speaks the same over HTTP/2 instead:
 * one cleartext HTTP/2 session with prior knowledge per client, the WebSocket on an extended
 * CONNECT stream (RFC 8441), and "the TCP connection" of everything below is that stream (its
 * END_STREAM is a FIN, its RST_STREAM a reset).
 *
 * With `extensions` it offers permessage-deflate (RFC 7692), checks the server's answer against
 * the offer, compresses what it is asked to and inflates the server's compressed messages:
 *
 * ```ts
 * const z = await RawClient.connect(url, { extensions: "permessage-deflate; client_max_window_bits" });
 * z.deflate?.params;                          // what was agreed, or undefined if the server declined
 * await z.sendMessage(Opcode.Text, "hello hello hello", { fragmentSize: 4 }); // RSV1 on the first frame
 * const m = await z.nextMessage();            // { binary: false, payload: <inflated>, compressed: true, ... }
 * ```
 * @module
 */
import { createHash, randomBytes } from "node:crypto";
import { connect as http2Connect, constants as http2Constants, type ClientHttp2Stream } from "node:http2";
import { connect as netConnect } from "node:net";
import type { Duplex } from "node:stream";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { constants as zlibConstants, deflateRawSync, inflateRawSync } from "node:zlib";

/** Frame opcodes (RFC 6455 §5.2). */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** Bytes, or a string sent as its UTF-8 encoding. */
export type Bytes = Uint8Array | string;

const ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Bytes as a `Buffer` view (no copy); strings are UTF-8 encoded. */
export function toBuffer(bytes: Bytes | undefined): Buffer {
  if (bytes === undefined) return Buffer.alloc(0);
  if (typeof bytes === "string") return Buffer.from(bytes, "utf8");
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A random 4-byte masking key that is not all zeros (a zero key would leave the payload in clear). */
export function randomMaskKey(): Buffer {
  for (;;) {
    const key = randomBytes(4);
    if (key.readUInt32BE(0) !== 0) return key;
  }
}

/** What {@link buildFrame} puts on the wire. */
export interface FrameSpec {
  /** 4-bit opcode; reserved values (3–7, 11–15) are allowed on purpose. */
  opcode: number;
  /** Payload; strings are UTF-8 encoded. Default: empty. */
  payload?: Bytes;
  /** FIN bit. Default: `true`. */
  fin?: boolean;
  /** The three RSV bits as a number 0–7 (RSV1 = 4, RSV2 = 2, RSV3 = 1). Default: 0. */
  rsv?: number;
  /**
   * `true` (the default): mask with a random non-zero key, as a client must (RFC 6455 §5.3);
   * a 4-byte array: mask with that key; `false`: send the payload unmasked.
   */
  mask?: boolean | Uint8Array;
  /**
   * How the payload length is encoded: `"minimal"` (the default, as RFC 6455 §5.2 requires),
   * or forced to the 7-bit, 16-bit or 64-bit form to build non-minimal encodings.
   */
  lengthForm?: "minimal" | 7 | 16 | 64;
  /** Write this value in the length field instead of the payload's real length (lying frames). */
  declaredLength?: number | bigint;
}

/** XORs `data` with `key` in place, starting at key offset `offset`. */
export function applyMask(data: Uint8Array, key: Uint8Array, offset = 0): void {
  const k0 = key[0] ?? 0;
  const k1 = key[1] ?? 0;
  const k2 = key[2] ?? 0;
  const k3 = key[3] ?? 0;
  const k = [k0, k1, k2, k3];
  const n = data.length;
  let i = 0;
  // Align to the key so the main loop can use a fixed byte order.
  while (i < n && (i + offset) % 4 !== 0) {
    data[i] = (data[i] ?? 0) ^ (k[(i + offset) % 4] ?? 0);
    i++;
  }
  for (; i + 3 < n; i += 4) {
    data[i] = (data[i] ?? 0) ^ k0;
    data[i + 1] = (data[i + 1] ?? 0) ^ k1;
    data[i + 2] = (data[i + 2] ?? 0) ^ k2;
    data[i + 3] = (data[i + 3] ?? 0) ^ k3;
  }
  for (; i < n; i++) data[i] = (data[i] ?? 0) ^ (k[i % 4] ?? 0);
}

/**
 * Builds one frame, exactly as specified: nothing is validated, so reserved opcodes, RSV bits,
 * oversized control frames and non-minimal lengths can all be produced.
 *
 * @example
 * ```ts
 * buildFrame({ opcode: Opcode.Text, payload: "frag", fin: false });
 * buildFrame({ opcode: Opcode.Ping, payload: Buffer.alloc(126) }); // too big for a control frame
 * buildFrame({ opcode: Opcode.Binary, payload: "x", lengthForm: 64, mask: false });
 * ```
 */
export function buildFrame(spec: FrameSpec): Buffer {
  const payload = toBuffer(spec.payload);
  const length = spec.declaredLength ?? payload.length;
  const big = typeof length === "bigint" ? length : BigInt(length);
  const form = spec.lengthForm ?? "minimal";
  const lengthBytes =
    form === "minimal" ? (big < 126n ? 0 : big < 65536n ? 2 : 8) : form === 7 ? 0 : form === 16 ? 2 : 8;
  if (lengthBytes === 0 && big > 125n) throw new RangeError(`length ${big} does not fit the 7-bit form`);
  if (lengthBytes === 2 && big > 65535n) throw new RangeError(`length ${big} does not fit the 16-bit form`);
  const key =
    spec.mask === false
      ? undefined
      : spec.mask === undefined || spec.mask === true
        ? randomMaskKey()
        : spec.mask;
  if (key !== undefined && key.length !== 4) throw new RangeError("a masking key has 4 bytes");

  const headerLength = 2 + lengthBytes + (key === undefined ? 0 : 4);
  const frame = Buffer.allocUnsafe(headerLength + payload.length);
  frame[0] = ((spec.fin ?? true) ? 0x80 : 0) | (((spec.rsv ?? 0) & 0x7) << 4) | (spec.opcode & 0xf);
  const maskBit = key === undefined ? 0 : 0x80;
  if (lengthBytes === 0) {
    frame[1] = maskBit | Number(big);
  } else if (lengthBytes === 2) {
    frame[1] = maskBit | 126;
    frame.writeUInt16BE(Number(big), 2);
  } else {
    frame[1] = maskBit | 127;
    frame.writeBigUInt64BE(big, 2);
  }
  let offset = 2 + lengthBytes;
  if (key !== undefined) {
    frame.set(key, offset);
    offset += 4;
  }
  payload.copy(frame, offset);
  if (key !== undefined) applyMask(frame.subarray(offset), key);
  return frame;
}

/** A close frame's payload: the 2-byte code then the reason (RFC 6455 §5.5.1); empty without a code. */
export function encodeClosePayload(code?: number, reason?: Bytes): Buffer {
  if (code === undefined) return toBuffer(reason);
  const why = toBuffer(reason);
  const payload = Buffer.allocUnsafe(2 + why.length);
  payload.writeUInt16BE(code & 0xffff, 0);
  why.copy(payload, 2);
  return payload;
}

/** A masked close frame with `code` and `reason` (no code: empty payload). */
export function buildClose(code?: number, reason?: Bytes, spec: Partial<FrameSpec> = {}): Buffer {
  return buildFrame({ ...spec, opcode: Opcode.Close, payload: encodeClosePayload(code, reason) });
}

/** Cuts `bytes` into pieces of at most `size` bytes (views, no copies). */
export function chop(bytes: Uint8Array, size: number): Buffer[] {
  if (!(size >= 1)) throw new RangeError("chop size must be at least 1");
  const buf = toBuffer(bytes);
  const pieces: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) pieces.push(buf.subarray(i, Math.min(i + size, buf.length)));
  return pieces;
}

// ---- permessage-deflate (RFC 7692), client side -------------------------------------------

/** The permessage-deflate parameters in force on a connection (RFC 7692 §7.1). */
export interface DeflateParams {
  /** The server resets its compression context after each message. */
  serverNoContextTakeover: boolean;
  /** This client resets its compression context after each message. */
  clientNoContextTakeover: boolean;
  /** The LZ77 window the server compresses with, 8–15 (15 when the response does not limit it). */
  serverMaxWindowBits: number;
  /** The LZ77 window this client compresses with, 8–15 (15 when the response does not limit it). */
  clientMaxWindowBits: number;
}

/** One element of a `Sec-WebSocket-Extensions` header: a name and its parameters in order. */
export interface ExtensionElement {
  name: string;
  /** `true` for a parameter without a value; quoted values are unquoted. */
  params: Array<[string, string | true]>;
}

/** The four bytes a sync flush ends with, removed from a compressed message (RFC 7692 §7.2.1). */
export const DEFLATE_TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

const EXTENSION_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Parses a `Sec-WebSocket-Extensions` value (RFC 6455 §9.1). Names and parameter names are
 * lower-cased.
 * @throws Error when the syntax is invalid.
 */
export function parseExtensionHeader(value: string): ExtensionElement[] {
  const elements: ExtensionElement[] = [];
  for (const item of value.split(",")) {
    if (item.trim() === "") continue;
    const [name = "", ...rest] = item.split(";").map((part) => part.trim());
    if (!EXTENSION_TOKEN.test(name)) throw new Error(`invalid extension name ${JSON.stringify(name)}`);
    const params: Array<[string, string | true]> = [];
    for (const raw of rest) {
      const eq = raw.indexOf("=");
      const key = (eq < 0 ? raw : raw.slice(0, eq)).trim().toLowerCase();
      if (!EXTENSION_TOKEN.test(key)) throw new Error(`invalid parameter name ${JSON.stringify(key)}`);
      if (eq < 0) {
        params.push([key, true]);
        continue;
      }
      let val = raw.slice(eq + 1).trim();
      if (val.length >= 2 && val.startsWith('"') && val.endsWith('"')) val = val.slice(1, -1);
      if (!EXTENSION_TOKEN.test(val)) throw new Error(`invalid value ${JSON.stringify(val)} for ${key}`);
      params.push([key, val]);
    }
    elements.push({ name: name.toLowerCase(), params });
  }
  return elements;
}

const DEFLATE_PARAMS = new Set([
  "server_no_context_takeover",
  "client_no_context_takeover",
  "server_max_window_bits",
  "client_max_window_bits",
]);

function windowBitsValue(key: string, value: string | true): number {
  if (value === true || !/^[0-9]{1,2}$/.test(value) || Number(value) < 8 || Number(value) > 15) {
    throw new Error(`${key} must be an integer 8-15, got ${value === true ? "no value" : value}`);
  }
  return Number(value);
}

/** Whether a (validated) response is acceptable for one offer, per RFC 7692 §7.1; why not if not. */
function unacceptableFor(
  offer: ExtensionElement,
  response: ReadonlyMap<string, string | true>,
): string | undefined {
  const offered = new Map<string, string | true>();
  for (const [key, value] of offer.params) {
    if (!DEFLATE_PARAMS.has(key) || offered.has(key)) return "the offer itself is invalid";
    offered.set(key, value);
  }
  // §7.1.1.1: an accepted server_no_context_takeover must be echoed.
  if (offered.has("server_no_context_takeover") && !response.has("server_no_context_takeover")) {
    return "server_no_context_takeover was offered but is missing from the response";
  }
  // §7.1.2.1: an accepted server_max_window_bits must be echoed with a value no larger.
  const serverBits = offered.get("server_max_window_bits");
  if (serverBits !== undefined) {
    const answered = response.get("server_max_window_bits");
    if (answered === undefined)
      return `server_max_window_bits=${String(serverBits)} was offered but is missing`;
    if (Number(answered) > Number(serverBits)) {
      return `server_max_window_bits=${String(answered)} is larger than the ${String(serverBits)} offered`;
    }
  }
  // §7.1.2.2: client_max_window_bits only if offered, and no larger than an offered value.
  const clientBits = offered.get("client_max_window_bits");
  const answeredClient = response.get("client_max_window_bits");
  if (answeredClient !== undefined) {
    if (clientBits === undefined) return "client_max_window_bits in the response but not in the offer";
    if (clientBits !== true && Number(answeredClient) > Number(clientBits)) {
      return `client_max_window_bits=${String(answeredClient)} is larger than the ${clientBits} offered`;
    }
  }
  return undefined;
}

/**
 * Checks a server's `Sec-WebSocket-Extensions` answer against what this client offered
 * (RFC 6455 §4.1, RFC 7692 §5 and §7.1) and returns the agreed permessage-deflate parameters.
 *
 * @param offer the header value the client sent (`undefined`: nothing offered)
 * @param response the header value the server sent (`undefined`: none)
 * @returns `params` when permessage-deflate was agreed; `undefined` params when the server
 *   declined every offer; `error` when the answer is one a client must fail the connection for.
 */
export function checkDeflateResponse(
  offer: string | undefined,
  response: string | undefined,
): { params: DeflateParams | undefined; error: string | undefined } {
  const fail = (error: string) => ({ params: undefined, error });
  if (response === undefined || response.trim() === "") return { params: undefined, error: undefined };
  if (offer === undefined) return fail(`the server answered extensions "${response}" that nobody offered`);
  let offers: ExtensionElement[];
  let answered: ExtensionElement[];
  try {
    offers = parseExtensionHeader(offer).filter((e) => e.name === "permessage-deflate");
    answered = parseExtensionHeader(response);
  } catch (error) {
    return fail(`invalid Sec-WebSocket-Extensions answer "${response}": ${(error as Error).message}`);
  }
  if (answered.length === 0) return { params: undefined, error: undefined };
  if (answered.length > 1) return fail(`the server agreed to ${answered.length} extensions: "${response}"`);
  const element = answered[0] as ExtensionElement;
  if (element.name !== "permessage-deflate" || offers.length === 0) {
    return fail(`the server agreed to "${element.name}", which was not offered`);
  }
  const params = new Map<string, string | true>();
  try {
    for (const [key, value] of element.params) {
      if (!DEFLATE_PARAMS.has(key)) throw new Error(`unknown parameter ${key}`);
      if (params.has(key)) throw new Error(`repeated parameter ${key}`);
      if (key.endsWith("_no_context_takeover") && value !== true) throw new Error(`${key} takes no value`);
      // §7.1.2.2: in a response client_max_window_bits must have a value.
      if (key.endsWith("_max_window_bits")) windowBitsValue(key, value);
      params.set(key, value);
    }
  } catch (error) {
    return fail(`invalid permessage-deflate answer "${response}": ${(error as Error).message}`);
  }
  const reasons = offers.map((o) => unacceptableFor(o, params));
  if (!reasons.includes(undefined)) {
    return fail(`the answer "${response}" fits none of the offers: ${reasons.join("; ")}`);
  }
  const bits = (key: string): number => {
    const value = params.get(key);
    return value === undefined ? 15 : Number(value);
  };
  return {
    params: {
      serverNoContextTakeover: params.has("server_no_context_takeover"),
      clientNoContextTakeover: params.has("client_no_context_takeover"),
      serverMaxWindowBits: bits("server_max_window_bits"),
      clientMaxWindowBits: bits("client_max_window_bits"),
    },
    error: undefined,
  };
}

/** How much history a compression context can reach: the largest window, 32 KiB. */
const MAX_WINDOW = 1 << 15;

function keepTail(history: Buffer, added: Buffer): Buffer {
  if (added.length >= MAX_WINDOW) return Buffer.from(added.subarray(added.length - MAX_WINDOW));
  const joined = Buffer.concat([history, added]);
  return joined.length > MAX_WINDOW ? Buffer.from(joined.subarray(joined.length - MAX_WINDOW)) : joined;
}

/**
 * The client side of permessage-deflate for one connection, synchronous: messages are
 * compressed with `deflateRawSync` and a sync flush, the trailing `00 00 ff ff` removed. Context
 * takeover is kept as history: each message is compressed (and each server message inflated)
 * with the last 2^window bytes of the previous ones as the preset dictionary, which is exactly
 * the window the other side holds, so a server that reaches further back than it agreed to, or
 * that kept a context it promised to reset, produces data this inflater rejects.
 */
export class PerMessageDeflate {
  private sent: Buffer = Buffer.alloc(0);
  private received: Buffer = Buffer.alloc(0);

  constructor(readonly params: DeflateParams) {}

  /** Compresses one message payload (RFC 7692 §7.2.1). */
  compress(payload: Bytes): Buffer {
    const data = toBuffer(payload);
    const bits = this.params.clientMaxWindowBits;
    const window = 1 << bits;
    const dictionary =
      this.params.clientNoContextTakeover || this.sent.length === 0
        ? undefined
        : this.sent.subarray(Math.max(0, this.sent.length - window));
    const out = deflateRawSync(data, {
      finishFlush: zlibConstants.Z_SYNC_FLUSH,
      // zlib cannot compress with a 256-byte window; Huffman-only output has no back references
      // at all, so it honours any window limit.
      ...(bits < 9
        ? { windowBits: 9, strategy: zlibConstants.Z_HUFFMAN_ONLY }
        : { windowBits: bits, ...(dictionary !== undefined ? { dictionary } : {}) }),
    });
    if (!out.subarray(out.length - 4).equals(DEFLATE_TRAILER)) {
      throw new Error("a sync flush did not end with 00 00 ff ff");
    }
    if (!this.params.clientNoContextTakeover) this.sent = keepTail(this.sent, data);
    return out.subarray(0, out.length - 4);
  }

  /**
   * Inflates one compressed message from the server (its frames' payloads joined), with the
   * window and context the server agreed to.
   * @throws Error when the data is not valid for that window and context.
   */
  inflate(payload: Bytes): Buffer {
    const bits = this.params.serverMaxWindowBits;
    const dictionary =
      this.params.serverNoContextTakeover || this.received.length === 0
        ? undefined
        : this.received.subarray(Math.max(0, this.received.length - (1 << bits)));
    const out = inflateRawSync(Buffer.concat([toBuffer(payload), DEFLATE_TRAILER]), {
      finishFlush: zlibConstants.Z_SYNC_FLUSH,
      windowBits: bits,
      ...(dictionary !== undefined ? { dictionary } : {}),
    });
    if (!this.params.serverNoContextTakeover) this.received = keepTail(this.received, out);
    return out;
  }
}

/** Options for {@link RawClient.encodeMessage}. */
export interface MessageOptions {
  /** Compress with the agreed permessage-deflate and set RSV1. Default: whenever it was agreed. */
  compress?: boolean;
  /** Cut the (compressed) payload into frames of at most this many bytes. Default: one frame. */
  fragmentSize?: number;
}

/** A frame the server sent, parsed. */
export interface ReceivedFrame {
  fin: boolean;
  /** The three RSV bits as a number 0–7. */
  rsv: number;
  opcode: number;
  /** Whether the server masked it (a server MUST NOT, RFC 6455 §5.1); the payload is unmasked anyway. */
  masked: boolean;
  payload: Buffer;
  /** Milliseconds since the connection opened when the whole frame had arrived. */
  at: number;
  /**
   * On the last frame of a compressed message (RSV1 on its first frame, permessage-deflate
   * agreed): the whole message, inflated. Absent when it could not be inflated (a violation).
   */
  inflated?: Buffer;
}

/** A close frame received from the server. */
export interface CloseFrameInfo {
  /** The status code, or `undefined` when the payload was empty (or, invalidly, 1 byte). */
  code: number | undefined;
  reason: string;
  payload: Buffer;
  at: number;
}

/** How the TCP connection ended. */
export interface TcpEnd {
  /** Who ended it first: the server (FIN or RST from it) or this client (`end()`/`destroy()`). */
  by: "server" | "client";
  /** Whether it ended with a reset (ECONNRESET, EPIPE) rather than an orderly FIN. */
  reset: boolean;
  /** The socket error, if any. */
  error: Error | undefined;
  /** Milliseconds since the connection opened when it ended first. */
  at: number;
}

/** The handshake response. */
export interface HandshakeResponse {
  status: number;
  statusText: string;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Record<string, string>;
}

/** Thrown by {@link RawClient.connect} when the server does not answer with a valid `101`. */
export class HandshakeError extends Error {
  constructor(
    message: string,
    /** The status, or 0 when no complete response arrived. */
    readonly status: number,
    readonly headers: Record<string, string>,
    /** Whatever followed the headers (often a short error body). */
    readonly body: string,
  ) {
    super(message);
    this.name = "HandshakeError";
  }
}

/** Thrown when a wait runs out of time. */
export class RawClientTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what}: nothing within ${ms} ms`);
    this.name = "RawClientTimeoutError";
  }
}

/** Options for {@link RawClient.connect}. */
export interface ConnectOptions {
  /** Connect plus handshake deadline. Default: 5000 ms. */
  timeoutMs?: number;
  /** Extra request headers (e.g. `Origin`, `Sec-WebSocket-Protocol`); they override the defaults. */
  headers?: Record<string, string>;
  /**
   * Answer a server close frame with a close frame echoing its code, as RFC 6455 §5.5.1 asks
   * (only if this client has not sent one). Default: `true`.
   */
  replyToClose?: boolean;
  /** Answer server pings with pongs. Default: `false` (pings are only recorded). */
  autoPong?: boolean;
  /**
   * Offer these extensions (the `Sec-WebSocket-Extensions` value), e.g.
   * `"permessage-deflate; client_max_window_bits"`. The answer is checked against the offer
   * ({@link RawClient.extensionError}) and an agreed permessage-deflate is used
   * ({@link RawClient.deflate}). Default: no offer.
   */
  extensions?: string;
}

/** Options for {@link RawClient.send}. */
export interface SendOptions {
  /** Write the bytes in pieces of this many bytes, each with its own `write()`. */
  chop?: number;
  /** Wait this long between pieces (with `chop`) or between the buffers of an array. Default: 0. */
  delayMs?: number;
}

/** An incoming message assembled from data frames by {@link RawClient.nextMessage}. */
export interface ReceivedMessage {
  binary: boolean;
  payload: Buffer;
  /** How many frames carried it. */
  frames: number;
  /** Whether it came compressed (RSV1); `payload` is then the inflated message. */
  compressed: boolean;
}

/** Growable queue of incoming bytes that hands out exact slices. */
class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The first `n` bytes without consuming them (a copy only when they span chunks). */
  peek(n: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) return first.subarray(0, n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    for (const chunk of this.chunks) {
      const take = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, take);
      filled += take;
      if (filled === n) break;
    }
    return out;
  }

  /** Consumes and returns the first `n` bytes. */
  take(n: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) {
      this.length -= n;
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0];
      if (chunk === undefined) throw new Error("ByteQueue underflow");
      const take = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, take);
      filled += take;
      if (take === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(take);
    }
    this.length -= n;
    return out;
  }
}

function parseUrl(url: string): { host: string; port: number; path: string; hostHeader: string } {
  const u = new URL(url);
  if (u.protocol !== "ws:" && u.protocol !== "http:")
    throw new Error(`RawClient speaks ws:// only, not ${url}`);
  const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  const port = u.port === "" ? 80 : Number(u.port);
  return { host, port, path: `${u.pathname || "/"}${u.search}`, hostHeader: u.host };
}

function parseHead(head: string): HandshakeResponse {
  const lines = head.split("\r\n");
  const statusLine = lines.shift() ?? "";
  const match = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(statusLine);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: match ? Number(match[1]) : 0, statusText: match?.[2] ?? statusLine, headers };
}

/**
 * A WebSocket client that writes raw bytes and records what comes back. Every wait has a
 * timeout; nothing it does throws because the server closed the connection (writes after the
 * end are dropped and reported as `false`).
 */
export class RawClient {
  /** Every frame the server sent, in order (control frames included). */
  readonly frames: ReceivedFrame[] = [];
  /** The server's close frame, once one has arrived (the first one). */
  serverClose: CloseFrameInfo | undefined;
  /** The close frame this client sent through {@link sendClose} (or as a reply), if any. */
  clientClose: { payload: Buffer; at: number; reply: boolean } | undefined;
  /** Who sent the first close frame through the protocol (raw bytes written with `send` don't count). */
  closeInitiator: "client" | "server" | undefined;
  /** How the TCP connection ended, once it has. */
  tcpEnd: TcpEnd | undefined;
  /** Things the server did that RFC 6455 forbids of it (masked frames, RSV bits, bad control frames). */
  readonly violations: string[] = [];
  /** The agreed permessage-deflate, undefined when none was offered or the server declined. */
  readonly deflate: PerMessageDeflate | undefined;
  /**
   * Why the server's `Sec-WebSocket-Extensions` answer is one a client must fail the connection
   * for (an extension not offered, parameters that fit no offer); undefined when it is fine.
   */
  readonly extensionError: string | undefined;

  private readonly reader = new ByteQueue();
  private readonly listeners = new Set<() => void>();
  private cursor = 0;
  private socketClosed = false;
  /** The data message being received: whether it is compressed, and its payloads if so. */
  private incoming: { compressed: boolean; parts: Buffer[] } | undefined;
  private readonly closedPromise: Promise<TcpEnd>;

  private constructor(
    private readonly socket: Duplex,
    /** The handshake response. */
    readonly response: HandshakeResponse,
    /** `performance.now()` when the handshake completed. */
    readonly openedAt: number,
    private readonly options: Required<Pick<ConnectOptions, "replyToClose" | "autoPong">>,
    /** The extensions this client offered, if any. */
    readonly offeredExtensions?: string,
  ) {
    const agreed = checkDeflateResponse(offeredExtensions, response.headers["sec-websocket-extensions"]);
    this.deflate = agreed.params === undefined ? undefined : new PerMessageDeflate(agreed.params);
    this.extensionError = agreed.error;
    this.closedPromise = new Promise<TcpEnd>((resolve) => {
      socket.on("close", () => {
        this.socketClosed = true;
        // An HTTP/2 stream that closed with RST_STREAM (other than NO_ERROR) was reset.
        const rstCode = (socket as Partial<ClientHttp2Stream>).rstCode;
        this.markEnd(
          "server",
          rstCode !== undefined && rstCode !== http2Constants.NGHTTP2_NO_ERROR,
          undefined,
        );
        this.notify();
        resolve(this.tcpEnd as TcpEnd);
      });
    });
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("end", () => this.markEnd("server", false, undefined));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      const reset =
        error.code === "ECONNRESET" || error.code === "EPIPE" || error.code === "ERR_HTTP2_STREAM_ERROR";
      this.markEnd(reset ? "server" : "client", reset, error);
    });
  }

  /**
   * Opens a TCP connection to a `ws://` URL and performs the opening handshake.
   * @throws HandshakeError when the answer is not a `101` with the right `Sec-WebSocket-Accept`.
   */
  static connect(url: string, options: ConnectOptions = {}): Promise<RawClient> {
    if (url.startsWith("h2c:")) return RawClient.connectH2(url, options);
    const { host, port, path, hostHeader } = parseUrl(url);
    const timeoutMs = options.timeoutMs ?? 5000;
    const key = randomBytes(16).toString("base64");
    const expectedAccept = createHash("sha1")
      .update(key + ACCEPT_GUID)
      .digest("base64");
    const headers: Record<string, string> = {
      Host: hostHeader,
      Upgrade: "websocket",
      Connection: "Upgrade",
      "Sec-WebSocket-Key": key,
      "Sec-WebSocket-Version": "13",
      ...(options.extensions !== undefined ? { "Sec-WebSocket-Extensions": options.extensions } : {}),
      ...options.headers,
    };
    const request =
      `GET ${path} HTTP/1.1\r\n` +
      Object.entries(headers)
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join("") +
      "\r\n";

    return new Promise<RawClient>((resolve, reject) => {
      const socket = netConnect({ host, port });
      socket.setNoDelay(true);
      let received = Buffer.alloc(0);
      const timer = setTimeout(
        () => fail(new RawClientTimeoutError(`handshake with ${url}`, timeoutMs)),
        timeoutMs,
      );
      const cleanup = (): void => {
        clearTimeout(timer);
        socket.removeListener("data", onData);
        socket.removeListener("error", fail);
        socket.removeListener("close", onClose);
      };
      function fail(error: Error): void {
        cleanup();
        socket.destroy();
        reject(error);
      }
      const onClose = (): void => {
        const text = received.toString("latin1");
        const end = text.indexOf("\r\n\r\n");
        const head = parseHead(end >= 0 ? text.slice(0, end) : text);
        fail(
          new HandshakeError(
            `connection closed during the handshake (status ${head.status})`,
            head.status,
            head.headers,
            end >= 0 ? text.slice(end + 4) : "",
          ),
        );
      };
      const onData = (chunk: Buffer): void => {
        received = Buffer.concat([received, chunk]);
        const end = received.indexOf("\r\n\r\n");
        if (end < 0) return;
        const response = parseHead(received.subarray(0, end).toString("latin1"));
        const rest = received.subarray(end + 4);
        if (response.status !== 101) {
          // Give a short body a moment to arrive, then report.
          setTimeout(
            () =>
              fail(
                new HandshakeError(
                  `expected 101, got ${response.status} ${response.statusText}`,
                  response.status,
                  response.headers,
                  received.subarray(end + 4).toString("utf8"),
                ),
              ),
            20,
          );
          socket.removeListener("data", onData);
          socket.on("data", (more: Buffer) => (received = Buffer.concat([received, more])));
          return;
        }
        if (response.headers["sec-websocket-accept"] !== expectedAccept) {
          fail(
            new HandshakeError(
              `bad Sec-WebSocket-Accept: ${response.headers["sec-websocket-accept"]} (expected ${expectedAccept})`,
              response.status,
              response.headers,
              "",
            ),
          );
          return;
        }
        cleanup();
        const client = new RawClient(
          socket,
          response,
          performance.now(),
          { replyToClose: options.replyToClose ?? true, autoPong: options.autoPong ?? false },
          headers["Sec-WebSocket-Extensions"],
        );
        if (rest.length > 0) client.onData(rest);
        resolve(client);
      };
      socket.on("data", onData);
      socket.on("error", fail);
      socket.on("close", onClose);
      socket.on("connect", () => socket.write(request));
    });
  }

  /**
   * Opens an HTTP/2 session to an `h2c://` URL with prior knowledge (RFC 9113 §3.3), waits for the
   * server's SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3: a client may not send an extended
   * CONNECT before), and opens the WebSocket as an extended CONNECT stream (RFC 8441 §4); the
   * answer must be `:status 200`. The session closes with the stream.
   * @throws HandshakeError when the server does not allow extended CONNECT or does not answer 200.
   */
  private static connectH2(url: string, options: ConnectOptions): Promise<RawClient> {
    const { host, port, path, hostHeader } = parseUrl(url.replace(/^h2c:/, "http:"));
    const timeoutMs = options.timeoutMs ?? 5000;
    const headers: Record<string, string> = {
      ":method": "CONNECT",
      ":protocol": "websocket",
      ":scheme": "http",
      ":authority": hostHeader,
      ":path": path,
      "sec-websocket-version": "13",
      ...(options.extensions !== undefined ? { "sec-websocket-extensions": options.extensions } : {}),
      ...Object.fromEntries(Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    };
    return new Promise<RawClient>((resolve, reject) => {
      const session = http2Connect(`http://${hostHeader}`, { host, port });
      session.on("error", () => {}); // reported through the stream, or as a failed handshake
      const timer = setTimeout(
        () => fail(new RawClientTimeoutError(`handshake with ${url}`, timeoutMs)),
        timeoutMs,
      );
      function fail(error: Error): void {
        clearTimeout(timer);
        // Not in the tick a reset stream closes in: Node's client can spin there (test/integration/http2.test.ts).
        setImmediate(() => session.destroy());
        reject(error);
      }
      const sessionClosed = (): void =>
        fail(new HandshakeError("the HTTP/2 session closed during the handshake", 0, {}, ""));
      session.once("close", sessionClosed);
      session.once("remoteSettings", (settings) => {
        if (settings.enableConnectProtocol !== true) {
          return fail(
            new HandshakeError("the server does not allow extended CONNECT (RFC 8441 §3)", 0, {}, ""),
          );
        }
        const stream = session.request(headers, { endStream: false });
        stream.on("error", () => {}); // the stream's end is recorded on close
        const streamClosed = (): void =>
          fail(
            new HandshakeError(
              `the stream closed during the handshake (RST_STREAM ${stream.rstCode})`,
              0,
              {},
              "",
            ),
          );
        stream.once("close", streamClosed);
        stream.once("response", (answer) => {
          const status = Number(answer[":status"]);
          const responseHeaders: Record<string, string> = {};
          for (const [name, value] of Object.entries(answer)) {
            if (!name.startsWith(":") && value !== undefined) responseHeaders[name] = String(value);
          }
          if (status !== 200) {
            let body = "";
            stream.setEncoding("utf8");
            stream.on("data", (chunk: string) => (body += chunk));
            stream.once("end", () =>
              fail(new HandshakeError(`expected 200, got ${status}`, status, responseHeaders, body)),
            );
            return;
          }
          clearTimeout(timer);
          session.off("close", sessionClosed);
          stream.off("close", streamClosed);
          stream.once("close", () => session.close());
          // As a TCP socket does by default (allowHalfOpen false), end our side when the server
          // has ended its own.
          stream.once("end", () => stream.end());
          resolve(
            new RawClient(
              stream,
              { status, statusText: "", headers: responseHeaders },
              performance.now(),
              { replyToClose: options.replyToClose ?? true, autoPong: options.autoPong ?? false },
              options.extensions,
            ),
          );
        });
      });
    });
  }

  /** Milliseconds since the handshake completed. */
  elapsed(): number {
    return performance.now() - this.openedAt;
  }

  /** Whether the socket can still be written to. */
  get writable(): boolean {
    return !this.socketClosed && this.tcpEnd === undefined && this.socket.writable;
  }

  /**
   * Writes bytes exactly as given. With `chop`, each piece goes out in its own `write()`, with
   * `delayMs` between pieces. An array of buffers is written in order, `delayMs` apart.
   * @returns `true` if everything was written, `false` if the connection ended first.
   */
  async send(bytes: Uint8Array | readonly Uint8Array[], options: SendOptions = {}): Promise<boolean> {
    const list = bytes instanceof Uint8Array ? [bytes] : bytes;
    const pieces: Buffer[] = [];
    for (const b of list) {
      if (options.chop !== undefined) pieces.push(...chop(b, options.chop));
      else pieces.push(toBuffer(b));
    }
    const delayMs = options.delayMs ?? 0;
    let last: Promise<boolean> = Promise.resolve(true);
    for (let i = 0; i < pieces.length; i++) {
      if (i > 0 && delayMs > 0) {
        if (!(await last)) return false;
        await sleep(delayMs);
      }
      if (!this.writable) return false;
      last = this.write(pieces[i] as Buffer);
    }
    return last;
  }

  /**
   * One message as masked frames, compressed with the agreed permessage-deflate unless
   * `compress` is false (RSV1 on the first frame only, RFC 7692 §6.1), cut into frames of
   * `fragmentSize` bytes of (compressed) payload. Compressing advances this client's context,
   * so messages must be sent in the order they are encoded.
   * @throws Error when asked to compress without an agreement.
   */
  encodeMessage(opcode: number, payload: Bytes, options: MessageOptions = {}): Buffer {
    const compress = options.compress ?? this.deflate !== undefined;
    if (compress && this.deflate === undefined) throw new Error("permessage-deflate was not agreed");
    const body = compress ? (this.deflate as PerMessageDeflate).compress(payload) : toBuffer(payload);
    const size = options.fragmentSize ?? 0;
    if (size <= 0 || body.length <= size) {
      return buildFrame({ opcode, payload: body, rsv: compress ? 4 : 0 });
    }
    const frames: Buffer[] = [];
    for (let i = 0; i < body.length; i += size) {
      frames.push(
        buildFrame({
          opcode: i === 0 ? opcode : Opcode.Continuation,
          payload: body.subarray(i, Math.min(i + size, body.length)),
          fin: i + size >= body.length,
          rsv: i === 0 && compress ? 4 : 0,
        }),
      );
    }
    return Buffer.concat(frames);
  }

  /** Encodes a message with {@link encodeMessage} and sends it. */
  sendMessage(opcode: number, payload: Bytes, options: MessageOptions & SendOptions = {}): Promise<boolean> {
    return this.send(this.encodeMessage(opcode, payload, options), options);
  }

  /** Builds a frame with {@link buildFrame} and sends it. */
  sendFrame(spec: FrameSpec, options?: SendOptions): Promise<boolean> {
    return this.send(buildFrame(spec), options);
  }

  /**
   * Starts (or answers) the closing handshake: sends a masked close frame with `code` and
   * `reason`, or with exactly `payload` (to send malformed close payloads). Recorded as this
   * client's close.
   */
  sendClose(close: { code?: number; reason?: Bytes } | { payload: Uint8Array } = {}): Promise<boolean> {
    const payload =
      "payload" in close ? toBuffer(close.payload) : encodeClosePayload(close.code, close.reason);
    return this.sendCloseFrame(payload, false);
  }

  /** Half-closes: sends FIN after pending writes. Marks the client as the side that ended TCP. */
  end(): void {
    this.markEnd("client", false, undefined);
    this.socket.end();
  }

  /** Drops the connection at once. Marks the client as the side that ended TCP. */
  destroy(): void {
    this.markEnd("client", false, undefined);
    this.socket.destroy();
  }

  /**
   * The next frame not yet returned by `nextFrame`/`pollFrame`/`nextMessage`.
   * @throws RawClientTimeoutError on timeout; Error if the connection closed first.
   */
  async nextFrame(timeoutMs = 5000): Promise<ReceivedFrame> {
    const frame = await this.pollFrame(timeoutMs);
    if (frame !== undefined) return frame;
    if (this.socketClosed) throw new Error("connection closed before the next frame");
    throw new RawClientTimeoutError("nextFrame", timeoutMs);
  }

  /** Like {@link nextFrame} but resolves `undefined` on timeout or when the connection has closed. */
  async pollFrame(timeoutMs = 5000): Promise<ReceivedFrame | undefined> {
    await this.waitFor(() => this.cursor < this.frames.length || this.socketClosed, timeoutMs);
    const frame = this.frames[this.cursor];
    if (frame !== undefined) this.cursor++;
    return frame;
  }

  /**
   * The next data message (fragments joined), skipping control frames.
   * @throws like {@link nextFrame}.
   */
  async nextMessage(timeoutMs = 5000): Promise<ReceivedMessage> {
    const deadline = performance.now() + timeoutMs;
    const parts: Buffer[] = [];
    let binary: boolean | undefined;
    let compressed = false;
    for (;;) {
      const frame = await this.nextFrame(Math.max(0, deadline - performance.now()));
      if (frame.opcode >= 0x8) continue;
      if (binary === undefined) {
        binary = frame.opcode === Opcode.Binary;
        compressed = this.deflate !== undefined && (frame.rsv & 4) !== 0;
      }
      parts.push(frame.payload);
      if (frame.fin) {
        const payload = compressed && frame.inflated !== undefined ? frame.inflated : Buffer.concat(parts);
        return { binary, payload, frames: parts.length, compressed };
      }
    }
  }

  /**
   * Waits until `predicate()` holds; it is checked now and after every incoming frame and
   * connection event. Resolves `true`, or `false` on timeout (never rejects).
   */
  waitFor(predicate: () => boolean, timeoutMs = 5000): Promise<boolean> {
    if (predicate()) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const check = (): void => {
        if (!predicate()) return;
        done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      const done = (value: boolean): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve(value);
      };
      this.listeners.add(check);
    });
  }

  /**
   * Waits for the TCP connection to close completely.
   * @throws RawClientTimeoutError if it is still open after `timeoutMs`.
   */
  async closed(timeoutMs = 5000): Promise<TcpEnd> {
    if (!(await this.waitFor(() => this.socketClosed, timeoutMs))) {
      throw new RawClientTimeoutError("closed", timeoutMs);
    }
    return this.closedPromise;
  }

  /** Whether the TCP connection has closed completely. */
  get isClosed(): boolean {
    return this.socketClosed;
  }

  private write(piece: Buffer): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      try {
        this.socket.write(piece, (error) => resolve(error === undefined || error === null));
      } catch {
        resolve(false);
      }
    });
  }

  private sendCloseFrame(payload: Buffer, reply: boolean): Promise<boolean> {
    if (this.clientClose === undefined) this.clientClose = { payload, at: this.elapsed(), reply };
    if (this.closeInitiator === undefined) this.closeInitiator = "client";
    if (!this.writable) return Promise.resolve(false);
    return this.write(buildFrame({ opcode: Opcode.Close, payload }));
  }

  private markEnd(by: "server" | "client", reset: boolean, error: Error | undefined): void {
    if (this.tcpEnd === undefined) this.tcpEnd = { by, reset, error, at: this.elapsed() };
    else if (error !== undefined && this.tcpEnd.error === undefined) {
      this.tcpEnd = { ...this.tcpEnd, error, reset: this.tcpEnd.reset || reset };
    }
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private onData(chunk: Buffer): void {
    this.reader.push(chunk);
    let parsed = false;
    for (;;) {
      const frame = this.parseFrame();
      if (frame === undefined) break;
      parsed = true;
      this.frames.push(frame);
      this.react(frame);
    }
    if (parsed) this.notify();
  }

  private parseFrame(): ReceivedFrame | undefined {
    const q = this.reader;
    if (q.length < 2) return undefined;
    const two = q.peek(2);
    const b0 = two[0] ?? 0;
    const b1 = two[1] ?? 0;
    const masked = (b1 & 0x80) !== 0;
    const len7 = b1 & 0x7f;
    const extra = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    const headerLength = 2 + extra + (masked ? 4 : 0);
    if (q.length < headerLength) return undefined;
    const header = q.peek(headerLength);
    let length = len7;
    if (len7 === 126) length = header.readUInt16BE(2);
    else if (len7 === 127) {
      const big = header.readBigUInt64BE(2);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
        this.violations.push(`server frame length ${big} is not a safe integer`);
        this.destroy();
        return undefined;
      }
      length = Number(big);
    }
    if (q.length < headerLength + length) return undefined;
    q.take(headerLength);
    const payload = Buffer.from(q.take(length));
    if (masked) applyMask(payload, header.subarray(headerLength - 4, headerLength));
    return {
      fin: (b0 & 0x80) !== 0,
      rsv: (b0 >> 4) & 0x7,
      opcode: b0 & 0xf,
      masked,
      payload,
      at: this.elapsed(),
    };
  }

  /** RSV rules (RFC 6455 §5.2, RFC 7692 §6.1), and inflation of a compressed message's last frame. */
  private checkRsvAndInflate(frame: ReceivedFrame, i: number): void {
    const deflate = this.deflate;
    const rsv1 = (frame.rsv & 4) !== 0;
    if (deflate === undefined || (frame.rsv & 3) !== 0) {
      if (frame.rsv !== 0) this.violations.push(`frame ${i}: RSV bits ${frame.rsv} set without an extension`);
    } else if (rsv1 && frame.opcode >= 0x8) {
      this.violations.push(`frame ${i}: RSV1 on a control frame (RFC 7692 §6.1)`);
    } else if (rsv1 && frame.opcode === Opcode.Continuation) {
      this.violations.push(`frame ${i}: RSV1 on a continuation frame (RFC 7692 §6.1)`);
    }
    if (frame.opcode === Opcode.Text || frame.opcode === Opcode.Binary) {
      const compressed = deflate !== undefined && rsv1;
      this.incoming = { compressed, parts: compressed ? [frame.payload] : [] };
    } else if (frame.opcode === Opcode.Continuation && this.incoming?.compressed) {
      this.incoming.parts.push(frame.payload);
    } else if (frame.opcode !== Opcode.Continuation) {
      return;
    }
    const incoming = this.incoming;
    if (!frame.fin || incoming === undefined) return;
    this.incoming = undefined;
    if (!incoming.compressed || deflate === undefined) return;
    try {
      frame.inflated = deflate.inflate(
        incoming.parts.length === 1 ? (incoming.parts[0] as Buffer) : Buffer.concat(incoming.parts),
      );
    } catch (error) {
      this.violations.push(
        `frame ${i}: a compressed message that does not inflate: ${(error as Error).message}`,
      );
    }
  }

  private react(frame: ReceivedFrame): void {
    const i = this.frames.length - 1;
    if (frame.masked) this.violations.push(`frame ${i}: server frames MUST NOT be masked (RFC 6455 §5.1)`);
    this.checkRsvAndInflate(frame, i);
    if (frame.opcode >= 0x8) {
      if (!frame.fin) this.violations.push(`frame ${i}: fragmented control frame`);
      if (frame.payload.length > 125) this.violations.push(`frame ${i}: control frame payload > 125`);
    }
    if (frame.opcode === Opcode.Close && this.serverClose === undefined) {
      const p = frame.payload;
      if (p.length === 1) this.violations.push(`frame ${i}: close frame with a 1-byte payload`);
      this.serverClose = {
        code: p.length >= 2 ? p.readUInt16BE(0) : undefined,
        reason: p.length > 2 ? p.subarray(2).toString("utf8") : "",
        payload: p,
        at: frame.at,
      };
      if (this.closeInitiator === undefined) this.closeInitiator = "server";
      if (this.options.replyToClose && this.clientClose === undefined) {
        void this.sendCloseFrame(p.length >= 2 ? p.subarray(0, 2) : Buffer.alloc(0), true);
      }
    } else if (frame.opcode === Opcode.Ping && this.options.autoPong && this.clientClose === undefined) {
      void this.write(buildFrame({ opcode: Opcode.Pong, payload: frame.payload }));
    }
  }
}
