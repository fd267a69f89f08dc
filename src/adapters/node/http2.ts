/**
 * WebSockets over HTTP/2 (RFC 8441) on `node:http2`: an extended CONNECT stream is validated
 * (`protocol/extended-connect.ts`), admitted by the same core rules as an HTTP/1.1 upgrade
 * (path, origins, protocols, `onUpgrade`, `maxConnections`, the deflate agreement), answered
 * with `:status 200`, and handed to a session over a byte link, the stream being the transport.
 * A refusal is an ordinary HTTP/2 response on that stream alone: the session's other streams,
 * WebSockets or requests, never notice.
 *
 * The WebSockets of one HTTP/2 session are tracked on it: a GOAWAY from the peer closes each
 * with 1001 (the peer is going away; a GOAWAY with an error code destroys the session, and each
 * then ends with 1006), and `handler.close()` sends GOAWAY on the sessions that carried its
 * WebSockets once they are closed.
 * @module
 */

import {
  Http2ServerRequest,
  constants,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from "node:http2";
import type { Exchange as CoreExchange } from "../../core/options.js";
import { Session } from "../../core/session.js";
import { admit, upgradeRefused } from "../../core/admission.js";
import { ByteLink } from "../../wire/link.js";
import { answerFields, validateConnect, type ConnectAccepted } from "../../protocol/extended-connect.js";
import { Http2StreamTransport } from "./h2-stream.js";
import { connectionZlib } from "./zlib.js";
import type { NodeContext, NodeRuntime } from "./context.js";

type Exchange = CoreExchange<NodeRuntime>;
type AnySession = Session<unknown, NodeRuntime>;

const noop = (): void => {};
const INTERNAL_ERROR = "internal server error";

/** What undercurrent keeps on an HTTP/2 session that carries its WebSockets. */
interface Carried {
  /** The open WebSockets on this session, of every handler. */
  readonly sockets: Set<AnySession>;
  /** The handlers whose WebSockets it carried: each forgets the session when it closes. */
  readonly contexts: Set<NodeContext<unknown>>;
}

const kCarried = Symbol("undercurrent.h2-carried");
type CarryingSession = ServerHttp2Session & { [kCarried]?: Carried };

/** The exchange of an extended CONNECT: Node's HTTP/2 request object, and the target URL. */
class StreamExchange implements Exchange {
  readonly request: Http2ServerRequest;
  readonly #target: ConnectAccepted;
  #url: URL | undefined;

  constructor(request: Http2ServerRequest, target: ConnectAccepted) {
    this.request = request;
    this.#target = target;
  }

  /** `:scheme://:authority:path`, the target URI of RFC 8441 §5. */
  get url(): URL {
    const { scheme, authority, path } = this.#target;
    if (this.#url !== undefined) return this.#url;
    try {
      this.#url = new URL(`${scheme}://${authority}${path}`);
    } catch {
      this.#url = new URL(`${scheme}://localhost/`);
    }
    return this.#url;
  }
}

/**
 * The exchange of an extended CONNECT refused before admission, for the `upgrade:refused` event:
 * its URL from whatever target fields came (validation may have refused them).
 */
export function refusedExchange(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  rawHeaders: readonly string[] | undefined,
): Exchange {
  const request = new Http2ServerRequest(stream, headers, {}, [...(rawHeaders ?? [])]);
  return new StreamExchange(request, {
    ok: true,
    scheme: one(headers[":scheme"]) === "http" ? "http" : "https",
    authority: one(headers[":authority"]) ?? "localhost",
    path: one(headers[":path"]) ?? "/",
    protocols: [],
  });
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Answers a request on one HTTP/2 stream with `status` and a one-line reason, then ends the
 * stream: RFC 9113 §8.1, "A server can send a complete response prior to the client sending an
 * entire request ... the server MAY request that the client abort transmission of a request
 * without error by sending a RST_STREAM with an error code of NO_ERROR after sending a complete
 * response". A malformed request is reset with PROTOCOL_ERROR instead (RFC 9113 §8.1.1). Only
 * this stream is touched. Header fields are checked as they are written (`answerFields`); one
 * that cannot be written turns the answer into a plain 500.
 */
export function refuseStream(
  stream: ServerHttp2Stream,
  status: number,
  reason: string,
  headers?: Readonly<Record<string, string>>,
  malformed = false,
): void {
  stream.on("error", noop);
  if (stream.destroyed || stream.headersSent) return;
  let fields: OutgoingHttpHeaders;
  let body = reason;
  try {
    fields = answerFields(headers);
  } catch (error) {
    // Only the library's own statuses and headers come here (the application's were validated
    // by the admission): a bug of ours, but still a plain 500.
    console.error("undercurrent: an HTTP/2 refusal cannot be written:", error);
    fields = {};
    status = 500;
    body = INTERNAL_ERROR;
  }
  const bytes = Buffer.from(body.replace(/[\r\n]+/g, " "), "utf8");
  fields[":status"] = status;
  fields["content-type"] ??= "text/plain; charset=utf-8";
  fields["content-length"] = bytes.length;
  const code = malformed ? constants.NGHTTP2_PROTOCOL_ERROR : constants.NGHTTP2_NO_ERROR;
  try {
    stream.respond(fields);
    stream.end(bytes, () => {
      if (!stream.destroyed) stream.close(code);
    });
  } catch (error) {
    // The session went away meanwhile, or Node refused a field: the stream is reset.
    console.error("undercurrent: an HTTP/2 refusal could not be sent:", error);
    if (!stream.destroyed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  }
}

/**
 * Performs the opening handshake of a WebSocket over HTTP/2 on an extended CONNECT stream this
 * handler takes (RFC 8441 §5): the request is validated, admitted by the core's rules, and
 * answered; after `:status 200`, a session takes the stream over.
 */
export function acceptStream<T>(
  context: NodeContext<T>,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  rawHeaders: readonly string[] | undefined,
): void {
  const verdict = validateConnect(headers);
  if (!verdict.ok) {
    const exchange = refusedExchange(stream, headers, rawHeaders);
    upgradeRefused(context, exchange, verdict.status, verdict.reason, "handshake");
    return refuseStream(stream, verdict.status, verdict.reason, verdict.headers, verdict.malformed);
  }
  // A peer may reset the stream while an asynchronous onUpgrade runs: nothing must throw.
  stream.on("error", noop);
  const request = new Http2ServerRequest(stream, headers, {}, [...(rawHeaders ?? [])]);
  const exchange = new StreamExchange(request, verdict);
  admit(
    context,
    {
      exchange,
      origin: one(headers["origin"]),
      protocols: verdict.protocols,
      extensions: headers["sec-websocket-extensions"],
    },
    (admission) => {
      if (stream.destroyed || stream.closed) return;
      if (admission.kind === "error") return refuseStream(stream, 500, INTERNAL_ERROR);
      if (admission.kind === "refuse") {
        return refuseStream(stream, admission.status, admission.body, admission.headers);
      }
      const { protocol, deflate } = admission;
      // RFC 8441 §5: the answer is a 2xx with no Sec-WebSocket-Accept; the subprotocol and the
      // extensions are negotiated in the same header fields as over HTTP/1.1.
      const answer: Record<string, string> = {};
      if (protocol !== "") answer["sec-websocket-protocol"] = protocol;
      if (deflate !== undefined) answer["sec-websocket-extensions"] = deflate.response;
      let fields: OutgoingHttpHeaders;
      try {
        fields = answerFields(answer);
        fields[":status"] = 200;
        stream.respond(fields);
      } catch (error) {
        // Only the library's own values come here: a bug of ours, but still a plain 500.
        console.error("undercurrent: the HTTP/2 answer cannot be written:", error);
        return refuseStream(stream, 500, INTERNAL_ERROR);
      }
      const { options } = context;
      const transport = new Http2StreamTransport(stream);
      const link = new ByteLink(transport, {
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
      carry(context, stream, transport, session as unknown as AnySession);
      session.start(exchange);
    },
  );
}

/** Records a WebSocket on its HTTP/2 session, and forgets it when its stream closes. */
function carry<T>(
  context: NodeContext<T>,
  stream: ServerHttp2Stream,
  transport: Http2StreamTransport,
  session: AnySession,
): void {
  const h2 = stream.session as CarryingSession | undefined;
  if (h2 === undefined) return;
  let carried = h2[kCarried];
  if (carried === undefined) {
    carried = h2[kCarried] = { sockets: new Set(), contexts: new Set() };
    h2.on("goaway", onGoaway);
    h2.once("close", onSessionClose);
  }
  carried.sockets.add(session);
  carried.contexts.add(context as unknown as NodeContext<unknown>);
  context.h2Sessions.add(h2);
  transport.registry = carried.sockets as Set<unknown>;
  transport.member = session;
}

/**
 * The peer sent GOAWAY: it opens no more streams and is about to close the connection (Node
 * closes the session once its streams are done, or destroys it at once for an error code). Each
 * WebSocket on it is closed with 1001 (RFC 6455 §7.4.1: "an endpoint is 'going away'"), so every
 * one ends, exactly once, whichever way the session goes.
 */
function onGoaway(this: CarryingSession): void {
  for (const session of [...(this[kCarried]?.sockets ?? [])]) {
    void session.close(1001, "connection going away").catch(noop);
  }
}

function onSessionClose(this: CarryingSession): void {
  const carried = this[kCarried];
  if (carried === undefined) return;
  for (const context of carried.contexts) context.h2Sessions.delete(this);
}

/** Sends GOAWAY on every HTTP/2 session that carried this handler's WebSockets (after they closed). */
export function goAway<T>(context: NodeContext<T>): void {
  for (const h2 of [...context.h2Sessions]) {
    context.h2Sessions.delete(h2);
    if (!h2.closed && !h2.destroyed) h2.close();
  }
}
