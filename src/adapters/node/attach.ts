/**
 * `attach()`: wires a handler into an HTTP/2 server the application made itself, for both
 * WebSocket transports: extended CONNECT streams (RFC 8441) on HTTP/2, upgrades on HTTP/1.1
 * (with `allowHTTP1`).
 * @module
 */

import type { IncomingMessage } from "node:http";
import { Http2ServerRequest, type Http2SecureServer, type Http2Server } from "node:http2";
import type { Duplex } from "node:stream";
import type { WebSocketHandler } from "./handshake.js";
import { refuseUpgrade } from "./upgrade.js";

/**
 * Node's `connect` event of an `http2` server: from its compatibility API (when the server has a
 * `request` listener) for an HTTP/2 CONNECT, or from its HTTP/1.1 side (with `allowHTTP1`).
 */
function onConnect(request: Http2ServerRequest | IncomingMessage, socket: unknown): void {
  // HTTP/2: the `stream` listener answers every CONNECT stream. This listener exists so that
  // Node's compatibility layer, which answers a CONNECT with 405 when a server has a `request`
  // listener and no `connect` listener (nodejs/node#36977), leaves the stream alone.
  if (request instanceof Http2ServerRequest) return;
  // HTTP/1.1: RFC 9110 §9.1, a method "not implemented SHOULD respond with the 501 (Not
  // Implemented) status code": this server is no proxy. (Node would cut the connection.)
  refuseUpgrade(socket as Duplex, 501, "CONNECT tunnels are not served here");
}

/**
 * Serves `handler`'s WebSockets on an HTTP/2 server of your own (`http2.createSecureServer`,
 * Fastify's `http2: true`, an Express app behind `http2.createSecureServer({ allowHTTP1: true })`):
 * advertises SETTINGS_ENABLE_CONNECT_PROTOCOL on the server's new sessions (RFC 8441 §3), so
 * browsers open WebSockets as extended CONNECT streams on their HTTP/2 connection; takes those
 * streams (`handler.stream` on the `stream` event); keeps Node's compatibility layer from
 * answering them with 405; and takes HTTP/1.1 upgrades (`handler.upgrade` on `upgrade`), for
 * clients that speak HTTP/1.1 on the same port. Plain requests stay with the server's own
 * `request` listener (which may be the handler itself, or your app). Call it before `listen`:
 * the setting applies to sessions made after it.
 *
 * @example
 * ```ts
 * const server = http2.createSecureServer({ cert, key, allowHTTP1: true }, app);
 * attach(server, handshake({ onMessage({ channel, text }) { if (text) void channel.sendText(text); } }));
 * server.listen(8443);
 * ```
 */
export function attach<T>(server: Http2SecureServer | Http2Server, handler: WebSocketHandler<T>): void {
  server.updateSettings({ enableConnectProtocol: true });
  server.on("stream", handler.stream);
  server.on("connect", onConnect);
  server.on("upgrade", handler.upgrade);
}
