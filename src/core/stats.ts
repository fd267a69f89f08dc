/**
 * `handler.stats()`: a synchronous snapshot of one handler, for every transport. Connections
 * count their own messages and bytes (plain increments on objects they already have); the
 * handler adds them up when asked, with the totals of connections that have closed.
 * @module
 */

import type { TopicIndex } from "../pubsub/topics.js";

/** What a connection counts about itself. */
export interface ConnectionCounts {
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly bufferedAmount: number;
}

/** A handler's running totals (the connections still open keep their own). */
export class HandlerCounters {
  /** Upgrades admitted. */
  accepted = 0;
  /** Upgrades refused, by HTTP status. */
  readonly refused = new Map<number, number>();
  /** Closed connections, by close code. */
  readonly closes = new Map<number, number>();
  backpressureCloses = 0;
  backpressureDrops = 0;
  /** Totals of the connections that have closed. */
  messagesIn = 0;
  messagesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** The connections open now. */
  readonly open = new Set<ConnectionCounts>();

  /** An upgrade was refused with `status`. */
  refuse(status: number): void {
    this.refused.set(status, (this.refused.get(status) ?? 0) + 1);
  }

  /** A connection closed with `code`: its counts join the totals. */
  retire(connection: ConnectionCounts, code: number): void {
    this.open.delete(connection);
    this.closes.set(code, (this.closes.get(code) ?? 0) + 1);
    this.messagesIn += connection.messagesIn;
    this.messagesOut += connection.messagesOut;
    this.bytesIn += connection.bytesIn;
    this.bytesOut += connection.bytesOut;
  }
}

/** Options of `handler.stats()`. */
export interface StatsOptions {
  /** Add `topics`, each topic's subscriber count in this handler. Default false. */
  readonly topics?: boolean;
}

/**
 * A snapshot of one handler (in this process), from `handler.stats()`. Every count is since
 * the handler was made; `connections`, `bufferedBytes` and `zlibQueued` are now.
 */
export interface HandlerStats {
  /** Connections open now. */
  readonly connections: number;
  readonly upgrades: {
    /** Upgrades admitted (a 101 followed). */
    readonly accepted: number;
    /** Upgrades refused, by HTTP status: `{ 403: 2, 503: 1 }`. */
    readonly refused: Readonly<Record<number, number>>;
  };
  /** Messages received and sent (published ones included), by open and closed connections. */
  readonly messages: { readonly in: number; readonly out: number };
  /** Bytes received and written on the wire, WebSocket framing included. */
  readonly bytes: { readonly in: number; readonly out: number };
  /** Closed connections, by the code `onClose` reported: `{ 1000: 12, 1006: 1 }`. */
  readonly closes: Readonly<Record<number, number>>;
  /** What the backpressure policy did: connections closed (1008), messages dropped. */
  readonly backpressure: { readonly closes: number; readonly drops: number };
  /** Bytes accepted for sending and not yet written, over all open connections. */
  readonly bufferedBytes: number;
  /** zlib operations (compressions, inflations) waiting for a slot of `compression.concurrency`. */
  readonly zlibQueued: number;
  /** With `{ topics: true }`: topic → subscribers of this handler. */
  readonly topics?: Readonly<Record<string, number>>;
}

function record(map: ReadonlyMap<number, number>): Record<number, number> {
  const out: Record<number, number> = {};
  for (const [key, value] of map) out[key] = value;
  return out;
}

/**
 * The snapshot: O(open connections), a few additions each (10 000 connections take well under
 * a millisecond), plus O(topics) with `{ topics: true }`.
 */
export function snapshot(
  counters: HandlerCounters,
  topics: TopicIndex,
  zlibQueued: number,
  options: StatsOptions | undefined,
): HandlerStats {
  let messagesIn = counters.messagesIn;
  let messagesOut = counters.messagesOut;
  let bytesIn = counters.bytesIn;
  let bytesOut = counters.bytesOut;
  let bufferedBytes = 0;
  for (const connection of counters.open) {
    messagesIn += connection.messagesIn;
    messagesOut += connection.messagesOut;
    bytesIn += connection.bytesIn;
    bytesOut += connection.bytesOut;
    bufferedBytes += connection.bufferedAmount;
  }
  const stats: HandlerStats = {
    connections: counters.open.size,
    upgrades: { accepted: counters.accepted, refused: record(counters.refused) },
    messages: { in: messagesIn, out: messagesOut },
    bytes: { in: bytesIn, out: bytesOut },
    closes: record(counters.closes),
    backpressure: { closes: counters.backpressureCloses, drops: counters.backpressureDrops },
    bufferedBytes,
    zlibQueued,
  };
  return options?.topics === true ? { ...stats, topics: topics.subscriberCounts() } : stats;
}
