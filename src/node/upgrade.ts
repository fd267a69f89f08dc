/**
 * The `upgrade` event: validate the request with the protocol core, apply the handler's access
 * rules (connection limit, origins, subprotocol, `onUpgrade`), then write the 101 (or an HTTP
 * error) on the socket and hand it to a {@link SocketConnection}.
 * @module
 */

import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Socket } from "node:net";
import {
  acceptKey,
  formatAcceptResponse,
  formatErrorResponse,
  validateUpgrade,
} from "../protocol/handshake.js";
import type { Exchange, UpgradeDecision } from "../options.js";
import { parseExtensions } from "../protocol/extensions-header.js";
import { negotiateDeflate, type DeflateAgreement } from "../protocol/permessage-deflate.js";
import { SocketConnection } from "./socket-connection.js";
import type { HandlerContext } from "./handler-context.js";
import { startTimer } from "./timers.js";

function sha1Base64(input: string): string {
  return createHash("sha1").update(input).digest("base64");
}

/** Answers an upgrade request with an HTTP error and closes the socket once it is written. */
export function refuseUpgrade(
  socket: Duplex,
  status: number,
  reason: string,
  headers?: Readonly<Record<string, string>>,
): void {
  socket.on("error", destroySocket);
  if (socket.writable) {
    socket.end(formatErrorResponse(status, reason, headers));
    (socket as Socket).destroySoon?.();
  } else socket.destroy();
}

function destroySocket(this: Duplex): void {
  this.destroy();
}

/** The URL of a request, resolved against its Host header. */
export function requestUrl(request: IncomingMessage): URL {
  const host = request.headers.host ?? "localhost";
  try {
    return new URL(request.url ?? "/", `http://${host}`);
  } catch {
    return new URL("http://localhost/");
  }
}

/** The exchange of an upgrade; its URL is parsed only if someone reads it. */
class UpgradeExchange implements Exchange {
  readonly request: IncomingMessage;
  #url: URL | undefined;

  constructor(request: IncomingMessage) {
    this.request = request;
  }

  get url(): URL {
    return (this.#url ??= requestUrl(this.request));
  }
}

/** Performs the opening handshake on an upgrade request this handler takes. */
export function acceptUpgrade<T>(
  context: HandlerContext<T>,
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): void {
  const { options } = context;
  const verdict = validateUpgrade(request);
  if (!verdict.ok) return refuseUpgrade(socket, verdict.status, verdict.reason, verdict.headers);
  if (context.closing) return refuseUpgrade(socket, 503, "server shutting down");
  if (context.connections.size + context.pending >= options.maxConnections) {
    return refuseUpgrade(socket, 503, "too many connections");
  }
  const exchange: Exchange = new UpgradeExchange(request);

  try {
    if (options.allowOrigin !== undefined && !options.allowOrigin(header(request, "origin"), exchange)) {
      return refuseUpgrade(socket, 403, "origin not allowed");
    }
  } catch {
    return refuseUpgrade(socket, 500, "origin check failed");
  }

  let protocol = "";
  const select = options.selectProtocol;
  if (select !== undefined && verdict.protocols.length > 0) {
    let chosen: string | undefined | false;
    try {
      chosen = select(verdict.protocols, exchange);
    } catch {
      return refuseUpgrade(socket, 500, "subprotocol selection failed");
    }
    if (chosen === false) return refuseUpgrade(socket, 400, "no acceptable subprotocol");
    // §4.2.2: the server's choice MUST be one of the values the client offered.
    if (chosen !== undefined && verdict.protocols.includes(chosen)) protocol = chosen;
  }

  // RFC 7692: accept the first permessage-deflate offer we can honour; decline the others.
  let deflate: DeflateAgreement | undefined;
  if (options.compression !== undefined) {
    const offers = parseExtensions(request.headers["sec-websocket-extensions"]);
    if (offers === undefined) return refuseUpgrade(socket, 400, "invalid Sec-WebSocket-Extensions");
    deflate = negotiateDeflate(offers, options.compression);
  }

  const complete = (decision: UpgradeDecision<T>): void => {
    if (socket.destroyed || !socket.writable) return void socket.destroy();
    if (decision === false) return refuseUpgrade(socket, 403, "forbidden");
    if (typeof decision === "object" && "status" in decision) {
      const status = Number.isInteger(decision.status) && decision.status >= 400 && decision.status <= 599;
      return refuseUpgrade(
        socket,
        status ? decision.status : 500,
        decision.body ?? "refused",
        decision.headers,
      );
    }
    if (context.closing) return refuseUpgrade(socket, 503, "server shutting down");
    const accept = acceptKey(verdict.key, sha1Base64);
    socket.write(formatAcceptResponse({ accept, protocol, extensions: deflate?.response }));
    const connection = new SocketConnection<T>(socket as Socket, context, protocol, deflate);
    if (typeof decision === "object") connection.channel.data = decision.data;
    connection.start(head, exchange);
  };

  const onUpgrade = options.onUpgrade;
  if (onUpgrade === undefined) return complete(undefined);
  let result: UpgradeDecision<T> | Promise<UpgradeDecision<T>>;
  try {
    result = onUpgrade(exchange);
  } catch {
    return refuseUpgrade(socket, 500, "upgrade check failed");
  }
  if (!(result instanceof Promise)) return complete(result);

  // An asynchronous decision: hold the socket (its bytes wait in its buffer), give up after
  // handshakeTimeout (never when it is Infinity), and count it against maxConnections meanwhile.
  context.pending++;
  let settled = false;
  const timer = startTimer(options.handshakeTimeout, () => {
    settled = true;
    context.pending--;
    refuseUpgrade(socket, 503, "upgrade check timed out");
  });
  timer?.unref();
  socket.on("error", destroySocket);
  result.then(
    (decision) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      context.pending--;
      complete(decision);
    },
    () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      context.pending--;
      refuseUpgrade(socket, 500, "upgrade check failed");
    },
  );
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
