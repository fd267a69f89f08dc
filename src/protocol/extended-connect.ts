/**
 * The server's side of bootstrapping WebSockets over HTTP/2 (RFC 8441): tell an extended
 * CONNECT for `websocket` from other CONNECT requests, validate its pseudo-header and header
 * fields (RFC 8441 §4, §5; RFC 9113 §8.2.2, §8.3.1, §8.5), and check the fields of the answer
 * before they are written. Headers come as a plain record with lower-case names (pseudo-header
 * fields included), as HTTP/2 carries them; nothing here touches a stream.
 * @module
 */

import {
  headerTokensExact,
  isFieldValue,
  isToken,
  type RequestHeaders,
  type UpgradeRejected,
} from "./handshake.js";

/** What a request on an HTTP/2 stream is, as far as WebSockets are concerned. */
export type ConnectKind =
  /** Not a CONNECT at all: an ordinary request, for the application. */
  | "request"
  /** A CONNECT without `:protocol` (RFC 9113 §8.5): a tunnel, which this server does not offer. */
  | "tunnel"
  /** An extended CONNECT (RFC 8441 §4) for a protocol other than `websocket`. */
  | "other-protocol"
  /** An extended CONNECT for `websocket` (RFC 8441 §5). */
  | "websocket";

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? (value.length === 1 ? value[0] : undefined) : value;
}

/** Sorts a request by its `:method` and `:protocol` pseudo-header fields. */
export function connectKind(headers: RequestHeaders): ConnectKind {
  if (one(headers[":method"]) !== "CONNECT") return "request";
  const protocol = one(headers[":protocol"]);
  if (protocol === undefined) return "tunnel";
  // RFC 8441 §4: ":protocol ... MUST be one of the values registered in the 'Hypertext Transfer
  // Protocol (HTTP) Upgrade Token Registry'"; §5 names "websocket". Upgrade tokens compare
  // case-insensitively, as over HTTP/1.1.
  return protocol.toLowerCase() === "websocket" ? "websocket" : "other-protocol";
}

/** The path (without the query) of an extended CONNECT, or undefined when it has none usable. */
export function connectPathname(headers: RequestHeaders): string | undefined {
  const path = one(headers[":path"]);
  if (path === undefined || !path.startsWith("/")) return undefined;
  const query = path.indexOf("?");
  return query === -1 ? path : path.slice(0, query);
}

/** A valid extended CONNECT for a WebSocket. */
export interface ConnectAccepted {
  readonly ok: true;
  /** `http` or `https`. */
  readonly scheme: string;
  /** The `:authority`, as sent. */
  readonly authority: string;
  /** The `:path`: path and query, origin-form. */
  readonly path: string;
  /** Subprotocols the client offered, in its order of preference. */
  readonly protocols: readonly string[];
}

/** An extended CONNECT that must be refused with `status`, as an upgrade would be. */
export interface ConnectRejected extends UpgradeRejected {
  /**
   * The request is malformed (RFC 9113 §8.1.1): "Malformed requests or responses that are
   * detected MUST be treated as a stream error of type PROTOCOL_ERROR", after an answer ("a
   * server MAY send an HTTP response prior to closing or resetting the stream").
   */
  readonly malformed: boolean;
}

/** The verdict of {@link validateConnect}. */
export type ConnectVerdict = ConnectAccepted | ConnectRejected;

/**
 * RFC 9113 §8.2.2: "An endpoint MUST NOT generate an HTTP/2 message containing
 * connection-specific header fields. This includes the Connection header field and those listed
 * as having connection-specific semantics in Section 7.6.1 of [HTTP] (that is, Proxy-Connection,
 * Keep-Alive, Transfer-Encoding, and Upgrade)."
 */
const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set([
  "connection",
  "proxy-connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
]);

/** Whether `name` (any case) is a connection-specific field that HTTP/2 forbids (RFC 9113 §8.2.2). */
export function isConnectionSpecific(name: string): boolean {
  return CONNECTION_SPECIFIC.has(name.toLowerCase());
}

/**
 * RFC 9110 §7.2 / RFC 3986 §3.2.2: `uri-host [ ":" port ]`, as the handshake checks Host. The
 * host may not be empty: a ws URI always has one (RFC 6455 §3).
 */
const AUTHORITY = /^(\[[0-9A-Za-z:.\-_~!$&'()*+,;=]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::([0-9]*))?$/;

/** `host:port`, lower-cased, with the scheme's default port filled in; undefined if invalid. */
function normalAuthority(authority: string, scheme: string): string | undefined {
  const match = AUTHORITY.exec(authority);
  if (match === null) return undefined;
  const [, host = "", port = ""] = match;
  const fallback = scheme === "https" ? "443" : "80";
  return `${host.toLowerCase()}:${port === "" ? fallback : String(Number(port))}`;
}

function malformed(reason: string): ConnectRejected {
  return { ok: false, status: 400, reason, malformed: true };
}

function refused(status: number, reason: string, headers?: Record<string, string>): ConnectRejected {
  return headers === undefined
    ? { ok: false, status, reason, malformed: false }
    : { ok: false, status, reason, headers, malformed: false };
}

/**
 * Checks an extended CONNECT for `websocket` (see {@link connectKind}) in order: the
 * pseudo-header fields and what makes an HTTP/2 request malformed first, then what a WebSocket
 * opening handshake needs (RFC 8441 §5 over RFC 6455 §4.2.1): no content, version 13, and the
 * syntax of `sec-websocket-protocol`. `sec-websocket-key` is not looked at (RFC 8441 §5).
 */
export function validateConnect(headers: RequestHeaders): ConnectVerdict {
  // RFC 8441 §4: "On requests that contain the :protocol pseudo-header field, the :scheme and
  // :path pseudo-header fields of the target URI (see Section 5) MUST also be included."
  const scheme = one(headers[":scheme"]);
  if (scheme === undefined) return malformed("an extended CONNECT must carry :scheme");
  const path = one(headers[":path"]);
  if (path === undefined) return malformed("an extended CONNECT must carry :path");
  // RFC 9113 §8.3.1: ":path ... This pseudo-header field MUST NOT be empty for "http" or
  // "https" URIs"; the target of a WebSocket is a path and query (RFC 6455 §3 resource name).
  if (!path.startsWith("/")) return malformed("the :path of an extended CONNECT must start with /");
  // RFC 9113 §8.5 (CONNECT): "The ":authority" pseudo-header field contains the host and port
  // to connect to"; RFC 8441 §4 keeps it for the extended form.
  const authority = one(headers[":authority"]);
  if (authority === undefined) return malformed("an extended CONNECT must carry :authority");
  const normal = normalAuthority(authority, scheme.toLowerCase());
  if (normal === undefined) return malformed("invalid :authority");
  // RFC 9113 §8.3.1: "A server SHOULD treat a request as malformed if it contains a Host header
  // field that identifies an entity that differs from the entity in the ":authority"
  // pseudo-header field."
  const host = headers["host"];
  if (host !== undefined) {
    const single = one(host);
    if (single === undefined || normalAuthority(single, scheme.toLowerCase()) !== normal) {
      return malformed("the Host header does not match :authority");
    }
  }
  // RFC 9113 §8.2.2: "Any message containing connection-specific header fields MUST be treated
  // as malformed", and: "The only exception to this is the TE header field, which MAY be present
  // in an HTTP/2 request; when it is, it MUST NOT contain any value other than "trailers"."
  for (const name of Object.keys(headers)) {
    if (isConnectionSpecific(name)) return malformed(`connection-specific header ${name} in HTTP/2`);
  }
  const te = headers["te"];
  if (te !== undefined && (one(te) ?? "").trim().toLowerCase() !== "trailers") {
    return malformed("TE other than trailers in HTTP/2");
  }
  // RFC 8441 §5: "The scheme of the target URI MUST be "https" for "wss"-schemed WebSockets and
  // "http" for "ws"-schemed WebSockets."
  const lowerScheme = scheme.toLowerCase();
  if (lowerScheme !== "http" && lowerScheme !== "https") {
    return refused(400, "the :scheme of a WebSocket must be http or https");
  }
  // The stream's DATA frames carry the WebSocket's frames (RFC 8441 §5): a content-length would
  // bound them, and a CONNECT has no content (RFC 9110 §9.3.6).
  if (headers["content-length"] !== undefined) return refused(400, "a WebSocket CONNECT has no content");
  // RFC 6455 §4.2.1 6 and §4.4: "If this version does not match a version understood by the
  // server, the server MUST abort the WebSocket handshake ... and instead send an appropriate
  // HTTP error code (such as 426 Upgrade Required) and a |Sec-WebSocket-Version| header field
  // indicating the version(s) the server is capable of understanding." Not 426 here: RFC 9110
  // §15.5.22 says "The server MUST send an Upgrade header field in a 426 response", and RFC 9113
  // §8.2.2 forbids Upgrade in HTTP/2. So 400, with the version.
  const version = one(headers["sec-websocket-version"])?.trim();
  if (version !== "13") {
    return refused(400, "unsupported Sec-WebSocket-Version (supported: 13)", {
      "sec-websocket-version": "13",
    });
  }
  const protocols = headerTokensExact(headers["sec-websocket-protocol"]);
  if (protocols.some((protocol) => !isToken(protocol))) return refused(400, "invalid Sec-WebSocket-Protocol");
  return { ok: true, scheme: lowerScheme, authority, path, protocols };
}

/**
 * The header fields of an HTTP/2 answer, checked as they would be written: names are RFC 9110
 * tokens, lower-cased (RFC 9113 §8.2.1: "Field names MUST be converted to lowercase when
 * constructing an HTTP/2 message"), values are field values (RFC 9110 §5.5; RFC 9113 §8.2.1: a
 * field value MUST NOT contain NUL, LF or CR). Connection-specific fields (RFC 9113 §8.2.2) and
 * `content-length` are the transport's: given ones are dropped. Of two names that differ only in
 * case, the last wins.
 * @throws TypeError for a name or value that cannot be written.
 */
export function answerFields(headers: Readonly<Record<string, string>> = {}): Record<string, string> {
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(headers)) {
    if (typeof name !== "string" || !isToken(name)) throw new TypeError("a header name must be a token");
    if (typeof value !== "string" || !isFieldValue(value)) {
      throw new TypeError(`invalid characters in the value of ${name}`);
    }
    const lower = name.toLowerCase();
    if (isConnectionSpecific(lower) || lower === "content-length" || lower === "te") continue;
    fields[lower] = value;
  }
  return fields;
}
