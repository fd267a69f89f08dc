/**
 * A WebSocket client over HTTP/2 (RFC 8441) for tests, on Node's own `http2.connect`: it opens
 * an extended CONNECT stream (`:method CONNECT`, `:protocol websocket`, which Node's client sends
 * once the server's SETTINGS enable it), then speaks masked WebSocket frames in the stream's DATA
 * and records what the server does: every frame, the close frame, the server's END_STREAM and
 * how the stream ended (its RST_STREAM code). It answers pings and the server's close frame as
 * RFC 6455 asks unless told not to, and offers permessage-deflate when asked (with the
 * synchronous client side of `raw-client.ts`).
 *
 * @example
 * ```ts
 * const session = await h2Session("https://127.0.0.1:8443", cert);
 * const ws = await H2WebSocket.open(session, "/echo");
 * ws.sendMessage("text", "hello");
 * (await ws.nextMessage()).text;     // "hello"
 * ws.close(1000);
 * await ws.closed();                 // { rstCode: 0, serverEnded: true, … }
 * ```
 * @module
 */
import { EventEmitter } from "node:events";
import http2, {
  constants,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from "node:http2";
import {
  Opcode,
  PerMessageDeflate,
  buildClose,
  buildFrame,
  checkDeflateResponse,
  toBuffer,
  type Bytes,
} from "./raw-client.js";
import { withTimeout } from "./timeout.js";

/** Longest wait for one event, in ms. */
export const H2_WAIT = 10_000;

/**
 * Resolves once `probe()` holds, checked every few milliseconds: for a state no event announces
 * (a stream the server stopped reading). A hang guard bounds it; nothing here measures time.
 */
export function until(probe: () => boolean, label: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const met = new Promise<void>((resolve) => {
    const check = (): void => {
      if (probe()) resolve();
      else timer = setTimeout(check, 5);
    };
    check();
  });
  return withTimeout(met, H2_WAIT, label).finally(() => clearTimeout(timer));
}

/** Opens an HTTP/2 session to `origin` trusting `ca`, and resolves once the server's SETTINGS came. */
export async function h2Session(origin: string, ca: Buffer): Promise<ClientHttp2Session> {
  const session = http2.connect(origin, { ca });
  session.on("error", () => {});
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      session.once("remoteSettings", () => resolve());
      session.once("error", reject);
    }),
    H2_WAIT,
    `HTTP/2 session to ${origin}`,
  );
  return session;
}

/** The answer to a request on one stream. */
export interface H2Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The stream's RST_STREAM code once closed (0: NO_ERROR). */
  readonly rstCode: number;
}

/**
 * Sends a request and waits for the stream to close: its status, headers, body and RST code.
 * A CONNECT is sent without END_STREAM, as a tunnel would be.
 */
export async function h2Exchange(
  session: ClientHttp2Session,
  headers: OutgoingHttpHeaders,
  label = "HTTP/2 exchange",
): Promise<H2Answer> {
  const stream = session.request(headers, { endStream: headers[":method"] !== "CONNECT" });
  stream.on("error", () => {});
  let status = 0;
  let answer: IncomingHttpHeaders = {};
  const chunks: Buffer[] = [];
  stream.on("response", (received) => {
    answer = received;
    status = Number(received[":status"]);
  });
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  // A CONNECT's answer ends the server's half; ours is ended in turn, if the server does not
  // reset the stream first.
  stream.on("end", () => {
    if (!stream.destroyed) stream.end();
  });
  await withTimeout(new Promise<void>((resolve) => stream.once("close", resolve)), H2_WAIT, label);
  return {
    status,
    headers: answer,
    body: Buffer.concat(chunks).toString("utf8"),
    rstCode: stream.rstCode ?? -1,
  };
}

/** Refused: the answer was not `:status 200`. */
export class H2Refused extends Error {
  constructor(
    readonly status: number,
    readonly headers: IncomingHttpHeaders,
    readonly body: string,
  ) {
    super(`the extended CONNECT was answered ${status}: ${body}`);
    this.name = "H2Refused";
  }
}

/** A frame from the server. */
export interface H2Frame {
  readonly fin: boolean;
  readonly rsv: number;
  readonly opcode: number;
  readonly masked: boolean;
  readonly payload: Buffer;
}

/** A message from the server, reassembled (and inflated) from its frames. */
export type H2Message = { readonly text: string } | { readonly data: Buffer };

/** How the stream ended. */
export interface H2End {
  /** RST_STREAM code (0 when it closed without a reset, or with NO_ERROR). */
  readonly rstCode: number;
  /** The server ended its half (END_STREAM) before the stream closed. */
  readonly serverEnded: boolean;
}

/** How a connection is opened. */
export interface H2OpenOptions {
  readonly protocols?: readonly string[];
  /** The `sec-websocket-extensions` offer. */
  readonly extensions?: string;
  /** More request header fields (they override the defaults). */
  readonly headers?: OutgoingHttpHeaders;
  /** Answer pings with pongs (default true). */
  readonly autoPong?: boolean;
  /** Answer the server's close frame, and end our half once both close frames crossed (default true). */
  readonly replyToClose?: boolean;
}

/** The client side of a WebSocket on an HTTP/2 stream. */
export class H2WebSocket {
  readonly frames: H2Frame[] = [];
  /** Things the server did that RFC 6455 forbids (masked frames…). */
  readonly violations: string[] = [];
  serverClose: { code: number | undefined; reason: string } | undefined;
  closeSent = false;
  serverEnded = false;
  readonly deflate: PerMessageDeflate | undefined;
  /** When set, messages go here instead of the queue {@link nextMessage} reads. */
  onmessage: ((message: H2Message) => void) | undefined = undefined;
  readonly #events = new EventEmitter().setMaxListeners(0);
  readonly #messages: H2Message[] = [];
  readonly #pings: Buffer[] = [];
  readonly #pongs: Buffer[] = [];
  #chunks: Buffer[] = [];
  #buffered = 0;
  #fragments: { opcode: number; compressed: boolean; parts: Buffer[] } | undefined;
  #end: H2End | undefined;
  readonly #autoPong: boolean;
  readonly #replyToClose: boolean;

  private constructor(
    readonly session: ClientHttp2Session,
    readonly stream: ClientHttp2Stream,
    readonly response: IncomingHttpHeaders,
    offer: string | undefined,
    options: H2OpenOptions,
  ) {
    this.#autoPong = options.autoPong ?? true;
    this.#replyToClose = options.replyToClose ?? true;
    const agreed = checkDeflateResponse(offer, one(response["sec-websocket-extensions"]));
    if (agreed.error !== undefined) this.violations.push(agreed.error);
    this.deflate = agreed.params === undefined ? undefined : new PerMessageDeflate(agreed.params);
    stream.on("data", (chunk: Buffer) => this.#receive(chunk));
    stream.on("end", () => {
      this.serverEnded = true;
      this.#changed();
    });
    stream.on("close", () => {
      this.#end = { rstCode: stream.rstCode ?? 0, serverEnded: this.serverEnded };
      this.#changed();
    });
  }

  /**
   * Opens a WebSocket at `path` on `session` with an extended CONNECT.
   * @throws H2Refused when the answer is not `:status 200`.
   */
  static async open(
    session: ClientHttp2Session,
    path: string,
    options: H2OpenOptions = {},
  ): Promise<H2WebSocket> {
    const headers: OutgoingHttpHeaders = {
      ":method": "CONNECT",
      ":protocol": "websocket",
      ":path": path,
      "sec-websocket-version": "13",
      ...(options.protocols !== undefined && options.protocols.length > 0
        ? { "sec-websocket-protocol": options.protocols.join(", ") }
        : {}),
      ...(options.extensions !== undefined ? { "sec-websocket-extensions": options.extensions } : {}),
      ...options.headers,
    };
    const stream = session.request(headers, { endStream: false });
    stream.on("error", () => {});
    const response = await withTimeout(
      new Promise<IncomingHttpHeaders>((resolve, reject) => {
        stream.once("response", resolve);
        stream.once("close", () =>
          reject(new Error(`the stream closed before an answer (RST ${stream.rstCode})`)),
        );
      }),
      H2_WAIT,
      `extended CONNECT ${path}`,
    );
    const status = Number(response[":status"]);
    if (status !== 200) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      await withTimeout(
        new Promise<void>((resolve) => {
          stream.once("end", resolve);
          stream.once("close", resolve);
        }),
        H2_WAIT,
        "the body of a refusal",
      );
      if (!stream.destroyed) stream.close(constants.NGHTTP2_NO_ERROR);
      throw new H2Refused(status, response, Buffer.concat(chunks).toString("utf8"));
    }
    return new H2WebSocket(session, stream, response, options.extensions, options);
  }

  /** The subprotocol the server selected, "" for none. */
  get protocol(): string {
    return one(this.response["sec-websocket-protocol"]) ?? "";
  }

  /** The extensions the server agreed to. */
  get extensions(): string {
    return one(this.response["sec-websocket-extensions"]) ?? "";
  }

  /** Writes raw bytes on the stream (false once it cannot be written). */
  send(bytes: Uint8Array): boolean {
    if (this.stream.destroyed || this.stream.writableEnded) return false;
    this.stream.write(bytes);
    return true;
  }

  /** Sends a message, compressed when permessage-deflate was agreed (unless `compress` is false), in `fragments` frames. */
  sendMessage(
    kind: "text" | "binary",
    data: Bytes,
    options: { compress?: boolean; fragments?: number } = {},
  ): void {
    const compress = this.deflate !== undefined && options.compress !== false;
    const payload = compress ? this.deflate!.compress(data) : toBuffer(data);
    const count = Math.max(1, options.fragments ?? 1);
    const size = Math.ceil(payload.length / count);
    for (let i = 0; i < count; i++) {
      this.send(
        buildFrame({
          opcode: i === 0 ? (kind === "text" ? Opcode.Text : Opcode.Binary) : Opcode.Continuation,
          payload: payload.subarray(i * size, Math.min(payload.length, (i + 1) * size)),
          fin: i === count - 1,
          rsv: i === 0 && compress ? 4 : 0,
        }),
      );
    }
  }

  /** Sends a ping and resolves with the payload of the next pong. */
  ping(payload: Bytes = ""): Promise<Buffer> {
    this.send(buildFrame({ opcode: Opcode.Ping, payload }));
    return this.#next(this.#pongs, "pong");
  }

  /** The payload of the next ping from the server. */
  nextPing(): Promise<Buffer> {
    return this.#next(this.#pings, "ping");
  }

  /** The next message from the server. */
  nextMessage(label = "next message"): Promise<H2Message> {
    return this.#next(this.#messages, label);
  }

  /** Sends a close frame (no code: an empty one). */
  close(code?: number, reason = ""): void {
    if (this.closeSent) return;
    this.closeSent = true;
    this.send(buildClose(code, reason));
    this.#maybeEnd();
  }

  /** Ends our half of the stream (END_STREAM). */
  end(): void {
    if (!this.stream.destroyed && !this.stream.writableEnded) this.stream.end();
  }

  /** Resets the stream (RST_STREAM CANCEL): the HTTP/2 form of a dropped connection. */
  cut(): void {
    if (!this.stream.destroyed) this.stream.close(constants.NGHTTP2_CANCEL);
  }

  /** Resolves once the stream has closed. */
  closed(label = "the stream closes"): Promise<H2End> {
    return this.waitFor(() => this.#end, label);
  }

  /** Resolves with `probe()`'s value once it is not undefined, re-checked on every event. */
  waitFor<R>(probe: () => R | undefined, label: string): Promise<R> {
    const now = probe();
    if (now !== undefined) return Promise.resolve(now);
    let listener: (() => void) | undefined;
    const met = new Promise<R>((resolve) => {
      listener = () => {
        const value = probe();
        if (value !== undefined) resolve(value);
      };
      this.#events.on("change", listener);
    });
    return withTimeout(met, H2_WAIT, label).finally(() => {
      if (listener !== undefined) this.#events.off("change", listener);
    });
  }

  #next<R>(queue: R[], label: string): Promise<R> {
    return this.waitFor(() => queue.shift(), label);
  }

  #changed(): void {
    this.#events.emit("change");
  }

  /** Both close frames crossed: our half ends (RFC 8441 §5's counterpart of the TCP close). */
  #maybeEnd(): void {
    if (this.#replyToClose && this.closeSent && this.serverClose !== undefined) this.end();
  }

  #receive(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    for (;;) {
      const frame = this.#parse();
      if (frame === undefined) break;
      this.frames.push(frame);
      this.#handle(frame);
    }
    this.#changed();
  }

  /** The next frame once all its bytes are here (the chunks are joined once per frame, not per chunk). */
  #parse(): H2Frame | undefined {
    if (this.#buffered < 2) return undefined;
    const head = this.#peek(Math.min(this.#buffered, 14));
    const masked = (head[1]! & 0x80) !== 0;
    let length = head[1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (head.length < 4) return undefined;
      length = head.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (head.length < 10) return undefined;
      length = Number(head.readBigUInt64BE(2));
      offset = 10;
    }
    if (masked && head.length < offset + 4) return undefined;
    const key = masked ? Buffer.from(head.subarray(offset, offset + 4)) : undefined;
    if (masked) offset += 4;
    if (this.#buffered < offset + length) return undefined;
    const input = this.#peek(this.#buffered);
    const payload = Buffer.from(input.subarray(offset, offset + length));
    if (key !== undefined) for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i % 4]!;
    const rest = input.subarray(offset + length);
    this.#chunks = rest.length === 0 ? [] : [rest];
    this.#buffered = rest.length;
    return {
      fin: (head[0]! & 0x80) !== 0,
      rsv: (head[0]! >> 4) & 7,
      opcode: head[0]! & 0xf,
      masked,
      payload,
    };
  }

  /** The first `n` buffered bytes (joining chunks only when they span several). */
  #peek(n: number): Buffer {
    const first = this.#chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const joined = Buffer.concat(this.#chunks, this.#buffered);
    this.#chunks = [joined];
    return joined.subarray(0, n);
  }

  #handle(frame: H2Frame): void {
    if (frame.masked) this.violations.push("a masked frame from the server");
    switch (frame.opcode) {
      case Opcode.Ping:
        this.#pings.push(frame.payload);
        if (this.#autoPong && !this.closeSent)
          this.send(buildFrame({ opcode: Opcode.Pong, payload: frame.payload }));
        return;
      case Opcode.Pong:
        this.#pongs.push(frame.payload);
        return;
      case Opcode.Close: {
        const code = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : undefined;
        const reason = frame.payload.subarray(2).toString("utf8");
        this.serverClose = { code, reason };
        if (this.#replyToClose && !this.closeSent) {
          this.closeSent = true;
          this.send(buildClose(code, reason));
        }
        this.#maybeEnd();
        return;
      }
      case Opcode.Text:
      case Opcode.Binary:
        this.#fragments = { opcode: frame.opcode, compressed: (frame.rsv & 4) !== 0, parts: [frame.payload] };
        break;
      case Opcode.Continuation:
        this.#fragments?.parts.push(frame.payload);
        break;
      default:
        this.violations.push(`opcode ${frame.opcode} from the server`);
        return;
    }
    if (!frame.fin || this.#fragments === undefined) return;
    const { opcode, compressed, parts } = this.#fragments;
    this.#fragments = undefined;
    let payload: Buffer = Buffer.concat(parts);
    if (compressed) {
      if (this.deflate === undefined) {
        this.violations.push("a compressed message without permessage-deflate");
        return;
      }
      payload = this.deflate.inflate(payload);
    }
    const message = opcode === Opcode.Text ? { text: payload.toString("utf8") } : { data: payload };
    if (this.onmessage !== undefined) this.onmessage(message);
    else this.#messages.push(message);
  }
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(", ") : value;
}
