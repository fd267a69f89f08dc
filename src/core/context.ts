/**
 * The state every connection of one handler shares: its callbacks and options, its open
 * connections, and the per-handler resources (idle sweeper, zlib limiter, send slabs, topics).
 * @module
 */

import type { Callbacks } from "./callbacks.js";
import type { Channel } from "./channel.js";
import type { ResolvedOptions } from "./options.js";
import type { SlabPool } from "../protocol/outgoing.js";
import type { TopicIndex } from "../pubsub/topics.js";
import type { IdleSweeper } from "./timers.js";
import type { ZlibLimiter } from "../adapters/node/zlib.js";
import type { SocketConnection } from "../adapters/node/socket-connection.js";

/** What every connection of one handler shares. */
export interface HandlerContext<T> {
  readonly callbacks: Callbacks<T>;
  readonly options: ResolvedOptions<T>;
  readonly connections: Set<Channel<T>>;
  readonly idle: IdleSweeper;
  /** `close()` was called: new upgrades are refused. */
  closing: boolean;
  /** Upgrades waiting for an asynchronous `onUpgrade`, counted against `maxConnections`. */
  pending: number;
  /** Bounds this handler's concurrent zlib work; undefined when compression is off. */
  readonly zlib: ZlibLimiter | undefined;
  /** Slab memory for small outgoing frames, shared by the handler's connections. */
  readonly slabs: SlabPool;
  /** This handler's topics: topic → subscribed connections. */
  readonly topics: TopicIndex<SocketConnection<T>>;
}
