/**
 * The shape of a conformance case and the small vocabulary the case files are written in.
 *
 * A case is data: the steps the client performs (raw bytes to write, pauses, fail-fast
 * checkpoints, round trips) and what Autobahn would expect back: the ordered list of events
 * for OK (and, where Autobahn allows it, for NON-STRICT), and how the connection must close.
 * @module
 */
import { buildFrame, Opcode, toBuffer, type Bytes, type FrameSpec } from "../helpers/raw-client.js";

/** Autobahn's verdicts. */
export type Verdict = "OK" | "NON-STRICT" | "FAILED" | "UNIMPLEMENTED" | "INFORMATIONAL";

/** Something the client observed, in the order it happened (close frames are judged apart). */
export type Observed =
  | { kind: "message"; binary: boolean; payload: Buffer }
  | { kind: "ping"; payload: Buffer }
  | { kind: "pong"; payload: Buffer }
  /** A fail-fast checkpoint passed with the connection still open. */
  | { kind: "timeout"; label: string };

/** One thing the client does. */
export type Step =
  /** Write these bytes; with `chop`, in pieces of that size, `delayMs` apart. */
  | { kind: "send"; bytes: Buffer; chop?: number; delayMs?: number }
  /** Start the closing handshake with this close payload (counts as the client closing). */
  | { kind: "close"; payload: Buffer }
  /** Do nothing for a while. */
  | { kind: "pause"; ms: number }
  /**
   * Wait `ms`: if the server closes meanwhile, stop; otherwise record `timeout(label)` and go
   * on (Autobahn's `continueLater` in the fail-fast cases).
   */
  | { kind: "checkpoint"; label: string; ms: number }
  /** Wait until `count` events have been observed in total (round trips, category 9). */
  | { kind: "await"; count: number }
  /**
   * Send one message, encoded when the step runs: compressed with the permessage-deflate the
   * case negotiated (unless `compress` is false), its (compressed) payload cut into frames of
   * `fragmentSize` bytes (categories 12 and 13).
   */
  | MessageStep
  /** Send several messages (encoded as for `message`) in one write: pipelined. */
  | { kind: "messages"; items: readonly MessageStep[] };

/** A message to send, encoded when the step runs. */
export interface MessageStep {
  kind: "message";
  opcode: number;
  payload: Buffer;
  compress?: boolean;
  fragmentSize?: number;
}

/** How the connection must end (Autobahn's `expectedClose`). */
export interface CloseExpectation {
  /** Who must start the close: the client (the case went well) or the server (it failed the connection). */
  closedBy: "client" | "server";
  /** Acceptable codes in the server's close frame; a close frame without a code is accepted too. */
  codes: readonly number[];
  /** Whether both close frames must have been exchanged. */
  requireClean: boolean;
  /** A close by the wrong side fails the whole case (the UTF-8 cases: the server never noticed). */
  wrongEndpointFatal?: boolean;
}

/** What Autobahn expects of a case. */
export interface Expectation {
  /** The events for OK; a function for large payloads, built only when the case runs. */
  ok: readonly Observed[] | (() => readonly Observed[]);
  nonStrict?: readonly Observed[];
  close: CloseExpectation;
  /** The steps send their own close: the runner does not close after the events arrive. */
  suppressClose?: boolean;
  /** Behaviour is implementation-defined: reported, never judged. */
  informational?: boolean;
}

/** One conformance case. */
export interface ConformanceCase {
  /** Autobahn's id, e.g. "6.4.1"; extensions use sub-categories Autobahn does not have. */
  id: string;
  /** The leading number of the id. */
  category: number;
  /** Sub-category title. */
  group: string;
  description: string;
  expectation: string;
  /** Whether Autobahn has this case or it is our addition. */
  source: "autobahn" | "extension";
  /** What the client does; a function for large payloads, built only when the case runs. */
  steps: readonly Step[] | (() => readonly Step[]);
  expect: Expectation;
  /** How long to wait for the expected events (default: the runner's `eventTimeoutMs`). */
  timeoutMs?: number;
  /** Runs alone (large transfers). */
  heavy?: boolean;
  /**
   * Offer these extensions in the opening handshake (`Sec-WebSocket-Extensions`). The answer
   * must fit the offer (else FAILED); a server that declines makes the case UNIMPLEMENTED.
   */
  extensions?: string;
}

/** How long a fail-fast checkpoint waits (Autobahn waits 1 s; a server that fails fast answers in ms). */
export const CHECKPOINT_MS = 400;
/** Pause between frames sent "frame-wise". */
export const FRAME_PAUSE_MS = 10;

export const CLOSE_NORMAL = 1000;
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_INVALID_PAYLOAD = 1007;
export const CLOSE_TOO_BIG = 1009;

// ---- frames -------------------------------------------------------------------------------

/** A masked frame. */
export function frame(spec: FrameSpec): Buffer {
  return buildFrame(spec);
}
export const textFrame = (payload: Bytes, more: Partial<FrameSpec> = {}): Buffer =>
  buildFrame({ opcode: Opcode.Text, payload, ...more });
export const binaryFrame = (payload: Bytes, more: Partial<FrameSpec> = {}): Buffer =>
  buildFrame({ opcode: Opcode.Binary, payload, ...more });
export const contFrame = (payload: Bytes, more: Partial<FrameSpec> = {}): Buffer =>
  buildFrame({ opcode: Opcode.Continuation, payload, ...more });
export const pingFrame = (payload: Bytes = "", more: Partial<FrameSpec> = {}): Buffer =>
  buildFrame({ opcode: Opcode.Ping, payload, ...more });
export const pongFrame = (payload: Bytes = "", more: Partial<FrameSpec> = {}): Buffer =>
  buildFrame({ opcode: Opcode.Pong, payload, ...more });

/** A message cut into data frames of at most `size` bytes (first text/binary, then continuations). */
export function fragments(opcode: number, payload: Bytes, size: number): Buffer[] {
  const bytes = toBuffer(payload);
  if (bytes.length === 0) return [buildFrame({ opcode, payload: bytes })];
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) {
    out.push(
      buildFrame({
        opcode: i === 0 ? opcode : Opcode.Continuation,
        payload: bytes.subarray(i, Math.min(i + size, bytes.length)),
        fin: i + size >= bytes.length,
      }),
    );
  }
  return out;
}

/** A message cut into data frames at the given payload offsets. */
export function splitAt(opcode: number, payload: Bytes, cuts: readonly number[]): Buffer[] {
  const bytes = toBuffer(payload);
  const bounds = [0, ...cuts, bytes.length];
  const out: Buffer[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    out.push(
      buildFrame({
        opcode: i === 0 ? opcode : Opcode.Continuation,
        payload: bytes.subarray(bounds[i] ?? 0, bounds[i + 1] ?? bytes.length),
        fin: i + 2 === bounds.length,
      }),
    );
  }
  return out;
}

// ---- steps --------------------------------------------------------------------------------

/** All frames in one write ("one chop"). */
export const send = (...frames: Buffer[]): Step => ({ kind: "send", bytes: Buffer.concat(frames) });
/** Each frame in its own write, {@link FRAME_PAUSE_MS} apart ("frame-wise chops"). */
export const sendFrameWise = (...frames: Buffer[]): Step[] =>
  frames.flatMap((bytes, i) => [
    ...(i > 0 ? [pause(FRAME_PAUSE_MS)] : []),
    { kind: "send", bytes } satisfies Step,
  ]);
/** All frames as one byte stream written in `size`-byte pieces ("octet-wise chops" for 1). */
export const sendChopped = (frames: Buffer[], size = 1, delayMs = 1): Step => ({
  kind: "send",
  bytes: Buffer.concat(frames),
  chop: size,
  delayMs,
});
export const pause = (ms: number): Step => ({ kind: "pause", ms });
/** One message, compressed with the negotiated permessage-deflate when the step runs. */
export const message = (
  opcode: number,
  payload: Bytes,
  more: { compress?: boolean; fragmentSize?: number } = {},
): MessageStep => ({ kind: "message", opcode, payload: toBuffer(payload), ...more });
/** Several messages in one write. */
export const pipelined = (...items: MessageStep[]): Step => ({ kind: "messages", items });
/** Wait until `count` events have been observed in all. */
export const awaitEvents = (count: number): Step => ({ kind: "await", count });
export const checkpoint = (label: string, ms = CHECKPOINT_MS): Step => ({ kind: "checkpoint", label, ms });
export const closeStep = (code?: number, reason?: Bytes): Step => ({
  kind: "close",
  payload: code === undefined ? toBuffer(reason) : Buffer.concat([u16(code), toBuffer(reason)]),
});
export const closeRaw = (payload: Buffer): Step => ({ kind: "close", payload });

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff, 0);
  return b;
}

// ---- observed events ----------------------------------------------------------------------

export const textMessage = (payload: Bytes): Observed => ({
  kind: "message",
  binary: false,
  payload: toBuffer(payload),
});
export const binaryMessage = (payload: Bytes): Observed => ({
  kind: "message",
  binary: true,
  payload: toBuffer(payload),
});
export const pong = (payload: Bytes = ""): Observed => ({ kind: "pong", payload: toBuffer(payload) });
export const timeout = (label: string): Observed => ({ kind: "timeout", label });

// ---- expectations -------------------------------------------------------------------------

/** The connection stays healthy: the client closes with 1000 and the close must be clean. */
export const cleanClientClose: CloseExpectation = {
  closedBy: "client",
  codes: [CLOSE_NORMAL],
  requireClean: true,
};

/** The server must fail the connection (close with one of `codes`, or just drop TCP). */
export function serverFails(codes: readonly number[] = [CLOSE_PROTOCOL_ERROR]): CloseExpectation {
  return { closedBy: "server", codes, requireClean: false };
}

/** Builds cases of one category with ids "<prefix>.<n>" numbered in order. */
export class CaseList {
  readonly cases: ConformanceCase[] = [];
  constructor(readonly category: number) {}

  add(c: Omit<ConformanceCase, "category" | "source"> & { source?: "autobahn" | "extension" }): void {
    this.cases.push({ ...c, category: this.category, source: c.source ?? "autobahn" });
  }
}
