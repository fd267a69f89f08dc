/**
 * `handshake()`: callbacks in, an HTTP handler out. The handler is a request listener (and
 * Connect/Express middleware) for plain requests, its `.upgrade` takes the server's `upgrade`
 * event (HTTP/1.1), and its `.stream` takes an HTTP/2 server's `stream` event (extended CONNECT,
 * RFC 8441).
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import type {
  Http2ServerRequest,
  Http2ServerResponse,
  IncomingHttpHeaders,
  ServerHttp2Stream,
} from "node:http2";
import type { Duplex } from "node:stream";
import { checkCallbacks, type Callbacks as CoreCallbacks } from "../../core/callbacks.js";
import { checkClose, type BinaryData, type Channel } from "../../core/channel.js";
import { resolveOptions, type Options as CoreOptions } from "../../core/options.js";
import { CloseCode } from "../../protocol/close-codes.js";
import { isWebSocketRequest, parseTarget, validateUpgrade } from "../../protocol/handshake.js";
import { acceptUpgrade, afterEarlierResponses, refuseUpgrade, UpgradeExchange } from "./upgrade.js";
import { acceptStream, goAway, refusedExchange, refuseStream } from "./http2.js";
import { connectKind, connectPathname } from "../../protocol/extended-connect.js";
import { createContext } from "../../core/context.js";
import { upgradeRefused } from "../../core/admission.js";
import { snapshot, type HandlerStats, type StatsOptions } from "../../core/stats.js";
import { nodeEvents } from "./events.js";
import { ZlibLimiter } from "./zlib.js";
import { SlabPool } from "../../protocol/outgoing.js";
import { nodeClock } from "./clock.js";
import { toBuffer, type NodeContext, type NodeRuntime } from "./context.js";

/**
 * The callbacks of a Node handler: `exchange.request` is an `IncomingMessage` (HTTP/1.1) or an
 * `Http2ServerRequest` (HTTP/2), `data` a `Buffer`.
 */
export type Callbacks<T = unknown> = CoreCallbacks<T, NodeRuntime>;
/** The options of a Node handler. */
export type Options<T = unknown> = CoreOptions<T, NodeRuntime>;

/** Node's `upgrade` event listener signature. */
export type UpgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * An HTTP/2 server's `stream` event listener, which says whether it took the stream: true when
 * the stream was a CONNECT and has been answered (a WebSocket, or a refusal), false when it is
 * an ordinary request, left untouched for the caller.
 */
export type StreamListener = (
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  flags?: number,
  rawHeaders?: string[],
) => boolean;

/**
 * A handler for requests this one does not take: any request listener, or middleware taking
 * `next`. If it has an `upgrade` method (another WebSocket handler, say), upgrade requests this
 * handler does not take go there, and likewise HTTP/2 extended CONNECT streams to its `stream`
 * method. Served over HTTP/2 (`serve()` with `tls`, or {@link attach}), it receives Node's
 * compatibility objects, `Http2ServerRequest` and `Http2ServerResponse`, as any request listener
 * of an `http2` server does.
 */
export type NextHandler = ((
  request: IncomingMessage,
  response: ServerResponse,
  next?: (error?: unknown) => void,
) => void) & {
  upgrade?: UpgradeListener;
  stream?: StreamListener;
  close?: () => Promise<void>;
};

/**
 * What `handshake()` returns: a request listener with `.upgrade` (HTTP/1.1) and `.stream`
 * (HTTP/2), its connections and `close()`.
 */
export interface WebSocketHandler<T = unknown> {
  /**
   * Request listener / middleware, for `node:http` and `node:http2` servers alike: plain requests
   * go to the next handler (or get 426 over HTTP/1.1, 405 with `allow: CONNECT` over HTTP/2).
   */
  (
    request: IncomingMessage | Http2ServerRequest,
    response: ServerResponse | Http2ServerResponse,
    next?: (error?: unknown) => void,
  ): void;
  /** Listener for the server's `upgrade` event: `server.on("upgrade", handler.upgrade)`. */
  readonly upgrade: UpgradeListener;
  /**
   * Takes the CONNECT streams of an HTTP/2 server (RFC 8441): an extended CONNECT for
   * `websocket` at this handler's path becomes a WebSocket; one for another path goes on to the
   * next handler's `stream`, else gets 404; another `:protocol` gets 400 and a plain CONNECT
   * 501. Returns false, touching nothing, for an ordinary request. {@link attach} wires it; call
   * it yourself from a `stream` listener of your own:
   *
   * @example
   * ```ts
   * const server = http2.createSecureServer({ cert, key, settings: { enableConnectProtocol: true } });
   * server.on("stream", (stream, headers) => {
   *   if (handler.stream(stream, headers)) return; // a WebSocket, or a refused CONNECT
   *   stream.respond({ ":status": 200 });
   *   stream.end("hello");
   * });
   * ```
   */
  readonly stream: StreamListener;
  /** The open channels of this handler. */
  readonly connections: ReadonlySet<Channel<T>>;
  /**
   * Refuses new upgrades (503), closes every connection with `code` (default 1001), and
   * resolves when all have closed (each within `closeTimeout`); then sends GOAWAY on the HTTP/2
   * sessions that carried its WebSockets. Closes the next handler too.
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
    h2Sessions: new Set(),
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
    request: IncomingMessage | Http2ServerRequest,
    response: ServerResponse | Http2ServerResponse,
    nextMiddleware?: (error?: unknown) => void,
  ): void => {
    if (request.httpVersionMajor === 2) {
      return plainH2(request as Http2ServerRequest, response as Http2ServerResponse, nextMiddleware);
    }
    serveHttp1(request as IncomingMessage, response as ServerResponse, nextMiddleware);
  };

  const serveHttp1 = (
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

  // A request over HTTP/2 (Node's compatibility API). A WebSocket never comes this way (an
  // extended CONNECT is a stream, see `stream`), so it goes to the next handler. Without one:
  // not 426, which needs an Upgrade header (RFC 9110 §15.5.22) that HTTP/2 forbids (RFC 9113
  // §8.2.2), but 405 with the one method that opens a WebSocket here (RFC 8441 §4).
  const plainH2 = (
    request: Http2ServerRequest,
    response: Http2ServerResponse,
    nextMiddleware?: (error?: unknown) => void,
  ): void => {
    if (next !== undefined) {
      return next(
        request as unknown as IncomingMessage,
        response as unknown as ServerResponse,
        nextMiddleware,
      );
    }
    if (nextMiddleware !== undefined) return nextMiddleware();
    response.writeHead(405, { allow: "CONNECT", "content-type": "text/plain; charset=utf-8" });
    response.end("this endpoint speaks WebSocket: send an extended CONNECT (RFC 8441)");
  };

  const stream: StreamListener = (h2stream, headers, flags, rawHeaders) => {
    const kind = connectKind(headers);
    if (kind === "request") return false;
    if (kind === "websocket") {
      // A :path that is not a path is taken, so that validation refuses it as malformed.
      const pathname = connectPathname(headers);
      if (pathname === undefined || resolved.matchPath(pathname)) {
        acceptStream(context, h2stream, headers, rawHeaders);
        return true;
      }
    }
    if (next?.stream !== undefined) return next.stream(h2stream, headers, flags, rawHeaders);
    if (kind === "websocket") {
      const reason = "no WebSocket endpoint at this path";
      upgradeRefused(context, refusedExchange(h2stream, headers, rawHeaders), 404, reason, "path");
      refuseStream(h2stream, 404, reason);
    } else if (kind === "other-protocol") {
      refuseStream(h2stream, 400, "unsupported :protocol; only websocket is spoken here");
    }
    // RFC 9110 §9.1: "An origin server that receives a request method that is unrecognized or
    // not implemented SHOULD respond with the 501 (Not Implemented) status code": this server
    // is no proxy, so a CONNECT tunnel (RFC 9113 §8.5) is not implemented.
    else
      refuseStream(h2stream, 501, "CONNECT tunnels are not served here; WebSockets use :protocol websocket");
    return true;
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
    goAway(context);
    await context.topics.close();
    await next?.close?.();
  };

  return Object.assign(handler, {
    upgrade,
    stream,
    connections: connections as ReadonlySet<Channel<T>>,
    close,
    handshakeTimeout: resolved.handshakeTimeout,
    publish: (topic: string, message: string | BinaryData): number => context.topics.publish(topic, message),
    subscriberCount: (topic: string): number => context.topics.subscriberCount(topic),
    stats: (options?: StatsOptions): HandlerStats =>
      snapshot(context.counters, context.topics, context.zlib?.queued ?? 0, options),
  });
}
