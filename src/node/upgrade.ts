/**
 * The `upgrade` event: validate the request with the protocol core, pick a subprotocol, write
 * the 101 (or an HTTP error) on the socket, and hand the socket to a {@link SocketConnection}.
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
import type { Exchange } from "../options.js";
import { SocketConnection, type HandlerContext } from "./socket-connection.js";

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

/** Performs the opening handshake on an upgrade request this handler takes. */
export function acceptUpgrade<T>(
  context: HandlerContext<T>,
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): void {
  const verdict = validateUpgrade(request);
  if (!verdict.ok) return refuseUpgrade(socket, verdict.status, verdict.reason, verdict.headers);
  const exchange: Exchange = { request, url: requestUrl(request) };

  let protocol = "";
  const select = context.options.selectProtocol;
  if (select !== undefined && verdict.protocols.length > 0) {
    let chosen: string | undefined;
    try {
      chosen = select(verdict.protocols, exchange);
    } catch {
      return refuseUpgrade(socket, 500, "subprotocol selection failed");
    }
    // §4.2.2: the server's choice MUST be one of the values the client offered.
    if (chosen !== undefined && verdict.protocols.includes(chosen)) protocol = chosen;
  }

  if (!socket.writable) return void socket.destroy();
  const response = formatAcceptResponse({ accept: acceptKey(verdict.key, sha1Base64), protocol });
  socket.write(response);
  new SocketConnection<T>(socket as Socket, context, protocol).start(head, exchange);
}
