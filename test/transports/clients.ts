/**
 * The WebSocket clients the behaviour suite drives from this Node process, each behind the
 * suite's {@link ClientUnderTest} interface: the `ws` package, and undici's `WebSocket` (the
 * WHATWG client behind Node's global `WebSocket`). A transport lists the ones that can reach it.
 *
 * What each can do differs, and says so in its `can`: `ws` sends fragments, raw text bytes, any
 * close code, cuts the TCP connection and compresses both ways when asked; undici follows the
 * browser API (whole messages, close codes 1000 and 3000–4999 only, no way to drop the
 * connection), always offers permessage-deflate and inflates what it receives, but never
 * compresses what it sends. The browser API has no ping either: undici's pings go out through
 * its `ping()` export and are observed on its diagnostics channels `undici:websocket:ping` and
 * `undici:websocket:pong`.
 *
 * Over HTTP/2 (RFC 8441), `h2Client(ca)` is a client of our own on Node's `http2.connect`
 * (`test/helpers/h2-client.ts`): every WebSocket on a session of its own, masked frames on an
 * extended CONNECT stream; it can do everything `ws` can, and its "cut" is RST_STREAM CANCEL.
 * @module
 */
import assert from "node:assert/strict";
import diagnosticsChannel from "node:diagnostics_channel";
import { WebSocket as WsSocket, type RawData } from "ws";
import { WebSocket as UndiciSocket, ping as undiciPing } from "undici";
import type { ClientHttp2Session } from "node:http2";
import { H2WebSocket, h2Session } from "../helpers/h2-client.js";
import {
  WAIT,
  within,
  type ClientPeer,
  type ClientUnderTest,
  type CloseSeen,
  type OpenOptions,
  type Received,
} from "./behaviour-suite.js";
import { Opcode, buildFrame } from "../helpers/raw-client.js";

/** The message queue and the close record every client wrapper shares. */
abstract class QueuedPeer {
  readonly log: string[] = [];
  readonly #queue: Received[] = [];
  readonly #waiters: Array<(message: Received) => void> = [];
  #sawClose: ((seen: CloseSeen) => void) | undefined;
  readonly #closed = new Promise<CloseSeen>((resolve) => (this.#sawClose = resolve));

  protected received(message: Received): void {
    this.log.push("text" in message ? "text" : "binary");
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter(message);
    else this.#queue.push(message);
  }

  protected sawClose(seen: CloseSeen): void {
    this.log.push("close");
    this.#sawClose?.(seen);
  }

  next(label = "next message"): Promise<Received> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return within(
      new Promise<Received>((resolve) => this.#waiters.push(resolve)),
      WAIT,
      `${label} (client log: ${this.log.slice(-5).join(", ")})`,
    );
  }

  async nextText(): Promise<string> {
    const message = await this.next();
    assert.ok("text" in message, "expected a text message, got binary");
    return message.text;
  }

  async nextBinary(): Promise<Buffer> {
    const message = await this.next();
    assert.ok("data" in message, "expected a binary message, got text");
    return message.data;
  }

  waitClosed(): Promise<CloseSeen> {
    return within(this.#closed, WAIT, `client close event (client log: ${this.log.join(", ")})`);
  }
}

function toBuffer(raw: RawData): Buffer {
  if (Buffer.isBuffer(raw)) return raw;
  if (Array.isArray(raw)) return Buffer.concat(raw);
  return Buffer.from(raw);
}

/** A `ws` client. */
class WsPeer extends QueuedPeer implements ClientPeer {
  readonly ws: WsSocket;

  constructor(ws: WsSocket) {
    super();
    this.ws = ws;
    ws.on("message", (raw: RawData, isBinary: boolean) => {
      const data = toBuffer(raw);
      this.received(isBinary ? { data } : { text: data.toString("utf8") });
    });
    // The EventTarget form of `close` is the one that reports wasClean.
    ws.addEventListener("close", (event) =>
      this.sawClose({ code: event.code, reason: event.reason, wasClean: event.wasClean }),
    );
    ws.on("error", (error) => this.log.push(`error: ${error.message}`));
  }

  get protocol(): string {
    return this.ws.protocol;
  }
  get extensions(): string {
    return this.ws.extensions;
  }
  sendText(text: string): void {
    this.ws.send(text);
  }
  sendBinary(data: Uint8Array): void {
    this.ws.send(data);
  }
  ping(payload: Uint8Array): Promise<Buffer> {
    const pong = within(new Promise<Buffer>((resolve) => this.ws.once("pong", resolve)), WAIT, "pong");
    this.ws.ping(payload);
    return pong;
  }
  nextPing(): Promise<Buffer> {
    return within(new Promise<Buffer>((resolve) => this.ws.once("ping", resolve)), WAIT, "ping");
  }
  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }
  sendFragments(kind: "text" | "binary", fragments: readonly Uint8Array[], between?: () => void): void {
    fragments.forEach((fragment, i) => {
      if (i === 1) between?.();
      this.ws.send(fragment, { binary: kind === "binary", fin: i === fragments.length - 1 });
    });
  }
  sendRawText(bytes: Uint8Array): void {
    // ws frames a Buffer sent with `binary: false` as text without checking its bytes.
    this.ws.send(bytes, { binary: false });
  }
  cut(): void {
    this.ws.terminate();
  }
}

/** The `ws` package; with `ca`, over TLS trusting exactly that certificate (HTTP/1.1 upgrades). */
function wsClientFor(name: string, ca?: Buffer): ClientUnderTest {
  return {
    name,
    can: {
      fragments: true,
      rawText: true,
      cut: true,
      anyCloseCode: true,
      echoesClose: "code and reason",
      deflate: { offers: "when asked", compresses: true },
    },
    async open(url: string, options: OpenOptions = {}): Promise<ClientPeer> {
      const ws = new WsSocket(url, options.protocols, {
        perMessageDeflate: options.deflate === true,
        ...(ca !== undefined ? { ca } : {}),
      });
      const peer = new WsPeer(ws);
      await within(
        new Promise<void>((resolve, reject) => {
          ws.once("open", () => resolve());
          ws.once("error", reject);
        }),
        WAIT,
        `open ${url}`,
      );
      return peer;
    },
  };
}

/** The `ws` package. */
export const wsClient: ClientUnderTest = wsClientFor("ws");

/** The `ws` package over TLS (`wss://`, HTTP/1.1), trusting exactly `ca`. */
export function wssClient(ca: Buffer): ClientUnderTest {
  return wsClientFor("ws over TLS (HTTP/1.1)", ca);
}

/** Resolves with the payload of the next ping or pong `ws` receives, seen on undici's diagnostics channel. */
function nextControl(kind: "ping" | "pong", ws: UndiciSocket): Promise<Buffer> {
  const name = `undici:websocket:${kind}`;
  let listener: ((message: unknown) => void) | undefined;
  const seen = new Promise<Buffer>((resolve) => {
    listener = (message: unknown) => {
      const { payload, websocket } = message as { payload: Uint8Array; websocket: unknown };
      if (websocket === ws) resolve(Buffer.from(payload));
    };
    diagnosticsChannel.subscribe(name, listener);
  });
  return within(seen, WAIT, `${kind} on the undici client`).finally(() => {
    if (listener !== undefined) diagnosticsChannel.unsubscribe(name, listener);
  });
}

/** An undici client. */
class UndiciPeer extends QueuedPeer implements ClientPeer {
  readonly ws: UndiciSocket;

  constructor(ws: UndiciSocket) {
    super();
    this.ws = ws;
    ws.binaryType = "arraybuffer";
    ws.addEventListener("message", (event) => {
      const payload: unknown = event.data;
      if (typeof payload === "string") this.received({ text: payload });
      else if (payload instanceof ArrayBuffer) this.received({ data: Buffer.from(payload) });
      else throw new Error(`unexpected message data: ${String(payload)}`);
    });
    ws.addEventListener("close", (event) =>
      this.sawClose({ code: event.code, reason: event.reason, wasClean: event.wasClean }),
    );
    ws.addEventListener("error", (event) => this.log.push(`error: ${event.message}`));
  }

  get protocol(): string {
    return this.ws.protocol;
  }
  get extensions(): string {
    return this.ws.extensions;
  }
  sendText(text: string): void {
    this.ws.send(text);
  }
  sendBinary(data: Uint8Array): void {
    this.ws.send(data);
  }
  ping(payload: Uint8Array): Promise<Buffer> {
    const pong = nextControl("pong", this.ws);
    undiciPing(this.ws, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
    return pong;
  }
  nextPing(): Promise<Buffer> {
    return nextControl("ping", this.ws);
  }
  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }
}

/** undici's `WebSocket`. */
export const undiciClient: ClientUnderTest = {
  name: "undici",
  can: {
    fragments: false,
    rawText: false,
    cut: false,
    anyCloseCode: false,
    echoesClose: "code",
    deflate: { offers: "always", compresses: false },
  },
  async open(url: string, options: OpenOptions = {}): Promise<ClientPeer> {
    const ws = new UndiciSocket(url, options.protocols);
    const peer = new UndiciPeer(ws);
    await within(
      new Promise<void>((resolve, reject) => {
        ws.addEventListener("open", () => resolve(), { once: true });
        ws.addEventListener("error", (event) => reject(new Error(`open failed: ${event.message}`)), {
          once: true,
        });
      }),
      WAIT,
      `open ${url}`,
    );
    return peer;
  },
};

/** A WebSocket on an HTTP/2 stream, through `H2WebSocket`. */
class H2Peer extends QueuedPeer implements ClientPeer {
  readonly ws: H2WebSocket;

  constructor(ws: H2WebSocket) {
    super();
    this.ws = ws;
    ws.onmessage = (message) => this.received(message);
    void ws.closed("the stream closes").then(
      ({ rstCode }) => {
        const close = ws.serverClose;
        this.sawClose({
          code: close === undefined ? 1006 : (close.code ?? 1005),
          reason: close?.reason ?? "",
          wasClean: close !== undefined && ws.closeSent && rstCode === 0,
        });
      },
      (error: Error) => this.log.push(`error: ${error.message}`),
    );
  }

  get protocol(): string {
    return this.ws.protocol;
  }
  get extensions(): string {
    return this.ws.extensions;
  }
  sendText(text: string): void {
    this.ws.sendMessage("text", text);
  }
  sendBinary(data: Uint8Array): void {
    this.ws.sendMessage("binary", data);
  }
  ping(payload: Uint8Array): Promise<Buffer> {
    return this.ws.ping(payload);
  }
  nextPing(): Promise<Buffer> {
    return this.ws.nextPing();
  }
  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }
  sendFragments(kind: "text" | "binary", fragments: readonly Uint8Array[], between?: () => void): void {
    fragments.forEach((fragment, i) => {
      if (i === 1) between?.();
      const opcode = i > 0 ? Opcode.Continuation : kind === "text" ? Opcode.Text : Opcode.Binary;
      this.ws.send(buildFrame({ opcode, payload: fragment, fin: i === fragments.length - 1 }));
    });
  }
  sendRawText(bytes: Uint8Array): void {
    this.ws.send(buildFrame({ opcode: Opcode.Text, payload: bytes }));
  }
  cut(): void {
    this.ws.cut();
  }
}

/**
 * A WebSocket client over HTTP/2 (RFC 8441) that trusts `ca`: `wss://host:port/path` opens an
 * HTTP/2 session to `https://host:port` and an extended CONNECT stream for `/path` on it.
 */
export function h2Client(ca: Buffer): ClientUnderTest {
  return {
    name: "http2",
    can: {
      fragments: true,
      rawText: true,
      cut: true,
      anyCloseCode: true,
      echoesClose: "code and reason",
      deflate: { offers: "when asked", compresses: true },
    },
    async open(url: string, options: OpenOptions = {}): Promise<ClientPeer> {
      const target = new URL(url);
      const session: ClientHttp2Session = await h2Session(`https://${target.host}`, ca);
      try {
        const ws = await H2WebSocket.open(session, `${target.pathname}${target.search}`, {
          ...(options.protocols !== undefined ? { protocols: options.protocols } : {}),
          ...(options.deflate === true ? { extensions: "permessage-deflate; client_max_window_bits" } : {}),
        });
        // The session lives as long as its one WebSocket.
        ws.stream.once("close", () => session.close());
        return new H2Peer(ws);
      } catch (error) {
        // Not in the tick the refused stream closed: Node's client can spin in destroy() then.
        setImmediate(() => session.destroy());
        throw error;
      }
    },
  };
}
