/**
 * What the Node adapter adds to the core's types and shared state: the runtime narrowing
 * (`exchange.request` is an `IncomingMessage` over HTTP/1.1 and an `Http2ServerRequest` over
 * HTTP/2, binary messages are `Buffer`s), and the per-handler resources of its byte transports
 * (send slabs, the zlib limiter, the HTTP/2 sessions carrying its WebSockets).
 * @module
 */

import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest, ServerHttp2Session } from "node:http2";
import type { HandlerContext } from "../../core/context.js";
import type { Runtime } from "../../core/options.js";
import type { SlabPool } from "../../protocol/outgoing.js";
import type { JobLimiter } from "../../wire/compression.js";

/** Node's narrowing of the public types. */
export interface NodeRuntime extends Runtime {
  /**
   * The opening request: an HTTP/1.1 upgrade, or an HTTP/2 extended CONNECT (RFC 8441), whose
   * `headers` carry the pseudo-header fields (`:path`, `:authority`, `:scheme`, `:protocol`) and
   * whose `httpVersion` is "2.0". Both have `headers`, `url`, `method` and `socket`.
   */
  readonly request: IncomingMessage | Http2ServerRequest;
  readonly binary: Buffer;
}

/** A Node handler's shared state: the core's, and its transport's. */
export interface NodeContext<T> extends HandlerContext<T, NodeRuntime> {
  /** Slab memory for small outgoing frames, shared by the handler's connections. */
  readonly slabs: SlabPool;
  /** Bounds this handler's concurrent zlib work; undefined when compression is off. */
  readonly zlib: JobLimiter | undefined;
  /** HTTP/2 sessions carrying this handler's WebSockets, for the GOAWAY of `close()`. */
  readonly h2Sessions: Set<ServerHttp2Session>;
}

/** A binary message as Node code expects it: a `Buffer` over the same bytes, never a copy. */
export function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
