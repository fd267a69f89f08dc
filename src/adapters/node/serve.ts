/**
 * `serve()`: a server wired to a handler for requests and WebSockets: plain HTTP/1.1, or with
 * `tls` HTTPS with ALPN `h2` and `http/1.1` on one port (WebSockets as HTTP/1.1 upgrades and as
 * HTTP/2 extended CONNECT streams, RFC 8441).
 * @module
 */

import { createServer, type Server as HttpServer } from "node:http";
import { createSecureServer, type Http2SecureServer, type ServerHttp2Session } from "node:http2";
import type { AddressInfo, Server as NetServer, Socket } from "node:net";
import type { SecureContextOptions } from "node:tls";
import type { WebSocketHandler } from "./handshake.js";
import { attach } from "./attach.js";

/** Where to listen. */
export interface ServeOptions {
  /** TCP port; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Interface to listen on; default "127.0.0.1". */
  readonly host?: string;
}

/** The certificate and key of an HTTPS server (any other `tls` context option may come along). */
export interface TlsOptions extends SecureContextOptions {
  /** PEM certificate chain. */
  readonly cert: NonNullable<SecureContextOptions["cert"]>;
  /** PEM private key. */
  readonly key: NonNullable<SecureContextOptions["key"]>;
}

/** Where to listen, over TLS: HTTPS with HTTP/2 and HTTP/1.1 on one port. */
export interface SecureServeOptions extends ServeOptions {
  readonly tls: TlsOptions;
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

/** A running HTTPS server: HTTP/2 and HTTP/1.1 on one port. */
export interface SecureServer {
  /** The underlying `http2.Http2SecureServer` (with `allowHTTP1`). */
  readonly http2: Http2SecureServer;
  /** The port it listens on. */
  readonly port: number;
  /** The host it listens on. */
  readonly host: string;
  /** `wss://host:port`, for clients. */
  readonly url: string;
  /**
   * Stops accepting connections, closes every WebSocket with 1001 and waits for them (each
   * within the handler's `closeTimeout`), sends GOAWAY on every HTTP/2 session, then closes
   * what is left.
   */
  close(): Promise<void>;
}

/** How often Node's HTTP server checks its header and request timeouts, for a handshake timeout. */
const checkingInterval = (timeout: number): number => Math.min(Math.max(timeout / 4, 100), 30_000);

async function listen(server: NetServer, port: number, host: string): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}

function hostInUrl(address: AddressInfo): string {
  return address.family === "IPv6" ? `[${address.address}]` : address.address;
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
export function serve<T>(handler: WebSocketHandler<T>, options?: ServeOptions): Promise<Server>;
/**
 * Starts an HTTPS server for `handler`, with ALPN `h2` and `http/1.1` on one port, and resolves
 * once it listens. Plain requests reach the handler's next handler over both protocols;
 * WebSockets open as HTTP/1.1 upgrades and as HTTP/2 extended CONNECT streams (RFC 8441), which
 * browsers use on their HTTP/2 connection to the page's server.
 *
 * @example
 * ```ts
 * const server = await serve(site, { port: 8443, tls: { cert: readFileSync("cert.pem"), key: readFileSync("key.pem") } });
 * console.log(server.url); // wss://127.0.0.1:8443
 * ```
 */
export function serve<T>(handler: WebSocketHandler<T>, options: SecureServeOptions): Promise<SecureServer>;
export function serve<T>(
  handler: WebSocketHandler<T>,
  options: ServeOptions | SecureServeOptions = {},
): Promise<Server | SecureServer> {
  return "tls" in options ? serveSecure(handler, options) : servePlain(handler, options);
}

async function servePlain<T>(handler: WebSocketHandler<T>, options: ServeOptions): Promise<Server> {
  const { port = 0, host = "127.0.0.1" } = options;
  // Slowloris: a request whose headers take longer than handshakeTimeout is cut by Node's HTTP
  // server, which checks at connectionsCheckingInterval; header size stays at Node's limit
  // (16 KiB by default, answered with 431). handshakeTimeout Infinity asks for no limit: Node's
  // 0 for both timeouts (its request timeout would otherwise cut the request after 5 minutes).
  const timeout = handler.handshakeTimeout;
  const http = createServer({ connectionsCheckingInterval: checkingInterval(timeout) }, handler);
  http.headersTimeout = timeout === Infinity ? 0 : timeout;
  http.requestTimeout = timeout === Infinity ? 0 : Math.max(http.requestTimeout, timeout);
  http.on("upgrade", handler.upgrade);
  const address = await listen(http, port, host);
  return {
    http,
    port: address.port,
    host: address.address,
    url: `ws://${hostInUrl(address)}:${address.port}`,
    async close() {
      const stopped = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeIdleConnections();
      await handler.close();
      http.closeAllConnections();
      await stopped;
    },
  };
}

async function serveSecure<T>(
  handler: WebSocketHandler<T>,
  options: SecureServeOptions,
): Promise<SecureServer> {
  const { port = 0, host = "127.0.0.1", tls } = options;
  const timeout = handler.handshakeTimeout;
  const http2 = createSecureServer(
    { ...tls, allowHTTP1: true, settings: { enableConnectProtocol: true } },
    handler,
  );
  // The HTTP/1.1 side is Node's HTTP server code: the same slowloris limits as servePlain.
  const h1 = http2 as unknown as { headersTimeout: number; requestTimeout: number };
  h1.headersTimeout = timeout === Infinity ? 0 : timeout;
  h1.requestTimeout = timeout === Infinity ? 0 : Math.max(h1.requestTimeout, timeout);
  attach(http2, handler);
  // What close() cuts at the end: HTTP/2 sessions, and the TLS sockets of HTTP/1.1 clients.
  const sessions = new Set<ServerHttp2Session>();
  const sockets = new Set<Socket>();
  http2.on("session", (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  http2.on("secureConnection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  const address = await listen(http2, port, host);
  return {
    http2,
    port: address.port,
    host: address.address,
    url: `wss://${hostInUrl(address)}:${address.port}`,
    async close() {
      // Node's close() also closes every HTTP/2 session gracefully (GOAWAY; streams may finish).
      const stopped = new Promise<void>((resolve) => http2.close(() => resolve()));
      await handler.close();
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
      await stopped;
    },
  };
}
