/**
 * The channel: one open WebSocket connection, as callbacks see it.
 * @module
 */

import { settle, type CallbackOwner, type SendOptions } from "./completion.js";
import { CloseCode, isValidSentCloseCode } from "../protocol/close-codes.js";
import { ReadyState } from "../protocol/ready-state.js";
import { InvalidArgumentError, describeValue } from "../common/errors.js";
import { isTimeout, timeoutMessage } from "../common/validate.js";
import type { BinaryData, SendStatus } from "../common/types.js";
import { Opcode } from "../protocol/opcodes.js";
import type { MessageSource } from "./ports.js";
import { StreamSource, isMessageStream, type MessageStream } from "./message-source.js";

export { ReadyState };
export type { MessageStream, ReadableStreamLike, ReadableStreamReaderLike } from "./message-source.js";
export type { SendCallback, SendOptions } from "./completion.js";
export type { BinaryData, SendStatus };

const encoder = new TextEncoder();

function toBytes(data: BinaryData): Uint8Array | undefined {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

/** Why a send's options cannot be honoured, and whether its callback can still be told. */
interface OptionsFault {
  readonly error: InvalidArgumentError;
  /** The callback itself is usable: it hears of the error like any failed send. */
  readonly tell: boolean;
}

/**
 * Checks a send's options, or returns undefined when they can be honoured: an object (or
 * undefined) whose `callback` is a function or an object of optional `onComplete`/`onError`
 * functions, whose `timeout` a timer can honour, and whose `compress` is a boolean. Never throws
 * (a throwing getter makes the options invalid).
 */
function checkSendOptions(options: unknown): OptionsFault | undefined {
  if (options === undefined) return undefined;
  const fault = (message: string, tell: boolean): OptionsFault => ({
    error: new InvalidArgumentError(message),
    tell,
  });
  if (typeof options !== "object" || options === null) {
    return fault(`send options are an object, not ${describeValue(options)}`, false);
  }
  try {
    const { callback, timeout, compress } = options as Record<string, unknown>;
    if (callback !== undefined && typeof callback !== "function") {
      const { onComplete, onError } = (callback ?? {}) as Record<string, unknown>;
      if (
        typeof callback !== "object" ||
        callback === null ||
        (onComplete !== undefined && typeof onComplete !== "function") ||
        (onError !== undefined && typeof onError !== "function")
      ) {
        return fault("callback is a function or { onComplete?, onError? } of functions", false);
      }
    }
    if (timeout !== undefined && !isTimeout(timeout)) return fault(timeoutMessage("timeout", timeout), true);
    if (compress !== undefined && typeof compress !== "boolean") return fault("compress is a boolean", true);
    return undefined;
  } catch (error) {
    return fault(`reading the send options threw: ${describeValue(error)}`, false);
  }
}

/**
 * Why `code` and `reason` cannot go in a close frame, or undefined when they can: a code of
 * 1000–1003, 1007–1014 or 3000–4999 and a string of at most 123 UTF-8 bytes.
 */
export function checkClose(code: unknown, reason: unknown): InvalidArgumentError | undefined {
  if (typeof code !== "number" || !isValidSentCloseCode(code)) {
    return new InvalidArgumentError(`${describeValue(code)} is not a close code that may be sent`);
  }
  if (typeof reason !== "string" || encoder.encode(reason).length > 123) {
    return new InvalidArgumentError("a close reason is a string of at most 123 UTF-8 bytes");
  }
  return undefined;
}

/**
 * What a {@link Channel} is built on: one connection's session, whatever carries it. Declared
 * here, by the module that needs it (DESIGN.md §2); the core's session implements it. Arguments
 * reach it checked.
 */
export interface ChannelPort<T> extends CallbackOwner {
  readonly protocol: string;
  readonly extensions: string;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly readyState: ReadyState;
  readonly bufferedAmount: number;
  readonly peers: ReadonlySet<Channel<T>>;
  sendText(text: string, options: SendOptions | undefined): Promise<SendStatus>;
  sendBinary(data: Uint8Array, options: SendOptions | undefined): Promise<SendStatus>;
  /** Sends one message (`opcode` Text or Binary) whose payload comes in pieces, as fragments. */
  sendStream(opcode: number, source: MessageSource, options: SendOptions | undefined): Promise<SendStatus>;
  ping(data: Uint8Array, options: SendOptions | undefined): Promise<SendStatus>;
  close(code: number, reason: string): Promise<void>;
  terminate(): void;
  subscribe(topic: string): boolean;
  unsubscribe(topic: string): boolean;
  isSubscribed(topic: string): boolean;
  readonly topics: ReadonlySet<string>;
  publish(topic: string, message: string | BinaryData): number;
}

/**
 * One WebSocket connection. Sends return promises that resolve with a {@link SendStatus} once the
 * frame has been handed to the operating system (or dropped by the backpressure policy); they
 * never throw synchronously, and on a closed channel they reject with `ChannelClosedError` (a
 * rejection nobody awaits is not reported as unhandled).
 *
 * @example
 * ```ts
 * onMessage({ channel, text }) {
 *   if (text === "bye") void channel.close(CloseCode.NormalClosure, "see you");
 *   else void channel.sendText(`echo: ${text}`, { timeout: 1000 });
 * }
 * ```
 */
export class Channel<T = unknown> {
  /** Per-connection data for the application; starts undefined. */
  data: T | undefined = undefined;
  readonly #connection: ChannelPort<T>;

  /** @internal Channels are created by the handler, never by applications. */
  constructor(connection: ChannelPort<T>) {
    this.#connection = connection;
  }

  /** The subprotocol selected during the handshake, or "" when none. */
  get protocol(): string {
    return this.#connection.protocol;
  }

  /** The peer's IP address, as the transport reports it. */
  get remoteAddress(): string | undefined {
    return this.#connection.remoteAddress;
  }

  /** The peer's port. */
  get remotePort(): number | undefined {
    return this.#connection.remotePort;
  }

  /** One of {@link ReadyState}. */
  get readyState(): ReadyState {
    return this.#connection.readyState;
  }

  /** Bytes queued for this connection and not yet handed to the operating system. */
  get bufferedAmount(): number {
    return this.#connection.bufferedAmount;
  }

  /** The agreed extensions, as sent in `Sec-WebSocket-Extensions` ("" when none). */
  get extensions(): string {
    return this.#connection.extensions;
  }

  /** Every open channel of the same handler, this one included. */
  get peers(): ReadonlySet<Channel<T>> {
    return this.#connection.peers;
  }

  /**
   * Sends a text message: a string, or an async iterable or web `ReadableStream` of strings sent
   * as one message in fragments (see {@link Channel.sendBinary}; each chunk is encoded as it
   * comes, a surrogate pair split between chunks included).
   */
  sendText(text: string | MessageStream<string>, options?: SendOptions): Promise<SendStatus> {
    const invalid = checkSendOptions(options);
    if (invalid !== undefined) return this.#refuse(invalid, options);
    if (typeof text !== "string") return this.#stream(Opcode.Text, text, options, "sendText takes a string");
    return this.#connection.sendText(text, options);
  }

  /**
   * Sends a binary message. Large buffers are sent by reference: do not change them until sent.
   * A message larger than the `fragmentSize` option goes out in fragments, so pongs and a close
   * reply can go between them.
   *
   * Given an async iterable (an async generator, a Node `Readable`) or a web `ReadableStream` of
   * `Uint8Array`s (or other `ArrayBuffer` views), sends them as ONE message in fragments, each
   * chunk by reference: the next chunk is pulled only once the connection is under its
   * high-water mark. Messages sent after it wait behind it; pings and pongs go between its
   * fragments. Streamed messages are never compressed. The promise settles when the last
   * fragment is written, and rejects with `ChannelClosedError` when the connection closes first
   * (a peer's close stops the message; `channel.close()` waits for it, within `closeTimeout`).
   * If the stream throws, the send rejects (`ChannelClosedError`, the error as `cause`), the
   * connection is closed with 1011 (the peer holds half a message) and `onError` hears of it.
   *
   * @example
   * ```ts
   * // On Node, a file read as a stream (fs.createReadStream is an async iterable of Buffers):
   * await channel.sendBinary(fs.createReadStream("video.mp4"));
   * ```
   */
  sendBinary(data: BinaryData | MessageStream<BinaryData>, options?: SendOptions): Promise<SendStatus> {
    const invalid = checkSendOptions(options);
    if (invalid !== undefined) return this.#refuse(invalid, options);
    const bytes = toBytes(data as BinaryData);
    if (bytes === undefined) return this.#stream(Opcode.Binary, data, options, "sendBinary takes bytes");
    return this.#connection.sendBinary(bytes, options);
  }

  /** A streamed send, or an argument of the wrong kind. */
  #stream(
    opcode: number,
    stream: unknown,
    options: SendOptions | undefined,
    wrong: string,
  ): Promise<SendStatus> {
    if (!isMessageStream(stream)) return settle(new InvalidArgumentError(wrong), this.#connection, options);
    let source: StreamSource;
    try {
      source = new StreamSource(stream, opcode === Opcode.Text);
    } catch (error) {
      const message = `the stream could not be read: ${describeValue(error)}`;
      return settle(new InvalidArgumentError(message), this.#connection, options);
    }
    return this.#connection.sendStream(opcode, source, options);
  }

  /**
   * Sends a ping (payload up to 125 bytes) at once; `options` work as for {@link Channel.sendText}
   * (`compress` aside). The peer's pong needs no handling.
   */
  ping(data?: BinaryData, options?: SendOptions): Promise<SendStatus> {
    const invalid = checkSendOptions(options);
    if (invalid !== undefined) return this.#refuse(invalid, options);
    const bytes = data === undefined ? new Uint8Array(0) : toBytes(data);
    if (bytes === undefined || bytes.length > 125) {
      return settle(new InvalidArgumentError("a ping carries at most 125 bytes"), this.#connection, options);
    }
    return this.#connection.ping(bytes, options);
  }

  /** A send whose options are at fault: its callback hears of it when the callback is usable. */
  #refuse(fault: OptionsFault, options: SendOptions | undefined): Promise<never> {
    return settle(fault.error, this.#connection, fault.tell ? options : undefined);
  }

  /**
   * Starts the closing handshake with `code` (default 1000) and a reason of up to 123 UTF-8
   * bytes. Resolves when the connection has closed: the peer answered and TCP closed, or
   * `closeTimeout` passed and the connection was cut.
   */
  close(code: number = CloseCode.NormalClosure, reason = ""): Promise<void> {
    const invalid = checkClose(code, reason);
    if (invalid !== undefined) return settle(invalid, this.#connection);
    return this.#connection.close(code, reason);
  }

  /** Destroys the connection at once, without a closing handshake (`onClose` reports 1006). */
  terminate(): void {
    this.#connection.terminate();
  }

  /**
   * Subscribes this channel to `topic` (any string). Returns true when it was not subscribed
   * already, false when it was or when the channel is no longer open. A channel leaves all its
   * topics when it closes.
   *
   * @example
   * ```ts
   * onConnect({ channel, exchange }) {
   *   channel.subscribe(`room:${exchange.url.searchParams.get("room")}`);
   * }
   * ```
   */
  subscribe(topic: string): boolean {
    return this.#connection.subscribe(topic);
  }

  /** Leaves `topic`. Returns true when the channel was subscribed to it. */
  unsubscribe(topic: string): boolean {
    return this.#connection.unsubscribe(topic);
  }

  /** Whether this channel is subscribed to `topic`. */
  isSubscribed(topic: string): boolean {
    return this.#connection.isSubscribed(topic);
  }

  /** The topics this channel is subscribed to (a live, read-only view; empty once closed). */
  get topics(): ReadonlySet<string> {
    return this.#connection.topics;
  }

  /**
   * Publishes `message` (a string as text, bytes as binary) to every subscriber of `topic` but
   * this channel, whether or not this channel is subscribed: in this handler, in handlers that
   * share its broker, and in other processes when the broker is a backplane. The message is
   * framed once and the same bytes are written to every subscriber, each under its own
   * backpressure policy. Returns how many subscribers in this process it was written to (a
   * subscriber whose policy closes it or drops the message is not counted). Throws
   * `InvalidArgumentError` for a topic that is not a string or a message that is neither a
   * string nor bytes.
   *
   * @example
   * ```ts
   * onMessage({ channel, text }) {
   *   if (text !== undefined) channel.publish("chat", text); // everyone in the room but the author
   * }
   * ```
   */
  publish(topic: string, message: string | BinaryData): number {
    return this.#connection.publish(topic, message);
  }
}
