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
  // §4.2.1 2: "A |Host| header field".
  if (single(headers["host"]) === undefined) return reject(400, "missing Host header");
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

/** Like {@link headerTokens}, keeping case (subprotocol names are case-sensitive). */
function headerTokensExact(value: string | string[] | undefined): string[] {
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
 * Every value is checked as it is written (the subprotocol is a token: §4.2.2 4 /subprotocol/, §4.3 `Sec-WebSocket-Protocol-Server = token`;
 * every other value an RFC 9110 field value; every name a token).
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
