/**
 * `serve()`: an HTTP server wired to a handler for both requests and upgrades.
 * @module
 */

import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { WebSocketHandler } from "./handshake.js";

/** Where to listen. */
export interface ServeOptions {
  /** TCP port; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Interface to listen on; default "127.0.0.1". */
  readonly host?: string;
}

/** A running server. */
export interface Server {
  /** The underlying `http.Server`. */
  readonly http: HttpServer;
  /** The port it listens on. */
  readonly port: number;
  /** The host it listens on. */
  readonly host: string;
  /** `ws://host:port`, for clients. */
  readonly url: string;
  /**
   * Stops accepting connections, closes every WebSocket with 1001 and waits for them (each
   * within the handler's `closeTimeout`), then closes idle HTTP connections.
   */
  close(): Promise<void>;
}

/**
 * Starts an HTTP server for `handler` and resolves once it listens.
 *
 * @example
 * ```ts
 * const server = await serve(handshake({ onMessage({ channel, text }) { if (text) void channel.sendText(text); } }), { port: 8080 });
 * console.log(server.url);
 * ```
 */
export async function serve<T>(handler: WebSocketHandler<T>, options: ServeOptions = {}): Promise<Server> {
  const { port = 0, host = "127.0.0.1" } = options;
  // Slowloris: a request whose headers take longer than handshakeTimeout is cut by Node's HTTP
  // server, which checks at connectionsCheckingInterval; header size stays at Node's limit
  // (16 KiB by default, answered with 431). handshakeTimeout Infinity asks for no limit: Node's
  // 0 for both timeouts (its request timeout would otherwise cut the request after 5 minutes).
  const timeout = handler.handshakeTimeout;
  const http = createServer(
    { connectionsCheckingInterval: Math.min(Math.max(timeout / 4, 100), 30_000) },
    handler,
  );
  http.headersTimeout = timeout === Infinity ? 0 : timeout;
  http.requestTimeout = timeout === Infinity ? 0 : Math.max(http.requestTimeout, timeout);
  http.on("upgrade", handler.upgrade);
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(port, host, () => {
      http.off("error", reject);
      resolve();
    });
  });
  const address = http.address() as AddressInfo;
  const hostInUrl = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    http,
    port: address.port,
    host: address.address,
    url: `ws://${hostInUrl}:${address.port}`,
    async close() {
      const stopped = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeIdleConnections();
      await handler.close();
      http.closeAllConnections();
      await stopped;
    },
  };
}
