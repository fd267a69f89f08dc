/**
 * What the Node adapter adds to the core's types and shared state: the runtime narrowing
 * (`exchange.request` is an `IncomingMessage`, binary messages are `Buffer`s), and the
 * per-handler resources of its byte transport (send slabs, the zlib limiter).
 * @module
 */

import type { IncomingMessage } from "node:http";
import type { HandlerContext } from "../../core/context.js";
import type { Runtime } from "../../core/options.js";
import type { SlabPool } from "../../protocol/outgoing.js";
import type { JobLimiter } from "../../wire/compression.js";

/** Node's narrowing of the public types. */
export interface NodeRuntime extends Runtime {
  readonly request: IncomingMessage;
  readonly binary: Buffer;
}

/** A Node handler's shared state: the core's, and its transport's. */
export interface NodeContext<T> extends HandlerContext<T, NodeRuntime> {
  /** Slab memory for small outgoing frames, shared by the handler's connections. */
  readonly slabs: SlabPool;
  /** Bounds this handler's concurrent zlib work; undefined when compression is off. */
  readonly zlib: JobLimiter | undefined;
}

/** A binary message as Node code expects it: a `Buffer` over the same bytes, never a copy. */
export function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
