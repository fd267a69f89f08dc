/**
 * The topic index of one handler: topic → its subscribers, and subscriber → its topics. A
 * publish looks its topic up (it never scans the handler's connections), frames the message
 * once, and writes the same bytes to every subscriber.
 * @module
 */

import type { BinaryData, SendOutcome } from "../common/types.js";
import { ReadyState } from "../protocol/ready-state.js";
import { InvalidArgumentError } from "../common/errors.js";
import { Publication, type Broker, type BrokerTarget, type SharedDeflate } from "./broker.js";
import { MemoryBroker } from "./memory.js";

/** What the index needs of a connection (a session, or a test double). */
export interface Subscriber {
  readonly readyState: ReadyState;
  /**
   * Writes bytes that are already complete frames, under the connection's backpressure policy,
   * and says at once what became of them: only `"sent"` counts as written.
   */
  sendPrepared(frames: Uint8Array): SendOutcome;
  /** Set when compressed bytes can be shared with other subscribers (see {@link SharedDeflate}). */
  readonly sharedDeflate?: SharedDeflate | undefined;
}

const NO_TOPICS: ReadonlySet<string> = new Set<string>();

/** Topic → subscribers for one handler; the handler's {@link BrokerTarget}. */
export class TopicIndex<S extends Subscriber = Subscriber> implements BrokerTarget {
  readonly broker: Broker;
  /** The broker was made here (no `broker` option), so closing the handler closes it. */
  readonly #ownsBroker: boolean;
  readonly #subscribers = new Map<string, Set<S>>();
  readonly #topics = new Map<S, Set<string>>();
  #attached = true;

  constructor(broker?: Broker) {
    if (broker !== undefined && !isBroker(broker)) {
      throw new InvalidArgumentError(
        "broker must implement attach, detach, subscribe, unsubscribe, publish and close",
      );
    }
    this.#ownsBroker = broker === undefined;
    this.broker = broker ?? new MemoryBroker();
    this.broker.attach(this);
  }

  /** Adds `subscriber` to `topic`; false when it was subscribed already. */
  subscribe(subscriber: S, topic: string): boolean {
    checkTopic(topic);
    if (subscriber.readyState !== ReadyState.Open) return false;
    let subscribers = this.#subscribers.get(topic);
    if (subscribers === undefined) {
      subscribers = new Set();
      this.#subscribers.set(topic, subscribers);
      if (this.#attached) this.broker.subscribe(topic);
    } else if (subscribers.has(subscriber)) return false;
    subscribers.add(subscriber);
    let topics = this.#topics.get(subscriber);
    if (topics === undefined) this.#topics.set(subscriber, (topics = new Set()));
    topics.add(topic);
    return true;
  }

  /** Removes `subscriber` from `topic`; false when it was not subscribed. */
  unsubscribe(subscriber: S, topic: string): boolean {
    checkTopic(topic);
    const topics = this.#topics.get(subscriber);
    if (topics === undefined || !topics.delete(topic)) return false;
    if (topics.size === 0) this.#topics.delete(subscriber);
    this.#leave(subscriber, topic);
    return true;
  }

  /** Removes `subscriber` from every topic (its connection closed). */
  unsubscribeAll(subscriber: S): void {
    const topics = this.#topics.get(subscriber);
    if (topics === undefined) return;
    this.#topics.delete(subscriber);
    for (const topic of topics) this.#leave(subscriber, topic);
  }

  #leave(subscriber: S, topic: string): void {
    const subscribers = this.#subscribers.get(topic)!;
    subscribers.delete(subscriber);
    if (subscribers.size !== 0) return;
    this.#subscribers.delete(topic);
    if (this.#attached) this.broker.unsubscribe(topic);
  }

  isSubscribed(subscriber: S, topic: string): boolean {
    return this.#topics.get(subscriber)?.has(topic) ?? false;
  }

  /** The topics of `subscriber`: a live read-only view. */
  topicsOf(subscriber: S): ReadonlySet<string> {
    return this.#topics.get(subscriber) ?? NO_TOPICS;
  }

  /** How many of this handler's connections are subscribed to `topic`. */
  subscriberCount(topic: string): number {
    return this.#subscribers.get(topic)?.size ?? 0;
  }

  /** Every topic with subscribers in this handler, and how many each has. */
  subscriberCounts(): Record<string, number> {
    const counts: Record<string, number> = Object.create(null) as Record<string, number>;
    for (const [topic, subscribers] of this.#subscribers) counts[topic] = subscribers.size;
    return counts;
  }

  /**
   * Publishes to every subscriber of `topic` but `except`, here and through the broker, and
   * returns how many subscribers in this process it was written to.
   */
  publish(topic: string, message: string | BinaryData, except?: S): number {
    checkTopic(topic);
    const publication = Publication.of(topic, toMessage(message));
    const written = this.#write(publication, except);
    return this.#attached ? written + this.broker.publish(publication, this) : written;
  }

  /** A message from the broker: write it to every subscriber of its topic. */
  deliver(publication: Publication): number {
    return this.#write(publication, undefined);
  }

  /** The fan-out: one frame, written to each open subscriber. */
  #write(publication: Publication, except: S | undefined): number {
    const subscribers = this.#subscribers.get(publication.topic);
    if (subscribers === undefined) return 0;
    let written = 0;
    for (const subscriber of subscribers) {
      if (subscriber === except || subscriber.readyState !== ReadyState.Open) continue;
      // The connection applies its policy (close or drop) to a send past its limit; such a send
      // is not counted as written.
      if (subscriber.sendPrepared(publication.frameFor(subscriber.sharedDeflate)) === "sent") written++;
    }
    return written;
  }

  /** Detaches from the broker, and closes it when it was this index's own. */
  async close(): Promise<void> {
    if (!this.#attached) return;
    this.#attached = false;
    this.broker.detach(this);
    if (this.#ownsBroker) await this.broker.close();
  }
}

function checkTopic(topic: string): void {
  if (typeof topic !== "string") throw new InvalidArgumentError("a topic is a string");
}

function toMessage(message: string | BinaryData): string | Uint8Array {
  if (typeof message === "string" || message instanceof Uint8Array) return message;
  if (message instanceof ArrayBuffer) return new Uint8Array(message);
  if (ArrayBuffer.isView(message))
    return new Uint8Array(message.buffer, message.byteOffset, message.byteLength);
  throw new InvalidArgumentError("a published message is a string or bytes");
}

function isBroker(value: unknown): value is Broker {
  if (value === null || typeof value !== "object") return false;
  const broker = value as Record<string, unknown>;
  return ["attach", "detach", "subscribe", "unsubscribe", "publish", "close"].every(
    (name) => typeof broker[name] === "function",
  );
}
