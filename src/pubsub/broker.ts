/**
 * The broker contract: how published messages travel between the topic indexes of handlers
 * (in one process, or in many processes through a backplane such as Redis), and the envelope a
 * networked broker sends them in.
 *
 * A handler's topic index delivers a message to its own subscribers itself, then hands it to
 * its broker, which delivers it to every other index attached to it and, for a backplane, to
 * every other process. A broker only learns which topics have subscribers here, never who they
 * are.
 * @module
 */

import { encodeFrame } from "../protocol/frame-codec.js";
import { Opcode } from "../protocol/opcodes.js";

/**
 * How a subscriber's permessage-deflate lets a published message be compressed once for all
 * subscribers alike: only without server context takeover (each message compressed on its own),
 * so the same bytes are valid for every connection with the same window and memLevel. Made by
 * the runtime's adapter, which owns the compressor.
 */
export interface SharedDeflate {
  /** Subscribers with equal keys can share compressed bytes. */
  readonly key: string;
  /** Messages smaller than this go uncompressed (the handler's `compression.threshold`). */
  readonly threshold: number;
  /**
   * Compresses one message on its own, synchronously, as RFC 7692 §7.2.1 says: with a sync
   * flush and without the trailing 00 00 ff ff.
   */
  compress(payload: Uint8Array): Uint8Array;
}

/**
 * Larger publications are sent uncompressed: compressing happens synchronously, once per
 * publication, and this bounds how long it may hold the event loop.
 */
export const SHARED_DEFLATE_LIMIT = 256 * 1024;

/** What a topic carries: a string is sent as a text message, bytes as a binary message. */
export type TopicMessage = string | Uint8Array;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * One published message on its way to subscribers: the topic, the kind (text or binary) and
 * the payload bytes. Its WebSocket frame is built on first use and then shared, so a message is
 * framed once per process however many handlers and subscribers it reaches.
 *
 * @example
 * ```ts
 * const message = Publication.of("news", "hello");
 * message.frame; // 81 05 68 65 6c 6c 6f, the same bytes for every subscriber
 * ```
 */
export class Publication {
  /** The topic it was published to. */
  readonly topic: string;
  /** True for a text message (the payload is UTF-8), false for binary. */
  readonly text: boolean;
  /** The message's bytes. Shared, never copied: do not change them. */
  readonly payload: Uint8Array;
  #frame: Uint8Array | undefined = undefined;
  #compressed: Map<string, Uint8Array> | undefined = undefined;

  constructor(topic: string, text: boolean, payload: Uint8Array) {
    this.topic = topic;
    this.text = text;
    this.payload = payload;
  }

  /** A publication of `message` (a string as text, bytes as binary) to `topic`. */
  static of(topic: string, message: TopicMessage): Publication {
    return typeof message === "string"
      ? new Publication(topic, true, encoder.encode(message))
      : new Publication(topic, false, message);
  }

  /** The whole unmasked WebSocket frame (FIN set, no compression), built once. */
  get frame(): Uint8Array {
    return (this.#frame ??= encodeFrame(this.text ? Opcode.Text : Opcode.Binary, this.payload));
  }

  /**
   * The frame to write to a subscriber: compressed (RSV1) for a subscriber whose agreement lets
   * compressed bytes be shared, built once per distinct agreement; else {@link frame}.
   */
  frameFor(deflate: SharedDeflate | undefined): Uint8Array {
    const size = this.payload.length;
    if (deflate === undefined || size < deflate.threshold || size > SHARED_DEFLATE_LIMIT) return this.frame;
    const cache = (this.#compressed ??= new Map());
    let frame = cache.get(deflate.key);
    if (frame === undefined) {
      const payload = deflate.compress(this.payload);
      frame = encodeFrame(this.text ? Opcode.Text : Opcode.Binary, payload, { rsv1: true });
      cache.set(deflate.key, frame);
    }
    return frame;
  }

  /** The message as the application published it: a string for text, bytes for binary. */
  get message(): TopicMessage {
    return this.text ? decoder.decode(this.payload) : this.payload;
  }
}

/** What a broker delivers to: the topic index of one handler. */
export interface BrokerTarget {
  /**
   * Writes `message` to every local subscriber of its topic and returns how many it was
   * written to.
   */
  deliver(message: Publication): number;
}

/**
 * Carries published messages between the topic indexes of handlers: those attached to it in
 * this process and, for a backplane, those of other processes. The in-process
 * {@link MemoryBroker} is every handler's default; `RedisBroker` (from `undercurrent/redis`)
 * joins processes through Redis. Pass one as the `broker` option of `handshake()`; handlers
 * given the same broker share their topics.
 *
 * Calls come from the topic indexes; applications call only `close()`. None of the methods may
 * throw: a backplane reports its failures through its own error callback.
 *
 * @example
 * ```ts
 * const broker = new MemoryBroker();
 * const chat = handshake(chatCallbacks, { broker, path: "/chat" });
 * const admin = handshake(chat, adminCallbacks, { broker, path: "/admin" });
 * admin.publish("room", "maintenance at noon"); // reaches subscribers of both handlers
 * ```
 */
export interface Broker {
  /** A handler starts using this broker: deliver messages published elsewhere to `target`. */
  attach(target: BrokerTarget): void;
  /** A handler stopped using this broker (its `close()` was called). */
  detach(target: BrokerTarget): void;
  /**
   * An attached target gained its first subscriber of `topic`. Calls are balanced with
   * {@link Broker.unsubscribe} per target, so a broker may count them.
   */
  subscribe(topic: string): void;
  /** An attached target lost its last subscriber of `topic`. */
  unsubscribe(topic: string): void;
  /**
   * `source` published `message` and has already delivered it to its own subscribers: deliver
   * it to every other attached target, and to other processes. Returns how many local
   * subscribers (of the other targets) it was written to.
   */
  publish(message: Publication, source: BrokerTarget): number;
  /** Stops delivering, and releases connections. Resolves when done. */
  close(): Promise<void>;
}

/**
 * The message of `undercurrent:broker:state`: a broker's connection to its backplane changed.
 * `connected`: up for the first time; `lost`: an outage began (messages published here reach
 * this process only, and are counted); `resubscribed`: up again after an outage, every topic
 * with subscribers here subscribed again.
 */
export interface BrokerStateMessage {
  /** The broker that changed (a `RedisBroker`). */
  readonly broker: Broker;
  readonly state: "connected" | "lost" | "resubscribed";
  /** Messages published here that did not reach the backplane during the outage that just ended (`resubscribed`); else 0. */
  readonly dropped: number;
  /** Topics this process is subscribed to. */
  readonly topics: number;
}

/** A message as a networked broker sends it: the publication and the id of its process. */
export interface Envelope {
  /** The id of the broker that published it, so it can ignore its own messages coming back. */
  readonly origin: string;
  readonly publication: Publication;
}

/** Envelope format version (the first byte). */
const ENVELOPE_VERSION = 1;
const FLAG_TEXT = 1;

/**
 * Encodes an envelope as bytes:
 * `version (1) | flags (1: bit 0 = text) | origin length (1) | origin (ASCII) |
 * topic length (4, big-endian) | topic (UTF-8) | payload`.
 *
 * @example
 * ```ts
 * const bytes = encodeEnvelope({ origin: broker.id, publication: Publication.of("t", "hi") });
 * decodeEnvelope(bytes)?.publication.message; // "hi"
 * ```
 */
export function encodeEnvelope(envelope: Envelope): Uint8Array {
  const { origin, publication } = envelope;
  const originBytes = encoder.encode(origin);
  if (originBytes.length > 255) throw new RangeError("an envelope origin is at most 255 bytes");
  const topicBytes = encoder.encode(publication.topic);
  const payload = publication.payload;
  const out = new Uint8Array(3 + originBytes.length + 4 + topicBytes.length + payload.length);
  out[0] = ENVELOPE_VERSION;
  out[1] = publication.text ? FLAG_TEXT : 0;
  out[2] = originBytes.length;
  let at = 3;
  out.set(originBytes, at);
  at += originBytes.length;
  new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(at, topicBytes.length);
  at += 4;
  out.set(topicBytes, at);
  at += topicBytes.length;
  out.set(payload, at);
  return out;
}

/**
 * Decodes {@link encodeEnvelope}'s bytes; undefined when they are not an envelope of a version
 * this code reads (a message someone else sent to the same channel). The payload is a view
 * into `bytes`, not a copy.
 */
export function decodeEnvelope(bytes: Uint8Array): Envelope | undefined {
  if (bytes.length < 7 || bytes[0] !== ENVELOPE_VERSION) return undefined;
  const flags = bytes[1]!;
  const originLength = bytes[2]!;
  let at = 3;
  if (bytes.length < at + originLength + 4) return undefined;
  const origin = decoder.decode(bytes.subarray(at, at + originLength));
  at += originLength;
  const topicLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(at);
  at += 4;
  if (bytes.length < at + topicLength) return undefined;
  const topic = decoder.decode(bytes.subarray(at, at + topicLength));
  at += topicLength;
  const publication = new Publication(topic, (flags & FLAG_TEXT) !== 0, bytes.subarray(at));
  return { origin, publication };
}
