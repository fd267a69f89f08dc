/**
 * `handshake()`: callbacks in, an HTTP handler out. The handler is a request listener (and
 * Connect/Express middleware) for plain requests, and its `.upgrade` takes the server's
 * `upgrade` event.
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { checkCallbacks, type Callbacks as CoreCallbacks } from "../../core/callbacks.js";
import { checkClose, type BinaryData, type Channel } from "../../core/channel.js";
import { resolveOptions, type Options as CoreOptions } from "../../core/options.js";
import { CloseCode } from "../../protocol/close-codes.js";
import { isWebSocketRequest, parseTarget, validateUpgrade } from "../../protocol/handshake.js";
import { acceptUpgrade, afterEarlierResponses, refuseUpgrade, UpgradeExchange } from "./upgrade.js";
import { createContext } from "../../core/context.js";
import { upgradeRefused } from "../../core/admission.js";
import { snapshot, type HandlerStats, type StatsOptions } from "../../core/stats.js";
import { nodeEvents } from "./events.js";
import { ZlibLimiter } from "./zlib.js";
import { SlabPool } from "../../protocol/outgoing.js";
import { nodeClock } from "./clock.js";
import { toBuffer, type NodeContext, type NodeRuntime } from "./context.js";

/** The callbacks of a Node handler: `exchange.request` is an `IncomingMessage`, `data` a `Buffer`. */
export type Callbacks<T = unknown> = CoreCallbacks<T, NodeRuntime>;
/** The options of a Node handler. */
export type Options<T = unknown> = CoreOptions<T, NodeRuntime>;

/** Node's `upgrade` event listener signature. */
export type UpgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * A handler for requests this one does not take: any request listener, or middleware taking
 * `next`. If it has an `upgrade` method (another WebSocket handler, say), upgrade requests this
 * handler does not take go there.
 */
export type NextHandler = ((
  request: IncomingMessage,
  response: ServerResponse,
  next?: (error?: unknown) => void,
) => void) & {
  upgrade?: UpgradeListener;
  close?: () => Promise<void>;
};

/** What `handshake()` returns: a request listener with `.upgrade`, its connections and `close()`. */
export interface WebSocketHandler<T = unknown> {
  /** Request listener / middleware: plain requests go to the next handler (or get 426). */
  (request: IncomingMessage, response: ServerResponse, next?: (error?: unknown) => void): void;
  /** Listener for the server's `upgrade` event: `server.on("upgrade", handler.upgrade)`. */
  readonly upgrade: UpgradeListener;
  /** The open channels of this handler. */
  readonly connections: ReadonlySet<Channel<T>>;
  /**
   * Refuses new upgrades (503), closes every connection with `code` (default 1001), and
   * resolves when all have closed (each within `closeTimeout`). Closes the next handler too.
   * A code or reason that cannot be sent (see `channel.close`) rejects with
   * `InvalidArgumentError` and changes nothing.
   */
  close(code?: number, reason?: string): Promise<void>;
  /** The handler's `handshakeTimeout`, which `serve()` applies to the HTTP server. */
  readonly handshakeTimeout: number;
  /**
   * Publishes `message` (a string as text, bytes as binary) to every subscriber of `topic`: of
   * this handler, of handlers sharing its broker, and of other processes when the broker is a
   * backplane. Framed once; each subscriber's backpressure policy applies. Returns how many
   * subscribers in this process it was written to.
   *
   * @example
   * ```ts
   * setInterval(() => handler.publish("ticker", JSON.stringify(prices())), 1000);
   * ```
   */
  publish(topic: string, message: string | BinaryData): number;
  /** How many connections of this handler (in this process) are subscribed to `topic`. */
  subscriberCount(topic: string): number;
  /**
   * A synchronous snapshot of this handler: open connections, upgrades accepted and refused
   * (by status), messages and bytes in and out, closes by code, what the backpressure policy
   * did, bytes waiting to be written, zlib operations queued; with `{ topics: true }`, each
   * topic's subscriber count. Cheap enough to call every second (see {@link HandlerStats}).
   *
   * @example
   * ```ts
   * setInterval(() => {
   *   const { connections, messages } = handler.stats();
   *   console.log(`${connections} open, ${messages.in} messages in`);
   * }, 1000).unref();
   * ```
   */
  stats(options?: StatsOptions): HandlerStats;
}

/**
 * Builds a WebSocket handler from callbacks.
 *
 * @example
 * ```ts
 * const echo = handshake({
 *   onMessage({ channel, text, data }) {
 *     if (text !== undefined) void channel.sendText(text);
 *     else void channel.sendBinary(data);
 *   },
 * });
 * http.createServer(echo).on("upgrade", echo.upgrade).listen(8080);
 * ```
 */
export function handshake<T = unknown>(callbacks: Callbacks<T>, options?: Options<T>): WebSocketHandler<T>;
/**
 * Builds a WebSocket handler that passes requests without WebSocket headers (and upgrades for
 * other paths) to `next`.
 *
 * @example
 * ```ts
 * const site = handshake((req, res) => res.end("hello"), { onMessage() {} }, { path: "/ws" });
 * ```
 */
export function handshake<T = unknown>(
  next: NextHandler,
  callbacks: Callbacks<T>,
  options?: Options<T>,
): WebSocketHandler<T>;
export function handshake<T = unknown>(
  first: NextHandler | Callbacks<T>,
  second?: Callbacks<T> | Options<T>,
  third?: Options<T>,
): WebSocketHandler<T> {
  const next = typeof first === "function" ? first : undefined;
  const callbacks = (next === undefined ? first : second) as Callbacks<T> | undefined;
  const options = (next === undefined ? second : third) as Options<T> | undefined;
  checkCallbacks(callbacks);
  const resolved = resolveOptions(options);
  const context: NodeContext<T> = {
    ...createContext<T, NodeRuntime>(callbacks, resolved, nodeClock, toBuffer, options?.broker, nodeEvents),
    zlib: resolved.compression === undefined ? undefined : new ZlibLimiter(resolved.compression.concurrency),
    slabs: new SlabPool(Buffer.allocUnsafe),
  };
  const connections = context.connections;

  // The path of an origin-form or absolute-form target (RFC 9112 §3.2); a target of another
  // form is taken, so that the handshake refuses it with 400.
  const takes = (request: IncomingMessage): boolean => {
    if (!isWebSocketRequest(request.headers)) return false;
    const target = parseTarget(request.url);
    return target === undefined || resolved.matchPath(target.pathname);
  };

  const handler = (
    request: IncomingMessage,
    response: ServerResponse,
    nextMiddleware?: (error?: unknown) => void,
  ): void => {
    if (takes(request)) {
      // Node emits `upgrade` only for requests whose Connection header says so; one that asks
      // for websocket without it lands here, and is refused with the handshake's own reason.
      const verdict = validateUpgrade(request);
      if (!verdict.ok) {
        upgradeRefused(context, new UpgradeExchange(request), verdict.status, verdict.reason, "handshake");
        response.writeHead(verdict.status, {
          ...verdict.headers,
          Connection: "close",
          "Content-Type": "text/plain; charset=utf-8",
          "Content-Length": Buffer.byteLength(verdict.reason),
        });
        return void response.end(verdict.reason);
      }
    }
    if (next !== undefined) return next(request, response, nextMiddleware);
    if (nextMiddleware !== undefined) return nextMiddleware();
    response.writeHead(426, { Upgrade: "websocket", "Content-Type": "text/plain; charset=utf-8" });
    response.end("this endpoint speaks WebSocket: send an upgrade request");
  };

  const upgrade: UpgradeListener = (request, socket, head) => {
    // Answers go out in request order: a response to a request pipelined before this one is
    // written first (see afterEarlierResponses).
    afterEarlierResponses(socket, resolved.handshakeTimeout, () => takeUpgrade(request, socket, head));
  };

  const takeUpgrade: UpgradeListener = (request, socket, head) => {
    if (!takes(request)) {
      if (next?.upgrade !== undefined) return next.upgrade(request, socket, head);
      if (!isWebSocketRequest(request.headers)) {
        return refuseUpgrade(socket, 400, "unsupported upgrade; only websocket is spoken here");
      }
      const reason = "no WebSocket endpoint at this path";
      upgradeRefused(context, new UpgradeExchange(request), 404, reason, "path");
      return refuseUpgrade(socket, 404, reason);
    }
    acceptUpgrade(context, request, socket, head);
  };

  const close = async (
    code: number = CloseCode.GoingAway,
    reason = "server shutting down",
  ): Promise<void> => {
    // Checked before anything changes: a refused close leaves the handler as it was.
    const invalid = checkClose(code, reason);
    if (invalid !== undefined) throw invalid;
    context.closing = true;
    await Promise.all([...connections].map((channel) => channel.close(code, reason)));
    await context.topics.close();
    await next?.close?.();
  };

  return Object.assign(handler, {
    upgrade,
    connections: connections as ReadonlySet<Channel<T>>,
    close,
    handshakeTimeout: resolved.handshakeTimeout,
    publish: (topic: string, message: string | BinaryData): number => context.topics.publish(topic, message),
    subscriberCount: (topic: string): number => context.topics.subscriberCount(topic),
    stats: (options?: StatsOptions): HandlerStats =>
      snapshot(context.counters, context.topics, context.zlib?.queued ?? 0, options),
  });
}
