/**
 * The `upgrade` event: validate the request with the protocol core, apply the handler's access
 * rules (connection limit, origins, subprotocol, `onUpgrade`), then write the 101 (or an HTTP
 * error) on the socket and hand it to a session over a byte link. Whatever the application
 * decides is read strictly and validated before a byte of it is written: anything that is not
 * a documented decision, or cannot be written as HTTP, becomes the library's own plain 500 and
 * is reported to `onUpgradeError`.
 * @module
 */

import { createHash } from "node:crypto";
import { validateHeaderName, validateHeaderValue, type IncomingMessage } from "node:http";
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

type Exchange = CoreExchange<NodeRuntime>;
import {
  UpgradeCallbackError,
  UpgradeResponseError,
  describeValue,
  type UndercurrentError,
  type UpgradeCallbackName,
} from "../../common/errors.js";
import { parseExtensions } from "../../protocol/extensions-header.js";
import { negotiateDeflate, type DeflateAgreement } from "../../protocol/permessage-deflate.js";
import { Session } from "../../core/session.js";
import { ByteLink } from "../../wire/link.js";
import { SocketStream } from "./socket.js";
import { connectionZlib } from "./zlib.js";
import type { NodeContext, NodeRuntime } from "./context.js";
import { startTimer } from "../../core/timers.js";
import { followThenable, isThenable } from "../../common/thenable.js";

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

/** Writes `message` with `console.error`; never throws, whatever `error` is. */
function logError(message: string, error: unknown): void {
  try {
    console.error(message, error);
  } catch {
    // stderr itself failed: nothing left to tell.
  }
}

/**
 * Hands an error to `onUpgradeError`, or writes it with `console.error` when there is none.
 * Never throws: a throw or rejection in the hook is written with `console.error`.
 */
function report<T>(context: NodeContext<T>, error: UndercurrentError, exchange: Exchange): void {
  const hook = context.options.onUpgradeError;
  if (hook === undefined) return logError("undercurrent: an upgrade was answered with 500:", error);
  let result: unknown;
  try {
    result = hook({ error, exchange });
  } catch (thrown) {
    return logError("undercurrent: onUpgradeError threw:", thrown);
  }
  if (isThenable(result)) {
    followThenable(result).then(undefined, (rejected: unknown) =>
      logError("undercurrent: onUpgradeError rejected:", rejected),
    );
  }
}

/** What an `onUpgrade` decision means, once read. */
type Reading<T> =
  | { readonly kind: "accept"; readonly data?: { readonly value: T } }
  | { readonly kind: "forbid" }
  | { readonly kind: "refuse"; readonly response: string }
  | { readonly kind: "invalid"; readonly error: UpgradeResponseError };

const ACCEPT = { kind: "accept" } as const;
const FORBID = { kind: "forbid" } as const;
const REFUSAL_KEYS: ReadonlySet<PropertyKey> = new Set(["status", "headers", "body"]);

function invalid(message: string, cause?: unknown): Reading<never> {
  return { kind: "invalid", error: new UpgradeResponseError(message, cause) };
}

/**
 * Reads a (settled) `onUpgrade` decision strictly. `undefined` and `true` accept; `false` is
 * 403; an object whose only own key is `data` accepts with that data; an object with an own
 * `status` and no keys but `status`, `headers` and `body` refuses with that answer, validated.
 * Anything else is invalid (500), never an acceptance. Each property is read once.
 */
function readDecision<T>(decision: unknown): Reading<T> {
  if (decision === undefined || decision === true) return ACCEPT;
  if (decision === false) return FORBID;
  if (typeof decision !== "object" || decision === null) {
    return invalid(
      `onUpgrade decided ${describeValue(decision)}, not undefined, false, { data } or { status }`,
    );
  }
  try {
    if (Array.isArray(decision)) return invalid("onUpgrade decided an array, not { data } or { status }");
    const keys = Reflect.ownKeys(decision);
    if (keys.length === 1 && keys[0] === "data") {
      return { kind: "accept", data: { value: (decision as { data: T }).data } };
    }
    if (keys.includes("status") && keys.every((key) => REFUSAL_KEYS.has(key))) {
      const { status, headers, body } = decision as Record<string, unknown>;
      return readRefusal(status, headers, body);
    }
  } catch (error) {
    return invalid("reading the onUpgrade decision threw", error);
  }
  return invalid(
    "onUpgrade decided an object that is neither { data } nor { status, headers?, body? } (no other keys)",
  );
}

/** Validates an application's refusal and formats it, or says why it cannot be written. */
function readRefusal<T>(status: unknown, headers: unknown, body: unknown): Reading<T> {
  if (typeof status !== "number" || !Number.isInteger(status) || status < 400 || status > 599) {
    return invalid("a refusal status must be an integer 400-599");
  }
  if (body !== undefined && typeof body !== "string") return invalid("a refusal body must be a string");
  const checked: Record<string, string> = Object.create(null) as Record<string, string>;
  if (headers !== undefined) {
    if (typeof headers !== "object" || headers === null || Array.isArray(headers)) {
      return invalid("refusal headers must be an object of names and values");
    }
    for (const [name, value] of Object.entries(headers)) {
      if (typeof value !== "string" && !(typeof value === "number" && Number.isFinite(value))) {
        return invalid(`the refusal header ${JSON.stringify(name)} must be a string`);
      }
      const text = String(value);
      try {
        // The checks Node's own res.setHeader applies (ERR_INVALID_HTTP_TOKEN, ERR_INVALID_CHAR).
        validateHeaderName(name);
        validateHeaderValue(name, text);
      } catch (error) {
        return invalid(`the refusal header ${JSON.stringify(name)} cannot be written`, error);
      }
      checked[name] = text;
    }
  }
  try {
    return { kind: "refuse", response: formatErrorResponse(status, body ?? "refused", checked) };
  } catch (error) {
    return invalid("the refusal cannot be written", error);
  }
}

/** Performs the opening handshake on an upgrade request this handler takes. */
export function acceptUpgrade<T>(
  context: NodeContext<T>,
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
  const fail = (error: UndercurrentError): void => {
    report(context, error, exchange);
    writeRefusal(socket, INTERNAL_ERROR);
  };
  const failed = (callback: UpgradeCallbackName, cause: unknown): void =>
    fail(new UpgradeCallbackError(callback, cause));

  if (options.allowOrigin !== undefined) {
    let allowed: unknown;
    try {
      allowed = options.allowOrigin(header(request, "origin"), exchange);
    } catch (error) {
      return failed("origins", error);
    }
    // Only `true` lets a request through; anything but a boolean is a bug (a Promise, say).
    if (allowed === false) return refuseUpgrade(socket, 403, "origin not allowed");
    if (allowed !== true) {
      return fail(
        new UpgradeResponseError(`the origins predicate returned ${describeValue(allowed)}, not a boolean`),
      );
    }
  }

  let protocol = "";
  const select = options.selectProtocol;
  if (select !== undefined && verdict.protocols.length > 0) {
    let chosen: unknown;
    try {
      chosen = select(verdict.protocols, exchange);
    } catch (error) {
      return failed("protocols", error);
    }
    if (chosen === false) return refuseUpgrade(socket, 400, "no acceptable subprotocol");
    // §4.2.2: the server's choice MUST be one of the values the client offered.
    if (typeof chosen === "string" && verdict.protocols.includes(chosen)) protocol = chosen;
    else if (chosen !== undefined) {
      return fail(
        new UpgradeResponseError(
          `the protocols selector returned ${describeValue(chosen)} that is not one of the offered subprotocols`,
        ),
      );
    }
  }

  // RFC 7692: accept the first permessage-deflate offer we can honour; decline the others.
  let deflate: DeflateAgreement | undefined;
  if (options.compression !== undefined) {
    const offers = parseExtensions(request.headers["sec-websocket-extensions"]);
    if (offers === undefined) return refuseUpgrade(socket, 400, "invalid Sec-WebSocket-Extensions");
    deflate = negotiateDeflate(offers, options.compression);
  }

  const complete = (decision: unknown): void => {
    if (socket.destroyed || !socket.writable) return void socket.destroy();
    const reading = readDecision<T>(decision);
    if (reading.kind === "invalid") return fail(reading.error);
    if (reading.kind === "forbid") return refuseUpgrade(socket, 403, "forbidden");
    if (reading.kind === "refuse") return writeRefusal(socket, reading.response);
    if (context.closing) return refuseUpgrade(socket, 503, "server shutting down");
    let response: string;
    try {
      const accept = acceptKey(verdict.key, sha1Base64);
      response = formatAcceptResponse({ accept, protocol, extensions: deflate?.response });
    } catch (error) {
      return fail(new UpgradeResponseError("the 101 response cannot be written", error));
    }
    socket.write(response, "latin1");
    const compression =
      deflate === undefined ? undefined : connectionZlib(deflate, options.compression!, context.zlib!);
    const link = new ByteLink(new SocketStream(socket as Socket, head), {
      maxPayload: options.maxPayload,
      maxFragments: options.maxFragments,
      slabs: context.slabs,
      clock: context.clock,
      compression,
      extensions: deflate?.response ?? "",
    });
    const connection = new Session<T, NodeRuntime>(link, context, protocol);
    if (reading.data !== undefined) connection.channel.data = reading.data.value;
    connection.start(exchange);
  };

  const onUpgrade = options.onUpgrade;
  if (onUpgrade === undefined) return complete(undefined);
  let result: unknown;
  try {
    result = onUpgrade(exchange);
  } catch (error) {
    return failed("onUpgrade", error);
  }
  if (!isThenable(result)) return complete(result);

  // An asynchronous decision: hold the socket (its bytes wait in its buffer), give up after
  // handshakeTimeout (never when it is Infinity), and count it against maxConnections meanwhile.
  context.pending++;
  let settled = false;
  const timer = startTimer(context.clock, options.handshakeTimeout, () => {
    settled = true;
    context.pending--;
    refuseUpgrade(socket, 503, "upgrade check timed out");
  });
  timer?.unref?.();
  const stop = (): void => {
    if (timer !== undefined) context.clock.clearTimeout(timer);
  };
  socket.on("error", destroySocket);
  followThenable(result).then(
    (decision) => {
      if (settled) return;
      settled = true;
      stop();
      context.pending--;
      complete(decision);
    },
    (error: unknown) => {
      if (settled) return;
      settled = true;
      stop();
      context.pending--;
      failed("onUpgrade", error);
    },
  );
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
