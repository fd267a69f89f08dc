/**
 * `undercurrent/redis`: a {@link Broker} that joins any number of processes, on any number of
 * machines, through Redis pub/sub. The Redis client, `ioredis`, is an optional peer dependency,
 * imported only when a `RedisBroker` is made.
 *
 * ## Delivery guarantee
 *
 * - **In this process**: synchronous and exactly once per subscriber, in publish order, whether
 *   Redis is up or not.
 * - **Across processes, while Redis is reachable**: each message reaches each subscriber of
 *   every other process once, and the messages of one publishing process arrive in the order
 *   it published them (one connection per process, and Redis keeps the order). A message
 *   carries its process's id, so a process ignores its own messages coming back from Redis
 *   rather than delivering them twice. A process receives a topic from the moment Redis has
 *   acknowledged its subscription: `await broker.ready()` waits for that.
 * - **During an outage: at most once.** Messages are never queued or retried (no duplicates, no
 *   stale bursts after a reconnect). A message published while this process's connection is
 *   down reaches this process's subscribers only, and is counted in {@link RedisBroker.dropped};
 *   messages other processes publish while this process's subscription connection is down are
 *   lost to its subscribers; a message in flight when a connection breaks may or may not
 *   arrive. Redis pub/sub keeps no history, so nothing lost is replayed. The same applies
 *   when Redis cuts a subscriber that reads too slowly (its `client-output-buffer-limit`).
 *
 * On connection loss the broker keeps serving local subscribers, reports the outage once
 * through `onError`, reconnects with exponential backoff, and subscribes again to every topic
 * that has subscribers here. Each change is published on the `undercurrent:broker:state`
 * diagnostics channel (`connected`, `lost`, `resubscribed` with the messages dropped meanwhile).
 * @module
 */

import { randomBytes } from "node:crypto";
import { channel } from "node:diagnostics_channel";
import type { Redis as RedisClient, RedisOptions } from "ioredis";
import { UndercurrentError } from "../protocol/errors.js";
import { InvalidArgumentError } from "../common/errors.js";
import { MAX_TIMEOUT, isTimeout, timeoutMessage } from "../common/validate.js";
import {
  decodeEnvelope,
  encodeEnvelope,
  type Broker,
  type BrokerStateMessage,
  type BrokerTarget,
  type Publication,
} from "../pubsub/broker.js";

/** `undercurrent:broker:state`: see {@link BrokerStateMessage}. */
const stateChannel = channel("undercurrent:broker:state");

/** Options of {@link RedisBroker}. */
export interface RedisBrokerOptions {
  /** The Redis server, as `redis://[user:password@]host:port[/db]`. Default `redis://127.0.0.1:6379`. */
  readonly url?: string;
  /**
   * Prefix of the Redis channel names (`prefix + topic`): processes that should share topics use
   * the same one. Default `"undercurrent:"`.
   */
  readonly prefix?: string;
  /**
   * Called once when an outage begins (the connection was lost, or could not be made), with
   * the cause as a {@link RedisBrokerError}; and with any error thrown while delivering a message
   * from Redis. Not called again for each retry of the same outage. Default: `console.error`.
   */
  readonly onError?: (error: Error) => void;
  /** First reconnection delay in ms; each further attempt doubles it. Default 50. */
  readonly minRetryDelay?: number;
  /** Longest delay between reconnection attempts in ms, at most 2³¹−1. Default 2000. */
  readonly maxRetryDelay?: number;
}

/** A Redis connection failed or could not be made; `cause` holds the client's error. */
export class RedisBrokerError extends UndercurrentError {
  constructor(message: string, cause?: unknown) {
    super("ERR_REDIS_BROKER", message, cause === undefined ? undefined : { cause });
  }
}

type RedisModule = typeof import("ioredis");

/**
 * A broker over Redis pub/sub: every process that makes one with the same `url` and `prefix`
 * shares its topics with the others. It holds two connections (one publishes, one subscribes)
 * and subscribes only to topics that have subscribers in this process. See the module
 * documentation for the delivery guarantee.
 *
 * @example
 * ```ts
 * import { handshake, serve } from "undercurrent";
 * import { RedisBroker } from "undercurrent/redis";
 *
 * const broker = new RedisBroker({ url: "redis://127.0.0.1:6379", onError: console.warn });
 * const chat = handshake(
 *   {
 *     onConnect({ channel }) { channel.subscribe("chat"); },
 *     onMessage({ channel, text }) { if (text) channel.publish("chat", text); },
 *   },
 *   { broker },
 * );
 * await broker.ready(); // optional: wait until Redis is reachable
 * const server = await serve(chat, { port: 8080 });
 * // on shutdown: await server.close(); await broker.close();
 * ```
 */
export class RedisBroker implements Broker {
  /** This broker's id, carried by every message it publishes (its origin). */
  readonly id: string = randomBytes(12).toString("base64url");
  readonly #url: string;
  readonly #prefix: string;
  readonly #onError: (error: Error) => void;
  readonly #minDelay: number;
  readonly #maxDelay: number;
  readonly #targets = new Set<BrokerTarget>();
  /** Topic → how many attached targets have subscribers to it. */
  readonly #wanted = new Map<string, number>();
  /** Subscription commands sent and not yet acknowledged. */
  readonly #inflight = new Set<Promise<unknown>>();
  #publisher: RedisClient | undefined = undefined;
  #subscriber: RedisClient | undefined = undefined;
  readonly #started: Promise<void>;
  #publisherReady = false;
  /** The subscriber is connected and subscribed to every wanted topic. */
  #subscriberReady = false;
  /** The current outage was reported; cleared when both connections are ready again. */
  #reported = false;
  #closed = false;
  #dropped = 0;
  /** Both connections were up at the last change (for `undercurrent:broker:state`). */
  #up = false;
  #everUp = false;
  /** {@link dropped} when the current outage began. */
  #droppedBefore = 0;
  #waiters: (() => void)[] = [];

  constructor(options: RedisBrokerOptions = {}) {
    const { url = "redis://127.0.0.1:6379", prefix = "undercurrent:", onError, minRetryDelay = 50 } = options;
    const maxRetryDelay = options.maxRetryDelay ?? Math.max(2000, minRetryDelay);
    if (typeof url !== "string") throw new InvalidArgumentError("url must be a string");
    if (typeof prefix !== "string") throw new InvalidArgumentError("prefix must be a string");
    if (onError !== undefined && typeof onError !== "function") {
      throw new InvalidArgumentError("onError must be a function");
    }
    // The delays become timers (ioredis's), so both must be delays a timer honours.
    if (!(minRetryDelay > 0) || !(maxRetryDelay >= minRetryDelay) || !(maxRetryDelay <= MAX_TIMEOUT)) {
      throw new InvalidArgumentError(
        `retry delays must satisfy 0 < minRetryDelay ≤ maxRetryDelay ≤ ${MAX_TIMEOUT} ms`,
      );
    }
    this.#url = url;
    this.#prefix = prefix;
    this.#onError = onError ?? ((error) => console.error("undercurrent RedisBroker:", error));
    this.#minDelay = minRetryDelay;
    this.#maxDelay = maxRetryDelay;
    this.#started = this.#start();
    // A failure to load ioredis is reported through onError; nobody may be awaiting ready().
    this.#started.catch(() => undefined);
  }

  /** Whether both connections to Redis are up and every subscription is in place. */
  get connected(): boolean {
    return this.#publisherReady && this.#subscriberReady;
  }

  /** Messages published here that could not be sent to Redis (delivered locally only). */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Resolves once both connections are up and Redis has acknowledged every subscription made
   * so far: from then on, messages published by other processes reach this one. Rejects when
   * `ioredis` cannot be loaded, when the broker is closed, or after `timeout` ms (an integer up
   * to 2³¹−1, default 10 000; `Infinity` waits however long it takes). Another `timeout` rejects
   * with `InvalidArgumentError`.
   */
  async ready(timeout = 10_000): Promise<void> {
    if (!isTimeout(timeout, 0)) throw new InvalidArgumentError(timeoutMessage("timeout", timeout, 0));
    await this.#started;
    const deadline = Date.now() + timeout;
    for (;;) {
      if (this.#closed) throw new RedisBrokerError("the broker is closed");
      if (this.connected && this.#inflight.size === 0) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new RedisBrokerError(`Redis not ready within ${timeout} ms`);
      const settled =
        this.#inflight.size === 0 ? this.#nextChange() : Promise.allSettled([...this.#inflight]);
      if (left === Infinity) {
        await settled;
        continue;
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([settled, new Promise((resolve) => (timer = setTimeout(resolve, left)))]);
      clearTimeout(timer);
    }
  }

  attach(target: BrokerTarget): void {
    if (!this.#closed) this.#targets.add(target);
  }

  detach(target: BrokerTarget): void {
    this.#targets.delete(target);
  }

  subscribe(topic: string): void {
    const count = this.#wanted.get(topic) ?? 0;
    this.#wanted.set(topic, count + 1);
    if (count === 0) this.#command((client) => client.subscribe(this.#prefix + topic));
  }

  unsubscribe(topic: string): void {
    const count = this.#wanted.get(topic);
    if (count === undefined) return;
    if (count > 1) return void this.#wanted.set(topic, count - 1);
    this.#wanted.delete(topic);
    this.#command((client) => client.unsubscribe(this.#prefix + topic));
  }

  publish(message: Publication, source: BrokerTarget): number {
    let written = 0;
    for (const target of this.#targets) if (target !== source) written += target.deliver(message);
    const publisher = this.#publisher;
    if (publisher === undefined || publisher.status !== "ready" || this.#closed) {
      this.#dropped++;
      return written;
    }
    const envelope = encodeEnvelope({ origin: this.id, publication: message });
    const bytes = Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength);
    publisher.publish(this.#prefix + message.topic, bytes).catch(() => this.#dropped++);
    return written;
  }

  /**
   * Stops delivering, waits for messages already handed to Redis to be sent, and closes both
   * connections. Handlers using the broker should be closed first.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#targets.clear();
    this.#changed();
    await this.#started.catch(() => undefined);
    await Promise.all([this.#publisher, this.#subscriber].map((client) => client && quit(client)));
  }

  /** Loads ioredis and opens both connections. */
  async #start(): Promise<void> {
    let Redis: RedisModule["Redis"];
    try {
      ({ Redis } = await import("ioredis"));
    } catch (error) {
      const failure = new RedisBrokerError(
        "RedisBroker needs the ioredis package (npm install ioredis); delivering locally only",
        error,
      );
      this.#report(failure);
      throw failure;
    }
    if (this.#closed) return;
    const options: RedisOptions = {
      enableOfflineQueue: false,
      autoResubscribe: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: null,
      retryStrategy: (attempt) => this.#delay(attempt),
    };
    const publisher = new Redis(this.#url, { ...options, connectionName: `undercurrent-pub-${this.id}` });
    const subscriber = new Redis(this.#url, { ...options, connectionName: `undercurrent-sub-${this.id}` });
    this.#publisher = publisher;
    this.#subscriber = subscriber;
    publisher.on("ready", () => {
      this.#publisherReady = true;
      this.#changed();
    });
    subscriber.on("ready", () => void this.#resubscribe(subscriber));
    for (const client of [publisher, subscriber]) {
      client.on("error", (error: Error) =>
        this.#report(new RedisBrokerError(`Redis: ${error.message}`, error)),
      );
      client.on("close", () => this.#lost(client));
    }
    subscriber.on("messageBuffer", (_channel: Buffer, message: Buffer) => this.#receive(message));
  }

  /** After (re)connecting: subscribe to every topic with subscribers here, then count as ready. */
  async #resubscribe(subscriber: RedisClient): Promise<void> {
    const channels = [...this.#wanted.keys()].map((topic) => this.#prefix + topic);
    if (channels.length !== 0) {
      const done = this.#command((client) => client.subscribe(...channels));
      if (done === undefined || !(await done)) return; // the connection broke again: next "ready"
    }
    if (subscriber.status !== "ready") return;
    this.#subscriberReady = true;
    this.#changed();
  }

  /** Sends a subscription command when the subscriber is connected; resolves to its success. */
  #command(send: (client: RedisClient) => Promise<unknown>): Promise<boolean> | undefined {
    const subscriber = this.#subscriber;
    // Not connected: the next "ready" subscribes to every wanted topic.
    if (subscriber === undefined || subscriber.status !== "ready" || this.#closed) return undefined;
    const sent = send(subscriber).then(
      () => true,
      () => false,
    );
    this.#inflight.add(sent);
    void sent.then(() => {
      this.#inflight.delete(sent);
      this.#changed();
    });
    return sent;
  }

  /** A message from Redis: deliver it here unless this process published it. */
  #receive(bytes: Buffer): void {
    const envelope = decodeEnvelope(bytes);
    if (envelope === undefined || envelope.origin === this.id) return;
    for (const target of this.#targets) {
      try {
        target.deliver(envelope.publication);
      } catch (error) {
        this.#onError(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }

  #lost(client: RedisClient): void {
    const wasConnected = this.connected;
    if (client === this.#publisher) this.#publisherReady = false;
    else this.#subscriberReady = false;
    if (wasConnected && !this.#closed) {
      this.#up = false;
      this.#droppedBefore = this.#dropped;
      this.#state("lost", 0);
      this.#report(
        new RedisBrokerError("lost the connection to Redis; delivering to local subscribers only"),
      );
    }
    this.#changed();
  }

  /** Reports the first error of an outage. */
  #report(error: Error): void {
    if (this.#reported || this.#closed) return;
    this.#reported = true;
    try {
      this.#onError(error);
    } catch {
      // An error callback that throws must not break the connection's event handling.
    }
  }

  /** Exponential backoff with jitter, between the configured bounds. */
  #delay(attempt: number): number | null {
    if (this.#closed) return null;
    const base = Math.min(this.#minDelay * 2 ** Math.min(attempt - 1, 30), this.#maxDelay);
    return Math.round(Math.min(base * (0.75 + Math.random() * 0.5), this.#maxDelay));
  }

  /** Wakes `ready()` waiters; a new outage may be reported once both connections are back. */
  #changed(): void {
    if (this.connected) this.#reported = false;
    if (this.connected && !this.#up && !this.#closed) {
      this.#up = true;
      if (this.#everUp) this.#state("resubscribed", this.#dropped - this.#droppedBefore);
      else this.#state("connected", 0);
      this.#everUp = true;
    }
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Tells `undercurrent:broker:state`, when someone listens. */
  #state(state: BrokerStateMessage["state"], dropped: number): void {
    if (!stateChannel.hasSubscribers) return;
    const message: BrokerStateMessage = { broker: this, state, dropped, topics: this.#wanted.size };
    stateChannel.publish(message);
  }

  #nextChange(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

async function quit(client: RedisClient): Promise<void> {
  if (client.status === "ready") await client.quit().catch(() => undefined);
  client.disconnect();
}
