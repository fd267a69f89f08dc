/**
 * The `upgrade` event: validate the request with the protocol core, let the core's admission
 * decide (connection limit, origins, subprotocol, deflate, `onUpgrade`), then write the 101 (or
 * an HTTP error) on the socket and hand it to a session over a byte link. What the application
 * decided was read strictly by the admission; the answer is validated again as it is
 * formatted, so nothing that cannot be written as HTTP reaches the wire.
 * @module
 */

import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Socket } from "node:net";
import type { EventEmitter } from "node:events";
import {
  acceptKey,
  formatAcceptResponse,
  formatErrorResponse,
  parseTarget,
  validateUpgrade,
} from "../../protocol/handshake.js";
import type { Exchange as CoreExchange } from "../../core/options.js";
import { Session } from "../../core/session.js";
import { ByteLink } from "../../wire/link.js";
import { SocketStream } from "./socket.js";
import { connectionZlib } from "./zlib.js";
import type { NodeContext, NodeRuntime } from "./context.js";
import { admit, upgradeRefused } from "../../core/admission.js";

type Exchange = CoreExchange<NodeRuntime>;

function sha1Base64(input: string): string {
  return createHash("sha1").update(input).digest("base64");
}

/** The answer to an application failure: no detail of it reaches the client. */
const INTERNAL_ERROR = formatErrorResponse(500, "internal server error");

/** Writes a formatted error response (a Latin-1 byte string) and closes the socket once it is out. */
function writeRefusal(socket: Duplex, response: string): void {
  socket.on("error", destroySocket);
  if (socket.writable) {
    socket.end(response, "latin1");
    (socket as Socket).destroySoon?.();
  } else socket.destroy();
}

/** Answers an upgrade request with an HTTP error and closes the socket once it is written. */
export function refuseUpgrade(
  socket: Duplex,
  status: number,
  reason: string,
  headers?: Readonly<Record<string, string>>,
): void {
  let response: string;
  try {
    response = formatErrorResponse(status, reason, headers);
  } catch {
    // Only the library's own statuses and headers come here, so this is a bug of ours: still,
    // nothing but a plain 500 goes out.
    response = INTERNAL_ERROR;
  }
  writeRefusal(socket, response);
}

function destroySocket(this: Duplex): void {
  this.destroy();
}

/** A socket of Node's HTTP server: the response it is writing, if any (an internal field). */
interface ServerSocket {
  _httpMessage?: (EventEmitter & { readonly writableFinished?: boolean }) | null;
}

/** Node cannot hold a timer longer than this (it would fire after 1 ms instead). */
const LONGEST_TIMER = 2 ** 31 - 1;

/**
 * Runs `then` once every response to requests pipelined on this connection before the upgrade
 * has been written, so answers go out in request order (RFC 9112 §9.3.2: "A server MAY process
 * a sequence of pipelined requests in parallel if they all have safe methods, but it MUST send
 * the corresponding responses in the same order that the requests were received."). Node's
 * HTTP server hands the socket to the `upgrade` event at once, while a response to an earlier
 * request may still be pending: it is the socket's `_httpMessage` (later ones queue behind it
 * and take its place in turn), so this waits for each to finish. A connection whose earlier
 * responses take longer than `timeout` ms is cut, as the handshake never completed in time.
 */
export function afterEarlierResponses(socket: Duplex, timeout: number, then: () => void): void {
  const pending = (socket as Duplex & ServerSocket)._httpMessage;
  if (pending === undefined || pending === null || pending.writableFinished === true) return then();
  socket.on("error", destroySocket);
  const timer = timeout < LONGEST_TIMER ? setTimeout(() => socket.destroy(), timeout) : undefined;
  timer?.unref();
  const done = (): void => {
    pending.off("finish", done);
    pending.off("close", done);
    clearTimeout(timer);
    // Node moves the next queued response onto the socket in its own `finish` listener.
    process.nextTick(() => {
      if (socket.destroyed) return;
      afterEarlierResponses(socket, timeout, then);
    });
  };
  pending.on("finish", done);
  pending.on("close", done);
}

/**
 * The URL of a request: its path and query (from origin-form, or from absolute-form, RFC 9112
 * §3.2.2) under the authority of its Host header. The Host is joined as text, so a path such as
 * `//other/x` stays a path and never becomes an authority.
 */
export function requestUrl(request: IncomingMessage): URL {
  const host = request.headers.host ?? "localhost";
  const target = parseTarget(request.url);
  try {
    return new URL(`http://${host}${target?.pathAndQuery ?? "/"}`);
  } catch {
    return new URL("http://localhost/");
  }
}

/** The exchange of an upgrade; its URL is parsed only if someone reads it. */
export class UpgradeExchange implements Exchange {
  readonly request: IncomingMessage;
  #url: URL | undefined;

  constructor(request: IncomingMessage) {
    this.request = request;
  }

  get url(): URL {
    return (this.#url ??= requestUrl(this.request));
  }
}

/**
 * Performs the opening handshake on an upgrade request this handler takes: the request is
 * validated (RFC 6455 §4.2.1, RFC 9112), admitted by the core's rules, and answered; once the
 * 101 is written, a session takes the socket over.
 */
export function acceptUpgrade<T>(
  context: NodeContext<T>,
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): void {
  const verdict = validateUpgrade(request);
  if (!verdict.ok) {
    upgradeRefused(context, new UpgradeExchange(request), verdict.status, verdict.reason, "handshake");
    return refuseUpgrade(socket, verdict.status, verdict.reason, verdict.headers);
  }
  const exchange: Exchange = new UpgradeExchange(request);
  // While an asynchronous onUpgrade runs, the socket's bytes wait in its buffer.
  socket.on("error", destroySocket);
  admit(
    context,
    {
      exchange,
      origin: header(request, "origin"),
      protocols: verdict.protocols,
      extensions: request.headers["sec-websocket-extensions"],
    },
    (admission) => {
      if (socket.destroyed || !socket.writable) return void socket.destroy();
      if (admission.kind === "error") return writeRefusal(socket, INTERNAL_ERROR);
      if (admission.kind === "refuse")
        return refuseUpgrade(socket, admission.status, admission.body, admission.headers);
      const { protocol, deflate } = admission;
      let response: string;
      try {
        response = formatAcceptResponse({
          accept: acceptKey(verdict.key, sha1Base64),
          protocol,
          extensions: deflate?.response,
        });
      } catch (error) {
        // Only the library's own values come here: a bug of ours, but still a plain 500.
        console.error("undercurrent: the 101 response cannot be written:", error);
        return writeRefusal(socket, INTERNAL_ERROR);
      }
      socket.off("error", destroySocket);
      socket.write(response, "latin1");
      const { options } = context;
      const link = new ByteLink(new SocketStream(socket as Socket, head), {
        maxPayload: options.maxPayload,
        maxFragments: options.maxFragments,
        fragmentSize: options.fragmentSize,
        slabs: context.slabs,
        clock: context.clock,
        compression:
          deflate === undefined ? undefined : connectionZlib(deflate, options.compression!, context.zlib!),
        extensions: deflate?.response ?? "",
      });
      const session = new Session<T, NodeRuntime>(link, context, protocol);
      if (admission.data !== undefined) session.channel.data = admission.data.value;
      session.start(exchange);
    },
  );
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
