/**
 * The compressed path under fuzzing (issue 16): plans of permessage-deflate messages — valid,
 * truncated, corrupted, bombs, invalid UTF-8, uncompressed ones between them, fragmented, with
 * control frames between the fragments — turned into client byte streams compressed with context
 * takeover, as browsers do; and the checks, on the protocol core driven with the Node inflater
 * (as the wire drives it), and on a live server. Shared by `npm test` and `npm run fuzz`.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { constants, createDeflateRaw, type DeflateRaw } from "node:zlib";
import fc from "fast-check";
import { WebSocket } from "ws";
import { handshake, serve, type Server } from "../../src/index.js";
import { MessageInflater } from "../../src/adapters/node/zlib.js";
import { ProtocolConnection } from "../../src/protocol/connection.js";
import { InternalError, ProtocolError } from "../../src/protocol/errors.js";
import { Opcode } from "../../src/protocol/opcodes.js";
import { isValidReceivedCloseCode } from "../../src/protocol/close-codes.js";
import type { ProtocolEvent } from "../../src/protocol/events.js";
import { clientFrame, concatBytes, decodeServerFrames } from "../helpers/frames.js";

/** The limit both targets use; bombs inflate far past it. */
export const MAX_PAYLOAD = 4096;
const FAIL_CODES = new Set([1002, 1007, 1009]);

/** What is done to a message's compressed bytes. */
type Damage =
  | { kind: "none" }
  | { kind: "truncate"; at: number }
  | { kind: "flip"; at: number; bit: number }
  | { kind: "garbage"; bytes: Uint8Array };

/** One message of a plan. */
export interface PlannedMessage {
  readonly binary: boolean;
  /** The message's bytes (text: valid UTF-8 unless refused with 1007); for a bomb, see `bomb`. */
  readonly content: Uint8Array;
  /** A bomb: the message is this many bytes of one value (made when the plan is sent). */
  readonly bomb?: number;
  readonly compress: boolean;
  readonly damage: Damage;
  /** Number of frames the payload is cut into (1: unfragmented). */
  readonly fragments: number;
  /** A ping after each of these fragment indexes (before the next fragment). */
  readonly pings: readonly number[];
  /** Known to be refused: a bomb (1009) or invalid text (1007). */
  readonly expect?: "1009" | "1007";
}

const text = fc
  .tuple(fc.string({ maxLength: 40, unit: "grapheme" }), fc.integer({ min: 1, max: 60 }))
  .map(([s, n]) => new TextEncoder().encode(s.repeat(n)));
const bytes = fc.oneof(
  fc.uint8Array({ maxLength: 600 }),
  fc
    .tuple(fc.uint8Array({ minLength: 1, maxLength: 16 }), fc.integer({ min: 1, max: 200 }))
    .map(([b, n]) => concatBytes(...Array.from({ length: n }, () => b))),
);
const damage: fc.Arbitrary<Damage> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: "none" } as const) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("garbage" as const),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }),
    }),
  },
);
const framing = fc.record({
  fragments: fc.integer({ min: 1, max: 4 }),
  pings: fc.array(fc.nat(3), { maxLength: 3 }),
});

const message: fc.Arbitrary<PlannedMessage> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .record({ binary: fc.boolean(), text, bytes, compress: fc.boolean(), damage, framing })
      .map(({ binary, text, bytes, compress, damage, framing }) => ({
        binary,
        content: binary ? bytes : text,
        compress,
        damage: compress ? damage : { kind: "none" as const },
        ...framing,
      })),
  },
  {
    weight: 1,
    // A bomb: far more output than the limit from a few hundred bytes.
    arbitrary: fc
      .record({ binary: fc.boolean(), size: fc.integer({ min: MAX_PAYLOAD + 1, max: 1 << 20 }), framing })
      .map(({ binary, size, framing }) => ({
        binary,
        content: new Uint8Array(0),
        bomb: size,
        compress: true,
        damage: { kind: "none" as const },
        expect: "1009" as const,
        ...framing,
      })),
  },
  {
    weight: 1,
    // Invalid UTF-8 once inflated.
    arbitrary: fc
      .record({
        prefix: text,
        bad: fc.constantFrom([0xc0], [0xff], [0xed, 0xa0, 0x80], [0xe2, 0x82]),
        framing,
      })
      .map(({ prefix, bad, framing }) => ({
        binary: false,
        content: concatBytes(prefix.subarray(0, 1000), new Uint8Array(bad)),
        compress: true,
        damage: { kind: "none" as const },
        expect: "1007" as const,
        ...framing,
      })),
  },
);

/** A plan: some messages, then perhaps a close frame. */
export const compressedPlan = fc.record({
  messages: fc.array(message, { minLength: 1, maxLength: 8 }),
  close: fc.boolean(),
});
export type CompressedPlan = { messages: PlannedMessage[]; close: boolean };

/** Compresses one message on the client's stream (context takeover), without the trailer. */
async function deflateOn(stream: DeflateRaw, content: Uint8Array): Promise<Uint8Array> {
  const out: Buffer[] = [];
  const onData = (chunk: Buffer): number => out.push(chunk);
  stream.on("data", onData);
  stream.write(content);
  await new Promise<void>((resolve) => stream.flush(constants.Z_SYNC_FLUSH, () => resolve()));
  stream.off("data", onData);
  const all = Buffer.concat(out);
  return all.subarray(0, all.length - 4);
}

function damaged(payload: Uint8Array, damage: Damage): Uint8Array {
  if (damage.kind === "none" || payload.length === 0) return payload;
  if (damage.kind === "truncate") return payload.subarray(0, damage.at % payload.length);
  if (damage.kind === "garbage") return concatBytes(payload, damage.bytes);
  const out = payload.slice();
  const at = damage.at % out.length;
  out[at] = out[at]! ^ (1 << damage.bit);
  return out;
}

/**
 * The client's byte stream for a plan, and what must be delivered: the messages before the first
 * damaged or refused one, and, if that one is refused, the code it is refused with.
 */
export async function planBytes(
  plan: CompressedPlan,
): Promise<{ bytes: Uint8Array; delivered: PlannedMessage[]; refused?: "1009" | "1007" }> {
  const deflater = createDeflateRaw({ windowBits: 15 });
  const frames: Uint8Array[] = [];
  const delivered: PlannedMessage[] = [];
  let stopped = false;
  let refused: "1009" | "1007" | undefined;
  try {
    for (const m of plan.messages) {
      const content = m.bomb === undefined ? m.content : new Uint8Array(m.bomb).fill(m.binary ? 0 : 0x61);
      const payload = m.compress ? damaged(await deflateOn(deflater, content), m.damage) : content;
      if (!stopped) {
        if (m.expect !== undefined) {
          stopped = true;
          refused = m.expect;
        } else if (m.damage.kind !== "none") stopped = true;
        else delivered.push(m);
      }
      const size = Math.ceil(payload.length / m.fragments);
      for (let i = 0; i < m.fragments; i++) {
        const piece = payload.subarray(i * size, (i + 1) * size);
        const last = i === m.fragments - 1;
        frames.push(
          clientFrame(i === 0 ? (m.binary ? Opcode.Binary : Opcode.Text) : Opcode.Continuation, piece, {
            fin: last,
            rsv1: i === 0 && m.compress,
          }),
        );
        if (!last && m.pings.includes(i)) frames.push(clientFrame(Opcode.Ping, "p"));
      }
    }
  } finally {
    deflater.close();
  }
  if (plan.close) frames.push(clientFrame(Opcode.Close, new Uint8Array([0x03, 0xe8])));
  return { bytes: concatBytes(...frames), delivered, ...(refused === undefined ? {} : { refused }) };
}

function sameContent(event: ProtocolEvent | undefined, m: PlannedMessage): boolean {
  if (m.binary) return event?.type === "binary" && Buffer.from(event.data).equals(m.content);
  return event?.type === "text" && event.text === new TextDecoder().decode(m.content);
}

/**
 * Drives a fresh protocol core with the pieces and inflates as the wire does (input held while a
 * message inflates; with `eager`, every piece arrives before any inflation finishes). Checks what
 * the uncompressed fuzzers check — only ProtocolErrors, at most one close or failure and nothing
 * after it, codes 1002/1007/1009, well-formed server frames, the close frame last — and that the
 * messages before the first damaged or refused one are delivered exactly, in order, and a
 * refused one fails with its code.
 */
export async function checkCompressedCore(
  pieces: readonly Uint8Array[],
  expected: Awaited<ReturnType<typeof planBytes>>,
  eager: boolean,
): Promise<void> {
  const conn = new ProtocolConnection({ maxPayload: MAX_PAYLOAD, maxFragments: 64, compression: true });
  const inflater = new MessageInflater(15, true);
  const events: ProtocolEvent[] = [];
  let pending: Promise<void> | null = null;
  const pump = (): void => {
    for (let e = conn.nextEvent(); e !== undefined; e = conn.nextEvent()) {
      if (e.type !== "compressed") {
        events.push(e);
        continue;
      }
      const data = e.data;
      pending = new Promise<void>((resolve) =>
        inflater.inflate(data, conn, (error) => {
          if (error !== undefined) conn.inflateFailed(error instanceof InternalError ? error : undefined);
          else conn.inflatedEnd();
          pump();
          resolve();
        }),
      );
    }
  };
  const settle = async (): Promise<void> => {
    while (pending !== null) {
      const current: Promise<void> = pending;
      pending = null;
      await current;
    }
  };
  try {
    for (const piece of pieces) {
      conn.receive(piece);
      pump();
      if (!eager) await settle();
    }
    await settle();
  } finally {
    inflater.release();
  }
  const terminal = events.findIndex((e) => e.type === "close" || e.type === "fail");
  if (terminal !== -1) assert.equal(terminal, events.length - 1, "nothing after close or failure");
  const last = events.at(-1);
  if (last?.type === "fail") {
    assert.ok(last.error instanceof ProtocolError, `a ProtocolError, got ${String(last.error)}`);
    assert.ok(FAIL_CODES.has(last.error.closeCode), `failure code ${last.error.closeCode}`);
  }
  const frames = decodeServerFrames(concatBytes(...conn.takeOutgoing()));
  const closes = frames.filter((f) => f.opcode === Opcode.Close);
  assert.ok(closes.length <= 1, "at most one close frame");
  if (closes.length === 1) assert.equal(frames.at(-1)!.opcode, Opcode.Close, "close frame last");
  assert.equal(conn.closeExpected(), terminal !== -1);

  const messages = events.filter((e) => e.type === "text" || e.type === "binary");
  expected.delivered.forEach((m, i) =>
    assert.ok(sameContent(messages[i], m), `message ${i} delivered as sent`),
  );
  if (expected.refused !== undefined) {
    assert.equal(messages.length, expected.delivered.length, "nothing delivered from the refused message on");
    assert.ok(last?.type === "fail", "the refused message fails the connection");
    assert.equal(String(last.error.closeCode), expected.refused);
  }
}

/** A live echo server with permessage-deflate, plus a bystander that must keep being served. */
export class CompressedLiveTarget {
  private constructor(
    readonly server: Server,
    private readonly bystander: WebSocket,
  ) {}

  static async start(): Promise<CompressedLiveTarget> {
    const handler = handshake(
      {
        onMessage({ channel, text, data }) {
          if (text !== undefined) void channel.sendText(text);
          else void channel.sendBinary(data);
        },
      },
      { maxPayload: MAX_PAYLOAD, maxFragments: 64, closeTimeout: 500, compression: true },
    );
    const server = await serve(handler, { port: 0 });
    const bystander = new WebSocket(server.url, { perMessageDeflate: true });
    await once(bystander, "open");
    return new CompressedLiveTarget(server, bystander);
  }

  /**
   * Sends one stream in pieces over a connection that agreed permessage-deflate and checks the
   * answer: a valid close code if any; RSV1 only on the first frame of a message; the messages
   * before the first damaged or refused one echoed in order (they inflate with our inflater);
   * a refused message closed with its code. Then the bystander must still be served.
   */
  async check(pieces: readonly Uint8Array[], expected: Awaited<ReturnType<typeof planBytes>>): Promise<void> {
    const socket = connect(this.server.port, "127.0.0.1");
    const received: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    socket.on("error", () => {});
    socket.on("end", () => socket.end());
    await once(socket, "connect");
    socket.write(
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
    );
    for (const piece of pieces) socket.write(piece);
    // The server closes TCP after a failure or a close frame; otherwise it has answered once the
    // pong to a ping sent last and the echoes expected are in (a pong may pass a compressing echo).
    socket.write(clientFrame(Opcode.Ping, "end of stream"));
    const answered = new Promise<void>((resolve) => {
      const look = (): void => {
        const all = Buffer.concat(received);
        const head = all.indexOf("\r\n\r\n");
        if (head === -1) return;
        const frames = decodeComplete(all.subarray(head + 4));
        if (frames.some((f) => f.opcode === Opcode.Close)) return resolve();
        const pong = frames.some(
          (f) => f.opcode === Opcode.Pong && Buffer.from(f.payload).toString() === "end of stream",
        );
        const echoes = frames.filter((f) => f.fin && f.opcode <= 2).length;
        if (pong && echoes >= expected.delivered.length) resolve();
      };
      socket.on("data", look);
      socket.on("close", () => resolve());
    });
    await Promise.race([answered, new Promise((resolve) => setTimeout(resolve, 2000))]);
    socket.destroy();
    const all = Buffer.concat(received);
    const head = all.indexOf("\r\n\r\n");
    assert.ok(head !== -1 && all.subarray(0, 12).toString() === "HTTP/1.1 101", "handshake answered");
    assert.match(all.subarray(0, head).toString(), /permessage-deflate/i);
    const frames = decodeComplete(all.subarray(head + 4));
    const close = frames.find((f) => f.opcode === Opcode.Close);
    if (close !== undefined && close.payload.length > 0) {
      assert.ok(close.payload.length >= 2, "a close payload holds a code");
      const code = (close.payload[0]! << 8) | close.payload[1]!;
      assert.ok(isValidReceivedCloseCode(code), `valid close code, got ${code}`);
      if (expected.refused !== undefined && pieces.length > 0) {
        assert.equal(String(code), expected.refused, "the refused message's code");
      }
    }
    let continuing = false;
    for (const f of frames) {
      assert.ok(
        f.rsv === 0 || (f.rsv === 4 && !continuing && (f.opcode === 1 || f.opcode === 2)),
        "RSV1 only on a first frame",
      );
      if (f.opcode === 1 || f.opcode === 2 || f.opcode === 0) continuing = !f.fin;
    }
    const echoed = await inflateEchoes(frames);
    const got = echoed.slice(0, expected.delivered.length);
    assert.equal(got.length, expected.delivered.length, "every message before the first bad one echoed");
    got.forEach((payload, i) => assert.ok(payload.equals(expected.delivered[i]!.content), `echo ${i}`));
    await this.bystanderEchoes();
  }

  private async bystanderEchoes(): Promise<void> {
    const token = `alive ${Math.random()} `.repeat(20);
    const echoed = new Promise<string>((resolve) =>
      this.bystander.once("message", (d) => resolve(String(d))),
    );
    this.bystander.send(token);
    const reply = await Promise.race([
      echoed,
      new Promise<string>((resolve) => setTimeout(() => resolve(""), 3000)),
    ]);
    assert.equal(reply, token, "the bystander connection is still served");
  }

  async stop(): Promise<void> {
    this.bystander.close();
    await this.server.close();
  }
}

type ServerFrame = ReturnType<typeof decodeServerFrames>[number];

/** The server's data messages, inflated where compressed (its context is kept across messages). */
async function inflateEchoes(frames: readonly ServerFrame[]): Promise<Buffer[]> {
  const inflater = new MessageInflater(15, true);
  const out: Buffer[] = [];
  let parts: Uint8Array[] = [];
  let compressed = false;
  try {
    for (const f of frames) {
      if (f.opcode !== 0 && f.opcode !== 1 && f.opcode !== 2) continue;
      if (f.opcode !== 0) compressed = f.rsv === 4;
      parts.push(f.payload);
      if (!f.fin) continue;
      const payload = Buffer.from(concatBytes(...parts));
      parts = [];
      if (!compressed) {
        out.push(payload);
        continue;
      }
      let space = new Uint8Array(1 << 16);
      let filled = 0;
      const sink = {
        inflateSpace: () => {
          if (filled === space.length) {
            const grown = new Uint8Array(space.length * 2);
            grown.set(space);
            space = grown;
          }
          return space.subarray(filled);
        },
        inflatedInto: (written: number) => ((filled += written), true),
      };
      const error = await new Promise<Error | undefined>((resolve) =>
        inflater.inflate(payload, sink, resolve),
      );
      assert.equal(error, undefined, "the server's compressed frames inflate");
      out.push(Buffer.from(space.subarray(0, filled)));
    }
  } finally {
    inflater.release();
  }
  return out;
}

function decodeComplete(bytes: Uint8Array): ServerFrame[] {
  for (let end = bytes.length; end >= 0; end--) {
    try {
      return decodeServerFrames(bytes.subarray(0, end));
    } catch {
      // a frame cut short at the end: try a shorter prefix
    }
  }
  return [];
}
