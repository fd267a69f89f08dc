/**
 * The server's side of the opening handshake (RFC 6455 §4.2): validate the client's upgrade
 * request, compute the accept key, and format the 101 response or an HTTP error. SHA-1 is
 * passed in, so this module stays free of I/O and of `node:crypto`.
 * @module
 */

/** §1.3: the GUID appended to the client's key before hashing. */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Request headers as Node gives them: lower-case names, repeated headers as arrays or joined. */
export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** What the validator needs from a request. */
export interface UpgradeRequest {
  readonly method?: string | undefined;
  /** "1.1", "1.0"… */
  readonly httpVersion: string;
  readonly headers: RequestHeaders;
  /** The request-target as sent (`/chat?x=1`, or absolute-form `http://host/chat`); checked if given. */
  readonly url?: string | undefined;
  /** Header names and values as sent, alternating, repeats kept; Host lines are counted if given. */
  readonly rawHeaders?: readonly string[] | undefined;
}

/** A valid upgrade request. */
export interface UpgradeAccepted {
  readonly ok: true;
  /** The `Sec-WebSocket-Key`, trimmed. */
  readonly key: string;
  /** Subprotocols the client offered, in its order of preference. */
  readonly protocols: readonly string[];
}

/** An upgrade request that must be refused with `status`. */
export interface UpgradeRejected {
  readonly ok: false;
  readonly status: number;
  /** One line saying why, sent as the response body. */
  readonly reason: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** The verdict of {@link validateUpgrade}. */
export type UpgradeVerdict = UpgradeAccepted | UpgradeRejected;

/** Splits a comma-separated header into lower-case tokens. */
export function headerTokens(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const joined = Array.isArray(value) ? value.join(",") : value;
  return joined
    .split(",")
    .map((token) => token.trim().toLowerCase())
    .filter((token) => token !== "");
}

/** Whether a request asks for a WebSocket upgrade at all (`Upgrade: websocket`). */
export function isWebSocketRequest(headers: RequestHeaders): boolean {
  return headerTokens(headers["upgrade"]).includes("websocket");
}

const KEY = /^[A-Za-z0-9+/]{22}==$/;
/**
 * RFC 9110 §5.6.2: `token = 1*tchar`, `tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
 * "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA`.
 */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/**
 * RFC 9110 §5.5: `field-value = *field-content`, `field-content = field-vchar [ 1*( SP / HTAB /
 * field-vchar ) field-vchar ]`, `field-vchar = VCHAR / obs-text`, `obs-text = %x80-FF`. Like
 * Node's `validateHeaderValue`, SP and HTAB are allowed anywhere; everything else that is not a
 * visible character is refused, in particular what §5.5 names: "Field values containing CR, LF,
 * or NUL characters are invalid and dangerous".
 */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Whether `value` is an RFC 9110 token (§5.6.2), which is what a field name is (§5.1). */
export function isToken(value: string): boolean {
  return TOKEN.test(value);
}

/** Whether `value` can be written as an RFC 9110 field value (§5.5) on one line, as Latin-1. */
export function isFieldValue(value: string): boolean {
  return FIELD_VALUE.test(value);
}

/**
 * RFC 9110 §7.2 `Host = uri-host [ ":" port ]`, with RFC 3986 §3.2.2 `host = IP-literal /
 * IPv4address / reg-name`, `reg-name = *( unreserved / pct-encoded / sub-delims )` and §3.2.3
 * `port = *DIGIT`. The host may not be empty here: a ws URI always has one (RFC 6455 §3).
 */
const AUTHORITY = /^(\[[0-9A-Za-z:.\-_~!$&'()*+,;=]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::([0-9]*))?$/;

/** An absolute-form request-target (RFC 9112 §3.2.2): scheme, authority, and the rest. */
const ABSOLUTE_FORM = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/;

/** The parts of a request-target that matter to an upgrade. */
export interface RequestTarget {
  /** The path and query, as in origin-form (`/chat?room=a`). */
  readonly pathAndQuery: string;
  /** The path alone, without the query. */
  readonly pathname: string;
  /** For absolute-form: the scheme, lower-cased. */
  readonly scheme?: string;
  /** For absolute-form: the authority as sent. */
  readonly authority?: string;
}

/**
 * Splits a request-target (RFC 9112 §3.2) into what an upgrade needs: origin-form
 * (`/chat?x=1`) as it is, absolute-form (`http://host/chat?x=1`) into scheme, authority and
 * path. Undefined for the other forms (`*`, `host:port`) and for anything else.
 */
export function parseTarget(url: string | undefined): RequestTarget | undefined {
  if (url === undefined) return { pathAndQuery: "/", pathname: "/" };
  if (url.startsWith("/")) return { pathAndQuery: url, pathname: beforeQuery(url) };
  const absolute = ABSOLUTE_FORM.exec(url);
  if (absolute === null) return undefined;
  const [, scheme = "", authority = "", rest = ""] = absolute;
  // RFC 9112 §3.3: an empty path in absolute-form stands for "/".
  const pathAndQuery = rest === "" || rest.startsWith("?") ? `/${rest}` : rest;
  if (!pathAndQuery.startsWith("/")) return undefined;
  return { pathAndQuery, pathname: beforeQuery(pathAndQuery), scheme: scheme.toLowerCase(), authority };
}

function beforeQuery(pathAndQuery: string): string {
  const query = pathAndQuery.indexOf("?");
  return query === -1 ? pathAndQuery : pathAndQuery.slice(0, query);
}

/** `host:port` lower-cased with the scheme's default port filled in, or undefined if invalid. */
function normalAuthority(authority: string, scheme: string): string | undefined {
  const match = AUTHORITY.exec(authority);
  if (match === null) return undefined;
  const [, host = "", port = ""] = match;
  const fallback = scheme === "https" ? "443" : "80";
  return `${host.toLowerCase()}:${port === "" ? fallback : String(Number(port))}`;
}

function countHostLines(rawHeaders: readonly string[]): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() === "host") count++;
  }
  return count;
}

function reject(status: number, reason: string, headers?: Record<string, string>): UpgradeRejected {
  return headers === undefined ? { ok: false, status, reason } : { ok: false, status, reason, headers };
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? (value.length === 1 ? value[0] : undefined) : value;
}

/**
 * Checks a request that carries `Upgrade: websocket` against §4.2.1, in order: method,
 * HTTP version, Host, Connection, Sec-WebSocket-Version, Sec-WebSocket-Key, and the syntax of
 * Sec-WebSocket-Protocol.
 */
export function validateUpgrade(request: UpgradeRequest): UpgradeVerdict {
  const { headers } = request;
  // §4.2.1 1: "An HTTP/1.1 or higher GET request".
  if (request.method !== "GET") return reject(400, "WebSocket upgrade requires GET");
  const [major = 0, minor = 0] = request.httpVersion.split(".").map(Number);
  if (major < 1 || (major === 1 && minor < 1)) return reject(400, "WebSocket upgrade requires HTTP/1.1");
  // §4.2.1 2: "A |Host| header field". RFC 9112 §3.2: "A server MUST respond with a 400 (Bad
  // Request) status code to any HTTP/1.1 request message that lacks a Host header field and to
  // any request message that contains more than one Host header field line or a Host header
  // field with an invalid field value." (Node keeps only the first Host in `headers`.)
  const host = single(headers["host"]);
  if (host === undefined) return reject(400, "missing Host header");
  if (request.rawHeaders !== undefined && countHostLines(request.rawHeaders) > 1) {
    return reject(400, "more than one Host header");
  }
  if (normalAuthority(host, "http") === undefined) return reject(400, "invalid Host header");
  const targetProblem = checkTarget(request.url, host);
  if (targetProblem !== undefined) return reject(400, targetProblem);
  // A body would be read as WebSocket frames by us and as a body by any intermediary that
  // frames the request by RFC 9112 §6.3: the two would disagree about where the frames begin.
  // An upgrade request carries none (RFC 6455 §4.1 describes it without a body), so one that
  // declares one is refused, as strict servers do.
  const length = single(headers["content-length"]);
  if (headers["transfer-encoding"] !== undefined || (length !== undefined && !/^\s*0+\s*$/.test(length))) {
    return reject(400, "upgrade request with a body");
  }
  // §4.2.1 4: "A |Connection| header field that includes the token 'Upgrade'".
  if (!headerTokens(headers["connection"]).includes("upgrade")) {
    return reject(400, "Connection header must include 'Upgrade'");
  }
  // §4.2.1 6 and §4.4: an unsupported version gets 426 and the versions we support.
  const version = single(headers["sec-websocket-version"])?.trim();
  if (version !== "13") {
    return reject(426, "unsupported Sec-WebSocket-Version (supported: 13)", {
      "Sec-WebSocket-Version": "13",
    });
  }
  // §4.2.1 5: "A |Sec-WebSocket-Key| header field with a base64-encoded value that, when
  // decoded, is 16 bytes in length."
  const key = single(headers["sec-websocket-key"])?.trim();
  if (key === undefined || !KEY.test(key)) {
    return reject(400, "Sec-WebSocket-Key must be base64 of 16 bytes");
  }
  const protocols = headerTokensExact(headers["sec-websocket-protocol"]);
  if (protocols.some((p) => !TOKEN.test(p))) return reject(400, "invalid Sec-WebSocket-Protocol");
  return { ok: true, key, protocols };
}

/**
 * Why a request-target cannot be taken, or undefined. Origin-form is fine. RFC 9112 §3.2.2: "A
 * server MUST accept the absolute-form in requests even though most HTTP/1.1 clients will only
 * send the absolute-form to a proxy." and "When an origin server receives a request with an
 * absolute-form of request-target, the origin server MUST ignore the received Host header field
 * (if any) and instead use the host information of the request-target." RFC 6455 §4.1 allows
 * "an absolute http/https URI". Applications (and `exchange.url`) read the authority from Host,
 * so an absolute-form target whose authority is not the Host's (after filling in the scheme's
 * default port) is refused rather than let the two disagree, as Kestrel does by default: for
 * every request taken, the target's authority and Host are then the same. RFC 9110 §4.2.4: a
 * recipient "SHOULD parse for userinfo and treat its presence as an error".
 */
function checkTarget(url: string | undefined, host: string): string | undefined {
  const target = parseTarget(url);
  if (target === undefined) return "invalid request target";
  if (target.scheme === undefined || target.authority === undefined) return undefined;
  if (target.scheme !== "http" && target.scheme !== "https") {
    return "an absolute request target must be an http or https URL";
  }
  if (target.authority.includes("@")) return "userinfo in the request target";
  const authority = normalAuthority(target.authority, target.scheme);
  if (authority === undefined || authority !== normalAuthority(host, target.scheme)) {
    return "the request target's authority does not match the Host header";
  }
  return undefined;
}

/** Like {@link headerTokens}, keeping case (subprotocol names are case-sensitive). */
export function headerTokensExact(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const joined = Array.isArray(value) ? value.join(",") : value;
  return joined
    .split(",")
    .map((token) => token.trim())
    .filter((token) => token !== "");
}

/** Computes `Sec-WebSocket-Accept` from the key, with SHA-1 (returning base64) passed in. */
export function acceptKey(key: string, sha1Base64: (input: string) => string): string {
  return sha1Base64(key + WEBSOCKET_GUID);
}

/** What goes into a 101 response. */
export interface AcceptResponse {
  readonly accept: string;
  readonly protocol?: string | undefined;
  readonly extensions?: string | undefined;
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

/**
 * Formats the 101 Switching Protocols response (§4.2.2 5) as a byte string: write it as Latin-1.
 * Every value is checked as it is written: the subprotocol is a token (§4.2.2 4 /subprotocol/,
 * and §4.3 `Sec-WebSocket-Protocol-Server = token`), every other value an RFC 9110 field value,
 * every name a token.
 * @throws TypeError for a value that cannot be written; the caller's inputs are wrong.
 */
export function formatAcceptResponse(response: AcceptResponse): string {
  let head =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${fieldValue("Sec-WebSocket-Accept", response.accept)}\r\n`;
  if (response.protocol) {
    if (!TOKEN.test(response.protocol)) throw new TypeError("the subprotocol must be a token");
    head += `Sec-WebSocket-Protocol: ${response.protocol}\r\n`;
  }
  if (response.extensions) {
    head += `Sec-WebSocket-Extensions: ${fieldValue("Sec-WebSocket-Extensions", response.extensions)}\r\n`;
  }
  for (const [name, value] of Object.entries(response.headers ?? {})) {
    head += `${fieldName(name)}: ${fieldValue(name, value)}\r\n`;
  }
  return head + "\r\n";
}

function fieldName(name: string): string {
  if (typeof name !== "string" || !TOKEN.test(name)) throw new TypeError("a header name must be a token");
  return name;
}

function fieldValue(name: string, value: string): string {
  if (typeof value !== "string" || !FIELD_VALUE.test(value)) {
    throw new TypeError(`invalid characters in the value of ${name}`);
  }
  return value;
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  426: "Upgrade Required",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** Headers of an error response that only the library writes: given ones are dropped. */
const FRAMING_HEADERS = new Set(["connection", "content-length", "transfer-encoding"]);

/**
 * Formats an HTTP error response that ends the connection, as a byte string (head in Latin-1,
 * then `body` as UTF-8 with CR and LF turned into spaces): write it as Latin-1. `status` must
 * be an integer 400–599, each header name a token and each value a field value (RFC 9110 §5.1,
 * §5.5). `Connection: close` and `Content-Length` are always the library's: `Connection`,
 * `Content-Length` and `Transfer-Encoding` in `headers` are dropped, so none is ever written
 * twice. A `Content-Type` in `headers` replaces the default `text/plain; charset=utf-8`. Names
 * are compared case-insensitively; of two that differ only in case, the last wins.
 * @throws TypeError for a status, name or value that cannot be written.
 */
export function formatErrorResponse(
  status: number,
  body: string,
  headers: Readonly<Record<string, string>> = {},
): string {
  if (!Number.isInteger(status) || status < 400 || status > 599) {
    throw new TypeError("an error response needs an integer status 400-599");
  }
  const given = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) {
    const line = `${fieldName(name)}: ${fieldValue(name, value)}\r\n`;
    const lower = name.toLowerCase();
    if (FRAMING_HEADERS.has(lower)) continue;
    given.delete(lower);
    given.set(lower, line);
  }
  const bytes = new TextEncoder().encode(body.replace(/[\r\n]+/g, " "));
  let head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Error"}\r\nConnection: close\r\n`;
  if (!given.has("content-type")) head += "Content-Type: text/plain; charset=utf-8\r\n";
  head += `Content-Length: ${bytes.length}\r\n`;
  for (const line of given.values()) head += line;
  return head + "\r\n" + byteString(bytes);
}

/** Bytes as a string of the characters U+0000–U+00FF, one per byte (Latin-1). */
function byteString(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    text += String.fromCharCode(...bytes.subarray(i, Math.min(i + 4096, bytes.length)));
  }
  return text;
}
