import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  acceptKey,
  formatAcceptResponse,
  formatErrorResponse,
  headerTokens,
  isFieldValue,
  isToken,
  parseTarget,
  isWebSocketRequest,
  validateUpgrade,
  type RequestHeaders,
} from "../../../src/protocol/handshake.js";

const sha1 = (s: string) => createHash("sha1").update(s).digest("base64");

const good: RequestHeaders = {
  host: "example.com",
  upgrade: "websocket",
  connection: "Upgrade",
  "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
  "sec-websocket-version": "13",
};

test("the accept key of the RFC 6455 §1.3 example", () => {
  assert.equal(acceptKey("dGhlIHNhbXBsZSBub25jZQ==", sha1), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

test("a valid request is accepted, with its offered subprotocols in order", () => {
  const verdict = validateUpgrade({
    method: "GET",
    httpVersion: "1.1",
    headers: { ...good, "sec-websocket-protocol": "chat, superchat" },
  });
  assert.deepEqual(verdict, { ok: true, key: "dGhlIHNhbXBsZSBub25jZQ==", protocols: ["chat", "superchat"] });
});

test("Upgrade and Connection are case-insensitive comma lists", () => {
  assert.ok(isWebSocketRequest({ upgrade: "h2c, WebSocket" }));
  assert.ok(!isWebSocketRequest({ upgrade: "h2c" }));
  assert.deepEqual(headerTokens("keep-alive, Upgrade"), ["keep-alive", "upgrade"]);
  const verdict = validateUpgrade({
    method: "GET",
    httpVersion: "1.1",
    headers: { ...good, connection: "keep-alive, UPGRADE" },
  });
  assert.equal(verdict.ok, true);
});

const table: Array<[string, { method?: string; httpVersion?: string; headers: RequestHeaders }, number]> = [
  ["POST", { method: "POST", headers: good }, 400],
  ["HTTP/1.0", { httpVersion: "1.0", headers: good }, 400],
  ["no Host", { headers: { ...good, host: undefined } }, 400],
  ["no Connection", { headers: { ...good, connection: undefined } }, 400],
  ["Connection without upgrade", { headers: { ...good, connection: "keep-alive" } }, 400],
  ["no Sec-WebSocket-Key", { headers: { ...good, "sec-websocket-key": undefined } }, 400],
  [
    "a key that is not base64",
    { headers: { ...good, "sec-websocket-key": "not base64 at all!!!!!==" } },
    400,
  ],
  [
    "a key of 15 bytes",
    { headers: { ...good, "sec-websocket-key": Buffer.alloc(15).toString("base64") } },
    400,
  ],
  [
    "a key of 17 bytes",
    { headers: { ...good, "sec-websocket-key": Buffer.alloc(17).toString("base64") } },
    400,
  ],
  [
    "two keys",
    { headers: { ...good, "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==, dGhlIHNhbXBsZSBub25jZQ==" } },
    400,
  ],
  ["no version", { headers: { ...good, "sec-websocket-version": undefined } }, 426],
  ["version 8", { headers: { ...good, "sec-websocket-version": "8" } }, 426],
  ["a bad subprotocol token", { headers: { ...good, "sec-websocket-protocol": "a b" } }, 400],
];

for (const [name, request, status] of table) {
  test(`refused: ${name} → ${status}`, () => {
    const verdict = validateUpgrade({ method: "GET", httpVersion: "1.1", ...request });
    assert.equal(verdict.ok, false);
    if (verdict.ok) return;
    assert.equal(verdict.status, status);
    assert.match(verdict.reason, /\S/);
    if (status === 426) assert.equal(verdict.headers?.["Sec-WebSocket-Version"], "13");
  });
}

test("the 101 response carries exactly the negotiated headers", () => {
  assert.equal(
    formatAcceptResponse({ accept: "abc=", protocol: "chat" }),
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Accept: abc=\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
  );
  assert.doesNotMatch(formatAcceptResponse({ accept: "abc=" }), /Sec-WebSocket-Protocol/);
});

test("an error response has a one-line body and its length", () => {
  const response = formatErrorResponse(400, "bad\r\nthing");
  assert.match(response, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(response, /Content-Length: 9\r\n/);
  assert.ok(response.endsWith("\r\n\r\nbad thing"));
});

// ---- issue 12: what the core writes, and RFC 9112 around the upgrade -------------------------

test("RFC 9110 tokens and field values", () => {
  assert.ok(isToken("Sec-WebSocket-Protocol") && isToken("x!#$%&'*+-.^_`|~9"));
  for (const bad of ["", "a b", "a:b", "a\r\nb", "é", "a\u0000"])
    assert.ok(!isToken(bad), JSON.stringify(bad));
  assert.ok(isFieldValue("") && isFieldValue("caf\u00e9\tx y") && isFieldValue("~"));
  for (const bad of ["a\rb", "a\nb", "a\u0000b", "a\u007fb", "\u0100", "a\u2028b"]) {
    assert.ok(!isFieldValue(bad), JSON.stringify(bad));
  }
});

test("the 101 refuses to write a value that is not a token or field value", () => {
  assert.throws(() => formatAcceptResponse({ accept: "abc=", protocol: "a\r\nSet-Cookie: x" }), TypeError);
  assert.throws(() => formatAcceptResponse({ accept: "abc=", extensions: "x\r\ny" }), TypeError);
  assert.throws(() => formatAcceptResponse({ accept: "a\nb" }), TypeError);
  assert.throws(() => formatAcceptResponse({ accept: "abc=", headers: { "X A": "b" } }), TypeError);
});

test("an error response: status 400-599, valid names and values, framing headers written once", () => {
  for (const status of [200, 399, 600, 401.5, Number.NaN]) {
    assert.throws(() => formatErrorResponse(status, "x"), TypeError, String(status));
  }
  assert.throws(() => formatErrorResponse(401, "x", { "X-A": "a\r\nb: c" }), TypeError);
  assert.throws(() => formatErrorResponse(401, "x", { "X A": "b" }), TypeError);
  const response = formatErrorResponse(401, "é", {
    "CONTENT-LENGTH": "99",
    connection: "keep-alive",
    "Transfer-Encoding": "chunked",
    "Content-Type": "a/b",
    "content-type": "c/d",
    "X-Why": "caf\u00e9",
  });
  assert.equal(
    response,
    "HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 2\r\n" +
      "content-type: c/d\r\nX-Why: caf\u00e9\r\n\r\n\u00c3\u00a9",
  );
});

test("request targets: origin-form and absolute-form (RFC 9112 §3.2)", () => {
  assert.deepEqual(parseTarget("/chat?x=1"), { pathAndQuery: "/chat?x=1", pathname: "/chat" });
  assert.deepEqual(parseTarget("HTTP://Host:80/chat?x=1"), {
    pathAndQuery: "/chat?x=1",
    pathname: "/chat",
    scheme: "http",
    authority: "Host:80",
  });
  assert.deepEqual(parseTarget("http://host?x"), {
    pathAndQuery: "/?x",
    pathname: "/",
    scheme: "http",
    authority: "host",
  });
  assert.equal(parseTarget("*"), undefined);
  assert.equal(parseTarget("host:443"), undefined);
});

const request = (extra: RequestHeaders, more: { url?: string; rawHeaders?: string[] } = {}) =>
  validateUpgrade({ method: "GET", httpVersion: "1.1", headers: { ...good, ...extra }, ...more });

test("RFC 9112 §3.2: one Host line, with a valid authority", () => {
  const twice = request({}, { rawHeaders: ["Host", "example.com", "host", "evil.example"] });
  assert.deepEqual(twice, { ok: false, status: 400, reason: "more than one Host header" });
  assert.equal(request({}, { rawHeaders: ["Host", "example.com"] }).ok, true);
  for (const host of ["", "a/b", "u@h", "a b", "h:x", "[::1"]) {
    assert.deepEqual(request({ host }), { ok: false, status: 400, reason: "invalid Host header" }, host);
  }
  for (const host of ["example.com:8080", "[::1]:80", "127.0.0.1", "xn--bcher-kva.example"]) {
    assert.equal(request({ host }).ok, true, host);
  }
});

test("an upgrade request that declares a body is refused", () => {
  const body = { ok: false, status: 400, reason: "upgrade request with a body" };
  assert.deepEqual(request({ "content-length": "10" }), body);
  assert.deepEqual(request({ "transfer-encoding": "chunked" }), body);
  assert.deepEqual(request({ "transfer-encoding": "identity" }), body);
  assert.equal(request({ "content-length": "0" }).ok, true);
});

test("absolute-form targets: http(s) only, no userinfo, the same authority as Host", () => {
  const ok = (url: string, host = "example.com") => request({ host }, { url }).ok;
  assert.ok(ok("http://example.com/chat"));
  assert.ok(ok("http://EXAMPLE.com:80/chat"));
  assert.ok(ok("https://example.com:443/chat"));
  assert.ok(ok("https://example.com/chat", "example.com:443"));
  assert.ok(ok("/chat"));
  assert.ok(!ok("http://evil.example/chat"));
  assert.ok(!ok("http://example.com:8080/chat"));
  assert.ok(!ok("https://example.com/chat", "example.com:80"));
  assert.ok(!ok("http://user@example.com/chat"));
  assert.ok(!ok("ws://example.com/chat"));
  assert.ok(!ok("*"));
});
