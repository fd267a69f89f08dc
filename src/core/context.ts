/**
 * The state every connection of one handler shares, whatever transport carries it: callbacks
 * and options, the open channels, the idle sweeper, the topics and the clock, the event channels
 * and the counters of `handler.stats()`. Transports add
 * their own per-handler resources (send slabs, the zlib limiter) beside it, in their adapter.
 * @module
 */

import type { Callbacks } from "./callbacks.js";
import type { Channel } from "./channel.js";
import type { ResolvedOptions, Runtime } from "./options.js";
import { TopicIndex } from "../pubsub/topics.js";
import { IdleSweeper } from "./timers.js";
import type { Clock } from "./ports.js";
import { handlerEvents, type EventSink, type HandlerEvents } from "./events.js";
import { HandlerCounters } from "./stats.js";

/** What every connection of one handler shares. */
export interface HandlerContext<T, R extends Runtime = Runtime> {
  readonly callbacks: Callbacks<T, R>;
  readonly options: ResolvedOptions<T, R>;
  readonly connections: Set<Channel<T>>;
  readonly idle: IdleSweeper;
  readonly clock: Clock;
  /** `close()` was called: new upgrades are refused. */
  closing: boolean;
  /** Upgrades waiting for an asynchronous `onUpgrade`, counted against `maxConnections`. */
  pending: number;
  /** This handler's topics: topic → subscribed sessions. */
  readonly topics: TopicIndex;
  /** How a binary message reaches `onMessage`: the runtime's narrowing (Node: a `Buffer` view). */
  readonly binary: (data: Uint8Array) => R["binary"];
  /** Where events go: the runtime's channels and `onEvent`. */
  readonly events: HandlerEvents<T, R>;
  /** What `handler.stats()` adds up. */
  readonly counters: HandlerCounters;
}

/** The shared state of a new handler. */
export function createContext<T, R extends Runtime>(
  callbacks: Callbacks<T, R>,
  options: ResolvedOptions<T, R>,
  clock: Clock,
  binary: (data: Uint8Array) => R["binary"],
  broker: ConstructorParameters<typeof TopicIndex>[0],
  events?: EventSink,
): HandlerContext<T, R> {
  return {
    callbacks,
    options,
    connections: new Set(),
    idle: new IdleSweeper(options.idleTimeout, clock),
    clock,
    closing: false,
    pending: 0,
    topics: new TopicIndex(broker),
    binary,
    events: handlerEvents(events, options.onEvent),
    counters: new HandlerCounters(),
  };
}
